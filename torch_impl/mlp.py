"""Any network (`compare.network`) in torch: forward code only; every gradient is autograd's.

Tensors carry the dtype of the NumPy parameters (float64 or float32); the global default dtype
is never touched. NumPy goes in and comes out at the edge of each public function.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from autograd_compare.network import (
    SOFTPLUS_THRESHOLD,
    Array,
    BackwardPass,
    Data,
    ForwardPass,
    Network,
    activation_of,
    from_logits,
    frozen_bias,
    layout,
    reduction_scale,
)
from autograd_compare.types import BatchResult, Trajectory


def activation(name: str, z: torch.Tensor) -> torch.Tensor:
    if name == "log-softmax":
        return torch.log_softmax(z, dim=-1)
    kind, p = activation_of(name)
    if kind == "sigmoid":
        return torch.sigmoid(z)
    if kind == "tanh":
        return torch.tanh(z)
    if kind == "relu":
        return torch.relu(z)
    if kind == "identity":
        return z
    if kind == "leaky-relu":
        return F.leaky_relu(z, p)
    if kind == "elu":
        return F.elu(z, p)
    if kind == "gelu":
        return F.gelu(z, approximate="none")
    if kind == "softplus":
        return F.softplus(z, beta=1.0, threshold=SOFTPLUS_THRESHOLD)
    if kind == "silu":
        return F.silu(z)
    return torch.softmax(z, dim=-1)


def _as(x: Array | tuple[float, ...], dt: torch.dtype) -> torch.Tensor:
    return torch.as_tensor(x, dtype=dt)


def _grad(v: torch.Tensor) -> Array:
    """``v.grad`` as NumPy after ``E.backward()`` (set for every leaf and retained node)."""
    assert v.grad is not None, "the tensor is not on the loss's path"
    return v.grad.numpy()


def forward_values(net: Network, w: torch.Tensor, x: torch.Tensor, t: torch.Tensor,
                   s: Array | None = None
                   ) -> tuple[list[torch.Tensor], list[torch.Tensor], torch.Tensor, torch.Tensor]:
    """z, a per layer, the per-example losses and E, in autograd's graph. ``w`` (..., P);
    ``s``: the example weights (B,) or None (`reduce`)."""
    zs: list[torch.Tensor] = []
    as_: list[torch.Tensor] = []
    a = x
    for l, (lay, name) in enumerate(zip(layout(net), net.activations, strict=True)):
        W = w[..., lay.W].reshape(w.shape[:-1] + lay.W_shape)
        z = a @ W.transpose(-1, -2)
        if lay.b is not None:
            z = z + w[..., lay.b].unsqueeze(-2)
        elif net.bias == "frozen":
            z = z + _as(frozen_bias(net, l), w.dtype)
        a = activation(name, z)
        zs.append(z)
        as_.append(a)
    losses = example_losses(net, zs[-1], a, t)
    return zs, as_, losses, reduce(net, losses, x.shape[0], s)


def reduce(net: Network, losses: torch.Tensor, batch: int,
           s: Array | None = None) -> torch.Tensor:
    """E = c · Σ_b loss_b over the last axis, or c · Σ_b s_b·loss_b with example weights."""
    c = reduction_scale(net, batch, s)
    if s is None:
        return c * losses.sum(dim=-1)
    return c * (_as(s, losses.dtype) * losses).sum(dim=-1)


def example_losses(net: Network, z: torch.Tensor, a: torch.Tensor | None,
            t: torch.Tensor) -> torch.Tensor:
    """Each example's loss from the last layer's z and a (..., B, n_L); cross-entropy and bce
    take the logits z only (``a`` may be None)."""
    if net.loss == "cross-entropy":
        return -(t * torch.log_softmax(z, dim=-1)).sum(dim=-1)
    if net.loss == "bce":  # nn.BCEWithLogitsLoss's own function, per element
        return torch.nn.functional.binary_cross_entropy_with_logits(
            z, t.expand_as(z), reduction="none").sum(dim=-1)
    assert a is not None, "a squared-error or nll loss needs the outputs"
    if net.loss == "nll":
        return -(t * a).sum(dim=-1)  # a = log_softmax(z_L)
    return (0.5 if net.loss == "half-sse" else 1.0) * ((t - a) ** 2).sum(dim=-1)


def forward(net: Network, w: np.ndarray, data: Data) -> ForwardPass:
    w_t = torch.from_numpy(w)
    with torch.no_grad():
        zs, as_, losses, E = forward_values(net, w_t, _as(data.inputs, w_t.dtype),
                                            _as(data.targets, w_t.dtype), data.weights)
    return ForwardPass(tuple(z.numpy() for z in zs), tuple(a.numpy() for a in as_),
                      losses.numpy(), E.numpy())


def gradients(net: Network, w: np.ndarray, data: Data) -> BackwardPass:
    """dE/dw and dE/d(every z and a) by one backward pass (retain_grad on the nodes)."""
    w_t = torch.from_numpy(w).clone().requires_grad_(True)
    zs, as_, _, E = forward_values(net, w_t, _as(data.inputs, w_t.dtype),
                                   _as(data.targets, w_t.dtype), data.weights)
    logits = from_logits(net)  # a_L is off the loss's path
    nodes = zs + (as_[:-1] if logits else as_)
    for v in nodes:
        v.retain_grad()
    E.backward()
    da = [_grad(a) for a in as_[:-1]] + [None if logits else _grad(as_[-1])]
    return BackwardPass(_grad(w_t), tuple(_grad(z) for z in zs), tuple(da))


def train(net: Network, w: np.ndarray, data: Data, *, lr: float, steps: int) -> Trajectory:
    """Plain gradient descent by torch.optim's own update (`torch.optim.sgd.sgd`, what
    ``torch.optim.SGD(params, lr).step()`` runs: w.add_(g, alpha=-lr)), without the optimizer
    object, whose construction imports torch._dynamo (about 1 s)."""
    from torch.optim.sgd import sgd

    dt = torch.from_numpy(w[:0]).dtype
    x, t = _as(data.inputs, dt), _as(data.targets, dt)
    loss = torch.empty(steps, dtype=dt)
    weights = torch.empty((steps + 1, w.size), dtype=dt)
    grads = torch.empty((steps, w.size), dtype=dt)
    weights[0] = torch.from_numpy(w)
    for k in range(steps):
        w_k = weights[k].clone().requires_grad_(True)
        E = forward_values(net, w_k, x, t, data.weights)[3]
        (g,) = torch.autograd.grad(E, w_k)
        loss[k], grads[k] = E.detach(), g
        w_next = weights[k].clone()
        sgd([w_next], [g], [None], weight_decay=0.0, momentum=0.0, lr=float(lr),
            dampening=0.0, nesterov=False, maximize=False)  # w_new = w_old - lr · dE/dw
        weights[k + 1] = w_next
    return Trajectory(loss.numpy(), weights.numpy(), grads.numpy())


# Rows are trained in chunks small enough that no tensor of a step reaches torch's parallel
# grain (32,768 elements): measured on 2 shared cores, 60,000 tutorial rows x 1,000 steps took
# 257 s in one graph (threads waiting for each other) and 15.8 s in chunks of 4,096 rows.
CHUNK_ELEMENTS = 16384
# Networks whose neurons have at most 2 inputs (the tutorial's, mazur, xor) train as columns
# (`_columns_loss`): one (rows, B) tensor per neuron and parameter instead of batched matmuls
# of 2 x 2 matrices. A sum of two products rounds the same in either order, so the columns sum
# as the matmul does (60,000 tutorial rows x 100 steps: the same final weights, bit for bit);
# wider layers' matmuls sum in their own order (iris: ulps apart, which its training amplifies)
# and are efficient as matmuls.
# Measured, tutorial, 200 steps: columns / matmul time 1.30 at 100 rows (more, smaller
# operations per step), 0.74 at 2,000, 0.49 at 6,000, 0.40 at 20,000.
COLUMNS_FAN_IN, COLUMNS_MIN_ROWS = 2, 1000


def _by_columns(net: Network, rows: int) -> bool:
    return max(net.sizes[:-1]) <= COLUMNS_FAN_IN and rows >= COLUMNS_MIN_ROWS


def train_batch(net: Network, w: np.ndarray, lr: np.ndarray, data: Data, steps: int,
                threshold: float | None = None, keep_loss: bool = False) -> BatchResult:
    """N trainings at once, in chunks of rows (`CHUNK_ELEMENTS`): one graph over a chunk per
    step, of its columns (small networks, `_columns_loss`) or of its (n, P) matrix
    (`forward_values`); grad of Σ_n E_n gives each row's own dE_n/dw_n (rows do not interact)."""
    B, columns = data.inputs.shape[0], _by_columns(net, w.shape[0])
    per_row = B if columns else max(
        max(a * b for a, b in zip(net.sizes[:-1], net.sizes[1:], strict=True)), B * max(net.sizes))
    rows = max(1, CHUNK_ELEMENTS // per_row)
    parts = [_train_chunk(net, w[lo:lo + rows], lr[lo:lo + rows], data, steps, threshold,
                          keep_loss, columns) for lo in range(0, w.shape[0], rows)]
    loss = None if not keep_loss else np.concatenate([r.loss for r in parts if r.loss is not None])
    initial = np.concatenate([r.initial_loss for r in parts if r.initial_loss is not None])
    reached = np.concatenate([r.steps_to_threshold for r in parts
                              if r.steps_to_threshold is not None])
    return BatchResult(initial, np.concatenate([r.final_loss for r in parts]),
                       np.concatenate([r.final_weights for r in parts]), reached, loss)


def _columns_loss(net: Network, cols: list[torch.Tensor], x: torch.Tensor,
                  t: torch.Tensor, s: Array | None = None) -> torch.Tensor:
    """E (n,) of n parameter vectors given as P columns (n,): each neuron's z and a are (n, B)
    tensors, z_j = Σ_i W_ji·a_i (+ b_j) summed in the order of i, as `forward_values`' matmul
    of these small layers sums them."""
    a: list[torch.Tensor] = [x[:, i] for i in range(net.sizes[0])]  # (B,): every row's inputs
    z: list[torch.Tensor] = []
    for l, (lay, name) in enumerate(zip(layout(net), net.activations, strict=True)):
        n_in, first = net.sizes[l], lay.W.start
        z = []
        for j in range(net.sizes[l + 1]):
            zj = cols[first + j * n_in].unsqueeze(-1) * a[0]
            for i in range(1, n_in):
                zj = zj + cols[first + j * n_in + i].unsqueeze(-1) * a[i]
            if lay.b is not None:
                zj = zj + cols[lay.b.start + j].unsqueeze(-1)
            elif net.bias == "frozen":
                zj = zj + _as((frozen_bias(net, l)[j],), zj.dtype)
            z.append(zj)
        a = list(activation(name, torch.stack(z, -1)).unbind(-1)) \
            if name in ("softmax", "log-softmax") else [activation(name, zj) for zj in z]
    outputs = None if from_logits(net) else torch.stack(a, -1)
    losses = example_losses(net, torch.stack(z, -1), outputs, t)
    return reduce(net, losses, x.shape[0], s)


def _train_chunk(net: Network, w: np.ndarray, lr: np.ndarray, data: Data, steps: int,
                 threshold: float | None, keep_loss: bool, columns: bool) -> BatchResult:
    dt = torch.from_numpy(w[:0]).dtype
    x, t = _as(data.inputs, dt), _as(data.targets, dt)
    W: list[torch.Tensor] = [torch.from_numpy(c.copy()) for c in w.T] if columns \
        else [torch.from_numpy(w.copy())]
    rate = torch.from_numpy(lr) if columns else torch.from_numpy(lr).unsqueeze(-1)
    reached = torch.full((w.shape[0],), -1, dtype=torch.int64)
    history = torch.empty((w.shape[0], steps), dtype=dt) if keep_loss else None
    initial: torch.Tensor | None = None
    E: torch.Tensor | None = None
    for k in range(steps + 1):
        for v in W:
            v.requires_grad_(True)
        E_n = _columns_loss(net, W, x, t, data.weights) if columns \
            else forward_values(net, W[0], x, t, data.weights)[3]
        E = E_n.detach()
        if k == 0:
            initial = E
        if threshold is not None:
            reached.masked_fill_((reached < 0) & (E <= threshold), k)
        if k == steps:
            break
        if history is not None:
            history[:, k] = E
        grads = torch.autograd.grad(E_n.sum(), W)
        # w_new = w_old - lr · dE/dw, rounded once as in torch.optim's w.add_(g, alpha=-lr)
        # (`train`): addcmul's fused multiply-add, bit for bit the same per row
        W = [torch.addcmul(v.detach(), rate, g, value=-1) for v, g in zip(W, grads, strict=True)]
    assert initial is not None and E is not None  # the loop runs at k = 0 at least
    final = torch.stack([v.detach() for v in W], dim=1) if columns else W[0].detach()
    return BatchResult(initial.numpy(), E.numpy(), final.numpy(), reached.numpy(),
                       None if history is None else history.numpy())
