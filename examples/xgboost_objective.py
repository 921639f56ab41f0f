"""Train XGBoost with boostobj's objective and log-wealth metric on the synthetic market.

    python examples/xgboost_objective.py            # 50k train rows, about 20 s on 2 cores
    python examples/xgboost_objective.py --n-train 2000 --n-test 5000   # a quick run

Prints test log-wealth against take-all, take-none and the Bayes policy (which knows the true
expected log payoff of every row: the attainable limit).
"""

from __future__ import annotations

import argparse

import numpy as np
import xgboost as xgb

import boostobj.xgboost as bx
from boostobj.datasets import bayes_log_wealth, make_betting_market
from boostobj.metrics import log_wealth, trivial_policies


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-train", type=int, default=50_000)
    parser.add_argument("--n-valid", type=int, default=20_000)
    parser.add_argument("--n-test", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    n = args.n_train + args.n_valid + args.n_test
    X, p, expected = make_betting_market(n, random_state=args.seed)
    tr, va = slice(0, args.n_train), slice(args.n_train, args.n_train + args.n_valid)
    te = slice(args.n_train + args.n_valid, n)

    # label = log p; the objective weights rows by |log p| / (training mean), reading the
    # label from each DMatrix it is given.
    dtrain, dvalid = bx.dmatrix(X[tr], p[tr]), bx.dmatrix(X[va], p[va])
    # bx.PARAMS = {"base_score": 0, "disable_default_eval_metric": True}: every row starts at
    # margin 0 (probability 0.5); XGBoost fits no intercept for a custom objective.
    booster = xgb.train(
        {**bx.PARAMS, "max_depth": 4, "eta": 0.05, "seed": args.seed},
        dtrain,
        num_boost_round=args.rounds,
        obj=bx.objective,
        custom_metric=bx.metric,
        evals=[(dvalid, "valid")],
        early_stopping_rounds=50,
        maximize=True,  # log-wealth: higher is better; XGBoost would guess "minimise"
        verbose_eval=False,
    )
    # predict() returns raw margins: take a row iff margin >= 0, i.e. sigmoid(margin) >= 0.5
    margin = booster.predict(xgb.DMatrix(X[te]), iteration_range=(0, booster.best_iteration + 1))
    r_test = np.log(p[te])
    results = {
        "boostobj_xgboost": log_wealth(r_test, margin >= 0.0),
        **{k: v for k, v in trivial_policies(r_test).items() if k != "perfect_foresight"},
        "bayes": bayes_log_wealth(r_test, expected[te]),
    }
    print(f"best round {booster.best_iteration + 1}; test rows {r_test.size}")
    for name, value in results.items():
        print(f"{name:>18}: log-wealth {value:9.2f}  ({value / results['bayes']:6.1%} of Bayes)")
    return results


if __name__ == "__main__":
    main()
