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

# mistake -> (the check that catches it first and what it names there, the training's first
# divergence at lr 0.5, the gradient check's first wrong gradient at the start) on the one
# pipeline (`optim_check.sweep` on the tutorial preset)
WHERE = {
    "no-sigmoid-derivative": ("gradient", "dE_total/do1", "dw1 at step 1", "dE_total/do1"),
    "update-sign": ("step", "w1 after step 1", "w1 after step 1", None),
    "updated-weights-in-hidden": ("step", "dw1 at step 1", "dw1 at step 1", None),
    "mean-loss": ("gradient", "dE_total/da_o1", "E_total at step 1", "dE_total/da_o1"),
    "missing-e2-path": ("gradient", "dE_total/da_h1", "dw1 at step 1", "dE_total/da_h1"),
    "swapped-weights": ("gradient", "dE_total/da_o1", "E_total at step 1", "dE_total/da_o1"),
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
def test_the_one_pipeline_catches_each_mistake_and_names_where(name):
    from autograd_compare import network, optimizers
    from autograd_compare.harness import optim_check

    p = network.preset("tutorial")
    backend = f"mistake:{name}"
    s = optim_check.sweep("preset tutorial", optimizers.make("sgd", lr=0.5),
                          ["manual", backend], p.network, p.weights, p.data, (0.5,), 3)
    assert s.ok is False and s.undetected == ()
    check, where, trained, gradient = WHERE[name]
    first = s.first_divergence
    assert (first["backend"], first["check"]) == (backend, check)
    assert first["quantity" if check == "gradient" else "label"] == where
    assert s.rates[0].failed(backend).label == trained
    wrong = s.gradcheck.first_failure
    if gradient is None:  # a mistake in the training loop: its gradients are manual's
        assert wrong is None
    else:
        assert (wrong["backend"], wrong["quantity"]) == (backend, gradient)
