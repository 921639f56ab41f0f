"""The sklearn-style estimators: API contract, sklearn tools, persistence, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from boostobj import LGBMWealthClassifier, XGBWealthClassifier, load_model, make_betting_market
from boostobj.metrics import log_wealth

ESTIMATORS = [XGBWealthClassifier, LGBMWealthClassifier]


@pytest.fixture(scope="module")
def market():
    X, p, _ = make_betting_market(3000, random_state=0)
    return X[:2000], p[:2000], X[2000:], p[2000:]


def small(cls, **kw):
    return cls(n_estimators=60, n_jobs=2, **kw)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_outputs_are_consistent(cls, market):
    X, p, Xv, pv = market
    est = small(cls).fit(X, p, eval_set=[(Xv, pv)])
    margin = est.decision_function(Xv)
    proba = est.predict_proba(Xv)
    assert proba.shape == (Xv.shape[0], 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_allclose(proba[:, 1], 1 / (1 + np.exp(-margin)), rtol=1e-12)
    np.testing.assert_array_equal(est.predict(Xv), (margin >= 0).astype(int))
    assert est.score(Xv, pv) == pytest.approx(log_wealth(np.log(pv), margin >= 0))
    assert 1 <= est.n_rounds_ <= 60
    assert est.scale_ == pytest.approx(np.abs(np.log(p)).mean())


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_threshold_changes_decisions(cls, market):
    X, p, Xv, _ = market
    lo, hi = small(cls, threshold=0.3).fit(X, p), small(cls, threshold=0.7).fit(X, p)
    assert lo.predict(Xv).sum() > hi.predict(Xv).sum()
    np.testing.assert_array_equal(hi.predict(Xv), hi.predict_proba(Xv)[:, 1] >= 0.7)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_learns_an_edge_on_the_synthetic_market(cls):
    X, p, expected = make_betting_market(12000, random_state=1)
    est = cls(n_jobs=2).fit(X[:6000], p[:6000], eval_set=[(X[6000:8000], p[6000:8000])])
    test = slice(8000, None)
    r = np.log(p[test])
    assert est.score(X[test], p[test]) > max(0.0, r.sum())  # beats take-none and take-all
    assert est.score(X[test], p[test]) > 0.3 * r[expected[test] > 0].sum()


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_sklearn_clone_pipeline_cross_val_score(cls, market):
    X, p, _, _ = market
    est = small(cls, threshold=0.55, params={"max_bin": 63})
    twin = clone(est)
    assert twin.get_params() == est.get_params()
    scores = cross_val_score(est, X, p, cv=3)
    assert scores.shape == (3,) and np.isfinite(scores).all()
    pipe = make_pipeline(StandardScaler(), small(cls)).fit(X, p)
    assert np.isfinite(pipe.score(X, p))


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_params_pass_through(cls, market):
    X, p, _, _ = market
    key = "max_depth" if cls is XGBWealthClassifier else "num_leaves"
    stumps = small(cls, params={key: 2 if key == "num_leaves" else 1}).fit(X, p)
    deep = small(cls).fit(X, p)
    assert len(np.unique(stumps.decision_function(X))) < len(np.unique(deep.decision_function(X)))


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_save_load_round_trip(cls, market, tmp_path):
    X, p, Xv, pv = market
    est = small(cls, threshold=0.45).fit(X, p, eval_set=[(Xv, pv)])
    folder = est.save(tmp_path / "model")
    meta = json.loads((folder / "boostobj.json").read_text())
    assert meta["threshold"] == 0.45 and meta["scale"] == est.scale_
    assert "pickle" not in " ".join(p.name for p in folder.iterdir())
    loaded = load_model(folder)
    assert type(loaded) is cls and loaded.threshold == 0.45 and loaded.scale_ == est.scale_
    np.testing.assert_array_equal(loaded.predict(Xv), est.predict(Xv))
    np.testing.assert_array_equal(loaded.decision_function(Xv), est.decision_function(Xv))
    assert cls.load(folder).n_rounds_ == est.n_rounds_
    other = LGBMWealthClassifier if cls is XGBWealthClassifier else XGBWealthClassifier
    with pytest.raises(ValueError, match="not a"):
        other.load(folder)


def test_save_never_overwrites_silently(market, tmp_path):
    X, p, _, _ = market
    est = small(XGBWealthClassifier).fit(X, p)
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not empty"):
        est.save(folder)
    assert (folder / "keep.txt").read_text() == "mine"
    est.save(folder, overwrite=True)
    assert load_model(folder).threshold == 0.5
    with pytest.raises(FileNotFoundError, match="not a boostobj model folder"):
        load_model(tmp_path / "nothing")


def test_feature_names_are_kept(market, tmp_path):
    pd = pytest.importorskip("pandas")
    X, p, _, _ = market
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    est = small(LGBMWealthClassifier).fit(frame, p)
    assert list(load_model(est.save(tmp_path / "m")).feature_names_in_) == list(frame.columns)


@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda X, p: (X, np.where(np.arange(p.size) == 7, -1.0, p)), "non-positive.*index 7"),
        (lambda X, p: (X, np.where(np.arange(p.size) == 3, np.nan, p)), "NaN or infinite.*index 3"),
        (lambda X, p: (X, np.where(np.arange(p.size) == 0, np.inf, p)), "NaN or infinite.*index 0"),
        (lambda X, p: (X, p[:-1]), "length mismatch"),
        (lambda X, p: (X[:0], p[:0]), "empty"),
        (lambda X, p: (X, np.column_stack([p, p])), "must be 1-D"),
        (lambda X, p: (X, np.ones_like(p)), "all payoffs are 1"),
        (lambda X, p: (X[:, 0], p), "X must be 2-D"),
    ],
    ids=["p<=0", "p-nan", "p-inf", "lengths", "empty", "p-2d", "all-p-1", "X-1d"],
)
def test_bad_input_raises_clear_errors(cls, market, make, match):
    X, p, _, _ = market
    with pytest.raises(ValueError, match=match):
        small(cls).fit(*make(X, p))


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_bad_eval_set_and_unfitted_use(cls, market):
    X, p, Xv, pv = market
    with pytest.raises(ValueError, match=r"eval_set\[0\] p has 1 non-positive"):
        small(cls).fit(X, p, eval_set=[(Xv, np.where(np.arange(pv.size) == 5, 0.0, pv))])
    with pytest.raises(ValueError, match=r"eval_set\[0\] X has 3 features"):
        small(cls).fit(X, p, eval_set=[(Xv[:, :3], pv)])
    with pytest.raises(ValueError, match="not fitted"):
        small(cls).predict(Xv)
    est = small(cls).fit(X, p)
    with pytest.raises(ValueError, match="features"):
        est.predict(Xv[:, :3])
    with pytest.raises(ValueError, match=r"'threshold' parameter .* Got nan instead"):
        small(cls, threshold=float("nan")).fit(X, p)


@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize(
    ("loss", "loss_params"),
    [("logistic", {"power": 0.5}), ("soft_wealth", {"temperature": 0.5}), ("kelly", None)],
)
def test_every_surrogate_trains_saves_and_loads(cls, loss, loss_params, market, tmp_path):
    X, p, Xv, pv = market
    est = small(cls, loss=loss, loss_params=loss_params).fit(X, p, eval_set=[(Xv, pv)])
    assert est.get_loss().name == loss
    metric = "stake_log_wealth" if loss == "kelly" else "log_wealth"
    assert metric in next(iter(est.evals_result_.values()))
    loaded = load_model(est.save(tmp_path / "m"))
    assert loaded.get_loss() == est.get_loss()
    np.testing.assert_array_equal(loaded.predict(Xv), est.predict(Xv))


def market_with_payoffs(n, seed):
    """The synthetic market plus the two payoffs known at decision time (stake 0.05)."""
    X, p, expected, odds = make_betting_market(n, random_state=seed, return_odds=True)
    p_win, p_loss = 1 + 0.05 * (odds - 1), np.full(n, 0.95)
    return np.column_stack([X, p_win, p_loss]), p, expected


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_payoffs_known_at_decision_time(cls, tmp_path):
    from boostobj.metrics import decide_with_payoffs

    X, p, expected = market_with_payoffs(12000, seed=2)
    cols = (X.shape[1] - 2, X.shape[1] - 1)
    est = cls(loss="outcome", payoff_columns=cols, n_jobs=2)
    est.fit(X[:6000], p[:6000], eval_set=[(X[6000:8000], p[6000:8000])])
    Xt, rt = X[8000:], np.log(p[8000:])
    margin = est.decision_function(Xt)  # logit of the win probability
    np.testing.assert_array_equal(
        est.predict(Xt), decide_with_payoffs(margin, np.log(Xt[:, cols[0]]), np.log(Xt[:, cols[1]]))
    )
    won = rt > 0
    assert abs(est.predict_proba(Xt)[:, 1].mean() - won.mean()) < 0.03  # calibrated-ish q
    assert est.score(Xt, p[8000:]) > 0.3 * rt[expected[8000:] > 0].sum()
    loaded = load_model(est.save(tmp_path / "m"))
    np.testing.assert_array_equal(loaded.predict(Xt), est.predict(Xt))
    with pytest.raises(ValueError, match="payoff_columns needs loss='outcome'"):
        cls(payoff_columns=cols).fit(X[:100], p[:100])
    score = est.expected_log_payoff(Xt)
    np.testing.assert_array_equal(est.predict(Xt), score > 0)
    q = est.predict_proba(Xt)[:, 1]
    np.testing.assert_allclose(score, q * np.log(Xt[:, cols[0]]) + (1 - q) * np.log(Xt[:, cols[1]]))
    assert not np.array_equal(est.predict(Xt), q >= 0.5)  # q is not what predict thresholds
    with pytest.raises(ValueError, match="expected_log_payoff needs payoff_columns"):
        small(cls).fit(X[:500], p[:500]).expected_log_payoff(Xt)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_payoffs_known_with_certain_decisions(cls):
    """Rows with p_win <= 1 are never taken, rows with p_loss >= 1 always; neither trains."""
    from boostobj import CrossFitEnsemble

    X, p, _ = market_with_payoffs(3000, seed=3)
    win, lose = X.shape[1] - 2, X.shape[1] - 1
    never, always, flat = np.arange(0, 40), np.arange(40, 80), np.arange(80, 90)
    X[never, win] = np.linspace(0.9, 1.0, never.size)
    X[always, lose] = np.linspace(1.0, 1.05, always.size)
    X[flat, win] = X[flat, lose] = 1.0
    certain = np.r_[never, always, flat]
    est = small(cls, loss="outcome", payoff_columns=(win, lose)).fit(X[:2000], p[:2000])
    take, score = est.predict(X), est.expected_log_payoff(X)
    assert not take[never].any() and take[always].all() and not take[flat].any()
    np.testing.assert_array_equal(take, score > 0)
    margin = est.decision_margin(X)
    assert np.isneginf(margin[never]).all() and np.isposinf(margin[always]).all()
    open_ = np.setdiff1d(np.arange(2000), certain)  # trained on these rows only
    alone = small(cls, loss="outcome", payoff_columns=(win, lose)).fit(X[open_], p[open_])
    np.testing.assert_array_equal(
        alone.decision_function(X[2000:]), est.decision_function(X[2000:])
    )
    ens = CrossFitEnsemble(est, n_folds=2).fit(X[:2000], p[:2000])
    np.testing.assert_array_equal(ens.predict(X), ens.expected_log_payoff(X) > 0)
    assert not ens.predict(X)[never].any() and ens.predict(X)[always].all()
    swapped = X[:200].copy()
    swapped[5, [win, lose]] = [0.95, 1.05]
    with pytest.raises(ValueError, match=r"1 rows have p_win < 1 < p_loss .* at index 5"):
        est.predict(swapped)
    with pytest.raises(ValueError, match="no row of X has p_loss < 1 < p_win"):
        small(cls, loss="outcome", payoff_columns=(win, lose)).fit(X[never], p[never])
