"""Tests for :mod:`boostobj.report`: every number comes from ``TuneResult`` and names its rows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from boostobj import report as report_module
from boostobj.metrics import threshold_curve
from boostobj.tables import synthetic_table
from boostobj.tuning import TuneResult, tune


@pytest.fixture(scope="module")
def result() -> TuneResult:
    table = synthetic_table(4000, seed=0)
    train, valid, test = (table.splits[s] for s in ("train", "valid", "test"))
    return tune(train, None, valid, None, X_test=test, n_trials=2,
                estimator_params={"n_estimators": 30, "n_jobs": 1})  # fmt: skip


def _run() -> dict[str, Any]:
    return {"boostobj_version": "test", "command": "boostobj tune", "booster": "xgboost",
            "n_estimators": 30, "storage": None, "model_dir": "model",
            "data": {"source": "synthetic", "payoff_column": "p", "split_method": "40/20/40",
                     "n_rows": {"train": 1600, "valid": 800, "test": 1600},
                     "features": ["x"], "suspected_leaks": []}}  # fmt: skip


def test_every_number_agrees_with_tune_result_and_states_its_rows(
    result: TuneResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    drawn: dict[str, Any] = {}
    monkeypatch.setattr(report_module, "plot_threshold_curve",
                        lambda ev, t, path: drawn.setdefault("threshold", (ev, t)))  # fmt: skip
    monkeypatch.setattr(report_module, "plot_cumulative_log_wealth",
                        lambda ev, path: drawn.setdefault("cumulative", ev))  # fmt: skip
    monkeypatch.setattr(report_module, "plot_optimization_history", lambda study, path: None)
    report_module.write_report(tmp_path, result, run=_run(), plots=True)
    written = json.loads((tmp_path / "report.json").read_text())
    evaluations = result.evaluations
    assert set(evaluations) == {"valid", "guard", "out_of_fold", "test"}
    # The guard's rows are cut off the validation rows: 560 + 240 of 800; the out-of-fold
    # guard judges the train and guard rows, 1600 + 240.
    assert evaluations["valid"].n_rows + evaluations["guard"].n_rows == 800
    assert evaluations["out_of_fold"].n_rows == 1600 + 240
    for name, ev in evaluations.items():
        section = written[name]
        assert section["n_rows"] == ev.n_rows == ev.log_p.size
        assert section["n_taken"] == ev.n_taken
        assert section["rows"]  # a sentence that says which rows these are
        for policy, value in ev.log_wealth.items():
            assert section["log_wealth"][policy] == pytest.approx(value, abs=1e-12)
        assert section["verdict"]["policy"] == ev.verdict.policy
    assert written["recommendation"]["policy"] == result.recommendation.policy
    assert written["recommendation"] == written["out_of_fold"]["verdict"]
    assert written["valid"]["log_wealth"]["model"] == pytest.approx(result.valid["model"])
    assert written["test"]["log_wealth"]["model"] == pytest.approx(result.test["model"])  # type: ignore[index]
    # The headline verdict is the test rows', with their count; % of Bayes on those rows.
    verdict, test = written["verdict"], written["test"]
    assert verdict["split"] == "test" and verdict["n_rows"] == test["n_rows"]
    share = 100 * test["log_wealth"]["model"] / test["log_wealth"]["bayes"]
    assert f"reached {share:.0f}% of it" in verdict["sentence"]
    # The threshold plot draws the table's validation rows: at the chosen threshold its
    # curve is the table's number.
    ev, threshold = drawn["threshold"]
    assert ev is evaluations["valid"]
    curve = threshold_curve(ev.score, ev.log_p)
    # the curve's point of the policy score >= threshold: the one taking as many rows (its
    # thresholds are midpoints between scores, so a score just above the cut may lie below)
    at = np.flatnonzero(curve.n_taken == np.count_nonzero(ev.score >= threshold))[0]
    assert curve.log_wealth[at] == pytest.approx(written["valid"]["log_wealth"]["model"])
    assert drawn["cumulative"] is evaluations["test"]


def test_markdown_names_the_row_counts(result: TuneResult, tmp_path: Path) -> None:
    report = report_module.write_report(tmp_path, result, run=_run(), plots=False)
    text = (tmp_path / "report.md").read_text()
    for name in ("valid", "guard", "out_of_fold", "test"):
        assert f"{name} ({report[name]['n_rows']} rows) log-wealth" in text
    assert "run for the holdout model's rounds, scaled to its rows" in text
    assert "the recommendation judged the members' out-of-fold decisions" in text


def test_old_write_report_keywords_warn(result: TuneResult, tmp_path: Path) -> None:
    with pytest.warns(DeprecationWarning, match="result.evaluations"):
        report_module.write_report(tmp_path, result, run=_run(), plots=False, valid=None)


def _report(guard: str, test: str, leaks: list[str] | None = None) -> dict[str, Any]:
    return {"recommendation": {"policy": guard, "reason": "on the guard rows, ..."},
            "verdict": {"split": "test"}, "test": {"n_rows": 100, "verdict": {"policy": test}},
            "data": {"suspected_leaks": leaks or []}}  # fmt: skip


@pytest.mark.parametrize(
    ("guard", "test", "leaks", "caveat", "bold"),
    [
        ("model", "model", None, None, "**Use the model**"),
        ("take_all", "take_all", None, None, "**Take every row**"),
        ("model", "take_none", None, "disagree", "**The guard and the test rows disagree**"),
        ("take_none", "model", None, "disagree", "**The guard and the test rows disagree**"),
        ("model", "model", ["won"], "leak", "**Do not act on this run**"),
    ],
)
def test_the_headline_never_contradicts_the_report(
    guard: str, test: str, leaks: list[str] | None, caveat: str | None, bold: str
) -> None:
    headline = report_module._headline(_report(guard, test, leaks))
    assert headline["caveat"] == caveat and headline["text"].startswith(bold)
    assert headline["policy"] == guard  # the saved policy is still the guard's


def test_a_failed_rewrite_leaves_the_old_report_whole(
    result: TuneResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    report_module.write_report(tmp_path, result, run=_run(), plots=False)
    before = (tmp_path / "report.md").read_bytes()

    def fail(path: Path) -> None:
        path.write_text("half a rep")
        raise OSError(28, "No space left on device")

    real = report_module.write_file

    def write_file(path: Path, write: Any, **kw: Any) -> Path:
        return real(path, fail if path.name == "report.md" else write, **kw)

    monkeypatch.setattr(report_module, "write_file", write_file)
    with pytest.raises(OSError, match="No space"):
        report_module.write_report(tmp_path, result, run=_run(), plots=False)
    assert (tmp_path / "report.md").read_bytes() == before
    assert not list(tmp_path.glob(".*.tmp"))  # no temporary file left behind
