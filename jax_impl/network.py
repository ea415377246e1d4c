"""Forward pass, in the tutorial's notation, in jax.numpy. The only model code in this backend."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from autograd_compare.interface import Example, Forward
from autograd_compare.jax_impl.precision import precision, to_numpy
from autograd_compare.naming import NODE_NAMES

NO_NUDGE = dict.fromkeys(NODE_NAMES, 0.0)  # ε = 0 at every node: the plain forward pass


def sigmoid(x):
    """σ(x) = 1/(1 + exp(-x)) as `jax.nn.sigmoid`: exp(±1000) gives 0 or inf, σ gives 1 or 0."""
    return jax.nn.sigmoid(x)


def forward_values(w, example: Example, nudge: dict = NO_NUDGE) -> dict:
    """Every forward quantity by name (h1 ... E_total).

    Args:
        w: (8,) weights w1..w8 (use `jax.vmap` for batches).
        example: inputs (i1, i2) and targets (t1, t2).
        nudge: ε added to each node ("h1" ... "a_o2"); 0 except when `gradients.node_gradients`
            differentiates dE_total/dε = dE_total/d(node).

    Returns:
        dict name -> () array.
    """
    w1, w2, w3, w4, w5, w6, w7, w8 = w
    (i1, i2), (t1, t2) = example  # an Example or a plain (inputs, targets)
    ε = nudge
    h1 = w1 * i1 + w2 * i2 + ε["h1"]
    h2 = w3 * i1 + w4 * i2 + ε["h2"]
    a_h1 = sigmoid(h1) + ε["a_h1"]
    a_h2 = sigmoid(h2) + ε["a_h2"]
    o1 = w5 * a_h1 + w6 * a_h2 + ε["o1"]
    o2 = w7 * a_h1 + w8 * a_h2 + ε["o2"]
    a_o1 = sigmoid(o1) + ε["a_o1"]
    a_o2 = sigmoid(o2) + ε["a_o2"]
    E1 = 0.5 * (t1 - a_o1) ** 2
    E2 = 0.5 * (t2 - a_o2) ** 2
    E_total = E1 + E2
    return dict(h1=h1, h2=h2, a_h1=a_h1, a_h2=a_h2, o1=o1, o2=o2, a_o1=a_o1, a_o2=a_o2,
                E1=E1, E2=E2, E_total=E_total)


def loss(w, example: Example):
    """E_total at ``w`` (8,): the function every gradient in this backend differentiates."""
    return forward_values(w, example)["E_total"]


@jax.jit
def forward_arrays(w, example: Example) -> tuple[jax.Array, ...]:
    """`Forward`'s fields in order, as JAX arrays (h, a_h, o, a_o, E: (2,); E_total: ()): the
    program `forward` runs (and `train.train` maps over the steps to record them)."""
    v = forward_values(w, example)
    pair = lambda a, b: jnp.stack([a, b])  # noqa: E731
    return (pair(v["h1"], v["h2"]), pair(v["a_h1"], v["a_h2"]), pair(v["o1"], v["o2"]),
            pair(v["a_o1"], v["a_o2"]), pair(v["E1"], v["E2"]), v["E_total"])


def forward(w, example: Example) -> Forward:
    """Forward pass for one network: ``w`` (8,) NumPy -> `Forward` of NumPy arrays (2,), ()."""
    with precision(w.dtype):
        out = forward_arrays(w, example)
    return Forward(*(to_numpy(x, w.dtype) for x in out))
