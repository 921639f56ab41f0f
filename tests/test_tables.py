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
    assert table.features == FEATURES and table.info["ignored_columns"] == ["note"]
    rows = table.splits
    assert sum(len(r) for r in rows.values()) == 600
    for part in rows.values():
        assert part.feature_names == tuple(FEATURES)
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
