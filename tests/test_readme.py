"""The README's worked examples run as written, and CI runs the README's test command."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def python_blocks():
    return re.findall(r"```python\n(.*?)```", README, flags=re.S)


def test_booster_examples_run():
    blocks = [b for b in python_blocks() if "booster = " in b]
    assert len(blocks) == 2  # XGBoost, then LightGBM (which reuses X, p from the first)
    namespace: dict = {}
    for block in blocks:
        exec(compile(block.replace("print(", "_printed = ("), "README", "exec"), namespace)
    assert namespace["_printed"] > 0  # the XGBoost model earns log-wealth on validation
    assert namespace["margin"].shape == (10_000,)


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "<!-- test-command -->" in README and "test-command" in ci
    command = README.split("<!-- test-command -->")[1].split("```bash\n")[1].split("\n")[0]
    assert command.endswith("pytest") and 'pip install ".[test]"' in command


def test_tune_example_runs(tmp_path, monkeypatch):
    (block,) = [b for b in python_blocks() if "StudyConfig(" in b]
    monkeypatch.chdir(tmp_path)  # its study.db lands there
    small = block.replace("30_000", "3_000").replace("12_000", "1_200")
    small = small.replace("18_000", "1_800").replace("n_trials=30", "n_trials=2")
    small = small.replace('"n_estimators": 500', '"n_estimators": 20')
    namespace: dict = {}
    exec(compile("from boostobj import make_betting_market\n" + small, "README", "exec"), namespace)
    result = namespace["result"]
    assert len(result.study.trials) == 2 and (tmp_path / "study.db").exists()
    assert len(result.model.members_) == 5
    assert result.evaluations["test"].n_rows == 1_200
