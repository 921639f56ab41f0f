r"""How should the tuned model be cross-fitted? Folds, learning rate, and which trials.

The quality benchmark's best XGBoost method (payoffs known at decision time, tuned with
``select_on="loss"``, ``threshold=0.5``, 30 trials, then ``final=CrossFit(5)``) reached 94.8% of the
Bayes policy on seeds 0-2 against a 95% target, 95.2% over 12 seeds. Cross-fitting is where
most of its gain over the holdout model comes from (about 4 points), so this script asks
whether a different cross-fit captures more. Per seed it runs one study (``final=HoldoutModel()``:
the same trials ``tune(final=CrossFit(5))`` runs) and cross-fits on train + valid (``VARIANTS``):

- ``k5``: ``CrossFitEnsemble(best, n_folds=5)``, what ``tune(final=CrossFit(5))`` returns;
- ``k10``: 10 folds: members train on 90% of the rows instead of 80%, a bag of 10;
- ``*_slow``: the members' learning rate halved, with twice the rounds and twice the
  patience (the usual "shrink and boost longer" of a final fit);
- ``*_topN``: the ensembles of the study's N best trials averaged (``CrossFit(5, top=N)``);
- ``k5_oof_best`` / ``k5_oof_top3``: of the 5 best trials, the 1 / 3 whose cross-fits have
  the lowest out-of-fold surrogate loss on all train + valid rows (a less noisy ranking than
  the study's, which scores 14,000 validation rows).
- ``k5_rounds_x1.5`` / ``k5_rounds_x2`` / ``k5_pooled_stop`` (XGBoost): the ``k5``
  members refitted without early stopping (their first trees are the same: checked as
  ``prefix_check``), cut at 1.5 / 2 times each member's own early-stopped round count, or
  all at the one round count with the lowest pooled out-of-fold loss. Do members stop too
  early for an average, or too noisily on their 14,000-row block?

Reported: the share of the Bayes policy's test log-wealth at the break-even decision
(ensemble margin >= 0), per seed and the mean, the mean difference to ``k5`` and the
seconds the cross-fits took.

    python benchmarks/crossfit_variants.py                  # design seeds 3-5, 9-11: ~20 min
    python benchmarks/crossfit_variants.py --seeds 12 13 14 15 16 17 --out benchmarks/results/fresh
    python benchmarks/crossfit_variants.py --trials 60 --variants k5 k5_top3 \
        --stem crossfit_trials60
    python benchmarks/crossfit_variants.py --quick --out /tmp/x     # smoke run

Seeds 0-2 are the quality benchmark's and are not used to choose anything here; 12-17 had
never been used before the fresh run. A study's first 30 trials do not depend on how many
follow (the sampler and pruner see only earlier trials), so ``--trials 60`` extends the
30-trial studies of the same seeds.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
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
import optuna
from sklearn.base import clone

from boostobj import tuning
from boostobj.ensemble import CrossFitEnsemble, fold_blocks
from boostobj.metrics import break_even_margin

PATIENCE = common.TUNE_PATIENCE  # what tune() early-stops with, here and in quality.py

# variant -> (folds, learning-rate factor, ranking, trials averaged); rounds and patience
# scale with 1 / factor. Ranking "valid": the study's order (validation loss on 14,000 rows);
# "oof": of the study's best OOF_POOL trials, those whose cross-fit has the lowest
# out-of-fold surrogate loss on all 70,000 rows of train + valid.
VARIANTS: dict[str, tuple[int, float, str, int]] = {
    "k5": (5, 1.0, "valid", 1),
    "k10": (10, 1.0, "valid", 1),
    "k5_slow": (5, 0.5, "valid", 1),
    "k10_slow": (10, 0.5, "valid", 1),
    "k5_top3": (5, 1.0, "valid", 3),
    "k5_top5": (5, 1.0, "valid", 5),
    "k5_oof_best": (5, 1.0, "oof", 1),
    "k5_oof_top3": (5, 1.0, "oof", 3),
    "k10_top5": (10, 1.0, "valid", 5),
    "k10_slow_top5": (10, 0.5, "valid", 5),
}
OOF_POOL = 5
# XGBoost only: the best trial's 5 members refitted without early stopping for twice their
# own rounds (same rows, same seeds: their first trees are the k5 members' own), then cut at
# a multiple of each member's own early-stopped rounds, or all at one round count, the one
# with the lowest pooled out-of-fold loss (every block scored by the member that did not
# train on it). Tests whether members stop too early for an average, or stop noisily.
ROUND_VARIANTS: dict[str, float | None] = {
    "k5_rounds_x1.5": 1.5,
    "k5_rounds_x2": 2.0,
    "k5_pooled_stop": None,
}


def mean_loss(model: Any, X: Any, r: Any) -> float:
    """A fitted estimator's mean surrogate loss on ``(X, r)``, at its training scale."""
    return float(model.get_loss().loss(model.decision_function(X), r, scale=model.scale_).mean())


def oof_loss(ens: CrossFitEnsemble, X: Any, p: Any) -> float:
    """Mean surrogate loss of each row's out-of-fold raw margin (members' training scale)."""
    r, blocks = np.log(p), fold_blocks(len(p), ens.n_folds)
    pairs = zip(ens.members_, blocks, strict=True)
    return sum(mean_loss(m, X[h], r[h]) * h.size for m, h in pairs) / r.size


def long_members(ens: CrossFitEnsemble, X: Any, p: Any) -> list[tuple[Any, Any, int]]:
    """``(member, held rows, own rounds)``: each member refitted for twice its rounds."""
    blocks = fold_blocks(len(p), ens.n_folds)
    out = []
    for k, (member, held) in enumerate(zip(ens.members_, blocks, strict=True)):
        fit_idx = np.concatenate([b for j, b in enumerate(blocks) if j != k])
        long = clone(member).set_params(
            n_estimators=2 * member.n_rounds_, early_stopping_rounds=None
        )
        long.fit(X[fit_idx], p[fit_idx], eval_set=[(X[held], p[held])])
        out.append((long, held, member.n_rounds_))
    return out


def margin_at(member: Any, X: Any, rounds: int) -> Any:
    """An XGBoost member's decision margin from its first ``rounds`` trees: net of the
    break-even margin of its ``payoff_columns``, which it boosts from."""
    import xgboost as xgb

    win, loss = member.payoff_columns
    base = break_even_margin(np.log(X[:, win]), np.log(X[:, loss]))
    dmat = xgb.DMatrix(X, base_margin=base)
    margin = member.booster_.predict(dmat, output_margin=True, iteration_range=(0, rounds))
    return margin - base


def run_one(seed: int, cfg: Config, booster: str, variants: Sequence[str]) -> dict[str, Any]:
    split, X, cols, bayes = payoffs_known_betting(seed, cfg)
    estimator_params = {"loss": "outcome", "payoff_columns": cols}
    t0 = time.perf_counter()
    result = tuning.tune(
        X["train"], split.p["train"], X["valid"], split.p["valid"],
        booster=booster, n_trials=cfg.tune_trials, seed=seed,
        estimator_params=common.tune_params(cfg.n_estimators, cfg.n_jobs, **estimator_params),
        final=tuning.HoldoutModel(),  # the variants below build the final models
        **common.PAYOFFS_CHOICE,
    )  # fmt: skip
    out: dict[str, Any] = {"tune_seconds": round(time.perf_counter() - t0, 1)}
    X_all = np.concatenate([X["train"], X["valid"]])
    p_all = np.concatenate([split.p["train"], split.p["valid"]])
    r = split.r("test")
    complete = result.study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    ranked = sorted(complete, key=lambda t: (-float(t.value), t.number))  # type: ignore[arg-type]
    fits: dict[tuple[int, int, float], tuple[CrossFitEnsemble, float, float]] = {}

    def cross_fit(trial: Any, folds: int, factor: float) -> tuple[CrossFitEnsemble, float, float]:
        key = (trial.number, folds, factor)
        if key not in fits:
            point = dict(trial.params)
            point["learning_rate"] *= factor
            rounds = round(cfg.n_estimators / factor)
            fixed = common.tune_params(rounds, cfg.n_jobs, **estimator_params)
            fixed["early_stopping_rounds"] = round(PATIENCE / factor)
            estimator = tuning.make_estimator(booster, point, estimator_params=fixed, seed=seed)
            t1 = time.perf_counter()
            ens = CrossFitEnsemble(estimator, n_folds=folds, threshold=0.5).fit(X_all, p_all)
            fits[key] = (ens, time.perf_counter() - t1, oof_loss(ens, X_all, p_all))
        return fits[key]

    for name in (v for v in variants if v in VARIANTS):
        folds, factor, ranking, n_avg = VARIANTS[name]
        if ranking == "oof":
            pool = [cross_fit(t, folds, factor) for t in ranked[:OOF_POOL]]
            chosen = sorted(pool, key=lambda f: f[2])[:n_avg]
        else:
            chosen = [cross_fit(t, folds, factor) for t in ranked[:n_avg]]
        margin = np.mean([f[0].decision_margin(X["test"]) for f in chosen], axis=0)
        out[name] = {
            "share": common.bayes_share(r, margin, bayes),
            "n_rounds": round(float(np.mean([f[0].n_rounds_ for f in chosen]))),
            "seconds": round(sum(f[1] for f in chosen), 1),
        }
    rounds = [v for v in variants if v in ROUND_VARIANTS]
    if rounds:
        t1 = time.perf_counter()
        longs = long_members(cross_fit(ranked[0], 5, 1.0)[0], X_all, p_all)
        seconds = round(time.perf_counter() - t1, 1)
        k5_margin = cross_fit(ranked[0], 5, 1.0)[0].decision_margin(X["test"])
        own = np.mean([margin_at(m, X["test"], n) for m, _, n in longs], axis=0)
        out["prefix_check"] = float(np.max(np.abs(own - k5_margin)))  # ~0: same first trees
        # the surrogate loss is the last metric of a member that stops on the loss
        curves = [list(m.evals_result_["valid_0"].values())[-1] for m, _, _ in longs]
        n_common = min(len(c) for c in curves)
        sizes = [len(h) for _, h, _ in longs]
        pooled = sum(n * np.asarray(c[:n_common]) for n, c in zip(sizes, curves, strict=True))
        t_star = int(np.argmin(pooled)) + 1
        for name in rounds:
            mult = ROUND_VARIANTS[name]
            cuts = [t_star if mult is None else round(mult * n) for _, _, n in longs]
            parts = [margin_at(m, X["test"], c) for (m, _, _), c in zip(longs, cuts, strict=True)]
            margin = np.mean(parts, axis=0)
            out[name] = {
                "share": common.bayes_share(r, margin, bayes),
                "n_rounds": round(float(np.mean(cuts))),
                "seconds": seconds,
            }
    holdout = result.model.decision_margin(X["test"])
    out["holdout"] = {"share": common.bayes_share(r, holdout, bayes)}
    out["oof_loss"] = {str(k): v[2] for k, v in fits.items()}
    out["best_params"] = result.best_params
    return out


def render_markdown(results: dict[str, Any]) -> str:
    seeds, cfg = results["seeds"], results["config"]
    lines = [
        "# Cross-fitting the tuned model: fold count and the members' learning rate",
        "",
        common.generated_by("crossfit_variants.py", results),
        "",
        f"Synthetic betting market, payoffs known at decision time, {results['booster']}, "
        f"tuned with `select_on='loss'`, `threshold=0.5`, {cfg['tune_trials']} trials, "
        f"{cfg['n_train']:,} / {cfg['n_valid']:,} / {cfg['n_test']:,} rows; the best trial "
        "cross-fitted on train + valid. Share of the Bayes policy's test log-wealth per seed, "
        "the mean, the mean difference to `k5` (what `tune(final=CrossFit(5))` returns) and the "
        "mean seconds per cross-fit.",
        "",
        "| variant | " + " | ".join(f"seed {s}" for s in seeds) + " | mean | vs k5 | seconds |",
        "|---|" + "---|" * (len(seeds) + 3),
    ]
    per = results["per_seed"]
    base = None
    if "k5" in results["variants"]:
        base = np.array([per[str(s)]["k5"]["share"] for s in seeds])
    for name in [*results["variants"], "holdout"]:
        values = np.array([per[str(s)][name]["share"] for s in seeds])
        cells = " | ".join(f"{100 * v:.1f}%" for v in values)
        diff = "" if base is None else f"{100 * np.mean(values - base):+.2f}"
        secs = [per[str(s)][name].get("seconds") for s in seeds]
        sec = "" if None in secs else f"{np.mean(secs):.0f}"
        lines.append(f"| {name} | {cells} | {100 * values.mean():.1f}% | {diff} | {sec} |")
    return "\n".join([*lines, ""])


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[3, 4, 5, 9, 10, 11])
    ap.add_argument("--booster", choices=tuning.BOOSTERS, default="xgboost")
    names = [*VARIANTS, *ROUND_VARIANTS]
    ap.add_argument("--variants", nargs="+", choices=names, default=names)
    ap.add_argument("--trials", type=int, default=Config.tune_trials, help="Optuna trials")
    ap.add_argument("--n-jobs", type=int, default=2, help="booster threads (default 2)")
    ap.add_argument("--out", type=Path, default=common.RESULTS, help="output folder")
    ap.add_argument("--stem", default="crossfit_variants", help="results file name")
    ap.add_argument("--quick", action="store_true", help="tiny smoke run")
    args = ap.parse_args(argv)
    if args.booster != "xgboost" and set(args.variants) & set(ROUND_VARIANTS):
        ap.error(f"{', '.join(ROUND_VARIANTS)} cut XGBoost boosters; use --booster xgboost")
    cfg = replace(Config(), n_jobs=args.n_jobs, tune_trials=args.trials)
    if args.quick:
        cfg = replace(cfg, n_train=2000, n_valid=1000, n_test=2000, tune_trials=3, n_estimators=50)
    per_seed: dict[str, Any] = {}
    for seed in args.seeds:
        per_seed[str(seed)] = rec = run_one(seed, cfg, args.booster, args.variants)
        shown = ", ".join(f"{k} {rec[k]['share']:.4f}" for k in [*args.variants, "holdout"])
        common.log(f"seed {seed}: {shown}")
    results = {
        "argv": sys.argv[1:] if argv is None else list(argv),
        "seeds": args.seeds,
        "booster": args.booster,
        "variants": args.variants,
        "config": asdict(cfg),
        **common.provenance(),
        "per_seed": per_seed,
    }
    stem = f"{args.stem}_quick" if args.quick else args.stem
    common.write_results(args.out, stem, results, render_markdown(results), default=str)
    return results


if __name__ == "__main__":
    main()
