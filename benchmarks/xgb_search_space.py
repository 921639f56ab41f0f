"""Does XGBoost tune better with LightGBM's tree shape? A check of the tuner's search space.

On the synthetic betting market with payoffs known at decision time, the tuned and
cross-fitted model reached 94.8% of the Bayes policy with XGBoost and 95.4% with LightGBM
(seeds 0-2, ``results/quality.md``). The two boosters' search spaces differ mainly in the tree
shape: XGBoost searches ``max_depth`` in [2, 8] (depth-wise trees), LightGBM ``num_leaves``
in [4, 128] (leaf-wise trees, unlimited depth). This script runs the benchmark's best method
(``benchmarks.quality.fit_tuned`` settings: ``tune(..., refit=5, refit_trials=3,
select_on="loss", threshold=0.5)``, 30 trials) with three XGBoost search spaces:

- ``depthwise``: boostobj's :func:`boostobj.tuning.search_space` as it is;
- ``lossguide``: ``grow_policy="lossguide"``, ``max_depth=0``, ``max_leaves`` log [4, 128]
  instead of ``max_depth``, i.e. LightGBM's shape (first trial: 15 leaves);
- ``lossguide_depth``: ``lossguide`` with both ``max_depth`` [2, 8] and ``max_leaves`` log
  [4, 128] (first trial: depth 4 with 16 leaves, which grows exactly the default trees).

The variants are injected by replacing ``tuning.search_space`` and
``tuning.DEFAULT_PARAMS["xgboost"]`` and adding ``grow_policy`` in
``tuning._make_estimator``: an experiment, not an API. Reported: the share of the Bayes
policy's test log-wealth of the best trial's cross-fitted ensemble (the ``+crossfit`` row of
the quality benchmark), of the top-3 ensemble and of the holdout model.

    python benchmarks/xgb_search_space.py --seeds 3 4 5 9 10 11   # about 15 min on 2 cores
    python benchmarks/xgb_search_space.py --quick --out /tmp/x     # smoke run

Seeds 0-2 are the quality benchmark's; 3-5 were explored before, 9-11 had never been used.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np

try:
    import boostobj  # noqa: F401  (only to find the package)
except ImportError:  # run as a plain script from a checkout
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from boostobj import tuning
from boostobj._meta import versions
from boostobj.datasets import bayes_log_wealth
from boostobj.losses import compiled_kernel

try:
    from benchmarks.quality import Config, synthetic_split, with_payoff_columns
except ImportError:  # run as a plain script
    from quality import Config, synthetic_split, with_payoff_columns  # type: ignore[no-redef]

HERE = Path(__file__).resolve().parent
_SPACE, _DEFAULTS, _MAKE = tuning.search_space, dict(tuning.DEFAULT_PARAMS), tuning._make_estimator


def _lossguide(trial: Any, booster: str, depth: bool) -> dict[str, Any]:
    if booster != "xgboost":
        return _SPACE(trial, booster)
    space = {"learning_rate": trial.suggest_float("learning_rate", 0.01, 0.3, log=True)}
    if depth:
        space["max_depth"] = trial.suggest_int("max_depth", 2, 8)
    space["max_leaves"] = trial.suggest_int("max_leaves", 4, 128, log=True)
    return space | {
        "min_child_weight": trial.suggest_float("min_child_weight", 1e-3, 10.0, log=True),
        "subsample": trial.suggest_float("subsample", 0.5, 1.0),
        "colsample_bytree": trial.suggest_float("colsample_bytree", 0.5, 1.0),
        "reg_lambda": trial.suggest_float("reg_lambda", 1e-3, 10.0, log=True),
    }


def _make(booster: str, params: dict[str, Any], **kwargs: Any) -> Any:
    params = dict(params)
    if booster == "xgboost" and "max_leaves" in params:
        params["grow_policy"] = "lossguide"
        params.setdefault("max_depth", 0)  # 0: no depth limit (lossguide only)
    return _MAKE(booster, params, **kwargs)


VARIANTS: dict[str, tuple[Callable[..., dict[str, Any]], dict[str, Any]]] = {
    "depthwise": (_SPACE, _DEFAULTS["xgboost"]),
    "lossguide": (
        lambda t, b: _lossguide(t, b, depth=False),
        {k: v for k, v in _DEFAULTS["xgboost"].items() if k != "max_depth"} | {"max_leaves": 15},
    ),
    "lossguide_depth": (
        lambda t, b: _lossguide(t, b, depth=True),
        _DEFAULTS["xgboost"] | {"max_leaves": 16},
    ),
}


def use_variant(name: str) -> None:
    """Point the tuner at one search space (see the module docstring)."""
    space, defaults = VARIANTS[name]
    tuning.search_space = space
    tuning.DEFAULT_PARAMS["xgboost"] = defaults
    tuning._make_estimator = _make


def run_one(variant: str, seed: int, cfg: Config) -> dict[str, Any]:
    use_variant(variant)
    split = synthetic_split("betting", seed, cfg)
    known = with_payoff_columns(split)
    assert known is not None
    X, cols = known
    t0 = time.perf_counter()
    result = tuning.tune(
        X["train"], split.p["train"], X["valid"], split.p["valid"],
        booster="xgboost", n_trials=cfg.tune_trials, n_estimators=cfg.n_estimators,
        seed=seed, n_jobs=cfg.n_jobs,
        estimator_params={"loss": "outcome", "payoff_columns": cols},
        refit=cfg.cross_fit, refit_trials=cfg.cross_fit_trials,
        select_on="loss", threshold=0.5,
    )  # fmt: skip
    r = np.log(split.p["test"])
    assert split.expected_test is not None
    bayes = bayes_log_wealth(r, split.expected_test)

    def share(members: list[Any]) -> float:
        margin = np.mean([m.decision_margin(X["test"]) for m in members], axis=0)
        return float(r[margin >= 0].sum() / bayes)

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
        f"Generated by `benchmarks/xgb_search_space.py` ({' '.join(results['argv'])}); "
        f"gradient kernel: {results['kernel']}; versions: "
        f"{', '.join(f'{k} {v}' for k, v in results['versions'].items())}.",
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
    ap.add_argument("--out", type=Path, default=HERE / "results", help="output folder")
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
            print(f"{variant} seed {seed}: {shown} ({rec['seconds']} s)", file=sys.stderr)
    results = {
        "argv": sys.argv[1:] if argv is None else list(argv),
        "seeds": args.seeds,
        "config": asdict(cfg),
        "kernel": "compiled" if compiled_kernel() else "numpy",
        "versions": versions(),
        "shares": shares,
    }
    stem = "xgb_search_space_quick" if args.quick else "xgb_search_space"
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{stem}.json").write_text(json.dumps(results, indent=1, default=str) + "\n")
    (args.out / f"{stem}.md").write_text(render_markdown(results))
    return results


if __name__ == "__main__":
    main()
