"""Payoff tables: read a CSV or Parquet file into checked train/valid/test :class:`Rows`.

:func:`load_table` is what ``boostobj tune`` runs on a file; :func:`synthetic_table` gives the
built-in betting market in the same shape. A table has a payoff column (the multiplier
``p > 0``, 1 = break-even), optional time and split columns, and feature columns: every
other column of numbers or text, or the ones named; ``ignore`` leaves some out. Text and
pandas ``category`` columns are categorical features: coded by the levels seen on the train
split (:mod:`boostobj._categories`), split natively by the booster; :attr:`Table.info` lists
them as ``categorical_features``. A text column is *numeric-looking* when at least 90% of
its non-empty cells parse as numbers: its other cells are typos (``n/a``, ``?``), and the
column is an error naming it, the count of bad cells and the first one, never a category.
Text that is dates, or an identifier (every value distinct), is left out, and
:attr:`Table.info` lists it as ``ignored_columns`` (and why, in ``ignored_why``). Rows are
split by a ``split`` column (train/valid/test) if there is one, else 60/20/20 in time order
(rows sharing a time stay together) or file order. Bad input raises ``ValueError`` (or
``FileNotFoundError``) with a message that names the file, the column and the first bad row.

pandas is imported only when a file is read.
"""

from __future__ import annotations

import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from ._categories import (
    NUMERIC_LOOKING,
    Levels,
    as_text,
    bad_cells,
    encode,
    is_categorical,
    is_numeric,
)
from ._validation import Rows, check_features, log_payoff

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "DEFAULT_PAYOFF",
    "SPLITS",
    "Table",
    "load_table",
    "read_table",
    "split_in_order",
    "suspected_leaks",
    "synthetic_table",
]

SPLITS = ("train", "valid", "test")
RESERVED_FEATURES = ("log_p",)
DEFAULT_PAYOFF = "p"
DEFAULT_SPLIT_COLUMN = "split"
MIN_SYNTHETIC_ROWS = 100
#: A feature whose rank correlation with log p on the training rows reaches this is flagged.
LEAK_CORRELATION = 0.5
_PARQUET_SUFFIXES = (".parquet", ".pq")


@dataclass
class Table:
    """Checked rows per split and what the report says about them.

    Attributes:
        splits: ``"train"``, ``"valid"`` and (if it has rows) ``"test"``, each a
            :class:`Rows` with the feature names and, with a time column, the time per row
            as its ``groups``.
        features: the feature columns, in the order of ``X``.
        info: source, columns and split method, for the report.
        warnings: sentences for the user (suspected leaks).
    """

    splits: dict[str, Rows]
    features: list[str]
    info: dict[str, Any]
    warnings: list[str]


def read_table(path: str | Path) -> pd.DataFrame:
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
    try:
        if file.suffix.lower() in _PARQUET_SUFFIXES:
            frame = pd.read_parquet(file)
        else:
            frame = pd.read_csv(file)
    except pd.errors.EmptyDataError:
        raise ValueError(f"{file} is empty") from None
    except OSError as exc:
        if exc.errno is not None:  # permission denied, a folder, an I/O error: the CLI's line
            raise
        # gzip.BadGzipFile and the like: the file's content, not its access
        raise ValueError(f"{file} cannot be read: {exc}") from None
    except (EOFError, UnicodeDecodeError, zlib.error, ValueError) as exc:
        # EOFError: a truncated .gz/.bz2/.xz; ValueError: pandas' ParserError, pyarrow's
        raise ValueError(f"{file} cannot be read (truncated, or not a table?): {exc}") from None
    if len(frame) == 0:
        raise ValueError(f"{file} has no rows")
    frame.columns = [str(c) for c in frame.columns]
    return frame


def require_columns(frame: pd.DataFrame, columns: list[str], source: str | Path) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        shown = ", ".join(map(repr, list(frame.columns)[:20]))
        more = "" if frame.shape[1] <= 20 else f" and {frame.shape[1] - 20} more"
        raise ValueError(
            f"{source} has no column {', '.join(map(repr, missing))}; its columns are {shown}{more}"
        )


def feature_matrix(
    frame: pd.DataFrame,
    features: list[str],
    source: str | Path,
    levels: Levels | None = None,
    fit_rows: NDArray[np.intp] | None = None,
) -> tuple[NDArray[np.float64], Levels]:
    """``(the named columns as a float matrix, the categorical columns' levels)``: NaN is
    missing, a text or ``category`` column becomes codes (:mod:`boostobj._categories`).

    ``levels=None`` learns the levels on ``fit_rows`` (default: every row); given (a saved
    model's ``categories_``), codes by them, a level unseen there missing with a
    ``UserWarning``. Refuses missing columns, a numeric-looking text column (with the count
    and the first of its bad cells), and a text column where the model had numbers.
    """
    require_columns(frame, features, source)
    part = frame[features]
    known = set() if levels is None else {features[j] for j, _ in levels}
    for c in features:  # a column the model codes as categories is judged by its levels
        if c in known or is_numeric(part[c]):
            continue
        if (error := bad_cells(part[c], "feature column")) is not None:
            raise error
    bad = [
        f"{c!r} ({part[c].dtype})"
        for c in features
        if not (is_numeric(part[c]) or is_categorical(part[c]))
    ]
    if bad:
        raise ValueError(
            f"feature column {', '.join(bad)} is neither numbers nor text; encode it as "
            "numbers or leave it out"
        )
    if levels is None:  # learned on the fit rows: a level only in other rows is unseen
        fitted = part if fit_rows is None else part.iloc[fit_rows]
        levels = encode(fitted.apply(_used_levels_only), None, "feature")[1]
    X = encode(part, levels, "feature")[0]  # refuses text where the model had numbers
    return check_features(X, name=f"features of {source}"), levels


def _used_levels_only(column: pd.Series) -> pd.Series:
    import pandas as pd

    if isinstance(column.dtype, pd.CategoricalDtype):
        return column.cat.remove_unused_categories()
    return column


def declare_categorical(
    frame: pd.DataFrame, columns: list[str], source: str | Path, reserved: list[str | None]
) -> pd.DataFrame:
    """``frame`` with ``columns`` (``--categorical``) as pandas ``category`` columns of their
    cells as text (:func:`boostobj._categories.as_text`)."""
    if not columns:
        return frame
    require_columns(frame, columns, source)
    bad = [c for c in columns if c in reserved or c in RESERVED_FEATURES]
    if bad:
        raise ValueError(
            f"--categorical names {', '.join(map(repr, bad))}, which holds the payoff or the "
            "split, not a feature"
        )
    return frame.assign(**{c: as_text(frame[c]).astype("category") for c in columns})


def _is_dates(column: pd.Series) -> bool:
    """Dates, or text of which (the first 1,000 filled cells) 90% parse as dates."""
    import pandas as pd
    from pandas.api.types import is_datetime64_any_dtype

    if is_datetime64_any_dtype(column):
        return True
    if is_numeric(column) or isinstance(column.dtype, pd.CategoricalDtype):
        return False
    text = column.dropna().astype(str).iloc[:1000]
    if text.empty:
        return False
    with warnings.catch_warnings():  # pandas' fallback to dateutil: a stray line
        warnings.filterwarnings("ignore", "Could not infer format", UserWarning)
        dates = pd.to_datetime(text, errors="coerce", format="mixed")
    return bool(dates.notna().mean() >= NUMERIC_LOOKING)


def left_out(column: pd.Series) -> str | None:
    """Why a column is no default feature, or ``None``: dates (not ``time_column``: a date
    is not a category), text whose every value is distinct (an identifier: each level one
    row, nothing to learn), or neither numbers nor text."""
    import pandas as pd

    if is_numeric(column) or isinstance(column.dtype, pd.CategoricalDtype):
        return None
    if _is_dates(column):
        return "dates; name it with --time-column to order the split by it"
    if not is_categorical(column):
        return f"{column.dtype}, neither numbers nor text"
    text = column.dropna().astype(str)
    if len(text) > 1 and text.nunique() == len(text):
        return "every value distinct, an identifier"
    return None


def choose_features(
    frame: pd.DataFrame,
    requested: list[str] | None,
    reserved: list[str],
    skipped: list[str],
    ignore: list[str] | None = None,
) -> tuple[list[str], dict[str, str]]:
    """``(features, {column left out: why})``.

    ``requested`` if given (never a ``reserved`` column: payoff, log p, split), else every
    column that is neither reserved, ``skipped`` (the time column) nor in ``ignore``
    (``--ignore``): numbers, and text as categorical features. Dates are left out (listed);
    a numeric-looking text column is refused (:func:`bad_cells`), not made categorical.
    """
    ignore = list(ignore or [])
    unknown = [c for c in ignore if c not in frame.columns]
    if unknown:
        raise ValueError(f"--ignore names {', '.join(map(repr, unknown))}, not a column")
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
        dated = [c for c in requested if c in frame.columns and _is_dates(frame[c])]
        if dated:
            raise ValueError(
                f"--features names {', '.join(map(repr, dated))}, which holds dates: give it "
                "as --time-column, or derive numbers from it (a weekday, a month)"
            )
        both = [c for c in requested if c in ignore]
        if both:
            raise ValueError(f"{', '.join(map(repr, both))} is in both --features and --ignore")
        return list(requested), {}
    excluded = reserved + skipped
    candidates = [c for c in frame.columns if c not in excluded]
    for c in candidates:  # an ignored column is not judged: --ignore is the way out
        if (
            c not in ignore
            and not is_numeric(frame[c])
            and (error := bad_cells(frame[c], "column"))
        ):
            raise error
    reasons = {c: "--ignore" if c in ignore else left_out(frame[c]) for c in candidates}
    features = [c for c in candidates if reasons[c] is None]
    if not features:
        raise ValueError(
            "no feature column left after leaving out "
            f"{', '.join(map(repr, excluded + ignore))}; name features with --features"
        )
    return features, {c: why for c, why in reasons.items() if why is not None}


def time_values(column: pd.Series) -> NDArray[Any]:
    """A time column as float or ``datetime64`` (UTC); refuse missing or unparseable values."""
    import pandas as pd

    name = column.name
    if is_numeric(column):
        values = column.to_numpy(dtype=np.float64, na_value=np.nan)
        missing = np.isnan(values)
    else:
        try:
            with warnings.catch_warnings():  # pandas' fallback to dateutil: a stray line
                warnings.filterwarnings("ignore", "Could not infer format", UserWarning)
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


def split_by_column(column: pd.Series) -> dict[str, NDArray[np.intp]]:
    labels = column.astype(str).str.strip().str.lower().to_numpy()
    unknown = sorted(set(labels) - set(SPLITS))
    if unknown:
        raise ValueError(
            f"split column {column.name!r} has value(s) {', '.join(map(repr, unknown[:5]))}; "
            "expected train, valid or test"
        )
    return {s: np.flatnonzero(labels == s) for s in SPLITS}


def split_in_order(n: int, time: NDArray[Any] | None) -> dict[str, NDArray[np.intp]]:
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


def payoff_column(frame: pd.DataFrame, column: str, source: str | Path) -> tuple[NDArray, NDArray]:
    """``(p, log p)`` from the payoff column; refuse non-numeric, missing or ``p <= 0`` values."""
    require_columns(frame, [column], source)
    if not is_numeric(frame[column]):
        raise bad_cells(frame[column], "payoff column") or ValueError(
            f"payoff column {column!r} is not numeric ({frame[column].dtype})"
        )
    p = frame[column].to_numpy(dtype=np.float64, na_value=np.nan)
    return p, log_payoff(p, name=f"payoff column {column!r}")


def suspected_leaks(
    X: NDArray[np.float64], log_p: NDArray[np.float64], features: list[str]
) -> dict[str, float]:
    """Features whose rank correlation with log p (on the training rows) is implausibly high.

    A feature known at decision time rarely reaches ``|rho| >= 0.5`` with the realised payoff;
    an outcome or a payoff column (a bet's ``won``, a second payoff) does.
    """
    import pandas as pd

    rho = pd.DataFrame(X, columns=features).rank().corrwith(pd.Series(log_p).rank())
    return {str(name): float(v) for name, v in rho.items() if abs(v) >= LEAK_CORRELATION}


def _split_rows(
    frame: pd.DataFrame,
    split_column: str | None,
    time_column: str | None,
    time: NDArray[Any] | None,
    source: Path,
) -> tuple[dict[str, NDArray[np.intp]], str]:
    """Row indices per split (in time order within each, with a time) and how they were cut."""
    if split_column is not None:
        rows = split_by_column(frame[split_column])
        method = f"by column {split_column!r}"
    elif time is not None:
        rows = split_in_order(len(frame), time)
        method = f"chronological 60/20/20 by {time_column!r}, tied times kept together"
    else:
        rows = split_in_order(len(frame), None)
        method = (
            "60/20/20 in file order (no split or time column given: the rows are taken as "
            "exchangeable; give --time-column for rows in time order)"
        )
    if time is not None:  # time order within each split, as walk-forward tuning expects
        rows = {s: idx[np.argsort(time[idx], kind="stable")] for s, idx in rows.items()}
    for s in ("train", "valid"):
        if rows[s].size == 0:
            raise ValueError(f"the {s} split is empty ({method}); {source} has {len(frame)} rows")
    return rows, method


def _refuse_constant_features(X: NDArray[np.float64], features: list[str]) -> None:
    """Refuse training rows on which every feature is constant (or missing): no booster can
    split on them (LightGBM fails deep inside its tree learner)."""
    filled = ~np.isnan(X)
    low = np.where(filled, X, np.inf).min(axis=0)
    high = np.where(filled, X, -np.inf).max(axis=0)
    if not np.any(high > low):
        shown = ", ".join(map(repr, features[:10])) + (" ..." if len(features) > 10 else "")
        raise ValueError(
            f"every feature column ({shown}) is constant or missing on the {len(X)} training "
            "rows: there is nothing to learn from"
        )


def load_table(
    path: str | Path,
    *,
    payoff: str = DEFAULT_PAYOFF,
    time_column: str | None = None,
    split_column: str | None = None,
    features: list[str] | None = None,
    ignore: list[str] | None = None,
    categorical: list[str] | None = None,
) -> Table:
    """Read ``path`` and split it into checked :class:`Rows` (see the module docstring).

    Args:
        path: CSV (optionally compressed) or Parquet file.
        payoff: the payoff column, multipliers ``p > 0``.
        time_column: decision time (numbers or dates): orders the split, never a feature.
        split_column: a column of train/valid/test (default: a column named ``split``).
        features: the feature columns (default: every number or text column but the others).
        ignore: columns to leave out of the default features.
        categorical: columns to read as categories whatever they hold: integer codes, or
            text that would be refused as numeric-looking (``1``-``4`` and ``>4``).
    """
    source = Path(path)
    frame = read_table(source)
    if split_column is None and DEFAULT_SPLIT_COLUMN in frame.columns:
        split_column = DEFAULT_SPLIT_COLUMN
    require_columns(frame, [payoff, *(c for c in (time_column, split_column) if c)], source)
    frame = declare_categorical(frame, categorical or [], source, reserved=[payoff, split_column])
    features, ignored = choose_features(
        frame,
        features,
        reserved=[payoff, *RESERVED_FEATURES, *([split_column] if split_column else [])],
        skipped=[time_column] if time_column else [],
        ignore=ignore,
    )
    r = payoff_column(frame, payoff, source)[1]
    time = None if time_column is None else time_values(frame[time_column])
    rows, method = _split_rows(frame, split_column, time_column, time, source)
    with warnings.catch_warnings(record=True) as unseen:  # levels only in valid or test
        warnings.simplefilter("always", UserWarning)
        X, levels = feature_matrix(frame, features, source, fit_rows=rows["train"])
    splits = {
        s: Rows(
            X[idx],
            r[idx],
            None,
            None if time is None else time[idx],
            tuple(features),
            categories=levels,
        )
        for s, idx in rows.items()
        if idx.size
    }
    _refuse_constant_features(splits["train"].X, features)
    leaks = suspected_leaks(splits["train"].X, splits["train"].log_p, features)
    info = {
        "source": str(source.resolve()),
        "payoff_column": payoff,
        "time_column": time_column,
        "split_method": method,
        "n_rows": {s: len(part) for s, part in splits.items()},
        "features": features,
        "categorical_features": [features[j] for j, _ in levels],
        "ignored_columns": list(ignored),
        "ignored_why": ignored,
        "suspected_leaks": sorted(leaks),
    }
    notes = [
        f"feature {name!r} has rank correlation {rho:+.2f} with log p on the training "
        "rows; if it is only known after the decision (an outcome, a payoff) it leaks the "
        "answer: leave it out with --ignore"
        for name, rho in leaks.items()
    ]
    notes += [f"{w.message} (levels are learned on the train split)" for w in unseen]
    return Table(splits, features, info, notes)


def synthetic_table(n_samples: int, seed: int) -> Table:
    """The built-in betting market (:func:`boostobj.make_betting_market`), split 40/20/40 in
    simulation order, with ``E[log p | x]`` kept for the Bayes policy."""
    from .datasets import make_betting_market

    X, p, expected = make_betting_market(n_samples, random_state=seed)
    features = [f"x{j}" for j in range(X.shape[1] - 1)] + ["log_odds"]
    r = log_payoff(p)
    cut_valid, cut_test = round(0.4 * n_samples), round(0.6 * n_samples)
    bounds = {"train": (0, cut_valid), "valid": (cut_valid, cut_test), "test": (cut_test, None)}
    splits = {
        s: Rows(X[a:b], r[a:b], None, None, tuple(features), expected[a:b])
        for s, (a, b) in bounds.items()
    }
    info = {
        "source": f"synthetic betting market (make_betting_market, n_samples={n_samples}, "
        f"random_state={seed})",
        "payoff_column": DEFAULT_PAYOFF,
        "time_column": None,
        "split_method": "40/20/40 in simulation order (rows are independent)",
        "n_rows": {s: len(part) for s, part in splits.items()},
        "features": features,
        "categorical_features": [],
        "ignored_columns": [],
        "ignored_why": {},
        "suspected_leaks": [],
    }
    return Table(splits, features, info, [])
