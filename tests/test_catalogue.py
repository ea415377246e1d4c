"""The mistake named (manual/catalogue.py): each catalogue entry, both ways.

A deliberately wrong backend, written here example by example and unit by unit (not with the
catalogue's matrix recursion), is diagnosed with its entry's name; correct backends get no
diagnosis, and an unrelated error is told "no known mistake matches".
"""

from __future__ import annotations

import numpy as np
import pytest

import autograd_compare as ac
from autograd_compare import network
from autograd_compare.harness import optim_check
from autograd_compare.manual import catalogue
from autograd_compare.optimizers import SGD

TUTORIAL = network.preset("tutorial")
XOR_IN, XOR_OUT = [[0, 0], [0, 1], [1, 0], [1, 1]], [[0], [1], [1], [0]]
NET_231 = network.make_network((2, 3, 1), ("tanh", "sigmoid"))  # no biases, ½Σ(t - a)², sum
W_231 = np.array([0.3, -0.5, 0.8, 0.2, -0.4, 0.6, 0.7, -0.9, 0.5])
# square layers, for the mistakes that need them: 3-3-3, softmax and cross-entropy (mean)
NET_333 = network.make_network((3, 3, 3), ("sigmoid", "softmax"), loss="cross-entropy",
                               reduction="mean")
W_333 = np.random.default_rng(7).uniform(-1, 1, 18)  # no structure (rows of W1 - W2 equal
#   would hide wrong-layer-weights: softmax-CE's δ2 sums to 0)
X_333 = [[0.2, -0.4, 0.9], [1.0, 0.3, -0.7]]
Y_333 = [[1, 0, 0], [0, 0, 1]]


def f(act, z):
    return {"sigmoid": lambda: 1 / (1 + np.exp(-z)), "tanh": lambda: np.tanh(z)}[act]()


def df(act, a):
    return a * (1 - a) if act == "sigmoid" else 1 - a * a


def student(mistake=None):
    """A 2-layer backprop written unit by unit, example by example, with ``mistake``."""

    def backprop(net, w, data):
        n0, n1, n2 = net.sizes
        W1 = w[:n1 * n0].reshape(n1, n0)
        W2 = w[n1 * n0:].reshape(n2, n1)
        if mistake == "transposed-weights":
            W1 = W1.T
        B = data.inputs.shape[0]
        c = 1 / B if net.reduction == "mean" else 1.0
        g1, g2 = np.zeros((n1, n0)), np.zeros((n2, n1))
        for x, t in zip(data.inputs, data.targets):
            a1 = np.array([f(net.activations[0], W1[j] @ x) for j in range(n1)])
            z2 = np.array([W2[k] @ a1 for k in range(n2)])
            if net.loss == "cross-entropy":
                e = np.exp(z2 - z2.max())
                a2 = e / e.sum()
                d2 = c * (a2 - t)
                if mistake == "softmax-twice":
                    d2 = np.array([sum(a2[k] * ((k == m) - a2[m]) * d2[k] for k in range(n2))
                                   for m in range(n2)])
            else:
                a2 = f(net.activations[1], z2)
                d2 = c * (a2 - t)
                if mistake == "sign":
                    d2 = -d2
                if mistake == "factor-2":
                    d2 = 2 * d2
                if mistake == "factor-B":
                    d2 = d2 * B
                if mistake != "no-derivative-out":
                    d2 = d2 * df(net.activations[1], a2)
            back = {"wrong-layer-weights": W1, "backward-transposed": W2.T}.get(mistake, W2)
            d1 = np.zeros(n1)
            for j in range(n1):
                paths = range(1) if mistake == "missing-path" and j == 0 else range(n2)
                d1[j] = sum(d2[k] * back[k, j] for k in paths)
                if mistake != "no-derivative-hidden":
                    d1[j] *= df(net.activations[0], a1[j])
            g1 += np.outer(d1, x)
            g2 += np.outer(d2, a1)
        if mistake == "transposed-weights":
            g1 = g1.T
        if mistake == "transposed-gradient":
            g1 = g1.T.reshape(n1, n0)  # (in, out) written row by row into (out, in)
        return np.concatenate([g1.ravel(), g2.ravel()]).astype(w.dtype)

    backprop.__name__ = (mistake or "correct").replace("-", "_")
    return backprop


def _names(sw, name):
    [d] = [d for d in sw.diagnoses if d.backend == name]
    return {s.name for s in d.suspects}, d


TUTORIAL_CASES = {"no-derivative-out": "no-activation-derivative",
                  "no-derivative-hidden": "no-activation-derivative",
                  "missing-path": "missing-path", "transposed-weights": "transposed-weights",
                  "backward-transposed": "backward-transposed",
                  "wrong-layer-weights": "wrong-layer-weights", "sign": "sign",
                  "factor-2": "factor", "transposed-gradient": "transposed-gradient"}
CASES_231 = {"no-derivative-out": "no-activation-derivative",
             "no-derivative-hidden": "no-activation-derivative", "sign": "sign",
             "factor-2": "factor", "factor-B": "factor",
             "transposed-gradient": "transposed-gradient"}
CASES_333 = {"softmax-twice": "softmax-twice", "missing-path": "missing-path",
             "transposed-weights": "transposed-weights",
             "wrong-layer-weights": "wrong-layer-weights",
             "backward-transposed": "backward-transposed"}


def _check(fn, where):
    if where == "tutorial":
        return ac.check_gradients(fn, lrs=(0.5,), steps=3)
    if where == "2-3-1":
        return ac.check_gradients(fn, NET_231, weights=W_231, inputs=XOR_IN, targets=XOR_OUT,
                                  lrs=(0.5,), steps=3)
    return ac.check_gradients(fn, NET_333, weights=W_333, inputs=X_333, targets=Y_333,
                              lrs=(0.5,), steps=3)


@pytest.mark.parametrize("where, mistake, entry",
                         [("tutorial", m, e) for m, e in TUTORIAL_CASES.items()]
                         + [("2-3-1", m, e) for m, e in CASES_231.items()]
                         + [("3-3-3", m, e) for m, e in CASES_333.items()])
def test_a_wrong_backend_is_named(where, mistake, entry):
    fn = student(mistake)
    sw = _check(fn, where)
    assert not sw.ok
    names, d = _names(sw, fn.__name__)
    assert names == {entry}, d.sentences()
    assert d.seen == "the gradient check"


@pytest.mark.parametrize("where", ["tutorial", "2-3-1", "3-3-3"])
def test_a_correct_backend_gets_no_diagnosis_and_noise_no_name(where):
    sw = _check(student(), where)
    assert sw.ok and sw.diagnoses == ()

    def noisy(net, w, data):
        g = student()(net, w, data)
        return g + np.where(np.arange(g.size) == 1, 1e-3, 0)  # one entry off, by nothing known

    sw = _check(noisy, where)
    assert not sw.ok
    _, d = _names(sw, "noisy")
    assert d.suspects == () and d.sentences() == ["noisy: no known mistake matches the "
                                                  "gradient check"]


def test_the_tutorials_mistake_backends_are_named_in_its_notation():
    from autograd_compare.manual.mistakes import MISTAKES

    names = ["manual", "torch", *(f"mistake:{k}" for k in MISTAKES)]
    sw = optim_check.sweep("t", SGD, names, TUTORIAL.network, TUTORIAL.weights, TUTORIAL.data,
                           (0.5,), 3)
    got = {d.backend: ([s.name for s in d.suspects], d.seen) for d in sw.diagnoses}
    assert got == {
        "mistake:no-sigmoid-derivative": (["no-activation-derivative"], "the gradient check"),
        "mistake:mean-loss": (["factor"], "the gradient check"),
        "mistake:missing-e2-path": (["missing-path"], "the gradient check"),
        "mistake:swapped-weights": (["transposed-weights"], "the gradient check"),
        "mistake:update-sign": (["update-sign"], "the first update at lr 0.5"),
        "mistake:updated-weights-in-hidden": (["updated-weights"],
                                              "the first update at lr 0.5")}
    sentences = " ".join(s for d in sw.diagnoses for s in d.sentences())
    for symbol in ("dE_total/do1", "a_o1(1 - a_o1)", "dE_total/da_h1", "E2", "dw1..dw4",
                   "w5..w8"):
        assert symbol in sentences


def test_the_forgotten_hidden_sigma_prime_is_named():
    from tests import student_backprop

    sw = ac.check_gradients(student_backprop.forgot_hidden_sigma_prime, lrs=(0.5,), steps=2)
    [d] = sw.diagnoses
    assert [s.sentence for s in d.suspects] == [
        "σ'(h1) left out: dE_total/dh1 = dE_total/da_h1, without the factor a_h1(1 - a_h1)"]


def _g(net, w, x, t):
    return student()(net, w, network.data(net, x, t))


@pytest.mark.parametrize("net, w, x, t", [
    (TUTORIAL.network, TUTORIAL.weights, TUTORIAL.data.inputs, TUTORIAL.data.targets),
    (NET_231, W_231, XOR_IN, XOR_OUT)])
def test_update_mistakes_both_ways(net, w, x, t):
    lr, data = 0.5, network.data(net, x, t)
    g = _g(net, w, x, t)
    tol = np.full(w.size, 1e-14)
    assert catalogue.diagnose_update(net, w, w - lr * g, data, lr, tol) == ()  # right
    [up] = catalogue.diagnose_update(net, w, w + lr * g, data, lr, tol)
    assert up.name == "update-sign"
    n_low = net.sizes[0] * net.sizes[1]  # layer by layer from the top, written out here
    w_top = w.copy()
    w_top[n_low:] -= lr * g[n_low:]
    # the hidden gradients through the new W2, the forward pass at the old weights
    W1, W2new = w[:n_low].reshape(net.sizes[1], -1), w_top[n_low:].reshape(net.sizes[2], -1)
    low = np.zeros(n_low)
    for xb, tb in zip(np.asarray(x, float), np.asarray(t, float)):
        a1 = f(net.activations[0], W1 @ xb)
        a2 = f(net.activations[1], w[n_low:].reshape(net.sizes[2], -1) @ a1)
        d2 = (a2 - tb) * df(net.activations[1], a2)
        d1 = (d2 @ W2new) * df(net.activations[0], a1)
        low += np.outer(d1, xb).ravel()
    w1 = w_top.copy()
    w1[:n_low] = w[:n_low] - lr * low
    [late] = catalogue.diagnose_update(net, w, w1, data, lr, tol)
    assert late.name == "updated-weights"
    assert catalogue.diagnose_update(net, w, w - lr * g * 1.01, data, lr, tol) == ()  # other


def test_the_report_names_the_mistake_everywhere(tmp_path, capsys):
    import json

    from autograd_compare.commands.cli import main

    out = tmp_path / "r"
    assert main(["--backends", "manual,mistake:missing-e2-path,torch", "--lrs", "0.5",
                 "--steps", "3", "--out", str(out), "--no-plots"]) == 1
    sentence = ("dE_total/da_h1 takes only E1's path (through o1); the path through o2 and E2 "
                "is forgotten")
    assert (f"mistake:missing-e2-path: likely mistake (missing-path, from the gradient check): "
            f"{sentence}") in capsys.readouterr().out
    report = json.loads((out / "report.json").read_text())
    assert report["diagnosis"] == [{"backend": "mistake:missing-e2-path",
                                    "seen": "the gradient check",
                                    "mistakes": [{"name": "missing-path",
                                                  "sentence": sentence}]}]
    html = (out / "report.html").read_text()
    assert 'id="diagnosis"' in html and "the path through o2 and E2 is forgotten" in html
