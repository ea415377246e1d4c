"""Backward pass: the tutorial's hand-derived chain rule, one line a formula. No autodiff.

`gradients` is `manual.mlp`'s kernel on the tutorial's own network and one example.
"""

from __future__ import annotations

import numpy as np

from autograd_compare.interface import Example
from autograd_compare.manual.network import forward_values
from autograd_compare.network import BackwardPass


def weight_gradients(v: dict, w, example: Example) -> np.ndarray:
    """dE_total/dw1..dw8 exactly as the tutorial writes them.

    Args:
        v: `forward_values` at ``w``. w: (8,) or (N, 8). example: i1, i2, t1, t2.

    Returns:
        (8,) or (N, 8): dw1..dw8.
    """
    w1, w2, w3, w4, w5, w6, w7, w8 = np.moveaxis(w, -1, 0)
    i1, i2 = example.inputs
    t1, t2 = example.targets
    a_h1, a_h2, a_o1, a_o2 = v["a_h1"], v["a_h2"], v["a_o1"], v["a_o2"]
    dw1 = ((a_o1 - t1) * a_o1 * (1 - a_o1) * w5 + (a_o2 - t2) * a_o2 * (1 - a_o2) * w7) * a_h1 * (1 - a_h1) * i1  # noqa: E501
    dw2 = ((a_o1 - t1) * a_o1 * (1 - a_o1) * w5 + (a_o2 - t2) * a_o2 * (1 - a_o2) * w7) * a_h1 * (1 - a_h1) * i2  # noqa: E501
    dw3 = ((a_o1 - t1) * a_o1 * (1 - a_o1) * w6 + (a_o2 - t2) * a_o2 * (1 - a_o2) * w8) * a_h2 * (1 - a_h2) * i1  # noqa: E501
    dw4 = ((a_o1 - t1) * a_o1 * (1 - a_o1) * w6 + (a_o2 - t2) * a_o2 * (1 - a_o2) * w8) * a_h2 * (1 - a_h2) * i2  # noqa: E501
    dw5 = (a_o1 - t1) * a_o1 * (1 - a_o1) * a_h1
    dw6 = (a_o1 - t1) * a_o1 * (1 - a_o1) * a_h2
    dw7 = (a_o2 - t2) * a_o2 * (1 - a_o2) * a_h1
    dw8 = (a_o2 - t2) * a_o2 * (1 - a_o2) * a_h2
    return np.stack([dw1, dw2, dw3, dw4, dw5, dw6, dw7, dw8], axis=-1)


def node_gradients(v: dict, w, example: Example) -> dict:
    """dE_total/d(node) for every intermediate node, by the same chain rule.

    Returns:
        dict "a_o1" -> dE_total/da_o1, ... "h2" -> dE_total/dh2; same shapes as ``v``.
    """
    w1, w2, w3, w4, w5, w6, w7, w8 = np.moveaxis(w, -1, 0)
    t1, t2 = example.targets
    a_h1, a_h2, a_o1, a_o2 = v["a_h1"], v["a_h2"], v["a_o1"], v["a_o2"]
    dE_da_o1 = a_o1 - t1  # ∂E1/∂a_o1
    dE_da_o2 = a_o2 - t2  # ∂E2/∂a_o2
    dE_do1 = (a_o1 - t1) * a_o1 * (1 - a_o1)  # ∂E1/∂a_o1 * ∂a_o1/∂o1
    dE_do2 = (a_o2 - t2) * a_o2 * (1 - a_o2)
    dE_da_h1 = (a_o1 - t1) * a_o1 * (1 - a_o1) * w5 + (a_o2 - t2) * a_o2 * (1 - a_o2) * w7
    dE_da_h2 = (a_o1 - t1) * a_o1 * (1 - a_o1) * w6 + (a_o2 - t2) * a_o2 * (1 - a_o2) * w8
    dE_dh1 = dE_da_h1 * a_h1 * (1 - a_h1)  # ∂E_total/∂a_h1 * ∂a_h1/∂h1
    dE_dh2 = dE_da_h2 * a_h2 * (1 - a_h2)
    return dict(h1=dE_dh1, h2=dE_dh2, a_h1=dE_da_h1, a_h2=dE_da_h2,
                o1=dE_do1, o2=dE_do2, a_o1=dE_da_o1, a_o2=dE_da_o2)


def gradients(w, example: Example) -> BackwardPass:
    """dE_total/dw (8,) and dE_total/d(node) for one network ``w`` (8,) on one example, as
    `manual.mlp` returns them: z = (h, o), a = (a_h, a_o), each (1, 2)."""
    v = forward_values(w, example)
    n = node_gradients(v, w, example)
    row = lambda a, b: np.stack([n[a], n[b]])[None]  # noqa: E731
    return BackwardPass(weight_gradients(v, w, example), (row("h1", "h2"), row("o1", "o2")),
                        (row("a_h1", "a_h2"), row("a_o1", "a_o2")))
