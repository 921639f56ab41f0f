"""Model folders: the booster's own file(s) plus ``boostobj.json``, written atomically; no pickle.

A model folder holds a sidecar, :data:`SIDECAR`, whose ``format`` names what wrote it:

- ``"boostobj-model"``: one estimator (:mod:`boostobj.sklearn`), with its booster's file;
- ``"boostobj-ensemble"``: a :class:`~boostobj.CrossFitEnsemble`, one sub-folder per member;
- ``"boostobj-two-part"``: a :class:`~boostobj.two_part.TwoPartModel`, one sub-folder per
  part (``payoff_win``, ``payoff_loss``, ``decider``).

:func:`load_model` reads any of them, or a ``boostobj tune`` run folder (its ``model/``).

Writes go to a temporary sibling folder that is renamed into place once complete (the old
folder is kept until then), so a failed write (a full disk, an exception) never leaves a
half-written model where a good one was. The sidecar records the size and sha256 of every
other file in the folder (``files``), and loading checks them *before* a booster parses its
file: a truncated LightGBM ``model.txt`` otherwise crashes the process inside LightGBM.

Sidecar ``format_version`` (:data:`FORMAT_VERSION`): 2 adds ``files``; a sidecar without
the key is version 1 (boostobj before checksums) and loads with the checks skipped; a newer
version is refused. Names inside the sidecar (``model_file``, ``members``, ``files``) must
stay inside the folder: no absolute paths, no ``..``, no links out, not the folder itself.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from importlib import import_module
from pathlib import Path
from typing import Any

__all__ = [
    "FORMAT_VERSION",
    "SIDECAR",
    "inside_folder",
    "load_model",
    "prepare_output_dir",
    "read_sidecar",
    "write_file",
    "write_model_folder",
]

SIDECAR = "boostobj.json"
#: The sidecar layout this boostobj writes; 1 (no ``format_version`` key) had no checksums.
FORMAT_VERSION = 2
#: Sidecar ``format`` -> ``"module:function"`` that rebuilds the model from ``(folder, meta)``.
FORMATS: dict[str, str] = {
    "boostobj-model": "boostobj.sklearn:model_from_folder",
    "boostobj-ensemble": "boostobj.ensemble:ensemble_from_folder",
    "boostobj-two-part": "boostobj.two_part:two_part_from_folder",
}
#: Sidecar ``format`` -> the keys its loader needs.
REQUIRED_KEYS: dict[str, tuple[str, ...]] = {
    "boostobj-model": (
        "estimator", "model_file", "params", "scale", "n_rounds", "n_features_in",
        "feature_names",
    ),
    "boostobj-ensemble": ("members", "n_folds", "threshold", "n_rounds"),
    "boostobj-two-part": ("parts", "standard", "threshold", "n_rounds"),
}  # fmt: skip
_CHUNK = 1 << 20


def prepare_output_dir(path: str | os.PathLike[str], overwrite: bool) -> Path:
    """Create ``path``; refuse a non-empty existing folder unless ``overwrite``."""
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"{out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise FileExistsError(f"{out} is not empty; choose a new folder or pass overwrite=True")
    out.mkdir(parents=True, exist_ok=True)
    return out


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _digests(folder: Path) -> dict[str, dict[str, Any]]:
    """``{relative name: {"size", "sha256"}}`` of every file under ``folder`` but its sidecar
    (flushed to disk on the way, so the rename publishes complete files)."""
    files = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()):
        name = path.relative_to(folder).as_posix()
        if name != SIDECAR:
            _fsync(path)
            files[name] = {"size": path.stat().st_size, "sha256": _sha256(path)}
    return files


def write_model_folder(
    path: str | os.PathLike[str],
    write_files: Callable[[Path], None],
    sidecar: dict[str, Any],
    *,
    overwrite: bool,
) -> Path:
    """Write a model folder atomically: ``write_files(tmp)`` and the sidecar (with
    ``format_version`` and the ``files`` checksums added) into a temporary sibling, then
    rename it to ``path``, replacing the old folder (or a link, never written through) only
    with ``overwrite``. On any failure the old folder is left as it was.

    Raises:
        FileExistsError: ``path`` is a file, a link, or a non-empty folder without
            ``overwrite``.
        ValueError: the sidecar is not JSON-serialisable.
    """
    out = Path(path)
    if out.is_symlink() and not overwrite:
        raise FileExistsError(f"{out} is a symbolic link; pass overwrite=True to replace it")
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"{out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise FileExistsError(f"{out} is not empty; choose a new folder or pass overwrite=True")
    sidecar = {**sidecar, "format_version": FORMAT_VERSION}
    try:
        json.dumps(sidecar)
    except TypeError as exc:
        raise ValueError(f"model parameters must be JSON-serialisable: {exc}") from None
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        write_files(tmp)
        sidecar["files"] = _digests(tmp)
        with (tmp / SIDECAR).open("w") as f:
            f.write(json.dumps(sidecar, indent=2) + "\n")
            f.flush()
            os.fsync(f.fileno())
        if out.is_symlink() or out.exists():  # keep the old one until the new one is in place
            old = out.parent / f"{tmp.name}.old"
            out.rename(old)
            try:
                tmp.rename(out)
            except BaseException:
                old.rename(out)
                raise
            if old.is_symlink():
                old.unlink()
            else:
                shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def write_file(
    path: str | os.PathLike[str], write: Callable[[Path], None], *, overwrite: bool
) -> Path:
    """Write one file atomically: ``write(tmp)`` into a temporary sibling, then rename it to
    ``path``. A failed write leaves no partial file and the old one untouched; a link at
    ``path`` is replaced, never written through.

    Raises:
        FileExistsError: something (even a dangling link) is at ``path`` and not
            ``overwrite``, or ``path`` is a folder.
    """
    out = Path(path)
    if out.is_dir() and not out.is_symlink():
        raise FileExistsError(f"{out} is a folder")
    if (out.is_symlink() or out.exists()) and not overwrite:
        what = "is a symbolic link" if out.is_symlink() else "exists"
        raise FileExistsError(f"{out} {what}; pass overwrite=True to replace it")
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        _fsync(tmp)
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return out


def inside_folder(folder: Path, name: Any, key: str) -> Path:
    """``folder / name`` for a name read from ``folder``'s sidecar under ``key``; refuse one
    that is not a relative path strictly inside ``folder`` (absolute, ``..``, the folder
    itself, or a link that leads out): a crafted sidecar must not read other files, nor
    make an ensemble contain itself."""
    where = f"{folder / SIDECAR}: {key}"
    if not isinstance(name, str) or not name:
        raise ValueError(f"{where} must be a non-empty relative path, got {name!r}")
    if Path(name).is_absolute() or ".." in Path(name).parts:
        raise ValueError(f"{where} {name!r} leads out of the model folder")
    path = folder / name
    root, target = folder.resolve(), path.resolve()
    if target == root or root not in target.parents:
        raise ValueError(f"{where} {name!r} is not inside the model folder")
    return path


def read_sidecar(folder: Path) -> dict[str, Any]:
    """The parsed sidecar of a model folder; refuse a folder without one, a bad one, one of
    a newer ``format_version``, or one that lacks a key its loader needs."""
    path = folder / SIDECAR
    if not path.is_file():
        raise FileNotFoundError(f"{folder} is not a boostobj model folder: no {SIDECAR}")
    try:
        meta = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path} is not a readable boostobj sidecar: {exc}") from None
    if not isinstance(meta, dict) or meta.get("format") not in FORMATS:
        raise ValueError(f"{path} is not a boostobj model sidecar")
    version = meta.get("format_version", 1)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError(f"{path}: format_version must be a positive integer, got {version!r}")
    if version > FORMAT_VERSION:
        wrote = (meta.get("versions") or {}).get("boostobj", "a newer boostobj")
        raise ValueError(
            f"{path} has model format version {version}, written by boostobj {wrote}; this "
            f"boostobj reads versions up to {FORMAT_VERSION}: upgrade boostobj to load it"
        )
    keys = REQUIRED_KEYS[meta["format"]] + (("files",) if version >= 2 else ())
    missing = [k for k in keys if k not in meta]
    if missing:
        raise ValueError(
            f"{path} lacks the key(s) {', '.join(map(repr, missing))}: it was not written by "
            "boostobj's save, or was edited; save the model again"
        )
    return meta


def verify_files(folder: Path, meta: dict[str, Any]) -> None:
    """Check the size and sha256 of every file the sidecar lists (version 2 on); a version-1
    sidecar has no checksums, so its files are handed to the booster unchecked."""
    if meta.get("format_version", 1) < 2:
        return
    files = meta["files"]
    if not isinstance(files, dict):
        raise ValueError(f"{folder / SIDECAR}: files must map names to sizes and checksums")
    for name, entry in files.items():
        path = inside_folder(folder, name, "files")
        if not isinstance(entry, dict) or not {"size", "sha256"} <= set(entry):
            raise ValueError(f"{folder / SIDECAR}: files[{name!r}] needs a size and a sha256")
        if not path.is_file():
            raise ValueError(f"{path} is missing: the model folder is incomplete")
        size = path.stat().st_size
        if size != entry["size"]:
            raise ValueError(
                f"{path} has {size} bytes, but {SIDECAR} recorded {entry['size']}: the file is "
                "truncated or was changed; save the model again"
            )
        if _sha256(path) != entry["sha256"]:
            raise ValueError(
                f"{path} does not match the sha256 {SIDECAR} recorded: the file is corrupt or "
                "was changed; save the model again"
            )


def model_file_path(folder: Path, meta: dict[str, Any], key: str = "model_file") -> Path:
    """The file the sidecar names under ``key``, inside ``folder`` and (version 2 on) among
    the checksummed ``files``."""
    path = inside_folder(folder, meta[key], key)
    if meta.get("format_version", 1) >= 2 and meta[key] not in meta["files"]:
        raise ValueError(f"{folder / SIDECAR}: {key} {meta[key]!r} has no recorded checksum")
    return path


def load_model(path: str | os.PathLike[str]) -> Any:
    """Load a model folder written by ``save`` (either booster's estimator, or a
    :class:`~boostobj.CrossFitEnsemble` of them), or the ``model/`` of a ``boostobj tune``
    run folder. Every file is checked against the sidecar's checksums first.

    Raises:
        FileNotFoundError: no sidecar.
        ValueError: a bad, newer or incomplete sidecar, a name leading out of the folder,
            or a file whose size or checksum does not match.
    """
    folder = Path(path)
    if not (folder / SIDECAR).is_file() and (folder / "model" / SIDECAR).is_file():
        folder = folder / "model"  # a `boostobj tune` run folder
    meta = read_sidecar(folder)
    verify_files(folder, meta)
    module, function = FORMATS[meta["format"]].split(":")
    try:
        return getattr(import_module(module), function)(folder, meta)
    except KeyError as exc:
        raise ValueError(f"{folder / SIDECAR} lacks the key {exc.args[0]!r}") from None
