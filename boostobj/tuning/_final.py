"""The model :func:`~boostobj.tuning.tune` deploys once the study is done.

Three strategies, each a small config object with one ``fit(rows, n_train, holdout, points,
make, rounds)``: ``rows`` are train + valid (the first ``n_train`` of them train), ``points``
the search-space points of the best trials, best first, ``make`` builds an estimator from one,
and ``rounds`` are those trials' boosting rounds, early-stopped on valid:

- :class:`HoldoutModel`: the best parameters fitted on train, early-stopped on valid (the
  model the guard judged), as it is;
- :class:`Refit`: the same parameters fitted once more on train + valid;
- :class:`CrossFit`: a :class:`~boostobj.CrossFitEnsemble` of the best ``top`` trials on
  train + valid.

In every case the threshold and the validation numbers are those of the holdout model. The
guard judges the holdout model on the guard rows, except where :class:`CrossFit` is judged out
of fold (see there); nothing else scores a refitted model before the test rows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import _defaults

if TYPE_CHECKING:
    from .._validation import Rows
    from ..sklearn import _WealthClassifier

__all__ = ["CrossFit", "HoldoutModel", "Refit"]

Make = Callable[[Mapping[str, Any]], "_WealthClassifier"]


def _check_int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}")
    return int(value)


def scaled_rounds(n_rounds: int, n_fit: float, n_train: int) -> int:
    """A round count early-stopped on ``n_train`` training rows, scaled to ``n_fit`` rows."""
    return max(1, round(int(n_rounds) * n_fit / n_train))


@dataclass(frozen=True)
class HoldoutModel:
    """Deploy the holdout model itself: fitted on train, early-stopped on valid."""

    #: How many of the best trials the strategy fits (their points come in ``fit``).
    top: int = 1

    def describe(self) -> str:
        return "holdout"

    def fit(
        self,
        rows: Rows,
        n_train: int,
        holdout: _WealthClassifier,
        points: Sequence[Any],
        make: Make,
        rounds: Sequence[int] = (),
    ) -> Any:
        return holdout


@dataclass(frozen=True)
class Refit:
    """One model with the best parameters on train + valid (in that order), for
    ``n_rounds * (n_train + n_valid) / n_train`` rounds without early stopping, at the holdout
    model's threshold. More data for the same choices, but the round count is a rule of thumb:
    in the quality benchmark it added 0.1 to 1.7 points of the Bayes share on average, losing
    up to 0.7 in single seeds."""

    top: int = 1

    def describe(self) -> str:
        return "refit"

    def fit(
        self,
        rows: Rows,
        n_train: int,
        holdout: _WealthClassifier,
        points: Sequence[Any],
        make: Make,
        rounds: Sequence[int] = (),
    ) -> Any:
        model = make(points[0])
        n_rounds = scaled_rounds(holdout.n_rounds_, len(rows), n_train)
        model.set_params(n_estimators=n_rounds, early_stopping_rounds=None)
        model.fit_rows(rows)
        model.threshold = holdout.threshold
        return model


@dataclass(frozen=True)
class CrossFit:
    """A :class:`~boostobj.CrossFitEnsemble` of ``k`` members per trial on train + valid:
    each member fitted on all of those rows but one consecutive block, their margins
    averaged, at the holdout model's threshold. With ``top > 1`` the ensembles of the ``top``
    best trials are averaged (``k * top`` fits): a bag of models.

    ``out_of_fold`` (default): every member runs its trial's round count, early-stopped on
    valid, scaled to its rows (``rounds * n_fit / n_train``), so no member chose anything on
    the block it did not train on. :func:`~boostobj.tuning.tune` then judges the members'
    out-of-fold decisions on the train and guard rows, none of which chose the
    hyperparameters, the round count or the threshold: about eight times the guard rows
    alone. Only for exchangeable rows: with ``valid_groups`` (time-ordered rows) or
    :class:`~boostobj.tuning.WalkForward` the guard rows judge, as with ``out_of_fold=False``,
    where each member early-stops on its own block instead (its out-of-fold scores then chose
    the round count, and are not judged)."""

    k: int = _defaults.CROSS_FIT_FOLDS
    top: int = 1
    out_of_fold: bool = True

    def __post_init__(self) -> None:
        _check_int("CrossFit k", self.k, _defaults.MIN_CROSS_FIT_FOLDS)
        _check_int("CrossFit top", self.top, 1)
        if not isinstance(self.out_of_fold, bool):
            raise ValueError(f"CrossFit out_of_fold must be a bool; got {self.out_of_fold!r}")

    def describe(self) -> str:
        judged = ", out_of_fold=False" if not self.out_of_fold else ""
        return f"cross_fit(k={int(self.k)}, top={int(self.top)}{judged})"

    def fit(
        self,
        rows: Rows,
        n_train: int,
        holdout: _WealthClassifier,
        points: Sequence[Any],
        make: Make,
        rounds: Sequence[int] = (),
    ) -> Any:
        from ..ensemble import CrossFitEnsemble

        estimators = [make(point) for point in points]
        if self.out_of_fold:
            if len(rounds) != len(points):
                raise ValueError(f"CrossFit needs one round count per point; got {rounds!r}")
            n_fit = len(rows) * (int(self.k) - 1) / int(self.k)
            for est, n_rounds in zip(estimators, rounds, strict=True):
                scaled = scaled_rounds(n_rounds, n_fit, n_train)
                est.set_params(n_estimators=scaled, early_stopping_rounds=None)
        estimator = estimators[0] if len(estimators) == 1 else estimators
        ensemble = CrossFitEnsemble(estimator, n_folds=int(self.k), threshold=holdout.threshold)
        return ensemble.fit_rows(rows)
