"""Tests for :mod:`boostobj.tables`: reading payoff tables into checked rows, splits, leaks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from boostobj import log_payoff, make_betting_market
from boostobj.tables import load_table, split_in_order, suspected_leaks, synthetic_table

FEATURES = [f"x{j}" for j in range(7)] + ["log_odds"]


def _dates(n: int, seed: int = 1) -> pd.Series:
    """Dates shuffled in time that repeat unevenly, as in the CLI tests' market."""
    days = np.random.default_rng(seed).integers(0, 250, n)
    return pd.Series(pd.Timestamp("2024-01-01") + pd.to_timedelta(days, unit="D"))


def test_chronological_split_keeps_ties_together() -> None:
    dates = pd.to_datetime(_dates(1500)).to_numpy()
    rows = split_in_order(dates.size, dates)
    assert sorted(np.concatenate(list(rows.values()))) == list(range(dates.size))
    train, valid, test = (dates[rows[s]] for s in ("train", "valid", "test"))
    assert train.max() < valid.min() and valid.max() < test.min()
    assert abs(train.size - 900) < 30 and abs(valid.size - 300) < 30


def test_file_order_split_without_time() -> None:
    rows = split_in_order(10, None)
    assert [list(rows[s]) for s in ("train", "valid", "test")] == [
        [0, 1, 2, 3, 4, 5],
        [6, 7],
        [8, 9],
    ]


def test_leak_warning_flags_an_outcome_column() -> None:
    X, p, _ = make_betting_market(2000, random_state=0)
    r = log_payoff(p)
    won = (r > 0).astype(float)
    leaks = suspected_leaks(np.column_stack([X, won]), r, [*FEATURES, "won"])
    assert list(leaks) == ["won"] and leaks["won"] > 0.8


def test_load_table_gives_rows_with_names_and_times(tmp_path: Path) -> None:
    X, p, _ = make_betting_market(600, random_state=0)
    frame = pd.DataFrame(X, columns=FEATURES).assign(p=p, date=_dates(600).dt.strftime("%Y-%m-%d"))
    frame["note"] = "text"
    frame.to_csv(tmp_path / "t.csv", index=False)
    table = load_table(tmp_path / "t.csv", time_column="date")
    # A text column is a categorical feature (one level here: useless, but harmless).
    assert table.features == [*FEATURES, "note"] and table.info["ignored_columns"] == []
    assert table.info["categorical_features"] == ["note"]
    rows = table.splits
    assert sum(len(r) for r in rows.values()) == 600
    for part in rows.values():
        assert part.feature_names == (*FEATURES, "note")
        assert part.categories == ((len(FEATURES), ("text",)),)
        np.testing.assert_array_equal(part.X[:, -1], 0.0)  # the one level's code
        assert np.all(np.diff(part.groups.astype("int64")) >= 0)  # time order within a split
    assert rows["train"].groups.max() < rows["valid"].groups.min()
    np.testing.assert_allclose(np.sort(np.concatenate([r.log_p for r in rows.values()])),
                               np.sort(log_payoff(p)))  # fmt: skip


def test_load_table_refuses_a_bad_payoff(tmp_path: Path) -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0], "p": [1.1, 0.0, 0.9]})
    frame.to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(ValueError, match=r"payoff column 'p' has 1 non-positive value"):
        load_table(tmp_path / "t.csv")


def test_synthetic_table_keeps_the_bayes_policy() -> None:
    table = synthetic_table(500, seed=0)
    assert [len(r) for r in table.splits.values()] == [200, 100, 200]
    assert all(r.expected_log_payoff is not None for r in table.splits.values())


def _market_frame(n: int = 300) -> pd.DataFrame:
    X, p, _ = make_betting_market(n, random_state=0)
    return pd.DataFrame(X, columns=FEATURES).assign(p=p)


@pytest.mark.parametrize(
    ("column", "kwargs", "what"),
    [
        ("x3", {}, "column 'x3'"),
        ("x3", {"features": ["x1", "x3"]}, "feature column 'x3'"),
        ("p", {}, "payoff column 'p'"),
    ],
)
def test_a_numeric_column_with_bad_cells_is_an_error(
    column: str, kwargs: dict, what: str, tmp_path: Path
) -> None:
    """One typo used to turn the column into text, silently ignored: 7 of 8 features."""
    frame = _market_frame()
    frame[column] = frame[column].astype(object)
    frame.loc[[11, 40, 41], column] = ["n.a.", "?", "12,5"]
    frame.to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(ValueError, match=rf"{what} holds numbers but 3 of its 300 .*'n.a.' at "
                       r"index 11"):  # fmt: skip
        load_table(tmp_path / "t.csv", **kwargs)


def test_numeric_looking_means_90_percent_of_the_filled_cells(tmp_path: Path) -> None:
    frame = _market_frame(300)
    cells = np.arange(300).astype(str).astype(object)
    cells[:28] = "text"  # 262 of 290 (90.3%) numbers: numeric-looking, refused
    cells[30:40] = ""  # blank cells are missing, not counted
    frame["code"] = cells
    frame.to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(ValueError, match=r"'code' holds numbers but 28 of its 290"):
        load_table(tmp_path / "t.csv")
    cells[:40] = "text"  # 260 of 300 (86.7%) numbers: a text column, a category
    frame["code"] = cells
    frame.to_csv(tmp_path / "t.csv", index=False)
    table = load_table(tmp_path / "t.csv")
    assert table.features == [*FEATURES, "code"] and table.info["ignored_columns"] == []
    assert table.info["categorical_features"] == ["code"]


def test_unreadable_and_featureless_tables_are_clear_errors(tmp_path: Path) -> None:
    import gzip

    frame = _market_frame()
    packed = gzip.compress(frame.to_csv(index=False).encode())
    (tmp_path / "cut.csv.gz").write_bytes(packed[: len(packed) // 2])
    with pytest.raises(ValueError, match=r"cut.csv.gz cannot be read \(truncated"):
        load_table(tmp_path / "cut.csv.gz")
    frame[FEATURES] = 1.0
    frame.loc[5, "x0"] = np.nan
    frame.to_csv(tmp_path / "flat.csv", index=False)
    with pytest.raises(ValueError, match=r"every feature column .* is constant or missing"):
        load_table(tmp_path / "flat.csv")
