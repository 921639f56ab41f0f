"""Decision-quality benchmark: boostobj's surrogates against standard objectives.

Every learned method uses the same booster hyperparameters (depth 4 / 15 leaves, eta 0.05, up
to 1000 rounds, early stopping on the validation split with patience 50), so the comparison is
about the objective. Every threshold is tuned on validation only, with
:func:`boostobj.metrics.best_threshold`, and applied unchanged to the test split.

The ``+tuned`` rows run :func:`boostobj.tuning.tune` (hyperparameters and threshold chosen on
the first 70% of the validation rows, the rest held out for the no-edge guard) and score its
holdout model, fitted on train, at the tuner's threshold. With payoffs known the tuner ranks
trials by the validation loss and decides at the break-even (``select_on="loss"``,
``threshold=0.5``). ``+tuned+refit`` is the model ``tune(final=Refit())`` returns: the same
parameters fitted on train + valid, at the same threshold. ``+tuned+crossfit`` is the model
``tune(final=CrossFit(5))`` returns: the mean margin of 5 models of those parameters, each
fitted on train + valid but one consecutive block and early-stopped on that block
(:class:`boostobj.CrossFitEnsemble`). ``+tuned+crossfit+top3`` is ``tune(final=CrossFit(5,
top=3))``: the same for each of the 3 best trials, all 15 margins averaged.
``+tuned+crossfit+top3+guard`` is what ``boostobj tune --cross-fit 5 --cross-fit-trials 3``
recommends: that ensemble, or the trivial policy the guard falls back to.

The ``default tune()`` rows are what a new user gets: ``tune(X_train, p_train, X_valid,
p_valid, booster=...)`` given nothing else but the seed and the threads (on the real tables,
the validation rows' groups), scored by its **deployed** policy (``result.policy.predict``:
the model, or the trivial policy its guard fell back to). ``default tune()+payoffs`` adds only
``estimator_params={"loss": "outcome", "payoff_columns": (p_win, p_loss)}``. They keep
``tune``'s own defaults (20 trials, 500 rounds), not the shared settings above.

Data sets:

- ``betting``, ``lending``: :func:`boostobj.datasets.make_betting_market` and
  :func:`boostobj.datasets.make_lending_market`; one sample per seed, split in order into
  train / valid / test. Reported as the share of the Bayes policy's realised test log-wealth.
- ``football``, ``stocks``: the real tables in ``benchmarks/data`` (see PROVENANCE.md) with
  their chronological ``split`` column. Reported as test log-wealth with a bootstrap 95%
  interval (resampling whole matches / whole dates) and the wealth multiple.

Run from the repository root::

    python -m benchmarks.quality            # full run, writes benchmarks/results/quality.{json,md}
    python -m benchmarks.quality --quick    # smoke run (< 1 min), writes quality_quick.{json,md}
    python -m benchmarks.quality --only-default   # only the default tune() rows, the baselines
                                                  # and the trivial policies: quality_default.*
"""

from __future__ import annotations

import argparse
import inspect
import math
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

try:  # first: it sets OMP_WAIT_POLICY before any OpenMP runtime loads
    from benchmarks import common
except ImportError:  # run as a plain script: benchmarks/ is sys.path[0]
    import common  # type: ignore[no-redef]

import numpy as np
from numpy.typing import NDArray

from boostobj import losses as bl
from boostobj.datasets import bayes_log_wealth, make_betting_market, make_lending_market
from boostobj.metrics import (
    BestThreshold,
    best_threshold,
    log_wealth,
    margin_threshold,
    trivial_policies,
)
from boostobj.stats import BootstrapResult, bootstrap_policies

HERE = common.HERE
log = common.log
SYNTHETIC = {"betting": make_betting_market, "lending": make_lending_market}
REAL = {
    "football": "football_epl_laliga_2023_24_bets.csv.gz",
    "stocks": "sp500_20stocks_daily.csv.gz",
}
# Columns that are ids, outcomes or not known at decision time (see data/PROVENANCE.md).
NOT_FEATURES = {"p", "log_p", "split", "date", "match_id", "won", "p_maxodds"}
BLOCK_COLUMN = {"football": "match_id", "stocks": "date"}
BOOSTERS = ("xgboost", "lightgbm")
# Validation grids for loss knobs, by constructor-argument name; other knobs keep defaults.
KNOB_GRID: dict[str, list[float]] = {
    "power": [0.25, 0.5, 0.75, 1.0],
    "alpha": [0.25, 0.5, 0.75, 1.0],
    "temperature": [0.25, 0.5, 1.0, 2.0],
}
BASELINES = {
    "classifier": "1[p>1] classifier (built-in logistic, unit weights)",
    "regression": "regression on log p (built-in squared error)",
    "weighted_logistic": "weighted logistic (built-in, weights |log p|)",
}


@dataclass
class Config:
    """Sizes and booster settings of one benchmark run."""

    n_train: int = 50_000
    n_valid: int = 20_000
    n_test: int = 200_000
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    datasets: list[str] = field(default_factory=lambda: [*SYNTHETIC, *REAL])
    boosters: list[str] = field(default_factory=lambda: list(BOOSTERS))
    n_estimators: int = 1000
    patience: int = 50
    learning_rate: float = 0.05
    max_depth: int = 4
    num_leaves: int = 15
    n_jobs: int = 2
    n_boot: int = 1000
    grid_size: int = 4  # knob values tried per knob (first ones of KNOB_GRID)
    tune_trials: int = 30  # Optuna trials of boostobj.tuning.tune for the "+ tuned" rows
    cross_fit: int = 5  # members of the "+tuned+crossfit" ensemble (final=CrossFit(cross_fit))
    cross_fit_trials: int = 3  # best trials averaged in the "+tuned+crossfit+top3" row
    real_every: int = 1  # keep every k-th date of a real table (quick mode)
    quick: bool = False
    only_default: bool = False  # the default tune() rows, baselines and trivial only


@dataclass
class Split:
    """One train / valid / test split of one data set."""

    name: str
    seed: int
    X: dict[str, NDArray[np.float64]]
    p: dict[str, NDArray[np.float64]]
    block_test: NDArray[Any] | None = None
    block_valid: NDArray[Any] | None = None
    expected_test: NDArray[np.float64] | None = None  # E[log p | x], synthetic only
    features: list[str] = field(default_factory=list)

    def r(self, part: str) -> NDArray[np.float64]:
        return np.log(self.p[part])


# -- data ------------------------------------------------------------------------------------
def synthetic_split(name: str, seed: int, cfg: Config) -> Split:
    """One sample of ``n_train + n_valid + n_test`` rows, split in order."""
    n = cfg.n_train + cfg.n_valid + cfg.n_test
    X, p, expected = SYNTHETIC[name](n, random_state=seed)
    cuts = {"train": (0, cfg.n_train), "valid": (cfg.n_train, cfg.n_train + cfg.n_valid)}
    cuts["test"] = (cfg.n_train + cfg.n_valid, n)
    return Split(
        name=name,
        seed=seed,
        X={k: X[a:b] for k, (a, b) in cuts.items()},
        p={k: p[a:b] for k, (a, b) in cuts.items()},
        expected_test=expected[cuts["test"][0] :],
        features=[f"x{j}" for j in range(X.shape[1] - 1)] + ["market_feature"],
    )


def real_split(name: str, seed: int, cfg: Config, data_dir: Path) -> Split:
    """A real table with its own ``split`` column; numeric columns other than ids and outcomes
    are features, ``ticker`` as integer codes."""
    import pandas as pd

    df = pd.read_csv(data_dir / REAL[name])
    if cfg.real_every > 1 and len(df) > 20_000:  # quick mode: a subsample of whole dates
        dates = np.unique(df["date"].to_numpy())
        keep = set(dates[:: cfg.real_every])
        df = df[df["date"].isin(keep)].reset_index(drop=True)
    if "ticker" in df.columns:
        df["ticker"] = pd.Categorical(df["ticker"]).codes.astype(np.float64)
    features = [
        c for c in df.columns if c not in NOT_FEATURES and pd.api.types.is_numeric_dtype(df[c])
    ]
    X, p, block = {}, {}, {}
    for part in ("train", "valid", "test"):
        rows = df["split"].to_numpy() == part
        X[part] = df.loc[rows, features].to_numpy(dtype=np.float64)
        p[part] = df.loc[rows, "p"].to_numpy(dtype=np.float64)
        block[part] = df.loc[rows, BLOCK_COLUMN[name]].to_numpy()
    return Split(
        name=name, seed=seed, X=X, p=p, block_test=block["test"], block_valid=block["valid"],
        features=features,
    )  # fmt: skip


# -- learned methods -------------------------------------------------------------------------
@dataclass
class Fit:
    """Validation and test scores of one fitted model."""

    score_valid: NDArray[np.float64]
    score_test: NDArray[np.float64]
    n_rounds: int
    seconds: float
    guard_policy: str | None = None  # what boostobj.tuning.tune's no-edge guard recommends
    cut: float | None = None  # a score cut fixed before the test; None: tuned on valid


def make_estimator(booster: str, cfg: Config, seed: int, **kwargs: Any) -> Any:
    """A boostobj estimator with the benchmark's shared booster settings."""
    from boostobj.sklearn import LGBMWealthClassifier, XGBWealthClassifier

    shared: dict[str, Any] = {
        "n_estimators": cfg.n_estimators,
        "learning_rate": cfg.learning_rate,
        "early_stopping_rounds": cfg.patience,
        "random_state": seed,
        "n_jobs": cfg.n_jobs,
        **kwargs,
    }
    if booster == "xgboost":
        return XGBWealthClassifier(max_depth=cfg.max_depth, **shared)
    return LGBMWealthClassifier(num_leaves=cfg.num_leaves, **shared)


def known_payoffs(split: Split) -> dict[str, NDArray[np.float64]] | None:
    """Per part, ``[p_win, p_loss]`` columns known at decision time, where the data has them.

    betting: stake 0.05 at the odds in the last column (log odds); lending: stake 0.2 at the
    rate in the last column, loss given default 0.7 (the generators' defaults); football:
    stake 0.05 at the ``odds`` column. The stock table has none.
    """
    out = {}
    for part, X in split.X.items():
        if split.name == "betting":
            win, loss = 1 + 0.05 * np.expm1(X[:, -1]), np.full(len(X), 0.95)
        elif split.name == "lending":
            win, loss = 1 + 0.2 * X[:, -1], np.full(len(X), 1 - 0.2 * 0.7)
        elif split.name == "football":
            win, loss = 1 + 0.05 * (X[:, split.features.index("odds")] - 1), np.full(len(X), 0.95)
        else:
            return None
        out[part] = np.column_stack([win, loss])
    return out


def with_payoff_columns(
    split: Split,
) -> tuple[dict[str, NDArray[np.float64]], tuple[int, int]] | None:
    """Per part, the features with :func:`known_payoffs`' ``[p_win, p_loss]`` appended, and
    those two columns' indices (``payoff_columns=``); ``None`` where the data has none."""
    payoffs = known_payoffs(split)
    if payoffs is None:
        return None
    X = {part: np.column_stack([split.X[part], payoffs[part]]) for part in split.X}
    n = X["train"].shape[1]
    return X, (n - 2, n - 1)


def payoffs_known_args(
    split: Split,
) -> tuple[dict[str, NDArray[np.float64]], dict[str, Any]] | None:
    """Per part, the features with the payoff columns appended, and the estimator arguments
    of the payoffs-known model on them (``loss="outcome"``, ``payoff_columns``); ``None``
    where the data has no payoff columns."""
    known = with_payoff_columns(split)
    if known is None:
        return None
    X, cols = known
    return X, {"loss": "outcome", "payoff_columns": cols}


def payoffs_known_betting(
    seed: int, cfg: Config
) -> tuple[Split, dict[str, NDArray[np.float64]], tuple[int, int], float]:
    """The synthetic betting market of ``seed`` with its payoff columns appended: the split,
    the features per part, the two columns' indices and the Bayes policy's test log-wealth
    (what the payoffs-known studies of the other benchmark scripts start from)."""
    split = synthetic_split("betting", seed, cfg)
    known = with_payoff_columns(split)
    assert known is not None and split.expected_test is not None
    X, cols = known
    return split, X, cols, bayes_log_wealth(split.r("test"), split.expected_test)


def fit_payoffs(booster: str, split: Split, cfg: Config) -> Fit | None:
    """boostobj's win-probability model with payoffs known at decision time
    (``loss="outcome"``, ``payoff_columns``); scores are margins net of the break-even margin,
    so threshold 0.5 (net margin 0) is positive expected log payoff under the model."""
    from boostobj.metrics import break_even_margin

    known = payoffs_known_args(split)
    if known is None:
        return None
    X, fixed = known
    cols = fixed["payoff_columns"]
    est = make_estimator(booster, cfg, split.seed, **fixed)
    t0 = time.perf_counter()
    est.fit(X["train"], split.p["train"], eval_set=[(X["valid"], split.p["valid"])])
    seconds = time.perf_counter() - t0

    def net(part: str) -> NDArray[np.float64]:
        be = break_even_margin(np.log(X[part][:, cols[0]]), np.log(X[part][:, cols[1]]))
        return est.decision_function(X[part]) - be

    return Fit(net("valid"), net("test"), int(est.n_rounds_), seconds)


def fit_tuned(
    booster: str, split: Split, cfg: Config, payoffs_known: bool
) -> tuple[Fit, ...] | None:
    """boostobj's own tuner (:func:`boostobj.tuning.tune`: booster hyperparameters searched on
    validation with ``cfg.tune_trials`` Optuna trials, ``final=CrossFit(cfg.cross_fit,
    cfg.cross_fit_trials)``) for ``logistic``, or for ``outcome`` with payoffs known at
    decision time. Scores are the margins the model thresholds. Returns the holdout model
    (fitted on train), the same parameters refitted on train + valid (:class:`Refit`'s rule),
    the best trial's cross-fitted ensemble (the first ``cfg.cross_fit`` members of the
    returned one, what ``top=1`` gives) and the ensemble ``tune`` returns, all at the
    threshold the tuner chose on validation."""
    from sklearn.base import clone

    from boostobj import Rows
    from boostobj.tuning import CrossFit, Refit, tune

    # Payoffs unknown: the previous release's defaults, which these rows were measured with
    # (benchmarks/defaults.py measures today's defaults).
    X, fixed, choice = split.X, {}, dict(common.PREVIOUS_DEFAULTS)
    if payoffs_known:
        known = payoffs_known_args(split)
        if known is None:
            return None
        X, fixed = known
        choice = common.PAYOFFS_CHOICE  # the probability drives the decision
    t0 = time.perf_counter()
    result = tune(
        X["train"], split.p["train"], X["valid"], split.p["valid"],
        booster=booster, n_trials=cfg.tune_trials, seed=split.seed,
        estimator_params=common.tune_params(cfg.n_estimators, cfg.n_jobs, **fixed),
        valid_groups=split.block_valid, final=CrossFit(cfg.cross_fit, cfg.cross_fit_trials),
        **choice,
    )  # fmt: skip
    seconds = time.perf_counter() - t0
    holdout = result.holdout_model
    rows = Rows.concat(*(Rows.from_payoff(X[part], split.p[part]) for part in ("train", "valid")))
    refit = Refit().fit(rows, split.p["train"].size, holdout, [None], lambda _: clone(holdout))
    policy, cut = result.recommendation.policy, margin_threshold(result.threshold)
    best_members = result.model.members_[: cfg.cross_fit]  # the best trial's ensemble

    def fit(members: list[Any]) -> Fit:  # an ensemble's margin is its members' mean
        valid, test = (np.mean([m.decision_margin(X[part]) for m in members], axis=0)
                       for part in ("valid", "test"))  # fmt: skip
        rounds = round(float(np.mean([m.n_rounds_ for m in members])))
        return Fit(valid, test, rounds, seconds, policy, cut=cut)

    return tuple(fit(g) for g in ([holdout], [refit], best_members, result.model.members_))


def fit_default(
    booster: str, split: Split, cfg: Config, payoffs_known: bool
) -> dict[str, Any] | None:
    """What a new user gets: ``tune(X_train, p_train, X_valid, p_valid, booster=...)`` with
    nothing else chosen but the seed, ``cfg.n_jobs`` threads and, on the real tables, the
    validation rows' groups (what ``boostobj tune --time-column`` passes). With
    ``payoffs_known``, also ``estimator_params={"loss": "outcome", "payoff_columns": ...}``
    (``boostobj tune --payoff-win COL --payoff-loss COL``). Scored: the **deployed** policy,
    ``result.policy.predict`` (the model, or the trivial policy the guard fell back to). No
    validation number: the cross-fitted final model has seen the validation rows."""
    from boostobj.tuning import tune

    X, params, quick = split.X, {"n_jobs": cfg.n_jobs}, {}
    if payoffs_known:
        known = payoffs_known_args(split)
        if known is None:
            return None
        X, fixed = known
        params.update(fixed)
    if cfg.quick:  # smoke runs only: fewer trials and rounds
        quick["n_trials"], params["n_estimators"] = cfg.tune_trials, cfg.n_estimators
    t0 = time.perf_counter()
    result = tune(
        X["train"], split.p["train"], X["valid"], split.p["valid"], booster=booster,
        seed=split.seed, estimator_params=params, valid_groups=split.block_valid, **quick,
    )  # fmt: skip
    seconds = time.perf_counter() - t0
    take = np.asarray(result.policy.predict(X["test"]), dtype=bool)
    return {
        "booster": booster,
        "family": "boostobj",
        "loss": "default tune()" + ("+payoffs" if payoffs_known else ""),
        "method": result.method,
        "guard_policy": result.policy.policy,
        "test_log_wealth": log_wealth(split.r("test"), take),
        "test_n_taken": int(take.sum()),
        "fit_seconds": round(seconds, 3),
        "_take": take,
    }


def _loss_class(name: str) -> type[bl.Loss]:
    entry = bl.LOSSES[name]
    return entry if isinstance(entry, type) else type(entry)


def loss_knobs(name: str) -> dict[str, float]:
    """The loss's constructor knobs and their defaults."""
    sig = inspect.signature(_loss_class(name).__init__)
    return {
        k: v.default
        for k, v in sig.parameters.items()
        if k != "self" and v.default is not inspect.Parameter.empty
    }


def loss_grid(name: str, grid_size: int) -> list[dict[str, float]]:
    """Default knobs first, then every other combination of the grids of known knobs."""
    defaults = loss_knobs(name)
    combos: list[dict[str, float]] = [dict(defaults)]
    for knob, default in defaults.items():
        for value in KNOB_GRID.get(knob, [])[:grid_size]:
            cand = {**defaults, knob: value}
            if value != default and cand not in combos:
                combos.append(cand)
    return combos


def fit_boostobj(
    booster: str, name: str, knobs: dict[str, float], split: Split, cfg: Config
) -> Fit:
    """A boostobj estimator; early stopping on its validation surrogate loss (the default)."""
    est = make_estimator(booster, cfg, split.seed, loss=_loss_class(name)(**knobs))
    t0 = time.perf_counter()
    est.fit(split.X["train"], split.p["train"], eval_set=[(split.X["valid"], split.p["valid"])])
    seconds = time.perf_counter() - t0
    return Fit(
        est.decision_function(split.X["valid"]),
        est.decision_function(split.X["test"]),
        int(est.n_rounds_),
        seconds,
    )


def _baseline_data(
    kind: str, split: Split, part: str, scale: float
) -> tuple[NDArray[np.float64], NDArray[np.float64] | None]:
    r = split.r(part)
    if kind == "regression":
        return r, None
    label = (r > 0).astype(np.float64)
    return label, (np.abs(r) / scale if kind == "weighted_logistic" else None)


def fit_baseline(booster: str, kind: str, split: Split, cfg: Config) -> Fit:
    """A built-in objective; early stopping on its own validation loss (logloss or rmse).

    Scores are raw margins (classifiers) or predicted log p (regression).
    """
    scale = float(np.mean(np.abs(split.r("train"))))  # weights of mean 1 on train
    y_tr, w_tr = _baseline_data(kind, split, "train", scale)
    y_va, w_va = _baseline_data(kind, split, "valid", scale)
    t0 = time.perf_counter()
    if booster == "xgboost":
        import xgboost as xgb

        params = {
            "objective": "reg:squarederror" if kind == "regression" else "binary:logistic",
            "eta": cfg.learning_rate,
            "max_depth": cfg.max_depth,
            "seed": split.seed,
            "nthread": cfg.n_jobs,
            "tree_method": "hist",
        }
        dtr = xgb.DMatrix(split.X["train"], label=y_tr, weight=w_tr)
        dva = xgb.DMatrix(split.X["valid"], label=y_va, weight=w_va)
        bst = xgb.train(
            params,
            dtr,
            num_boost_round=cfg.n_estimators,
            evals=[(dva, "valid")],
            early_stopping_rounds=cfg.patience,
            verbose_eval=False,
        )
        bst = bst[: bst.best_iteration + 1]
        rounds = bst.num_boosted_rounds()

        def predict(X: NDArray[np.float64]) -> NDArray[np.float64]:
            return bst.predict(xgb.DMatrix(X), output_margin=True).astype(np.float64)

    else:
        import lightgbm as lgb

        params = {
            "objective": "regression" if kind == "regression" else "binary",
            "learning_rate": cfg.learning_rate,
            "num_leaves": cfg.num_leaves,
            "seed": split.seed,
            "num_threads": cfg.n_jobs,
            "verbose": -1,
        }
        dtr = lgb.Dataset(split.X["train"], label=y_tr, weight=w_tr)
        dva = lgb.Dataset(split.X["valid"], label=y_va, weight=w_va, reference=dtr)
        lbst = lgb.train(
            params,
            dtr,
            num_boost_round=cfg.n_estimators,
            valid_sets=[dva],
            callbacks=[lgb.early_stopping(cfg.patience, verbose=False)],
        )
        rounds = lbst.best_iteration or lbst.current_iteration()

        def predict(X: NDArray[np.float64]) -> NDArray[np.float64]:
            return np.asarray(lbst.predict(X, raw_score=True, num_iteration=rounds), np.float64)

    seconds = time.perf_counter() - t0
    return Fit(predict(split.X["valid"]), predict(split.X["test"]), int(rounds), seconds)


# -- evaluation ------------------------------------------------------------------------------
def evaluate(fit: Fit, split: Split, default_cut: float) -> dict[str, Any]:
    """Tune the threshold on validation (unless the fit fixed one); score that policy (and the
    default cut) on test."""
    r_va, r_te = split.r("valid"), split.r("test")
    if fit.cut is None:
        best = best_threshold(fit.score_valid, r_va)
    else:  # fixed before the refit saw the validation rows
        take_va = fit.score_valid >= fit.cut
        best = BestThreshold(fit.cut, log_wealth(r_va, take_va), int(take_va.sum()))
    take = fit.score_test >= best.threshold
    return {
        "threshold": best.threshold,
        "valid_log_wealth": best.log_wealth,
        "valid_n_taken": best.n_taken,
        "test_log_wealth": log_wealth(r_te, take),
        "test_n_taken": int(take.sum()),
        "test_log_wealth_default_threshold": log_wealth(r_te, fit.score_test >= default_cut),
        "n_rounds": fit.n_rounds,
        "fit_seconds": round(fit.seconds, 3),
        "_take": take,
    }


def _ci(res: BootstrapResult) -> dict[str, Any]:
    out = res._asdict()
    out["within_noise"] = bool(res.low <= 0.0 <= res.high)
    return out


def fit_methods(booster: str, split: Split, cfg: Config, methods: dict[str, Any]) -> None:
    """Every loss at its knobs, the payoffs-known model and the ``+tuned`` rows of one booster,
    added to ``methods``."""
    r_te = split.r("test")
    for name in sorted(bl.LOSSES):
        cands = []
        for knobs in loss_grid(name, cfg.grid_size):
            fit = fit_boostobj(booster, name, knobs, split, cfg)
            cands.append({"params": knobs, **evaluate(fit, split, 0.0)})
            log(f"  {split.name}/{split.seed} {booster} {name} {knobs} {_brief(cands[-1])}")
        base = {"booster": booster, "family": "boostobj", "loss": name}
        default = cands[0]
        methods[f"{booster}/{name}"] = {**base, **default, "knob_selection": "default"}
        if len(cands) > 1:
            pick = max(cands, key=lambda c: c["valid_log_wealth"])
            methods[f"{booster}/{name}[tuned]"] = {
                **base,
                **pick,
                "knob_selection": "best on valid",
                "candidates": [_strip(c) for c in cands],
            }
    fit = fit_payoffs(booster, split, cfg)
    if fit is not None:
        rec = {"booster": booster, "family": "boostobj", "loss": "outcome+payoffs"}
        rec.update(evaluate(fit, split, 0.0))
        methods[f"{booster}/outcome+payoffs"] = rec
        log(f"  {split.name}/{split.seed} {booster} outcome+payoffs {_brief(rec)}")
    for payoffs_known in (False, True):
        if not cfg.tune_trials:
            break
        fits = fit_tuned(booster, split, cfg, payoffs_known)
        if fits is None:
            continue
        name = "outcome+payoffs" if payoffs_known else "logistic"
        top = f"+tuned+crossfit+top{cfg.cross_fit_trials}"
        tags = ("+tuned", "+tuned+refit", "+tuned+crossfit", top)
        for fit, tag in zip(fits, tags, strict=True):
            rec = {"booster": booster, "family": "boostobj", "loss": f"{name}{tag}"}
            rec.update(evaluate(fit, split, 0.0))
            methods[f"{booster}/{name}{tag}"] = rec
            log(f"  {split.name}/{split.seed} {booster} {name}{tag} {_brief(rec)}")
        # The no-edge guard (what `boostobj tune --cross-fit K --cross-fit-trials N`
        # recommends): the last ensemble only if its train-only twin beats both trivial
        # policies beyond noise on the validation rows held out from tuning.
        assert fit.guard_policy is not None
        n_te = r_te.size
        take = {
            "model": rec["_take"],
            "take_all": np.ones(n_te, bool),
            "take_none": np.zeros(n_te, bool),
        }[fit.guard_policy]
        methods[f"{booster}/{name}{top}+guard"] = {
            "booster": booster,
            "family": "boostobj",
            "loss": f"{name}{top}+guard",
            "guard_policy": fit.guard_policy,
            "valid_log_wealth": rec["valid_log_wealth"],
            "test_log_wealth": log_wealth(r_te, take),
            "test_n_taken": int(take.sum()),
            "_take": take,
        }
        log(f"  {split.name}/{split.seed} {booster} {name}+guard -> {fit.guard_policy}")


def run_split(split: Split, cfg: Config) -> dict[str, Any]:
    """Fit every method on one split and score it, with bootstrap intervals."""
    r_va, r_te = split.r("valid"), split.r("test")
    methods: dict[str, dict[str, Any]] = {}
    for booster in cfg.boosters:
        for payoffs_known in (False, True):
            rec = fit_default(booster, split, cfg, payoffs_known)
            if rec is not None:
                methods[f"{booster}/{rec['loss']}"] = rec
                log(f"  {split.name}/{split.seed} {booster} {rec['loss']} ({rec['method']}, "
                    f"{rec['guard_policy']}) test={rec['test_log_wealth']:.3f} "
                    f"{rec['fit_seconds']:.1f}s")  # fmt: skip
        if not cfg.only_default:
            fit_methods(booster, split, cfg, methods)
        for kind, label in BASELINES.items():
            fit = fit_baseline(booster, kind, split, cfg)
            rec = {"booster": booster, "family": "baseline", "loss": kind, "label": label}
            rec.update(evaluate(fit, split, 0.0))
            methods[f"{booster}/{kind}"] = rec
            log(f"  {split.name}/{split.seed} {booster} {kind} {_brief(rec)}")

    # Trivial policies and Bayes: no fitting. The best trivial one is picked on validation.
    triv_va = trivial_policies(r_va)
    best_trivial = "take_all" if triv_va["take_all"] > triv_va["take_none"] else "take_none"
    n_te = r_te.size
    trivial_takes = {"take_all": np.ones(n_te, bool), "take_none": np.zeros(n_te, bool)}
    for key, take in trivial_takes.items():
        methods[key] = {
            "booster": None,
            "family": "trivial",
            "loss": key,
            "valid_log_wealth": triv_va[key],
            "test_log_wealth": log_wealth(r_te, take),
            "test_n_taken": int(take.sum()),
            "_take": take,
        }
    bayes = None
    if split.expected_test is not None:
        bayes_take = split.expected_test > 0
        bayes = bayes_log_wealth(r_te, split.expected_test)
        methods["bayes"] = {
            "booster": None,
            "family": "bayes",
            "loss": "bayes",
            "test_log_wealth": bayes,
            "test_n_taken": int(bayes_take.sum()),
            "_take": bayes_take,
        }

    # Best baseline per booster, picked on validation.
    best_baseline = {}
    for booster in cfg.boosters:
        keys = [f"{booster}/{kind}" for kind in BASELINES]
        best_baseline[booster] = max(keys, key=lambda k: methods[k]["valid_log_wealth"])

    # One set of resamples for every policy, so every difference is paired.
    t0 = time.perf_counter()
    pb = bootstrap_policies(
        r_te,
        {key: rec["_take"] for key, rec in methods.items()},
        n_boot=cfg.n_boot,
        block=split.block_test,
        seed=split.seed,
    )
    for key, rec in methods.items():
        lw = rec["test_log_wealth"]
        rec["wealth_multiple"] = math.exp(lw) if lw < 700 else float("inf")
        if bayes is not None and bayes > 0:
            rec["share_of_bayes"] = rec["test_log_wealth"] / bayes
        rec["ci"] = {"log_wealth": _ci(pb.interval(key))}
        if rec["family"] in ("boostobj", "baseline"):
            rec["ci"]["vs_best_trivial"] = _ci(pb.interval(key, best_trivial))
            rec["ci"]["vs_best_baseline"] = _ci(pb.interval(key, best_baseline[rec["booster"]]))
    boot_seconds = time.perf_counter() - t0
    for rec in methods.values():
        del rec["_take"]
    return {
        "seed": split.seed,
        "n": {part: int(v.size) for part, v in split.p.items()},
        "n_features": int(split.X["train"].shape[1]),
        "features": split.features,
        "bootstrap_unit": "row" if split.block_test is None else BLOCK_COLUMN[split.name],
        "n_boot_groups": pb.n_groups,
        "trivial_test": trivial_policies(r_te),
        "bayes_test_log_wealth": bayes,
        "best_trivial": best_trivial,
        "best_baseline": best_baseline,
        "bootstrap_seconds": round(boot_seconds, 2),
        "methods": methods,
    }


def _strip(c: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in c.items() if not k.startswith("_")}


def _brief(rec: dict[str, Any]) -> str:
    return (
        f"valid={rec['valid_log_wealth']:.3f} test={rec['test_log_wealth']:.3f} "
        f"rounds={rec['n_rounds']} {rec['fit_seconds']:.1f}s"
    )


# -- report ----------------------------------------------------------------------------------
def method_order(methods: dict[str, dict[str, Any]]) -> list[str]:
    """boostobj methods per booster, then baselines, then trivial policies and Bayes."""
    rank = {"boostobj": 0, "baseline": 1, "trivial": 2, "bayes": 3}

    def key(name: str) -> tuple[int, str, str]:
        rec = methods[name]
        fam = rank[rec["family"]]
        return (min(fam, 2), rec["booster"] or "", f"{fam}{name}")

    return sorted(methods, key=key)


def _label(key: str, rec: dict[str, Any], show_pick: bool = False) -> str:
    """A method's row label; ``show_pick`` names the knob value a tuned method picked."""
    if rec["family"] == "boostobj":
        params = rec.get("params", {})
        values = ", ".join(f"{k}={v:g}" for k, v in params.items())
        tag = f" ({values})" if values else ""
        if rec.get("knob_selection") == "best on valid":
            knobs = ", ".join(params)
            tag = f" ({values}, picked on valid)" if show_pick else f" ({knobs} tuned on valid)"
        return f"{rec['booster']} boostobj `{rec['loss']}`{tag}"
    if rec["family"] == "baseline":
        return f"{rec['booster']} baseline: {rec['label']}"
    return {"take_all": "take-all", "take_none": "take-none", "bayes": "Bayes policy"}[key]


def _fmt_ci(ci: dict[str, Any], digits: int = 2, mark_noise: bool = True) -> str:
    mark = " ≈0" if mark_noise and ci["within_noise"] else ""
    return f"{ci['estimate']:+.{digits}f} [{ci['low']:+.{digits}f}, {ci['high']:+.{digits}f}]{mark}"


def render_markdown(results: dict[str, Any]) -> str:
    """quality.md: synthetic shares of Bayes, real-data log-wealth with intervals."""
    meta = results["meta"]
    cfg = meta["config"]
    lines = [
        "# boostobj decision-quality benchmark"
        + (": the default tune() rows" if cfg.get("only_default") else ""),
        "",
        f"Generated by `{' '.join(['benchmarks/quality.py', *meta.get('argv', [])])}` in "
        f"{meta['total_seconds'] / 60:.1f} min on {meta['machine']}; "
        f"versions: {common.versions_text(meta['versions'])}; "
        f"gradient kernel: {meta.get('kernel', 'numpy')}.",
        "",
        f"Same booster settings for every learned method: XGBoost depth {cfg['max_depth']}, "
        f"LightGBM {cfg['num_leaves']} leaves, eta {cfg['learning_rate']}, up to "
        f"{cfg['n_estimators']} rounds, early stopping patience {cfg['patience']} on validation. "
        "Thresholds and knobs are chosen on validation only. Losses found in "
        f"`boostobj.losses.LOSSES`: {', '.join(f'`{n}`' for n in meta['losses'])}.",
        "",
    ]
    synth = [d for d in results["datasets"] if results["datasets"][d]["kind"] == "synthetic"]
    real = [d for d in results["datasets"] if results["datasets"][d]["kind"] == "real"]
    if synth:
        lines += [
            "## Synthetic markets: share of the Bayes policy's test log-wealth",
            "",
            f"n_train={cfg['n_train']:,}, n_valid={cfg['n_valid']:,}, n_test={cfg['n_test']:,}; "
            "mean over seeds (per-seed values). `vs baseline` counts seeds where the paired "
            "bootstrap 95% interval of the difference to the best baseline (same booster, "
            "picked on validation) is above 0 / contains 0 / is below 0.",
            "",
        ]
        head = "| method |" + "".join(f" {d}: share of Bayes | {d}: vs baseline |" for d in synth)
        lines += [head, "|---|" + "---|---|" * len(synth)]
        keys = method_order(results["datasets"][synth[0]]["runs"][0]["methods"])
        for key in keys:
            rec0 = results["datasets"][synth[0]]["runs"][0]["methods"][key]
            row = f"| {_label(key, rec0)} |"
            for d in synth:
                runs = results["datasets"][d]["runs"]
                shares = [run["methods"][key].get("share_of_bayes", float("nan")) for run in runs]
                per = ", ".join(f"{100 * s:.1f}" for s in shares)
                row += f" {100 * float(np.mean(shares)):.1f}% ({per}) |"
                cis = [run["methods"][key]["ci"].get("vs_best_baseline") for run in runs]
                if cis[0] is None:
                    row += " |"
                else:
                    up = sum(c["low"] > 0 for c in cis)
                    down = sum(c["high"] < 0 for c in cis)
                    row += f" {up} / {len(cis) - up - down} / {down} |"
            lines.append(row)
        lines.append("")
        for d in synth:
            runs = results["datasets"][d]["runs"]
            bayes = ", ".join(f"{run['bayes_test_log_wealth']:.1f}" for run in runs)
            allv = ", ".join(f"{run['trivial_test']['take_all']:.1f}" for run in runs)
            lines.append(f"- `{d}`: Bayes test log-wealth per seed {bayes}; take-all {allv}.")
        lines.append("")
    if real:
        lines += [
            "## Real tables: test log-wealth [bootstrap 95% interval] and wealth multiple",
            "",
            "Chronological train/valid/test split of the table itself. Intervals resample whole "
            "groups of the test split (football: matches, stocks: dates). ≈0 marks a "
            "difference whose interval contains 0 (within noise).",
            "",
        ]
        head = "| method |" + "".join(
            f" {d}: log-wealth [95% CI] | {d}: wealth multiple |" for d in real
        )
        lines += [head, "|---|" + "---|---|" * len(real)]
        every = {}  # methods of all real tables (payoffs known at decision time: not stocks)
        for d in real:
            every.update(results["datasets"][d]["runs"][0]["methods"])
        for key in method_order(every):
            row = f"| {_label(key, every[key])} |"
            for d in real:
                rec = results["datasets"][d]["runs"][0]["methods"].get(key)
                if rec is None:
                    row += " n/a | n/a |"
                    continue
                lw = _fmt_ci(rec["ci"]["log_wealth"], mark_noise=False)
                row += f" {lw} | {rec['wealth_multiple']:.3g} |"
            lines.append(row)
        lines.append("")
        for d in real:
            run = results["datasets"][d]["runs"][0]
            lines += [
                f"### {d}: differences (test), paired bootstrap by {run['bootstrap_unit']}",
                "",
                f"Best trivial policy on validation: {run['best_trivial']}; best baseline on "
                f"validation: {', '.join(run['best_baseline'].values())}. "
                f"Test rows {run['n']['test']:,} in {run['n_boot_groups']:,} groups.",
                "",
                "| method | valid log-wealth | test log-wealth | rows taken | "
                "Δ vs best trivial [95% CI] | Δ vs best baseline [95% CI] |",
                "|---|---|---|---|---|---|",
            ]
            for key in method_order(run["methods"]):
                rec = run["methods"][key]
                ci = rec["ci"]
                valid = rec.get("valid_log_wealth")
                lines.append(
                    f"| {_label(key, rec, show_pick=True)} | "
                    f"{'' if valid is None else f'{valid:.2f}'} | "
                    f"{rec['test_log_wealth']:.2f} | {rec['test_n_taken']:,} | "
                    f"{_fmt_ci(ci['vs_best_trivial']) if 'vs_best_trivial' in ci else ''} | "
                    f"{_fmt_ci(ci['vs_best_baseline']) if 'vs_best_baseline' in ci else ''} |"
                )
            lines.append("")
    lines += [
        "## Timing",
        "",
        "| data set | seconds (fits + bootstrap) |",
        "|---|---|",
        *[f"| {d} | {v['seconds']:.0f} |" for d, v in results["datasets"].items()],
        "",
    ]
    return "\n".join(lines)


# -- main ------------------------------------------------------------------------------------
def parse_args(argv: Sequence[str] | None) -> tuple[Config, Path, Path, str]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="tiny smoke run (< 60 s)")
    ap.add_argument("--seeds", type=int, nargs="+", help="seeds (synthetic; real uses the first)")
    ap.add_argument("--datasets", nargs="+", choices=[*SYNTHETIC, *REAL])
    ap.add_argument("--boosters", nargs="+", choices=BOOSTERS)
    ap.add_argument("--n-boot", type=int, help="bootstrap resamples (default 1000)")
    ap.add_argument("--n-jobs", type=int, default=2, help="booster threads (default 2)")
    ap.add_argument(
        "--tune-trials", type=int, help="Optuna trials of the '+tuned' rows (default 30; 0: skip)"
    )
    ap.add_argument(
        "--only-default", action="store_true",
        help="only the default tune() rows, the baselines and the trivial policies "
        "(writes quality_default.{json,md}, or quality_default_quick with --quick)",
    )  # fmt: skip
    ap.add_argument("--out", type=Path, default=common.RESULTS, help="output folder")
    ap.add_argument("--data-dir", type=Path, default=HERE / "data", help="real tables folder")
    args = ap.parse_args(argv)
    cfg = Config(n_jobs=args.n_jobs)
    if args.quick:
        cfg = Config(
            n_train=1500, n_valid=1000, n_test=3000, seeds=[0], n_estimators=30, patience=5,
            n_jobs=args.n_jobs, n_boot=200, grid_size=0, real_every=40, quick=True,
            tune_trials=2,
        )  # fmt: skip
    if args.seeds:
        cfg.seeds = args.seeds
    if args.datasets:
        cfg.datasets = args.datasets
    if args.boosters:
        cfg.boosters = args.boosters
    if args.n_boot:
        cfg.n_boot = args.n_boot
    if args.tune_trials is not None:
        cfg.tune_trials = args.tune_trials
    cfg.only_default = args.only_default
    stem = "quality_default" if cfg.only_default else "quality"
    stem += "_quick" if cfg.quick else ""
    return cfg, args.out, args.data_dir, stem


def _meta(cfg: Config, seconds: float) -> dict[str, Any]:
    return {
        "argv": sys.argv[1:],
        "config": asdict(cfg),
        **common.provenance("pandas"),
        "machine": f"{platform.machine()} {platform.system()}, {cfg.n_jobs} booster threads",
        "losses": {n: loss_grid(n, cfg.grid_size) for n in sorted(bl.LOSSES)},
        "knob_grid": KNOB_GRID,
        "baselines": BASELINES,
        "early_stopping": {
            "boostobj": "the surrogate's mean validation loss (the estimators' default)",
            "baseline": "the objective's own validation loss (logloss, weighted logloss, rmse)",
        },
        "total_seconds": round(seconds, 1),
    }


def run(
    cfg: Config,
    data_dir: Path,
    on_progress: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Run the benchmark and return every number as a JSON-ready dict.

    ``on_progress`` gets the results so far after each data set (to write partial files).
    """
    t_start = time.perf_counter()
    datasets: dict[str, Any] = {}
    for name in cfg.datasets:
        t0 = time.perf_counter()
        runs = []
        if name in SYNTHETIC:
            for seed in cfg.seeds:
                log(f"{name} seed {seed}")
                runs.append(run_split(synthetic_split(name, seed, cfg), cfg))
            kind = "synthetic"
        else:
            log(f"{name}")
            runs.append(run_split(real_split(name, cfg.seeds[0], cfg, data_dir), cfg))
            kind = "real"
        datasets[name] = {"kind": kind, "runs": runs, "seconds": round(time.perf_counter() - t0, 1)}
        results = common.jsonable(
            {"meta": _meta(cfg, time.perf_counter() - t_start), "datasets": datasets}
        )
        if on_progress is not None:
            on_progress(results)
    return results


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Command-line entry point; returns the results dict (also written to ``--out``)."""
    cfg, out, data_dir, stem = parse_args(argv)

    def write(results: dict[str, Any]) -> None:
        common.write_results(out, stem, results, render_markdown(results))

    results = run(cfg, data_dir, on_progress=write)
    log(f"wrote {out / stem}.json and .md in {results['meta']['total_seconds']:.0f} s")
    return results


if __name__ == "__main__":
    main()
