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
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import _adapter
from ._validation import check_same_length, check_sample_weight, log_payoff
from .losses import Loss, get_loss

if TYPE_CHECKING:
    import xgboost as xgb

__all__ = [
    "PARAMS",
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
        scale: weight scale, the divisor of ``|log p|``. ``None`` uses the training DMatrix's
            own ``weight_scale``; pass the whole training set's scale under Dask.
        device: ``"cpu"`` (numpy) or ``"cuda"``: compute on the GPU with cupy and return
            cupy arrays, which XGBoost with ``device="cuda"`` takes without a copy (it hands
            the margin over as host numpy either way). On an H200 this took 0.6 ms per 1M
            rows against 4.7 ms for numpy plus XGBoost's host-to-device copy
            (``benchmarks/gpu_kernel.py``). Needs ``cupy``.
        n_threads: threads for the CPU kernel on data above 131,072 rows; ``None``: the CPUs
            this process may use. XGBoost's threads are idle while the objective runs.

    The label and weights are read from ``dtrain`` on the first call and cached with it.
    """
    loss_ = get_loss(loss)
    cache = _adapter.DataCache()
    xp = _adapter.array_module(device)
    threads = _adapter.check_threads(n_threads)

    def objective(predt: NDArray[np.float32], dtrain: xgb.DMatrix) -> tuple[Any, Any]:
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
    """
    read = (lambda d: d.get_base_margin()) if net_of_base_margin else None
    metric_name, value = _adapter.policy_metric(threshold, stake, name, read)

    def metric(predt: NDArray[np.float32], dmat: xgb.DMatrix) -> tuple[str, float]:
        return metric_name, value(predt, dmat)

    return metric


def make_loss_metric(
    loss: str | Loss = "logistic", *, scale: float | None = None, name: str | None = None
) -> MetricFn:
    """An XGBoost ``custom_metric=`` giving the mean surrogate loss (lower is better).

    A smoother early-stopping signal than log-wealth; stop with ``maximize=False``. Pass the
    training ``scale`` so every eval set is scored on one scale.
    """
    metric_name, value = _adapter.loss_metric(get_loss(loss), scale, name)

    def metric(predt: NDArray[np.float32], dmat: xgb.DMatrix) -> tuple[str, float]:
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
