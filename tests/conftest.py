from __future__ import annotations

import numpy as np
import pytest

from boostobj.losses import LOSSES, get_loss

#: Every registered surrogate with the knob settings the derivative tests cover.
LOSS_CASES = {
    "logistic": {},
    "logistic-power0.5": {"power": 0.5},
    "logistic-power0": {"power": 0.0},
    "outcome": {},
    "soft_wealth": {},
    "soft_wealth-T0.3": {"temperature": 0.3},
    "kelly": {},
    "squared": {},
}


def case_loss(case: str):
    return get_loss(case.split("-")[0], **LOSS_CASES[case])


@pytest.fixture(params=sorted(LOSS_CASES), ids=str)
def loss(request):
    """A new loss joins every derivative test by registering and adding a case here."""
    return case_loss(request.param)


def test_every_registered_loss_has_a_case():
    assert {case.split("-")[0] for case in LOSS_CASES} == set(LOSSES)


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def pytest_report_header(config):
    """Which gradient kernel these tests exercise: a silent build failure shows here."""
    from boostobj.losses import compiled_kernel

    return f"boostobj kernel: {'compiled (boostobj._kernels)' if compiled_kernel() else 'numpy'}"


@pytest.fixture(scope="module")
def client():
    """A local Dask cluster of 2 one-thread worker processes (threaded workers cannot run
    distributed LightGBM), one per test module; skips where dask is not installed."""
    distributed = pytest.importorskip("distributed")
    pytest.importorskip("dask.array")
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as c,
    ):
        yield c
