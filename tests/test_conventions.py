"""Reductions, example (sample) weights, L2 and weight decay with or without the biases
(docs/conventions.md): against a 50-digit reference written here, against the frameworks' own
mechanisms (torch.optim parameter groups, optax masks, nn.CrossEntropyLoss class weights),
against scikit-learn's MLPRegressor, and the docs' table recomputed from its options column.
"""

from __future__ import annotations

import argparse
import re
import shlex
import warnings
from functools import cache
from pathlib import Path

import mpmath as mp
import numpy as np
import pytest

from autograd_compare import check_model, network, optimizers, registry
from autograd_compare.commands import options, run
from autograd_compare.errors import InputError
from autograd_compare.harness import network_check, optim_check
from autograd_compare.jax_impl.precision import precision
from autograd_compare.usermodel import describe_model
from tests.cli_helpers import NET, XOR, one_line

ROOT = Path(__file__).resolve().parents[1]
BACKENDS = ("manual", "torch", "jax")
F64 = np.dtype(np.float64)


# --- a 50-digit reference: the objective written out in mpmath, differentiated by mp.diff ---
def mp_objective(net: network.Network, w, x, t, s, lam):
    """E = c·Σ_b s_b·loss_b + ½·Σ_j λ_j·w_j² in mpmath (``lam``: λ·m per parameter)."""
    f = {"tanh": mp.tanh, "sigmoid": lambda z: 1 / (1 + mp.exp(-z)), "identity": lambda z: z}
    B = len(x)
    weights = [mp.mpf(1)] * B if s is None else [mp.mpf(float(v)) for v in s]
    total = sum(weights)
    n_out = net.sizes[-1]
    if net.reduction == "sum":
        c = mp.mpf(1)
    elif net.reduction == "mean" and net.loss not in ("cross-entropy", "nll"):
        c = 1 / (total * n_out)
    else:
        c = 1 / total
    E = mp.mpf(0)
    for b in range(B):
        a = [mp.mpf(float(v)) for v in x[b]]
        z: list = []
        for lay, act in zip(network.layout(net), net.activations, strict=True):
            rows, cols = lay.W_shape
            z = [sum(w[lay.W.start + j * cols + k] * a[k] for k in range(cols))
                 + (w[lay.b.start + j] if lay.b is not None else 0) for j in range(rows)]
            if act == "log-softmax":
                top = max(z)
                a = [v - top - mp.log(sum(mp.exp(u - top) for u in z)) for v in z]
            else:
                a = z if act == "softmax" else [f[act](v) for v in z]
        tb = [mp.mpf(float(v)) for v in t[b]]
        if net.loss == "cross-entropy":
            top = max(z)
            log_sum = top + mp.log(sum(mp.exp(v - top) for v in z))
            loss = -sum(tj * (zj - log_sum) for tj, zj in zip(tb, z, strict=True))
        elif net.loss == "nll":  # a: the log-probabilities
            loss = -sum(tj * aj for tj, aj in zip(tb, a, strict=True))
        elif net.loss == "bce":  # a = σ(z), written from the definition
            loss = -sum(tj * mp.log(aj) + (1 - tj) * mp.log(1 - aj)
                        for tj, aj in zip(tb, a, strict=True))
        else:
            k = mp.mpf(1) / 2 if net.loss == "half-sse" else mp.mpf(1)
            loss = k * sum((tj - aj) ** 2 for tj, aj in zip(tb, a, strict=True))
        E += weights[b] * loss
    return c * E + sum(mp.mpf(float(lj)) * wj * wj for lj, wj in zip(lam, w, strict=True)) / 2


def mp_gradient(net, w, x, t, s, lam) -> np.ndarray:
    with mp.workdps(50):
        W = [mp.mpf(float(v)) for v in w]

        def along(j):
            return lambda v: mp_objective(net, W[:j] + [v] + W[j + 1:], x, t, s, lam)

        return np.array([float(mp.diff(along(j), W[j])) for j in range(len(W))])


def random_case(loss: str, reduction: str, weighted: bool, seed: int = 7):
    rng = np.random.default_rng(seed)
    acts = ("tanh", {"cross-entropy": "softmax", "nll": "log-softmax"}.get(loss, "sigmoid"))
    net = network.make_network((3, 4, 2), acts, "trainable", loss=loss, reduction=reduction)
    w = rng.uniform(-1, 1, network.n_params(net))
    x = rng.normal(size=(5, 3))
    t = rng.uniform(size=(5, 2))
    if loss in ("cross-entropy", "nll"):
        t = t / t.sum(axis=1, keepdims=True)
    s = rng.uniform(0.1, 2.0, 5) if weighted else None
    return net, w, network.data(net, x, t, weights=s)


REGULARISATION = [{}, {"l2": 0.3}, {"l2": 0.3, "decay_biases": True}]
CASES = [(loss, red, weighted, reg) for loss in ("half-sse", "cross-entropy")
         for red in network.REDUCTIONS for weighted in (False, True)
         for reg in (REGULARISATION if (red, weighted) in (("mean-examples", True), ("sum", False))
                     else [{}])]
CASES += [(loss, red, True, {}) for loss in ("bce", "nll") for red in network.REDUCTIONS]


@pytest.mark.parametrize(("loss", "reduction", "weighted", "reg"), CASES)
def test_every_backend_matches_the_50_digit_reference(loss, reduction, weighted, reg):
    """The gradient each backend trains with (its own l2 term: autograd in torch and jax, by
    hand in manual) against mpmath's, and the gradient check (complex step) passes too."""
    net, w, data = random_case(loss, reduction, weighted)
    opt = optimizers.make("sgd", lr=0.1, **reg)
    lam = np.zeros(w.size) if not opt.l2 else network_check.l2_factors(net, opt)
    ref = mp_gradient(net, w, data.inputs, data.targets, data.weights, lam)
    for name in BACKENDS:
        g = optim_check.train(name, net, w, data, opt, 1).grads[0]
        assert np.abs(g - ref).max() <= 2e-15 * np.abs(ref).max(), name
    check = network_check.gradient_check(
        [registry.get_network_backend(n, F64) for n in BACKENDS], net, w, data, opt)
    assert check.ok, check.first_failure
    rows = {r.quantity: r.complex_step for r in check.rows}
    cs = np.array([rows[f"dE/d{n}"] for n in network.param_names(net)])
    assert np.abs(cs - ref).max() <= 2e-15 * np.abs(ref).max()  # the complex step's E too


def test_the_gradient_check_includes_l2_and_fails_without_it():
    """The reference differentiates E + λ/2·Σ‖W‖²: a backend whose gradient lacks λ·W fails
    the check at a weight, not at a bias (the default leaves the biases out)."""
    net, w, data = random_case("half-sse", "mean-examples", True)
    opt = optimizers.make("sgd", l2=0.3)
    plain = registry.get_network_backend("manual", F64)
    wrong = plain._replace(name="wrong", gradients=lambda n, v, d: (
        lambda g: g._replace(w=g.w - optimizers.penalty_gradient(opt, n, v)))(
            plain.gradients(n, v, d)))
    check = network_check.gradient_check([plain, wrong], net, w, data, opt)
    assert not check.ok and check.first_failure["backend"] == "wrong"
    assert "/dW" in check.first_failure["quantity"]
    bias_rows = [r for r in check.rows if "/db" in r.quantity]
    assert bias_rows and all(r.errors["wrong"] <= r.tolerance for r in bias_rows)


def test_reduction_scale_closed_forms():
    net = network.make_network((2, 3), "sigmoid", loss="mse", reduction="mean")
    assert network.reduction_scale(net, 4) == 1 / 12
    assert network.reduction_scale(net, 4, [1, 2, 0.5, 0.5]) == 1 / 12  # S = 4 too
    assert network.reduction_scale(net._replace(reduction="mean-examples"), 4) == 1 / 4
    assert network.reduction_scale(net._replace(reduction="mean-examples"), 4,
                                   [1, 2, 3, 4]) == 1 / 10
    assert network.reduction_scale(net._replace(reduction="sum"), 4, [1, 2, 3, 4]) == 1.0


def test_weights_of_one_are_no_weights():
    net, w, data = random_case("half-sse", "mean", False)
    ones = data._replace(weights=np.ones(5))
    for name in BACKENDS:
        b = registry.get_network_backend(name, F64)
        np.testing.assert_allclose(b.gradients(net, w, ones).w, b.gradients(net, w, data).w,
                                   rtol=1e-15, atol=1e-17)


def test_l2_defaults_to_weights_only_and_weight_decay_to_everything():
    net, w, data = random_case("half-sse", "sum", False)
    mask = optimizers.decay_mask(net, False)
    biases = np.concatenate([np.arange(lay.b.start, lay.b.stop) for lay in network.layout(net)])
    assert mask[biases].sum() == 0 and mask.sum() == w.size - biases.size
    plain = optim_check.train("manual", net, w, data, optimizers.make("sgd", lr=0.5), 1)
    l2 = optim_check.train("manual", net, w, data, optimizers.make("sgd", lr=0.5, l2=0.2), 1)
    wd = optim_check.train("manual", net, w, data,
                           optimizers.make("sgd", lr=0.5, weight_decay=0.2), 1)
    assert np.array_equal(l2.grads[0][biases], plain.grads[0][biases])
    np.testing.assert_allclose(l2.grads[0] - plain.grads[0], 0.2 * mask * w, atol=1e-16)
    np.testing.assert_allclose(wd.weights[1] - plain.weights[1], -0.5 * 0.2 * w, atol=1e-16)


# --- the frameworks' own mechanisms ----------------------------------------------------------
def _torch_model(net, w):
    import torch

    layers = []
    for lay, f in zip(network.layout(net), net.activations, strict=True):
        lin = torch.nn.Linear(lay.W_shape[1], lay.W_shape[0], dtype=torch.float64)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(w[lay.W].reshape(lay.W_shape)))
            lin.bias.copy_(torch.from_numpy(w[lay.b]))
        layers += [lin, {"tanh": torch.nn.Tanh(), "sigmoid": torch.nn.Sigmoid()}[f]]
    return torch.nn.Sequential(*layers)


@pytest.mark.parametrize("kind", ["sgd", "momentum", "adam", "adamw"])
def test_torch_parameter_groups_and_optax_masks(kind):
    """decay_biases=False is, in torch.optim, a second parameter group with weight_decay=0
    and, in optax, add_decayed_weights / adamw with a mask pytree: written here by hand as a
    user would, and every backend trains to the same weights."""
    import jax
    import jax.numpy as jnp
    import optax
    import torch

    net, w, data = random_case("half-sse", "mean-examples", True)
    opt = optimizers.make(kind, lr=0.1, weight_decay=0.2, decay_biases=False)
    steps = 4
    # torch, by hand
    model = _torch_model(net, w)
    decay = [p for n, p in model.named_parameters() if n.endswith("weight")]
    keep = [p for n, p in model.named_parameters() if n.endswith("bias")]
    groups = [{"params": decay}, {"params": keep, "weight_decay": 0.0}]
    cls = {"sgd": torch.optim.SGD, "momentum": torch.optim.SGD, "adam": torch.optim.Adam,
           "adamw": torch.optim.AdamW}[kind]
    extra = {"momentum": 0.9} if kind == "momentum" else {}
    optimizer = cls(groups, lr=0.1, weight_decay=0.2, **extra)
    x, t = torch.from_numpy(data.inputs), torch.from_numpy(data.targets)
    s = torch.from_numpy(data.weights)
    for _ in range(steps):
        optimizer.zero_grad()
        E = (s * 0.5 * ((t - model(x)) ** 2).sum(1)).sum() / s.sum()
        E.backward()
        optimizer.step()
    by_hand = torch.cat([p.detach().reshape(-1) for p in model.parameters()]).numpy()
    # optax, by hand, on a dict pytree {"W1": ..., "b1": ...}
    lays = network.layout(net)
    names = [(f"{k}{l}", sl) for l, lay in enumerate(lays, 1) for k, sl in (("W", lay.W),
                                                                            ("b", lay.b))]
    mask = {k: k.startswith("W") for k, _ in names}
    tx = {"sgd": optax.chain(optax.add_decayed_weights(0.2, mask), optax.sgd(0.1)),
          "momentum": optax.chain(optax.add_decayed_weights(0.2, mask),
                                  optax.sgd(0.1, momentum=0.9)),
          "adam": optax.chain(optax.add_decayed_weights(0.2, mask), optax.adam(0.1)),
          "adamw": optax.adamw(0.1, weight_decay=0.2, mask=mask)}[kind]

    def flat(p):
        return jnp.concatenate([p[k] for l in range(1, len(lays) + 1) for k in (f"W{l}",
                                                                                f"b{l}")])

    def E_jax(p):
        from autograd_compare.jax_impl import mlp

        return mlp.loss(net, flat(p), data.inputs, data.targets, data.weights)

    with precision(F64):
        params = {k: jnp.asarray(w[sl]) for k, sl in names}
        state = tx.init(params)
        for _ in range(steps):
            updates, state = tx.update(jax.grad(E_jax)(params), state, params)
            params = optax.apply_updates(params, updates)
        by_optax = np.asarray(flat(params))
    ours = {name: optim_check.train(name, net, w, data, opt, steps).weights[-1]
            for name in BACKENDS}
    scale = np.abs(w).max()
    for name, got in ours.items():
        assert np.abs(got - by_hand).max() <= 1e-15 * scale, (name, "torch.optim groups")
        assert np.abs(got - by_optax).max() <= 1e-15 * scale, (name, "optax mask")
    assert np.abs(by_hand - optim_check.train("manual", net, w, data, opt._replace(
        decay_biases=None), steps).weights[-1]).max() > 1e-6  # the mask matters here
    batch = {name: optim_check.train_batch(name, net, w[None], np.array([0.1]), data, opt,
                                           steps).final_weights[0] for name in BACKENDS}
    for name, got in batch.items():
        assert np.abs(got - by_hand).max() <= 1e-15 * scale, (name, "batched")


def test_class_weights_of_cross_entropy_are_example_weights():
    """nn.CrossEntropyLoss(weight=w) with reduction mean divides by Σ_b w[y_b]: the tool's
    weighted mean with s_b = w[y_b]."""
    import torch

    rng = np.random.default_rng(3)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(),
                                torch.nn.Linear(4, 3)).double()
    x, y = rng.normal(size=(6, 3)), np.array([0, 2, 1, 2, 2, 0])
    cw = np.array([1.0, 3.0, 0.25])
    out = model(torch.from_numpy(x))
    E = torch.nn.CrossEntropyLoss(weight=torch.from_numpy(cw))(out, torch.from_numpy(y))
    E.backward()
    theirs = torch.cat([p.grad.reshape(-1) for p in model.parameters()]).numpy()
    net, w = describe_model(model, "cross-entropy", "mean")
    data = network.data(net, x, np.eye(3)[y], weights=cw[y])
    for name in BACKENDS:
        b = registry.get_network_backend(name, F64)
        assert abs(float(b.forward(net, w, data).E) - E.item()) <= 4e-16 * E.item()
        assert np.abs(b.gradients(net, w, data).w - theirs).max() <= 2e-15 * np.abs(
            theirs).max(), name
    r = check_model(model, x, y, loss="cross-entropy", reduction="mean", sample_weight=cw[y],
                    steps=2)
    assert r.ok, r.first_divergence


# --- scikit-learn ----------------------------------------------------------------------------
def sklearn_params(est) -> np.ndarray:
    """A fitted MLP's coefs_ (in, out) and intercepts_ as the flat vector (W_l (out, in)
    row-major, b_l, ...): the tool's order."""
    return np.concatenate([p for W, b in zip(est.coefs_, est.intercepts_, strict=True)
                           for p in (W.T.ravel(), b)])


def sklearn_gradient(est, X, Y, sample_weight=None) -> tuple[float, np.ndarray]:
    """(loss, gradient) of scikit-learn's own `_loss_grad_lbfgs` at the fitted parameters,
    the gradient in the tool's order (`sklearn_params`); ``Y`` (n, n_outputs)."""
    from sklearn.neural_network._multilayer_perceptron import _pack

    units = [X.shape[1], *np.atleast_1d(est.hidden_layer_sizes), Y.shape[1]]
    acts = [X] + [None] * (len(units) - 1)
    deltas = [None] * (len(units) - 1)
    coef_grads = [np.empty((a, b)) for a, b in zip(units[:-1], units[1:], strict=True)]
    intercept_grads = [np.empty(b) for b in units[1:]]
    loss, _ = est._loss_grad_lbfgs(_pack(est.coefs_, est.intercepts_), X, Y, sample_weight,
                                   acts, deltas, coef_grads, intercept_grads)
    return loss, np.concatenate([p for W, b in zip(coef_grads, intercept_grads, strict=True)
                                 for p in (W.T.ravel(), b)])


def sklearn_optimizer(alpha: float, n_or_weights) -> optimizers.Optimizer:
    """scikit-learn's alpha as the tool's settings: l2 = alpha/n (n: the examples, or the
    total of the sample weights), weights only (with reduction "mean-examples")."""
    total = float(np.sum(n_or_weights)) if np.ndim(n_or_weights) else float(n_or_weights)
    return optimizers.make("sgd", lr=0.1, l2=optimizers.sklearn_l2(alpha, total),
                           decay_biases=False)


@pytest.mark.parametrize("activation", ["tanh", "logistic"])
@pytest.mark.parametrize("weighted", [False, True])
def test_sklearn_mlpregressor_gradient_with_alpha(activation, weighted):
    from sklearn.neural_network import MLPRegressor

    rng = np.random.default_rng(11)
    X, y = rng.normal(size=(9, 3)), rng.normal(size=9)
    sw = rng.uniform(0.2, 2.0, 9) if weighted else None
    est = MLPRegressor(hidden_layer_sizes=(4,), activation=activation, alpha=0.7,
                       solver="lbfgs", max_iter=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 3 iterations: "not converged" on purpose
        est.fit(X, y, sample_weight=sw)
    loss, theirs = sklearn_gradient(est, X, y.reshape(-1, 1), sw)
    net = network.make_network((3, 4, 1), ("tanh" if activation == "tanh" else "sigmoid",
                                           "identity"), "trainable",
                               reduction="mean-examples")
    w = sklearn_params(est)
    data = network.data(net, X, y.reshape(-1, 1), weights=sw)
    opt = sklearn_optimizer(0.7, 9 if sw is None else sw)
    for name in BACKENDS:
        run_ = optim_check.train(name, net, w, data, opt, 1)
        assert np.abs(run_.grads[0] - theirs).max() <= 1e-14 * np.abs(theirs).max(), name
        penalty = 0.5 * float((network_check.l2_factors(net, opt) * w * w).sum())
        assert abs(float(run_.loss[0]) + penalty - loss) <= 1e-14 * loss
    sweep = optim_check.sweep("sklearn", opt, list(BACKENDS), net, w, data, (0.1,), 2)
    assert sweep.ok, sweep.first_divergence


@pytest.mark.parametrize("outputs", [1, 2])  # binary, and multilabel (two logistic outputs)
@pytest.mark.parametrize("weighted", [False, True])
def test_sklearn_mlpclassifier_gradient_with_alpha(outputs, weighted):
    """A logistic MLPClassifier with alpha > 0: its log-loss gradient (alpha/(2n)·Σ‖W‖² on
    the weights only, divided by n, or by Σ s_b with sample weights, per output) is the tool's
    bce with mean-examples, l2 = alpha/n and the biases left out."""
    from sklearn.neural_network import MLPClassifier

    rng = np.random.default_rng(5)
    X = rng.normal(size=(12, 3))
    y = (X[:, :outputs] + 0.3 * X[:, 2:3] > 0).astype(int)
    y = y[:, 0] if outputs == 1 else y
    sw = rng.uniform(0.2, 2.0, 12) if weighted else None
    clf = MLPClassifier(hidden_layer_sizes=(4,), activation="logistic", alpha=0.5,
                        solver="lbfgs", max_iter=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 3 iterations: "not converged" on purpose
        clf.fit(X, y, sample_weight=sw)
    assert clf.out_activation_ == "logistic"
    Y = y.reshape(-1, 1).astype(float) if outputs == 1 else y.astype(float)
    loss, theirs = sklearn_gradient(clf, X, Y, sw)
    net = network.make_network((3, 4, outputs), "sigmoid", "trainable", loss="bce",
                               reduction="mean-examples")
    w = sklearn_params(clf)
    data = network.data(net, X, Y, weights=sw)
    opt = sklearn_optimizer(0.5, 12 if sw is None else sw)
    for name in BACKENDS:
        run_ = optim_check.train(name, net, w, data, opt, 1)
        assert np.abs(run_.grads[0] - theirs).max() <= 1e-14 * np.abs(theirs).max(), name
        penalty = 0.5 * float((network_check.l2_factors(net, opt) * w * w).sum())
        assert abs(float(run_.loss[0]) + penalty - loss) <= 1e-14 * loss, name
    sweep = optim_check.sweep("sklearn", opt, list(BACKENDS), net, w, data, (0.1,), 2)
    assert sweep.ok, sweep.first_divergence


# --- bad values ------------------------------------------------------------------------------
@pytest.mark.parametrize(("argv", "fragment"), [
    (["--decay-biases", "maybe", "--l2", "0.1"], "--decay-biases must be yes or no; got 'maybe'"),
    (["--decay-biases", "no"], "decay_biases applies to l2 and weight decay"),
    (["--example-weights", "1,2,3", "--l2", "0.1"], "one per example needed (4); got 3"),
    (["--example-weights", "1,-2,0,1"], "must be finite and >= 0; got -2.0"),
    (["--example-weights", "1,nan,0,1"], "must be finite and >= 0; got nan"),
    (["--example-weights", "0,0,0,0"], "all 0"),
])
def test_bad_values_are_one_line(argv, fragment, capsys, tmp_path):
    data = tmp_path / "xor.csv"
    data.write_text(XOR)
    one_line([*NET, "--bias", "trainable", "--data", str(data), *argv], capsys, fragment)


@pytest.mark.parametrize(("kwargs", "fragment"), [
    ({"decay_biases": "maybe", "l2": 0.1}, "decay_biases must be yes or no"),
    ({"sample_weight": [1, 2]}, "one per example needed (4); got 2"),
    ({"sample_weight": [1, 1, -1, 1]}, "finite and >= 0; got -1.0"),
    ({"sample_weight": [1, float("nan"), 1, 1]}, "finite and >= 0; got nan"),
])
def test_check_model_bad_values(kwargs, fragment):
    import torch

    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Tanh(),
                                torch.nn.Linear(2, 1)).double()
    x, t = np.zeros((4, 2)), np.zeros((4, 1))
    with pytest.raises(InputError, match=re.escape(fragment)):
        check_model(model, x, t, **kwargs)
    with pytest.raises(InputError, match="sample_weight= needs the loss by name"):
        check_model(model, x, t, loss=torch.nn.MSELoss(), sample_weight=[1, 1, 1, 1])


# --- docs/conventions.md: its table, recomputed from the options column ---------------------
PAGE = ROOT / "docs" / "conventions.md"
X = [[1.0, 2.0], [0.5, -1.0], [-1.0, 0.5]]
T = [[0.5, -0.5, 0.0], [1.0, 0.0, 0.5], [0.0, 1.0, -1.0]]
W = np.array([0.1, -0.2, 0.3, 0.4, 0.05, -0.05, 0.5, -0.6, 0.7, 0.2, -0.3, 0.8, 0.1, 0.2, 0.0])


def table_rows() -> list[tuple[str, list[str]]]:
    """(options, the four numbers as printed) of every row of the page's table."""
    rows = []
    for line in PAGE.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 6 and cells[1].startswith("`--"):
            rows.append((cells[1].strip("`"), cells[2:]))
    return rows


@cache
def row_numbers(option_text: str) -> tuple[str, ...]:
    """The table's numbers for one row, by the command's own parser and checks."""
    parser = argparse.ArgumentParser()
    run.add_arguments(parser)
    args = parser.parse_args(shlex.split(option_text))
    net = network.make_network((2, 2, 3), ("tanh", "identity"), "trainable",
                               loss=args.loss or "half-sse", reduction=args.reduction or "sum")
    data = network.data(net, X, T, weights=args.example_weights)
    opt = optimizers.with_lr(options.optimizer_from(args), 0.5)
    step = optim_check.train("manual", net, W, data, opt, 1)
    lam = network_check.l2_factors(net, opt)
    E = float(step.loss[0]) + (0.0 if lam is None else 0.5 * float((lam * W * W).sum()))
    return tuple(f"{v:.12g}" for v in (E, step.grads[0][0], step.grads[0][4],
                                        step.weights[1][4]))


def test_the_table_has_every_convention():
    rows = dict(table_rows())
    assert len(rows) == 12
    for fragment in ("--reduction mean-examples", "--example-weights", "--decay-biases no",
                     "--decay-biases yes", "--optimizer adamw", "--loss mse --reduction mean"):
        assert any(fragment in r for r in rows), fragment


@pytest.mark.parametrize("option_text", [r[0] for r in table_rows()])
def test_the_table_numbers_are_the_tools(option_text):
    printed = dict(table_rows())[option_text]
    assert tuple(printed) == row_numbers(option_text)


def test_the_table_rows_relate_as_the_conventions_say():
    """Independent of the tool: the rows' E against one another in closed form."""
    E = {o: float(n[0]) for o, n in table_rows()}
    total = E["--reduction sum"]
    assert E["--reduction mean-examples"] == pytest.approx(total / 3, rel=1e-11)
    assert E["--loss mse --reduction mean"] == pytest.approx(2 * total / 9, rel=1e-11)
    sq = float((W[[0, 1, 2, 3, 6, 7, 8, 9, 10, 11]] ** 2).sum())  # Σ‖W‖² = 2.17
    assert sq == pytest.approx(2.17)
    assert E["--l2 0.1"] == pytest.approx(total + 0.05 * sq, rel=1e-11)
    assert E["--reduction mean-examples --l2 0.1 --decay-biases no"] == pytest.approx(
        total / 3 + 0.05 * sq, rel=1e-11)
    assert E["--l2 0.1 --decay-biases yes"] - E["--l2 0.1"] == pytest.approx(
        0.05 * float((W[[4, 5, 12, 13, 14]] ** 2).sum()), rel=1e-9)


@pytest.mark.parametrize("loss", ["mse", "half-sse", "bce", "nll", "cross-entropy"])
def test_check_model_with_sample_weights_and_l2(loss):
    """The user's torch model joins the gradient check with its named loss weighted per
    example, and the check includes the l2 term: every backend, the model's included, agrees
    with the complex step of Σ_b s_b·loss_b/(S·n_out) + λ/2·Σ‖W‖²."""
    import torch

    torch.manual_seed(1)
    last = [torch.nn.LogSoftmax(dim=1)] if loss == "nll" else []  # bce, cross-entropy: logits
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Sigmoid(),
                                torch.nn.Linear(4, 2), *last).double()
    rng = np.random.default_rng(2)
    x, t, s = rng.normal(size=(6, 3)), rng.normal(size=(6, 2)), rng.uniform(0, 3, 6)
    if loss in ("bce", "nll", "cross-entropy"):  # probabilities in [0, 1]
        t = np.eye(2)[rng.integers(0, 2, 6)] if loss != "bce" else rng.uniform(size=(6, 2))
    r = check_model(model, x, t, loss=loss, reduction="mean", sample_weight=s, l2=0.1, steps=2)
    assert r.ok, r.first_divergence
    assert all("model" in row.values for row in r.gradcheck.rows)
    net, w = describe_model(model, loss, "mean")
    lam = network_check.l2_factors(net, optimizers.make("sgd", l2=0.1))
    ref = mp_gradient(net, w, x, t, s, lam)
    got = {row.quantity: row.values["model"] for row in r.gradcheck.rows}
    model_grad = np.array([got[f"dE/d{n}"] for n in network.param_names(net)])
    assert np.abs(model_grad - ref).max() <= 2e-15 * np.abs(ref).max()


def _table_reference(text: str, quantity: str) -> float:
    line = next(l for l in text.splitlines() if l.strip().startswith(quantity + " "))
    return float(line.split()[1])


def test_the_main_jobs_gradient_check_includes_l2(capsys):
    """autograd-compare --l2: the gradient check at the start checks d(E + λ/2·Σ‖W‖²)/dw
    (the complex step of the whole objective): a weight's reference moves by λ·w, a bias's
    not (the default), and by λ·b with --decay-biases yes; report.json keeps the setting."""
    import json

    from autograd_compare.commands.cli import main

    base = ["--preset", "xor", "--backends", "manual,torch,jax", "--lrs", "0.5", "--steps",
            "1", "--json"]
    refs, reports = {}, {}
    for extra in ([], ["--l2", "0.1"], ["--l2", "0.1", "--decay-biases", "yes"]):
        assert main([*base, *extra]) == 0
        out = capsys.readouterr()
        reports[len(extra)] = json.loads(out.out)
        refs[len(extra)] = {q: _table_reference(out.err, q) for q in ("dE/dW2[0,0]",
                                                                       "dE/db2[0]")}
    w = network.preset("xor").weights
    assert refs[2]["dE/dW2[0,0]"] == pytest.approx(refs[0]["dE/dW2[0,0]"] + 0.1 * w[6],
                                                   rel=1e-14)
    assert refs[2]["dE/db2[0]"] == refs[0]["dE/db2[0]"]
    assert refs[4]["dE/db2[0]"] == pytest.approx(refs[0]["dE/db2[0]"] + 0.1 * w[8], rel=1e-14)
    assert reports[4]["optimizer"]["decay_biases"] is True
    assert "decay_biases" not in reports[2]["optimizer"]


def test_batched_training_with_example_weights():
    """Every batched trainer (torch's column form for small fan-in included: 1,200 rows)
    weights the examples as the one-configuration training does."""
    xor = network.preset("xor")
    data = network.data(xor.network, xor.data.inputs, xor.data.targets, weights=[1, 2, 0.5, 3])
    opt = optimizers.make("sgd", lr=0.5)
    single = optim_check.train("manual", xor.network, xor.weights, data, opt, 5).weights[-1]
    unweighted = optim_check.train("manual", xor.network, xor.weights, xor.data, opt, 5)
    assert np.abs(single - unweighted.weights[-1]).max() > 1e-3
    rows = np.tile(xor.weights, (1200, 1))
    for name in BACKENDS:
        r = optim_check.train_batch(name, xor.network, rows, np.full(1200, 0.5), data, opt, 5)
        assert np.abs(r.final_weights - single).max() <= 1e-15, name


@pytest.mark.parametrize("kind", ["momentum", "adamw"])
def test_resuming_with_biases_out_of_weight_decay(kind):
    """Resumed from the flat state after one update (the harness's single steps), the torch
    groups and the optax pieces continue exactly as an uninterrupted run."""
    from autograd_compare.types import Resume

    xor = network.preset("xor")
    opt = optimizers.make(kind, lr=0.3, weight_decay=0.1, decay_biases=False)
    for name in BACKENDS:
        full = optim_check.train(name, xor.network, xor.weights, xor.data, opt, 3)
        one = optim_check.train(name, xor.network, xor.weights, xor.data, opt, 1)
        rest = optim_check.train(name, xor.network, one.weights[-1], xor.data, opt, 2,
                                 resume=Resume(one.state[-1], 1))
        assert np.array_equal(rest.weights[-1], full.weights[-1]), name
        assert np.array_equal(rest.state[-1], full.state[-1]), name


@pytest.mark.parametrize("hidden", ["leaky-relu:0.2", "elu", "gelu", "softplus", "silu"])
@pytest.mark.parametrize("loss", ["bce", "nll"])
def test_new_activations_with_new_losses_weights_and_l2(hidden, loss):
    """The options meet: a new activation in the hidden layers, a new loss, mean-examples with
    example weights and a weights-only l2. Every backend's gradient is within 2e-15 of the
    complex step of the whole objective (E + λ/2·Σ‖W‖²), and the gradient check passes."""
    rng = np.random.default_rng(3)
    last = "log-softmax" if loss == "nll" else "sigmoid"
    net = network.make_network((3, 4, 3, 2), (hidden, hidden, last), "trainable", loss=loss,
                               reduction="mean-examples")
    w = rng.uniform(-1.5, 1.5, network.n_params(net))
    x = rng.normal(size=(5, 3)) * 2  # z of both signs
    t = np.eye(2)[rng.integers(0, 2, 5)] if loss == "nll" else rng.uniform(size=(5, 2))
    data = network.data(net, x, t, weights=rng.uniform(0.1, 2.0, 5))
    opt = optimizers.make("sgd", lr=0.1, l2=0.2)
    check = network_check.gradient_check(
        [registry.get_network_backend(n, F64) for n in BACKENDS], net, w, data, opt)
    assert check.ok, check.first_failure
    rows = {r.quantity: r for r in check.rows}
    cs = np.array([rows[f"dE/d{n}"].complex_step for n in network.param_names(net)])
    for name in BACKENDS:
        g = optim_check.train(name, net, w, data, opt, 1).grads[0]
        assert np.abs(g - cs).max() <= 2e-15 * np.abs(cs).max(), name
