"""Bootstrap confidence intervals for log-wealth, and for the paired difference of two policies.

Log-wealth is a sum over rows, ``sum_i a_i r_i`` with ``r_i = log p_i``, so its bootstrap only
needs per-group sums: with groups ``g`` (rows by default, or e.g. dates for a block bootstrap),
``S_g = sum_{i in g} a_i r_i`` and a resample is the sum of ``G`` groups drawn with replacement.
Groups with ``S_g = 0`` (rows not taken, or taken by both policies of a difference) add
nothing, so a resample draws only how many of its ``G`` draws land on non-zero groups
(``Binomial(G, m / G)``) and then which ones. That is exact, and it makes 1000 resamples of
200 000 rows take about a second or less.

The interval is the percentile interval of the bootstrap distribution. It measures the noise of
the *test sample* only: it says nothing about how much a retrained model would vary.

>>> import numpy as np
>>> r = np.array([0.1, -0.2, 0.05, 0.3])
>>> bootstrap_log_wealth(r, r > 0, n_boot=200).estimate
0.45
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._validation import check_log_payoff, check_same_length

__all__ = [
    "BootstrapResult",
    "PolicyBootstrap",
    "bootstrap_log_wealth",
    "bootstrap_policies",
    "group_sums",
    "significantly_better",
]

# Draws per vectorised chunk: bounds memory to ~100 MB whatever n_boot * n.
_CHUNK = 1 << 23


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
    """

    estimate: float
    low: float
    high: float
    p_not_better: float
    n_boot: int
    n_groups: int

    def contains_zero(self) -> bool:
        """True if ``low <= 0 <= high``: the sign is within noise."""
        return self.low <= 0.0 <= self.high


def _as_take(take: ArrayLike, name: str) -> NDArray[np.float64]:
    a = np.asarray(take)
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-D, one decision per row; got shape {a.shape}")
    if a.dtype != np.bool_ and not np.isin(a, (0, 1)).all():
        raise ValueError(f"{name} must hold booleans or 0/1 decisions")
    return a.astype(np.float64)


def group_sums(values: ArrayLike, block: ArrayLike | None = None) -> NDArray[np.float64]:
    """Per-group sums of ``values``; ``block=None`` makes every row its own group.

    ``block`` holds one group id per row (ints, strings, dates: anything ``np.unique`` sorts).
    """
    v = np.asarray(values, dtype=np.float64)
    if block is None:
        return v
    b = np.asarray(block)
    if b.shape != v.shape:
        raise ValueError(f"block has shape {b.shape} but there are {v.shape} rows")
    _, inverse = np.unique(b, return_inverse=True)
    return np.bincount(inverse.ravel(), weights=v)


def _resample_sums(sums: NDArray[np.float64], n_boot: int, rng: np.random.Generator) -> Any:
    """``n_boot`` sums of ``len(sums)`` groups drawn with replacement (exact, sparse)."""
    n_groups = sums.size
    nonzero = sums[sums != 0.0]
    out = np.zeros(n_boot)
    if nonzero.size == 0:
        return out
    # Each resample: how many of its n_groups draws hit a non-zero group, then which.
    hits = rng.binomial(n_groups, nonzero.size / n_groups, size=n_boot)
    start = 0
    while start < n_boot:
        stop = start + 1
        total = int(hits[start])
        while stop < n_boot and total + hits[stop] <= _CHUNK:
            total += int(hits[stop])
            stop += 1
        idx = rng.integers(0, nonzero.size, size=total, dtype=np.int32)
        csum = np.concatenate(([0.0], np.cumsum(nonzero[idx])))
        ends = np.cumsum(hits[start:stop])
        out[start:stop] = csum[ends] - csum[np.concatenate(([0], ends[:-1]))]
        start = stop
    return out


def _interval(
    estimate: float, boot: NDArray[np.float64], level: float, n_groups: int
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
        block: optional group id per row for a block bootstrap: whole groups are drawn with
            replacement, so rows that share a group (a date, a match) move together. Use it
            when rows within a group are correlated. ``None`` resamples rows.
        seed: seed or generator for ``numpy.random.default_rng``.
        level: confidence level of the percentile interval, in (0, 1).

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
    sums = group_sums(values, block)
    boot = _resample_sums(sums, n, np.random.default_rng(seed))
    return _interval(values.sum(), boot, level, sums.size)


def significantly_better(
    log_payoff: ArrayLike,
    take: ArrayLike,
    baseline_take: ArrayLike,
    *,
    n_boot: int = 1000,
    block: ArrayLike | None = None,
    seed: int | np.random.Generator | None = 0,
    level: float = 0.95,
) -> bool:
    """True iff the lower bound of the paired bootstrap interval of ``take - baseline`` is > 0.

    Same arguments as :func:`bootstrap_log_wealth`. With ``level=0.95`` this is a one-sided
    test at about the 2.5% level.
    """
    res = bootstrap_log_wealth(
        log_payoff,
        take,
        baseline_take=baseline_take,
        n_boot=n_boot,
        block=block,
        seed=seed,
        level=level,
    )
    return res.low > 0.0


@dataclass(frozen=True)
class PolicyBootstrap:
    """Log-wealth of several policies on the *same* bootstrap resamples (see
    :func:`bootstrap_policies`); any two columns form a paired comparison.

    Attributes:
        names: the policies, in the order of the columns.
        estimates: each policy's log-wealth on the data as given.
        samples: ``(n_boot, len(names))`` bootstrap log-wealths.
        n_groups: number of resampled units (rows, or blocks).
    """

    names: tuple[str, ...]
    estimates: NDArray[np.float64]
    samples: NDArray[np.float64]
    n_groups: int

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
        return _interval(est, boot, level, self.n_groups)


def bootstrap_policies(
    log_payoff: ArrayLike,
    takes: Mapping[str, ArrayLike],
    *,
    n_boot: int = 1000,
    block: ArrayLike | None = None,
    seed: int | np.random.Generator | None = 0,
) -> PolicyBootstrap:
    """Bootstrap the log-wealth of many policies at once, all on the same resamples.

    Cheaper than one :func:`bootstrap_log_wealth` call per policy and pair when there are many
    policies on one data set: each resample is drawn once, as a count per group, and a single
    matrix product ``counts @ group_sums`` scores every policy. Every pairwise difference
    (:meth:`PolicyBootstrap.interval` with a baseline) is then paired. Arguments as in
    :func:`bootstrap_log_wealth`; ``takes`` maps a name to a policy's decisions.
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
    if block is None:
        sums = values
    else:
        b = np.asarray(block)
        if b.shape != r.shape:
            raise ValueError(f"block has shape {b.shape} but there are {r.shape} rows")
        _, inverse = np.unique(b, return_inverse=True)
        inverse = inverse.ravel()
        n_groups = int(inverse.max()) + 1
        sums = np.stack(
            [
                np.bincount(inverse, weights=values[:, k], minlength=n_groups)
                for k in range(len(names))
            ],
            axis=1,
        )
    rng = np.random.default_rng(seed)
    g = sums.shape[0]
    samples = np.empty((n, len(names)))
    chunk = max(1, _CHUNK // (4 * g))  # resamples per chunk
    for start in range(0, n, chunk):
        b_ = min(chunk, n - start)
        idx = rng.integers(0, g, size=(b_, g), dtype=np.int64)
        idx += (np.arange(b_) * g)[:, None]
        counts = np.bincount(idx.ravel(), minlength=b_ * g).reshape(b_, g)
        samples[start : start + b_] = counts @ sums
    return PolicyBootstrap(names, values.sum(axis=0), samples, int(g))
