"""tune()'s config objects: the study, the validation mode, the final model, the search-space
seam, and the previous release's keywords (each still working, with a DeprecationWarning)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pytest

from boostobj import CrossFitEnsemble, make_betting_market
from boostobj.tuning import (
    CrossFit,
    Holdout,
    HoldoutModel,
    Refit,
    StudyConfig,
    WalkForward,
    search_space,
    tune,
)

FAST = {"n_estimators": 30, "n_jobs": 1}


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, ...]:
    X, p, _ = make_betting_market(1500, random_state=4)
    return X[:1000], p[:1000], X[1000:], p[1000:]


def _tune(data: tuple[np.ndarray, ...], **kwargs: Any) -> Any:
    kwargs.setdefault("estimator_params", FAST)
    kwargs.setdefault("n_trials", 2)
    kwargs.setdefault("payoffs", None)  # the surrogate path; tests/test_two_part.py: the other
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)  # the new spelling never warns
        return tune(*data, **kwargs)


def test_a_stored_study_is_refused_unless_resumed(data: Any, tmp_path: Path) -> None:
    config = StudyConfig(storage=tmp_path / "study.db", name="s")
    assert len(_tune(data, study=config).study.trials) == 2
    with pytest.raises(ValueError, match=r"already exists.*resume=True"):
        _tune(data, study=config)
    resumed = StudyConfig(storage=tmp_path / "study.db", name="s", resume=True)
    assert len(_tune(data, study=resumed).study.trials) == 4


def test_a_given_study_runs_its_enqueued_point_first(data: Any) -> None:
    study = optuna.create_study(direction="maximize")
    study.enqueue_trial({"max_depth": 2, "learning_rate": 0.05})
    result = _tune(data, study=study, n_trials=1)
    assert result.study is study
    assert study.trials[0].params["max_depth"] == 2
    assert study.trials[0].params["learning_rate"] == 0.05


def test_a_given_study_that_ran_trials_elsewhere_is_refused(data: Any) -> None:
    study = optuna.create_study(direction="maximize")
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)
    with pytest.raises(ValueError, match="cannot be resumed"):
        _tune(data, study=study)


def test_search_space_seam_replaces_the_default(data: Any) -> None:
    seen: list[dict[str, Any]] = []

    def narrow(trial: optuna.Trial) -> dict[str, Any]:
        params = {**search_space(trial, "xgboost"), "max_depth": trial.suggest_int("d", 1, 1)}
        seen.append(params)
        return params

    result = _tune(data, search_space=narrow)
    assert len(seen) >= 2 and all(p["max_depth"] == 1 for p in seen)
    assert result.holdout_model.get_params()["max_depth"] == 1
    assert all(set(t.params) >= {"d"} for t in result.study.trials)


@pytest.mark.parametrize(
    ("final", "refit", "n_members"),
    [(HoldoutModel(), False, 1), (Refit(), True, 1), (CrossFit(2, 2), True, 4)],
)
def test_final_model_strategies(data: Any, final: Any, refit: bool, n_members: int) -> None:
    result = _tune(data, final=final)
    assert (result.model is not result.holdout_model) == refit
    assert isinstance(result.model, CrossFitEnsemble) == (n_members > 1)
    assert result.summary()["n_members"] == n_members
    assert result.model.threshold == result.holdout_model.threshold == result.threshold
    assert result.policy.model is result.model


def test_walk_forward_is_a_validation_mode(data: Any) -> None:
    result = _tune(data, validation=WalkForward(2), guard_fraction=0.0)
    holdout = _tune(data, validation=Holdout(), guard_fraction=0.0)
    assert result.study.trials[0].params == holdout.study.trials[0].params  # same proposal
    assert result.study.trials[0].value != holdout.study.trials[0].value  # other rows scored
    with pytest.raises(ValueError, match="n_splits"):
        _tune(data, validation=WalkForward(400))


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: CrossFit(k=1), "k must be an integer >= 2"),
        (lambda: CrossFit(k=3, top=0), "top must be an integer >= 1"),
        (lambda: CrossFit(out_of_fold="yes"), "out_of_fold must be a bool"),
        (lambda: WalkForward(0), "n_splits"),
        (lambda: StudyConfig(report_every=0), "report_every"),
        (lambda: StudyConfig(name=""), "study name"),
    ],
)
def test_config_objects_check_themselves(make: Any, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize(
    ("old", "new", "names"),
    [
        ({"n_estimators": 30, "n_jobs": 1}, {"estimator_params": FAST}, "estimator_params"),
        ({"refit": True}, {"final": Refit()}, "final=Refit"),
        ({"refit": 2}, {"final": CrossFit(2)}, "CrossFit"),
        ({"n_splits": 2}, {"validation": WalkForward(2)}, "WalkForward"),
    ],
)
def test_old_keywords_warn_and_mean_the_same(
    data: Any, old: dict[str, Any], new: dict[str, Any], names: str
) -> None:
    base: dict[str, Any] = {"n_trials": 1, "guard_fraction": 0.0, "payoffs": None}
    if "n_estimators" not in old:
        base["estimator_params"] = FAST
    with pytest.warns(DeprecationWarning, match=names):
        before = tune(*data, **base, **old)
    after = _tune(data, **{**base, "estimator_params": FAST, **new})
    X_valid = data[2]
    np.testing.assert_array_equal(before.model.predict(X_valid), after.model.predict(X_valid))


def test_old_study_keywords_keep_resuming(data: Any, tmp_path: Path) -> None:
    """The previous release's ``storage=`` continued a stored study: it still does."""
    args: dict[str, Any] = {"n_trials": 1, "estimator_params": FAST}
    for _ in range(2):
        with pytest.warns(DeprecationWarning, match=r"study=StudyConfig"):
            result = tune(*data, storage=str(tmp_path / "s.db"), study_name="x", **args)
    assert len(result.study.trials) == 2


def test_unknown_keyword_is_a_type_error(data: Any) -> None:
    with pytest.raises(TypeError, match="n_trails"):
        tune(*data, n_trails=3)


def test_the_cross_fit_is_judged_out_of_fold_on_the_rows_that_chose_nothing(data: Any) -> None:
    """The default: members run the holdout model's rounds (none looks at its held-out
    block), and the guard judges their out-of-fold decisions on train + guard rows only."""
    result = _tune(data)
    oof = result.evaluations["out_of_fold"]
    assert result.recommendation is oof.verdict
    assert oof.n_rows == 1000 + 150  # train + the last 30% of valid; not the 350 that chose
    assert "out of fold on 1150 rows (1000 train, 150 guard;" in result.recommendation.reason
    n_rounds = round(result.holdout_model.n_rounds_ * (1500 * 4 / 5) / 1000)
    model = result.model
    assert all(m.early_stopping_rounds is None for m in model.members_)
    assert all(m.n_rounds_ == n_rounds for m in model.members_)
    judged = np.r_[np.arange(1000), np.arange(1350, 1500)]
    np.testing.assert_array_equal(oof.take, model.oof_margin_[judged] >= 0)  # threshold 0.5
    np.testing.assert_array_equal(oof.log_p, np.log(np.r_[data[1], data[3]])[judged])


@pytest.mark.parametrize("how", ["groups", "early_stopped", "walk_forward"])
def test_the_guard_rows_judge_where_out_of_fold_is_not_honest(data: Any, how: str) -> None:
    """Time-ordered rows (groups, walk-forward) and early-stopped members: the guard rows."""
    args: dict[str, Any] = {
        "groups": {"valid_groups": np.arange(500) // 10},
        "early_stopped": {"final": CrossFit(out_of_fold=False)},
        "walk_forward": {"validation": WalkForward(2)},
    }[how]
    result = _tune(data, **args)
    assert "out_of_fold" not in result.evaluations
    assert result.recommendation is result.evaluations["guard"].verdict
    stops = how == "early_stopped"
    assert all((m.early_stopping_rounds is not None) == stops for m in result.model.members_)


def test_out_of_fold_guard_refuses_a_market_without_edge() -> None:
    """Payoffs shuffled against the features: whatever the members find is luck."""
    X, p, _ = make_betting_market(6000, random_state=5)
    p = np.random.default_rng(5).permutation(p)
    result = _tune((X[:4000], p[:4000], X[4000:], p[4000:]), n_trials=3)
    assert "out_of_fold" in result.evaluations
    assert result.recommendation.policy == "take_none"  # the margin makes take-all lose
