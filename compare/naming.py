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


def node_values(f: Forward) -> np.ndarray:
    """`Forward` -> (11,) in the order of `FORWARD_NAMES`."""
    return np.concatenate([f.h, f.a_h, f.o, f.a_o, f.E, np.reshape(f.E_total, (1,))])


def node_gradients(g: Gradients) -> dict[str, float]:
    """`Gradients` -> {"h1": dE_total/dh1, ..., "a_o2": dE_total/da_o2} (`NODE_NAMES`)."""
    values = np.concatenate([g.h, g.a_h, g.o, g.a_o])
    return dict(zip(NODE_NAMES, values.tolist(), strict=True))


# --- optimizer state (compare.optimizers): one name per parameter and state quantity ---------
# velocity v (PyTorch's momentum_buffer, optax's trace), textbook momentum's u (= -lr·v),
# Adam's moments m, v and their bias-corrected m̂ = m_hat, v̂ = v_hat; the step count t
STATE_PREFIXES = {"sgd": (), "momentum": ("v",), "nesterov": ("v",),
                  "textbook-momentum": ("u",), "adam": ("m", "v"), "adamw": ("m", "v")}
STEP_COUNT = "t"
BIAS_CORRECTED = {"m": "m_hat", "v": "v_hat"}  # Adam's m̂, v̂ (trace.csv only)


def _is_tutorial_weight(param: str) -> bool:
    return len(param) > 1 and param[0] == "w" and param[1:].isdigit()


def param_quantity(prefix: str, param: str) -> str:
    """A per-parameter quantity: ("v", "w5") -> "v5" (the tutorial's notation: dw5, v5, m5);
    ("v", "W2[0,1]") -> "v_W2[0,1]"; ("d", "W2[0,1]") -> "dW2[0,1]" (a gradient)."""
    if _is_tutorial_weight(param):
        return f"{prefix}{param}" if prefix == "d" else f"{prefix}{param[1:]}"
    return f"{prefix}{param}" if prefix == "d" else f"{prefix}_{param}"


def grad_names(params: tuple[str, ...]) -> tuple[str, ...]:
    """dE/d(parameter) columns: dw1..dw8 for the tutorial, dW1[0,0], db1[0], ... otherwise."""
    return tuple(param_quantity("d", p) for p in params)


def optimizer_state_names(kind: str, params: tuple[str, ...]) -> tuple[str, ...]:
    """The optimizer state after a step, in `compare.types.Trajectory.state` order:
    each prefix of ``STATE_PREFIXES[kind]`` over every parameter, then t for Adam."""
    prefixes = STATE_PREFIXES[kind]
    names = tuple(param_quantity(x, p) for x in prefixes for p in params)
    return (*names, STEP_COUNT) if "m" in prefixes else names


def bias_corrected_names(params: tuple[str, ...]) -> tuple[str, ...]:
    """Adam's m̂ and v̂ per parameter: m_hat5 ..., v_hat5 ... (m_hat_W1[0,0] on a network)."""
    return tuple(param_quantity(BIAS_CORRECTED[x], p) for x in ("m", "v") for p in params)
