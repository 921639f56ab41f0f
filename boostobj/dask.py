"""Dask: train boostobj models on a ``distributed`` cluster, get a single-machine estimator back.

The minimal call::

    from distributed import Client, LocalCluster
    import boostobj.dask as bd

    with LocalCluster(n_workers=2) as cluster, Client(cluster) as client:
        model = bd.fit_xgboost(client, X, p, eval_set=[(X_valid, p_valid)], max_depth=4)
    model.predict(X_test)  # a fitted XGBWealthClassifier: predict/score/save/load as usual

``X`` may be a dask array or dask DataFrame (numpy and pandas are wrapped), ``p`` the payoff
multipliers as a dask array or Series. A dask DataFrame's text and ``category`` columns are
categorical features, as on one machine (:mod:`boostobj._categories`): their levels are a
known ``category`` dtype's own, else the distinct values (one extra ``compute``).
:func:`fit` (``booster="xgboost"`` or ``"lightgbm"``; :func:`fit_xgboost` and
:func:`fit_lightgbm` name one) checks the inputs and computes the weight scale in one dask
``compute``, then the booster's backend trains
(:meth:`boostobj._backend.Backend.train_dask`: ``xgboost.dask.train`` or
``lightgbm.dask.DaskLGBMRegressor``). Nothing here depends on which booster it is.

Lower-level pieces, for your own ``xgboost.dask`` / ``lightgbm.dask`` calls:

- :func:`weight_scale` of the whole training set (one dask reduction);
- :func:`xgboost_objective` and :func:`xgboost_metric` for ``xgboost.dask.train(obj=...,
  custom_metric=...)``;
- :func:`lightgbm_objective` and :func:`lightgbm_metric` for the ``lightgbm.dask`` estimators,
  whose sklearn API calls ``f(y_true, y_pred, weight)``; fit ``DaskLGBMRegressor`` on
  ``y = log p`` (``DaskLGBMClassifier`` label-encodes ``y``, so it cannot carry ``log p``).

Traps (see FACTS.md):

- Each worker runs the objective on its own partition. The objectives here read ``log p`` and
  the weights from that partition's data object and hold no arrays, so a closure over global
  arrays cannot happen. But ``boostobj.xgboost.objective`` and ``boostobj.lightgbm.objective``
  (``scale=None``) would divide by each *partition's* mean ``|log p|``: under Dask always
  pass the whole training set's :func:`weight_scale`. The objectives here require it.
- A custom metric runs per worker on local rows. :func:`xgboost_metric` sums log-wealth over
  workers (XGBoost then averages identical values), so early stopping sees the global value.
  LightGBM has no such hook, so :func:`fit_lightgbm` scores ``eval_set`` after training, per
  round, over the whole eval set, and keeps the rounds that early stopping would have kept
  (the trees do not depend on the eval set, so the result is the same, the cost is the
  rounds after the best).
- ``xgboost.dask.train`` has no ``maximize`` argument, so its ``early_stopping_rounds`` would
  minimise log-wealth. :func:`fit_xgboost` passes ``EarlyStopping(rounds, maximize=...)``
  instead, in the direction of the estimator's ``early_stopping_metric`` (each worker gets
  its own copy of a callback, also with threaded workers).
- LightGBM's network is one per process: run ``lightgbm.dask`` on worker *processes*
  (``LocalCluster(processes=True)``, the default); threaded workers trained other models.
- Distributed quantile sketches cut continuous features differently from one machine, so a
  Dask XGBoost model matches a single-machine one exactly only on discretised features. A
  Dask LightGBM model (data-parallel) can differ from one machine's even there, with its
  built-in objectives too (seen on weighted rows from about the fourth tree).
- ``X`` is computed twice (once for the checks, once to train): ``persist`` it first when it
  is costly to compute.

This module imports dask, distributed, xgboost and lightgbm lazily, inside the functions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from . import _adapter
from ._backend import DaskRows, Labels, TrainSpec, get_backend
from ._categories import Levels, as_text, bad_cells, encode, is_categorical
from ._validation import check_sample_weight, check_scale, log_payoff
from .losses import Loss, get_loss
from .metrics import margin_threshold

if TYPE_CHECKING:
    import dask.array as da
    import distributed
    import xgboost as xgb

    from .sklearn import LGBMWealthClassifier, XGBWealthClassifier

__all__ = [
    "decision_function",
    "fit",
    "fit_lightgbm",
    "fit_xgboost",
    "lightgbm_metric",
    "lightgbm_objective",
    "weight_scale",
    "xgboost_loss_metric",
    "xgboost_metric",
    "xgboost_objective",
]

SklearnObjectiveFn = Callable[
    [NDArray[Any], NDArray[np.float64], "NDArray[Any] | None"], tuple[NDArray[Any], NDArray[Any]]
]
SklearnMetricFn = Callable[
    [NDArray[Any], NDArray[np.float64], "NDArray[Any] | None"], tuple[str, float, bool]
]


def _check_scale(scale: float) -> float:
    """:func:`~boostobj._validation.check_scale`, with the hint of where a Dask scale comes
    from."""
    try:
        return check_scale(scale)
    except ValueError as exc:
        raise ValueError(
            f"{exc}; under Dask pass the whole training set's boostobj.dask.weight_scale(...)"
        ) from None


# -- objectives and metrics ------------------------------------------------------------------


def xgboost_objective(
    loss: str | Loss = "logistic", *, scale: float
) -> Callable[[NDArray[np.float32], xgb.DMatrix], tuple[NDArray[Any], NDArray[Any]]]:
    """``obj=`` for ``xgboost.dask.train``: :func:`boostobj.xgboost.make_objective` with a fixed
    ``scale`` (required), which also accepts a worker's empty partition.

    Args:
        loss: a name in :data:`boostobj.losses.LOSSES` or a :class:`~boostobj.losses.Loss`.
        scale: the whole training set's :func:`weight_scale`, the same on every worker.
    """
    from .xgboost import XGBoostBackend

    return XGBoostBackend.dask_objective(loss, _check_scale(scale))


def xgboost_metric(
    threshold: float = 0.5, *, stake: bool = False, name: str | None = None
) -> Callable[[NDArray[np.float32], xgb.DMatrix], tuple[str, float]]:
    """``custom_metric=`` for ``xgboost.dask.train``: log-wealth of the *whole* eval set.

    The value of :func:`boostobj.xgboost.make_metric` (same ``threshold``, ``stake``, ``name``)
    on each worker's rows, summed over workers; XGBoost then averages a custom metric over
    workers, which leaves the sum unchanged. Outside a distributed run it is the plain metric.
    Early stopping on it must maximise: ``xgboost.dask.train`` has no ``maximize`` argument,
    so pass ``callbacks=[xgboost.callback.EarlyStopping(rounds=..., maximize=True)]``, not
    ``early_stopping_rounds`` (which would minimise a metric named ``log_wealth``).
    """
    from .xgboost import XGBoostBackend

    return XGBoostBackend.dask_metric(threshold, stake, name)


def xgboost_loss_metric(
    loss: str | Loss = "logistic", *, scale: float, name: str | None = None
) -> Callable[[NDArray[np.float32], xgb.DMatrix], tuple[str, float]]:
    """``custom_metric=`` for ``xgboost.dask.train``: mean surrogate loss of the *whole* eval
    set (sums and row counts are summed over workers). Lower is better; ``scale`` is the
    training set's."""
    from .xgboost import XGBoostBackend

    return XGBoostBackend.dask_loss_metric(get_loss(loss), _check_scale(scale), name)


def lightgbm_objective(loss: str | Loss = "logistic", *, scale: float) -> SklearnObjectiveFn:
    """``objective=`` for ``lightgbm.dask.DaskLGBMRegressor`` fitted on ``y = log p``.

    The sklearn API calls ``f(y_true, y_pred, weight)`` (it counts parameters: this one has 3,
    so sample weights reach it; the native 2-parameter :data:`boostobj.lightgbm.objective`
    would be called as ``f(y_true, y_pred)`` and must not be passed there). It returns
    ``get_loss(loss).gradient_hessian(y_pred, y_true, weight, scale)``, float64 like
    LightGBM's built-in objectives. ``scale`` is required: the whole training set's
    :func:`weight_scale`.
    """
    from .lightgbm import LightGBMBackend

    return LightGBMBackend.dask_objective(get_loss(loss), _check_scale(scale))


def lightgbm_metric(
    threshold: float = 0.5, *, stake: bool = False, name: str | None = None
) -> SklearnMetricFn:
    """``eval_metric=`` for the ``lightgbm.dask`` estimators fitted on ``y = log p``: the value
    of :func:`boostobj.lightgbm.make_metric`, as ``(name, log-wealth, True)``.

    LightGBM evaluates it per worker on that worker's rows only, so the value is local and
    early stopping on it is unsafe (workers may stop at different rounds). :func:`fit_lightgbm`
    scores eval sets over all rows instead.
    """
    metric_name, value = _adapter.policy_metric(threshold, stake, name)

    def metric(
        y_true: NDArray[Any], y_pred: NDArray[np.float64], weight: NDArray[Any] | None
    ) -> tuple[str, float, bool]:
        return metric_name, value(y_pred, Labels(y_true)), True

    return metric


# -- inputs ----------------------------------------------------------------------------------


def _as_dask(obj: Any, row_chunks: tuple[int, ...] | None = None) -> da.Array:
    """A dask array from a dask array / DataFrame / Series, or from numpy / pandas."""
    import dask.array as da

    if isinstance(obj, da.Array):
        arr = obj
    elif hasattr(obj, "to_dask_array") and hasattr(obj, "dask"):  # dask DataFrame / Series
        arr = obj.to_dask_array(lengths=True)
    else:
        local = np.asarray(obj)
        if row_chunks is not None and local.ndim >= 1 and local.shape[0] == sum(row_chunks):
            chunks: Any = (row_chunks, *local.shape[1:])
        else:
            chunks = "auto"
        arr = da.from_array(local, chunks=chunks)
    if arr.ndim >= 1 and any(np.isnan(c) for c in arr.chunks[0]):
        arr = arr.compute_chunk_sizes()
    return arr


def _categories(X: Any) -> Levels:
    """The levels of a dask DataFrame's text and ``category`` columns, as
    :func:`boostobj._categories.encode` learns them: a known ``category`` dtype's own, else
    the distinct values, sorted (one dask ``compute`` for all such columns). A text column
    that is numeric-looking is refused, as on one machine: the same rule
    (:func:`boostobj._categories.bad_cells`) on its value counts."""
    import dask
    import pandas as pd

    if not (hasattr(X, "dtypes") and hasattr(X, "dask") and hasattr(X, "map_partitions")):
        return ()
    found: dict[int, Any] = {}
    for j, column in enumerate(X.columns):
        series = X[column]
        if isinstance(series.dtype, pd.CategoricalDtype) and series.cat.known:
            found[j] = tuple(as_text(pd.Series(series.dtype.categories)))  # as encode names them
        elif is_categorical(series._meta):
            found[j] = series.dropna().astype(str).value_counts()  # text: as_text is str
    lazy = {j: v for j, v in found.items() if not isinstance(v, tuple)}
    for j, counts in zip(lazy, dask.compute(*lazy.values()), strict=True):
        distinct = pd.Series(counts.index, name=X.columns[j], dtype=object)
        if (error := bad_cells(distinct, "X column", counts.to_numpy())) is not None:
            raise error
        found[j] = tuple(sorted(counts.index))
    return tuple(sorted(found.items()))


def _coded(X: Any, levels: Levels, name: str) -> Any:
    """A dask DataFrame with its categorical columns as codes (by ``levels``), lazily."""
    if not levels:
        return X
    import pandas as pd

    def code(part: pd.DataFrame) -> pd.DataFrame:
        out = encode(part, levels, name)[0]
        return pd.DataFrame(out, index=part.index, columns=part.columns)

    meta = pd.DataFrame({c: pd.Series(dtype=np.float64) for c in X.columns})
    return X.map_partitions(code, meta=meta)


def _features(X: Any, name: str, levels: Levels = ()) -> da.Array:
    arr = _as_dask(_coded(X, levels, name))
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D (rows x features); got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} is empty: need at least one row")
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise ValueError(f"{name} must be numeric, got dtype {arr.dtype}")
    return arr.rechunk({1: -1})


def _vector(v: Any, X: da.Array, name: str) -> da.Array:
    arr = _as_dask(v, X.chunks[0])
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, one value per row; got shape {arr.shape}")
    if arr.shape[0] != X.shape[0]:
        raise ValueError(f"length mismatch: X has {X.shape[0]} rows, {name} has {arr.shape[0]}")
    return arr.astype(np.float64).rechunk((X.chunks[0],))


def _bad_per_block(bad: da.Array) -> da.Array:
    """Number of True values in each row block of ``bad`` (1-D, one entry per block)."""
    nblocks = bad.numblocks[0]

    def count(b: NDArray[np.bool_]) -> NDArray[np.int64]:
        return np.array([np.count_nonzero(b)], dtype=np.int64)

    if bad.ndim == 2:
        return bad.map_blocks(count, drop_axis=1, chunks=((1,) * nblocks,), dtype=np.int64)
    return bad.map_blocks(count, chunks=((1,) * nblocks,), dtype=np.int64)


def _raise_in_block(
    arr: da.Array, counts: NDArray[np.int64], check: Callable[[NDArray[Any]], Any], name: str
) -> None:
    """Run boostobj's own ``check`` on the first bad block, so the message is the usual one."""
    k = int(np.flatnonzero(counts)[0])
    start = int(sum(arr.chunks[0][:k]))
    block = np.asarray(arr.blocks[k].compute())
    try:
        check(block)
    except ValueError as exc:
        raise ValueError(f"{name}[{start}:{start + block.shape[0]}]: {exc}") from None
    raise AssertionError(f"{name}: block {k} should have failed its check")  # pragma: no cover


@dataclass(frozen=True)
class _Prepared:
    """Checked lazy inputs: the training rows, the eval sets, the weight scale, the names."""

    rows: DaskRows
    evals: list[DaskRows]
    scale: float
    feature_names: NDArray[Any] | None


def _inf(X: da.Array) -> da.Array:
    import dask.array as da

    return da.isinf(X) if np.issubdtype(X.dtype, np.floating) else da.zeros(X.shape, bool, X.chunks)


def _lazy_log_payoff(p: da.Array) -> tuple[da.Array, da.Array]:
    import dask.array as da

    bad = ~(da.isfinite(p) & (p > 0))
    return da.log(da.where(bad, 1.0, p)), bad


def _prepare(
    client: distributed.Client,
    X: Any,
    p: Any,
    sample_weight: Any,
    eval_set: Sequence[tuple[Any, Any]] | None,
    loss: Loss,
) -> _Prepared:
    """Wrap, check and compute the weight scale, all in one dask ``compute``."""
    import dask.array as da

    from .sklearn import check_features

    names = np.asarray(X.columns, dtype=object) if hasattr(X, "columns") else None
    levels = _categories(X)
    Xd = _features(X, "X", levels)
    pd_ = _vector(p, Xd, "p")
    r, bad_p = _lazy_log_payoff(pd_)
    checks: list[tuple[da.Array, Callable[[NDArray[Any]], Any], str]] = [
        (pd_, log_payoff, "p"),
        (Xd, check_features, "X"),
    ]
    bads = [bad_p, _inf(Xd)]
    row_w = r.map_blocks(loss.row_weight, dtype=np.float64, meta=np.empty(0, np.float64))
    swd = None
    if sample_weight is not None:
        swd = _vector(sample_weight, Xd, "sample_weight")
        checks.append((swd, lambda b: check_sample_weight(b, b.shape[0]), "sample_weight"))
        bads.append(~(da.isfinite(swd) & (swd >= 0)))
        safe_sw = da.where(bads[-1], 0.0, swd)
        total, mass = (row_w * safe_sw).sum(), safe_sw.sum()
    else:
        total, mass = row_w.sum(), da.from_array(np.float64(Xd.shape[0]))
    evals = []
    for i, (Xv, pv) in enumerate(eval_set or []):
        Xv_d = _features(Xv, f"eval_set[{i}] X", levels)
        if Xv_d.shape[1] != Xd.shape[1]:
            raise ValueError(f"eval_set[{i}] X has {Xv_d.shape[1]} features; X has {Xd.shape[1]}")
        pv_d = _vector(pv, Xv_d, f"eval_set[{i}] p")
        rv, bad_pv = _lazy_log_payoff(pv_d)
        checks += [(pv_d, log_payoff, f"eval_set[{i}] p")]
        checks += [(Xv_d, check_features, f"eval_set[{i}] X")]
        bads += [bad_pv, _inf(Xv_d)]
        evals.append(DaskRows(Xv_d, rv, categories=levels))

    counts, total_v, mass_v = client.gather(
        client.compute([[_bad_per_block(b) for b in bads], total, mass])
    )
    for (arr, check, name), c in zip(checks, counts, strict=True):
        if np.any(c):
            _raise_in_block(arr, np.asarray(c), check, name)
    total_f, mass_f = float(total_v), float(mass_v)
    if not total_f > 0:
        raise ValueError(
            "every training weight is zero: all payoffs are 1 (or carry zero "
            "sample_weight), so there is nothing to learn"
        )
    return _Prepared(DaskRows(Xd, r, swd, levels), evals, total_f / mass_f, names)


def weight_scale(
    client: distributed.Client, p: Any, sample_weight: Any = None, loss: str | Loss = "logistic"
) -> float:
    """The whole training set's weight scale, ``sum(sw |log p|) / sum(sw)`` for the default
    loss, in one dask compute.

    Same value as :func:`boostobj.weight_scale` (``loss.weight_scale``) on the gathered
    ``log p``, after the same checks of ``p`` (finite, > 0) and ``sample_weight`` (finite,
    >= 0). Pass it as ``scale=`` to every partition's objective.
    """
    pd_ = _as_dask(p)
    if pd_.ndim != 1:
        raise ValueError(f"p must be 1-D, one value per row; got shape {pd_.shape}")
    return _prepare(client, pd_[:, None], pd_, sample_weight, None, get_loss(loss)).scale


def fit(
    client: distributed.Client,
    X: Any,
    p: Any,
    *,
    booster: str = "xgboost",
    sample_weight: Any = None,
    eval_set: Sequence[tuple[Any, Any]] | None = None,
    threshold: float = 0.5,
    **estimator_kwargs: Any,
) -> XGBWealthClassifier | LGBMWealthClassifier:
    """Train on the cluster and return a fitted single-machine boostobj estimator.

    Args:
        client: a ``distributed.Client``.
        X: features, a dask array or DataFrame (numpy / pandas are wrapped). NaN = missing.
        p: payoff multipliers, finite and > 0, one per row of ``X``.
        booster: a name in :data:`boostobj._backend.BACKENDS` (``"xgboost"``, ``"lightgbm"``).
        sample_weight: optional weights, multiplied into ``|log p|``.
        eval_set: ``[(X_valid, p_valid), ...]``; early stopping (if ``early_stopping_rounds``)
            watches the last one, as ``early_stopping_metric`` says: its mean surrogate loss
            (default) or its log-wealth, either computed over all workers' rows.
        threshold: probability cut of ``predict``; 0.5 is the Bayes decision.
        **estimator_kwargs: parameters of the booster's estimator (``n_estimators``,
            ``max_depth`` / ``num_leaves``, ``params``, ...).

    The inputs are checked and the weight scale computed once over the whole training set,
    in one dask ``compute``; then the booster's backend trains
    (:meth:`~boostobj._backend.Backend.train_dask`). The returned estimator is an ordinary
    single-machine one
    (``booster_``, ``scale_``, ``n_rounds_``, ``evals_result_``): predict, score, save and
    load work as usual; for dask inputs use :func:`decision_function`.
    """
    from .sklearn import ESTIMATORS

    get_backend(booster)  # a clear error for an unknown name
    est = ESTIMATORS[booster](threshold=threshold, **estimator_kwargs)
    if est.payoff_columns is not None:
        raise NotImplementedError(
            "payoff_columns (a per-row base margin) is not supported by boostobj.dask yet"
        )
    est._check_options()  # the estimator's own option checks, before any compute
    loss = est.get_loss()
    margin_threshold(est.threshold)
    est._stop_on_loss()  # validates early_stopping_metric
    prep = _prepare(client, X, p, sample_weight, eval_set, loss)
    spec = TrainSpec.from_estimator(est, prep.scale)
    trained = est.backend.train_dask(client, spec, prep.rows, prep.evals)
    est.booster_, est.n_rounds_ = trained.booster, int(trained.n_rounds)
    est.evals_result_ = trained.evals_result
    est.scale_ = prep.scale
    est.n_features_in_ = int(prep.rows.X.shape[1])
    est.feature_names_in_ = prep.feature_names
    est.categories_ = prep.rows.categories
    est.classes_ = np.array([0, 1])
    return est


def fit_xgboost(client: distributed.Client, X: Any, p: Any, **kwargs: Any) -> XGBWealthClassifier:
    """:func:`fit` with ``booster="xgboost"``: ``xgboost.dask.train``, a fitted
    :class:`~boostobj.XGBWealthClassifier` back. Early stopping is XGBoost's own, on
    metrics summed over workers, in the direction of ``early_stopping_metric``."""
    return fit(client, X, p, booster="xgboost", **kwargs)  # type: ignore[return-value]


def fit_lightgbm(client: distributed.Client, X: Any, p: Any, **kwargs: Any) -> LGBMWealthClassifier:
    """:func:`fit` with ``booster="lightgbm"``: ``lightgbm.dask.DaskLGBMRegressor`` on
    ``y = log p``, a fitted :class:`~boostobj.LGBMWealthClassifier` back.

    LightGBM evaluates custom metrics per worker on local rows, so ``eval_set`` is not given
    to LightGBM: after training, each eval set is scored per round over all its rows, and with
    ``early_stopping_rounds`` the model keeps the rounds LightGBM's early stopping on the last
    eval set would have kept. ``evals_result_`` holds those curves, up to where early stopping
    would have stopped.
    """
    return fit(client, X, p, booster="lightgbm", **kwargs)  # type: ignore[return-value]


# -- prediction on dask inputs ---------------------------------------------------------------


def decision_function(estimator: Any, X: Any) -> da.Array:
    """Lazy raw margins of a fitted boostobj estimator on dask ``X``, block by block.

    ``sigmoid(margin) >= threshold`` is the estimator's decision; with ``p`` at hand,
    ``(margin >= logit(threshold)) * log p`` summed is the log-wealth.
    """
    import dask.array as da

    if not hasattr(estimator, "booster_"):
        raise ValueError(f"this {type(estimator).__name__} is not fitted yet")
    Xd = _features(X, "X", getattr(estimator, "categories_", ()))
    if Xd.shape[1] != estimator.n_features_in_:
        raise ValueError(f"X has {Xd.shape[1]} features; the model has {estimator.n_features_in_}")

    def block(xb: NDArray[Any]) -> NDArray[np.float64]:
        return estimator.decision_function(xb)

    return da.map_blocks(block, Xd, drop_axis=1, dtype=np.float64, meta=np.empty(0, np.float64))
