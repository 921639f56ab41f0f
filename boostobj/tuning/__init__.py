"""Optuna tuning of booster hyperparameters and of the decision threshold, resumable.

Two entry points:

- :func:`tune`: search the hyperparameters of :class:`~boostobj.XGBWealthClassifier` or
  :class:`~boostobj.LGBMWealthClassifier`, choose the threshold on validation rows, let the
  build the model to deploy, and let the no-edge guard judge it on rows that chose nothing.
  The test set, if given, is only scored at the end.
- :func:`tune_threshold`: a one-parameter study over the threshold of fixed scores. It exists
  to measure Optuna against the exact answer, :func:`boostobj.metrics.best_threshold`, which
  should be used in practice: it is exact and costs one sort.

:func:`tune` orchestrates small config objects, each checking itself when built:

- the study (:class:`StudyConfig`: storage, name, resume, pruner; or an ``optuna.Study``);
- the validation mode (:class:`Holdout` or :class:`WalkForward`);
- the final model (:class:`HoldoutModel`, :class:`Refit` or :class:`CrossFit`).

Studies are resumable: every finished trial is committed to the storage, so a killed process
loses only the trial it was running; ``StudyConfig(resume=True)`` with the same storage and
name adds trials (with a sampler seed mixed with the number of trials stored, so earlier
proposals are not repeated). Several processes may share one journal file (or a server
database) to search in parallel; give each its own ``seed``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import optuna
from numpy.typing import ArrayLike

from .. import _defaults
from .._backend import BACKENDS, get_backend
from .._validation import Rows, check_same_length
from ..guard import Evaluation, Recommendation, best_trivial, judge_policy, recommend_policy
from ..guard import split_point as _split_point
from ..losses import get_loss
from ..policy import Policy
from ._final import CrossFit, HoldoutModel, Refit
from ._objective import (
    SELECT_ON,
    Holdout,
    Problem,
    WalkForward,
    choose_threshold,
    clip_threshold,
    net_margin,
    proba,
)
from ._payoffs import TwoPart, resolve_payoffs
from ._study import StudyConfig, check_n_trials, fingerprint, make_storage, optuna_verbosity
from ._threshold import tune_threshold

__all__ = [
    "BOOSTERS",
    "DEFAULT_PARAMS",
    "SELECT_ON",
    "CrossFit",
    "Holdout",
    "HoldoutModel",
    "Refit",
    "StudyConfig",
    "TuneResult",
    "TwoPart",
    "WalkForward",
    "make_estimator",
    "make_storage",
    "search_space",
    "tune",
    "tune_threshold",
]

#: Booster names accepted by :func:`tune`.
BOOSTERS = tuple(BACKENDS)
#: The first trial of a fresh :func:`tune` study per booster: the estimators' defaults, so
#: the tuned model is never worse on validation than the untuned one.
DEFAULT_PARAMS: dict[str, dict[str, Any]] = {
    name: dict(get_backend(name).default_params) for name in BOOSTERS
}

SearchSpace = Callable[[optuna.Trial], dict[str, Any]]
Validation = Holdout | WalkForward
FinalModel = HoldoutModel | Refit | CrossFit


def make_estimator(
    booster: str,
    point: Mapping[str, Any] | None = None,
    *,
    estimator_params: Mapping[str, Any] | None = None,
    seed: int = 0,
) -> Any:
    """The unfitted estimator :func:`tune` builds for one search-space ``point`` (default:
    the backend's ``default_params``), with its fixed ``estimator_params`` and ``seed``."""
    backend = get_backend(booster)
    make = _estimator_factory(booster, estimator_params, seed)[0]
    return make(backend.default_params if point is None else point)


def search_space(trial: optuna.Trial, booster: str) -> dict[str, Any]:
    """One point of ``booster``'s default search space (its backend's ``search_space``);
    keys are the booster's own parameter names."""
    return get_backend(booster).search_space(trial)


@dataclass
class TuneResult:
    """What :func:`tune` returns.

    Attributes:
        model: the final model, with ``model.threshold`` set to :attr:`threshold`:
            :attr:`holdout_model`, or the final strategy's refit / cross-fitted ensemble.
            Deploy :attr:`policy`, which applies the guard's verdict to it.
        threshold: probability threshold chosen on validation only (1.0: take nothing,
            0.0: take everything).
        study: the Optuna study (all trials, also those of earlier sessions).
        best_params: the best trial's parameters (as the study stores them).
        valid: log-wealth on the tuning part of valid of the holdout model (``"model"``), of
            taking every row and of none, with ``n_taken`` and ``n_rows``. Optimistic: the
            threshold was chosen on these rows.
        test: the same for :attr:`model` on the test rows, or ``None``. The only honest
            estimate.
        recommendation: the no-edge guard's verdict: deploy the model only if
            ``recommendation.policy == "model"``; otherwise the trivial policy it names. Its
            reason says which rows it judged (``evaluations["out_of_fold"]`` or
            ``["guard"]``).
        holdout_model: the best parameters fitted on train, early-stopped on valid: the model
            :attr:`valid` and ``evaluations["guard"]`` judged.
        evaluations: per set of rows (``"valid"``, ``"guard"`` where the guard held rows
            out, ``"out_of_fold"`` where the cross-fit was judged out of fold, ``"test"``):
            the decisions, the trivial policies, Bayes where known, and the verdict given
            there. Every number of ``boostobj tune``'s report comes from here.
        method: what the model learned: ``"two_part"`` (payoffs estimated, then the
            win probability; :attr:`model` is a :class:`~boostobj.two_part.TwoPartModel`),
            ``"payoffs_known"`` (``payoff_columns``) or ``"surrogate"`` (a loss of ``p``).
    """

    model: Any
    threshold: float
    study: optuna.Study
    best_params: dict[str, Any]
    valid: dict[str, float]
    test: dict[str, float] | None
    recommendation: Recommendation
    holdout_model: Any
    evaluations: dict[str, Evaluation] = field(default_factory=dict)
    method: str = "surrogate"

    @property
    def policy(self) -> Policy:
        """What to deploy: :attr:`model` with the guard's verdict; its ``predict`` applies
        the recommended policy (the model, take every row, or take none)."""
        rec = self.recommendation
        return Policy(self.model, rec.policy, rec.reason, rec)

    def summary(self) -> dict[str, Any]:
        """A JSON-serialisable summary (no model or study objects)."""
        states = [t.state for t in self.study.get_trials(deepcopy=False)]
        best = self.study.best_trial
        return {
            "booster": self.model.booster_name,
            "method": self.method,
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
            "evaluations": {name: ev.summary() for name, ev in self.evaluations.items()},
        }


# -- inputs -------------------------------------------------------------------------------------
def _rows(X: Any, p: ArrayLike | None, name: str, train: Rows | None = None) -> Rows:
    """``X`` and ``p`` checked into :class:`Rows` (``X`` may already be one, with ``p=None``);
    categorical columns coded by the levels of ``train`` when given (valid and test rows)."""
    if isinstance(X, Rows):
        if p is not None:
            raise ValueError(f"X_{name} is a Rows value, which holds log p: give p_{name}=None")
        return X
    if p is None:
        raise ValueError(f"p_{name} is missing: give the payoff multipliers of X_{name}")
    levels = None if train is None else train.categories
    return Rows.from_payoff(X, p, x_name=f"X_{name}", p_name=f"p_{name}", categories=levels)


def _inputs(
    X_train: Any, p_train: Any, X_valid: Any, p_valid: Any, X_test: Any, p_test: Any
) -> tuple[Rows, Rows, Rows | None]:
    """``(train, valid, test or None)`` rows, valid and test coded by train's levels."""
    if (X_test is None) != (p_test is None) and not isinstance(X_test, Rows):
        raise ValueError("give both X_test and p_test, or neither")
    train = _rows(X_train, p_train, "train")
    test = None if X_test is None else _rows(X_test, p_test, "test", train)
    return train, _rows(X_valid, p_valid, "valid", train), test


def _guard_cut(n: int, fraction: float, groups: Any) -> int:
    """First row of the guard's holdout: ``n * (1 - fraction)``, at a group boundary."""
    cut = _split_point(n, 1.0 - fraction, groups)
    if not 2 <= cut <= n - 2:
        raise ValueError(
            f"guard_fraction={fraction} leaves {cut} of {n} validation rows for tuning and "
            f"{n - cut} for the guard; give more validation rows or guard_fraction=0"
        )
    return cut


@dataclass(frozen=True)
class _Split:
    """The rows of one :func:`tune` call: ``valid`` chooses, ``guard`` judges, ``test`` scores."""

    train: Rows
    valid: Rows
    full_valid: Rows
    guard: Rows | None
    test: Rows | None


def _split(
    train: Rows, valid: Rows, test: Rows | None, groups: ArrayLike | None, guard_fraction: float
) -> _Split:
    if not 0.0 <= guard_fraction < 1.0:
        raise ValueError(f"guard_fraction must be in [0, 1), got {guard_fraction!r}")
    for other, what in ((valid, "X_valid"), (test, "X_test")):
        if other is not None and other.n_features != train.n_features:
            raise ValueError(
                f"{what} has {other.n_features} features; X_train has {train.n_features}"
            )
    if groups is not None:
        g = np.asarray(groups)
        check_same_length(X_valid=valid.X, valid_groups=g)
        valid = replace(valid, groups=g)
    if guard_fraction == 0:
        return _Split(train, valid, valid, None, test)
    cut = _guard_cut(len(valid), guard_fraction, valid.groups)
    return _Split(train, valid.take(slice(None, cut)), valid, valid.take(slice(cut, None)), test)


def _check_select(
    select_on: str, threshold: float | str | None, fixed: Mapping[str, Any]
) -> float | None:
    """The fixed threshold every trial uses, or ``None`` (tune one on valid).

    ``"auto"``: the loss's Bayes cut where its population minimiser has one (0.5 for the
    log(p)-weighted logistic and soft-wealth losses, and for payoffs known at decision time,
    where the cut applies to the margin net of break-even), else tuned.
    """
    if select_on not in SELECT_ON:
        raise ValueError(f"select_on must be one of {SELECT_ON}, got {select_on!r}")
    if threshold is None:
        import warnings

        message = 'tune(threshold=None) is deprecated; use threshold="tune" to tune one'
        warnings.warn(message, DeprecationWarning, stacklevel=3)
        threshold = "tune"
    if threshold == "auto":
        loss = get_loss(fixed.get("loss", "logistic"), **(fixed.get("loss_params") or {}))
        known = fixed.get("payoff_columns") is not None
        return 0.5 if known and not loss.stake else loss.bayes_threshold
    if threshold == "tune":
        return None
    if isinstance(threshold, str) or not 0.0 < threshold < 1.0:
        raise ValueError(f'threshold must be "auto", "tune" or in (0, 1), got {threshold!r}')
    return float(threshold)


def _estimator_factory(
    booster: str, estimator_params: Mapping[str, Any] | None, seed: int
) -> tuple[Callable[[Mapping[str, Any]], Any], dict[str, Any]]:
    """``make(point) -> unfitted estimator`` and the fixed estimator arguments it uses."""
    from ..sklearn import ESTIMATORS

    backend = get_backend(booster)
    fixed: dict[str, Any] = {
        "n_estimators": _defaults.N_ESTIMATORS,
        "early_stopping_rounds": _defaults.EARLY_STOPPING_ROUNDS,
        "n_jobs": _defaults.N_JOBS,
        **(estimator_params or {}),
        "random_state": seed,
    }
    n_estimators = fixed["n_estimators"]
    if isinstance(n_estimators, bool) or int(n_estimators) != n_estimators or n_estimators < 1:
        raise ValueError(f"n_estimators must be an integer >= 1; got {n_estimators!r}")

    def make(point: Mapping[str, Any]) -> Any:
        kwargs = backend.estimator_kwargs(point)
        params = {**(fixed.get("params") or {}), **kwargs.pop("params", {})}
        return ESTIMATORS[booster](**{**fixed, **kwargs, "params": params})

    return make, fixed


def _study_identity(
    booster: str,
    validation: Validation,
    fixed: Mapping[str, Any],
    split: _Split,
    guard_fraction: float,
    select_on: str,
    threshold: float | None,
    space: SearchSpace | None,
) -> dict[str, Any]:
    """What a stored study must match to be resumed (trials are comparable only then)."""
    rest = {k: v for k, v in fixed.items() if k not in _RUN_KEYS}
    config: dict[str, Any] = {
        "kind": "tune",
        "booster": booster,
        "validation": validation.describe(),
        "n_estimators": int(fixed["n_estimators"]),
        "early_stopping_rounds": int(fixed["early_stopping_rounds"] or 0),
        "estimator_params": json.dumps(rest, sort_keys=True, default=str),
        "data": fingerprint(split.train.X, split.train.log_p, split.valid.X, split.valid.log_p),
        "guard_fraction": float(guard_fraction),
    }
    if select_on != "log_wealth":
        config["select_on"] = select_on
    if threshold is not None:
        config["threshold"] = threshold
    if space is not None:
        config["search_space"] = f"{space.__module__}.{getattr(space, '__qualname__', space)}"
    return config


#: Estimator arguments that do not change what a trial measures (not part of a study's identity).
_RUN_KEYS = ("n_estimators", "early_stopping_rounds", "n_jobs", "random_state")


# -- the old keywords ------------------------------------------------------------------------
_STUDY_KEYWORDS = {
    "storage": "storage",
    "study_name": "name",
    "load_if_exists": "resume",
    "pruner": "pruner",
    "report_every": "report_every",
    "callbacks": "callbacks",
    "show_progress_bar": "show_progress_bar",
    "optuna_verbosity": "optuna_verbosity",
}
_ESTIMATOR_KEYWORDS = ("n_estimators", "early_stopping_rounds", "n_jobs")


def _warn(old: str, new: str) -> None:
    import warnings

    warnings.warn(
        f"tune({old}=...) is deprecated and will be removed in the next release; use {new}",
        DeprecationWarning,
        stacklevel=4,
    )


def _legacy(
    old: dict[str, Any],
    study: StudyConfig | optuna.Study | None,
    validation: Validation,
    final: FinalModel,
    estimator_params: Mapping[str, Any] | None,
) -> tuple[StudyConfig | optuna.Study | None, Validation, FinalModel, dict[str, Any]]:
    """Map the keywords of the previous release onto the config objects, each with a
    ``DeprecationWarning`` naming its replacement."""
    unknown = sorted(set(old) - set(_STUDY_KEYWORDS) - set(_ESTIMATOR_KEYWORDS) - _OTHER_KEYWORDS)
    if unknown:
        raise TypeError(f"tune() got an unexpected keyword argument {unknown[0]!r}")
    params = dict(estimator_params or {})
    for key in _ESTIMATOR_KEYWORDS:
        if key in old:
            _warn(key, f'estimator_params={{"{key}": ...}}')
            params[key] = old.pop(key)
    study_kw = {_STUDY_KEYWORDS[k]: old.pop(k) for k in list(old) if k in _STUDY_KEYWORDS}
    if study_kw:
        if study is not None:
            raise ValueError(f"give study=... or {', '.join(study_kw)}, not both")
        _warn(", ".join(study_kw), "study=StudyConfig(...)")
        study_kw.setdefault("resume", True)  # the old default of load_if_exists
        study = StudyConfig(**study_kw)
    if "n_splits" in old:
        _warn("n_splits", "validation=WalkForward(n_splits)")
        n = old.pop("n_splits")
        validation = Holdout() if n is None else WalkForward(n)
    if "refit" in old or "refit_trials" in old:
        refit, top = old.pop("refit", False), old.pop("refit_trials", 1)
        _warn("refit", "final=Refit() or final=CrossFit(k, top)")
        final = _final_from_refit(refit, top)
    return study, validation, final, params


_OTHER_KEYWORDS = {"n_splits", "refit", "refit_trials"}


def _final_from_refit(refit: bool | int, top: int) -> FinalModel:
    """The old ``refit`` / ``refit_trials`` pair as a final-model strategy."""
    if isinstance(top, bool) or int(top) != top or top < 1:
        raise ValueError(f"refit_trials must be an integer >= 1; got {top!r}")
    n = int(refit) if isinstance(refit, bool) else refit
    if not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"refit must be True, False or a number of folds >= 2; got {refit!r}")
    if top > 1 and n < 2:
        raise ValueError("refit_trials > 1 averages cross-fitted ensembles: it needs refit=K >= 2")
    if n == 0:
        return HoldoutModel()
    return Refit() if n == 1 else CrossFit(int(n), int(top))


# -- tune -------------------------------------------------------------------------------------
def tune(
    X_train: Any,
    p_train: ArrayLike | None,
    X_valid: Any,
    p_valid: ArrayLike | None,
    *,
    booster: str = "xgboost",
    n_trials: int | None = _defaults.N_TRIALS,
    timeout: float | None = None,
    study: StudyConfig | optuna.Study | None = None,
    validation: Validation = Holdout(),  # noqa: B008  # frozen, immutable
    final: FinalModel = CrossFit(),  # noqa: B008
    select_on: str = "loss",
    threshold: float | str | None = "auto",
    X_test: Any = None,
    p_test: ArrayLike | None = None,
    valid_groups: ArrayLike | None = None,
    estimator_params: Mapping[str, Any] | None = None,
    search_space: SearchSpace | None = None,
    guard_fraction: float = _defaults.GUARD_FRACTION,
    payoffs: TwoPart | str | None = "auto",
    seed: int = 0,
    **deprecated: Any,
) -> TuneResult:
    """Tune booster hyperparameters for validation log-wealth, judge, and build the model.

    The defaults are the best configuration measured (benchmarks/results/defaults.md).

    1. Each trial is scored by ``validation`` (:class:`Holdout`: on the validation rows;
       :class:`WalkForward`: out of fold, for time-ordered rows). With ``select_on="loss"``
       (default) its value is minus the mean surrogate loss (smooth, so less luck in the
       choice); with ``"log_wealth"`` the log-wealth at the threshold.
       Valid values are reported to the pruner every ``report_every`` rounds.
    2. The best parameters fitted on train, early-stopped on valid, take the threshold chosen
       on valid: the holdout model (the best trial's own model where this process fitted it).
    3. ``final`` builds the model to deploy from the best trials (:class:`HoldoutModel`,
       :class:`Refit`, :class:`CrossFit`), at the holdout model's threshold.
    4. The no-edge guard (:mod:`boostobj.guard`) judges decisions on rows that chose nothing
       (early stopping, hyperparameters, threshold). With the default ``CrossFit()``, on
       exchangeable rows (no ``valid_groups``, :class:`Holdout`): the members' out-of-fold
       decisions on the train rows and the last ``guard_fraction`` of valid, about eight
       times the guard rows alone (the members run the holdout model's rounds, so none
       chose anything on the block it scores). Otherwise the holdout model's decisions on
       those last validation rows; with ``guard_fraction=0`` it then cross-fits the
       threshold on valid, which is optimistic after many trials. Trap: rows in time order
       without ``valid_groups`` are not exchangeable; pass the groups (dates), or
       ``CrossFit(out_of_fold=False)``.
    5. The test rows, if given, are scored once, at the end, and judged by the same guard.

    A fresh study's first trial is the backend's ``default_params`` (default search space).

    Args:
        X_train, p_train: training features and payoff multipliers ``p > 0`` (or a
            :class:`boostobj._validation.Rows` as ``X_train`` and ``p_train=None``; the same
            for valid and test).
        X_valid, p_valid: validation rows (after the training rows, for time-ordered data).
        booster: a name in :data:`BOOSTERS`.
        n_trials: trials to add in this call (``None`` with ``timeout``: until the timeout).
        timeout: stop starting trials after this many seconds.
        study: a :class:`StudyConfig` (storage, name, ``resume``, pruner, callbacks, ...), an
            ``optuna.Study`` to add trials to, or ``None`` (in memory).
        validation: :class:`Holdout` (default) or :class:`WalkForward`.
        final: :class:`CrossFit` (default, ``k=5``), :class:`Refit` or :class:`HoldoutModel`
            (fast: the holdout model itself, no extra fits).
        select_on: ``"loss"`` (default) or ``"log_wealth"``: what a trial's value measures.
        threshold: ``"auto"`` (default): the loss's Bayes cut 0.5 (with ``payoff_columns``:
            expected log payoff > 0), tuned where it has none; ``"tune"``: the cut
            :func:`~boostobj.metrics.best_threshold` picks on valid; or a number in (0, 1).
        X_test, p_test: optional test rows, scored at the end only.
        valid_groups: optional group id per validation row (e.g. dates) for the guard's cut
            and block bootstrap.
        estimator_params: fixed estimator arguments for every fit (``n_estimators``,
            ``early_stopping_rounds``, ``n_jobs``, ``loss``, ``payoff_columns``, ...); the
            defaults are boostobj's (500 rounds, patience 50, all cores). On a busy machine
            keep ``n_jobs`` <= free cores: OpenMP threads spin-wait.
        search_space: ``f(trial) -> point`` instead of the backend's search space; the point's
            keys are the estimator's named parameters or booster parameters.
        guard_fraction: share of the validation rows the guard holds out, in ``[0, 1)``.
        payoffs: ``"auto"`` (default): where ``estimator_params`` name no ``loss`` and no
            ``payoff_columns``, and at least 200 training rows won and 200 lost, the
            two-part model (:class:`TwoPart`: each outcome's payoff estimated by two
            cross-fitted regressions, then the payoffs-known model on the features plus the
            estimates), else the loss of ``p``; ``TwoPart(...)``: always the two-part
            model; ``None``: the loss of ``p`` (``estimator_params["loss"]``, default the
            log(p)-weighted logistic). :attr:`TuneResult.method` says which ran.
        seed: seed of the TPE sampler and of the boosters.

    Raises:
        ValueError: bad inputs, a stored study that does not match or exists without resume.
        RuntimeError: when the study has no completed trial.
    """
    study, validation, final, params = _legacy(
        deprecated, study, validation, final, estimator_params
    )
    backend = get_backend(booster)
    check_n_trials(n_trials)
    train, valid, test = _inputs(X_train, p_train, X_valid, p_valid, X_test, p_test)
    split = _split(train, valid, test, valid_groups, guard_fraction)
    validation.check(len(split.train) + len(split.valid))
    two_part = resolve_payoffs(payoffs, params, split.train)
    estimate = None
    if two_part is not None:
        estimate, split, params = _estimate_payoffs(two_part, split, booster, params, seed)
    make, fixed = _estimator_factory(booster, params, seed)
    fixed_threshold = _check_select(select_on, threshold, fixed)
    config = StudyConfig() if study is None or isinstance(study, optuna.Study) else study
    space = search_space or backend.search_space
    problem = Problem(split.train, split.valid, backend, make, space, select_on,
                      fixed_threshold, config.report_every)  # fmt: skip
    identity = _study_identity(
        booster, validation, fixed, split, guard_fraction, select_on, fixed_threshold, search_space
    )
    if two_part is not None:
        identity["payoffs"] = two_part.describe()
    with optuna_verbosity(config.optuna_verbosity):
        objective = validation.objective(problem)
        first = None if search_space else backend.default_params
        optuna_study = _run_study(study, config, identity, seed, objective, n_trials, timeout,
                                  first)  # fmt: skip
    result = _finish(optuna_study, problem, split, objective, final, validation, seed)
    return _with_method(result, estimate, params)


def _estimate_payoffs(
    two_part: TwoPart, split: _Split, booster: str, params: Mapping[str, Any], seed: int
) -> tuple[Any, _Split, dict[str, Any]]:
    """The payoff regressions fitted on the train rows (:mod:`boostobj.two_part`), every
    row of ``split`` with the two estimated payoffs appended (the train rows' out of fold),
    and the decider's estimator arguments."""
    from ..two_part import PayoffEstimate, payoff_regressor

    default = make_estimator(booster, estimator_params=params, seed=seed)
    regressor = payoff_regressor(default, two_part.learning_rate)
    payoffs, train = PayoffEstimate.fit_rows(split.train, regressor, two_part.n_folds)

    # valid and guard are the two ends of full_valid: estimate its rows once, cut the same way
    full_valid = payoffs.augment(split.full_valid)
    n_valid = len(split.valid)
    valid = full_valid if split.guard is None else full_valid.take(slice(None, n_valid))
    guard = None if split.guard is None else full_valid.take(slice(n_valid, None))
    test = None if split.test is None else payoffs.augment(split.test)
    new = _Split(train, valid, full_valid, guard, test)
    decider = {**params, **PayoffEstimate.decider_params(split.train.n_features)}
    return payoffs, new, decider


def _with_method(result: TuneResult, payoffs: Any, params: Mapping[str, Any]) -> TuneResult:
    """``result`` with its :attr:`~TuneResult.method`; with estimated ``payoffs``, its models
    take the original features (:class:`~boostobj.two_part.TwoPartModel`)."""
    from ..two_part import TwoPartModel

    if payoffs is None:
        known = params.get("payoff_columns") is not None
        return replace(result, method="payoffs_known" if known else "surrogate")
    model = TwoPartModel.from_parts(payoffs, result.model)
    same = result.holdout_model is result.model
    holdout = model if same else TwoPartModel.from_parts(payoffs, result.holdout_model)
    return replace(result, model=model, holdout_model=holdout, method="two_part")


def _run_study(
    study: StudyConfig | optuna.Study | None,
    config: StudyConfig,
    identity: dict[str, Any],
    seed: int,
    objective: Callable[[optuna.Trial], float],
    n_trials: int | None,
    timeout: float | None,
    default_point: Mapping[str, Any] | None,
) -> optuna.Study:
    """Open (or take) the study, enqueue the default point on a fresh one, run the trials."""
    from ._study import bind_study

    what = f"tune(booster={identity['booster']!r}) on these data"
    if isinstance(study, optuna.Study):
        bind_study(study, identity, what)
    else:
        study = config.open(seed, identity, what)
    if not study.trials and default_point is not None:
        study.enqueue_trial(dict(default_point))
    study.optimize(
        objective,
        n_trials=n_trials,
        timeout=timeout,
        callbacks=list(config.callbacks),
        show_progress_bar=config.show_progress_bar,
    )
    if not study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
        raise RuntimeError(
            f"study {study.study_name!r} has no completed trial to build a model from "
            f"({len(study.trials)} trials, all pruned, failed or running); "
            "run more trials (n_trials, timeout) or relax the pruner"
        )
    return study


def _best_trials(study: optuna.Study, n: int) -> list[optuna.trial.FrozenTrial]:
    """The ``n`` best completed trials of a maximising study, best first (ties: oldest)."""
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    return sorted(complete, key=lambda t: (-float(t.value), t.number))[:n]  # type: ignore[arg-type]


def _evaluate(model: Any, rows: Rows, name: str) -> Evaluation:
    """The model's probabilities and decisions on ``rows`` (its own ``predict`` rule)."""
    from ..metrics import decide, sigmoid

    net = net_margin(model, rows.X)
    take = decide(net, model._cut())
    return Evaluation(name, rows.log_p, sigmoid(net), take, rows.groups, rows.expected_log_payoff)


def _judged(ev: Evaluation, rows: str, seed: int, trivial: str | None = None) -> Evaluation:
    """``ev`` with the guard's verdict on its rows (fallback: the better trivial policy there,
    or ``trivial``)."""
    from dataclasses import replace

    trivial = trivial or best_trivial(ev.log_p)
    verdict = judge_policy(
        ev.take, ev.log_p, block=ev.groups, seed=seed, rows=rows, trivial=trivial
    )
    return replace(ev, verdict=verdict)


def _guard(
    holdout: Any, split: _Split, evaluations: dict[str, Evaluation], seed: int
) -> Recommendation:
    """The guard's verdict on the holdout model, recorded with the rows it was given on; the
    tuning rows of valid are judged too (optimistically: they chose the model)."""
    from dataclasses import replace

    ev = evaluations["valid"]
    if split.guard is None:  # no held-out rows: cross-fit the threshold on valid
        verdict = recommend_policy(ev.score, ev.log_p, block=ev.groups, seed=seed)
        evaluations["valid"] = replace(ev, verdict=verdict)
        return verdict
    rows = f"on the {ev.n_rows} validation rows that chose the model and its threshold"
    evaluations["valid"] = _judged(ev, rows, seed)
    guard = _evaluate(holdout, split.guard, "guard")
    rows = f"on the last {guard.n_rows} validation rows, held out from every choice"
    trivial = best_trivial(split.full_valid.log_p)  # the better one on all of valid
    evaluations["guard"] = _judged(guard, rows, seed, trivial)
    return evaluations["guard"].verdict  # type: ignore[return-value]


def _numbers(ev: Evaluation) -> dict[str, float]:
    """``TuneResult.valid`` / ``.test``: log-wealth of the model and the trivial policies."""
    lw = ev.log_wealth
    return {
        "model": lw["model"],
        "take_all": lw["take_all"],
        "take_none": lw["take_none"],
        "n_taken": ev.n_taken,
        "n_rows": ev.n_rows,
    }


def _rounds(trials: list[optuna.trial.FrozenTrial], holdout: Any) -> list[int]:
    """Boosting rounds of the best trials, early-stopped on valid: the holdout model's for the
    best, the stored ``n_rounds`` (a walk-forward trial's mean over folds) for the rest."""
    out = [int(holdout.n_rounds_)]
    for trial in trials[1:]:
        stored = trial.user_attrs.get("n_rounds", holdout.n_rounds_)
        out.append(max(1, round(float(np.mean(stored)))))
    return out


def _judges_out_of_fold(final: FinalModel, validation: Validation, split: _Split) -> bool:
    """Whether the guard judges the cross-fit's out-of-fold decisions (see :class:`CrossFit`):
    its members chose nothing out of fold, and the rows are exchangeable (no groups, no
    walk-forward)."""
    return (
        isinstance(final, CrossFit)
        and final.out_of_fold
        and isinstance(validation, Holdout)
        and split.full_valid.groups is None
        and split.train.groups is None
    )


def _out_of_fold_guard(
    model: Any, rows: Rows, split: _Split, evaluations: dict[str, Evaluation], seed: int
) -> Recommendation:
    """The guard's verdict on the ensemble's out-of-fold decisions over the train and guard
    rows (``rows`` = train + all of valid); the tuning rows of valid, which chose the
    hyperparameters, the round count and the threshold, are left out."""
    from ..metrics import decide, sigmoid

    n_train, n_tuning = len(split.train), len(split.valid)
    judged = np.ones(len(rows), dtype=bool)
    judged[n_train : n_train + n_tuning] = False
    part = rows.take(np.flatnonzero(judged))
    margin = np.asarray(model.oof_margin_)[judged]
    ev = Evaluation(
        "out_of_fold", part.log_p, sigmoid(margin), decide(margin, model._cut()),
        None, part.expected_log_payoff,
    )  # fmt: skip
    where = f"{n_train} train" + ("" if split.guard is None else f", {len(split.guard)} guard")
    described = (
        f"out of fold on {ev.n_rows} rows ({where}; each decided by the cross-fit member that "
        "did not train on it, none chose the hyperparameters, round count or threshold)"
    )
    evaluations["out_of_fold"] = _judged(ev, described, seed)
    return evaluations["out_of_fold"].verdict  # type: ignore[return-value]


def _finish(
    study: optuna.Study,
    problem: Problem,
    split: _Split,
    objective: Any,
    final: FinalModel,
    validation: Validation,
    seed: int,
) -> TuneResult:
    """Holdout model and threshold, the final model, the guard's verdict, the test score."""
    best = study.best_trial
    holdout = objective.model_of(best.number)
    if holdout is None:
        point = problem.space(optuna.trial.FixedTrial(best.params))
        holdout = problem.make(point).fit_rows(split.train, [split.valid])
    prob = proba(holdout, split.valid.X)
    chosen = choose_threshold(prob, split.valid.log_p, problem.threshold).threshold
    holdout.threshold = clip_threshold(chosen)
    evaluations = {"valid": _evaluate(holdout, split.valid, "valid")}
    recommendation = _guard(holdout, split, evaluations, seed)
    trials = _best_trials(study, final.top)
    points = [problem.space(optuna.trial.FixedTrial(t.params)) for t in trials]
    rows = Rows.concat(split.train, split.full_valid)
    rounds = _rounds(trials, holdout)
    model = final.fit(rows, len(split.train), holdout, points, problem.make, rounds)
    if _judges_out_of_fold(final, validation, split):
        recommendation = _out_of_fold_guard(model, rows, split, evaluations, seed)
    if split.test is not None:
        test_ev = _evaluate(model, split.test, "test")
        rows_text = f"on the {test_ev.n_rows} test rows, which chose nothing"
        evaluations["test"] = _judged(test_ev, rows_text, seed)
    test = evaluations.get("test")
    return TuneResult(
        model,
        holdout.threshold,
        study,
        dict(best.params),
        _numbers(evaluations["valid"]),
        None if test is None else _numbers(test),
        recommendation,
        holdout,
        evaluations,
    )
