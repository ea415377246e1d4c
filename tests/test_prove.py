"""The SymPy proof: manual/ is proved right, and every wrong formula is caught."""

from __future__ import annotations

import numpy as np
import pytest

from autograd_compare import naming
from autograd_compare.commands.cli import main

sympy = pytest.importorskip("sympy", reason="pip install 'autograd-compare[teach]'")

from autograd_compare.manual import gradients  # noqa: E402
from autograd_compare.manual.mistakes import MISTAKES  # noqa: E402
from autograd_compare.teach import prove  # noqa: E402  (needs sympy)

ALL_W = [f"w{k}" for k in range(1, 9)]
# formula mistake -> the derivatives it gets wrong
WRONG = {
    "no-sigmoid-derivative": ALL_W,
    "mean-loss": ALL_W,
    "missing-e2-path": ["w1", "w2"],
    "swapped-weights": ["w2", "w3"],
}


def test_every_manual_formula_is_proved():
    verdicts = prove.prove()
    assert [v.name for v in verdicts] == [*ALL_W, *naming.NODE_NAMES_BACKWARD]
    assert all(v.proved and v.residual == "0" for v in verdicts), prove.render(verdicts)
    assert prove.render(verdicts).endswith("all 16 formulas proved identical to SymPy's "
                                           "derivatives")


def test_the_derivation_uses_only_the_forward_equations():
    sym = prove._symbols(sympy)
    d = prove.derived(sympy, sym, "w5")  # σ is 1/(1 + exp(-x)): no σ' rule, no node symbols
    assert d.has(sympy.exp) and d.free_symbols <= set(sym.values())


FORMULA_MISTAKES = sorted(k for k, m in MISTAKES.items() if m.weight_gradients is not None)


def test_catalogue_has_the_formula_mistakes_we_know():
    assert set(WRONG) <= set(FORMULA_MISTAKES)


@pytest.mark.parametrize("kind", FORMULA_MISTAKES)
def test_each_formula_mistake_fails_loudly(kind):
    verdicts = prove.prove(MISTAKES[kind].weight_gradients)
    failed = [v.name for v in verdicts if not v.proved]
    assert failed, f"mistake {kind!r} was proved right:\n{prove.render(verdicts)}"
    if kind in WRONG:
        assert failed == WRONG[kind], prove.render(verdicts)
    for v in verdicts:
        if not v.proved:
            assert v.residual != "0" and abs(v.at_class_example) > 1e-8
    assert f"{len(failed)} of 8 formulas are WRONG" in prove.render(verdicts)


def test_a_one_symbol_slip_is_caught():
    def slip(v, w, example):
        g = gradients.weight_gradients(v, w, example).copy()
        g[..., 4] = g[..., 5] * v["a_h1"] / v["a_h2"] * (1 - v["a_o1"]) / (1 - v["a_o1"])
        g[..., 6] = (v["a_o2"] - example.targets[1]) * v["a_o2"] * v["a_h1"]  # σ' half lost
        return g

    verdicts = {v.name: v for v in prove.prove(slip)}
    assert verdicts["w5"].proved  # an algebraically equal rewrite is still right
    assert not verdicts["w7"].proved
    assert [n for n, v in verdicts.items() if not v.proved] == ["w7"]
    assert "∂E_total/∂w7    FAILED" in prove.render(list(verdicts.values()))


def test_wrong_node_gradients_are_caught():
    def wrong_nodes(v, w, example):
        out = dict(gradients.node_gradients(v, w, example))
        out["a_h2"] = out["a_h1"]
        return out

    verdicts = prove.prove(gradients.weight_gradients, wrong_nodes)
    assert [v.name for v in verdicts if not v.proved] == ["a_h2"]


def test_explain_prove_exit_codes(monkeypatch, capsys):
    assert main(["explain", "--prove"]) == 0
    out = capsys.readouterr().out
    assert out.count("PROVED") == 16 and "FAILED" not in out
    # someone edits manual/gradients.py and forgets the sigmoid's derivative
    monkeypatch.setattr(gradients, "weight_gradients",
                        MISTAKES["no-sigmoid-derivative"].weight_gradients)
    assert main(["explain", "--prove"]) == 1
    out = capsys.readouterr().out
    # 8 in the tutorial's block, and manual/gradients.py's 8 in each 2-2-2 network of part (d)
    assert out.count("FAILED") == 8 + 3 * 8 and "8 of 16 formulas are WRONG" in out
    assert "24 of 139 general formulas are WRONG: tutorial: manual/gradients.py w1" in out
    assert main(["explain", "--prove", "--weight", "w5"]) == 1  # just the one asked about
    out = capsys.readouterr().out
    assert out.count("∂E_total/∂w5    FAILED") == 1 and "PROVED" not in out
    # and part (d) for w5: explain's formula stays right, manual/gradients.py's is wrong
    assert out.count("\n  FAILED  ") == 3 and "proved  mazur (b1, b2 frozen): explain w5" in out
    assert "3 of 6 general formulas are WRONG" in out


def test_prove_one_bias(capsys):
    assert main(["explain", "--prove", "--weight", "b_h1"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[-2:] == ["  proved  trainable biases: explain b_h1",
                                     "the 1 general formula proved"]
    assert "manual/gradients.py against" not in out


def test_symbolic_inputs_are_object_arrays():
    sym = prove._symbols(sympy)
    v, w, ex = prove._symbolic_inputs(sym, prove.expand_forward(sympy, sym))
    assert w.dtype == object and w.shape == (8,) and ex.inputs.dtype == object
    assert np.asarray(gradients.weight_gradients(v, w, ex)).shape == (8,)


# --- the general proofs: (a) activations, (b) δ_L, (c) the recursion, (d) 2-2-2 presets -----
def test_every_general_formula_is_proved(capsys):
    verdicts = prove.prove_general()
    by_part = {p: [v for v in verdicts if v.part == p] for p in prove.PARTS}
    assert [v.name for v in by_part["activation"]] == [
        "sigmoid", "tanh", "relu (z > 0)", "relu (z < 0)", "identity",
        "leaky-relu (z > 0)", "leaky-relu (z < 0)", "leaky-relu:0.2 (z > 0)",
        "leaky-relu:0.2 (z < 0)", "elu (z > 0)", "elu (z < 0)", "elu:0.5 (z > 0)",
        "elu:0.5 (z < 0)", "gelu", "softplus (z > 20)", "softplus (z < 20)", "silu"]
    names = {v.name for v in by_part["delta_L"]}
    for red in ("sum", "mean"):
        assert {f"cross-entropy + softmax ({red})", f"bce + sigmoid ({red})",
                f"nll + log-softmax ({red})"} <= names
        for loss in ("half-sse", "mse"):
            assert {f"{loss} + sigmoid ({red})", f"{loss} + tanh ({red})",
                    f"{loss} + identity ({red})", f"{loss} + relu ({red}) z > 0"} <= names
    assert len(by_part["recursion"]) == 6
    assert any("mazur (b1, b2 frozen): explain w1" == v.name for v in by_part["2-2-2"])
    assert any("trainable biases: explain b_h2" == v.name for v in by_part["2-2-2"])
    assert all(v.proved and v.residual == "0" for v in verdicts), prove.render_general(verdicts)
    assert main(["explain", "--prove"]) == 0
    out = capsys.readouterr().out
    assert "all 16 formulas proved identical" in out and "all 139 general formulas proved" in out
    assert out.count("\n  proved  ") == 139 and "FAILED" not in out


def test_a_wrong_activation_derivative_fails():
    from autograd_compare.manual import mlp

    def wrong(name, z, a):  # tanh' written as 1 - a (the square forgotten)
        return 1 - a if name == "tanh" else mlp.derivative(name, z, a)

    failed = [v.name for v in prove.prove_activations(wrong) if not v.proved]
    assert failed == ["tanh"]

    def relu_wrong(name, z, a):  # relu' = 1 everywhere
        return np.ones_like(z) if name == "relu" else mlp.derivative(name, z, a)

    assert [v.name for v in prove.prove_activations(relu_wrong)
            if not v.proved] == ["relu (z < 0)"]


def test_a_wrong_delta_L_fails():
    from autograd_compare.manual import mlp

    def no_two(net, w, x, t, zs, as_):  # mse's δ_L without the 2 of d(t - a)²/da
        out = mlp.backward_pass(net, w, x, t, zs, as_)
        if net.loss == "mse":
            out[1][-1] = out[1][-1] / 2
        return out

    failed = [v.name for v in prove.prove_delta_L(no_two) if not v.proved]
    assert failed and all(n.startswith("mse + ") for n in failed)
    assert {"mse + sigmoid (sum)", "mse + identity (mean)"} <= set(failed)
    assert "mse + relu (sum) z < 0" not in failed  # δ = 0 there: halving it changes nothing

    def mean_as_sum(net, w, x, t, zs, as_):  # cross-entropy's mean forgotten
        out = mlp.backward_pass(net, w, x, t, zs, as_)
        if net.loss == "cross-entropy" and net.reduction == "mean":
            out[1][-1] = out[1][-1] * x.shape[0]
        return out

    assert [v.name for v in prove.prove_delta_L(mean_as_sum)
            if not v.proved] == ["cross-entropy + softmax (mean)"]


def test_a_wrong_recursion_fails():
    from autograd_compare.manual import mlp

    real = mlp.derivative

    def backward_without_hidden_derivative(net, w, x, t, zs, as_):
        # the classic slip: δ_1 = W_2ᵀ δ_2, the hidden layer's f' forgotten
        def derivative(name, z, a):
            return np.ones_like(z) if z is zs[0] else real(name, z, a)

        mlp.derivative = derivative
        try:
            return mlp.backward_pass(net, w, x, t, zs, as_)
        finally:
            mlp.derivative = real

    verdicts = prove.prove_recursion(backward_without_hidden_derivative)
    assert mlp.derivative is real
    failed = {v.name: v.residual for v in verdicts if not v.proved}
    # identity's f' is 1 already: that network is still right
    assert set(failed) == {"tanh,sigmoid half-sse (sum)", "sigmoid,softmax cross-entropy (mean)",
                           "tanh,sigmoid bce (mean)", "sigmoid,log-softmax nll (sum)",
                           "silu,sigmoid mse (sum)"}
    assert failed["tanh,sigmoid half-sse (sum)"] == "wrong: W1[0,0], W1[0,1], W1[1,0], " \
        "W1[1,1], b1[0], b1[1]"


def test_a_wrong_two_two_two_formula_fails():
    verdicts = prove.prove_two_two_two(MISTAKES["swapped-weights"].weight_gradients)
    failed = [v.name for v in verdicts if not v.proved]
    assert failed == [f"{net}: manual/gradients.py {w}"
                      for net in ("tutorial", "mazur (b1, b2 frozen)", "trainable biases")
                      for w in ("w2", "w3")]
    text = prove.render_general(verdicts)
    assert "FAILED  mazur (b1, b2 frozen): manual/gradients.py w2" in text
    assert text.endswith("w3") and "6 of 58 general formulas are WRONG" in text


@pytest.mark.parametrize("kind, weight, ratio", [
    ("no-sigmoid-derivative", "w5", "a_o1*(1 - a_o1)"),  # the dropped σ'(o1), exactly
    ("no-sigmoid-derivative", "w8", "a_o2*(1 - a_o2)"),
    ("mean-loss", "w1", "2"),  # every gradient halved
    ("missing-e2-path", "w1", "2.49528 at the class example (no simple factor)"),
])
def test_a_wrong_formula_shows_derived_over_implemented(kind, weight, ratio, capsys):
    assert main(["explain", "--prove", "--mistake", kind, "--weight", weight]) == 1
    out = capsys.readouterr().out
    assert f"derived / implemented = {ratio}\n" in out, out
    assert main(["explain", "--prove", "--mistake", kind, "--weight", weight,
                 "--format", "json"]) == 1
    import json

    [v] = json.loads(capsys.readouterr().out)["verdicts"]
    assert (v["proved"], v["ratio"]) == (False, ratio)


def test_a_right_formula_has_ratio_1_and_unknown_mistakes_are_one_line(capsys):
    assert main(["explain", "--prove", "--mistake", "missing-e2-path", "--weight", "w5"]) == 0
    assert "PROVED" in capsys.readouterr().out  # its w5 formula is right
    assert all(v.ratio == "1" for v in prove.prove())
    assert main(["explain", "--prove", "--mistake", "update-sign"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "formula mistakes: no-sigmoid-derivative" in err
