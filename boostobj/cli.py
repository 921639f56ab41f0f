"""The ``boostobj`` command: ``boostobj tune`` and ``boostobj predict``.

``tune`` reads a table (CSV or Parquet) or simulates the built-in betting market, splits it into
train/valid/test, tunes a booster with :func:`boostobj.tuning.tune` and writes the model folder,
``report.json``, ``report.md`` and plots into a run folder. ``predict`` applies a saved model
folder to a table. Bad input ends with one line ``boostobj: error: ...`` and exit status 2.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import textwrap
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from ._validation import log_payoff
from .losses import LOSSES
from .metrics import log_wealth, trivial_policies

if TYPE_CHECKING:
    import pandas as pd

    from .report import SplitEval
    from .sklearn import _WealthClassifier

__all__ = ["build_parser", "main"]

PAYOFF_CONTRACT = (
    "The payoff column holds p, the multiplier that taking a row applies to wealth, known only "
    "after the decision: p must be > 0, and p = 1 is break-even (a 5% stake at decimal odds 3 "
    "gives p = 1.10 if it wins and p = 0.95 if it loses; a stock bought at close t gives "
    "p = close[t+1] / close[t]). A policy takes the rows whose predicted probability is >= a "
    "threshold; its log-wealth is the sum of log p over the rows it takes."
)
SPLITS = ("train", "valid", "test")
RESERVED_FEATURES = ("log_p",)
DEFAULT_PAYOFF = "p"
DEFAULT_SPLIT_COLUMN = "split"
DEFAULT_N_SAMPLES = 50_000
DEFAULT_TRIALS = 20
DEFAULT_N_ESTIMATORS = 300
DEFAULT_N_JOBS = 1
MIN_SYNTHETIC_ROWS = 100
#: A feature whose rank correlation with log p on the training rows reaches this is flagged.
LEAK_CORRELATION = 0.5
_PARQUET_SUFFIXES = (".parquet", ".pq")


# -- data ---------------------------------------------------------------------------------------
@dataclass
class _Part:
    """The rows of one split."""

    X: NDArray[np.float64]
    p: NDArray[np.float64]
    time: NDArray[Any] | None = None
    expected_log_payoff: NDArray[np.float64] | None = None


@dataclass
class _Data:
    """Train/valid/test rows, the feature names and a description for the report."""

    parts: dict[str, _Part]
    features: list[str]
    info: dict[str, Any]
    warnings: list[str]


def _read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV (optionally compressed) or Parquet file; refuse a missing or empty one."""
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas ships with the "all" extra
        raise ValueError(
            "reading DATA needs pandas: pip install pandas (or boostobj[all])"
        ) from None
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"{file}: no such file")
    if file.suffix.lower() in _PARQUET_SUFFIXES:
        frame = pd.read_parquet(file)
    else:
        try:
            frame = pd.read_csv(file)
        except pd.errors.EmptyDataError:
            raise ValueError(f"{file} is empty") from None
    if len(frame) == 0:
        raise ValueError(f"{file} has no rows")
    frame.columns = [str(c) for c in frame.columns]
    return frame


def _require_columns(frame: pd.DataFrame, columns: list[str], source: str | Path) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        shown = ", ".join(map(repr, list(frame.columns)[:20]))
        more = "" if frame.shape[1] <= 20 else f" and {frame.shape[1] - 20} more"
        raise ValueError(
            f"{source} has no column {', '.join(map(repr, missing))}; its columns are {shown}{more}"
        )


def _is_numeric(column: pd.Series) -> bool:
    """Numbers or booleans (pandas counts booleans as numeric)."""
    from pandas.api.types import is_numeric_dtype

    return bool(is_numeric_dtype(column))


def _feature_matrix(frame: pd.DataFrame, features: list[str], source: str | Path) -> NDArray:
    """The named columns as a float matrix (NaN = missing); refuse missing or non-numeric ones."""
    from .sklearn import check_features

    _require_columns(frame, features, source)
    bad = [f"{c!r} ({frame[c].dtype})" for c in features if not _is_numeric(frame[c])]
    if bad:
        raise ValueError(
            f"feature column {', '.join(bad)} is not numeric; encode it as numbers or leave it out"
        )
    X = frame[features].to_numpy(dtype=np.float64, na_value=np.nan)
    return check_features(X, name=f"features of {source}")


def _choose_features(
    frame: pd.DataFrame, requested: list[str] | None, reserved: list[str], skipped: list[str]
) -> tuple[list[str], list[str]]:
    """``(features, ignored non-numeric columns)``.

    ``requested`` if given (never a ``reserved`` column: payoff, log p, split), else every
    numeric column that is neither reserved nor ``skipped`` (the time column).
    """
    if requested:
        dupes = sorted({c for c in requested if requested.count(c) > 1})
        if dupes:
            raise ValueError(f"--features names {', '.join(map(repr, dupes))} more than once")
        bad = [c for c in requested if c in reserved]
        if bad:
            raise ValueError(
                f"--features names {', '.join(map(repr, bad))}, which holds the payoff or "
                "the split, not information known at decision time"
            )
        return list(requested), []
    excluded = reserved + skipped
    candidates = [c for c in frame.columns if c not in excluded]
    features = [c for c in candidates if _is_numeric(frame[c])]
    if not features:
        raise ValueError(
            "no numeric feature column left after leaving out "
            f"{', '.join(map(repr, excluded))}; name features with --features"
        )
    return features, [c for c in candidates if c not in features]


def _time_values(column: pd.Series) -> NDArray[Any]:
    """A time column as float or ``datetime64`` (UTC); refuse missing or unparseable values."""
    import pandas as pd

    name = column.name
    if _is_numeric(column):
        values = column.to_numpy(dtype=np.float64, na_value=np.nan)
        missing = np.isnan(values)
    else:
        try:
            stamps = pd.to_datetime(column, utc=True)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"time column {name!r} is neither numeric nor dates: {exc}") from None
        values = stamps.dt.tz_convert(None).to_numpy()
        missing = np.isnat(values)
    if missing.any():
        raise ValueError(
            f"time column {name!r} has {int(missing.sum())} missing value(s); the first is at "
            f"index {int(np.flatnonzero(missing)[0])}"
        )
    return values


def _split_by_column(column: pd.Series) -> dict[str, NDArray[np.intp]]:
    labels = column.astype(str).str.strip().str.lower().to_numpy()
    unknown = sorted(set(labels) - set(SPLITS))
    if unknown:
        raise ValueError(
            f"split column {column.name!r} has value(s) {', '.join(map(repr, unknown[:5]))}; "
            "expected train, valid or test"
        )
    return {s: np.flatnonzero(labels == s) for s in SPLITS}


def _split_in_order(n: int, time: NDArray[Any] | None) -> dict[str, NDArray[np.intp]]:
    """Rows 60/20/20 in time order (ties stay together), or in file order without a time."""
    if time is None:
        order = start = np.arange(n)
    else:
        order = np.argsort(time, kind="stable")
        # Position (in time order) of the first row sharing each row's time: a group of tied
        # rows goes to the split where its first row falls.
        start = np.searchsorted(time[order], time[order], side="left")
    cut_valid, cut_test = round(0.6 * n), round(0.8 * n)
    part = np.where(start < cut_valid, 0, np.where(start < cut_test, 1, 2))
    return {s: order[part == i] for i, s in enumerate(SPLITS)}


def _payoff(frame: pd.DataFrame, column: str, source: str | Path) -> tuple[NDArray, NDArray]:
    """``(p, log p)`` from the payoff column; refuse non-numeric, missing or ``p <= 0`` values."""
    _require_columns(frame, [column], source)
    if not _is_numeric(frame[column]):
        raise ValueError(f"payoff column {column!r} is not numeric ({frame[column].dtype})")
    p = frame[column].to_numpy(dtype=np.float64, na_value=np.nan)
    return p, log_payoff(p, name=f"payoff column {column!r}")


def _suspected_leaks(
    X: NDArray[np.float64], log_p: NDArray[np.float64], features: list[str]
) -> dict[str, float]:
    """Features whose rank correlation with log p (on the training rows) is implausibly high.

    A feature known at decision time rarely reaches ``|rho| >= 0.5`` with the realised payoff;
    an outcome or a payoff column (a bet's ``won``, a second payoff) does.
    """
    import pandas as pd

    rho = pd.DataFrame(X, columns=features).rank().corrwith(pd.Series(log_p).rank())
    return {str(name): float(v) for name, v in rho.items() if abs(v) >= LEAK_CORRELATION}


def _load_table(args: argparse.Namespace) -> _Data:
    source = Path(args.data)
    frame = _read_table(source)
    split_column = args.split_column
    if split_column is None and DEFAULT_SPLIT_COLUMN in frame.columns:
        split_column = DEFAULT_SPLIT_COLUMN
    meta = [args.payoff, *(c for c in (args.time_column, split_column) if c)]
    _require_columns(frame, meta, source)
    features, ignored = _choose_features(
        frame,
        args.features,
        reserved=[args.payoff, *RESERVED_FEATURES, *([split_column] if split_column else [])],
        skipped=[args.time_column] if args.time_column else [],
    )
    X = _feature_matrix(frame, features, source)
    p, r = _payoff(frame, args.payoff, source)
    time = None if args.time_column is None else _time_values(frame[args.time_column])
    if split_column is not None:
        rows = _split_by_column(frame[split_column])
        method = f"by column {split_column!r}"
    elif time is not None:
        rows = _split_in_order(len(frame), time)
        method = f"chronological 60/20/20 by {args.time_column!r}, tied times kept together"
    else:
        rows = _split_in_order(len(frame), None)
        method = (
            "60/20/20 in file order (no split or time column given: rows are assumed to be in "
            "time order)"
        )
    if time is not None:  # time order within each split, as walk-forward tuning expects
        rows = {s: idx[np.argsort(time[idx], kind="stable")] for s, idx in rows.items()}
    for s in ("train", "valid"):
        if rows[s].size == 0:
            raise ValueError(f"the {s} split is empty ({method}); {source} has {len(frame)} rows")
    parts = {
        s: _Part(X[idx], p[idx], None if time is None else time[idx])
        for s, idx in rows.items()
        if idx.size
    }
    leaks = _suspected_leaks(X[rows["train"]], r[rows["train"]], features)
    return _Data(
        parts=parts,
        features=features,
        info={
            "source": str(source.resolve()),
            "payoff_column": args.payoff,
            "time_column": args.time_column,
            "split_method": method,
            "n_rows": {s: int(part.p.size) for s, part in parts.items()},
            "features": features,
            "ignored_columns": ignored,
            "suspected_leaks": sorted(leaks),
        },
        warnings=[
            f"feature {name!r} has rank correlation {rho:+.2f} with log p on the training "
            "rows; if it is only known after the decision (an outcome, a payoff) it leaks the "
            "answer: leave it out with --features"
            for name, rho in leaks.items()
        ],
    )


def _load_synthetic(n_samples: int, seed: int) -> _Data:
    from .datasets import make_betting_market

    X, p, expected = make_betting_market(n_samples, random_state=seed)
    features = [f"x{j}" for j in range(X.shape[1] - 1)] + ["log_odds"]
    cut_valid, cut_test = round(0.4 * n_samples), round(0.6 * n_samples)
    bounds = {"train": (0, cut_valid), "valid": (cut_valid, cut_test), "test": (cut_test, None)}
    parts = {
        s: _Part(X[a:b], p[a:b], expected_log_payoff=expected[a:b]) for s, (a, b) in bounds.items()
    }
    return _Data(
        parts=parts,
        features=features,
        info={
            "source": f"synthetic betting market (make_betting_market, n_samples={n_samples}, "
            f"random_state={seed})",
            "payoff_column": DEFAULT_PAYOFF,
            "time_column": None,
            "split_method": "40/20/40 in simulation order (rows are independent)",
            "n_rows": {s: int(part.p.size) for s, part in parts.items()},
            "features": features,
            "ignored_columns": [],
            "suspected_leaks": [],
        },
        warnings=[],
    )


# -- tune ---------------------------------------------------------------------------------------
def _default_run_dir() -> Path:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    out = Path("boostobj_runs") / stamp
    k = 1
    while out.exists():
        k += 1
        out = Path("boostobj_runs") / f"{stamp}-{k}"
    return out


def _prepare_run_dir(out: Path, resume: bool) -> None:
    from .sklearn import prepare_output_dir

    try:
        prepare_output_dir(out, overwrite=resume)
    except FileExistsError:
        if not out.is_dir():
            raise
        raise FileExistsError(
            f"--out {out} is not empty: choose a new folder, or pass --resume to continue the "
            "study stored there"
        ) from None


def _check_new_study(storage: str, study_name: str) -> None:
    """Without --resume, refuse a study name that the storage already holds."""
    import optuna

    from .tuning import make_storage

    if study_name in optuna.get_all_study_names(storage=make_storage(storage)):
        raise FileExistsError(
            f"study {study_name!r} already exists in {storage}: pass --resume to continue it, "
            "or choose another --study-name"
        )


def _matplotlib_available() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _evaluate(model: _WealthClassifier, part: _Part) -> SplitEval:
    """The model's probabilities and decisions on one split, for the report."""
    from .report import SplitEval

    return SplitEval(
        log_p=log_payoff(part.p),
        score=model.predict_proba(part.X)[:, 1],
        take=model.predict(part.X),
        expected_log_payoff=part.expected_log_payoff,
        time=part.time,
    )


def _estimator_params(args: argparse.Namespace, features: list[str]) -> dict[str, Any]:
    """``--loss`` and ``--payoff-known`` as estimator arguments (column names -> indices)."""
    params: dict[str, Any] = {}
    if args.payoff_known:
        missing = [c for c in args.payoff_known if c not in features]
        if missing:
            raise ValueError(
                f"--payoff-known column {missing[0]!r} is not a feature column "
                f"(features: {', '.join(features)})"
            )
        params["payoff_columns"] = [features.index(c) for c in args.payoff_known]
        params["loss"] = args.loss or "outcome"
    elif args.loss:
        params["loss"] = args.loss
    return params


def _cmd_tune(args: argparse.Namespace, argv: list[str]) -> int:
    from . import __version__
    from .report import wealth_multiple, write_report
    from .tuning import tune

    if args.resume and args.out is None:
        raise ValueError("--resume needs --out DIR, the folder of the run to continue")
    if args.cross_fit_trials > 1 and args.cross_fit is None:
        raise ValueError("--cross-fit-trials averages cross-fitted ensembles: give --cross-fit K")
    if args.data is None:
        given = [
            flag
            for flag, value in (
                ("--time-column", args.time_column),
                ("--split-column", args.split_column),
                ("--features", args.features),
                ("--payoff-known", args.payoff_known),
            )
            if value
        ]
        if given:
            raise ValueError(f"{', '.join(given)} needs DATA; without DATA the market is synthetic")
        if args.payoff != DEFAULT_PAYOFF:
            raise ValueError("--payoff needs DATA; without DATA the market is synthetic")
        data = _load_synthetic(args.n_samples or DEFAULT_N_SAMPLES, args.seed)
    else:
        if args.n_samples is not None:
            raise ValueError("--n-samples sizes the synthetic market; it does not apply to DATA")
        data = _load_table(args)
    estimator_params = _estimator_params(args, data.features)
    out = Path(args.out) if args.out is not None else _default_run_dir()
    storage = args.storage or f"sqlite:///{(out / 'study.db').resolve()}"
    plots = not args.no_plots and _matplotlib_available()
    if not args.no_plots and not plots:
        data.warnings.append("matplotlib is not installed, so no plots were drawn")
    run = {
        "boostobj_version": __version__,
        "command": shlex.join(["boostobj", *argv]),
        "booster": args.booster,
        "estimator_params": estimator_params,
        "n_estimators": args.n_estimators,
        "seed": args.seed,
        "n_splits": args.n_splits,
        "storage": storage,
        "model_dir": str(out / "model"),
        "data": data.info,
        "warnings": data.warnings,
    }
    _prepare_run_dir(out, args.resume)
    if args.storage and not args.resume:
        _check_new_study(storage, args.study_name)
    for warning in data.warnings:
        print(f"boostobj: warning: {warning}", file=sys.stderr)

    train, valid, test = (data.parts.get(s) for s in SPLITS)
    assert train is not None and valid is not None
    print(
        f"boostobj: tuning {args.booster} on {data.info['source']} "
        f"({', '.join(f'{s} {n}' for s, n in data.info['n_rows'].items())} rows); "
        f"writing to {out}",
        file=sys.stderr,
    )
    result = tune(
        train.X,
        train.p,
        valid.X,
        valid.p,
        booster=args.booster,
        n_trials=args.trials,
        timeout=args.timeout,
        storage=storage,
        study_name=args.study_name,
        X_test=None if test is None else test.X,
        p_test=None if test is None else test.p,
        n_splits=args.n_splits,
        seed=args.seed,
        load_if_exists=args.resume,
        show_progress_bar=True,
        n_estimators=args.n_estimators,
        n_jobs=args.n_jobs,
        valid_groups=valid.time,
        estimator_params=estimator_params,
        refit=args.cross_fit or args.refit,
        refit_trials=args.cross_fit_trials,
        select_on=args.select_on,
        threshold=args.threshold,
    )

    model = result.model
    # tune fits on arrays; record the column names so that `predict` can select them.
    model.feature_names_in_ = np.asarray(data.features, dtype=object)
    model.save(out / "model", overwrite=True)
    report = write_report(
        out,
        result,
        valid=_evaluate(result.holdout_model, valid),  # with --refit, model has seen valid
        test=None if test is None else _evaluate(model, test),
        run=run,
        plots=plots,
    )
    final = report["verdict"]["split"]
    lw = report[final]["log_wealth"]["model"]
    print(
        f"{final} log-wealth {lw:.4f} (wealth x{wealth_multiple(lw):.4g}), threshold "
        f"{report['threshold']:.4g}, {report['study']['n_trials']} trials\n"
        f"{report['verdict']['sentence']}\n"
        f"recommendation: {result.recommendation.policy} ({result.recommendation.reason})\n"
        f"report: {out / 'report.md'}"
    )
    return 0


# -- predict ------------------------------------------------------------------------------------
def _cmd_predict(args: argparse.Namespace, argv: list[str]) -> int:
    from .sklearn import SIDECAR, load_model

    out = Path(args.out)
    if out.exists() and not args.force:
        raise FileExistsError(f"{out} exists; pass --force to overwrite it")
    model_dir = Path(args.model)
    if not (model_dir / SIDECAR).is_file() and (model_dir / "model" / SIDECAR).is_file():
        model_dir = model_dir / "model"  # a `boostobj tune` run folder
    model = load_model(model_dir)
    if model.feature_names_in_ is None:
        raise ValueError(
            f"the model in {model_dir} records no feature column names (fit it on a DataFrame, "
            "or save it with `boostobj tune`)"
        )
    features = [str(c) for c in model.feature_names_in_]
    frame = _read_table(args.data)
    X = _feature_matrix(frame, features, args.data)
    clash = [c for c in ("probability", "take") if c in frame.columns]
    if clash:
        raise ValueError(f"{args.data} already has column {', '.join(map(repr, clash))}")
    payoff = args.payoff or (DEFAULT_PAYOFF if DEFAULT_PAYOFF in frame.columns else None)
    r = None if payoff is None else _payoff(frame, payoff, args.data)[1]
    take = model.predict(X)
    frame = frame.assign(probability=model.predict_proba(X)[:, 1], take=take)
    out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(out, index=False)
    print(f"wrote {len(frame)} rows to {out}; {int(take.sum())} taken")
    if r is not None:
        from .report import wealth_multiple

        trivial = trivial_policies(r)
        lw = log_wealth(r, take)
        print(
            f"log-wealth {lw:.4f} (wealth x{wealth_multiple(lw):.4g}); "
            f"take every row {trivial['take_all']:.4f}, take no row 0"
        )
    return 0


# -- parser -------------------------------------------------------------------------------------
def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def _probability(text: str) -> float:
    """argparse type: a number strictly between 0 and 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"must be in (0, 1), got {text}")
    return value


def _at_least(minimum: int) -> Any:
    def parse(text: str) -> int:
        value = int(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {text}")
        return value

    return parse


def _paragraphs(*texts: str) -> str:
    return "\n\n".join(textwrap.fill(t, 79) for t in texts)


def build_parser() -> argparse.ArgumentParser:
    """The ``boostobj`` argument parser with its ``tune`` and ``predict`` subcommands."""
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="boostobj",
        description=_paragraphs(
            "Boosted models that maximise compounded payoff (log-wealth).", PAYOFF_CONTRACT
        ),
        formatter_class=formatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="{tune,predict}", required=True)

    tune = sub.add_parser(
        "tune",
        help="tune a model and write it with a report",
        formatter_class=formatter,
        description=_paragraphs(
            "Tune a boosted model for log-wealth with Optuna, choose its threshold on the "
            "validation rows, and write the model folder, report.json, report.md and plots.",
            PAYOFF_CONTRACT,
            "Without DATA it runs on a synthetic betting market whose Bayes-optimal policy is "
            "known, and reports how close the model gets to it.",
        ),
        epilog=(
            "examples:\n"
            "  boostobj tune                                   # synthetic market demo\n"
            "  boostobj tune bets.csv --payoff p --time-column date --out runs/bets\n"
            "  boostobj tune bets.csv --out runs/bets --resume --trials 30   # 30 more trials\n"
            "  optuna-dashboard sqlite:///runs/bets/study.db"
        ),
    )
    tune.add_argument(
        "data",
        nargs="?",
        metavar="DATA",
        help="CSV (optionally compressed, e.g. .csv.gz) or Parquet file, one row per decision; "
        "omit it for the synthetic market",
    )
    tune.add_argument(
        "--payoff",
        default=DEFAULT_PAYOFF,
        metavar="COLUMN",
        help="column holding the payoff multiplier p > 0 (1 = break-even) (default: %(default)s)",
    )
    tune.add_argument(
        "--out",
        metavar="DIR",
        help="run folder to write; must be new or empty unless --resume "
        "(default: a fresh boostobj_runs/<UTC timestamp>)",
    )
    tune.add_argument(
        "--booster",
        choices=("xgboost", "lightgbm"),
        default="xgboost",
        help="boosting library (default: %(default)s)",
    )
    tune.add_argument(
        "--trials",
        type=_positive_int,
        default=DEFAULT_TRIALS,
        metavar="N",
        help="Optuna trials to run (more with --resume) (default: %(default)s)",
    )
    tune.add_argument(
        "--timeout",
        type=_positive_float,
        metavar="S",
        help="stop starting new trials after S seconds",
    )
    tune.add_argument(
        "--n-estimators",
        type=_positive_int,
        default=DEFAULT_N_ESTIMATORS,
        metavar="N",
        help="most boosting rounds per model; early stopping on the validation rows picks "
        "fewer (default: %(default)s)",
    )
    tune.add_argument(
        "--n-jobs",
        type=_positive_int,
        default=DEFAULT_N_JOBS,
        metavar="N",
        help="threads per booster fit (default: %(default)s). Trials run one after another; "
        "small fits gain little from more threads, and on a busy machine the boosters' OpenMP "
        "threads can slow a run down many times over. Raise it for large tables on idle cores",
    )
    tune.add_argument(
        "--time-column",
        metavar="COL",
        help="decision-time column (numbers or dates): not a feature; orders the 60/20/20 split "
        "(rows with the same time stay together) and the cumulative plot",
    )
    tune.add_argument(
        "--split-column",
        metavar="COL",
        help="column with values train/valid/test (default: a column named 'split' if present)",
    )
    tune.add_argument(
        "--features",
        nargs="+",
        metavar="COL",
        help="feature columns, all numeric (default: every numeric column except the payoff, "
        "time and split columns and 'log_p')",
    )
    tune.add_argument(
        "--storage",
        metavar="URL",
        help="Optuna storage: an RDB URL (sqlite:///..., postgresql://...) or a journal file "
        "ending in .log (default: sqlite:///DIR/study.db)",
    )
    tune.add_argument(
        "--study-name",
        default="boostobj",
        metavar="NAME",
        help="name of the Optuna study in the storage (default: %(default)s)",
    )
    tune.add_argument(
        "--seed",
        type=int,
        default=0,
        metavar="N",
        help="seed of the sampler, the boosters and the synthetic market (default: 0)",
    )
    tune.add_argument(
        "--resume",
        action="store_true",
        help="continue the study in --storage (default: DIR/study.db) with --trials more "
        "trials and rewrite DIR's outputs; the data, features and booster must be those the "
        "study was tuned with",
    )
    tune.add_argument(
        "--n-splits",
        type=_at_least(2),
        metavar="K",
        help="score each trial walk-forward instead of on the validation rows: train+valid cut "
        "into K+1 consecutive blocks, each of blocks 1..K predicted from the blocks before it "
        "(for time-ordered rows)",
    )
    tune.add_argument(
        "--n-samples",
        type=_at_least(MIN_SYNTHETIC_ROWS),
        metavar="N",
        help="rows of the synthetic market, split 40/20/40 into train/valid/test "
        f"(default: {DEFAULT_N_SAMPLES}; only without DATA)",
    )
    tune.add_argument(
        "--loss",
        choices=sorted(LOSSES),
        default=None,
        help="surrogate the booster trains (default: logistic, the log(p)-weighted logistic; "
        "outcome with --payoff-known)",
    )
    tune.add_argument(
        "--payoff-known",
        nargs=2,
        metavar=("WIN", "LOSS"),
        default=None,
        help="two feature columns holding each row's payoff multiplier if the outcome is "
        "positive / negative, known at decision time (odds, loan terms): the model then "
        "learns the win probability and takes a row iff its expected log payoff is > 0 "
        "(needs p_loss < 1 < p_win on every row)",
    )
    tune.add_argument(
        "--refit",
        action="store_true",
        help="fit the saved model on train + valid after tuning (rounds scaled by the rows, "
        "threshold kept); valid metrics and the guard's verdict are the train-only model's",
    )
    tune.add_argument(
        "--cross-fit",
        type=_at_least(2),
        default=None,
        metavar="K",
        help="like --refit, but save a cross-fitted ensemble of K models on train + valid, "
        "each early-stopped on the block of rows it did not train on, margins averaged "
        "(K fits; measured better than --refit, see benchmarks/README.md)",
    )
    tune.add_argument(
        "--cross-fit-trials",
        type=_positive_int,
        default=1,
        metavar="N",
        help="with --cross-fit K: average the cross-fitted ensembles of the N best trials "
        "(N x K fits)",
    )
    tune.add_argument(
        "--select-on",
        choices=("log_wealth", "loss"),  # tuning.SELECT_ON, without importing optuna here
        default="log_wealth",
        help="what ranks the trials on valid: log_wealth (default, the hard metric at the "
        "tuned threshold) or loss (the surrogate loss: smoother; measured better with "
        "--payoff-known)",
    )
    tune.add_argument(
        "--threshold",
        type=_probability,
        default=None,
        metavar="P",
        help="fixed probability threshold in (0, 1) instead of tuning one on valid (0.5 with "
        "--payoff-known: take a row iff its expected log payoff is > 0 under the model)",
    )
    tune.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    tune.set_defaults(func=_cmd_tune)

    predict = sub.add_parser(
        "predict",
        help="apply a saved model to a table",
        formatter_class=formatter,
        description=_paragraphs(
            "Apply a model folder written by `boostobj tune` (or by .save) to DATA and write a "
            "CSV with DATA's columns plus `probability` (the model's probability) and `take` "
            "(1 = take the row: probability >= the model's threshold). If DATA has the payoff "
            "column, print the log-wealth of those decisions.",
            PAYOFF_CONTRACT,
        ),
    )
    predict.add_argument(
        "model", metavar="MODEL_DIR", help="model folder (or a `boostobj tune` run folder)"
    )
    predict.add_argument(
        "data", metavar="DATA", help="CSV or Parquet file with the model's feature columns"
    )
    predict.add_argument("--out", required=True, metavar="FILE", help="CSV file to write")
    predict.add_argument(
        "--payoff",
        metavar="COL",
        help=f"payoff column p > 0 for scoring the decisions (default: {DEFAULT_PAYOFF!r} "
        "if present)",
    )
    predict.add_argument("--force", action="store_true", help="overwrite an existing FILE")
    predict.set_defaults(func=_cmd_predict)
    return parser


def _one_line(message: str) -> str:
    return "; ".join(line.strip() for line in message.splitlines() if line.strip())


def main(argv: list[str] | None = None) -> int:
    """Run the ``boostobj`` command; returns the exit status (2 for bad input)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error argparse already printed
        return int(exc.code or 0)
    try:
        return int(args.func(args, argv))
    except KeyError as exc:
        message = str(exc.args[0]) if exc.args else repr(exc)
    except (ValueError, FileNotFoundError, FileExistsError, RuntimeError) as exc:
        message = str(exc)  # RuntimeError: tune() had no completed trial to refit
    except KeyboardInterrupt:
        print("boostobj: interrupted", file=sys.stderr)
        return 130
    print(f"boostobj: error: {_one_line(message)}", file=sys.stderr)
    return 2
