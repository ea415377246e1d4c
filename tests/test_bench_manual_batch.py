"""Manual's structure-of-arrays batch (`manual.soa`) evaluates the tutorial's formulas exactly
like `manual.mlp.train` on the tutorial's network and one example."""

from __future__ import annotations

import numpy as np
import pytest

import autograd_compare.manual.soa as mt
from autograd_compare.interface import Example
from autograd_compare.manual import mlp
from autograd_compare.network import TUTORIAL, example_data

DTYPES = (np.float64, np.float32)


def _case(dt, n=120, seed=3):
    rng = np.random.default_rng(seed)
    ex = Example(np.array([0.05, 0.1], dt), np.array([0.5, 0.5], dt))
    w = rng.uniform(-4, 4, (n, 8)).astype(dt)
    lr = rng.choice([0.1, 0.5, 2.0, 30.0], n).astype(dt)  # 30: large steps, saturated sigmoids
    return ex, w, lr


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("block", [7, 8192])  # several blocks (with a short last one), and one
def test_weights_bit_identical_to_unbatched(monkeypatch, dt, block):
    # Bit-for-bit is the contract here: same expressions, same order, so `==` is meaningful.
    monkeypatch.setattr(mt, "BLOCK", block)
    ex, w, lr = _case(dt)
    batch = mt.train_batch(w, lr, ex, steps=40, threshold=0.02, keep_loss=True)
    data = example_data(ex, dt)
    for n in range(len(w)):
        one = mlp.train(TUTORIAL, w[n], data, lr=lr[n], steps=40)
        assert np.array_equal(batch.final_weights[n], one.weights[-1]), f"row {n}"
        assert np.array_equal(batch.loss[n], one.loss), f"row {n}"
        hit = np.flatnonzero(np.append(one.loss, batch.final_loss[n]) <= 0.02)
        assert batch.steps_to_threshold[n] == (hit[0] if hit.size else -1), f"row {n}"
    assert batch.final_weights.dtype == dt and batch.loss.dtype == dt


@pytest.mark.parametrize("threads", [1, 2])
def test_threads_and_blocks_do_not_change_results(monkeypatch, threads):
    ex, w, lr = _case(np.float64, n=500)
    monkeypatch.setattr(mt, "BLOCK", 10_000)
    whole = mt.train_batch(w, lr, ex, steps=25, threshold=0.05)
    monkeypatch.setattr(mt, "BLOCK", 64)
    monkeypatch.setattr(mt, "THREADS", threads)
    split = mt.train_batch(w, lr, ex, steps=25, threshold=0.05)
    for a, b in zip(whole, split, strict=True):  # bit-for-bit: blocks are independent
        assert (a is None and b is None) or np.array_equal(a, b)


def test_without_threshold_nothing_is_reached():
    ex, w, lr = _case(np.float64, n=10)
    out = mt.train_batch(w, lr, ex, steps=5)
    assert np.all(out.steps_to_threshold == -1) and out.loss is None
    assert out.initial_loss.shape == out.final_loss.shape == (10,)
