"""The torch backend's own machinery: the default dtype, blocks of rows.

What every backend must do (agree with manual, batch == single runs, dtypes, extreme inputs)
is checked once for all in tests/test_conformance.py.
"""

from __future__ import annotations

import numpy as np
import torch

from autograd_compare.interface import CLASS_WEIGHTS, LEARNING_RATES
from autograd_compare.registry import get_backend
from tests.helpers import EPS64, assert_close, starts

# Blocks of 5 rows against one block of 12: a row sits in a vector lane in one and in the scalar
# tail of torch's exp in the other, one ulp apart on this CPU (AMD EPYC, AVX2). Measured 12 eps
# on a loss (E_total = ½Σ(t - a_o)² cancels near convergence); allowed as in
# tests/test_conformance.py: 4 eps on the weights, 64 eps on the losses.
WEIGHTS_RTOL, LOSS_RTOL = 4 * EPS64, 64 * EPS64


def test_default_dtype_is_left_alone():
    before = torch.get_default_dtype()
    b = get_backend("torch", "float64")
    b.train(CLASS_WEIGHTS, lr=0.5, steps=2)
    b.train_batch(starts(2, "float64"), np.full(2, 0.5), steps=2)
    b.gradients(CLASS_WEIGHTS)
    assert torch.get_default_dtype() is before is torch.float32


def test_blocks_of_rows_give_the_same_result(monkeypatch):
    from autograd_compare.torch_impl import train as torch_train

    w, lr = starts(12, "float64"), np.resize(np.array(LEARNING_RATES), 12)
    whole = get_backend("torch").train_batch(w, lr, steps=30, threshold=5e-3, keep_loss=True)
    monkeypatch.setattr(torch_train, "CHUNK", 5)  # blocks of 5, 5 and 2 rows
    blocks = get_backend("torch").train_batch(w, lr, steps=30, threshold=5e-3, keep_loss=True)
    for field in ("initial_loss", "final_loss", "final_weights", "loss"):
        rtol = WEIGHTS_RTOL if field == "final_weights" else LOSS_RTOL
        assert_close(getattr(blocks, field), getattr(whole, field), rtol, what=field)
    np.testing.assert_array_equal(blocks.steps_to_threshold, whole.steps_to_threshold)
    assert np.any(whole.steps_to_threshold >= 0)
