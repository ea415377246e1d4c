"""N trainings of the tutorial's network on one example at once: plain gradient descent in
structure-of-arrays form, `manual.mlp.train_batch`'s kernel for that network (the 2-2-2
restart study)."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from autograd_compare.interface import Example
from autograd_compare.types import BatchResult

# The tutorial's formulas (`manual.network`, `manual.gradients`) in the same order, arranged
# for speed. The (N, 8) batch is cut into blocks of BLOCK configurations. A block keeps its
# weights as (8, m) (row j = w_{j+1} of every configuration), viewed as W_hidden (2, 2, m) and
# W_output (2, 2, m), so one ufunc call covers both neurons of a layer (about 30 calls per step
# instead of about 90), every intermediate lives in a preallocated buffer (out=, no
# temporaries), and a block's working set stays in L2 cache. Blocks are independent: up to
# THREADS run at once (NumPy releases the GIL inside ufunc loops).
BLOCK = 8192
THREADS = min(2, os.cpu_count() or 1)


def train_batch(w: np.ndarray, lr: np.ndarray, example: Example, *, steps: int,
                threshold: float | None = None, keep_loss: bool = False) -> BatchResult:
    """N trainings at once: ``w`` (N, 8) starting weights, ``lr`` (N,) learning rates.

    Evaluates the expressions of `forward_values` and `weight_gradients`, products in the same
    left-to-right order, so row n's weights are bit-identical to `manual.mlp.train` of
    ``w[n]`` at ``lr[n]`` on this network and example. Squares are x*x (NumPy's array
    ``**2``). Returns `BatchResult` (see `compare.types`).
    """
    n, dt = w.shape[0], w.dtype
    out = BatchResult(np.empty(n, dt), np.empty(n, dt), np.empty((n, w.shape[1]), dt),
                      np.full(n, -1, np.int64), np.empty((n, steps), dt) if keep_loss else None)
    blocks = [slice(lo, min(lo + BLOCK, n)) for lo in range(0, n, BLOCK)]

    def one(rows: slice) -> None:
        with np.errstate(over="ignore", invalid="ignore"):  # diverging runs: inf, then NaN
            _train_block(w[rows], lr[rows], example, steps, threshold, out, rows)

    if THREADS > 1 and len(blocks) > 1:
        with ThreadPoolExecutor(THREADS) as pool:
            list(pool.map(one, blocks))  # list(): re-raises a worker's error here
    else:
        for rows in blocks:
            one(rows)
    return out


def _train_block(w, lr, example: Example, steps: int, threshold, out: BatchResult,
                 rows: slice) -> None:
    """Train the block ``w`` (m, 8), ``lr`` (m,) and write its results into ``out[rows]``."""
    m, dt = w.shape[0], w.dtype
    W = np.array(w.T, order="C")  # (8, m)
    W_h, W_o = W[0:4].reshape(2, 2, m), W[4:8].reshape(2, 2, m)  # [[w1, w2], [w3, w4]], ...
    i = example.inputs.reshape(1, 2, 1)  # i1, i2 along the "from" axis
    i_full = np.ascontiguousarray(np.broadcast_to(i, W_h.shape))  # faster than broadcasting
    t = example.targets.reshape(2, 1)
    rate = lr[0] if np.all(lr == lr[0]) else lr  # a scalar multiplies faster than a row
    dW = np.empty_like(W)  # dE_total/dw1..dw8
    dW_h, dW_o = dW[0:4].reshape(2, 2, m), dW[4:8].reshape(2, 2, m)
    P = np.empty((2, 2, m), dt)  # products w_jk * x_k before the sum over k
    h, a_h, o, a_o, delta, g, tmp, z, den, num = np.empty((10, 2, m), dt)
    E, mask = np.empty(m, dt), np.empty((2, m), bool)
    pending = np.ones(m, bool)
    history = np.empty((steps, m), dt) if out.loss is not None else None
    track_loss = threshold is not None or history is not None
    for k in range(steps + 1):
        # forward: h1 = w1*i1 + w2*i2, h2 = w3*i1 + w4*i2; a_h = σ(h); o likewise; a_o = σ(o)
        _layer(W_h, i_full, P, h)
        _sigmoid(h, a_h, z, den, mask, num)
        _layer(W_o, a_h[None], P, o)
        _sigmoid(o, a_o, z, den, mask, num)
        if track_loss or k == 0 or k == steps:
            _loss(a_o, t, E, tmp)
            if k == 0:
                assert out.initial_loss is not None  # allocated above
                out.initial_loss[rows] = E
            if threshold is not None:  # first k with E_total(w[k]) <= threshold
                hit = mask[0]
                np.less_equal(E, threshold, out=hit)
                hit &= pending
                if hit.any():
                    assert out.steps_to_threshold is not None  # allocated above
                    out.steps_to_threshold[rows][hit] = k
                    pending &= ~hit
            if history is not None and k < steps:
                history[k] = E
        if k == steps:
            break
        # delta1 = (a_o1 - t1) * a_o1 * (1 - a_o1) = dE_total/do1, delta2 likewise
        np.subtract(a_o, t, out=delta)
        np.multiply(delta, a_o, out=delta)
        np.subtract(1, a_o, out=tmp)
        np.multiply(delta, tmp, out=delta)
        # g1 = (delta1*w5 + delta2*w7) * a_h1 * (1 - a_h1) = dE_total/dh1, g2 with w6, w8, a_h2
        np.multiply(W_o, delta[:, None], out=P)
        np.add(P[0], P[1], out=g)
        np.multiply(g, a_h, out=g)
        np.subtract(1, a_h, out=tmp)
        np.multiply(g, tmp, out=g)
        # dw1 = g1*i1, dw2 = g1*i2, dw3 = g2*i1, dw4 = g2*i2;
        # dw5 = delta1*a_h1, dw6 = delta1*a_h2, dw7 = delta2*a_h1, dw8 = delta2*a_h2
        np.multiply(g[:, None], i, out=dW_h)
        np.multiply(delta[:, None], a_h[None], out=dW_o)
        np.multiply(rate, dW, out=dW)  # w_new = w_old - lr * dE_total/dw
        np.subtract(W, dW, out=W)
    out.final_loss[rows] = E
    out.final_weights[rows] = W.T
    if history is not None and out.loss is not None:  # both or neither
        out.loss[rows] = history.T


def _layer(W, x, P, out) -> None:
    """out_j = W_j1*x_1 + W_j2*x_2 for j = 1, 2: ``W`` (2, 2, m), ``x`` broadcast to it."""
    np.multiply(W, x, out=P)
    np.add(P[:, 0], P[:, 1], out=out)


def _sigmoid(x, out, z, den, mask, num) -> None:
    """out = σ(x) as `manual.network.sigmoid` computes it: z = exp(-|x|), then 1/(1+z) where
    x >= 0 and z/(1+z) elsewhere, as one division whose numerator is max(z, [x >= 0]) (z <= 1,
    so that is 1 where x >= 0 and z elsewhere; cheaper than a masked copy)."""
    np.abs(x, out=z)
    np.negative(z, out=z)
    np.exp(z, out=z)
    np.add(1, z, out=den)
    np.greater_equal(x, 0, out=mask)
    np.copyto(num, mask)
    np.maximum(z, num, out=num)
    np.divide(num, den, out=out)


def _loss(a_o, t, E, tmp) -> None:
    """E_total = E1 + E2, E_j = 0.5 * (t_j - a_oj)**2 (the square as x*x)."""
    np.subtract(t, a_o, out=tmp)
    np.square(tmp, out=tmp)
    np.multiply(0.5, tmp, out=tmp)
    np.add(tmp[0], tmp[1], out=E)
