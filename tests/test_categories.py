"""Categorical features: text and pandas ``category`` columns, end to end.

The market: the edge lives in a text column (``league`` b and d win on average, the others
lose), so a model learns it only if the column reaches the booster as a category.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from boostobj import LGBMWealthClassifier, XGBWealthClassifier, load_model, log_wealth
from boostobj.cli import main
from boostobj.tuning import Refit, tune

ESTIMATORS = [XGBWealthClassifier, LGBMWealthClassifier]
LEAGUES = list("abcdef")
WINNERS = ["b", "d"]


def league_market(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """``(features x and league, payoff p)``: ``E[log p]`` is +0.05 in b and d, -0.05 else."""
    rng = np.random.default_rng(seed)
    league = rng.choice(LEAGUES, n)
    edge = np.where(np.isin(league, WINNERS), 0.05, -0.05)
    frame = pd.DataFrame({"x": rng.normal(size=n), "league": league})
    return frame, np.exp(edge + 0.1 * rng.normal(size=n))


def small(cls, **kw):
    return cls(n_estimators=40, n_jobs=2, **kw)


@pytest.fixture(scope="module")
def market():
    return league_market(3000, 0), league_market(2000, 1)


@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize("kind", ["str", "category"])
def test_a_text_or_category_column_is_learned_as_a_category(cls, kind, market):
    (X, p), (Xt, pt) = market
    X, Xt = X.astype({"league": kind}), Xt.astype({"league": kind})
    est = small(cls).fit(X, p, eval_set=[(Xt, pt)])
    assert est.categories_ == ((1, tuple(LEAGUES)),)
    take = est.predict(Xt)
    # The rule is in the category: take the winning leagues (x is noise, split on by chance).
    assert np.mean(take == np.isin(Xt["league"].astype(str), WINNERS)) > 0.98
    blind = small(cls).fit(X[["x"]], p)
    lw = log_wealth(np.log(pt), take)
    assert lw > log_wealth(np.log(pt), blind.predict(Xt[["x"]])) + 10


def test_category_levels_follow_the_dtype_order(market):
    (X, p), _ = market
    ordered = X.astype({"league": pd.CategoricalDtype(list("fedcba"))})
    est = small(XGBWealthClassifier).fit(ordered, p)
    assert est.categories_ == ((1, tuple("fedcba")),)
    # Predict codes by name, not by the dtype of the frame at hand.
    np.testing.assert_array_equal(est.predict(ordered), est.predict(X))


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_categories_survive_save_and_load(cls, market, tmp_path: Path):
    (X, p), (Xt, _) = market
    est = small(cls).fit(X, p)
    est.save(tmp_path / "m")
    sidecar = json.loads((tmp_path / "m" / "boostobj.json").read_text())
    assert sidecar["categories"] == [[1, LEAGUES]]
    back = load_model(tmp_path / "m")
    assert back.categories_ == est.categories_
    np.testing.assert_array_equal(back.decision_function(Xt), est.decision_function(Xt))


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_an_unseen_level_is_missing_with_a_warning(cls, market):
    (X, p), (Xt, _) = market
    est = small(cls).fit(X, p)
    new = Xt.iloc[:4].copy()
    new["league"] = ["zz", None, "b", "zz"]
    missing = new.assign(league=[None, None, "b", None])
    with pytest.warns(UserWarning, match=r"'league' has 2 value\(s\) not seen at fit.*'zz'"):
        margin = est.decision_function(new)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a missing value is no surprise: no warning
        np.testing.assert_array_equal(margin, est.decision_function(missing))


def test_a_numeric_looking_text_column_is_refused(market):
    (X, p), _ = market
    bad = X.assign(x=X["x"].astype(str))
    bad.loc[5, "x"] = "n/a"
    with pytest.raises(ValueError, match=r"'x' holds numbers but 1 of its 3000 .*'n/a'"):
        small(XGBWealthClassifier).fit(bad, p)


def test_wrong_columns_at_predict_are_refused(market):
    (X, p), (Xt, _) = market
    est = small(LGBMWealthClassifier).fit(X, p)
    with pytest.raises(ValueError, match="same order"):
        est.predict(Xt[["league", "x"]])
    with pytest.raises(ValueError, match=r"'x' .*not numeric, but was at fit"):
        est.predict(Xt.assign(x="text"))
    numeric = small(LGBMWealthClassifier).fit(X.assign(league=0.0), p)
    with pytest.raises(ValueError, match="'league' is not numeric, and the model was fitted"):
        numeric.predict(Xt)


def test_tune_codes_valid_and_test_by_the_training_levels(market):
    (X, p), (Xt, pt) = market
    half = len(Xt) // 2
    result = tune(
        X, p, Xt.iloc[:half], pt[:half], X_test=Xt.iloc[half:], p_test=pt[half:],
        booster="lightgbm", n_trials=2, final=Refit(),
        estimator_params={"n_estimators": 30, "n_jobs": 2},
    )  # fmt: skip
    assert result.model.categories_ == ((1, tuple(LEAGUES)),)
    test = result.evaluations["test"]
    assert log_wealth(test.log_p, test.take) > test.log_p.sum() + 5  # beats take-all
    take = result.policy.predict(Xt.iloc[half:])
    assert np.mean(take == np.isin(Xt["league"].iloc[half:], WINNERS)) > 0.98


def test_polars_frames_are_read_like_pandas(market):
    import polars as pl  # in the test extra: a real polars frame, never skipped

    (X, p), (Xt, _) = market
    est = small(XGBWealthClassifier).fit(X, p)
    frame = pl.DataFrame({"x": Xt["x"].to_numpy(), "league": Xt["league"].tolist()})
    frame = frame.with_columns(pl.col("league").cast(pl.Categorical))
    np.testing.assert_array_equal(est.predict(frame), est.predict(Xt))
    fitted = small(XGBWealthClassifier).fit(frame, np.ones(len(frame)) * 1.01 + (Xt["x"] > 0))
    assert fitted.categories_ == ((1, tuple(LEAGUES)),)
    assert list(fitted.feature_names_in_) == ["x", "league"]
    with pytest.raises(ValueError, match="same order"):
        fitted.predict(frame.select(["league", "x"]))


# -- the command line -------------------------------------------------------------------------
def _table(tmp_path: Path) -> Path:
    X, p = league_market(1500, 2)
    frame = X.assign(row_id=[f"r{i}" for i in range(len(X))], note="same", p=p)
    path = tmp_path / "leagues.csv"
    frame.to_csv(path, index=False)
    return path


def _tune(path: Path, out: Path, *extra: str) -> int:
    return main(
        ["tune", str(path), "--out", str(out), "--trials", "2", "--no-plots",
         "--n-estimators", "30", "--fast", *extra]
    )  # fmt: skip


def test_cli_uses_text_columns_as_categories(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    path = _table(tmp_path)
    assert _tune(path, tmp_path / "run") == 0
    err = capsys.readouterr().err
    assert "boostobj: categorical feature(s) 'league', 'note'" in err
    assert "'row_id' (every value distinct, an identifier)" in err
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert report["data"]["features"] == ["x", "league", "note"]
    assert report["data"]["categorical_features"] == ["league", "note"]
    assert report["data"]["ignored_columns"] == ["row_id"]
    assert "`league`" in (tmp_path / "run" / "report.md").read_text()
    test = report["test"]["log_wealth"]
    assert test["model"] > test["take_all"] + 2  # the edge is in the category

    # predict codes the file by the saved levels; an unseen one warns on stderr.
    frame = pd.read_csv(path)
    frame.loc[0, "league"] = "zz"
    frame.to_csv(tmp_path / "new.csv", index=False)
    new, pred = str(tmp_path / "new.csv"), str(tmp_path / "pred.csv")
    argv = ["predict", str(tmp_path / "run"), new, "--out", pred]
    assert main([*argv, "--use-model"]) == 0
    err = capsys.readouterr().err
    assert "'league' has 1 value(s) not seen at fit (the first: 'zz')" in err
    taken = pd.read_csv(tmp_path / "pred.csv")
    assert np.mean(taken["take"][1:] == np.isin(frame["league"][1:], WINNERS)) > 0.95


def test_cli_ignore_leaves_a_column_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    path = _table(tmp_path)
    assert _tune(path, tmp_path / "run", "--ignore", "note", "league") == 0
    err = capsys.readouterr().err
    assert "'note' (--ignore), 'league' (--ignore)" in err or "'league' (--ignore)" in err
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert report["data"]["features"] == ["x"]
    assert report["data"]["categorical_features"] == []
    assert _tune(path, tmp_path / "run2", "--ignore", "nope") == 2
    assert "--ignore names 'nope', not a column" in capsys.readouterr().err


def test_text_of_digits_only_is_a_category(market):
    """Codes kept as text on purpose ("007", "12"): every cell a number, no typo to fix."""
    (X, p), _ = market
    codes = X.assign(league=X["league"].map({c: f"{i:03d}" for i, c in enumerate(LEAGUES)}))
    est = small(XGBWealthClassifier).fit(codes.astype({"league": "string"}), p)
    assert est.categories_ == ((1, tuple(f"{i:03d}" for i in range(6))),)


def test_cli_categorical_declares_codes_and_numeric_looking_text(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    """--categorical: integer codes and '1'-'4', '>4' text (refused without it) as levels;
    predict reads the codes the same from a file whose column came back as floats."""
    X, p = league_market(1500, 4)
    code = X["league"].map({c: i for i, c in enumerate(LEAGUES)})  # integers 0-5
    rare = np.random.default_rng(4).random(len(X)) < 0.03
    size = np.where(rare, ">4", code.astype(str))  # 97% digits: numeric-looking
    frame = pd.DataFrame({"x": X["x"], "code": code, "size": size, "p": p})
    path = tmp_path / "codes.csv"
    frame.to_csv(path, index=False)
    assert _tune(path, tmp_path / "refused") == 2
    assert "'size' holds numbers but" in capsys.readouterr().err
    assert _tune(path, tmp_path / "ignored", "--ignore", "size") == 0  # the other way out
    assert "'size' (--ignore)" in capsys.readouterr().err
    assert _tune(path, tmp_path / "run", "--categorical", "code", "size") == 0
    err = capsys.readouterr().err
    assert "boostobj: categorical feature(s) 'code', 'size'" in err
    model = load_model(tmp_path / "run" / "model")
    assert dict(model.categories_)[1] == tuple(str(i) for i in range(6))  # codes as levels
    assert ">4" in dict(model.categories_)[2]
    floats = frame.assign(code=frame["code"].astype(float))
    floats.loc[0, "code"] = np.nan  # a missing cell: pandas reads the column as floats
    floats.to_csv(tmp_path / "new.csv", index=False)
    new, pred = str(tmp_path / "new.csv"), str(tmp_path / "pred.csv")
    assert main(["predict", str(tmp_path / "run"), new, "--out", pred, "--use-model"]) == 0
    assert "not seen at fit" not in capsys.readouterr().err  # 3.0 is the level "3"
    own = model.predict(frame[["x", "code", "size"]].astype({"code": str}))
    taken = pd.read_csv(pred)["take"].to_numpy()
    assert np.mean(taken[1:] == own[1:]) == 1.0
    assert _tune(path, tmp_path / "bad", "--categorical", "p") == 2
    assert "--categorical names 'p', which holds the payoff" in capsys.readouterr().err
