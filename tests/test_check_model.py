"""check_model: a user's nn.Sequential or layer pytree checked on all three backends."""

from __future__ import annotations

import json

import numpy as np
import pytest

from autograd_compare import check_model
from autograd_compare.errors import InputError
from autograd_compare.report.sweep import as_dict
from autograd_compare.usermodel import describe_model

torch = pytest.importorskip("torch")


def data(n_in: int, n_out: int, onehot: bool = False):
    rng = np.random.default_rng(5)
    x = rng.normal(size=(10, n_in))
    t = np.eye(n_out)[rng.integers(0, n_out, 10)] if onehot else rng.uniform(size=(10, n_out))
    return x, t


def test_a_users_classifier_passes_and_reports():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.Tanh(), torch.nn.Linear(6, 5),
                                torch.nn.ReLU(), torch.nn.Linear(5, 3))
    x, t = data(4, 3, onehot=True)
    before = [p.detach().clone() for p in model.parameters()]
    r = check_model(model, torch.from_numpy(x), t, loss="cross-entropy", reduction="mean",
                    lr=0.1, steps=20)
    assert r.ok and r.first_divergence is None
    d = json.loads(json.dumps(as_dict(r)))
    assert d["network"]["activations"] == ["tanh", "relu", "softmax"]
    assert d["network"]["parameters"] == 4 * 6 + 6 + 6 * 5 + 5 + 5 * 3 + 3
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))  # untouched


def test_parameters_and_loss_are_the_models_own():
    """E and dE/dw from the description equal the model's own nn.MSELoss and .grad."""
    from autograd_compare.manual import mlp
    from autograd_compare.network import data as as_data

    torch.manual_seed(1)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Sigmoid(),
                                torch.nn.Linear(4, 2)).double()
    x, t = data(3, 2)
    net, w = describe_model(model, "mse", "mean")
    E = torch.nn.MSELoss()(model(torch.from_numpy(x)), torch.from_numpy(t))
    E.backward()
    g = torch.cat([p.grad.reshape(-1) for p in model.parameters()]).numpy()
    d = as_data(net, x, t)
    np.testing.assert_allclose(mlp.forward(net, w, d).E, E.item(), rtol=1e-14)
    np.testing.assert_allclose(mlp.gradients(net, w, d).w, g, rtol=1e-12, atol=1e-16)


def test_frozen_biases_and_float32():
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Sigmoid(),
                                torch.nn.Linear(2, 2), torch.nn.Sigmoid())
    for lin in (model[0], model[2]):
        lin.bias.requires_grad_(False)
    net, w = describe_model(model)
    assert net.bias == "frozen" and w.size == 8
    r = check_model(model, [[0.05, 0.1]], [[0.01, 0.99]], lr=0.5, steps=10, dtype="float32")
    assert r.ok and r.dtype == "float32"


def test_jax_pytree_of_layer_dicts():
    rng = np.random.default_rng(2)
    layers = [{"W": rng.normal(size=(3, 2)), "b": rng.normal(size=3), "activation": "tanh"},
              {"W": rng.normal(size=(1, 3)), "b": rng.normal(size=1), "activation": "sigmoid"}]
    x, t = data(2, 1)
    r = check_model(layers, x, t, loss="half-sse", lr=0.5, steps=10)
    assert r.ok
    assert as_dict(r)["network"]["sizes"] == [2, 3, 1]


def test_a_divergence_is_reported(monkeypatch):
    """Mutation: the hand-derived tanh' is wrong; the result says so and where."""
    from autograd_compare.manual import mlp

    real = mlp.derivative
    monkeypatch.setattr(mlp, "derivative", lambda name, z, a: (
        1 - a if name == "tanh" else real(name, z, a)))
    model = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Tanh(), torch.nn.Linear(3, 1))
    x, t = data(2, 1)
    r = check_model(model, x, t, steps=5)
    assert not r.ok
    assert r.first_divergence["backend"] == "manual"
    assert r.first_divergence["quantity"].startswith("dE/dz1[")
    assert as_dict(r)["ok"] is False


@pytest.mark.parametrize("model, message", [
    (lambda: torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Dropout(0.1)),
     r"unsupported layer 1: Dropout\(p=0.1"),
    (lambda: torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.GELU()),
     "unsupported layer 1: GELU"),
    (lambda: torch.nn.Sequential(torch.nn.Tanh(), torch.nn.Linear(2, 2)),
     "before any Linear"),
    (lambda: torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Tanh(), torch.nn.Tanh()),
     "two activations in a row"),
    (lambda: torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 2, bias=False)),
     "mixes none, trainable"),
    (lambda: torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Softmax(dim=-1)),
     "softmax needs the cross-entropy"),
    (lambda: torch.nn.Linear(2, 2), "expected a torch.nn.Sequential"),
    (lambda: torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Sequential(
        torch.nn.Linear(2, 2), torch.nn.Tanh())), r"unsupported layer 1: Sequential\( \(0\)"),
    (lambda: [{"W": np.zeros((2, 2)), "activation": "gelu"}], "unsupported activation 'gelu'"),
    (lambda: [{"W": np.zeros((2, 2))}, {"W": np.zeros((1, 3))}], "does not take the 2 outputs"),
])
def test_unsupported_models_raise_one_input_error(model, message):
    with pytest.raises(InputError, match=message) as err:
        check_model(model(), np.zeros((1, 2)), np.zeros((1, 2)))
    assert "\n" not in str(err.value)


def test_a_mistake_backend_is_checked_against_the_optimizer_catalogue():
    """check_model trains with SGD: mistake:<kind> is an update-rule mistake that applies to SGD
    (weight-decay-sign, undetected without decay); any other kind is one InputError line."""
    model = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Tanh(), torch.nn.Linear(3, 1))
    x, t = data(2, 1)
    r = check_model(model, x, t, steps=3, backends=("manual", "mistake:weight-decay-sign"))
    assert r.undetected == ("mistake:weight-decay-sign",) and not r.ok
    for kind, message in (("no-such-kind", "unknown optimizer mistake 'no-such-kind'"),
                          ("adamw-decay-after", "applies to adamw; got optimizer 'sgd'")):
        with pytest.raises(InputError, match=message) as err:
            check_model(model, x, t, steps=3, backends=("manual", "mistake:" + kind))
        assert "\n" not in str(err.value)
