from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from boostobj import log_payoff, make_betting_market, weight_scale


def test_log_payoff_converts():
    np.testing.assert_allclose(log_payoff([1.0, np.e, 0.5]), [0.0, 1.0, np.log(0.5)])


@pytest.mark.parametrize(
    ("p", "match"),
    [
        ([1.1, 0.0, -2.0], r"p has 2 non-positive values \(of 3\); the first is at index 1"),
        ([1.1, np.nan], r"p has 1 NaN or infinite value \(of 2\); the first is at index 1"),
        ([np.inf, 1.0], r"NaN or infinite value .*index 0"),
        ([], "p is empty"),
        ([[1.1, 1.2]], r"p must be 1-D.*shape \(1, 2\)"),
        (["a", "b"], "p must be numeric"),
    ],
)
def test_log_payoff_rejects_bad_payoffs(p, match):
    with pytest.raises(ValueError, match=match):
        log_payoff(p)


def test_weight_scale_is_mean_abs_log_payoff():
    r = np.log([1.01, 0.98, 1.03])
    assert weight_scale(r) == pytest.approx(np.abs(r).mean())
    sw = np.array([1.0, 0.0, 3.0])
    assert weight_scale(r, sw) == pytest.approx((np.abs(r) * sw).sum() / 4.0)


def test_weight_scale_rejects_all_zero_weights():
    with pytest.raises(ValueError, match="all payoffs are 1"):
        weight_scale(np.zeros(5))
    with pytest.raises(ValueError, match="sample_weight has 1 negative"):
        weight_scale([0.1, 0.2], [1.0, -1.0])
    with pytest.raises(ValueError, match="length mismatch"):
        weight_scale([0.1, 0.2], [1.0])


def test_import_boostobj_loads_no_booster_sklearn_or_optuna():
    import subprocess
    import sys

    code = (
        "import sys, boostobj; heavy = {'xgboost', 'lightgbm', 'optuna', 'sklearn', 'dask'}; "
        "print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_public_api_is_listed():
    import boostobj

    for name in boostobj.__all__:
        assert getattr(boostobj, name) is not None


def _count_payoff_checks(fit: Callable[[], object]) -> int:
    """How many times ``fit()`` runs boostobj's payoff checks (any caller, any module)."""
    import sys

    from boostobj import _validation

    checks = {_validation.log_payoff.__code__, _validation.check_log_payoff.__code__}
    count = 0

    def profile(frame: Any, event: str, arg: Any) -> None:
        nonlocal count
        if event == "call" and frame.f_code in checks:
            count += 1

    sys.setprofile(profile)
    try:
        fit()
    finally:
        sys.setprofile(None)
    return count


@pytest.mark.parametrize("booster", ["xgboost", "lightgbm"])
def test_payoff_checks_do_not_grow_with_the_rounds(booster: str) -> None:
    from boostobj.sklearn import ESTIMATORS

    X, p, _ = make_betting_market(1500, random_state=0)
    cls = ESTIMATORS[booster]

    def fit(rounds: int) -> Callable[[], object]:
        est = cls(n_estimators=rounds, early_stopping_rounds=None, n_jobs=1)
        return lambda: est.fit(X[:1000], p[:1000], eval_set=[(X[1000:], p[1000:])])

    few, many = _count_payoff_checks(fit(5)), _count_payoff_checks(fit(50))
    assert few == many, (few, many)
    assert 2 <= many <= 8  # p and the eval set's p at the edge, once each per data object
