"""Bootstrap confidence intervals for log-wealth, and for the paired difference of two policies.

Log-wealth is a sum over rows, ``sum_i a_i r_i`` with ``r_i = log p_i``, so its bootstrap only
needs per-group sums: with groups ``g`` (rows by default, or e.g. dates), ``S_g = sum_{i in g}
a_i r_i``, and a resample is the sum of ``G`` groups. One engine draws every resample
(:func:`bootstrap_log_wealth`, :func:`bootstrap_policies` and the guard all use it), in one of
two ways, set by the mean block length ``L``:

- ``L = 1``, i.i.d.: the ``G`` groups are drawn independently, with replacement. Groups with
  ``S_g = 0`` (rows not taken, or taken by both policies of a difference) add nothing, so a
  resample draws only how many of its ``G`` draws land on non-zero groups
  (``Binomial(G, m / G)``) and then which ones. That is exact, and it makes 1000 resamples of
  200 000 rows take about a second or less.
- ``L > 1``, the stationary bootstrap (Politis & Romano 1994) for time-ordered groups: blocks
  of consecutive groups, each starting at a uniform position, of length ``Geometric(1 / L)``
  (mean ``L``), wrapping around the end, the last one cut so that a resample holds ``G``
  groups. Serial dependence within about ``L`` groups is kept, so on autocorrelated series
  (daily returns) the interval is not too narrow, as an i.i.d. one is. ``block_length="auto"``
  picks ``L`` from the data with :func:`optimal_block_length`.

The interval is the percentile interval of the bootstrap distribution. It measures the noise of
the *test sample* only: it says nothing about how much a retrained model would vary.

>>> import numpy as np
>>> r = np.array([0.1, -0.2, 0.05, 0.3])
>>> bootstrap_log_wealth(r, r > 0, n_boot=200).estimate
0.45
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._validation import check_1d, check_log_payoff, check_same_length

__all__ = [
    "BlockLength",
    "BootstrapResult",
    "PolicyBootstrap",
    "bootstrap_log_wealth",
    "bootstrap_policies",
    "group_sums",
    "optimal_block_length",
    "significantly_better",
]

# Draws per vectorised chunk: bounds memory to ~100 MB whatever n_boot * n.
_CHUNK = 1 << 23

#: A mean block length ``>= 1`` (1: i.i.d. groups), or ``"auto"``: :func:`optimal_block_length`.
BlockLength = float | Literal["auto"]


class BootstrapResult(NamedTuple):
    """A bootstrap estimate of log-wealth (or of a difference of log-wealths).

    Attributes:
        estimate: the statistic on the data as given (not the bootstrap mean).
        low, high: the percentile interval at the requested level.
        p_not_better: share of resamples whose statistic is ``<= 0``; a one-sided bootstrap
            p-value for "the policy is not better than the baseline" (take-none when there is
            no baseline). It is 1.0 for a policy compared with itself.
        n_boot: number of resamples.
        n_groups: number of resampled units (rows, or blocks).
        block_length: mean length, in groups, of the stationary bootstrap's blocks of
            consecutive groups; 1.0 for the i.i.d. bootstrap.
    """

    estimate: float
    low: float
    high: float
    p_not_better: float
    n_boot: int
    n_groups: int
    block_length: float = 1.0

    def contains_zero(self) -> bool:
        """True if ``low <= 0 <= high``: the sign is within noise."""
        return self.low <= 0.0 <= self.high

    def above_zero(self) -> bool:
        """True if ``low > 0``: better than the baseline beyond noise (the guard's rule)."""
        return self.low > 0.0

    def summary(self) -> dict[str, float]:
        """JSON-serialisable form (everything but ``n_boot``, which the caller states once)."""
        return {
            "estimate": self.estimate,
            "low": self.low,
            "high": self.high,
            "p_not_better": self.p_not_better,
            "n_groups": self.n_groups,
            "block_length": self.block_length,
        }


def _as_take(take: ArrayLike, name: str) -> NDArray[np.float64]:
    a = np.asarray(take)
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-D, one decision per row; got shape {a.shape}")
    if a.dtype != np.bool_ and not np.isin(a, (0, 1)).all():
        raise ValueError(f"{name} must hold booleans or 0/1 decisions")
    return a.astype(np.float64)


def _groups(
    values: NDArray[np.float64], block: ArrayLike | None
) -> tuple[NDArray[np.float64], NDArray[np.intp] | None]:
    """Per-group sums of the columns of ``values`` (``(n, k)``), groups in sorted id order,
    and the permutation that puts the groups in the order they first appear (``None``: every
    row is its own group, already in order)."""
    if block is None:
        return values, None
    b = np.asarray(block)
    if b.shape != values.shape[:1]:
        raise ValueError(f"block has shape {b.shape} but there are {values.shape[:1]} rows")
    _, first, inverse = np.unique(b, return_index=True, return_inverse=True)
    inverse = inverse.ravel()
    sums = np.stack(
        [
            np.bincount(inverse, weights=values[:, k], minlength=first.size)
            for k in range(values.shape[1])
        ],
        axis=1,
    )
    return sums, np.argsort(first, kind="stable")


def group_sums(values: ArrayLike, block: ArrayLike | None = None) -> NDArray[np.float64]:
    """Per-group sums of ``values``; ``block=None`` makes every row its own group.

    ``block`` holds one group id per row (ints, strings, dates: anything ``np.unique`` sorts);
    the sums come in sorted id order.
    """
    v = np.asarray(values, dtype=np.float64)
    if block is None:
        return v
    if np.asarray(block).shape != v.shape:
        raise ValueError(f"block has shape {np.shape(block)} but there are {v.shape} rows")
    return _groups(v[:, None], block)[0][:, 0]


def optimal_block_length(series: ArrayLike) -> float:
    """Mean block length for the stationary bootstrap of the mean (or sum) of a time series:
    Politis & White (2004), with the correction of Patton, Politis & White (2009).

    With ``R(k)`` the sample autocovariances and the flat-top lag window ``w(t) = 1`` for
    ``|t| <= 1/2``, ``2 (1 - |t|)`` for ``1/2 < |t| <= 1``, 0 beyond::

        G = sum_{|k| <= M} w(k / M) |k| R(k),   g = sum_{|k| <= M} w(k / M) R(k)
        L = (2 G^2 / (2 g^2))^(1/3) n^(1/3) = (G / g)^(2/3) n^(1/3)

    ``M = 2 m``, where ``m`` is the first lag of the first run of ``K = 5`` autocorrelations all
    below ``2 sqrt(log10(n) / n)`` (at most ``sqrt(n) + K``), as in the authors' code. ``L`` is
    clipped to ``[1, min(3 sqrt(n), n / 3)]``: about 1 for white noise (then the stationary
    bootstrap is the i.i.d. one), larger the stronger and longer the autocorrelation.

    Traps: ``series`` must be in time order; a constant series (or fewer than 3 values) gives 1.
    """
    x = check_1d(series, "series")
    if not np.isfinite(x).all():
        raise ValueError("series must be finite")
    n = x.size
    eps = x - x.mean()
    r0 = float(eps @ eps) / n
    if n < 3 or r0 <= 0.0:
        return 1.0
    k_n = 5
    m_max = min(math.ceil(math.sqrt(n)) + k_n, n - 1)
    acv = np.array([eps[k:] @ eps[: n - k] for k in range(m_max + 1)]) / n
    small = np.abs(acv[1:] / r0) < 2.0 * math.sqrt(math.log10(n) / n)  # lags 1..m_max
    runs = np.convolve(small, np.ones(k_n, dtype=int), mode="valid") == k_n  # run from lag i+1
    m = 2 * (int(np.argmax(runs)) + 1) if runs.any() else m_max
    m = min(m, m_max)
    k = np.arange(1, m + 1)
    w = np.where(k / m <= 0.5, 1.0, 2.0 * (1.0 - k / m))
    g_lag = 2.0 * float(np.sum(w * k * acv[1 : m + 1]))
    g_0 = r0 + 2.0 * float(np.sum(w * acv[1 : m + 1]))
    b_max = math.ceil(min(3.0 * math.sqrt(n), n / 3.0))
    if g_0 == 0.0:
        return float(b_max) if g_lag != 0.0 else 1.0
    length = abs(g_lag / g_0) ** (2.0 / 3.0)  # (2 G^2 / D_SB)^(1/3), D_SB = 2 g^2
    return float(min(max(length * n ** (1.0 / 3.0), 1.0), b_max))


def _block_length(block_length: object, series: NDArray[np.float64]) -> float:
    """``block_length`` checked, or chosen from the columns of ``series`` (``"auto"``: the
    longest :func:`optimal_block_length` of any column, so that no column's dependence is cut)."""
    if isinstance(block_length, str):
        if block_length != "auto":
            raise ValueError(f"block_length must be a number >= 1 or 'auto', got {block_length!r}")
        return max(optimal_block_length(series[:, k]) for k in range(series.shape[1]))
    if isinstance(block_length, bool) or not isinstance(block_length, (int, float, np.number)):
        raise ValueError(f"block_length must be a number >= 1 or 'auto', got {block_length!r}")
    if not 1.0 <= float(block_length) < math.inf:
        raise ValueError(f"block_length must be a finite number >= 1, got {block_length!r}")
    return float(block_length)


def _resample_iid(sums: NDArray[np.float64], n_boot: int, rng: np.random.Generator) -> Any:
    """``(n_boot, k)`` column sums of ``G`` rows of ``sums`` drawn with replacement (exact,
    sparse: only rows non-zero in some column are drawn, see the module doc)."""
    n_groups, n_cols = sums.shape
    nonzero = sums[np.any(sums != 0.0, axis=1)]
    out = np.zeros((n_boot, n_cols))
    if nonzero.shape[0] == 0:
        return out
    budget = max(1, _CHUNK // n_cols)
    # Each resample: how many of its n_groups draws hit a non-zero group, then which.
    hits = rng.binomial(n_groups, nonzero.shape[0] / n_groups, size=n_boot)
    start = 0
    while start < n_boot:
        stop = start + 1
        total = int(hits[start])
        while stop < n_boot and total + hits[stop] <= budget:
            total += int(hits[stop])
            stop += 1
        idx = rng.integers(0, nonzero.shape[0], size=total, dtype=np.int32)
        csum = np.concatenate((np.zeros((1, n_cols)), np.cumsum(nonzero[idx], axis=0)))
        ends = np.cumsum(hits[start:stop])
        out[start:stop] = csum[ends] - csum[np.concatenate(([0], ends[:-1]))]
        start = stop
    return out


def _stationary_blocks(
    n_groups: int, block_length: float, n_boot: int, rng: np.random.Generator
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """The blocks of ``n_boot`` stationary-bootstrap resamples of ``n_groups`` groups, one
    resample per row: ``starts`` (uniform) and ``lengths`` (``Geometric(1 / block_length)``,
    the last block of each resample cut so that its lengths add up to ``n_groups``, and 0
    after it)."""
    p = 1.0 / block_length
    width = math.ceil(n_groups * p + 6.0 * math.sqrt(n_groups * p) + 8.0)  # nearly always enough
    lengths = rng.geometric(p, size=(n_boot, width))
    while True:
        before = np.cumsum(lengths, axis=1) - lengths  # groups before each block
        if (before[:, -1] + lengths[:, -1]).min() >= n_groups:
            break
        lengths = np.hstack([lengths, rng.geometric(p, size=(n_boot, width))])
    starts = rng.integers(0, n_groups, size=lengths.shape)
    np.clip(n_groups - before, 0, lengths, out=lengths)
    return starts, lengths


def _resample_stationary(
    sums: NDArray[np.float64], n_boot: int, rng: np.random.Generator, block_length: float
) -> Any:
    """``(n_boot, k)`` column sums of stationary-bootstrap resamples of the rows of ``sums``
    (groups in time order): each block's sum is a difference of a circular cumulative sum."""
    n_groups, n_cols = sums.shape
    circular = np.concatenate((np.zeros((1, n_cols)), np.cumsum(np.vstack([sums, sums]), axis=0)))
    width = n_groups / block_length + 6.0 * math.sqrt(n_groups / block_length) + 8.0
    chunk = max(1, int(_CHUNK // (width * n_cols)))  # resamples per chunk
    out = np.empty((n_boot, n_cols))
    for start in range(0, n_boot, chunk):
        stop = min(n_boot, start + chunk)
        starts, lengths = _stationary_blocks(n_groups, block_length, stop - start, rng)
        ends = np.take(circular, starts + lengths, axis=0)
        out[start:stop] = (ends - np.take(circular, starts, axis=0)).sum(axis=1)
    return out


def _resample(
    values: NDArray[np.float64],
    block: ArrayLike | None,
    n_boot: int,
    block_length: object,
    seed: int | np.random.Generator | None,
) -> tuple[Any, int, float]:
    """The one bootstrap engine: ``(n_boot, k)`` resampled column sums of ``values``
    (``(n, k)``, rows in time order), the number of groups, and the mean block length used.

    Groups are in sorted id order for the i.i.d. draw (as this module always drew them, so a
    seed gives the numbers it gave) and in order of first appearance for the stationary one.
    """
    sums, time_order = _groups(values, block)
    ordered = sums if time_order is None else sums[time_order]
    length = _block_length(block_length, ordered)
    rng = np.random.default_rng(seed)
    if length == 1.0:
        return _resample_iid(sums, n_boot, rng), sums.shape[0], length
    return _resample_stationary(ordered, n_boot, rng, length), sums.shape[0], length


def _interval(
    estimate: float, boot: NDArray[np.float64], level: float, n_groups: int, block_length: float
) -> BootstrapResult:
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    alpha = 0.5 * (1.0 - level)
    low, high = np.quantile(boot, [alpha, 1.0 - alpha])
    return BootstrapResult(
        estimate=float(estimate),
        low=float(low),
        high=float(high),
        p_not_better=float(np.mean(boot <= 0.0)),
        n_boot=int(boot.size),
        n_groups=int(n_groups),
        block_length=float(block_length),
    )


def _check_n_boot(n_boot: object) -> int:
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 1:
        raise ValueError(f"n_boot must be an integer >= 1, got {n_boot!r}")
    return int(n_boot)


def bootstrap_log_wealth(
    log_payoff: ArrayLike,
    take: ArrayLike,
    *,
    baseline_take: ArrayLike | None = None,
    n_boot: int = 1000,
    block: ArrayLike | None = None,
    seed: int | np.random.Generator | None = 0,
    level: float = 0.95,
    block_length: BlockLength = 1.0,
) -> BootstrapResult:
    """Bootstrap interval of a policy's log-wealth, or of its difference to a baseline policy.

    Args:
        log_payoff: ``log p`` per row.
        take: the policy's decisions per row (bool or 0/1).
        baseline_take: if given, the statistic is ``log_wealth(take) - log_wealth(baseline)``,
            bootstrapped *paired*: both policies are scored on the same resampled rows, so
            the noise of rows both take (or both leave) cancels. A policy minus itself is
            exactly 0 in every resample.
        n_boot: number of resamples (>= 1).
        block: optional group id per row: whole groups are drawn, so rows that share a group
            (a date, a match) move together. Use it when rows within a group are correlated.
            ``None``: every row is its own group.
        seed: seed or generator for ``numpy.random.default_rng``.
        level: confidence level of the percentile interval, in (0, 1).
        block_length: mean length, in groups, of the stationary bootstrap's blocks of
            consecutive groups (see the module doc); ``1`` (the default) draws groups
            i.i.d.; ``"auto"`` chooses it with :func:`optimal_block_length` on the per-group
            sums of the statistic. Above 1, rows must be in time order and groups are taken
            in the order they first appear.

    Returns:
        :class:`BootstrapResult`.
    """
    r = check_log_payoff(log_payoff)
    a = _as_take(take, "take")
    check_same_length(log_payoff=r, take=a)
    if baseline_take is not None:
        b = _as_take(baseline_take, "baseline_take")
        check_same_length(log_payoff=r, baseline_take=b)
        a = a - b
    n = _check_n_boot(n_boot)
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    values = a * r
    boot, n_groups, length = _resample(values[:, None], block, n, block_length, seed)
    return _interval(values.sum(), boot[:, 0], level, n_groups, length)


def significantly_better(
    log_payoff: ArrayLike,
    take: ArrayLike,
    baseline_take: ArrayLike,
    *,
    n_boot: int = 1000,
    block: ArrayLike | None = None,
    seed: int | np.random.Generator | None = 0,
    level: float = 0.95,
    block_length: BlockLength = 1.0,
) -> bool:
    """True iff the lower bound of the paired bootstrap interval of ``take - baseline`` is > 0.

    Same arguments as :func:`bootstrap_log_wealth`. With ``level=0.95`` this is a one-sided
    test at about the 2.5% level. It is the rule of the no-edge guard
    (:func:`boostobj.guard.judge_policy`), which is what decides whether to act on a model.
    """
    res = bootstrap_log_wealth(
        log_payoff,
        take,
        baseline_take=baseline_take,
        n_boot=n_boot,
        block=block,
        seed=seed,
        level=level,
        block_length=block_length,
    )
    return res.above_zero()


@dataclass(frozen=True)
class PolicyBootstrap:
    """Log-wealth of several policies on the *same* bootstrap resamples (see
    :func:`bootstrap_policies`); any two columns form a paired comparison.

    Attributes:
        names: the policies, in the order of the columns.
        estimates: each policy's log-wealth on the data as given.
        samples: ``(n_boot, len(names))`` bootstrap log-wealths.
        n_groups: number of resampled units (rows, or blocks).
        block_length: mean block length of the resamples (1.0: i.i.d.).
    """

    names: tuple[str, ...]
    estimates: NDArray[np.float64]
    samples: NDArray[np.float64]
    n_groups: int
    block_length: float = 1.0

    def _col(self, name: str) -> int:
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(f"no policy {name!r}; have {list(self.names)}") from None

    def interval(
        self, name: str, baseline: str | None = None, *, level: float = 0.95
    ) -> BootstrapResult:
        """Interval of ``name``'s log-wealth, or of ``name - baseline`` (paired)."""
        i = self._col(name)
        est, boot = self.estimates[i], self.samples[:, i]
        if baseline is not None:
            j = self._col(baseline)
            est, boot = est - self.estimates[j], boot - self.samples[:, j]
        return _interval(est, boot, level, self.n_groups, self.block_length)


def bootstrap_policies(
    log_payoff: ArrayLike,
    takes: Mapping[str, ArrayLike],
    *,
    n_boot: int = 1000,
    block: ArrayLike | None = None,
    seed: int | np.random.Generator | None = 0,
    block_length: BlockLength = 1.0,
) -> PolicyBootstrap:
    """Bootstrap the log-wealth of many policies at once, all on the same resamples.

    Cheaper than one :func:`bootstrap_log_wealth` call per policy and pair when there are many
    policies on one data set: each resample is drawn once and scores every policy, so every
    pairwise difference (:meth:`PolicyBootstrap.interval` with a baseline) is paired. With one
    policy it gives exactly :func:`bootstrap_log_wealth`'s resamples (the same engine).
    Arguments as in :func:`bootstrap_log_wealth`; ``takes`` maps a name to a policy's
    decisions; ``block_length="auto"`` takes the longest block length any policy's series asks
    for.
    """
    r = check_log_payoff(log_payoff)
    if not takes:
        raise ValueError("takes is empty: give at least one policy")
    n = _check_n_boot(n_boot)
    names = tuple(takes)
    values = np.empty((r.size, len(names)))
    for k, name in enumerate(names):
        a = _as_take(takes[name], f"takes[{name!r}]")
        check_same_length(log_payoff=r, **{f"takes[{name!r}]": a})
        values[:, k] = a * r
    samples, n_groups, length = _resample(values, block, n, block_length, seed)
    return PolicyBootstrap(names, values.sum(axis=0), samples, n_groups, length)
