"""`explain`: the factors, their values and products, the backends beside them, the CLI."""

from __future__ import annotations

import re

import numpy as np
import pytest

from autograd_compare.commands.cli import main
from autograd_compare.errors import BackendUnavailable
from autograd_compare.interface import CLASS_INPUTS, CLASS_TARGETS, CLASS_WEIGHTS, Example
from autograd_compare.teach import explain as ex_mod
from autograd_compare.teach.explain import ORDER, explain
from tests import golden
from tests.helpers import EPS64, assert_close

W = np.array(CLASS_WEIGHTS)
EX = Example(np.array(CLASS_INPUTS), np.array(CLASS_TARGETS))
# the tutorial's closed forms, verbatim
TUTORIAL = {
    "w5": "(a_o1 - t1) * a_o1 * (1 - a_o1) * a_h1",
    "w8": "(a_o2 - t2) * a_o2 * (1 - a_o2) * a_h2",
    "a_h1": "(a_o1 - t1) * a_o1 * (1 - a_o1) * w5 + (a_o2 - t2) * a_o2 * (1 - a_o2) * w7",
    "w1": "((a_o1 - t1) * a_o1 * (1 - a_o1) * w5 + (a_o2 - t2) * a_o2 * (1 - a_o2) * w7)"
          " * a_h1 * (1 - a_h1) * i1",
    "w4": "((a_o1 - t1) * a_o1 * (1 - a_o1) * w6 + (a_o2 - t2) * a_o2 * (1 - a_o2) * w8)"
          " * a_h2 * (1 - a_h2) * i2",
}
CHAINS = {
    "w5": "∂E1/∂a_o1 * ∂a_o1/∂o1 * ∂o1/∂w5",
    "w7": "∂E2/∂a_o2 * ∂a_o2/∂o2 * ∂o2/∂w7",
    "a_h2": "∂E1/∂a_h2 + ∂E2/∂a_h2",
    "w2": "∂E_total/∂a_h1 * ∂a_h1/∂h1 * ∂h1/∂w2",
}


@pytest.fixture(scope="module")
def steps():
    return {s.name: s for s in explain(W, EX, 0.5).steps}


def test_order_follows_the_tutorial(steps):
    assert tuple(steps) == ORDER == ("w5", "w6", "w7", "w8", "a_h1", "a_h2",
                                     "w1", "w2", "w3", "w4")


@pytest.mark.parametrize("name", sorted(TUTORIAL))
def test_closed_forms_are_the_tutorials(steps, name):
    assert steps[name].formula == TUTORIAL[name]


@pytest.mark.parametrize("name", sorted(CHAINS))
def test_chains_in_the_tutorials_notation(steps, name):
    assert steps[name].chain == CHAINS[name]


# explain's products, factors and the backends' values against golden: measured <= 1 eps64
# (the same correctly rounded products, sometimes in another order); 4 eps allowed.
RTOL = 4 * EPS64


def test_products_match_the_independent_golden_values(steps):
    gold = golden.class_example("float64")
    for k in range(8):
        assert_close(steps[f"w{k + 1}"].value, gold["dw"][k], rtol=RTOL, what=f"dw{k + 1}")
    for node in ("a_h1", "a_h2"):
        assert_close(steps[node].value, gold["dnode"][node], rtol=RTOL, what=node)


def test_factor_values_are_the_local_derivatives(steps):
    f = golden.class_example("float64")["forward"]
    w5 = steps["w5"].terms[0].factors
    assert_close([x.value for x in w5],
                 [f["a_o1"] - 0.5, f["a_o1"] * (1 - f["a_o1"]), f["a_h1"]], rtol=RTOL)
    w3 = steps["w3"].terms[0].factors
    assert_close([x.value for x in w3], [steps["a_h2"].value, f["a_h2"] * (1 - f["a_h2"]),
                                         0.05], rtol=RTOL)
    assert [x.symbol for x in w3] == ["∂E_total/∂a_h2", "∂a_h2/∂h2", "∂h2/∂w3"]


def test_backends_agree_and_the_update_is_a_gradient_step(steps):
    for name, step in steps.items():
        for label, value in step.backends.items():
            if not isinstance(value, str):  # a backend not installed is reported as text
                assert_close(value, step.value, rtol=RTOL, what=f"{label} {name}")
        if name.startswith("w"):
            lr, old, new = step.update
            assert_close([lr, old, new], [0.5, W[int(name[1]) - 1],
                                          W[int(name[1]) - 1] - 0.5 * step.value], rtol=1e-15)
        else:
            assert step.update is None
    assert isinstance(steps["w5"].backends["manual (hand formulas)"], float)


def test_missing_framework_is_said_clearly(monkeypatch, capsys):
    real = ex_mod.get_backend

    def fake(name, dtype):
        if name == "jax":
            raise BackendUnavailable("backend 'jax' needs jax, which is not installed; "
                                     "install it with: pip install 'autograd-compare[jax]'")
        return real(name, dtype)

    monkeypatch.setattr(ex_mod, "get_backend", fake)
    assert main(["explain", "--weight", "w6"]) == 0
    out = capsys.readouterr().out
    assert "JAX grad                not available: backend 'jax' needs jax, which is not " \
           "installed; install it with: pip install 'autograd-compare[jax]'" in out


def test_text_output_for_w1_starts_with_its_hidden_gradient(capsys):
    assert main(["explain", "--weight", "w1", "--lr", "0.1"]) == 0
    out = capsys.readouterr().out
    assert out.index("∂E_total/∂a_h1 = ∂E1/∂a_h1 + ∂E2/∂a_h1") < out.index(
        "∂E_total/∂w1 = ∂E_total/∂a_h1 * ∂a_h1/∂h1 * ∂h1/∂w1")
    assert "∂E_total/∂w5 =" not in out and "  E_total  = E1 + E2" in out
    assert "update: w1_new = w1_old - lr * ∂E_total/∂w1 = 0.15 - 0.1 * 0.00031699339591" in out


def test_full_text_and_markdown(capsys):
    assert main(["explain"]) == 0
    text = capsys.readouterr().out
    assert all(f"∂E_total/∂{n} = " in text for n in ORDER)
    assert text.count("update: ") == 8
    assert main(["explain", "--format", "markdown", "--weight", "a_h1"]) == 0
    md = capsys.readouterr().out
    assert "### ∂E_total/∂a_h1" in md and "| ∂o2/∂a_h1 | `w7` | 0.5 |" in md
    assert "| **sum** |" in md and "Update:" not in md


def test_float32_and_other_weights(capsys):
    assert main(["explain", "--dtype", "float32", "--weight", "w8",
                 "--weights", "1,-1,0.5,2,-3,0.1,0.2,4", "--targets", "0.01,0.99"]) == 0
    assert "∂o2/∂w8   = a_h2" in capsys.readouterr().out


def test_options_from_a_config_file(tmp_path, capsys):
    config = tmp_path / "explain.toml"
    config.write_text('weight = "w7"\nlr = 2.0\nformat = "markdown"\n')
    assert main(["explain", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "### ∂E_total/∂w7" in out and "Update: `w7_new = w7_old - lr * ∂E_total/∂w7 = " \
        "0.5 - 2 * " in out


@pytest.mark.parametrize("argv, message", [
    (["--lr", "0"], "learning rate must be finite and > 0; got 0.0"),
    (["--lr", "inf"], "learning rate must be finite and > 0; got inf"),
    (["--weight", "w9"], "unknown --weight 'w9'; expected one of w1,"),
    (["--format", "html"], "argument --format: invalid choice: 'html'"),
    (["--weights", "1,2,3"], "has 8 parameters; got 3"),
    (["--inputs", "0.1,nan"], "inputs must be finite numbers; got nan"),
    (["--dtype", "float16"], "argument --dtype: invalid choice: 'float16'"),
])
def test_bad_options_are_one_line_errors(argv, message, capsys):
    assert main(["explain", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err


# --- issue 12: given numbers, rel diff, dtype, every node, plurals, JSON, errata --------------
def test_text_starts_with_the_weights_example_and_lr(capsys):
    assert main(["explain", "--weight", "w5", "--lr", "0.25"]) == 0
    out = capsys.readouterr().out
    first = out.splitlines()[:2]
    assert first[0] == ("Weights: w1 = 0.15, w2 = 0.2, w3 = 0.25, w4 = 0.3, w5 = 0.4, "
                        "w6 = 0.45, w7 = 0.5, w8 = 0.55")
    assert first[1] == ("Example: i1 = 0.05, i2 = 0.1, t1 = 0.5, t2 = 0.5; learning rate "
                        "lr = 0.25; computed in float64")
    assert "rel diff = |framework value - hand value| / |hand value|" in out


@pytest.mark.parametrize("name", ex_mod.TARGETS)
def test_every_weight_and_node_the_proof_covers(name, capsys):
    import json

    from autograd_compare import naming

    assert set(ex_mod.TARGETS) == set(naming.WEIGHT_NAMES) | set(naming.NODE_NAMES)
    assert main(["explain", "--weight", name, "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    step = data["steps"][-1]
    assert step["name"] == name and step["gradient"] == f"∂E_total/∂{name}"
    gold = golden.class_example()
    expected = gold["dw"][int(name[1]) - 1] if name.startswith("w") else gold["dnode"][name]
    assert_close(step["value"], expected, rtol=4e-16, atol=1e-19, what=name)
    assert all(b["rel_diff"] <= 8e-16 for b in step["backends"].values()), step["backends"]
    assert data["weights"]["w8"] == 0.55 and data["lr"] == 0.5


def test_float32_is_computed_in_float32():
    w32 = np.float32
    ex = explain(W, EX, 0.5, "w5", "float32")
    step = ex.steps[0]
    assert all(isinstance(f.value, np.float32) for f in step.terms[0].factors)
    assert isinstance(step.value, np.float32)
    a, b, c = (f.value for f in step.terms[0].factors)
    assert step.value == (a * b) * c  # the product in float32, left to right
    lr, old, new = step.update
    assert isinstance(new, np.float32) and new == w32(old) - w32(lr) * step.value
    # no spurious 4e-8 "differences": the frameworks agree to a float32 rounding or two
    for s in explain(W, EX, 0.5, None, "float32").steps:
        for label, v in s.backends.items():
            rel = abs(v - float(s.value)) / abs(float(s.value))
            assert rel <= 2 * float(np.finfo(np.float32).eps), (s.name, label, rel)


def test_prove_counts_in_words(capsys):
    from autograd_compare.teach import prove

    one = prove.Verdict("w5", True, "0", 0.0)
    bad = prove.Verdict("w6", False, "x", 1.0)
    assert prove.render([one]).endswith("the 1 formula proved identical to SymPy's derivative")
    assert prove.render([one, one]).endswith("all 2 formulas proved identical to SymPy's "
                                             "derivatives")
    assert prove.render([bad]).endswith("1 of 1 formula is WRONG: w6")
    assert prove.render([one, bad]).endswith("1 of 2 formulas is WRONG: w6")
    assert main(["explain", "--prove", "--weight", "h2"]) == 0
    assert "the 1 formula proved" in capsys.readouterr().out


def test_errata_list_and_its_checks(capsys):
    import json

    assert main(["explain", "--errata"]) == 0
    text = capsys.readouterr().out
    assert "tutorial:  ∂E_total/∂a_h1 = ∂E_1/∂a_h1 + ∂E_1/∂a_h2" in text
    assert "corrected: ∂E_total/∂a_h1 = ∂E_1/∂a_h1 + ∂E_2/∂a_h1" in text
    assert "a_0_1" in text and "propogation" in text
    assert main(["explain", "--errata", "--format", "json"]) == 0
    items = json.loads(capsys.readouterr().out)
    assert len(items) == 9 and set(items[0]) == {"where", "wrong", "right", "check"}
    # the corrected sum is the golden dE_total/da_h1; the typo's sum is not
    gold = golden.class_example()["dnode"]["a_h1"]
    check = items[0]["check"]
    right, typo = (float(x) for x in re.findall(r"is (\d\.\d+)", check)[:2])
    assert_close(right, gold, rtol=1e-9)
    assert abs(typo - gold) > 0.1 * gold
