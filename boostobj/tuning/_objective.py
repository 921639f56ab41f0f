"""How a trial is scored: the validation modes :class:`Holdout` and :class:`WalkForward`.

Each mode is a small config object whose :meth:`objective` returns the callable Optuna runs
per trial. Both read a :class:`Problem`: the rows, how to build an estimator from a
search-space point, and what the trial's value measures.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import optuna
from numpy.typing import NDArray

from .. import _defaults
from ..metrics import BestThreshold, best_threshold, log_wealth, sigmoid

if TYPE_CHECKING:
    from .._backend import Backend
    from .._validation import Rows
    from ..sklearn import _WealthClassifier

__all__ = ["SELECT_ON", "Holdout", "WalkForward"]

#: What a trial's value can measure (``tune(select_on=...)``).
SELECT_ON = _defaults.SELECT_ON
#: Walk-forward folds early-stop on the most recent share of their own (past) training rows.
WF_EARLY_STOP_FRACTION = 0.2
# The estimators' policy metric: log-wealth at the threshold, or stake log-wealth for Kelly.
_POLICY_METRICS = ("log_wealth", "stake_log_wealth")


@dataclass(frozen=True)
class Problem:
    """What every trial needs: rows (checked once), the estimator factory and the goal.

    ``valid`` holds the validation rows that may choose (the guard's rows are cut off).
    """

    train: Rows
    valid: Rows
    backend: Backend
    make: Callable[[Mapping[str, Any]], _WealthClassifier]
    space: Callable[[optuna.Trial], dict[str, Any]]
    select_on: str
    threshold: float | None
    report_every: int


# -- helpers shared by the modes and the final model ------------------------------------------
def net_margin(model: Any, X: NDArray[np.float64]) -> NDArray[np.float64]:
    """The margin ``model.predict`` thresholds (net of break-even margins), on features
    already checked (an estimator's own path; an ensemble's public one)."""
    return model._net_margin(X) if hasattr(model, "_net_margin") else model.decision_margin(X)


def proba(model: Any, X: NDArray[np.float64]) -> NDArray[np.float64]:
    """The probability ``model.threshold`` is compared to: ``sigmoid`` of :func:`net_margin`."""
    return sigmoid(net_margin(model, X))


def choose_threshold(
    prob: NDArray[np.float64], r: NDArray[np.float64], fixed: float | None
) -> BestThreshold:
    """``best_threshold(prob, r)``, or the log-wealth at a ``fixed`` threshold."""
    if fixed is None:
        return best_threshold(prob, r)
    take = prob >= fixed
    return BestThreshold(fixed, log_wealth(r, take), int(take.sum()))


def clip_threshold(t: float) -> float:
    """Map ``best_threshold``'s ``+-inf`` to the probabilities 1 (take none) and 0 (take all).

    ``metrics.decide`` treats ``threshold >= 1`` as take nothing and ``<= 0`` as take
    everything, so the policy is unchanged and the number stays JSON-safe.
    """
    return float(min(max(t, 0.0), 1.0))


def minus_loss(model: _WealthClassifier, rows: Rows) -> float:
    """Minus the model's mean surrogate loss on ``rows``, at its training scale."""
    margin = model._margins(rows.X)[0]
    loss = model.get_loss().loss(margin, rows.log_p, scale=model.scale_)
    return -float(loss.mean())


def pruning_callback(problem: Problem, trial: optuna.Trial) -> Any:
    """A booster callback reporting the validation value to ``trial`` every
    ``problem.report_every`` rounds (step: the 0-based boosting round).

    The value is the estimator's policy metric (``log_wealth`` at probability 0.5, or
    ``stake_log_wealth`` for Kelly models) on the last eval set, or with
    ``select_on="loss"`` minus its surrogate loss metric (``*_loss``). Raises
    ``optuna.TrialPruned`` when the pruner says so; both boosters let the exception through.
    Each report is a storage write and ``should_prune`` a read: about 40 ms on SQLite.
    """
    on_loss = problem.select_on == "loss"

    def report(step: int, values: Mapping[str, float]) -> None:
        if step % problem.report_every:
            return
        name = next(n for n in values if (n.endswith("_loss") if on_loss else n in _POLICY_METRICS))
        trial.report(-values[name] if on_loss else values[name], step)
        if trial.should_prune():
            raise optuna.TrialPruned(f"pruned at boosting round {step}")

    return problem.backend.pruning_callback(report)


# -- validation modes ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Holdout:
    """Score each trial on the validation rows.

    One trial: fit on train, early-stopped on valid; ``t = best_threshold`` of the valid
    probabilities (or the fixed threshold); value = valid log-wealth at ``t``, or with
    ``select_on="loss"`` minus the mean surrogate loss on valid. Optimistic: ``t`` is chosen
    and scored on the same rows. User attrs: ``threshold``, ``n_rounds``, ``n_taken``,
    ``log_wealth`` (at ``t``) and ``log_wealth_at_0.5``.
    """

    def describe(self) -> str:
        return "holdout"

    def check(self, n_rows: int) -> None:
        """Nothing to check: any number of rows can be scored."""

    def objective(self, problem: Problem) -> HoldoutObjective:
        return HoldoutObjective(problem)


class HoldoutObjective:
    """The per-trial callable of :class:`Holdout`. It keeps the best trial's model of this
    process, so the final step need not fit it again."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        self._best: tuple[float, int, _WealthClassifier] | None = None

    def __call__(self, trial: optuna.Trial) -> float:
        pb = self.problem
        model = pb.make(pb.space(trial))
        model.fit_rows(pb.train, [pb.valid], callbacks=[pruning_callback(pb, trial)])
        prob = proba(model, pb.valid.X)
        best = choose_threshold(prob, pb.valid.log_p, pb.threshold)
        trial.set_user_attr("threshold", clip_threshold(best.threshold))
        trial.set_user_attr("n_rounds", int(model.n_rounds_))
        trial.set_user_attr("n_taken", best.n_taken)
        trial.set_user_attr("log_wealth", best.log_wealth)
        trial.set_user_attr("log_wealth_at_0.5", log_wealth(pb.valid.log_p, prob >= 0.5))
        value = best.log_wealth if pb.select_on == "log_wealth" else minus_loss(model, pb.valid)
        if self._best is None or value > self._best[0]:
            self._best = (value, trial.number, model)
        return value

    def model_of(self, number: int) -> _WealthClassifier | None:
        """The model trial ``number`` fitted in this process, if it is the one kept."""
        return self._best[2] if self._best is not None and self._best[1] == number else None


@dataclass(frozen=True)
class WalkForward:
    """Score each trial walk-forward, for time-ordered rows.

    Train and valid are joined in order and cut into ``n_splits + 1`` consecutive blocks.
    Fold ``j = 1..n_splits`` fits on blocks ``0..j-1`` (the most recent 20% of those rows
    serve for early stopping, so nothing from the future is used) and predicts block ``j``,
    at the threshold ``best_threshold`` picks on the out-of-fold predictions of blocks
    ``1..j-1`` (0.5 for ``j = 1``). Value = sum of the fold log-wealths (with
    ``select_on="loss"``: minus the mean over folds of the mean surrogate loss); the running
    value is reported to the pruner after each fold (step ``j``).
    """

    n_splits: int

    def __post_init__(self) -> None:
        k = self.n_splits
        low = _defaults.MIN_N_SPLITS
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < low:
            raise ValueError(f"n_splits must be an integer >= {low}; got {k!r}")

    def describe(self) -> str:
        return f"walk_forward({int(self.n_splits)})"

    def check(self, n_rows: int) -> None:
        if n_rows // (self.n_splits + 1) < 10:
            raise ValueError(
                f"n_splits={self.n_splits} leaves fewer than 10 rows per block "
                f"({n_rows} rows in train + valid)"
            )

    def objective(self, problem: Problem) -> WalkForwardObjective:
        return WalkForwardObjective(problem, int(self.n_splits))


class WalkForwardObjective:
    """The per-trial callable of :class:`WalkForward`."""

    def __init__(self, problem: Problem, n_splits: int) -> None:
        from .._validation import Rows

        self.problem = problem
        self.rows = Rows.concat(problem.train, problem.valid)
        self.blocks = np.array_split(np.arange(len(self.rows)), n_splits + 1)

    def __call__(self, trial: optuna.Trial) -> float:
        pb, rows, blocks = self.problem, self.rows, self.blocks
        point = pb.space(trial)
        oof_prob: list[NDArray[np.float64]] = []
        oof_r: list[NDArray[np.float64]] = []
        folds, thresholds, rounds, losses = [], [], [], []
        for k in range(1, len(blocks)):
            past = np.concatenate(blocks[:k])
            n_fit = past.size - max(1, round(WF_EARLY_STOP_FRACTION * past.size))
            held = rows.take(blocks[k])
            model = pb.make(point).fit_rows(rows.take(past[:n_fit]), [rows.take(past[n_fit:])])
            prob = proba(model, held.X)
            t = 0.5 if pb.threshold is None else pb.threshold  # fold 1: no past predictions yet
            if k > 1 and pb.threshold is None:
                t = best_threshold(np.concatenate(oof_prob), np.concatenate(oof_r)).threshold
            folds.append(log_wealth(held.log_p, prob >= t))
            losses.append(minus_loss(model, held))
            thresholds.append(clip_threshold(t))
            rounds.append(int(model.n_rounds_))
            oof_prob.append(prob)
            oof_r.append(held.log_p)
            trial.report(self._value(folds, losses), k)
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned after fold {k}")
        trial.set_user_attr("fold_log_wealth", folds)
        trial.set_user_attr("fold_threshold", thresholds)
        trial.set_user_attr("fold_minus_loss", losses)
        trial.set_user_attr("n_rounds", rounds)
        return self._value(folds, losses)

    def _value(self, folds: list[float], losses: list[float]) -> float:
        return (
            float(sum(folds)) if self.problem.select_on == "log_wealth" else float(np.mean(losses))
        )

    def model_of(self, number: int) -> None:
        """Walk-forward trials keep no model: the final one is fitted on train."""
        return None
