"""The loss as a pure function of a parameter pytree, for use inside ordinary JAX code.

    params = {"hidden": W_hidden (2, 2) = [[w1, w2], [w3, w4]],    h = W_hidden @ [i1, i2]
              "output": W_output (2, 2) = [[w5, w6], [w7, w8]]}    o = W_output @ [a_h1, a_h2]

This is the ONE parameter convention of the JAX interop: `loss` here and `custom_vjp.loss`
(hand-written backward) both take ``(params, inputs, targets)`` for one example, inputs and
targets of shape (2,). For a batch of examples, vmap over them:

    jax.vmap(loss, in_axes=(None, 0, 0))(params, inputs_B2, targets_B2)  # (B,) losses

Nothing here is jitted or converted: `loss` composes with `jax.jit`, `jax.vmap`, `jax.grad`,
`jax.hessian` like any JAX function, in whatever precision the caller's JAX runs.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from autograd_compare.errors import InputError

Params = dict  # {"hidden": (2, 2), "output": (2, 2)}, (out, in) layout like torch.nn.Linear
LAYERS = ("hidden", "output")


def from_weights(w: Any) -> Params:
    """w1..w8 (8,) -> params; the inverse of `to_weights`.

    Raises:
        InputError: ``w`` is not 8 numbers (nothing is dropped or padded).
    """
    w = jnp.asarray(w)
    if w.shape != (8,):
        raise InputError(f"expected 8 weights w1..w8 of shape (8,); got shape {w.shape}")
    return {"hidden": w[0:4].reshape(2, 2), "output": w[4:8].reshape(2, 2)}


def to_weights(params: Params) -> jax.Array:
    """params -> w1..w8 (8,), row-major: hidden [[w1, w2], [w3, w4]] then output."""
    check(params)
    return jnp.concatenate([jnp.ravel(params["hidden"]), jnp.ravel(params["output"])])


def check(params: Any, inputs: Any = None, targets: Any = None) -> None:
    """Refuse anything but {"hidden": (2, 2), "output": (2, 2)} and one example (2,), (2,)
    with a one-line InputError (shapes are static, so this also works under jit and vmap)."""
    if not isinstance(params, dict) or set(params) != set(LAYERS):
        got = sorted(params) if isinstance(params, dict) else type(params).__name__
        raise InputError(f"params must be a dict with keys 'hidden' and 'output'; got {got}")
    for name in LAYERS:
        shape = jnp.shape(params[name])
        if shape != (2, 2):
            raise InputError(f"params[{name!r}] must have shape (2, 2); got {shape}")
    for what, x in (("inputs", inputs), ("targets", targets)):
        if x is not None and jnp.shape(x) != (2,):
            raise InputError(f"{what} must have shape (2,) (one example; for a batch use "
                             f"jax.vmap(loss, in_axes=(None, 0, 0))); got {jnp.shape(x)}")


def forward(params: Params, inputs: Any) -> jax.Array:
    """Layer by layer: inputs (2,) -> a_o (2,) (a_o1, a_o2)."""
    a_h = jax.nn.sigmoid(params["hidden"] @ inputs)  # a_h = σ(W_hidden @ i)
    return jax.nn.sigmoid(params["output"] @ a_h)  # a_o = σ(W_output @ a_h)


def loss(params: Params, inputs: Any, targets: Any) -> jax.Array:
    """E_total = ½Σ(t - a_o)² for one example; ``inputs``, ``targets``: (2,). Returns ()."""
    check(params, inputs, targets)
    return 0.5 * jnp.sum((targets - forward(params, inputs)) ** 2)
