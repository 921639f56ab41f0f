"""What the XGBoost and LightGBM adapters share: per-data-object caching of the loss's
coefficients and of the gradient buffers.

Each adapter reads ``label = log p`` and the sample weights from the booster's own data object
(DMatrix, Dataset), never from arrays captured at creation, so the same objective works on
any data and on each Dask partition. What it derives from them is cached per data object
(weakly, so it dies with the data), per row count and per :func:`data_token`: a new label,
weight or base margin set on the same object (``set_label``) is seen on the next call.

On the CPU the kernel runs in chunks of :data:`CHUNK_ROWS` rows, on a small thread pool:
each chunk's in-place numpy passes then stay in cache, and both numpy and the compiled
kernel (:func:`boostobj.losses.compiled_kernel`) release the GIL, so the chunks run in
parallel. The booster's own threads are idle while its Python objective runs, so the two do
not compete.
"""

from __future__ import annotations

import os
import sys
import threading
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ._validation import check_label
from .losses import Coefficients, Loss
from .metrics import _log_wealth, _stake_log_wealth, margin_threshold, sigmoid

#: Rows per kernel task. 2**17 rows of float32 (512 KiB per array) measured fastest on 1M rows
#: with 2 threads (2**15 and 2**16: GIL hand-offs dominate; 2**19: arrays leave the cache).
CHUNK_ROWS = 1 << 17


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def check_threads(n_threads: int | None) -> int:
    """``n_threads`` for the kernel: ``None`` -> :func:`available_cpus`, else an int >= 1."""
    if n_threads is None:
        return available_cpus()
    if isinstance(n_threads, bool) or not isinstance(n_threads, int) or n_threads < 1:
        raise ValueError(f"n_threads must be None or an int >= 1, got {n_threads!r}")
    return n_threads


_pools: dict[tuple[int, int], ThreadPoolExecutor] = {}
_pools_lock = threading.Lock()


def _pool(threads: int) -> ThreadPoolExecutor:
    """A shared pool per thread count, rebuilt in a forked child (whose copy has no threads)."""
    key = (os.getpid(), threads)
    with _pools_lock:
        pool = _pools.get(key)
        if pool is None:
            for stale in [k for k in _pools if k[0] != key[0]]:
                del _pools[stale]  # the parent's; its threads do not exist here
            pool = _pools[key] = ThreadPoolExecutor(threads, thread_name_prefix="boostobj")
        return pool


def run_chunked(task: Callable[[int, int], None], n: int, threads: int) -> None:
    """``task(start, stop)`` over ``[0, n)`` in chunks of :data:`CHUNK_ROWS`, on ``threads``."""
    if threads <= 1 or n <= CHUNK_ROWS:
        for start in range(0, n, CHUNK_ROWS):
            task(start, min(start + CHUNK_ROWS, n))
        return
    bounds = [(i, min(i + CHUNK_ROWS, n)) for i in range(0, n, CHUNK_ROWS)]
    for future in [_pool(threads).submit(task, i, j) for i, j in bounds]:
        future.result()  # re-raises a task's exception here


#: Entries of a label (weight, base margin) that :func:`data_token` reads per call.
TOKEN_SAMPLE = 4096


def _fingerprint(values: Any) -> tuple[Any, ...]:
    """``(length, hash of about TOKEN_SAMPLE evenly spaced entries)``: O(1) in the length."""
    if values is None:
        return (None,)
    arr = np.asarray(values)
    n = arr.shape[0] if arr.ndim else 0
    step = max(1, n // TOKEN_SAMPLE)
    return (n, hash(np.ascontiguousarray(arr[::step]).tobytes()))


def _dmatrix_field(dmat: Any, field: str) -> NDArray[np.float32]:
    """A zero-copy view of a DMatrix float field: ``get_label()`` would copy all of it."""
    import ctypes

    from xgboost.core import _LIB, _check_call, c_str

    length = ctypes.c_uint64()
    ptr = ctypes.POINTER(ctypes.c_float)()
    _check_call(
        _LIB.XGDMatrixGetFloatInfo(
            dmat.handle, c_str(field), ctypes.byref(length), ctypes.byref(ptr)
        )
    )
    if length.value == 0:
        return np.empty(0, np.float32)
    return np.ctypeslib.as_array(ptr, shape=(length.value,))


def data_token(data: Any) -> tuple[Any, ...]:
    """What the cache of ``data`` is valid for: a fingerprint of its label, weight and base
    margin (``init_score``), each its length and a hash of :data:`TOKEN_SAMPLE` evenly
    spaced entries, plus the arrays' identities where the data object hands them out.

    Costs O(1) per call, not O(rows): an XGBoost DMatrix is read through zero-copy views
    (``set_label`` rewrites its buffer in place, so only the values can tell); a LightGBM
    Dataset returns its arrays as attributes. Trap: on more than 4096 rows, a new label that
    equals the old one at every sampled row is not seen; use a new data object for it.
    """
    xgb, lgb = sys.modules.get("xgboost"), sys.modules.get("lightgbm")
    if xgb is not None and isinstance(data, xgb.DMatrix):
        return tuple(_fingerprint(_dmatrix_field(data, f)) for f in _DMATRIX_FIELDS)
    if lgb is not None and isinstance(data, lgb.Dataset):  # its getters raise before construct
        arrays = [getattr(data, f, None) for f in _DATASET_FIELDS]
    else:
        arrays = [data.get_label(), getattr(data, "get_weight", lambda: None)()]
    return tuple((id(a), *_fingerprint(a)) for a in arrays)


_DMATRIX_FIELDS = ("label", "weight", "base_margin")
_DATASET_FIELDS = ("label", "weight", "init_score")


def check_data_object(data: Any, expected: str, instead: str) -> None:
    """Refuse an objective or metric called under another calling convention.

    The boosters' native APIs pass their data object (``DMatrix``, ``Dataset``) second; their
    sklearn APIs pass ``(y_true, y_pred)`` arrays, which carry neither weights nor the cache
    key. ``instead`` names what to use there.
    """
    if not hasattr(data, "get_label"):
        raise TypeError(
            f"expected {expected} as the second argument, got {type(data).__name__}: this "
            f"function is for the booster's native train() (f(preds, data)); a sklearn-API "
            f"estimator calls f(y_true, y_pred) instead. Use {instead}"
        )


class _State:
    __slots__ = ("base_margin", "coef", "grad", "hess", "log_payoff", "margin", "n", "token")

    def __init__(self, n: int, token: Any = None) -> None:
        self.n = n
        self.token = token
        self.log_payoff: NDArray[Any] | None = None
        self.base_margin: NDArray[Any] | None = None
        self.coef: Coefficients | None = None
        self.grad: NDArray[Any] | None = None
        self.hess: NDArray[Any] | None = None
        self.margin: NDArray[Any] | None = None  # the margin cast to the kernel's dtype


class DataCache:
    """Weak per-data-object cache. Pickles (for Dask) and deep-copies (LightGBM params) empty."""

    def __init__(self) -> None:
        self._store: weakref.WeakKeyDictionary[Any, _State] = weakref.WeakKeyDictionary()

    def __reduce__(self) -> tuple[type[DataCache], tuple[()]]:
        return (DataCache, ())

    def __deepcopy__(self, memo: dict[int, Any]) -> DataCache:
        return DataCache()

    def state(self, data: Any, n: int) -> _State:
        """The state of ``data`` with ``n`` rows, new if its :func:`data_token` changed."""
        token = data_token(data)
        st = self._store.get(data)
        if st is None or st.n != n or st.token != token:
            st = _State(n, token)
            self._store[data] = st
        return st


def array_module(device: str) -> Any:
    """numpy for ``"cpu"``, cupy for ``"cuda"`` (imported only then)."""
    if device == "cpu":
        return np
    if device == "cuda":
        try:
            import cupy
        except ImportError:
            raise ImportError(
                "device='cuda' computes gradients with cupy, which is not installed; "
                "install the cupy build for your CUDA version, or use device='cpu'"
            ) from None
        return cupy
    raise ValueError(f"device must be 'cpu' or 'cuda', got {device!r}")


def gradient_hessian(
    loss: Loss,
    scale: float | None,
    cache: DataCache,
    data: Any,
    margin: NDArray[Any],
    read: Callable[[Any], tuple[NDArray[Any], NDArray[Any] | None]],
    xp: Any = np,
    *,
    dtype: Any = np.float32,
    threads: int = 1,
) -> tuple[NDArray[Any], NDArray[Any]]:
    """Gradient and hessian of ``loss`` for the rows of ``data`` at ``margin``, in ``dtype``.

    ``dtype`` is what the booster keeps: float32 for both (XGBoost's margins are float32;
    LightGBM hands over float64 scores but stores gradients as float32, converting anything
    else with a copy). A margin of another dtype is cast chunk by chunk into a cached buffer.

    ``xp`` is the array module the kernel runs on: numpy (chunked, on ``threads`` threads; see
    :func:`run_chunked`), or cupy to compute on the GPU in one piece (coefficients and
    buffers then live on the device, and only the margin is copied in).

    ``read(data)`` returns ``(label, weight or None)``. With ``scale=None`` the weight scale is
    this data object's own ``loss.weight_scale`` (mean ``|log p|`` for the default loss):
    right on one machine; pass the training set's scale explicitly when the data is split
    across workers.
    """
    if margin.ndim != 1:
        raise ValueError(
            f"boostobj objectives are binary: expected 1-D margins, got shape {margin.shape}"
        )
    n = margin.shape[0]
    st = cache.state(data, n)
    if st.coef is None or st.grad is None:
        label, weight = read(data)
        r = check_label(label)
        if r.size != n:
            raise ValueError(f"label has {r.size} rows but the margin has {n}")
        c = loss.weight_scale(r, weight) if scale is None else float(scale)
        with np.errstate(over="ignore"):  # refused just below
            coef = loss.coefficients(r, weight, c, dtype)
        _check_finite(coef, c)
        st.coef = tuple(xp.asarray(a) for a in coef)
        st.grad = xp.empty(n, dtype=dtype)
        st.hess = xp.empty(n, dtype=dtype)
    coef, grad, hess = st.coef, st.grad, st.hess
    assert grad is not None and hess is not None
    if xp is not np:
        loss.gradient_hessian_into(xp.asarray(margin, dtype=dtype), coef, grad, hess)
        return grad, hess
    if margin.dtype != dtype and st.margin is None:
        st.margin = np.empty(n, dtype=dtype)
    buf = st.margin if margin.dtype != dtype else None

    def task(i: int, j: int) -> None:
        f = margin[i:j]
        if buf is not None:
            f = buf[i:j]
            np.copyto(f, margin[i:j], casting="same_kind")
        loss.gradient_hessian_into(f, tuple(a[i:j] for a in coef), grad[i:j], hess[i:j])

    run_chunked(task, n, threads)
    return grad, hess


def _check_finite(coef: tuple[NDArray[Any], ...], scale: float) -> None:
    """Once per data object: weights ``|log p| / scale`` can overflow float32 for a tiny
    ``scale`` (every loss is finite for any finite coefficients)."""
    if not all(np.isfinite(a).all() for a in coef):
        raise ValueError(
            f"scale={scale!r} makes the weights |log p| / scale overflow: pass the training "
            "set's boostobj.weight_scale(log_p), or None"
        )


def _label(st: _State, data: Any, n: int) -> NDArray[Any]:
    """``log p`` of ``data`` (its label), read and checked once per data object."""
    if st.log_payoff is None:
        r = check_label(data.get_label())
        if r.size != n:
            raise ValueError(f"label has {r.size} rows but predictions have {n}")
        st.log_payoff = r
    return st.log_payoff


def loss_metric(
    loss: Loss, scale: float | None, name: str | None
) -> tuple[str, Callable[[NDArray[Any], Any], float]]:
    """Mean surrogate loss on a data object, ``(name, value(margin, data))``, lower is better.

    Smooth where log-wealth jumps from round to round, so early stopping on it is steadier.
    ``scale`` must be the training set's (``None``: the data's own scale).
    """
    cache = DataCache()

    def value(margin: NDArray[Any], data: Any) -> float:
        st = cache.state(data, margin.shape[0])
        if st.coef is None:  # label, weights and scale are fixed per data object
            r = _label(st, data, margin.shape[0])
            weight = data.get_weight()
            weight = weight if weight is not None and len(weight) else None
            c = loss.weight_scale(r, weight) if scale is None else scale
            st.coef = loss.coefficients(r, weight, c, np.float64)
        return float(loss._loss(np.asarray(margin, dtype=np.float64), st.coef).mean())

    return name or f"{loss.name}_loss", value


def policy_metric(
    threshold: float,
    stake: bool,
    name: str | None,
    read_base_margin: Callable[[Any], Any] | None = None,
) -> tuple[str, Callable[[NDArray[Any], Any], float]]:
    """The metric both adapters report: ``(name, value(margin, data))``, higher is better.

    ``stake=False``: log-wealth of taking rows with ``sigmoid(margin) >= threshold``.
    ``stake=True``: log-wealth of staking ``sigmoid(margin)`` on every row (Kelly models).
    With ``read_base_margin``, decisions use the margin net of the data's base margin (for
    payoffs known at decision time, where the base margin is the per-row break-even).
    ``log p`` and the base margin are read from the data object once and cached with it.
    """
    cut = margin_threshold(threshold)
    cache = DataCache()

    def value(margin: NDArray[Any], data: Any) -> float:
        st = cache.state(data, margin.shape[0])
        if st.log_payoff is None:
            _label(st, data, margin.shape[0])
            if read_base_margin is not None:
                base = read_base_margin(data)
                st.base_margin = None if base is None or not len(base) else np.asarray(base)
        if st.base_margin is not None:
            margin = margin - st.base_margin
        if stake:  # the label was checked once, when first read: no per-round checks
            return _stake_log_wealth(st.log_payoff, sigmoid(margin))
        return _log_wealth(st.log_payoff, np.asarray(margin) >= cut)

    return (name or ("stake_log_wealth" if stake else "log_wealth")), value
