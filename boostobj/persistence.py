"""Model folders: the booster's own file(s) plus ``boostobj.json``, written atomically; no pickle.

A model folder holds a sidecar, :data:`SIDECAR`, whose ``format`` names what wrote it:

- ``"boostobj-model"``: one estimator (:mod:`boostobj.sklearn`), with its booster's file;
- ``"boostobj-ensemble"``: a :class:`~boostobj.CrossFitEnsemble`, one sub-folder per member.

:func:`load_model` reads any of them, or a ``boostobj tune`` run folder (its ``model/``).
Writes go to a temporary sibling folder that is renamed into place once complete, so a failed
write (a full disk, an exception) never leaves a half-written model where a good one was.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from importlib import import_module
from pathlib import Path
from typing import Any

__all__ = ["SIDECAR", "load_model", "prepare_output_dir", "read_sidecar", "write_model_folder"]

SIDECAR = "boostobj.json"
#: Sidecar ``format`` -> ``"module:function"`` that rebuilds the model from ``(folder, meta)``.
FORMATS: dict[str, str] = {
    "boostobj-model": "boostobj.sklearn:model_from_folder",
    "boostobj-ensemble": "boostobj.ensemble:ensemble_from_folder",
}


def prepare_output_dir(path: str | os.PathLike[str], overwrite: bool) -> Path:
    """Create ``path``; refuse a non-empty existing folder unless ``overwrite``."""
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"{out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise FileExistsError(f"{out} is not empty; choose a new folder or pass overwrite=True")
    out.mkdir(parents=True, exist_ok=True)
    return out


def write_model_folder(
    path: str | os.PathLike[str],
    write_files: Callable[[Path], None],
    sidecar: dict[str, Any],
    *,
    overwrite: bool,
) -> Path:
    """Write a model folder atomically: ``write_files(tmp)`` and the sidecar into a temporary
    sibling, then rename it to ``path`` (replacing the old folder only with ``overwrite``).

    Raises:
        FileExistsError: ``path`` is a file, or a non-empty folder without ``overwrite``.
        ValueError: the sidecar is not JSON-serialisable.
    """
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"{out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise FileExistsError(f"{out} is not empty; choose a new folder or pass overwrite=True")
    try:
        text = json.dumps(sidecar, indent=2) + "\n"
    except TypeError as exc:
        raise ValueError(f"model parameters must be JSON-serialisable: {exc}") from None
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        write_files(tmp)
        (tmp / SIDECAR).write_text(text)
        if out.is_dir():  # keep the old folder until the new one is in place
            old = out.parent / f"{tmp.name}.old"
            out.rename(old)
            tmp.rename(out)
            shutil.rmtree(old)
        else:
            tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def read_sidecar(folder: Path) -> dict[str, Any]:
    """The parsed sidecar of a model folder; refuse a folder without one or a bad one."""
    path = folder / SIDECAR
    if not path.is_file():
        raise FileNotFoundError(f"{folder} is not a boostobj model folder: no {SIDECAR}")
    try:
        meta = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path} is not a readable boostobj sidecar: {exc}") from None
    if not isinstance(meta, dict) or meta.get("format") not in FORMATS:
        raise ValueError(f"{path} is not a boostobj model sidecar")
    return meta


def load_model(path: str | os.PathLike[str]) -> Any:
    """Load a model folder written by ``save`` (either booster's estimator, or a
    :class:`~boostobj.CrossFitEnsemble` of them), or the ``model/`` of a ``boostobj tune``
    run folder."""
    folder = Path(path)
    if not (folder / SIDECAR).is_file() and (folder / "model" / SIDECAR).is_file():
        folder = folder / "model"  # a `boostobj tune` run folder
    meta = read_sidecar(folder)
    module, function = FORMATS[meta["format"]].split(":")
    try:
        return getattr(import_module(module), function)(folder, meta)
    except KeyError as exc:
        raise ValueError(f"{folder / SIDECAR} lacks the key {exc.args[0]!r}") from None
