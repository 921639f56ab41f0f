"""``tune(payoffs=...)``: learn from ``p`` directly, or estimate the payoffs first.

- ``"auto"`` (default): :class:`TwoPart` where it applies (no ``loss`` or ``payoff_columns``
  given, and at least ``TWO_PART_MIN_ROWS`` training rows that won and as many that lost),
  else the log(p)-weighted surrogate;
- ``TwoPart(...)``: always the two-part model (:mod:`boostobj.two_part`);
- ``None``: the surrogate named by ``estimator_params["loss"]`` (default ``"logistic"``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from numbers import Real
from typing import Any

from .. import _defaults
from .._validation import Rows

__all__ = ["TwoPart", "resolve_payoffs"]


@dataclass(frozen=True)
class TwoPart:
    """Estimate each outcome's payoff by two cross-fitted regressions, then tune the
    payoffs-known model on the features plus the estimates (:mod:`boostobj.two_part`).

    Attributes:
        n_folds: blocks of the regressions' cross-fit, ``>= 2``.
        learning_rate: the regressions' learning rate; their other parameters are the
            booster's defaults (:data:`boostobj.tuning.DEFAULT_PARAMS`), their most rounds
            and patience those of :func:`~boostobj.tuning.tune`'s ``estimator_params``.
    """

    n_folds: int = _defaults.CROSS_FIT_FOLDS
    learning_rate: float = _defaults.TWO_PART_LEARNING_RATE

    def __post_init__(self) -> None:
        k = self.n_folds
        if isinstance(k, bool) or not isinstance(k, int) or k < 2:
            raise ValueError(f"TwoPart(n_folds) must be an integer >= 2; got {k!r}")
        lr = self.learning_rate
        if isinstance(lr, bool) or not isinstance(lr, Real) or not 0 < lr <= 1:
            raise ValueError(f"TwoPart(learning_rate) must be in (0, 1]; got {lr!r}")

    def describe(self) -> str:
        return f"two_part(n_folds={self.n_folds}, learning_rate={self.learning_rate!r})"


def resolve_payoffs(payoffs: Any, params: Mapping[str, Any], train: Rows) -> TwoPart | None:
    """The :class:`TwoPart` to run, or ``None`` (learn from ``p`` directly)."""
    chosen = [k for k in ("loss", "payoff_columns") if params.get(k) is not None]
    if isinstance(payoffs, str) and payoffs == "auto":
        wins, losses = int((train.log_p > 0).sum()), int((train.log_p < 0).sum())
        enough = min(wins, losses) >= _defaults.TWO_PART_MIN_ROWS
        return TwoPart() if enough and not chosen else None
    if payoffs is None:
        return None
    if not isinstance(payoffs, TwoPart):
        raise ValueError(f'payoffs must be "auto", None or a TwoPart(...); got {payoffs!r}')
    if chosen:
        raise ValueError(
            f"payoffs=TwoPart() estimates the payoffs and decides with loss='outcome'; "
            f"it cannot be combined with estimator_params {', '.join(map(repr, chosen))} "
            "(give payoffs=None for those)"
        )
    return payoffs
