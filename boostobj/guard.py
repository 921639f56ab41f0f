"""The no-edge guard: recommend the model only where it beats doing nothing beyond noise.

On real payoffs a model's lead over the trivial policies (take every row, take none) is often
luck. Before recommending a model, :func:`recommend_policy` scores it on validation rows it
did not choose its threshold on, and asks a paired bootstrap whether it beats *both* trivial
policies:

1. Split the validation rows, in the given order (time order for time series), into two
   halves at a block boundary.
2. Cross-fit the threshold: choose it on one half with the exact
   :func:`~boostobj.metrics.best_threshold`, take decisions on the other, and vice versa.
   The threshold is thus never scored on the rows it was chosen on.
3. Paired bootstrap of the difference to take-all and to take-none (one engine:
   :mod:`boostobj.stats`). Rows without groups are taken as exchangeable: rows are drawn
   i.i.d. With groups (dates), the groups are taken as consecutive times: a stationary
   bootstrap of the per-group sums, in the order the groups first appear, with the mean block
   length chosen from their autocorrelation (:func:`~boostobj.stats.optimal_block_length`;
   about 1, i.e. i.i.d. groups, when they are uncorrelated). Serially dependent daily returns
   thus get wider, honest intervals; where the estimate finds negative autocorrelation,
   which would narrow them, the guard keeps the i.i.d.-group interval (the more cautious).
   ``block_length`` overrides the rule (``"auto"`` for time-ordered rows without groups, a
   number to fix it).
4. Recommend the model iff the lower bounds of both intervals are above 0; otherwise the
   trivial policy that is better on the whole validation set, and say why.
5. But never on fewer than :data:`MIN_UNITS` independent units (groups where there are
   groups, else rows): a percentile bootstrap of a sum over a few dozen units covers less
   than it says, and a chance edge then passes (it let a losing model through on 46
   held-out football matches). Too few units is a trivial policy with a reason that says
   how many there were.

With cross-fitting alone, early stopping and hyperparameters were still chosen on these rows,
so the test leans towards the model: after 30 tuning trials it let a losing model through on
the football table. :func:`boostobj.tuning.tune` therefore judges with :func:`judge_policy`
decisions taken without those rows' payoffs: the last ``guard_fraction`` of the validation
rows, held out from every choice, and, by default on exchangeable rows, also the train rows,
as the cross-fitted members that did not train on them decide them (out of fold, about 8x
the rows). :func:`recommend_policy` is the fallback without such rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._validation import check_1d, check_log_payoff, check_same_length
from .datasets import bayes_log_wealth
from .metrics import best_threshold
from .stats import BlockLength, BootstrapResult, bootstrap_log_wealth

__all__ = [
    "MIN_UNITS",
    "Evaluation",
    "Recommendation",
    "best_trivial",
    "cross_fitted_decisions",
    "judge_policy",
    "recommend_policy",
    "split_point",
]


#: The fewest independent units (groups, else rows) the guard judges a model on.
MIN_UNITS = 100


@dataclass(frozen=True)
class Recommendation:
    """What :func:`recommend_policy` concluded.

    Attributes:
        policy: ``"model"``, ``"take_all"`` or ``"take_none"``.
        reason: one sentence a user can read.
        model_log_wealth: the model's cross-fitted validation log-wealth.
        vs_take_all, vs_take_none: paired bootstrap intervals of the model minus each; their
            ``block_length`` is the mean block length, in groups, the bootstrap used.
    """

    policy: str
    reason: str
    model_log_wealth: float
    vs_take_all: BootstrapResult
    vs_take_none: BootstrapResult
    level: float = 0.95

    def versus(self, trivial: str) -> BootstrapResult:
        """The interval of the model minus ``trivial`` (``"take_all"`` or ``"take_none"``)."""
        return self.vs_take_all if trivial == "take_all" else self.vs_take_none

    def summary(self) -> dict[str, Any]:
        """JSON-serialisable form."""

        return {
            "policy": self.policy,
            "reason": self.reason,
            "model_log_wealth_cross_fitted": self.model_log_wealth,
            "model_minus_take_all": self.vs_take_all.summary(),
            "model_minus_take_none": self.vs_take_none.summary(),
            "level": self.level,
        }


def best_trivial(log_payoff: NDArray[np.float64]) -> str:
    """The better trivial policy on these rows: ``"take_all"`` iff ``sum(log p) > 0``."""
    return "take_all" if float(np.sum(log_payoff)) > 0 else "take_none"


@dataclass(frozen=True, eq=False)
class Evaluation:
    """A policy's decisions on one named set of rows, and what doing nothing made there.

    Every number a report shows comes from one of these, so each states the rows it covers.

    Attributes:
        rows: which rows (``"valid"``, ``"guard"``, ``"test"``).
        log_p: ``log p`` per row.
        score: the probability the model's threshold is compared to, per row.
        take: the decisions, per row.
        groups: a group or time per row (block bootstrap, plots), or ``None``.
        expected_log_payoff: ``E[log p | x]`` where known (synthetic data): the Bayes policy.
        verdict: the guard's verdict on these rows (:func:`judge_policy`), if it judged them.
    """

    rows: str
    log_p: NDArray[np.float64]
    score: NDArray[np.float64]
    take: NDArray[np.bool_]
    groups: NDArray[Any] | None = None
    expected_log_payoff: NDArray[np.float64] | None = None
    verdict: Recommendation | None = None

    @property
    def n_rows(self) -> int:
        return int(self.log_p.size)

    @property
    def n_taken(self) -> int:
        return int(np.count_nonzero(self.take))

    @property
    def log_wealth(self) -> dict[str, float]:
        """``model``, ``take_all``, ``take_none`` and, where known, ``bayes``."""
        out = {
            "model": float(self.log_p[self.take].sum()),
            "take_all": float(self.log_p.sum()),
            "take_none": 0.0,
        }
        if self.expected_log_payoff is not None:
            out["bayes"] = bayes_log_wealth(self.log_p, self.expected_log_payoff)
        return out

    def summary(self) -> dict[str, Any]:
        """JSON-serialisable numbers: rows, rows taken, log-wealth, and the verdict."""
        return {
            "rows": self.rows,
            "n_rows": self.n_rows,
            "n_taken": self.n_taken,
            "log_wealth": self.log_wealth,
            "verdict": None if self.verdict is None else self.verdict.summary(),
        }


def split_point(n: int, first_share: float, block: NDArray[Any] | None = None) -> int:
    """Row index that puts about ``first_share`` of ``n`` rows first, moved to the nearest
    place where the block id changes, so that no block is cut in two."""
    cut = round(n * first_share)
    if block is not None:
        changes = np.flatnonzero(block[1:] != block[:-1]) + 1
        if changes.size:
            cut = int(changes[np.argmin(np.abs(changes - cut))])
    return cut


def _halves(n: int, block: NDArray[Any] | None) -> NDArray[np.bool_]:
    """Mask of the first half of ``n`` rows, cut where the block id changes."""
    first = np.zeros(n, dtype=bool)
    first[: split_point(n, 0.5, block)] = True
    return first


def cross_fitted_decisions(
    scores: ArrayLike, log_payoff: ArrayLike, block: ArrayLike | None = None
) -> NDArray[np.bool_]:
    """Decisions whose threshold was chosen on the other half of the rows (see module doc)."""
    s = check_1d(scores, "scores")
    r = check_log_payoff(log_payoff)
    check_same_length(scores=s, log_payoff=r, block=block)
    if s.size < 2:
        raise ValueError("cross-fitting needs at least two rows")
    first = _halves(s.size, None if block is None else np.asarray(block))
    take = np.zeros(s.size, dtype=bool)
    for fit, apply in ((first, ~first), (~first, first)):
        t = best_threshold(s[fit], r[fit]).threshold
        take[apply] = s[apply] >= t
    return take


def _blocks(*intervals: BootstrapResult) -> str:
    """``", blocks of 3.2 groups on average"`` for the reason sentence; ``""`` if i.i.d."""
    lengths = [f"{res.block_length:.3g}" for res in intervals if res.block_length > 1.0]
    if not lengths:
        return ""
    return f", time blocks of {' and '.join(dict.fromkeys(lengths))} groups on average"


def _cautious(
    r: NDArray[np.float64], take: NDArray[np.bool_], baseline: NDArray[np.bool_], kw: dict[str, Any]
) -> BootstrapResult:
    """The bootstrap interval of ``take`` minus ``baseline``; with ``"auto"`` blocks, the one
    of the data-driven blocks and blocks of 1 whose lower bound is lower."""
    result = bootstrap_log_wealth(r, take, baseline_take=baseline, **kw)
    if kw["block_length"] != "auto":
        return result
    iid = bootstrap_log_wealth(r, take, baseline_take=baseline, **{**kw, "block_length": 1.0})
    return iid if iid.low < result.low else result


def judge_policy(
    take: ArrayLike,
    log_payoff: ArrayLike,
    *,
    block: ArrayLike | None = None,
    n_boot: int = 2000,
    level: float = 0.95,
    seed: int = 0,
    rows: str = "on validation rows its threshold was not chosen on",
    trivial: str | None = None,
    block_length: BlockLength | None = None,
) -> Recommendation:
    """The guard's verdict on fixed decisions ``take`` (chosen without these rows' payoffs):
    the model iff there are at least :data:`MIN_UNITS` independent units (groups, else
    rows) and the paired bootstrap intervals of the model minus take-all and minus
    take-none both lie above 0. This is the one place that decides whether a model beats
    doing nothing.

    ``rows`` describes the rows in the reason sentence. ``trivial`` is the fallback policy
    (``"take_all"`` or ``"take_none"``); ``None`` picks the better one on these rows.
    ``block``: group id (date) per row, rows in time order. ``block_length``: ``None`` (the
    rule, see the module doc) is ``"auto"`` with ``block`` and 1 (i.i.d. rows) without; give
    ``"auto"`` for time-ordered rows without groups, or a number ``>= 1``. Each interval has
    its block length chosen on its own series (model minus take-all, model minus take-none).
    With ``"auto"`` each comparison keeps the more cautious of that interval and the one
    with blocks of 1 (the lower lower bound): the block length is an estimate, and where it
    finds negative autocorrelation the blocks would narrow the interval; a guard of money
    errs towards doing nothing.
    """
    r = check_log_payoff(log_payoff)
    a = np.asarray(take, dtype=bool)
    check_same_length(take=a, log_payoff=r, block=block)
    if block_length is None:
        block_length = 1.0 if block is None else "auto"
    kw: dict[str, Any] = {
        "n_boot": n_boot, "block": block, "seed": seed, "level": level,
        "block_length": block_length,
    }  # fmt: skip
    vs_all = _cautious(r, a, np.ones(r.size, bool), kw)
    vs_none = _cautious(r, a, np.zeros(r.size, bool), kw)
    model = float(r[a].sum())
    if trivial is None:
        trivial = best_trivial(r)
    elif trivial not in ("take_all", "take_none"):
        raise ValueError(f"trivial must be 'take_all' or 'take_none', got {trivial!r}")
    units = r.size if block is None else np.unique(np.asarray(block)).size
    if units < MIN_UNITS:
        kind = "rows" if block is None else "groups"
        policy = trivial
        reason = (
            f"too few to judge: {rows}, {units} {kind} are fewer than the {MIN_UNITS} the "
            f"guard needs to tell an edge from luck (the model minus take-all is "
            f"{vs_all.estimate:.4g}, minus take-none {vs_none.estimate:.4g}), so the safer "
            f"{trivial.replace('_', '-')} is recommended; give more validation rows"
        )
    elif vs_all.above_zero() and vs_none.above_zero():
        policy = "model"
        reason = (
            f"{rows}, the model beats take-all by "
            f"{vs_all.estimate:.4g} [{vs_all.low:.4g}, {vs_all.high:.4g}] and take-none by "
            f"{vs_none.estimate:.4g} [{vs_none.low:.4g}, {vs_none.high:.4g}] ({level:.0%} "
            f"bootstrap intervals{_blocks(vs_all, vs_none)})"
        )
    else:
        policy = trivial
        weak = vs_none if vs_all.above_zero() else vs_all
        other = "take-all" if weak is vs_all else "take-none"
        reason = (
            f"no edge beyond noise: {rows}, the "
            f"model minus {other} is {weak.estimate:.4g} [{weak.low:.4g}, {weak.high:.4g}] "
            f"({level:.0%} bootstrap interval{_blocks(weak)}), so the safer "
            f"{trivial.replace('_', '-')} "
            "is recommended"
        )
    return Recommendation(policy, reason, model, vs_all, vs_none, level)


def recommend_policy(
    scores: ArrayLike,
    log_payoff: ArrayLike,
    *,
    block: ArrayLike | None = None,
    n_boot: int = 2000,
    level: float = 0.95,
    seed: int = 0,
    block_length: BlockLength | None = None,
) -> Recommendation:
    """Recommend the model or a trivial policy from validation scores and payoffs.

    The threshold is cross-fitted on the two halves (:func:`cross_fitted_decisions`), then
    :func:`judge_policy` decides. Use it when no rows are left that chose nothing; when they
    are (``boostobj.tuning.tune``'s ``guard_fraction``), judge the final decisions there.

    Args:
        scores: the model's validation scores (margins or probabilities), in row order.
        log_payoff: ``log p`` of the validation rows.
        block: optional group ids (dates) for the split and the bootstrap, rows in time order.
        n_boot, level, seed, block_length: bootstrap settings (see :func:`judge_policy`).
    """
    take = cross_fitted_decisions(scores, log_payoff, block)
    return judge_policy(
        take, log_payoff, block=block, n_boot=n_boot, level=level, seed=seed,
        block_length=block_length,
    )  # fmt: skip
