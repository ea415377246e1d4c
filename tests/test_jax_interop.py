"""The network inside ordinary JAX code: a parameter pytree, and a hand-written custom_vjp.

Every test runs under ``jax.enable_x64(True)``, as a user wanting float64 would.
Tolerances (measured, allowed <= 10x): values and gradients against the manual backend at
4 eps64 (the same chain of roundings in another order, matrix products instead of scalar
lines); the Hessian against central differences of the hand-derived gradient, h = 1e-6
(truncation ~h²|d³g| ≈ 1e-12, rounding ~eps·|g|/h ≈ 1e-11): measured 9.8e-12, allowed 1e-10;
its asymmetry and the custom_vjp's Hessian against autodiff's: both measured 0.58 eps of the
largest entry, allowed 4 eps of it.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from autograd_compare.errors import InputError
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
    assert_close(hess, diffs, 0, atol=1e-10, what="Hessian vs central differences")
    scale = np.abs(hess).max()
    assert_close(hess, hess.T, 0, atol=RTOL * scale, what="Hessian symmetry")
    by_hand = jax.hessian(lambda w: custom_vjp.loss(pytree.from_weights(w), *EX))(jnp.asarray(W))
    assert_close(by_hand, hess, 0, atol=RTOL * scale, what="custom_vjp Hessian (double backward)")
    by_block = nested["hidden"]["output"].reshape(4, 4)  # d²E/d(w1..w4)d(w5..w8)
    assert_close(by_block, hess[:4, 4:], RTOL, what="pytree Hessian block")


def test_one_convention_for_both_losses(manual):
    """pytree.loss and custom_vjp.loss: same arguments, same value, same gradient pytree."""
    params = pytree.from_weights(W)
    for loss in (pytree.loss, custom_vjp.loss):
        assert_close(loss(params, *EX), manual.forward(W).E_total, RTOL, what="E_total")
        grads = jax.jit(jax.grad(loss))(params, *EX)
        assert set(grads) == {"hidden", "output"} and grads["hidden"].shape == (2, 2)
        assert_close(pytree.to_weights(grads), manual.gradients(W).w, RTOL, what="dE/dw")


def test_custom_vjp_gradient_is_the_hand_formula(manual):
    params = pytree.from_weights(W)
    dp, di, dt = jax.jit(jax.grad(custom_vjp.loss, argnums=(0, 1, 2)))(params, *EX)
    assert_close(pytree.to_weights(dp), manual.gradients(W).w, RTOL, what="dE_total/dw")
    auto = jax.grad(pytree.loss, argnums=(1, 2))(params, *EX)
    assert_close(di, auto[0], RTOL, what="dE_total/d(i1, i2)")
    assert_close(dt, auto[1], RTOL, what="dE_total/d(t1, t2)")


@pytest.mark.parametrize("w", [W, -3 * W[::-1]])
def test_custom_vjp_passes_check_grads_to_second_order(w):
    check_grads(custom_vjp.loss, (pytree.from_weights(w), *EX), order=2, modes=["rev"])


def test_vmap_over_examples_for_both_losses():
    rng = np.random.default_rng(4)
    inputs, targets = rng.uniform(-1, 1, (5, 2)), rng.uniform(0, 1, (5, 2))
    params = pytree.from_weights(W)
    want = [get_backend("manual").forward(W, (i, t)).E_total for i, t in zip(inputs, targets)]
    for loss in (pytree.loss, custom_vjp.loss):
        per_example = jax.vmap(loss, in_axes=(None, 0, 0))(params, inputs, targets)
        assert per_example.shape == (5,)
        assert_close(per_example, want, RTOL, what="vmap over examples")
        def batch_mean(p, loss=loss):
            return jax.vmap(loss, in_axes=(None, 0, 0))(p, inputs, targets).mean()

        one_by_one = np.stack([pytree.to_weights(jax.grad(loss)(params, i, t))
                               for i, t in zip(inputs, targets, strict=True)])
        # a mean of terms of both signs: error relative to the largest term, not the result
        assert_close(pytree.to_weights(jax.grad(batch_mean)(params)), one_by_one.mean(axis=0),
                     0.0, atol=RTOL * np.abs(one_by_one).max(), what="gradient of the mean")


def test_custom_vjp_works_under_vmap_over_networks():
    stacked = jax.vmap(pytree.from_weights)(W + np.linspace(-0.5, 0.5, 3)[:, None])
    grad = jax.grad(custom_vjp.loss)
    got = jax.jit(jax.vmap(grad, in_axes=(0, None, None)))(stacked, *EX)
    for n in range(3):
        one = jax.jit(grad)(jax.tree.map(lambda x, n=n: x[n], stacked), *EX)
        assert_close(pytree.to_weights(jax.tree.map(lambda x, n=n: x[n], got)),
                     pytree.to_weights(one), RTOL, what="vmap(grad)")


def test_check_grads_catches_a_dropped_sigmoid_derivative():
    wrong = custom_vjp.make_loss(partial(custom_vjp.backward, slope=lambda a: jnp.ones_like(a)))
    with pytest.raises(AssertionError):
        check_grads(wrong, (pytree.from_weights(W), *EX), order=1, modes=["rev"])


@pytest.mark.parametrize(("call", "message"), [
    (lambda: pytree.from_weights(jnp.arange(9.0)), r"expected 8 weights .* got shape \(9,\)"),
    (lambda: pytree.from_weights(jnp.arange(7.0)), r"got shape \(7,\)"),
    (lambda: pytree.from_weights(jnp.ones((2, 4))), r"got shape \(2, 4\)"),
    (lambda: pytree.to_weights({"hidden": jnp.ones((2, 2))}), "keys 'hidden' and 'output'"),
    (lambda: pytree.loss({"hidden": jnp.ones((2, 3)), "output": jnp.ones((2, 2))}, *EX),
     r"params\['hidden'\] must have shape \(2, 2\); got \(2, 3\)"),
    (lambda: custom_vjp.loss(pytree.from_weights(W), jnp.ones((2, 2)), jnp.ones((2, 2))),
     r"inputs must have shape \(2,\) \(one example; for a batch use jax.vmap"),
    (lambda: jax.jit(pytree.loss)(pytree.from_weights(W), jnp.ones(3), EX.targets),
     r"inputs must have shape \(2,\)"),
])
def test_shape_errors_are_one_line_input_errors(call, message):
    with pytest.raises(InputError, match=message) as info:
        call()
    assert "\n" not in str(info.value)
