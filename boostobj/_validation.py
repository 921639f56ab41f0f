"""Input checks shared by every entry point.

The data contract: a payoff multiplier ``p > 0`` travels to the booster as its log,
``label = log p``. :func:`log_payoff` is the one place that checks and converts it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._categories import Levels, encode

__all__ = [
    "Rows",
    "check_1d",
    "check_features",
    "check_label",
    "check_same_length",
    "check_sample_weight",
    "check_scale",
    "feature_names",
    "log_payoff",
]


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


#: ``log p`` of every finite ``p > 0`` lies in here: ``log(5e-324)`` and ``log(1.8e308)``,
#: widened to hold their float32 roundings (boosters store labels as float32).
LOG_PAYOFF_RANGE = (-745.2, 709.8)


def check_label(label: ArrayLike, *, name: str = "label (log p)") -> NDArray[np.float64]:
    """Check a booster's label as ``log p`` of a finite ``p > 0``: 1-D, finite and inside
    :data:`LOG_PAYOFF_RANGE`.

    The range check catches labels a booster rewrote: LightGBM stores ``+-inf`` as ``+-1e38``
    (and NaN as 0, which no check can tell from ``p = 1``).
    """
    arr = check_log_payoff(label, name=name)
    lo, hi = LOG_PAYOFF_RANGE
    bad = (arr < lo) | (arr > hi)
    if bad.any():
        raise ValueError(
            _describe_bad(bad, arr, name, f"out-of-range (outside [{lo}, {hi}])")
            + "; that is the log of no finite payoff > 0 (LightGBM stores an infinite label "
            "as +-1e38: pass finite log p, e.g. boostobj.log_payoff(p))"
        )
    return arr


def check_scale(scale: Any, *, name: str = "scale") -> float:
    """``scale`` (a weight scale, the divisor of ``|log p|``) as a float, finite and ``> 0``.

    A negative scale would train the opposite policy, 0 infinite weights, NaN NaN margins.
    """
    bad = ValueError(f"{name} must be a finite number > 0, got {scale!r}")
    if isinstance(scale, (bool, str, bytes)):
        raise bad
    try:
        c = float(scale)
    except (TypeError, ValueError):
        raise bad from None
    if not (np.isfinite(c) and c > 0):
        raise bad
    return c


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


def check_features(X: Any, name: str = "X") -> NDArray[np.float64]:
    """``X`` as a 2-D float array with at least one row; NaN (missing) is allowed, inf is not.

    Sparse matrices are refused (``TypeError``): densify them with ``X.toarray()``, where a
    stored-nothing entry becomes 0, not missing. Complex numbers are refused too; a
    non-numeric object raises ``TypeError``, an unparsable string ``ValueError``.
    """
    import warnings

    import scipy.sparse

    complex_warning = getattr(np, "exceptions", np).ComplexWarning  # np.ComplexWarning < 1.25
    if scipy.sparse.issparse(X):
        raise TypeError(
            f"{name} is a scipy.sparse matrix, but boostobj needs dense features: pass "
            f"{name}.toarray() (entries not stored become 0, not missing)"
        )
    with warnings.catch_warnings():
        warnings.simplefilter("error", complex_warning)
        try:
            arr = np.asarray(X, dtype=np.float64)
        except complex_warning:
            raise ValueError(f"Complex data not supported: {name} holds complex numbers") from None
        except (TypeError, ValueError) as exc:
            kind = TypeError if isinstance(exc, TypeError) else ValueError
            raise kind(f"{name} must be numeric: {exc}") from None
    if arr.ndim != 2:
        hint = ". Reshape your data: X.reshape(-1, 1) (one feature) or X.reshape(1, -1) (one row)"
        hint = hint if arr.ndim == 1 else ""
        raise ValueError(f"{name} must be 2-D (rows x features); got shape {arr.shape}{hint}")
    if arr.shape[1] == 0:
        raise ValueError(
            f"{name} has 0 feature(s) (shape={arr.shape}) while a minimum of 1 is required."
        )
    if arr.shape[0] == 0:
        raise ValueError(f"{name} is empty: need at least one row")
    if np.isinf(arr).any():
        row, col = np.argwhere(np.isinf(arr))[0]
        raise ValueError(f"{name} has an infinite value at row {row}, column {col}")
    return arr


def feature_names(X: Any) -> tuple[str, ...] | None:
    """The column names of a DataFrame-like ``X``, or ``None`` for an array.

    As in sklearn, only string names count: a frame with integer (or other non-string)
    column labels has no feature names, and a mix of strings and non-strings is refused.
    """
    columns = getattr(X, "columns", None)
    if columns is None or len(columns) == 0:
        return None
    is_str = [isinstance(c, str) for c in columns]
    if all(is_str):
        return tuple(columns)
    if any(is_str):
        kinds = sorted({type(c).__name__ for c in columns})
        raise TypeError(
            f"X's column names mix strings and other types ({', '.join(kinds)}); feature "
            "names must all be strings: X.columns = X.columns.astype(str)"
        )
    return None


@dataclass(frozen=True, eq=False)
class Rows:
    """Validated rows: the one value that crosses boostobj's public edges inwards.

    Built once where user data enters (estimator ``fit``, ``tune``, the table loader,
    :class:`~boostobj.CrossFitEnsemble`), with :meth:`from_payoff`; below that edge nothing
    re-checks it. ``log_p`` is the label every booster trains on (``p`` itself is never kept).

    Attributes:
        X: features, 2-D float64 (NaN = missing, no inf).
        log_p: ``log p`` per row, finite.
        weight: user sample weights (finite, ``>= 0``) or ``None``.
        groups: a group id per row (dates, matches) or ``None``.
        feature_names: column names when ``X`` came as a DataFrame, else ``None``.
        expected_log_payoff: ``E[log p | x]`` where it is known (synthetic data), which gives
            the Bayes policy in evaluations; ``None`` otherwise.
        categories: the categorical columns' levels (:mod:`boostobj._categories`): their
            cells in ``X`` are codes, NaN for missing or unseen; ``()`` for none.
    """

    X: NDArray[np.float64]
    log_p: NDArray[np.float64]
    weight: NDArray[np.float64] | None = None
    groups: NDArray[Any] | None = None
    feature_names: tuple[str, ...] | None = None
    expected_log_payoff: NDArray[np.float64] | None = None
    categories: Levels = ()

    @classmethod
    def from_payoff(
        cls,
        X: Any,
        p: ArrayLike,
        *,
        sample_weight: ArrayLike | None = None,
        groups: ArrayLike | None = None,
        x_name: str = "X",
        p_name: str = "p",
        categories: Levels | None = None,
    ) -> Rows:
        """Check ``X``, payoff multipliers ``p > 0``, weights and groups.

        ``x_name`` and ``p_name`` name the arguments in error messages (``"X_valid"``,
        ``"eval_set[0] p"``), so the user learns which one is wrong. A DataFrame's text and
        ``category`` columns become codes: by levels learned here (``categories=None``), or
        by the training rows' ``categories`` (eval and test rows).
        """
        coded, levels = encode(X, categories, x_name)
        Xa = check_features(coded, x_name)
        r = log_payoff(p, name=p_name)
        check_same_length(**{x_name: Xa, p_name: r})
        sw = None
        if sample_weight is not None:
            sw = check_1d(sample_weight, "sample_weight")
            check_same_length(**{x_name: Xa, "sample_weight": sw})
            sw = check_sample_weight(sw, r.size)
        g = None
        if groups is not None:
            g = np.asarray(groups)
            if g.ndim != 1:
                raise ValueError(f"groups must be 1-D, one id per row; got shape {g.shape}")
            check_same_length(**{x_name: Xa, "groups": g})
        return cls(Xa, r, sw, g, feature_names(X), categories=levels)

    def __len__(self) -> int:
        return int(self.log_p.size)

    @property
    def n_features(self) -> int:
        return int(self.X.shape[1])

    def take(self, idx: Any) -> Rows:
        """The rows ``idx`` (indices, a mask or a slice), unchecked: they were checked once."""
        return Rows(
            self.X[idx],
            self.log_p[idx],
            None if self.weight is None else self.weight[idx],
            None if self.groups is None else self.groups[idx],
            self.feature_names,
            None if self.expected_log_payoff is None else self.expected_log_payoff[idx],
            self.categories,
        )

    def check_columns(self, other: Rows, what: str) -> None:
        """Refuse ``other`` (e.g. an eval set) unless it has this value's number of features."""
        if other.n_features != self.n_features:
            raise ValueError(f"{what} has {other.n_features} features; X has {self.n_features}")

    @staticmethod
    def concat(*parts: Rows) -> Rows:
        """The rows of ``parts`` one after another (weights and groups kept only if all have
        them)."""
        first = parts[0]

        def joined(values: list[Any]) -> Any:
            return None if any(v is None for v in values) else np.concatenate(values)

        return Rows(
            np.concatenate([r.X for r in parts]),
            np.concatenate([r.log_p for r in parts]),
            joined([r.weight for r in parts]),
            joined([r.groups for r in parts]),
            first.feature_names,
            joined([r.expected_log_payoff for r in parts]),
            first.categories,
        )
