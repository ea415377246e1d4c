"""Gradient check: the references against 50-digit golden values, the verdicts, the ULPs."""

from __future__ import annotations

import numpy as np
import pytest

from autograd_compare import get_backend, naming
from autograd_compare.harness import gradcheck, tolerances
from autograd_compare.interface import CLASS_WEIGHTS, Example
from tests import golden
from tests.helpers import EPS64, ulps

EX = Example(np.array(golden.CLASS_I), np.array(golden.CLASS_T))
W = np.array(CLASS_WEIGHTS)


def _golden(q: str) -> float:
    g = golden.class_example("float64")
    grads = naming.WEIGHT_GRAD_NAMES
    return g["dw"][grads.index(q)] if q in grads else g["dnode"][q]


def test_complex_step_matches_golden_within_a_few_ulps():
    refs = gradcheck.references(W, EX)
    assert set(refs) == set(naming.WEIGHT_GRAD_NAMES) | set(naming.NODE_NAMES)
    for q, (cs, _, _) in refs.items():
        assert ulps(cs, np.float64(_golden(q))) <= 4, (q, cs, _golden(q))


def test_central_difference_matches_golden_within_its_own_error():
    for q, (_, fd, h) in gradcheck.references(W, EX).items():
        assert h >= EPS64 ** (1 / 3)  # cbrt(eps) * max(1, |x|)
        assert abs(fd - _golden(q)) <= tolerances.FD_RTOL * 0.2, q  # 0.2 > every |gradient|


def test_dw5_is_the_tutorials_formula_number():
    # dE_total/dw5 = (a_o1 - t1) * a_o1 * (1 - a_o1) * a_h1 at the class example (50 digits)
    cs = gradcheck.references(W, EX)["dw5"][0]
    assert abs(cs - 0.012880818631628246) <= 2 * np.spacing(0.0128808)


def test_tolerances_are_the_documented_multiples_of_eps():
    assert tolerances.step_rtol("float64") == pytest.approx(120 * EPS64, rel=1e-12)
    assert tolerances.step_rtol("float32") == pytest.approx(120 * 2.0 ** -23, rel=1e-12)
    tol = tolerances.trajectory_tolerance("float64", np.array([[0], [99]]), np.array([1.0, 2]))
    assert tol.shape == (2, 2)
    assert tol[1, 1] == pytest.approx(120 * EPS64 * 100 * 2, rel=1e-12)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_every_real_backend_passes(dtype):
    names = ["manual", "torch", "jax"]
    dt = np.dtype(dtype)
    ex = Example(EX.inputs.astype(dt), EX.targets.astype(dt))
    result = gradcheck.check([get_backend(n, dt) for n in names], W.astype(dt), ex)
    assert result.ok and result.first_failure is None and result.first_failures == {}
    assert [r.label for r in result.rows][:3] == ["dE_total/da_o1", "dE_total/da_o2",
                                                  "dE_total/do1"]
    worst = max(r.backends[n].ulps for r in result.rows for n in names)
    assert worst <= 16  # a few ULPs of the backend's dtype, as the tolerance reasons


def test_a_backend_off_by_one_percent_in_one_gradient_fails_there():
    manual = get_backend("manual")

    def gradients(w, example=None):
        g = manual.gradients(w, example)
        return g._replace(o=g.o * np.array([1.0, 1.01]))  # dE_total/do2 one percent off

    bad = manual._replace(name="bad", gradients=gradients)
    result = gradcheck.check([manual, bad], W, EX)
    assert not result.ok
    assert result.first_failure.backend == "bad"
    assert result.first_failure.quantity == "dE_total/do2"
    row = next(r for r in result.rows if r.quantity == "o2")
    assert row.backends["bad"].rel_error == pytest.approx(0.01, rel=1e-9)
    assert row.backends["manual"].ok


def test_a_nan_gradient_fails():
    manual = get_backend("manual")
    nan = manual._replace(name="nan", gradients=lambda w, ex=None: manual.gradients(w, ex)
                          ._replace(w=np.full(8, np.nan)))
    result = gradcheck.check([nan], W, EX)
    assert not result.ok and result.first_failure.quantity == "dE_total/dw5"
