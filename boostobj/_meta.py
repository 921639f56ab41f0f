"""Versions of boostobj and the libraries it drives, for model sidecars and benchmark files."""

from __future__ import annotations

import platform
from importlib.metadata import PackageNotFoundError, version

__all__ = ["versions"]

_CORE = ("boostobj", "numpy", "xgboost", "lightgbm", "optuna")


def versions(*extra: str) -> dict[str, str]:
    """``{package: version}`` for boostobj's core packages, ``extra`` ones and Python.

    A package that is not installed is reported as ``"missing"``; boostobj run from a source
    checkout without installing reports its ``__version__`` and says so.
    """
    from . import __version__

    out = {"python": platform.python_version()}
    for pkg in (*_CORE, *extra):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = f"{__version__} (source checkout)" if pkg == "boostobj" else "missing"
    return out
