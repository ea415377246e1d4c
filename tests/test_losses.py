"""The losses bce (sigmoid + binary cross-entropy, from the logits) and nll (log-softmax + NLL).

Each against numbers worked out without the tool's code: a 50-digit mpmath forward pass written
from the definitions and differentiated by `mpmath.diff` (no hand-derived formula), PyTorch's
own loss classes (nn.BCEWithLogitsLoss, nn.BCELoss, nn.NLLLoss) under autograd, and
scikit-learn's own backpropagation (`MLPClassifier._backprop`, binary, logistic, alpha = 0).
"""

from __future__ import annotations

import warnings

import mpmath as mp
import numpy as np
import pytest
import torch
from torch import nn

from autograd_compare import check_gradients, check_model, network
from autograd_compare.commands.cli import main
from autograd_compare.errors import InputError
from autograd_compare.harness import network_check
from autograd_compare.registry import get_network_backend
from tests.helpers import EPS64, assert_close

BACKENDS = ("manual", "torch", "jax")
LOSSES = {"bce": "sigmoid", "nll": "log-softmax"}  # loss: the last layer it pairs with
B = 5


def _case(loss: str, reduction: str, seed: int = 7):
    """A random 3-4-2 network (tanh hidden, trainable biases) and B = 5 examples: bce targets
    0/1 per output (several labels per example), nll targets one-hot."""
    rng = np.random.default_rng(seed)
    net = network.make_network((3, 4, 2), ("tanh", LOSSES[loss]), "trainable", loss=loss,
                               reduction=reduction)
    w = rng.uniform(-1.5, 1.5, network.n_params(net))
    x = rng.uniform(-2, 2, (B, 3))
    t = (rng.integers(0, 2, (B, 2)) if loss == "bce" else np.eye(2)[rng.integers(0, 2, B)])
    return net, w, network.data(net, x, t.astype(np.float64))


# --- the 50-digit reference: the definitions, differentiated by mpmath ----------------------
def _mp_E(net: network.Network, w, x, t):
    """E from the definitions in mpmath: bce = -t log σ(z) - (1 - t) log(1 - σ(z)) with
    σ(z) = 1/(1 + e^-z); nll = -Σ t_j (z_j - log Σ_k e^z_k)."""
    total = mp.mpf(0)
    for b in range(len(x)):
        a = [mp.mpf(v) for v in x[b]]
        for lay, act in zip(network.layout(net), net.activations, strict=True):
            n_out, n_in = lay.W_shape
            W, bias = w[lay.W], w[lay.b]
            z = [sum(W[j * n_in + k] * a[k] for k in range(n_in)) + bias[j] for j in range(n_out)]
            if act == "tanh":
                a = [mp.tanh(v) for v in z]
            elif act == "sigmoid":
                a = [1 / (1 + mp.exp(-v)) for v in z]
            else:  # log-softmax
                lse = mp.log(sum(mp.exp(v) for v in z))
                a = [v - lse for v in z]
        tb = [mp.mpf(v) for v in t[b]]
        if net.loss == "bce":
            total += -sum(tj * mp.log(s) + (1 - tj) * mp.log(1 - s) for tj, s in zip(tb, a))
        else:
            total += -sum(tj * aj for tj, aj in zip(tb, a))
    n = len(x) * (net.sizes[-1] if net.loss == "bce" else 1)  # PyTorch's "mean"
    return total / n if net.reduction == "mean" else total


def _mp_reference(net, w, data):
    """(E, dE/dw) in 50 digits, as float64."""
    with mp.workdps(50):
        p = [mp.mpf(float(v)) for v in w]

        def along(k):
            return lambda v: _mp_E(net, p[:k] + [v] + p[k + 1:], data.inputs, data.targets)

        E = _mp_E(net, p, data.inputs, data.targets)
        return float(E), np.array([float(mp.diff(along(k), p[k])) for k in range(len(p))])


WORST: dict[tuple[str, str], float] = {}  # (loss, reduction) -> worst relative error seen


@pytest.mark.parametrize("reduction", ["sum", "mean"])
@pytest.mark.parametrize("loss", ["bce", "nll"])
def test_against_torch_jax_manual_and_the_50_digit_reference(loss, reduction):
    """float64 E and dE/dw of every backend within 2e-15 of the 50-digit values, relative to
    the gradient's largest entry (a component near 0 is measured at the gradient's scale:
    its own relative error is unbounded under cancellation); the complex-step reference of
    the gradient check agrees as well."""
    net, w, data = _case(loss, reduction)
    E_ref, g_ref = _mp_reference(net, w, data)
    scale = np.abs(g_ref).max()
    for name in BACKENDS:
        b = get_network_backend(name)
        E, g = b.forward(net, w, data).E, b.gradients(net, w, data).w
        assert_close(E, E_ref, rtol=2e-15, what=f"{name} E")
        assert_close(g, g_ref, rtol=2e-15, atol=2e-15 * scale, what=f"{name} dE/dw")
        worst = float(np.abs(g - g_ref).max() / scale)
        WORST[(loss, reduction)] = max(WORST.get((loss, reduction), 0.0), worst)
        print(f"{loss} ({reduction}) {name}: worst |dE/dw - 50 digits| / max|dE/dw| = "
              f"{worst:.2e}, E relative {abs(float(E) - E_ref) / abs(E_ref):.2e}")
    gc = network_check.gradient_check([get_network_backend(n) for n in BACKENDS], net, w, data)
    assert gc.ok, gc.first_failure
    rows = {r.quantity: r for r in gc.rows}
    # the node rows follow the loss: nll has dE/da_L (= -c·t), bce has none (from the logits)
    assert ("dE/da2[0] (example 1)" in rows) == (loss == "nll")
    if loss == "nll":
        c = network.reduction_scale(net, B)
        assert_close(rows["dE/da2[0] (example 1)"].complex_step, -c * data.targets[0, 0],
                     rtol=EPS64, atol=EPS64)


# --- the framework's own classes on the same data --------------------------------------------
def _torch_model(net, w, last: nn.Module | None) -> nn.Sequential:
    lays = network.layout(net)
    mods: list[nn.Module] = []
    for l, lay in enumerate(lays):
        n_out, n_in = lay.W_shape
        lin = nn.Linear(n_in, n_out, dtype=torch.float64)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(w[lay.W].reshape(lay.W_shape)))
            lin.bias.copy_(torch.from_numpy(w[lay.b]))
        mods += [lin] if l == len(lays) - 1 else [lin, nn.Tanh()]
    return nn.Sequential(*mods, *([last] if last is not None else []))


CLASSES = [  # torch class, the last module before it, the targets it takes
    ("BCEWithLogitsLoss", None, "probabilities"),
    ("BCELoss", nn.Sigmoid(), "probabilities"),
    ("NLLLoss", nn.LogSoftmax(dim=1), "indices"),
]


@pytest.mark.parametrize("reduction", ["sum", "mean"])
@pytest.mark.parametrize("cls, last, targets", CLASSES)
def test_against_the_frameworks_own_loss_class(cls, last, targets, reduction):
    """The tool's E and dE/dw equal torch's own class's under autograd (reduction's meaning
    included: BCE's mean over B·n_L elements, NLL's over B examples). 8 eps: the two sum the
    same terms in another order; BCELoss takes log σ and log(1 - σ) of the probabilities."""
    loss = "nll" if cls == "NLLLoss" else "bce"
    net, w, data = _case(loss, reduction)
    model = _torch_model(net, w, last)
    x = torch.from_numpy(data.inputs)
    t = torch.from_numpy(data.targets.argmax(1)) if targets == "indices" else \
        torch.from_numpy(data.targets)
    E_t = getattr(nn, cls)(reduction=reduction)(model(x), t)
    E_t.backward()
    g_t = torch.cat([p.grad.reshape(-1) for p in model.parameters()]).numpy()
    for name in BACKENDS:
        b = get_network_backend(name)
        assert_close(b.forward(net, w, data).E, E_t.item(), rtol=8 * EPS64, what=f"{name} E")
        assert_close(b.gradients(net, w, data).w, g_t, rtol=8 * EPS64,
                     atol=8 * EPS64 * np.abs(g_t).max(), what=f"{name} dE/dw vs nn.{cls}")


def test_bce_is_stable_at_large_logits():
    """|z| = 800: e^800 overflows float64, the logits form does not. loss = softplus(z) - t·z
    is 800, 800, 0, 0 exactly (1600), dE/dz = σ(z) - t is 1, -1, 0, 0 exactly (σ(800) rounds to
    1, σ(-800) to 0), in every backend and in the complex-step reference."""
    net = network.make_network((1, 4), "sigmoid", loss="bce")
    w = np.array([800.0, -800.0, 800.0, -800.0])
    data = network.data(net, [[1.0]], [[0.0, 1.0, 1.0, 0.0]])
    for name in BACKENDS:
        b = get_network_backend(name)
        f, g = b.forward(net, w, data), b.gradients(net, w, data)
        assert np.isfinite(f.E) and np.all(np.isfinite(g.w)), name
        assert_close(f.losses, [1600.0], rtol=0, what=f"{name} loss")
        assert_close(g.w, [1.0, -1.0, 0.0, 0.0], rtol=0, what=f"{name} dE/dw")
        assert g.a[-1] is None  # bce is taken from the logits: no dE/da_L node
    gc = network_check.gradient_check([get_network_backend(n) for n in BACKENDS], net, w, data)
    assert gc.ok, gc.first_failure


# --- check_model with the user's loss objects -------------------------------------------------
def _trained_classifier(loss_object, targets, last=None, steps=40):
    torch.manual_seed(3)
    model = nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 3),
                          *([last] if last is not None else [])).double()
    x = torch.randn(12, 4, dtype=torch.float64)
    opt = torch.optim.SGD(model.parameters(), lr=0.3)
    for _ in range(steps):
        opt.zero_grad()
        loss_object(model(x), targets).backward()
        opt.step()
    return model, x


CLASS_INDICES = torch.tensor([0, 2, 1, 1, 0, 2, 2, 1, 0, 0, 1, 2])


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_check_model_trained_with_cross_entropy_and_class_indices(reduction):
    loss = nn.CrossEntropyLoss(reduction=reduction)
    model, x = _trained_classifier(loss, CLASS_INDICES)
    r = check_model(model, x, CLASS_INDICES, loss=loss, lr=0.1, steps=10)
    assert r.ok, r.first_divergence
    assert r.network.loss == "cross-entropy" and r.network.reduction == reduction
    assert "model" in r.gradcheck.largest  # the user's own forward and loss object were run


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_check_model_with_nll_loss_and_class_indices(reduction):
    loss = nn.NLLLoss(reduction=reduction)
    model, x = _trained_classifier(loss, CLASS_INDICES, nn.LogSoftmax(dim=1))
    r = check_model(model, x, CLASS_INDICES, loss=loss, lr=0.1, steps=10)
    assert r.ok, r.first_divergence
    assert r.network.activations[-1] == "log-softmax" and r.network.loss == "nll"
    assert "model" in r.gradcheck.largest
    # by name, with one-hot targets: the same network and the same verdict
    one_hot = np.eye(3)[CLASS_INDICES.numpy()]
    assert check_model(model, x, one_hot, loss="nll", reduction=reduction, steps=5).ok


@pytest.mark.parametrize("loss, last", [(nn.BCEWithLogitsLoss(), None),
                                        (nn.BCELoss(reduction="sum"), nn.Sigmoid())])
def test_check_model_with_bce_loss_objects(loss, last):
    torch.manual_seed(4)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2),
                          *([last] if last is not None else [])).double()
    x = torch.randn(8, 3, dtype=torch.float64)
    t = (torch.rand(8, 2, dtype=torch.float64) > 0.5).double()
    r = check_model(model, x, t, loss=loss, lr=0.2, steps=10)
    assert r.ok, r.first_divergence
    assert r.network.activations[-1] == "sigmoid" and r.network.loss == "bce"
    assert r.network.reduction == loss.reduction


def test_check_model_binary_bce_takes_targets_of_shape_b():
    torch.manual_seed(5)
    model = nn.Sequential(nn.Linear(3, 1)).double()
    x = torch.randn(6, 3, dtype=torch.float64)
    r = check_model(model, x, torch.tensor([1.0, 0, 1, 1, 0, 0]), loss=nn.BCEWithLogitsLoss(),
                    steps=5)
    assert r.ok and r.data.targets.shape == (6, 1)


def test_sigmoid_twice_is_named():
    torch.manual_seed(4)
    model = nn.Sequential(nn.Linear(3, 2), nn.Sigmoid()).double()
    x = torch.randn(5, 3, dtype=torch.float64)
    r = check_model(model, x, torch.ones(5, 2, dtype=torch.float64),
                    loss=nn.BCEWithLogitsLoss(), steps=2)
    assert not r.ok and "sigmoid twice" in r.notes[0]


@pytest.mark.parametrize("loss, says", [
    (nn.BCEWithLogitsLoss(pos_weight=torch.tensor([2.0, 1.0])), "pos_weight=tensor([2., 1.])"),
    (nn.BCEWithLogitsLoss(weight=torch.tensor([2.0, 1.0])), "weight="),
    (nn.BCELoss(weight=torch.tensor([2.0, 1.0])), "BCELoss(weight="),
    (nn.NLLLoss(weight=torch.ones(2)), "NLLLoss(weight="),
    (nn.NLLLoss(ignore_index=1), "NLLLoss(ignore_index=1)"),
    (nn.CrossEntropyLoss(label_smoothing=0.1), "CrossEntropyLoss(label_smoothing=0.1)"),
    (nn.CrossEntropyLoss(ignore_index=0), "CrossEntropyLoss(ignore_index=0)"),
    (nn.BCELoss(reduction="none"), "expected reduction 'sum' or 'mean'"),
])
def test_unsupported_loss_settings_are_one_line(loss, says):
    model = nn.Sequential(nn.Linear(3, 2)).double()
    with pytest.raises(InputError) as err:
        check_model(model, np.zeros((2, 3)), np.zeros((2, 2)), loss=loss)
    assert says in str(err.value) and "\n" not in str(err.value)


def test_refusals_of_the_pairings():
    x, t = np.zeros((2, 3)), np.eye(2)
    with pytest.raises(InputError, match="nn.BCELoss takes probabilities"):
        check_model(nn.Sequential(nn.Linear(3, 2)).double(), x, t, loss=nn.BCELoss())
    with pytest.raises(InputError, match=r"NLLLoss takes class indices, but target row 1 is "
                       r"\[0.5, 0.5\]"):
        check_model(nn.Sequential(nn.Linear(3, 2), nn.LogSoftmax(dim=1)).double(), x,
                    [[0.5, 0.5], [0.0, 1.0]], loss=nn.NLLLoss())
    for acts, loss, says in ((("tanh", "relu"), "bce", "bce needs a sigmoid last layer"),
                             (("tanh", "softmax"), "nll", "softmax needs the cross-entropy"),
                             (("tanh", "sigmoid"), "nll", "nll needs a log-softmax last"),
                             (("log-softmax", "tanh"), "half-sse", "log-softmax is supported "
                              "on the last layer only")):
        with pytest.raises(InputError, match=says):
            network.make_network((3, 4, 2), acts, loss=loss)
    with pytest.raises(InputError, match="a log-softmax layer needs at least 2 outputs"):
        network.make_network((3, 1), "log-softmax", loss="nll")


def test_cli_runs_the_new_losses_and_refuses_a_bad_pairing(tmp_path, capsys):
    csv = tmp_path / "d.csv"
    csv.write_text("x1,x2,t1,t2\n0.1,0.2,1,0\n0.5,-0.1,0,1\n-0.4,0.3,1,1\n")
    args = ["--layers", "2,3,2", "--bias", "trainable", "--data", str(csv), "--lrs", "0.5",
            "--steps", "5", "--no-plots", "--out", str(tmp_path / "r")]
    assert main([*args, "--activations", "tanh,sigmoid", "--loss", "bce", "--reduction",
                 "mean"]) == 0
    assert "OK: every backend agrees" in capsys.readouterr().out
    csv.write_text("x1,x2,t1,t2\n0.1,0.2,1,0\n0.5,-0.1,0,1\n-0.4,0.3,1,0\n")
    assert main([*args, "--activations", "tanh,log-softmax", "--loss", "nll", "--optimizer",
                 "adam", "--force"]) == 0
    assert "OK: every backend agrees" in capsys.readouterr().out
    assert main([*args, "--activations", "tanh,tanh", "--loss", "bce", "--force"]) == 2
    err = capsys.readouterr().err
    assert "bce needs a sigmoid last layer" in err and err.count("\n") == 1


# --- scikit-learn's binary MLPClassifier: its own backpropagation -----------------------------
def _sklearn_classifier():
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    rng = np.random.default_rng(11)
    X = rng.normal(size=(20, 3))
    y = (X[:, 0] + 0.5 * X[:, 1] - X[:, 2] > 0).astype(int)
    clf = MLPClassifier(hidden_layer_sizes=(4,), activation="logistic", alpha=0.0,
                        solver="sgd", learning_rate_init=0.2, max_iter=5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # fitted briefly on purpose
        clf.fit(X, y)
    return clf, X, clf._label_binarizer.transform(y).astype(np.float64)  # (n, 1) of 0/1


def _sklearn_gradient(clf, X, Y):
    """sklearn's loss and gradient at its current weights (`MLPClassifier._backprop`), in the
    tool's parameter order (W_l as (out, in) = sklearn's coefs_ᵀ, then b_l)."""
    n = clf.n_layers_
    acts, deltas = [X] + [None] * (n - 1), [None] * (n - 1)
    cg = [np.empty_like(c) for c in clf.coefs_]
    ig = [np.empty_like(b) for b in clf.intercepts_]
    loss, cg, ig = clf._backprop(X, Y, None, acts, deltas, cg, ig)
    return loss, np.concatenate([v for c, b in zip(cg, ig) for v in (c.T.ravel(), b)])


def _tool_network(clf):
    """sklearn's binary logistic MLP as the tool's network: sigmoid hidden and output, bce,
    mean. sklearn divides by n_samples only; with one output that is PyTorch's mean over
    B·n_L. (alpha > 0, its alpha/(2n)·Σ‖W‖² on weights only, is not covered here.)"""
    sizes = (clf.coefs_[0].shape[0], *(c.shape[1] for c in clf.coefs_))
    net = network.make_network(sizes, "sigmoid", "trainable", loss="bce", reduction="mean")
    w = np.concatenate([v for c, b in zip(clf.coefs_, clf.intercepts_)
                        for v in (c.T.ravel(), b)])
    return net, w


def test_sklearn_binary_mlpclassifier_gradient_reproduced():
    clf, X, Y = _sklearn_classifier()
    assert clf.out_activation_ == "logistic" and Y.shape == (20, 1)
    net, w = _tool_network(clf)
    data = network.data(net, X, Y)
    loss, g_sk = _sklearn_gradient(clf, X, Y)
    for name in BACKENDS:
        b = get_network_backend(name)
        E, g = b.forward(net, w, data).E, b.gradients(net, w, data).w
        worst = float(np.abs(g - g_sk).max() / np.abs(g_sk).max())
        print(f"sklearn MLPClassifier vs {name}: worst relative error {worst:.2e}, E "
              f"{abs(float(E) - loss) / loss:.2e}")
        assert_close(E, loss, rtol=1e-14, what=f"{name} E vs sklearn's log-loss")
        assert_close(g, g_sk, rtol=1e-14, atol=1e-14 * np.abs(g_sk).max(),
                     what=f"{name} dE/dw vs sklearn's _backprop")


def test_sklearn_backprop_as_a_backend_passes_the_tools_checks():
    """sklearn's own backprop, given as the user's backward, through the gradient check and the
    trajectory check beside manual, torch and jax."""
    clf, X, Y = _sklearn_classifier()
    net, w0 = _tool_network(clf)

    def sklearn_backprop(net, w, data):
        at = 0
        for i, (c, b) in enumerate(zip(clf.coefs_, clf.intercepts_)):
            clf.coefs_[i] = w[at:at + c.size].reshape(c.T.shape).T.copy()
            at += c.size
            clf.intercepts_[i] = w[at:at + b.size].copy()
            at += b.size
        return _sklearn_gradient(clf, data.inputs, data.targets)

    r = check_gradients(sklearn_backprop, net, weights=w0, inputs=X, targets=Y, lrs=0.5,
                        steps=10)
    assert r.ok, r.first_divergence
