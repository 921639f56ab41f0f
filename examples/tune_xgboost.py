"""Tune XGBoost on the synthetic market with Optuna, then check the result on test rows.

    python examples/tune_xgboost.py
    python examples/tune_xgboost.py --n-samples 6000 --trials 3   # a quick run
    python examples/tune_xgboost.py --fast     # one model instead of a 5-fold ensemble

tune's defaults are the best configuration measured: the two-part model (each outcome's
payoff estimated by two regressions, then the win probability), trials ranked on the
validation loss, the Bayes threshold 0.5, a cross-fitted final model. The hyperparameters
are chosen on the validation rows only; test rows are scored once at the end. The no-edge
guard says whether to act on the model at all, and ``result.policy`` applies its verdict.
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from boostobj.datasets import bayes_log_wealth, make_betting_market
from boostobj.tuning import CrossFit, HoldoutModel, StudyConfig, tune


def run(booster: str, argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=f"Tune {booster} on the synthetic market.")
    parser.add_argument("--n-samples", type=int, default=60_000)
    parser.add_argument("--trials", type=int, default=15)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--storage", default=None, help="e.g. sqlite:///study.db to resume")
    parser.add_argument("--fast", action="store_true", help="deploy one model, not 5")
    args = parser.parse_args(argv)

    X, p, expected = make_betting_market(args.n_samples, random_state=args.seed)
    a, b = int(0.4 * len(p)), int(0.6 * len(p))  # train 40%, valid 20%, test 40%
    result = tune(
        X[:a], p[:a], X[a:b], p[a:b],
        booster=booster, n_trials=args.trials, X_test=X[b:], p_test=p[b:], seed=args.seed,
        study=StudyConfig(storage=args.storage, name=booster, resume=True),
        estimator_params={"n_jobs": 1, "n_estimators": 300},
        final=HoldoutModel() if args.fast else CrossFit(k=5),
    )  # fmt: skip
    summary = result.summary()
    bayes = bayes_log_wealth(np.log(p[b:]), expected[b:])
    test = summary["test"]
    print(f"{summary['n_trials']} trials; best params {summary['best_params']}")
    print(f"threshold {result.threshold:.3f}")
    print(
        f"test log-wealth: model {test['model']:.2f}, take-all {test['take_all']:.2f}, "
        f"take-none 0, Bayes {bayes:.2f} ({test['model'] / bayes:.1%} of Bayes)"
    )
    print(f"recommendation: {result.recommendation.policy}: {result.recommendation.reason}")
    deployed = result.policy.predict(X[b:])  # what to act on: the guard's verdict applied
    print(f"deployed policy takes {int(deployed.sum())} of {len(deployed)} test rows")
    return {**summary, "bayes": bayes, "n_deployed": int(deployed.sum())}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    return run("xgboost", argv)


if __name__ == "__main__":
    main()
