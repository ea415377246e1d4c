"""Forward pass, in the tutorial's notation. Works on scalars and, unchanged, on batches.

`forward` is `manual.mlp`'s kernel on the tutorial's own network and one example.
"""

from __future__ import annotations

import numpy as np

from autograd_compare.interface import Example
from autograd_compare.network import ForwardPass


def sigmoid(x):
    """σ(x) = 1/(1 + exp(-x)), stable: exp(-|x|) <= 1 never overflows, whatever |x| is."""
    z = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + z), z / (1 + z))  # σ(-|x|) = z/(1+z)


def forward_values(w, example: Example) -> dict:
    """Every forward quantity by name (h1 ... E_total).

    Args:
        w: (8,) weights w1..w8, or (N, 8) for N networks at once.
        example: inputs (i1, i2) and targets (t1, t2).

    Returns:
        dict name -> value, each () for w of shape (8,) or (N,) for w of shape (N, 8).
    """
    w1, w2, w3, w4, w5, w6, w7, w8 = np.moveaxis(w, -1, 0)
    i1, i2 = example.inputs
    t1, t2 = example.targets
    h1 = w1 * i1 + w2 * i2
    h2 = w3 * i1 + w4 * i2
    a_h1 = sigmoid(h1)
    a_h2 = sigmoid(h2)
    o1 = w5 * a_h1 + w6 * a_h2
    o2 = w7 * a_h1 + w8 * a_h2
    a_o1 = sigmoid(o1)
    a_o2 = sigmoid(o2)
    E1 = 0.5 * np.square(t1 - a_o1)  # ½(t1 - a_o1)², squared as x*x like the batched path
    E2 = 0.5 * np.square(t2 - a_o2)  # ½(t2 - a_o2)²
    E_total = E1 + E2
    return dict(h1=h1, h2=h2, a_h1=a_h1, a_h2=a_h2, o1=o1, o2=o2, a_o1=a_o1, a_o2=a_o2,
                E1=E1, E2=E2, E_total=E_total)


def forward(w, example: Example) -> ForwardPass:
    """Forward pass for one network ``w`` (8,) on one example, as `manual.mlp` returns it:
    z = (h, o), a = (a_h, a_o), each (1, 2); the loss E_total as (1,) and ()."""
    v = forward_values(w, example)
    row = lambda a, b: np.stack([v[a], v[b]])[None]  # noqa: E731
    E_total = np.asarray(v["E_total"])
    return ForwardPass((row("h1", "h2"), row("o1", "o2")), (row("a_h1", "a_h2"),
                      row("a_o1", "a_o2")), E_total[None], E_total)
