"""Derivative checks for every registered loss: finite differences, SymPy, numerics."""

from __future__ import annotations

import warnings
from types import SimpleNamespace

import numpy as np
import pytest
import sympy as sp
from conftest import LOSS_CASES, case_loss
from hypothesis import given, settings
from hypothesis import strategies as st

from boostobj import losses
from boostobj.losses import LOSSES, Loss, WeightedLogistic, get_loss

# Independent formulas of each loss in SymPy: (margin f, log payoff r, weight scale c) -> L.
f_, r_, c_ = sp.symbols("f r c", real=True)


def sigmoid(z):
    return 1 / (1 + sp.exp(-z))


def sympy_logistic(loss, positive):
    """w * logloss(y, sigmoid(f)), y = 1[r > 0], w = |r|^power / c."""
    w = sp.Abs(r_) ** sp.Float(loss.power) / c_
    return w * (-sp.log(sigmoid(f_)) if positive else -sp.log(1 - sigmoid(f_)))


def sympy_soft_wealth(loss, positive):
    """-(r / c) sigmoid(f / T)."""
    return -(r_ / c_) * sigmoid(f_ / sp.Float(loss.temperature))


def sympy_kelly(loss, positive):
    """-(1 / c) log(1 + sigmoid(f) (exp(r) - 1))."""
    return -sp.log(1 + sigmoid(f_) * (sp.exp(r_) - 1)) / c_


def sympy_squared(loss, positive):
    """(1 / (2 c)) (f - r)^2: row weight 1, divided by the scale like every weight."""
    return (f_ - r_) ** 2 / (2 * c_)


SYMPY_LOSS = {
    "logistic": sympy_logistic,
    "outcome": sympy_logistic,  # power 0
    "soft_wealth": sympy_soft_wealth,
    "kelly": sympy_kelly,
    "squared": sympy_squared,
}


def _problem(rng, n=200):
    margin = rng.normal(0, 2, n)
    r = rng.normal(0, 0.3, n)
    sw = rng.uniform(0.2, 3.0, n)
    return margin, r, sw


def test_every_loss_has_a_sympy_formula():
    assert set(SYMPY_LOSS) == set(LOSSES)
    assert {case.split("-")[0] for case in LOSS_CASES} == set(LOSSES)


def test_gradient_matches_4th_order_finite_difference(loss: Loss, rng):
    margin, r, sw = _problem(rng)
    h = 1e-3
    L = lambda m: loss.loss(m, r, sw, scale=0.7)  # noqa: E731
    fd = (-L(margin + 2 * h) + 8 * L(margin + h) - 8 * L(margin - h) + L(margin - 2 * h)) / (12 * h)
    grad, _ = loss.gradient_hessian(margin, r, sw, scale=0.7)
    np.testing.assert_allclose(grad, fd, rtol=1e-7, atol=1e-9)


def test_hessian_matches_finite_difference_of_gradient(loss: Loss, rng):
    margin, r, sw = _problem(rng)
    h = 1e-3
    G = lambda m: loss.gradient_hessian(m, r, sw, scale=0.7)[0]  # noqa: E731
    fd = (-G(margin + 2 * h) + 8 * G(margin + h) - 8 * G(margin - h) + G(margin - 2 * h)) / (12 * h)
    _, hess = loss.gradient_hessian(margin, r, sw, scale=0.7)
    if loss.exact_hessian:
        np.testing.assert_allclose(hess, fd, rtol=1e-7, atol=1e-9)
    else:  # the positive curvature used bounds the exact one in absolute value
        assert (hess >= 0).all()
        assert (hess >= np.abs(fd) - 1e-7 * np.abs(fd) - 1e-12).all()
        assert (hess > 1.01 * np.abs(fd)).any()  # and is not secretly exact


def test_derivatives_match_sympy(loss: Loss, rng):
    margin, r, _ = _problem(rng, n=40)
    scale = 0.7
    grad, hess = loss.gradient_hessian(margin, r, scale=scale)
    value = loss.loss(margin, r, scale=scale)
    for i in range(margin.size):
        expr = SYMPY_LOSS[loss.name](loss, r[i] > 0)
        subs = {f_: sp.Float(margin[i], 30), r_: sp.Float(r[i], 30), c_: sp.Float(scale, 30)}
        assert float(expr.subs(subs).evalf(30)) == pytest.approx(value[i], rel=1e-10, abs=1e-14)
        assert float(sp.diff(expr, f_).subs(subs).evalf(30)) == pytest.approx(
            grad[i], rel=1e-10, abs=1e-14
        )
        exact = float(sp.diff(expr, f_, 2).subs(subs).evalf(30))
        if loss.exact_hessian:
            assert exact == pytest.approx(hess[i], rel=1e-9, abs=1e-14)
        else:
            assert hess[i] >= abs(exact) * (1 - 1e-9)


#: Payoffs at the ends of what ``log_payoff`` accepts: the float32 kernels must not overflow
#: (``p - 1`` is inf in float32 above 3.4e38; ``1 + s (p - 1)`` rounds to 0 for tiny p).
EXTREME_PAYOFFS = (5e-324, 1e-300, 1e-39, 1e-8, 1e8, 1e39, 1e300, 1.7e308)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_extreme_margins_are_finite_and_warning_free(loss: Loss, dtype):
    margin = np.array(
        [-1e4, -1e3, -50.0, -20.0, -1e-8, 0.0, 1e-8, 20.0, 50.0, 1e3, 1e4], dtype=dtype
    )
    for r_value in (-0.5, 0.5, 0.0, *np.log(EXTREME_PAYOFFS)):
        r = np.full(margin.size, r_value)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            grad, hess = loss.gradient_hessian(margin, r)
            value = loss.loss(margin, r)
        assert grad.dtype == dtype and hess.dtype == dtype
        assert np.isfinite(grad).all() and np.isfinite(hess).all() and np.isfinite(value).all()
        assert (hess >= 0).all()


def test_logistic_limits_at_extreme_margins():
    grad, hess = WeightedLogistic().gradient_hessian(
        np.array([-1e4, 1e4, -1e4, 1e4]), np.array([0.2, 0.2, -0.2, -0.2])
    )
    # confident and right: nothing to learn; confident and wrong: gradient -+ w, no curvature
    np.testing.assert_allclose(grad, [-0.2, 0.0, 0.0, 0.2], atol=1e-12)
    np.testing.assert_allclose(hess, 0.0, atol=1e-12)


def test_logistic_is_weighted_binary_logloss(rng):
    margin, r, sw = _problem(rng)
    s = 1 / (1 + np.exp(-margin))
    y = (r > 0).astype(float)
    w = np.abs(r) * sw / 2.0
    grad, hess = WeightedLogistic().gradient_hessian(margin, r, sw, scale=2.0)
    np.testing.assert_allclose(grad, w * (s - y), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(hess, w * s * (1 - s), rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(
        WeightedLogistic().loss(margin, r, sw, scale=2.0),
        -w * (y * np.log(s) + (1 - y) * np.log(1 - s)),
        rtol=1e-10,
    )


def test_float32_kernel_matches_float64(loss: Loss, rng):
    margin, r, sw = _problem(rng)
    g64, h64 = loss.gradient_hessian(margin, r, sw)
    g32, h32 = loss.gradient_hessian(margin.astype(np.float32), r, sw)
    np.testing.assert_allclose(g32, g64, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(h32, h64, rtol=1e-4, atol=1e-6)


needs_compiled = pytest.mark.skipif(
    not losses.compiled_kernel(), reason="boostobj._kernels was not built (no C compiler)"
)


@needs_compiled
@pytest.mark.parametrize("case", ["logistic", "logistic-power0.5", "outcome"])
def test_compiled_kernel_matches_numpy(case, rng, monkeypatch):
    """The fused C pass and numpy's nine passes compute one formula, to float32 rounding,
    including p = 1 rows, extreme payoffs, zero sample weights, clipped margins and NaN."""
    loss = case_loss(case)
    n = 300_007  # not a multiple of any vector width
    r = rng.normal(0.0, 0.3, n)
    r[:50] = 0.0
    r[50:58] = np.log(EXTREME_PAYOFFS)
    sw = rng.uniform(0.0, 3.0, n)
    sw[50:100] = 0.0
    margin = rng.normal(0.0, 5.0, n).astype(np.float32)
    margin[-7:] = [1e4, -1e4, 40.0, -40.0, 0.0, -0.0, np.nan]
    coef = loss.coefficients(r, sw, 1.3, np.float32)
    fused = [np.empty(n, np.float32) for _ in range(2)]
    loss.gradient_hessian_into(margin, coef, *fused)
    monkeypatch.setattr(losses, "_kernels", None)
    plain = [np.empty(n, np.float32) for _ in range(2)]
    loss.gradient_hessian_into(margin, coef, *plain)
    for a, b in zip(fused, plain, strict=True):
        np.testing.assert_allclose(a[:-1], b[:-1], rtol=2e-6, atol=1e-30)
        assert np.isnan(a[-1]) and np.isnan(b[-1])


@needs_compiled
def test_compiled_kernel_refuses_what_it_cannot_read():
    from boostobj import _kernels

    f32 = np.zeros(4, np.float32)
    with pytest.raises(ValueError, match="margin must be a 1-D float32 array"):
        _kernels.logistic(np.zeros(4), f32, f32.copy(), f32.copy())
    with pytest.raises(ValueError, match="hess has 3 rows, margin has 4"):
        _kernels.logistic(f32, f32, f32.copy(), np.zeros(3, np.float32))
    with pytest.raises(TypeError, match="logistic"):
        _kernels.logistic(f32, f32)
    with pytest.raises((ValueError, BufferError, TypeError)):
        _kernels.logistic(f32, f32, f32.copy(), f32.copy()[::-1][::2])  # not contiguous


def test_only_contiguous_float32_reaches_the_compiled_kernel(monkeypatch, rng):
    calls = []
    monkeypatch.setattr(losses, "_kernels", SimpleNamespace(logistic=lambda *a: calls.append(a)))
    margin, r, sw = _problem(rng)
    grad, _ = WeightedLogistic().gradient_hessian(margin, r, sw)  # float64: numpy
    assert calls == [] and np.isfinite(grad).all()
    coef = WeightedLogistic().coefficients(r, sw, 1.0, np.float32)
    out = np.empty((2, 2 * margin.size), np.float32)[:, ::2]  # strided buffers: numpy
    WeightedLogistic().gradient_hessian_into(margin.astype(np.float32), coef, *out)
    assert calls == []
    WeightedLogistic().gradient_hessian(margin.astype(np.float32), r, sw)
    assert len(calls) == 1


def test_gradient_vanishes_at_the_optimal_constant_margin(rng):
    """The minimiser of sum w*logloss is logit(sum w y / sum w): the gradient sums to 0 there."""
    r = rng.normal(0.01, 0.1, 1000)
    w = np.abs(r)
    f0 = np.log(w[r > 0].sum() / w[r <= 0].sum())
    grad, _ = WeightedLogistic().gradient_hessian(np.full(r.size, f0), r)
    assert abs(grad.sum()) < 1e-10 * w.sum()


margins = st.floats(-1e4, 1e4, allow_nan=False)
log_payoffs = st.floats(-5, 5, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(margins, log_payoffs, st.floats(0, 100)), min_size=1, max_size=30),
    st.floats(0.01, 100),
    st.sampled_from(sorted(LOSS_CASES)),
)
def test_property_finite_nonnegative_hessian_weights_multiply(rows, k, case):
    loss = case_loss(case)
    margin, r, sw = (np.array(col, dtype=float) for col in zip(*rows, strict=True))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        grad, hess = loss.gradient_hessian(margin, r, sw)
        grad_k, hess_k = loss.gradient_hessian(margin, r, k * sw)
    assert np.isfinite(grad).all() and np.isfinite(hess).all()
    assert (hess >= 0).all()
    np.testing.assert_allclose(grad_k, k * grad, rtol=1e-9, atol=1e-300)
    np.testing.assert_allclose(hess_k, k * hess, rtol=1e-9, atol=1e-300)


def test_get_loss_by_name_params_and_errors():
    assert get_loss("logistic") == WeightedLogistic()
    half = get_loss("logistic", power=0.5)
    assert get_loss(half) is half
    assert get_loss(half.name, **half.params) == half != WeightedLogistic()
    assert repr(half) == "WeightedLogistic(power=0.5)"
    with pytest.raises(ValueError, match="unknown loss 'nope'"):
        get_loss("nope")
    with pytest.raises(ValueError, match="bad parameters for loss 'logistic'"):
        get_loss("logistic", alpha=2)
    with pytest.raises(ValueError, match="power must be in"):
        get_loss("logistic", power=2.0)
    with pytest.raises(ValueError, match="temperature"):
        get_loss("soft_wealth", temperature=0.0)


def test_bad_inputs_raise_clear_errors():
    lossf = WeightedLogistic()
    with pytest.raises(ValueError, match="shape"):
        lossf.gradient_hessian(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="NaN or infinite"):
        lossf.gradient_hessian(np.zeros(2), np.array([0.1, np.nan]))
    with pytest.raises(ValueError, match="scale"):
        lossf.gradient_hessian(np.zeros(2), np.zeros(2), scale=0.0)
    with pytest.raises(ValueError, match="sample_weight"):
        lossf.gradient_hessian(np.zeros(2), np.zeros(2), sample_weight=[1.0, -1.0])
