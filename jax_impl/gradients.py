"""Backward pass by `jax.grad` of the forward code in `network.py`. No hand formulas here."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from autograd_compare.interface import Example, Gradients
from autograd_compare.jax_impl.network import NO_NUDGE, forward_values, loss
from autograd_compare.jax_impl.precision import precision, to_numpy


def weight_gradients(w, example: Example):
    """dE_total/dw1..dw8 = `jax.grad` of E_total(w). ``w``: (8,) -> (8,)."""
    return jax.grad(loss)(w, example)


def node_gradients(w, example: Example) -> dict:
    """dE_total/d(node) for every node, as dE_total/dε at ε = 0 for ε added at that node.

    Returns:
        dict "h1" -> dE_total/dh1, ... "a_o2" -> dE_total/da_o2; each ().
    """
    zeros = {name: jnp.zeros((), w.dtype) for name in NO_NUDGE}
    return jax.grad(lambda ε: forward_values(w, example, ε)["E_total"])(zeros)


@jax.jit
def gradient_arrays(w, example: Example) -> tuple[jax.Array, ...]:
    """`Gradients`' fields in order, as JAX arrays (w: (8,); h, a_h, o, a_o: (2,)): the
    program `gradients` runs (and `train.train` maps over the steps to record them)."""
    n = node_gradients(w, example)
    pair = lambda a, b: jnp.stack([a, b])  # noqa: E731
    return (weight_gradients(w, example), pair(n["h1"], n["h2"]), pair(n["a_h1"], n["a_h2"]),
            pair(n["o1"], n["o2"]), pair(n["a_o1"], n["a_o2"]))


def gradients(w, example: Example) -> Gradients:
    """dE_total/dw (8,) and dE_total/d(node) (2,) each, for one network ``w`` (8,) NumPy."""
    with precision(w.dtype):
        out = gradient_arrays(w, example)
    return Gradients(*(to_numpy(x, w.dtype) for x in out))
