"""Tests for :mod:`boostobj.tuning`: threshold study, booster tuning, storage and resuming."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from boostobj import tuning
from boostobj.datasets import make_betting_market
from boostobj.metrics import best_threshold, log_wealth
from boostobj.sklearn import LGBMWealthClassifier, XGBWealthClassifier
from boostobj.tuning import (
    DEFAULT_PARAMS,
    HoldoutModel,
    TuneResult,
    make_storage,
    tune_threshold,
)

#: The previous release's choices: these tests pin the mechanics of trials ranked on
#: log-wealth at a tuned threshold, with the holdout model deployed. Today's defaults (loss,
#: the Bayes cut, CrossFit(5)) are tested in test_tune_config.py and test_cli.py.
PREVIOUS = {"select_on": "log_wealth", "threshold": "tune", "final": HoldoutModel()}


def tune(*args: Any, **kwargs: Any) -> TuneResult:
    """:func:`boostobj.tuning.tune` with :data:`PREVIOUS` where a test chooses nothing else."""
    return tuning.tune(*args, **{**PREVIOUS, **kwargs})


ROOT = Path(__file__).resolve().parents[1]
N_EST = 50  # boosting rounds per fit: small, the data are tiny
COMPLETE = optuna.trial.TrialState.COMPLETE

Market = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _market(n_train: int = 2000, n_valid: int = 1000) -> Market:
    """Train/valid/test split of one small betting market (also built by the subprocesses)."""
    X, p, _ = make_betting_market(n_train + n_valid, random_state=0)
    Xt, pt, _ = make_betting_market(2000, random_state=1)
    return X[:n_train], p[:n_train], X[n_train:], p[n_train:], Xt, pt


def _noisy_scores(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The "market" problems of tune_threshold's docstring: E[log p | x] plus noise."""
    _, p, e = make_betting_market(n, random_state=seed)
    s = e + np.random.default_rng(seed + 100).normal(0.0, e.std(), n)
    return s, np.log(p)


@pytest.fixture(scope="module")
def market() -> Market:
    return _market()


def _tune(market: Market, p_test: np.ndarray | None = None, **kwargs: Any) -> TuneResult:
    Xtr, ptr, Xva, pva, Xte, pte = market
    # guard_fraction=0: these tests compare against the whole validation set
    args: dict[str, Any] = {"n_trials": 6, "n_estimators": N_EST, "n_jobs": 1}
    args["guard_fraction"] = 0.0
    args["payoffs"] = None  # the surrogate path; tests/test_two_part.py tests the two-part one
    args.update(kwargs)
    return tune(Xtr, ptr, Xva, pva, X_test=Xte, p_test=pte if p_test is None else p_test, **args)


@pytest.fixture(scope="module")
def tuned(market: Market) -> TuneResult:
    return _tune(market)


def _run_script(code: str, *args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


# -- tune_threshold --------------------------------------------------------------------------
@pytest.mark.parametrize(("n", "seed"), [(10_000, 3)])  # needed 222 trials, the 2nd slowest
def test_tune_threshold_reaches_exact_optimum_in_documented_trials(n: int, seed: int) -> None:
    s, r = _noisy_scores(n, seed)
    exact = best_threshold(s, r).log_wealth
    study = tune_threshold(s, r, n_trials=300, seed=seed)  # 300: the docstring's number
    assert study.best_value >= exact - 0.01 * abs(exact)
    assert study.best_value <= exact + 1e-9 * abs(exact)  # never beats the exact optimum
    assert study.user_attrs["exact_best"] == pytest.approx(exact)
    assert study.user_attrs["take_all"] == pytest.approx(r.sum())
    assert study.user_attrs["take_none"] == 0.0


@settings(max_examples=30, deadline=None)
@given(
    scores=st.lists(st.integers(-5, 5), min_size=1, max_size=40),
    data=st.data(),
)
def test_tune_threshold_trial_value_is_log_wealth_of_scores_above(
    scores: list[int], data: st.DataObject
) -> None:
    s = np.asarray(scores, dtype=np.float64) / 2  # many ties
    r = np.asarray(
        data.draw(st.lists(st.floats(-1, 1), min_size=s.size, max_size=s.size)), dtype=np.float64
    )
    study = tune_threshold(s, r, n_trials=15)
    for trial in study.trials:
        take = s >= trial.params["threshold"]
        assert trial.value == pytest.approx(log_wealth(r, take), abs=1e-9)
        assert trial.user_attrs["n_taken"] == take.sum()


def test_tune_threshold_restores_optuna_verbosity() -> None:
    before = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.INFO)
    try:
        tune_threshold([0.1, 0.2, 0.3], np.log([0.9, 1.2, 1.1]), n_trials=3)
        assert optuna.logging.get_verbosity() == optuna.logging.INFO
    finally:
        optuna.logging.set_verbosity(before)


# -- storage and resuming --------------------------------------------------------------------
def test_make_storage_forms(tmp_path: Path) -> None:
    assert make_storage(None) is None
    mem = optuna.storages.InMemoryStorage()
    assert make_storage(mem) is mem
    assert isinstance(make_storage(f"sqlite:///{tmp_path / 'a.db'}"), optuna.storages.RDBStorage)
    assert isinstance(make_storage(str(tmp_path / "c.SQLITE3")), optuna.storages.RDBStorage)
    for name in ("d.log", "e.journal", "f.jsonl"):
        assert isinstance(make_storage(tmp_path / name), optuna.storages.JournalStorage)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        make_storage(tmp_path / "missing" / "x.db")


@pytest.mark.parametrize("name", ["study.db", "study.log"])
def test_resume_adds_trials_to_one_study(tmp_path: Path, name: str) -> None:
    s, r = _noisy_scores(2000, 0)
    path = tmp_path / name
    first = tune_threshold(s, r, n_trials=10, storage=path, study_name="t")
    assert len(first.trials) == 10
    again = tune_threshold(s, r, n_trials=10, storage=str(path), study_name="t")  # same seed
    assert len(again.trials) == 20
    # The resumed sampler is reseeded: it does not replay the first session's proposals.
    assert len({t.params["threshold"] for t in again.trials}) == 20
    loaded = optuna.load_study(study_name="t", storage=make_storage(path))
    assert [t.number for t in loaded.trials] == list(range(20))
    assert all(t.state == COMPLETE for t in loaded.trials)
    assert loaded.user_attrs["n_rows"] == 2000


def test_resume_on_other_data_is_refused(tmp_path: Path) -> None:
    s, r = _noisy_scores(500, 0)
    path = tmp_path / "study.db"
    tune_threshold(s, r, n_trials=3, storage=path, study_name="t")
    with pytest.raises(ValueError, match="cannot be resumed"):
        tune_threshold(s[::-1], r, n_trials=3, storage=path, study_name="t")


# Subprocess scripts rebuild the test data themselves (same seeds as _market, _noisy_scores):
# importing this module would also import pytest and hypothesis.
_KILL_SCRIPT = """
    import sys
    from boostobj.datasets import make_betting_market
    from boostobj.tuning import tune
    X, p, _ = make_betting_market(3000, random_state=0)
    tune(X[:2000], p[:2000], X[2000:], p[2000:], n_trials=10_000, n_estimators=50, n_jobs=1,
         storage=sys.argv[1], study_name="killed")
"""


def _complete(study: optuna.Study) -> dict[int, float]:
    return {t.number: t.value for t in study.get_trials(states=(COMPLETE,))}  # type: ignore[misc]


def test_sigkill_mid_study_loses_no_completed_trial(tmp_path: Path, market: Market) -> None:
    path = tmp_path / "killed.db"
    proc = _run_script(_KILL_SCRIPT, str(path))
    storage = make_storage(path)
    seen: dict[int, float] = {}
    deadline = time.monotonic() + 45
    try:
        while len(seen) < 3:
            assert proc.poll() is None, proc.communicate()[1].decode()[-2000:]
            assert time.monotonic() < deadline, "subprocess made no progress"
            time.sleep(0.2)
            try:
                seen = _complete(optuna.load_study(study_name="killed", storage=storage))
            except KeyError:  # study not created yet
                continue
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    after = optuna.load_study(study_name="killed", storage=storage)
    survived = _complete(after)
    assert {k: survived[k] for k in seen} == seen  # every trial complete before the kill
    n_before = len(after.trials)

    Xtr, ptr, Xva, pva, _, _ = market
    res = tuning.tune(  # with the defaults, as the killed script ran
        Xtr,
        ptr,
        Xva,
        pva,
        n_trials=2,
        n_estimators=N_EST,
        n_jobs=1,
        storage=path,
        study_name="killed",
        pruner=optuna.pruners.NopPruner(),
    )
    assert len(res.study.trials) == n_before + 2
    resumed = _complete(res.study)
    assert len(resumed) == len(survived) + 2
    assert {k: resumed[k] for k in survived} == survived


_SHARED_SCRIPT = """
    import sys, time
    from pathlib import Path
    import numpy as np
    from boostobj.datasets import make_betting_market
    from boostobj.tuning import tune_threshold
    _, p, e = make_betting_market(5000, random_state=0)
    s, r = e + np.random.default_rng(100).normal(0.0, e.std(), 5000), np.log(p)
    tmp, me = Path(sys.argv[1]).parent, sys.argv[2]
    (tmp / f"ready_{me}").touch()
    while not (tmp / "go").exists():  # start both studies together
        time.sleep(0.01)
    tune_threshold(s, r, n_trials=int(sys.argv[3]), storage=sys.argv[1],
                   study_name="shared", seed=int(me))
"""


@pytest.mark.parametrize("name", ["shared.log", "shared.db"])
def test_two_processes_share_one_study(tmp_path: Path, name: str) -> None:
    n = 15
    path = tmp_path / name
    procs = [_run_script(_SHARED_SCRIPT, str(path), str(i), str(n)) for i in (1, 2)]
    deadline = time.monotonic() + 30
    while not all((tmp_path / f"ready_{i}").exists() for i in (1, 2)):
        assert all(p.poll() is None for p in procs), [p.communicate()[1][-2000:] for p in procs]
        assert time.monotonic() < deadline
        time.sleep(0.05)
    (tmp_path / "go").touch()
    for p in procs:
        _, err = p.communicate(timeout=60)
        assert p.returncode == 0, err.decode()[-2000:]
    study = optuna.load_study(study_name="shared", storage=make_storage(path))
    trials = study.trials
    assert len(trials) == 2 * n
    assert sorted(t.number for t in trials) == list(range(2 * n))
    assert len({t._trial_id for t in trials}) == 2 * n
    assert all(t.state == COMPLETE for t in trials)


# -- tune ------------------------------------------------------------------------------------
def test_tuned_model_is_no_worse_on_valid_than_defaults(market: Market, tuned: TuneResult) -> None:
    Xtr, ptr, Xva, pva, _, _ = market
    default = XGBWealthClassifier(n_estimators=N_EST, random_state=0, n_jobs=1)
    default.fit(Xtr, ptr, eval_set=[(Xva, pva)])
    baseline = best_threshold(default.predict_proba(Xva)[:, 1], np.log(pva))
    assert tuned.study.trials[0].params == DEFAULT_PARAMS["xgboost"]
    assert tuned.study.trials[0].value == pytest.approx(baseline.log_wealth)
    assert tuned.valid["model"] >= baseline.log_wealth - 1e-9
    # The refit reproduces the best trial, and scores with the threshold chosen on valid.
    assert tuned.valid["model"] == pytest.approx(tuned.study.best_value)
    assert tuned.model.threshold == tuned.threshold
    assert tuned.threshold == tuned.study.best_trial.user_attrs["threshold"]
    assert tuned.valid["model"] == pytest.approx(tuned.model.score(Xva, pva))
    assert tuned.best_params == tuned.study.best_params


def test_poisoned_test_payoffs_change_nothing_chosen(market: Market, tuned: TuneResult) -> None:
    rng = np.random.default_rng(0)
    wild = np.where(rng.random(market[5].size) < 0.5, 1e6, 1e-6)
    poisoned = _tune(market, p_test=wild)
    assert poisoned.threshold == tuned.threshold
    assert poisoned.best_params == tuned.best_params
    assert [t.value for t in poisoned.study.trials] == [t.value for t in tuned.study.trials]
    assert poisoned.valid == tuned.valid
    assert poisoned.test != tuned.test  # the test set was scored, and only scored


def test_summary_is_json_serialisable(tuned: TuneResult) -> None:
    summary = json.loads(json.dumps(tuned.summary(), allow_nan=False))
    assert summary["booster"] == "xgboost"
    assert summary["n_trials"] + summary["n_pruned"] + summary["n_failed"] == 6
    assert summary["best_trial"] == tuned.study.best_trial.number
    assert summary["best_params"] == tuned.best_params
    assert set(summary["valid"]) == {"model", "take_all", "take_none", "n_taken", "n_rows"}
    assert set(summary["test"]) == set(summary["valid"])
    assert summary["test"]["n_rows"] == 2000
    assert summary["n_rounds"] >= 1
    assert summary["recommendation"]["policy"] in {"model", "take_all", "take_none"}
    assert summary["recommendation"]["reason"]


def test_lightgbm_tunes_and_saves(market: Market, tmp_path: Path) -> None:
    res = _tune(market, booster="lightgbm", n_trials=3)
    assert isinstance(res.model, LGBMWealthClassifier)
    assert res.model.booster_params()["bagging_freq"] == 1
    assert res.summary()["booster"] == "lightgbm"
    loaded = LGBMWealthClassifier.load(res.model.save(tmp_path / "model"))
    assert loaded.threshold == res.threshold
    assert loaded.score(market[2], market[3]) == pytest.approx(res.valid["model"])


@pytest.mark.parametrize("booster", ["xgboost", "lightgbm"])
def test_pruner_sees_per_round_log_wealth_and_all_pruned_raises(
    market: Market, booster: str
) -> None:
    storage = optuna.storages.InMemoryStorage()
    always = optuna.pruners.ThresholdPruner(lower=1e9)  # prunes at the first report
    with pytest.raises(RuntimeError, match="no completed trial"):
        _tune(market, booster=booster, n_trials=2, storage=storage, pruner=always)
    study = optuna.load_study(study_name="boostobj", storage=storage)
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.PRUNED] * 2
    # Step 0 is the first boosting round; its value is log-wealth at 0.5 on valid.
    assert all(list(t.intermediate_values) == [0] for t in study.trials)


def test_report_every_sets_the_pruning_steps(market: Market) -> None:
    res = _tune(market, n_trials=1, report_every=7, pruner=optuna.pruners.NopPruner())
    trial = res.study.trials[0]
    steps = list(trial.intermediate_values)
    assert steps == list(range(0, 7 * len(steps), 7))
    assert len(steps) >= 2


def test_walk_forward_uses_only_the_past(market: Market) -> None:
    Xtr, ptr, Xva, pva, _, _ = market
    res = tune(Xtr, ptr, Xva, pva, n_trials=1, n_estimators=N_EST, n_splits=3, n_jobs=1,
               payoffs=None)  # fmt: skip
    trial = res.study.trials[0]
    folds = trial.user_attrs["fold_log_wealth"]
    assert len(folds) == 3
    assert trial.value == pytest.approx(sum(folds))
    assert trial.user_attrs["fold_threshold"][0] == 0.5
    assert isinstance(res.model, XGBWealthClassifier)
    # Change the payoffs of the last block (the end of valid): earlier folds do not move.
    p_future = pva.copy()
    p_future[-600:] = np.where(np.arange(600) % 2 == 0, 1e3, 1e-3)
    other = tune(Xtr, ptr, Xva, p_future, n_trials=1, n_estimators=N_EST, n_splits=3, n_jobs=1,
                 payoffs=None)  # fmt: skip
    other_folds = other.study.trials[0].user_attrs["fold_log_wealth"]
    assert other_folds[:2] == folds[:2]
    assert other_folds[2] != folds[2]


def test_resuming_with_another_booster_is_refused(market: Market, tmp_path: Path) -> None:
    path = tmp_path / "study.log"
    _tune(market, n_trials=1, storage=path)
    with pytest.raises(ValueError, match="booster: stored 'xgboost', now 'lightgbm'"):
        _tune(market, booster="lightgbm", n_trials=1, storage=path)


# -- bad input -------------------------------------------------------------------------------
def _with_bad_p_valid(args: dict[str, Any]) -> None:
    args["p_valid"] = np.where(np.arange(args["p_valid"].size) == 7, -1.0, args["p_valid"])


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"p_train": np.ones(5)}, "length mismatch"),
        (_with_bad_p_valid, "p_valid has 1 non-positive value"),
        ({"booster": "catboost"}, "unknown booster 'catboost'"),
        ({"storage": "study.txt"}, "cannot tell the storage kind.*journal"),
        ({"n_splits": 0}, "n_splits must be an integer >= 1"),
        ({"X_valid": np.ones((1000, 3))}, "X_valid has 3 features; X_train has 8"),
        ({"p_test": None}, "give both X_test and p_test"),
        ({"select_on": "auc"}, "select_on must be one of"),
        ({"threshold": 1.0}, r'threshold must be "auto", "tune" or in \(0, 1\)'),
    ],
)
def test_tune_rejects_bad_input(market: Market, change: Any, match: str) -> None:
    Xtr, ptr, Xva, pva, Xte, pte = market
    args: dict[str, Any] = {"p_train": ptr, "p_valid": pva, "X_valid": Xva, "p_test": pte}
    if callable(change):
        change(args)
    else:
        args.update(change)
    X_valid, p_train, p_valid = args.pop("X_valid"), args.pop("p_train"), args.pop("p_valid")
    with pytest.raises(ValueError, match=match):
        tune(Xtr, p_train, X_valid, p_valid, X_test=Xte, n_trials=1, n_estimators=5, **args)


@pytest.mark.parametrize(
    ("scores", "log_p", "match"),
    [
        ([0.1, 0.2], [0.1], "length mismatch"),
        ([0.1, np.nan], [0.1, 0.2], "NaN"),
        ([], [], "empty"),
        ([0.1, np.inf], [0.1, 0.2], "finite"),
        ([0.1, 0.2], [0.1, np.inf], "NaN or infinite"),
    ],
)
def test_tune_threshold_rejects_bad_input(
    scores: list[float], log_p: list[float], match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        tune_threshold(scores, log_p, n_trials=1)


@pytest.mark.parametrize("storage", ["study.csv", "study", "", 42])
def test_make_storage_rejects_unknown_forms(storage: Any) -> None:
    with pytest.raises(ValueError, match="storage"):
        make_storage(storage)


def test_tune_with_payoffs_known_at_decision_time(market: Market) -> None:
    """estimator_params reach every trial; the threshold is tuned on the net margin."""
    from boostobj.metrics import decide

    X_tr, p_tr, X_va, p_va, _, _ = market

    def with_payoffs(X: np.ndarray) -> np.ndarray:  # last column: log odds; stake 0.05
        return np.column_stack([X, 1 + 0.05 * np.expm1(X[:, -1]), np.full(len(X), 0.95)])

    Xk_tr, Xk_va = with_payoffs(X_tr), with_payoffs(X_va)
    cols = (Xk_tr.shape[1] - 2, Xk_tr.shape[1] - 1)
    result = tune(Xk_tr, p_tr, Xk_va, p_va, n_trials=2, n_estimators=40, n_jobs=1,
                  estimator_params={"loss": "outcome", "payoff_columns": cols})  # fmt: skip
    assert result.model.get_loss().name == "outcome"
    assert tuple(result.model.payoff_columns) == cols
    take = decide(result.model.decision_margin(Xk_va), result.threshold)
    np.testing.assert_array_equal(result.model.predict(Xk_va), take)


def test_guard_holdout_chooses_nothing(market: Market) -> None:
    """The last guard_fraction of valid rows: poisoning their payoffs changes no choice,
    only the guard's verdict, which is stated on those rows."""
    Xtr, ptr, Xva, pva, _, _ = market
    args: dict[str, Any] = {"n_trials": 3, "n_estimators": N_EST, "n_jobs": 1}
    honest = tune(Xtr, ptr, Xva, pva, guard_fraction=0.3, **args)
    poisoned_p = pva.copy()
    poisoned_p[700:] = np.where(np.arange(300) % 2, 3.0, 0.2)  # the last 30%: wild payoffs
    poisoned = tune(Xtr, ptr, Xva, poisoned_p, guard_fraction=0.3, **args)
    assert poisoned.threshold == honest.threshold
    assert poisoned.best_params == honest.best_params
    guard = honest.evaluations["guard"].verdict
    assert "last 300 validation rows, held out from every choice" in guard.reason
    assert poisoned.recommendation.model_log_wealth != honest.recommendation.model_log_wealth
    with pytest.raises(ValueError, match="guard_fraction must be in"):
        tune(Xtr, ptr, Xva, pva, guard_fraction=1.0, **args)


def test_refit_trains_on_train_and_valid_and_keeps_the_choices(market: Market) -> None:
    """refit=True: same study, threshold and guard verdict as without; the final model has
    the holdout model's rounds scaled by the rows and differs from it."""
    Xtr, ptr, Xva, pva, Xte, pte = market
    args: dict[str, Any] = {"n_trials": 3, "n_estimators": N_EST, "n_jobs": 1, "payoffs": None}
    plain = tune(Xtr, ptr, Xva, pva, X_test=Xte, p_test=pte, **args)
    refit = tune(Xtr, ptr, Xva, pva, X_test=Xte, p_test=pte, refit=True, **args)
    assert plain.model is plain.holdout_model and not plain.summary()["refit_on_valid"]
    assert refit.model is not refit.holdout_model and refit.summary()["refit_on_valid"]
    assert refit.best_params == plain.best_params and refit.threshold == plain.threshold
    assert refit.valid == plain.valid and refit.recommendation == plain.recommendation
    n_rows = ptr.size + pva.size
    assert refit.model.n_rounds_ == round(plain.model.n_rounds_ * n_rows / ptr.size)
    assert refit.model.threshold == refit.threshold
    assert refit.model.scale_ == pytest.approx(float(np.abs(np.log(np.r_[ptr, pva])).mean()))
    assert refit.test == {**refit.test, "model": pytest.approx(refit.model.score(Xte, pte))}
    assert not np.allclose(refit.model.decision_function(Xte), plain.model.decision_function(Xte))


def _minus_mean_loss(model: Any, X: np.ndarray, p: np.ndarray) -> float:
    """Independent of tuning's helper: the estimator's loss at its scale, from its margins."""
    per_row = model.get_loss().loss(model.decision_function(X), np.log(p), scale=model.scale_)
    return -float(np.mean(per_row))


def test_select_on_loss_values_trials_by_the_validation_loss(market: Market) -> None:
    Xtr, ptr, Xva, pva, _, _ = market
    res = tune(Xtr, ptr, Xva, pva, n_trials=3, n_estimators=N_EST, n_jobs=1, guard_fraction=0.0,
               select_on="loss", payoffs=None)  # fmt: skip
    # the holdout model refits the best trial: its minus-loss is the best value
    assert res.study.best_value == pytest.approx(_minus_mean_loss(res.holdout_model, Xva, pva))
    assert res.study.best_value < 0  # a loss, negated: the study still maximises
    lw = res.study.best_trial.user_attrs["log_wealth"]
    assert res.valid["model"] == pytest.approx(lw)  # the hard metric is still recorded
    # the pruner saw the loss too: intermediate values are negative, like the final one
    steps = res.study.trials[0].intermediate_values
    assert steps and all(v < 0 for v in steps.values())
    wf = tune(Xtr, ptr, Xva, pva, n_trials=1, n_estimators=N_EST, n_jobs=1, n_splits=2,
              select_on="loss", payoffs=None)  # fmt: skip
    trial = wf.study.trials[0]
    assert trial.value == pytest.approx(np.mean(trial.user_attrs["fold_minus_loss"]))


def test_fixed_threshold_is_used_by_every_trial_and_the_model(market: Market) -> None:
    Xtr, ptr, Xva, pva, _, _ = market
    res = tune(Xtr, ptr, Xva, pva, n_trials=2, n_estimators=N_EST, n_jobs=1, guard_fraction=0.0,
               threshold=0.55, payoffs=None)  # fmt: skip
    assert res.threshold == 0.55 and res.model.threshold == 0.55
    for trial in res.study.trials:
        assert trial.user_attrs["threshold"] == 0.55
    prob = res.model.predict_proba(Xva)[:, 1]
    assert res.study.best_value == pytest.approx(log_wealth(np.log(pva), prob >= 0.55))
    storage = optuna.storages.InMemoryStorage()
    tune(Xtr, ptr, Xva, pva, n_trials=1, n_estimators=N_EST, n_jobs=1, storage=storage)
    with pytest.raises(ValueError, match=r"threshold: stored None, now 0\.55"):
        tune(Xtr, ptr, Xva, pva, n_trials=1, n_estimators=N_EST, n_jobs=1, storage=storage,
             threshold=0.55)  # fmt: skip
