"""GPU question of the speed issue: return grad/hess as cupy arrays, or as numpy?

With ``device="cuda"`` XGBoost hands a custom objective the margin as host numpy and accepts
grad/hess either as host numpy (it then copies them to the device) or as any
``__cuda_array_interface__`` object such as cupy (no copy). This script times, per call on
``--rows`` rows (float32), the two ways to produce what XGBoost needs on the device:

- ``numpy``: boostobj's kernel on the CPU, then grad and hess copied host-to-device (the copy
  XGBoost would make);
- ``cupy``: the margin copied host-to-device, then the same kernel code on the GPU (boostobj's
  kernel is written with numpy ufuncs and ``out=``, which cupy arrays implement).

It needs cupy and a GPU; it is not part of the test suite. XGBoost's own GPU training is not
timed here (see ``benchmarks/README.md``).

    python benchmarks/gpu_kernel.py --out benchmarks/results
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

try:  # first: it finds boostobj in a checkout
    from benchmarks import common
except ImportError:  # run as a plain script: benchmarks/ is sys.path[0]
    import common  # type: ignore[no-redef]

import numpy as np

import boostobj
from boostobj.losses import WeightedLogistic


def _time(fn: Any, repeats: int) -> list[float]:
    fn()  # warm-up (cupy compiles its kernels on first use)
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1e3)
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--out", type=Path, default=common.RESULTS)
    args = parser.parse_args(argv)

    import cupy as cp

    rng = np.random.default_rng(0)
    n = args.rows
    r = rng.normal(0.0, 0.01, n)
    margin = rng.normal(0.0, 2.0, n).astype(np.float32)
    loss = WeightedLogistic()
    coef = loss.coefficients(r, None, float(np.abs(r).mean()), np.float32)
    grad, hess = np.empty(n, np.float32), np.empty(n, np.float32)
    coef_d = tuple(cp.asarray(c) for c in coef)
    grad_d, hess_d = cp.empty(n, cp.float32), cp.empty(n, cp.float32)

    def numpy_path() -> None:
        loss.gradient_hessian_into(margin, coef, grad, hess)
        cp.asarray(grad), cp.asarray(hess)
        cp.cuda.Device().synchronize()

    def numpy_kernel_only() -> None:
        loss.gradient_hessian_into(margin, coef, grad, hess)

    def cupy_path() -> None:
        loss.gradient_hessian_into(cp.asarray(margin), coef_d, grad_d, hess_d)
        cp.cuda.Device().synchronize()

    cupy_path()
    g_cpu, h_cpu = grad.copy(), hess.copy()
    numpy_kernel_only()
    agree = float(
        max(
            np.max(np.abs(cp.asnumpy(grad_d) - grad) / (np.abs(grad) + 1e-12)),
            np.max(np.abs(cp.asnumpy(hess_d) - hess) / (np.abs(hess) + 1e-12)),
        )
    )
    del g_cpu, h_cpu
    timings = {
        "numpy_kernel_ms": _time(numpy_kernel_only, args.repeats),
        "numpy_kernel_plus_h2d_ms": _time(numpy_path, args.repeats),
        "cupy_h2d_plus_kernel_ms": _time(cupy_path, args.repeats),
    }
    summary = {k: statistics.median(v) for k, v in timings.items()}
    result = {
        "rows": n,
        "repeats": args.repeats,
        "device": cp.cuda.runtime.getDeviceProperties(0)["name"].decode(),
        "versions": {
            "boostobj": boostobj.__version__,
            "numpy": np.__version__,
            "cupy": cp.__version__,
        },
        "max_relative_difference_gpu_vs_cpu": agree,
        "median_ms": summary,
        "faster": "cupy"
        if summary["cupy_h2d_plus_kernel_ms"] < summary["numpy_kernel_plus_h2d_ms"]
        else "numpy",
        "raw_ms": timings,
    }
    common.write_json(args.out / "gpu_kernel.json", result, indent=2)
    print(json.dumps({k: v for k, v in result.items() if k != "raw_ms"}, indent=2))
    return result


if __name__ == "__main__":
    main()
