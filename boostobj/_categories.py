"""Categorical features: text and pandas ``category`` columns as integer codes.

Both boosters split natively on categories (XGBoost: ``enable_categorical`` with feature type
``"c"``; LightGBM: ``categorical_feature``), and both read them as non-negative integer codes
in a float matrix. So a DataFrame's categorical columns become codes once, at the public edge:

- at fit, each column's *levels* are learned: a pandas ``category`` column's own categories in
  their order, otherwise its distinct values as text, sorted; polars frames are read the same
  way (a ``Categorical`` or text column is categorical);
- ``level -> index`` is the code; the levels are kept with the model (and saved with it), so
  predict codes exactly as fit did;
- a missing value is NaN, and so is a level not seen at fit (with a ``UserWarning`` that
  counts them): each booster sends it where it sends missing values (XGBoost: the default
  direction each split learned; LightGBM: the side of a category split that is not the
  listed categories).

Traps: a text column that holds numbers but for a few bad cells (at least
:data:`NUMERIC_LOOKING` of its non-empty cells parse) is refused, not made categorical: it is
almost always a numeric column with typos. A bare array is taken as codes already (by
position), which is what ``tune`` and the command line pass once they have coded a frame.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "NUMERIC_LOOKING",
    "Levels",
    "as_text",
    "bad_cells",
    "encode",
    "is_categorical",
    "is_numeric",
]

Levels = tuple[tuple[int, tuple[str, ...]], ...]
"""``((column index, its levels), ...)`` for the categorical columns; ``()`` for none."""

NUMERIC_LOOKING = 0.9


def is_numeric(column: pd.Series) -> bool:
    """Numbers or booleans (pandas counts booleans as numeric)."""
    from pandas.api.types import is_numeric_dtype

    return bool(is_numeric_dtype(column))


def is_categorical(column: pd.Series) -> bool:
    """A pandas ``category`` column, or one of text (neither numbers, booleans nor dates)."""
    import pandas as pd
    from pandas.api.types import is_datetime64_any_dtype, is_timedelta64_dtype

    if isinstance(column.dtype, pd.CategoricalDtype):
        return True
    dated = is_datetime64_any_dtype(column) or is_timedelta64_dtype(column)
    return not (is_numeric(column) or dated)


def bad_cells(
    column: pd.Series, what: str, counts: NDArray[np.int64] | None = None
) -> ValueError | None:
    """The error for a numeric-looking text column (see the module docstring), else ``None``.

    Non-empty cells: not missing and not blank. A column with none is not numeric-looking,
    nor is one whose every cell is a number: text of digits only (codes such as ``"007"``,
    kept as text on purpose, since a CSV reader would have made numbers of them) is a
    category. Nor is a pandas ``category`` column: its dtype says what it is.

    ``counts``: how many cells each entry of ``column`` stands for, when ``column`` holds a
    column's distinct values (Dask: its ``value_counts``); the error then names no index.
    """
    import pandas as pd

    if isinstance(column.dtype, pd.CategoricalDtype):  # declared a category: taken at its word
        return None
    text = column.astype("string").str.strip()
    filled = (text.notna() & (text != "")).to_numpy(dtype=bool)
    parsed = pd.to_numeric(text.where(filled), errors="coerce").notna().to_numpy(dtype=bool)
    n = np.ones(len(text), dtype=np.int64) if counts is None else np.asarray(counts)
    n_filled, n_parsed = int(n[filled].sum()), int(n[parsed].sum())
    if n_filled == 0 or n_parsed < NUMERIC_LOOKING * n_filled or n_parsed == n_filled:
        return None
    bad = np.flatnonzero(filled & ~parsed)
    first = column.iloc[bad[0]]
    where = f", e.g. {first!r}" if counts is not None else (
        f"; the first is {first!r} at index {bad[0]}"
    )  # fmt: skip
    return ValueError(
        f"{what} {column.name!r} holds numbers but {n_filled - n_parsed} of its {n_filled} "
        f"non-empty cells are not numbers{where}: fix them, or leave them empty for missing"
    )


def _as_pandas(X: Any) -> pd.DataFrame | None:
    """``X`` as a pandas DataFrame when it is a pandas or polars frame, else ``None``."""
    module = type(X).__module__
    if module.startswith("polars") and hasattr(X, "columns") and hasattr(X, "get_column"):
        import pandas as pd

        return pd.DataFrame({c: X.get_column(c).to_list() for c in X.columns})
    if module.startswith("pandas") and hasattr(X, "dtypes") and getattr(X, "ndim", 0) == 2:
        return X
    return None


def as_text(column: pd.Series) -> pd.Series:
    """``column``'s cells as text (pandas ``string``, missing as ``<NA>``), as levels are
    named. Numbers that are all whole read as integers (``"3"``, not ``"3.0"``), so a code
    column reads the same from a file with missing cells (floats) as from one without."""
    import pandas as pd
    from pandas.api.types import is_bool_dtype

    if isinstance(column.dtype, pd.CategoricalDtype):
        column = column.astype(column.dtype.categories.dtype)
    if is_numeric(column) and not is_bool_dtype(column):
        values = column.astype("Float64")
        if bool(((values.dropna() % 1) == 0).all()):
            column = values.astype("Int64")
    return column.astype("string")


def _levels_of(column: pd.Series) -> tuple[str, ...]:
    import pandas as pd

    if isinstance(column.dtype, pd.CategoricalDtype):
        return tuple(as_text(pd.Series(column.dtype.categories)))
    return tuple(sorted(set(as_text(column).dropna())))


def _codes(column: pd.Series, levels: tuple[str, ...], what: str) -> NDArray[np.float64]:
    """``column``'s codes by ``levels``: NaN where missing or unseen (warned, with a count)."""
    import pandas as pd

    text = as_text(column).to_numpy(dtype=object, na_value=None)
    codes = pd.Index(levels, dtype=object).get_indexer(text).astype(np.float64)
    unseen = (text != None) & (codes < 0)  # noqa: E711  # elementwise, on an object array
    if unseen.any():
        first = text[np.flatnonzero(unseen)[0]]
        warnings.warn(
            f"{what} {column.name!r} has {int(unseen.sum())} value(s) not seen at fit (the "
            f"first: {first!r}); they are treated as missing",
            UserWarning,
            stacklevel=5,
        )
    codes[codes < 0] = np.nan
    return codes


def encode(X: Any, levels: Levels | None = None, name: str = "X") -> tuple[Any, Levels]:
    """``(X with its categorical columns coded, the levels)``; see the module docstring.

    ``levels=None`` learns them (fit); given, they code ``X`` as at fit (eval sets,
    predict). Anything but a frame comes back as it is; so does a frame of numbers when
    ``levels`` is ``()`` (a model without categorical features), which refuses text.
    """
    frame = _as_pandas(X)
    if frame is None:
        return X, levels or ()
    fitting = levels is None
    if levels == ():
        text = [
            str(frame.columns[j]) for j in range(frame.shape[1]) if is_categorical(frame.iloc[:, j])
        ]
        if text:
            raise ValueError(
                f"{name} column {', '.join(map(repr, text))} is not numeric, and the model "
                "was fitted without categorical features"
            )
        return X, ()
    if levels is None:
        found = []
        for j in range(frame.shape[1]):
            column = frame.iloc[:, j]
            if is_categorical(column):
                if (error := bad_cells(column, f"{name} column")) is not None:
                    raise error
                found.append((j, _levels_of(column)))
        levels = tuple(found)
        if not levels:
            return X, ()
    coded = dict(levels)
    out = np.empty(frame.shape, dtype=np.float64)
    for j in range(frame.shape[1]):
        column = frame.iloc[:, j]
        if j in coded:
            out[:, j] = _codes(column, coded[j], f"{name} column")
            continue
        try:
            out[:, j] = column.to_numpy(dtype=np.float64, na_value=np.nan)
        except (TypeError, ValueError):
            was = "neither numbers nor text" if fitting else "not numeric, but was at fit"
            raise ValueError(f"{name} column {column.name!r} ({column.dtype}) is {was}") from None
    return out, levels
