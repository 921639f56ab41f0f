"""The ``boostobj`` command: ``boostobj tune`` and ``boostobj predict``.

``tune`` reads a table (:func:`boostobj.tables.load_table`) or simulates the built-in betting
market, maps its option groups onto :func:`boostobj.tuning.tune`'s config objects, and writes
the model folder, ``report.json``, ``report.md`` and plots into a run folder. ``predict``
applies a saved model folder to a table.

Every failure ends with one line ``boostobj: error: ...`` on stderr and exit status 2 (130
on Ctrl-C), never a traceback (see :func:`main`). A failed ``tune`` leaves nothing that blocks
a rerun: a run folder it created is removed, unless the study holds completed trials, which
are kept for ``--resume``.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import shlex
import shutil
import sys
import textwrap
import warnings
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from . import _defaults
from .losses import LOSSES
from .tables import DEFAULT_PAYOFF, MIN_SYNTHETIC_ROWS, SPLITS, Table

__all__ = ["build_parser", "main"]

PAYOFF_CONTRACT = (
    "The payoff column holds p, the multiplier that taking a row applies to wealth, known only "
    "after the decision: p must be > 0, and p = 1 is break-even (a 5% stake at decimal odds 3 "
    "gives p = 1.10 if it wins and p = 0.95 if it loses; a stock bought at close t gives "
    "p = close[t+1] / close[t]). A policy takes the rows whose predicted probability is >= a "
    "threshold; its log-wealth is the sum of log p over the rows it takes."
)
DEFAULT_N_SAMPLES = 50_000


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
    from .persistence import prepare_output_dir

    try:
        prepare_output_dir(out, overwrite=resume)
    except FileExistsError:
        if not out.is_dir():
            raise
        raise FileExistsError(
            f"--out {out} is not empty: choose a new folder, or pass --resume to continue the "
            "study stored there"
        ) from None


def _refuse_links(out: Path) -> None:
    """Refuse a link where ``tune`` writes in the run folder (``--resume`` would write
    through it, into whatever it points at)."""
    from .report import PLOTS

    for name in ("model", "report.json", "report.md", "study.db", *PLOTS):
        if (out / name).is_symlink():
            raise FileExistsError(
                f"--out {out}: {name} is a symbolic link, and boostobj does not write through "
                "links; remove it or choose another folder"
            )


def _open_storage(storage: str) -> Any:
    """``make_storage(storage)``, a database error as one ``ValueError`` naming ``--storage``."""
    from .tuning import make_storage

    try:
        return make_storage(storage)
    except Exception as exc:
        if not type(exc).__module__.startswith("sqlalchemy"):
            raise
        raise ValueError(f"--storage {storage}: cannot open it: {_storage_reason(exc)}") from exc


def _storage_reason(exc: BaseException) -> str:
    """SQLAlchemy's message without its SQL and its link: the driver's first line."""
    orig = getattr(exc, "orig", None)
    return (str(orig) if orig is not None else str(exc)).strip().splitlines()[0]


def _trial_states(storage: str, study_name: str) -> list[Any]:
    """The states of the study's trials; none for a missing study or unreadable storage."""
    import optuna

    try:
        study = optuna.load_study(study_name=study_name, storage=_open_storage(storage))
        return [t.state for t in study.get_trials(deepcopy=False)]
    except Exception:  # no study, or a storage that cannot be read: nothing to keep
        return []


def _clean_failed_run(out: Path, existed: bool, storage: str, args: argparse.Namespace) -> str:
    """After a failed fresh run, leave nothing that blocks a rerun (a non-empty --out, a study
    name taken in --storage); completed trials are kept, and the returned hint says how to
    resume them. A failed --resume keeps everything: the study was there before."""
    import optuna

    if args.resume:
        return ""
    states = _trial_states(storage, args.study_name)
    n_done = states.count(optuna.trial.TrialState.COMPLETE)
    if n_done:
        return (
            f"the {n_done} completed trial(s) are kept in {storage}: rerun with --out {out} "
            "--resume to continue them"
        )
    if args.storage and all(s == optuna.trial.TrialState.FAIL for s in states):
        # This run created the study (it was checked to be new) and nothing in it lives:
        # a worker that joined it with --resume would have a trial running or done.
        with contextlib.suppress(Exception):
            optuna.delete_study(study_name=args.study_name, storage=_open_storage(storage))
    if not existed:
        shutil.rmtree(out, ignore_errors=True)
    else:  # it was empty: everything in it is this run's
        for entry in out.iterdir():
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
    return ""


def _check_new_study(storage: str, study_name: str) -> None:
    """Without --resume, refuse a study name that the storage already holds."""
    import optuna

    if study_name in optuna.get_all_study_names(storage=_open_storage(storage)):
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


def _payoff_columns(args: argparse.Namespace) -> None:
    """``--payoff-win COL --payoff-loss COL`` into ``args.payoff_known`` (``[WIN, LOSS]``)."""
    named = (args.payoff_win, args.payoff_loss)
    if named == (None, None):
        return
    if None in named:
        raise ValueError("--payoff-win and --payoff-loss name the two payoffs: give both")
    if args.payoff_known:
        raise ValueError("give --payoff-known WIN LOSS or --payoff-win/--payoff-loss, not both")
    args.payoff_known = list(named)


def _check_tune_args(args: argparse.Namespace) -> None:
    """Combinations argparse cannot see, in the CLI's own terms."""
    if args.resume and args.out is None:
        raise ValueError("--resume needs --out DIR, the folder of the run to continue")
    if args.trials == 0 and not args.resume:
        raise ValueError(
            "--trials 0 runs no trial: a new study needs at least one (with --resume, 0 "
            "rebuilds the model and the report from the trials stored)"
        )
    chosen = [f for f, on in (("--fast", args.fast), ("--refit", args.refit)) if on]
    if args.cross_fit is not None or args.cross_fit_trials > 1:
        chosen.append("--cross-fit" if args.cross_fit is not None else "--cross-fit-trials")
    if len(chosen) > 1:
        raise ValueError(f"{' and '.join(chosen)} choose different final models: give one")
    _payoff_columns(args)
    if args.data is not None:
        if args.n_samples is not None:
            raise ValueError("--n-samples sizes the synthetic market; it does not apply to DATA")
        return
    given = [
        flag
        for flag, value in (
            ("--time-column", args.time_column),
            ("--split-column", args.split_column),
            ("--features", args.features),
            ("--ignore", args.ignore),
            ("--categorical", args.categorical),
            ("--payoff-known", args.payoff_known),
        )
        if value
    ]
    if given:
        raise ValueError(f"{', '.join(given)} needs DATA; without DATA the market is synthetic")
    if args.payoff != DEFAULT_PAYOFF:
        raise ValueError("--payoff needs DATA; without DATA the market is synthetic")


def _load(args: argparse.Namespace) -> Table:
    from .tables import load_table, synthetic_table

    if args.data is None:
        return synthetic_table(args.n_samples or DEFAULT_N_SAMPLES, args.seed)
    return load_table(
        args.data,
        payoff=args.payoff,
        time_column=args.time_column,
        split_column=args.split_column,
        features=args.features,
        ignore=args.ignore,
        categorical=args.categorical,
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


def _tune_config(args: argparse.Namespace, storage: str) -> dict[str, Any]:
    """The option groups as :func:`boostobj.tuning.tune`'s config objects."""
    from .tuning import CrossFit, Holdout, HoldoutModel, Refit, StudyConfig, WalkForward

    k = args.cross_fit or _defaults.CROSS_FIT_FOLDS
    final: Any = CrossFit(k, args.cross_fit_trials, out_of_fold=not args.holdout_guard)
    if args.fast:
        final = HoldoutModel()
    elif args.refit:
        final = Refit()
    return {
        "booster": args.booster,
        "n_trials": args.trials,
        "timeout": args.timeout,
        "study": StudyConfig(
            storage, name=args.study_name, resume=args.resume, show_progress_bar=True
        ),
        "validation": Holdout() if args.n_splits is None else WalkForward(args.n_splits),
        "final": final,
        "select_on": args.select_on,
        "threshold": args.threshold,
        "payoffs": None if args.no_two_part else "auto",
        "seed": args.seed,
    }


def _cmd_tune(args: argparse.Namespace, argv: list[str]) -> int:
    from . import __version__

    _check_tune_args(args)
    data = _load(args)
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
    if args.storage and not args.resume:  # before the run folder: nothing to clean up
        _check_new_study(storage, args.study_name)
    elif args.storage:
        _open_storage(storage)
    existed = out.exists()
    _prepare_run_dir(out, args.resume)
    try:
        return _tune_into(args, data, out, storage, run, plots)
    except BaseException as exc:
        _add_hint(exc, _clean_failed_run(out, existed, storage, args))
        raise


def _tune_into(
    args: argparse.Namespace,
    data: Table,
    out: Path,
    storage: str,
    run: dict[str, Any],
    plots: bool,
) -> int:
    """The rest of :func:`_cmd_tune`, once the run folder exists."""
    from .report import wealth_multiple, write_report
    from .tuning import tune

    _refuse_links(out)
    if not args.storage:
        _open_storage(storage)  # the run folder's study.db
    estimator_params = run["estimator_params"]
    if data.info["categorical_features"]:
        print(
            "boostobj: categorical feature(s) "
            f"{', '.join(map(repr, data.info['categorical_features']))}: text, split by level",
            file=sys.stderr,
        )
    if data.info["ignored_columns"]:
        why = ", ".join(f"{c!r} ({r})" for c, r in data.info["ignored_why"].items())
        print(f"boostobj: leaving out column(s) {why}", file=sys.stderr)
    for warning in data.warnings:
        print(f"boostobj: warning: {warning}", file=sys.stderr)
    train, valid, test = (data.splits.get(s) for s in SPLITS)
    assert train is not None and valid is not None
    print(
        f"boostobj: tuning {args.booster} on {data.info['source']} "
        f"({', '.join(f'{s} {n}' for s, n in data.info['n_rows'].items())} rows); "
        f"writing to {out}",
        file=sys.stderr,
    )
    with _quiet_trials():
        result = tune(
            train, None, valid, None, X_test=test, **_tune_config(args, storage),
            estimator_params={**estimator_params, "n_estimators": args.n_estimators,
                              "n_jobs": args.n_jobs},
        )  # fmt: skip
    result.policy.save(out / "model", overwrite=True)
    report = write_report(out, result, run=run, plots=plots)
    final = report["verdict"]["split"]
    lw = report[final]["log_wealth"]["model"]
    print(
        f"{final} log-wealth {lw:.4f} (wealth x{wealth_multiple(lw):.4g}), threshold "
        f"{report['threshold']:.4g}, {report['study']['n_trials']} trials\n"
        f"{report['verdict']['sentence']}\n"
        f"recommendation: {result.recommendation.policy} ({result.recommendation.reason})\n"
        f"report: {out / 'report.md'}"
    )
    if report["headline"]["caveat"]:
        print(f"boostobj: warning: {report['headline']['text'].replace('**', '')}", file=sys.stderr)
    return 0


# -- predict ------------------------------------------------------------------------------------
def _cmd_predict(args: argparse.Namespace, argv: list[str]) -> int:
    from .metrics import log_wealth, trivial_policies
    from .persistence import write_file
    from .policy import load_policy
    from .tables import feature_matrix, payoff_column, read_table

    out = Path(args.out)
    if (out.is_symlink() or out.exists()) and not args.force:  # a dangling link too
        what = "is a symbolic link" if out.is_symlink() else "exists"
        raise FileExistsError(f"{out} {what}; pass --force to overwrite it")
    policy = load_policy(args.model)  # a model folder, or a `boostobj tune` run folder
    model = policy.model
    if model.feature_names_in_ is None:
        raise ValueError(
            f"the model in {args.model} records no feature column names (fit it on a "
            "DataFrame, or save it with `boostobj tune`)"
        )
    features = [str(c) for c in model.feature_names_in_]
    frame = read_table(args.data)
    clash = [c for c in ("probability", "take") if c in frame.columns]
    if clash:
        raise ValueError(f"{args.data} already has column {', '.join(map(repr, clash))}")
    payoff = args.payoff or (DEFAULT_PAYOFF if DEFAULT_PAYOFF in frame.columns else None)
    r = None if payoff is None else payoff_column(frame, payoff, args.data)[1]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        # coded by the model's levels: one unseen at fit is missing, and warned about
        X = feature_matrix(frame, features, args.data, getattr(model, "categories_", ()))[0]
        take = policy.predict(X, use_model=args.use_model)
    for warning in caught:
        print(f"boostobj: warning: {warning.message}", file=sys.stderr)
    frame = frame.assign(probability=model.predict_proba(X)[:, 1], take=take)
    # Beside and renamed: a failed write leaves no partial file and the old one as it was.
    write_file(out, lambda tmp: frame.to_csv(tmp, index=False), overwrite=args.force)
    print(policy.explain(args.use_model))
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
def _at_least(minimum: float, kind: type = int) -> Any:
    """An argparse type: a number of ``kind`` that is ``>= minimum``."""

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not value >= minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {text}")
        return value

    return parse


def _positive_float(text: str) -> float:
    value = _at_least(0.0, float)(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return float(value)


def _threshold(text: str) -> float | str:
    """argparse type: ``auto``, ``tune`` or a number strictly between 0 and 1."""
    if text in ("auto", "tune"):
        return text
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not auto, tune or a number: {text!r}") from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"must be in (0, 1), got {text}")
    return value


def _paragraphs(*texts: str) -> str:
    return "\n\n".join(textwrap.fill(t, 79) for t in texts)


def _add_data_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("data")
    group.add_argument(
        "data",
        nargs="?",
        metavar="DATA",
        help="CSV (optionally compressed, e.g. .csv.gz) or Parquet file, one row per decision; "
        "omit it for the synthetic market",
    )
    group.add_argument(
        "--payoff",
        default=DEFAULT_PAYOFF,
        metavar="COLUMN",
        help="column holding the payoff multiplier p > 0 (1 = break-even) (default: %(default)s)",
    )
    group.add_argument(
        "--time-column",
        metavar="COL",
        help="decision-time column (numbers or dates): not a feature; orders the 60/20/20 split "
        "(rows with the same time stay together) and the cumulative plot",
    )
    group.add_argument(
        "--split-column",
        metavar="COL",
        help="column with values train/valid/test (default: a column named 'split' if present)",
    )
    group.add_argument(
        "--features",
        nargs="+",
        metavar="COL",
        help="feature columns (default: every column of numbers or text except the payoff, "
        "time and split columns and 'log_p'; text is categorical)",
    )
    group.add_argument(
        "--ignore",
        nargs="+",
        metavar="COL",
        help="leave these columns out of the default features (an id, a note, a leak)",
    )
    group.add_argument(
        "--categorical",
        nargs="+",
        metavar="COL",
        help="read these columns as categories whatever they hold (integer codes, or text "
        "such as 1, 2, 3, >4 that would be refused as numbers with typos)",
    )
    group.add_argument(
        "--n-samples",
        type=_at_least(MIN_SYNTHETIC_ROWS),
        metavar="N",
        help="rows of the synthetic market, split 40/20/40 into train/valid/test "
        f"(default: {DEFAULT_N_SAMPLES}; only without DATA)",
    )


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("model")
    group.add_argument(
        "--booster",
        choices=("xgboost", "lightgbm"),
        default="xgboost",
        help="boosting library (default: %(default)s)",
    )
    group.add_argument(
        "--n-estimators",
        type=_at_least(1),
        default=_defaults.N_ESTIMATORS,
        metavar="N",
        help="most boosting rounds per model; early stopping on the validation rows picks "
        "fewer (default: %(default)s)",
    )
    group.add_argument(
        "--n-jobs",
        type=_at_least(1),
        default=_defaults.N_JOBS,
        metavar="N",
        help="threads per booster fit (default: every core). Trials run one after another; on "
        "a busy machine the boosters' OpenMP threads can slow a run down many times over, so "
        "keep N at or below the free cores",
    )
    group.add_argument(
        "--loss",
        choices=sorted(LOSSES),
        default=None,
        help="surrogate the booster trains, learned from p directly (default: the two-part "
        "model, see --no-two-part; outcome with --payoff-known)",
    )
    group.add_argument(
        "--no-two-part",
        action="store_true",
        help="learn from p directly with --loss (default logistic, the log(p)-weighted "
        "logistic) instead of the default two-part model, which estimates each row's payoff "
        "if it wins and if it loses by two cross-fitted regressions, then models the win "
        "probability (used when no --loss or --payoff-known is given and at least 200 "
        "training rows won and 200 lost)",
    )
    group.add_argument(
        "--payoff-known",
        nargs=2,
        metavar=("WIN", "LOSS"),
        default=None,
        help="two feature columns holding each row's payoff multiplier if the outcome is "
        "positive / negative, known at decision time (odds, loan terms): the model then "
        "learns the win probability and takes a row iff its expected log payoff is > 0. A "
        "row with p_win <= 1 is never taken, one with p_loss >= 1 always, and neither trains "
        "the model",
    )
    group.add_argument(
        "--payoff-win", metavar="COL", help="the WIN column of --payoff-known, by name"
    )
    group.add_argument(
        "--payoff-loss", metavar="COL", help="the LOSS column of --payoff-known, by name"
    )


def _add_study_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("study")
    group.add_argument(
        "--trials",
        type=_at_least(0),
        default=_defaults.N_TRIALS,
        metavar="N",
        help="Optuna trials to run (more with --resume) (default: %(default)s)",
    )
    group.add_argument(
        "--timeout", type=_positive_float, metavar="S", help="stop starting new trials after S s"
    )
    group.add_argument(
        "--storage",
        metavar="URL",
        help="Optuna storage: an RDB URL (sqlite:///..., postgresql://...) or a journal file "
        "ending in .log (default: sqlite:///DIR/study.db)",
    )
    group.add_argument(
        "--study-name",
        default="boostobj",
        metavar="NAME",
        help="name of the Optuna study in the storage (default: %(default)s)",
    )
    group.add_argument(
        "--resume",
        action="store_true",
        help="continue the study in --storage (default: DIR/study.db) with --trials more "
        "trials and rewrite DIR's outputs; the data, features and booster must be those the "
        "study was tuned with",
    )
    group.add_argument(
        "--seed",
        type=int,
        default=0,
        metavar="N",
        help="seed of the sampler, the boosters and the synthetic market (default: 0)",
    )


def _add_selection_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("selection and the final model")
    group.add_argument(
        "--n-splits",
        type=_at_least(_defaults.MIN_N_SPLITS),
        metavar="K",
        help="score each trial walk-forward instead of on the validation rows: train+valid cut "
        "into K+1 consecutive blocks, each of blocks 1..K predicted from the blocks before it "
        "(for time-ordered rows)",
    )
    group.add_argument(
        "--select-on",
        choices=_defaults.SELECT_ON,
        default="loss",
        help="what ranks the trials on valid: loss (default: the surrogate loss, smooth, so "
        "less luck in the choice; measured better) or log_wealth (the hard metric at the "
        "threshold)",
    )
    group.add_argument(
        "--threshold",
        type=_threshold,
        default="auto",
        metavar="P",
        help="probability threshold: auto (default: the loss's Bayes cut 0.5, with "
        "--payoff-known take a row iff its expected log payoff is > 0; tuned for losses "
        "without one), tune (the best cut on valid), or a fixed number in (0, 1)",
    )
    group.add_argument(
        "--cross-fit",
        type=_at_least(_defaults.MIN_CROSS_FIT_FOLDS),
        default=None,
        metavar="K",
        help=f"the saved model (default, K={_defaults.CROSS_FIT_FOLDS}): a cross-fitted "
        "ensemble of K models on train + valid, each trained on all blocks of rows but one "
        "for the best trial's rounds (scaled to its rows), margins averaged (K more fits; "
        "measured better than one model, see benchmarks/README.md). Without --time-column "
        "the no-edge guard judges the members' decisions on the blocks they did not train "
        "on (train and guard rows: rows that chose nothing)",
    )
    group.add_argument(
        "--holdout-guard",
        action="store_true",
        help="judge on the guard rows only (the last validation rows), and early-stop each "
        "cross-fitted member on its held-out block: for time-ordered rows without "
        "--time-column, whose blocks are not exchangeable",
    )
    group.add_argument(
        "--cross-fit-trials",
        type=_at_least(1),
        default=1,
        metavar="N",
        help="average the cross-fitted ensembles of the N best trials (N x K fits)",
    )
    group.add_argument(
        "--refit",
        action="store_true",
        help="save one model fitted on train + valid after tuning (rounds scaled by the rows, "
        "threshold kept) instead of the cross-fitted ensemble",
    )
    group.add_argument(
        "--fast",
        action="store_true",
        help="save the best trial's own model (fitted on train, early-stopped on valid): no "
        "extra fits; measured weaker than the default ensemble",
    )


def _add_tune_parser(sub: Any, formatter: type) -> None:
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
    _add_data_options(tune)
    _add_model_options(tune)
    _add_study_options(tune)
    _add_selection_options(tune)
    output = tune.add_argument_group("output")
    output.add_argument(
        "--out",
        metavar="DIR",
        help="run folder to write; must be new or empty unless --resume "
        "(default: a fresh boostobj_runs/<UTC timestamp>)",
    )
    output.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    tune.set_defaults(func=_cmd_tune)


def _add_predict_parser(sub: Any, formatter: type) -> None:
    predict = sub.add_parser(
        "predict",
        help="apply a saved model to a table",
        formatter_class=formatter,
        description=_paragraphs(
            "Apply a model folder written by `boostobj tune` (or by .save) to DATA and write a "
            "CSV with DATA's columns plus `probability` (the model's probability) and `take` "
            "(1 = take the row). `take` follows the policy the no-edge guard recommended when "
            "the model was tuned: the model's decisions (probability >= its threshold), every "
            "row, or none; it says which on stdout. If DATA has the payoff column, print the "
            "log-wealth of those decisions.",
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
    predict.add_argument(
        "--use-model",
        action="store_true",
        help="apply the model's own decisions even where the saved guard verdict recommends "
        "taking every row or none (warns that the guard found no edge)",
    )
    predict.add_argument(
        "--force",
        action="store_true",
        help="overwrite an existing FILE (a link is replaced, never written through)",
    )
    predict.set_defaults(func=_cmd_predict)


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
    _add_tune_parser(sub, formatter)
    _add_predict_parser(sub, formatter)
    return parser


def _one_line(message: str) -> str:
    return "; ".join(line.strip() for line in message.splitlines() if line.strip())


def _add_hint(exc: BaseException, hint: str) -> None:
    """Attach a sentence for :func:`main` to append to ``exc``'s line."""
    if hint:
        with contextlib.suppress(AttributeError):  # an exception type with __slots__
            exc.boostobj_hint = hint  # type: ignore[attr-defined]


#: Set to print the traceback of an unexpected error (for a bug report).
TRACEBACK_ENV = "BOOSTOBJ_TRACEBACK"


def _message(exc: Exception) -> str:
    """The one line for ``exc``: bad input, the file system, the storage, or a bug."""
    if isinstance(exc, KeyError):
        return str(exc.args[0]) if exc.args else repr(exc)
    if isinstance(exc, (ValueError, RuntimeError)):  # RuntimeError: no completed trial
        return str(exc)
    if isinstance(exc, OSError):  # unreadable DATA, a read-only or full output folder
        if exc.strerror and exc.filename:
            return f"{exc.filename}: {exc.strerror}"
        return str(exc)
    if type(exc).__module__.startswith("sqlalchemy"):  # the study storage, mid-run
        return f"the study storage failed: {_storage_reason(exc)}"
    if os.environ.get(TRACEBACK_ENV):
        import traceback

        traceback.print_exc()
    report = f"please report it with the command line ({TRACEBACK_ENV}=1 prints the traceback)"
    library = type(exc).__module__.split(".")[0]
    if library in ("xgboost", "lightgbm"):
        return f"{library} failed: {str(exc).strip()}; if DATA looks right, this is a bug: {report}"
    return f"unexpected {type(exc).__name__}: {str(exc).strip()}; this is a bug: {report}"


class _NoTraceback(logging.Filter):
    """Optuna logs a failed trial with its traceback: keep the line (the error is in it)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.exc_info, record.exc_text = None, None
        return True


@contextlib.contextmanager
def _quiet_trials() -> Iterator[None]:
    """While tuning: Optuna's messages on stderr (with a progress bar it writes them to
    stdout), without tracebacks unless ``BOOSTOBJ_TRACEBACK`` is set."""
    names = [n for n in logging.root.manager.loggerDict if n.startswith("optuna.")]
    loggers = [logging.getLogger(n) for n in ("optuna", *names)]
    keep = bool(os.environ.get(TRACEBACK_ENV))
    quiet = _NoTraceback()
    for logger in loggers if not keep else []:
        logger.addFilter(quiet)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        for logger in loggers:
            logger.removeFilter(quiet)


def main(argv: list[str] | None = None) -> int:
    """Run the ``boostobj`` command; returns the exit status.

    Every failure prints one line ``boostobj: error: ...`` on stderr and returns 2 (130 on
    Ctrl-C): bad input, an unreadable or unwritable file, a storage that cannot be opened.
    An error nobody foresaw is one line too, which says it is a bug to report; with
    ``BOOSTOBJ_TRACEBACK=1`` its traceback is printed first.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error argparse already printed
        return int(exc.code or 0)
    try:
        return int(args.func(args, argv))
    except KeyboardInterrupt as exc:
        hint = getattr(exc, "boostobj_hint", "")
        print(f"boostobj: interrupted{'; ' + hint if hint else ''}", file=sys.stderr)
        return 130
    except Exception as exc:  # the one-line contract; _message tells a bug from bad input
        message = _message(exc)
        hint = getattr(exc, "boostobj_hint", "")
    print(f"boostobj: error: {_one_line(message)}{'; ' + hint if hint else ''}", file=sys.stderr)
    return 2
