"""What to deploy: a model, its threshold, and the no-edge guard's verdict, as one object.

:func:`boostobj.tuning.tune` returns a :class:`Policy` (``result.policy``) and
``boostobj tune`` saves one. Its :meth:`~Policy.predict` applies the guard's recommendation:

- ``"model"``: the model's own decisions (``sigmoid(margin) >= threshold``);
- ``"take_all"``: every row; ``"take_none"``: no row.

A model whose edge the guard could not tell from noise is thus never deployed by accident:
overriding the guard is a deliberate ``predict(X, use_model=True)`` (``boostobj predict
--use-model``), which warns.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .persistence import load_model, read_sidecar, write_model_folder

__all__ = ["POLICIES", "Policy", "load_policy"]

#: What a policy can apply.
POLICIES = ("model", "take_all", "take_none")


@dataclass(frozen=True)
class Policy:
    """A model with the guard's verdict on it.

    Attributes:
        model: a fitted estimator or :class:`~boostobj.CrossFitEnsemble`.
        policy: what :meth:`predict` applies, one of :data:`POLICIES`.
        reason: the guard's sentence (which rows it judged, the intervals).
        verdict: the guard's full :class:`~boostobj.guard.Recommendation` where at hand
            (``None`` after loading: the sidecar keeps its summary).
    """

    model: Any
    policy: str
    reason: str
    verdict: Any = None

    def __post_init__(self) -> None:
        if self.policy not in POLICIES:
            raise ValueError(f"policy must be one of {POLICIES}, got {self.policy!r}")

    @property
    def threshold(self) -> float:
        """The model's probability threshold."""
        return float(self.model._cut())

    def explain(self, use_model: bool = False) -> str:
        """One sentence: which policy :meth:`predict` applies, and why."""
        if use_model and self.policy != "model":
            return f"applied the model although the guard recommends {self.policy}: {self.reason}"
        return f"applied {self.policy}: {self.reason}"

    def predict(self, X: Any, *, use_model: bool = False) -> NDArray[np.int64]:
        """1 = take the row, by the guard's policy (``use_model=True``: the model's own
        decisions whatever the guard said, with a warning when it found no edge).

        The model checks ``X`` in every case, so bad input fails the same way.
        """
        take = self.model.predict(X).astype(np.int64)
        if self.policy == "model":
            return take
        if use_model:
            warnings.warn(
                f"the guard found no edge ({self.reason}); using the model anyway",
                UserWarning,
                stacklevel=2,
            )
            return take
        return np.full(take.shape, 1 if self.policy == "take_all" else 0, dtype=np.int64)

    def save(self, path: str | Path, *, overwrite: bool = False) -> Path:
        """The model folder (as ``model.save``) with the verdict recorded in its sidecar."""
        write, sidecar = self.model.save_parts()
        sidecar["policy"] = {"policy": self.policy, "reason": self.reason}
        if self.verdict is not None:
            sidecar["policy"]["verdict"] = self.verdict.summary()
        return write_model_folder(path, write, sidecar, overwrite=overwrite)


def load_policy(path: str | Path) -> Policy:
    """The policy saved in a model folder (or a ``boostobj tune`` run folder).

    A model folder saved without a verdict (``model.save``) loads as the policy ``"model"``,
    with a reason that says so.
    """
    folder = Path(path)
    model = load_model(folder)
    if not (folder / "boostobj.json").is_file():
        folder = folder / "model"
    saved = read_sidecar(folder).get("policy")
    if saved is None:
        return Policy(model, "model", "no guard verdict is saved with this model")
    if not isinstance(saved, dict) or saved.get("policy") not in POLICIES:
        raise ValueError(f"{folder / 'boostobj.json'}: the saved policy is not one of {POLICIES}")
    return Policy(model, saved["policy"], str(saved.get("reason", "")))
