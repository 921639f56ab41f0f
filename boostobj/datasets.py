"""Synthetic data sets for decision-focused boosting.

The main generator, :func:`make_betting_market`, simulates a fixed-fraction
bettor facing a bookmaker. Every row ``i`` is a bet with features ``x_i``
(known at decision time) and a payoff multiplier ``p_i > 0`` (known only
afterwards). Taking row ``i`` multiplies wealth by ``p_i``; the goal is to
choose rows so that the log-wealth ``sum_{i taken} log p_i`` is as large as
possible.

Generative model
----------------
Let ``k = n_features`` (``k >= 6``), ``sigmoid(t) = 1 / (1 + exp(-t))`` and
``1[.]`` the indicator function. For each row independently:

1. Latent features ``x_0, ..., x_{k-2} ~ iid N(0, 1)``.

2. True log-odds of the bet winning::

       z = b(x) + l(x) + m(x)

   with

   * base term (how strong a favourite the selection is):
     ``b(x) = -1.0 + 0.8 * x_0``
   * linear part that the market also sees: ``l(x) = 0.5 * x_1``
   * structure the market misses::

         m(x) = 0.25 * x_2 * x_3
              + 0.2 * sin(2 * x_4)
              + 0.9 * (1[x_4 > 1] - Phi(-1))

     where ``Phi(-1) = P(N(0, 1) > 1) ~= 0.1587``, so that ``m`` has mean
     zero and the market is right on average.

   True win probability ``q = sigmoid(z)``.

3. Market (bookmaker) log-odds::

       z_m = b(x) + l(x) + 0.1 * x_5

   The market knows the base and linear terms, misses ``m(x)``, and (only
   when ``k >= 7``, so that ``x_5`` exists) wrongly reacts to ``x_5``,
   which has no effect on the true probability. Market probability
   ``q_m = sigmoid(z_m)``.

4. Decimal odds with the bookmaker margin ``r = bookmaker_margin``::

       odds = max(1 / (q_m * (1 + r)), 1.01)

5. Outcome ``won ~ Bernoulli(q)``.

6. Payoff of staking the fraction ``s = stake`` of wealth::

       p = 1 + s * (odds - 1)   if won
       p = 1 - s                otherwise

7. Exact conditional expected log payoff (the Bayes-optimal score)::

       E[log p | x] = q * log1p(s * (odds - 1)) + (1 - q) * log1p(-s)

The returned feature matrix is ``X = [x_0, ..., x_{k-2}, log(odds)]``: the
last column is the log of the decimal odds, which the bettor sees when
deciding. Columns ``x_6, ..., x_{k-2}`` are pure noise; ``x_5`` does not
change the true probability but, through the market's mistake, the odds.

Calibration (default arguments, large ``n``): about 25% of the rows have
``E[log p | x] > 0`` (between 15% and 35% for any sizeable sample); taking
every row has expected log-wealth of about -4.9 per 1000 rows (the margin
makes betting on everything lose), while the Bayes policy (take exactly the
rows with ``E[log p | x] > 0``) earns about +4.3 per 1000 rows. The median
decimal odds are about 3.5. A gradient-boosted classifier trained on 50 000
rows recovers roughly 85-92% of the Bayes policy's realised log-wealth.
"""

from __future__ import annotations

import math
import numbers
from typing import Literal, overload

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["bayes_log_wealth", "make_betting_market", "make_lending_market"]

# Constants of the generative model (documented in the module docstring).
_BASE_INTERCEPT = -1.0
_BASE_SLOPE = 0.8  # coefficient of x_0
_LINEAR = 0.5  # coefficient of x_1
_INTERACTION = 0.25  # coefficient of x_2 * x_3 (missed by the market)
_SINE = 0.2  # coefficient of sin(2 * x_4) (missed by the market)
_THRESHOLD = 0.9  # coefficient of 1[x_4 > 1] - Phi(-1) (missed by the market)
_THRESHOLD_AT = 1.0
_P_ABOVE_THRESHOLD = 0.5 * math.erfc(_THRESHOLD_AT / math.sqrt(2.0))  # Phi(-1)
_MARKET_MISTAKE = 0.1  # market's wrong coefficient on x_5 (if present)
_MIN_ODDS = 1.01
_MIN_FEATURES = 6


def _sigmoid(z: NDArray[np.float64]) -> NDArray[np.float64]:
    """Numerically stable logistic function."""
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def _check_int(name: str, value: object, minimum: int) -> int:
    """Return ``value`` as an ``int`` or raise ``ValueError`` naming it."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_real(name: str, value: object) -> float:
    """Return ``value`` as a finite ``float`` or raise ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    result = float(value)
    if not math.isfinite(result):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return result


@overload
def make_betting_market(
    n_samples: int = ...,
    *,
    random_state: int | np.random.Generator | None = ...,
    n_features: int = ...,
    stake: float = ...,
    bookmaker_margin: float = ...,
    return_odds: Literal[False] = ...,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]: ...


@overload
def make_betting_market(
    n_samples: int = ...,
    *,
    random_state: int | np.random.Generator | None = ...,
    n_features: int = ...,
    stake: float = ...,
    bookmaker_margin: float = ...,
    return_odds: Literal[True],
) -> tuple[
    NDArray[np.float64],
    NDArray[np.float64],
    NDArray[np.float64],
    NDArray[np.float64],
]: ...


def make_betting_market(
    n_samples: int = 10_000,
    *,
    random_state: int | np.random.Generator | None = None,
    n_features: int = 8,
    stake: float = 0.05,
    bookmaker_margin: float = 0.05,
    return_odds: bool = False,
) -> (
    tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]
    | tuple[
        NDArray[np.float64],
        NDArray[np.float64],
        NDArray[np.float64],
        NDArray[np.float64],
    ]
):
    """Simulate bets against a bookmaker whose prices miss some structure.

    See the module docstring for the exact generative model.

    Args:
        n_samples: Number of rows (bets), ``>= 1``.
        random_state: Seed or generator, passed to
            ``numpy.random.default_rng``. An integer gives reproducible
            output; a ``Generator`` is used (and advanced) in place.
        n_features: Number of columns of ``X``, ``>= 6``. The first
            ``n_features - 1`` are the latent features, the last is
            ``log(odds)``.
        stake: Fraction of wealth staked on a taken bet, in ``(0, 1)``.
        bookmaker_margin: Bookmaker's over-round ``r >= 0``; the quoted
            odds are ``1 / (q_m * (1 + r))``, floored at 1.01.
        return_odds: If true, also return the decimal odds.

    Returns:
        ``(X, p, expected_log_payoff)`` or, if ``return_odds``,
        ``(X, p, expected_log_payoff, odds)``:

        * ``X``: float64 array of shape ``(n_samples, n_features)``.
        * ``p``: float64 array of shape ``(n_samples,)``, the realised
          payoff multipliers, all finite and ``> 0``.
        * ``expected_log_payoff``: float64 array of shape ``(n_samples,)``,
          the exact ``E[log p | x]``; the Bayes policy takes the rows where
          it is positive.
        * ``odds``: float64 array of shape ``(n_samples,)``, the decimal
          odds (``X[:, -1] == log(odds)``).

    Raises:
        ValueError: If an argument is out of range; the message names it.
    """
    n = _check_int("n_samples", n_samples, 1)
    k = _check_int("n_features", n_features, _MIN_FEATURES)
    s = _check_real("stake", stake)
    if not 0.0 < s < 1.0:
        raise ValueError(f"stake must be in (0, 1), got {stake!r}")
    margin = _check_real("bookmaker_margin", bookmaker_margin)
    if margin < 0.0:
        raise ValueError(f"bookmaker_margin must be >= 0, got {bookmaker_margin!r}")

    rng = np.random.default_rng(random_state)
    latent = rng.standard_normal((n, k - 1))
    x0, x1, x2, x3, x4 = (latent[:, j] for j in range(5))

    base = _BASE_INTERCEPT + _BASE_SLOPE * x0
    linear = _LINEAR * x1
    missed = (
        _INTERACTION * x2 * x3
        + _SINE * np.sin(2.0 * x4)
        + _THRESHOLD * ((x4 > _THRESHOLD_AT).astype(np.float64) - _P_ABOVE_THRESHOLD)
    )
    z_true = base + linear + missed
    z_market = base + linear
    if k - 1 > 5:
        z_market = z_market + _MARKET_MISTAKE * latent[:, 5]

    q = _sigmoid(z_true)
    q_market = _sigmoid(z_market)
    odds = np.maximum(1.0 / (q_market * (1.0 + margin)), _MIN_ODDS)

    won = rng.random(n) < q
    log_win = np.log1p(s * (odds - 1.0))
    log_loss = math.log1p(-s)
    p = np.where(won, 1.0 + s * (odds - 1.0), 1.0 - s)
    expected_log_payoff = q * log_win + (1.0 - q) * log_loss

    X = np.empty((n, k), dtype=np.float64)
    X[:, :-1] = latent
    X[:, -1] = np.log(odds)

    if return_odds:
        return X, p, expected_log_payoff, odds
    return X, p, expected_log_payoff


def bayes_log_wealth(log_payoff: ArrayLike, expected_log_payoff: ArrayLike) -> float:
    """Realised log-wealth of the Bayes policy.

    The Bayes policy takes exactly the rows whose conditional expected log
    payoff is positive, so this is
    ``sum(log_payoff[expected_log_payoff > 0])``.

    Args:
        log_payoff: Realised log payoffs ``log p``, one per row.
        expected_log_payoff: ``E[log p | x]`` per row, e.g. as returned by
            :func:`make_betting_market`.

    Returns:
        The total realised log payoff over the rows the Bayes policy takes
        (``0.0`` if it takes none).

    Raises:
        ValueError: If the two arrays do not have the same shape.
    """
    log_p = np.asarray(log_payoff, dtype=np.float64)
    expected = np.asarray(expected_log_payoff, dtype=np.float64)
    if log_p.shape != expected.shape:
        raise ValueError(
            "log_payoff and expected_log_payoff must have the same shape, got "
            f"{log_p.shape} and {expected.shape}"
        )
    return float(np.sum(log_p[expected > 0.0]))


# Constants of the lending market (documented in make_lending_market).
_LEND_INTERCEPT = -2.6
_LEND_SCORE = -0.8  # coefficient of x_0 (credit score), priced by the lender
_LEND_DTI = 0.5  # coefficient of x_1 (debt-to-income), priced by the lender
_LEND_INTERACTION = 0.45  # coefficient of x_2 * x_3 (missed by the lender)
_LEND_JUMP = 1.2  # coefficient of 1[x_4 > 1.5] - Phi(-1.5) (missed by the lender)
_LEND_JUMP_AT = 1.5
_LEND_P_ABOVE_JUMP = 0.5 * math.erfc(_LEND_JUMP_AT / math.sqrt(2.0))  # Phi(-1.5)
_LEND_SINE = 0.3  # coefficient of sin(2 * x_4) (missed by the lender)
_LEND_MISTAKE = 0.3  # lender's wrong coefficient on x_5
_LEND_MIN_FEATURES = 7


def make_lending_market(
    n_samples: int = 10_000,
    *,
    random_state: int | np.random.Generator | None = None,
    n_features: int = 8,
    stake: float = 0.2,
    loss_given_default: float = 0.7,
    lender_margin: float = 0.01,
    rate_cap: float = 0.36,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Simulate loans: frequent small gains, rare large losses, priced by an imperfect lender.

    Every row is a loan an investor may fund with the fraction ``s = stake`` of wealth. If it
    is repaid the payoff is ``p = 1 + s * rate``; on default the investor loses the fraction
    ``lgd = loss_given_default`` of the stake, ``p = 1 - s * lgd``. The rate is set by a
    lender whose default model misses part of the structure, so it only partly prices risk.

    Generative model, with ``k = n_features`` (``k >= 7``) and ``Phi(-1.5) ~= 0.0668``:

    1. Latent features ``x_0, ..., x_{k-2} ~ iid N(0, 1)`` (``x_0`` reads as a credit
       score, ``x_1`` as debt-to-income).
    2. True log-odds of default::

           z = -2.6 - 0.8 x_0 + 0.5 x_1 + m(x)
           m(x) = 0.45 x_2 x_3 + 1.2 (1[x_4 > 1.5] - Phi(-1.5)) + 0.3 sin(2 x_4)

       ``m`` has mean zero; default probability ``d = sigmoid(z)`` (about 10% on average).
    3. The lender's log-odds ``z_l = -2.6 - 0.8 x_0 + 0.5 x_1 + 0.3 x_5``: it misses ``m``
       and wrongly reacts to ``x_5``, which has no effect on default. ``d_l = sigmoid(z_l)``.
    4. Offered rate, priced for an arithmetic margin ``lender_margin`` under the lender's
       model and capped (a usury cap, so the riskiest loans are underpriced even by it)::

           rate = min((lender_margin + d_l * lgd) / (1 - d_l), rate_cap)

    5. Default ``~ Bernoulli(d)``; ``p = 1 - s lgd`` on default, ``1 + s rate`` otherwise.
    6. Exact conditional expected log payoff (the Bayes-optimal score)::

           E[log p | x] = (1 - d) log1p(s rate) + d log1p(-s lgd)

    ``X = [x_0, ..., x_{k-2}, rate]``: the last column is the offered rate, known when
    deciding. Columns ``x_6, ...`` are pure noise.

    Calibration (default arguments, large ``n``): about 90% of loans are repaid (``p > 1``)
    and about 63% have ``E[log p | x] > 0``. A positive arithmetic margin is not a positive
    log-return: taking every loan loses about 0.7 per 1000 rows of log-wealth, while the
    Bayes policy earns about +3.3 per 1000 rows. Median rate is about 6%, about 3% of rates
    sit at the cap. Because ``|log p|`` of a default is about 12 times that of a repayment, a
    classifier of ``1[p > 1]`` ranks loans by risk but ignores what the rate pays.

    Args:
        n_samples: Number of rows (loans), ``>= 1``.
        random_state: Seed or generator, passed to ``numpy.random.default_rng``.
        n_features: Number of columns of ``X``, ``>= 7``; the last is the rate.
        stake: Fraction of wealth lent per loan, in ``(0, 1)``.
        loss_given_default: Fraction of the stake lost on default, in ``(0, 1]``.
        lender_margin: The lender's target arithmetic margin, ``>= 0``.
        rate_cap: Highest rate the lender may charge, ``> lender_margin``.

    Returns:
        ``(X, p, expected_log_payoff)``: float64 arrays of shapes ``(n_samples, n_features)``,
        ``(n_samples,)`` and ``(n_samples,)``; ``p`` is finite and ``> 0``. The Bayes policy
        takes the rows where ``expected_log_payoff > 0`` (see :func:`bayes_log_wealth`).

    Raises:
        ValueError: If an argument is out of range; the message names it.
    """
    n = _check_int("n_samples", n_samples, 1)
    k = _check_int("n_features", n_features, _LEND_MIN_FEATURES)
    s = _check_real("stake", stake)
    if not 0.0 < s < 1.0:
        raise ValueError(f"stake must be in (0, 1), got {stake!r}")
    lgd = _check_real("loss_given_default", loss_given_default)
    if not 0.0 < lgd <= 1.0:
        raise ValueError(f"loss_given_default must be in (0, 1], got {loss_given_default!r}")
    margin = _check_real("lender_margin", lender_margin)
    if margin < 0.0:
        raise ValueError(f"lender_margin must be >= 0, got {lender_margin!r}")
    cap = _check_real("rate_cap", rate_cap)
    if not cap > margin:
        raise ValueError(f"rate_cap must be > lender_margin, got {rate_cap!r}")

    rng = np.random.default_rng(random_state)
    latent = rng.standard_normal((n, k - 1))
    x0, x1, x2, x3, x4, x5 = (latent[:, j] for j in range(6))

    priced = _LEND_INTERCEPT + _LEND_SCORE * x0 + _LEND_DTI * x1
    missed = (
        _LEND_INTERACTION * x2 * x3
        + _LEND_JUMP * ((x4 > _LEND_JUMP_AT).astype(np.float64) - _LEND_P_ABOVE_JUMP)
        + _LEND_SINE * np.sin(2.0 * x4)
    )
    default_prob = _sigmoid(priced + missed)
    lender_prob = _sigmoid(priced + _LEND_MISTAKE * x5)
    rate = np.minimum((margin + lender_prob * lgd) / (1.0 - lender_prob), cap)

    defaulted = rng.random(n) < default_prob
    log_repaid = np.log1p(s * rate)
    log_default = math.log1p(-s * lgd)
    p = np.where(defaulted, 1.0 - s * lgd, 1.0 + s * rate)
    expected_log_payoff = (1.0 - default_prob) * log_repaid + default_prob * log_default

    X = np.empty((n, k), dtype=np.float64)
    X[:, :-1] = latent
    X[:, -1] = rate
    return X, p, expected_log_payoff
