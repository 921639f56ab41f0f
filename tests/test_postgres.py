"""Optuna storage on a real PostgreSQL server, through the README's bare ``postgresql://`` URL.

A session fixture runs ``initdb`` and ``pg_ctl`` (Debian's ``postgresql`` package) in a
temporary folder and serves on 127.0.0.1 only; the tests skip where those binaries are absent
(and fail under ``CI=true``: ``.ci/run`` installs them).
PostgreSQL refuses to run as root, so as root the server runs as ``nobody``.
"""

from __future__ import annotations

import glob
import os
import pwd
import re
import secrets
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest

from boostobj import make_betting_market
from boostobj.cli import main
from boostobj.tuning import StudyConfig, make_storage, tune

ROOT = Path(__file__).resolve().parents[1]
USER = "boostobj"
COMPLETE = optuna.trial.TrialState.COMPLETE
NO_SERVER = "PostgreSQL server binaries (initdb, pg_ctl) not found: apt-get install postgresql"


def _server_binaries() -> tuple[str, str] | None:
    """``initdb`` and ``pg_ctl`` from PATH, else from the newest /usr/lib/postgresql/*/bin."""
    found = shutil.which("initdb"), shutil.which("pg_ctl")
    if all(found):
        return found  # type: ignore[return-value]
    bindirs = [Path(d) for d in glob.glob("/usr/lib/postgresql/*/bin")]
    version = lambda d: int(d.parent.name) if d.parent.name.isdigit() else -1  # noqa: E731
    for bindir in sorted(bindirs, key=version, reverse=True):
        initdb, pg_ctl = bindir / "initdb", bindir / "pg_ctl"
        if initdb.is_file() and pg_ctl.is_file():
            return str(initdb), str(pg_ctl)
    return None


def _as_server_user() -> tuple[list[str], pwd.struct_passwd | None]:
    """The command prefix that drops root to ``nobody`` (PostgreSQL will not run as root)."""
    if os.geteuid() != 0:
        return [], None
    nobody = pwd.getpwnam("nobody")
    if shutil.which("runuser"):
        return ["runuser", "-u", "nobody", "--"], nobody
    if shutil.which("setpriv"):
        ids = [f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}", "--clear-groups"]
        return ["setpriv", *ids], nobody
    pytest.skip("running as root, and neither runuser nor setpriv is there to drop to nobody")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(cmd: list[str], cwd: Path) -> None:
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=120)
    if done.returncode:
        raise RuntimeError(f"{cmd[0]} failed ({done.returncode}):\n{done.stdout}{done.stderr}")


@pytest.fixture(scope="session")
def postgres() -> Iterator[tuple[int, str]]:
    """A throw-away PostgreSQL server on 127.0.0.1: yields its port and the password of USER."""
    binaries = _server_binaries()
    if binaries is None:
        if os.environ.get("CI") == "true":  # .ci/run installs them: a skip would hide that
            pytest.fail(f"{NO_SERVER} (CI=true, and .ci/run should have installed them)")
        pytest.skip(NO_SERVER)
    initdb, pg_ctl = binaries
    prefix, owner = _as_server_user()
    home = Path(tempfile.mkdtemp(prefix="boostobj-pg-"))  # not tmp_path: nobody can't enter it
    password = secrets.token_hex(8)
    (home / "pwfile").write_text(password + "\n")
    if owner is not None:
        for path in (home, home / "pwfile"):
            os.chown(path, owner.pw_uid, owner.pw_gid)
    data, log = home / "data", home / "server.log"
    started = False
    try:
        flags = [f"--pgdata={data}", f"--pwfile={home / 'pwfile'}", f"--username={USER}"]
        _run([*prefix, initdb, *flags, *"-A scram-sha-256 -E UTF8 --no-sync".split()], home)
        for _ in range(3):  # the free port may be taken between choosing and binding it
            port = _free_port()
            opts = f"-p {port} -k {home} -h 127.0.0.1 -c fsync=off -c max_connections=50"
            start = [*prefix, pg_ctl, "-D", str(data), "-l", str(log), "-o", opts, "-w", "-t", "60"]
            if subprocess.run([*start, "start"], cwd=home, capture_output=True).returncode == 0:
                started = True
                break
        if not started:
            raise RuntimeError(f"pg_ctl start failed 3 times; server log:\n{log.read_text()}")
        yield port, password
    finally:
        if started:
            subprocess.run(
                [*prefix, pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop"],
                cwd=home,
                capture_output=True,
                timeout=60,
            )
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def pg_url(postgres: tuple[int, str], request: pytest.FixtureRequest) -> str:
    """A fresh, empty database for each test, as the README's ``postgresql://`` URL."""
    import psycopg

    port, password = postgres
    db = "t_" + "".join(c if c.isalnum() else "_" for c in request.node.name).lower()[:50]
    conninfo = f"host=127.0.0.1 port={port} user={USER} password={password} dbname=postgres"
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db}"')
        conn.execute(f'CREATE DATABASE "{db}"')
    return f"postgresql://{USER}:{password}@127.0.0.1:{port}/{db}"


def test_bare_postgresql_url_selects_psycopg3_and_stores_trials(pg_url: str) -> None:
    storage = make_storage(pg_url)
    assert isinstance(storage, optuna.storages.RDBStorage)
    assert storage.engine.dialect.driver == "psycopg"  # SQLAlchemy 2.1's default: psycopg 3
    X, p, _ = make_betting_market(900, random_state=0)
    result = tune(
        X[:600], p[:600], X[600:], p[600:], n_trials=3, guard_fraction=0.0,
        study=StudyConfig(pg_url, name="in-process"),
        estimator_params={"n_estimators": 20, "n_jobs": 1},
    )  # fmt: skip
    stored = optuna.load_study(study_name="in-process", storage=make_storage(pg_url))
    assert [t.state for t in stored.trials] == [COMPLETE] * 3
    assert stored.best_value == pytest.approx(result.study.best_value)


def _readme_worker_line() -> list[str]:
    """The README's ``boostobj tune ... --storage postgresql://...`` line, as arguments."""
    lines = (ROOT / "README.md").read_text().splitlines()
    found = [ln for ln in lines if ln.startswith("boostobj tune") and "postgresql" in ln]
    assert len(found) == 1, found
    return shlex.split(found[0])[1:]


def _with(args: list[str], values: dict[str, str]) -> list[str]:
    """``args`` with the value after each option in ``values`` replaced."""
    out = list(args)
    for option, value in values.items():
        out[out.index(option) + 1] = value
    return out


def test_two_cli_workers_share_one_study(pg_url: str, tmp_path: Path) -> None:
    """The README's PostgreSQL worker line, run twice at once on one study on the server."""
    n_trials = 4
    readme = _readme_worker_line()
    url = readme[readme.index("--storage") + 1]
    assert url.startswith("postgresql://") and url.endswith("@host/db"), url  # no +driver
    X, p, _ = make_betting_market(1500, random_state=1)
    frame = pd.DataFrame(X, columns=[f"x{j}" for j in range(X.shape[1])])
    frame["p"] = p
    frame.to_csv(tmp_path / readme[1], index=False)  # bets.csv
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    fast = f"--trials {n_trials} --n-estimators 20 --no-plots".split()
    procs = []
    for k in (1, 2):
        args = _with(readme, {"--storage": pg_url, "--seed": str(k), "--out": f"runs/w{k}"})
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "boostobj", *args, *fast],
                cwd=tmp_path,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
        )
    for proc in procs:
        _, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err.decode()[-3000:]
    study = optuna.load_study(study_name="bets", storage=make_storage(pg_url))
    trials = study.trials
    assert len(trials) == 2 * n_trials
    assert sorted(t.number for t in trials) == list(range(2 * n_trials))
    assert all(t.state == COMPLETE for t in trials), [t.state for t in trials]
    for k in (1, 2):
        assert (tmp_path / f"runs/w{k}/report.json").is_file()
    assert np.isfinite(study.best_value)


def test_missing_driver_is_one_line_naming_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without psycopg, ``--storage postgresql://...`` exits 2 with one line, not a traceback."""
    monkeypatch.setitem(sys.modules, "psycopg", None)  # makes ``import psycopg`` fail
    url = "postgresql://user:password@127.0.0.1:9/db"  # never reached: the driver is missing
    hint = 'pip install "boostobj[postgres]"'
    with pytest.raises(ValueError, match=r"driver module 'psycopg'.*" + re.escape(hint)):
        make_storage(url)
    fast = "--study-name x --no-plots --n-samples 600 --trials 1 --n-estimators 10".split()
    code = main(["tune", "--storage", url, "--resume", "--out", str(tmp_path / "run"), *fast])
    err = capsys.readouterr().err
    assert code == 2
    line = err.strip().splitlines()[-1]
    assert line.startswith("boostobj: error: ") and hint in line
    assert "Traceback" not in err and "password" not in err
