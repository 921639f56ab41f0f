"""The two-part model: payoffs estimated out of fold, the default of tune(), saved and loaded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from boostobj import CrossFitEnsemble, Rows, XGBWealthClassifier, load_model, make_betting_market
from boostobj.cli import main
from boostobj.ensemble import fold_blocks
from boostobj.policy import load_policy
from boostobj.sklearn import LGBMWealthClassifier
from boostobj.tuning import HoldoutModel, TwoPart, tune
from boostobj.two_part import ESTIMATED_COLUMNS, PayoffEstimate, TwoPartModel, payoff_regressor

FAST = {"n_estimators": 40, "n_jobs": 1}


@pytest.fixture(scope="module")
def market() -> tuple[np.ndarray, ...]:
    X, p, _ = make_betting_market(4000, random_state=7)
    return X[:2000], p[:2000], X[2000:3000], p[2000:3000], X[3000:], p[3000:]


@pytest.fixture(scope="module")
def tuned(market: Any) -> Any:
    Xtr, ptr, Xva, pva, Xte, pte = market
    return tune(Xtr, ptr, Xva, pva, X_test=Xte, p_test=pte, n_trials=2, estimator_params=FAST)


def _true_p_win(X: np.ndarray) -> np.ndarray:
    """The betting market's payoff if the bet wins: stake 0.05 at the odds exp(last column)."""
    return 1 + 0.05 * np.expm1(X[:, -1])


def test_training_rows_are_estimated_by_the_member_that_did_not_see_their_block(
    market: Any,
) -> None:
    Xtr, ptr = market[:2]
    rows = Rows.from_payoff(Xtr, ptr)
    regressor = payoff_regressor(XGBWealthClassifier(**FAST))
    payoffs, augmented = PayoffEstimate.fit_rows(rows, regressor, n_folds=3)
    assert augmented.X.shape == (2000, Xtr.shape[1] + 2)
    np.testing.assert_array_equal(augmented.X[:, :-2], Xtr)  # the features are unchanged
    (location, spread), (loss_location, _) = payoffs.standard
    r_won = np.log(ptr[ptr > 1])
    assert location == pytest.approx(r_won.mean()) and spread == pytest.approx(r_won.std())
    assert loss_location == pytest.approx(np.log(0.95))  # every lost bet costs the same stake
    # Every row of block k, won or lost, is estimated by member k of each regression, which
    # trained on no row of block k: the same kind of estimate whatever the row's label.
    for k, held in enumerate(fold_blocks(2000, 3)):
        member = payoffs.win.members_[k]
        own = location + spread * member.decision_function(Xtr[held])
        np.testing.assert_allclose(np.log(augmented.X[held, -2]), np.maximum(own, 1e-6))
        assert member.n_features_in_ == Xtr.shape[1]
    # new rows: the mean of the members
    mean = location + spread * payoffs.win.decision_function(Xte := market[4])
    np.testing.assert_allclose(np.log(payoffs.columns(Xte)[:, -2]), np.maximum(mean, 1e-6))
    # a constant payoff is estimated exactly (LightGBM would not move from margin 0)
    np.testing.assert_allclose(augmented.X[:, -1], 0.95, rtol=1e-12)
    assert (augmented.X[:, -2] > 1).all() and (augmented.X[:, -1] < 1).all()
    # the estimates follow the true payoff of a win (a function of the odds)
    assert np.corrcoef(augmented.X[:, -2], _true_p_win(Xtr))[0, 1] > 0.8


@pytest.mark.parametrize("seed", [5, 6])
def test_the_out_of_fold_guard_refuses_the_two_part_model_without_edge(seed: int) -> None:
    """Payoffs shuffled against the features. When a winning training row was estimated out
    of fold and a losing one by the members' mean, the decider told them apart and this
    guard passed it on both seeds."""
    X, p, _ = make_betting_market(6000, random_state=seed)
    p = np.random.default_rng(seed).permutation(p)
    result = tune(X[:4000], p[:4000], X[4000:], p[4000:], n_trials=3,
                  estimator_params={"n_estimators": 100, "n_jobs": 1})  # fmt: skip
    assert result.method == "two_part" and "out_of_fold" in result.evaluations
    assert result.recommendation.policy == "take_none"


def test_too_few_wins_or_losses_are_refused_by_name() -> None:
    X, p, _ = make_betting_market(300, random_state=1)
    p = np.where(np.arange(300) < 5, 2.0, 0.9)  # 5 wins
    rows = Rows.from_payoff(X, p)
    with pytest.raises(ValueError, match=r"at least 10 training rows that won .* 5 did"):
        PayoffEstimate.fit_rows(rows, payoff_regressor(XGBWealthClassifier(**FAST)), 5)
    with pytest.raises(ValueError, match="loss='squared'"):
        PayoffEstimate.fit_rows(rows, XGBWealthClassifier(**FAST), 5)


def test_tune_defaults_to_the_two_part_model(market: Any, tuned: Any) -> None:
    Xte = market[4]
    assert tuned.method == "two_part" and tuned.summary()["method"] == "two_part"
    model = tuned.model
    assert isinstance(model, TwoPartModel) and isinstance(model.model_, CrossFitEnsemble)
    assert model.n_features_in_ == Xte.shape[1] and model.threshold == tuned.threshold == 0.5
    # the decider takes the features plus the estimates; the model takes the features alone
    with_payoffs = model.payoffs_.columns(Xte)
    np.testing.assert_array_equal(model.predict(Xte), model.model_.predict(with_payoffs))
    np.testing.assert_array_equal(tuned.evaluations["test"].take, model.predict(Xte))
    # predict is the sign of the expected log payoff, whose payoffs are the estimated ones
    np.testing.assert_array_equal(model.predict(Xte), model.expected_log_payoff(Xte) > 0)
    q = model.predict_proba(Xte)[:, 1]
    win, loss = np.log(model.estimated_payoffs(Xte)).T
    np.testing.assert_allclose(model.expected_log_payoff(Xte), q * win + (1 - q) * loss)
    assert "out_of_fold" in tuned.evaluations  # judged out of fold, as the surrogate is
    assert tuned.policy.predict(Xte).shape == (len(Xte),)


def test_payoffs_none_learns_from_p_and_bad_choices_are_refused(market: Any) -> None:
    Xtr, ptr, Xva, pva = market[:4]
    args: dict[str, Any] = {"n_trials": 1, "estimator_params": FAST, "final": HoldoutModel()}
    plain = tune(Xtr, ptr, Xva, pva, payoffs=None, **args)
    assert plain.method == "surrogate" and isinstance(plain.model, XGBWealthClassifier)
    given_loss = tune(Xtr, ptr, Xva, pva, **{**args, "estimator_params": {**FAST, "loss": "kelly"}})
    assert given_loss.method == "surrogate"  # "auto" never overrides a loss the user chose
    forced = tune(Xtr, ptr, Xva, pva, payoffs=TwoPart(n_folds=2), **args)
    assert forced.method == "two_part" and len(forced.model.payoffs_.win.members_) == 2
    assert forced.model is forced.holdout_model  # HoldoutModel: one decider, wrapped once
    with pytest.raises(ValueError, match="cannot be combined with estimator_params 'loss'"):
        kelly = {**args, "estimator_params": {"loss": "kelly"}}
        tune(Xtr, ptr, Xva, pva, payoffs=TwoPart(), **kelly)
    for bad in ("two_part", 5, True):
        with pytest.raises(ValueError, match="payoffs must be"):
            tune(Xtr, ptr, Xva, pva, payoffs=bad, **args)
    for bad_config in ({"n_folds": 1}, {"learning_rate": 0.0}, {"learning_rate": float("nan")}):
        with pytest.raises(ValueError, match="TwoPart"):
            TwoPart(**bad_config)


def test_auto_falls_back_to_the_surrogate_on_few_wins() -> None:
    X, p, _ = make_betting_market(900, random_state=2)
    p = np.where(np.arange(900) % 8 == 0, p * 1.5 + 0.2, np.minimum(p, 0.95))  # ~100 wins
    result = tune(X[:600], p[:600], X[600:], p[600:], n_trials=1, estimator_params=FAST,
                  final=HoldoutModel())  # fmt: skip
    assert int((p[:600] > 1).sum()) < 200
    assert result.method == "surrogate"


def test_saved_policy_loads_and_decides_the_same(tuned: Any, market: Any, tmp_path: Path) -> None:
    Xte = market[4]
    tuned.policy.save(tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    assert isinstance(loaded, TwoPartModel)
    for part in ("payoff_win", "payoff_loss", "decider"):
        assert (tmp_path / "m" / part / "boostobj.json").is_file()
    np.testing.assert_array_equal(loaded.predict(Xte), tuned.model.predict(Xte))
    np.testing.assert_allclose(loaded.decision_margin(Xte), tuned.model.decision_margin(Xte))
    policy = load_policy(tmp_path / "m")
    assert policy.policy == tuned.recommendation.policy
    np.testing.assert_array_equal(policy.predict(Xte), tuned.policy.predict(Xte))


def test_fit_on_a_dataframe_checks_the_columns(market: Any) -> None:
    Xtr, ptr, _, _, Xte, _ = market
    names = [f"f{j}" for j in range(Xtr.shape[1])]
    frame = pd.DataFrame(Xtr, columns=names)
    model = TwoPartModel(LGBMWealthClassifier(**FAST), n_folds=3).fit(frame, ptr)
    assert list(model.feature_names_in_) == names
    assert model.model_.payoff_columns == (len(names), len(names) + 1)
    assert list(model.model_.feature_names_in_) == [*names, *ESTIMATED_COLUMNS]
    test = pd.DataFrame(Xte, columns=names)
    np.testing.assert_array_equal(model.predict(test), model.expected_log_payoff(test) > 0)
    with pytest.raises(ValueError, match="same order"):
        model.predict(test[names[::-1]])
    with pytest.raises(ValueError, match="needs an unfitted wealth classifier"):
        TwoPartModel().fit(frame, ptr)


def test_cli_runs_the_two_part_model_unless_told_not_to(tmp_path: Path) -> None:
    import json

    runs = {}
    for name, extra in (("two_part", []), ("surrogate", ["--no-two-part"])):
        out = tmp_path / name
        argv = ["tune", "--n-samples", "3000", "--trials", "1", "--out", str(out), "--no-plots"]
        assert main([*argv, "--n-estimators", "30", "--n-jobs", "1", *extra]) == 0
        runs[name] = json.loads((out / "report.json").read_text())
    assert runs["two_part"]["method"] == "two_part"
    assert runs["surrogate"]["method"] == "surrogate"
    text = (tmp_path / "two_part" / "report.md").read_text()
    assert "- Method: two-part" in text


def test_a_surrogate_study_resumes_only_with_payoffs_none(market: Any, tmp_path: Path) -> None:
    from boostobj.tuning import StudyConfig

    Xtr, ptr, Xva, pva = market[:4]
    args: dict[str, Any] = {"n_trials": 1, "estimator_params": FAST, "final": HoldoutModel()}
    tune(Xtr, ptr, Xva, pva, payoffs=None, study=StudyConfig(tmp_path / "s.db", name="a"), **args)
    again = StudyConfig(tmp_path / "s.db", name="a", resume=True)
    with pytest.raises(ValueError, match=r"resumes with payoffs=None \(boostobj tune --no-two"):
        tune(Xtr, ptr, Xva, pva, study=again, **args)
    resumed = tune(Xtr, ptr, Xva, pva, payoffs=None, study=again, **args)
    assert len(resumed.study.trials) == 2


def test_a_tampered_two_part_sidecar_is_refused(tuned: Any, tmp_path: Path) -> None:
    import json

    folder = tuned.model.save(tmp_path / "m")
    sidecar = folder / "boostobj.json"
    meta = json.loads(sidecar.read_text())
    for key, bad, message in (
        ("standard", "x", "standard must be"),
        ("parts", ["payoff_win", "decider"], "parts must be"),
        ("parts", ["payoff_win", "payoff_loss", "../m"], "parts must be"),
    ):
        sidecar.write_text(json.dumps({**meta, key: bad}))
        with pytest.raises(ValueError, match=message):
            load_model(folder)
    sidecar.write_text(json.dumps(meta))
    assert isinstance(load_model(folder), TwoPartModel)
