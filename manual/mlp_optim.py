"""Optimizers on any network (`compare.network`), by hand: the update rules of `manual.optim`
applied to the flat parameter vector, gradients from `manual.mlp`'s hand-derived backward pass.

``v = mu * v + dw`` is one line over all P parameters at once (element-wise), exactly as
`manual.optim` writes it for w1..w8; the rules themselves are `manual.optim.update`, not a
copy. Frozen biases are part of the network's description, not of the vector, so no optimizer
ever moves them. Same function names as `manual.optim`, with the network first.
"""

from __future__ import annotations

import numpy as np

from autograd_compare import naming
from autograd_compare.manual import mlp
from autograd_compare.manual.optim import check_mistake, flat_state, init_state, update
from autograd_compare.network import Data, Network, reduction_scale
from autograd_compare.optimizers import ADAM_KINDS, Optimizer
from autograd_compare.types import BatchResult, Trajectory


def _objective_gradient(net: Network, w: np.ndarray, data: Data, opt: Optimizer):
    """(E, d(E + λ/2·Σw²)/dw) at ``w`` (..., P): the δ recursion, then + λ·w by hand."""
    zs, as_, losses = mlp.forward_pass(net, w, data.inputs, data.targets)
    c = w.dtype.type(reduction_scale(net, data.inputs.shape[0]))
    dw = mlp.backward_pass(net, w, data.inputs, data.targets, zs, as_)[0]
    if opt.l2:
        dw = dw + w.dtype.type(opt.l2) * w  # d/dw of λ/2·w² is λ·w
    return c * losses.sum(axis=-1), dw


def train(net: Network, w: np.ndarray, data: Data, opt: Optimizer, steps: int,
          mistake: str | None = None) -> Trajectory:
    """``steps`` updates of ``opt`` from ``w`` (P,); ``mistake`` one of `manual.optim.MISTAKES`."""
    if mistake is not None:
        check_mistake(opt, mistake)
    dt = w.dtype
    n_state = len(naming.STATE_PREFIXES[opt.kind]) * w.size + (opt.kind in ADAM_KINDS)
    loss = np.empty(steps, dt)
    weights = np.empty((steps + 1, w.size), dt)
    grads = np.empty((steps, w.size), dt)
    state = np.empty((steps, n_state), dt)
    weights[0] = w
    s = init_state(w.shape, dt, opt)
    for k in range(steps):
        loss[k], grads[k] = _objective_gradient(net, weights[k], data, opt)
        weights[k + 1], s = update(weights[k], grads[k], s, opt, k, mistake)
        state[k] = flat_state(s, opt)
    return Trajectory(loss, weights, grads, state)


def train_batch(net: Network, w: np.ndarray, lr: np.ndarray, data: Data, opt: Optimizer,
                steps: int) -> BatchResult:
    """N trainings at once: ``w`` (N, P), ``lr`` (N,); the same formulas with a leading axis
    of configurations (the learning rate a column), no loop over N."""
    dt = w.dtype
    W = w.copy()
    rates = lr.astype(dt)[:, None]
    s = init_state(W.shape, dt, opt)
    change = opt.lr_change
    for k in range(steps):
        _, dW = _objective_gradient(net, W, data, opt)
        rate = rates if not change or k < change[0] else np.full_like(rates, change[1])
        per_row = opt._replace(lr=rate, lr_change=None)  # type: ignore[arg-type]  # a column
        W, s = update(W, dW, s, per_row, k)  # of rates (N, 1): update broadcasts it
    E, _ = _objective_gradient(net, W, data, opt._replace(l2=0.0))
    return BatchResult(None, E, W, None)
