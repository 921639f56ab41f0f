from __future__ import annotations

import json

import numpy as np
import pytest

from boostobj.guard import cross_fitted_decisions, judge_policy, recommend_policy
from boostobj.stats import bootstrap_log_wealth


def test_pure_noise_gets_a_trivial_policy():
    rng = np.random.default_rng(0)
    for seed in range(5):
        r = rng.normal(-0.001, 0.05, 4000)
        scores = np.random.default_rng(seed + 100).normal(size=4000)  # unrelated to r
        rec = recommend_policy(scores, r, n_boot=500)
        assert rec.policy == ("take_all" if r.sum() > 0 else "take_none")
        assert "no edge beyond noise" in rec.reason
        json.dumps(rec.summary())


def test_planted_edge_gets_the_model():
    rng = np.random.default_rng(1)
    scores = rng.normal(size=4000)
    r = 0.05 * scores + rng.normal(0, 0.05, 4000)  # positive expectation iff score > 0
    rec = recommend_policy(scores, r, n_boot=500)
    assert rec.policy == "model"
    assert rec.vs_take_all.low > 0 and rec.vs_take_none.low > 0


def test_cross_fitting_never_scores_a_threshold_on_its_own_rows():
    rng = np.random.default_rng(2)
    scores, r = rng.normal(size=200), rng.normal(size=200)
    take = cross_fitted_decisions(scores, r)
    poisoned = r.copy()
    poisoned[100:] = 100.0 * np.sign(scores[100:])  # second half: lie about its payoffs
    # decisions on the second half depend only on the first half's payoffs
    np.testing.assert_array_equal(cross_fitted_decisions(scores, poisoned)[100:], take[100:])


def test_blocks_are_not_split():
    block = np.repeat(np.arange(10), 7)  # 70 rows, blocks of 7
    scores = np.arange(70.0)
    r = np.ones(70)
    from boostobj.guard import _halves

    first = _halves(70, block)
    assert first.sum() % 7 == 0
    assert cross_fitted_decisions(scores, r, block).all()
    with pytest.raises(ValueError, match="length mismatch"):
        cross_fitted_decisions(scores, r, block[:5])


def _trending_market(n_dates: int = 300, phi: float = 0.8) -> tuple[np.ndarray, ...]:
    """Two assets a day, each an AR(1) series (a slow trend), in time order: the model takes
    asset A, whose sum is made exactly 3 i.i.d. standard errors above 0, and leaves asset B,
    3 below. Daily, its lead looks certain; counting the serial dependence, it does not."""
    rng = np.random.default_rng(3)
    series = np.zeros((n_dates + 50, 2))
    for t in range(1, series.shape[0]):
        series[t] = phi * series[t - 1] + rng.standard_normal(2)
    series = series[50:] - series[50:].mean(axis=0)
    series += 3 * series.std(axis=0) / np.sqrt(n_dates) * np.array([1.0, -1.0])
    dates = np.repeat(np.arange(n_dates), 2)
    take = np.tile([True, False], n_dates)
    return 0.01 * series.ravel(), take, dates


def test_serial_dependence_undoes_an_edge_the_iid_bootstrap_finds():
    r, take, dates = _trending_market()
    iid = judge_policy(take, r, block=dates, n_boot=1000, block_length=1)
    assert iid.policy == "model"
    blocked = judge_policy(take, r, block=dates, n_boot=1000)  # dates given: blocks from data
    assert blocked.policy != "model" and "no edge beyond noise" in blocked.reason
    for trivial in ("take_all", "take_none"):
        a, b = iid.versus(trivial), blocked.versus(trivial)
        assert a.block_length == 1.0 and b.block_length > 3.0
        assert b.high - b.low > 1.8 * (a.high - a.low)
    summary = json.loads(json.dumps(blocked.summary()))
    assert summary["model_minus_take_all"]["block_length"] == blocked.vs_take_all.block_length
    assert summary["model_minus_take_none"]["n_groups"] == 300
    assert "time blocks of" in blocked.reason and "time blocks" not in iid.reason


def test_rows_without_groups_are_resampled_iid_unless_said_to_be_ordered():
    r, take, _ = _trending_market()
    default = judge_policy(take, r, n_boot=500)
    assert default == judge_policy(take, r, n_boot=500, block_length=1.0)
    assert default.vs_take_none.block_length == 1.0
    ordered = judge_policy(take, r, n_boot=500, block_length="auto")
    assert ordered.vs_take_none.block_length > 3.0
    rec = recommend_policy(take.astype(float), r, block=np.arange(r.size) // 2, n_boot=300)
    assert rec.vs_take_all.block_length > 1.0
    with pytest.raises(ValueError, match="block_length"):
        judge_policy(take, r, block_length=0)


def test_negative_autocorrelation_never_narrows_the_guards_interval():
    """Where the data-driven blocks would narrow an interval (negatively autocorrelated
    dates), the guard keeps the i.i.d.-group one: it errs towards doing nothing."""
    rng = np.random.default_rng(3)
    n_dates = 400
    noise = rng.standard_normal(n_dates + 1)
    daily = noise[1:] - 0.9 * noise[:-1]  # MA(1) with strong negative lag-1 correlation
    r = 0.01 * (daily - daily.mean() + 0.05)
    take = np.zeros(n_dates, bool)  # model minus take-all is -r: as autocorrelated as r
    dates = np.arange(n_dates)
    iid = judge_policy(take, r, block=dates, n_boot=1000, block_length=1)
    blocked = bootstrap_log_wealth(r, take, baseline_take=np.ones(n_dates, bool), block=dates,
                                   n_boot=1000, block_length="auto")  # fmt: skip
    assert blocked.low > iid.vs_take_all.low  # the blocks alone would be bolder
    guard = judge_policy(take, r, block=dates, n_boot=1000)
    assert guard.vs_take_all.low == iid.vs_take_all.low


def test_too_few_units_is_never_judged_an_edge():
    """A planted edge the bootstrap finds on 99 matches is still not enough: below
    MIN_UNITS independent units (groups, else rows) the guard falls back and says why."""
    from boostobj.guard import MIN_UNITS

    rng = np.random.default_rng(4)
    matches = np.repeat(np.arange(MIN_UNITS - 1), 5)  # 5 correlated rows per match
    take = rng.random(matches.size) < 0.5
    r = np.where(take, 0.2, -0.2) + rng.normal(0, 0.05, matches.size)  # a clear edge
    by_rows = judge_policy(take, r, n_boot=500)  # 495 rows, judged as rows: enough
    assert by_rows.policy == "model"
    rec = judge_policy(take, r, block=matches, n_boot=500)
    assert rec.policy == ("take_all" if r.sum() > 0 else "take_none")
    assert rec.vs_take_all.low > 0 and rec.vs_take_none.low > 0  # the intervals said model
    assert f"{MIN_UNITS - 1} groups are fewer than the {MIN_UNITS}" in rec.reason
    more = np.repeat(np.arange(MIN_UNITS), 5)[: matches.size + 5]
    take2 = np.append(take, [True] * 5)
    r2 = np.append(r, [0.2] * 5)
    assert judge_policy(take2, r2, block=more, n_boot=500).policy == "model"
    with pytest.raises(ValueError, match="empty"):
        judge_policy(np.zeros(0, bool), np.zeros(0))
