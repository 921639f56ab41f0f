"""The benchmark scripts run (tiny sizes) so they cannot rot; the full runs are marked slow."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run(script: str, *args: str, timeout: int) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_WAIT_POLICY": "PASSIVE"}
    subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *args],
        check=True,
        env=env,
        timeout=timeout,
        capture_output=True,
    )


def test_quality_quick(tmp_path):
    run("quality.py", "--quick", "--out", str(tmp_path), timeout=300)
    results = json.loads((tmp_path / "quality_quick.json").read_text())
    assert {"betting", "lending", "football", "stocks"} <= set(results["datasets"])
    methods = results["datasets"]["betting"]["runs"][0]["methods"]
    for tag in ("+tuned", "+tuned+refit", "+tuned+crossfit", "+tuned+crossfit+top3+guard"):
        assert f"lightgbm/outcome+payoffs{tag}" in methods
    assert (tmp_path / "quality_quick.md").read_text().startswith("#")


def test_quality_only_default_quick(tmp_path):
    """The default tune() rows (what the README's targets are measured on), alone."""
    run("quality.py", "--quick", "--only-default", "--out", str(tmp_path), timeout=300)
    results = json.loads((tmp_path / "quality_default_quick.json").read_text())
    betting = results["datasets"]["betting"]["runs"][0]["methods"]
    assert set(betting) >= {"xgboost/default tune()", "lightgbm/default tune()+payoffs",
                            "lightgbm/regression", "take_all", "bayes"}  # fmt: skip
    assert not any("+tuned" in key for key in betting)
    stocks = results["datasets"]["stocks"]["runs"][0]["methods"]
    assert "xgboost/default tune()" in stocks and "xgboost/default tune()+payoffs" not in stocks
    for rec in (betting["xgboost/default tune()"], stocks["lightgbm/default tune()"]):
        assert rec["method"] == "two_part"
        assert rec["guard_policy"] in ("model", "take_all", "take_none")
    assert "default tune()" in (tmp_path / "quality_default_quick.md").read_text()


def test_speed_quick(tmp_path):
    run("speed.py", "--quick", "--out", str(tmp_path), timeout=300)
    results = json.loads((tmp_path / "speed_quick.json").read_text())
    assert results  # every measure recorded
    assert "| measure |" in (tmp_path / "speed_quick.md").read_text()


def test_payoffs_ablation_quick(tmp_path):
    run("payoffs_ablation.py", "--quick", "--out", str(tmp_path), timeout=300)
    results = json.loads((tmp_path / "payoffs_ablation_quick.json").read_text())
    assert results["seeds"] == [0, 3]
    assert all(len(v) == 2 for b in results["shares"].values() for v in b.values())
    assert "| xgboost | fixed+refit |" in (tmp_path / "payoffs_ablation_quick.md").read_text()


def test_xgb_search_space_quick(tmp_path):
    run("xgb_search_space.py", "--quick", "--seeds", "3", "--out", str(tmp_path), timeout=300)
    results = json.loads((tmp_path / "xgb_search_space_quick.json").read_text())
    assert set(results["shares"]) == {"depthwise", "lossguide", "lossguide_depth"}
    assert "| lossguide | crossfit |" in (tmp_path / "xgb_search_space_quick.md").read_text()


def test_crossfit_variants_quick(tmp_path):
    run("crossfit_variants.py", "--quick", "--seeds", "3", "--out", str(tmp_path), timeout=300)
    results = json.loads((tmp_path / "crossfit_variants_quick.json").read_text())
    seed = results["per_seed"]["3"]
    assert set(results["variants"]) <= set(seed)
    assert all(0 < seed[v]["n_rounds"] <= 100 for v in results["variants"])  # 50 (or 100) max
    assert "| k5_oof_top3 |" in (tmp_path / "crossfit_variants_quick.md").read_text()


@pytest.mark.slow
def test_quality_full(tmp_path):
    run("quality.py", "--out", str(tmp_path), timeout=7200)  # the default rows add ~25 min


@pytest.mark.slow
def test_speed_full(tmp_path):
    run("speed.py", "--out", str(tmp_path), timeout=3600)


@pytest.mark.slow
def test_credit_full(tmp_path):
    pytest.importorskip("empulse", reason="the loan tables ship in empulse: pip install '.[bench]'")
    run("credit.py", "--out", str(tmp_path), timeout=3600)


@pytest.mark.slow
def test_regression_surrogate_full(tmp_path):
    run("regression_surrogate.py", "--out", str(tmp_path), timeout=3600)


def test_no_edge_quick(tmp_path):
    run("no_edge.py", "--quick", "--out", str(tmp_path), timeout=300)
    results = json.loads((tmp_path / "no_edge_quick.json").read_text())
    assert len(results["runs"]) == 4  # 2 markets x 2 boosters, one seed
    assert all(run["out_of_fold_rows"] == 1000 + 150 for run in results["runs"])
    assert "| out of fold (default) |" in (tmp_path / "no_edge_quick.md").read_text()


@pytest.mark.slow
def test_no_edge_full(tmp_path):
    run("no_edge.py", "--out", str(tmp_path), timeout=3600)


def test_defaults_quick(tmp_path):
    run("defaults.py", "--quick", "--out", str(tmp_path), timeout=300)
    results = json.loads((tmp_path / "defaults_quick.json").read_text())
    assert len(results["runs"]) == 4  # 2 markets x 2 boosters, one seed
    for one in results["runs"]:
        # on 1,500 training rows "auto" may find too few wins or losses for the two-part
        # model; then the default is the surrogate, and the same call as payoffs=None
        assert one["method"] in {"two_part", "surrogate"}
        if one["method"] == "surrogate":
            assert one["default"]["deployed"] == one["surrogate"]["deployed"]
        for config in ("default", "fast", "surrogate", "previous"):
            share = one[config]["deployed"] / one["bayes"]
            assert share == one[config]["deployed_share"]
    assert (tmp_path / "defaults_quick.md").read_text().startswith("# What a new user gets")


def test_defaults_real_quick(tmp_path):
    run("defaults.py", "--real", "--quick", "--out", str(tmp_path), timeout=300)
    results = json.loads((tmp_path / "defaults_real_quick.json").read_text())
    assert [(one["table"], one["booster"]) for one in results["runs"]] == [
        (t, b) for t in ("football", "stocks") for b in ("xgboost", "lightgbm")
    ]
    for one in results["runs"]:
        best = max(one["take_all"], 0.0)
        assert one["best_trivial"] == ("take_all" if one["take_all"] > 0 else "take_none")
        # With groups the guard rows judge: --fast shares the default's verdict.
        assert one["fast"]["policy"] == one["guard"]["policy"]
        for config in ("default", "fast", "surrogate", "previous"):
            c = one[config]
            trivial = {"take_all": one["take_all"], "take_none": 0.0}
            if c["policy"] in trivial:  # the guard fell back: predict applies that policy
                assert c["deployed"] == pytest.approx(trivial[c["policy"]])
            for key in ("vs_best_trivial", "vs_best_trivial_iid"):
                d = c[key]
                assert d["estimate"] == pytest.approx(c["deployed"] - best)
                assert d["low"] <= d["high"]
                expected = (
                    "significantly below" if d["high"] < 0 else
                    "significantly above" if d["low"] > 0 else "not significantly different"
                )  # fmt: skip
                assert d["verdict"] == expected
    text = (tmp_path / "defaults_real_quick.md").read_text()
    assert text.startswith("# What a new user gets on the real tables")
    assert "| stocks | 0 | lightgbm |" in text


def test_credit_quick(tmp_path):
    reason = "benchmarks/credit.py needs empulse (its loan tables): pip install '.[bench]'"
    pytest.importorskip("empulse", reason=reason)
    run("credit.py", "--quick", "--out", str(tmp_path), timeout=300)
    results = json.loads((tmp_path / "credit_quick.json").read_text())
    assert set(results["tables"]) == {"vub", "pakdd"}
    for table in results["tables"].values():
        assert table["n_rows"] == 3000
        (one,) = table["runs"]  # one seed
        methods = one["methods"]
        assert methods["take_none"]["log_wealth"] == 0.0
        assert methods["take_all"]["n_taken"] == one["n_test"]
        best = max(methods[m]["log_wealth"] for m in methods if not m.startswith("boostobj"))
        assert methods[one["best_peer"]]["log_wealth"] == best
        assert methods[one["best_peer"]]["vs_best_peer"]["estimate"] == 0.0
    assert "| boostobj_payoffs/xgboost |" in (tmp_path / "credit_quick.md").read_text()


def test_regression_surrogate_quick(tmp_path):
    run("regression_surrogate.py", "--quick", "--out", str(tmp_path), timeout=300)
    results = json.loads((tmp_path / "regression_surrogate_quick.json").read_text())
    assert results["derivatives"]["grad_rel_err"] < 1e-6
    assert {(r["market"], r["booster"]) for r in results["runs"]} == {
        (m, b) for m in ("betting", "lending") for b in ("xgboost", "lightgbm")
    }
    for run_ in results["runs"]:
        for method in ("logistic", "regression"):
            assert run_[method]["policy"] in {"model", "take_all", "take_none"}
    assert "| betting | 20 | xgboost |" in (tmp_path / "regression_surrogate_quick.md").read_text()


def test_defaults_payoffs_quick(tmp_path):
    run("defaults.py", "--payoffs", "--quick", "--out", str(tmp_path), timeout=300)
    results = json.loads((tmp_path / "defaults_payoffs_quick.json").read_text())
    assert len(results["runs"]) == 4  # both markets, both boosters, one seed
    for one in results["runs"]:
        assert one["policy"] in {"model", "take_all", "take_none"}
        if one["policy"] == "model":
            assert one["deployed_share"] == pytest.approx(one["model_share"])
    text = (tmp_path / "defaults_payoffs_quick.md").read_text()
    assert text.startswith("# What a new user gets with the payoffs known")
