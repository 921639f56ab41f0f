"""Numeric hardening: the losses and metrics at extreme payoffs, checked arguments.

Each test here failed before the fix it pins (issue 14): the Kelly kernel overflowed float32
at p = 1e39 and divided by a rounded-off 0 at p = 1e-39; the stake metric gave -inf for a
full stake on a tiny payoff; ``log_wealth`` let a 2-D or missing ``take`` through to numpy;
a loss took a scale of ``True``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import sympy as sp

from boostobj import log_wealth
from boostobj.losses import Kelly, get_loss
from boostobj.metrics import stake_log_wealth

PAYOFFS = (1e-300, 1e-39, 1e39, 1e300)
MARGINS = (-30.0, -5.0, 0.0, 5.0, 30.0)

f_, p_ = sp.symbols("f p", positive=True)
_S = 1 / (1 + sp.exp(-f_))
_KELLY = -sp.log(1 + _S * (p_ - 1))  # scale 1, no sample weight


def _kelly_reference(f: float, p: float) -> tuple[float, float, float, float]:
    """Loss, gradient, exact hessian and the curvature bound ``u^2 + |u|`` at 50 digits."""
    subs = {f_: sp.Float(f, 50), p_: sp.Float(p, 50)}
    u = (_S * (1 - _S) * (p_ - 1) / (1 + _S * (p_ - 1))).subs(subs).evalf(50)
    values = (_KELLY, sp.diff(_KELLY, f_), sp.diff(_KELLY, f_, 2))
    loss, grad, exact = (float(e.subs(subs).evalf(50)) for e in values)
    return loss, grad, exact, float(u**2 + abs(u))


@pytest.mark.parametrize("p", PAYOFFS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kelly_is_exact_at_extreme_payoffs(p, dtype):
    """Not only finite: gradient, curvature and loss match SymPy where ``p - 1`` overflows
    float32 or ``1 + s (p - 1)`` rounds to 0."""
    margin = np.array(MARGINS, dtype=dtype)
    r = np.full(margin.size, np.log(p))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        grad, hess = Kelly().gradient_hessian(margin, r)
        value = Kelly().loss(margin.astype(np.float64), r)
    rtol = 2e-5 if dtype == np.float32 else 1e-9
    for i, f in enumerate(MARGINS):
        loss, g, exact, bound = _kelly_reference(f, p)
        assert value[i] == pytest.approx(loss, rel=1e-9, abs=1e-12)
        assert grad[i] == pytest.approx(g, rel=rtol, abs=1e-30)
        assert hess[i] == pytest.approx(bound, rel=rtol, abs=1e-30)
        assert hess[i] >= abs(exact) * (1 - rtol)


@pytest.mark.parametrize("name", ["logistic", "outcome", "soft_wealth", "kelly", "squared"])
def test_mixed_extreme_payoffs_in_one_data_set(name):
    """One extreme row must not poison the others (XGBoost made every margin NaN)."""
    loss = get_loss(name)
    r = np.log(np.array([*PAYOFFS, 1.1, 0.9]))
    margin = np.zeros(r.size, np.float32)
    grad, hess = loss.gradient_hessian(margin, r, scale=loss.weight_scale(r))
    assert np.isfinite(grad).all() and np.isfinite(hess).all()
    # the ordinary rows keep their sign: gain -> push the margin up (negative gradient)
    assert grad[-2] < 0 < grad[-1]


def test_stake_log_wealth_is_finite_for_a_full_stake_on_a_tiny_payoff():
    r = np.log(np.array([1e-300, 1e-39, 1e-20, 1e300, 1.1]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        full = stake_log_wealth(r, np.ones(r.size))
        half = stake_log_wealth(r, np.full(r.size, 0.5))
    assert full == pytest.approx(r.sum(), rel=1e-12)  # staking everything earns log p
    expected = sum(float(sp.log(sp.Rational(1, 2) + sp.Float(p, 50) / 2)) for p in np.exp(r))
    assert half == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    ("take", "match"),
    [
        (None, "take is None"),
        (np.ones((3, 1), bool), r"take must be 1-D.*\(3, 1\)"),
        (np.ones((1, 3), bool), r"take must be 1-D.*\(1, 3\)"),
        (True, r"take must be 1-D.*\(\)"),
        (np.array(["1", "0", "1"]), "booleans or 0/1"),
        ([0.5, 1.0, 0.0], "booleans or 0/1"),
    ],
)
def test_log_wealth_refuses_a_bad_take(take, match):
    with pytest.raises(ValueError, match=match):
        log_wealth([0.1, -0.2, 0.3], take)
    assert log_wealth([0.1, -0.2, 0.3], [1, 0, 1]) == pytest.approx(0.4)


@pytest.mark.parametrize("bad", [-1.0, 0.0, np.nan, np.inf, True, "1", None])
def test_loss_methods_refuse_a_bad_scale(bad):
    with pytest.raises(ValueError, match=r"scale must be a finite number > 0, got "):
        get_loss("logistic").gradient_hessian(np.zeros(2), [0.1, -0.1], scale=bad)
