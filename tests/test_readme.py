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
