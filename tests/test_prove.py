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
    assert out.count("FAILED") == 8 and "8 of 16 formulas are WRONG" in out
    assert main(["explain", "--prove", "--weight", "w5"]) == 1  # just the one asked about
    out = capsys.readouterr().out
    assert out.count("FAILED") == 1 and "∂E_total/∂w5" in out and "PROVED" not in out


def test_symbolic_inputs_are_object_arrays():
    sym = prove._symbols(sympy)
    v, w, ex = prove._symbolic_inputs(sym, prove.expand_forward(sympy, sym))
    assert w.dtype == object and w.shape == (8,) and ex.inputs.dtype == object
    assert np.asarray(gradients.weight_gradients(v, w, ex)).shape == (8,)
