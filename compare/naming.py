"""Presentation names in the tutorial's notation: the one module that spells them.

Every tuple of quantity names lives here, one name per meaning; the harness, the report, the
teaching tools and the backends work on arrays and ask here what to call column j.
"""

from __future__ import annotations

import numpy as np

from autograd_compare.interface import N_WEIGHTS, Forward, Gradients

INPUT_NAMES, TARGET_NAMES = ("i1", "i2"), ("t1", "t2")
# w1..w8, the order of the flat weight vector (interface.py)
WEIGHT_NAMES = tuple(f"w{j}" for j in range(1, N_WEIGHTS + 1))
# dw1..dw8 = dE_total/dw1..dE_total/dw8, in the order of WEIGHT_NAMES
WEIGHT_GRAD_NAMES = tuple(f"d{name}" for name in WEIGHT_NAMES)
# every forward quantity, layer by layer (graph order): hidden -> outputs -> errors
FORWARD_NAMES = ("h1", "h2", "a_h1", "a_h2", "o1", "o2", "a_o1", "a_o2", "E1", "E2", "E_total")
# the same eleven quantities neuron by neuron, as the tutorial (and the spreadsheet) lists them
FORWARD_NAMES_BY_NEURON = ("h1", "a_h1", "h2", "a_h2", "o1", "a_o1", "o2", "a_o2",
                           "E1", "E2", "E_total")
# the hidden and output nodes, graph order: the ones a gradient dE_total/d(node) is reported for
NODE_NAMES = FORWARD_NAMES[:8]
# the same nodes in the order the chain rule computes their gradients: E_total back to h1, h2
NODE_NAMES_BACKWARD = ("a_o1", "a_o2", "o1", "o2", "a_h1", "a_h2", "h1", "h2")
# the order `autograd-compare explain` takes the tutorial's gradients in: output weights, the
# hidden activations the error reaches them through, input weights
EXPLANATION_ORDER = ("w5", "w6", "w7", "w8", "a_h1", "a_h2", "w1", "w2", "w3", "w4")
# what `explain --weight` accepts: every weight and node the SymPy proof covers
EXPLAINABLE = WEIGHT_NAMES + NODE_NAMES_BACKWARD
# the 27 columns of one trajectory step: forward pass, gradients, weights after the update
TRAJECTORY_COLUMNS = FORWARD_NAMES + WEIGHT_GRAD_NAMES + WEIGHT_NAMES


def node_values(f: Forward) -> np.ndarray:
    """`Forward` -> (11,) in the order of `FORWARD_NAMES`."""
    return np.concatenate([f.h, f.a_h, f.o, f.a_o, f.E, np.reshape(f.E_total, (1,))])


def node_gradients(g: Gradients) -> dict[str, float]:
    """`Gradients` -> {"h1": dE_total/dh1, ..., "a_o2": dE_total/da_o2} (`NODE_NAMES`)."""
    values = np.concatenate([g.h, g.a_h, g.o, g.a_o])
    return dict(zip(NODE_NAMES, values.tolist(), strict=True))


def gradient_label(name: str) -> str:
    """ "h1" -> "dE_total/dh1", "dw5" -> "dE_total/dw5" (how the tutorial writes them)."""
    return f"dE_total/{name}" if name.startswith("dw") else f"dE_total/d{name}"
