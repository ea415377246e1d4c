"""Every backend against golden values derived independently in 50-digit arithmetic (golden.py).

Tolerances (relative, element-wise) and why:
- POINT, float64, 1e-15 (4.5 eps): a forward value or gradient at one point is a chain of at most
  ~15 correctly rounded operations whose errors partly cancel; the manual backend lands within
  0.74 eps. 1e-15 leaves room for FMA contraction and other exp() implementations, no more.
- POINT, float32, 32 eps32 = 3.8e-6: E1 = ½(t1 - a_o1)² amplifies a_o1's rounding by
  2|a_o1 / (t1 - a_o1)| ≈ 11 at the class example (cancellation), on top of ~3 ulps in a_o1.
- TRAJECTORY weights after `steps` updates: 4 eps per step (each update adds at most a few
  roundings, errors of earlier steps are carried, not amplified, near this minimum).
- TRAJECTORY loss: E_total = Σ ½ δ_j² with δ_j = t_j - a_o_j tiny near convergence, so its
  relative error is NOT small (cancellation): with a_o_j carrying relative error r, the error
  of E_total is at most r·Σ|δ_j|·|a_o_j|. That absolute bound is what is asserted, with r the
  weights' tolerance; 1e-15 relative would demand more than float64 can represent.
"""

from __future__ import annotations

import numpy as np
import pytest

import autograd_compare as ac
from autograd_compare import registry
from tests import golden
from tests.helpers import EPS32, EPS64, assert_close

POINT_RTOL = {"float64": 1e-15, "float32": 32 * EPS32}
STEP_RTOL = {"float64": 4 * EPS64, "float32": 4 * EPS32}
NODE_ORDER = ("h1", "h2", "a_h1", "a_h2", "o1", "o2", "a_o1", "a_o2")


@pytest.fixture(params=list(registry.REGISTRY))
def backend_name(request):
    """Every registered backend: a missing framework skips (a failure under CI=true), it is
    not silently left out of the parametrisation."""
    if request.param not in ac.backends():
        pytest.skip(f"backend {request.param!r}: framework not installed")
    return request.param


@pytest.fixture(params=["float64", "float32"])
def dtype(request):
    return request.param


def _forward_by_name(f: ac.Forward) -> dict:
    names = dict(h=("h1", "h2"), a_h=("a_h1", "a_h2"), o=("o1", "o2"), a_o=("a_o1", "a_o2"),
                 E=("E1", "E2"))
    out = {n: v for layer, pair in names.items() for n, v in zip(pair, getattr(f, layer))}
    return out | {"E_total": f.E_total}


def test_forward_values(backend_name, dtype):
    backend = ac.get_backend(backend_name, dtype)
    got = _forward_by_name(backend.forward(ac.CLASS_WEIGHTS))
    want = golden.class_example(dtype)["forward"]
    for name, value in want.items():
        assert_close(got[name], value, POINT_RTOL[dtype], what=f"{backend_name} {dtype} {name}")


def test_weight_gradients(backend_name, dtype):
    g = ac.get_backend(backend_name, dtype).gradients(ac.CLASS_WEIGHTS)
    assert_close(g.w, golden.class_example(dtype)["dw"], POINT_RTOL[dtype],
                 what=f"{backend_name} {dtype} dE_total/dw")


def test_node_gradients(backend_name, dtype):
    g = ac.get_backend(backend_name, dtype).gradients(ac.CLASS_WEIGHTS)
    got = np.concatenate([g.h, g.a_h, g.o, g.a_o])
    want = [golden.class_example(dtype)["dnode"][n] for n in NODE_ORDER]
    assert_close(got, want, POINT_RTOL[dtype], what=f"{backend_name} {dtype} dE_total/d(node)")


def test_one_step_at_lr_half(backend_name, dtype):
    t = ac.get_backend(backend_name, dtype).train(ac.CLASS_WEIGHTS, lr=0.5, steps=1)
    assert_close(t.weights[1], golden.trajectory(0.5, 1, dtype)["weights_after_1"],
                 POINT_RTOL[dtype], what=f"{backend_name} {dtype} weights after one step")


def test_a_recorded_step_at_lr_half(backend_name, dtype):
    """record=True: every node's value and gradient at the start and at the final weights.
    Row 1 lies at weights within POINT of the golden ones (test_one_step_at_lr_half), so it
    is allowed twice POINT."""
    t = ac.get_backend(backend_name, dtype).train(ac.CLASS_WEIGHTS, lr=0.5, steps=1, record=True)
    for k, want, rtol in ((0, golden.class_example(dtype), POINT_RTOL[dtype]),
                          (1, golden.after_one_step(0.5, dtype), 2 * POINT_RTOL[dtype])):
        what = f"{backend_name} {dtype} step {k}"
        assert_close(t.nodes[k], list(want["forward"].values()), rtol, what=what)
        assert_close(t.node_grads[k], [want["dnode"][n] for n in NODE_ORDER], rtol, what=what)
        assert_close(t.weight_grads[k], want["dw"], rtol, what=what)


@pytest.mark.parametrize("lr", golden.SWEEP)
def test_hundred_steps(backend_name, dtype, lr):
    backend = ac.get_backend(backend_name, dtype)
    t = backend.train(ac.CLASS_WEIGHTS, lr=lr, steps=100)
    want = golden.trajectory(lr, 100, dtype)
    r = 100 * STEP_RTOL[dtype]
    assert_close(t.weights[-1], want["weights_after"], r, what=f"{backend_name} lr={lr} weights")
    a_o = backend.forward(t.weights[-1]).a_o.astype(np.float64)
    delta = np.abs(np.asarray(ac.CLASS_TARGETS) - a_o)
    loss = backend.forward(t.weights[-1]).E_total
    assert_close(loss, want["loss_after"], 0.0, atol=r * float(np.sum(delta * a_o)),
                 what=f"{backend_name} lr={lr} E_total after 100 steps")


def test_headline_numbers_by_hand():
    """A few values anyone can check with a pocket calculator and the tutorial's formulas."""
    c = golden.class_example()
    assert_close(c["forward"]["h1"], 0.15 * 0.05 + 0.2 * 0.1, 1e-15)  # h1 = w1*i1 + w2*i2
    assert_close(c["forward"]["E_total"], 0.014181377937891657, 1e-15)
    assert_close(c["dw"][4], 0.01288081863162825, 1e-15)  # dw5
    # the 16 printed digits are the nearest float64 (measured 0): 1 eps allowed
    assert_close(golden.trajectory(2.0, 100)["loss_after"], 2.546799928456631e-08, EPS64)
