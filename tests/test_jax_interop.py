"""The network inside ordinary JAX code: a parameter pytree, and a hand-written custom_vjp.

Every test runs under ``jax.enable_x64(True)``, as a user wanting float64 would.
Tolerances: values and gradients against the manual backend at 4 eps64 (the same chain of
roundings in another order, matrix products instead of scalar lines); the Hessian against
central differences of the hand-derived gradient, h = 1e-6, whose truncation error is
~h² |d³g| ≈ 1e-12 and rounding error ~eps·|g|/h ≈ 1e-11, hence 1e-8 absolute.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from autograd_compare.interface import CLASS_INPUTS, CLASS_TARGETS, CLASS_WEIGHTS, Example
from autograd_compare.jax_impl import custom_vjp, pytree
from autograd_compare.registry import get_backend
from tests.helpers import EPS64, assert_close

RTOL = 4 * EPS64
W = np.array(CLASS_WEIGHTS)
EX = Example(np.array(CLASS_INPUTS), np.array(CLASS_TARGETS))


@pytest.fixture(autouse=True)
def x64():
    with jax.enable_x64(True):
        yield


@pytest.fixture(scope="module")
def manual():
    return get_backend("manual", "float64")


def test_pytree_layout_round_trip():
    params = pytree.from_weights(W)
    assert_close(params["hidden"][1, 0], 0.25, 0, what="W_hidden[1, 0] is w3")
    assert_close(params["output"][0, 1], 0.45, 0, what="W_output[0, 1] is w6")
    assert_close(pytree.to_weights(params), W, 0, what="to_weights(from_weights(w))")


def test_pytree_loss_under_jit(manual):
    got = jax.jit(pytree.loss)(pytree.from_weights(W), EX.inputs, EX.targets)
    assert got.dtype == jnp.float64
    assert_close(got, manual.forward(W).E_total, RTOL, what="E_total")


def test_pytree_grad_is_the_weight_gradient(manual):
    grads = jax.grad(pytree.loss)(pytree.from_weights(W), EX.inputs, EX.targets)
    assert set(grads) == {"hidden", "output"}
    assert_close(pytree.to_weights(grads), manual.gradients(W).w, RTOL, what="dE_total/dw")


def test_pytree_vmap_over_stacked_params(manual):
    ws = W + np.linspace(-0.5, 0.5, 5)[:, None]
    stacked = jax.vmap(pytree.from_weights)(ws)
    assert stacked["hidden"].shape == (5, 2, 2)
    got = jax.vmap(pytree.loss, in_axes=(0, None, None))(stacked, EX.inputs, EX.targets)
    want = [manual.forward(w).E_total for w in ws]
    assert_close(got, want, RTOL, what="E_total per stacked network")


def test_pytree_hessian_matches_differences_of_hand_gradient(manual):
    def flat_loss(w):
        return pytree.loss(pytree.from_weights(w), EX.inputs, EX.targets)

    nested = jax.jit(jax.hessian(pytree.loss))(pytree.from_weights(W), EX.inputs, EX.targets)
    assert nested["hidden"]["output"].shape == (2, 2, 2, 2)
    hess = np.asarray(jax.jit(jax.hessian(flat_loss))(jnp.asarray(W)))
    h = 1e-6
    steps = np.eye(8) * h
    diffs = np.stack([(manual.gradients(W + s).w - manual.gradients(W - s).w) / (2 * h)
                      for s in steps])
    assert_close(hess, diffs, 0, atol=1e-8, what="Hessian vs central differences")
    assert_close(hess, hess.T, 0, atol=1e-15, what="Hessian symmetry")
    by_block = nested["hidden"]["output"].reshape(4, 4)  # d²E/d(w1..w4)d(w5..w8)
    assert_close(by_block, hess[:4, 4:], RTOL, what="pytree Hessian block")


def test_custom_vjp_gradient_is_the_hand_formula(manual):
    w = jnp.asarray(W)
    dw, dex = jax.jit(jax.grad(custom_vjp.loss, argnums=(0, 1)))(w, EX)
    assert_close(dw, manual.gradients(W).w, RTOL, what="custom_vjp dE_total/dw")
    assert_close(custom_vjp.loss(w, EX), manual.forward(W).E_total, RTOL, what="E_total")
    autodiff = jax.grad(lambda ex: pytree.loss(pytree.from_weights(W), *ex))(EX)
    assert_close(dex.inputs, autodiff[0], RTOL, what="dE_total/d(i1, i2)")
    assert_close(dex.targets, autodiff[1], RTOL, what="dE_total/d(t1, t2)")


@pytest.mark.parametrize("w", [W, -3 * W[::-1]])
def test_custom_vjp_passes_check_grads(w):
    check_grads(custom_vjp.loss, (jnp.asarray(w), EX), order=1, modes=["rev"])


def test_custom_vjp_works_under_vmap():
    ws = jnp.asarray(W + np.linspace(-0.5, 0.5, 3)[:, None])
    grad = jax.grad(custom_vjp.loss)
    got = jax.jit(jax.vmap(grad, in_axes=(0, None)))(ws, EX)
    want = jnp.stack([jax.jit(grad)(w, EX) for w in ws])
    assert_close(got, want, RTOL, what="vmap(grad)")


def test_check_grads_catches_a_dropped_sigmoid_derivative():
    wrong = custom_vjp.make_loss(partial(custom_vjp.backward, slope=lambda a: jnp.ones_like(a)))
    with pytest.raises(AssertionError):
        check_grads(wrong, (jnp.asarray(W), EX), order=1, modes=["rev"])
