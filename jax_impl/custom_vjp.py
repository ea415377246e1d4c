"""E_total as a `jax.custom_vjp` whose backward pass is the tutorial's hand-derived formulas.

Same convention as `pytree.loss`: ``loss(params, inputs, targets)`` with ``params`` =
{"hidden": (2, 2), "output": (2, 2)} and one example (2,), (2,); vmap over examples for a batch.
The forward pass is `mlp.forward_values` on the tutorial's network; the backward pass below
never calls autodiff, and returns cotangents for the params (same pytree), the inputs and the
targets.
`jax.test_util.check_grads` verifies it to second order (tests).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from autograd_compare.jax_impl import mlp, pytree
from autograd_compare.network import TUTORIAL


def sigmoid_slope(a: jax.Array) -> jax.Array:
    """σ'(x) written in terms of a = σ(x): a * (1 - a)."""
    return a * (1 - a)


def forward(params: pytree.Params, inputs: Any, targets: Any) -> tuple[jax.Array, tuple]:
    """Primal output E_total and the residuals the backward pass needs."""
    pytree.check(params, inputs, targets)
    w = pytree.to_weights(params)
    _, (a_h, a_o), _, E_total = mlp.forward_values(TUTORIAL, w, inputs, targets)
    return E_total, (w, inputs, targets, a_h[0], a_h[1], a_o[0], a_o[1])


def backward(residuals: tuple, g: jax.Array, slope: Callable = sigmoid_slope) -> tuple:
    """The chain rule by hand: cotangent g of E_total -> g * (dE/dparams, dE/dinputs, dE/dtargets).

    ``slope`` is σ' in terms of σ; tests swap it to show that a wrong backward is caught.
    """
    w, inputs, targets, a_h1, a_h2, a_o1, a_o2 = residuals
    w1, w2, w3, w4, w5, w6, w7, w8 = w
    i1, i2 = inputs
    t1, t2 = targets
    dE_do1 = (a_o1 - t1) * slope(a_o1)  # ∂E1/∂a_o1 * ∂a_o1/∂o1
    dE_do2 = (a_o2 - t2) * slope(a_o2)
    dE_dh1 = (dE_do1 * w5 + dE_do2 * w7) * slope(a_h1)  # (∂E1/∂a_h1 + ∂E2/∂a_h1) * ∂a_h1/∂h1
    dE_dh2 = (dE_do1 * w6 + dE_do2 * w8) * slope(a_h2)
    dw = jnp.stack([dE_dh1 * i1, dE_dh1 * i2, dE_dh2 * i1, dE_dh2 * i2,  # dw1..dw4
                    dE_do1 * a_h1, dE_do1 * a_h2, dE_do2 * a_h1, dE_do2 * a_h2])  # dw5..dw8
    d_inputs = jnp.stack([dE_dh1 * w1 + dE_dh2 * w3, dE_dh1 * w2 + dE_dh2 * w4])  # dE/di1, di2
    d_targets = jnp.stack([t1 - a_o1, t2 - a_o2])  # dE/dt1 = -(a_o1 - t1)
    return pytree.from_weights(g * dw), g * d_inputs, g * d_targets


def make_loss(bwd: Callable = backward) -> Callable:
    """E_total(params, inputs, targets) with `forward` as primal and ``bwd`` as its VJP."""
    loss = jax.custom_vjp(lambda params, inputs, targets: forward(params, inputs, targets)[0])
    loss.defvjp(forward, bwd)
    return loss


loss = make_loss()  # the one to use: hand-derived backward
