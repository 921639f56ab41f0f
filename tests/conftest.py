from __future__ import annotations

import numpy as np
import pytest

from boostobj.losses import LOSSES


@pytest.fixture(params=sorted(LOSSES), ids=str)
def loss(request):
    """Every registered surrogate; a new loss joins every derivative test by registering."""
    return LOSSES[request.param]


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
