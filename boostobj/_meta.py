"""Versions of boostobj and the libraries it drives, for model sidecars and benchmark files."""

from __future__ import annotations

import platform
from importlib.metadata import PackageNotFoundError, version

__all__ = ["versions"]

_CORE = ("boostobj", "numpy", "xgboost", "lightgbm", "optuna")


def versions(*extra: str) -> dict[str, str]:
    """``{package: version}`` for boostobj's core packages, ``extra`` ones and Python.

    A package that is not installed is reported as ``"missing"``.
    """
    out = {"python": platform.python_version()}
    for pkg in (*_CORE, *extra):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "missing"
    return out
