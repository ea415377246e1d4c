"""check_model: a user's nn.Sequential or layer pytree checked on all three backends."""

from __future__ import annotations

import copy
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
    (lambda: torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2)),
     r"unsupported layer 1: BatchNorm1d\(2"),
    (lambda: torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Dropout(0.1)),
     r"layer 1 \(Dropout\) is in training mode"),
    (lambda: torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Mish()),
     "unsupported layer 1: Mish"),
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
    (lambda: [{"W": np.zeros((2, 2)), "activation": "swish"}], "unknown activation 'swish'"),
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


# --- the user's model is run: its forward and its loss (issue 20) -------------------------------
def _classifier(softmax_last: bool = False):
    torch.manual_seed(3)
    mods = [torch.nn.Linear(4, 6), torch.nn.Tanh(), torch.nn.Linear(6, 3)]
    return torch.nn.Sequential(*mods, *([torch.nn.Softmax(dim=1)] if softmax_last else []))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_a_correct_model_with_its_loss_object_passes(dtype):
    x, t = data(4, 3, onehot=True)
    r = check_model(_classifier(), x, t, loss=torch.nn.CrossEntropyLoss(), dtype=dtype)
    assert r.ok and r.notes == ()
    assert "model" in r.gradcheck.largest and r.gradcheck.largest["model"] < 1


def test_the_model_backend_is_the_users_own_autograd():
    """The "model" column of the gradient check is what the user's model and loss give
    (computed here with plain torch, independently), node gradients included."""
    x, t = data(4, 3, onehot=True)
    model = _classifier().double()
    r = check_model(model, x, t, loss=torch.nn.CrossEntropyLoss(reduction="sum"))
    X, T = torch.from_numpy(x), torch.from_numpy(t)
    z1 = model[0](X)
    z1.retain_grad()
    E = torch.nn.CrossEntropyLoss(reduction="sum")(model[2](model[1](z1)), T)
    E.backward()
    rows = {row.quantity: row.values["model"] for row in r.gradcheck.rows}
    assert rows["dE/dW1[1,2]"] == model[0].weight.grad[1, 2].item()
    assert rows["dE/db2[0]"] == model[2].bias.grad[0].item()
    assert rows["dE/dz1[4] (example 7)"] == z1.grad[6, 4].item()


def test_softmax_before_cross_entropy_loss_is_named():
    x, t = data(4, 3, onehot=True)
    r = check_model(_classifier(softmax_last=True), x, t, loss=torch.nn.CrossEntropyLoss())
    assert not r.ok
    assert r.first_divergence["backend"] == "model"
    assert r.first_divergence["quantity"].startswith("dE/dz2")
    assert r.notes == ("your model ends in nn.Softmax and is trained with nn.CrossEntropyLoss, "
                       "which applies log-softmax itself: softmax twice. Drop the Softmax layer "
                       "(the loss takes the logits)",)
    # the same layers with the loss named "cross-entropy" read the Softmax as its softmax
    assert check_model(_classifier(softmax_last=True), x, t, loss="cross-entropy").ok


def test_a_forward_that_does_more_than_its_layers_fails_with_the_reason():
    class Twice(torch.nn.Sequential):
        def forward(self, x):
            return 2 * super().forward(x)

    torch.manual_seed(4)
    model = Twice(torch.nn.Linear(3, 4), torch.nn.Sigmoid(), torch.nn.Linear(4, 2),
                  torch.nn.Sigmoid())
    x, t = data(3, 2)
    r = check_model(model, x, t, loss="mse", reduction="mean")
    assert not r.ok and r.first_divergence["backend"] == "model"
    assert r.first_divergence["quantity"] == "dE/da2[0] (example 1)"
    y = model.double()(torch.from_numpy(x)).detach().numpy()  # its own output: 2·σ(...)
    b, j = np.unravel_index(np.argmax(y), y.shape)  # where 2σ and σ differ most
    assert r.notes == (f"your model's output is not σ(W2 a1 + b2): for example {b + 1}, output "
                       f"{j + 1} it gives {y[b, j]:.10g} where σ(W2 a1 + b2) gives "
                       f"{y[b, j] / 2:.10g} (its forward computes something else than its "
                       "layers describe); first differing gradient: dE/da2[0] (example 1)",)
    plain = torch.nn.Sequential(*model)  # the same layers without the factor: agrees
    assert check_model(plain, x, t, loss="mse", reduction="mean").ok


def test_a_shared_linear_is_refused_in_one_line():
    x, t = data(3, 3)
    lin = torch.nn.Linear(3, 3)
    with pytest.raises(InputError, match=r"layer 2 is layer 0 again \(the same nn.Linear"):
        check_model(torch.nn.Sequential(lin, torch.nn.Sigmoid(), lin, torch.nn.Sigmoid()), x, t)


# float64: the acceptance's 1e-12 (measured 0: the same sums); float32 against float64 torch
# training: 30 steps of float32 rounding, measured 1.1e-7, allowed 1e-6 (about 8 eps32)
@pytest.mark.parametrize("dtype, rtol", [("float64", 1e-12), ("float32", 1e-6)])
def test_frozen_weights_stay_frozen_in_every_backend_as_in_real_training(dtype, rtol):
    """A hidden layer with requires_grad=False: every backend holds it fixed, and the final E
    is what real torch.optim training of the user's model reaches."""
    torch.manual_seed(4)
    model = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Tanh(), torch.nn.Linear(3, 1),
                                torch.nn.Sigmoid()).double()
    model[0].weight.requires_grad_(False)
    x, t = data(2, 1)
    r = check_model(model, x, t, loss="mse", reduction="mean", lr=0.5, steps=30, dtype=dtype)
    assert r.ok, r.first_divergence
    assert r.optimizer.frozen == tuple(range(6))  # W1: 3 x 2, first in the vector
    run = r.rates[0]
    for name, traj in run.runs.items():
        assert np.array_equal(traj.weights[-1][:6], traj.weights[0][:6]), name  # held fixed
        assert not np.array_equal(traj.weights[-1][6:9], traj.weights[0][6:9]), name  # b1 moved
        assert np.all(traj.grads[:, :6] == 0), name
    trained = copy.deepcopy(model)  # the user's own training
    sgd = torch.optim.SGD([p for p in trained.parameters() if p.requires_grad], lr=0.5)
    X, T = torch.from_numpy(x), torch.from_numpy(t)
    for _ in range(30):
        sgd.zero_grad()
        torch.nn.functional.mse_loss(trained(X), T).backward()
        sgd.step()
    with torch.no_grad():
        real = float(torch.nn.functional.mse_loss(trained(X), T))
    assert torch.equal(trained[0].weight, model[0].weight)
    for name, final in run.final_loss.items():
        assert abs(final - real) <= rtol * real, (name, final, real)
    assert np.all(r.gradcheck.rows[-1].values["model"] != 0)  # the gradient check: the maths


@pytest.mark.parametrize("loss,fragment", [
    (lambda: torch.nn.HuberLoss(), "unsupported loss HuberLoss()"),
    (lambda: torch.nn.MSELoss(reduction="none"), "expected reduction 'sum' or 'mean'"),
    (lambda: torch.nn.CrossEntropyLoss(label_smoothing=0.1), "label smoothing"),
])
def test_unsupported_loss_objects_are_one_line(loss, fragment):
    x, t = data(4, 3, onehot=True)
    with pytest.raises(InputError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        check_model(_classifier(), x, t, loss=loss())


# --- a JAX model: a pure apply(params, x) ------------------------------------------------------
def _jax_layers(flax: bool = False):
    rng = np.random.default_rng(2)
    W1, b1, W2, b2 = (rng.normal(size=s) for s in ((3, 2), (3,), (1, 3), (1,)))
    if flax:
        return [{"kernel": W1.T, "bias": b1, "activation": "tanh"},
                {"kernel": W2.T, "bias": b2, "activation": "sigmoid"}]
    return [{"W": W1, "b": b1, "activation": "tanh"}, {"W": W2, "b": b2, "activation": "sigmoid"}]


def _apply(p, x, hidden=None):
    jax = pytest.importorskip("jax")
    hidden = jax.numpy.tanh if hidden is None else hidden
    if "kernel" in p[0]:
        h = hidden(x @ p[0]["kernel"] + p[0]["bias"])
        return jax.nn.sigmoid(h @ p[1]["kernel"] + p[1]["bias"])
    h = hidden(x @ p[0]["W"].T + p[0]["b"])
    return jax.nn.sigmoid(h @ p[1]["W"].T + p[1]["b"])


@pytest.mark.parametrize("flax", [False, True], ids=["out-in", "flax-in-out"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_a_jax_apply_is_run_and_judged_on_its_gradients(flax, dtype):
    x, t = data(2, 1)
    r = check_model(_jax_layers(flax), x, t, loss="half-sse", apply=_apply, dtype=dtype)
    assert r.ok and r.notes == () and "model" in r.gradcheck.largest
    node_rows = [row for row in r.gradcheck.rows if "/dz" in row.quantity]
    assert node_rows and all("model" not in row.values for row in node_rows)  # opaque: no nodes


def test_the_jax_model_column_is_jax_grad_of_the_users_apply():
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    x, t = data(2, 1)
    layers = _jax_layers(flax=True)
    r = check_model(layers, x, t, loss="half-sse", apply=_apply)
    rows = {row.quantity: row.values.get("model") for row in r.gradcheck.rows}
    with jax.enable_x64(True):
        p = [{k: jnp.asarray(v) for k, v in L.items() if k != "activation"} for L in layers]
        g = jax.grad(lambda p: 0.5 * ((jnp.asarray(t) - _apply(p, jnp.asarray(x))) ** 2).sum())(p)
    assert rows["dE/dW1[2,0]"] == float(g[0]["kernel"][0, 2])  # (in, out): transposed
    assert rows["dE/db2[0]"] == float(g[1]["bias"][0])


def test_a_jax_apply_that_differs_from_its_layers_fails_with_the_reason():
    jax = pytest.importorskip("jax")
    x, t = data(2, 1)
    r = check_model(_jax_layers(), x, t, loss="half-sse",
                    apply=lambda p, x: _apply(p, x, hidden=jax.nn.sigmoid))  # not tanh
    assert not r.ok and r.first_divergence["backend"] == "model"
    (note,) = r.notes
    assert note.startswith("your model's output is not σ(W2 a1 + b2): for example ")


def test_a_weight_in_the_wrong_layout_names_the_layout():
    x, t = data(2, 1)
    layers = _jax_layers()
    layers[1]["W"] = layers[1]["W"].T  # (3, 1): Flax's layout under the key 'W'
    del layers[0]["b"], layers[1]["b"]  # no biases: the chain of shapes is what is wrong
    with pytest.raises(InputError, match=r"give Flax's \(in, out\) as 'kernel'"):
        check_model(layers, x, t, apply=_apply)


def test_class_index_targets_with_the_users_cross_entropy_loss_object():
    """nn.CrossEntropyLoss takes class indices (B,): so does check_model, with that object;
    the model column is the user's own loss on those indices."""
    x, t = data(4, 3, onehot=True)
    classes = t.argmax(axis=1)  # (10,) integers
    r = check_model(_classifier(), x, classes, loss=torch.nn.CrossEntropyLoss())
    assert r.ok and r.notes == ()
    same = check_model(_classifier(), x, t, loss=torch.nn.CrossEntropyLoss())
    assert [row.values for row in r.gradcheck.rows] == [row.values for row in same.gradcheck.rows]
    with pytest.raises(InputError, match="class index 3 out of range: the model has 3 outputs"):
        check_model(_classifier(), x, np.where(classes == 0, 3, classes),
                    loss=torch.nn.CrossEntropyLoss())


def test_dropout_in_eval_mode_and_identity_are_the_identity():
    torch.manual_seed(3)
    model = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.Identity(), torch.nn.Tanh(),
                                torch.nn.Dropout(0.5), torch.nn.Linear(6, 3)).double()
    x, t = data(4, 3, onehot=True)
    with pytest.raises(InputError, match=r"layer 3 \(Dropout\) is in training mode.*model.eval"):
        check_model(model, x, t, loss="cross-entropy", reduction="mean")
    r = check_model(model.eval(), x, t, loss="cross-entropy", reduction="mean")
    assert r.ok and r.network.sizes == (4, 6, 3)
    assert r.network.activations == ("tanh", "softmax")


# --- JAX libraries: Equinox's nn.MLP, Flax's nnx.Sequential ---------------------------------
XOR_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_Y = np.array([[0.0], [1.0], [1.0], [0.0]])


def _eqx_mlp(**kw):
    eqx = pytest.importorskip("equinox", reason="pip install equinox (the test extra has it)")
    import jax

    return eqx.nn.MLP(2, 1, 3, 1, activation=jax.nn.tanh, final_activation=jax.nn.sigmoid,
                      key=jax.random.PRNGKey(0), **kw)


def _nnx_sequential(cls=None):
    nnx = pytest.importorskip("flax.nnx", reason="pip install flax (the test extra has it)")
    cls = cls or nnx.Sequential
    return cls(nnx.Linear(2, 3, rngs=nnx.Rngs(0)), nnx.tanh,
               nnx.Linear(3, 1, rngs=nnx.Rngs(1)), nnx.sigmoid)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("make", [_eqx_mlp, _nnx_sequential], ids=["equinox", "flax-nnx"])
def test_a_jax_library_model_is_read_and_run(make, dtype):
    model = make()
    before = [np.asarray(leaf).copy() for leaf in _leaves(model)]
    r = check_model(model, XOR_X, XOR_Y, loss="mse", lr=0.5, steps=10, dtype=dtype)
    assert r.ok, r.first_divergence
    assert (r.network.sizes, r.network.activations, r.network.bias) == (
        (2, 3, 1), ("tanh", "sigmoid"), "trainable")
    assert "model" in r.gradcheck.largest  # its own __call__, under jax.grad
    assert all(np.array_equal(a, np.asarray(b)) for a, b in zip(before, _leaves(model)))


def _leaves(model):
    import jax

    try:
        from flax import nnx

        if isinstance(model, nnx.Module):
            return jax.tree_util.tree_leaves(nnx.to_pure_dict(nnx.split(model)[1]))
    except ImportError:
        pass
    return [x for x in jax.tree_util.tree_leaves(model) if hasattr(x, "shape")]


def test_a_flax_model_whose_call_does_more_than_its_layers_fails():
    nnx = pytest.importorskip("flax.nnx", reason="pip install flax (the test extra has it)")

    class Doubled(nnx.Sequential):
        def __call__(self, x):
            return 2 * super().__call__(x)

    r = check_model(_nnx_sequential(Doubled), XOR_X, XOR_Y, loss="mse", lr=0.5, steps=5)
    assert not r.ok and r.first_divergence["backend"] == "model"


def test_an_unknown_activation_or_part_is_one_line():
    import jax.numpy as jnp

    eqx = pytest.importorskip("equinox", reason="pip install equinox (the test extra has it)")
    import jax

    odd = eqx.nn.MLP(2, 1, 3, 1, activation=lambda z: 2 * jnp.tanh(z),
                     key=jax.random.PRNGKey(0))
    with pytest.raises(InputError, match="eqx.nn.MLP: activation .* is none of sigmoid, tanh"):
        check_model(odd, XOR_X, XOR_Y, loss="mse")
    # Equinox vmaps final_activation over the outputs: its own call fails on a softmax
    soft = eqx.nn.MLP(2, 3, 3, 1, activation=jax.nn.sigmoid, final_activation=jax.nn.softmax,
                      key=jax.random.PRNGKey(0))
    with pytest.raises(InputError, match="each output on its own.*loss='cross-entropy'"):
        check_model(soft, XOR_X, np.eye(3)[[0, 1, 2, 0]], loss="cross-entropy")
    nnx = pytest.importorskip("flax.nnx", reason="pip install flax (the test extra has it)")
    bad = nnx.Sequential(nnx.Linear(2, 3, rngs=nnx.Rngs(0)), nnx.tanh, nnx.tanh)
    with pytest.raises(InputError, match="nnx.Sequential layer 2 .*at most one activation"):
        check_model(bad, XOR_X, XOR_Y, loss="mse")
    with pytest.raises(InputError, match="runs itself; give no apply="):
        check_model(_nnx_sequential(), XOR_X, XOR_Y, loss="mse", apply=lambda p, x: x)
