"""The catalogue of common mistakes: each one is wrong in one place, and the harness says where."""

from __future__ import annotations

import numpy as np
import pytest

from autograd_compare import CLASS_WEIGHTS, get_backend
from autograd_compare.errors import InputError
from autograd_compare.interface import Example, RawBackend
from autograd_compare.manual import gradients as right
from autograd_compare.manual.mistakes import MISTAKES, make
from autograd_compare.manual.network import forward_values
from tests.helpers import assert_close

EX = Example(np.array([0.05, 0.1]), np.array([0.5, 0.5]))
W = np.array(CLASS_WEIGHTS)

# mistake -> (first divergence in training: step, quantity; first wrong gradient at the start)
WHERE = {
    "no-sigmoid-derivative": (0, "dw1", "dE_total/do1"),
    "update-sign": (0, "w1 after the update", None),
    "updated-weights-in-hidden": (0, "dw1", None),
    "mean-loss": (0, "E_total", "dE_total/da_o1"),
    "missing-e2-path": (0, "dw1", "dE_total/da_h1"),
    "swapped-weights": (0, "h1", "dE_total/da_o1"),
}


def test_catalogue_has_the_six_mistakes_of_the_issue():
    assert set(MISTAKES) == set(WHERE)
    for name, m in MISTAKES.items():
        assert m.name == name and m.description and "\n" not in m.description
        b = m.make(np.dtype("float64"))
        assert isinstance(b, RawBackend) and b.name == f"mistake:{name}"


def test_unknown_mistake_names_the_known_ones():
    with pytest.raises(InputError, match="unknown mistake 'typo'.*mistake:update-sign"):
        make("typo", "float64")
    with pytest.raises(InputError, match="mistake:no-sigmoid-derivative"):
        get_backend("mistake:typo")


@pytest.mark.parametrize("name", ["no-sigmoid-derivative", "mean-loss", "missing-e2-path",
                                  "swapped-weights"])
def test_formula_mistakes_have_wrong_weight_gradients(name):
    v = forward_values(W, EX)
    wrong = MISTAKES[name].weight_gradients(v, W, EX)
    assert wrong.shape == (8,)
    assert np.max(np.abs(wrong - right.weight_gradients(v, W, EX))) > 1e-5


def test_formula_mistakes_are_wrong_only_where_they_say():
    v = forward_values(W, EX)
    good = right.weight_gradients(v, W, EX)
    diff = lambda name: ~np.isclose(MISTAKES[name].weight_gradients(v, W, EX), good,  # noqa: E731
                                    rtol=1e-14, atol=0)
    assert diff("missing-e2-path").tolist() == [True, True] + [False] * 6  # dw1, dw2 via a_h1
    assert diff("swapped-weights").tolist() == [False, True, True] + [False] * 5
    assert diff("no-sigmoid-derivative").all() and diff("mean-loss").all()
    assert_close(MISTAKES["mean-loss"].weight_gradients(v, W, EX), good / 2, rtol=1e-15)


def test_loop_mistakes_keep_the_right_formulas():
    for name in ("update-sign", "updated-weights-in-hidden"):
        assert MISTAKES[name].weight_gradients is None
        g, ok = get_backend(f"mistake:{name}").gradients(W), get_backend("manual").gradients(W)
        for got, expected in zip(g, ok, strict=True):
            assert_close(got, expected, rtol=0, what=name)


def test_weight_gradients_run_on_sympy_symbols():
    import sympy as sp
    w = np.array(sp.symbols("w1:9"), dtype=object)
    a = dict(zip(("a_h1", "a_h2", "a_o1", "a_o2"), sp.symbols("a_h1 a_h2 a_o1 a_o2")))
    ex = Example(np.array(sp.symbols("i1 i2"), dtype=object),
                 np.array(sp.symbols("t1 t2"), dtype=object))
    dw = MISTAKES["missing-e2-path"].weight_gradients(a, w, ex)
    a_o1, t1, a_h1, i1 = a["a_o1"], ex.targets[0], a["a_h1"], ex.inputs[0]
    expected = (a_o1 - t1) * a_o1 * (1 - a_o1) * w[4] * a_h1 * (1 - a_h1) * i1
    assert sp.simplify(dw[0] - expected) == 0


@pytest.mark.parametrize("name", list(MISTAKES))
def test_main_job_catches_each_mistake_and_names_where(name, tmp_path, capsys, monkeypatch):
    from autograd_compare.commands.cli import main
    from autograd_compare.report import plots

    monkeypatch.setattr(plots, "save_all", lambda folder, results: [])  # plots: test_report

    code = main(["--backends", f"manual,mistake:{name}", "--lrs", "0.5", "--steps", "3",
                 "--out", str(tmp_path / "rep"), "--json"])
    import json

    result = json.loads(capsys.readouterr().out)
    assert code == 1 and result["ok"] is False
    step, quantity, grad = WHERE[name]
    first = result["trajectories"][0]["first_divergence"]
    assert (first["backend"], first["step"], first["quantity"]) == (f"mistake:{name}", step,
                                                                    quantity)
    assert result["gradcheck"]["first_failures"].get(f"mistake:{name}", {}).get("quantity") \
        == grad
