"""Plain gradient descent, w <- w - lr * dE_total/dw, with dE_total/dw from torch.autograd."""

from __future__ import annotations

import numpy as np
import torch

from compare.interface import BatchResult, Example, Trajectory
from torch_impl.gradients import weight_gradients
from torch_impl.network import forward_values


def as_torch(example: Example, dtype: torch.dtype) -> Example:
    """The example's NumPy arrays as torch tensors of ``dtype`` (converted once, at the edge)."""
    return Example(torch.as_tensor(example.inputs, dtype=dtype),
                   torch.as_tensor(example.targets, dtype=dtype))


def train(w: np.ndarray, example: Example, lr: float, steps: int) -> Trajectory:
    """``steps`` updates from ``w`` (8,); see `compare.interface.Trajectory`."""
    dt = torch.from_numpy(w[:0]).dtype
    ex = as_torch(example, dt)
    lr = torch.tensor(lr, dtype=dt)  # rounded to the working dtype once, like manual
    loss = torch.empty(steps, dtype=dt)
    weights = torch.empty((steps + 1, w.size), dtype=dt)
    grads = torch.empty((steps, w.size), dtype=dt)
    weights[0] = torch.from_numpy(w)
    for k in range(steps):
        w_k = weights[k].clone().requires_grad_(True)  # a fresh leaf: one graph per step
        v = forward_values(w_k, ex)
        loss[k] = v["E_total"].detach()
        grads[k] = weight_gradients(v, w_k, ex)
        weights[k + 1] = weights[k] - lr * grads[k]  # w_new = w_old - lr * dE_total/dw
    return Trajectory(loss.numpy(), weights.numpy(), grads.numpy())


def train_batch(w: np.ndarray, lr: np.ndarray, example: Example, steps: int,
                threshold: float | None = None, keep_loss: bool = False) -> BatchResult:
    """N trainings at once, vectorised over rows: ``w`` (N, 8), ``lr`` (N,)."""
    dt = torch.from_numpy(w[:0]).dtype
    ex = as_torch(example, dt)
    n = w.shape[0]
    lr = torch.from_numpy(lr)[:, None]
    w = torch.from_numpy(w)
    reached = torch.full((n,), -1, dtype=torch.int64)
    history = torch.empty((n, steps), dtype=dt) if keep_loss else None
    initial = None
    for k in range(steps + 1):
        w_k = w.detach().requires_grad_(True)
        v = forward_values(w_k, ex)
        e_total = v["E_total"].detach()
        if k == 0:
            initial = e_total
        if threshold is not None:
            reached[(reached < 0) & (e_total <= threshold)] = k
        if k == steps:
            break
        if keep_loss:
            history[:, k] = e_total
        w = w - lr * weight_gradients(v, w_k, ex)
    return BatchResult(initial.numpy(), e_total.numpy(), w.detach().numpy(), reached.numpy(),
                       None if history is None else history.numpy())
