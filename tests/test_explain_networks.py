"""`explain` for every network: Mazur's biases in the tutorial's notation, the δ recursion."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from autograd_compare import network
from autograd_compare.commands.cli import main
from autograd_compare.interface import Example
from autograd_compare.teach import errata, layers
from autograd_compare.teach.explain import explain_network
from tests import golden_networks as gm
from tests.helpers import EPS64, assert_close

TORCH, JAX, MANUAL = "PyTorch autograd", "JAX grad", "manual (hand formulas)"
MAZUR = network.preset("mazur")
MAZUR_EX = Example(MAZUR.data.inputs[0], MAZUR.data.targets[0])
NODE = {"h1": "net_h1", "h2": "net_h2", "a_h1": "out_h1", "a_h2": "out_h2",
        "o1": "net_o1", "o2": "net_o2", "a_o1": "out_o1", "a_o2": "out_o2"}


def _run(argv, capsys) -> str:
    assert main(["explain", *argv]) == 0
    return capsys.readouterr().out


# --- the tutorial stays as it is --------------------------------------------------------------
@pytest.mark.parametrize("extra", [[], ["--weight", "w1"], ["--format", "json"],
                                   ["--format", "markdown", "--dtype", "float32"]])
def test_preset_tutorial_is_todays_output(extra, capsys):
    assert _run(extra, capsys) == _run(["--preset", "tutorial", *extra], capsys)


# --- Mazur: his numbers, his biases -----------------------------------------------------------
@pytest.fixture(scope="module")
def mazur():
    return explain_network(MAZUR.network, MAZUR.weights, MAZUR_EX, 0.5)


def test_mazur_forward_pass_has_the_bias_terms(mazur):
    formulas = dict(mazur.formulas)
    assert formulas["h1"] == "w1*i1 + w2*i2 + b1*1" and formulas["o2"] == "w7*a_h1 + w8*a_h2 + b2*1"
    assert mazur.biases == {"b1": 0.35, "b2": 0.6} and mazur.bias == "frozen"
    gold = gm.mazur()["forward"]
    for name, his in NODE.items():
        assert_close(mazur.forward[name], gold[his], rtol=4 * EPS64, what=name)
    assert_close(mazur.forward["E_total"], gold["E_total"], rtol=4 * EPS64)


def test_mazur_gradients_and_updates_are_the_golden_ones(mazur):
    gold = gm.mazur()
    steps = {s.name: s for s in mazur.steps}
    assert tuple(steps) == ("w5", "w6", "w7", "w8", "a_h1", "a_h2", "w1", "w2", "w3", "w4")
    for k in range(8):
        s = steps[f"w{k + 1}"]
        assert_close(s.value, gold["dw"][k], rtol=4 * EPS64, what=s.name)
        assert_close(s.update[2], gold["weights_after_1"][k], rtol=4 * EPS64, what=s.name)
        for label in (MANUAL, TORCH, JAX):  # every backend present, and equal
            assert_close(s.backends[label], s.value, rtol=4 * EPS64, what=f"{label} {s.name}")
    for node in ("a_h1", "a_h2"):
        assert_close(steps[node].value, gold["dnode"][NODE[node]], rtol=4 * EPS64)
        assert_close(steps[node].backends[TORCH], steps[node].value, rtol=4 * EPS64)
        assert_close(steps[node].backends[JAX], steps[node].value, rtol=4 * EPS64)


def test_mazur_text_shows_his_printed_figures(capsys):
    out = _run(["--preset", "mazur"], capsys)
    printed = {m.group(1): float(m.group(2)) for m in re.finditer(
        r"^  (\w+) +=.*= +(-?[\d.e-]+)$", out, re.M)}
    updates = {m.group(1): float(m.group(2)) for m in re.finditer(
        r"update: (w\d)_new = .* = (-?[\d.e-]+)$", out, re.M)}
    his = gm.PUBLISHED
    assert round(printed["E_total"], 9) == his["E_total"]
    assert round(printed["a_h1"], 9) == his["out_h1"] and round(printed["a_o2"], 9) == his["out_o2"]
    for k in range(1, 9):  # w1+ .. w8+, each to the digits he prints
        figure = his[f"w{k}+"]
        digits = len(repr(figure).split(".")[1])
        assert round(updates[f"w{k}"], digits) == figure, (k, updates[f"w{k}"], figure)
    assert "Biases: b1 = 0.35, b2 = 0.6; frozen: not updated" in out
    assert "  h1       = w1*i1 + w2*i2 + b1*1" in out
    assert "\n∂E_total/∂b" not in out and "b1_new" not in out
    assert "explain --preset mazur --errata" in out and "the tutorial writes" not in out


def test_mazur_frozen_bias_is_not_a_weight_to_explain(capsys):
    assert main(["explain", "--preset", "mazur", "--weight", "b_h1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "biases of this network are frozen (not updated" in err


def test_mazur_errata_say_where_his_figures_differ(capsys):
    gold = gm.mazur()
    items = errata.mazur_errata()
    assert [e.wrong.split(" = ")[1] for e in items] == ["0.291027924", "3.51085e-05",
                                                        "0.015912196, 0.984065734"]
    exact = float(items[0].right.split(" = ")[1])
    assert_close(exact, gold["E_total_after_1"], rtol=1e-9)
    assert abs(exact - gm.PUBLISHED["E_total after 1 step"]) > 1e-7
    assert_close(float(items[1].right.split(" = ")[1]), 0.000035101878, rtol=1e-7)  # mpmath
    out = _run(["--preset", "mazur", "--errata"], capsys)
    assert "printed:   E_total after the first update = 0.291027924" in out
    assert "exact:     E_total after the first update = 0.2910277737" in out
    assert main(["explain", "--preset", "xor", "--errata"]) == 2


def test_trainable_biases_get_their_own_steps(tmp_path, capsys):
    csv = tmp_path / "one.csv"
    csv.write_text("i1,i2,t1,t2\n0.05,0.1,0.01,0.99\n")
    w = np.linspace(-0.5, 0.5, 12)
    argv = ["--layers", "2,2,2", "--activations", "sigmoid", "--bias", "trainable", "--data",
            str(csv), "--weights", ",".join(map(repr, w.tolist())), "--format", "json"]
    data = json.loads(_run(argv, capsys))
    steps = {s["name"]: s for s in data["steps"]}
    assert list(steps)[4:6] == ["b_o1", "b_o2"] and list(steps)[-2:] == ["b_h1", "b_h2"]
    assert data["bias"] == "trainable" and set(data["biases"]) == {"b_h1", "b_h2", "b_o1", "b_o2"}
    net = network.make_network((2, 2, 2), "sigmoid", "trainable")
    from autograd_compare.registry import get_network_backend

    d = network.data(net, [[0.05, 0.1]], [[0.01, 0.99]])
    lay = network.layout(net)
    for backend in ("torch", "jax"):
        g = get_network_backend(backend).gradients(net, w, d).w
        theirs = {"b_h1": g[lay[0].b][0], "b_h2": g[lay[0].b][1], "b_o1": g[lay[1].b][0],
                  "b_o2": g[lay[1].b][1], "w1": g[0], "w5": g[6], "w8": g[9]}
        for name, value in theirs.items():
            assert_close(steps[name]["value"], value, rtol=4 * EPS64, atol=1e-18,
                         what=f"{backend} {name}")
    assert steps["b_o1"]["chain"] == "∂E1/∂a_o1 * ∂a_o1/∂o1 * ∂o1/∂b_o1"
    assert steps["b_h1"]["chain"] == "∂E_total/∂a_h1 * ∂a_h1/∂h1 * ∂h1/∂b_h1"
    assert steps["b_h2"]["update"]["w_new"] == pytest.approx(
        w[5] - 0.1 * steps["b_h2"]["value"], rel=1e-15)  # your network's lr is 0.1


# --- any other network: the δ recursion -------------------------------------------------------
def _three_layer(tmp_path):
    rng = np.random.default_rng(5)
    x, t = rng.normal(size=(6, 3)), rng.normal(size=(6, 2))
    csv = tmp_path / "d.csv"
    csv.write_text("x1,x2,x3,t1,t2\n" + "\n".join(",".join(map(repr, [*a.tolist(), *b.tolist()]))
                                                  for a, b in zip(x, t)) + "\n")
    return ["--layers", "3,4,3,2", "--activations", "tanh,relu,identity", "--bias", "trainable",
            "--loss", "mse", "--reduction", "mean", "--data", str(csv), "--seed", "3"]


def _framework_derivative(name: str, z: np.ndarray, framework: str) -> np.ndarray:
    """f'(z) by the framework's own autodiff of its activation (element-wise)."""
    if framework == "torch":
        import torch

        from autograd_compare.torch_impl import mlp as tm

        zt = torch.tensor(z, dtype=torch.float64, requires_grad=True)
        (g,) = torch.autograd.grad(tm.activation(name, zt).sum(), zt)
        return g.numpy()
    import jax
    import jax.numpy as jnp

    from autograd_compare.jax_impl import mlp as jm
    from autograd_compare.jax_impl.precision import precision

    with precision(np.dtype(np.float64)):
        g = jax.vmap(jax.grad(lambda s: jm.activation(name, s)))(jnp.asarray(z, jnp.float64))
        assert g.dtype == jnp.float64
        return np.asarray(g)


CASES = {"xor": ["--preset", "xor", "--example", "3"], "iris": ["--preset", "iris",
                                                                "--example", "78"]}


@pytest.mark.parametrize("case", ["xor", "iris", "three-layer"])
def test_every_number_is_the_frameworks(case, tmp_path):
    from autograd_compare.commands import explain as cmd
    from autograd_compare.commands import options as check
    from autograd_compare.commands.cli import build_parser

    argv = _three_layer(tmp_path) if case == "three-layer" else CASES[case]
    args = build_parser(cmd, "x").parse_args(argv)
    source, net, data, w, _, _ = check.build(args)
    ex = layers.explain_layers(net, w, data, args.example, "float64", source)
    assert ex.example == args.example and ex.batch == data.inputs.shape[0]
    k = args.example - 1  # examples are numbered from 1: the row
    shown = 0
    for q in ex.quantities:
        if q.symbol.startswith("f"):  # f'(z): the frameworks' autodiff of their activation
            name = net.activations[int(q.symbol[1]) - 1]
            z = next(p.value for p in ex.quantities if p.symbol == f"z{q.symbol[1]}")
            for fw in ("torch", "jax"):
                assert_close(q.value, _framework_derivative(name, z, fw), rtol=4 * EPS64,
                             atol=4 * EPS64, what=f"{fw} {q.symbol}")
            continue
        for label in (TORCH, JAX, MANUAL):
            theirs = q.backends[label]
            assert not isinstance(theirs, str), theirs
            scale = np.max(np.abs(q.value))
            bound = 8 * EPS64 * scale * (np.log2(ex.batch) + 1 if q.section == "batch" else 1)
            assert np.max(np.abs(np.asarray(theirs) - q.value)) <= bound, (label, q.symbol)
            shown += 1
    # one δ_l a_(l-1)ᵀ per layer for the example, shaped like W_l
    lay = network.layout(net)
    dW_k = [q.value for q in ex.quantities
            if q.symbol.startswith("∂E/∂W") and "example" in q.symbol]
    assert len(dW_k) == net.layers and dW_k[0].shape == lay[0].W_shape
    assert shown >= 3 * (4 * net.layers)
    assert k < ex.batch


@pytest.mark.parametrize("case", ["xor", "iris", "three-layer"])
def test_printed_numbers_are_the_quantities(case, tmp_path, capsys):
    argv = _three_layer(tmp_path) if case == "three-layer" else CASES[case]
    text = _run(argv, capsys)
    data = json.loads(_run([*argv, "--format", "json"], capsys))
    for q in data["quantities"]:
        # the text shows the symbol and formula, then every entry to 8 significant digits
        head = f"  {q['symbol']} = {q['formula']}"
        assert head in text, head
        after = text[text.index(head) + len(head):]
        value = np.atleast_2d(q["value"])
        lines = after.split("\n")
        if lines[0].startswith(" = ["):  # one row on the head's line
            rows = [lines[0][3:]]
        else:  # "  (R×C)", then one row a line
            assert re.fullmatch(r"  \(\d+(×\d+)?\)", lines[0]), lines[0]
            rows = [x for x in lines[1:1 + value.shape[0]] if x.strip().startswith("[")]
        numbers = [float(x) for x in re.findall(r"-?\d+(?:\.\d+)?(?:e[-+]\d+)?", " ".join(rows))]
        assert len(numbers) == value.size, (q["symbol"], rows)
        for label in (TORCH, JAX):  # each printed number is the framework's, to 8 digits
            theirs = np.ravel(q["backends"][label]["value"]) if q["backends"] else np.ravel(
                value)
            assert_close(numbers, theirs, rtol=6e-8, atol=1e-300, what=q["symbol"])
    assert "Summed over the batch" in text and "largest difference" in text
    if case == "iris":
        assert "Example 78 of 150" in text and len(text.splitlines()) < 80  # not 150 rows
        assert "δ2 = c · (a2 Σ_j t_j - t)" in text and "c = 1/B = 1/150" in text
        assert "f1'(z1) = 1 - a ⊙ a  (tanh, a = a1)" in text
    if case == "three-layer":
        assert "f2'(z2) = 1 where z > 0, else 0  (relu, a = a2)" in text
        assert "∂E/∂a3 = c · 2(a3 - t)" in text and "c = 1/(B·n_3) = 1/12" in text
        assert "δ1 = (W2ᵀ δ2) ⊙ f1'(z1)" in text


@pytest.mark.parametrize("argv, message", [
    (["--preset", "iris", "--example", "151"], "--example 151 is out of range: the data has "
     "150 examples (1..150)"),
    (["--preset", "xor", "--example", "0"], "--example 0 is out of range: the data has 4 "
     "examples (1..4)"),
    (["--preset", "mazur", "--example", "2"], "--example 2 is out of range: the data has 1 "
     "example (1..1)"),
    (["--preset", "iris", "--weight", "w1"], "--weight names a gradient of a 2-2-2 network"),
    (["--preset", "mazur", "--weight", "W1[0,0]"], "unknown --weight 'W1[0,0]'; expected one "
     "of w1,"),
    (["--weight", "b_o1"], "--weight 'b_o1': this network has no biases"),
    (["--preset", "xor", "--optimizer", "adam", "--weight", "w5"], "--weight 'w5': explain "
     "--optimizer shows one of W1[0,0], W1[0,1]"),
    (["--preset", "iris", "--inputs", "1,2"], "inputs must have shape (B, 4)"),
    (["--layers", "2,3,1"], "--layers needs --activations"),
])
def test_bad_input_is_one_line(argv, message, capsys):
    assert main(["explain", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err


def test_float32_is_computed_in_float32(capsys):
    data = json.loads(_run(["--preset", "iris", "--example", "5", "--dtype", "float32",
                            "--format", "json"], capsys))
    assert data["dtype"] == "float32"
    eps32 = float(np.finfo(np.float32).eps)
    for q in data["quantities"]:
        for label, b in q["backends"].items():
            assert b["largest_diff"] <= 8 * eps32 * (np.log2(150) + 1), (label, q["symbol"], b)
    # and not a float64 computation in disguise: the float32 numbers differ from float64's
    d64 = json.loads(_run(["--preset", "iris", "--example", "5", "--format", "json"], capsys))
    assert data["quantities"][0]["value"] != d64["quantities"][0]["value"]
    ex = layers.explain_layers(network.preset("xor").network, network.preset("xor").weights,
                               network.preset("xor").data, 1, "float32")
    assert all(q.value.dtype == np.float32 for q in ex.quantities)
