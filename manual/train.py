"""Plain gradient descent, w <- w - lr * dE_total/dw, for one network or a batch of them."""

from __future__ import annotations

import numpy as np

from compare.interface import BatchResult, Example, Trajectory
from manual.gradients import weight_gradients
from manual.network import forward_values


def train(w: np.ndarray, example: Example, lr: float, steps: int) -> Trajectory:
    """``steps`` updates from ``w`` (8,); see `compare.interface.Trajectory`."""
    lr = w.dtype.type(lr)
    loss = np.empty(steps, w.dtype)
    weights = np.empty((steps + 1, w.size), w.dtype)
    grads = np.empty((steps, w.size), w.dtype)
    weights[0] = w
    for k in range(steps):
        v = forward_values(weights[k], example)
        loss[k] = v["E_total"]
        grads[k] = weight_gradients(v, weights[k], example)
        weights[k + 1] = weights[k] - lr * grads[k]  # w_new = w_old - lr * dE_total/dw
    return Trajectory(loss, weights, grads)


def train_batch(w: np.ndarray, lr: np.ndarray, example: Example, steps: int,
                threshold: float | None = None, keep_loss: bool = False) -> BatchResult:
    """N trainings at once, vectorised over rows: ``w`` (N, 8), ``lr`` (N,)."""
    n = w.shape[0]
    lr = lr[:, None]
    reached = np.full(n, -1, np.int64)
    history = np.empty((n, steps), w.dtype) if keep_loss else None
    initial = None
    for k in range(steps + 1):
        v = forward_values(w, example)
        if k == 0:
            initial = v["E_total"]
        if threshold is not None:
            reached[(reached < 0) & (v["E_total"] <= threshold)] = k
        if k == steps:
            break
        if keep_loss:
            history[:, k] = v["E_total"]
        w = w - lr * weight_gradients(v, w, example)
    return BatchResult(initial, v["E_total"], w, reached, history)
