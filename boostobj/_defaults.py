"""The one set of defaults that the estimators, :func:`boostobj.tuning.tune` and the CLI share."""

from __future__ import annotations

#: Most boosting rounds per fit; early stopping on the validation rows usually keeps fewer.
N_ESTIMATORS = 500
#: Patience of early stopping, in rounds, on the last eval set.
EARLY_STOPPING_ROUNDS = 50
#: Booster threads (``None``: the booster's default, every core).
N_JOBS = None
#: Optuna trials of a fresh :func:`~boostobj.tuning.tune` call.
N_TRIALS = 20
#: Share of the validation rows the no-edge guard holds out from every choice.
GUARD_FRACTION = 0.3
#: With ``tune(payoffs="auto")``, the fewest training rows that won, and that lost, for the
#: two-part model (payoffs estimated by two regressions); fewer: the log(p)-weighted surrogate.
TWO_PART_MIN_ROWS = 200
#: Learning rate of the two-part model's payoff regressions (``TwoPart(learning_rate)``).
TWO_PART_LEARNING_RATE = 0.1
#: Members of the default final model, ``CrossFit(k)`` (``--cross-fit K``).
CROSS_FIT_FOLDS = 5

# Bounds, shared by the config objects and the CLI's argument types.
#: Fewest walk-forward folds (``WalkForward(n_splits)``, ``--n-splits``).
MIN_N_SPLITS = 1
#: Fewest cross-fit folds (``CrossFit(k)``, ``--cross-fit``).
MIN_CROSS_FIT_FOLDS = 2
#: What a trial's value can measure (``tune(select_on=...)``, ``--select-on``).
SELECT_ON = ("log_wealth", "loss")
