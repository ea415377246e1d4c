"""The torch backend's own machinery: the default dtype, blocks of rows, the compiled path.

What every backend must do (agree with manual, batch == single runs, dtypes, extreme inputs)
is checked once for all in tests/test_conformance.py.

Tolerances: the torch.compile path against eager on the same 12 rows x 30 steps fuses the
same expressions with other roundings; measured 0.66 eps64 of each row's largest weight, and
30.6 eps64 relative on the loss history (E = ½Σ(t - a_o)² cancels near convergence). Allowed:
4 eps of the row scale for weights, 256 eps relative for losses (<= 10x of measured).
"""

from __future__ import annotations

import numpy as np
import torch

from autograd_compare.interface import CLASS_WEIGHTS, LEARNING_RATES, Example
from autograd_compare.registry import get_backend
from tests.helpers import EPS64, assert_close, starts

COMPILED_WEIGHTS = 4 * EPS64  # of the row's largest |weight|
COMPILED_LOSS = 256 * EPS64  # relative


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
        assert_close(getattr(blocks, field), getattr(whole, field), 0.0, what=field)
    np.testing.assert_array_equal(blocks.steps_to_threshold, whole.steps_to_threshold)
    assert np.any(whole.steps_to_threshold >= 0)


def test_compiled_path_matches_eager(monkeypatch):
    """The torch.compile path (normally only for >= 5e7 config-steps), forced on small blocks."""
    from autograd_compare.torch_impl import compiled
    from autograd_compare.torch_impl import train as torch_train

    w, lr = starts(12, "float64"), np.resize(np.array(LEARNING_RATES), 12)
    b = get_backend("torch")
    eager = b.train_batch(w, lr, steps=30, threshold=5e-3, keep_loss=True)
    for module in (torch_train, compiled):
        monkeypatch.setattr(module, "CHUNK", 8)  # blocks of 8 and 4 rows, the 4 padded to 8
    monkeypatch.setattr(torch_train, "COMPILE_MIN_WORK", 0)
    fused = b.train_batch(w, lr, steps=30, threshold=5e-3, keep_loss=True)
    assert compiled.unavailable is None, compiled.unavailable
    floor = COMPILED_WEIGHTS * np.max(np.abs(eager.final_weights), axis=1, keepdims=True)
    assert_close(fused.final_weights, eager.final_weights, 0.0, floor, what="weights")
    assert_close(fused.final_loss, eager.final_loss, COMPILED_LOSS, what="final_loss")
    assert_close(fused.loss, eager.loss, COMPILED_LOSS, what="loss")
    np.testing.assert_array_equal(fused.steps_to_threshold, eager.steps_to_threshold)
    wild = starts(8, "float64", scale=50.0)  # same shape and dtype: no second compilation
    big = Example(np.array([20.0, -20.0]), np.array([0.5, 0.5]))
    out = b.train_batch(wild, np.full(8, 100.0), example=big, steps=30, keep_loss=True)
    for field in ("initial_loss", "final_loss", "final_weights", "loss"):
        assert np.all(np.isfinite(getattr(out, field))), f"compiled, extreme: {field}"


def test_compile_failure_falls_back_to_eager(monkeypatch):
    from autograd_compare.torch_impl import compiled
    from autograd_compare.torch_impl import train as torch_train

    def broken(*args, **kwargs):
        raise RuntimeError("no C++ compiler")

    monkeypatch.setattr(torch_train, "COMPILE_MIN_WORK", 0)
    monkeypatch.setattr(compiled, "_compiled", None)
    monkeypatch.setattr(compiled, "unavailable", None)
    monkeypatch.setattr(torch, "compile", broken)
    w, lr = starts(3, "float64"), np.full(3, 0.5)
    out = get_backend("torch").train_batch(w, lr, steps=5)
    assert "no C++ compiler" in compiled.unavailable
    single = get_backend("torch").train(w[2], lr=0.5, steps=5)
    assert_close(out.final_weights[2], single.weights[-1], 0.0, what="eager fallback")
