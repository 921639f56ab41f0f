"""Speed benchmark: boostobj's objective against the built-in weighted logistic, in one process.

Training: ``--rows`` x 20 float32 features (:func:`boostobj.datasets.make_betting_market`),
``--rounds`` rounds, hist, depth 6 (XGBoost) / 63 leaves (LightGBM), ``--threads`` threads, no
eval sets. Variants, per booster:

- ``builtin``: XGBoost ``binary:logistic`` with ``base_score=0.5`` / LightGBM ``binary`` with
  ``boost_from_average=False``, label ``1[log p > 0]``, weights ``|log p| / scale``;
- ``boostobj``: :func:`boostobj.xgboost.make_objective` / :func:`boostobj.lightgbm.make_objective`
  with the same scale and ``n_threads=--threads``, label ``log p``, wrapped to time each call
  inside training;
- ``replay``: a Python objective that returns, round by round, the gradients the
  ``boostobj`` variant computed (recorded once before the repeats). It grows the same trees
  at no arithmetic cost, so its ratio to ``builtin`` is what any Python objective costs the
  booster (XGBoost: copying the margins out and the gradients in), the floor under
  ``boostobj``'s ratio; ``boostobj / replay`` is what boostobj's own arithmetic adds;
- ``numpy``: ``boostobj`` on its numpy passes instead of its compiled kernel (only where that
  was built; :class:`NumpyKernel`: the same loss, gradients equal to the last bit).

Each repeat runs every variant once, in an order rotated from repeat to repeat; the reported
number is the median over repeats of the paired ratio ``boostobj / builtin`` (and its min / max).
A replayed model is checked once to predict exactly what the recorded ``boostobj`` model does.
Data sets are built, and their quantile sketches / bins computed, once before the repeats.

Also timed: the objective alone on ``--rows`` rows (the first, caching call excluded), scaled to
1M rows; :func:`boostobj.metrics.best_threshold` and
:func:`boostobj.tuning.tune_threshold` (200 trials, in-memory storage) on ``--rows`` rows.

Run from the repository root::

    python benchmarks/speed.py                 # full run, writes benchmarks/results/speed.{json,md}
    python benchmarks/speed.py --quick --out /tmp/x   # smoke run (< 30 s), speed_quick.{json,md}

Timings depend on the machine and on what else runs on it: the JSON records the CPU, the
number of cores and the load average before and after, and which gradient kernel ran
(compiled where boostobj was installed with a C compiler, else numpy: run it against an
installed boostobj, not a bare checkout, to time the compiled one).
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

try:  # first: it sets OMP_WAIT_POLICY before any OpenMP runtime loads
    from benchmarks import common
except ImportError:  # run as a plain script: benchmarks/ is sys.path[0]
    import common  # type: ignore[no-redef]

import numpy as np
from numpy.typing import NDArray

from boostobj import weight_scale
from boostobj.datasets import make_betting_market
from boostobj.losses import Loss, WeightedLogistic, compiled_kernel
from boostobj.metrics import best_threshold

N_FEATURES = 20

TARGETS = {
    "ratio": 1.03,  # median boostobj / builtin wall time, each booster
    "kernel_ms_per_1m": 3.0,  # objective per call per 1M rows
    "best_threshold_s": 0.2,
    "tune_threshold_s": 3.0,  # 200 trials
}


@dataclass
class Config:
    """Sizes of one benchmark run."""

    rows: int = 1_000_000
    rounds: int = 50
    repeats: int = 5
    threads: int = 2
    kernel_calls: int = 30
    n_trials: int = 200
    threshold_repeats: int = 5
    tune_repeats: int = 3
    quick: bool = False


log = common.log


# -- data ------------------------------------------------------------------------------------
def make_data(cfg: Config) -> dict[str, Any]:
    X, p, expected = make_betting_market(cfg.rows, n_features=N_FEATURES, random_state=0)
    r = np.log(p)
    scale = weight_scale(r)
    rng = np.random.default_rng(1)
    return {
        "X": np.ascontiguousarray(X, dtype=np.float32),
        "r": r,
        "y": (r > 0).astype(np.float64),
        "w": np.abs(r) / scale,
        "scale": scale,
        # continuous scores for the threshold search: a noisy Bayes score
        "scores": expected + rng.normal(0.0, 2.0 * expected.std(), cfg.rows),
    }


def recording(fn: Callable[..., Any]) -> tuple[Callable[..., Any], list[tuple[Any, Any]]]:
    """``fn`` wrapped to keep a copy of the ``(grad, hess)`` of every call, and that list."""
    grads: list[tuple[Any, Any]] = []

    def wrapper(preds: Any, data: Any) -> Any:
        grad, hess = fn(preds, data)
        grads.append((grad.copy(), hess.copy()))
        return grad, hess

    return wrapper, grads


def replaying(grads: list[tuple[Any, Any]]) -> Callable[..., Any]:
    """An objective that returns the recorded ``grads`` of call 1, 2, ... in turn: it grows the
    recorded trees at no arithmetic cost."""
    calls = iter(grads)

    def objective(preds: Any, data: Any) -> Any:
        return next(calls)

    return objective


class NumpyKernel(WeightedLogistic):
    """boostobj's default loss (``logistic``) computed by its numpy passes, not its compiled
    kernel: the same buffers are handed over as ``(n, 1)`` column views, which the compiled
    kernel (1-D float32 arrays only) does not take and numpy's elementwise passes run over as
    over the 1-D arrays, writing into the same memory."""

    def gradient_hessian_into(
        self, margin: NDArray[Any], coef: tuple[NDArray[Any], ...], grad: Any, hess: Any
    ) -> None:
        columns = tuple(c[:, None] for c in coef)
        super().gradient_hessian_into(margin[:, None], columns, grad[:, None], hess[:, None])


def with_numpy_kernel(
    variants: dict[str, Callable[[], dict[str, Any]]],
    train_with: Callable[[Loss], dict[str, Any]],
) -> dict[str, Callable[[], dict[str, Any]]]:
    """Add ``numpy``: the ``boostobj`` variant (``train_with``, given a loss) on the numpy
    passes (:class:`NumpyKernel`), where there is a compiled kernel, so that both kernels are
    timed in the same process."""
    if not compiled_kernel():
        return variants
    return {**variants, "numpy": lambda: train_with(NumpyKernel())}


def check_same_model(pred: NDArray[Any], reference: NDArray[Any]) -> None:
    """The replayed model must predict exactly what the recorded one did."""
    if not np.array_equal(pred, reference):
        gap = float(np.max(np.abs(pred - reference)))
        raise RuntimeError(f"replayed gradients grew another model (max gap {gap:.3g})")


def timed(fn: Callable[..., Any]) -> tuple[Callable[..., Any], list[float]]:
    """``fn`` wrapped to record the wall time of every call, and the list it records into.

    A closure, not a callable object: ``lgb.train`` deep-copies params, and a copied object's
    records would be lost (functions are not copied).
    """
    calls: list[float] = []

    def wrapper(preds: Any, data: Any) -> Any:
        t0 = time.perf_counter()
        out = fn(preds, data)
        calls.append(time.perf_counter() - t0)
        return out

    return wrapper, calls


# -- XGBoost ---------------------------------------------------------------------------------
def xgboost_variants(cfg: Config, d: dict[str, Any]) -> dict[str, Callable[[], dict[str, Any]]]:
    import xgboost as xgb

    import boostobj.xgboost as bx

    shared = {"tree_method": "hist", "max_depth": 6, "nthread": cfg.threads, "seed": 0}
    d_builtin = xgb.DMatrix(d["X"], label=d["y"], weight=d["w"], nthread=cfg.threads)
    d_ours = xgb.DMatrix(d["X"], label=d["r"], nthread=cfg.threads)
    p_builtin = {**shared, "objective": "binary:logistic", "base_score": 0.5}
    p_ours = {**shared, **bx.PARAMS}

    def builtin() -> dict[str, Any]:
        xgb.train(p_builtin, d_builtin, cfg.rounds)
        return {}

    def ours(loss: Loss | str = "logistic") -> dict[str, Any]:
        obj, calls = timed(bx.make_objective(loss, scale=d["scale"], n_threads=cfg.threads))
        xgb.train(p_ours, d_ours, cfg.rounds, obj=obj)
        return {"objective_calls_s": calls}

    # warm-up (builds each DMatrix's histogram index, cached with it, outside the timings) and
    # the recording that the replay variant plays back
    xgb.train(p_builtin, d_builtin, 1)
    obj, grads = recording(bx.make_objective(scale=d["scale"], n_threads=cfg.threads))
    reference = xgb.train(p_ours, d_ours, cfg.rounds, obj=obj).predict(d_ours)
    replayed = xgb.train(p_ours, d_ours, cfg.rounds, obj=replaying(grads)).predict(d_ours)
    check_same_model(replayed, reference)

    def replay_run() -> dict[str, Any]:
        obj, calls = timed(replaying(grads))
        xgb.train(p_ours, d_ours, cfg.rounds, obj=obj)
        return {"objective_calls_s": calls}

    return with_numpy_kernel({"builtin": builtin, "boostobj": ours, "replay": replay_run}, ours)


def xgboost_kernel(cfg: Config, d: dict[str, Any]) -> list[tuple[float, float]]:
    import xgboost as xgb

    import boostobj.xgboost as bx

    dtrain = xgb.DMatrix(np.zeros((cfg.rows, 1), np.float32), label=d["r"])  # X unused
    obj = bx.make_objective(scale=d["scale"], n_threads=cfg.threads)
    margin = np.random.default_rng(2).normal(0, 1, cfg.rows).astype(np.float32)
    obj(margin, dtrain)  # first call reads the label and caches the coefficients
    return _time_calls_cpu(lambda: obj(margin, dtrain), cfg.kernel_calls)


# -- LightGBM --------------------------------------------------------------------------------
def lightgbm_variants(cfg: Config, d: dict[str, Any]) -> dict[str, Callable[[], dict[str, Any]]]:
    import lightgbm as lgb

    import boostobj.lightgbm as bl

    shared = {"num_leaves": 63, "num_threads": cfg.threads, "verbose": -1, "seed": 0}
    d_builtin = lgb.Dataset(d["X"], label=d["y"], weight=d["w"], params={"verbose": -1})
    d_ours = lgb.Dataset(d["X"], label=d["r"], params={"verbose": -1})
    d_builtin.construct()
    d_ours.construct()
    p_builtin = {**shared, "objective": "binary", "boost_from_average": False}

    def builtin() -> dict[str, Any]:
        lgb.train(p_builtin, d_builtin, cfg.rounds)
        return {}

    def ours(loss: Loss | str = "logistic") -> dict[str, Any]:
        obj, calls = timed(bl.make_objective(loss, scale=d["scale"], n_threads=cfg.threads))
        lgb.train({**shared, "objective": obj}, d_ours, cfg.rounds)
        return {"objective_calls_s": calls}

    lgb.train(p_builtin, d_builtin, 1)
    obj, grads = recording(bl.make_objective(scale=d["scale"], n_threads=cfg.threads))
    reference = lgb.train({**shared, "objective": obj}, d_ours, cfg.rounds).predict(d["X"])
    replayed = lgb.train({**shared, "objective": replaying(grads)}, d_ours, cfg.rounds)
    check_same_model(replayed.predict(d["X"]), reference)

    def replay_run() -> dict[str, Any]:
        obj, calls = timed(replaying(grads))
        lgb.train({**shared, "objective": obj}, d_ours, cfg.rounds)
        return {"objective_calls_s": calls}

    return with_numpy_kernel({"builtin": builtin, "boostobj": ours, "replay": replay_run}, ours)


def lightgbm_kernel(cfg: Config, d: dict[str, Any]) -> list[tuple[float, float]]:
    import lightgbm as lgb

    import boostobj.lightgbm as bl

    data = lgb.Dataset(np.zeros((cfg.rows, 1)), label=d["r"], params={"verbose": -1})
    data.construct()
    obj = bl.make_objective(scale=d["scale"], n_threads=cfg.threads)
    margin = np.random.default_rng(2).normal(0, 1, cfg.rows)
    obj(margin, data)
    return _time_calls_cpu(lambda: obj(margin, data), cfg.kernel_calls)


# -- timing helpers --------------------------------------------------------------------------
def _time_calls(fn: Callable[[], Any], n: int) -> list[float]:
    """Wall seconds of ``n`` calls."""
    return [wall for wall, _ in _time_calls_cpu(fn, n)]


def _time_calls_cpu(fn: Callable[[], Any], n: int) -> list[tuple[float, float]]:
    """``(wall, process CPU)`` seconds of ``n`` calls; CPU time is what a busy machine's
    time-sharing inflates least (single-threaded code)."""
    out = []
    for _ in range(n):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        out.append((time.perf_counter() - t0, time.process_time() - c0))
    return out


def paired_runs(variants: dict[str, Callable[[], dict[str, Any]]], repeats: int) -> dict[str, Any]:
    """Every variant once per repeat, order rotated per repeat; wall seconds and extras."""
    names = list(variants)
    runs: list[dict[str, Any]] = []
    for i in range(repeats):
        k = i % len(names)
        order = names[k:] + names[:k]
        rec: dict[str, Any] = {"order": order}
        for name in order:
            t0, c0 = time.perf_counter(), time.process_time()
            extra = variants[name]()
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            rec[name] = {"seconds": wall, "cpu_seconds": cpu, **extra}
        runs.append(rec)
        log(
            f"    repeat {i + 1}/{repeats}: "
            + ", ".join(f"{n} {rec[n]['seconds']:.2f} s" for n in names)
        )
    return {"runs": runs, "summary": summarise(runs, names)}


def _spread(values: list[float]) -> dict[str, float]:
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "n": len(values),
    }


def summarise(runs: list[dict[str, Any]], names: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "seconds": {n: _spread([r[n]["seconds"] for r in runs]) for n in names},
        "cpu_seconds": {n: _spread([r[n]["cpu_seconds"] for r in runs]) for n in names},
    }
    if "replay" in names:
        out["ratio_boostobj_over_replay"] = _spread(
            [r["boostobj"]["seconds"] / r["replay"]["seconds"] for r in runs]
        )
    for n in names:
        if n != "builtin":
            out[f"ratio_{n}"] = _spread([r[n]["seconds"] / r["builtin"]["seconds"] for r in runs])
            out[f"cpu_ratio_{n}"] = _spread(
                [r[n]["cpu_seconds"] / r["builtin"]["cpu_seconds"] for r in runs]
            )
        calls = [c for r in runs for c in r[n].get("objective_calls_s", [])]
        if calls:
            out[f"objective_call_ms_{n}"] = _spread([1e3 * c for c in calls])
    return out


# -- threshold search ------------------------------------------------------------------------
def threshold_timings(cfg: Config, d: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    best_threshold(d["scores"][:1000], d["r"][:1000])  # warm-up
    times = _time_calls(lambda: best_threshold(d["scores"], d["r"]), cfg.threshold_repeats)
    out["best_threshold_s"] = _spread(times)
    try:
        from boostobj.tuning import tune_threshold
    except Exception as exc:  # the tuner may be missing or broken in a checkout
        out["tune_threshold"] = {"skipped": f"boostobj.tuning not importable: {exc!r}"}
        return out
    times, gaps = [], []
    exact = best_threshold(d["scores"], d["r"]).log_wealth
    for seed in range(cfg.tune_repeats):
        t0 = time.perf_counter()
        study = tune_threshold(d["scores"], d["r"], n_trials=cfg.n_trials, seed=seed)
        times.append(time.perf_counter() - t0)
        gaps.append(exact - float(study.best_value))
    out["tune_threshold"] = {"n_trials": cfg.n_trials, "seconds": _spread(times), "gap": gaps}
    return out


# -- report ----------------------------------------------------------------------------------
def machine() -> dict[str, Any]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        model = platform.processor() or "unknown"
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {
        "cpu": model,
        "nproc": affinity or os.cpu_count(),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def _verdict(value: float, target: float, below: bool = True) -> str:
    return "PASS" if (value <= target if below else value < target) else "MISS"


def checks(results: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per target: what was measured, the target and PASS / MISS."""
    per_1m = 1e6 / results["config"]["rows"]
    rows: list[dict[str, Any]] = []
    for b in ("xgboost", "lightgbm"):
        s = results[b]["summary"]
        ratio = s["ratio_boostobj"]
        rows.append({
            "what": f"{b}: wall time boostobj / builtin (median of {ratio['n']} pairs)",
            "value": ratio["median"], "spread": f"{ratio['min']:.3f} to {ratio['max']:.3f}",
            "target": f"<= {TARGETS['ratio']}",
            "verdict": _verdict(ratio["median"], TARGETS["ratio"]),
        })  # fmt: skip
        for name, label in (
            ("replay", "replay / builtin: any Python objective"),
            ("boostobj_over_replay", "boostobj / replay: boostobj's own work"),
            ("numpy", "numpy / builtin: boostobj with the numpy kernel"),
        ):
            if f"ratio_{name}" not in s:
                continue
            q = s[f"ratio_{name}"]
            rows.append({
                "what": f"{b}: wall time {label} (median of {q['n']} pairs)",
                "value": q["median"], "spread": f"{q['min']:.3f} to {q['max']:.3f}",
                "target": "(info: the booster's floor, and what is left above it)",
                "verdict": "info",
            })  # fmt: skip
        cpu = s["cpu_ratio_boostobj"]
        rows.append({
            "what": f"{b}: process CPU time boostobj / builtin (median of {cpu['n']} pairs)",
            "value": cpu["median"], "spread": f"{cpu['min']:.3f} to {cpu['max']:.3f}",
            "target": "(info: less sensitive to a busy machine)", "verdict": "info",
        })  # fmt: skip
    for b in ("xgboost", "lightgbm"):
        k = _spread([1e3 * t * per_1m for t in results[b]["kernel_s"]])
        rows.append({
            "what": f"{b}: objective alone, ms per call per 1M rows (median of {k['n']})",
            "value": k["median"], "spread": f"{k['min']:.2f} to {k['max']:.2f}",
            "target": f"<= {TARGETS['kernel_ms_per_1m']}",
            "verdict": _verdict(k["median"], TARGETS["kernel_ms_per_1m"]),
        })  # fmt: skip
        kc = _spread([1e3 * t * per_1m for t in results[b]["kernel_cpu_s"]])
        rows.append({
            "what": f"{b}: objective alone, CPU ms per call per 1M rows (median of {kc['n']})",
            "value": kc["median"], "spread": f"{kc['min']:.2f} to {kc['max']:.2f}",
            "target": "(info: less sensitive to a busy machine)", "verdict": "info",
        })  # fmt: skip
        c = results[b]["summary"]["objective_call_ms_boostobj"]
        rows.append({
            "what": f"{b}: objective inside training, ms per call per 1M rows ({c['n']} calls)",
            "value": c["median"] * per_1m,
            "spread": f"{c['min'] * per_1m:.2f} to {c['max'] * per_1m:.2f}",
            "target": f"<= {TARGETS['kernel_ms_per_1m']}",
            "verdict": _verdict(c["median"] * per_1m, TARGETS["kernel_ms_per_1m"]),
        })  # fmt: skip
    bt = results["threshold"]["best_threshold_s"]
    rows.append({
        "what": f"best_threshold on {results['config']['rows']} rows, s",
        "value": bt["median"], "spread": f"{bt['min']:.3f} to {bt['max']:.3f}",
        "target": f"< {TARGETS['best_threshold_s']}",
        "verdict": _verdict(bt["median"], TARGETS["best_threshold_s"], below=False),
    })  # fmt: skip
    tt = results["threshold"]["tune_threshold"]
    if "skipped" in tt:
        rows.append({"what": "tune_threshold", "value": float("nan"), "spread": "",
                     "target": f"< {TARGETS['tune_threshold_s']}",
                     "verdict": f"SKIPPED ({tt['skipped']})"})  # fmt: skip
    else:
        s = tt["seconds"]
        rows.append({
            "what": f"tune_threshold, {tt['n_trials']} trials, in memory, s",
            "value": s["median"], "spread": f"{s['min']:.2f} to {s['max']:.2f}",
            "target": f"< {TARGETS['tune_threshold_s']}"
            + ("" if tt["n_trials"] == 200 else " (for 200 trials)"),
            "verdict": _verdict(s["median"], TARGETS["tune_threshold_s"], below=False),
        })  # fmt: skip
    return rows


def render_markdown(results: dict[str, Any]) -> str:
    cfg, m = results["config"], results["machine"]
    lines = [
        "# Speed benchmark",
        "",
        f"{cfg['rows']} rows x {N_FEATURES} float32 features, {cfg['rounds']} rounds, hist, "
        f"depth 6 (XGBoost) / 63 leaves (LightGBM), booster threads: {cfg['threads']}; "
        f"{cfg['repeats']} paired repeats, order rotated. "
        f"Machine: {m['cpu']}, {m['nproc']} cores; load average "
        f"{results['load_before'][0]:.1f} before, {results['load_after'][0]:.1f} after "
        f"(above {m['nproc']} means other work shared the cores and the timings are noisy). "
        f"Total {results['total_seconds']:.0f} s. Gradient kernel: {results['kernel']} "
        "(`boostobj.losses.compiled_kernel()`).",
        "",
        "| measure | value | spread (min to max) | target | verdict |",
        "|---|---|---|---|---|",
    ]
    for row in results["checks"]:
        value = "n/a" if isinstance(row["value"], str) or math.isnan(row["value"]) else (
            f"{row['value']:.3f}")  # fmt: skip
        lines.append(
            f"| {row['what']} | {value} | {row['spread']} | {row['target']} | {row['verdict']} |"
        )
    lines += ["", "## Wall times (median seconds over repeats)", ""]
    lines += ["| booster | variant | median s | min s | max s |", "|---|---|---|---|---|"]
    for b in ("xgboost", "lightgbm"):
        for name, s in results[b]["summary"]["seconds"].items():
            lines.append(f"| {b} | {name} | {s['median']:.2f} | {s['min']:.2f} | {s['max']:.2f} |")
    lines += [
        "",
        "`replay` is a Python objective that hands the booster the gradients `boostobj` computed,"
        " recorded beforehand: the same trees at no arithmetic cost. Per round beyond the"
        " built-in objective (medians):",
        "",
    ]
    for b in ("xgboost", "lightgbm"):
        sec = results[b]["summary"]["seconds"]
        extra = {n: 1e3 * (sec[n]["median"] - sec["builtin"]["median"]) / cfg["rounds"]
                 for n in sec if n != "builtin"}  # fmt: skip
        lines.append(
            f"- {b}: any Python objective (`replay`) {extra['replay']:+.1f} ms per round, "
            f"boostobj {extra['boostobj']:+.1f} ms per round"
            + (f" ({extra['numpy']:+.1f} with the numpy kernel)." if "numpy" in extra else ".")
        )
    lines += ["", "Raw timings, versions and the machine: `speed.json`.", ""]
    return "\n".join(lines)


# -- main ------------------------------------------------------------------------------------
def parse_args(argv: Sequence[str] | None) -> tuple[Config, Path, str]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, help="training rows (default 1,000,000)")
    ap.add_argument("--rounds", type=int, help="boosting rounds (default 50)")
    ap.add_argument("--repeats", type=int, help="paired repeats per booster (default 5)")
    ap.add_argument("--threads", type=int, help="booster threads (default 2; --quick: 1)")
    ap.add_argument("--out", type=Path, default=common.RESULTS, help="output folder")
    ap.add_argument("--quick", action="store_true", help="tiny smoke run (< 30 s)")
    args = ap.parse_args(argv)
    cfg = Config()
    if args.quick:  # one thread: a smoke run must not stall on a busy CI machine
        cfg = Config(
            rows=20_000, rounds=5, repeats=2, threads=1, kernel_calls=5,
            n_trials=20, threshold_repeats=2, tune_repeats=1, quick=True,
        )  # fmt: skip
    for name in ("rows", "rounds", "repeats", "threads"):
        if getattr(args, name) is not None:
            setattr(cfg, name, getattr(args, name))
    return cfg, args.out, ("speed_quick" if cfg.quick else "speed")


def run(cfg: Config) -> dict[str, Any]:
    """Run the benchmark and return every number as a JSON-ready dict."""
    t_start = time.perf_counter()
    load_before = os.getloadavg()
    log(f"data: {cfg.rows} rows")
    d = make_data(cfg)
    results: dict[str, Any] = {"config": asdict(cfg)}
    for b, variants, kernel in (
        ("xgboost", xgboost_variants, xgboost_kernel),
        ("lightgbm", lightgbm_variants, lightgbm_kernel),
    ):
        log(f"{b}: training")
        results[b] = paired_runs(variants(cfg, d), cfg.repeats)
        log(f"{b}: objective alone")
        calls = kernel(cfg, d)
        results[b]["kernel_s"] = [wall for wall, _ in calls]
        results[b]["kernel_cpu_s"] = [cpu for _, cpu in calls]
    log("threshold search")
    results["threshold"] = threshold_timings(cfg, d)
    results["load_before"] = load_before
    results["load_after"] = os.getloadavg()
    prov = common.provenance()
    results["kernel"] = prov["kernel"]
    results["machine"] = machine()
    results["versions"] = prov["versions"]
    results["argv"] = sys.argv[1:]
    results["total_seconds"] = time.perf_counter() - t_start
    results["checks"] = checks(results)
    return common.jsonable(results)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Command-line entry point; returns the results dict (also written to ``--out``)."""
    cfg, out, stem = parse_args(argv)
    results = run(cfg)
    common.write_results(out, stem, results, render_markdown(results))
    for row in results["checks"]:
        log(f"  {row['verdict']:>4}  {row['what']}: {row['value']}")
    log(f"wrote {out / stem}.json and .md in {results['total_seconds']:.0f} s")
    return results


if __name__ == "__main__":
    main()
