"""Tests for :mod:`boostobj.ensemble`: blocks, cross-fitting, persistence, tune(refit=K)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from boostobj import CrossFitEnsemble, load_model
from boostobj.datasets import make_betting_market
from boostobj.ensemble import fold_blocks
from boostobj.metrics import log_wealth, sigmoid
from boostobj.sklearn import LGBMWealthClassifier, XGBWealthClassifier
from boostobj.tuning import tune

ESTIMATORS = {
    "xgboost": lambda: XGBWealthClassifier(n_estimators=40, early_stopping_rounds=5, n_jobs=1),
    "lightgbm": lambda: LGBMWealthClassifier(n_estimators=40, early_stopping_rounds=5, n_jobs=1),
}


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    X, p, _ = make_betting_market(1500, random_state=3)
    Xt, pt, _ = make_betting_market(800, random_state=4)
    return X, p, Xt, pt


def test_fold_blocks_are_consecutive_cover_every_row_and_keep_groups_whole() -> None:
    blocks = fold_blocks(10, 3)
    assert [b.tolist() for b in blocks] == [[0, 1, 2], [3, 4, 5, 6], [7, 8, 9]]
    groups = np.repeat([0, 1, 2, 3, 4], [4, 1, 1, 3, 1])  # 10 rows, uneven groups
    blocks = fold_blocks(10, 3, groups)
    assert np.array_equal(np.concatenate(blocks), np.arange(10))
    for b in blocks:  # no group id appears in two blocks
        others = np.setdiff1d(np.arange(10), b)
        assert not set(groups[b]) & set(groups[others])


@pytest.mark.parametrize(
    ("n", "k", "groups", "match"),
    [
        (10, 1, None, "n_folds must be an integer >= 2"),
        (10, 2.5, None, "n_folds must be an integer >= 2"),
        (2, 3, None, "cannot cut 2 rows into 3 non-empty blocks"),
        (6, 3, [0, 0, 0, 1, 1, 1], "cannot cut 2 groups in 6 rows into 3"),
        (6, 2, [0, 1], "one id per row"),
        (4, 2, [0, 1, 0, 1], "equal ids adjacent"),
    ],
)
def test_fold_blocks_errors_name_the_problem(n, k, groups, match) -> None:
    with pytest.raises(ValueError, match=match):
        fold_blocks(n, k, groups)


@pytest.mark.parametrize("booster", sorted(ESTIMATORS))
def test_members_are_cross_fitted_and_the_margin_is_their_mean(booster: str, data) -> None:
    X, p, Xt, pt = data
    est = ESTIMATORS[booster]()
    ens = CrossFitEnsemble(est, n_folds=3).fit(X, p)
    blocks = fold_blocks(len(p), 3)
    assert len(ens.members_) == 3
    for k, (member, held) in enumerate(zip(ens.members_, blocks, strict=True)):
        rest = np.setdiff1d(np.arange(len(p)), held)
        twin = clone(est).set_params(random_state=k)
        twin.fit(X[rest], p[rest], eval_set=[(X[held], p[held])])  # the same rows, same stop
        assert member.n_rounds_ == twin.n_rounds_
        np.testing.assert_allclose(member.decision_function(Xt), twin.decision_function(Xt))
        np.testing.assert_allclose(ens.oof_margin_[held], member.decision_margin(X[held]))
    mean = np.mean([m.decision_function(Xt) for m in ens.members_], axis=0)
    np.testing.assert_allclose(ens.decision_function(Xt), mean)
    np.testing.assert_allclose(ens.predict_proba(Xt)[:, 1], sigmoid(mean))
    take = sigmoid(mean) >= 0.5
    assert np.array_equal(ens.predict(Xt), take)
    assert ens.score(Xt, pt) == pytest.approx(log_wealth(np.log(pt), take))
    ens.set_params(threshold=0.7)
    assert np.array_equal(ens.predict(Xt), sigmoid(mean) >= 0.7)


def test_payoff_columns_by_name_reach_the_members(data) -> None:
    """A DataFrame stays a DataFrame per block, so named payoff columns work."""
    X, p, Xt, _ = data
    odds = np.exp(X[:, -1])
    cols = [f"x{j}" for j in range(X.shape[1])]
    frame = pd.DataFrame(X, columns=cols).assign(win=1 + 0.05 * (odds - 1), lose=0.95)
    est = XGBWealthClassifier(
        loss="outcome", payoff_columns=("win", "lose"), n_estimators=20, n_jobs=1
    )
    ens = CrossFitEnsemble(est, n_folds=2).fit(frame, p)
    assert list(ens.feature_names_in_) == [*cols, "win", "lose"]
    test = pd.DataFrame(Xt, columns=cols).assign(win=1 + 0.05 * (np.exp(Xt[:, -1]) - 1), lose=0.95)
    net = np.mean([m.decision_margin(test) for m in ens.members_], axis=0)
    np.testing.assert_allclose(ens.decision_margin(test), net)


def test_save_and_load_round_trip_and_refuse_to_overwrite(tmp_path: Path, data) -> None:
    X, p, Xt, _ = data
    ens = CrossFitEnsemble(ESTIMATORS["lightgbm"](), n_folds=2, threshold=0.6).fit(X, p)
    folder = ens.save(tmp_path / "ens")
    back = load_model(folder)
    assert isinstance(back, CrossFitEnsemble) and back.booster_name == "lightgbm"
    np.testing.assert_allclose(back.decision_function(Xt), ens.decision_function(Xt))
    assert np.array_equal(back.predict(Xt), ens.predict(Xt)) and back.threshold == 0.6
    with pytest.raises(FileExistsError, match="not empty"):
        ens.save(folder)
    with pytest.raises(ValueError, match="holds a CrossFitEnsemble"):
        LGBMWealthClassifier.load(folder)


def test_bad_input_and_unfitted_use_raise_clear_errors(data) -> None:
    X, p, _, _ = data
    ens = CrossFitEnsemble(ESTIMATORS["xgboost"](), n_folds=2)
    with pytest.raises(ValueError, match="not fitted yet"):
        ens.predict(X)
    with pytest.raises(ValueError, match="length mismatch"):
        ens.fit(X, p[:-1])
    bad = p.copy()
    bad[7] = -1.0
    with pytest.raises(ValueError, match="7"):
        ens.fit(X, bad)
    with pytest.raises(ValueError, match="threshold"):
        CrossFitEnsemble(ESTIMATORS["xgboost"](), n_folds=2, threshold=float("nan")).fit(X, p)


def test_tune_refit_k_returns_a_cross_fitted_ensemble_at_the_holdout_threshold(data) -> None:
    X, p, Xt, pt = data
    args = {"n_trials": 2, "n_estimators": 30, "n_jobs": 1, "X_test": Xt, "p_test": pt}
    args["payoffs"] = None  # the surrogate's ensemble; tests/test_two_part.py: the decider's
    plain = tune(X[:1000], p[:1000], X[1000:], p[1000:], refit=False, **args)
    crossed = tune(X[:1000], p[:1000], X[1000:], p[1000:], refit=3, **args)
    assert isinstance(crossed.model, CrossFitEnsemble) and len(crossed.model.members_) == 3
    assert crossed.best_params == plain.best_params and crossed.threshold == plain.threshold
    # The holdout model's verdict on the guard rows is the same; the cross-fit is judged out
    # of fold, where its members ran the holdout model's rounds scaled to their rows.
    assert crossed.evaluations["guard"].verdict == plain.recommendation
    assert crossed.recommendation == crossed.evaluations["out_of_fold"].verdict
    n_rounds = round(plain.holdout_model.n_rounds_ * (1500 * 2 / 3) / 1000)
    assert all(m.n_estimators == n_rounds for m in crossed.model.members_)
    assert crossed.model.threshold == crossed.threshold
    assert crossed.summary()["n_members"] == 3 and plain.summary()["n_members"] == 1
    assert crossed.test["model"] == pytest.approx(crossed.model.score(Xt, pt))
    for bad in (-1, 2.5, "3"):
        with pytest.raises(ValueError, match="refit must be"):
            tune(X[:1000], p[:1000], X[1000:], p[1000:], refit=bad, **args)


def test_refit_trials_averages_the_ensembles_of_the_best_trials(data) -> None:
    X, p, Xt, _ = data
    args = {"n_trials": 3, "n_estimators": 30, "n_jobs": 1, "refit": 2, "payoffs": None}
    one = tune(X[:1000], p[:1000], X[1000:], p[1000:], **args)
    two = tune(X[:1000], p[:1000], X[1000:], p[1000:], refit_trials=2, **args)
    assert one.model.n_configs_ == 1 and two.model.n_configs_ == 2
    assert len(two.model.members_) == 4 and two.summary()["n_configs"] == 2
    ranked = sorted(two.study.trials, key=lambda t: -t.value)
    for i, trial in enumerate(ranked[:2]):  # members 2i, 2i+1 are the i-th best trial's
        for member in two.model.members_[2 * i : 2 * i + 2]:
            assert member.learning_rate == trial.params["learning_rate"]
    # the best trial's members are the single-trial ensemble's members
    for a, b in zip(one.model.members_, two.model.members_[:2], strict=True):
        np.testing.assert_allclose(a.decision_function(Xt), b.decision_function(Xt))
    mean = np.mean([m.decision_margin(Xt) for m in two.model.members_], axis=0)
    np.testing.assert_allclose(two.model.decision_margin(Xt), mean)
    with pytest.raises(ValueError, match="needs refit=K >= 2"):
        tune(X[:1000], p[:1000], X[1000:], p[1000:], n_trials=1, refit=True, refit_trials=2)
    with pytest.raises(ValueError, match="refit_trials must be an integer >= 1"):
        tune(X[:1000], p[:1000], X[1000:], p[1000:], n_trials=1, refit=2, refit_trials=0)


def test_an_ensemble_of_several_estimators_saves_and_loads(tmp_path: Path, data) -> None:
    X, p, Xt, _ = data
    ests = [ESTIMATORS["xgboost"](), ESTIMATORS["xgboost"]().set_params(max_depth=2)]
    ens = CrossFitEnsemble(ests, n_folds=2).fit(X, p)
    assert len(ens.members_) == 4 and ens.n_configs_ == 2
    assert [m.max_depth for m in ens.members_] == [4, 4, 2, 2]
    back = load_model(ens.save(tmp_path / "ens"))
    assert back.n_configs_ == 2 and [e.max_depth for e in back.estimator] == [4, 2]
    np.testing.assert_allclose(back.decision_function(Xt), ens.decision_function(Xt))
    with pytest.raises(ValueError, match="non-empty list"):
        CrossFitEnsemble([], n_folds=2).fit(X, p)
