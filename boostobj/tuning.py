"""Optuna tuning of booster hyperparameters and of the decision threshold, resumable.

Two entry points:

- :func:`tune`: search booster hyperparameters of :class:`~boostobj.XGBWealthClassifier` or
  :class:`~boostobj.LGBMWealthClassifier` to maximise validation log-wealth, then refit the
  best and choose its probability threshold on the validation set. The test set, if given, is
  only scored at the end.
- :func:`tune_threshold`: a one-parameter study over the threshold of fixed scores. It exists
  to measure Optuna against the exact answer, :func:`boostobj.metrics.best_threshold`, which
  should be used in practice: it is exact and costs one sort.

Both are resumable. ``storage`` (see :func:`make_storage`) is a SQLite file, a journal file or
an RDB URL; every finished trial is committed there, so a killed process loses only the trial
it was running (left in state RUNNING, ignored by the sampler and by ``best_trial``). Calling
again with the same ``storage`` and ``study_name`` adds ``n_trials`` more; the sampler seed of
a resumed session is mixed with the number of trials already stored, so it does not repeat
earlier proposals. Several processes may share one journal file (or a server database) to
search in parallel; give each its own ``seed``, or processes starting together propose the
same points (and each fresh :func:`tune` study may enqueue the default trial once per
process).

Optuna logging: both functions set Optuna's verbosity to ``optuna_verbosity`` (default
``WARNING``: no line per trial) for their duration and restore it afterwards; pass ``None`` to
leave it alone.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import optuna
from numpy.typing import ArrayLike, NDArray

from ._validation import check_same_length, log_payoff
from .guard import Recommendation, judge_policy, recommend_policy, split_point
from .metrics import (
    BestThreshold,
    best_threshold,
    log_wealth,
    sigmoid,
    threshold_curve,
    trivial_policies,
)

if TYPE_CHECKING:
    from .sklearn import _WealthClassifier

__all__ = [
    "BOOSTERS",
    "DEFAULT_PARAMS",
    "TuneResult",
    "make_storage",
    "search_space",
    "tune",
    "tune_threshold",
]

#: Booster names accepted by :func:`tune`.
BOOSTERS = ("xgboost", "lightgbm")

#: The first trial of a fresh :func:`tune` study: the estimators' defaults, so the tuned model
#: is never worse on validation than the untuned one. LightGBM's ``lambda_l2`` default is 0,
#: below the log-scale range; 1e-3 stands in for it.
DEFAULT_PARAMS: dict[str, dict[str, Any]] = {
    "xgboost": {
        "learning_rate": 0.05,
        "max_depth": 4,
        "min_child_weight": 1.0,
        "subsample": 1.0,
        "colsample_bytree": 1.0,
        "reg_lambda": 1.0,
    },
    "lightgbm": {
        "learning_rate": 0.05,
        "num_leaves": 15,
        "min_sum_hessian_in_leaf": 1e-3,
        "bagging_fraction": 1.0,
        "feature_fraction": 1.0,
        "lambda_l2": 1e-3,
    },
}

_JOURNAL_SUFFIXES = (".log", ".journal", ".jsonl")
_SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")
#: Walk-forward folds early-stop on the most recent share of their own (past) training rows.
_WF_EARLY_STOP_FRACTION = 0.2
_CONFIG_ATTR = "boostobj_config"


# -- storage ---------------------------------------------------------------------------------
def make_storage(
    storage: str | os.PathLike[str] | optuna.storages.BaseStorage | None,
) -> optuna.storages.BaseStorage | None:
    """Turn a storage spec into an Optuna storage.

    Args:
        storage: one of

            - ``None``: in memory (``None`` is returned; nothing survives the process);
            - an Optuna ``BaseStorage``: returned as is;
            - a URL string containing ``://`` (``sqlite:///study.db``,
              ``postgresql://user@host/db``): an ``RDBStorage``;
            - a path ending in ``.db``, ``.sqlite`` or ``.sqlite3``: SQLite at its absolute
              path;
            - a path ending in ``.log``, ``.journal`` or ``.jsonl``: a ``JournalStorage`` on
              that file, safe for several processes on one machine (file lock).

    SQLite connections wait up to 60 s for a lock, but SQLite serialises writers; prefer a
    journal file for parallel processes. The folder of a file path must exist.

    Raises:
        ValueError: for anything else, naming the accepted forms.
        FileNotFoundError: when the folder of a file path does not exist.
    """
    if storage is None or isinstance(storage, optuna.storages.BaseStorage):
        return storage
    if isinstance(storage, str) and "://" in storage:
        return _rdb_storage(storage)
    if not isinstance(storage, (str, os.PathLike)) or not os.fspath(storage):
        raise ValueError(f"storage must be None, a path or a URL; got {storage!r}")
    path = Path(os.fspath(storage)).expanduser().resolve()
    suffix = path.suffix.lower()
    if suffix not in _JOURNAL_SUFFIXES + _SQLITE_SUFFIXES:
        raise ValueError(
            f"cannot tell the storage kind of {os.fspath(storage)!r}: give an RDB URL "
            "(containing '://', e.g. 'sqlite:///study.db' or 'postgresql://host/db'), a SQLite "
            f"file ending in {'/'.join(_SQLITE_SUFFIXES)}, a journal file ending in "
            f"{'/'.join(_JOURNAL_SUFFIXES)}, an optuna BaseStorage, or None (in memory)"
        )
    if not path.parent.is_dir():
        raise FileNotFoundError(f"folder {path.parent} of storage {path.name} does not exist")
    if suffix in _SQLITE_SUFFIXES:
        return make_storage(f"sqlite:///{path}")
    backend = optuna.storages.journal.JournalFileBackend(str(path))
    return optuna.storages.JournalStorage(backend)


#: Messages of the schema-creation race between processes opening one fresh database.
_SCHEMA_RACE = ("already exists", "UNIQUE constraint failed", "duplicate key")


def _rdb_storage(url: str, attempts: int = 5) -> optuna.storages.RDBStorage:
    """``RDBStorage(url)``, retried while another process is creating the same tables.

    Several processes opening one fresh database race to create Optuna's tables, and the
    losers fail with "table ... already exists" (optuna/optuna#1092). Once the winner has
    committed, a retry finds the tables and succeeds.
    """
    from sqlalchemy.exc import DBAPIError

    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        kwargs["engine_kwargs"] = {"connect_args": {"timeout": 60}}
    for attempt in range(attempts):
        try:
            return optuna.storages.RDBStorage(url, **kwargs)
        except ImportError as exc:  # optuna's, raised from the driver's ModuleNotFoundError
            module = getattr(exc.__cause__, "name", None)
            hint = 'pip install "boostobj[postgres]"' if module == "psycopg" else "install it"
            raise ValueError(
                f"the {url.split('://')[0]} storage needs the database driver module "
                f"{module or '(unknown)'!r}, which is not installed: {hint}"
            ) from exc
        except DBAPIError as exc:
            if attempt == attempts - 1 or not any(m in str(exc) for m in _SCHEMA_RACE):
                raise
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")  # pragma: no cover


@contextmanager
def _optuna_verbosity(level: int | None) -> Iterator[None]:
    if level is None:
        yield
        return
    before = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(level)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(before)


def _fingerprint(*arrays: NDArray[Any]) -> str:
    """A short digest of the data, to refuse resuming a study on different data."""
    h = hashlib.blake2b(digest_size=12)
    for a in arrays:
        c = np.ascontiguousarray(a)
        h.update(f"{c.dtype.str}{c.shape}".encode())
        h.update(memoryview(c).cast("B"))
    return h.hexdigest()


def _bind_study(study: optuna.Study, config: dict[str, Any], what: str) -> None:
    """Record ``config`` on a fresh study; refuse to resume one run with another config."""
    found = study.user_attrs.get(_CONFIG_ATTR)
    if found is None and not study.trials:
        study.set_user_attr(_CONFIG_ATTR, config)
        return
    if found != config:
        diff = (
            "it was not created by boostobj"
            if found is None
            else ", ".join(
                f"{k}: stored {found.get(k)!r}, now {config.get(k)!r}"
                for k in sorted(set(found) | set(config))
                if found.get(k) != config.get(k)
            )
        )
        raise ValueError(
            f"study {study.study_name!r} in this storage cannot be resumed by {what} ({diff}); "
            "its trials would not be comparable. Use another study_name or storage."
        )


def _create_study(
    storage: Any,
    study_name: str | None,
    seed: int,
    load_if_exists: bool,
    pruner: optuna.pruners.BasePruner | None = None,
) -> optuna.Study:
    """Create or load a maximising study with a seeded TPE sampler.

    A resumed study gets the seed mixed with its number of trials: the same ``seed`` would
    restart TPE's random start-up draws and repeat the earlier session's first proposals.
    """
    study = optuna.create_study(
        storage=make_storage(storage),
        study_name=study_name,
        direction="maximize",
        load_if_exists=load_if_exists,
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=pruner,
    )
    n_existing = len(study.get_trials(deepcopy=False))
    if n_existing:
        mixed = int(np.random.SeedSequence([seed, n_existing]).generate_state(1)[0])
        study.sampler = optuna.samplers.TPESampler(seed=mixed)
    return study


def _check_n_trials(n_trials: int | None) -> None:
    if n_trials is not None and (isinstance(n_trials, bool) or int(n_trials) != n_trials):
        raise ValueError(f"n_trials must be an integer; got {n_trials!r}")
    if n_trials is not None and n_trials < 0:
        raise ValueError(f"n_trials must be >= 0; got {n_trials}")


# -- threshold study -------------------------------------------------------------------------
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
    _check_n_trials(n_trials)
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

    with _optuna_verbosity(optuna_verbosity):
        study = _create_study(storage, study_name, seed, load_if_exists)
        _bind_study(
            study, {"kind": "threshold", "data": _fingerprint(s, r)}, "tune_threshold on these data"
        )
        if "n_rows" not in study.user_attrs:
            study.set_user_attr("take_all", trivial["take_all"])
            study.set_user_attr("take_none", trivial["take_none"])
            study.set_user_attr("exact_best", exact.log_wealth)
            study.set_user_attr("n_rows", int(s.size))
        study.optimize(objective, n_trials=n_trials)
    return study


# -- booster study ---------------------------------------------------------------------------
def search_space(trial: optuna.Trial, booster: str) -> dict[str, Any]:
    """Suggest one point of the search space; keys are the booster's own parameter names.

    XGBoost: ``learning_rate`` log [0.01, 0.3], ``max_depth`` [2, 8], ``min_child_weight`` log
    [1e-3, 10], ``subsample`` and ``colsample_bytree`` [0.5, 1], ``reg_lambda`` log [1e-3, 10].
    LightGBM: the same with ``num_leaves`` log [4, 128], ``min_sum_hessian_in_leaf``,
    ``bagging_fraction`` (with ``bagging_freq=1`` added at fit time: without it LightGBM
    ignores the fraction), ``feature_fraction`` and ``lambda_l2``. Hessian bounds are
    meaningful because the estimators scale weights ``|log p|`` to mean 1.
    """
    booster = _check_booster(booster)
    lr = trial.suggest_float("learning_rate", 0.01, 0.3, log=True)
    if booster == "xgboost":
        return {
            "learning_rate": lr,
            "max_depth": trial.suggest_int("max_depth", 2, 8),
            "min_child_weight": trial.suggest_float("min_child_weight", 1e-3, 10.0, log=True),
            "subsample": trial.suggest_float("subsample", 0.5, 1.0),
            "colsample_bytree": trial.suggest_float("colsample_bytree", 0.5, 1.0),
            "reg_lambda": trial.suggest_float("reg_lambda", 1e-3, 10.0, log=True),
        }
    return {
        "learning_rate": lr,
        "num_leaves": trial.suggest_int("num_leaves", 4, 128, log=True),
        "min_sum_hessian_in_leaf": trial.suggest_float(
            "min_sum_hessian_in_leaf", 1e-3, 10.0, log=True
        ),
        "bagging_fraction": trial.suggest_float("bagging_fraction", 0.5, 1.0),
        "feature_fraction": trial.suggest_float("feature_fraction", 0.5, 1.0),
        "lambda_l2": trial.suggest_float("lambda_l2", 1e-3, 10.0, log=True),
    }


def _check_booster(booster: str) -> str:
    if booster not in BOOSTERS:
        raise ValueError(f"unknown booster {booster!r}; choose one of {', '.join(BOOSTERS)}")
    return booster


def _make_estimator(
    booster: str,
    params: dict[str, Any],
    *,
    n_estimators: int,
    early_stopping_rounds: int | None,
    seed: int,
    n_jobs: int | None,
    estimator_params: dict[str, Any] | None = None,
) -> _WealthClassifier:
    from .sklearn import LGBMWealthClassifier, XGBWealthClassifier

    rest = dict(params)
    common: dict[str, Any] = {
        **(estimator_params or {}),
        "n_estimators": n_estimators,
        "early_stopping_rounds": early_stopping_rounds,
        "random_state": seed,
        "n_jobs": n_jobs,
        "learning_rate": rest.pop("learning_rate"),
    }
    if booster == "xgboost":
        return XGBWealthClassifier(max_depth=rest.pop("max_depth"), params=rest, **common)
    rest["bagging_freq"] = 1
    return LGBMWealthClassifier(num_leaves=rest.pop("num_leaves"), params=rest, **common)


# The estimators' policy metric: log-wealth at the threshold, or stake log-wealth for Kelly.
_POLICY_METRICS = ("log_wealth", "stake_log_wealth")


def _pruning_callback(
    booster: str, trial: optuna.Trial, every: int = 1, select_on: str = "log_wealth"
) -> Any:
    """A booster callback that reports validation log-wealth to ``trial`` every ``every`` rounds.

    The value is the estimator's policy metric (``log_wealth`` at probability 0.5, or
    ``stake_log_wealth`` for Kelly models) on the last eval set, or with
    ``select_on="loss"`` minus its surrogate loss metric (``*_loss``); the step is the 0-based
    boosting round (0, every, 2 * every, ...). Raises ``optuna.TrialPruned`` when the pruner
    says so; both boosters let the exception through.
    Each report is a storage write and ``should_prune`` a read: about 40 ms on SQLite.
    """

    def wanted(name: str) -> bool:
        return name in _POLICY_METRICS if select_on == "log_wealth" else name.endswith("_loss")

    sign = 1.0 if select_on == "log_wealth" else -1.0

    def report(step: int, value: float) -> None:
        if step % every:
            return
        trial.report(sign * value, step)
        if trial.should_prune():
            raise optuna.TrialPruned(f"pruned at boosting round {step}")

    if booster == "xgboost":
        import xgboost as xgb

        class _Report(xgb.callback.TrainingCallback):
            def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
                if evals_log:
                    last = evals_log[list(evals_log)[-1]]
                    name = next(n for n in last if wanted(n))
                    report(epoch, float(last[name][-1]))
                return False

        return _Report()

    def lgb_callback(env: Any) -> None:
        values = [v for _, name, v, *_ in env.evaluation_result_list if wanted(name)]
        if values:
            report(env.iteration - env.begin_iteration, float(values[-1]))

    lgb_callback.order = 25  # type: ignore[attr-defined]  # after recording, before stopping
    return lgb_callback


#: What a trial's value can measure (``tune(select_on=...)``).
SELECT_ON = ("log_wealth", "loss")


def _threshold(
    prob: NDArray[np.float64], r: NDArray[np.float64], fixed: float | None
) -> BestThreshold:
    """``best_threshold(prob, r)``, or the log-wealth at a ``fixed`` threshold."""
    if fixed is None:
        return best_threshold(prob, r)
    take = prob >= fixed
    return BestThreshold(fixed, log_wealth(r, take), int(take.sum()))


def _minus_loss(model: _WealthClassifier, X: Any, r: NDArray[np.float64]) -> float:
    """Minus the model's mean surrogate loss on ``(X, r)``, at its training scale."""
    loss = model.get_loss().loss(model.decision_function(X), r, scale=model.scale_)
    return -float(loss.mean())


def _clip_threshold(t: float) -> float:
    """Map ``best_threshold``'s ``+-inf`` to the probabilities 1 (take none) and 0 (take all).

    ``metrics.decide`` treats ``threshold >= 1`` as take nothing and ``<= 0`` as take
    everything, so the policy is unchanged and the number stays JSON-safe.
    """
    return float(min(max(t, 0.0), 1.0))


def _proba(model: _WealthClassifier, X: Any) -> NDArray[np.float64]:
    """The probability ``model.threshold`` is compared to (net of break-even margins)."""
    return sigmoid(model.decision_margin(X))


def _report(model: _WealthClassifier, X: Any, r: NDArray[np.float64]) -> dict[str, float]:
    take = model.predict(X).astype(bool)
    trivial = trivial_policies(r)
    return {
        "model": log_wealth(r, take),
        "take_all": trivial["take_all"],
        "take_none": trivial["take_none"],
        "n_taken": int(take.sum()),
        "n_rows": int(r.size),
    }


@dataclass
class TuneResult:
    """What :func:`tune` returns.

    Attributes:
        model: the model to deploy, with ``model.threshold`` set to :attr:`threshold`:
            :attr:`holdout_model`, or with ``refit`` the same parameters fitted on
            train + valid (a :class:`~boostobj.ensemble.CrossFitEnsemble` for ``refit=K``).
        threshold: probability threshold chosen on validation only (1.0: take nothing,
            0.0: take everything).
        study: the Optuna study (all trials, also those of earlier sessions).
        best_params: booster hyperparameters of the best trial (booster's own names).
        valid: log-wealth on valid of ``model`` (``"model"``), of taking every row and of
            none, with ``n_taken`` and ``n_rows``. Optimistic: the threshold was chosen on
            these rows.
        test: the same on the test set, or ``None``. The only honest estimate.
        recommendation: the no-edge guard's verdict (:func:`boostobj.guard.recommend_policy`
            on validation): deploy the model only if ``recommendation.policy == "model"``;
            otherwise the trivial policy it names is the safer choice.
        holdout_model: the best parameters fitted on train, early-stopped on valid: the
            model :attr:`valid` and the guard judged (``model`` itself unless ``refit``).
    """

    model: Any
    threshold: float
    study: optuna.Study
    best_params: dict[str, Any]
    valid: dict[str, float]
    test: dict[str, float] | None
    recommendation: Recommendation
    holdout_model: Any

    def summary(self) -> dict[str, Any]:
        """A JSON-serialisable summary (no model or study objects)."""
        states = [t.state for t in self.study.get_trials(deepcopy=False)]
        best = self.study.best_trial
        return {
            "booster": self.model.booster_name,
            "study_name": self.study.study_name,
            "threshold": float(self.threshold),
            "n_rounds": int(self.model.n_rounds_),
            "refit_on_valid": self.holdout_model is not self.model,
            "n_members": len(getattr(self.model, "members_", [self.model])),
            "n_configs": int(getattr(self.model, "n_configs_", 1)),
            "best_params": dict(self.best_params),
            "best_trial": int(best.number),
            "best_value": float(best.value),  # type: ignore[arg-type]
            "n_trials": states.count(optuna.trial.TrialState.COMPLETE),
            "n_pruned": states.count(optuna.trial.TrialState.PRUNED),
            "n_failed": states.count(optuna.trial.TrialState.FAIL),
            "valid": dict(self.valid),
            "test": None if self.test is None else dict(self.test),
            "recommendation": self.recommendation.summary(),
        }


def _guard_cut(n: int, fraction: float, groups: NDArray[Any] | None) -> int:
    """First row of the guard's holdout: ``n * (1 - fraction)``, at a group boundary."""
    cut = split_point(n, 1.0 - fraction, groups)
    if not 2 <= cut <= n - 2:
        raise ValueError(
            f"guard_fraction={fraction} leaves {cut} of {n} validation rows for tuning and "
            f"{n - cut} for the guard; give more validation rows or guard_fraction=0"
        )
    return cut


def _walk_forward_value(
    trial: optuna.Trial,
    make: Callable[[], _WealthClassifier],
    X: NDArray[np.float64],
    p: NDArray[np.float64],
    r: NDArray[np.float64],
    n_splits: int,
    select_on: str = "log_wealth",
    threshold: float | None = None,
) -> float:
    """Sum over folds of the log-wealth of out-of-fold decisions, or with
    ``select_on="loss"`` minus the mean over folds of the mean surrogate loss (see :func:`tune`)."""
    blocks = np.array_split(np.arange(r.size), n_splits + 1)
    oof_prob: list[NDArray[np.float64]] = []
    oof_r: list[NDArray[np.float64]] = []
    folds, thresholds, rounds, losses = [], [], [], []
    total = 0.0
    for k in range(1, n_splits + 1):
        past = np.concatenate(blocks[:k])
        n_fit = past.size - max(1, round(_WF_EARLY_STOP_FRACTION * past.size))
        fit_idx, es_idx = past[:n_fit], past[n_fit:]
        model = make().fit(X[fit_idx], p[fit_idx], eval_set=[(X[es_idx], p[es_idx])])
        prob = _proba(model, X[blocks[k]])
        t = 0.5 if threshold is None else threshold  # fold 1: no past predictions yet
        if k > 1 and threshold is None:
            t = best_threshold(np.concatenate(oof_prob), np.concatenate(oof_r)).threshold
        fold = log_wealth(r[blocks[k]], prob >= t)
        total += fold
        losses.append(_minus_loss(model, X[blocks[k]], r[blocks[k]]))
        folds.append(fold)
        thresholds.append(_clip_threshold(t))
        rounds.append(int(model.n_rounds_))
        oof_prob.append(prob)
        oof_r.append(r[blocks[k]])
        trial.report(total if select_on == "log_wealth" else float(np.mean(losses)), k)
        if trial.should_prune():
            raise optuna.TrialPruned(f"pruned after fold {k}")
    trial.set_user_attr("fold_log_wealth", folds)
    trial.set_user_attr("fold_threshold", thresholds)
    trial.set_user_attr("fold_minus_loss", losses)
    trial.set_user_attr("n_rounds", rounds)
    return total if select_on == "log_wealth" else float(np.mean(losses))


def tune(
    X_train: Any,
    p_train: ArrayLike,
    X_valid: Any,
    p_valid: ArrayLike,
    *,
    booster: str = "xgboost",
    n_trials: int | None = 20,
    timeout: float | None = None,
    storage: str | os.PathLike[str] | optuna.storages.BaseStorage | None = None,
    study_name: str = "boostobj",
    X_test: Any = None,
    p_test: ArrayLike | None = None,
    n_splits: int | None = None,
    seed: int = 0,
    n_jobs: int | None = None,
    load_if_exists: bool = True,
    show_progress_bar: bool = False,
    n_estimators: int = 500,
    callbacks: list[Callable[[optuna.Study, optuna.trial.FrozenTrial], None]] | None = None,
    early_stopping_rounds: int = 50,
    pruner: optuna.pruners.BasePruner | None = None,
    report_every: int = 10,
    optuna_verbosity: int | None = optuna.logging.WARNING,
    valid_groups: ArrayLike | None = None,
    estimator_params: dict[str, Any] | None = None,
    guard_fraction: float = 0.3,
    refit: bool | int = False,
    select_on: str = "log_wealth",
    threshold: float | None = None,
    refit_trials: int = 1,
) -> TuneResult:
    """Tune booster hyperparameters for validation log-wealth, refit, choose the threshold.

    Holdout mode (``n_splits=None``), one trial:

    1. fit on train, early-stopped (``early_stopping_rounds``, at most ``n_estimators``
       rounds) on the estimator's ``early_stopping_metric`` on valid (default: the mean
       surrogate loss; ``estimator_params={"early_stopping_metric": "log_wealth"}`` stops on
       log-wealth at probability 0.5);
    2. ``t = best_threshold(predict_proba(X_valid)[:, 1], log p_valid)``, or the fixed
       ``threshold``;
    3. value = valid log-wealth at ``t``; with ``select_on="loss"``, minus the model's mean
       surrogate loss on valid instead. User attrs: ``threshold``, ``n_rounds``,
       ``n_taken``, ``log_wealth`` (at ``t``) and ``log_wealth_at_0.5``.

    The value is optimistic: ``t`` is chosen and scored on the same rows (and early stopping
    also looks at them). ``log_wealth_at_0.5`` is the less flattering number; the test set is
    the honest one. Valid log-wealth at 0.5 of boosting rounds 0, ``report_every``,
    ``2 * report_every``, ... is reported to the pruner (default
    ``MedianPruner(n_startup_trials=5, n_warmup_steps=20)``; steps count rounds), which may
    prune a trial.

    Walk-forward mode (``n_splits=k``, for time-ordered rows): train and valid are joined in
    order and cut into ``k + 1`` consecutive blocks. Fold ``j = 1..k`` fits on blocks
    ``0..j-1`` (the most recent 20% of those rows serve for early stopping, so nothing from
    the future is used) and predicts block ``j``. Block ``j`` is scored at the threshold
    ``best_threshold`` picks on the out-of-fold predictions of blocks ``1..j-1`` (0.5 for
    ``j = 1``), so every decision uses only the past. Value = sum of the ``k`` fold
    log-wealths; the running sum is reported to the pruner after each fold (step ``j``; with
    the default pruner's 20 warm-up steps this prunes nothing unless ``k > 20``).

    In both modes the best parameters are refitted on train, early-stopped on valid, and take
    the threshold ``best_threshold`` chooses on valid probabilities (or the fixed
    ``threshold``): the holdout model, which the no-edge guard judges. With ``refit=True`` the
    final model is then fitted once more on train and all of valid (in that order), for
    ``n_rounds * (n_train + n_valid) / n_train`` rounds without early stopping, and keeps the
    holdout model's threshold; nothing scores it before the test set, so the guard's verdict
    is about its holdout twin. More data for the same choices: in the quality benchmark it
    added 0.1 to 1.7 points of the Bayes share on average, losing up to 0.7 in single seeds.
    With ``refit=K`` (``K >= 2``) the final model is instead a
    :class:`~boostobj.ensemble.CrossFitEnsemble` of the best parameters on train + valid: ``K``
    members, each fitted on all of those rows but one consecutive block and early-stopped on
    that block, their margins averaged. No round count is guessed, and the average is a bag of
    ``K`` models (see benchmarks/README.md for what it measured); it costs ``K`` fits.
    ``refit_trials=N`` averages the ensembles of the ``N`` best trials instead.
    The test set is never used to choose anything: it is scored once, at the end.

    A fresh study's first trial is :data:`DEFAULT_PARAMS`, so the tuned model's value is never
    below the untuned estimator's (the default pruner never prunes the first 5 trials; a
    custom pruner might). Studies are resumable (see :func:`make_storage`); resuming
    a study with another booster, validation mode, round budget or data raises ``ValueError``.

    Args:
        X_train, p_train: training features and payoff multipliers ``p > 0``.
        X_valid, p_valid: validation rows (after the training rows, for time-ordered data).
        booster: ``"xgboost"`` or ``"lightgbm"``.
        n_trials: trials to add in this call (``None`` with ``timeout``: until the timeout).
        timeout: stop starting trials after this many seconds.
        storage: ``None`` (in memory), a path or URL (see :func:`make_storage`).
        study_name: name of the study within ``storage``.
        X_test, p_test: optional test rows, scored at the end only.
        n_splits: walk-forward folds instead of the holdout value (see above).
        seed: seed of the TPE sampler and of the boosters.
        n_jobs: threads per booster fit (``None``: booster default, all cores). Trials run
            one at a time; for parallel trials run several processes against one storage.
            On a busy machine keep threads <= free cores: with 2 threads on 2 loaded cores
            a small study ran 25x slower than with 1 (OpenMP threads spin-wait).
        load_if_exists: resume a stored study of that name instead of raising.
        show_progress_bar: Optuna's progress bar.
        n_estimators: most boosting rounds per fit.
        callbacks: Optuna ``study.optimize`` callbacks ``f(study, frozen_trial)``.
        early_stopping_rounds: patience on the validation early-stopping metric.
        pruner: Optuna pruner; ``None`` gives the median pruner above.
        report_every: report to the pruner every this many boosting rounds. Each report is
            a storage write (about 40 ms with SQLite, 6 ms with a journal file), so
            reporting every round can cost more than the boosting.
        optuna_verbosity: Optuna log level during the call; ``None`` leaves it alone.
        valid_groups: optional group id per validation row (e.g. dates) for the no-edge
            guard's split and block bootstrap (see :mod:`boostobj.guard`).
        estimator_params: fixed estimator arguments for every trial, e.g.
            ``{"loss": "kelly"}``, ``{"loss": "logistic", "loss_params": {"power": 0.5}}`` or
            ``{"loss": "outcome", "payoff_columns": (i_win, i_loss)}``. Part of the study's
            identity: a stored study resumes only with the same ones.
        guard_fraction: share of the validation rows, the last ones (cut between
            ``valid_groups``), held out from every choice (early stopping, hyperparameters,
            threshold) for the no-edge guard, which judges the final model's decisions there.
            ``0`` uses all rows for tuning and cross-fits the guard's threshold instead, which
            is optimistic after many trials.
        refit: fit the final model on train + valid (see above). ``True`` (or 1): one model;
            the number of rounds grows with the rows and the threshold is kept, both rules of
            thumb not measured on the new model. An integer ``K >= 2``: a cross-fitted
            ensemble of ``K`` members, at the holdout model's threshold.
        refit_trials: with ``refit=K >= 2``, cross-fit the ``refit_trials`` best trials (by
            value; fewer if fewer completed) and average all their members: a bag of
            configurations as well as of blocks, ``K * refit_trials`` fits. The holdout
            model, threshold and guard stay the best trial's.
        select_on: what a trial's value measures on valid. ``"log_wealth"`` (default): the
            hard metric at the trial's threshold; exact for the goal but noisy, and the best
            threshold is chosen on the same rows. ``"loss"``: minus the mean surrogate loss
            (per fold in walk-forward mode, averaged), which is smooth; the pruner then also
            follows the loss. Right when the model's probability itself drives the decision,
            as with ``payoff_columns``: in the quality benchmark it picked better
            hyperparameters there (see benchmarks/README.md). The study still maximises.
        threshold: a fixed probability threshold in ``(0, 1)`` for every trial and the final
            model, instead of tuning one on valid. ``0.5`` with ``payoff_columns`` is the
            decision ``expected log payoff > 0`` under the model.

    Raises:
        ValueError: bad inputs (lengths, ``p <= 0``, feature counts, unknown booster, bad
            storage, a stored study that does not match).
        RuntimeError: when the study has no completed trial to refit.
    """
    from .sklearn import check_features

    booster = _check_booster(booster)
    _check_n_trials(n_trials)
    Xtr, Xva = check_features(X_train, "X_train"), check_features(X_valid, "X_valid")
    r_tr, r_va = log_payoff(p_train, name="p_train"), log_payoff(p_valid, name="p_valid")
    check_same_length(X_train=Xtr, p_train=r_tr)
    check_same_length(X_valid=Xva, p_valid=r_va)
    if Xva.shape[1] != Xtr.shape[1]:
        raise ValueError(f"X_valid has {Xva.shape[1]} features; X_train has {Xtr.shape[1]}")
    if not 0.0 <= guard_fraction < 1.0:
        raise ValueError(f"guard_fraction must be in [0, 1), got {guard_fraction!r}")
    if select_on not in SELECT_ON:
        raise ValueError(f"select_on must be one of {SELECT_ON}, got {select_on!r}")
    if threshold is not None and not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must be None (tune it) or in (0, 1), got {threshold!r}")
    fixed = None if threshold is None else float(threshold)
    n_refit = _refit_members(refit)
    if isinstance(refit_trials, bool) or int(refit_trials) != refit_trials or refit_trials < 1:
        raise ValueError(f"refit_trials must be an integer >= 1; got {refit_trials!r}")
    if refit_trials > 1 and n_refit < 2:
        raise ValueError("refit_trials > 1 averages cross-fitted ensembles: it needs refit=K >= 2")
    p_va = np.asarray(p_valid, dtype=np.float64)
    full_valid = (Xva, p_va)  # before the guard's rows are cut off: refit uses them all
    groups = None if valid_groups is None else np.asarray(valid_groups)
    if groups is not None:
        check_same_length(X_valid=Xva, valid_groups=groups)
    guard_rows = None
    if guard_fraction > 0:  # the last rows of valid choose nothing; the guard judges there
        cut = _guard_cut(r_va.size, guard_fraction, groups)
        guard_rows = (Xva[cut:], r_va[cut:], None if groups is None else groups[cut:])
        Xva, r_va, p_va = Xva[:cut], r_va[:cut], p_va[:cut]
        groups = None if groups is None else groups[:cut]
    X_valid, p_valid = Xva, p_va
    if (X_test is None) != (p_test is None):
        raise ValueError("give both X_test and p_test, or neither")
    Xte, r_te = None, None
    if X_test is not None:
        Xte = check_features(X_test, "X_test")
        r_te = log_payoff(p_test, name="p_test")  # type: ignore[arg-type]
        check_same_length(X_test=Xte, p_test=r_te)
        if Xte.shape[1] != Xtr.shape[1]:
            raise ValueError(f"X_test has {Xte.shape[1]} features; X_train has {Xtr.shape[1]}")
    if n_splits is not None:
        if isinstance(n_splits, bool) or int(n_splits) != n_splits or n_splits < 1:
            raise ValueError(f"n_splits must be a positive integer or None; got {n_splits!r}")
        if (r_tr.size + r_va.size) // (n_splits + 1) < 10:
            raise ValueError(
                f"n_splits={n_splits} leaves fewer than 10 rows per block "
                f"({r_tr.size + r_va.size} rows in train + valid)"
            )
    if int(n_estimators) < 1:
        raise ValueError(f"n_estimators must be >= 1; got {n_estimators}")
    if int(report_every) < 1:
        raise ValueError(f"report_every must be >= 1; got {report_every}")

    def make(params: dict[str, Any]) -> _WealthClassifier:
        return _make_estimator(
            booster,
            params,
            n_estimators=n_estimators,
            early_stopping_rounds=early_stopping_rounds,
            seed=seed,
            n_jobs=n_jobs,
            estimator_params=estimator_params,
        )

    if n_splits is not None:
        X_all = np.concatenate([Xtr, Xva])
        p_all = np.concatenate([np.asarray(p_train, np.float64), np.asarray(p_valid, np.float64)])
        r_all = np.concatenate([r_tr, r_va])

    def objective(trial: optuna.Trial) -> float:
        params = search_space(trial, booster)
        if n_splits is not None:
            return _walk_forward_value(
                trial, lambda: make(params), X_all, p_all, r_all, int(n_splits), select_on, fixed
            )  # fmt: skip
        model = make(params).fit(
            X_train,
            p_train,
            eval_set=[(X_valid, p_valid)],
            callbacks=[_pruning_callback(booster, trial, report_every, select_on)],
        )
        prob = _proba(model, Xva)
        best = _threshold(prob, r_va, fixed)
        trial.set_user_attr("threshold", _clip_threshold(best.threshold))
        trial.set_user_attr("n_rounds", int(model.n_rounds_))
        trial.set_user_attr("n_taken", best.n_taken)
        trial.set_user_attr("log_wealth", best.log_wealth)
        trial.set_user_attr("log_wealth_at_0.5", log_wealth(r_va, prob >= 0.5))
        return best.log_wealth if select_on == "log_wealth" else _minus_loss(model, Xva, r_va)

    config = {
        "kind": "tune",
        "booster": booster,
        "validation": "holdout" if n_splits is None else f"walk_forward({int(n_splits)})",
        "n_estimators": int(n_estimators),
        "early_stopping_rounds": int(early_stopping_rounds),
        "estimator_params": json.dumps(estimator_params or {}, sort_keys=True, default=str),
        "data": _fingerprint(Xtr, r_tr, Xva, r_va),
        "guard_fraction": float(guard_fraction),
    }
    if select_on != "log_wealth":
        config["select_on"] = select_on
    if fixed is not None:
        config["threshold"] = fixed
    if pruner is None:
        pruner = optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=20)
    with _optuna_verbosity(optuna_verbosity):
        study = _create_study(storage, study_name, seed, load_if_exists, pruner)
        _bind_study(study, config, f"tune(booster={booster!r}) on these data")
        if not study.trials:
            study.enqueue_trial(DEFAULT_PARAMS[booster])
        study.optimize(
            objective,
            n_trials=n_trials,
            timeout=timeout,
            callbacks=callbacks,
            show_progress_bar=show_progress_bar,
        )
        complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        if not complete:
            raise RuntimeError(
                f"study {study.study_name!r} has no completed trial to refit "
                f"({len(study.trials)} trials, all pruned, failed or running); "
                "run more trials (n_trials, timeout) or relax the pruner"
            )
        best_params = dict(study.best_trial.params)

    model = make(best_params).fit(X_train, p_train, eval_set=[(X_valid, p_valid)])
    threshold = _clip_threshold(_threshold(_proba(model, Xva), r_va, fixed).threshold)
    model.threshold = threshold
    valid = _report(model, Xva, r_va)
    test = None if r_te is None else _report(model, Xte, r_te)
    if guard_rows is None:
        recommendation = recommend_policy(_proba(model, Xva), r_va, block=groups, seed=seed)
    else:
        Xg, rg, bg = guard_rows
        take = model.predict(Xg).astype(bool)
        rows = f"on the last {rg.size} validation rows, held out from every choice"
        trivial = "take_all" if r_va.sum() + rg.sum() > 0 else "take_none"  # on all of valid
        recommendation = judge_policy(take, rg, block=bg, seed=seed, rows=rows, trivial=trivial)
    holdout_model = model
    if n_refit:
        X_fit = np.concatenate([Xtr, full_valid[0]])
        p_fit = np.concatenate([np.asarray(p_train, np.float64), full_valid[1]])
        if n_refit == 1:
            model = _refit_on_all(make(best_params), holdout_model, r_tr.size, X_fit, p_fit)
        else:
            from .ensemble import CrossFitEnsemble

            ests = [make(t.params) for t in _best_trials(complete, int(refit_trials))]
            est = ests[0] if len(ests) == 1 else ests
            model = CrossFitEnsemble(est, n_folds=n_refit, threshold=threshold).fit(X_fit, p_fit)
        test = None if r_te is None else _report(model, Xte, r_te)
    return TuneResult(
        model, threshold, study, best_params, valid, test, recommendation, holdout_model
    )


def _best_trials(
    complete: list[optuna.trial.FrozenTrial], n: int
) -> list[optuna.trial.FrozenTrial]:
    """The ``n`` best completed trials of a maximising study, best first (ties: oldest)."""
    return sorted(complete, key=lambda t: (-float(t.value), t.number))[:n]  # type: ignore[arg-type]


def _refit_members(refit: bool | int) -> int:
    """``tune``'s ``refit`` as a number of final models: 0 (none), 1, or ``K >= 2`` members."""
    if isinstance(refit, bool):
        return int(refit)
    if not isinstance(refit, (int, np.integer)) or refit < 0:
        raise ValueError(f"refit must be True, False or a number of folds >= 2; got {refit!r}")
    return int(refit)


def _refit_on_all(
    model: _WealthClassifier,
    holdout: _WealthClassifier,
    n_train: int,
    X: NDArray[np.float64],
    p: NDArray[np.float64],
) -> _WealthClassifier:
    """``model`` fitted on all rows ``X`` for the holdout model's rounds scaled by the rows."""
    n_rounds = max(1, round(holdout.n_rounds_ * p.size / n_train))
    model.set_params(n_estimators=n_rounds, early_stopping_rounds=None)
    model.fit(X, p)
    model.threshold = holdout.threshold
    return model
