"""Tests for :mod:`boostobj.stats` (bootstrap intervals of log-wealth)."""

from __future__ import annotations

import numpy as np
import pytest

from boostobj.metrics import log_wealth
from boostobj.stats import (
    BootstrapResult,
    PolicyBootstrap,
    bootstrap_log_wealth,
    bootstrap_policies,
    group_sums,
    optimal_block_length,
    significantly_better,
)


def _noise(n: int, seed: int = 0, scale: float = 0.05) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, scale, n)


def test_estimate_is_log_wealth_and_inside_interval() -> None:
    r = _noise(5000)
    take = np.random.default_rng(1).random(r.size) < 0.4
    res = bootstrap_log_wealth(r, take, n_boot=500)
    assert isinstance(res, BootstrapResult)
    assert res.estimate == pytest.approx(log_wealth(r, take), abs=1e-9)
    assert res.low <= res.estimate <= res.high
    assert res.n_boot == 500
    assert res.n_groups == r.size


def test_interval_matches_normal_theory() -> None:
    # Sum of n iid rows: sd = sqrt(n) * sd(row); the 95% interval is about +-1.96 sd.
    r = _noise(5000, seed=2)
    res = bootstrap_log_wealth(r, np.ones(r.size, bool), n_boot=2000, seed=3)
    sd = np.sqrt(r.size) * r.std()
    assert (res.high - res.low) / (2 * 1.96 * sd) == pytest.approx(1.0, rel=0.1)


def test_relative_width_shrinks_with_n() -> None:
    widths = []
    for n in (1000, 16_000):
        r = _noise(n, seed=n) + 0.01  # a small positive edge per row
        res = bootstrap_log_wealth(r, np.ones(n, bool), n_boot=500)
        widths.append((res.high - res.low) / n)  # width of the per-row mean
    assert widths[1] < 0.4 * widths[0]  # ideally 1/4


def test_block_bootstrap_one_group_per_row_matches_row_bootstrap() -> None:
    r = _noise(4000, seed=4)
    take = np.random.default_rng(5).random(r.size) < 0.5
    row = bootstrap_log_wealth(r, take, n_boot=2000, seed=6)
    # Ids as shuffled strings: only the grouping matters, not the labels or their order.
    ids = np.random.default_rng(7).permutation(r.size).astype(str)
    blk = bootstrap_log_wealth(r, take, n_boot=2000, seed=8, block=ids)
    assert blk.estimate == pytest.approx(row.estimate)
    assert blk.n_groups == row.n_groups
    assert blk.high - blk.low == pytest.approx(row.high - row.low, rel=0.12)


def test_block_bootstrap_widens_interval_for_correlated_rows() -> None:
    rng = np.random.default_rng(9)
    dates = np.repeat(np.arange(200), 20)  # 20 rows share each date
    r = 0.02 * rng.standard_normal(200)[dates] + 0.005 * rng.standard_normal(dates.size)
    take = np.ones(r.size, bool)
    row = bootstrap_log_wealth(r, take, n_boot=1000)
    blk = bootstrap_log_wealth(r, take, n_boot=1000, block=dates)
    assert blk.n_groups == 200
    assert (blk.high - blk.low) > 2.5 * (row.high - row.low)


def test_group_sums() -> None:
    v = np.array([1.0, 2.0, 3.0, 4.0])
    np.testing.assert_array_equal(group_sums(v), v)
    np.testing.assert_array_equal(group_sums(v, ["b", "a", "b", "c"]), [2.0, 4.0, 4.0])
    with pytest.raises(ValueError, match="block"):
        group_sums(v, [0, 1])


def test_policy_minus_itself_is_exactly_zero() -> None:
    r = _noise(3000, seed=10)
    take = r > -0.01
    res = bootstrap_log_wealth(r, take, baseline_take=take, n_boot=300)
    assert (res.estimate, res.low, res.high) == (0.0, 0.0, 0.0)
    assert res.p_not_better == 1.0
    assert not significantly_better(r, take, take)


def test_paired_difference_estimate() -> None:
    r = _noise(3000, seed=11)
    a, b = r > 0.02, r > -0.02
    res = bootstrap_log_wealth(r, a, baseline_take=b, n_boot=300, block=np.arange(r.size) // 3)
    assert res.estimate == pytest.approx(log_wealth(r, a) - log_wealth(r, b))
    assert res.low <= res.estimate <= res.high


def test_pure_noise_policy_is_not_significantly_better() -> None:
    rng = np.random.default_rng(12)
    r = _noise(20_000, seed=13)
    take = rng.random(r.size) < 0.5  # independent of r
    assert not significantly_better(r, take, np.zeros(r.size, bool), n_boot=500)
    assert not significantly_better(r, take, np.ones(r.size, bool), n_boot=500)
    res = bootstrap_log_wealth(r, take, baseline_take=np.zeros(r.size, bool), n_boot=500)
    assert res.contains_zero()
    assert 0.05 < res.p_not_better < 0.95


def test_planted_edge_is_significantly_better() -> None:
    rng = np.random.default_rng(14)
    n = 20_000
    signal = rng.random(n) < 0.3  # rows with a positive expected log payoff
    r = rng.normal(np.where(signal, 0.003, -0.002), 0.05)
    assert significantly_better(r, signal, np.zeros(n, bool), n_boot=500)
    assert significantly_better(r, signal, np.ones(n, bool), n_boot=500)
    res = bootstrap_log_wealth(r, signal, baseline_take=np.ones(n, bool), n_boot=500)
    assert res.low > 0 and res.p_not_better < 0.025


def test_all_zero_values_give_degenerate_interval() -> None:
    r = _noise(100)
    res = bootstrap_log_wealth(r, np.zeros(r.size, bool), n_boot=50)
    assert (res.estimate, res.low, res.high, res.p_not_better) == (0.0, 0.0, 0.0, 1.0)


def test_seed_reproducible() -> None:
    r = _noise(2000, seed=15)
    take = r > 0
    assert bootstrap_log_wealth(r, take, seed=3) == bootstrap_log_wealth(r, take, seed=3)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_boot": 0}, "n_boot"),
        ({"level": 1.0}, "level"),
        ({"take": np.array([0, 2, 1])}, "take"),
        ({"baseline_take": np.ones(2, bool)}, "length"),
        ({"log_payoff": np.array([0.1, np.nan, 0.2])}, "NaN"),
    ],
)
def test_bad_arguments_raise(kwargs: dict, match: str) -> None:
    args = {"log_payoff": np.array([0.1, -0.1, 0.2]), "take": np.ones(3, bool), **kwargs}
    with pytest.raises(ValueError, match=match):
        bootstrap_log_wealth(**args)


def test_bootstrap_policies_shares_resamples() -> None:
    rng = np.random.default_rng(18)
    r = _noise(4000, seed=19)
    takes = {"a": r > 0.01, "b": rng.random(r.size) < 0.5, "all": np.ones(r.size, bool)}
    pb = bootstrap_policies(r, takes, n_boot=1000, seed=20)
    assert isinstance(pb, PolicyBootstrap)
    assert pb.samples.shape == (1000, 3)
    for name, take in takes.items():
        res = pb.interval(name)
        assert res.estimate == pytest.approx(log_wealth(r, take))
        single = bootstrap_log_wealth(r, take, n_boot=1000, seed=21)
        assert res.high - res.low == pytest.approx(single.high - single.low, rel=0.15)
    same = pb.interval("b", "b")
    assert (same.estimate, same.low, same.high) == (0.0, 0.0, 0.0)
    diff = pb.interval("a", "all")
    assert diff.estimate == pytest.approx(log_wealth(r, takes["a"]) - log_wealth(r, r == r))
    assert diff.low <= diff.estimate <= diff.high
    with pytest.raises(KeyError, match="nope"):
        pb.interval("nope")


def test_bootstrap_policies_block_matches_single() -> None:
    r = _noise(3000, seed=22)
    dates = np.arange(r.size) // 10
    take = r > -0.02
    pb = bootstrap_policies(r, {"t": take}, n_boot=1500, block=dates, seed=23)
    single = bootstrap_log_wealth(r, take, n_boot=1500, block=dates, seed=24)
    assert pb.n_groups == single.n_groups == 300
    res = pb.interval("t")
    assert res.high - res.low == pytest.approx(single.high - single.low, rel=0.15)


def test_fast_on_200k_rows() -> None:
    import time

    r = _noise(200_000, seed=16)
    take = np.random.default_rng(17).random(r.size) < 0.3
    t0 = time.perf_counter()
    bootstrap_log_wealth(r, take, n_boot=1000)
    assert time.perf_counter() - t0 < 5.0  # about 1 s on a loaded 2-core machine


# -- one engine, and the stationary bootstrap for time-ordered groups --------------------------
def _ar1(phi: float, n: int, seed: int) -> np.ndarray:
    """A stationary AR(1) series ``x_t = phi x_{t-1} + e_t`` (burn-in dropped)."""
    e = np.random.default_rng(seed).standard_normal(n + 100)
    x = np.zeros_like(e)
    for t in range(1, e.size):
        x[t] = phi * x[t - 1] + e[t]
    return x[100:]


def _old_row_bootstrap(sums: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """The i.i.d. draw this module made before it had one engine (sparse, one column)."""
    rng = np.random.default_rng(seed)
    nonzero = sums[sums != 0.0]
    hits = rng.binomial(sums.size, nonzero.size / sums.size, size=n_boot)
    idx = rng.integers(0, nonzero.size, size=int(hits.sum()), dtype=np.int32)
    csum = np.concatenate(([0.0], np.cumsum(nonzero[idx])))
    ends = np.cumsum(hits)
    return csum[ends] - csum[np.concatenate(([0], ends[:-1]))]


def test_iid_draws_are_those_of_before_so_published_numbers_stay() -> None:
    r = _noise(3000, seed=30)
    take = np.random.default_rng(31).random(r.size) < 0.4
    dates = np.arange(r.size) // 6
    for block in (None, dates):
        res = bootstrap_log_wealth(r, take, n_boot=400, seed=32, block=block)
        boot = _old_row_bootstrap(group_sums(take * r, block), 400, 32)
        alpha = 0.5 * (1.0 - 0.95)  # as the module computes it, to the last bit
        low, high = np.quantile(boot, [alpha, 1.0 - alpha])
        assert (res.low, res.high) == (low, high)
        assert res.p_not_better == np.mean(boot <= 0) and res.block_length == 1.0


@pytest.mark.parametrize("block_length", [1.0, 4.0, "auto"])
def test_policies_and_single_policy_share_one_engine(block_length: object) -> None:
    r = _ar1(0.5, 1500, seed=33) * 0.01
    take = r > -0.005
    dates = np.arange(r.size) // 3
    single = bootstrap_log_wealth(r, take, n_boot=300, block=dates, block_length=block_length)
    pb = bootstrap_policies(r, {"t": take}, n_boot=300, block=dates, block_length=block_length)
    assert pb.interval("t") == single
    assert pb.block_length == single.block_length >= 1.0


def test_block_length_grows_with_autocorrelation_and_is_about_1_for_white_noise() -> None:
    n = 2000
    mean_length = {
        phi: np.mean([optimal_block_length(_ar1(phi, n, seed)) for seed in range(4)])
        for phi in (0.0, 0.3, 0.6, 0.85)
    }
    lengths = list(mean_length.values())
    assert lengths == sorted(lengths) and lengths[0] < lengths[1]
    assert 1.0 <= mean_length[0.0] < 2.0
    # Politis-White's optimum for AR(1): (2 phi / (1 - phi^2))^(2/3) n^(1/3).
    theory = (2 * 0.6 / (1 - 0.36)) ** (2 / 3) * n ** (1 / 3)
    assert mean_length[0.6] == pytest.approx(theory, rel=0.3)
    assert optimal_block_length(np.ones(50)) == optimal_block_length([1.0, 2.0]) == 1.0
    with pytest.raises(ValueError, match="finite"):
        optimal_block_length([0.1, np.nan, 0.2])


def test_block_length_matches_arch() -> None:
    arch = pytest.importorskip("arch.bootstrap")
    for phi, seed in ((0.3, 40), (0.6, 41), (0.9, 42)):
        x = _ar1(phi, 1500, seed)
        want = float(arch.optimal_block_length(x)["stationary"].iloc[0])
        assert optimal_block_length(x) == pytest.approx(want, rel=1e-9)


def test_stationary_resamples_match_arch_in_spread() -> None:
    arch = pytest.importorskip("arch.bootstrap")
    x = _ar1(0.7, 600, seed=43)
    ours = bootstrap_log_wealth(x, x == x, n_boot=3000, block_length=8.0, seed=44)
    theirs = arch.StationaryBootstrap(8.0, x, seed=45).apply(np.sum, reps=3000)[:, 0]
    low, high = np.quantile(theirs, [0.025, 0.975])
    assert ours.high - ours.low == pytest.approx(high - low, rel=0.1)


@pytest.mark.parametrize("block_length", [1.5, 7.0])
def test_stationary_blocks_have_the_asked_mean_length(block_length: float) -> None:
    from boostobj.stats import _stationary_blocks

    n_groups, n_boot = 20_000, 50
    starts, lengths = _stationary_blocks(n_groups, block_length, n_boot, np.random.default_rng(46))
    assert (lengths.sum(axis=1) == n_groups).all()  # every resample holds every slot once
    assert ((starts >= 0) & (starts < n_groups)).all()
    n_blocks = (lengths > 0).sum(axis=1)
    assert n_groups / n_blocks.mean() == pytest.approx(block_length, rel=0.02)


def test_stationary_bootstrap_covers_better_than_iid_on_autocorrelated_series() -> None:
    # 95% intervals of the sum of an AR(1) series with mean 0: i.i.d. rows ignore that the
    # variance of the sum is (1 + phi) / (1 - phi) = 4 times larger, and cover ~70%.
    n, reps = 400, 80
    covered = {1.0: 0, "auto": 0}
    for rep in range(reps):
        x = _ar1(0.6, n, seed=100 + rep)
        for block_length in covered:
            res = bootstrap_log_wealth(x, x == x, n_boot=300, seed=rep, block_length=block_length)
            covered[block_length] += res.contains_zero()
    assert covered[1.0] / reps < 0.82
    assert covered["auto"] / reps > 0.86
    assert covered["auto"] > covered[1.0] + 0.1 * reps


def test_stationary_bootstrap_is_reproducible_and_follows_first_appearance() -> None:
    r = _ar1(0.6, 2000, seed=47) * 0.01
    dates = np.arange(r.size) // 4
    take = r > 0
    res = bootstrap_log_wealth(r, take, block=dates, block_length="auto", seed=5)
    assert res == bootstrap_log_wealth(r, take, block=dates, block_length="auto", seed=5)
    assert res != bootstrap_log_wealth(r, take, block=dates, block_length="auto", seed=6)
    assert res.block_length > 2.0 and res.n_groups == 500
    # Group ids whose sort order is not the time order: the rows' order is what counts.
    labels = np.random.default_rng(48).permutation(500).astype(str)[dates]
    assert bootstrap_log_wealth(r, take, block=labels, block_length="auto", seed=5) == res


@pytest.mark.parametrize("block_length", [0.5, "long", np.inf, True])
def test_bad_block_length_raises(block_length: object) -> None:
    with pytest.raises(ValueError, match="block_length"):
        bootstrap_log_wealth(
            np.array([0.1, -0.1, 0.2]), np.ones(3, bool), block_length=block_length
        )
