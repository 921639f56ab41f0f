"""The examples run end to end at CI sizes and report sane numbers."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SMALL = ["--n-train", "3000", "--n-valid", "1500", "--n-test", "5000", "--rounds", "200"]


def load(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", ["xgboost_objective", "lightgbm_objective"])
def test_objective_examples(name, capsys):
    results = load(name).main(SMALL)
    model = next(v for k, v in results.items() if k.startswith("boostobj"))
    assert model > results["take_all"]
    assert results["bayes"] > 0
    assert "of Bayes" in capsys.readouterr().out


@pytest.mark.parametrize("name", ["tune_xgboost", "tune_lightgbm"])
def test_tuning_examples(name, capsys):
    summary = load(name).main(["--n-samples", "5000", "--trials", "3"])
    assert summary["n_trials"] >= 1 and summary["bayes"] > 0
    assert summary["recommendation"]["policy"] in {"model", "take_all", "take_none"}
    assert "recommendation:" in capsys.readouterr().out


def test_credit_approval_example_uses_the_text_columns(capsys):
    pytest.importorskip("empulse", reason="the table ships in empulse: pip install '.[bench]'")
    summary = load("credit_approval").main(["--small"])
    out = capsys.readouterr().out
    assert "7 categorical: shop_rank" in out
    for name in ("payoffs known", "default tune()"):
        run = summary[name]
        assert run["categories"] == 7  # every text column reached the model as a category
        assert run["policy"] in {"model", "take_all", "take_none"}
        if run["policy"] == "take_all":  # the deployed policy is the one the guard chose
            assert run["log_wealth"] == pytest.approx(summary["take_all"])
