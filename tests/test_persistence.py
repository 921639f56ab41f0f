"""Tests for :mod:`boostobj.persistence`: atomic writes, checksums checked before a booster
parses its file, sidecar versions and keys, names that must stay inside the model folder."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from boostobj import (
    CrossFitEnsemble,
    LGBMWealthClassifier,
    XGBWealthClassifier,
    load_model,
    make_betting_market,
)
from boostobj.persistence import FORMAT_VERSION, SIDECAR, write_file

CLASSES = {"xgboost": XGBWealthClassifier, "lightgbm": LGBMWealthClassifier}


@pytest.fixture(scope="module")
def market() -> tuple[np.ndarray, np.ndarray]:
    X, p, _ = make_betting_market(400, random_state=0)
    return X, p


@pytest.fixture(scope="module", params=list(CLASSES))
def fitted(request: pytest.FixtureRequest, market: tuple[np.ndarray, np.ndarray]):
    X, p = market
    return CLASSES[request.param](n_estimators=15).fit(X, p)


def sidecar(folder: Path) -> dict:
    return json.loads((folder / SIDECAR).read_text())


def edit_sidecar(folder: Path, **changes: object) -> None:
    meta = sidecar(folder)
    for key, value in changes.items():
        if value is None:
            meta.pop(key, None)
        else:
            meta[key] = value
    (folder / SIDECAR).write_text(json.dumps(meta))


def leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


# -- what is recorded -------------------------------------------------------------------------
def test_sidecar_records_size_and_sha256_of_every_file(fitted, tmp_path: Path) -> None:
    folder = fitted.save(tmp_path / "m")
    meta = sidecar(folder)
    assert meta["format_version"] == FORMAT_VERSION
    data = (folder / fitted.model_file).read_bytes()
    assert meta["files"] == {
        fitted.model_file: {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    }
    assert leftovers(tmp_path) == []


def test_ensemble_sidecar_covers_the_members_files(market, tmp_path: Path) -> None:
    X, p = market
    ens = CrossFitEnsemble(XGBWealthClassifier(n_estimators=10), n_folds=2).fit(X, p)
    folder = ens.save(tmp_path / "ens")
    assert sorted(sidecar(folder)["files"]) == [
        f"member_{k}/{name}" for k in (0, 1) for name in (SIDECAR, "model.json")
    ]
    (folder / "member_1" / "model.json").write_text("{}")
    with pytest.raises(ValueError, match=r"member_1/model.json has 2 bytes"):
        load_model(folder)


# -- corrupt files never reach the booster ----------------------------------------------------
_LOAD_EACH = """
import sys
from boostobj import load_model
for folder in sys.argv[1:]:
    try:
        load_model(folder)
        print("loaded", folder)
    except ValueError as exc:
        print("ValueError", exc)
"""


def _cuts(data: bytes, booster: str) -> dict[str, bytes]:
    cuts = {f"{pct}pct": data[: len(data) * pct // 100] for pct in (10, 50, 90, 99)}
    if booster == "lightgbm":  # at a tree boundary: a file that still looks complete
        cuts["tree_boundary"] = data[: data.index(b"Tree=3")]
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0x01  # same size, one bit changed
    cuts["bit_flip"] = bytes(flipped)
    return cuts


def test_a_truncated_or_changed_booster_file_is_a_clear_error(fitted, tmp_path: Path) -> None:
    """LightGBM's parser crashes the process (SIGSEGV/SIGABRT) on a cut model.txt: the
    checksum must stop it first. Loaded in a subprocess so a regression cannot kill pytest."""
    good = fitted.save(tmp_path / "good")
    data = (good / fitted.model_file).read_bytes()
    folders = []
    for name, cut in _cuts(data, fitted.booster_name).items():
        folder = fitted.save(tmp_path / name)
        (folder / fitted.model_file).write_bytes(cut)
        folders.append(str(folder))
    done = subprocess.run(
        [sys.executable, "-c", _LOAD_EACH, *folders, str(good)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
    )
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    lines = done.stdout.splitlines()
    assert len(lines) == len(folders) + 1, done.stdout
    for folder, line in zip(folders, lines, strict=False):
        expected = "sha256" if folder.endswith("bit_flip") else "truncated"
        assert line.startswith(f"ValueError {folder}/{fitted.model_file}"), line
        assert expected in line, line
    assert lines[-1] == f"loaded {good}"


# -- sidecar versions and keys ----------------------------------------------------------------
def test_a_sidecar_from_before_checksums_still_loads(fitted, market, tmp_path: Path) -> None:
    """Format version 1 (no ``format_version``, no ``files``): loaded, checks skipped."""
    folder = fitted.save(tmp_path / "old")
    edit_sidecar(folder, format_version=None, files=None)
    X, _ = market
    np.testing.assert_array_equal(load_model(folder).predict(X), fitted.predict(X))


def test_a_newer_format_is_refused(fitted, tmp_path: Path) -> None:
    folder = fitted.save(tmp_path / "new")
    edit_sidecar(folder, format_version=FORMAT_VERSION + 1)
    with pytest.raises(ValueError, match=rf"format version {FORMAT_VERSION + 1}.*upgrade"):
        load_model(folder)
    edit_sidecar(folder, format_version="2")
    with pytest.raises(ValueError, match=r"format_version must be a positive integer"):
        load_model(folder)


@pytest.mark.parametrize("key", ["model_file", "params", "scale", "feature_names", "files"])
def test_a_sidecar_missing_a_key_is_a_clear_error(fitted, key: str, tmp_path: Path) -> None:
    folder = fitted.save(tmp_path / "m")
    edit_sidecar(folder, **{key: None})
    with pytest.raises(ValueError, match=rf"lacks the key\(s\) '{key}'"):
        load_model(folder)


# -- names must stay inside the folder --------------------------------------------------------
@pytest.mark.parametrize("name", ["../outside/model.json", "/etc/passwd", ".", "sub/../../x"])
def test_model_file_cannot_leave_the_folder(fitted, name: str, tmp_path: Path) -> None:
    folder = fitted.save(tmp_path / "m")
    edit_sidecar(folder, model_file=name, format_version=None, files=None)  # no checksums
    with pytest.raises(ValueError, match=r"model_file .*(leads out|not inside)"):
        load_model(folder)


def test_a_checksummed_sidecar_cannot_point_at_an_unlisted_file(fitted, tmp_path: Path) -> None:
    folder = fitted.save(tmp_path / "m")
    (folder / "other.bin").write_bytes(b"x")
    edit_sidecar(folder, model_file="other.bin")
    with pytest.raises(ValueError, match=r"'other.bin' has no recorded checksum"):
        load_model(folder)


@pytest.fixture(scope="module")
def ensemble(market) -> CrossFitEnsemble:
    X, p = market
    return CrossFitEnsemble(XGBWealthClassifier(n_estimators=10), n_folds=2).fit(X, p)


@pytest.mark.parametrize("members", [[".", "."], ["member_0", "../elsewhere"], ["", "member_1"]])
def test_ensemble_members_stay_inside_and_cannot_cycle(
    ensemble: CrossFitEnsemble, members: list[str], tmp_path: Path
) -> None:
    """``"."`` made an ensemble contain itself: RecursionError before."""
    folder = ensemble.save(tmp_path / "ens")
    (tmp_path / "elsewhere").mkdir()
    edit_sidecar(folder, members=members, files={})
    with pytest.raises(ValueError, match=r"members"):
        load_model(folder)


def test_a_member_linked_back_to_the_ensemble_is_refused(ensemble, tmp_path: Path) -> None:
    folder = ensemble.save(tmp_path / "ens")
    edit_sidecar(folder, format_version=None, files=None)
    for member in (folder / "member_1").iterdir():
        member.unlink()
    (folder / "member_1").rmdir()
    (folder / "member_1").symlink_to(folder.resolve(), target_is_directory=True)
    with pytest.raises(ValueError, match=r"members 'member_1' is not inside the model folder"):
        load_model(folder)


# -- atomic writes ----------------------------------------------------------------------------
def test_a_failed_overwrite_keeps_the_old_model(fitted, market, tmp_path: Path, monkeypatch):
    """A full disk halfway through the booster's file (as ``--resume`` rewrites ``model/``)
    leaves the old folder, sidecar and booster file, as they were."""
    folder = fitted.save(tmp_path / "m")
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    backend = type(fitted.backend)

    def full_disk(self, booster, path: Path) -> None:
        path.write_bytes(b"half a model")
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(backend, "save", full_disk)
    with pytest.raises(OSError, match="No space left"):
        fitted.save(folder, overwrite=True)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert leftovers(tmp_path) == []
    monkeypatch.undo()
    X, _ = market
    np.testing.assert_array_equal(load_model(folder).predict(X), fitted.predict(X))


def test_save_replaces_a_link_and_never_writes_through_it(fitted, tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("mine")
    link = tmp_path / "m"
    link.symlink_to(victim, target_is_directory=True)
    with pytest.raises(FileExistsError, match="symbolic link"):
        fitted.save(link)
    fitted.save(link, overwrite=True)
    assert not link.is_symlink() and (link / SIDECAR).is_file()
    assert [p.name for p in victim.iterdir()] == ["keep.txt"]


def test_write_file_is_atomic_and_refuses_links(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    target.write_text("good")

    def fails(tmp: Path) -> None:
        tmp.write_text("partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError):
        write_file(target, fails, overwrite=True)
    assert target.read_text() == "good" and leftovers(tmp_path) == []

    dangling = tmp_path / "dangling.csv"
    dangling.symlink_to(tmp_path / "nowhere" / "x.csv")
    with pytest.raises(FileExistsError, match="symbolic link"):
        write_file(dangling, lambda tmp: tmp.write_text("new"), overwrite=False)
    write_file(dangling, lambda tmp: tmp.write_text("new"), overwrite=True)
    assert not dangling.is_symlink() and dangling.read_text() == "new"
    assert not (tmp_path / "nowhere").exists()
