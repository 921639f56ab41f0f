"""What a new user gets: ``tune()``'s defaults against ``--fast`` and the previous defaults.

For each synthetic market (``make_betting_market``, ``make_lending_market``), seed and booster,
one sample split in order into train / valid / test, and:

- ``default``: ``tune(X_train, p_train, X_valid, p_valid, booster=...)`` with nothing else
  chosen: the two-part model (``payoffs="auto"``: each outcome's payoff estimated by two
  cross-fitted regressions, then the payoffs-known model of the win probability), trials
  ranked on the validation loss, threshold 0.5 on the margin net of break-even, a 5-fold
  cross-fitted final model (``CrossFit(5)``) whose members run the holdout model's round
  count, judged out of fold (on the real tables, with groups, by the guard rows), 20 trials.
- ``fast``: the same study's holdout model, fitted on train and early-stopped on valid:
  exactly what ``tune(..., final=HoldoutModel())`` (``boostobj tune --fast``) returns, since
  the trials and the guard's verdict do not depend on the final model.
- ``surrogate``: the default before the two-part model, ``tune(..., payoffs=None)``: the
  log(p)-weighted logistic surrogate learned from ``p``, otherwise the same defaults.
- ``previous``: the release before that, ``select_on="log_wealth"``, ``threshold="tune"``
  (the best cut on valid), ``final=HoldoutModel()``, ``payoffs=None``.

Scored on the test rows, which chose nothing: the log-wealth of the **deployed policy**
(``result.policy.predict``: the model, or the trivial policy the no-edge guard fell back
to) and of the model itself, each as a share of the Bayes policy's (take iff the exact
``E[log p | x] > 0``). Seconds are wall-clock per ``tune`` call, in this process.

Seeds 0-2 are the ones the defaults were chosen on (by ``benchmarks/quality.py``); seeds
10-12 were never looked at before this script ran them.

``--real``: the same three configurations on the two real tables of ``benchmarks/data``
(``football``, ``stocks``; loaded by ``benchmarks/quality.py``'s ``real_split``, with their
chronological ``split`` column), with ``valid_groups`` the table's group column (match, date)
on the validation rows, as ``boostobj tune --time-column`` gives it. There is no Bayes policy,
so each deployed policy is compared on the test rows with the **best trivial policy** there
(take-all or take-none, whichever made more: a hindsight choice, the hardest bar): the paired
bootstrap interval of deployed minus best trivial (``bootstrap_log_wealth``, whole test
groups, stationary blocks of a data-driven mean length), and the verdict: significantly below
(interval under 0), not significantly different (it holds 0), significantly above. The seed
only moves the sampler and the boosters: the split is the table's.

    python benchmarks/defaults.py             # writes benchmarks/results/defaults.{json,md}
    python benchmarks/defaults.py --quick     # smoke run, defaults_quick.{json,md}
    python benchmarks/defaults.py --real      # real tables, defaults_real.{json,md}
    python benchmarks/defaults.py --real --quick   # every 40th stocks date, defaults_real_quick
"""

from __future__ import annotations

try:  # first: it sets OMP_WAIT_POLICY before any OpenMP runtime loads
    from benchmarks import common, quality
except ImportError:  # run as a plain script: benchmarks/ is sys.path[0]
    import common  # type: ignore[no-redef]
    import quality  # type: ignore[no-redef]

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
from boostobj.stats import BootstrapResult, bootstrap_log_wealth
from boostobj.tuning import HoldoutModel, tune

MARKETS = {"betting": make_betting_market, "lending": make_lending_market}
BOOSTERS = ("xgboost", "lightgbm")
CHOSEN_ON = (0, 1, 2)
FRESH = (10, 11, 12)
CONFIGS = ("default", "fast", "surrogate", "previous")
REAL_TABLES = tuple(quality.REAL)
REAL_SEEDS = (0, 1, 2)
N_BOOT = 2000
#: ``previous``: the release before the surrogate default (see the module docstring).
PREVIOUS: dict[str, Any] = {**common.PREVIOUS_DEFAULTS, "final": HoldoutModel()}


def group_key(run: dict[str, Any]) -> str:
    """``market/booster/chosen_on`` or ``.../fresh``: the rows of the summary tables."""
    group = "chosen_on" if run["seed"] in CHOSEN_ON else "fresh"
    return f"{run['market']}/{run['booster']}/{group}"


def holdout_policy(result: Any) -> Policy:
    """``--fast`` from ``result``'s study: the holdout model, deployed by the guard rows'
    verdict (``tune(..., final=HoldoutModel())`` gives the same trials and verdict)."""
    verdict = result.evaluations["guard"].verdict
    return Policy(result.holdout_model, verdict.policy, verdict.reason, verdict)


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
    out["method"] = result.method
    out["fast"] = score(holdout_policy(result), None)
    t0 = time.perf_counter()
    surrogate = tune(X[:a], p[:a], X[a:b], p[a:b], **common_args, payoffs=None)
    out["surrogate"] = score(surrogate.policy, time.perf_counter() - t0)
    t0 = time.perf_counter()
    previous = tune(X[:a], p[:a], X[a:b], p[a:b], **common_args, **PREVIOUS)
    out["previous"] = score(previous.policy, time.perf_counter() - t0)
    common.log(
        f"{market} seed {seed} {booster}: "
        + ", ".join(f"{c} {out[c]['deployed_share']:.1%}" for c in CONFIGS)
    )
    return out


def known_payoffs(market: str, X: np.ndarray) -> np.ndarray:
    """``[p_win, p_loss]`` per row, known at decision time (``quality.known_payoffs``'s
    construction): betting, stake 0.05 at the odds in the last column (log odds), loss 0.95;
    lending, stake 0.2 at the rate in the last column, loss given default 0.7."""
    if market == "betting":
        return np.column_stack([1 + 0.05 * np.expm1(X[:, -1]), np.full(len(X), 0.95)])
    return np.column_stack([1 + 0.2 * X[:, -1], np.full(len(X), 1 - 0.2 * 0.7)])


def run_payoffs(market: str, seed: int, booster: str, sizes: tuple[int, int, int],
                n_trials: int, n_jobs: int | None) -> dict[str, Any]:  # fmt: skip
    """The default ``tune()`` told the payoffs: the two columns appended and
    ``estimator_params={"loss": "outcome", "payoff_columns": ...}``, nothing else."""
    n_train, n_valid, n_test = sizes
    X, p, expected = MARKETS[market](n_train + n_valid + n_test, random_state=seed)
    X = np.column_stack([X, known_payoffs(market, X)])
    a, b = n_train, n_train + n_valid
    r = np.log(p[b:])
    bayes = bayes_log_wealth(r, expected[b:])
    params: dict[str, Any] = {"loss": "outcome", "payoff_columns": (X.shape[1] - 2, X.shape[1] - 1)}
    if n_jobs is not None:
        params["n_jobs"] = n_jobs
    t0 = time.perf_counter()
    result = tune(X[:a], p[:a], X[a:b], p[a:b], booster=booster, seed=seed, n_trials=n_trials,
                  estimator_params=params)  # fmt: skip
    seconds = time.perf_counter() - t0
    deployed = log_wealth(r, result.policy.predict(X[b:]))
    common.log(f"{market} seed {seed} {booster}: payoffs known {deployed / bayes:.1%}")
    return {"policy": result.policy.policy, "deployed_share": deployed / bayes,
            "model_share": log_wealth(r, result.model.predict(X[b:])) / bayes,
            "seconds": seconds}  # fmt: skip


def render_payoffs(results: dict[str, Any]) -> str:
    lines = [
        "# What a new user gets with the payoffs known: tune()'s defaults and the two columns",
        "",
        common.generated_by("defaults.py", results),
        "",
        f"Sizes train / valid / test: {' / '.join(map(str, results['sizes']))} rows; "
        f"{results['n_trials']} trials; `estimator_params={{'loss': 'outcome', "
        "'payoff_columns': (p_win, p_loss)}`, nothing else chosen. Share of the Bayes "
        "policy's test log-wealth taken by the deployed policy (the guard's policy in "
        "brackets).",
        "",
        "| market | booster | seed | deployed (guard) | seconds |",
        "|---|---|---|---|---|",
    ]
    for run in results["runs"]:
        lines.append(
            f"| {run['market']} | {run['booster']} | {run['seed']} | "
            f"{run['deployed_share']:.1%} ({run['policy']}) | {run['seconds']:.0f} |"
        )
    lines += ["", "| market / booster / seeds | mean deployed |", "|---|---|"]
    groups: dict[str, list[float]] = {}
    for run in results["runs"]:
        groups.setdefault(group_key(run), []).append(run["deployed_share"])
    lines += [f"| {key} | {np.mean(v):.1%} |" for key, v in groups.items()]
    return "\n".join(lines) + "\n"


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean shares per (market, booster, seed group, config)."""
    table: dict[str, Any] = {}
    for run in runs:
        key = group_key(run)
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
        "surrogate deployed | default minus surrogate | previous deployed |",
        "|---|---|---|---|---|---|---|",
    ]
    for key, row in results["summary"].items():
        cells = [
            row["default"]["deployed"],
            row["default"]["model"],
            row["fast"]["deployed"],
            row["surrogate"]["deployed"],
        ]
        gain = 100 * (row["default"]["deployed"] - row["surrogate"]["deployed"])
        lines.append(
            f"| {key} | " + " | ".join(f"{c:.1%}" for c in cells)
            + f" | {gain:+.1f} points | {row['previous']['deployed']:.1%} |"
        )  # fmt: skip
    lines += ["", "Per run (deployed share; the guard's policy; seconds per tune call):", ""]
    lines += [
        "| market | seed | booster | default | fast | surrogate | previous "
        "| s default / surrogate / previous |"
    ]
    lines += ["|---|---|---|---|---|---|---|---|"]
    for run in results["runs"]:
        d, f, s, p = (run[c] for c in CONFIGS)
        lines.append(
            f"| {run['market']} | {run['seed']} | {run['booster']} | "
            f"{d['deployed_share']:.1%} ({d['policy']}) | {f['deployed_share']:.1%} | "
            f"{s['deployed_share']:.1%} ({s['policy']}) | "
            f"{p['deployed_share']:.1%} ({p['policy']}) | "
            f"{d['seconds']:.0f} / {s['seconds']:.0f} / {p['seconds']:.0f} |"
        )
    return "\n".join(lines) + "\n"


# -- the real tables ---------------------------------------------------------------------------
def verdict(res: BootstrapResult) -> str:
    """The sign of a difference beyond noise: where its interval lies with respect to 0."""
    if res.above_zero():  # the guard's rule
        return "significantly above"
    if res.contains_zero():
        return "not significantly different"
    return "significantly below"


def interval(res: BootstrapResult) -> dict[str, Any]:
    return {**res.summary(), "verdict": verdict(res)}


def score_real(
    policy: Policy, X: Any, r: Any, groups: Any, best_take: Any, seconds: float | None
) -> dict[str, Any]:
    """The deployed policy's test log-wealth, the model's, and deployed minus best trivial:
    paired, whole groups, data-driven stationary blocks (and i.i.d. groups, for reference)."""
    take = policy.predict(X)
    kw: dict[str, Any] = {"baseline_take": best_take, "block": groups, "n_boot": N_BOOT}
    auto = bootstrap_log_wealth(r, take, **kw, block_length="auto")
    iid = bootstrap_log_wealth(r, take, **kw, block_length=1.0)
    return {
        "policy": policy.policy,
        "deployed": log_wealth(r, take),
        "model": log_wealth(r, policy.model.predict(X)),
        "n_taken": int(np.count_nonzero(take)),
        "vs_best_trivial": interval(auto),
        "vs_best_trivial_iid": interval(iid),
        "seconds": seconds,
    }


def run_real(
    split: Any, seed: int, booster: str, n_trials: int, params: dict[str, Any]
) -> dict[str, Any]:
    """``tune()``'s defaults, ``--fast`` and the previous defaults on one real table."""
    r, groups, X = split.r("test"), split.block_test, split.X["test"]
    take_all = float(r.sum())
    best = "take_all" if take_all > 0 else "take_none"
    best_take = np.full(r.size, best == "take_all")
    args: dict[str, Any] = {
        "booster": booster, "seed": seed, "n_trials": n_trials,
        "valid_groups": split.block_valid, "estimator_params": params or None,
    }  # fmt: skip
    data = (split.X["train"], split.p["train"], split.X["valid"], split.p["valid"])
    out: dict[str, Any] = {
        "n_test": int(r.size),
        "take_all": take_all,
        "take_none": 0.0,
        "best_trivial": best,
    }
    t0 = time.perf_counter()
    result = tune(*data, **args)
    out["default"] = score_real(result.policy, X, r, groups, best_take, time.perf_counter() - t0)
    out["guard"] = result.recommendation.summary()  # the verdict the default deploys
    out["method"] = result.method
    fast = holdout_policy(result)
    out["fast"] = score_real(fast, X, r, groups, best_take, None)
    t0 = time.perf_counter()
    surrogate = tune(*data, **args, payoffs=None)
    out["surrogate"] = score_real(
        surrogate.policy, X, r, groups, best_take, time.perf_counter() - t0
    )
    t0 = time.perf_counter()
    previous = tune(*data, **args, **PREVIOUS)
    out["guard_previous"] = previous.recommendation.summary()
    out["previous"] = score_real(previous.policy, X, r, groups, best_take, time.perf_counter() - t0)
    common.log(
        f"{split.name} seed {seed} {booster}: best trivial {best} {max(take_all, 0.0):.2f}; "
        + ", ".join(
            f"{c} {out[c]['deployed']:.2f} ({out[c]['policy']}, "
            f"{out[c]['vs_best_trivial']['verdict']})"
            for c in CONFIGS
        )
    )
    return out


def render_real(results: dict[str, Any]) -> str:
    lines = [
        "# What a new user gets on the real tables: tune()'s defaults",
        "",
        common.generated_by("defaults.py", results),
        "",
        f"{results['n_trials']} trials; test log-wealth (sum of log p over the rows taken). "
        "*deployed* is what `result.policy.predict` takes (the model, or the trivial policy "
        "the guard fell back to; the guard's policy in brackets). *vs best trivial*: deployed "
        "minus the better of take-all and take-none on the test rows, with its paired "
        f"bootstrap 95% interval ({results['n_boot']} resamples of whole test groups, "
        "stationary blocks of a data-driven mean length, shown after *L*), and the verdict.",
        "",
        "| table | seed | booster | take-all | best trivial | config | deployed (guard) | "
        "model | vs best trivial [95%] | L | verdict |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in results["runs"]:
        for config in CONFIGS:
            c = run[config]
            d = c["vs_best_trivial"]
            lines.append(
                f"| {run['table']} | {run['seed']} | {run['booster']} | {run['take_all']:.2f} | "
                f"{run['best_trivial']} | {config} | {c['deployed']:.2f} ({c['policy']}) | "
                f"{c['model']:.2f} | {d['estimate']:+.2f} [{d['low']:+.2f}, {d['high']:+.2f}] | "
                f"{d['block_length']:.2g} | {d['verdict']} |"
            )
    counts: dict[str, dict[str, int]] = {}
    for run in results["runs"]:
        for config in CONFIGS:
            v = run[config]["vs_best_trivial"]["verdict"]
            cell = counts.setdefault(config, {})
            cell[v] = cell.get(v, 0) + 1
    lines += ["", "Verdicts per configuration (runs):", ""]
    for config, cell in counts.items():
        lines.append(f"- {config}: " + ", ".join(f"{v} {n}" for v, n in sorted(cell.items())))
    differ = [
        f"{run['table']}/{run['seed']}/{run['booster']}/{config}"
        for run in results["runs"]
        for config in CONFIGS
        if run[config]["vs_best_trivial"]["verdict"]
        != run[config]["vs_best_trivial_iid"]["verdict"]
    ]
    lines += [
        "",
        "With i.i.d. groups (blocks of 1) instead, the verdict differs in: "
        + (", ".join(differ) if differ else "none") + ".",
    ]  # fmt: skip
    return "\n".join(lines) + "\n"


def main_real(args: argparse.Namespace, argv: Sequence[str] | None) -> dict[str, Any]:
    """``--real``: every (seed, table, booster), the results file rewritten after each."""
    n_trials, every, params = 20, 1, {}
    if args.quick:
        n_trials, every, params = 2, 40, {"n_estimators": 50}
    if args.n_jobs is not None:
        params["n_jobs"] = args.n_jobs
    seeds = args.seeds if args.seeds_given else list(REAL_SEEDS)
    if args.quick:
        seeds = seeds[:1]
    cfg = quality.Config(real_every=every)
    splits = {t: quality.real_split(t, 0, cfg, common.HERE / "data") for t in args.tables}
    results: dict[str, Any] = {
        "argv": sys.argv[1:] if argv is None else list(argv),
        **common.provenance("pandas"),
        "n_trials": n_trials,
        "n_boot": N_BOOT,
        "estimator_params": params,
        "real_every": every,
        "group_column": {t: quality.BLOCK_COLUMN[t] for t in args.tables},
        "runs": [],
    }
    stem = "defaults_real_quick" if args.quick else "defaults_real"
    for seed in seeds:
        for table, split in splits.items():
            for booster in args.boosters:
                one = run_real(split, seed, booster, n_trials, dict(params))
                results["runs"].append({"table": table, "seed": seed, "booster": booster, **one})
                common.write_results(
                    Path(args.out), stem, common.jsonable(results), render_real(results)
                )
    return results


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny smoke run")
    ap.add_argument("--real", action="store_true", help="the real tables instead")
    ap.add_argument(
        "--payoffs",
        action="store_true",
        help="the default told the payoffs (results file defaults_payoffs)",
    )
    ap.add_argument("--tables", nargs="+", choices=REAL_TABLES, default=list(REAL_TABLES))
    ap.add_argument("--seeds", type=int, nargs="+", default=None)
    ap.add_argument("--markets", nargs="+", choices=list(MARKETS), default=list(MARKETS))
    ap.add_argument("--boosters", nargs="+", choices=BOOSTERS, default=list(BOOSTERS))
    ap.add_argument("--n-jobs", type=int, default=None, help="booster threads (default: all)")
    ap.add_argument("--out", default=str(common.RESULTS))
    args = ap.parse_args(argv)
    args.seeds_given = args.seeds is not None
    if args.real:
        return main_real(args, argv)
    if not args.seeds_given:
        args.seeds = [*CHOSEN_ON, *FRESH]
    sizes, n_trials = ((20_000, 10_000, 100_000), 20)
    if args.quick:
        sizes, n_trials, args.seeds = (1_500, 800, 2_000), 2, args.seeds[:1]
    stem = "defaults_payoffs" if args.payoffs else "defaults"
    stem += "_quick" if args.quick else ""
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
                run = run_payoffs if args.payoffs else run_one
                one = run(market, seed, booster, sizes, n_trials, args.n_jobs)
                results["runs"].append({"market": market, "seed": seed, "booster": booster, **one})
                if not args.payoffs:
                    results["summary"] = summarise(results["runs"])
                text = (render_payoffs if args.payoffs else render)(results)
                common.write_results(Path(args.out), stem, common.jsonable(results), text)
    return results


if __name__ == "__main__":
    main()
