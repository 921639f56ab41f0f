"""Train LightGBM with boostobj's objective and log-wealth metric on the synthetic market.

    python examples/lightgbm_objective.py           # 50k train rows, about 20 s on 2 cores
    python examples/lightgbm_objective.py --n-train 2000 --n-test 5000  # a quick run

Prints test log-wealth against take-all, take-none and the Bayes policy (which knows the true
expected log payoff of every row: the attainable limit).
"""

from __future__ import annotations

import argparse

import lightgbm as lgb
import numpy as np

import boostobj.lightgbm as bl
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

    # label = log p; the objective weights rows by |log p| / (training mean). A custom
    # objective starts every row at score 0 (probability 0.5): no boost_from_average.
    dtrain = bl.dataset(X[tr], p[tr])
    dvalid = bl.dataset(X[va], p[va], reference=dtrain)
    params = {"objective": bl.objective, "learning_rate": 0.05, "num_leaves": 15,
              "seed": args.seed, "verbose": -1}  # fmt: skip
    booster = lgb.train(
        params,
        dtrain,
        num_boost_round=args.rounds,
        valid_sets=[dvalid],
        feval=bl.metric,  # returns is_higher_better=True, so early stopping maximises
        callbacks=[lgb.early_stopping(50, verbose=False)],
    )
    # predict() returns raw scores: take a row iff score >= 0, i.e. sigmoid(score) >= 0.5
    margin = booster.predict(X[te], num_iteration=booster.best_iteration)
    r_test = np.log(p[te])
    results = {
        "boostobj_lightgbm": log_wealth(r_test, margin >= 0.0),
        **{k: v for k, v in trivial_policies(r_test).items() if k != "perfect_foresight"},
        "bayes": bayes_log_wealth(r_test, expected[te]),
    }
    print(f"best round {booster.best_iteration}; test rows {r_test.size}")
    for name, value in results.items():
        print(f"{name:>18}: log-wealth {value:9.2f}  ({value / results['bayes']:6.1%} of Bayes)")
    return results


if __name__ == "__main__":
    main()
