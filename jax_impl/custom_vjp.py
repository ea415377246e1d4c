"""E_total as a `jax.custom_vjp` whose backward pass is the tutorial's hand-derived formulas.

The forward pass is `network.forward_values`; the backward pass below never calls autodiff.
``loss`` can be used inside any JAX program; `jax.test_util.check_grads` verifies it (tests).
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from autograd_compare.interface import Example
from autograd_compare.jax_impl.network import forward_values


def sigmoid_slope(a):
    """σ'(x) written in terms of a = σ(x): a * (1 - a)."""
    return a * (1 - a)


def forward(w, example: Example):
    """Primal output E_total and the residuals the backward pass needs."""
    v = forward_values(w, example)
    return v["E_total"], (w, example, v["a_h1"], v["a_h2"], v["a_o1"], v["a_o2"])


def backward(residuals, g, slope: Callable = sigmoid_slope):
    """The chain rule by hand: cotangent g of E_total -> (g * dE/dw (8,), g * dE/d(example)).

    ``slope`` is σ' in terms of σ; tests swap it to show that a wrong backward is caught.
    """
    w, example, a_h1, a_h2, a_o1, a_o2 = residuals
    w1, w2, w3, w4, w5, w6, w7, w8 = w
    (i1, i2), (t1, t2) = example
    dE_do1 = (a_o1 - t1) * slope(a_o1)  # ∂E1/∂a_o1 * ∂a_o1/∂o1
    dE_do2 = (a_o2 - t2) * slope(a_o2)
    dE_dh1 = (dE_do1 * w5 + dE_do2 * w7) * slope(a_h1)  # (∂E1/∂a_h1 + ∂E2/∂a_h1) * ∂a_h1/∂h1
    dE_dh2 = (dE_do1 * w6 + dE_do2 * w8) * slope(a_h2)
    dw = jnp.stack([dE_dh1 * i1, dE_dh1 * i2, dE_dh2 * i1, dE_dh2 * i2,  # dw1..dw4
                    dE_do1 * a_h1, dE_do1 * a_h2, dE_do2 * a_h1, dE_do2 * a_h2])  # dw5..dw8
    d_inputs = jnp.stack([dE_dh1 * w1 + dE_dh2 * w3, dE_dh1 * w2 + dE_dh2 * w4])  # dE/di1, di2
    d_targets = jnp.stack([t1 - a_o1, t2 - a_o2])  # dE/dt1 = -(a_o1 - t1)
    like_example = jax.tree.structure(example)  # an Example or a plain (inputs, targets)
    return g * dw, jax.tree.unflatten(like_example, [g * d_inputs, g * d_targets])


def make_loss(bwd: Callable = backward) -> Callable:
    """E_total(w (8,), example) with `forward` as primal and ``bwd`` as its VJP."""
    loss = jax.custom_vjp(lambda w, example: forward(w, example)[0])
    loss.defvjp(forward, bwd)
    return loss


loss = make_loss()  # the one to use: hand-derived backward
