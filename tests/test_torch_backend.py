"""The torch backend's own machinery: the default dtype.

What every backend must do (agree with manual, batch == single runs, dtypes, extreme inputs)
is checked once for all in tests/test_conformance.py.
"""

from __future__ import annotations

import numpy as np
import torch

from autograd_compare.interface import CLASS_WEIGHTS
from autograd_compare.registry import get_backend
from tests.helpers import starts


def test_default_dtype_is_left_alone():
    before = torch.get_default_dtype()
    b = get_backend("torch", "float64")
    b.train(CLASS_WEIGHTS, lr=0.5, steps=2)
    b.train_batch(starts(2, "float64"), np.full(2, 0.5), steps=2)
    b.gradients(CLASS_WEIGHTS)
    assert torch.get_default_dtype() is before is torch.float32
