"""Momentum, weight decay, L2 and Adam on any network (`compare.network`) by torch.optim (SGD,
Adam, AdamW), on the parameters of the equivalent ``nn.Sequential`` (``nn.Linear`` layers and
activation modules).

The gradient is autograd's (``loss.backward()`` on E, plus λ/2·Σw² if ``l2``), the update the
optimizer's own ``step()``, the state read back from ``optimizer.state[p]`` for every
parameter (``momentum_buffer``; ``exp_avg``, ``exp_avg_sq``, ``step``), flattened in
``parameters_to_vector`` order. Frozen biases are ``nn.Linear`` biases with ``requires_grad``
off and are not given to the optimizer: nothing moves them. A softmax (sigmoid) last layer
is left out of the Sequential for the cross-entropy (bce): they are taken from its logits
(``log_softmax``, ``binary_cross_entropy_with_logits``), as PyTorch does. Same function names
and signatures as `manual.optim`.

Biases left out of weight decay (``decay_biases`` no) are what PyTorch users write: two
parameter groups, the biases' with ``weight_decay=0``; biases left out of the l2 term are
left out of the sum λ/2·Σw² autograd differentiates.
"""

from __future__ import annotations

import numpy as np
import torch

from autograd_compare import naming
from autograd_compare.network import (
    ACTIVATION_PARAMETERS,
    Data,
    Network,
    activation_of,
    from_logits,
    frozen_bias,
    layout,
)
from autograd_compare.optimizers import ADAM_KINDS, MANUAL_ONLY, Optimizer, decay_mask
from autograd_compare.torch_impl import mlp
from autograd_compare.types import BatchResult, Resume, Trajectory


def make_optimizer(params: list, opt: Optimizer, lrs: list[float] | None = None,
                   no_decay: list | None = None):
    """The torch.optim optimizer for ``opt``: one param group per entry of ``params`` (a
    tensor or a list of tensors), at the learning rate of ``lrs`` (default ``opt.lr``);
    ``no_decay``: for each entry, the tensors put in a group of their own with
    ``weight_decay=0`` at the same rate (the biases, with ``decay_biases`` no)."""
    if opt.kind in MANUAL_ONLY:
        raise ValueError(f"{opt.kind} has no torch.optim form (manual only)")
    listed = [p if isinstance(p, list) else [p] for p in params]
    groups = [{"params": p, "lr": lr} for p, lr in zip(listed, lrs or [opt.lr] * len(params))]
    if no_decay is not None:
        kept = [p if isinstance(p, list) else [p] for p in no_decay]
        groups += [{"params": p, "lr": g["lr"], "weight_decay": 0.0}
                   for p, g in zip(kept, groups, strict=True) if p]
    if opt.kind == "sgd":
        return torch.optim.SGD(groups, lr=opt.lr, weight_decay=opt.weight_decay)
    if opt.kind in ("momentum", "nesterov"):
        return torch.optim.SGD(groups, lr=opt.lr, momentum=opt.momentum, dampening=opt.dampening,
                               weight_decay=opt.weight_decay, nesterov=opt.kind == "nesterov")
    cls = torch.optim.Adam if opt.kind == "adam" else torch.optim.AdamW
    return cls(groups, lr=opt.lr, betas=opt.betas, eps=opt.eps, weight_decay=opt.weight_decay)


MODULES = {"sigmoid": torch.nn.Sigmoid, "tanh": torch.nn.Tanh, "relu": torch.nn.ReLU,
           "identity": torch.nn.Identity, "gelu": torch.nn.GELU, "softplus": torch.nn.Softplus,
           "silu": torch.nn.SiLU, "leaky-relu": torch.nn.LeakyReLU, "elu": torch.nn.ELU}


def module(name: str) -> torch.nn.Module:
    """The torch.nn module of an activation name: "elu:0.5" -> nn.ELU(0.5)."""
    kind, p = activation_of(name)
    return MODULES[kind](p) if kind in ACTIVATION_PARAMETERS else MODULES[kind]()


def sequential(net: Network, w: np.ndarray) -> tuple[torch.nn.Sequential, list[torch.Tensor]]:
    """The ``nn.Sequential`` of ``net`` holding the parameters ``w`` (P,), and its trainable
    parameters in ``parameters_to_vector`` order (W1, b1, W2, ...)."""
    dt = torch.from_numpy(w[:0]).dtype
    layers: list[torch.nn.Module] = []
    trainable: list[torch.Tensor] = []
    for l, (lay, f) in enumerate(zip(layout(net), net.activations, strict=True)):
        n_out, n_in = lay.W_shape
        linear = torch.nn.Linear(n_in, n_out, bias=net.bias != "none", dtype=dt)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(w[lay.W].reshape(lay.W_shape)))
            trainable.append(linear.weight)
            if lay.b is not None:
                linear.bias.copy_(torch.from_numpy(w[lay.b]))
                trainable.append(linear.bias)
            elif net.bias == "frozen":
                linear.bias.copy_(torch.tensor(frozen_bias(net, l), dtype=dt))
                linear.bias.requires_grad_(False)
        layers.append(linear)
        if l == net.layers - 1 and from_logits(net):
            continue  # the loss takes the logits
        layers.append(torch.nn.LogSoftmax(dim=-1) if f == "log-softmax" else module(f))
    return torch.nn.Sequential(*layers), trainable


def _loss(net: Network, model: torch.nn.Sequential, x: torch.Tensor,
          t: torch.Tensor, s: np.ndarray | None = None) -> torch.Tensor:
    """E of the model's output (logits for cross-entropy and bce)."""
    out = model(x)  # logits for cross-entropy and bce, else a_L (log-probabilities for nll)
    losses = mlp.example_losses(net, out, out, t)
    return mlp.reduce(net, losses, x.shape[0], s)


def _flat(tensors: list[torch.Tensor]) -> torch.Tensor:
    return torch.cat([p.reshape(-1) for p in tensors])


def _set_flat(tensors: list[torch.Tensor], flat: torch.Tensor) -> None:
    """The inverse of `_flat`: ``flat`` (P,) copied into ``tensors``, in order."""
    at = 0
    for p in tensors:
        p.copy_(flat[at:at + p.numel()].view_as(p))
        at += p.numel()


def _state(optimizer: torch.optim.Optimizer, params: list[torch.Tensor],
           opt: Optimizer) -> torch.Tensor:
    st = [optimizer.state[p] for p in params]
    if opt.kind in ("momentum", "nesterov"):
        return _flat([s["momentum_buffer"] for s in st])
    if opt.kind in ADAM_KINDS:
        step = torch.as_tensor(st[0]["step"]).reshape(1).to(params[0].dtype)
        return torch.cat([_flat([s["exp_avg"] for s in st]),
                          _flat([s["exp_avg_sq"] for s in st]), step])
    return torch.empty(0, dtype=params[0].dtype)


def _resume(optimizer: torch.optim.Optimizer, params: list[torch.Tensor], opt: Optimizer,
            resume: Resume) -> None:
    """Put ``resume.state`` (the layout of `_state`) into ``optimizer.state[p]``, as if it had
    made ``resume.updates`` updates."""
    flat = torch.from_numpy(resume.state.copy())
    P = sum(p.numel() for p in params)

    def split(part: torch.Tensor) -> list[torch.Tensor]:
        return [c.reshape(p.shape).clone() for c, p in
                zip(torch.split(part, [p.numel() for p in params]), params, strict=True)]

    if opt.kind in ("momentum", "nesterov"):
        for p, v in zip(params, split(flat[:P]), strict=True):
            optimizer.state[p]["momentum_buffer"] = v
    elif opt.kind in ADAM_KINDS:
        for p, m, v in zip(params, split(flat[:P]), split(flat[P:2 * P]), strict=True):
            optimizer.state[p].update(step=torch.tensor(float(resume.updates)), exp_avg=m,
                                      exp_avg_sq=v)


def train(net: Network, w: np.ndarray, data: Data, opt: Optimizer, steps: int,
          resume: Resume | None = None) -> Trajectory:
    """``steps`` updates of ``opt`` from ``w`` (P,), from ``resume``'s optimizer state if given
    (else a fresh one); see `compare.types.Trajectory`."""
    model, params = sequential(net, w)
    dt = params[0].dtype
    x, t = torch.as_tensor(data.inputs, dtype=dt), torch.as_tensor(data.targets, dtype=dt)
    biases = {id(m.bias) for m in model if isinstance(m, torch.nn.Linear) and m.bias is not None}
    if opt.weight_decay and not opt.wd_biases() and biases:  # two groups: biases not decayed
        optimizer = make_optimizer([[p for p in params if id(p) not in biases]], opt,
                                   no_decay=[[p for p in params if id(p) in biases]])
    else:
        optimizer = make_optimizer([params], opt)
    penalised = params if opt.l2_biases() else [p for p in params if id(p) not in biases]
    done = 0
    if resume is not None:
        _resume(optimizer, params, opt, resume)
        done = resume.updates
    P = w.size
    n_state = len(naming.STATE_PREFIXES[opt.kind]) * P + (opt.kind in ADAM_KINDS)
    loss = torch.empty(steps, dtype=dt)
    weights = torch.empty((steps + 1, P), dtype=dt)
    grads = torch.empty((steps, P), dtype=dt)
    state = torch.empty((steps, n_state), dtype=dt)
    weights[0] = _flat(params).detach()
    for k in range(steps):
        for group in optimizer.param_groups:
            group["lr"] = opt.lr_at(done + k)
        optimizer.zero_grad()
        E = _loss(net, model, x, t, data.weights)
        objective = E + opt.l2 / 2 * sum((p * p).sum() for p in penalised) if opt.l2 else E
        objective.backward()
        loss[k] = E.detach()
        grads[k] = _flat([p.grad for p in params])  # type: ignore[misc]  # set by backward()
        if opt.frozen:  # requires_grad=False, element by element: gradient 0, so no update
            grads[k] = grads[k].index_fill(0, torch.tensor(opt.frozen), 0.0)
            _set_flat([p.grad for p in params], grads[k])  # type: ignore[misc]
        optimizer.step()
        weights[k + 1] = _flat(params).detach()
        if n_state:
            state[k] = _state(optimizer, params, opt)
    return Trajectory(loss.numpy(), weights.numpy(), grads.numpy(), state.numpy())


def train_batch(net: Network, w: np.ndarray, lr: np.ndarray, data: Data, opt: Optimizer,
                steps: int) -> BatchResult:
    """N trainings at once: ``w`` (N, P), ``lr`` (N,). One leaf (n_g, P) per distinct learning
    rate, one torch.optim param group each (``foreach`` kernels), one autograd graph per step
    over all configurations (`torch_impl.mlp.forward_values` with a leading axis); every
    torch.optim rule is element-wise, so rows stay independent."""
    dt = torch.from_numpy(w[:0]).dtype
    x, t = torch.as_tensor(data.inputs, dtype=dt), torch.as_tensor(data.targets, dtype=dt)
    rates, inverse = np.unique(lr, return_inverse=True)
    m_wd = decay_mask(net, opt.wd_biases())
    m_l2 = decay_mask(net, opt.l2_biases())
    l2_mask = None if m_l2.all() else torch.from_numpy(m_l2).to(dt)
    # biases out of weight decay: each leaf's columns in two leaves (weights, biases), the
    # biases' in a group with weight_decay=0, put back in place for the forward pass
    cols = [np.arange(w.shape[1])] if m_wd.all() or not opt.weight_decay else \
        [np.flatnonzero(m_wd), np.flatnonzero(m_wd == 0)]
    order = torch.from_numpy(np.argsort(np.concatenate(cols)))
    parts = [[torch.from_numpy(w[inverse == j][:, c].copy()).requires_grad_(True)
              for j in range(len(rates))] for c in cols]

    def leaf(j: int) -> torch.Tensor:
        return parts[0][j] if len(cols) == 1 else torch.cat([p[j] for p in parts], 1)[:, order]

    optimizer = make_optimizer(parts[0], opt, [float(r) for r in rates],
                               parts[1] if len(cols) > 1 else None)
    for group in optimizer.param_groups:
        group["foreach"] = True
    for k in range(steps):
        if opt.lr_change and k == opt.lr_change[0]:
            for group in optimizer.param_groups:
                group["lr"] = opt.lr_change[1]
        optimizer.zero_grad()
        objective = torch.zeros((), dtype=dt)
        for j in range(len(rates)):
            W = leaf(j)
            objective = objective + mlp.forward_values(net, W, x, t, data.weights)[3].sum()
            if opt.l2:
                WW = W * W if l2_mask is None else W * W * l2_mask
                objective = objective + opt.l2 / 2 * WW.sum()
        objective.backward()
        optimizer.step()
    final_w = np.empty_like(w)
    final_l = np.empty(w.shape[0], w.dtype)
    with torch.no_grad():
        for j in range(len(rates)):
            W = leaf(j)
            final_w[inverse == j] = W.numpy()
            final_l[inverse == j] = mlp.forward_values(net, W, x, t, data.weights)[3].numpy()
    return BatchResult(None, final_l, final_w, None)
