"""XGBoost adapter: a custom objective and the log-wealth eval metric.

Data contract: the DMatrix label is ``log p`` (use :func:`dmatrix`, or ``label=log_payoff(p)``);
DMatrix weights, if any, are user sample weights. The minimal correct call::

    import xgboost as xgb
    import boostobj.xgboost as bx

    dtrain, dvalid = bx.dmatrix(X_train, p_train), bx.dmatrix(X_valid, p_valid)
    booster = xgb.train(
        {"base_score": 0.0, "disable_default_eval_metric": True, "max_depth": 4, "eta": 0.05},
        dtrain, num_boost_round=1000,
        obj=bx.objective, custom_metric=bx.metric,
        evals=[(dvalid, "valid")], early_stopping_rounds=50, maximize=True,
    )
    margin = booster.predict(dvalid, iteration_range=(0, booster.best_iteration + 1))
    take = margin >= 0.0  # raw margins; probability = sigmoid(margin)

Traps this handles or documents (see FACTS.md):

- XGBoost never fits the intercept for a custom objective: its start margin is ``base_score``
  passed through the link of ``params["objective"]`` (0.5 under the default
  ``reg:squarederror``). Set ``base_score=0`` for a start at probability 0.5.
- Weights are not applied to custom gradients; :data:`objective` multiplies them in.
- Early stopping guesses the direction from the metric name and would minimise log-wealth:
  pass ``maximize=True``.
- ``predict`` returns raw margins (the model has no link), also after save/load.
- These functions are for ``xgb.train``. The sklearn API (``xgboost.XGBRegressor``) calls
  ``f(y_true, y_pred)``: they refuse it (use :class:`boostobj.XGBWealthClassifier`).
- Under ``xgboost.dask.train`` each worker sees only its partition: :data:`objective` (its
  scale from the data) refuses to run there; use ``boostobj.dask.xgboost_objective(scale=...)``
  and ``boostobj.dask.xgboost_metric``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import _adapter
from ._validation import check_same_length, check_sample_weight, check_scale, log_payoff
from .losses import Loss, get_loss

if TYPE_CHECKING:
    import optuna
    import xgboost as xgb

    from ._backend import DaskRows, TrainSpec
    from ._validation import Rows

__all__ = [
    "PARAMS",
    "XGBoostBackend",
    "dmatrix",
    "make_loss_metric",
    "make_metric",
    "make_objective",
    "metric",
    "objective",
]

#: Parameters every boostobj XGBoost model needs: start at margin 0, no built-in metric.
PARAMS: dict[str, Any] = {"base_score": 0.0, "disable_default_eval_metric": True}

ObjectiveFn = Callable[[NDArray[np.float32], "xgb.DMatrix"], tuple[NDArray[Any], NDArray[Any]]]
MetricFn = Callable[[NDArray[np.float32], "xgb.DMatrix"], tuple[str, float]]


def _read(dtrain: xgb.DMatrix) -> tuple[NDArray[Any], NDArray[Any] | None]:
    weight = dtrain.get_weight()
    return dtrain.get_label(), (weight if weight.size else None)


_SKLEARN = "boostobj.XGBWealthClassifier, which trains on p with these functions"


def _refuse_distributed(what: str, instead: str) -> None:
    """Raise inside a distributed XGBoost run (``xgboost.dask``): a scale taken from the data
    would be each worker's partition's, and the model would differ from one machine's."""
    from xgboost import collective

    if collective.is_distributed():
        raise ValueError(
            f"{what} with scale=None takes the weight scale from each DMatrix, which in a "
            "distributed run (xgboost.dask) is each worker's partition: the model would "
            f"differ from one machine's. Use {instead}(scale=boostobj.dask.weight_scale("
            "client, p)), or boostobj.dask.fit_xgboost"
        )


def make_objective(
    loss: str | Loss = "logistic",
    *,
    scale: float | None = None,
    device: str = "cpu",
    n_threads: int | None = None,
) -> ObjectiveFn:
    """An XGBoost ``obj=`` function ``(predt, dtrain) -> (grad, hess)`` for ``loss``.

    Args:
        loss: a name in :data:`boostobj.losses.LOSSES` or a :class:`~boostobj.losses.Loss`.
        scale: weight scale, the divisor of ``|log p|``, finite and ``> 0``. ``None`` uses
            the training DMatrix's own ``weight_scale``, and refuses to run distributed
            (``xgboost.dask``): use ``boostobj.dask.xgboost_objective(scale=...)`` there.
        device: ``"cpu"`` (numpy) or ``"cuda"``: compute on the GPU with cupy and return
            cupy arrays, which XGBoost with ``device="cuda"`` takes without a copy (it hands
            the margin over as host numpy either way). On an H200 this took 0.6 ms per 1M
            rows against 4.7 ms for numpy plus XGBoost's host-to-device copy
            (``benchmarks/gpu_kernel.py``). Needs ``cupy``.
        n_threads: threads for the CPU kernel on data above 131,072 rows; ``None``: the CPUs
            this process may use. XGBoost's threads are idle while the objective runs.

    The label and weights are read from ``dtrain`` on the first call and cached with it
    (until ``set_label``/``set_weight`` change them; see :func:`boostobj._adapter.data_token`).
    The label must be ``log p`` of a finite ``p > 0``. Called as ``f(y_true, y_pred)`` by the
    sklearn API it raises ``TypeError``.
    """
    loss_ = get_loss(loss)
    scale = None if scale is None else check_scale(scale)
    cache = _adapter.DataCache()
    xp = _adapter.array_module(device)
    threads = _adapter.check_threads(n_threads)

    def objective(predt: NDArray[np.float32], dtrain: xgb.DMatrix) -> tuple[Any, Any]:
        _adapter.check_data_object(dtrain, "an xgboost.DMatrix", _SKLEARN)
        if scale is None:
            _refuse_distributed("boostobj.xgboost.objective", "boostobj.dask.xgboost_objective")
        return _adapter.gradient_hessian(
            loss_, scale, cache, dtrain, predt, _read, xp, threads=threads
        )

    objective.__doc__ = f"XGBoost objective: {loss_!r}, scale={scale!r}."
    return objective


def make_metric(
    threshold: float = 0.5,
    *,
    stake: bool = False,
    net_of_base_margin: bool = False,
    name: str | None = None,
) -> MetricFn:
    """An XGBoost ``custom_metric=`` function giving log-wealth in log units (higher is better).

    Log-wealth is ``sum(log p)`` over rows with ``sigmoid(margin) >= threshold``; with
    ``stake=True`` (for ``"kelly"`` models) ``sum(log(1 + sigmoid(margin) (p - 1)))``.
    Sample weights do not enter it. Early stopping on it needs ``maximize=True``.
    ``net_of_base_margin=True`` decides on ``margin - base_margin`` (the DMatrix's
    ``base_margin`` then holds each row's break-even margin; see ``payoff_columns``).
    Under ``xgboost.dask`` it is each worker's own log-wealth, which XGBoost averages: use
    ``boostobj.dask.xgboost_metric`` for the whole eval set's.
    """
    read = (lambda d: d.get_base_margin()) if net_of_base_margin else None
    metric_name, value = _adapter.policy_metric(threshold, stake, name, read)

    def metric(predt: NDArray[np.float32], dmat: xgb.DMatrix) -> tuple[str, float]:
        _adapter.check_data_object(dmat, "an xgboost.DMatrix", _SKLEARN)
        return metric_name, value(predt, dmat)

    return metric


def make_loss_metric(
    loss: str | Loss = "logistic", *, scale: float | None = None, name: str | None = None
) -> MetricFn:
    """An XGBoost ``custom_metric=`` giving the mean surrogate loss (lower is better).

    A smoother early-stopping signal than log-wealth; stop with ``maximize=False``. Pass the
    training ``scale`` (finite, ``> 0``) so every eval set is scored on one scale; with
    ``None`` it refuses to run distributed (use ``boostobj.dask.xgboost_loss_metric``).
    """
    scale = None if scale is None else check_scale(scale)
    metric_name, value = _adapter.loss_metric(get_loss(loss), scale, name)

    def metric(predt: NDArray[np.float32], dmat: xgb.DMatrix) -> tuple[str, float]:
        _adapter.check_data_object(dmat, "an xgboost.DMatrix", _SKLEARN)
        if scale is None:
            _refuse_distributed("make_loss_metric", "boostobj.dask.xgboost_loss_metric")
        return metric_name, value(predt, dmat)

    return metric


#: ``obj=`` for the log(p)-weighted logistic surrogate, weight scale from the training data.
objective: ObjectiveFn = make_objective()
#: ``custom_metric=`` for log-wealth at probability threshold 0.5 (margin 0).
metric: MetricFn = make_metric()


def dmatrix(
    X: Any, p: ArrayLike, sample_weight: ArrayLike | None = None, **kwargs: Any
) -> xgb.DMatrix:
    """A DMatrix with ``label = log p``, after checking ``p`` and the lengths."""
    import xgboost as xgb

    r = log_payoff(p)
    check_same_length(X=X, p=r, sample_weight=sample_weight)
    sw = check_sample_weight(sample_weight, r.size)
    return xgb.DMatrix(X, label=r, weight=sw, **kwargs)


class XGBoostBackend:
    """XGBoost behind :class:`boostobj._backend.Backend`: ``xgb.train`` with this module's
    objective and metrics, early stopping in the metric's direction, the booster cut to its
    best round."""

    name = "xgboost"
    model_file = "model.json"
    #: The estimators' defaults, the first trial of a fresh study.
    default_params: ClassVar[dict[str, Any]] = {
        "learning_rate": 0.05,
        "max_depth": 4,
        "min_child_weight": 1.0,
        "subsample": 1.0,
        "colsample_bytree": 1.0,
        "reg_lambda": 1.0,
    }

    def train(self, spec: TrainSpec, rows: Rows, base: Any, evals: list[tuple[Rows, Any]]) -> Any:
        import xgboost as xgb

        coded = self.categorical(rows)
        dtrain = xgb.DMatrix(
            rows.X, label=rows.log_p, weight=rows.weight, base_margin=base, **coded
        )
        dvals = [
            (xgb.DMatrix(ev.X, label=ev.log_p, base_margin=b, **coded), f"valid_{i}")
            for i, (ev, b) in enumerate(evals)
        ]
        policy = make_metric(
            spec.threshold, stake=spec.loss.stake, net_of_base_margin=base is not None
        )
        evals_result: dict[str, Any] = {}
        stopping = spec.stops_early(dvals)
        booster = xgb.train(
            spec.params,
            dtrain,
            num_boost_round=spec.n_estimators,
            obj=make_objective(spec.loss, scale=spec.scale, n_threads=spec.n_threads),
            custom_metric=self._metrics(
                spec, policy, make_loss_metric(spec.loss, scale=spec.scale)
            ),
            evals=dvals,
            early_stopping_rounds=spec.early_stopping_rounds if stopping else None,
            maximize=not spec.stop_on_loss,
            evals_result=evals_result,
            verbose_eval=spec.verbose,
            callbacks=list(spec.callbacks),
        )
        return self._trained(booster, stopping, evals_result)

    @staticmethod
    def categorical(rows: Rows | DaskRows) -> dict[str, Any]:
        """The DMatrix options that make the coded columns categorical (type ``"c"``), so
        trees split on sets of levels. The model file keeps the types; predicting on the
        float codes needs nothing more."""
        if not rows.categories:
            return {}
        cats = {j for j, _ in rows.categories}
        types = ["c" if j in cats else "q" for j in range(rows.X.shape[1])]
        return {"feature_types": types, "enable_categorical": True}

    def train_dask(
        self, client: Any, spec: TrainSpec, rows: DaskRows, evals: list[DaskRows]
    ) -> Any:
        """``xgboost.dask.train`` with :meth:`dask_objective` and metrics summed over workers
        (:meth:`dask_metric`, :meth:`dask_loss_metric`), so XGBoost's own early stopping sees
        the whole eval set. It has no ``maximize``: the ``EarlyStopping`` callback carries the
        direction."""
        from xgboost import dask as dxgb
        from xgboost.callback import EarlyStopping

        coded = self.categorical(rows)
        dtrain = dxgb.DaskDMatrix(client, rows.X, label=rows.log_p, weight=rows.weight, **coded)
        dvals = [
            (dxgb.DaskDMatrix(client, ev.X, label=ev.log_p, **coded), f"valid_{i}")
            for i, ev in enumerate(evals)
        ]
        policy = self.dask_metric(spec.threshold, spec.loss.stake)
        stopping = spec.stops_early(dvals)
        callbacks = list(spec.callbacks)
        if stopping:
            callbacks.append(
                EarlyStopping(rounds=spec.early_stopping_rounds, maximize=not spec.stop_on_loss)
            )
        out = dxgb.train(
            client,
            spec.params,
            dtrain,
            num_boost_round=spec.n_estimators,
            obj=self.dask_objective(spec.loss, spec.scale),
            custom_metric=self._metrics(spec, policy, self.dask_loss_metric(spec.loss, spec.scale)),
            evals=dvals,
            callbacks=callbacks or None,
            verbose_eval=spec.verbose,
        )
        return self._trained(out["booster"], stopping, out["history"])

    # -- objective and metrics of xgboost.dask (boostobj.dask's public ones call these) ------

    @staticmethod
    def dask_objective(loss: str | Loss, scale: float) -> ObjectiveFn:
        """:func:`make_objective` at a fixed ``scale`` (the whole training set's, never one
        partition's), which also accepts a worker's empty partition."""
        inner = make_objective(loss, scale=scale)

        def objective(predt: NDArray[np.float32], dtrain: xgb.DMatrix) -> tuple[Any, Any]:
            if predt.shape[0] == 0:  # a worker that holds no training rows
                return np.empty(0, np.float32), np.empty(0, np.float32)
            return inner(predt, dtrain)

        objective.__doc__ = inner.__doc__
        return objective

    @staticmethod
    def _allreduce_sum(value: float) -> float:
        """``value`` summed over the workers of a distributed run (else itself)."""
        from xgboost import collective

        if not collective.is_distributed():
            return value
        total = collective.allreduce(np.array([value], dtype=np.float64), collective.Op.SUM)
        return float(total[0])

    @staticmethod
    def dask_metric(threshold: float, stake: bool, name: str | None = None) -> MetricFn:
        """Log-wealth of the whole eval set: each worker's, summed over workers (XGBoost then
        averages the identical sums)."""
        metric_name, value = _adapter.policy_metric(threshold, stake, name)

        def metric(predt: NDArray[np.float32], dmat: xgb.DMatrix) -> tuple[str, float]:
            local = value(predt, dmat) if predt.shape[0] else 0.0  # a worker without eval rows
            return metric_name, XGBoostBackend._allreduce_sum(local)

        return metric

    @staticmethod
    def dask_loss_metric(loss: Loss, scale: float, name: str | None = None) -> MetricFn:
        """Mean surrogate loss of the whole eval set: sums and row counts over workers."""
        metric_name, value = _adapter.loss_metric(loss, scale, name)

        def metric(predt: NDArray[np.float32], dmat: xgb.DMatrix) -> tuple[str, float]:
            n = predt.shape[0]
            local = value(predt, dmat) * n if n else 0.0
            total = XGBoostBackend._allreduce_sum
            return metric_name, total(local) / total(float(n))

        return metric

    @staticmethod
    def _metrics(spec: TrainSpec, policy: MetricFn, surrogate: MetricFn) -> Any:
        """One ``custom_metric`` of both; XGBoost early-stops on the last one it returns."""
        metrics = [policy, surrogate] if spec.stop_on_loss else [surrogate, policy]
        return lambda predt, d: [m(predt, d) for m in metrics]

    @staticmethod
    def _trained(booster: Any, stopping: bool, evals_result: dict[str, Any]) -> Any:
        """The result, the booster cut to its best round if early stopping ran."""
        from ._backend import Trained

        if stopping:  # keep the trees up to the best round
            booster = booster[: booster.best_iteration + 1]
        return Trained(booster, booster.num_boosted_rounds(), evals_result)

    def margin(self, booster: Any, X: Any, base: Any) -> Any:
        import xgboost as xgb

        return booster.predict(xgb.DMatrix(X, base_margin=base), output_margin=True)

    def save(self, booster: Any, path: Path) -> None:
        booster.save_model(str(path))

    def load(self, path: Path) -> Any:
        import xgboost as xgb

        return xgb.Booster(model_file=str(path))

    def search_space(self, trial: optuna.Trial) -> dict[str, Any]:
        """``learning_rate`` log [0.01, 0.3], ``max_depth`` [2, 8], ``min_child_weight`` log
        [1e-3, 10], ``subsample`` and ``colsample_bytree`` [0.5, 1], ``reg_lambda`` log
        [1e-3, 10]. Hessian bounds are meaningful because weights are scaled to mean 1."""
        return {
            "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.3, log=True),
            "max_depth": trial.suggest_int("max_depth", 2, 8),
            "min_child_weight": trial.suggest_float("min_child_weight", 1e-3, 10.0, log=True),
            "subsample": trial.suggest_float("subsample", 0.5, 1.0),
            "colsample_bytree": trial.suggest_float("colsample_bytree", 0.5, 1.0),
            "reg_lambda": trial.suggest_float("reg_lambda", 1e-3, 10.0, log=True),
        }

    def estimator_kwargs(self, point: Mapping[str, Any]) -> dict[str, Any]:
        rest = dict(point)
        named = {k: rest.pop(k) for k in ("learning_rate", "max_depth") if k in rest}
        return {**named, "params": rest}

    def pruning_callback(self, report: Callable[[int, Mapping[str, float]], None]) -> Any:
        import xgboost as xgb

        class _Report(xgb.callback.TrainingCallback):
            def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
                if evals_log:
                    last = evals_log[list(evals_log)[-1]]
                    report(epoch, {name: float(values[-1]) for name, values in last.items()})
                return False

        return _Report()
