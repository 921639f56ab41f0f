"""What a booster must provide, and the registry that finds one by name.

Everything booster-specific lives in one class per booster, next to its adapter
(:class:`boostobj.xgboost.XGBoostBackend`, :class:`boostobj.lightgbm.LightGBMBackend`). The
estimators, the tuner and the CLI only talk to :class:`Backend`; a new booster is a new backend
class, a line in :data:`BACKENDS` and a thin estimator class in :mod:`boostobj.sklearn`;
:mod:`boostobj.dask` trains through :meth:`Backend.train_dask` the same way.

The registry holds import paths, so looking a backend up imports its booster only then.
Below the registry: :func:`replay_early_stopping`, the booster-neutral half of Dask training
for a booster whose custom metrics see only one worker's rows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence, Sized
from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from numpy.typing import NDArray

from . import _adapter
from ._categories import Levels

if TYPE_CHECKING:
    import dask.array as da
    import distributed
    import optuna

    from ._validation import Rows
    from .losses import Loss

__all__ = ["BACKENDS", "Backend", "DaskRows", "TrainSpec", "Trained", "get_backend"]

#: Booster name -> ``"module:Class"`` of its backend.
BACKENDS: dict[str, str] = {
    "xgboost": "boostobj.xgboost:XGBoostBackend",
    "lightgbm": "boostobj.lightgbm:LightGBMBackend",
}


@dataclass(frozen=True)
class TrainSpec:
    """One training run, in booster-neutral terms (what an estimator's ``fit`` decided).

    Attributes:
        params: the booster's own parameters (``estimator.booster_params()``).
        loss: the surrogate; ``scale`` its weight scale, fixed on the training rows.
        threshold: probability cut of the log-wealth metric.
        stop_on_loss: early stopping watches the mean surrogate loss (else log-wealth).
        n_estimators: most boosting rounds; ``early_stopping_rounds`` the patience on the last
            eval set (``None``: no early stopping).
        n_threads: threads of the objective's kernel (``None``: all CPUs); under Dask each
            worker's objective uses that worker's CPUs, and this is ignored.
        verbose: print the booster's evaluation log.
        callbacks: extra booster callbacks, passed through.
    """

    params: dict[str, Any]
    loss: Loss
    scale: float
    threshold: float
    stop_on_loss: bool
    n_estimators: int
    early_stopping_rounds: int | None
    n_threads: int | None = None
    verbose: bool = False
    callbacks: list[Any] = field(default_factory=list)

    @classmethod
    def from_estimator(
        cls, est: Any, scale: float, *, verbose: bool = False, callbacks: Sequence[Any] = ()
    ) -> TrainSpec:
        """The run a boostobj estimator's parameters ask for, at weight scale ``scale``
        (raises on a bad ``early_stopping_metric``)."""
        return cls(
            params=est.booster_params(),
            loss=est.get_loss(),
            scale=scale,
            threshold=est.threshold,
            stop_on_loss=est._stop_on_loss(),
            n_estimators=est.n_estimators,
            early_stopping_rounds=est.early_stopping_rounds,
            n_threads=est._kernel_threads(),
            verbose=verbose,
            callbacks=list(callbacks),
        )

    def stops_early(self, evals: Sized) -> bool:
        """Whether early stopping runs: a patience and at least one eval set."""
        return bool(len(evals) and self.early_stopping_rounds)


@dataclass(frozen=True)
class Trained:
    """A trained booster cut to its best round, the rounds it keeps and the metric curves."""

    booster: Any
    n_rounds: int
    evals_result: dict[str, Any]


@dataclass(frozen=True)
class DaskRows:
    """Checked rows on a Dask cluster (:mod:`boostobj.dask` checks them): ``X`` a 2-D dask
    array in one column chunk, ``log_p`` and ``weight`` (``None``: all 1) 1-D dask arrays in
    ``X``'s row chunks. No base margins: ``payoff_columns`` is not supported under Dask."""

    X: da.Array
    log_p: da.Array
    weight: da.Array | None = None
    #: The categorical columns' levels, as :attr:`boostobj._validation.Rows.categories`.
    categories: Levels = ()


#: ``base`` margins travel beside the rows: ``None`` or one start margin per row.
Base = NDArray[Any] | None


class Backend(Protocol):
    """The booster-specific half of every boostobj model."""

    name: str
    #: File name of the booster's own model file inside a model folder.
    model_file: str
    #: The first trial of a fresh study, in the keys of :meth:`search_space`.
    default_params: Mapping[str, Any]

    def train(
        self, spec: TrainSpec, rows: Rows, base: Base, evals: list[tuple[Rows, Base]]
    ) -> Trained:
        """Train on ``rows`` (label ``log p``), early-stopped on the last of ``evals``."""
        ...

    def train_dask(
        self, client: distributed.Client, spec: TrainSpec, rows: DaskRows, evals: list[DaskRows]
    ) -> Trained:
        """:meth:`train` on the cluster of ``client``; ``spec.scale`` is the whole training
        set's. Trap: a custom metric runs per worker on its own rows, so early stopping and
        ``evals_result`` must be made to see every worker's rows of the eval set."""
        ...

    def margin(self, booster: Any, X: NDArray[Any], base: Base) -> NDArray[Any]:
        """Raw margins of ``booster`` on ``X``, ``base`` added."""
        ...

    def save(self, booster: Any, path: Path) -> None: ...

    def load(self, path: Path) -> Any: ...

    def search_space(self, trial: optuna.Trial) -> dict[str, Any]:
        """One point of the tuner's default search space (the booster's parameter names)."""
        ...

    def estimator_kwargs(self, point: Mapping[str, Any]) -> dict[str, Any]:
        """A search-space point as keyword arguments of the booster's estimator."""
        ...

    def pruning_callback(self, report: Callable[[int, Mapping[str, float]], None]) -> Any:
        """A booster callback calling ``report(round, {metric: value})`` for the last eval
        set after every round; an exception ``report`` raises (``TrialPruned``) ends
        training."""
        ...


_instances: dict[str, Backend] = {}


def get_backend(name: str) -> Backend:
    """The backend registered as ``name`` in :data:`BACKENDS` (imported on first use)."""
    if name not in BACKENDS:
        raise ValueError(f"unknown booster {name!r}; choose one of {', '.join(BACKENDS)}")
    if name not in _instances:
        module, cls = BACKENDS[name].split(":")
        _instances[name] = getattr(import_module(module), cls)()
    return _instances[name]


# -- early stopping replayed after Dask training ---------------------------------------------


class Labels:
    """Stands in for a booster's data object where only ``log p`` is at hand (the metrics of
    :mod:`boostobj._adapter` read ``get_label`` and ``get_weight``)."""

    __slots__ = ("__weakref__", "_label")

    def __init__(self, label: NDArray[Any]) -> None:
        self._label = label

    def get_label(self) -> NDArray[Any]:
        return self._label

    def get_weight(self) -> None:
        return None


#: ``step(X_block, k)``: the margin that round ``k`` (from 0) adds on the rows of ``X_block``.
RoundStep = Callable[[NDArray[Any], int], NDArray[Any]]


def _eval_curve(
    step: RoundStep, X: da.Array, r: da.Array, n_rounds: int, metric: Callable[[Any, Any], float]
) -> da.Array:
    """Lazy metric of the whole eval set after each round 1..n_rounds (summed over blocks)."""
    import dask.array as da

    def block(xb: NDArray[Any], rb: NDArray[np.float64]) -> NDArray[np.float64]:
        labels = Labels(rb[:, 0])
        margin = np.zeros(xb.shape[0])
        out = np.empty((1, n_rounds))
        for k in range(n_rounds):
            margin += step(xb, k)
            out[0, k] = metric(margin, labels)
        return out

    parts = da.map_blocks(
        block,
        X,
        r[:, None],
        chunks=((1,) * X.numblocks[0], (n_rounds,)),
        dtype=np.float64,
        meta=np.empty((0, 0), np.float64),  # no call on empty blocks to infer it
    )
    return parts.sum(axis=0)


def rounds_kept(curve: NDArray[np.float64], patience: int) -> tuple[int, int]:
    """``(best round count, round count at which early stopping would stop)``, maximising:
    the booster's rule (a round counts as better only if strictly above the best so far)."""
    best, best_i = -np.inf, 0
    for i, v in enumerate(curve):
        if v > best:
            best, best_i = v, i
        elif i - best_i >= patience:
            return best_i + 1, i + 1
    return best_i + 1, len(curve)


def replay_early_stopping(
    client: distributed.Client,
    spec: TrainSpec,
    evals: list[DaskRows],
    n_rounds: int,
    step: RoundStep,
) -> tuple[int | None, dict[str, Any]]:
    """Early stopping after Dask training, for a booster whose custom metrics see only one
    worker's rows (LightGBM): ``(rounds to keep, or None for all; evals_result)``.

    Each eval set's log-wealth and mean surrogate loss (at ``spec.scale``) after rounds
    1..n_rounds, over all its rows, in one dask compute. With ``spec.early_stopping_rounds``
    the watched curve of the last eval set gives the rounds early stopping would have kept,
    and the curves end where it would have stopped. The trees do not depend on the eval sets,
    so the model is the same; the cost is training the rounds after the best.
    """
    if not evals:
        return None, {}
    policy_name, policy = _adapter.policy_metric(spec.threshold, spec.loss.stake, None)
    loss_name, mean_loss = _adapter.loss_metric(spec.loss, spec.scale, None)

    def loss_sum(margin: NDArray[np.float64], labels: Any) -> float:
        return mean_loss(margin, labels) * margin.shape[0]

    lazy = [
        _eval_curve(step, ev.X, ev.log_p, n_rounds, metric)
        for ev in evals
        for metric in (policy, loss_sum)
    ]
    sums = [np.asarray(c, dtype=np.float64) for c in client.gather(client.compute(lazy))]
    curves = [
        {policy_name: sums[2 * i], loss_name: sums[2 * i + 1] / ev.X.shape[0]}
        for i, ev in enumerate(evals)
    ]
    keep, stop = n_rounds, n_rounds
    if spec.stops_early(evals):
        last = curves[-1]
        watch = -last[loss_name] if spec.stop_on_loss else last[policy_name]
        keep, stop = rounds_kept(watch, spec.early_stopping_rounds)  # type: ignore[arg-type]
    result = {
        f"valid_{i}": {k: v[:stop].tolist() for k, v in c.items()} for i, c in enumerate(curves)
    }
    return (keep if keep < n_rounds else None), result
