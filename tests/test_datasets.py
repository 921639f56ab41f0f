"""Tests for :mod:`boostobj.datasets`."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from boostobj.datasets import bayes_log_wealth, make_betting_market

N_LARGE = 200_000


@pytest.fixture(scope="module")
def large_market() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One large default-parameter sample shared by the statistical tests."""
    return make_betting_market(N_LARGE, random_state=12345, return_odds=True)


@pytest.mark.parametrize("n_features", [6, 7, 8, 12])
@pytest.mark.parametrize("n_samples", [1, 2, 1000])
def test_shapes_and_dtypes(n_samples: int, n_features: int) -> None:
    out = make_betting_market(n_samples, random_state=0, n_features=n_features)
    assert isinstance(out, tuple)
    assert len(out) == 3
    X, p, e = out
    assert X.shape == (n_samples, n_features)
    assert p.shape == (n_samples,)
    assert e.shape == (n_samples,)
    for arr in (X, p, e):
        assert isinstance(arr, np.ndarray)
        assert arr.dtype == np.float64
        assert np.all(np.isfinite(arr))
    assert np.all(p > 0)


def test_default_n_samples() -> None:
    X, p, e = make_betting_market(random_state=0)
    assert X.shape == (10_000, 8)
    assert p.shape == e.shape == (10_000,)


def test_return_odds_and_log_odds_column() -> None:
    stake = 0.05
    X, p, e, odds = make_betting_market(5000, random_state=1, return_odds=True)
    assert odds.shape == (5000,)
    assert odds.dtype == np.float64
    assert np.all(odds >= 1.01)
    np.testing.assert_array_equal(X[:, -1], np.log(odds))
    # Each payoff is either a win at the quoted odds or the lost stake.
    win = 1.0 + stake * (odds - 1.0)
    lose = 1.0 - stake
    is_win = np.isclose(p, win, rtol=0, atol=1e-12)
    is_lose = p == lose
    assert np.all(is_win | is_lose)
    assert 0 < is_win.mean() < 1
    # The expected log payoff lies between the two possible log payoffs.
    lo, hi = math.log1p(-stake), np.log1p(stake * (odds - 1.0))
    assert np.all(e > lo)
    assert np.all(e < hi)


def test_return_odds_does_not_change_other_outputs() -> None:
    a = make_betting_market(300, random_state=7)
    b = make_betting_market(300, random_state=7, return_odds=True)
    for x, y in zip(a, b[:3], strict=True):
        np.testing.assert_array_equal(x, y)


def test_latent_features_are_standard_normal(
    large_market: tuple[np.ndarray, ...],
) -> None:
    X = large_market[0]
    latent = X[:, :-1]
    np.testing.assert_allclose(latent.mean(axis=0), 0.0, atol=0.02)
    np.testing.assert_allclose(latent.std(axis=0), 1.0, atol=0.02)


def test_deterministic_for_integer_seed() -> None:
    a = make_betting_market(1000, random_state=42, return_odds=True)
    b = make_betting_market(1000, random_state=42, return_odds=True)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)


def test_different_seeds_differ() -> None:
    X0, p0, e0 = make_betting_market(1000, random_state=0)
    X1, p1, e1 = make_betting_market(1000, random_state=1)
    assert not np.array_equal(X0, X1)
    assert not np.array_equal(p0, p1)
    assert not np.array_equal(e0, e1)


def test_generator_random_state() -> None:
    X_a, _, _ = make_betting_market(500, random_state=np.random.default_rng(3))
    X_b, _, _ = make_betting_market(500, random_state=np.random.default_rng(3))
    np.testing.assert_array_equal(X_a, X_b)
    rng = np.random.default_rng(3)
    first, _, _ = make_betting_market(500, random_state=rng)
    second, _, _ = make_betting_market(500, random_state=rng)
    assert not np.array_equal(first, second)  # the generator is advanced


def test_none_random_state_runs() -> None:
    X, p, _ = make_betting_market(100, random_state=None)
    assert X.shape == (100, 8)
    assert np.all(p > 0)


def test_expected_log_payoff_is_unbiased(
    large_market: tuple[np.ndarray, ...],
) -> None:
    _, p, e, _ = large_market
    resid = np.log(p) - e
    se = resid.std(ddof=1) / math.sqrt(resid.size)
    assert abs(resid.mean()) < 4 * se


def test_expected_log_payoff_unbiased_on_positive_rows(
    large_market: tuple[np.ndarray, ...],
) -> None:
    # Conditioning on a function of x must not bias the residual either.
    _, p, e, _ = large_market
    take = e > 0
    resid = np.log(p[take]) - e[take]
    se = resid.std(ddof=1) / math.sqrt(resid.size)
    assert abs(resid.mean()) < 4 * se


def test_calibration(large_market: tuple[np.ndarray, ...]) -> None:
    _, p, e, odds = large_market
    frac_positive = np.mean(e > 0)
    assert 0.15 <= frac_positive <= 0.35
    take_all = e.sum()
    bayes = e[e > 0].sum()
    assert take_all < 0 < bayes
    # The Bayes policy's realised log-wealth is clearly positive and take-all
    # realises a loss.
    assert bayes_log_wealth(np.log(p), e) > 0
    assert np.log(p).sum() < 0
    assert np.median(odds) > 1.5


def test_higher_margin_lowers_expected_log_payoff() -> None:
    # Same seed: identical features and true probabilities, shorter odds.
    _, _, e_lo, odds_lo = make_betting_market(
        2000, random_state=5, bookmaker_margin=0.0, return_odds=True
    )
    _, _, e_hi, odds_hi = make_betting_market(
        2000, random_state=5, bookmaker_margin=0.1, return_odds=True
    )
    assert np.all(odds_hi <= odds_lo)
    assert np.all(e_hi <= e_lo)
    assert np.mean(e_hi > 0) < np.mean(e_lo > 0)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"n_samples": 0}, "n_samples"),
        ({"n_samples": -5}, "n_samples"),
        ({"n_samples": 2.5}, "n_samples"),
        ({"n_samples": True}, "n_samples"),
        ({"n_features": 5}, "n_features"),
        ({"n_features": 0}, "n_features"),
        ({"n_features": 8.0}, "n_features"),
        ({"stake": 0.0}, "stake"),
        ({"stake": 1.0}, "stake"),
        ({"stake": -0.1}, "stake"),
        ({"stake": 1.5}, "stake"),
        ({"stake": float("nan")}, "stake"),
        ({"stake": "0.05"}, "stake"),
        ({"bookmaker_margin": -0.01}, "bookmaker_margin"),
        ({"bookmaker_margin": float("inf")}, "bookmaker_margin"),
        ({"bookmaker_margin": None}, "bookmaker_margin"),
    ],
)
def test_bad_arguments_raise(kwargs: dict[str, object], name: str) -> None:
    args: dict[str, object] = {"n_samples": 10, "random_state": 0, **kwargs}
    n_samples = args.pop("n_samples")
    with pytest.raises(ValueError, match=name) as excinfo:
        make_betting_market(n_samples, **args)  # type: ignore[arg-type]
    assert repr(kwargs[name]) in str(excinfo.value)


def test_numpy_integer_arguments_accepted() -> None:
    X, _, _ = make_betting_market(np.int64(20), n_features=np.int32(7), random_state=0)
    assert X.shape == (20, 7)


@settings(max_examples=25, deadline=None)
@given(
    n_samples=st.integers(1, 200),
    n_features=st.integers(6, 12),
    stake=st.floats(1e-4, 0.99),
    margin=st.floats(0.0, 0.5),
    seed=st.integers(0, 2**32 - 1),
)
def test_outputs_valid_for_any_valid_arguments(
    n_samples: int, n_features: int, stake: float, margin: float, seed: int
) -> None:
    X, p, e, odds = make_betting_market(
        n_samples,
        random_state=seed,
        n_features=n_features,
        stake=stake,
        bookmaker_margin=margin,
        return_odds=True,
    )
    assert X.shape == (n_samples, n_features)
    assert np.all(np.isfinite(X))
    assert np.all(np.isfinite(p))
    assert np.all(p > 0)
    assert np.all(np.isfinite(e))
    assert np.all(odds >= 1.01)
    np.testing.assert_allclose(np.exp(X[:, -1]), odds, rtol=1e-12)


def test_bayes_log_wealth_simple() -> None:
    log_p = np.array([0.5, -0.2, 0.1, -0.3])
    e = np.array([0.01, 0.02, -0.01, 0.0])
    result = bayes_log_wealth(log_p, e)
    assert isinstance(result, float)
    assert result == pytest.approx(0.3)  # rows 0 and 1; e == 0 is not taken


def test_bayes_log_wealth_accepts_lists_and_empty_selection() -> None:
    assert bayes_log_wealth([1.0, 2.0], [-1.0, -1.0]) == 0.0
    assert bayes_log_wealth([], []) == 0.0


def test_bayes_log_wealth_shape_mismatch() -> None:
    with pytest.raises(ValueError, match="same shape"):
        bayes_log_wealth(np.zeros(3), np.zeros(4))


def test_bayes_log_wealth_matches_manual(
    large_market: tuple[np.ndarray, ...],
) -> None:
    _, p, e, _ = large_market
    log_p = np.log(p)
    assert bayes_log_wealth(log_p, e) == pytest.approx(log_p[e > 0].sum(), rel=1e-12)
