"""A one-parameter study of the threshold of fixed scores: a benchmark for the exact search."""

from __future__ import annotations

import os

import numpy as np
import optuna
from numpy.typing import ArrayLike

from ..metrics import best_threshold, threshold_curve, trivial_policies
from ._study import bind_study, check_n_trials, create_study, fingerprint
from ._study import optuna_verbosity as _study_verbosity  # the parameter takes the name

__all__ = ["tune_threshold"]


def tune_threshold(
    scores: ArrayLike,
    log_payoff: ArrayLike,
    n_trials: int = 100,
    *,
    storage: str | os.PathLike[str] | optuna.storages.BaseStorage | None = None,
    study_name: str | None = None,
    seed: int = 0,
    load_if_exists: bool = True,
    optuna_verbosity: int | None = optuna.logging.WARNING,
) -> optuna.Study:
    """Search the threshold of fixed scores with Optuna (TPE); a benchmark for the exact search.

    The study maximises ``log_wealth(log_payoff, scores >= threshold)`` over one parameter,
    ``"threshold"``, suggested uniformly in ``[min(scores), max(scores)]``. Taking no row lies
    outside that range; the study's user attrs hold ``take_all``, ``take_none`` (0),
    ``exact_best`` (the optimum :func:`~boostobj.metrics.best_threshold` finds) and ``n_rows``.
    Each trial also stores ``n_taken``.

    Cost: :func:`~boostobj.metrics.threshold_curve` (one sort, one cumsum) and ``np.unique`` run
    once; a trial is one ``np.searchsorted``, ``O(log n)``. Optuna's own overhead per trial
    (TPE, storage) is far larger.

    Trials needed, measured on 60 problems (seeds 0-9 at 10k, 100k and 1M rows; scores are
    ``E[log p | x]`` of :func:`~boostobj.datasets.make_betting_market` plus Gaussian noise of
    the same spread, or a linear synthetic signal): the first trial within 1% of the exact
    optimum's magnitude came after a median of 42 trials and at most 274, so **300 trials**
    reached it on every problem (the default 100 on 46 of 60). Small samples are slowest
    (10k rows: median about 130; 1M rows: median 19, at most 55), because their curve is
    jagged on the scale of 1%. Use :func:`~boostobj.metrics.best_threshold` in practice: it
    is exact and cheaper.

    Args:
        scores: one score per row (margins or probabilities), finite.
        log_payoff: ``log p`` per row, finite.
        n_trials: trials to add to the study (Optuna semantics: more trials on resume).
        storage: see :func:`make_storage`; ``None`` keeps the study in memory.
        study_name: needed to resume a stored study.
        seed: TPE sampler seed.
        load_if_exists: resume a stored study with that name instead of raising.
        optuna_verbosity: Optuna log level during the call; ``None`` leaves it alone.

    Raises:
        ValueError: NaN or infinite values, empty or mismatched inputs, or a stored study of
            that name that was run on other data.
    """
    check_n_trials(n_trials)
    curve = threshold_curve(scores, log_payoff)  # validates: 1-D, non-empty, no NaN, lengths
    s = np.asarray(scores, dtype=np.float64)
    r = np.asarray(log_payoff, dtype=np.float64)
    if not np.isfinite(s).all():
        raise ValueError("scores must be finite: the threshold range is [min(scores), max(scores)]")
    levels = np.unique(s)  # ascending distinct scores; curve point k takes the top k of them
    assert levels.size + 1 == curve.log_wealth.size
    lo, hi = float(levels[0]), float(levels[-1])
    exact = best_threshold(s, r)
    trivial = trivial_policies(r)

    def objective(trial: optuna.Trial) -> float:
        t = trial.suggest_float("threshold", lo, hi)
        k = levels.size - int(np.searchsorted(levels, t, side="left"))  # levels >= t
        trial.set_user_attr("n_taken", int(curve.n_taken[k]))
        return float(curve.log_wealth[k])

    with _study_verbosity(optuna_verbosity):
        study = create_study(storage, study_name, seed, load_if_exists)
        bind_study(
            study, {"kind": "threshold", "data": fingerprint(s, r)}, "tune_threshold on these data"
        )
        if "n_rows" not in study.user_attrs:
            study.set_user_attr("take_all", trivial["take_all"])
            study.set_user_attr("take_none", trivial["take_none"])
            study.set_user_attr("exact_best", exact.log_wealth)
            study.set_user_attr("n_rows", int(s.size))
        study.optimize(objective, n_trials=n_trials)
    return study
