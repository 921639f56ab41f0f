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
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._validation import check_log_payoff, check_sample_weight

__all__ = ["LOSSES", "Loss", "WeightedLogistic", "get_loss"]

Coefficients = tuple[NDArray[Any], ...]

# |margin| beyond this changes nothing a float32 booster can see: sigmoid(40) = 1 - 4e-18.
_CLIP = 40.0


class Loss(ABC):
    """A per-row surrogate ``L(f; r)`` whose sum the booster minimises."""

    name: ClassVar[str]
    #: True where :meth:`gradient_hessian` returns the exact second derivative.
    exact_hessian: ClassVar[bool] = True

    @abstractmethod
    def coefficients(
        self, log_payoff: NDArray[Any], sample_weight: NDArray[Any] | None, scale: float, dtype: Any
    ) -> Coefficients:
        """Per-row constants of the kernel, computed once per data set."""

    @abstractmethod
    def gradient_hessian_into(
        self, margin: NDArray[Any], coef: Coefficients, grad: NDArray[Any], hess: NDArray[Any]
    ) -> None:
        """Write ``dL/df`` into ``grad`` and the hessian used into ``hess`` (no allocation)."""

    @abstractmethod
    def _loss(self, margin: NDArray[np.float64], coef: Coefficients) -> NDArray[np.float64]:
        """Per-row loss in float64."""

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
        if not (np.isfinite(scale) and scale > 0):
            raise ValueError(f"scale must be a finite number > 0, got {scale!r}")
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
        return f"{type(self).__name__}()"


class WeightedLogistic(Loss):
    r"""Logistic loss with label ``y = 1[r > 0]`` and weight ``w = sw |r| / c``.

    .. math::

        L = w \, \mathrm{softplus}(-\sigma f), \quad \sigma = \mathrm{sign}(r) \\
        \partial_f L = w (s - y), \qquad \partial_f^2 L = w s (1 - s),
        \qquad s = \mathrm{sigmoid}(f)

    Kernel: ``u = exp(-f)``, ``s = 1 / (1 + u)``, ``1 - s = u s``, so
    ``grad = s w (1 - y) - (1 - s) w y`` and ``hess = w s (1 - s)``, each side computed
    without cancellation (relative error ~1e-7 in float32 even where ``s`` saturates; the
    ``0.5 tanh(f/2)`` form loses ~1% there). Margins are clipped to ``|f| <= 40`` first, so
    ``exp`` never overflows; that changes only terms below ``exp(-40) w``.

    This is XGBoost's ``binary:logistic`` and LightGBM's ``binary`` with sample weights
    ``|r|``. Its population minimiser has ``f*(x) > 0`` iff ``E[r | x] > 0``, so threshold
    0.5 is the Bayes decision for expected log-wealth.
    """

    name = "logistic"

    def coefficients(
        self, log_payoff: NDArray[Any], sample_weight: NDArray[Any] | None, scale: float, dtype: Any
    ) -> Coefficients:
        w = np.abs(log_payoff) / scale
        if sample_weight is not None:
            w = w * sample_weight
        positive = log_payoff > 0
        w_neg = np.where(positive, 0.0, w)  # w (1 - y)
        w_pos = np.where(positive, w, 0.0)  # w y
        return w.astype(dtype), w_neg.astype(dtype), w_pos.astype(dtype)

    def gradient_hessian_into(
        self, margin: NDArray[Any], coef: Coefficients, grad: NDArray[Any], hess: NDArray[Any]
    ) -> None:
        w, w_neg, w_pos = coef
        u = np.clip(margin, -_CLIP, _CLIP, out=hess, casting="same_kind")
        np.negative(u, out=u)
        np.exp(u, out=u)  # u = exp(-f)
        s = np.add(u, 1.0, out=grad)
        np.reciprocal(s, out=s)  # s = sigmoid(f)
        np.multiply(u, s, out=u)  # u = 1 - s
        tmp = np.multiply(u, w_pos)  # (1 - s) w y
        np.multiply(u, s, out=hess)
        np.multiply(hess, w, out=hess)  # w s (1 - s)
        np.multiply(s, w_neg, out=grad)
        np.subtract(grad, tmp, out=grad)  # w (s - y)

    def _loss(self, margin: NDArray[np.float64], coef: Coefficients) -> NDArray[np.float64]:
        w, w_neg, _ = coef
        sign = np.where(w_neg > 0, 1.0, -1.0)
        return w * np.logaddexp(0.0, sign * margin)


LOSSES: dict[str, Loss] = {loss.name: loss for loss in (WeightedLogistic(),)}


def get_loss(loss: str | Loss) -> Loss:
    """Look a loss up by name in :data:`LOSSES`, or pass a :class:`Loss` through."""
    if isinstance(loss, Loss):
        return loss
    try:
        return LOSSES[loss]
    except KeyError:
        raise ValueError(f"unknown loss {loss!r}; choose one of {sorted(LOSSES)}") from None
