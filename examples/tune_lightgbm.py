"""Tune LightGBM on the synthetic market with Optuna, then check the result on test rows.

    python examples/tune_lightgbm.py
    python examples/tune_lightgbm.py --n-samples 6000 --trials 3  # a quick run

Same protocol as ``tune_xgboost.py``, whose ``run`` it calls.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tune_xgboost import run


def main(argv: list[str] | None = None) -> dict[str, Any]:
    return run("lightgbm", argv)


if __name__ == "__main__":
    main()
