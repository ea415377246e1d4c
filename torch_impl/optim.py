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
from autograd_compare.optimizers import ADAM_KINDS, MANUAL_ONLY, Optimizer
from autograd_compare.torch_impl.network import TorchExample, forward_values
from autograd_compare.torch_impl.train import as_torch
from autograd_compare.types import BatchResult, Trajectory


def make_optimizer(params: list, opt: Optimizer, lrs: list[float] | None = None):
    """The torch.optim optimizer for ``opt``: one param group per entry of ``params`` (a
    tensor or a list of tensors), at the learning rate of ``lrs`` (default ``opt.lr``)."""
    if opt.kind in MANUAL_ONLY:
        raise ValueError(f"{opt.kind} has no torch.optim form (manual only)")
    groups = [{"params": p if isinstance(p, list) else [p], "lr": lr}
              for p, lr in zip(params, lrs or [opt.lr] * len(params))]
    if opt.kind == "sgd":
        return torch.optim.SGD(groups, lr=opt.lr, weight_decay=opt.weight_decay)
    if opt.kind in ("momentum", "nesterov"):
        return torch.optim.SGD(groups, lr=opt.lr, momentum=opt.momentum, dampening=opt.dampening,
                               weight_decay=opt.weight_decay, nesterov=opt.kind == "nesterov")
    cls = torch.optim.Adam if opt.kind == "adam" else torch.optim.AdamW
    return cls(groups, lr=opt.lr, betas=opt.betas, eps=opt.eps, weight_decay=opt.weight_decay)


def _objective(p, ex: TorchExample, opt: Optimizer) -> tuple:
    """(E_total, E_total + λ/2·Σw² summed over configurations) for weights ``p``: a tensor
    (8,) or the 8 rows w1..w8 of a batch as a tuple."""
    e_total = forward_values(p, ex)["E_total"]
    loss = e_total.sum()
    if opt.l2:
        loss = loss + opt.l2 / 2 * sum((c * c).sum() for c in p) if isinstance(p, tuple) \
            else loss + opt.l2 / 2 * (p * p).sum()
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


def train(w: np.ndarray, example: Example, opt: Optimizer, steps: int) -> Trajectory:
    """``steps`` updates of ``opt`` from ``w`` (8,); see `compare.optimizers.Trajectory`."""
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
        assert p.grad is not None  # backward() above set it
        grads[k] = p.grad
        optimizer.step()
        weights[k + 1] = p.detach()
        if n_state:
            state[k] = _state(optimizer, opt)
    return Trajectory(loss.numpy(), weights.numpy(), grads.numpy(), state.numpy())


def train_batch(w: np.ndarray, lr: np.ndarray, example: Example, opt: Optimizer,
                steps: int) -> BatchResult:
    """N trainings at once: ``w`` (N, 8), ``lr`` (N,); the other settings from ``opt``.

    Configurations are sorted by learning rate; one torch.optim param group per distinct rate
    (``foreach`` kernels update all groups together) over a view of the shared weights; one
    autograd graph per step over all configurations. A sweep has a few distinct rates; N
    distinct rates make N groups (correct, but slow).
    """
    dt = torch.from_numpy(w[:0]).dtype
    ex = as_torch(example, dt)
    rates, inverse = np.unique(lr, return_inverse=True)
    order = np.argsort(inverse, kind="stable")  # configurations sorted by learning rate
    bounds = np.searchsorted(inverse[order], np.arange(len(rates) + 1))
    # 8 autograd leaves w1..w8 (N,) each (contiguous: no stack in the backward pass); torch.optim
    # gets, per learning rate, the 8 leaves' slices of that rate, sharing their memory, and
    # each step hands them their slices of the leaves' .grad: no copies between the two
    rows = [torch.from_numpy(np.ascontiguousarray(c)).requires_grad_(True) for c in w[order].T]
    spans = list(zip(bounds, bounds[1:]))
    params = [[r.detach()[a:b].requires_grad_(True) for r in rows] for a, b in spans]
    optimizer = _batch_optimizer(params, opt, [float(r) for r in rates])
    for k in range(steps):
        if opt.lr_change and k == opt.lr_change[0]:
            for group in optimizer.param_groups:
                group["lr"] = opt.lr_change[1]
        for r in rows:
            r.grad = None
        _, objective = _objective(tuple(rows), ex, opt)
        objective.backward()
        for group, (a, b) in zip(params, spans):
            for p, r in zip(group, rows):
                assert r.grad is not None  # backward() above set it (r is a leaf in the graph)
                p.grad = r.grad[a:b]
        optimizer.step()
    with torch.no_grad():
        e_total = forward_values(rows, ex)["E_total"]
    final_w = np.empty_like(w)
    final_l = np.empty(w.shape[0], w.dtype)
    final_w[order] = torch.stack([r.detach() for r in rows], dim=1).numpy()
    final_l[order] = e_total.numpy()
    return BatchResult(None, final_l, final_w, None)


def _batch_optimizer(params: list, opt: Optimizer, lrs: list[float]):
    optimizer = make_optimizer(params, opt, lrs)
    for group in optimizer.param_groups:
        group["foreach"] = True  # one multi-tensor kernel per operation for every group
    return optimizer
