"""Approve loans on a real credit table, with its text columns as categorical features.

    pip install ".[bench]"                      # empulse ships the table inside its wheel
    python examples/credit_approval.py          # the whole table (about a minute on 2 cores)
    python examples/credit_approval.py --small  # 4,000 loans and 3 trials, for CI

The table: PAKDD 2009 (``empulse.datasets.load_credit_scoring_pakdd``), 38,938 credit-card
clients, 25 features (7 of them text: shop, profession, residence, ...), 20% defaults.

Payoffs. Approving a loan stakes a fraction ``s`` of wealth: repaid, ``p = 1 + s g``;
defaulted, ``p = 1 - s LGD``. ``g`` is the profit per unit lent of an annuity at the annual
rate ``i`` over ``n`` months discounted at the cost of funds ``c``, minus the principal:
``g = A(i/12, n) PV(c/12, n) - 1``. The constants are empulse's for this table: i = 63%,
c = 16.5%, n = 24, LGD = 0.75, and a stake of s = 10%. Both payoffs are known when deciding,
so they go in as two columns and ``loss="outcome"`` learns the default probability ``q``
and takes a loan iff ``(1 - q) log p_win + q log p_loss > 0``; the default ``tune()``, which
sees only the realised payoff, runs beside it.

The text columns are made pandas ``category`` columns: boostobj passes them to the booster
as categorical features and saves their levels with the model. Rows are split 60/20/20 at
random (the table has no dates); the test rows are scored once, at the end.
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from boostobj import log_wealth
from boostobj.tuning import tune

RATE, FUNDS, MONTHS, LGD, STAKE = 0.63, 0.165, 24, 0.75, 0.10


def profit_per_unit(rate: float = RATE, funds: float = FUNDS, months: int = MONTHS) -> float:
    """``g = A(rate/12, n) PV(funds/12, n) - 1`` (see the module docstring)."""
    r, c = rate / 12, funds / 12
    annuity = r * (1 + r) ** months / ((1 + r) ** months - 1)
    return annuity * (1 - (1 + c) ** -months) / c - 1


def load(n_rows: int | None, seed: int) -> tuple[Any, np.ndarray, float, float]:
    """``(features with text as categories, default label, p_win, p_loss)``."""
    try:
        from empulse.datasets import load_credit_scoring_pakdd
    except ImportError:
        raise SystemExit(
            "this example needs empulse, whose wheel holds the table: pip install '.[bench]'"
        ) from None
    import pandas as pd

    data = load_credit_scoring_pakdd(backend=pd)
    X, y = data.data.copy(), np.asarray(data.target, dtype=np.int64)
    text = [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])]
    X = X.astype(dict.fromkeys(text, "category"))
    if n_rows is not None and n_rows < len(y):
        keep = np.random.default_rng(seed).choice(len(y), n_rows, replace=False)
        X, y = X.iloc[keep].reset_index(drop=True), y[keep]
    g = profit_per_unit()
    return X, y, 1 + STAKE * g, 1 - STAKE * LGD


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", action="store_true", help="4,000 loans, 3 trials (for CI)")
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--booster", choices=["lightgbm", "xgboost"], default="lightgbm")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    n_rows, trials = (4000, 3) if args.small else (None, args.trials)

    X, y, p_win, p_loss = load(n_rows, args.seed)
    p = np.where(y == 0, p_win, p_loss)  # the realised payoff of approving each loan
    idx = np.random.default_rng(args.seed).permutation(len(y))
    a, b = int(0.6 * len(y)), int(0.8 * len(y))
    parts = {"train": idx[:a], "valid": idx[a:b], "test": idx[b:]}
    known = X.assign(p_win=p_win, p_loss=p_loss)  # both payoffs, known when deciding
    text = [c for c in X.columns if str(X[c].dtype) == "category"]
    print(f"{len(y)} loans, {X.shape[1]} features, {len(text)} categorical: {', '.join(text)}")
    print(f"p_win {p_win:.4f}, p_loss {p_loss:.3f}; {y.mean():.1%} defaults")

    runs = {
        "payoffs known": (known, {"loss": "outcome", "payoff_columns": ("p_win", "p_loss")}),
        "default tune()": (X, {}),
    }
    r_test = np.log(p[parts["test"]])
    summary: dict[str, Any] = {
        "take_all": log_wealth(r_test, np.ones(len(r_test), dtype=bool)),
        "take_none": 0.0,
    }
    for name, (features, params) in runs.items():
        tr, va, te = (features.iloc[parts[s]] for s in ("train", "valid", "test"))
        result = tune(
            tr, p[parts["train"]], va, p[parts["valid"]], booster=args.booster,
            n_trials=trials, seed=args.seed, estimator_params={"n_jobs": 2, **params},
        )  # fmt: skip
        take = result.policy.predict(te)  # what deploying it would do: the guard's policy
        summary[name] = {
            "log_wealth": log_wealth(r_test, take),
            "n_taken": int(take.sum()),
            "policy": result.recommendation.policy,
            "categories": len(result.model.categories_),
        }
        print(
            f"{name:>15}: test log-wealth {summary[name]['log_wealth']:8.3f}, "
            f"{int(take.sum())} of {len(take)} loans approved; recommendation: "
            f"{result.recommendation.policy} ({result.recommendation.reason})"
        )
    print(
        f"{'take every loan':>15}: test log-wealth {summary['take_all']:8.3f}; "
        "take none: 0 (one run on one split: benchmarks/credit.py gives seeds and intervals)"
    )
    return summary


if __name__ == "__main__":
    main()
