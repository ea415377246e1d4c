"""The loss as a pure function of a parameter pytree, for use inside ordinary JAX code.

    params = {"hidden": W_hidden (2, 2) = [[w1, w2], [w3, w4]],    h = W_hidden @ [i1, i2]
              "output": W_output (2, 2) = [[w5, w6], [w7, w8]]}    o = W_output @ [a_h1, a_h2]

Nothing here is jitted or converted: `loss` composes with `jax.jit`, `jax.vmap`, `jax.grad`,
`jax.hessian` like any JAX function, in whatever precision the caller's JAX runs.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

Params = dict  # {"hidden": (2, 2), "output": (2, 2)}, (out, in) layout like torch.nn.Linear


def from_weights(w) -> Params:
    """w1..w8 (8,) -> params; the inverse of `to_weights`."""
    w = jnp.asarray(w)
    return {"hidden": w[0:4].reshape(2, 2), "output": w[4:8].reshape(2, 2)}


def to_weights(params: Params):
    """params -> w1..w8 (8,), row-major: hidden [[w1, w2], [w3, w4]] then output."""
    return jnp.concatenate([params["hidden"].reshape(4), params["output"].reshape(4)])


def forward(params: Params, inputs):
    """Layer by layer: inputs (2,) -> a_o (2,) (a_o1, a_o2)."""
    a_h = jax.nn.sigmoid(params["hidden"] @ inputs)  # a_h = σ(W_hidden @ i)
    return jax.nn.sigmoid(params["output"] @ a_h)  # a_o = σ(W_output @ a_h)


def loss(params: Params, inputs, targets):
    """E_total = ½Σ(t - a_o)²; ``inputs``, ``targets``: (2,). Returns a () array."""
    return 0.5 * jnp.sum((targets - forward(params, inputs)) ** 2)
