"""The mlp backends: the two hand derivations agree, PyTorch's own losses, batched == single."""

from __future__ import annotations

import importlib

import numpy as np
import pytest

from autograd_compare import network, registry
from autograd_compare.harness import tolerances
from autograd_compare.interface import Example
from autograd_compare.manual import gradients as tutorial_grads
from autograd_compare.manual import mlp as manual_mlp
from autograd_compare.manual import network as tutorial_net
from tests.helpers import assert_close, ulps

BACKENDS = ("manual", "torch", "jax")
DTYPES = ("float64", "float32")


def mlp(name: str):
    registry.get_backend(name)
    pkg = {"manual": "manual", "torch": "torch_impl", "jax": "jax_impl"}[name]
    return importlib.import_module(f"autograd_compare.{pkg}.mlp")


@pytest.mark.parametrize("dtype", DTYPES)
def test_the_delta_recursion_agrees_with_the_tutorial_formulas_within_ulps(dtype):
    """manual.mlp's δ recursion (every network) against the tutorial's 8 formulas (its kernel
    on the tutorial's network and example): two hand derivations of the same numbers."""
    p = network.preset("tutorial")
    w = network.weights(p.network, p.weights, dtype)
    d = network.data(p.network, p.data.inputs, p.data.targets, dtype)
    ex = Example(d.inputs[0], d.targets[0])
    zs, as_, losses = manual_mlp.forward_pass(p.network, w, d.inputs, d.targets)
    dw, dz, da = manual_mlp.backward_pass(p.network, w, d.inputs, d.targets, zs, as_)
    tf, tg = tutorial_net.forward(w, ex), tutorial_grads.gradients(w, ex)
    pairs = [(zs[0], tf.z[0]), (as_[0], tf.a[0]), (zs[1], tf.z[1]), (as_[1], tf.a[1]),
             (losses.sum(), tf.E), (dw, tg.w), (dz[0], tg.z[0]), (da[0], tg.a[0]),
             (dz[1], tg.z[1]), (da[1], tg.a[1])]
    for got, want in pairs:
        assert np.max(ulps(got, want)) <= 4, (got, want)
    f = manual_mlp.forward(p.network, w, d)  # the tutorial's kernel, exactly
    for got, want in [(f.E, tf.E), *zip(f.z + f.a, tf.z + tf.a, strict=True)]:
        np.testing.assert_array_equal(got, want)
    W = w.copy()
    for _ in range(100):  # plain gradient descent on the δ recursion
        zs, as_, _ = manual_mlp.forward_pass(p.network, W, d.inputs, d.targets)
        W = W - w.dtype.type(0.5) * manual_mlp.backward_pass(p.network, W, d.inputs,
                                                             d.targets, zs, as_)[0]
    tt = manual_mlp.train(p.network, w, d, lr=0.5, steps=100)  # the tutorial's formulas
    assert np.max(ulps(W, tt.weights[-1])) <= 64  # 100 steps of a few ULPs each


def _torch_reference(net, w, d):
    """E and dE/dw from nn.Sequential + nn.MSELoss / nn.CrossEntropyLoss (not our code)."""
    torch = pytest.importorskip("torch")
    acts = {"sigmoid": torch.nn.Sigmoid, "tanh": torch.nn.Tanh, "relu": torch.nn.ReLU,
            "identity": torch.nn.Identity}
    mods = []
    for n_in, n_out, a in zip(net.sizes[:-1], net.sizes[1:], net.activations, strict=True):
        mods.append(torch.nn.Linear(n_in, n_out, bias=net.bias == "trainable",
                                    dtype=torch.float64))
        if a != "softmax":
            mods.append(acts[a]())
    seq = torch.nn.Sequential(*mods)
    torch.nn.utils.vector_to_parameters(torch.from_numpy(w), seq.parameters())
    x, t = torch.from_numpy(d.inputs), torch.from_numpy(d.targets)
    if net.loss == "cross-entropy":
        E = torch.nn.CrossEntropyLoss(reduction=net.reduction)(seq(x), t)
    else:
        E = torch.nn.MSELoss(reduction=net.reduction)(seq(x), t)
        E = E * 0.5 if net.loss == "half-sse" else E
    E.backward()
    grad = torch.cat([q.grad.reshape(-1) for q in seq.parameters()])
    return E.item(), grad.numpy()


CASES = [
    ((3, 4, 2), ("tanh", "sigmoid"), "trainable", "mse", "mean"),
    ((3, 4, 2), ("relu", "identity"), "none", "half-sse", "mean"),
    ((3, 5, 4, 3), ("tanh", "relu", "softmax"), "trainable", "cross-entropy", "mean"),
    ((3, 5, 3), ("sigmoid", "softmax"), "none", "cross-entropy", "sum"),
    ((3, 2), ("identity",), "trainable", "mse", "sum"),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", CASES)
def test_loss_and_gradient_match_pytorch_nn_losses(case, backend):
    sizes, acts, bias, loss, red = case
    net = network.make_network(sizes, acts, bias, loss=loss, reduction=red)
    rng = np.random.default_rng(3)
    w = rng.uniform(-1, 1, network.n_params(net))
    t = rng.uniform(0, 1, (6, sizes[-1]))
    if loss == "cross-entropy":
        t = t / t.sum(axis=1, keepdims=True)  # class probabilities
    d = network.data(net, rng.normal(size=(6, sizes[0])), t)
    E_ref, g_ref = _torch_reference(net, w, d)
    b = mlp(backend)
    rt = tolerances.step_rtol("float64")
    assert_close(b.forward(net, w, d).E, E_ref, rt, what="E")
    g = b.gradients(net, w, d).w
    assert_close(g, g_ref, rt, atol=rt * np.abs(g_ref).max(), what="dE/dw")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("backend", BACKENDS)
def test_train_batch_rows_equal_train(backend, dtype):
    p = network.preset("xor")
    d = network.data(p.network, p.data.inputs, p.data.targets, dtype)
    rng = np.random.default_rng(0)
    W = rng.uniform(-1, 1, (5, network.n_params(p.network))).astype(dtype)
    lr = np.array([0.1, 0.5, 0.5, 1.0, 2.0], dtype)
    b = mlp(backend)
    out = b.train_batch(p.network, W, lr, d, 30, threshold=0.2, keep_loss=True)
    assert out.final_weights.shape == W.shape and out.loss.shape == (5, 30)
    rt = tolerances.step_rtol(dtype) * 31
    for n in range(5):
        t = b.train(p.network, W[n], d, lr=float(lr[n]), steps=30)
        assert_close(out.final_weights[n], t.weights[-1], rt, atol=rt, what=f"row {n}")
        assert_close(out.loss[n], t.loss, rt, atol=rt, what=f"loss row {n}")
        below = np.flatnonzero(np.append(t.loss, out.final_loss[n]) <= 0.2)
        assert out.steps_to_threshold[n] == (below[0] if below.size else -1)
    assert out.final_weights.dtype == np.dtype(dtype)


@pytest.mark.parametrize("backend", BACKENDS)
def test_extreme_values_run_without_overflow(backend):
    net = network.make_network((2, 3, 3), ("sigmoid", "softmax"), "trainable",
                               loss="cross-entropy")
    w = np.full(network.n_params(net), 1000.0)
    w[::2] = -1000.0
    d = network.data(net, [[1000.0, -1000.0]], [[1.0, 0.0, 0.0]])
    g = mlp(backend).gradients(net, w, d)
    assert np.all(np.isfinite(g.w))
    net2 = network.make_network((2, 2, 1), ("tanh", "sigmoid"), "none")
    g2 = mlp(backend).gradients(net2, np.array([1e3, -1e3, 1e3, 1e3, -1e3, 1e3]),
                                network.data(net2, [[1e3, 1e3]], [[1.0]]))
    assert np.all(np.isfinite(g2.w))
