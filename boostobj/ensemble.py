"""Cross-fitted ensembles: every row trains the model, and every member early-stops honestly.

:class:`CrossFitEnsemble` cuts the rows into ``K`` consecutive blocks. Member ``k`` is a clone
of the wrapped estimator fitted on every block but ``k`` and early-stopped on block ``k``; the
ensemble's margin is the members' mean margin::

    f(x) = (1 / K) * sum_k f_k(x)

Given several estimators (say the best few configurations of a study), each is cross-fitted on
the same blocks and the margin is the mean over all ``M * K`` members.

Why: a model tuned on train and early-stopped on valid never trains on valid; refitting on
train + valid needs a guessed number of rounds. Cross-fitting uses all rows for training, stops
each member on rows it has not seen, and averages away part of the variance of single fits
(bagging). In the quality benchmark it added about 2 points of the Bayes share to the tuned
payoffs-known model on seeds 0-2 and 3.6-3.8 on fresh seeds, against -0.2 to 1.7 for a single
refit (see benchmarks/README.md). Cost: ``K`` fits, and ``K`` predictions per call.

Traps: blocks are consecutive, not shuffled, so time-ordered rows early-stop on a contiguous
stretch (pass ``groups``, e.g. dates, to keep a group inside one block); shuffle i.i.d. rows
yourself if their order carries structure. The averaged margin is not any member's margin:
use the ensemble's own threshold, chosen on data it did not train on.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise
from numbers import Integral, Real
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import clone
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted

from ._categories import Levels
from ._meta import versions
from ._validation import Rows
from .guard import split_point
from .persistence import SIDECAR, inside_folder, load_model, write_model_folder
from .sklearn import _expected_log_payoff, _PolicyClassifier, payoff_target

__all__ = ["CrossFitEnsemble", "fold_blocks"]

ENSEMBLE_FORMAT = "boostobj-ensemble"


def fold_blocks(n: int, n_folds: int, groups: ArrayLike | None = None) -> list[NDArray[np.int64]]:
    """Row indices of ``n_folds`` consecutive blocks of ``n`` rows, about equal in size.

    With ``groups`` (one id per row, equal ids adjacent), each cut moves to the nearest place
    where the id changes, so no group is split between blocks.

    Raises:
        ValueError: ``n_folds < 2``, or too few rows or groups for ``n_folds`` non-empty blocks.
    """
    if isinstance(n_folds, bool) or int(n_folds) != n_folds or n_folds < 2:
        raise ValueError(f"n_folds must be an integer >= 2; got {n_folds!r}")
    g = None if groups is None else np.asarray(groups)
    if g is not None and g.shape != (n,):
        raise ValueError(f"groups must have one id per row ({n}); got shape {g.shape}")
    if g is not None and np.count_nonzero(g[1:] != g[:-1]) + 1 != np.unique(g).size:
        raise ValueError("groups must keep equal ids adjacent (sort the rows by group first)")
    cuts = [0, *(split_point(n, k / n_folds, g) for k in range(1, n_folds)), n]
    if any(b <= a for a, b in pairwise(cuts)):
        what = f"{n} rows" if g is None else f"{np.unique(g).size} groups in {n} rows"
        raise ValueError(f"cannot cut {what} into {n_folds} non-empty blocks")
    return [np.arange(a, b) for a, b in pairwise(cuts)]


class CrossFitEnsemble(_PolicyClassifier):
    """Mean margin of ``n_folds`` clones of a wealth classifier, each trained on all blocks of
    rows but one and early-stopped on that one (see the module docstring).

    Args:
        estimator: an unfitted :class:`~boostobj.XGBWealthClassifier` or
            :class:`~boostobj.LGBMWealthClassifier`, or a list of them (each cross-fitted
            on the same blocks, every member weighing the same); its
            ``early_stopping_rounds`` is the members' patience (``None``: every member runs
            ``n_estimators`` rounds, and none looks at its held-out block, so
            ``oof_margin_`` chose nothing on the rows it scores).
        n_folds: blocks, and members per estimator, ``>= 2``.
        threshold: probability cut of :meth:`predict`; ``None`` uses the (first)
            estimator's.

    Attributes (after ``fit``):
        members_: the fitted clones, estimator by estimator; member ``k`` of each never saw
            block ``k`` and has ``random_state = estimator.random_state + k``.
        oof_margin_: per training row, the mean decision margin of the members that did not
            train on it: honest scores for choosing a threshold, or, without early stopping,
            for judging the decisions.
        n_rounds_: mean boosting rounds per member (rounded).
        n_configs_: how many estimators were cross-fitted (``len(members_) / n_folds``).
        feature_names_in_, n_features_in_: as for the members; ``X`` is checked once against
            them per call, as sklearn checks it (reordered or renamed columns are refused).
    """

    _parameter_constraints: ClassVar[dict[str, Any]] = {
        "estimator": "no_validation",  # each member checks its own options
        "n_folds": [Interval(Integral, 2, None, closed="left")],
        "threshold": [Interval(Real, 0, 1, closed="both"), None],
    }

    def __init__(
        self, estimator: Any | list[Any], n_folds: int = 5, threshold: float | None = None
    ) -> None:
        self.estimator = estimator
        self.n_folds = n_folds
        self.threshold = threshold

    # -- fit -----------------------------------------------------------------------------
    def fit(
        self,
        X: Any,
        y: ArrayLike,
        sample_weight: ArrayLike | None = None,
        groups: ArrayLike | None = None,
    ) -> CrossFitEnsemble:
        """Fit the members on payoff multipliers ``y = p > 0`` (see the class docstring).

        Args:
            X: features, 2-D (array or DataFrame).
            y: payoff multiplier per row, finite and > 0.
            sample_weight: optional per-row weights, passed to each member's rows.
            groups: optional group id per row (equal ids adjacent, e.g. dates): no group is
                split between blocks.
        """
        y = payoff_target(y, type(self).__name__)
        rows = Rows.from_payoff(X, y, sample_weight=sample_weight, groups=groups)
        return self.fit_rows(rows)

    def fit_rows(self, rows: Rows) -> CrossFitEnsemble:
        """:meth:`fit` on rows already checked; ``rows.groups`` keeps groups whole."""
        self._validate_params()  # n_folds and threshold, before any member trains
        blocks = fold_blocks(len(rows), self.n_folds, rows.groups)
        members, oof = [], np.zeros(len(rows))
        for estimator in self._estimators():
            base_seed = int(estimator.get_params().get("random_state") or 0)
            stops = estimator.get_params().get("early_stopping_rounds") is not None
            for k, held in enumerate(blocks):
                fit_idx = np.concatenate([b for j, b in enumerate(blocks) if j != k])
                member = clone(estimator).set_params(random_state=base_seed + k)
                member.fit_rows(rows.take(fit_idx), [rows.take(held)] if stops else [])
                oof[held] += member._net_margin(rows.X[held])
                members.append(member)
        self.members_ = members
        self.oof_margin_ = oof / self.n_configs_
        self.n_rounds_ = round(float(np.mean([m.n_rounds_ for m in members])))
        self.n_features_in_ = rows.n_features
        self.classes_ = np.array([0, 1])
        return self

    @classmethod
    def from_members(
        cls, members: list[Any], n_folds: int, threshold: float | None = None
    ) -> CrossFitEnsemble:
        """A fitted ensemble of ``n_folds`` fitted members per estimator (members ``i * n_folds
        ...`` are the ``i``-th estimator's, as :attr:`members_` orders them); ``oof_margin_``
        is not set: the rows the members did not train on are the caller's to know."""
        if not members or len(members) % n_folds:
            raise ValueError(f"{len(members)} members is not a multiple of n_folds={n_folds}")
        n_est = len(members) // n_folds
        templates = [clone(members[i * n_folds]) for i in range(n_est)]
        ens = cls(templates[0] if n_est == 1 else templates, n_folds, threshold)
        ens.members_ = list(members)
        ens.n_rounds_ = round(float(np.mean([m.n_rounds_ for m in members])))
        ens.n_features_in_ = members[0].n_features_in_
        ens.classes_ = np.array([0, 1])
        return ens

    def _estimators(self) -> list[Any]:
        """The wrapped estimators as a non-empty list."""
        ests = (
            list(self.estimator) if isinstance(self.estimator, (list, tuple)) else [self.estimator]
        )
        if not ests:
            raise ValueError("estimator must be an estimator or a non-empty list of them")
        return ests

    @property
    def n_configs_(self) -> int:
        """How many estimators are cross-fitted (``len(members_) / n_folds`` after fit)."""
        return len(self._estimators())

    # -- predict -------------------------------------------------------------------------
    @property
    def booster_name(self) -> str:
        """The members' booster (``"xgboost+lightgbm"`` for a mixed list)."""
        names = dict.fromkeys(str(e.booster_name) for e in self._estimators())
        return "+".join(names)

    @property
    def feature_names_in_(self) -> NDArray[Any] | None:
        """The members' column names (``None`` when fitted on an array); settable."""
        if not hasattr(self, "members_"):  # AttributeError keeps hasattr() working
            raise AttributeError("feature_names_in_ exists after fit")
        return self.members_[0].feature_names_in_  # type: ignore[no-any-return]

    @feature_names_in_.setter
    def feature_names_in_(self, names: NDArray[Any] | None) -> None:
        self._check_fitted()
        for member in self.members_:
            member.feature_names_in_ = names

    @property
    def categories_(self) -> Levels:
        """The members' categorical levels (``()`` for none)."""
        if not hasattr(self, "members_"):
            raise AttributeError("categories_ exists after fit")
        return self.members_[0].categories_  # type: ignore[no-any-return]

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "members_")

    def _check_fitted(self) -> None:
        check_is_fitted(self)  # NotFittedError

    def _cut(self) -> float:  # the threshold, or the (first) estimator's
        first = self._estimators()[0]
        return float(first.threshold if self.threshold is None else self.threshold)

    def decision_function(self, X: Any) -> NDArray[np.float64]:
        """Mean of the members' raw margins."""
        Xa = self._validate_X(X)
        return np.mean([m._margins(Xa)[0] for m in self.members_], axis=0)

    def decision_margin(self, X: Any) -> NDArray[np.float64]:
        """Mean of the members' decision margins (net of break-even margins with
        ``payoff_columns``); :meth:`predict` thresholds ``sigmoid`` of it."""
        Xa = self._validate_X(X)
        return np.mean([m._net_margin(Xa) for m in self.members_], axis=0)

    def expected_log_payoff(self, X: Any) -> NDArray[np.float64]:
        """With ``payoff_columns``: ``q log p_win + (1 - q) log p_loss`` per row, ``q`` the
        sigmoid of the mean raw margin; :meth:`predict` at ``threshold=0.5`` is ``> 0``."""
        Xa = self._validate_X(X)
        margin = np.mean([m._margins(Xa)[0] for m in self.members_], axis=0)
        return _expected_log_payoff(margin, self.members_[0]._logs_or_raise(Xa))

    # -- persistence ---------------------------------------------------------------------
    def save(self, path: str | Path, *, overwrite: bool = False) -> Path:
        """Write ``boostobj.json`` and one model folder per member (``member_0``, ...) into
        folder ``path``. Refuses a non-empty folder unless ``overwrite=True``; written beside
        and renamed into place."""
        write, sidecar = self.save_parts()
        return write_model_folder(path, write, sidecar, overwrite=overwrite)

    def save_parts(self) -> tuple[Callable[[Path], None], dict[str, Any]]:
        """``(write the members' folders into a folder, the sidecar)``: what :meth:`save`
        writes."""
        self._check_fitted()
        names = [f"member_{k}" for k in range(len(self.members_))]
        sidecar = {
            "format": ENSEMBLE_FORMAT,
            "estimator": type(self).__name__,
            "booster": self.booster_name,
            "members": names,
            "n_folds": int(self.n_folds),
            "n_estimators": self.n_configs_,
            "threshold": self._cut(),
            "n_rounds": int(self.n_rounds_),
            "versions": versions(),
        }
        members = list(self.members_)

        def write(folder: Path) -> None:
            for name, member in zip(names, members, strict=True):
                member.save(folder / name)

        return write, sidecar


def ensemble_from_folder(folder: Path, meta: dict[str, Any]) -> CrossFitEnsemble:
    """The ensemble saved in ``folder`` (``meta``: its parsed sidecar)."""
    if not isinstance(meta["members"], list):
        raise ValueError(f"{folder / SIDECAR}: members must be a list of sub-folder names")
    # Each strictly inside ``folder``: no member outside it, and no cycle back to it.
    members = [load_model(inside_folder(folder, name, "members")) for name in meta["members"]]
    n_folds, n_est = int(meta["n_folds"]), int(meta.get("n_estimators", 1))
    if len(members) != n_folds * n_est:
        raise ValueError(f"{folder}: {len(members)} members, expected {n_folds} x {n_est}")
    ens = CrossFitEnsemble.from_members(members, n_folds, threshold=meta["threshold"])
    ens.n_rounds_ = int(meta["n_rounds"])
    return ens


#: The old name of :func:`ensemble_from_folder`.
load_ensemble = ensemble_from_folder
