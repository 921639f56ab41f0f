"""The estimators check their input the sklearn way: feature names, fitted state, sparse input,
tags, tiny data, numeric options and sklearn's own ``check_estimator``."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError

from boostobj import CrossFitEnsemble, LGBMWealthClassifier, XGBWealthClassifier

CLASSES = [XGBWealthClassifier, LGBMWealthClassifier]
COLS = ["a", "b", "c", "d"]


def tiny(cls, **kw):
    return cls(n_estimators=8, early_stopping_rounds=None, n_jobs=1, **kw)


def fitted(kind):
    """An estimator (or a 2-fold ensemble) of ``kind``, unfitted."""
    if kind == "ensemble":
        return CrossFitEnsemble(tiny(XGBWealthClassifier), n_folds=2)
    return tiny({"xgboost": XGBWealthClassifier, "lightgbm": LGBMWealthClassifier}[kind])


KINDS = ["xgboost", "lightgbm", "ensemble"]


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4))
    p = np.exp(0.3 * np.tanh(X[:, 0] - X[:, 1]) + 0.1 * rng.normal(size=300))
    return pd.DataFrame(X, columns=COLS), p


METHODS = ["predict", "predict_proba", "decision_function", "decision_margin", "score"]


def call(est, method, X, p):
    return getattr(est, method)(X, p) if method == "score" else getattr(est, method)(X)


@pytest.mark.parametrize("kind", KINDS)
def test_reordered_renamed_or_missing_columns_are_refused(kind, data):
    frame, p = data
    est = fitted(kind).fit(frame, p)
    assert list(est.feature_names_in_) == COLS
    bad = [
        (frame[COLS[::-1]], "must be in the same order as they were in fit.\nColumn 0 is 'd' "),
        (frame.rename(columns={"b": "B"}), "unseen at fit time:\n- B\n(?s:.)*now missing:\n- b\n"),
        (frame[COLS[:3]], "seen at fit time, yet now missing:\n- d\n"),
    ]
    for method in METHODS:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # the fitted columns pass without a warning
            call(est, method, frame, p)
        for X_bad, match in bad:
            expected = f"should match those .* during fit.\nFeature names {match}"
            with pytest.raises(ValueError, match=expected):
                call(est, method, X_bad, p)


@pytest.mark.parametrize("kind", KINDS)
def test_arrays_by_position_frames_on_an_array_fit_warn_and_width_is_checked(kind, data):
    frame, p = data
    est = fitted(kind).fit(frame, p)
    with warnings.catch_warnings():  # an array is taken by position, as tune and the CLI pass it
        warnings.simplefilter("error")
        by_position = est.predict(frame.to_numpy())
    np.testing.assert_array_equal(by_position, est.predict(frame))
    with pytest.raises(ValueError, match=r"X has 3 features, but \w+ is expecting 4 features"):
        est.predict(frame.to_numpy()[:, :3])
    on_array = fitted(kind).fit(frame.to_numpy(), p)
    assert on_array.feature_names_in_ is None
    with pytest.warns(UserWarning, match=r"X has feature names, but \w+ was fitted without"):
        on_array.predict(frame)
    with warnings.catch_warnings():  # integer column labels are no names, as in sklearn
        warnings.simplefilter("error")
        on_array.predict(pd.DataFrame(frame.to_numpy()))
    with pytest.raises(TypeError, match="mix strings and other types"):
        on_array.predict(frame.set_axis(["a", "b", 3, 4], axis=1))


@pytest.mark.parametrize("kind", KINDS)
def test_use_before_fit_raises_not_fitted_error(kind, data, tmp_path):
    frame, p = data
    est = fitted(kind)
    for method in METHODS:
        with pytest.raises(NotFittedError, match="not fitted yet"):
            call(est, method, frame, p)
    with pytest.raises(NotFittedError, match="not fitted yet"):
        est.save(tmp_path / "m")


@pytest.mark.parametrize("kind", KINDS)
def test_sparse_input_is_refused_with_a_clear_message(kind, data):
    sparse = pytest.importorskip("scipy.sparse")
    frame, p = data
    X = frame.to_numpy()
    for bad in (sparse.csr_matrix(X), sparse.csc_array(X)):
        with pytest.raises(TypeError, match=r"X is a scipy.sparse matrix.*X.toarray\(\)"):
            fitted(kind).fit(bad, p)
    est = fitted(kind).fit(X, p)
    with pytest.raises(TypeError, match="sparse"):
        est.predict(sparse.csr_matrix(X))
    with pytest.raises(ValueError, match="Complex data not supported: X holds complex"):
        est.predict(X + 1j)


@pytest.mark.parametrize("kind", KINDS)
def test_fit_input_follows_sklearn(kind, data):
    from sklearn.exceptions import DataConversionWarning

    frame, p = data
    X = frame.to_numpy()
    with pytest.raises(ValueError, match="requires y to be passed, but the target y is None"):
        fitted(kind).fit(X, None)
    with pytest.warns(DataConversionWarning, match="column-vector y"):
        column = fitted(kind).fit(X, p[:, None])
    np.testing.assert_array_equal(column.predict(X), fitted(kind).fit(X, p).predict(X))
    with pytest.raises(ValueError, match=r"0 feature\(s\) \(shape=\(300, 0\)\) while a minimum"):
        fitted(kind).fit(X[:, :0], p)
    with pytest.raises(ValueError, match=r"Reshape your data: X.reshape\(-1, 1\)"):
        column.predict(X[0])
    objects = X.astype(object)
    objects[0, 0] = {"a": 1}
    with pytest.raises(TypeError, match=r"X must be numeric: float\(\) argument must be"):
        fitted(kind).fit(objects, p)


@pytest.mark.parametrize("kind", KINDS)
def test_tags_say_binary_classifier_on_positive_payoffs_nan_allowed_no_sparse(kind, data):
    from sklearn.utils import get_tags

    tags = get_tags(fitted(kind))
    assert tags.estimator_type == "classifier" and tags.requires_fit
    assert not tags.classifier_tags.multi_class and not tags.classifier_tags.multi_label
    assert tags.target_tags.required and tags.target_tags.positive_only
    assert tags.target_tags.single_output and not tags.target_tags.multi_output
    assert tags.input_tags.allow_nan and not tags.input_tags.sparse
    frame, p = data  # allow_nan holds: NaN is a missing value
    X = frame.to_numpy().copy()
    X[::7, 1] = np.nan
    assert np.isfinite(fitted(kind).fit(X, p).decision_function(X)).all()


def test_lightgbm_on_tiny_data_names_the_parameter_to_lower(data):
    frame, p = data
    X, p = frame.to_numpy()[:30], p[:30]
    with pytest.raises(ValueError, match=r"30 samples: .*min_data_in_leaf=20 .* more than 40"):
        tiny(LGBMWealthClassifier).fit(X, p)
    with pytest.raises(ValueError, match=r"min_data_in_leaf=15 .* more than 30 rows"):
        tiny(LGBMWealthClassifier, params={"min_child_samples": 15}).fit(X, p)
    est = tiny(LGBMWealthClassifier, params={"min_data_in_leaf": 5}).fit(X, p)
    assert np.unique(est.decision_function(X)).size > 1  # it split
    with pytest.raises(ValueError, match="no feature it can split: every column of X is constant"):
        tiny(LGBMWealthClassifier).fit(np.ones((100, 3)), np.exp(np.linspace(-1, 1, 100)))


XGB, LGBM = XGBWealthClassifier, LGBMWealthClassifier
BAD_OPTIONS = [
    # (classes, options, the parameter and value the message names)
    (CLASSES, {"n_estimators": 0}, "'n_estimators' parameter .* Got 0 "),
    (CLASSES, {"n_estimators": -1}, "'n_estimators' parameter .* Got -1 "),
    (CLASSES, {"n_estimators": 2.5}, "'n_estimators' parameter .* an int .* Got 2.5 "),
    (CLASSES, {"learning_rate": float("nan")}, r"'learning_rate' .* \(0.0, inf\). Got nan "),
    (CLASSES, {"learning_rate": 0.0}, "'learning_rate' parameter .* Got 0.0 "),
    (CLASSES, {"early_stopping_rounds": 0}, "'early_stopping_rounds' .* or None. Got 0 "),
    (CLASSES, {"threshold": 1.5}, r"'threshold' .* \[0.0, 1.0\]. Got 1.5 "),
    (CLASSES, {"early_stopping_metric": "auc"}, "'early_stopping_metric' .* Got 'auc' "),
    (CLASSES, {"n_jobs": 0}, "'n_jobs' parameter .* Got 0 "),
    (CLASSES, {"random_state": 1.5}, "'random_state' parameter .* Got 1.5 "),
    (CLASSES, {"params": {"subsample": 2.0}}, r"'subsample' .*\(params=...\) .* Got 2.0 "),
    (CLASSES, {"params": {"colsample_bytree": 0}}, "'colsample_bytree' .* Got 0 "),
    (CLASSES, {"params": {"eta": float("nan")}}, "'eta' parameter .* Got nan "),
    (CLASSES, {"params": {"reg_lambda": -1}}, "'reg_lambda' parameter .* Got -1 "),
    (CLASSES, {"params": {"reg_alpha": float("inf")}}, "'reg_alpha' parameter .* Got inf "),
    (CLASSES, {"params": {"min_child_weight": -0.5}}, "'min_child_weight' .* Got -0.5 "),
    (CLASSES, {"params": {"max_bin": 1}}, "'max_bin' parameter .* Got 1 "),
    ([XGB], {"max_depth": -3}, "'max_depth' parameter .* Got -3 "),
    ([XGB], {"params": {"max_depth": 2.5}}, "'max_depth' parameter .* Got 2.5 "),
    ([LGBM], {"num_leaves": 1}, r"'num_leaves' .* \[2, 131072\]. Got 1 "),
    ([LGBM], {"params": {"bagging_fraction": 0.0}}, "'bagging_fraction' .* Got 0.0 "),
    ([LGBM], {"params": {"min_child_samples": -1}}, "'min_child_samples' .* Got -1 "),
]


@pytest.mark.parametrize(
    ("cls", "options", "match"),
    [(cls, o, m) for classes, o, m in BAD_OPTIONS for cls in classes],
    ids=lambda v: v.__name__[:4] if isinstance(v, type) else None,
)
def test_bad_numeric_options_are_refused_before_the_booster_runs(
    cls, options, match, data, monkeypatch
):
    def no_booster(*args, **kwargs):
        raise AssertionError("the booster ran")

    monkeypatch.setattr(cls, "_train", no_booster)
    frame, p = data
    with pytest.raises(ValueError, match=match):
        cls(**options).fit(frame, p)


def test_good_edge_options_are_accepted(data):
    frame, p = data
    for est in (
        tiny(XGB, learning_rate=1.0, max_depth=0, params={"subsample": 1, "reg_lambda": 0}),
        XGB(n_estimators=1, n_jobs=-1, random_state=None, threshold=1.0),
        tiny(LGBM, num_leaves=2, params={"feature_fraction": 1.0, "min_child_samples": 0}),
    ):
        assert est.fit(frame, p).n_rounds_ >= 1
    with pytest.raises(ValueError, match=r"'n_folds' parameter of CrossFitEnsemble .* Got 1 "):
        CrossFitEnsemble(tiny(XGB), n_folds=1).fit(frame, p)
    with pytest.raises(ValueError, match=r"'threshold' parameter of CrossFitEnsemble .* Got -0.1"):
        CrossFitEnsemble(tiny(XGB), threshold=-0.1).fit(frame, p)


# sklearn's checks that cannot pass because y is a payoff multiplier p > 0, not a class label.
PAYOFF_NOT_LABEL = {
    "check_classifiers_one_label": "y = 1 on every row (no gain, no loss) has nothing to "
    "learn, so fit refuses it rather than naming a 'class'",
    "check_classifiers_one_label_sample_weights": "y holds labels 0 and 1, and a payoff 0 is "
    "refused (p must be > 0)",
    "check_classifiers_classes": "y holds string labels; a payoff must be a number",
    "check_classifiers_train": "for positive_only, sklearn adds 1 to y in place, which fails "
    "on its own read-only memmap y",
    "check_classifiers_regression_target": "a continuous y is what a payoff is, so it is not "
    "refused as a regression target",
    "check_decision_proba_consistency": "y holds labels 0 and 1, and a payoff 0 is refused",
    "check_classifier_not_supporting_multiclass": "three distinct payoffs are valid data, not "
    "three classes",
}
EXPECTED_FAILED_CHECKS = {
    XGB: PAYOFF_NOT_LABEL,
    LGBM: {
        **PAYOFF_NOT_LABEL,
        "check_classifiers_train": PAYOFF_NOT_LABEL["check_classifiers_train"] + "; and with "
        "every payoff >= 1 no split gains, so LightGBM (a custom objective starts at 0) stops "
        "at a zero-margin stump, where decision_function > 0 and predict (>= 0) differ",
    },
}


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_sklearn_check_estimator_fails_only_where_y_is_a_payoff(cls):
    pytest.importorskip("sklearn", minversion="1.6")
    from sklearn.utils.estimator_checks import check_estimator

    # LightGBM's leaves need 20 rows by default; the checks fit on 10 to 30 rows
    params = {"min_data_in_leaf": 1, "min_data_in_bin": 1} if cls is LGBM else None
    expected = EXPECTED_FAILED_CHECKS[cls]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the checks' own warnings (feature names, tags)
        results = check_estimator(
            tiny(cls, params=params), expected_failed_checks=expected, on_fail=None, on_skip=None
        )
    failed = {r["check_name"]: repr(r["exception"]) for r in results if r["status"] == "failed"}
    assert failed == {}
    assert {r["check_name"] for r in results if r["status"] == "xfail"} == set(expected)
