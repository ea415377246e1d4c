"""The torch backend's own machinery: the default dtype, chunks of rows, the column graph.

What every backend must do (agree with manual, batch == single runs, dtypes, extreme inputs)
is checked once for all in tests/test_conformance.py.
"""

from __future__ import annotations

import numpy as np
import pytest
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


def test_chunks_of_rows_give_the_same_result(monkeypatch):
    """Chunks of 5, 5 and 2 rows against one of 12: a row's place in torch's vector lanes can
    move its last bit (tests/test_conformance.py: 4 eps on weights, 64 eps on losses)."""
    from autograd_compare.interface import LEARNING_RATES
    from autograd_compare.torch_impl import mlp
    from tests.helpers import EPS64, assert_close

    w, lr = starts(12, "float64"), np.resize(np.array(LEARNING_RATES), 12)
    whole = get_backend("torch").train_batch(w, lr, steps=30, threshold=5e-3, keep_loss=True)
    monkeypatch.setattr(mlp, "CHUNK_ELEMENTS", 20)  # 20 // 4 elements a row: 5 rows a chunk
    parts = get_backend("torch").train_batch(w, lr, steps=30, threshold=5e-3, keep_loss=True)
    for field in ("initial_loss", "final_loss", "final_weights", "loss"):
        rtol = (4 if field == "final_weights" else 64) * EPS64
        assert_close(getattr(parts, field), getattr(whole, field), rtol, what=field)
    np.testing.assert_array_equal(parts.steps_to_threshold, whole.steps_to_threshold)
    assert np.any(whole.steps_to_threshold >= 0)


def _softmax_net():
    """2-2-2, tanh then softmax, trainable biases, cross-entropy averaged over 3 examples."""
    from autograd_compare import network

    net = network.make_network((2, 2, 2), ("tanh", "softmax"), "trainable",
                               loss="cross-entropy", reduction="mean")
    return net, network.data(net, [[0.1, 0.9], [0.8, 0.2], [0.5, 0.5]],
                             [[1.0, 0.0], [0.0, 1.0], [0.3, 0.7]])


@pytest.mark.parametrize("preset", ["tutorial", "xor", "mazur", "softmax"])
def test_columns_train_as_the_matmul_graph(preset, monkeypatch):
    """Networks of 2-input neurons train as columns from `COLUMNS_MIN_ROWS` rows on (every
    bias mode, softmax and cross-entropy too); they must give the matmul graph's numbers (same
    tolerances as chunks: a row's vector lane can move its last bit), the counted steps
    exactly."""
    from autograd_compare import network
    from autograd_compare.torch_impl import mlp
    from tests.helpers import EPS64, assert_close

    if preset == "softmax":
        net, d = _softmax_net()
        p = network.Preset("softmax", "", net, d, np.zeros(network.n_params(net)), 0.5, 10)
    else:
        p = network.preset(preset)
        d = network.data(p.network, p.data.inputs, p.data.targets)
    n = mlp.COLUMNS_MIN_ROWS
    w = np.random.default_rng(5).uniform(-2, 2, (n, network.n_params(p.network)))
    lr = np.resize(np.array([0.1, 0.5, 2.0]), n)
    assert mlp._by_columns(p.network, n) and not mlp._by_columns(p.network, n - 1)
    threshold = float(np.median(mlp.train_batch(p.network, w, lr, d, 12).final_loss))
    columns = mlp.train_batch(p.network, w, lr, d, 25, threshold=threshold, keep_loss=True)
    monkeypatch.setattr(mlp, "COLUMNS_FAN_IN", 0)  # every network: the matmul graph
    matmul = mlp.train_batch(p.network, w, lr, d, 25, threshold=threshold, keep_loss=True)
    for field in ("initial_loss", "final_loss", "final_weights", "loss"):
        rtol = (4 if field == "final_weights" else 64) * EPS64
        assert_close(getattr(columns, field), getattr(matmul, field), rtol, what=field)
    np.testing.assert_array_equal(columns.steps_to_threshold, matmul.steps_to_threshold)
    assert 0 < np.sum(columns.steps_to_threshold >= 0) < n  # some rows reach it, some do not
