"""The hard metric, log-wealth, and exact threshold search. Numpy only.

Log-wealth of a policy that takes rows ``a_i in {0, 1}`` is ``sum_i a_i * log p_i``, the log
of the compounded payoff ``prod_i p_i ** a_i``. A score threshold ``t`` takes every row with
``score >= t``. Every adapter, estimator, tuner and the CLI call these functions.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._validation import check_1d, check_log_payoff, check_same_length

__all__ = [
    "BestThreshold",
    "ThresholdCurve",
    "best_threshold",
    "break_even_margin",
    "decide",
    "decide_with_payoffs",
    "log_wealth",
    "margin_threshold",
    "sigmoid",
    "stake_log_wealth",
    "threshold_curve",
    "trivial_policies",
]


def log_wealth(log_payoff: ArrayLike, take: ArrayLike) -> float:
    """``sum(log_payoff[take])``: the log of the compounded payoff of the rows taken.

    Args:
        log_payoff: ``log p`` per row.
        take: boolean (or 0/1) decisions per row.
    """
    r = check_log_payoff(log_payoff)
    if take is None:
        raise ValueError("take is None: pass one boolean (or 0/1) decision per row")
    a = np.asarray(take)
    if a.ndim != 1:
        raise ValueError(f"take must be 1-D, one decision per row; got shape {a.shape}")
    check_same_length(log_payoff=r, take=a)
    if a.dtype != np.bool_:
        if a.dtype.kind not in "biuf" or not np.isin(a, (0, 1)).all():
            raise ValueError("take must hold booleans or 0/1 decisions")
        a = a.astype(bool)
    return _log_wealth(r, a)


def _log_wealth(r: NDArray[np.float64], take: NDArray[np.bool_]) -> float:
    """:func:`log_wealth` on checked input: for the per-round metric on a cached label."""
    return float(r[take].sum())


def stake_log_wealth(log_payoff: ArrayLike, stake: ArrayLike) -> float:
    """``sum(log(1 + b (p - 1)))``: log-wealth when staking the fraction ``b`` of wealth per row.

    ``b = 1`` is taking the row (gains ``log p``), ``b = 0`` skipping it; :class:`~boostobj.
    losses.Kelly` models learn ``b = sigmoid(margin)``.
    """
    r = check_log_payoff(log_payoff)
    b = check_1d(stake, "stake")
    check_same_length(log_payoff=r, stake=b)
    bad = ~((b >= 0) & (b <= 1))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"stake must lie in [0, 1]; index {i} holds {b[i]!r}")
    return _stake_log_wealth(r, b)


def _stake_log_wealth(r: NDArray[np.float64], b: NDArray[np.float64]) -> float:
    """:func:`stake_log_wealth` on checked input. Above ``log p = 700``, where ``expm1``
    overflows, and below ``log p = -30``, where ``1 + b (p - 1)`` rounds to 0 at ``b = 1``,
    it is ``logaddexp(log(1 - b), log(b) + log p)``, finite for any ``p``."""
    far = (r > 700.0) | (r < -30.0)
    out = np.log1p(b * np.expm1(np.clip(r, -30.0, 700.0)))
    if far.any():
        with np.errstate(divide="ignore"):  # log(0) = -inf is exact: logaddexp absorbs it
            out[far] = np.logaddexp(np.log1p(-b[far]), np.log(b[far]) + r[far])
    return float(out.sum())


def trivial_policies(log_payoff: ArrayLike) -> dict[str, float]:
    """Log-wealth of the policies every model must beat, and of perfect foresight.

    Returns ``{"take_all": sum(r), "take_none": 0.0, "perfect_foresight": sum(r[r > 0])}``.
    """
    r = check_log_payoff(log_payoff)
    return {
        "take_all": float(r.sum()),
        "take_none": 0.0,
        "perfect_foresight": float(r[r > 0].sum()),
    }


def margin_threshold(threshold: float) -> float:
    """The raw-margin cut that matches probability ``threshold``: ``logit(threshold)``.

    ``threshold <= 0`` gives ``-inf`` (take every row), ``threshold >= 1`` gives ``+inf``
    (take none).
    """
    t = float(threshold)
    if np.isnan(t):
        raise ValueError("threshold is NaN")
    if t <= 0.0:
        return -np.inf
    if t >= 1.0:
        return np.inf
    return float(np.log(t) - np.log1p(-t))


def sigmoid(margin: ArrayLike) -> NDArray[np.float64]:
    """``1 / (1 + exp(-margin))`` in float64, finite and warning-free for any margin."""
    return 0.5 + 0.5 * np.tanh(0.5 * np.asarray(margin, dtype=np.float64))


def decide(margin: ArrayLike, threshold: float = 0.5) -> NDArray[np.bool_]:
    """Take a row iff ``sigmoid(margin) >= threshold``, computed as ``margin >= logit(threshold)``.

    Comparing in margin space avoids the sigmoid saturating to exactly 0 or 1.
    """
    return np.asarray(margin) >= margin_threshold(threshold)


def break_even_margin(log_win: ArrayLike, log_loss: ArrayLike) -> NDArray[np.float64]:
    """Per-row margin at which taking the row has zero expected log payoff.

    With payoffs known at decision time, ``p_win`` if the outcome is positive and ``p_loss``
    otherwise, and a model probability ``q = sigmoid(f)`` of the positive outcome, taking pays
    ``q log p_win + (1 - q) log p_loss`` in expectation. That is ``> 0`` iff
    ``f > log(-log p_loss / log p_win)``, the value returned. Needs
    ``log_loss < 0 < log_win`` on every row (otherwise the decision does not depend on ``q``).
    """
    rw = check_log_payoff(log_win, name="log p_win")
    rl = check_log_payoff(log_loss, name="log p_loss")
    check_same_length(p_win=rw, p_loss=rl)
    for name, bad in (("p_win <= 1", rw <= 0), ("p_loss >= 1", rl >= 0)):
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"payoffs known at decision time need p_loss < 1 < p_win on every row; "
                f"{int(bad.sum())} rows have {name}, the first at index {i}"
            )
    return np.log(-rl) - np.log(rw)


def decide_with_payoffs(
    margin: ArrayLike, log_win: ArrayLike, log_loss: ArrayLike, threshold: float = 0.5
) -> NDArray[np.bool_]:
    """Take a row iff ``sigmoid(margin - break_even_margin) >= threshold``.

    At ``threshold=0.5`` this is ``q log p_win + (1 - q) log p_loss >= 0`` with
    ``q = sigmoid(margin)``: positive expected log payoff under the model.
    """
    return decide(np.asarray(margin) - break_even_margin(log_win, log_loss), threshold)


class ThresholdCurve(NamedTuple):
    """Log-wealth for every distinct policy ``score >= threshold``.

    Arrays run from taking nothing (``threshold=+inf``, ``n_taken=0``, ``log_wealth=0``) to
    taking everything (``threshold=-inf``). Between, each threshold is the midpoint of two
    neighbouring distinct scores, so it never coincides with a seen score.
    """

    thresholds: NDArray[np.float64]
    log_wealth: NDArray[np.float64]
    n_taken: NDArray[np.int64]


class BestThreshold(NamedTuple):
    """The log-wealth maximiser: take rows with ``score >= threshold``."""

    threshold: float
    log_wealth: float
    n_taken: int


def _sorted_inputs(
    scores: ArrayLike, log_payoff: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    s = check_1d(scores, "scores")
    r = check_log_payoff(log_payoff)
    check_same_length(scores=s, log_payoff=r)
    if np.isnan(s).any():
        raise ValueError(f"scores has NaN at index {int(np.flatnonzero(np.isnan(s))[0])}")
    order = np.argsort(-s)  # ties are grouped afterwards, so stability is not needed
    return s[order], r[order]


def threshold_curve(scores: ArrayLike, log_payoff: ArrayLike) -> ThresholdCurve:
    """Exact log-wealth of every threshold policy, in ``O(n log n)`` (one sort, one cumsum).

    Rows with tied scores are always taken or left together, so each point of the curve is a
    policy a threshold can express. Scores may be margins or probabilities; thresholds come
    back on the same scale.
    """
    s, r = _sorted_inputs(scores, log_payoff)
    n = s.size
    # Last index of each group of equal scores (s is sorted descending).
    ends = np.flatnonzero(np.append(s[1:] != s[:-1], True))
    wealth = np.concatenate(([0.0], np.cumsum(r)[ends]))
    n_taken = np.concatenate(([0], ends + 1)).astype(np.int64)
    hi, lo = s[ends[:-1]], s[ends[:-1] + 1]
    mid = 0.5 * hi + 0.5 * lo
    # Adjacent floats: the midpoint may round onto the lower score; cut at the higher one.
    mid = np.where(mid > lo, mid, hi)
    thresholds = np.concatenate(([np.inf], mid, [-np.inf]))
    assert n_taken[-1] == n
    return ThresholdCurve(thresholds, wealth, n_taken)


def best_threshold(scores: ArrayLike, log_payoff: ArrayLike) -> BestThreshold:
    """The threshold that maximises ``log_wealth(log_payoff, scores >= threshold)`` exactly.

    Among thresholds with equal log-wealth it returns the one that takes the fewest rows
    (least exposure). Taking nothing is a candidate, so the result is never below 0: when no
    threshold earns anything it returns ``threshold=inf``, ``n_taken=0``. When taking every
    row is best it returns ``-inf``. Given probabilities, the threshold is a probability.
    """
    curve = threshold_curve(scores, log_payoff)
    k = int(np.argmax(curve.log_wealth))
    return BestThreshold(
        float(curve.thresholds[k]), float(curve.log_wealth[k]), int(curve.n_taken[k])
    )
