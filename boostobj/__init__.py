"""boostobj: boosting objectives that maximise compounded payoff (log-wealth).

Every row has features ``x`` and a payoff multiplier ``p > 0`` known only afterwards. Taking a
row multiplies wealth by ``p``; the goal is the largest ``sum(log p)`` over the rows taken.
Boosters see ``label = log p`` (:func:`log_payoff` checks and converts).

- :mod:`boostobj.losses`: the math core (surrogates, gradient and hessian in margin space).
- :mod:`boostobj.xgboost`, :mod:`boostobj.lightgbm`: thin adapters (objective, metric).
- :mod:`boostobj.metrics`: log-wealth and exact threshold search.
- :class:`XGBWealthClassifier`, :class:`LGBMWealthClassifier`: sklearn-style estimators;
  :class:`CrossFitEnsemble` averages cross-fitted copies of one; :class:`TwoPartModel`
  estimates each outcome's payoff, then decides as if the payoffs were known.
- :func:`make_betting_market`: synthetic data with a known optimal policy.
- :class:`Rows`: checked rows (features, ``log p``, weights, groups), built once where data
  enters; :func:`load_model` reads any saved model folder; :func:`versions` the libraries'.

Booster, sklearn and Optuna imports are lazy: ``import boostobj`` loads numpy only.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from ._validation import Rows, log_payoff
from .losses import weight_scale
from .metrics import best_threshold, log_wealth, threshold_curve

if TYPE_CHECKING:
    from ._meta import versions
    from .datasets import make_betting_market
    from .ensemble import CrossFitEnsemble
    from .persistence import load_model
    from .policy import Policy, load_policy
    from .sklearn import LGBMWealthClassifier, XGBWealthClassifier
    from .two_part import TwoPartModel

__version__ = "0.1.0"

__all__ = [
    "CrossFitEnsemble",
    "LGBMWealthClassifier",
    "Policy",
    "Rows",
    "TwoPartModel",
    "XGBWealthClassifier",
    "__version__",
    "best_threshold",
    "load_model",
    "load_policy",
    "log_payoff",
    "log_wealth",
    "make_betting_market",
    "threshold_curve",
    "versions",
    "weight_scale",
]

_LAZY = {
    "CrossFitEnsemble": ".ensemble",
    "XGBWealthClassifier": ".sklearn",
    "LGBMWealthClassifier": ".sklearn",
    "load_model": ".persistence",
    "Policy": ".policy",
    "TwoPartModel": ".two_part",
    "load_policy": ".policy",
    "make_betting_market": ".datasets",
    "versions": "._meta",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
