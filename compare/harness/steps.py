"""Every step of one training, node by node: what the report's step control and drawing show.

For one backend, one start and one learning rate: train, then at the weights entering each
recorded step k the forward pass (h1 .. E_total), dE_total/d(node) for h1 .. a_o2 and
dE_total/dw1..dw8, all from that backend. Long runs are thinned to at most `MAX_ROWS` steps
(always keeping step 0 and the last), so a report stays a few megabytes.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from autograd_compare import naming
from autograd_compare.interface import Backend, Example

MAX_ROWS = 201


class StepTrace(NamedTuple):
    """One backend at one learning rate; row r is step ``steps[r]``."""

    backend: str
    lr: float
    steps: np.ndarray  # (R,) int: which steps were recorded (0 and the last always)
    weights: np.ndarray  # (R, 8): w1..w8 entering the step
    nodes: np.ndarray  # (R, 11): h1 .. E_total (naming.FORWARD_NAMES)
    node_grads: np.ndarray  # (R, 8): dE_total/d(node), naming.NODE_NAMES order
    grads: np.ndarray  # (R, 8): dE_total/dw1..dw8 at those weights


def recorded_steps(steps: int, max_rows: int = MAX_ROWS) -> np.ndarray:
    """0..steps, thinned evenly to at most ``max_rows`` values (0 and ``steps`` kept)."""
    if steps + 1 <= max_rows:
        return np.arange(steps + 1)
    return np.unique(np.linspace(0, steps, max_rows).round().astype(int))


def record(backend: Backend, w: np.ndarray, example: Example, lr: float, steps: int,
           max_rows: int = MAX_ROWS) -> StepTrace:
    """Train ``backend`` from ``w``, recording, and keep the recorded steps (`recorded_steps`)."""
    ks = recorded_steps(steps, max_rows)
    t = backend.train(w, example, lr=lr, steps=steps, record=True)
    if t.nodes is None or t.node_grads is None or t.weight_grads is None:
        raise ValueError(f"backend {backend.name!r} recorded no nodes (train(record=True))")
    return StepTrace(backend.name, float(lr), ks, _as_array(t.weights[ks]), _as_array(t.nodes[ks]),
                     _as_array(t.node_grads[ks]), _as_array(t.weight_grads[ks]))


def _as_array(rows: ArrayLike) -> NDArray[np.float64]:
    return np.asarray(rows, dtype=np.float64)


def as_json(traces: list[StepTrace]) -> dict[str, Any]:
    """JSON-ready: {"names": {...}, "runs": [{"lr", "backend", "steps", "weights", ...}]}."""
    return {"names": {"nodes": list(naming.FORWARD_NAMES), "node_grads": list(naming.NODE_NAMES),
                      "weights": list(naming.WEIGHT_NAMES)},
            "runs": [{"lr": t.lr, "backend": t.backend, "steps": t.steps.tolist(),
                      "weights": t.weights.tolist(), "nodes": t.nodes.tolist(),
                      "node_grads": t.node_grads.tolist(), "grads": t.grads.tolist()}
                     for t in traces]}
