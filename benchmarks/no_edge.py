"""How often the no-edge guard passes a model on markets where no model can have an edge.

``tune()``'s default judges the cross-fitted members' out-of-fold decisions on the train and
guard rows (about 8x the guard rows alone), which is what lets it see real but small edges.
Its claim is that those rows chose nothing: the members run the holdout model's round count
instead of early-stopping on their held-out blocks, and the validation rows that chose the
hyperparameters, the round count and the threshold are left out. This script tests that
claim where the answer is known.

Markets without edge: ``make_betting_market`` and ``make_lending_market`` with the payoffs
**permuted** against the features, so ``E[log p | x]`` is the same for every row and the
only right policy is the better trivial one (take-none on both: the margin makes take-all
lose). The payoffs keep their real distribution (betting's rare large wins, lending's rare
large losses), the hard case for a bootstrap. Per market, seed and booster: one
``tune(X_train, p_train, X_valid, p_valid, booster=...)`` with its defaults, and

- *out-of-fold* (the default): does ``result.recommendation`` deploy the model?
- *guard rows* (the holdout model on the last 30% of valid, ``evaluations["guard"]``), the
  previous rule, on the same run, for reference;
- the deployed policy's log-wealth on test rows (the same permuted market).

A pass here is a false pass. The guard asks both paired 95% intervals (model minus take-all,
minus take-none) to lie above 0, so a well-calibrated guard passes no-edge models in at most
about 2.5% of runs; the results file gives the count with its exact binomial 95% upper bound.

    python benchmarks/no_edge.py           # writes benchmarks/results/no_edge.{json,md}
    python benchmarks/no_edge.py --quick   # smoke run, no_edge_quick.{json,md}
"""

from __future__ import annotations

try:  # first: it sets OMP_WAIT_POLICY before any OpenMP runtime loads
    from benchmarks import common, defaults
except ImportError:  # run as a plain script: benchmarks/ is sys.path[0]
    import common  # type: ignore[no-redef]
    import defaults  # type: ignore[no-redef]

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from boostobj.metrics import log_wealth
from boostobj.tuning import tune

MARKETS, BOOSTERS = defaults.MARKETS, defaults.BOOSTERS


def run_one(market: str, seed: int, booster: str, sizes: tuple[int, int, int], n_trials: int,
            n_jobs: int) -> dict[str, Any]:  # fmt: skip
    """One default ``tune`` on a permuted market: both guards' verdicts, the test score."""
    n_train, n_valid, n_test = sizes
    X, p, _ = MARKETS[market](n_train + n_valid + n_test, random_state=seed)
    p = np.random.default_rng(1000 + seed).permutation(p)
    a, b = n_train, n_train + n_valid
    result = tune(X[:a], p[:a], X[a:b], p[a:b], booster=booster, seed=seed, n_trials=n_trials,
                  estimator_params={"n_jobs": n_jobs})  # fmt: skip
    r = np.log(p[b:])
    oof = result.evaluations.get("out_of_fold")
    guard = result.evaluations["guard"]
    return {
        "out_of_fold": result.recommendation.policy,
        "out_of_fold_reason": result.recommendation.reason,
        "out_of_fold_rows": None if oof is None else oof.n_rows,
        "guard_rows": guard.verdict.policy,  # type: ignore[union-attr]
        "n_guard_rows": guard.n_rows,
        "deployed_test": log_wealth(r, result.policy.predict(X[b:])),
        "model_test": log_wealth(r, result.model.predict(X[b:])),
        "take_all_test": float(r.sum()),
    }


def upper_bound(passes: int, n: int, level: float = 0.95) -> float:
    """Exact (Clopper-Pearson) one-sided upper bound of a binomial rate."""
    from scipy.stats import beta

    return 1.0 if passes >= n else float(beta.ppf(level, passes + 1, n - passes))


def render(results: dict[str, Any]) -> str:
    runs = results["runs"]
    n = len(runs)
    lines = [
        "# The no-edge guard on markets without an edge",
        "",
        common.generated_by("no_edge.py", results),
        "",
        f"Payoffs permuted against the features; sizes train / valid / test "
        f"{' / '.join(map(str, results['sizes']))}; {results['n_trials']} trials, "
        "`tune()`'s defaults. A model deployed is a false pass.",
        "",
        "| guard | false passes | runs | 95% upper bound of the rate |",
        "|---|---|---|---|",
    ]
    for key, label in (("out_of_fold", "out of fold (default)"), ("guard_rows", "guard rows")):
        passes = sum(run[key] == "model" for run in runs)
        lines.append(f"| {label} | {passes} | {n} | {upper_bound(passes, n):.1%} |")
    lines += [
        "",
        "| market | seed | booster | out of fold | guard rows | deployed test | model test "
        "| take-all test |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        lines.append(
            f"| {run['market']} | {run['seed']} | {run['booster']} | {run['out_of_fold']} "
            f"({run['out_of_fold_rows']} rows) | {run['guard_rows']} ({run['n_guard_rows']} "
            f"rows) | {run['deployed_test']:.3f} | {run['model_test']:.3f} "
            f"| {run['take_all_test']:.3f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny smoke run")
    ap.add_argument("--seeds", type=int, nargs="+", default=list(range(10)))
    ap.add_argument("--markets", nargs="+", choices=list(MARKETS), default=list(MARKETS))
    ap.add_argument("--boosters", nargs="+", choices=BOOSTERS, default=list(BOOSTERS))
    ap.add_argument("--n-jobs", type=int, default=1, help="booster threads")
    ap.add_argument("--out", default=str(common.RESULTS))
    args = ap.parse_args(argv)
    sizes, n_trials, seeds = (8_000, 4_000, 20_000), 20, args.seeds
    if args.quick:
        sizes, n_trials, seeds = (1_000, 500, 1_000), 2, seeds[:1]
    results: dict[str, Any] = {
        "argv": sys.argv[1:] if argv is None else list(argv),
        **common.provenance(),
        "sizes": sizes,
        "n_trials": n_trials,
        "runs": [],
    }
    stem = "no_edge_quick" if args.quick else "no_edge"
    for seed in seeds:
        for market in args.markets:
            for booster in args.boosters:
                one = run_one(market, seed, booster, sizes, n_trials, args.n_jobs)
                results["runs"].append({"market": market, "seed": seed, "booster": booster, **one})
                common.log(f"{market} seed {seed} {booster}: {one['out_of_fold']}, "
                           f"guard rows {one['guard_rows']}")  # fmt: skip
                common.write_results(Path(args.out), stem, common.jsonable(results),
                                     render(results))  # fmt: skip
    return results


if __name__ == "__main__":
    main()
