"""The gradient check and trajectory check for any network (the one job's `optim_check.sweep`
with sgd): presets and random networks pass in float64 and float32; a wrong derivation, a
wrong update and a wrong reference are caught."""

from __future__ import annotations

import numpy as np
import pytest

from autograd_compare import network, registry
from autograd_compare.harness import network_check, optim_check
from autograd_compare.manual import mlp as manual_mlp
from autograd_compare.network import Data
from autograd_compare.optimizers import SGD
from autograd_compare.report.sweep import as_dict

BACKENDS = ("manual", "torch", "jax")
DTYPES = ("float64", "float32")


def random_network(kind: str):
    rng = np.random.default_rng(7)
    if kind == "tanh-relu-mse":
        net = network.make_network((3, 6, 5, 2), ("tanh", "relu", "sigmoid"), "trainable",
                                   loss="mse", reduction="mean")
        t = rng.uniform(0, 1, (8, 2))
    else:
        net = network.make_network((4, 5, 5, 3), ("relu", "tanh", "softmax"), "trainable",
                                   loss="cross-entropy", reduction="sum")
        t = np.eye(3)[rng.integers(0, 3, 8)]
    w = rng.normal(0, 0.6, network.n_params(net))
    return net, w, network.data(net, rng.normal(size=(8, net.sizes[0])), t), 0.2, 60


def setup(case: str, dtype: str):
    if case.startswith("preset:"):
        p = network.preset(case[7:])
        net, w, d, lr, steps = p.network, p.weights, p.data, p.lr, p.steps
    else:
        net, w, d, lr, steps = random_network(case)
    backends = [registry.get_network_backend(b, dtype) for b in BACKENDS]
    return (backends, net, network.weights(net, w, dtype),
            network.data(net, d.inputs, d.targets, dtype), lr, steps)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", ["preset:xor", "preset:iris", "preset:mazur",
                                  "tanh-relu-mse", "relu-tanh-softmax"])
def test_networks_pass_both_checks(case, dtype):
    backends, net, w, d, lr, steps = setup(case, dtype)
    r = optim_check.sweep(case, SGD, list(BACKENDS), net, w, d, (lr,), steps, dtype)
    assert r.ok, r.first_divergence
    assert r.first_divergence is None
    n_nodes = sum(2 * n for n in net.sizes[1:]) * d.inputs.shape[0]
    softmax = d.inputs.shape[0] * net.sizes[-1] if net.activations[-1] == "softmax" else 0
    assert len(r.gradcheck.rows) == network.n_params(net) + n_nodes - softmax
    assert all(row.fd_ok for row in r.gradcheck.rows)
    assert set(r.rates[0].comparisons) == {"torch", "jax"}
    assert as_dict(r)["ok"] is True


def test_references_agree_with_a_hand_computed_derivative():
    """One-layer identity network, half-sse: dE/dW = (a - t) xᵀ, dE/dz = a - t, exactly."""
    net = network.make_network((2, 1), "identity")
    x, t, w = np.array([[2.0, 3.0]]), np.array([[1.0]]), np.array([0.5, -0.25])
    refs = network_check.references(net, w, Data(x, t))
    a = 0.5 * 2 - 0.25 * 3
    np.testing.assert_allclose(refs["dw"][0], [(a - 1) * 2, (a - 1) * 3], rtol=1e-15)
    np.testing.assert_allclose(refs[("z", 0)][0], [[a - 1]], rtol=1e-15)
    np.testing.assert_allclose(refs["dw"][1], refs["dw"][0], rtol=1e-9)


def test_a_dropped_derivative_is_caught_where_it_first_goes_wrong(monkeypatch):
    """Mutation: the manual backend forgets σ' (f' = 1 for sigmoid)."""
    backends, net, w, d, lr, steps = setup("preset:xor", "float64")
    real = manual_mlp.derivative
    monkeypatch.setattr(manual_mlp, "derivative", lambda name, z, a: (
        np.ones_like(z) if name == "sigmoid" else real(name, z, a)))
    r = optim_check.sweep("xor", SGD, list(BACKENDS), net, w, d, (lr,), steps)
    assert not r.ok
    first = r.first_divergence
    assert first["check"] == "gradient" and first["backend"] == "manual"
    assert first["quantity"] == "dE/dz2[0] (example 1)"  # the output layer's δ, first in order
    assert r.gradcheck.largest["torch"] < 1 < r.gradcheck.largest["manual"]


def test_a_wrong_update_is_caught_at_step_one(monkeypatch):
    """Mutation: the torch backend's train applies lr·(1 + 1e-9): gradients are right."""
    backends, net, w, d, lr, steps = setup("preset:iris", "float64")
    real = registry.get_network_backend

    def get(name, dtype="float64"):
        b = real(name, dtype)
        return b if name != "torch" else b._replace(train=lambda net, w, data, opt, steps: b.train(
            net, w, data, opt._replace(lr=opt.lr * (1 + 1e-9)), steps))

    monkeypatch.setattr(optim_check.registry, "get_network_backend", get)
    r = optim_check.sweep("iris", SGD, list(BACKENDS), net, w, d, (lr,), steps)
    assert r.gradcheck.ok and not r.rates[0].ok
    first = r.first_divergence
    assert first["check"] == "trajectory" and first["backend"] == "torch"
    assert first["step"] == 1 and first["quantity"] in network.param_names(net)
    assert first["label"] == f"{first['quantity']} after step 1"  # E and dE/dw agree


def test_a_wrong_reference_is_caught_by_the_central_difference(monkeypatch):
    """Mutation: the complex-step reference's tanh gets a wrong derivative (tanh(z)·1.001
    off the real axis): the central difference disagrees with it."""
    from autograd_compare.harness import network_reference as ref

    real = ref.activation
    monkeypatch.setattr(ref, "activation", lambda name, z: (
        np.tanh(z.real) + 1.001j * np.tanh(z).imag if name == "tanh" else real(name, z)))
    backends, net, w, d, lr, steps = setup("preset:iris", "float64")
    g = network_check.gradient_check(backends, net, w, d)
    assert not g.ok
    assert not all(row.fd_ok for row in g.rows)


def test_tolerance_model_matches_the_tutorials_op_count():
    p = network.preset("tutorial")
    assert 30 <= network_check.ops_per_step(p.network, 1) <= 34
    assert network_check.ops_per_step(network.preset("iris").network, 150) > 300
