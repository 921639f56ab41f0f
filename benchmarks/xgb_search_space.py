"""Does XGBoost tune better with LightGBM's tree shape? A check of the tuner's search space.

On the synthetic betting market with payoffs known at decision time, the tuned and
cross-fitted model reached 94.8% of the Bayes policy with XGBoost and 95.4% with LightGBM
(seeds 0-2, ``results/quality.md``). The two boosters' search spaces differ mainly in the tree
shape: XGBoost searches ``max_depth`` in [2, 8] (depth-wise trees), LightGBM ``num_leaves``
in [4, 128] (leaf-wise trees, unlimited depth). This script runs the benchmark's best method
(``benchmarks.quality.fit_tuned`` settings: ``tune(..., final=CrossFit(5, top=3),
select_on="loss", threshold=0.5)``, 30 trials) with three XGBoost search spaces:

- ``depthwise``: boostobj's :func:`boostobj.tuning.search_space` as it is;
- ``lossguide``: ``grow_policy="lossguide"``, ``max_depth=0``, ``max_leaves`` log [4, 128]
  instead of ``max_depth``, i.e. LightGBM's shape (first trial: 15 leaves);
- ``lossguide_depth``: ``lossguide`` with both ``max_depth`` [2, 8] and ``max_leaves`` log
  [4, 128] (first trial: depth 4 with 16 leaves, which grows exactly the default trees).

The leaf-wise variants are ``tune(search_space=...)`` spaces whose points also set
``grow_policy="lossguide"`` (a booster parameter, passed through), on a study whose first
trial is the point named above (:func:`benchmarks.common.first_point_study`). Reported: the
share of the Bayes policy's test log-wealth of the best trial's cross-fitted ensemble (the
``+crossfit`` row of the quality benchmark), of the top-3 ensemble and of the holdout model.

    python benchmarks/xgb_search_space.py --seeds 3 4 5 9 10 11   # about 15 min on 2 cores
    python benchmarks/xgb_search_space.py --quick --out /tmp/x     # smoke run

Seeds 0-2 are the quality benchmark's; 3-5 were explored before, 9-11 had never been used.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

try:  # first: it sets OMP_WAIT_POLICY before any OpenMP runtime loads
    from benchmarks import common
    from benchmarks.quality import Config, payoffs_known_betting
except ImportError:  # run as a plain script: benchmarks/ is sys.path[0]
    import common  # type: ignore[no-redef]
    from quality import Config, payoffs_known_betting  # type: ignore[no-redef]

import numpy as np

from boostobj import tuning

Space = Callable[[Any], dict[str, Any]]


def lossguide_space(depth: bool) -> Space:
    """XGBoost's search space with leaf-wise trees: ``max_leaves`` log [4, 128] instead of
    ``max_depth`` (or, with ``depth``, both); every point grows ``lossguide`` trees."""

    def space(trial: Any) -> dict[str, Any]:
        point = {"learning_rate": trial.suggest_float("learning_rate", 0.01, 0.3, log=True)}
        # 0: no depth limit (lossguide only); both go to the booster like any other parameter
        point["max_depth"] = trial.suggest_int("max_depth", 2, 8) if depth else 0
        point["max_leaves"] = trial.suggest_int("max_leaves", 4, 128, log=True)
        return point | {
            "min_child_weight": trial.suggest_float("min_child_weight", 1e-3, 10.0, log=True),
            "subsample": trial.suggest_float("subsample", 0.5, 1.0),
            "colsample_bytree": trial.suggest_float("colsample_bytree", 0.5, 1.0),
            "reg_lambda": trial.suggest_float("reg_lambda", 1e-3, 10.0, log=True),
            "grow_policy": "lossguide",
        }

    return space


DEFAULTS = tuning.DEFAULT_PARAMS["xgboost"]
# variant -> (search space, first trial's parameters); None, None: tune's own default space,
# whose first trial tune enqueues itself.
VARIANTS: dict[str, tuple[Space | None, dict[str, Any] | None]] = {
    "depthwise": (None, None),
    "lossguide": (
        lossguide_space(depth=False),
        {k: v for k, v in DEFAULTS.items() if k != "max_depth"} | {"max_leaves": 15},
    ),
    "lossguide_depth": (lossguide_space(depth=True), DEFAULTS | {"max_leaves": 16}),
}


def run_one(variant: str, seed: int, cfg: Config) -> dict[str, Any]:
    space, first = VARIANTS[variant]
    split, X, cols, bayes = payoffs_known_betting(seed, cfg)
    t0 = time.perf_counter()
    result = tuning.tune(
        X["train"], split.p["train"], X["valid"], split.p["valid"],
        booster="xgboost", n_trials=cfg.tune_trials, seed=seed,
        study=None if first is None else common.first_point_study(seed, first),
        search_space=space,
        estimator_params=common.tune_params(
            cfg.n_estimators, cfg.n_jobs, loss="outcome", payoff_columns=cols
        ),
        final=tuning.CrossFit(cfg.cross_fit, cfg.cross_fit_trials),
        **common.PAYOFFS_CHOICE,
    )  # fmt: skip
    r = split.r("test")

    def share(members: list[Any]) -> float:
        margin = np.mean([m.decision_margin(X["test"]) for m in members], axis=0)
        return common.bayes_share(r, margin, bayes)

    members = result.model.members_
    return {
        "crossfit": share(members[: cfg.cross_fit]),
        "top3": share(members),
        "holdout": share([result.holdout_model]),
        "best_params": result.best_params,
        "seconds": round(time.perf_counter() - t0, 1),
    }


def render_markdown(results: dict[str, Any]) -> str:
    seeds = results["seeds"]
    lines = [
        "# XGBoost search space: depth-wise against LightGBM's leaf-wise shape",
        "",
        common.generated_by("xgb_search_space.py", results),
        "",
        "Synthetic betting market, payoffs known at decision time, XGBoost, tuned with "
        f"`select_on='loss'`, `threshold=0.5`, {results['config']['tune_trials']} trials, "
        f"{results['config']['n_train']:,} / {results['config']['n_valid']:,} / "
        f"{results['config']['n_test']:,} rows; share of the Bayes policy's test "
        "log-wealth (per seed, then the mean).",
        "",
        "| variant | model | " + " | ".join(f"seed {s}" for s in seeds) + " | mean |",
        "|---|---|" + "---|" * (len(seeds) + 1),
    ]
    for variant, per_seed in results["shares"].items():
        for model in ("crossfit", "top3", "holdout"):
            values = [per_seed[str(s)][model] for s in seeds]
            cells = " | ".join(f"{100 * v:.1f}%" for v in values)
            lines.append(f"| {variant} | {model} | {cells} | {100 * np.mean(values):.1f}% |")
    return "\n".join([*lines, ""])


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[3, 4, 5, 9, 10, 11])
    ap.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    ap.add_argument("--n-jobs", type=int, default=2, help="booster threads (default 2)")
    ap.add_argument("--out", type=Path, default=common.RESULTS, help="output folder")
    ap.add_argument("--quick", action="store_true", help="tiny smoke run")
    args = ap.parse_args(argv)
    cfg = replace(Config(), n_jobs=args.n_jobs)
    if args.quick:
        cfg = replace(cfg, n_train=2000, n_valid=1000, n_test=2000, tune_trials=3,
                      n_estimators=50, cross_fit=2, cross_fit_trials=2)  # fmt: skip
    shares: dict[str, dict[str, Any]] = {}
    for variant in args.variants:
        shares[variant] = {}
        for seed in args.seeds:
            shares[variant][str(seed)] = rec = run_one(variant, seed, cfg)
            shown = ", ".join(f"{k} {rec[k]:.4f}" for k in ("crossfit", "top3", "holdout"))
            common.log(f"{variant} seed {seed}: {shown} ({rec['seconds']} s)")
    results = {
        "argv": sys.argv[1:] if argv is None else list(argv),
        "seeds": args.seeds,
        "config": asdict(cfg),
        **common.provenance(),
        "shares": shares,
    }
    stem = "xgb_search_space_quick" if args.quick else "xgb_search_space"
    common.write_results(args.out, stem, results, render_markdown(results), default=str)
    return results


if __name__ == "__main__":
    main()
