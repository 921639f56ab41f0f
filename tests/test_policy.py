"""The deployed policy follows the guard: in Python, in the saved folder and in ``predict``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from boostobj import Policy, XGBWealthClassifier, load_model, load_policy, make_betting_market
from boostobj.cli import main
from boostobj.tuning import tune

FEATURES = [f"x{j}" for j in range(7)] + ["log_odds"]


@pytest.fixture(scope="module")
def model() -> XGBWealthClassifier:
    X, p, _ = make_betting_market(1500, random_state=0)
    frame = pd.DataFrame(X, columns=FEATURES)
    return XGBWealthClassifier(n_estimators=20, n_jobs=1).fit(frame, p)


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    X, p, _ = make_betting_market(500, random_state=1)
    return pd.DataFrame(X, columns=FEATURES).assign(p=p)


@pytest.mark.parametrize("verdict", ["model", "take_all", "take_none"])
def test_predict_follows_each_verdict(
    verdict: str, model: XGBWealthClassifier, frame: pd.DataFrame, tmp_path: Path
) -> None:
    X = frame[FEATURES]
    own = model.predict(X)
    assert 0 < own.sum() < len(own)  # the model's decisions differ from both trivial ones
    expected = {"model": own, "take_all": np.ones_like(own), "take_none": np.zeros_like(own)}
    policy = Policy(model, verdict, "because")
    np.testing.assert_array_equal(policy.predict(X), expected[verdict])
    # Saved and loaded, the verdict comes back; load_model still gives the model.
    policy.save(tmp_path / "model")
    loaded = load_policy(tmp_path)  # a run folder holds model/
    assert (loaded.policy, loaded.reason) == (verdict, "because")
    np.testing.assert_array_equal(loaded.predict(X), expected[verdict])
    assert isinstance(load_model(tmp_path), XGBWealthClassifier)
    # The CLI's predict applies it and says which and why.
    frame.to_csv(tmp_path / "new.csv", index=False)
    rc = main(
        ["predict", str(tmp_path), str(tmp_path / "new.csv"), "--out", str(tmp_path / "o.csv")]
    )
    assert rc == 0
    written = pd.read_csv(tmp_path / "o.csv")
    np.testing.assert_array_equal(written["take"], expected[verdict])


def test_use_model_overrides_with_a_warning(
    model: XGBWealthClassifier,
    frame: pd.DataFrame,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    X = frame[FEATURES]
    policy = Policy(model, "take_none", "no edge beyond noise")
    with pytest.warns(UserWarning, match="the guard found no edge"):
        np.testing.assert_array_equal(policy.predict(X, use_model=True), model.predict(X))
    policy.save(tmp_path / "m")
    frame.to_csv(tmp_path / "new.csv", index=False)
    argv = [
        "predict",
        str(tmp_path / "m"),
        str(tmp_path / "new.csv"),
        "--out",
        str(tmp_path / "o.csv"),
    ]
    assert main(argv) == 0
    out = capsys.readouterr()
    assert "applied take_none: no edge beyond noise" in out.out
    assert main([*argv, "--use-model", "--force"]) == 0
    out = capsys.readouterr()
    assert "applied the model although the guard recommends take_none" in out.out
    assert "boostobj: warning: the guard found no edge" in out.err
    np.testing.assert_array_equal(pd.read_csv(tmp_path / "o.csv")["take"], model.predict(X))


def test_a_model_saved_without_a_verdict_is_the_model_policy(
    model: XGBWealthClassifier, tmp_path: Path
) -> None:
    model.save(tmp_path / "m")
    assert load_policy(tmp_path / "m").policy == "model"
    meta = json.loads((tmp_path / "m" / "boostobj.json").read_text())
    meta["policy"] = {"policy": "take_some"}
    (tmp_path / "m" / "boostobj.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="the saved policy is not one of"):
        load_policy(tmp_path / "m")


def test_tune_returns_the_guards_policy() -> None:
    X, p, _ = make_betting_market(3000, random_state=2)
    result = tune(X[:1500], p[:1500], X[1500:], p[1500:], n_trials=2,
                  estimator_params={"n_estimators": 20, "n_jobs": 1})  # fmt: skip
    policy = result.policy
    assert policy.policy == result.recommendation.policy and policy.model is result.model
    assert policy.reason == result.recommendation.reason
