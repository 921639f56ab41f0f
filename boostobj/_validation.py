"""Input checks shared by every entry point.

The data contract: a payoff multiplier ``p > 0`` travels to the booster as its log,
``label = log p``. :func:`log_payoff` is the one place that checks and converts it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["check_1d", "check_same_length", "check_sample_weight", "log_payoff"]


def _describe_bad(bad: NDArray[np.bool_], values: NDArray[Any], name: str, what: str) -> str:
    idx = np.flatnonzero(bad)
    first = int(idx[0])
    return (
        f"{name} has {idx.size} {what} value{'s' if idx.size != 1 else ''} "
        f"(of {values.size}); the first is at index {first}: {values[first].item()!r}"
    )


def check_1d(values: ArrayLike, name: str, *, dtype: type = np.float64) -> NDArray[Any]:
    """Return ``values`` as a non-empty 1-D numeric array, or raise ``ValueError``."""
    try:
        arr = np.asarray(values, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric: {exc}") from None
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, one value per row; got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty: need at least one row")
    return arr


def check_same_length(**arrays: Any) -> int:
    """Raise ``ValueError`` unless every named array has the same number of rows."""
    lengths = {name: len(a) for name, a in arrays.items() if a is not None}
    if len(set(lengths.values())) > 1:
        desc = ", ".join(f"{name} has {n}" for name, n in lengths.items())
        raise ValueError(f"length mismatch: {desc} rows")
    return next(iter(lengths.values()))


def log_payoff(p: ArrayLike, *, name: str = "p") -> NDArray[np.float64]:
    """Check payoff multipliers and return ``log p`` (the label boostobj's boosters train on).

    ``p`` must be 1-D, non-empty, finite and strictly positive. A value of 1 means the row
    neither gains nor loses. Anything else raises ``ValueError`` that says how many values
    are bad and where the first one is.

    >>> log_payoff([1.1, 0.9]).round(4)
    array([ 0.0953, -0.1054])
    """
    arr = check_1d(p, name)
    bad = ~np.isfinite(arr)
    if bad.any():
        raise ValueError(_describe_bad(bad, arr, name, "NaN or infinite"))
    bad = arr <= 0
    if bad.any():
        raise ValueError(
            _describe_bad(bad, arr, name, "non-positive")
            + "; payoff multipliers must be > 0 (1 = no gain, no loss)"
        )
    return np.log(arr)


def check_log_payoff(log_p: ArrayLike, *, name: str = "log_payoff") -> NDArray[np.float64]:
    """Check an array that already holds ``log p``: 1-D, non-empty and finite."""
    arr = check_1d(log_p, name)
    bad = ~np.isfinite(arr)
    if bad.any():
        raise ValueError(_describe_bad(bad, arr, name, "NaN or infinite"))
    return arr


def check_sample_weight(sample_weight: ArrayLike | None, n: int) -> NDArray[np.float64] | None:
    """Check user sample weights: ``None`` or ``n`` finite values ``>= 0``."""
    if sample_weight is None:
        return None
    arr = check_1d(sample_weight, "sample_weight")
    check_same_length(rows=np.empty(n), sample_weight=arr)
    bad = ~np.isfinite(arr) | (arr < 0)
    if bad.any():
        raise ValueError(_describe_bad(bad, arr, "sample_weight", "negative, NaN or infinite"))
    return arr
