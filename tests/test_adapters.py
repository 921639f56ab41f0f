"""The XGBoost and LightGBM adapters: built-in twins, scale, metric direction, traps."""

from __future__ import annotations

import copy
import pickle

import lightgbm as lgb
import numpy as np
import pytest
import xgboost as xgb

import boostobj.lightgbm as bl
import boostobj.xgboost as bx
from boostobj import log_wealth, weight_scale


@pytest.fixture(scope="module")
def discrete():
    """Discretised features: both boosters see the same cuts in every variant."""
    rng = np.random.default_rng(0)
    n = 4000
    X = rng.integers(0, 8, size=(n, 4)).astype(np.float32)
    r = 0.1 * (X[:, 0] - 3.5) / 3 + 0.05 * np.sin(X[:, 1]) + rng.normal(0, 0.05, n)
    sw = rng.uniform(0.5, 2.0, n)
    return X, np.exp(r), r, sw


# Same (normalised) weights on both sides, so the boosters' defaults need no scale invariance.
XGB_TWIN = {"max_depth": 3, "eta": 0.3, "tree_method": "hist", "max_bin": 16, "nthread": 2}
LGB_TWIN = {"num_leaves": 7, "learning_rate": 0.3, "max_bin": 15, "verbose": -1, "num_threads": 2}


@pytest.mark.parametrize("with_weights", [False, True])
def test_xgboost_matches_builtin_weighted_logistic(discrete, with_weights):
    X, p, r, sw = discrete
    sw = sw if with_weights else None
    ours = xgb.train({**XGB_TWIN, **bx.PARAMS}, bx.dmatrix(X, p, sw), 30, obj=bx.objective)
    # the twin: built-in logistic with the same normalised weights |log p| * sw / scale
    w = np.abs(r) * (1.0 if sw is None else sw) / weight_scale(r, sw)
    twin_data = xgb.DMatrix(X, label=(r > 0).astype(float), weight=w)
    # base_score=0.5 is margin 0: XGBoost would otherwise fit the intercept for the twin
    twin = xgb.train({**XGB_TWIN, "objective": "binary:logistic", "base_score": 0.5},
                     twin_data, 30)  # fmt: skip
    m_ours = ours.predict(xgb.DMatrix(X))
    m_twin = twin.predict(xgb.DMatrix(X), output_margin=True)
    assert np.abs(m_ours - m_twin).max() < 1e-5
    assert np.abs(m_ours).max() > 0.5  # the models learned something


@pytest.mark.parametrize("with_weights", [False, True])
def test_lightgbm_matches_builtin_weighted_binary(discrete, with_weights):
    X, p, r, sw = discrete
    sw = sw if with_weights else None
    ours = lgb.train({**LGB_TWIN, "objective": bl.objective}, bl.dataset(X, p, sw), 30)
    w = np.abs(r) * (1.0 if sw is None else sw) / weight_scale(r, sw)
    twin_data = lgb.Dataset(X, label=(r > 0).astype(float), weight=w)
    params = {**LGB_TWIN, "objective": "binary", "boost_from_average": False}
    twin = lgb.train(params, twin_data, 30)
    # Not bit-equal: LightGBM computes its gradients in float64 and stores them as float32;
    # our kernel computes in float32 (what LightGBM keeps) from float64 weights.
    assert np.abs(ours.predict(X) - twin.predict(X, raw_score=True)).max() < 1e-6
    assert np.abs(ours.predict(X)).max() > 0.5


def _daily_returns(n=400, seed=1):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    r = 0.002 * X[:, 0] + rng.normal(0, 0.01, n)  # |log p| ~ 0.01, like daily stock returns
    return X, np.exp(r), r


def test_daily_return_scale_splits_with_default_params():
    X, p, _ = _daily_returns()
    ours = xgb.train({**bx.PARAMS, "nthread": 2}, bx.dmatrix(X, p), 5, obj=bx.objective)
    assert len(ours.get_dump()[0].splitlines()) > 1  # a tree, not a single leaf
    unscaled = xgb.train(
        {**bx.PARAMS, "nthread": 2}, bx.dmatrix(X, p), 5, obj=bx.make_objective(scale=1.0)
    )
    # the trap the scale avoids: hessian sum 400 * 0.25 * 0.01 < min_child_weight=1, no split
    assert len(unscaled.get_dump()[0].splitlines()) == 1
    booster = lgb.train(
        {"objective": bl.objective, "verbose": -1, "num_threads": 2}, bl.dataset(X, p), 5
    )
    assert booster.dump_model()["tree_info"][0]["num_leaves"] > 1


def test_metric_is_log_wealth_at_threshold(discrete):
    X, p, r, _ = discrete
    margin = np.linspace(-2, 2, r.size).astype(np.float32)
    d = bx.dmatrix(X, p)
    name, value = bx.metric(margin, d)
    assert name == "log_wealth"
    assert value == pytest.approx(r[margin >= 0].sum(), rel=1e-6)
    name, value = bx.make_metric(threshold=0.7)(margin, d)
    assert value == pytest.approx(r[margin >= np.log(0.7 / 0.3)].sum(), rel=1e-6)
    ds = bl.dataset(X, p).construct()
    name, value, higher_is_better = bl.metric(margin.astype(float), ds)
    assert (name, higher_is_better) == ("log_wealth", True)
    assert value == pytest.approx(r[margin >= 0].sum(), rel=1e-6)


def test_xgboost_early_stopping_maximises_log_wealth():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(6000, 3))
    r = 0.3 * np.tanh(X[:, 0]) + rng.normal(0, 0.5, 6000)
    dtr, dva = bx.dmatrix(X[:3000], np.exp(r[:3000])), bx.dmatrix(X[3000:], np.exp(r[3000:]))
    history: dict = {}
    booster = xgb.train(
        {**bx.PARAMS, "eta": 0.3, "max_depth": 6, "nthread": 2}, dtr, 200,
        obj=bx.objective, custom_metric=bx.metric, evals=[(dva, "valid")],
        early_stopping_rounds=20, maximize=True, evals_result=history,
    )  # fmt: skip
    curve = history["valid"]["log_wealth"]
    assert booster.best_score == pytest.approx(max(curve))
    assert curve[booster.best_iteration] == pytest.approx(max(curve))


def test_lightgbm_early_stopping_maximises_log_wealth():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(6000, 3))
    r = 0.3 * np.tanh(X[:, 0]) + rng.normal(0, 0.5, 6000)
    dtr = bl.dataset(X[:3000], np.exp(r[:3000]))
    dva = bl.dataset(X[3000:], np.exp(r[3000:]), reference=dtr)
    history: dict = {}
    booster = lgb.train(
        {"objective": bl.objective, "learning_rate": 0.3, "verbose": -1, "num_threads": 2},
        dtr, 200, valid_sets=[dva], feval=bl.metric,
        callbacks=[lgb.early_stopping(20, verbose=False), lgb.record_evaluation(history)],
    )  # fmt: skip
    curve = history["valid_0"]["log_wealth"]
    assert curve[booster.best_iteration - 1] == pytest.approx(max(curve))
    margin = booster.predict(X[3000:])
    assert log_wealth(r[3000:], margin >= 0) == pytest.approx(max(curve), rel=1e-5)


def test_lightgbm_preds_buffer_is_not_modified(discrete):
    X, p, _, _ = discrete
    ds = bl.dataset(X, p).construct()
    preds = np.linspace(-3, 3, X.shape[0])
    before = preds.copy()
    bl.objective(preds, ds)
    np.testing.assert_array_equal(preds, before)


def test_objectives_survive_deepcopy_and_pickle(discrete):
    """LightGBM deep-copies params and Dask pickles objectives: caches must not travel."""
    X, p, _, _ = discrete
    margin = np.zeros(X.shape[0], dtype=np.float32)
    d = bx.dmatrix(X, p)
    expected = [a.copy() for a in bx.objective(margin, d)]
    for clone in (copy.deepcopy(bx.objective), pickle.loads(pickle.dumps(bx.make_metric))):
        assert clone is not None
    obj = bx.make_objective(scale=0.5)
    copied = copy.deepcopy({"objective": obj})["objective"]
    assert copied is obj  # a function is not copied, so its cache is kept
    g, h = copy.deepcopy(bl.objective)(margin.astype(float), bl.dataset(X, p).construct())
    np.testing.assert_allclose(g, expected[0], rtol=1e-6)
    np.testing.assert_allclose(h, expected[1], rtol=1e-6)


@pytest.mark.parametrize("threads", [1, 3])
def test_chunked_kernel_equals_one_call(monkeypatch, loss, threads):
    """Rows split into chunks (on a thread pool) give exactly the one-piece kernel's output,
    for every loss, also from LightGBM's float64 scores, which are cast chunk by chunk."""
    from boostobj import _adapter

    monkeypatch.setattr(_adapter, "CHUNK_ROWS", 1000)
    rng = np.random.default_rng(7)
    n = 10_500  # ten full chunks and a short one
    X = np.zeros((n, 1))
    r = rng.normal(0, 0.3, n).astype(np.float32).astype(float)  # both store labels as float32
    margin = rng.normal(0, 3, n)
    margin[:4] = [-1e4, 1e4, -40.5, 60.0]
    c = loss.weight_scale(r)
    expected = loss.gradient_hessian(margin.astype(np.float32), r, scale=c)
    for got in (
        bx.make_objective(loss, n_threads=threads)(
            margin.astype(np.float32), bx.dmatrix(X, np.exp(r))
        ),
        bl.make_objective(loss, n_threads=threads)(margin, bl.dataset(X, np.exp(r)).construct()),
    ):
        for a, b in zip(got, expected, strict=True):
            assert a.dtype == np.float32
            np.testing.assert_array_equal(a, b)


def test_kernel_task_errors_reach_the_caller(monkeypatch):
    from boostobj import _adapter

    monkeypatch.setattr(_adapter, "CHUNK_ROWS", 10)

    def task(i, j):
        if i == 30:
            raise RuntimeError("chunk 30 failed")

    with pytest.raises(RuntimeError, match="chunk 30"):
        _adapter.run_chunked(task, 100, threads=2)


def test_kernel_pool_works_in_a_forked_child(monkeypatch):
    """A pool made before a fork has no threads in the child: the child must build its own."""
    import multiprocessing as mp

    from boostobj import _adapter

    if "fork" not in mp.get_all_start_methods():
        pytest.skip("no fork on this platform")
    monkeypatch.setattr(_adapter, "CHUNK_ROWS", 10)
    _adapter.run_chunked(lambda i, j: None, 100, threads=2)  # the parent's pool exists
    with mp.get_context("fork").Pool(1) as pool:
        assert pool.apply_async(_fill_chunked).get(timeout=60) == 100


def _fill_chunked() -> int:
    from boostobj import _adapter

    _adapter.CHUNK_ROWS = 10
    out = np.zeros(100)
    _adapter.run_chunked(lambda i, j: out.__setitem__(slice(i, j), 1.0), 100, threads=2)
    return int(out.sum())


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_n_threads_is_checked(bad):
    with pytest.raises(ValueError, match="n_threads"):
        bx.make_objective(n_threads=bad)
    with pytest.raises(ValueError, match="n_threads"):
        bl.make_objective(n_threads=bad)


def test_objective_reads_each_data_object(discrete):
    """No closure over arrays: the same objective serves any DMatrix (e.g. each partition)."""
    X, p, r, _ = discrete
    half = X.shape[0] // 2
    d1, d2 = bx.dmatrix(X[:half], p[:half]), bx.dmatrix(X[half:], p[half:])
    g1, _ = bx.objective(np.zeros(half, np.float32), d1)
    g1 = g1.copy()
    g2, _ = bx.objective(np.zeros(X.shape[0] - half, np.float32), d2)
    scale2 = np.abs(r[half:]).mean()
    np.testing.assert_allclose(g2, 0.5 * np.abs(r[half:]) / scale2 * np.where(r[half:] > 0, -1, 1),
                               rtol=1e-5)  # fmt: skip
    assert not np.allclose(g1[:10], g2[:10])


def test_adapters_reject_bad_data():
    with pytest.raises(ValueError, match="length mismatch"):
        bx.dmatrix(np.zeros((3, 2)), [1.1, 0.9])
    with pytest.raises(ValueError, match="non-positive"):
        bl.dataset(np.zeros((2, 2)), [1.1, 0.0])
    d = xgb.DMatrix(np.zeros((2, 2)), label=[0.0, 0.0])
    with pytest.raises(ValueError, match="all payoffs are 1"):
        bx.objective(np.zeros(2, np.float32), d)
    with pytest.raises(ValueError, match="binary"):
        bx.objective(np.zeros((2, 2), np.float32), d)


@pytest.mark.parametrize("case", sorted(__import__("conftest").LOSS_CASES))
def test_boosting_decreases_every_loss_on_both_boosters(case):
    from conftest import case_loss

    loss = case_loss(case)
    rng = np.random.default_rng(5)
    X = rng.normal(size=(3000, 3))
    r = 0.2 * np.tanh(2 * X[:, 0]) + rng.normal(0, 0.2, 3000)
    p, scale = np.exp(r), loss.weight_scale(r)

    def total(margin):
        return loss.loss(margin, r, scale=scale).sum()

    start = total(np.zeros(r.size))
    params = {**bx.PARAMS, "eta": 0.1, "max_depth": 3, "nthread": 2}
    obj = bx.make_objective(loss)
    d = bx.dmatrix(X, p)
    few, many = (xgb.train(params, d, n, obj=obj).predict(d) for n in (5, 40))
    assert total(many) < total(few) < start
    lparams = {"learning_rate": 0.1, "num_leaves": 7, "verbose": -1, "num_threads": 2}
    lparams["objective"] = bl.make_objective(loss)
    ds = bl.dataset(X, p)
    few, many = (lgb.train(lparams, ds, n).predict(X) for n in (5, 40))
    assert total(many) < total(few) < start


def test_stake_metric_for_kelly_models(discrete):
    X, p, r, _ = discrete
    margin = np.linspace(-2, 2, r.size)
    expected = np.log1p(np.expm1(r) / (1 + np.exp(-margin))).sum()
    name, value = bx.make_metric(stake=True)(margin.astype(np.float32), bx.dmatrix(X, p))
    assert name == "stake_log_wealth" and value == pytest.approx(expected, rel=1e-5)
    name, value, higher = bl.make_metric(stake=True)(margin, bl.dataset(X, p).construct())
    assert (name, higher) == ("stake_log_wealth", True) and value == pytest.approx(expected, 1e-5)


def test_cuda_objective_is_import_safe_without_cupy(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_cupy(name, *args, **kwargs):
        if name == "cupy":
            raise ImportError("no cupy here")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_cupy)
    with pytest.raises(ImportError, match="device='cuda' computes gradients with cupy"):
        bx.make_objective(device="cuda")
    with pytest.raises(ValueError, match="device must be"):
        bx.make_objective(device="tpu")


def test_objective_runs_on_any_array_module(discrete):
    """The kernel only uses ufuncs with out=: a numpy-compatible module (cupy) runs it as is."""
    import boostobj._adapter as ad

    X, p, _, _ = discrete
    d = bx.dmatrix(X, p)
    margin = np.linspace(-3, 3, X.shape[0]).astype(np.float32)
    expected = [a.copy() for a in bx.objective(margin, d)]
    got = ad.gradient_hessian(
        bx.get_loss("logistic"), None, ad.DataCache(), d, margin, bx._read, xp=np
    )
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_array_equal(got[1], expected[1])


def test_loss_metric_is_the_mean_surrogate_loss(discrete):
    from boostobj.losses import WeightedLogistic

    X, p, r, sw = discrete
    margin = np.linspace(-2, 2, r.size)
    expected = WeightedLogistic().loss(margin, r, sw, scale=0.7).mean()
    name, value = bx.make_loss_metric(scale=0.7)(margin.astype(np.float32), bx.dmatrix(X, p, sw))
    assert name == "logistic_loss" and value == pytest.approx(expected, rel=1e-5)
    name, value, higher = bl.make_loss_metric(scale=0.7)(margin, bl.dataset(X, p, sw).construct())
    assert higher is False and value == pytest.approx(expected, rel=1e-6)


def test_squared_error_matches_both_boosters_builtin_regression(discrete):
    """The squared loss on log p is each booster's own squared-error regression on log p."""
    X, p, r, sw = discrete
    obj = bx.make_objective("squared", scale=1.0)
    ours = xgb.train({**XGB_TWIN, **bx.PARAMS}, bx.dmatrix(X, p, sw), 30, obj=obj)
    twin = xgb.train({**XGB_TWIN, "objective": "reg:squarederror", "base_score": 0.0},
                     xgb.DMatrix(X, label=r, weight=sw), 30)  # fmt: skip
    m_ours = ours.predict(xgb.DMatrix(X), output_margin=True)
    assert np.abs(m_ours - twin.predict(xgb.DMatrix(X))).max() < 1e-5
    assert np.corrcoef(m_ours, r)[0, 1] > 0.5  # it learned log p
    lgb_obj = bl.make_objective("squared", scale=1.0)
    ours_l = lgb.train({**LGB_TWIN, "objective": lgb_obj}, bl.dataset(X, p, sw), 30)
    params = {**LGB_TWIN, "objective": "regression", "boost_from_average": False}
    twin_l = lgb.train(params, lgb.Dataset(X, label=r, weight=sw), 30)
    assert np.abs(ours_l.predict(X) - twin_l.predict(X)).max() < 1e-6
