"""Momentum, weight decay, L2 and Adam by torch.optim: SGD, Adam and AdamW on a leaf tensor.

The gradient is torch.autograd's (``loss.backward()`` on E_total, plus λ/2·Σw² if ``l2``);
the update is the optimizer's own ``step()``; the state is read back from its
``state_dict()`` (``momentum_buffer``; ``exp_avg``, ``exp_avg_sq``, ``step``). Same function
names and signatures as `manual.optim`.
"""

from __future__ import annotations

import numpy as np
import torch

from autograd_compare.interface import Example
from autograd_compare.optimizers import (
    ADAM_KINDS,
    MANUAL_ONLY,
    OptimBatch,
    Optimizer,
    OptimTrajectory,
)
from autograd_compare.torch_impl.network import forward_values
from autograd_compare.torch_impl.train import as_torch


def make_optimizer(params: list, opt: Optimizer, lrs: list[float] | None = None):
    """The torch.optim optimizer for ``opt`` over ``params`` (one param group per tensor when
    ``lrs`` gives one learning rate per tensor)."""
    if opt.kind in MANUAL_ONLY:
        raise ValueError(f"{opt.kind} has no torch.optim form (manual only)")
    groups = [{"params": [p], "lr": lr} for p, lr in zip(params, lrs or [opt.lr] * len(params))]
    if opt.kind == "sgd":
        return torch.optim.SGD(groups, lr=opt.lr, weight_decay=opt.weight_decay)
    if opt.kind in ("momentum", "nesterov"):
        return torch.optim.SGD(groups, lr=opt.lr, momentum=opt.momentum, dampening=opt.dampening,
                               weight_decay=opt.weight_decay, nesterov=opt.kind == "nesterov")
    cls = torch.optim.Adam if opt.kind == "adam" else torch.optim.AdamW
    return cls(groups, lr=opt.lr, betas=opt.betas, eps=opt.eps, weight_decay=opt.weight_decay)


def _objective(p: torch.Tensor, ex: Example, opt: Optimizer) -> tuple:
    """(sum of E_total over rows, E_total + λ/2·Σw² summed) for weights ``p`` (..., 8)."""
    e_total = forward_values(p, ex)["E_total"]
    loss = e_total.sum()
    if opt.l2:
        loss = loss + opt.l2 / 2 * (p * p).sum()
    return e_total, loss


def _state(optimizer, opt: Optimizer) -> torch.Tensor:
    """The optimizer's state for the single parameter, in `Optimizer.state_names` order."""
    st = optimizer.state_dict()["state"].get(0, {})
    if opt.kind in ("momentum", "nesterov"):
        return st["momentum_buffer"]
    if opt.kind in ADAM_KINDS:
        step = st["step"].reshape(1).to(st["exp_avg"].dtype)
        return torch.cat([st["exp_avg"], st["exp_avg_sq"], step])
    return torch.empty(0)


def train(w: np.ndarray, example: Example, opt: Optimizer, steps: int) -> OptimTrajectory:
    """``steps`` updates of ``opt`` from ``w`` (8,); see `compare.optimizers.OptimTrajectory`."""
    dt = torch.from_numpy(w[:0]).dtype
    ex = as_torch(example, dt)
    p = torch.from_numpy(w.copy()).requires_grad_(True)
    optimizer = make_optimizer([p], opt)
    n_state = len(opt.state_names())
    loss = torch.empty(steps, dtype=dt)
    weights = torch.empty((steps + 1, w.size), dtype=dt)
    grads = torch.empty((steps, w.size), dtype=dt)
    state = torch.empty((steps, n_state), dtype=dt)
    weights[0] = p.detach()
    for k in range(steps):
        for group in optimizer.param_groups:
            group["lr"] = opt.lr_at(k)
        optimizer.zero_grad()
        e_total, objective = _objective(p, ex, opt)
        objective.backward()
        loss[k] = e_total.detach()
        grads[k] = p.grad
        optimizer.step()
        weights[k + 1] = p.detach()
        if n_state:
            state[k] = _state(optimizer, opt)
    return OptimTrajectory(loss.numpy(), weights.numpy(), grads.numpy(), state.numpy())


def train_batch(w: np.ndarray, lr: np.ndarray, example: Example, opt: Optimizer,
                steps: int) -> OptimBatch:
    """N trainings at once: ``w`` (N, 8), ``lr`` (N,); the other settings from ``opt``.

    Rows are grouped by learning rate: one leaf tensor (n_g, 8) and one torch.optim param group
    per distinct rate (``foreach`` kernels update all groups together); one autograd graph per
    step over all rows. A sweep has a few distinct rates; N distinct rates make N groups.
    """
    dt = torch.from_numpy(w[:0]).dtype
    ex = as_torch(example, dt)
    rates, inverse = np.unique(lr, return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    params = [torch.from_numpy(np.ascontiguousarray(w[inverse == g])).requires_grad_(True)
              for g in range(len(rates))]
    optimizer = _batch_optimizer(params, opt, [float(r) for r in rates])
    for k in range(steps):
        if opt.lr_change and k == opt.lr_change[0]:
            for group in optimizer.param_groups:
                group["lr"] = opt.lr_change[1]
        optimizer.zero_grad()
        _, objective = _objective(torch.cat(params), ex, opt)
        objective.backward()
        optimizer.step()
    with torch.no_grad():
        joined = torch.cat(params)
        e_total = forward_values(joined, ex)["E_total"]
    final_w = np.empty_like(w)
    final_l = np.empty(w.shape[0], w.dtype)
    final_w[order], final_l[order] = joined.numpy(), e_total.numpy()
    return OptimBatch(final_l, final_w)


def _batch_optimizer(params: list, opt: Optimizer, lrs: list[float]):
    optimizer = make_optimizer(params, opt, lrs)
    for group in optimizer.param_groups:
        group["foreach"] = True  # one multi-tensor kernel per operation for every group
    return optimizer
