"""Optuna studies for :mod:`boostobj.tuning`: storage, and opening, binding and resuming a study.

``storage`` (see :func:`make_storage`) is a SQLite file, a journal file or an RDB URL; every
finished trial is committed there, so a killed process loses only the trial it was running
(left in state RUNNING, ignored by the sampler and by ``best_trial``). A study records the
configuration it was created with (:func:`bind_study`) and refuses to be resumed with another.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from numpy.typing import NDArray

__all__ = ["StudyConfig", "make_storage"]

_JOURNAL_SUFFIXES = (".log", ".journal", ".jsonl")
_SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")
CONFIG_ATTR = "boostobj_config"


def make_storage(
    storage: str | os.PathLike[str] | optuna.storages.BaseStorage | None,
) -> optuna.storages.BaseStorage | None:
    """Turn a storage spec into an Optuna storage.

    Args:
        storage: one of

            - ``None``: in memory (``None`` is returned; nothing survives the process);
            - an Optuna ``BaseStorage``: returned as is;
            - a URL string containing ``://`` (``sqlite:///study.db``,
              ``postgresql://user@host/db``): an ``RDBStorage``;
            - a path ending in ``.db``, ``.sqlite`` or ``.sqlite3``: SQLite at its absolute
              path;
            - a path ending in ``.log``, ``.journal`` or ``.jsonl``: a ``JournalStorage`` on
              that file, safe for several processes on one machine (file lock).

    SQLite connections wait up to 60 s for a lock, but SQLite serialises writers; prefer a
    journal file for parallel processes. The folder of a file path must exist.

    Raises:
        ValueError: for anything else, naming the accepted forms.
        FileNotFoundError: when the folder of a file path does not exist.
    """
    if storage is None or isinstance(storage, optuna.storages.BaseStorage):
        return storage
    if isinstance(storage, str) and "://" in storage:
        return _rdb_storage(storage)
    if not isinstance(storage, (str, os.PathLike)) or not os.fspath(storage):
        raise ValueError(f"storage must be None, a path or a URL; got {storage!r}")
    path = Path(os.fspath(storage)).expanduser().resolve()
    suffix = path.suffix.lower()
    if suffix not in _JOURNAL_SUFFIXES + _SQLITE_SUFFIXES:
        raise ValueError(
            f"cannot tell the storage kind of {os.fspath(storage)!r}: give an RDB URL "
            "(containing '://', e.g. 'sqlite:///study.db' or 'postgresql://host/db'), a SQLite "
            f"file ending in {'/'.join(_SQLITE_SUFFIXES)}, a journal file ending in "
            f"{'/'.join(_JOURNAL_SUFFIXES)}, an optuna BaseStorage, or None (in memory)"
        )
    if not path.parent.is_dir():
        raise FileNotFoundError(f"folder {path.parent} of storage {path.name} does not exist")
    if suffix in _SQLITE_SUFFIXES:
        return make_storage(f"sqlite:///{path}")
    backend = optuna.storages.journal.JournalFileBackend(str(path))
    return optuna.storages.JournalStorage(backend)


#: Messages of the schema-creation race between processes opening one fresh database.
_SCHEMA_RACE = ("already exists", "UNIQUE constraint failed", "duplicate key")


def _rdb_storage(url: str, attempts: int = 5) -> optuna.storages.RDBStorage:
    """``RDBStorage(url)``, retried while another process is creating the same tables.

    Several processes opening one fresh database race to create Optuna's tables, and the
    losers fail with "table ... already exists" (optuna/optuna#1092). Once the winner has
    committed, a retry finds the tables and succeeds.
    """
    from sqlalchemy.exc import DBAPIError

    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        kwargs["engine_kwargs"] = {"connect_args": {"timeout": 60}}
    for attempt in range(attempts):
        try:
            return optuna.storages.RDBStorage(url, **kwargs)
        except ImportError as exc:  # optuna's, raised from the driver's ModuleNotFoundError
            module = getattr(exc.__cause__, "name", None)
            hint = 'pip install "boostobj[postgres]"' if module == "psycopg" else "install it"
            raise ValueError(
                f"the {url.split('://')[0]} storage needs the database driver module "
                f"{module or '(unknown)'!r}, which is not installed: {hint}"
            ) from exc
        except DBAPIError as exc:
            if attempt == attempts - 1 or not any(m in str(exc) for m in _SCHEMA_RACE):
                raise
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")  # pragma: no cover


@contextmanager
def optuna_verbosity(level: int | None) -> Iterator[None]:
    if level is None:
        yield
        return
    before = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(level)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(before)


def fingerprint(*arrays: NDArray[Any]) -> str:
    """A short digest of the data, to refuse resuming a study on different data."""
    h = hashlib.blake2b(digest_size=12)
    for a in arrays:
        c = np.ascontiguousarray(a)
        h.update(f"{c.dtype.str}{c.shape}".encode())
        h.update(memoryview(c).cast("B"))
    return h.hexdigest()


def bind_study(study: optuna.Study, config: dict[str, Any], what: str) -> None:
    """Record ``config`` on a fresh study; refuse to resume one run with another config."""
    found = study.user_attrs.get(CONFIG_ATTR)
    waiting = optuna.trial.TrialState.WAITING  # enqueued points (enqueue_trial) ran nothing yet
    ran = [t for t in study.get_trials(deepcopy=False) if t.state != waiting]
    if found is None and not ran:
        study.set_user_attr(CONFIG_ATTR, config)
        return
    if found != config:
        diff = (
            "it was not created by boostobj"
            if found is None
            else ", ".join(
                f"{k}: stored {found.get(k)!r}, now {config.get(k)!r}"
                for k in sorted(set(found) | set(config))
                if found.get(k) != config.get(k)
            )
        )
        hint = ""
        if found is not None and found.get("payoffs") is None and config.get("payoffs"):
            hint = (
                " A study from before the two-part default (or run with payoffs=None) resumes "
                "with payoffs=None (boostobj tune --no-two-part)."
            )
        raise ValueError(
            f"study {study.study_name!r} in this storage cannot be resumed by {what} ({diff}); "
            f"its trials would not be comparable. Use another study_name or storage.{hint}"
        )


def create_study(
    storage: Any,
    study_name: str | None,
    seed: int,
    load_if_exists: bool,
    pruner: optuna.pruners.BasePruner | None = None,
) -> optuna.Study:
    """Create or load a maximising study with a seeded TPE sampler.

    A resumed study gets the seed mixed with its number of trials: the same ``seed`` would
    restart TPE's random start-up draws and repeat the earlier session's first proposals.
    """
    study = optuna.create_study(
        storage=make_storage(storage),
        study_name=study_name,
        direction="maximize",
        load_if_exists=load_if_exists,
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=pruner,
    )
    n_existing = len(study.get_trials(deepcopy=False))
    if n_existing:
        mixed = int(np.random.SeedSequence([seed, n_existing]).generate_state(1)[0])
        study.sampler = optuna.samplers.TPESampler(seed=mixed)
    return study


def check_n_trials(n_trials: int | None) -> None:
    if n_trials is not None and (isinstance(n_trials, bool) or int(n_trials) != n_trials):
        raise ValueError(f"n_trials must be an integer; got {n_trials!r}")
    if n_trials is not None and n_trials < 0:
        raise ValueError(f"n_trials must be >= 0; got {n_trials}")


@dataclass(frozen=True)
class StudyConfig:
    """Where :func:`~boostobj.tuning.tune` keeps its Optuna study and how it runs it.

    Args:
        storage: ``None`` (in memory), a path or URL (see :func:`make_storage`) or a storage.
        name: the study's name within ``storage``.
        resume: continue a study of that name already in ``storage``. Without it such a
            study is refused, so nothing stored is silently continued.
        pruner: Optuna pruner; ``None`` gives ``MedianPruner(n_startup_trials=5,
            n_warmup_steps=20)`` (steps count boosting rounds).
        report_every: report to the pruner every this many boosting rounds. Each report is
            a storage write (about 40 ms with SQLite, 6 ms with a journal file), so
            reporting every round can cost more than the boosting.
        callbacks: Optuna ``study.optimize`` callbacks ``f(study, frozen_trial)``.
        show_progress_bar: Optuna's progress bar.
        optuna_verbosity: Optuna log level during the call; ``None`` leaves it alone.
    """

    storage: str | os.PathLike[str] | optuna.storages.BaseStorage | None = None
    name: str = "boostobj"
    resume: bool = False
    pruner: optuna.pruners.BasePruner | None = None
    report_every: int = 10
    callbacks: Sequence[Callable[[optuna.Study, optuna.trial.FrozenTrial], None]] = ()
    show_progress_bar: bool = False
    optuna_verbosity: int | None = optuna.logging.WARNING

    def __post_init__(self) -> None:
        every = self.report_every
        if isinstance(every, bool) or not isinstance(every, (int, np.integer)) or every < 1:
            raise ValueError(f"report_every must be an integer >= 1; got {every!r}")
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"the study name must be a non-empty string; got {self.name!r}")

    def open(self, seed: int, config: dict[str, Any], what: str) -> optuna.Study:
        """Create the study (or load it, with ``resume``) and bind it to ``config``."""
        storage = make_storage(self.storage)
        if storage is not None and not self.resume:
            if self.name in optuna.get_all_study_names(storage=storage):
                raise ValueError(
                    f"study {self.name!r} already exists in this storage; pass "
                    "StudyConfig(resume=True) to continue it, or choose another name"
                )
        pruner = self.pruner
        if pruner is None:
            pruner = optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=20)
        study = create_study(storage, self.name, seed, True, pruner)
        bind_study(study, config, what)
        return study
