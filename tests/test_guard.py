from __future__ import annotations

import json

import numpy as np
import pytest

from boostobj.guard import cross_fitted_decisions, recommend_policy


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
