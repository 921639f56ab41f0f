"""Tests for the ``boostobj`` command (:mod:`boostobj.cli`) and its report (:mod:`boostobj.report`).

Runs call ``main([...])`` in-process with tiny sizes; one test runs ``python -m boostobj``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from boostobj import load_model, load_policy, log_payoff, log_wealth, make_betting_market
from boostobj.cli import build_parser, main
from boostobj.report import PLOTS

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
FEATURES = [f"x{j}" for j in range(7)] + ["log_odds"]
#: What a run on market_frame() learns from: the numbers and the text column, as a category.
TUNED = [*FEATURES, "team"]
#: Small and fast: few boosting rounds.
FAST = ["--n-estimators", "40"]
REPORT_KEYS = {
    "boostobj_version",
    "command",
    "booster",
    "data",
    "threshold",
    "best_params",
    "study",
    "valid",
    "test",
    "verdict",
    "recommendation",
    "plots",
    "model_dir",
    "storage",
    "warnings",
}


def market_frame(n: int = 1500, seed: int = 1) -> pd.DataFrame:
    """Synthetic bets with features, a payoff ``p``, ``log_p``, a ``date`` and a text column.

    Rows are shuffled in time and dates repeat unevenly, so a chronological split must sort
    and keep ties together.
    """
    X, p, _ = make_betting_market(n, random_state=seed)
    frame = pd.DataFrame(X, columns=FEATURES)
    rng = np.random.default_rng(seed)
    days = rng.integers(0, 250, n)
    frame["date"] = (pd.Timestamp("2024-01-01") + pd.to_timedelta(days, unit="D")).strftime(
        "%Y-%m-%d"
    )
    frame["team"] = rng.choice(["home", "away"], n)
    frame["p"] = p
    frame["log_p"] = np.log(p)
    return frame


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run every test in its own folder, so a default ``boostobj_runs/`` lands there."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="module")
def market_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "market.csv"
    market_frame().to_csv(path, index=False)
    return path


@pytest.fixture(scope="module", params=["xgboost", "lightgbm"])
def tuned_run(
    request: pytest.FixtureRequest, market_csv: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, Path]:
    """One full ``boostobj tune`` run per booster on the CSV, with plots."""
    booster = request.param
    out = tmp_path_factory.mktemp("runs") / booster
    argv = ["tune", str(market_csv), "--payoff", "p", "--time-column", "date"]
    argv += ["--booster", booster, "--trials", "3", "--out", str(out), *FAST]
    assert main(argv) == 0
    return booster, out


def read_report(out: Path) -> dict:
    return json.loads((out / "report.json").read_text())


def assert_one_line_error(
    capsys: pytest.CaptureFixture[str], rc: int, *words: str, alone: bool = True
) -> str:
    """Exit status 2 and stderr ending in one line ``boostobj: error: ...`` with ``words``.

    ``alone``: that line is all of stderr (errors found before tuning starts).
    """
    return check_one_line_error(capsys.readouterr().err, rc, *words, alone=alone)


def check_one_line_error(err: str, rc: int, *words: str, alone: bool = True) -> str:
    """:func:`assert_one_line_error` on stderr already read."""
    err = err.strip()
    assert rc == 2
    assert "Traceback" not in err
    if alone:
        assert "\n" not in err, err
    last = err.splitlines()[-1]
    assert last.startswith("boostobj: error: "), err
    assert err.count("boostobj: error:") == 1, err
    for word in words:
        assert word in last, (word, err)
    return last


# -- tune on a table --------------------------------------------------------------------------
def test_tune_writes_every_promised_file(tuned_run: tuple[str, Path]) -> None:
    booster, out = tuned_run
    model_file = "model.json" if booster == "xgboost" else "model.txt"
    for name in ("report.json", "report.md", "study.db", "model/boostobj.json"):
        assert (out / name).is_file(), name
    # The default model: two-part. The payoff regressions and the decider are 5-fold
    # cross-fitted ensembles, one booster file per member.
    for part in ("payoff_win", "payoff_loss", "decider"):
        assert len(list((out / "model" / part).glob(f"member_*/{model_file}"))) == 5, part
    assert read_report(out)["method"] == "two_part"
    # Rows in time order (--time-column): the guard rows judge, never the out-of-fold ones.
    report = read_report(out)
    assert report["out_of_fold"] is None
    assert report["recommendation"] == report["guard"]["verdict"]
    for name in PLOTS:
        data = (out / name).read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 5_000, name

    report = read_report(out)
    assert REPORT_KEYS <= set(report)
    assert report["booster"] == booster
    assert report["study"]["n_trials"] == 3
    assert 0.0 <= report["threshold"] <= 1.0
    assert report["plots"] == list(PLOTS)
    data = report["data"]
    # Payoff, time and its log are never features; the text column is a categorical one.
    assert data["features"] == TUNED
    assert data["categorical_features"] == ["team"]
    assert data["ignored_columns"] == []
    assert data["time_column"] == "date"
    assert "chronological" in data["split_method"]
    assert sum(data["n_rows"].values()) == 1500
    for split in ("valid", "test"):
        section = report[split]
        assert set(section["log_wealth"]) == {"model", "take_all", "take_none"}  # no Bayes
        assert section["wealth_multiple"]["model"] == pytest.approx(
            np.exp(section["log_wealth"]["model"])
        )
    verdict = report["verdict"]
    assert verdict["split"] == "test"
    assert isinstance(verdict["beat_best_trivial"], bool)
    low, high = verdict["margin_interval"]
    assert low <= verdict["margin"] <= high
    best = report["test"]["log_wealth"][verdict["best_trivial"]]
    assert verdict["margin"] == pytest.approx(report["test"]["log_wealth"]["model"] - best)

    sidecar = json.loads((out / "model" / "boostobj.json").read_text())
    assert list(load_model(out / "model").feature_names_in_) == TUNED
    assert sidecar["threshold"] == report["threshold"] == 0.5  # the loss's Bayes cut
    assert sidecar["policy"]["policy"] == report["recommendation"]["policy"]

    md = (out / "report.md").read_text()
    assert verdict["sentence"] in md
    assert ("did not beat" in md) != verdict["beat_best_trivial"]
    for name in PLOTS:
        assert f"({name})" in md


def test_report_numbers_match_the_saved_model(tuned_run: tuple[str, Path], market_csv: Path):
    _, out = tuned_run
    report = read_report(out)
    model = load_model(out / "model")
    frame = market_frame()
    test_rows = frame.sort_values("date", kind="stable").iloc[-report["data"]["n_rows"]["test"] :]
    take = model.predict(test_rows[TUNED])  # the frame: the model codes the text column
    lw = log_wealth(log_payoff(test_rows["p"].to_numpy()), take)
    assert lw == pytest.approx(report["test"]["log_wealth"]["model"])
    assert int(take.sum()) == report["test"]["n_taken"]


def test_a_leaking_column_is_flagged_in_the_verdict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    frame = market_frame(600)
    frame["won"] = (frame["p"] > 1).astype(int)  # the outcome: known only afterwards
    data = _write(frame, tmp_path / "leaky.csv")
    argv = ["tune", data, "--out", "run", "--trials", "1", "--no-plots", "--n-estimators", "10"]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "boostobj: warning: feature 'won'" in err
    # Dates are left out and text is a category, and said so (no --time-column: the dates
    # are text here).
    assert "boostobj: leaving out column(s) 'date' (dates; name it with --time-column" in err
    assert "boostobj: categorical feature(s) 'team'" in err
    report = read_report(tmp_path / "run")
    assert report["data"]["suspected_leaks"] == ["won"]
    assert "'won' looks like a leak" in report["verdict"]["sentence"]
    assert report["headline"]["caveat"] == "leak"
    markdown = (tmp_path / "run" / "report.md").read_text()
    assert "**Do not act on this run**" in markdown and "**Use the model**" not in markdown


# -- refusing, resuming -----------------------------------------------------------------------
def test_refuses_a_non_empty_out(
    market_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "taken"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    rc = main(["tune", str(market_csv), "--out", str(out), "--trials", "1", *FAST])
    assert_one_line_error(capsys, rc, str(out), "not empty", "--resume")
    assert [f.name for f in out.iterdir()] == ["keep.txt"]
    assert (out / "keep.txt").read_text() == "mine"


def test_resume_continues_the_study(
    market_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    argv = ["tune", str(market_csv), "--time-column", "date", "--out", str(out), "--no-plots"]
    assert main([*argv, "--trials", "2", *FAST]) == 0
    assert read_report(out)["study"]["n_trials"] == 2
    assert not any((out / name).exists() for name in PLOTS)

    assert main([*argv, "--trials", "1", *FAST]) == 2  # no --resume: refused
    capsys.readouterr()
    assert main([*argv, "--trials", "1", "--resume", *FAST]) == 0
    assert read_report(out)["study"]["n_trials"] == 3
    capsys.readouterr()

    # The stored study was tuned with XGBoost on these rows: another booster is refused.
    rc = main([*argv, "--trials", "1", "--resume", "--booster", "lightgbm", *FAST])
    assert_one_line_error(capsys, rc, "booster", alone=False)
    assert read_report(out)["booster"] == "xgboost"


def test_no_data_runs_the_synthetic_market(tmp_path: Path) -> None:
    assert main(["tune", "--n-samples", "600", "--trials", "2", *FAST]) == 0
    (out,) = (tmp_path / "boostobj_runs").iterdir()  # the default, fresh run folder
    report = read_report(out)
    assert report["data"]["n_rows"] == {"train": 240, "valid": 120, "test": 240}
    assert "synthetic" in report["data"]["source"]
    for split in ("valid", "test"):
        assert "bayes" in report[split]["log_wealth"]
    assert "Bayes policy" in (out / "report.md").read_text()
    for name in PLOTS:
        assert (out / name).read_bytes().startswith(PNG_MAGIC)
    assert report["refit_on_valid"] is True and report["n_members"] == 5  # the default
    assert report["threshold"] == 0.5 and report["study"]["best_value"] < 0  # minus the loss
    # Judged out of fold on train + guard rows: 240 + 36 (the last 30% of valid).
    assert report["out_of_fold"]["n_rows"] == 276 and not report["members_early_stopped"]
    assert report["recommendation"] == report["out_of_fold"]["verdict"]
    assert main(["tune", "--n-samples", "600", "--trials", "1", "--holdout-guard", *FAST]) == 0
    held = read_report(max((tmp_path / "boostobj_runs").iterdir()))
    assert held["out_of_fold"] is None and held["members_early_stopped"]
    assert held["recommendation"] == held["guard"]["verdict"]
    assert main(["tune", "--n-samples", "600", "--trials", "1", "--fast", *FAST]) == 0
    fast = read_report(max((tmp_path / "boostobj_runs").iterdir()))
    assert fast["refit_on_valid"] is False and fast["n_members"] == 1
    assert main(["tune", "--n-samples", "600", "--fast", "--refit", *FAST]) == 2


def test_cross_fit_saves_an_ensemble_that_predict_applies(
    market_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from boostobj import CrossFitEnsemble
    from boostobj.two_part import TwoPartModel

    out = tmp_path / "run"
    argv = ["tune", str(market_csv), "--out", str(out), "--trials", "2", "--no-plots", *FAST]
    assert main([*argv, "--cross-fit", "3", "--cross-fit-trials", "2"]) == 0
    report = read_report(out)
    assert report["refit_on_valid"] is True and report["n_members"] == 6
    text = (out / "report.md").read_text()
    assert "the mean of 6 models, 3 for each of the 2 best trials" in text
    model = load_model(out / "model")
    assert isinstance(model, TwoPartModel) and isinstance(model.model_, CrossFitEnsemble)
    assert len(model.members_) == 6
    assert list(model.feature_names_in_) == TUNED  # the dates are left out, team is a category
    target = tmp_path / "predictions.csv"
    features = pd.read_csv(market_csv)[TUNED]
    assert main(["predict", str(out), str(market_csv), "--out", str(target), "--use-model"]) == 0
    np.testing.assert_array_equal(pd.read_csv(target)["take"], model.predict(features))
    policy = load_policy(out)  # by default, predict applies the guard's policy
    assert main(["predict", str(out), str(market_csv), "--out", str(target), "--force"]) == 0
    np.testing.assert_array_equal(pd.read_csv(target)["take"], policy.predict(features))


def test_refit_select_on_and_fixed_threshold_reach_the_tuner(tmp_path: Path) -> None:
    from boostobj.tuning import SELECT_ON

    argv = ["tune", "--n-samples", "600", "--trials", "1", "--refit", "--no-plots", *FAST]
    assert main([*argv, "--select-on", "log_wealth", "--threshold", "tune"]) == 0
    (out,) = (tmp_path / "boostobj_runs").iterdir()
    report = read_report(out)
    assert report["refit_on_valid"] is True and report["n_members"] == 1
    assert "train + valid (`--refit`)" in (out / "report.md").read_text()
    assert report["study"]["best_value"] >= 0  # log-wealth at the best cut (take-none: 0)
    assert main([*argv, "--threshold", "1"]) == 2  # usage error: not in (0, 1)
    assert main([*argv, "--threshold", "best"]) == 2  # usage error: not auto, tune, a number
    assert main([*argv, "--cross-fit", "3"]) == 2  # two final models
    assert main([*argv, "--cross-fit-trials", "2"]) == 2  # the same
    assert main(["tune", "--cross-fit", "1", *FAST]) == 2  # usage error: an ensemble needs 2+
    sub = next(a for a in build_parser()._actions if a.choices and "tune" in a.choices)
    (select,) = [a for a in sub.choices["tune"]._actions if a.dest == "select_on"]
    assert tuple(select.choices) == SELECT_ON  # the CLI's copy, kept free of optuna imports


# -- predict ----------------------------------------------------------------------------------
def test_predict_round_trip(
    tuned_run: tuple[str, Path],
    market_csv: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, out = tuned_run
    target = tmp_path / "predictions.csv"
    assert main(["predict", str(out / "model"), str(market_csv), "--out", str(target)]) == 0
    printed = capsys.readouterr().out
    frame = pd.read_csv(market_csv)
    pred = pd.read_csv(target)
    assert list(pred.columns) == [*frame.columns, "probability", "take"]
    assert len(pred) == len(frame)
    model = load_model(out / "model")
    policy = load_policy(out / "model")
    take = policy.predict(frame[TUNED])  # the guard's policy, not the model's
    np.testing.assert_array_equal(pred["take"].to_numpy(), take)
    assert policy.explain() in printed
    np.testing.assert_allclose(
        pred["probability"], model.predict_proba(frame[TUNED])[:, 1], rtol=1e-12
    )
    lw = log_wealth(log_payoff(frame["p"].to_numpy()), take)
    assert f"log-wealth {lw:.4f}" in printed

    before = target.read_bytes()
    rc = main(["predict", str(out), str(market_csv), "--out", str(target)])  # the run folder
    assert_one_line_error(capsys, rc, str(target), "--force")
    assert target.read_bytes() == before
    assert main(["predict", str(out), str(market_csv), "--out", str(target), "--force"]) == 0

    capsys.readouterr()
    argv = ["predict", str(out), str(market_csv), "--out", str(target), "--force", "--use-model"]
    assert main(argv) == 0
    own = model.predict(frame[TUNED])
    np.testing.assert_array_equal(pd.read_csv(target)["take"].to_numpy(), own)
    warned = capsys.readouterr().err
    assert ("guard found no edge" in warned) == (policy.policy != "model")


# -- bad input --------------------------------------------------------------------------------
def _write(frame: pd.DataFrame, path: Path) -> str:
    frame.to_csv(path, index=False)
    return str(path)


@pytest.mark.filterwarnings("ignore:Could not infer format")  # pandas, on the bad dates
@pytest.mark.parametrize(
    ("case", "words"),
    [
        ("missing_file", ["nope.csv", "no such file"]),
        ("empty_file", ["empty"]),
        ("header_only", ["no rows"]),
        ("missing_payoff", ["no column 'gain'"]),
        ("date_feature", ["'date'", "holds dates", "--time-column"]),
        ("payoff_as_feature", ["'p'", "--features"]),
        ("zero_payoff", ["payoff column 'p'", "non-positive", "index 7"]),
        ("nan_payoff", ["payoff column 'p'", "NaN", "index 3"]),
        ("text_payoff", ["payoff column 'p'", "not numeric"]),
        ("missing_time", ["no column 'when'"]),
        ("bad_split", ["split column 'split'", "'holdout'"]),
        ("bad_dates", ["time column 'team'"]),
        ("n_samples_with_data", ["--n-samples"]),
        ("features_without_data", ["--features", "needs DATA"]),
        ("resume_without_out", ["--resume", "--out"]),
        ("bad_storage", ["storage"]),
    ],
)
def test_bad_tune_input_is_one_line_and_exit_2(
    case: str, words: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    frame = market_frame(60)
    data = str(tmp_path / "data.csv")
    extra: list[str] = []
    if case == "missing_file":
        data = str(tmp_path / "nope.csv")
    elif case == "empty_file":
        Path(data).write_text("")
    elif case == "header_only":
        _write(frame.iloc[:0], Path(data))
    elif case == "zero_payoff":
        frame.loc[7, "p"] = 0.0
    elif case == "nan_payoff":
        frame.loc[3, "p"] = np.nan
    elif case == "text_payoff":
        frame["p"] = frame["team"]
    elif case == "bad_split":
        frame["split"] = ["train"] * 40 + ["holdout"] * 20
    extra = {
        "missing_payoff": ["--payoff", "gain"],
        "date_feature": ["--features", "x0", "date"],
        "payoff_as_feature": ["--features", "x0", "p"],
        "missing_time": ["--time-column", "when"],
        "bad_dates": ["--time-column", "team"],
        "n_samples_with_data": ["--n-samples", "1000"],
        "bad_storage": ["--storage", str(tmp_path / "study.txt")],
    }.get(case, [])
    if not Path(data).exists() and case != "missing_file":
        _write(frame, Path(data))
    argv = ["tune", data, *extra]
    if case == "features_without_data":
        argv = ["tune", "--features", "x0"]
    elif case == "resume_without_out":
        argv = ["tune", data, "--resume"]
    else:
        argv += ["--out", str(tmp_path / "run")]
    assert_one_line_error(capsys, main(argv), *words)
    assert not (tmp_path / "boostobj_runs").exists()
    assert not (tmp_path / "run").exists()  # a failed run leaves nothing to block a rerun


def test_bad_predict_input_is_one_line_and_exit_2(
    tuned_run: tuple[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out = tuned_run
    frame = market_frame(50)
    data = _write(frame, tmp_path / "data.csv")
    target = str(tmp_path / "pred.csv")
    rc = main(["predict", str(tmp_path), data, "--out", target])
    assert_one_line_error(capsys, rc, "not a boostobj model folder")
    rc = main(
        ["predict", str(out), _write(frame.drop(columns="x3"), tmp_path / "d.csv"), "--out", target]
    )
    assert_one_line_error(capsys, rc, "no column 'x3'")
    rc = main(["predict", str(out), data, "--out", target, "--payoff", "gain"])
    assert_one_line_error(capsys, rc, "no column 'gain'")
    assert not Path(target).exists()


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tune", "--trials", "0"]) == 2
    assert "--trials" in capsys.readouterr().err
    assert main([]) == 2


# -- help -------------------------------------------------------------------------------------
def test_help_describes_every_option_and_the_payoff(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tune", "--help"]) == 0
    text = capsys.readouterr().out
    for flag in (
        "--payoff", "--out", "--booster", "--trials", "--timeout", "--time-column",
        "--split-column", "--features", "--storage", "--study-name", "--seed", "--resume",
        "--n-splits", "--n-samples", "--no-plots", "--n-estimators", "--n-jobs", "--refit",
        "--select-on", "--threshold",
        "--select-on", "--threshold",
    ):  # fmt: skip
        assert flag in text, flag
    assert "break-even" in " ".join(text.split())
    assert main(["predict", "--help"]) == 0
    text = capsys.readouterr().out
    for flag in ("MODEL_DIR", "DATA", "--out", "--payoff", "--force", "probability", "take"):
        assert flag in text, flag


def test_python_m_boostobj_help() -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    done = subprocess.run(
        [sys.executable, "-m", "boostobj", "--help"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "tune" in done.stdout and "predict" in done.stdout
    assert "break-even" in " ".join(done.stdout.split())


def test_tune_with_payoffs_known_and_another_loss(market_csv: Path, tmp_path: Path) -> None:
    """--payoff-known trains the win-probability model; --loss picks any registered loss."""
    import pandas as pd

    frame = pd.read_csv(market_csv)
    frame["p_win"] = 1 + 0.05 * (np.exp(frame["log_odds"]) - 1)  # stake 0.05 at the odds
    frame["p_loss"] = 0.95
    data = tmp_path / "with_payoffs.csv"
    frame.to_csv(data, index=False)
    out = tmp_path / "known"
    argv = ["tune", str(data), "--time-column", "date", "--trials", "2", "--out", str(out)]
    assert main([*argv, "--payoff-known", "p_win", "p_loss", "--no-plots", *FAST]) == 0
    report = read_report(out)
    assert report["estimator_params"]["loss"] == "outcome"
    meta = json.loads((out / "model" / "member_0" / "boostobj.json").read_text())
    features = meta["feature_names"]
    assert [features[i] for i in meta["params"]["payoff_columns"]] == ["p_win", "p_loss"]
    out2 = tmp_path / "kelly"
    argv[-1] = str(out2)
    assert main([*argv, "--loss", "kelly", "--no-plots", *FAST]) == 0
    assert read_report(out2)["estimator_params"] == {"loss": "kelly"}


def test_payoff_win_and_loss_name_the_known_payoffs(
    market_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    frame = pd.read_csv(market_csv)
    frame["odds_win"] = 1 + 0.05 * (np.exp(frame["log_odds"]) - 1)
    frame["odds_win"] = frame["odds_win"].where(frame.index % 50 != 0, 0.99)  # never taken
    frame["odds_loss"] = 0.95
    data = tmp_path / "named.csv"
    frame.to_csv(data, index=False)
    out = tmp_path / "named"
    argv = ["tune", str(data), "--trials", "1", "--fast", "--no-plots", *FAST]
    named = ["--payoff-win", "odds_win", "--payoff-loss", "odds_loss"]
    assert main([*argv, "--out", str(out), *named]) == 0
    model = load_model(out / "model")
    X = frame[list(model.feature_names_in_)]  # with team, a category the model codes
    assert [model.feature_names_in_[i] for i in model.payoff_columns] == ["odds_win", "odds_loss"]
    assert not model.predict(X)[frame.index % 50 == 0].any()  # p_win <= 1: a certain skip
    capsys.readouterr()
    rc = main([*argv, "--payoff-win", "odds_win"])
    assert_one_line_error(capsys, rc, "--payoff-win and --payoff-loss", "give both")
    rc = main([*argv, *named, "--payoff-known", "odds_win", "odds_loss"])
    assert_one_line_error(capsys, rc, "not both")


def test_payoff_known_columns_must_be_features(
    market_csv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = main(["tune", str(market_csv), "--payoff-known", "nope", "x1", "--trials", "1", *FAST])
    assert_one_line_error(capsys, rc, "--payoff-known column 'nope' is not a feature column")


# -- the error contract: one line on stderr, exit 2, nothing left that blocks a rerun ---------
def _deny(monkeypatch: pytest.MonkeyPatch, owner: object, name: str, error: int, path: str):
    """``owner.name(path, ...)`` raises ``OSError(error)`` for a path whose name is ``path``
    or that of its atomic write's temporary sibling (``.path.*.tmp``): a permission or a full
    disk that tests running as root cannot set up for real."""
    real = getattr(owner, name)

    def denied(target, *args, **kwargs):
        if Path(target).name == path or Path(target).name.startswith(f".{path}."):
            raise OSError(error, os.strerror(error), str(target))
        return real(target, *args, **kwargs)

    monkeypatch.setattr(owner, name, denied)


CONTRACT_CASES = {
    "truncated_gzip": ["data.csv.gz", "cannot be read", "truncated"],
    "unreadable_data": ["data.csv", "Permission denied"],
    "read_only_out": ["run", "Read-only file system"],
    "full_disk": ["report.json", "No space left on device", "1 completed trial(s) are kept"],
    "bogus_storage": ["--storage bogus://x", "cannot open it"],
    "postgres_without_driver": ["psycopg", "not installed", "boostobj[postgres]"],
    "not_sqlite": ["--storage", "study.db", "file is not a database"],
    "lightgbm_constant_features": ["every feature column", "constant"],
    "lightgbm_unsplittable_feature": ["no feature it can split", "min_data_in_leaf"],
    "link_in_resumed_run": ["report.json is a symbolic link"],
    "study_name_taken": ["study 'boostobj' already exists", "--resume"],
    "internal_error": ["unexpected TypeError", "this is a bug", "BOOSTOBJ_TRACEBACK"],
    "sidecar_missing_keys": ["lacks the key(s) 'params'"],
    "truncated_model": ["model.json has", "truncated"],
    "predict_out_dangling_link": ["pred.csv is a symbolic link", "--force"],
}


@pytest.mark.parametrize("case", list(CONTRACT_CASES))
def test_every_failure_is_one_line_exit_2_and_leaves_no_blocker(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    """Each of these printed a traceback and exited 1 (or 134), or left a run folder that a
    rerun refused; stdout holds no Optuna log either."""
    import errno
    import gzip

    frame = market_frame(300)
    data = tmp_path / "data.csv"
    run = tmp_path / "run"
    tune = ["tune", str(data), "--out", str(run), "--trials", "1", "--no-plots"]
    tune += ["--n-estimators", "10"]
    argv = tune
    kept: list[str] = []  # what the run folder may keep: completed trials, the user's own files
    if case == "truncated_gzip":
        packed = gzip.compress(frame.to_csv(index=False).encode())
        data = tmp_path / "data.csv.gz"
        data.write_bytes(packed[: len(packed) * 3 // 4])
        argv = ["tune", str(data), "--out", str(run)]
    if not data.exists() and case != "truncated_gzip":
        if case.startswith("lightgbm"):
            frame[FEATURES], frame["team"] = 1.0, "home"
            if case == "lightgbm_unsplittable_feature":
                frame.loc[3, "x1"] = 2.0  # varies on one row: LightGBM keeps no feature
            argv = [*tune, "--booster", "lightgbm", "--storage", str(tmp_path / "s.log")]
        _write(frame, data)
    if case == "unreadable_data":
        if os.geteuid() != 0:
            data.chmod(0)
        else:  # root reads any file: fail the read as the OS would
            _deny(monkeypatch, pd, "read_csv", errno.EACCES, "data.csv")
    elif case == "read_only_out":
        _deny(monkeypatch, os, "mkdir", errno.EROFS, "run")
    elif case == "full_disk":
        _deny(monkeypatch, Path, "write_text", errno.ENOSPC, "report.json")
        kept = ["model", "study.db"]
    elif case == "bogus_storage":
        argv = [*tune, "--storage", "bogus://x"]
    elif case == "postgres_without_driver":
        monkeypatch.setitem(sys.modules, "psycopg", None)
        argv = [*tune, "--storage", "postgresql://user@localhost/boostobj"]
    elif case == "not_sqlite":
        (tmp_path / "study.db").write_text("not a database\n" * 20)
        argv = [*tune, "--storage", str(tmp_path / "study.db")]
    elif case == "study_name_taken":  # an empty study of the user's: refused, never deleted
        import optuna

        from boostobj.tuning import make_storage

        optuna.create_study(storage=make_storage(tmp_path / "s.log"), study_name="boostobj")
        argv = [*tune, "--storage", str(tmp_path / "s.log")]
    elif case == "link_in_resumed_run":
        run.mkdir()
        victim = tmp_path / "victim.json"
        victim.write_text("mine")
        (run / "report.json").symlink_to(victim)
        argv = [*tune, "--resume"]
        kept = ["report.json"]
    elif case == "internal_error":

        def broken(*args, **kwargs):
            raise TypeError("a bug")

        monkeypatch.setattr("boostobj.tables.load_table", broken)
    elif case in ("sidecar_missing_keys", "truncated_model"):
        model = tuned_model(frame, tmp_path)
        if case == "sidecar_missing_keys":
            meta = json.loads((model / "boostobj.json").read_text())
            del meta["params"]
            (model / "boostobj.json").write_text(json.dumps(meta))
        else:
            cut = (model / "model.json").read_bytes()
            (model / "model.json").write_bytes(cut[: len(cut) // 2])
        argv = ["predict", str(model), str(data), "--out", str(tmp_path / "pred.csv")]
    elif case == "predict_out_dangling_link":
        model = tuned_model(frame, tmp_path)
        (tmp_path / "pred.csv").symlink_to(tmp_path / "nowhere" / "pred.csv")
        argv = ["predict", str(model), str(data), "--out", str(tmp_path / "pred.csv")]
    capsys.readouterr()  # what setting the case up printed
    rc = main(argv)
    printed = capsys.readouterr()
    assert "Trial" not in printed.out and "Traceback" not in printed.out, printed.out
    tuning_started = case in ("full_disk", "lightgbm_unsplittable_feature")
    check_one_line_error(printed.err, rc, *CONTRACT_CASES[case], alone=not tuning_started)
    assert sorted(p.name for p in run.iterdir()) == kept if run.exists() else not kept
    if case == "full_disk":  # the completed trials resume, and the run then completes
        monkeypatch.undo()
        assert main([*tune, "--resume", "--trials", "0"]) == 0
    if case in ("lightgbm_unsplittable_feature", "study_name_taken"):
        import optuna

        from boostobj.tuning import make_storage

        # The failed run's own study is not left to block a rerun; the user's study stays.
        names = optuna.get_all_study_names(make_storage(tmp_path / "s.log"))
        assert names == ([] if case.startswith("lightgbm") else ["boostobj"])
    if case == "link_in_resumed_run":
        assert (tmp_path / "victim.json").read_text() == "mine"
    if case == "predict_out_dangling_link":
        assert not (tmp_path / "nowhere").exists()


def tuned_model(frame: pd.DataFrame, tmp_path: Path) -> Path:
    """A small XGBoost model folder fitted on ``frame``'s features (names recorded)."""
    from boostobj import XGBWealthClassifier

    est = XGBWealthClassifier(n_estimators=5).fit(frame[FEATURES], frame["p"])
    return est.save(tmp_path / "model")


def test_ctrl_c_exits_130_with_one_line(
    market_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("boostobj.tuning.tune", interrupted)
    assert main(["tune", str(market_csv), "--out", str(tmp_path / "run"), *FAST]) == 130
    assert capsys.readouterr().err.splitlines()[-1] == "boostobj: interrupted"
    assert not (tmp_path / "run").exists()


def test_a_cut_lightgbm_model_is_one_line_not_a_crash(tmp_path: Path) -> None:
    """``boostobj predict`` on a cut model.txt exited 134 inside LightGBM's parser: run as a
    process, so a regression cannot kill pytest."""
    from boostobj import LGBMWealthClassifier

    frame = market_frame(300)
    data = _write(frame, tmp_path / "data.csv")
    model = LGBMWealthClassifier(n_estimators=10).fit(frame[FEATURES], frame["p"])
    folder = model.save(tmp_path / "model")
    text = (folder / "model.txt").read_bytes()
    (folder / "model.txt").write_bytes(text[: text.index(b"Tree=2")])  # at a tree boundary
    done = subprocess.run(
        [sys.executable, "-m", "boostobj", "predict", str(folder), data, "--out", "p.csv"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
    )
    assert done.returncode == 2, (done.returncode, done.stderr[-2000:])
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("boostobj: error: ") and "model.txt has" in line and "truncated" in line
    assert not (tmp_path / "p.csv").exists()
