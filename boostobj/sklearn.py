"""sklearn-style estimators whose ``y`` is the payoff multiplier ``p``.

``fit(X, p)`` trains on ``label = log p`` with a boostobj loss, weight scale fixed on the
training set; ``decision_function`` gives raw margins, ``predict_proba`` two columns
``[1 - s, s]``, ``predict`` the 0/1 decision ``s >= threshold`` and ``score(X, p)`` the
log-wealth of those decisions. They work with ``clone``, ``Pipeline`` and
``cross_val_score(est, X, p)``. ``save``/``load`` write the booster's own model file plus a
JSON sidecar, no pickle.
"""

from __future__ import annotations

import json
from abc import ABCMeta, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, ClassifierMixin

from ._meta import versions
from ._validation import check_same_length, check_sample_weight, log_payoff
from .losses import Loss, get_loss
from .metrics import break_even_margin, decide, log_wealth, margin_threshold, sigmoid

__all__ = ["LGBMWealthClassifier", "XGBWealthClassifier", "load_model"]

SIDECAR = "boostobj.json"
_FORMAT = "boostobj-model"


def check_features(X: Any, name: str = "X") -> NDArray[np.float64]:
    """``X`` as a 2-D float array with at least one row; NaN (missing) is allowed, inf is not."""
    try:
        arr = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric: {exc}") from None
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D (rows x features); got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} is empty: need at least one row")
    if np.isinf(arr).any():
        row, col = np.argwhere(np.isinf(arr))[0]
        raise ValueError(f"{name} has an infinite value at row {row}, column {col}")
    return arr


def prepare_output_dir(path: str | Path, overwrite: bool) -> Path:
    """Create ``path``; refuse a non-empty existing folder unless ``overwrite``."""
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"{out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise FileExistsError(f"{out} is not empty; choose a new folder or pass overwrite=True")
    out.mkdir(parents=True, exist_ok=True)
    return out


class _PolicyClassifier(ClassifierMixin, BaseEstimator):
    """``predict_proba``, ``predict`` and ``score`` of a take/leave model, written once for
    the estimators and :class:`~boostobj.ensemble.CrossFitEnsemble`: subclasses supply
    ``decision_function``, ``decision_margin`` and the probability cut ``_cut()``."""

    def decision_function(self, X: Any) -> NDArray[np.float64]:
        raise NotImplementedError

    def decision_margin(self, X: Any) -> NDArray[np.float64]:
        raise NotImplementedError

    def _cut(self) -> float:
        return float(self.threshold)  # type: ignore[attr-defined]

    def predict_proba(self, X: Any) -> NDArray[np.float64]:
        """``[[1 - s, s]]`` with ``s = sigmoid(decision_function)`` (for ``"kelly"``: the
        stake)."""
        s = sigmoid(self.decision_function(X))
        return np.column_stack([1.0 - s, s])

    def predict(self, X: Any) -> NDArray[np.int64]:
        """1 = take the row, iff ``sigmoid(decision_margin) >= threshold``.

        With ``payoff_columns`` the margin is net of each row's break-even margin, so at
        ``threshold=0.5`` a row is taken iff ``q log p_win + (1 - q) log p_loss >= 0``.
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


class _WealthClassifier(_PolicyClassifier, metaclass=ABCMeta):
    """Shared fit/predict/save logic; subclasses supply the booster calls."""

    booster_name: ClassVar[str]
    model_file: ClassVar[str]

    # -- booster hooks -------------------------------------------------------------------
    @abstractmethod
    def _train(
        self,
        X: NDArray[np.float64],
        r: NDArray[np.float64],
        sw: NDArray[np.float64] | None,
        base: NDArray[np.float64] | None,
        evals: list[tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64] | None]],
        loss: Loss,
        verbose: bool,
        callbacks: list[Any] | None = None,
    ) -> None:
        """Fit ``self.booster_`` and set ``self.n_rounds_``, the boosting rounds it keeps.

        ``base`` (and the third item of each eval) is the per-row base margin, or ``None``.
        """

    @abstractmethod
    def _margin(
        self, X: NDArray[np.float64], base: NDArray[np.float64] | None
    ) -> NDArray[np.float64]:
        """Raw margin including ``base``."""

    @abstractmethod
    def _load_booster(self, path: Path) -> Any: ...

    @abstractmethod
    def _save_booster(self, path: Path) -> None: ...

    # -- public API ----------------------------------------------------------------------
    def get_loss(self) -> Loss:
        """The surrogate this estimator trains: ``get_loss(loss, **loss_params)``."""
        return get_loss(self.loss, **(self.loss_params or {}))

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

    def _base_margin(self, X: NDArray[np.float64]) -> NDArray[np.float64] | None:
        """Per-row break-even margin from ``payoff_columns``, or ``None`` without them."""
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
        p_win = log_payoff(X[:, idx[0]], name="payoff column p_win")
        p_loss = log_payoff(X[:, idx[1]], name="payoff column p_loss")
        return break_even_margin(p_win, p_loss)

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
        loss = self.get_loss()
        margin_threshold(self.threshold)  # validates
        self._stop_on_loss()  # validates early_stopping_metric
        if self.payoff_columns is not None and loss.name != "outcome":
            raise ValueError(
                "payoff_columns needs loss='outcome': the decision q log p_win + (1 - q) "
                f"log p_loss > 0 needs a win-probability model, not {loss!r}"
            )
        self.feature_names_in_ = (
            np.asarray(X.columns, dtype=object) if hasattr(X, "columns") else None
        )
        Xa = check_features(X)
        r = log_payoff(y)
        check_same_length(X=Xa, p=r, sample_weight=sample_weight)
        sw = check_sample_weight(sample_weight, r.size)
        evals = []
        for i, (Xv, pv) in enumerate(eval_set or []):
            Xv_a = check_features(Xv, f"eval_set[{i}] X")
            rv = log_payoff(pv, name=f"eval_set[{i}] p")
            check_same_length(**{f"eval_set[{i}] X": Xv_a, f"eval_set[{i}] p": rv})
            if Xv_a.shape[1] != Xa.shape[1]:
                raise ValueError(
                    f"eval_set[{i}] X has {Xv_a.shape[1]} features; X has {Xa.shape[1]}"
                )
            evals.append((Xv_a, rv, self._base_margin(Xv_a)))
        self.n_features_in_ = Xa.shape[1]
        self.scale_ = loss.weight_scale(r, sw)
        self.classes_ = np.array([0, 1])
        self._train(Xa, r, sw, self._base_margin(Xa), evals, loss, verbose, callbacks)
        return self

    def _check_fitted_X(self, X: Any) -> NDArray[np.float64]:
        if not hasattr(self, "booster_"):
            raise ValueError(f"this {type(self).__name__} is not fitted yet; call fit first")
        Xa = check_features(X)
        if Xa.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {Xa.shape[1]} features; the model has {self.n_features_in_}")
        return Xa

    def decision_function(self, X: Any) -> NDArray[np.float64]:
        """Raw margins ``f(x)``; ``sigmoid(f)`` is the surrogate's probability.

        With ``payoff_columns``, ``sigmoid(f)`` is the probability of the positive outcome.
        """
        Xa = self._check_fitted_X(X)
        return self._margin(Xa, self._base_margin(Xa)).astype(np.float64)

    def decision_margin(self, X: Any) -> NDArray[np.float64]:
        """The margin :meth:`predict` thresholds: :meth:`decision_function`, or with
        ``payoff_columns`` that net of each row's break-even margin (then ``> 0`` means
        ``q log p_win + (1 - q) log p_loss > 0``). Tune thresholds on ``sigmoid`` of this."""
        Xa = self._check_fitted_X(X)
        base = self._base_margin(Xa)
        margin = self._margin(Xa, base).astype(np.float64)
        return margin if base is None else margin - base

    # -- persistence ---------------------------------------------------------------------
    def save(self, path: str | Path, *, overwrite: bool = False) -> Path:
        """Write the model into folder ``path``: the booster's own file plus ``boostobj.json``.

        Refuses a non-empty folder unless ``overwrite=True``. Loading needs no pickle.
        """
        if not hasattr(self, "booster_"):
            raise ValueError("fit the model before saving it")
        params = self.get_params()
        loss = self.get_loss()
        params["loss"], params["loss_params"] = loss.name, loss.params
        try:
            json.dumps(params)
        except TypeError as exc:
            raise ValueError(f"estimator parameters must be JSON-serialisable: {exc}") from None
        out = prepare_output_dir(path, overwrite)
        self._save_booster(out / self.model_file)
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
            "versions": versions(),
        }
        (out / SIDECAR).write_text(json.dumps(sidecar, indent=2) + "\n")
        return out

    @classmethod
    def load(cls, path: str | Path) -> _WealthClassifier:
        """Load a folder written by :meth:`save`."""
        est = load_model(path)
        if not isinstance(est, cls):
            raise ValueError(f"{path} holds a {type(est).__name__}, not a {cls.__name__}")
        return est


def load_model(path: str | Path) -> _WealthClassifier:
    """Load a model folder written by ``save`` (either booster, or a
    :class:`~boostobj.ensemble.CrossFitEnsemble` of them)."""
    folder = Path(path)
    sidecar_path = folder / SIDECAR
    if not sidecar_path.is_file():
        raise FileNotFoundError(f"{folder} is not a boostobj model folder: no {SIDECAR}")
    meta = json.loads(sidecar_path.read_text())
    if meta.get("format") == "boostobj-ensemble":  # ensemble.ENSEMBLE_FORMAT
        from .ensemble import load_ensemble

        return load_ensemble(folder, meta)  # type: ignore[return-value]
    if meta.get("format") != _FORMAT:
        raise ValueError(f"{sidecar_path} is not a boostobj model sidecar")
    classes = {c.__name__: c for c in (XGBWealthClassifier, LGBMWealthClassifier)}
    if meta["estimator"] not in classes:
        raise ValueError(f"{sidecar_path}: unknown estimator {meta['estimator']!r}")
    est = classes[meta["estimator"]](**meta["params"])
    est.booster_ = est._load_booster(folder / meta["model_file"])
    est.scale_ = float(meta["scale"])
    est.n_rounds_ = int(meta["n_rounds"])
    est.n_features_in_ = int(meta["n_features_in"])
    names = meta["feature_names"]
    est.feature_names_in_ = None if names is None else np.asarray(names, dtype=object)
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
            ``loss="outcome"``; every row must have ``p_loss < 1 < p_win``. The model then
            starts each row at its break-even margin and takes it iff the expected log payoff
            under the model is positive.
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
    """

    booster_name = "xgboost"
    model_file = "model.json"

    def __init__(
        self,
        loss: str | Loss = "logistic",
        loss_params: dict[str, float] | None = None,
        threshold: float = 0.5,
        payoff_columns: tuple[int | str, int | str] | None = None,
        n_estimators: int = 300,
        learning_rate: float = 0.05,
        max_depth: int = 4,
        early_stopping_rounds: int | None = 100,
        early_stopping_metric: str = "loss",
        random_state: int = 0,
        n_jobs: int | None = None,
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

    def _train(self, X, r, sw, base, evals, loss, verbose, callbacks=None):  # type: ignore[no-untyped-def]
        import xgboost as xgb

        from .xgboost import make_loss_metric, make_metric, make_objective

        dtrain = xgb.DMatrix(X, label=r, weight=sw, base_margin=base)
        dvals = [
            (xgb.DMatrix(Xv, label=rv, base_margin=bv), f"valid_{i}")
            for i, (Xv, rv, bv) in enumerate(evals)
        ]
        on_loss = self._stop_on_loss()
        policy = make_metric(self.threshold, stake=loss.stake, net_of_base_margin=base is not None)
        surrogate = make_loss_metric(loss, scale=self.scale_)
        metrics = [policy, surrogate] if on_loss else [surrogate, policy]  # the last one stops
        self.evals_result_: dict[str, Any] = {}
        booster = xgb.train(
            self.booster_params(),
            dtrain,
            num_boost_round=self.n_estimators,
            obj=make_objective(loss, scale=self.scale_, n_threads=self._kernel_threads()),
            custom_metric=lambda predt, d: [m(predt, d) for m in metrics],
            evals=dvals,
            early_stopping_rounds=self.early_stopping_rounds if dvals else None,
            maximize=not on_loss,
            evals_result=self.evals_result_,
            verbose_eval=verbose,
            callbacks=list(callbacks or []),
        )
        if dvals and self.early_stopping_rounds:  # keep the trees up to the best round
            booster = booster[: booster.best_iteration + 1]
        self.n_rounds_ = booster.num_boosted_rounds()
        self.booster_ = booster

    def _margin(self, X, base):  # type: ignore[no-untyped-def]
        import xgboost as xgb

        return self.booster_.predict(xgb.DMatrix(X, base_margin=base), output_margin=True)

    def _save_booster(self, path: Path) -> None:
        self.booster_.save_model(str(path))

    def _load_booster(self, path: Path) -> Any:
        import xgboost as xgb

        return xgb.Booster(model_file=str(path))


class LGBMWealthClassifier(_WealthClassifier):
    """LightGBM with a boostobj loss; ``y`` is the payoff multiplier ``p``.

    Args:
        loss: surrogate name (see :data:`boostobj.losses.LOSSES`) or a Loss.
        loss_params: the loss's knobs, e.g. ``{"power": 0.5}`` for ``"logistic"``.
        threshold: probability cut for :meth:`predict`; 0.5 is the Bayes decision.
        payoff_columns: ``(p_win, p_loss)``: indices (or names, for a DataFrame) of the
            columns of ``X`` that hold each row's payoff multiplier if the outcome is
            positive / negative, known at decision time (betting odds, loan terms). Needs
            ``loss="outcome"``; every row must have ``p_loss < 1 < p_win``. The model then
            starts each row at its break-even margin and takes it iff the expected log payoff
            under the model is positive.
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
    """

    booster_name = "lightgbm"
    model_file = "model.txt"

    def __init__(
        self,
        loss: str | Loss = "logistic",
        loss_params: dict[str, float] | None = None,
        threshold: float = 0.5,
        payoff_columns: tuple[int | str, int | str] | None = None,
        n_estimators: int = 300,
        learning_rate: float = 0.05,
        num_leaves: int = 15,
        early_stopping_rounds: int | None = 100,
        early_stopping_metric: str = "loss",
        random_state: int = 0,
        n_jobs: int | None = None,
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

    def _train(self, X, r, sw, base, evals, loss, verbose, callbacks=None):  # type: ignore[no-untyped-def]
        import lightgbm as lgb

        from .lightgbm import make_loss_metric, make_metric, make_objective

        # init_score is used in training but not stored in the model: _margin adds it back.
        dtrain = lgb.Dataset(X, label=r, weight=sw, init_score=base)
        dvals = [lgb.Dataset(Xv, label=rv, init_score=bv, reference=dtrain) for Xv, rv, bv in evals]
        self.evals_result_ = {}
        callbacks = [lgb.record_evaluation(self.evals_result_), *(callbacks or [])]
        if verbose:
            callbacks.append(lgb.log_evaluation(1))
        use_es = bool(dvals and self.early_stopping_rounds)
        if use_es:  # on the first metric of feval only
            callbacks.append(
                lgb.early_stopping(
                    self.early_stopping_rounds, first_metric_only=True, verbose=verbose
                )
            )
        policy = make_metric(self.threshold, stake=loss.stake, net_of_base_margin=base is not None)
        surrogate = make_loss_metric(loss, scale=self.scale_)
        metrics = [surrogate, policy] if self._stop_on_loss() else [policy, surrogate]
        objective = make_objective(loss, scale=self.scale_, n_threads=self._kernel_threads())
        params = {**self.booster_params(), "objective": objective, "metric": "None"}
        booster = lgb.train(
            params,
            dtrain,
            num_boost_round=self.n_estimators,
            valid_sets=dvals,
            valid_names=[f"valid_{i}" for i in range(len(dvals))],
            feval=metrics,
            callbacks=callbacks,
        )
        if use_es:  # keep the trees up to the best round (best_iteration counts from 1)
            model = booster.model_to_string(num_iteration=booster.best_iteration)
            booster = lgb.Booster(model_str=model)
        self.n_rounds_ = booster.current_iteration()
        self.booster_ = booster

    def _margin(self, X, base):  # type: ignore[no-untyped-def]
        margin = self.booster_.predict(X, raw_score=True)
        return margin if base is None else margin + base

    def _save_booster(self, path: Path) -> None:
        self.booster_.save_model(str(path))

    def _load_booster(self, path: Path) -> Any:
        import lightgbm as lgb

        return lgb.Booster(model_file=str(path))
