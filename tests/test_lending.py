"""Tests for :func:`boostobj.datasets.make_lending_market`."""

from __future__ import annotations

import numpy as np
import pytest

from boostobj.datasets import bayes_log_wealth, make_lending_market

N_LARGE = 200_000


@pytest.fixture(scope="module")
def large_market() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One large default-parameter sample shared by the statistical tests."""
    return make_lending_market(N_LARGE, random_state=2024)


@pytest.mark.parametrize("n_features", [7, 8, 12])
@pytest.mark.parametrize("n_samples", [1, 2, 1000])
def test_shapes_and_dtypes(n_samples: int, n_features: int) -> None:
    X, p, e = make_lending_market(n_samples, random_state=0, n_features=n_features)
    assert X.shape == (n_samples, n_features)
    assert p.shape == e.shape == (n_samples,)
    for arr in (X, p, e):
        assert arr.dtype == np.float64
        assert np.all(np.isfinite(arr))
    assert np.all(p > 0)


def test_reproducible_and_generator_accepted() -> None:
    a = make_lending_market(500, random_state=3)
    b = make_lending_market(500, random_state=3)
    c = make_lending_market(500, random_state=np.random.default_rng(3))
    for x, y, z in zip(a, b, c, strict=True):
        np.testing.assert_array_equal(x, y)
        np.testing.assert_array_equal(x, z)
    d = make_lending_market(500, random_state=4)
    assert not np.array_equal(a[1], d[1])


def test_payoffs_are_repayment_or_default() -> None:
    stake, lgd, cap = 0.2, 0.7, 0.36
    X, p, e = make_lending_market(5000, random_state=1)
    rate = X[:, -1]
    assert np.all((rate > 0) & (rate <= cap))
    repaid = np.isclose(p, 1.0 + stake * rate, rtol=0, atol=1e-12)
    defaulted = p == 1.0 - stake * lgd
    assert np.all(repaid ^ defaulted)
    # E[log p | x] lies between the two possible outcomes.
    assert np.all(e <= np.log1p(stake * rate) + 1e-12)
    assert np.all(e >= np.log1p(-stake * lgd) - 1e-12)


def test_expected_log_payoff_is_unbiased(large_market) -> None:
    """Realised log p minus its stated expectation has mean zero (CLT bound, 5 sd)."""
    _, p, e = large_market
    resid = np.log(p) - e
    assert abs(resid.mean()) < 5 * resid.std() / np.sqrt(resid.size)
    # Also within bins of the score: the expectation is conditional, not just marginal.
    edges = np.quantile(e, [0, 0.2, 0.4, 0.6, 0.8, 1])
    bins = np.clip(np.searchsorted(edges, e, side="right") - 1, 0, 4)
    for b in range(5):
        rb = resid[bins == b]
        assert abs(rb.mean()) < 5 * rb.std() / np.sqrt(rb.size)


def test_calibration(large_market) -> None:
    """Frequent small gains, rare large losses; take-all loses, the Bayes policy earns."""
    _, p, e = large_market
    r = np.log(p)
    assert 0.85 < (p > 1).mean() < 0.95
    assert 0.55 < (e > 0).mean() < 0.70
    assert np.median(np.abs(r[r < 0])) > 8 * np.median(r[r > 0])
    per_1000 = 1000 / r.size
    assert -1.2 < r.sum() * per_1000 < -0.2
    assert 2.8 < bayes_log_wealth(r, e) * per_1000 < 3.8


def test_bayes_beats_rate_only_and_lender_policies(large_market) -> None:
    """The rate does not price all risk: the Bayes policy beats every cut on the rate."""
    X, p, e = large_market
    r = np.log(p)
    bayes = bayes_log_wealth(r, e)
    rate = X[:, -1]
    best_rate_cut = max(r[rate <= t].sum() for t in np.quantile(rate, np.linspace(0.05, 1, 20)))
    assert bayes > best_rate_cut + 0.1 * abs(bayes)


def test_noise_features_do_not_change_default_probability() -> None:
    """Columns x_6, ... (before the rate) are pure noise: uncorrelated with E[log p | x]."""
    X, _, e = make_lending_market(50_000, random_state=5, n_features=9)
    for j in (6, 7):
        assert abs(np.corrcoef(X[:, j], e)[0, 1]) < 0.03


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"n_samples": 0}, "n_samples"),
        ({"n_features": 6}, "n_features"),
        ({"stake": 1.0}, "stake"),
        ({"loss_given_default": 0.0}, "loss_given_default"),
        ({"lender_margin": -0.1}, "lender_margin"),
        ({"rate_cap": 0.005}, "rate_cap"),
        ({"stake": float("nan")}, "stake"),
        ({"n_samples": True}, "n_samples"),
    ],
)
def test_bad_arguments_raise(kwargs: dict, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        make_lending_market(**{"n_samples": 10, **kwargs})
