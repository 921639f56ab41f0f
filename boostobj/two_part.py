"""Payoffs unknown at decision time, estimated first: the two-part (hurdle) model.

A row's payoff is one of two numbers, and which one is known only afterwards: the odds if a
bet wins or the stake if it loses, the interest if a loan is repaid or the loss given
default. The decomposition

    E[log p | x] = q(x) m_win(x) + (1 - q(x)) m_loss(x),
    q = P(p > 1 | x),   m_win = E[log p | x, p > 1],   m_loss = E[log p | x, p < 1],

is exact. Where each outcome's payoff follows from the features, ``m_win`` and ``m_loss``
are easy regressions, and what is left is an unweighted classifier of ``q``: the model for
payoffs known at decision time (``loss="outcome"`` with ``payoff_columns``), which takes a
row iff ``q log p_win + (1 - q) log p_loss > 0``.

- :class:`PayoffEstimate`: ``m_win`` and ``m_loss`` as boosted squared-error regressions of
  ``log p`` (loss ``"squared"``), one on the rows that won and one on the rows that lost, each
  cross-fitted on the same blocks of rows. A training row's estimates come from the member of
  each that did not train on its block, the same for a row that won and one that lost: the
  decider meets the errors the estimates will have on new rows, and cannot tell a training
  row's label from how it was estimated.
- :class:`TwoPartModel`: a payoffs-known model on the features plus the two estimated
  payoffs (appended as the last two columns, ``p = exp(m)``). It takes the original
  features and estimates the payoffs itself.

:func:`boostobj.tuning.tune` builds one by default when the payoffs are not given
(``payoffs="auto"``); benchmarks/results/defaults.md measures it against the log(p)-weighted
surrogate (its *surrogate* column).

Traps: rows with ``p == 1`` train neither regression. The estimates are clipped to
``m_win >= 1e-6`` and ``m_loss <= -1e-6``, so every row's decision depends on ``q``. Where
the payoffs do not follow from the features (daily returns), both regressions estimate
little more than their means; the guard still judges the model's decisions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.base import clone
from sklearn.utils.validation import check_is_fitted

from . import _defaults
from ._categories import Levels
from ._meta import versions
from ._validation import Rows
from .ensemble import CrossFitEnsemble, fold_blocks
from .persistence import inside_folder, load_model, write_model_folder
from .sklearn import _PolicyClassifier, payoff_target

__all__ = ["ESTIMATED_COLUMNS", "PayoffEstimate", "TwoPartModel", "payoff_regressor"]

TWO_PART_FORMAT = "boostobj-two-part"
#: Sub-folders of a saved :class:`TwoPartModel`.
_PARTS = ("payoff_win", "payoff_loss", "decider")
#: Names of the two appended columns (after the features' own names).
ESTIMATED_COLUMNS = ("estimated p_win", "estimated p_loss")
#: Bounds of the estimated ``log p``: strictly on their side of 0, and ``exp`` stays finite.
_LOG_BOUND = (1e-6, 700.0)


#: ``(location, spread)`` of one regression's target: it learns ``(log p - location) / spread``.
Standard = tuple[float, float]


class PayoffEstimate:
    """``m_win`` and ``m_loss`` (see the module docstring), each a fitted
    :class:`~boostobj.CrossFitEnsemble` of squared-error regressions of the standardised
    ``log p``: ``m = location + spread * margin``, ``standard = ((location, spread) of
    m_win, of m_loss)``.

    Standardising is not cosmetic: a booster's custom objective starts from margin 0, and
    LightGBM does not move from it on a constant target (a loss that always costs the same
    stake); XGBoost keeps a custom metric's value to about six decimals, so the early
    stopping of a regression whose squared error is ~1e-7 stops at random.
    """

    def __init__(
        self, win: CrossFitEnsemble, loss: CrossFitEnsemble, standard: tuple[Standard, Standard]
    ) -> None:
        self.win = win
        self.loss = loss
        self.standard = standard

    @classmethod
    def fit_rows(cls, rows: Rows, regressor: Any, n_folds: int = 5) -> tuple[PayoffEstimate, Rows]:
        """Cross-fit both regressions (clones of the unfitted ``regressor``, loss
        ``"squared"``) on ``rows``; returns them and ``rows`` with the two estimated payoffs
        appended, each row's from members that did not train on it.

        The rows are cut into ``n_folds`` consecutive blocks (``rows.groups`` kept whole), and
        member ``k`` of each regression trains on that side's rows outside block ``k``,
        early-stopped on the last 20% of them. Every row of block ``k``, won or lost, is
        estimated by member ``k`` of both: the same kind of estimate whatever its label.
        (Estimating a winning row out of fold but a losing one by the mean of all members
        told them apart: on payoffs shuffled against the features the decider then won
        out of fold, and the guard passed it.)

        Raises:
            ValueError: fewer than ``2 * n_folds`` rows won, or lost, or one block holds
                nearly all of them.
        """
        if regressor.get_loss().name != "squared":
            raise ValueError(f"the payoff regressions need loss='squared', not {regressor.loss!r}")
        blocks = fold_blocks(len(rows), n_folds, rows.groups)
        fitted, standard, estimates = [], [], []
        for what, side in (("won (p > 1)", rows.log_p > 0), ("lost (p < 1)", rows.log_p < 0)):
            if int(side.sum()) < 2 * n_folds:
                raise ValueError(
                    f"estimating the payoffs needs at least {2 * n_folds} training rows that "
                    f"{what}; {int(side.sum())} did"
                )
            location, spread = _standard(rows.take(side))
            target = replace(rows, log_p=(rows.log_p - location) / spread)
            members, margin = [], np.empty(len(rows))
            for k, held in enumerate(blocks):
                fit = np.setdiff1d(np.flatnonzero(side), held, assume_unique=True)
                if fit.size < 2:
                    raise ValueError(
                        f"estimating the payoffs needs training rows that {what} outside "
                        f"each of {n_folds} blocks; block {k} holds all but {fit.size}"
                    )
                seed = int(regressor.get_params().get("random_state") or 0) + k
                member = clone(regressor).set_params(random_state=seed)
                cut = max(1, int(0.8 * fit.size))
                member.fit_rows(target.take(fit[:cut]), [target.take(fit[cut:])])
                margin[held] = member.decision_function(rows.X[held])
                members.append(member)
            fitted.append(CrossFitEnsemble.from_members(members, n_folds))
            standard.append((location, spread))
            estimates.append(location + spread * margin)
        X = _appended(rows.X, *estimates)
        payoffs = cls(fitted[0], fitted[1], (standard[0], standard[1]))
        return payoffs, replace(rows, X=X, feature_names=_names(rows.feature_names))

    def log_payoffs(self, Xa: NDArray[np.float64]) -> tuple[NDArray[Any], NDArray[Any]]:
        """``(m_win, m_loss)`` per row of checked features ``Xa``, before clipping."""
        (loc_w, sd_w), (loc_l, sd_l) = self.standard
        win = loc_w + sd_w * self.win.decision_function(Xa)
        return win, loc_l + sd_l * self.loss.decision_function(Xa)

    def columns(self, Xa: NDArray[np.float64]) -> NDArray[np.float64]:
        """Checked features ``Xa`` with ``exp(m_win), exp(m_loss)`` appended (clipped): what
        the decider takes."""
        return _appended(Xa, *self.log_payoffs(Xa))

    def augment(self, rows: Rows) -> Rows:
        """``rows`` (not the training rows: they are estimated out of fold by
        :meth:`fit_rows`) with the two estimated payoffs appended."""
        return replace(rows, X=self.columns(rows.X), feature_names=_names(rows.feature_names))

    @staticmethod
    def decider_params(n_features: int) -> dict[str, Any]:
        """The decider's estimator arguments on ``n_features`` original features: the
        payoffs-known model with the two appended columns as its payoffs."""
        return {"loss": "outcome", "payoff_columns": (n_features, n_features + 1)}


def _standard(rows: Rows) -> Standard:
    """``(mean, standard deviation)`` of ``rows.log_p`` (weighted); spread 1 for a constant."""
    location = float(np.average(rows.log_p, weights=rows.weight))
    spread = float(np.sqrt(np.average((rows.log_p - location) ** 2, weights=rows.weight)))
    return location, spread if spread > 1e-9 * max(1.0, abs(location)) else 1.0


def _appended(X: NDArray[Any], win: NDArray[Any], loss: NDArray[Any]) -> NDArray[np.float64]:
    """``X`` with the payoffs of the estimated ``log p`` of a win and a loss, clipped."""
    low, high = _LOG_BOUND
    p = np.exp([np.clip(win, low, high), np.clip(loss, -high, -low)])
    return np.column_stack([X, p.T])


def payoff_regressor(
    estimator: Any, learning_rate: float = _defaults.TWO_PART_LEARNING_RATE
) -> Any:
    """The payoff regressions' template: an unfitted clone of ``estimator`` with
    ``loss="squared"``, early-stopped on its loss (``estimator``'s patience, or 50 rounds)."""
    patience = estimator.early_stopping_rounds or _defaults.EARLY_STOPPING_ROUNDS
    return clone(estimator).set_params(
        loss="squared", loss_params=None, payoff_columns=None, early_stopping_metric="loss",
        learning_rate=learning_rate, early_stopping_rounds=patience,
    )  # fmt: skip


def _names(names: tuple[str, ...] | None) -> tuple[str, ...] | None:
    return None if names is None else (*names, *ESTIMATED_COLUMNS)


class TwoPartModel(_PolicyClassifier):
    """A payoffs-known decider on the features plus the payoffs :class:`PayoffEstimate`
    estimates (see the module docstring); every method takes the original features.

    :func:`boostobj.tuning.tune` builds one from its tuned parts (:meth:`from_parts`);
    :meth:`fit` builds one from an untuned estimator.

    Args:
        estimator: an unfitted :class:`~boostobj.XGBWealthClassifier` or
            :class:`~boostobj.LGBMWealthClassifier`. The decider is a clone with
            ``loss="outcome"`` and the estimated payoffs as ``payoff_columns``, run for its
            ``n_estimators`` rounds without early stopping (:func:`~boostobj.tuning.tune`
            chooses the rounds on validation rows); the payoff
            regressions are clones with ``loss="squared"``, ``learning_rate`` 0.1 and the
            estimator's patience (50 rounds where it has none), cross-fitted.
        n_folds: blocks of the regressions' cross-fit, ``>= 2``.

    Attributes (after ``fit``):
        payoffs_: the fitted :class:`PayoffEstimate`.
        model_: the fitted decider.
    """

    def __init__(self, estimator: Any = None, n_folds: int = 5) -> None:
        self.estimator = estimator
        self.n_folds = n_folds

    @classmethod
    def from_parts(cls, payoffs: PayoffEstimate, model: Any) -> TwoPartModel:
        """A fitted model of fitted parts (the decider trained on ``payoffs``' columns)."""
        out = cls()
        out.payoffs_, out.model_ = payoffs, model
        return out

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> TwoPartModel:
        """Fit on payoff multipliers ``y = p > 0``: the regressions, then the decider on the
        features plus each row's out-of-fold estimates."""
        rows = Rows.from_payoff(
            X, payoff_target(y, type(self).__name__), sample_weight=sample_weight
        )
        return self.fit_rows(rows)

    def fit_rows(self, rows: Rows) -> TwoPartModel:
        """:meth:`fit` on rows already checked."""
        if self.estimator is None:
            raise ValueError("TwoPartModel(estimator) needs an unfitted wealth classifier")
        regressor = payoff_regressor(self.estimator)
        payoffs, augmented = PayoffEstimate.fit_rows(rows, regressor, self.n_folds)
        decider = clone(self.estimator).set_params(
            early_stopping_rounds=None, **PayoffEstimate.decider_params(rows.n_features)
        )
        self.payoffs_, self.model_ = payoffs, decider.fit_rows(augmented)
        return self

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "model_")

    def _part(self, name: str) -> Any:
        if not self.__sklearn_is_fitted__():  # AttributeError keeps hasattr() working
            raise AttributeError(f"{name} exists after fit")
        return getattr(self.payoffs_.win, name)

    @property
    def feature_names_in_(self) -> NDArray[Any] | None:
        """The original features' names (``None`` when fitted on an array)."""
        return self._part("feature_names_in_")  # type: ignore[no-any-return]

    @property
    def n_features_in_(self) -> int:
        return int(self._part("n_features_in_"))

    @property
    def categories_(self) -> Levels:
        return self._part("categories_")  # type: ignore[no-any-return]

    @property
    def classes_(self) -> NDArray[np.int64]:
        return np.array([0, 1])

    @property
    def booster_name(self) -> str:
        return str(self.model_.booster_name)

    @property
    def n_rounds_(self) -> int:
        """The decider's boosting rounds (per member for an ensemble)."""
        return int(self.model_.n_rounds_)

    @property
    def members_(self) -> list[Any]:
        """The decider's members, where it is an ensemble."""
        return list(self.model_.members_)

    @property
    def n_configs_(self) -> int:
        return int(getattr(self.model_, "n_configs_", 1))

    @property
    def threshold(self) -> float:
        """The decider's probability cut (on the margin net of break-even)."""
        return self._cut()

    def _cut(self) -> float:
        return float(self.model_._cut())

    def _with_payoffs(self, X: Any) -> NDArray[np.float64]:
        return self.payoffs_.columns(self._validate_X(X))

    def estimated_payoffs(self, X: Any) -> NDArray[np.float64]:
        """``[[p_win, p_loss]]`` per row: the payoffs the decision assumes."""
        return self._with_payoffs(X)[:, -2:]

    def decision_function(self, X: Any) -> NDArray[np.float64]:
        """The decider's raw margin: ``sigmoid`` of it is the win probability ``q``."""
        return self.model_.decision_function(self._with_payoffs(X))  # type: ignore[no-any-return]

    def decision_margin(self, X: Any) -> NDArray[np.float64]:
        """The margin net of each row's break-even: ``> 0`` iff the expected log payoff is."""
        return self.model_.decision_margin(self._with_payoffs(X))  # type: ignore[no-any-return]

    def expected_log_payoff(self, X: Any) -> NDArray[np.float64]:
        """``q m_win + (1 - q) m_loss`` per row: :meth:`predict` at threshold 0.5 is ``> 0``."""
        return self.model_.expected_log_payoff(self._with_payoffs(X))  # type: ignore[no-any-return]

    # -- persistence ---------------------------------------------------------------------
    def save(self, path: str | Path, *, overwrite: bool = False) -> Path:
        """Write ``boostobj.json`` and three model folders (``payoff_win``, ``payoff_loss``,
        ``decider``) into folder ``path``; refuses a non-empty folder unless ``overwrite``."""
        write, sidecar = self.save_parts()
        return write_model_folder(path, write, sidecar, overwrite=overwrite)

    def save_parts(self) -> tuple[Callable[[Path], None], dict[str, Any]]:
        """``(write the three parts' folders into a folder, the sidecar)``."""
        check_is_fitted(self)
        payoffs = self.payoffs_
        parts = dict(zip(_PARTS, (payoffs.win, payoffs.loss, self.model_), strict=True))
        sidecar = {
            "format": TWO_PART_FORMAT,
            "estimator": type(self).__name__,
            "booster": self.booster_name,
            "parts": list(parts),
            "standard": [list(side) for side in payoffs.standard],
            "threshold": self._cut(),
            "n_rounds": self.n_rounds_,
            "versions": versions(),
        }

        def write(folder: Path) -> None:
            for name, part in parts.items():
                part.save(folder / name)

        return write, sidecar


def two_part_from_folder(folder: Path, meta: dict[str, Any]) -> TwoPartModel:
    """The two-part model saved in ``folder`` (``meta``: its parsed sidecar)."""
    parts = meta["parts"]
    if not isinstance(parts, list) or sorted(map(str, parts)) != sorted(_PARTS):
        raise ValueError(f"{folder}: parts must be payoff_win, payoff_loss and decider")
    win, loss, decider = (load_model(inside_folder(folder, name, "parts")) for name in _PARTS)
    if not isinstance(win, CrossFitEnsemble) or not isinstance(loss, CrossFitEnsemble):
        raise ValueError(f"{folder}: the payoff regressions must be cross-fitted ensembles")
    try:
        (loc_w, sd_w), (loc_l, sd_l) = ((float(a), float(b)) for a, b in meta["standard"])
    except (TypeError, ValueError):
        raise ValueError(
            f"{folder}: standard must be [[location, spread], [location, spread]]"
        ) from None
    standard = ((loc_w, sd_w), (loc_l, sd_l))
    return TwoPartModel.from_parts(PayoffEstimate(win, loss, standard), decider)
