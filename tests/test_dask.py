"""boostobj on a Dask cluster: built-in twins, one global scale, no closure over arrays.

One module-scoped ``LocalCluster`` of 2 worker processes (LightGBM's network is one per
process, so threaded workers cannot run distributed LightGBM). Features are discretised
(integers 0..7): distributed quantile sketches then cut exactly as one machine would.
"""

from __future__ import annotations

import types

import numpy as np
import pytest

pytest.importorskip("distributed")  # the module needs a cluster (conftest.client)
da = pytest.importorskip("dask.array")
xgb = pytest.importorskip("xgboost")
lgb = pytest.importorskip("lightgbm")
from lightgbm.dask import DaskLGBMClassifier, DaskLGBMRegressor  # noqa: E402
from xgboost import dask as dxgb  # noqa: E402

import boostobj.dask as bd  # noqa: E402
import boostobj.lightgbm as bl  # noqa: E402
import boostobj.xgboost as bx  # noqa: E402
from boostobj import LGBMWealthClassifier, XGBWealthClassifier, log_wealth, weight_scale  # noqa: E402
from boostobj.losses import get_loss  # noqa: E402

pytestmark = pytest.mark.filterwarnings(
    "ignore:Parameter n_jobs will be ignored:UserWarning",  # lightgbm.dask, always
    "ignore:Found '.*' in params:UserWarning",
)

N, CHUNK = 4000, 1000
XGB_TWIN = {"max_depth": 3, "eta": 0.3, "tree_method": "hist", "max_bin": 16, "seed": 0}
LGB_TWIN = {"num_leaves": 7, "learning_rate": 0.3, "max_bin": 15, "verbose": -1, "seed": 0}
ROUNDS = 10


@pytest.fixture(scope="module")
def data():
    """4 partitions; the first has 3x larger |log p|, so partition scales differ from the
    global one."""
    rng = np.random.default_rng(0)
    X = rng.integers(0, 8, size=(N, 5)).astype(np.float64)
    r = 0.1 * (X[:, 0] - 3.5) / 3 + 0.05 * np.sin(X[:, 1]) + rng.normal(0, 0.05, N)
    r[:CHUNK] *= 3.0
    sw = rng.uniform(0.5, 2.0, N)
    Xd = da.from_array(X, chunks=(CHUNK, 5))
    return X, np.exp(r), r, sw, Xd


def _twin_weights(r, sw=None):
    return np.abs(r) * (1.0 if sw is None else sw) / weight_scale(r, sw)


def _xgb_twin(client, X, Xd, r, sw=None):
    w = da.from_array(_twin_weights(r, sw), chunks=CHUNK)
    y = da.from_array((r > 0).astype(np.float64), chunks=CHUNK)
    params = {**XGB_TWIN, "objective": "binary:logistic", "base_score": 0.5}
    out = dxgb.train(client, params, dxgb.DaskDMatrix(client, Xd, label=y, weight=w), ROUNDS)
    return out["booster"].predict(xgb.DMatrix(X), output_margin=True)


def _lgb_twin(client, X, Xd, r, sw=None):
    w = da.from_array(_twin_weights(r, sw), chunks=CHUNK)
    y = da.from_array((r > 0).astype(np.int64), chunks=CHUNK)
    twin = DaskLGBMClassifier(
        client=client, objective="binary", boost_from_average=False, n_estimators=ROUNDS,
        **LGB_TWIN,
    )  # fmt: skip
    twin.fit(Xd, y, sample_weight=w)
    return twin.booster_.predict(X, raw_score=True)


# -- built-in twins ---------------------------------------------------------------------------


@pytest.mark.parametrize("with_weights", [False, True])
def test_xgboost_dask_train_matches_builtin_twin(client, data, with_weights):
    X, p, r, sw, Xd = data
    sw = sw if with_weights else None
    scale = bd.weight_scale(client, da.from_array(p, chunks=CHUNK), sw)
    sw_d = None if sw is None else da.from_array(sw, chunks=CHUNK)
    dtrain = dxgb.DaskDMatrix(client, Xd, label=da.from_array(r, chunks=CHUNK), weight=sw_d)
    out = dxgb.train(
        client, {**XGB_TWIN, **bx.PARAMS}, dtrain, ROUNDS,
        obj=bx.make_objective(scale=scale), custom_metric=bx.metric, evals=[(dtrain, "train")],
    )  # fmt: skip
    ours = out["booster"].predict(xgb.DMatrix(X))
    twin = _xgb_twin(client, X, Xd, r, sw)
    assert np.abs(ours - twin).max() < 1e-5
    assert np.abs(ours).max() > 0.5  # learned something
    # the returned estimator of fit_xgboost is the same model
    est = bd.fit_xgboost(
        client, Xd, da.from_array(p, chunks=CHUNK), sample_weight=sw_d, n_estimators=ROUNDS,
        learning_rate=0.3, max_depth=3, params={"max_bin": 16},
    )  # fmt: skip
    assert np.abs(est.decision_function(X) - twin).max() < 1e-5


@pytest.mark.parametrize("with_weights", [False, True])
def test_lightgbm_dask_matches_builtin_twin(client, data, with_weights):
    X, p, r, sw, Xd = data
    sw = sw if with_weights else None
    sw_d = None if sw is None else da.from_array(sw, chunks=CHUNK)
    scale = bd.weight_scale(client, da.from_array(p, chunks=CHUNK), sw_d)
    ours = DaskLGBMRegressor(
        client=client, objective=bd.lightgbm_objective(scale=scale), n_estimators=ROUNDS,
        **LGB_TWIN,
    )  # fmt: skip
    rd = da.from_array(r, chunks=CHUNK)
    metric = bd.lightgbm_metric()
    ours.fit(Xd, rd, sample_weight=sw_d, eval_X=(Xd,), eval_y=(rd,), eval_metric=metric)
    margin = ours.booster_.predict(X, raw_score=True)
    # the metric ran (on the returned worker's own rows: LightGBM does not sum it over workers)
    assert len(ours.evals_result_["valid_0"]["log_wealth"]) == ROUNDS
    twin = _lgb_twin(client, X, Xd, r, sw)
    assert np.abs(margin - twin).max() < 1e-5
    assert np.abs(margin).max() > 0.5
    est = bd.fit_lightgbm(
        client, Xd, da.from_array(p, chunks=CHUNK), sample_weight=sw_d, n_estimators=ROUNDS,
        learning_rate=0.3, num_leaves=7, params={"max_bin": 15},
    )  # fmt: skip
    assert np.abs(est.decision_function(X) - twin).max() < 1e-5


# -- one global scale --------------------------------------------------------------------------


def test_scale_is_global_not_a_partitions(client, data):
    _X, p, r, sw, Xd = data
    p_d = da.from_array(p, chunks=CHUNK)
    est = bd.fit_xgboost(client, Xd, p_d, n_estimators=2)
    assert est.scale_ == pytest.approx(weight_scale(r), rel=1e-12)
    part_scales = [weight_scale(r[i : i + CHUNK]) for i in range(0, N, CHUNK)]
    assert all(abs(s / est.scale_ - 1) > 0.05 for s in part_scales)
    assert bd.weight_scale(client, p_d, sw) == pytest.approx(weight_scale(r, sw), rel=1e-12)
    power = get_loss("logistic", power=0.5)
    assert bd.weight_scale(client, p_d, loss=power) == pytest.approx(power.weight_scale(r))


def test_per_partition_scale_is_refused(client, data):
    """The scale=None objective would divide by each worker's own mean |log p| and train
    another model than one machine: under xgboost.dask it refuses, naming the fix."""
    _X, _p, r, _sw, Xd = data
    dtrain = dxgb.DaskDMatrix(client, Xd, label=da.from_array(r, chunks=CHUNK))
    with pytest.raises(ValueError, match=r"boostobj\.dask\.xgboost_objective\(scale="):
        dxgb.train(client, {**XGB_TWIN, **bx.PARAMS}, dtrain, ROUNDS, obj=bx.objective)


# -- no closure over arrays ------------------------------------------------------------------


def _closure_values(fn, depth=0):
    """Everything a function's closure holds, recursing into closed-over functions."""
    out = []
    for cell in fn.__closure__ or ():
        value = cell.cell_contents
        out.append(value)
        if isinstance(value, types.FunctionType) and depth < 5:
            out += _closure_values(value, depth + 1)
    for extra in (fn.__defaults__ or ()) + tuple((fn.__kwdefaults__ or {}).values()):
        out.append(extra)
    return out


OBJECTIVES = {
    "xgboost.objective": lambda: bx.objective,
    "xgboost.make_objective": lambda: bx.make_objective(scale=0.3),
    "lightgbm.make_objective": lambda: bl.make_objective(scale=0.3),
    "dask.xgboost_objective": lambda: bd.xgboost_objective(scale=0.3),
    "dask.lightgbm_objective": lambda: bd.lightgbm_objective(scale=0.3),
    "dask.xgboost_metric": lambda: bd.xgboost_metric(),
    "dask.lightgbm_metric": lambda: bd.lightgbm_metric(),
}


@pytest.mark.parametrize("make", OBJECTIVES.values(), ids=OBJECTIVES.keys())
def test_objective_closure_holds_no_array(make):
    values = _closure_values(make())
    assert values  # it is a closure: loss, scale, cache
    for v in values:
        assert not isinstance(v, (np.ndarray, da.Array, list, tuple, dict)), type(v)
        assert not hasattr(v, "__array__"), type(v)


def test_one_objective_serves_two_partitions(data):
    """The same objective, called alternately on two partitions' DMatrix objects, gives each
    one its own gradients (read from that DMatrix), with the fixed global scale."""
    X, _p, r, sw, _ = data
    scale = weight_scale(r, sw)
    loss = get_loss("logistic")
    obj = bd.xgboost_objective(scale=scale)
    parts = [slice(0, CHUNK), slice(2 * CHUNK, 3 * CHUNK)]
    dms = [xgb.DMatrix(X[s], label=r[s], weight=sw[s]) for s in parts]
    rng = np.random.default_rng(1)
    for _ in range(2):
        for s, dm in zip(parts, dms, strict=True):
            margin = rng.normal(0, 2, CHUNK).astype(np.float32)
            grad, hess = (a.copy() for a in obj(margin, dm))
            want_g, want_h = loss.gradient_hessian(margin, dm.get_label(), sw[s], scale)
            np.testing.assert_allclose(grad, want_g, rtol=1e-6, atol=1e-9)
            np.testing.assert_allclose(hess, want_h, rtol=1e-6, atol=1e-9)
    # an empty partition (a worker with no training rows) gets empty gradients
    g, h = obj(np.empty(0, np.float32), xgb.DMatrix(np.empty((0, 5)), label=np.empty(0)))
    assert g.shape == h.shape == (0,)


# -- the returned estimators ------------------------------------------------------------------


@pytest.mark.parametrize("fit", [bd.fit_xgboost, bd.fit_lightgbm], ids=["xgboost", "lightgbm"])
def test_fit_returns_a_fitted_single_machine_estimator(client, data, fit, tmp_path):
    X, p, r, _sw, Xd = data
    est = fit(client, Xd, da.from_array(p, chunks=CHUNK), n_estimators=5, threshold=0.45)
    assert isinstance(est, (XGBWealthClassifier, LGBMWealthClassifier))
    assert est.threshold == 0.45 and est.n_rounds_ == 5 and est.n_features_in_ == 5
    assert est.feature_names_in_ is None
    np.testing.assert_array_equal(est.classes_, [0, 1])
    if isinstance(est, XGBWealthClassifier):
        booster_margin = est.booster_.predict(xgb.DMatrix(X), output_margin=True)
    else:
        booster_margin = est.booster_.predict(X, raw_score=True)
    np.testing.assert_array_equal(est.decision_function(X), booster_margin)
    assert est.score(X, p) == pytest.approx(log_wealth(r, est.predict(X)))
    lazy = bd.decision_function(est, Xd)
    assert isinstance(lazy, da.Array)
    np.testing.assert_array_equal(lazy.compute(), booster_margin)
    loaded = type(est).load(est.save(tmp_path / "m"))
    np.testing.assert_array_equal(loaded.decision_function(X), booster_margin)
    assert loaded.scale_ == est.scale_


def test_dataframe_inputs(client, data):
    pd = pytest.importorskip("pandas")
    dd = pytest.importorskip("dask.dataframe")
    X, p, r, _sw, _ = data
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(5)])
    X_dd = dd.from_pandas(df, npartitions=3)
    p_dd = dd.from_pandas(pd.Series(p), npartitions=3)
    for fit in (bd.fit_xgboost, bd.fit_lightgbm):
        est = fit(client, X_dd, p_dd, n_estimators=3)
        assert list(est.feature_names_in_) == list(df.columns)
        assert est.scale_ == pytest.approx(weight_scale(r), rel=1e-12)
        np.testing.assert_array_equal(est.decision_function(df), est.decision_function(X))


# -- evaluation and early stopping ------------------------------------------------------------


def _curve_single_machine(est, X, r, rounds):
    if isinstance(est, XGBWealthClassifier):
        dm = xgb.DMatrix(X)
        margins = [est.booster_.predict(dm, iteration_range=(0, k)) for k in rounds]
    else:
        margins = [est.booster_.predict(X, num_iteration=k, raw_score=True) for k in rounds]
    return np.array([log_wealth(r, m >= 0) for m in margins])


@pytest.mark.parametrize("fit", [bd.fit_xgboost, bd.fit_lightgbm], ids=["xgboost", "lightgbm"])
def test_eval_metric_is_global_and_early_stopping_maximises(client, data, fit):
    _X, p, _r, _sw, Xd = data
    rng = np.random.default_rng(7)  # a held-out set from the same law, so the curve turns
    Xv = rng.integers(0, 8, size=(1400, 5)).astype(np.float64)
    pv = np.exp(0.1 * (Xv[:, 0] - 3.5) / 3 + 0.05 * np.sin(Xv[:, 1]) + rng.normal(0, 0.05, 1400))
    est = fit(
        client, Xd, da.from_array(p, chunks=CHUNK),
        eval_set=[(da.from_array(Xv, chunks=(700, 5)), da.from_array(pv, chunks=700))],
        n_estimators=60, learning_rate=0.3, early_stopping_rounds=5,
        early_stopping_metric="log_wealth",
    )  # fmt: skip
    curve = np.asarray(est.evals_result_["valid_0"]["log_wealth"], dtype=np.float64)
    kept = est.n_rounds_
    # the whole eval set's log-wealth (summed over workers), round by round
    want = _curve_single_machine(est, Xv, np.log(pv), range(1, kept + 1))
    np.testing.assert_allclose(curve[:kept], want, rtol=1e-6, atol=1e-5)
    # early stopping maximised: the kept round is the first best, and it stopped 5 rounds later
    assert kept == int(np.argmax(curve)) + 1
    assert len(curve) == min(kept + 5, 60)
    assert kept < 60


@pytest.mark.parametrize("fit", [bd.fit_xgboost, bd.fit_lightgbm], ids=["xgboost", "lightgbm"])
def test_default_early_stopping_minimises_the_global_surrogate_loss(client, data, fit):
    _X, p, _r, _sw, Xd = data
    rng = np.random.default_rng(8)
    Xv = rng.integers(0, 8, size=(1400, 5)).astype(np.float64)
    pv = np.exp(0.1 * (Xv[:, 0] - 3.5) / 3 + 0.05 * np.sin(Xv[:, 1]) + rng.normal(0, 0.05, 1400))
    est = fit(
        client, Xd, da.from_array(p, chunks=CHUNK),
        eval_set=[(da.from_array(Xv, chunks=(700, 5)), da.from_array(pv, chunks=700))],
        n_estimators=200, learning_rate=0.5, early_stopping_rounds=5,
    )  # fmt: skip
    curve = np.asarray(est.evals_result_["valid_0"]["logistic_loss"], dtype=np.float64)
    kept = est.n_rounds_
    assert kept == int(np.argmin(curve)) + 1 and len(curve) == min(kept + 5, 200)
    # the value is the whole eval set's mean loss at the training scale
    margin = est.decision_function(Xv)
    whole = est.get_loss().loss(margin, np.log(pv), scale=est.scale_).mean()
    assert curve[kept - 1] == pytest.approx(whole, rel=1e-5)


def test_kelly_stake_metric_passes_through(client, data):
    _X, p, _r, _sw, Xd = data
    est = bd.fit_lightgbm(
        client, Xd, da.from_array(p, chunks=CHUNK), loss="kelly", n_estimators=3,
        eval_set=[(Xd, da.from_array(p, chunks=CHUNK))],
    )  # fmt: skip
    assert set(est.evals_result_["valid_0"]) == {"stake_log_wealth", "kelly_loss"}


# -- input checks, before any training --------------------------------------------------------


@pytest.fixture
def no_training(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("training started despite bad input")

    monkeypatch.setattr(dxgb, "train", fail)
    monkeypatch.setattr(DaskLGBMRegressor, "fit", fail)


@pytest.mark.parametrize("fit", [bd.fit_xgboost, bd.fit_lightgbm], ids=["xgboost", "lightgbm"])
@pytest.mark.parametrize(
    ("what", "value", "match"),
    [
        ("p", 0.0, r"p\[1000:2000\]: p has 1 non-positive value .*index 500"),
        ("p", np.nan, r"p\[1000:2000\]: p has 1 NaN or infinite"),
        ("X", np.inf, r"X\[1000:2000\]: X has an infinite value at row 500"),
        ("sw", -1.0, r"sample_weight\[1000:2000\]: sample_weight has 1 negative"),
        ("eval_p", -2.0, r"eval_set\[0\] p\[1000:2000\]: .*non-positive"),
    ],
)
def test_bad_inputs_raise_before_training(client, data, no_training, fit, what, value, match):
    X, p, _r, sw, _ = data
    X, p, sw = X.copy(), p.copy(), sw.copy()
    pv = p.copy()
    {"p": p, "sw": sw, "eval_p": pv}.get(what, X[:, 2])[1500] = value
    chunks = (CHUNK, 5)
    with pytest.raises(ValueError, match=match):
        fit(
            client, da.from_array(X, chunks=chunks), da.from_array(p, chunks=CHUNK),
            sample_weight=da.from_array(sw, chunks=CHUNK),
            eval_set=[(da.from_array(X, chunks=chunks), da.from_array(pv, chunks=CHUNK))],
        )  # fmt: skip


def test_shape_errors(client, data):
    X, p, _r, _sw, Xd = data
    with pytest.raises(ValueError, match="length mismatch"):
        bd.fit_xgboost(client, Xd, da.from_array(p[:-1], chunks=CHUNK))
    with pytest.raises(ValueError, match="eval_set\\[0\\] X has 4 features"):
        bd.fit_xgboost(client, Xd, p, eval_set=[(X[:, :4], p)])
    with pytest.raises(ValueError, match="scale must be a finite number > 0"):
        bd.xgboost_objective(scale=float("nan"))
    with pytest.raises(TypeError):
        bd.lightgbm_objective()  # scale is required under Dask


def test_fit_names_the_booster_and_checks_the_estimator_first(client, data, no_training):
    _X, p, _r, _sw, Xd = data
    with pytest.raises(ValueError, match="unknown booster 'catboost'; choose one of xgboost"):
        bd.fit(client, Xd, p, booster="catboost")
    with pytest.raises(ValueError, match="early_stopping_metric"):
        bd.fit(client, Xd, p, booster="lightgbm", early_stopping_metric="auc")
    with pytest.raises(ValueError, match="n_estimators"):  # the estimators' option checks
        bd.fit(client, Xd, p, booster="xgboost", n_estimators=0)
    with pytest.raises(NotImplementedError, match="payoff_columns"):
        bd.fit_xgboost(client, Xd, p, loss="outcome", payoff_columns=(0, 1))


@pytest.mark.parametrize("fit", [bd.fit_xgboost, bd.fit_lightgbm], ids=["xgboost", "lightgbm"])
@pytest.mark.parametrize("kind", ["str", "category", "float_codes"])
def test_categorical_columns_train_as_on_one_machine(client, fit, kind):
    """Text and category columns of a dask DataFrame: the same levels and codes as one
    machine's estimator learns, so the saved-and-loaded model predicts pandas frames."""
    pd = pytest.importorskip("pandas")
    dd = pytest.importorskip("dask.dataframe")
    rng = np.random.default_rng(3)
    league = rng.choice(list("abcdef"), N)
    r = np.where(np.isin(league, ["b", "d"]), 0.05, -0.05) + 0.1 * rng.normal(size=N)
    df = pd.DataFrame({"x": rng.normal(size=N), "league": league})
    if kind == "float_codes":  # categories 0.0 .. 5.0: named "0" .. "5", as on one machine
        codes = df["league"].map({c: float(i) for i, c in enumerate("abcdef")})
        df["league"] = codes.astype("category")
        league = np.array(list("abcdef"))[codes.astype(int)]
    else:
        df = df.astype({"league": kind})
    X_dd = dd.from_pandas(df, npartitions=4)
    p_dd = dd.from_pandas(pd.Series(np.exp(r)), npartitions=4)
    est = fit(client, X_dd, p_dd, n_estimators=20, eval_set=[(X_dd, p_dd)])
    names = "012345" if kind == "float_codes" else "abcdef"
    assert est.categories_ == ((1, tuple(names)),)
    take = est.predict(df)
    assert np.mean(take == np.isin(league, ["b", "d"])) > 0.98
    np.testing.assert_array_equal(
        bd.decision_function(est, X_dd).compute(), est.decision_function(df)
    )


def test_a_numeric_looking_text_column_is_refused_under_dask(client, data):
    pd = pytest.importorskip("pandas")
    dd = pytest.importorskip("dask.dataframe")
    X, p, *_ = data
    df = pd.DataFrame({"x": X[:, 0].astype(str)})
    df.loc[7, "x"] = "n/a"
    with pytest.raises(ValueError, match=r"'x' holds numbers but 1 of its 4000 .* e.g. 'n/a'"):
        bd.fit_xgboost(client, dd.from_pandas(df, npartitions=2), p, n_estimators=2)
