"""Credit: two real loan tables, boostobj against the peers that decide loans from costs.

The tables ship inside the wheel of the peer package ``empulse`` (``pip install ".[bench]"``):

- ``vub``: ``empulse.datasets.load_vub_credit_scoring`` (18,917 loans of a Romanian non-bank
  lender, 16 features, 17% defaults).
- ``pakdd``: ``empulse.datasets.load_credit_scoring_pakdd`` (38,938 PAKDD 2009 clients,
  25 features, 20% defaults).

Payoffs. Approving a loan stakes a fraction ``s`` of wealth: repaid, ``p = 1 + s * g``;
defaulted, ``p = 1 - s * LGD``; a declined loan is ``p = 1`` (``log p = 0``). ``g`` is the
profit per unit lent of empulse's own cost matrix (Bahnsen et al. 2014): an annuity at the
annual interest rate ``i`` over ``n`` months, discounted at the annual cost of funds ``c``,
minus the principal,

    g = A(i/12, n) * PV(c/12, n) - 1,   A(r, n) = r (1+r)^n / ((1+r)^n - 1),
                                        PV(r, n) = (1 - (1+r)^-n) / r.

empulse documents one rate and term per table, so ``g`` is the same for every loan of a table
(its per-loan ``fp_cost`` varies only with the credit line, which scales profit and loss
alike): ``vub`` i = 4.79%, c = 2.94%, n = 24 -> g = 0.0192; ``pakdd`` i = 63%, c = 16.5%,
n = 24 -> g = 0.509. LGD = 0.75 (empulse's default for both), s = 0.10 for both. Trap: at
these terms the break-even default probability is 2.4% on ``vub`` (a loan earns 1.9% and loses
75%), so nearly every loan there is worth declining; on ``pakdd`` it is 38.9%.

Features: string columns are categorical. boostobj and the XGBoost and LightGBM plug-in
peers get them as pandas ``category`` columns (the sorted values of the whole table as
levels), which each booster splits on natively (boostobj's estimators and XGBoost's
``enable_categorical``, LightGBM reading the dtype); a ``category`` dtype, unlike text, is
never refused as numeric-looking (``vub``'s ``v8`` is ``1``-``4`` and ``>4``). sklearn's and
empulse's peers, which need numbers, get ordinal codes (codes of the sorted categories over
the whole table, missing -> NaN). ``--ordinal`` gives every method
the ordinal codes, as before boostobj read categorical features.

Methods, all fitted on train (60%) and early-stopped / tuned on valid (20%) of a seeded random
split, scored on test (20%):

- ``boostobj/<booster>``: ``tune(X_tr, p_tr, X_va, p_va, booster=...)`` with its defaults
  (20 trials, a 5-fold cross-fitted final model), its deployed policy (``result.policy
  .predict``: the model, or the trivial policy its no-edge guard chose); LightGBM and XGBoost.
- ``boostobj_payoffs/<booster>``: the same with the columns ``p_win``, ``p_loss`` appended and
  ``estimator_params={"loss": "outcome", "payoff_columns": ...}``.
- ``xgboost_plugin`` / ``lightgbm_plugin``: a classifier of default (early-stopped on valid)
  and the plug-in rule: take iff ``(1 - q) log p_win + q log p_loss > 0``.
- ``tuned_threshold``: sklearn ``TunedThresholdClassifierCV`` (LightGBM, 5-fold CV on train +
  valid) with the test log-wealth as its scorer.
- ``csboost``: empulse ``CSBoostClassifier`` (XGBoost) with costs in log-wealth units,
  ``fp_cost = log(1 + s g)`` (a good loan declined), ``fn_cost = -log(1 - s LGD)`` (a default
  approved), ``tp_cost = tn_cost = 0``; positive class = default = decline.
- ``csthreshold``: empulse ``CSThresholdClassifier`` (the early-stopped LightGBM classifier,
  sigmoid-calibrated) with the same costs.
- ``take_all`` / ``take_none``.

Scored by test log-wealth ``sum(log p)`` over the loans taken, its gain over the best trivial
policy, and the paired i.i.d. bootstrap (``boostobj.stats.bootstrap_log_wealth``) of each
method against the best peer of that split (the non-boostobj method, trivial ones included,
with the highest test log-wealth: chosen on test, so the comparison favours the peer).

    python benchmarks/credit.py            # writes benchmarks/results/credit.{json,md}
    python benchmarks/credit.py --quick    # smoke run, credit_quick.{json,md}
"""

from __future__ import annotations

try:  # first: it sets OMP_WAIT_POLICY before any OpenMP runtime loads
    from benchmarks import common
except ImportError:  # run as a plain script: benchmarks/ is sys.path[0]
    import common  # type: ignore[no-redef]

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from boostobj.metrics import log_wealth
from boostobj.stats import bootstrap_log_wealth
from boostobj.tuning import tune

#: Per table: empulse loader name, annual interest rate, annual cost of funds, term (months),
#: loss given default, stake fraction s (the documented constants, see the module doc).
TABLES: dict[str, dict[str, Any]] = {
    "vub": {"loader": "load_vub_credit_scoring", "rate": 0.0479, "funds": 0.0294, "months": 24,
            "lgd": 0.75, "stake": 0.10},
    "pakdd": {"loader": "load_credit_scoring_pakdd", "rate": 0.63, "funds": 0.165, "months": 24,
              "lgd": 0.75, "stake": 0.10},
}  # fmt: skip
BOOSTERS = ("lightgbm", "xgboost")
MODES = ("boostobj", "boostobj_payoffs")
PEERS = ("xgboost_plugin", "lightgbm_plugin", "tuned_threshold", "csboost", "csthreshold")
TRIVIAL = ("take_all", "take_none")


def methods_of(boosters: Sequence[str]) -> tuple[str, ...]:
    """``boostobj/<booster>``, ``boostobj_payoffs/<booster>``, the peers, the trivial ones."""
    return (*(f"{m}/{b}" for b in boosters for m in MODES), *PEERS, *TRIVIAL)


def profit_per_unit(rate: float, funds: float, months: int) -> float:
    """``g = A(rate/12, n) PV(funds/12, n) - 1``: an annuity loan's discounted profit per unit."""
    r, c = rate / 12, funds / 12
    annuity = r * (1 + r) ** months / ((1 + r) ** months - 1)
    return annuity * (1 - (1 + c) ** -months) / c - 1


def load(name: str) -> tuple[np.ndarray, Any, np.ndarray, list[str], dict[str, Any]]:
    """Features as ordinal codes and as a frame of numbers and text, the default label
    (1 = default) and the payoff terms."""
    import empulse.datasets
    import pandas as pd

    spec = TABLES[name]
    data = getattr(empulse.datasets, spec["loader"])(backend=pd)
    text = data.data.copy()
    frame = text.copy()
    for col in frame.columns:
        if not pd.api.types.is_numeric_dtype(frame[col]):
            codes, _ = pd.factorize(frame[col], sort=True)
            frame[col] = np.where(codes < 0, np.nan, codes)
            text[col] = text[col].astype(object)  # text, NaN for missing
    X = frame.to_numpy(dtype=np.float64)
    y = np.asarray(data.target, dtype=np.int64)
    g = profit_per_unit(spec["rate"], spec["funds"], spec["months"])
    s, lgd = spec["stake"], spec["lgd"]
    terms = {**spec, "g": g, "p_win": 1 + s * g, "p_loss": 1 - s * lgd}
    w, lo = np.log(terms["p_win"]), np.log(terms["p_loss"])
    terms["break_even_default_prob"] = w / (w - lo)
    return X, text, y, list(frame.columns), terms


def split_rows(n: int, seed: int) -> dict[str, np.ndarray]:
    """A seeded random 60/20/20 split of ``range(n)``."""
    idx = np.random.default_rng(seed).permutation(n)
    a, b = int(0.6 * n), int(0.8 * n)
    return {"train": idx[:a], "valid": idx[a:b], "test": idx[b:]}


def categorical_parts(F: Any, parts: dict[str, np.ndarray]) -> dict[str, Any]:
    """Per part, ``F``'s rows with its text columns as pandas categories: one dtype (the
    whole table's sorted values as levels) for every part."""
    import pandas as pd

    kinds = {c: pd.CategoricalDtype(sorted(F[c].dropna().unique()))
             for c in F.columns if F[c].dtype == object}  # fmt: skip
    return {k: F.iloc[v].reset_index(drop=True).astype(kinds) for k, v in parts.items()}


def plugin_take(q_default: np.ndarray, p_win: float, p_loss: float) -> np.ndarray:
    """Take iff ``(1 - q) log p_win + q log p_loss > 0``."""
    return (1 - q_default) * np.log(p_win) + q_default * np.log(p_loss) > 0


def run_split(X: np.ndarray, F: Any, y: np.ndarray, terms: dict[str, Any], seed: int,
              n_trials: int, boosters: Sequence[str], n_jobs: int,
              n_boot: int) -> dict[str, Any]:  # fmt: skip
    """One seed's split: every method fitted and scored. ``F`` is the frame with text columns
    (``None``: every method gets the ordinal codes ``X``)."""
    import lightgbm as lgb
    import xgboost as xgb
    from empulse.models import CSBoostClassifier, CSThresholdClassifier
    from sklearn.metrics import make_scorer
    from sklearn.model_selection import TunedThresholdClassifierCV

    parts = split_rows(len(y), seed)
    pw, pl = terms["p_win"], terms["p_loss"]
    w, lo = float(np.log(pw)), float(np.log(pl))
    Xs = {k: X[v] for k, v in parts.items()}
    if F is None:  # --ordinal: the codes for every method
        cats = Xs
    else:
        cats = categorical_parts(F, parts)
    ys = {k: y[v] for k, v in parts.items()}
    p = {k: np.where(v == 0, pw, pl) for k, v in ys.items()}
    r = np.log(p["test"])
    takes: dict[str, np.ndarray] = {}
    seconds: dict[str, float] = {}
    extra: dict[str, Any] = {}

    def timed(name: str, fn: Callable[[], np.ndarray]) -> None:
        t0 = time.perf_counter()
        takes[name] = np.asarray(fn(), dtype=bool)
        seconds[name] = time.perf_counter() - t0

    if F is None:
        known = {k: np.column_stack([v, np.full(len(v), pw), np.full(len(v), pl)])
                 for k, v in Xs.items()}  # fmt: skip
        n = known["train"].shape[1]
        payoff_params = {"loss": "outcome", "payoff_columns": (n - 2, n - 1)}
    else:
        known = {k: v.assign(p_win=pw, p_loss=pl) for k, v in cats.items()}
        payoff_params = {"loss": "outcome", "payoff_columns": ("p_win", "p_loss")}
    policies: dict[str, str] = {}

    def boostobj(booster: str, mode: str) -> Callable[[], np.ndarray]:
        feats = known if mode == "boostobj_payoffs" else cats
        params = {"n_jobs": n_jobs, **(payoff_params if mode == "boostobj_payoffs" else {})}

        def fit() -> np.ndarray:
            res = tune(feats["train"], p["train"], feats["valid"], p["valid"], booster=booster,
                       n_trials=n_trials, seed=seed, estimator_params=params)  # fmt: skip
            policies[f"{mode}/{booster}"] = res.recommendation.policy
            return res.policy.predict(feats["test"])

        return fit

    stop = {"n_estimators": 2000, "learning_rate": 0.05, "random_state": seed, "n_jobs": n_jobs}
    lgbm: dict[str, Any] = {}

    def xgb_plugin() -> np.ndarray:
        clf = xgb.XGBClassifier(**stop, early_stopping_rounds=50, eval_metric="logloss",
                                enable_categorical=True)  # fmt: skip
        clf.fit(cats["train"], ys["train"], eval_set=[(cats["valid"], ys["valid"])],
                verbose=False)  # fmt: skip
        return plugin_take(clf.predict_proba(cats["test"])[:, 1], pw, pl)

    def lgb_plugin() -> np.ndarray:
        clf = lgb.LGBMClassifier(**stop, verbose=-1)
        clf.fit(cats["train"], ys["train"], eval_set=[(cats["valid"], ys["valid"])],
                callbacks=[lgb.early_stopping(50, verbose=False)])  # fmt: skip
        lgbm["rounds"] = int(clf.best_iteration_ or stop["n_estimators"])
        return plugin_take(clf.predict_proba(cats["test"])[:, 1], pw, pl)

    def lgb_fixed() -> Any:  # the early-stopped LightGBM's rounds, for the CV-based peers
        return lgb.LGBMClassifier(**{**stop, "n_estimators": lgbm["rounds"]}, verbose=-1)

    def tuned_threshold() -> np.ndarray:
        def score(y_true: np.ndarray, y_pred: np.ndarray) -> float:  # 1 = default = decline
            taken = np.asarray(y_pred) == 0
            return float(np.where(np.asarray(y_true)[taken] == 0, w, lo).sum())

        clf = TunedThresholdClassifierCV(
            lgb_fixed(), scoring=make_scorer(score), cv=5, random_state=seed
        )
        clf.fit(np.vstack([Xs["train"], Xs["valid"]]), np.concatenate([ys["train"], ys["valid"]]))
        extra["tuned_threshold_cut"] = float(clf.best_threshold_)
        return clf.predict(Xs["test"]) == 0

    costs = {"tp_cost": 0.0, "tn_cost": 0.0, "fp_cost": w, "fn_cost": -lo}

    def csboost() -> np.ndarray:
        base = xgb.XGBClassifier(n_estimators=300, learning_rate=0.05, random_state=seed,
                                 n_jobs=n_jobs)  # fmt: skip
        clf = CSBoostClassifier(base).fit(Xs["train"], ys["train"], **costs)
        return clf.predict(Xs["test"]) == 0

    def csthreshold() -> np.ndarray:
        clf = CSThresholdClassifier(lgb_fixed(), random_state=seed)
        clf.fit(Xs["train"], ys["train"], **costs)
        return clf.predict(Xs["test"]) == 0

    for booster in boosters:
        for mode in MODES:
            timed(f"{mode}/{booster}", boostobj(booster, mode))
    timed("xgboost_plugin", xgb_plugin)
    timed("lightgbm_plugin", lgb_plugin)
    timed("tuned_threshold", tuned_threshold)
    timed("csboost", csboost)
    timed("csthreshold", csthreshold)
    takes["take_all"] = np.ones(len(r), dtype=bool)
    takes["take_none"] = np.zeros(len(r), dtype=bool)

    names = methods_of(boosters)
    lw = {m: log_wealth(r, takes[m]) for m in names}
    best_trivial = max(lw["take_all"], lw["take_none"])
    best_peer = max((m for m in (*PEERS, *TRIVIAL)), key=lambda m: lw[m])
    methods: dict[str, Any] = {}
    for m in names:
        bs = bootstrap_log_wealth(r, takes[m], baseline_take=takes[best_peer], n_boot=n_boot,
                                  seed=seed)  # fmt: skip
        methods[m] = {
            "log_wealth": lw[m],
            "gain_over_trivial": lw[m] - best_trivial,
            "n_taken": int(takes[m].sum()),
            "default_rate_taken": float((r[takes[m]] < 0).mean()) if takes[m].any() else None,
            "vs_best_peer": {
                "estimate": bs.estimate,
                "low": bs.low,
                "high": bs.high,
                "p_not_better": bs.p_not_better,
            },
            "seconds": seconds.get(m),
        }
    common.log(
        f"seed {seed}: best peer {best_peer}; " + ", ".join(f"{m} {lw[m]:.2f}" for m in names)
    )
    return {"seed": seed, "n_test": len(r), "best_peer": best_peer, "methods": methods,
            "guard_policy": policies, **extra}  # fmt: skip


def summarise(runs: list[dict[str, Any]], boosters: Sequence[str]) -> dict[str, Any]:
    """Per method: mean test log-wealth and gain over the best trivial policy, over seeds, and
    how many seeds its interval against the best peer lies above / below zero."""
    out: dict[str, Any] = {}
    for m in methods_of(boosters):
        cells = [run["methods"][m] for run in runs]
        out[m] = {
            "log_wealth": float(np.mean([c["log_wealth"] for c in cells])),
            "gain_over_trivial": float(np.mean([c["gain_over_trivial"] for c in cells])),
            "vs_best_peer": float(np.mean([c["vs_best_peer"]["estimate"] for c in cells])),
            "above": sum(c["vs_best_peer"]["low"] > 0 for c in cells),
            "below": sum(c["vs_best_peer"]["high"] < 0 for c in cells),
            "n_taken": float(np.mean([c["n_taken"] for c in cells])),
            "seconds": float(np.mean([c["seconds"] or 0.0 for c in cells])),
        }
    return out


def render(results: dict[str, Any]) -> str:
    lines = [
        "# Credit: two real loan tables",
        "",
        common.generated_by("credit.py", results),
        "",
        f"Boosters of `tune`: {', '.join(results['boosters'])}; {results['n_trials']} trials; "
        f"seeds {results['seeds']}; {results['n_boot']} bootstrap resamples. "
        + (
            "String columns are ordinal-coded for every method (`--ordinal`)."
            if results.get("ordinal")
            else "String columns: pandas `category` features for boostobj and the XGBoost "
            "and LightGBM plug-ins, ordinal codes for sklearn's and empulse's peers."
        ),
        "",
    ]
    for name, table in results["tables"].items():
        if not table["runs"]:
            continue
        t = table["terms"]
        lines += [
            f"## {name} ({table['n_rows']} loans, {table['n_features']} features, "
            f"{table['default_rate']:.1%} defaults)",
            "",
            f"Stake s = {t['stake']}, LGD = {t['lgd']}, rate {t['rate']:.2%}, cost of funds "
            f"{t['funds']:.2%}, {t['months']} months -> g = {t['g']:.4f}; p_win = "
            f"{t['p_win']:.5f}, p_loss = {t['p_loss']:.3f}; break-even default probability "
            f"{t['break_even_default_prob']:.1%}.",
            "",
            "Mean over seeds of the test log-wealth, its gain over the best trivial policy and "
            "its difference to the best peer of each split; *above / below*: seeds whose 95% "
            "paired-bootstrap interval against the best peer lies above / below 0.",
            "",
            "| method | log-wealth | gain over trivial | vs best peer | above / below | "
            "loans taken | s |",
            "|---|---|---|---|---|---|---|",
        ]
        for m, c in table["summary"].items():
            lines.append(
                f"| {m} | {c['log_wealth']:.3f} | {c['gain_over_trivial']:+.3f} | "
                f"{c['vs_best_peer']:+.3f} | {c['above']} / {c['below']} | "
                f"{c['n_taken']:.0f} | {c['seconds']:.1f} |"
            )
        ours = [m for m in table["summary"] if m.startswith("boostobj")]
        lines += ["", "Per seed: the best peer, and each boostobj method's difference to it "
                  "(95% interval; the guard's policy):", ""]  # fmt: skip
        lines += ["| seed | best peer | " + " | ".join(ours) + " |"]
        lines += ["|---|---|" + "---|" * len(ours)]
        for run in table["runs"]:
            cells = []
            for m in ours:
                v = run["methods"][m]["vs_best_peer"]
                cells.append(
                    f"{v['estimate']:+.3f} [{v['low']:+.3f}, {v['high']:+.3f}] "
                    f"({run['guard_policy'][m]})"
                )
            lines.append(f"| {run['seed']} | {run['best_peer']} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke run: a subsample, 1 seed")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--tables", nargs="+", choices=list(TABLES), default=list(TABLES))
    ap.add_argument("--boosters", nargs="+", choices=BOOSTERS, default=list(BOOSTERS))
    ap.add_argument("--n-trials", type=int, default=20, help="tune's default")
    ap.add_argument("--n-boot", type=int, default=1000)
    ap.add_argument("--n-jobs", type=int, default=2, help="booster threads")
    ap.add_argument(
        "--ordinal",
        action="store_true",
        help="ordinal codes for every method (results file credit_ordinal)",
    )
    ap.add_argument("--out", default=str(common.RESULTS))
    args = ap.parse_args(argv)
    n_rows = None
    if args.quick:
        n_rows, args.n_trials, args.n_boot, args.seeds = 3000, 2, 100, args.seeds[:1]
    stem = "credit_quick" if args.quick else "credit_ordinal" if args.ordinal else "credit"
    results: dict[str, Any] = {
        "argv": sys.argv[1:] if argv is None else list(argv),
        **common.provenance("empulse", "scikit-learn"),
        "boosters": args.boosters,
        "n_trials": args.n_trials,
        "n_boot": args.n_boot,
        "ordinal": args.ordinal,
        "seeds": args.seeds,
        "tables": {},
    }
    data = {}
    for name in args.tables:
        X, F, y, features, terms = load(name)
        if n_rows is not None:  # a seeded subsample for the smoke run
            keep = np.random.default_rng(0).permutation(len(y))[:n_rows]
            X, F, y = X[keep], F.iloc[keep].reset_index(drop=True), y[keep]
        data[name] = (X, None if args.ordinal else F, y, terms)
        results["tables"][name] = {
            "n_rows": len(y),
            "n_features": X.shape[1],
            "features": features,
            "default_rate": float(y.mean()),
            "terms": terms,
            "runs": [],
        }
    for seed in args.seeds:  # every table of a seed first; the files are rewritten per run
        for name, (X, F, y, terms) in data.items():
            common.log(f"{name}:")
            table = results["tables"][name]
            run = run_split(X, F, y, terms, seed, args.n_trials, args.boosters, args.n_jobs,
                            args.n_boot)  # fmt: skip
            table["runs"].append(run)
            table["summary"] = summarise(table["runs"], args.boosters)
            common.write_results(Path(args.out), stem, common.jsonable(results), render(results))
    return results


if __name__ == "__main__":
    main()
