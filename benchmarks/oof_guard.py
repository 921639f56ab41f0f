"""Exploratory: judge the cross-fitted model on its out-of-fold decisions, not the holdout.

The no-edge guard judges the final decisions on the last 30% of the validation rows. On the
credit tables that is about 1,100 (vub) to 2,300 (pakdd) loans, too few to see edges worth
0.3 (vub) to 4 (pakdd) log-wealth on the test loans, so the guard fell back in 16 and 8 of
20 runs (``results/credit.md``). The default final model is a 5-fold ``CrossFitEnsemble`` on
train + valid; its ``oof_margin_`` scores every one of those rows with the member that did
not train on it. This script asks what ``boostobj.guard.judge_policy`` concludes on those
out-of-fold decisions (margin >= 0, the default threshold), over about 8x the rows:

- on the credit tables (``credit.py``'s payoffs, split and categorical features; seeds 0-4,
  which ``credit.md`` reports, and fresh 5-9): would the model be deployed, and what would
  the deployed policy make on test?
- on the two real tables without an edge (``defaults.py --real``'s protocol, groups = match
  or date over train + valid): does it ever pass a model that loses on test?

Trap: the out-of-fold rows are not clean. Each member was early-stopped on its held-out
fold, and the hyperparameters were chosen on the validation rows, which are among them; so
the out-of-fold score is optimistic. This is why the library does not judge on them yet.

    python benchmarks/oof_guard.py          # results/oof_guard.{json,md}, about 15 min
    python benchmarks/oof_guard.py --quick  # smoke run
"""

from __future__ import annotations

try:  # first: it sets OMP_WAIT_POLICY before any OpenMP runtime loads
    from benchmarks import common, credit, quality
except ImportError:  # run as a plain script: benchmarks/ is sys.path[0]
    import common  # type: ignore[no-redef]
    import credit  # type: ignore[no-redef]
    import quality  # type: ignore[no-redef]

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from boostobj.guard import best_trivial, judge_policy
from boostobj.metrics import log_wealth
from boostobj.stats import bootstrap_log_wealth
from boostobj.tuning import tune

BOOSTERS = ("lightgbm", "xgboost")


def judged(result: Any, r_fit: np.ndarray, groups: Any, r_test: np.ndarray, X_test: Any,
           seed: int) -> dict[str, Any]:  # fmt: skip
    """The holdout guard's deployed policy and the out-of-fold guard's, scored on test."""
    model = result.model
    verdict = judge_policy(model.oof_margin_ >= 0, r_fit, block=groups, seed=seed)
    take_model = np.asarray(model.predict(X_test), dtype=bool)
    trivial = np.full(r_test.size, best_trivial(r_fit) == "take_all")
    take_oof = take_model if verdict.policy == "model" else trivial
    return {
        "guard": result.policy.policy,
        "guard_deployed": log_wealth(r_test, result.policy.predict(X_test)),
        "oof_policy": verdict.policy,
        "oof_deployed": log_wealth(r_test, take_oof),
        "model": log_wealth(r_test, take_model),
        "take_all": float(r_test.sum()),
        "oof_take": take_oof,
    }


def run_credit(name: str, seeds: Sequence[int], n_rows: int | None, n_trials: int) -> list:
    _, F, y, _, terms = credit.load(name)
    if n_rows is not None:
        keep = np.random.default_rng(0).permutation(len(y))[:n_rows]
        F, y = F.iloc[keep].reset_index(drop=True), y[keep]
    runs = []
    for seed in seeds:
        parts = credit.split_rows(len(y), seed)
        cats = credit.categorical_parts(F, parts)
        p = {k: np.where(y[v] == 0, terms["p_win"], terms["p_loss"]) for k, v in parts.items()}
        r_fit = np.log(np.concatenate([p["train"], p["valid"]]))
        for booster in BOOSTERS:
            res = tune(cats["train"], p["train"], cats["valid"], p["valid"], booster=booster,
                       seed=seed, n_trials=n_trials, estimator_params={"n_jobs": 2})  # fmt: skip
            one = judged(res, r_fit, None, np.log(p["test"]), cats["test"], seed)
            one.pop("oof_take")
            runs.append({"table": name, "seed": seed, "booster": booster, **one})
            common.log(f"{name} seed {seed} {booster}: {one['guard']} / oof {one['oof_policy']}")
    return runs


def run_real(name: str, seeds: Sequence[int], every: int, n_trials: int) -> list:
    import pandas as pd

    split = quality.real_split(name, 0, quality.Config(real_every=every), common.HERE / "data")
    frame = pd.read_csv(common.HERE / "data" / quality.REAL[name])
    if every > 1 and len(frame) > 20_000:  # the same subsample of whole dates
        frame = frame[frame["date"].isin(set(np.unique(frame["date"])[::every]))]
    train_groups = frame.loc[frame["split"] == "train", quality.BLOCK_COLUMN[name]].to_numpy()
    groups = np.concatenate([train_groups, split.block_valid])
    r_fit = np.log(np.concatenate([split.p["train"], split.p["valid"]]))
    r = split.r("test")
    best_take = np.full(r.size, r.sum() > 0)
    runs = []
    for seed in seeds:
        for booster in BOOSTERS:
            res = tune(split.X["train"], split.p["train"], split.X["valid"], split.p["valid"],
                       booster=booster, seed=seed, n_trials=n_trials,
                       valid_groups=split.block_valid)  # fmt: skip
            one = judged(res, r_fit, groups, r, split.X["test"], seed)
            bs = bootstrap_log_wealth(
                r, one.pop("oof_take"), baseline_take=best_take, block=split.block_test,
                seed=seed, block_length="auto",
            )  # fmt: skip
            one["oof_vs_best_trivial"] = {"estimate": bs.estimate, "low": bs.low, "high": bs.high}
            runs.append({"table": name, "seed": seed, "booster": booster, **one})
            common.log(f"{name} seed {seed} {booster}: {one['guard']} / oof {one['oof_policy']}")
    return runs


def render(results: dict[str, Any]) -> str:
    lines = [
        "# Exploratory: the guard on out-of-fold decisions",
        "",
        common.generated_by("oof_guard.py", results),
        "",
        f"{results['n_trials']} trials, the default `tune()` (5-fold cross-fit). Test "
        "log-wealth of the deployed policy: *holdout guard* (the library today) and "
        "*out-of-fold guard* (`judge_policy` on `oof_margin_ >= 0` over train + valid); "
        "each guard's policy in brackets. Real tables: the out-of-fold policy minus the best "
        "trivial policy on test, 95% paired bootstrap of whole groups.",
        "",
        "| table | seed | booster | holdout guard | out-of-fold guard | model | take-all | "
        "oof minus best trivial |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for run in results["runs"]:
        vs = run.get("oof_vs_best_trivial")
        vs_text = "" if vs is None else (
            f"{vs['estimate']:+.2f} [{vs['low']:+.2f}, {vs['high']:+.2f}]"
        )  # fmt: skip
        lines.append(
            f"| {run['table']} | {run['seed']} | {run['booster']} | "
            f"{run['guard_deployed']:.3f} ({run['guard']}) | {run['oof_deployed']:.3f} "
            f"({run['oof_policy']}) | {run['model']:.3f} | {run['take_all']:.2f} | {vs_text} |"
        )
    lines += ["", "| table | seeds | mean: holdout guard | mean: out-of-fold guard |",
              "|---|---|---|---|"]  # fmt: skip
    lines[-2] = "| table | seeds | booster | mean: holdout guard | mean: out-of-fold guard |"
    lines[-1] = "|---|---|---|---|---|"
    for table in dict.fromkeys(r["table"] for r in results["runs"]):
        seed_groups = {"0-2": range(3)} if table in quality.REAL else {
            "0-4 (credit.md's)": range(5), "5-9 (fresh)": range(5, 10)
        }  # fmt: skip
        for label, group in seed_groups.items():
            for booster in (*BOOSTERS, "both"):
                cells = [
                    r for r in results["runs"]
                    if r["table"] == table and r["seed"] in group
                    and booster in (r["booster"], "both")
                ]  # fmt: skip
                if cells:
                    hold = np.mean([r["guard_deployed"] for r in cells])
                    oof = np.mean([r["oof_deployed"] for r in cells])
                    lines.append(f"| {table} | {label} | {booster} | {hold:.3f} | {oof:.3f} |")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke run: small tables, 2 trials")
    ap.add_argument("--out", default=str(common.RESULTS))
    args = ap.parse_args(argv)
    quick = args.quick
    n_trials = 2 if quick else 20
    results: dict[str, Any] = {
        "argv": sys.argv[1:] if argv is None else list(argv),
        **common.provenance("empulse"),
        "n_trials": n_trials,
        "runs": [],
    }
    stem = "oof_guard_quick" if quick else "oof_guard"
    jobs = [
        ("real", "football", [0] if quick else [0, 1, 2]),
        ("real", "stocks", [0] if quick else [0, 1, 2]),
        ("credit", "vub", [0] if quick else list(range(10))),
        ("credit", "pakdd", [0] if quick else list(range(10))),
    ]
    for kind, name, seeds in jobs:
        if kind == "real":
            runs = run_real(name, seeds, 40 if quick else 1, n_trials)
        else:
            runs = run_credit(name, seeds, 3000 if quick else None, n_trials)
        results["runs"] += runs
        common.write_results(Path(args.out), stem, common.jsonable(results), render(results))
    return results


if __name__ == "__main__":
    main()
