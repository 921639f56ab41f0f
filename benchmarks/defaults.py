"""What a new user gets: ``tune()``'s defaults against ``--fast`` and the previous defaults.

For each synthetic market (``make_betting_market``, ``make_lending_market``), seed and booster,
one sample split in order into train / valid / test, and:

- ``default``: ``tune(X_train, p_train, X_valid, p_valid, booster=...)`` with nothing else
  chosen: trials ranked on the validation surrogate loss, the loss's Bayes threshold (0.5),
  a 5-fold cross-fitted final model (``CrossFit(5)``), 20 trials.
- ``fast``: the same study's holdout model, fitted on train and early-stopped on valid:
  exactly what ``tune(..., final=HoldoutModel())`` (``boostobj tune --fast``) returns, since
  the trials and the guard's verdict do not depend on the final model.
- ``previous``: the previous release's defaults, ``select_on="log_wealth"``,
  ``threshold="tune"`` (the best cut on valid), ``final=HoldoutModel()``.

Scored on the test rows, which chose nothing: the log-wealth of the **deployed policy**
(``result.policy.predict``: the model, or the trivial policy the no-edge guard fell back
to) and of the model itself, each as a share of the Bayes policy's (take iff the exact
``E[log p | x] > 0``). Seconds are wall-clock per ``tune`` call, in this process.

Seeds 0-2 are the ones the defaults were chosen on (by ``benchmarks/quality.py``); seeds
10-12 were never looked at before this script ran them.

    python benchmarks/defaults.py             # writes benchmarks/results/defaults.{json,md}
    python benchmarks/defaults.py --quick     # smoke run, defaults_quick.{json,md}
"""

from __future__ import annotations

try:  # first: it sets OMP_WAIT_POLICY before any OpenMP runtime loads
    from benchmarks import common
except ImportError:  # run as a plain script: benchmarks/ is sys.path[0]
    import common  # type: ignore[no-redef]

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from boostobj.datasets import bayes_log_wealth, make_betting_market, make_lending_market
from boostobj.metrics import log_wealth
from boostobj.policy import Policy
from boostobj.tuning import HoldoutModel, tune

MARKETS = {"betting": make_betting_market, "lending": make_lending_market}
BOOSTERS = ("xgboost", "lightgbm")
CHOSEN_ON = (0, 1, 2)
FRESH = (10, 11, 12)
CONFIGS = ("default", "fast", "previous")


def run_one(market: str, seed: int, booster: str, sizes: tuple[int, int, int], n_trials: int,
            n_jobs: int | None) -> dict[str, Any]:  # fmt: skip
    n_train, n_valid, n_test = sizes
    X, p, expected = MARKETS[market](n_train + n_valid + n_test, random_state=seed)
    a, b = n_train, n_train + n_valid
    r = np.log(p[b:])
    bayes = bayes_log_wealth(r, expected[b:])
    common_args: dict[str, Any] = {"booster": booster, "seed": seed, "n_trials": n_trials}
    if n_jobs is not None:
        common_args["estimator_params"] = {"n_jobs": n_jobs}
    out: dict[str, Any] = {"bayes": bayes, "take_all": float(r.sum())}

    def score(policy: Policy, seconds: float | None) -> dict[str, Any]:
        deployed = log_wealth(r, policy.predict(X[b:]))
        model = log_wealth(r, policy.model.predict(X[b:]))
        return {
            "policy": policy.policy,
            "deployed": deployed,
            "model": model,
            "deployed_share": deployed / bayes,
            "model_share": model / bayes,
            "seconds": seconds,
        }

    t0 = time.perf_counter()
    result = tune(X[:a], p[:a], X[a:b], p[a:b], **common_args)
    out["default"] = score(result.policy, time.perf_counter() - t0)
    rec = result.recommendation
    out["fast"] = score(Policy(result.holdout_model, rec.policy, rec.reason), None)
    t0 = time.perf_counter()
    previous = tune(
        X[:a], p[:a], X[a:b], p[a:b], **common_args,
        select_on="log_wealth", threshold="tune", final=HoldoutModel(),
    )  # fmt: skip
    out["previous"] = score(previous.policy, time.perf_counter() - t0)
    common.log(
        f"{market} seed {seed} {booster}: "
        + ", ".join(f"{c} {out[c]['deployed_share']:.1%}" for c in CONFIGS)
    )
    return out


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean shares per (market, booster, seed group, config)."""
    table: dict[str, Any] = {}
    for run in runs:
        group = "chosen_on" if run["seed"] in CHOSEN_ON else "fresh"
        key = f"{run['market']}/{run['booster']}/{group}"
        for config in CONFIGS:
            cell = table.setdefault(key, {}).setdefault(config, {"deployed": [], "model": []})
            cell["deployed"].append(run[config]["deployed_share"])
            cell["model"].append(run[config]["model_share"])
    return {
        key: {c: {k: float(np.mean(v)) for k, v in cells.items()} for c, cells in row.items()}
        for key, row in table.items()
    }


def render(results: dict[str, Any]) -> str:
    lines = [
        "# What a new user gets: tune()'s defaults",
        "",
        common.generated_by("defaults.py", results),
        "",
        f"Sizes train / valid / test: {' / '.join(map(str, results['sizes']))} rows; "
        f"{results['n_trials']} trials. Share of the Bayes policy's test log-wealth, mean over "
        "seeds; *deployed* is what `result.policy.predict` takes (the guard may fall back to a "
        "trivial policy), *model* the model's own decisions.",
        "",
        "| market / booster / seeds | default deployed | default model | fast deployed | "
        "previous deployed | previous model |",
        "|---|---|---|---|---|---|",
    ]
    for key, row in results["summary"].items():
        cells = [
            row["default"]["deployed"],
            row["default"]["model"],
            row["fast"]["deployed"],
            row["previous"]["deployed"],
            row["previous"]["model"],
        ]
        lines.append(f"| {key} | " + " | ".join(f"{c:.1%}" for c in cells) + " |")
    lines += ["", "Per run (deployed share; the guard's policy; seconds per tune call):", ""]
    lines += ["| market | seed | booster | default | fast | previous | s default / previous |"]
    lines += ["|---|---|---|---|---|---|---|"]
    for run in results["runs"]:
        d, f, p = (run[c] for c in CONFIGS)
        lines.append(
            f"| {run['market']} | {run['seed']} | {run['booster']} | "
            f"{d['deployed_share']:.1%} ({d['policy']}) | {f['deployed_share']:.1%} | "
            f"{p['deployed_share']:.1%} ({p['policy']}) | "
            f"{d['seconds']:.0f} / {p['seconds']:.0f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny smoke run")
    ap.add_argument("--seeds", type=int, nargs="+", default=[*CHOSEN_ON, *FRESH])
    ap.add_argument("--markets", nargs="+", choices=list(MARKETS), default=list(MARKETS))
    ap.add_argument("--boosters", nargs="+", choices=BOOSTERS, default=list(BOOSTERS))
    ap.add_argument("--n-jobs", type=int, default=None, help="booster threads (default: all)")
    ap.add_argument("--out", default=str(common.RESULTS))
    args = ap.parse_args(argv)
    sizes, n_trials = ((20_000, 10_000, 100_000), 20)
    if args.quick:
        sizes, n_trials, args.seeds = (1_500, 800, 2_000), 2, args.seeds[:1]
    stem = "defaults_quick" if args.quick else "defaults"
    results: dict[str, Any] = {
        "argv": sys.argv[1:] if argv is None else list(argv),
        **common.provenance(),
        "sizes": sizes,
        "n_trials": n_trials,
        "runs": [],
    }
    for seed in args.seeds:  # all markets of a seed first; the files are rewritten per run
        for market in args.markets:
            for booster in args.boosters:
                one = run_one(market, seed, booster, sizes, n_trials, args.n_jobs)
                results["runs"].append({"market": market, "seed": seed, "booster": booster, **one})
                results["summary"] = summarise(results["runs"])
                common.write_results(
                    Path(args.out), stem, common.jsonable(results), render(results)
                )
    return results


if __name__ == "__main__":
    main()
