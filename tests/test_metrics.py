from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from boostobj.metrics import (
    best_threshold,
    decide,
    log_wealth,
    margin_threshold,
    threshold_curve,
    trivial_policies,
)


def brute_force(scores, r):
    """Every policy score >= t for t over all seen scores, plus taking nothing."""
    best = 0.0
    for t in np.unique(scores):
        best = max(best, float(r[scores >= t].sum()))
    return best


def test_log_wealth_is_the_sum_over_taken_rows(rng):
    r = rng.normal(0, 0.1, 100)
    take = rng.random(100) < 0.3
    assert log_wealth(r, take) == pytest.approx(r[take].sum(), abs=1e-12)
    assert log_wealth(r, take.astype(int)) == pytest.approx(r[take].sum(), abs=1e-12)
    assert log_wealth(r, np.zeros(100, bool)) == 0.0
    assert np.exp(log_wealth(r, take)) == pytest.approx(np.prod(np.exp(r[take])))


def test_log_wealth_rejects_bad_decisions():
    with pytest.raises(ValueError, match="length mismatch"):
        log_wealth([0.1, 0.2], [True])
    with pytest.raises(ValueError, match="0/1"):
        log_wealth([0.1, 0.2], [0.5, 1.0])


@pytest.mark.parametrize("n_distinct", [3, 20, 1000])
def test_best_threshold_equals_brute_force_with_ties(rng, n_distinct):
    for _ in range(20):
        scores = rng.integers(0, n_distinct, 300).astype(float) / n_distinct
        r = rng.normal(0.0, 0.1, 300)
        best = best_threshold(scores, r)
        assert best.log_wealth == pytest.approx(brute_force(scores, r), abs=1e-10)
        take = scores >= best.threshold
        assert log_wealth(r, take) == pytest.approx(best.log_wealth, abs=1e-10)
        assert take.sum() == best.n_taken


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(-5, 5), st.floats(-1, 1, allow_nan=False)), min_size=1, max_size=40
    )
)
def test_property_best_threshold_is_exact(rows):
    scores, r = (np.array(c, dtype=float) for c in zip(*rows, strict=True))
    best = best_threshold(scores, r)
    assert best.log_wealth == pytest.approx(brute_force(scores, r), abs=1e-9)
    assert log_wealth(r, scores >= best.threshold) == pytest.approx(best.log_wealth, abs=1e-9)


def test_take_nothing_when_nothing_pays():
    best = best_threshold([0.1, 0.5, 0.9], [-0.1, -0.2, -0.3])
    assert best == (np.inf, 0.0, 0)


def test_take_everything_when_everything_pays():
    best = best_threshold([0.1, 0.5, 0.9], [0.1, 0.2, 0.3])
    assert best.threshold == -np.inf and best.n_taken == 3
    assert best.log_wealth == pytest.approx(0.6)


def test_ties_in_wealth_prefer_fewest_rows():
    # taking the top row earns 0.2; taking all three also earns 0.2
    best = best_threshold([3.0, 2.0, 1.0], [0.2, -0.1, 0.1])
    assert best.n_taken == 1 and 2.0 < best.threshold < 3.0


def test_tied_scores_are_taken_together():
    curve = threshold_curve([1.0, 1.0, 0.0], [0.5, -0.1, 0.2])
    np.testing.assert_array_equal(curve.n_taken, [0, 2, 3])
    np.testing.assert_allclose(curve.log_wealth, [0.0, 0.4, 0.6])
    assert curve.thresholds[1] == 0.5


def test_probability_scores_give_probability_thresholds():
    best = best_threshold([0.2, 0.6, 0.8], [-0.1, 0.1, 0.1])
    assert best.threshold == pytest.approx(0.4)


def test_adjacent_float_scores_keep_the_cut_exact():
    hi = np.nextafter(1.0, 2.0)
    curve = threshold_curve([hi, 1.0], [0.3, -0.1])
    assert (np.array([hi, 1.0]) >= curve.thresholds[1]).sum() == curve.n_taken[1] == 1


def test_curve_and_metric_reject_bad_input():
    with pytest.raises(ValueError, match="NaN"):
        threshold_curve([0.1, np.nan], [0.1, 0.1])
    with pytest.raises(ValueError, match="length mismatch"):
        best_threshold([0.1, 0.2], [0.1])
    with pytest.raises(ValueError, match="empty"):
        best_threshold([], [])
    with pytest.raises(ValueError, match="NaN or infinite"):
        best_threshold([0.1, 0.2], [0.1, np.inf])


def test_trivial_policies(rng):
    r = rng.normal(0, 0.1, 50)
    out = trivial_policies(r)
    assert out["take_all"] == pytest.approx(r.sum())
    assert out["take_none"] == 0.0
    assert out["perfect_foresight"] == pytest.approx(r[r > 0].sum())


def test_margin_threshold_and_decide():
    assert margin_threshold(0.5) == 0.0
    assert margin_threshold(0.0) == -np.inf and margin_threshold(1.0) == np.inf
    assert margin_threshold(0.75) == pytest.approx(np.log(3))
    np.testing.assert_array_equal(decide([-1e4, -0.1, 0.0, 1e4]), [False, False, True, True])
    np.testing.assert_array_equal(decide([-1e4, 1e4], 0.0), [True, True])
    np.testing.assert_array_equal(decide([-1e4, 1e4], 1.0), [False, False])
    with pytest.raises(ValueError, match="NaN"):
        margin_threshold(float("nan"))


def test_stake_log_wealth_is_log_of_compounded_fractional_bets(rng):
    from boostobj.metrics import stake_log_wealth

    p = np.exp(rng.normal(0, 0.3, 50))
    b = rng.random(50)
    assert stake_log_wealth(np.log(p), b) == pytest.approx(np.log(np.prod(1 + b * (p - 1))))
    take = b > 0.5
    assert stake_log_wealth(np.log(p), take.astype(float)) == pytest.approx(
        log_wealth(np.log(p), take)
    )
    with pytest.raises(ValueError, match=r"stake must lie in \[0, 1\]; index 1"):
        stake_log_wealth([0.1, 0.2], [0.5, 1.5])


def test_sigmoid_is_finite_at_extremes():
    from boostobj.metrics import sigmoid

    np.testing.assert_allclose(sigmoid([-1e4, 0.0, 1e4]), [0.0, 0.5, 1.0])


def test_decide_with_payoffs_equals_brute_force_expected_log_payoff(rng):
    from boostobj.metrics import break_even_margin, decide_with_payoffs, sigmoid

    n = 5000
    margin = rng.normal(0, 3, n)
    log_win = np.log1p(rng.uniform(0.01, 5.0, n))
    log_loss = np.log(rng.uniform(0.05, 0.99, n))
    q = sigmoid(margin)
    expected = q * log_win + (1 - q) * log_loss
    np.testing.assert_array_equal(decide_with_payoffs(margin, log_win, log_loss), expected >= 0)
    be = break_even_margin(log_win, log_loss)
    at_break_even = sigmoid(be) * log_win + (1 - sigmoid(be)) * log_loss
    np.testing.assert_allclose(at_break_even, 0.0, atol=1e-12)


def test_break_even_rejects_rows_whose_decision_is_trivial():
    from boostobj.metrics import break_even_margin

    with pytest.raises(ValueError, match=r"1 rows have p_win <= 1, the first at index 1"):
        break_even_margin([0.1, -0.1], [-0.1, -0.1])
    with pytest.raises(ValueError, match=r"p_loss >= 1, the first at index 0"):
        break_even_margin([0.1, 0.1], [0.0, -0.1])
