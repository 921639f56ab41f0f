"""sklearn-style estimators whose ``y`` is the payoff multiplier ``p``.

``fit(X, p)`` trains on ``label = log p`` with a boostobj loss, weight scale fixed on the
training set; ``decision_function`` gives raw margins, ``predict_proba`` two columns
``[1 - s, s]``, ``predict`` the 0/1 decision ``s >= threshold`` and ``score(X, p)`` the
log-wealth of those decisions. They work with ``clone``, ``Pipeline`` and
``cross_val_score(est, X, p)``. ``save``/``load`` write the booster's own model file plus a
JSON sidecar, no pickle.

Input is checked as sklearn checks it: using a model before ``fit`` raises
``sklearn.exceptions.NotFittedError``; a model fitted on a DataFrame refuses a frame whose
columns are renamed, missing or in another order (``ValueError`` naming them; columns are
never reordered by name) and takes a bare array of the right width by position; fitted on
an array, it warns when given a DataFrame.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from numbers import Integral, Real
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import DataConversionWarning
from sklearn.utils._param_validation import (
    Interval,
    Options,
    StrOptions,
    validate_parameter_constraints,
)
from sklearn.utils.validation import check_is_fitted

from . import _defaults
from ._backend import Backend, TrainSpec, get_backend
from ._categories import encode
from ._meta import versions
from ._validation import Rows, check_features, check_same_length, feature_names, log_payoff
from .losses import Loss, get_loss
from .metrics import break_even_margin, decide, log_wealth, sigmoid
from .persistence import SIDECAR, load_model, model_file_path, write_model_folder
from .persistence import prepare_output_dir as prepare_output_dir  # moved; kept importable

__all__ = ["ESTIMATORS", "LGBMWealthClassifier", "XGBWealthClassifier", "load_model"]

_FORMAT = "boostobj-model"


class _PolicyClassifier(ClassifierMixin, BaseEstimator):
    """``predict_proba``, ``predict`` and ``score`` of a take/leave model, written once for
    the estimators and :class:`~boostobj.ensemble.CrossFitEnsemble`: subclasses supply
    ``decision_function``, ``decision_margin`` and the probability cut ``_cut()``."""

    def decision_function(self, X: Any) -> NDArray[np.float64]:
        raise NotImplementedError

    def __sklearn_tags__(self) -> Any:
        """sklearn's tags (sklearn >= 1.6): a binary classifier whose ``y`` is a payoff
        multiplier ``p > 0``, not a class label (``positive_only``; ``poor_score``, as the
        accuracy of 0/1 decisions against payoffs means nothing); one target; NaN in ``X``
        is missing (``allow_nan``); sparse ``X`` is refused."""
        tags = super().__sklearn_tags__()
        tags.requires_fit = True
        tags.classifier_tags.multi_class = False
        tags.classifier_tags.multi_label = False
        tags.classifier_tags.poor_score = True  # accuracy against y (a payoff) is meaningless
        tags.target_tags.required = True
        tags.target_tags.positive_only = True
        tags.target_tags.multi_output = False
        tags.target_tags.single_output = True
        tags.input_tags.allow_nan = True
        tags.input_tags.sparse = False
        return tags

    def _validate_X(self, X: Any) -> NDArray[np.float64]:
        """``X`` checked against the fit: fitted (else ``NotFittedError``), numeric 2-D, the
        same width, and for a DataFrame the same column names in the same order.

        Names follow sklearn: fitted on a DataFrame, a frame with other, missing or reordered
        columns raises ``ValueError`` naming them (columns are never matched by name behind
        your back); a DataFrame given to a model fitted on an array warns (``UserWarning``).
        Unlike sklearn, a bare array of the right width is taken by position without a
        warning: ``tune`` and ``boostobj predict`` pass arrays whose columns they ordered.
        A frame's categorical columns are coded by the levels learned at fit
        (``categories_``); an array is taken as codes already.
        """
        check_is_fitted(self)
        self._check_feature_names(feature_names(X))
        coded, _ = encode(X, getattr(self, "categories_", ()), "X")
        Xa = check_features(coded)
        if Xa.shape[1] != self.n_features_in_:  # type: ignore[attr-defined]
            raise ValueError(
                f"X has {Xa.shape[1]} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input"  # type: ignore[attr-defined]
            )
        return Xa

    def _check_feature_names(self, names: tuple[str, ...] | None) -> None:
        """sklearn's feature-name check (same messages), with the misplaced column named;
        ``names`` is ``None`` for an array."""
        fitted = getattr(self, "feature_names_in_", None)
        who = type(self).__name__
        if names is None:  # an array: by position (what tune and the CLI pass)
            return
        if fitted is None:
            warnings.warn(
                f"X has feature names, but {who} was fitted without feature names", stacklevel=4
            )
            return
        fitted = [str(c) for c in fitted]
        if list(names) == fitted:
            return
        unseen = sorted(set(names) - set(fitted))
        missing = sorted(set(fitted) - set(names))
        msg = "The feature names should match those that were passed during fit.\n"
        if unseen:
            msg += "Feature names unseen at fit time:\n" + _bullets(unseen)
        if missing:
            msg += "Feature names seen at fit time, yet now missing:\n" + _bullets(missing)
        if not unseen and not missing and len(names) != len(fitted):
            msg += f"X has {len(names)} columns, fit had {len(fitted)}: a name is repeated."
        elif not unseen and not missing:
            i = next(i for i, (a, b) in enumerate(zip(names, fitted, strict=True)) if a != b)
            msg += (
                "Feature names must be in the same order as they were in fit.\n"
                f"Column {i} is {names[i]!r} but was {fitted[i]!r} in fit; "
                "reorder with X[model.feature_names_in_]."
            )
        raise ValueError(msg)

    def decision_margin(self, X: Any) -> NDArray[np.float64]:
        raise NotImplementedError

    def _cut(self) -> float:
        return float(self.threshold)  # type: ignore[attr-defined]

    def predict_proba(self, X: Any) -> NDArray[np.float64]:
        """``[[1 - s, s]]`` with ``s = sigmoid(decision_function)`` (for ``"kelly"``: the
        stake; with ``payoff_columns``: the win probability ``q``, whose cut ``q >= threshold``
        is *not* :meth:`predict`'s rule; threshold :meth:`expected_log_payoff` instead)."""
        s = sigmoid(self.decision_function(X))
        return np.column_stack([1.0 - s, s])

    def predict(self, X: Any) -> NDArray[np.int64]:
        """1 = take the row, iff ``sigmoid(decision_margin) >= threshold``.

        With ``payoff_columns`` the margin is net of each row's break-even margin, so at
        ``threshold=0.5`` a row is taken iff ``expected_log_payoff(X) > 0``, i.e.
        ``q log p_win + (1 - q) log p_loss > 0``; rows whose decision is certain have margin
        ``+inf`` (``p_loss >= 1``) or ``-inf`` (``p_win <= 1``).
        """
        return decide(self.decision_margin(X), self._cut()).astype(np.int64)

    def score(self, X: Any, y: ArrayLike, sample_weight: ArrayLike | None = None) -> float:
        """Log-wealth ``sum(log p)`` over the rows :meth:`predict` takes (higher is better)."""
        if sample_weight is not None:
            raise ValueError("score is log-wealth, which sample weights do not enter")
        r = log_payoff(y)
        take = self.predict(X)
        check_same_length(X=take, p=r)
        return log_wealth(r, take)


#: LightGBM's names for ``min_data_in_leaf`` (default 20), the fewest rows per leaf.
_MIN_DATA_IN_LEAF = (
    "min_data_in_leaf",
    "min_data_per_leaf",
    "min_data",
    "min_child_samples",
    "min_samples_leaf",
)


# -- numeric options, checked at fit time before any booster runs ---------------------------
_POSITIVE = [Interval(Real, 0, np.inf, closed="neither")]  # finite, > 0
_NON_NEGATIVE = [Interval(Real, 0, np.inf, closed="left")]  # finite, >= 0
_FRACTION = [Interval(Real, 0, 1, closed="right")]  # (0, 1]
_COUNT = [Interval(Integral, 0, None, closed="left")]  # integer >= 0
_LEAVES = [Interval(Integral, 2, 131072, closed="both")]  # LightGBM's num_leaves

#: The estimators' own arguments (sklearn's ``_parameter_constraints``).
_ESTIMATOR_OPTIONS: dict[str, Any] = {
    "loss": "no_validation",  # get_loss checks it
    "loss_params": [dict, None],
    "threshold": [Interval(Real, 0, 1, closed="both")],
    "payoff_columns": "no_validation",  # _base_margin checks it against X
    "n_estimators": [Interval(Integral, 1, None, closed="left")],
    "learning_rate": _POSITIVE,
    "early_stopping_rounds": [Interval(Integral, 1, None, closed="left"), None],
    "early_stopping_metric": [StrOptions({"loss", "log_wealth"})],
    "random_state": [Interval(Integral, None, None, closed="neither"), None],
    "n_jobs": [Interval(Integral, 1, None, closed="left"), Options(Integral, {-1}), None],
    "params": [dict, None],
}

#: Entries of ``params`` (both boosters' names and aliases) the boosters would refuse in C++
#: or, for ``eta=nan``, silently train on; other entries pass through unchecked.
_BOOSTER_OPTIONS: dict[str, list[Any]] = {
    **dict.fromkeys(("learning_rate", "eta", "shrinkage_rate"), _POSITIVE),
    **dict.fromkeys(("subsample", "colsample_bytree", "colsample_bylevel"), _FRACTION),
    **dict.fromkeys(("colsample_bynode", "bagging_fraction", "feature_fraction"), _FRACTION),
    **dict.fromkeys(("reg_lambda", "reg_alpha", "lambda", "alpha"), _NON_NEGATIVE),
    **dict.fromkeys(("lambda_l1", "lambda_l2", "gamma", "min_split_loss"), _NON_NEGATIVE),
    **dict.fromkeys(("min_gain_to_split", "min_child_weight"), _NON_NEGATIVE),
    **dict.fromkeys(("min_sum_hessian_in_leaf", "min_sum_hessian"), _NON_NEGATIVE),
    **dict.fromkeys(_MIN_DATA_IN_LEAF, _COUNT),
    "bagging_freq": _COUNT,
    "min_data_in_bin": [Interval(Integral, 1, None, closed="left")],
    "max_bin": [Interval(Integral, 2, None, closed="left")],
}


def certain_decision(log_win: NDArray[np.float64], log_loss: NDArray[np.float64]) -> NDArray[Any]:
    """Per row with payoffs known at decision time: ``1`` if taking it cannot lose
    (``p_win, p_loss >= 1``, not both 1), ``-1`` if it cannot win (``p_win, p_loss <= 1``),
    ``0`` where the decision depends on the win probability (``p_loss < 1 < p_win``)."""
    always = (log_win >= 0) & (log_loss >= 0) & ((log_win > 0) | (log_loss > 0))
    never = (log_win <= 0) & (log_loss <= 0)
    return always.astype(np.int64) - never.astype(np.int64)


def _expected_log_payoff(
    margin: NDArray[np.float64], logs: tuple[NDArray[np.float64], NDArray[np.float64]]
) -> NDArray[np.float64]:
    """``q log p_win + (1 - q) log p_loss`` with ``q = sigmoid(margin)``."""
    q = sigmoid(margin)
    return q * logs[0] + (1.0 - q) * logs[1]


def payoff_target(y: Any, who: str) -> Any:
    """``fit``'s ``y`` as sklearn takes a target: required, and a one-column 2-D ``y`` is
    raveled with sklearn's ``DataConversionWarning``; :class:`Rows` checks the values."""
    if y is None:
        raise ValueError(
            f"{who} requires y to be passed, but the target y is None "
            "(y is each row's payoff multiplier p > 0)"
        )
    arr = np.asarray(y)
    if arr.ndim == 2 and arr.shape[1] == 1:
        warnings.warn(
            "A column-vector y was passed when a 1d array was expected. Please change the "
            "shape of y to (n_samples,), for example using ravel().",
            DataConversionWarning,
            stacklevel=3,
        )
        return arr.ravel()
    return y


def _bullets(names: list[str], most: int = 5) -> str:
    shown = [f"- {n}\n" for n in names[:most]]
    return "".join(shown) + ("- ...\n" if len(names) > most else "")


class _WealthClassifier(_PolicyClassifier):
    """Shared fit/predict/save logic; the booster's :class:`~boostobj._backend.Backend` does
    the booster calls, and a subclass only names its backend and its parameters."""

    booster_name: ClassVar[str]
    #: Checks of the booster-specific arguments and ``params`` entries (class by class).
    _own_options: ClassVar[dict[str, list[Any]]] = {}

    @property
    def backend(self) -> Backend:
        """The booster's backend (:func:`boostobj._backend.get_backend`)."""
        return get_backend(self.booster_name)

    @property
    def model_file(self) -> str:
        """File name of the booster's own model file inside a saved folder."""
        return self.backend.model_file

    def booster_params(self) -> dict[str, Any]:
        raise NotImplementedError

    # -- public API ----------------------------------------------------------------------
    def get_loss(self) -> Loss:
        """The surrogate this estimator trains: ``get_loss(loss, **loss_params)``."""
        return get_loss(self.loss, **(self.loss_params or {}))

    @property
    def _parameter_constraints(self) -> dict[str, Any]:
        return {**_ESTIMATOR_OPTIONS, **self._own_options}

    def _check_options(self) -> None:
        """Refuse a numeric option out of range, naming it and its value, before the booster
        runs: the arguments (sklearn's ``_validate_params``), then the known ``params``
        entries (:data:`_BOOSTER_OPTIONS`). ``InvalidParameterError`` is a ``ValueError``."""
        self._validate_params()
        validate_parameter_constraints(
            {**_BOOSTER_OPTIONS, **self._own_options},
            dict(self.params or {}),
            caller_name=f"{type(self).__name__}(params=...)",
        )

    def _stop_on_loss(self) -> bool:
        if self.early_stopping_metric not in ("loss", "log_wealth"):
            raise ValueError(
                f"early_stopping_metric must be 'loss' or 'log_wealth', "
                f"got {self.early_stopping_metric!r}"
            )
        return self.early_stopping_metric == "loss"

    def _kernel_threads(self) -> int | None:
        """Threads for the objective's kernel: ``n_jobs`` when it names a count, else all."""
        n_jobs = getattr(self, "n_jobs", None)
        return n_jobs if isinstance(n_jobs, int) and n_jobs > 0 else None

    def _payoff_logs(
        self, X: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]] | None:
        """``(log p_win, log p_loss)`` per row from ``payoff_columns``, or ``None`` without
        them. Refuses payoffs ``<= 0`` and rows with ``p_win < 1 < p_loss``."""
        if self.payoff_columns is None:
            return None
        cols = list(self.payoff_columns)
        if len(cols) != 2:
            raise ValueError("payoff_columns must name two columns: (p_win, p_loss)")
        names = getattr(self, "feature_names_in_", None)
        idx = []
        for c in cols:
            if isinstance(c, str):
                if names is None or c not in list(names):
                    raise ValueError(f"payoff column {c!r} is not among X's columns")
                idx.append(list(names).index(c))
            elif isinstance(c, (int, np.integer)) and 0 <= c < X.shape[1]:
                idx.append(int(c))
            else:
                raise ValueError(f"payoff column {c!r} is not a column of X ({X.shape[1]} columns)")
        log_win = log_payoff(X[:, idx[0]], name="payoff column p_win")
        log_loss = log_payoff(X[:, idx[1]], name="payoff column p_loss")
        inverted = (log_win < 0) & (log_loss > 0)
        if inverted.any():
            raise ValueError(
                f"{int(inverted.sum())} rows have p_win < 1 < p_loss (the payoff if won below "
                f"the payoff if lost), the first at index {int(np.flatnonzero(inverted)[0])}; "
                "is payoff_columns (p_win, p_loss) swapped?"
            )
        return log_win, log_loss

    def _base_margin(self, X: NDArray[np.float64]) -> NDArray[np.float64] | None:
        """Per-row break-even margin from ``payoff_columns`` (0 on rows whose decision is
        certain, see :func:`certain_decision`), or ``None`` without them."""
        logs = self._payoff_logs(X)
        if logs is None:
            return None
        base = np.zeros(len(logs[0]))
        open_ = certain_decision(*logs) == 0
        base[open_] = break_even_margin(logs[0][open_], logs[1][open_])
        return base

    def _model_decides(self, rows: Rows, what: str) -> Rows:
        """With ``payoff_columns``: only the rows whose decision depends on the model
        (``p_loss < 1 < p_win``); the others teach ``q`` nothing about a decision."""
        logs = self._payoff_logs(rows.X)
        if logs is None:
            return rows
        open_ = certain_decision(*logs) == 0
        if not open_.any():
            raise ValueError(
                f"no row of {what} has p_loss < 1 < p_win: every decision is certain "
                "(p_win <= 1: never take; p_loss >= 1: always take), so there is nothing to learn"
            )
        return rows if open_.all() else rows.take(open_)

    def fit(
        self,
        X: Any,
        y: ArrayLike,
        sample_weight: ArrayLike | None = None,
        eval_set: list[tuple[Any, ArrayLike]] | None = None,
        verbose: bool = False,
        callbacks: list[Any] | None = None,
    ) -> _WealthClassifier:
        """Fit on payoff multipliers ``y = p > 0`` (not labels, not log p).

        Args:
            X: features, 2-D. NaN means missing.
            y: payoff multiplier per row, finite and > 0.
            sample_weight: optional weights, multiplied into ``|log p|``.
            eval_set: ``[(X_valid, p_valid), ...]``; early stopping (if
                ``early_stopping_rounds``) watches the last one: its mean surrogate loss, or
                its log-wealth (``early_stopping_metric``). Both are in ``evals_result_``.
            verbose: print the booster's evaluation log.
            callbacks: extra booster callbacks, passed through to ``xgb.train`` (each an
                ``xgboost.callback.TrainingCallback``) or ``lgb.train`` (callables of ``env``).
        """
        y = payoff_target(y, type(self).__name__)
        rows = Rows.from_payoff(X, y, sample_weight=sample_weight)
        evals = [
            Rows.from_payoff(
                Xv,
                pv,
                x_name=f"eval_set[{i}] X",
                p_name=f"eval_set[{i}] p",
                categories=rows.categories,
            )
            for i, (Xv, pv) in enumerate(eval_set or [])
        ]
        return self.fit_rows(rows, evals, verbose=verbose, callbacks=callbacks)

    def fit_rows(
        self,
        rows: Rows,
        evals: Sequence[Rows] = (),
        *,
        verbose: bool = False,
        callbacks: list[Any] | None = None,
    ) -> _WealthClassifier:
        """:meth:`fit` on rows already checked (:class:`boostobj._validation.Rows`): what
        ``tune`` and :class:`~boostobj.CrossFitEnsemble` call, so ``p`` is checked once."""
        self._check_options()
        loss = self.get_loss()
        stop_on_loss = self._stop_on_loss()
        if self.payoff_columns is not None and loss.name != "outcome":
            raise ValueError(
                "payoff_columns needs loss='outcome': the decision q log p_win + (1 - q) "
                f"log p_loss > 0 needs a win-probability model, not {loss!r}"
            )
        for i, ev in enumerate(evals):
            rows.check_columns(ev, f"eval_set[{i}] X")
        names = rows.feature_names
        self.feature_names_in_ = None if names is None else np.asarray(names, dtype=object)
        self.n_features_in_ = rows.n_features
        self.categories_ = rows.categories
        rows = self._model_decides(rows, "X")
        evals = [self._model_decides(ev, f"eval_set[{i}] X") for i, ev in enumerate(evals)]
        self.scale_ = loss.weight_scale(rows.log_p, rows.weight)
        self.classes_ = np.array([0, 1])
        spec = TrainSpec(
            params=self.booster_params(),
            loss=loss,
            scale=self.scale_,
            threshold=self.threshold,
            stop_on_loss=stop_on_loss,
            n_estimators=self.n_estimators,
            early_stopping_rounds=self.early_stopping_rounds,
            n_threads=self._kernel_threads(),
            verbose=verbose,
            callbacks=list(callbacks or []),
        )
        evals_base = [(ev, self._base_margin(ev.X)) for ev in evals]
        self._check_rows(rows, spec.params)
        trained = self._train(spec, rows, self._base_margin(rows.X), evals_base)
        self.booster_ = trained.booster
        self.n_rounds_ = trained.n_rounds
        self.evals_result_ = trained.evals_result
        return self

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "booster_")

    def _check_rows(self, rows: Rows, params: dict[str, Any]) -> None:
        """Refuse training rows the booster cannot use, before it runs (a booster hook)."""

    def _train(self, spec: TrainSpec, rows: Rows, base: Any, evals: list[Any]) -> Any:
        return self.backend.train(spec, rows, base, evals)

    def _margins(self, Xa: NDArray[np.float64]) -> tuple[NDArray[np.float64], Any]:
        """``(raw margin, base margin or None)`` of checked features ``Xa``."""
        base = self._base_margin(Xa)
        return self.backend.margin(self.booster_, Xa, base).astype(np.float64), base

    def decision_function(self, X: Any) -> NDArray[np.float64]:
        """Raw margins ``f(x)``; ``sigmoid(f)`` is the surrogate's probability.

        With ``payoff_columns``, ``sigmoid(f)`` is the probability of the positive outcome.
        """
        return self._margins(self._validate_X(X))[0]

    def decision_margin(self, X: Any) -> NDArray[np.float64]:
        """The margin :meth:`predict` thresholds: :meth:`decision_function`, or with
        ``payoff_columns`` that net of each row's break-even margin (then ``> 0`` means
        ``q log p_win + (1 - q) log p_loss > 0``). Tune thresholds on ``sigmoid`` of this."""
        return self._net_margin(self._validate_X(X))

    def _net_margin(self, Xa: NDArray[np.float64]) -> NDArray[np.float64]:
        """:meth:`decision_margin` of features already checked."""
        margin, base = self._margins(Xa)
        if base is None:
            return margin
        net = margin - base
        certain = certain_decision(*self._payoff_logs(Xa))  # type: ignore[misc]
        net[certain != 0] = np.inf * certain[certain != 0]
        return net

    def expected_log_payoff(self, X: Any) -> NDArray[np.float64]:
        """With ``payoff_columns``: ``q log p_win + (1 - q) log p_loss`` per row, the expected
        log payoff of taking it under the model, ``q = predict_proba(X)[:, 1]``.

        The score to threshold: :meth:`predict` at ``threshold=0.5`` is ``score > 0``. Its
        sign is exact on rows whose decision is certain (``p_win <= 1``, ``p_loss >= 1``).
        """
        Xa = self._validate_X(X)
        return _expected_log_payoff(self._margins(Xa)[0], self._logs_or_raise(Xa))

    def _logs_or_raise(
        self, Xa: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        logs = self._payoff_logs(Xa)
        if logs is None:
            raise ValueError(
                "expected_log_payoff needs payoff_columns (the payoffs known at decision "
                "time); without them threshold decision_margin"
            )
        return logs

    # -- persistence ---------------------------------------------------------------------
    def save(self, path: str | Path, *, overwrite: bool = False) -> Path:
        """Write the model into folder ``path``: the booster's own file plus ``boostobj.json``.

        Refuses a non-empty folder unless ``overwrite=True``; the folder is written beside
        and renamed into place, so a failed save leaves the old one. Loading needs no pickle.
        """
        write, sidecar = self.save_parts()
        return write_model_folder(path, write, sidecar, overwrite=overwrite)

    def save_parts(self) -> tuple[Callable[[Path], None], dict[str, Any]]:
        """``(write the booster's file into a folder, the sidecar)``: what :meth:`save` writes,
        for :mod:`boostobj.persistence` to add to (a deployed policy's verdict)."""
        check_is_fitted(self)
        params = self.get_params()
        loss = self.get_loss()
        params["loss"], params["loss_params"] = loss.name, loss.params
        names = None if self.feature_names_in_ is None else [str(c) for c in self.feature_names_in_]
        sidecar = {
            "format": _FORMAT,
            "estimator": type(self).__name__,
            "booster": self.booster_name,
            "model_file": self.model_file,
            "params": params,
            "threshold": float(self.threshold),
            "scale": self.scale_,
            "n_rounds": self.n_rounds_,
            "n_features_in": int(self.n_features_in_),
            "feature_names": names,
            "categories": [[j, list(levels)] for j, levels in self.categories_],
            "versions": versions(),
        }
        booster, backend, model_file = self.booster_, self.backend, self.model_file

        def write(folder: Path) -> None:
            backend.save(booster, folder / model_file)

        return write, sidecar

    @classmethod
    def load(cls, path: str | Path) -> _WealthClassifier:
        """Load a folder written by :meth:`save`."""
        est = load_model(path)
        if not isinstance(est, cls):
            raise ValueError(f"{path} holds a {type(est).__name__}, not a {cls.__name__}")
        return est


def model_from_folder(folder: Path, meta: dict[str, Any]) -> _WealthClassifier:
    """The estimator saved in ``folder`` (``meta``: its parsed sidecar)."""
    if meta["estimator"] not in ESTIMATORS_BY_CLASS:
        raise ValueError(f"{folder / SIDECAR}: unknown estimator {meta['estimator']!r}")
    est = ESTIMATORS_BY_CLASS[meta["estimator"]](**meta["params"])
    path = model_file_path(folder, meta)  # inside the folder; its checksum already checked
    try:
        est.booster_ = est.backend.load(path)
    except Exception as exc:  # XGBoostError, LightGBMError: the booster's own file check
        raise ValueError(f"{path}: {est.booster_name} cannot read it: {exc}") from exc
    est.scale_ = float(meta["scale"])
    est.n_rounds_ = int(meta["n_rounds"])
    est.n_features_in_ = int(meta["n_features_in"])
    names = meta["feature_names"]
    est.feature_names_in_ = None if names is None else np.asarray(names, dtype=object)
    # a folder saved before categorical features has none
    est.categories_ = tuple((int(j), tuple(levels)) for j, levels in meta.get("categories", []))
    est.classes_ = np.array([0, 1])
    return est


class XGBWealthClassifier(_WealthClassifier):
    """XGBoost with a boostobj loss; ``y`` is the payoff multiplier ``p``.

    Args:
        loss: surrogate name (see :data:`boostobj.losses.LOSSES`) or a Loss.
        loss_params: the loss's knobs, e.g. ``{"power": 0.5}`` for ``"logistic"``.
        threshold: probability cut for :meth:`predict`; 0.5 is the Bayes decision.
        payoff_columns: ``(p_win, p_loss)``: indices (or names, for a DataFrame) of the
            columns of ``X`` that hold each row's payoff multiplier if the outcome is
            positive / negative, known at decision time (betting odds, loan terms). Needs
            ``loss="outcome"``. The model learns the win probability ``q``
            (:meth:`predict_proba`), starting each row at its break-even margin, and takes a
            row iff :meth:`expected_log_payoff` ``= q log p_win + (1 - q) log p_loss > 0``
            (at ``threshold=0.5``; ``threshold`` cuts ``sigmoid(decision_margin)``, not
            ``predict_proba``). Rows with ``p_win <= 1`` are never taken and rows with
            ``p_loss >= 1`` always taken, whatever ``q``; they are left out of training.
            Rows with ``p_win < 1 < p_loss`` are refused.
        n_estimators: boosting rounds (upper bound under early stopping).
        learning_rate, max_depth: the usual XGBoost ``eta`` and ``max_depth``.
        early_stopping_rounds: patience on the last eval set (needs ``eval_set``).
        early_stopping_metric: what early stopping watches on the last eval set: ``"loss"``
            (default), the mean surrogate loss, or ``"log_wealth"``, the hard metric at
            ``threshold``. Both are recorded in ``evals_result_``. Log-wealth jumps from round
            to round and the first trees often look best by chance: in the quality benchmark
            it stopped many fits after a handful of trees, so the smooth loss is the default.
        random_state: XGBoost ``seed``.
        n_jobs: XGBoost ``nthread`` and the objective's kernel threads (``None``: all cores).
        params: more XGBoost parameters, passed through; they win over the above.

    Attributes (after ``fit``):
        feature_names_in_: ``X``'s column names when it was a DataFrame with string column
            names, else ``None``. ``predict`` and the other methods refuse a DataFrame whose
            columns differ from these or come in another order (``ValueError``).
        n_features_in_: the number of columns of ``X``.
        categories_: ``((column index, levels), ...)`` of a DataFrame's text and
            ``category`` columns, which train as the booster's categorical features (see
            :mod:`boostobj._categories`); saved with the model. A level not seen at fit is
            missing at predict, with a ``UserWarning``.
    """

    booster_name = "xgboost"
    _own_options: ClassVar[dict[str, list[Any]]] = {"max_depth": _COUNT, "max_leaves": _COUNT}

    def __init__(
        self,
        loss: str | Loss = "logistic",
        loss_params: dict[str, float] | None = None,
        threshold: float = 0.5,
        payoff_columns: tuple[int | str, int | str] | None = None,
        n_estimators: int = _defaults.N_ESTIMATORS,
        learning_rate: float = 0.05,
        max_depth: int = 4,
        early_stopping_rounds: int | None = _defaults.EARLY_STOPPING_ROUNDS,
        early_stopping_metric: str = "loss",
        random_state: int = 0,
        n_jobs: int | None = _defaults.N_JOBS,
        params: dict[str, Any] | None = None,
    ) -> None:
        self.loss = loss
        self.loss_params = loss_params
        self.threshold = threshold
        self.payoff_columns = payoff_columns
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.max_depth = max_depth
        self.early_stopping_rounds = early_stopping_rounds
        self.early_stopping_metric = early_stopping_metric
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.params = params

    def booster_params(self) -> dict[str, Any]:
        """The full XGBoost parameter dict ``fit`` uses."""
        from .xgboost import PARAMS

        params: dict[str, Any] = {
            **PARAMS,
            "eta": self.learning_rate,
            "max_depth": self.max_depth,
            "seed": self.random_state,
            "tree_method": "hist",
        }
        if self.n_jobs is not None:
            params["nthread"] = self.n_jobs
        return {**params, **(self.params or {})}


class LGBMWealthClassifier(_WealthClassifier):
    """LightGBM with a boostobj loss; ``y`` is the payoff multiplier ``p``.

    Args:
        loss: surrogate name (see :data:`boostobj.losses.LOSSES`) or a Loss.
        loss_params: the loss's knobs, e.g. ``{"power": 0.5}`` for ``"logistic"``.
        threshold: probability cut for :meth:`predict`; 0.5 is the Bayes decision.
        payoff_columns: ``(p_win, p_loss)``: indices (or names, for a DataFrame) of the
            columns of ``X`` that hold each row's payoff multiplier if the outcome is
            positive / negative, known at decision time (betting odds, loan terms). Needs
            ``loss="outcome"``. The model learns the win probability ``q``
            (:meth:`predict_proba`), starting each row at its break-even margin, and takes a
            row iff :meth:`expected_log_payoff` ``= q log p_win + (1 - q) log p_loss > 0``
            (at ``threshold=0.5``; ``threshold`` cuts ``sigmoid(decision_margin)``, not
            ``predict_proba``). Rows with ``p_win <= 1`` are never taken and rows with
            ``p_loss >= 1`` always taken, whatever ``q``; they are left out of training.
            Rows with ``p_win < 1 < p_loss`` are refused.
        n_estimators: boosting rounds (upper bound under early stopping).
        learning_rate, num_leaves: the usual LightGBM parameters.
        early_stopping_rounds: patience on the last eval set (needs ``eval_set``).
        early_stopping_metric: what early stopping watches on the last eval set: ``"loss"``
            (default), the mean surrogate loss, or ``"log_wealth"``, the hard metric at
            ``threshold``. Both are recorded in ``evals_result_``. Log-wealth jumps from round
            to round and the first trees often look best by chance: in the quality benchmark
            it stopped many fits after a handful of trees, so the smooth loss is the default.
        random_state: LightGBM ``seed``.
        n_jobs: LightGBM ``num_threads`` and the objective's kernel threads (``None``:
            LightGBM's default; the kernel uses every core).
        params: more LightGBM parameters, passed through; they win over the above.

    Attributes (after ``fit``):
        feature_names_in_: ``X``'s column names when it was a DataFrame with string column
            names, else ``None``. ``predict`` and the other methods refuse a DataFrame whose
            columns differ from these or come in another order (``ValueError``).
        n_features_in_: the number of columns of ``X``.
        categories_: ``((column index, levels), ...)`` of a DataFrame's text and
            ``category`` columns, which train as the booster's categorical features (see
            :mod:`boostobj._categories`); saved with the model. A level not seen at fit is
            missing at predict, with a ``UserWarning``.
    """

    booster_name = "lightgbm"
    _own_options: ClassVar[dict[str, list[Any]]] = dict.fromkeys(
        ("num_leaves", "num_leaf", "max_leaves", "max_leaf"), _LEAVES
    )

    def __init__(
        self,
        loss: str | Loss = "logistic",
        loss_params: dict[str, float] | None = None,
        threshold: float = 0.5,
        payoff_columns: tuple[int | str, int | str] | None = None,
        n_estimators: int = _defaults.N_ESTIMATORS,
        learning_rate: float = 0.05,
        num_leaves: int = 15,
        early_stopping_rounds: int | None = _defaults.EARLY_STOPPING_ROUNDS,
        early_stopping_metric: str = "loss",
        random_state: int = 0,
        n_jobs: int | None = _defaults.N_JOBS,
        params: dict[str, Any] | None = None,
    ) -> None:
        self.loss = loss
        self.loss_params = loss_params
        self.threshold = threshold
        self.payoff_columns = payoff_columns
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.early_stopping_rounds = early_stopping_rounds
        self.early_stopping_metric = early_stopping_metric
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.params = params

    def booster_params(self) -> dict[str, Any]:
        """The full LightGBM parameter dict ``fit`` uses (objective added at fit time)."""
        params: dict[str, Any] = {
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "seed": self.random_state,
            "verbose": -1,
        }
        if self.n_jobs is not None:
            params["num_threads"] = self.n_jobs
        return {**params, **(self.params or {})}

    def _check_rows(self, rows: Rows, params: dict[str, Any]) -> None:
        """LightGBM splits a node only if both children keep ``min_data_in_leaf`` rows
        (default 20); with ``n <= 2 * min_data_in_leaf`` training rows it drops every
        feature and fails in C++, so refuse that here, naming the parameter to lower."""
        key = next((k for k in _MIN_DATA_IN_LEAF if k in params), None)
        least = 20 if key is None else int(params[key])
        if len(rows) <= 2 * least:
            n = len(rows)
            raise ValueError(
                f"LightGBM cannot learn from {n} sample{'s' if n != 1 else ''}: a split needs "
                f"min_data_in_leaf={least} training rows on each side, so more than "
                f"{2 * least} rows. Lower it, e.g. params={{'min_data_in_leaf': "
                f"{max(1, (n - 1) // 4)}}} (on very few rows also 'min_data_in_bin', default "
                "3), or fit on more rows"
            )

    def _train(self, spec: TrainSpec, rows: Rows, base: Any, evals: list[Any]) -> Any:
        import lightgbm as lgb

        try:
            return super()._train(spec, rows, base, evals)
        except lgb.basic.LightGBMError as exc:
            if "num_features()" not in str(exc):
                raise
            raise ValueError(
                "LightGBM found no feature it can split: every column of X is constant, or "
                "no cut leaves min_data_in_leaf rows on both sides (lower 'min_data_in_leaf' "
                "or 'min_data_in_bin' in params)"
            ) from exc


#: Booster name -> estimator class: what ``tune`` and the CLI build.
ESTIMATORS: dict[str, type[_WealthClassifier]] = {
    cls.booster_name: cls for cls in (XGBWealthClassifier, LGBMWealthClassifier)
}
ESTIMATORS_BY_CLASS = {cls.__name__: cls for cls in ESTIMATORS.values()}
