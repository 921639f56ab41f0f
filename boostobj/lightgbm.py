"""LightGBM adapter: a custom objective and the log-wealth eval metric.

Data contract: the Dataset label is ``log p`` (use :func:`dataset`, or ``label=log_payoff(p)``);
Dataset weights, if any, are user sample weights. The minimal correct call::

    import lightgbm as lgb
    import boostobj.lightgbm as bl

    dtrain = bl.dataset(X_train, p_train)
    dvalid = bl.dataset(X_valid, p_valid, reference=dtrain)
    booster = lgb.train(
        {"objective": bl.objective, "learning_rate": 0.05, "num_leaves": 15, "verbose": -1},
        dtrain, num_boost_round=1000, valid_sets=[dvalid], feval=bl.metric,
        callbacks=[lgb.early_stopping(50, verbose=False)],
    )
    margin = booster.predict(X_valid, num_iteration=booster.best_iteration)
    take = margin >= 0.0  # raw scores; probability = sigmoid(margin)

Traps this handles or documents (see FACTS.md):

- With a custom objective the start score is 0 (``boost_from_average`` is ignored), and an
  ``init_score`` is used in training but not stored in the model.
- Dataset weights do not reach custom gradients; :data:`objective` multiplies them in.
- ``lgb.train`` deep-copies params. The objective is a closure, which is not copied; its
  cache deep-copies empty.
- ``preds`` is a buffer LightGBM reuses; it is only read, never written.
- ``predict`` returns raw scores, also after save/load.
- Constructing a Dataset rewrites its label: NaN becomes 0 and ``+-inf`` becomes ``+-1e38``.
  The objective refuses ``+-1e38`` (out of the range of ``log p``), and a Dataset not yet
  constructed is checked as given; a NaN that became 0 cannot be told from ``p = 1``: a row
  of weight 0 for the |log p|-weighted losses and ``"kelly"``, a loss for ``"outcome"``.
  Build Datasets with :func:`dataset`, which checks ``p`` first.
- These functions are for ``lgb.train``. The sklearn API (``lightgbm.LGBMRegressor``) calls
  ``f(y_true, y_pred)``: they refuse it (use :class:`boostobj.LGBMWealthClassifier`, or
  ``boostobj.dask.lightgbm_objective``).
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
    import lightgbm as lgb
    import optuna

    from ._backend import DaskRows, TrainSpec
    from ._validation import Rows

__all__ = [
    "LightGBMBackend",
    "dataset",
    "make_loss_metric",
    "make_metric",
    "make_objective",
    "metric",
    "objective",
]

ObjectiveFn = Callable[[NDArray[np.float64], "lgb.Dataset"], tuple[NDArray[Any], NDArray[Any]]]
MetricFn = Callable[[NDArray[np.float64], "lgb.Dataset"], tuple[str, float, bool]]


def _read(train_set: lgb.Dataset) -> tuple[NDArray[Any], NDArray[Any] | None]:
    if getattr(train_set, "_handle", None) is None:  # not constructed: the fields as given
        return train_set.label, train_set.weight  # (its getters would raise)
    return train_set.get_label(), train_set.get_weight()  # a subset's come from its parent


_SKLEARN = (
    "boostobj.LGBMWealthClassifier, or for lightgbm.LGBMRegressor fitted on y = log p "
    "objective=boostobj.dask.lightgbm_objective(scale=boostobj.weight_scale(log_p)) and "
    "eval_metric=boostobj.dask.lightgbm_metric()"
)


def make_objective(
    loss: str | Loss = "logistic", *, scale: float | None = None, n_threads: int | None = None
) -> ObjectiveFn:
    """A LightGBM ``params["objective"]`` function ``(preds, train_set) -> (grad, hess)``.

    Args:
        loss: a name in :data:`boostobj.losses.LOSSES` or a :class:`~boostobj.losses.Loss`.
        scale: weight scale, the divisor of ``|log p|``, finite and ``> 0``. ``None`` uses
            the training Dataset's own ``weight_scale``; pass the whole training set's scale
            under Dask.
        n_threads: threads for the kernel on data above 131,072 rows; ``None``: the CPUs
            this process may use. LightGBM's threads are idle while the objective runs.

    Gradients come back as float32, which LightGBM stores (it would copy float64 ones down);
    the float64 scores are cast as the kernel reads them.

    The label must be ``log p`` of a finite ``p > 0``; LightGBM rewrites NaN labels to 0 when
    it constructs the Dataset, which no objective can see (build it with :func:`dataset`).
    Called as ``f(y_true, y_pred)`` by the sklearn API it raises ``TypeError``.
    """
    loss_ = get_loss(loss)
    scale = None if scale is None else check_scale(scale)
    cache = _adapter.DataCache()
    threads = _adapter.check_threads(n_threads)

    def objective(preds: NDArray[np.float64], train_set: lgb.Dataset) -> tuple[Any, Any]:
        _adapter.check_data_object(train_set, "a lightgbm.Dataset", _SKLEARN)
        return _adapter.gradient_hessian(
            loss_, scale, cache, train_set, preds, _read, threads=threads
        )

    objective.__doc__ = f"LightGBM objective: {loss_!r}, scale={scale!r}."
    return objective


def make_metric(
    threshold: float = 0.5,
    *,
    stake: bool = False,
    net_of_base_margin: bool = False,
    name: str | None = None,
) -> MetricFn:
    """A LightGBM ``feval=`` function: ``(name, log-wealth, is_higher_better=True)``.

    Log-wealth is ``sum(log p)`` over rows with ``sigmoid(score) >= threshold``; with
    ``stake=True`` (for ``"kelly"`` models) ``sum(log(1 + sigmoid(score) (p - 1)))``.
    Sample weights do not enter it. ``net_of_base_margin=True`` decides on
    ``score - init_score`` (the Dataset's ``init_score`` then holds each row's break-even
    margin; see ``payoff_columns``).
    """
    read = (lambda d: d.get_init_score()) if net_of_base_margin else None
    metric_name, value = _adapter.policy_metric(threshold, stake, name, read)

    def metric(preds: NDArray[np.float64], eval_set: lgb.Dataset) -> tuple[str, float, bool]:
        _adapter.check_data_object(eval_set, "a lightgbm.Dataset", _SKLEARN)
        return metric_name, value(preds, eval_set), True

    return metric


def make_loss_metric(
    loss: str | Loss = "logistic", *, scale: float | None = None, name: str | None = None
) -> MetricFn:
    """A LightGBM ``feval=`` giving the mean surrogate loss, ``is_higher_better=False``.

    A smoother early-stopping signal than log-wealth. Pass the training ``scale`` so every
    eval set is scored on one scale (finite, ``> 0``).
    """
    scale = None if scale is None else check_scale(scale)
    metric_name, value = _adapter.loss_metric(get_loss(loss), scale, name)

    def metric(preds: NDArray[np.float64], eval_set: lgb.Dataset) -> tuple[str, float, bool]:
        _adapter.check_data_object(eval_set, "a lightgbm.Dataset", _SKLEARN)
        return metric_name, value(preds, eval_set), False

    return metric


#: ``params["objective"]`` for the log(p)-weighted logistic surrogate.
objective: ObjectiveFn = make_objective()
#: ``feval=`` for log-wealth at probability threshold 0.5 (score 0).
metric: MetricFn = make_metric()


def dataset(
    X: Any, p: ArrayLike, sample_weight: ArrayLike | None = None, **kwargs: Any
) -> lgb.Dataset:
    """A Dataset with ``label = log p``, after checking ``p`` and the lengths."""
    import lightgbm as lgb

    r = log_payoff(p)
    check_same_length(X=X, p=r, sample_weight=sample_weight)
    sw = check_sample_weight(sample_weight, r.size)
    return lgb.Dataset(X, label=r, weight=sw, **kwargs)


class LightGBMBackend:
    """LightGBM behind :class:`boostobj._backend.Backend`: ``lgb.train`` with this module's
    objective and metrics, early stopping on the first metric, the booster cut to its best
    round. The per-row start margin (``init_score``) is not stored in the model, so
    :meth:`margin` adds it back."""

    name = "lightgbm"
    model_file = "model.txt"
    #: The estimators' defaults, the first trial of a fresh study. LightGBM's ``lambda_l2``
    #: default is 0, below the log-scale range; 1e-3 stands in for it.
    default_params: ClassVar[dict[str, Any]] = {
        "learning_rate": 0.05,
        "num_leaves": 15,
        "min_sum_hessian_in_leaf": 1e-3,
        "bagging_fraction": 1.0,
        "feature_fraction": 1.0,
        "lambda_l2": 1e-3,
    }

    def train(self, spec: TrainSpec, rows: Rows, base: Any, evals: list[tuple[Rows, Any]]) -> Any:
        import lightgbm as lgb

        # the coded columns split as categories; "auto" would take none from an array
        cats = [j for j, _ in rows.categories] or "auto"
        dtrain = lgb.Dataset(
            rows.X, label=rows.log_p, weight=rows.weight, init_score=base, categorical_feature=cats
        )
        dvals = [
            lgb.Dataset(
                ev.X, label=ev.log_p, init_score=b, reference=dtrain, categorical_feature=cats
            )
            for ev, b in evals
        ]
        evals_result: dict[str, Any] = {}
        callbacks = [lgb.record_evaluation(evals_result), *spec.callbacks]
        if spec.verbose:
            callbacks.append(lgb.log_evaluation(1))
        stopping = spec.stops_early(dvals)
        if stopping:  # on the first metric of feval only
            callbacks.append(
                lgb.early_stopping(
                    spec.early_stopping_rounds, first_metric_only=True, verbose=spec.verbose
                )
            )
        policy = make_metric(
            spec.threshold, stake=spec.loss.stake, net_of_base_margin=base is not None
        )
        surrogate = make_loss_metric(spec.loss, scale=spec.scale)
        metrics = [surrogate, policy] if spec.stop_on_loss else [policy, surrogate]
        objective = make_objective(spec.loss, scale=spec.scale, n_threads=spec.n_threads)
        booster = lgb.train(
            {**spec.params, "objective": objective, "metric": "None"},
            dtrain,
            num_boost_round=spec.n_estimators,
            valid_sets=dvals,
            valid_names=[f"valid_{i}" for i in range(len(dvals))],
            feval=metrics,
            callbacks=callbacks,
        )
        # keep the trees up to the best round (best_iteration counts from 1)
        return self._trained(booster, booster.best_iteration if stopping else None, evals_result)

    def train_dask(
        self, client: Any, spec: TrainSpec, rows: DaskRows, evals: list[DaskRows]
    ) -> Any:
        """``lightgbm.dask.DaskLGBMRegressor`` on ``y = log p`` (data-parallel, each worker's
        threads from its Dask ``nthreads``). Its custom metrics see one worker's rows, so the
        eval sets are not given to LightGBM: :func:`boostobj._backend.replay_early_stopping`
        scores them after training over all rows and replays early stopping on the curves."""
        import warnings

        from lightgbm.dask import DaskLGBMRegressor

        from ._backend import replay_early_stopping

        params = dict(spec.params)
        params.pop("num_threads", None)  # lightgbm.dask sets it from each worker's nthreads
        params.setdefault("metric", "None")
        model = DaskLGBMRegressor(
            client=client,
            objective=self.dask_objective(spec.loss, spec.scale),
            n_estimators=spec.n_estimators,
            **params,
        )
        with warnings.catch_warnings():  # n_jobs is always in the params, and always dropped
            warnings.filterwarnings("ignore", "Parameter n_jobs will be ignored", UserWarning)
            model.fit(
                rows.X,
                rows.log_p,
                sample_weight=rows.weight,
                callbacks=spec.callbacks,
                categorical_feature=[j for j, _ in rows.categories] or "auto",
            )
        booster = model.booster_

        def step(X: Any, k: int) -> Any:  # the margin round k adds
            return booster.predict(X, start_iteration=k, num_iteration=1, raw_score=True)

        rounds, evals_result = replay_early_stopping(
            client, spec, evals, booster.current_iteration(), step
        )
        return self._trained(booster, rounds, evals_result)

    @staticmethod
    def dask_objective(loss: Loss, scale: float) -> Any:
        """``objective=`` of the sklearn API, ``f(y_true, y_pred, weight)`` on ``y = log p``,
        at a fixed ``scale`` (the whole training set's): float64 gradients and hessians."""

        def objective(
            y_true: NDArray[Any], y_pred: NDArray[np.float64], weight: NDArray[Any] | None
        ) -> tuple[NDArray[Any], NDArray[Any]]:
            return loss.gradient_hessian(y_pred, y_true, weight, scale)

        objective.__doc__ = f"LightGBM sklearn-API objective: {loss!r}, scale={scale!r}."
        return objective

    @staticmethod
    def _trained(booster: Any, rounds: int | None, evals_result: dict[str, Any]) -> Any:
        """The result, the booster cut to its first ``rounds`` rounds (``None``: all)."""
        import lightgbm as lgb

        from ._backend import Trained

        if rounds is not None:
            booster = lgb.Booster(model_str=booster.model_to_string(num_iteration=rounds))
        return Trained(booster, booster.current_iteration(), evals_result)

    def margin(self, booster: Any, X: Any, base: Any) -> Any:
        margin = booster.predict(X, raw_score=True)
        return margin if base is None else margin + base

    def save(self, booster: Any, path: Path) -> None:
        booster.save_model(str(path))

    def load(self, path: Path) -> Any:
        import lightgbm as lgb

        return lgb.Booster(model_file=str(path))

    def search_space(self, trial: optuna.Trial) -> dict[str, Any]:
        """``learning_rate`` log [0.01, 0.3], ``num_leaves`` log [4, 128],
        ``min_sum_hessian_in_leaf`` log [1e-3, 10], ``bagging_fraction`` and
        ``feature_fraction`` [0.5, 1] (``bagging_freq=1`` is added: without it LightGBM ignores
        the fraction), ``lambda_l2`` log [1e-3, 10]."""
        return {
            "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.3, log=True),
            "num_leaves": trial.suggest_int("num_leaves", 4, 128, log=True),
            "min_sum_hessian_in_leaf": trial.suggest_float(
                "min_sum_hessian_in_leaf", 1e-3, 10.0, log=True
            ),
            "bagging_fraction": trial.suggest_float("bagging_fraction", 0.5, 1.0),
            "feature_fraction": trial.suggest_float("feature_fraction", 0.5, 1.0),
            "lambda_l2": trial.suggest_float("lambda_l2", 1e-3, 10.0, log=True),
        }

    def estimator_kwargs(self, point: Mapping[str, Any]) -> dict[str, Any]:
        rest = dict(point)
        named = {k: rest.pop(k) for k in ("learning_rate", "num_leaves") if k in rest}
        if "bagging_fraction" in rest:
            rest.setdefault("bagging_freq", 1)
        return {**named, "params": rest}

    def pruning_callback(self, report: Callable[[int, Mapping[str, float]], None]) -> Any:
        def callback(env: Any) -> None:
            results = env.evaluation_result_list
            if results:
                last = results[-1][0]  # the last eval set's name
                values = {name: float(v) for data, name, v, *_ in results if data == last}
                report(env.iteration - env.begin_iteration, values)

        callback.order = 25  # type: ignore[attr-defined]  # after recording, before stopping
        return callback
