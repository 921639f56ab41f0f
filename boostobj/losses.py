"""The math core: surrogate losses of log-wealth, with hand-derived derivatives in margin space.

Notation, per row: raw margin ``f``, log payoff ``r = log p``, user sample weight ``sw`` and
the training set's weight scale ``c`` (see :func:`boostobj.weight_scale`). Every derivative is
taken with respect to ``f``; a probability only appears as ``s = sigmoid(f)``.

A loss turns ``(r, sw, c)`` into per-row coefficients once (:meth:`Loss.coefficients`), and a
kernel turns a margin into gradient and hessian with those coefficients, writing into
caller-owned buffers (:meth:`Loss.gradient_hessian_into`). The booster adapters cache the
coefficients and buffers per data object; the public :meth:`Loss.gradient_hessian` allocates.

Numerics: ``sigmoid`` from ``exp`` of a clipped margin and ``softplus`` via ``np.logaddexp``
are finite and warning-free for any finite margin (tested to ``|f| = 1e4``).

Non-convex surrogates (:class:`SoftWealth`, :class:`Kelly`) return a positive curvature that
bounds the exact second derivative from above in absolute value (``exact_hessian = False``):
writing ``L = phi(s)``, ``L'' = phi''(s) s'^2 + phi'(s) s''`` and ``|s''| <= s(1-s) |s'| / s'``
is bounded by dropping the factor ``|1 - 2s| <= 1``. The Newton steps the boosters take are
then never longer than the exact ones would be where those are defined, and every row's step
is bounded.

Losses are registered in :data:`LOSSES` by name; knobs are constructor arguments, so a loss is
fully described by ``(name, params)`` and ``get_loss(name, **params)`` rebuilds it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._validation import check_log_payoff, check_sample_weight, check_scale

try:  # the optional compiled kernel (setup.py builds it where a C compiler exists)
    from . import _kernels
except ImportError:  # pragma: no cover - a build without a compiler
    _kernels = None

__all__ = [
    "LOSSES",
    "Kelly",
    "Loss",
    "Outcome",
    "SoftWealth",
    "SquaredError",
    "WeightedLogistic",
    "compiled_kernel",
    "get_loss",
    "weight_scale",
]

Coefficients = tuple[NDArray[Any], ...]

# |margin| beyond this changes nothing a float32 booster can see: sigmoid(40) = 1 - 4e-18.
_CLIP = 40.0


def compiled_kernel() -> bool:
    """Whether the float32 kernel of :class:`WeightedLogistic` (and :class:`Outcome`) runs
    compiled (``boostobj._kernels``, one fused pass) rather than in numpy (nine passes).

    Both compute the same formula; the compiled one made the objective about 2.5x faster per
    call on 1M rows (``benchmarks/results/speed.md``), which keeps XGBoost's custom objective
    nearer its built-in twin's speed. It is built at install time where a C compiler exists.
    """
    return _kernels is not None


def _fused(*arrays: NDArray[Any]) -> bool:
    """Whether the compiled kernel is there and takes these arrays: 1-D contiguous float32."""
    return _kernels is not None and all(
        a.dtype == np.float32 and a.ndim == 1 and a.flags.c_contiguous for a in arrays
    )


def _sigmoid_pair(margin: NDArray[Any], s: NDArray[Any], one_minus_s: NDArray[Any]) -> None:
    """``s = sigmoid(f)`` and ``1 - s`` into two buffers, each to full relative precision.

    ``u = exp(-clip(f))``, ``s = 1 / (1 + u)``, ``1 - s = u s``: no cancellation on either side.
    """
    u = np.clip(margin, -_CLIP, _CLIP, out=one_minus_s, casting="same_kind")
    np.negative(u, out=u)
    np.exp(u, out=u)
    np.add(u, 1.0, out=s)
    np.reciprocal(s, out=s)
    np.multiply(u, s, out=one_minus_s)


class Loss(ABC):
    """A per-row surrogate ``L(f; r)`` whose sum the booster minimises."""

    name: ClassVar[str]
    #: True where :meth:`gradient_hessian` returns the exact second derivative; otherwise it
    #: returns a positive curvature ``>= |exact|`` (see the module docstring).
    exact_hessian: ClassVar[bool] = True
    #: True where the model's output is a stake ``sigmoid(f)`` in ``[0, 1]`` rather than a
    #: score to threshold; its metric is then :func:`boostobj.metrics.stake_log_wealth`.
    stake: ClassVar[bool] = False

    @property
    def params(self) -> dict[str, float]:
        """The constructor arguments: ``get_loss(self.name, **self.params)`` rebuilds it."""
        return {}

    @property
    def bayes_threshold(self) -> float | None:
        """The probability cut that is the Bayes decision (take iff ``E[log p | x] > 0``) at
        the loss's population minimiser, or ``None`` where no fixed cut is (then tune one)."""
        return None

    def row_weight(self, log_payoff: NDArray[Any]) -> NDArray[Any]:
        """Per-row magnitude before the scale, ``|r|`` unless a loss says otherwise."""
        return np.abs(log_payoff)

    def weight_scale(self, log_payoff: ArrayLike, sample_weight: ArrayLike | None = None) -> float:
        """The scale ``c`` giving weights mean 1 on these rows: ``mean_sw(row_weight(r))``.

        Fix it on the training set and use it everywhere (eval sets, partitions, refits).
        """
        r = check_log_payoff(log_payoff)
        sw = check_sample_weight(sample_weight, r.size)
        w = self.row_weight(r)
        total, mass = (float(w.sum()), float(r.size)) if sw is None else (float(w @ sw), sw.sum())
        if not total > 0:
            raise ValueError(
                "every training weight is zero: all payoffs are 1 (or carry zero "
                "sample_weight), so there is nothing to learn"
            )
        return total / float(mass)

    @abstractmethod
    def coefficients(
        self, log_payoff: NDArray[Any], sample_weight: NDArray[Any] | None, scale: float, dtype: Any
    ) -> Coefficients:
        """Per-row constants of the kernel, computed once per data set.

        Each is an array with one entry per row: the adapters run the kernel on row slices.
        """

    @abstractmethod
    def gradient_hessian_into(
        self, margin: NDArray[Any], coef: Coefficients, grad: NDArray[Any], hess: NDArray[Any]
    ) -> None:
        """Write ``dL/df`` into ``grad`` and the hessian used into ``hess``."""

    @abstractmethod
    def _loss(self, margin: NDArray[np.float64], coef: Coefficients) -> NDArray[np.float64]:
        """Per-row loss in float64."""

    def _weights(
        self, log_payoff: NDArray[Any], sample_weight: NDArray[Any] | None, scale: float
    ) -> NDArray[np.float64]:
        w = self.row_weight(log_payoff).astype(np.float64) / scale
        return w if sample_weight is None else w * sample_weight

    def _prepare(
        self,
        margin: ArrayLike,
        log_payoff: ArrayLike,
        sample_weight: ArrayLike | None,
        scale: float,
        dtype: Any,
    ) -> tuple[NDArray[Any], Coefficients]:
        r = check_log_payoff(log_payoff)
        f = np.asarray(margin, dtype=dtype)
        if f.shape != r.shape:
            raise ValueError(f"margin has shape {f.shape} but log_payoff has shape {r.shape}")
        scale = check_scale(scale)
        sw = check_sample_weight(sample_weight, r.size)
        return f, self.coefficients(r, sw, scale, dtype)

    def loss(
        self,
        margin: ArrayLike,
        log_payoff: ArrayLike,
        sample_weight: ArrayLike | None = None,
        scale: float = 1.0,
    ) -> NDArray[np.float64]:
        """Per-row loss at ``margin`` (float64)."""
        f, coef = self._prepare(margin, log_payoff, sample_weight, scale, np.float64)
        return self._loss(f, coef)

    def gradient_hessian(
        self,
        margin: ArrayLike,
        log_payoff: ArrayLike,
        sample_weight: ArrayLike | None = None,
        scale: float = 1.0,
    ) -> tuple[NDArray[Any], NDArray[Any]]:
        """Per-row ``(dL/df, hessian)``; float32 in, float32 out, otherwise float64."""
        dtype = np.float32 if np.asarray(margin).dtype == np.float32 else np.float64
        f, coef = self._prepare(margin, log_payoff, sample_weight, scale, dtype)
        grad, hess = np.empty_like(f), np.empty_like(f)
        self.gradient_hessian_into(f, coef, grad, hess)
        return grad, hess

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.params == self.params  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self), tuple(sorted(self.params.items()))))


class WeightedLogistic(Loss):
    r"""Logistic loss with label ``y = 1[r > 0]`` and weight ``w = sw |r|^power / c``.

    .. math::

        L = w \, \mathrm{softplus}(-\sigma f), \quad \sigma = \mathrm{sign}(r) \\
        \partial_f L = w (s - y), \qquad \partial_f^2 L = w s (1 - s),
        \qquad s = \mathrm{sigmoid}(f)

    ``power=1`` (default) is the log(p)-weighted surrogate: XGBoost's ``binary:logistic`` and
    LightGBM's ``binary`` with sample weights ``|r|``. Its population minimiser has
    ``f*(x) > 0`` iff ``E[r | x] > 0``, so threshold 0.5 is the Bayes decision.
    ``power`` in ``[0, 1)`` tempers heavy-tailed payoffs: less variance, but the minimiser
    then solves ``E[|r|^power sign(r) | x] > 0``, which is consistent only when gains and
    losses have one magnitude per row. ``power=0`` is the plain outcome classifier
    ``P(p > 1 | x)``, the model for payoffs known at decision time.

    Kernel: with ``t = sigmoid(-sign(r) f)``, the probability of the wrong side,
    ``grad = -sign(r) w t`` and ``hess = w exp(sign(r) f) t^2``: no cancellation, so the
    relative error stays ~1e-7 in float32 even where ``s`` saturates (the ``0.5 tanh(f/2)``
    form loses ~1% there).
    """

    name = "logistic"

    def __init__(self, power: float = 1.0) -> None:
        if not 0.0 <= power <= 1.0:
            raise ValueError(f"power must be in [0, 1], got {power!r}")
        self.power = float(power)

    @property
    def params(self) -> dict[str, float]:
        return {"power": self.power}

    @property
    def bayes_threshold(self) -> float | None:
        return 0.5 if self.power == 1.0 else None  # power < 1 solves another problem

    def row_weight(self, log_payoff: NDArray[Any]) -> NDArray[Any]:
        a = np.abs(log_payoff)
        return a if self.power == 1.0 else a**self.power

    def coefficients(
        self, log_payoff: NDArray[Any], sample_weight: NDArray[Any] | None, scale: float, dtype: Any
    ) -> Coefficients:
        w = self._weights(log_payoff, sample_weight, scale)
        sign = np.where(log_payoff > 0, 1.0, -1.0)
        return w.astype(dtype), sign.astype(dtype), (-sign * w).astype(dtype)

    def gradient_hessian_into(
        self, margin: NDArray[Any], coef: Coefficients, grad: NDArray[Any], hess: NDArray[Any]
    ) -> None:
        # e = exp(sign f), t = 1 / (1 + e) = sigmoid(-sign f): the probability of the wrong
        # side. grad = -sign w t, hess = w e t^2 = w s (1 - s). Nine in-place passes, or
        # one compiled pass that reads only the margin and -sign w (boostobj/_kernels.c).
        w, sign, neg_sign_w = coef
        if _fused(margin, neg_sign_w, grad, hess):
            _kernels.logistic(margin, neg_sign_w, grad, hess)
            return
        e = np.multiply(margin, sign, out=hess, casting="same_kind")
        np.clip(e, -_CLIP, _CLIP, out=e)
        np.exp(e, out=e)
        t = np.add(e, 1.0, out=grad)
        np.reciprocal(t, out=t)
        np.multiply(e, t, out=e)
        np.multiply(e, t, out=e)
        np.multiply(e, w, out=e)
        np.multiply(t, neg_sign_w, out=t)

    def _loss(self, margin: NDArray[np.float64], coef: Coefficients) -> NDArray[np.float64]:
        w, sign, _ = coef
        return w * np.logaddexp(0.0, -sign * margin)


class Outcome(WeightedLogistic):
    """Unweighted logistic loss on ``y = 1[p > 1]``: a model of ``q(x) = P(p > 1 | x)``.

    Alone it is the classic baseline that ignores how much is won or lost. With payoffs known
    at decision time (``payoff_columns`` in the estimators) it is the right model: the
    decision ``q p_win-log + (1 - q) p_loss-log > 0`` needs a calibrated ``q``, which the
    |log p|-weighted losses do not give. Same kernel as :class:`WeightedLogistic` with
    ``power=0``.
    """

    name = "outcome"

    def __init__(self) -> None:
        super().__init__(power=0.0)

    @property
    def params(self) -> dict[str, float]:
        return {}


class SoftWealth(Loss):
    r"""Soft expected log-wealth: ``L = -(sw / c) r sigmoid(f / T)``, temperature ``T > 0``.

    The expected log-wealth of taking the row with probability ``s = sigmoid(f / T)``, negated.
    Its population minimiser is ``f -> +inf`` where ``E[r | x] > 0`` and ``-inf`` elsewhere: it
    aims at the decision itself, not at a probability. Non-convex in ``f``.

    .. math::

        \partial_f L = -\frac{w r}{T} s (1 - s), \qquad
        \partial_f^2 L = -\frac{w r}{T^2} s (1 - s)(1 - 2 s)

    Curvature used: ``h = (w |r| / T^2) s (1 - s) >= |exact|``, the weighted-logistic
    curvature. Each row's Newton step ``-g / h = T sign(r)`` is bounded, so boosting cannot
    diverge where the exact hessian is zero (``s = 1/2``, the start) or negative. Where
    ``s`` saturates the gradient vanishes: rows confidently on the wrong side stop
    contributing, which is why a small learning rate and early stopping matter more here.

    Trap: under Newton boosting the temperature is nearly a no-op. Gradient and hessian scale
    by ``1/T`` and ``1/T^2``, so every leaf value scales by ``T`` and ``f / T``, hence the
    policy, is unchanged; ``T`` acts only through the booster's regularisation
    (``lambda``, ``min_child_weight``) against the rescaled hessian (seen in the quality
    benchmark: identical LightGBM models for four temperatures).
    """

    name = "soft_wealth"
    exact_hessian = False

    def __init__(self, temperature: float = 1.0) -> None:
        if not (np.isfinite(temperature) and temperature > 0):
            raise ValueError(f"temperature must be a finite number > 0, got {temperature!r}")
        self.temperature = float(temperature)

    @property
    def params(self) -> dict[str, float]:
        return {"temperature": self.temperature}

    @property
    def bayes_threshold(self) -> float | None:
        return 0.5  # the minimiser's sign is the Bayes decision

    def coefficients(
        self, log_payoff: NDArray[Any], sample_weight: NDArray[Any] | None, scale: float, dtype: Any
    ) -> Coefficients:
        w = self._weights(log_payoff, sample_weight, scale)  # sw |r| / c
        t = self.temperature
        wr = np.sign(log_payoff) * w  # (sw / c) r
        return (-wr / t).astype(dtype), (w / t**2).astype(dtype), wr

    def gradient_hessian_into(
        self, margin: NDArray[Any], coef: Coefficients, grad: NDArray[Any], hess: NDArray[Any]
    ) -> None:
        g, h, _ = coef  # grad = g s (1 - s), hess = h s (1 - s)
        s, one_minus_s = grad, hess
        _sigmoid_pair(margin / self.temperature, s, one_minus_s)
        np.multiply(s, one_minus_s, out=s)
        np.multiply(s, h, out=hess)
        np.multiply(s, g, out=grad)

    def _loss(self, margin: NDArray[np.float64], coef: Coefficients) -> NDArray[np.float64]:
        wr = coef[2]
        return -wr * (0.5 + 0.5 * np.tanh(0.5 * margin / self.temperature))


class Kelly(Loss):
    r"""Fractional (Kelly) stake: bet ``b = sigmoid(f)`` of wealth, ``L = -(sw/c) log(1 + b m)``.

    ``m = p - 1 = expm1(r)``. Summed, ``-L`` is the log-wealth of staking ``b_i`` on every row,
    so the model learns a stake, not a yes/no; its metric is
    :func:`boostobj.metrics.stake_log_wealth`. ``1 + b m >= min(1, p) > 0`` always.

    .. math::

        D = 1 + s m, \qquad \partial_f L = -w \frac{m s (1 - s)}{D}, \qquad
        \partial_f^2 L = w \frac{m^2 s^2 (1-s)^2}{D^2} - w \frac{m s (1-s)(1-2s)}{D}

    Curvature used: ``h = w [m^2 s^2 (1-s)^2 / D^2 + |m| s (1-s) / D] >= |exact|`` (triangle
    inequality and ``|1 - 2s| <= 1``); it is the exact Gauss-Newton term plus a bound on the
    rest, so every row's Newton step is at most 1 in margin.

    Kernel, finite for every ``r = log p`` of a finite ``p > 0`` in float32 and float64 (``m``
    itself overflows float32 above ``p = 3.4e38``, and ``D = 1 + s m`` rounds to 0 when
    ``p < 3e-8`` and ``s`` rounds to 1): with ``P = max(p, 1)``, the per-row constants
    ``a = 1/P``, ``b = min(p, 1)`` and ``mu = m/P`` all lie in ``[-1, 1]``; with
    ``e = exp(-f) = (1 - s) / s`` (``f`` clipped to 40),

        ``q = s (1-s) P / D = e / ((1 + e)(a e + b))`` in ``[0, 1]``, ``u = q mu``,
        ``grad = -w u``, ``hess = w (u^2 + |u|) = |grad| (1 + |u|)``.

    The loss is ``-w logaddexp(log(1 - s), log s + r)``, also finite for any margin.
    """

    name = "kelly"
    exact_hessian = False
    stake = True

    def coefficients(
        self, log_payoff: NDArray[Any], sample_weight: NDArray[Any] | None, scale: float, dtype: Any
    ) -> Coefficients:
        w = np.full(log_payoff.shape, 1.0 / scale)
        if sample_weight is not None:
            w = w * sample_weight
        r = log_payoff.astype(np.float64)
        mu = np.copysign(np.expm1(-np.abs(r)), r)  # (p - 1) / max(p, 1)
        a = np.exp(-np.maximum(r, 0.0))  # 1 / max(p, 1)
        b = np.exp(np.minimum(r, 0.0))  # min(p, 1)
        cast = [x.astype(dtype) for x in (-w * mu, np.abs(mu), a, b)]
        return (*cast, w, r)

    def gradient_hessian_into(
        self, margin: NDArray[Any], coef: Coefficients, grad: NDArray[Any], hess: NDArray[Any]
    ) -> None:
        neg_w_mu, abs_mu, a, b = coef[:4]
        e = np.clip(margin, -_CLIP, _CLIP, out=grad, casting="same_kind")
        np.negative(e, out=e)
        np.exp(e, out=e)  # e = exp(-f) in [4e-18, 2e17]
        q = np.multiply(e, a, out=hess)
        np.add(q, b, out=q)  # a e + b > 0: b = 1 where a underflows, a = 1 where b does
        d = np.add(e, 1.0)
        np.multiply(q, d, out=q)
        np.divide(e, q, out=q)  # q = s (1 - s) P / D
        np.multiply(q, neg_w_mu, out=grad)  # -w u
        np.multiply(q, abs_mu, out=d)
        np.add(d, 1.0, out=d)  # 1 + |u|
        np.abs(grad, out=hess)
        np.multiply(hess, d, out=hess)  # w |u| (1 + |u|)

    def _loss(self, margin: NDArray[np.float64], coef: Coefficients) -> NDArray[np.float64]:
        w, r = coef[4], coef[5]
        log_s, log_1ms = -np.logaddexp(0.0, -margin), -np.logaddexp(0.0, margin)
        return -w * np.logaddexp(log_1ms, log_s + r)  # -w log((1 - s) + s p)


class SquaredError(Loss):
    r"""Squared error on ``r = log p``: a regression of the log payoff itself.

    .. math::

        L = \tfrac{1}{2} w (f - r)^2, \qquad \partial_f L = w (f - r), \qquad
        \partial_f^2 L = w, \qquad w = sw

    The row weight is 1, so the scale ``c`` is 1 and the hessians count rows (what
    ``min_child_weight`` expects). Its population minimiser is ``f*(x) = E[r | x]``: the
    margin *is* the estimated log payoff, and threshold 0.5 (``f >= 0``) is the Bayes
    decision. Used alone it lost to the weighted logistic loss in our benchmarks; its use is
    the two regressions of :mod:`boostobj.two_part` (on the rows that won, and on those that
    lost), which estimate the payoff of each outcome.
    """

    name = "squared"

    @property
    def bayes_threshold(self) -> float | None:
        return 0.5  # f estimates E[r | x], whose sign is the Bayes decision

    def row_weight(self, log_payoff: NDArray[Any]) -> NDArray[Any]:
        return np.ones_like(log_payoff, dtype=np.float64)

    def coefficients(
        self, log_payoff: NDArray[Any], sample_weight: NDArray[Any] | None, scale: float, dtype: Any
    ) -> Coefficients:
        w = self._weights(log_payoff, sample_weight, scale)
        return w.astype(dtype), (w * log_payoff).astype(dtype), w, log_payoff.astype(np.float64)

    def gradient_hessian_into(
        self, margin: NDArray[Any], coef: Coefficients, grad: NDArray[Any], hess: NDArray[Any]
    ) -> None:
        w, wr = coef[0], coef[1]
        np.multiply(margin, w, out=grad, casting="same_kind")
        np.subtract(grad, wr, out=grad, casting="same_kind")  # w f - w r
        hess[...] = w

    def _loss(self, margin: NDArray[np.float64], coef: Coefficients) -> NDArray[np.float64]:
        d = margin - coef[3]
        return 0.5 * coef[2] * d * d


#: Registered surrogates by name; ``get_loss(name, **params)`` builds one.
LOSSES: dict[str, type[Loss]] = {
    cls.name: cls for cls in (WeightedLogistic, Outcome, SoftWealth, Kelly, SquaredError)
}


def get_loss(loss: str | Loss, **params: float) -> Loss:
    """Build a registered loss by name (``get_loss("logistic", power=0.5)``), or pass a
    :class:`Loss` through (then ``params`` must be empty)."""
    if isinstance(loss, Loss):
        if params:
            raise ValueError("pass loss parameters either to get_loss or to the Loss, not both")
        return loss
    try:
        cls = LOSSES[loss]
    except (KeyError, TypeError):
        raise ValueError(f"unknown loss {loss!r}; choose one of {sorted(LOSSES)}") from None
    try:
        return cls(**params)
    except TypeError as exc:
        raise ValueError(f"bad parameters for loss {loss!r}: {exc}") from None


def weight_scale(
    log_payoff: ArrayLike, sample_weight: ArrayLike | None = None, loss: str | Loss = "logistic"
) -> float:
    """Mean training weight, ``sum(sw * |log p|) / sum(sw)`` for the default loss.

    Dividing every weight by one constant does not move a surrogate's minimiser, but it keeps
    the boosters' hessian thresholds (``min_child_weight``, ``min_sum_hessian_in_leaf``)
    meaningful when ``|log p|`` is tiny (daily returns: about 0.01). Compute it once on the
    training set and use the same value for every partition, eval set and refit.
    """
    return get_loss(loss).weight_scale(log_payoff, sample_weight)
