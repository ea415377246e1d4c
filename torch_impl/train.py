"""Plain gradient descent, w <- w - lr * dE_total/dw, with dE_total/dw from torch.autograd."""

from __future__ import annotations

import numpy as np
import torch

from autograd_compare.interface import Example
from autograd_compare.naming import FORWARD_NAMES, NODE_NAMES
from autograd_compare.torch_impl.gradients import node_gradients, weight_gradients
from autograd_compare.torch_impl.network import TorchExample, forward_values
from autograd_compare.types import BatchResult, Trajectory


def as_torch(example: Example, dtype: torch.dtype) -> TorchExample:
    """The example's NumPy arrays as torch tensors of ``dtype`` (converted once, at the edge)."""
    return TorchExample(torch.as_tensor(example.inputs, dtype=dtype),
                   torch.as_tensor(example.targets, dtype=dtype))


def train(w: np.ndarray, example: Example, *, lr: float, steps: int,
          record: bool = False) -> Trajectory:
    """``steps`` updates from ``w`` (8,); see `compare.interface.Trajectory`.

    ``record``: keep each step's forward values and dE_total/d(node) too (asked of the same
    backward pass as dE_total/dw), and evaluate the final weights once more
    (`Trajectory.nodes`: what `forward` and `gradients` give).
    """
    dt = torch.from_numpy(w[:0]).dtype
    ex = as_torch(example, dt)
    lr_t = torch.tensor(lr, dtype=dt)  # rounded to the working dtype once, like manual
    loss = torch.empty(steps, dtype=dt)
    weights = torch.empty((steps + 1, w.size), dtype=dt)
    grads = torch.empty((steps + record, w.size), dtype=dt)
    nodes = torch.empty((steps + 1, len(FORWARD_NAMES)), dtype=dt) if record else None
    node_grads = torch.empty((steps + 1, len(NODE_NAMES)), dtype=dt) if record else None
    weights[0] = torch.from_numpy(w)
    for k in range(steps + record):
        w_k = weights[k].clone().requires_grad_(True)  # a fresh leaf: one graph per step
        v = forward_values(w_k, ex)
        if nodes is not None and node_grads is not None:  # recording
            n = node_gradients(v, w_k, ex)
            grads[k], node_grads[k] = n["w"], torch.stack([n[name] for name in NODE_NAMES])
            nodes[k] = torch.stack([v[name] for name in FORWARD_NAMES]).detach()
        else:
            grads[k] = weight_gradients(v, w_k, ex)
        if k == steps:  # recording: the final weights, evaluated, not updated
            break
        loss[k] = v["E_total"].detach()
        weights[k + 1] = weights[k] - lr_t * grads[k]  # w_new = w_old - lr * dE_total/dw
    if nodes is None or node_grads is None:
        return Trajectory(loss.numpy(), weights.numpy(), grads.numpy())
    return Trajectory(loss.numpy(), weights.numpy(), grads[:steps].numpy(), nodes=nodes.numpy(),
                      node_grads=node_grads.numpy(), weight_grads=grads.numpy())


def train_batch(w: np.ndarray, lr: np.ndarray, example: Example, *, steps: int,
                threshold: float | None = None, keep_loss: bool = False) -> BatchResult:
    """N trainings at once, vectorised over rows: ``w`` (N, 8), ``lr`` (N,).

    Rows are processed in blocks of `CHUNK` configurations, each block for all ``steps``: one
    autograd graph per block and step, no Python loop over configurations. Blocks keep the
    ~70 live intermediates of a step in cache (see benchmarks/torch_batched.py).
    """
    dt = torch.from_numpy(w[:0]).dtype
    ex = as_torch(example, dt)
    n = w.shape[0]
    initial, final = torch.empty(n, dtype=dt), torch.empty(n, dtype=dt)
    weights = torch.empty((n, w.shape[1]), dtype=dt)
    reached = torch.full((n,), -1, dtype=torch.int64)
    history = torch.empty((n, steps), dtype=dt) if keep_loss else None
    for a in range(0, n, CHUNK):
        rows = slice(a, min(a + CHUNK, n))
        args = (w[rows], lr[rows], ex, steps, threshold, None if history is None else history[rows])
        initial[rows], final[rows], weights[rows], reached[rows] = _train_block(*args)
    return BatchResult(initial.numpy(), final.numpy(), weights.numpy(), reached.numpy(),
                       None if history is None else history.numpy())


CHUNK = 16384  # configurations per block: 70 intermediates x 128 KiB stay in L3


def _train_block(w: np.ndarray, lr: np.ndarray, ex: TorchExample, steps: int,
                 threshold: float | None, history: torch.Tensor | None) -> tuple:
    """One block of rows ``w`` (n, 8): (initial loss, final loss, final weights, reached)."""
    cols = [torch.from_numpy(c.copy()).requires_grad_(True) for c in w.T]  # 8 contiguous leaves
    lr_t = torch.from_numpy(lr)
    reached = torch.full((w.shape[0],), -1, dtype=torch.int64)
    initial = None
    for k in range(steps + 1):
        v = forward_values(cols, ex)
        e_total = v["E_total"].detach()
        if k == 0:
            initial = e_total
        if threshold is not None:
            reached.masked_fill_((reached < 0) & (e_total <= threshold), k)
        if k == steps:
            break
        if history is not None:
            history[:, k] = e_total
        grads = weight_gradients(v, cols, ex)
        with torch.no_grad():
            for w_i, g_i in zip(cols, grads, strict=True):
                w_i.sub_(lr_t * g_i)  # w_new = w_old - lr * dE_total/dw, in place
    return initial, e_total, torch.stack(cols, dim=1).detach(), reached
