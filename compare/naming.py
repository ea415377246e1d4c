"""Presentation names in the tutorial's notation, in graph order.

The only place that spells out the per-neuron names; the harness works on arrays and asks here
what to call column j.
"""

from __future__ import annotations

import numpy as np

from autograd_compare.interface import N_WEIGHTS, Forward, Gradients

# forward quantities in graph order: inputs -> hidden -> outputs -> errors
NODES = ("h1", "h2", "a_h1", "a_h2", "o1", "o2", "a_o1", "a_o2", "E1", "E2", "E_total")
HIDDEN_AND_OUTPUT = NODES[:8]  # the nodes a gradient dE_total/d(node) exists for
WEIGHTS = tuple(f"w{j}" for j in range(1, N_WEIGHTS + 1))
GRADS = tuple(f"d{name}" for name in WEIGHTS)  # dw1..dw8 = dE_total/dw1..dE_total/dw8

# the order in which the chain rule computes node gradients: from E_total back to h1, h2
BACKWARD_ORDER = ("a_o1", "a_o2", "o1", "o2", "a_h1", "a_h2", "h1", "h2")


def node_values(f: Forward) -> np.ndarray:
    """`Forward` -> (11,) in the order of `NODES`."""
    return np.concatenate([f.h, f.a_h, f.o, f.a_o, f.E, np.reshape(f.E_total, (1,))])


def node_gradients(g: Gradients) -> dict[str, float]:
    """`Gradients` -> {"h1": dE_total/dh1, ..., "a_o2": dE_total/da_o2}."""
    values = np.concatenate([g.h, g.a_h, g.o, g.a_o])
    return dict(zip(HIDDEN_AND_OUTPUT, values.tolist(), strict=True))


def gradient_label(name: str) -> str:
    """ "h1" -> "dE_total/dh1", "dw5" -> "dE_total/dw5" (how the tutorial writes them)."""
    return f"dE_total/{name}" if name.startswith("dw") else f"dE_total/d{name}"
