"""Momentum, weight decay, L2 and Adam written by hand, in the tutorial's style, on any network
(`compare.network`). No framework.

Every update rule is spelled out on the flat parameter vector: ``v = mu * v + dw`` is
v1 = mu * v1 + dw1, ..., v8 = mu * v8 + dw8 at once (element-wise), as the tutorial writes
``w5 = w5 - lr * dw5``. The gradient on the tutorial's own network and example is the
tutorial's chain rule (`manual.gradients.weight_gradients`, its 8 formulas); on every other
network it is `manual.mlp`'s δ recursion. Frozen biases are part of the network's
description, not of the vector, so no optimizer ever moves them. See `compare.optimizers` for
the rules and the names of the state.

``MISTAKES`` are deliberately wrong update rules, one wrong line each, runnable as the backend
``mistake:<name>`` of `compare.harness.optim_check`, which must name their first wrong
quantity.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from autograd_compare import naming
from autograd_compare.errors import InputError
from autograd_compare.interface import Example
from autograd_compare.manual import mlp
from autograd_compare.network import Data, Network, tutorial_example
from autograd_compare.optimizers import ADAM_KINDS, Optimizer, decay_mask, penalty_gradient
from autograd_compare.types import BatchResult, Resume, Trajectory


class UpdateMistake(NamedTuple):
    name: str
    kinds: tuple[str, ...]  # the optimizers it applies to
    description: str
    first_wrong: str  # the quantity the harness must name first (with the default settings)


MISTAKES = {m.name: m for m in (
    UpdateMistake("momentum-before-gradient", ("momentum", "nesterov"),
                 "steps with the old velocity, then adds the gradient (w -= lr*v; v = mu*v + g)",
                 "w1 after step 1"),
    UpdateMistake("weight-decay-sign", ("sgd", "momentum", "nesterov", "adam"),
                 "coupled weight decay with the wrong sign (g - wd*w instead of g + wd*w)",
                 "first state or weight after step 1"),
    UpdateMistake("adam-no-bias-correction", ("adam", "adamw"),
                 "Adam without bias correction (m and v used in place of m_hat and v_hat)",
                 "w1 after step 1"),
    UpdateMistake("adamw-decay-after", ("adamw",),
                 "AdamW decays the weights after the Adam step instead of before it",
                 "w1 after step 1"),
)}


def train(net: Network, w: np.ndarray, data: Data, opt: Optimizer, steps: int,
          resume: Resume | None = None, mistake: str | None = None,
          gradient: Callable[[Network, np.ndarray, Data], tuple] | None = None) -> Trajectory:
    """``steps`` updates of ``opt`` from ``w`` (P,), from ``resume``'s optimizer state if given
    (else a fresh one); ``mistake`` one of `MISTAKES`; ``gradient``: (E, dE/dw) of someone
    else's (a user's backend, `compare.plugins`) instead of the hand-derived ones."""
    if mistake is not None:
        check_mistake(opt, mistake)
    dt = w.dtype
    n_state = len(naming.STATE_PREFIXES[opt.kind]) * w.size + (opt.kind in ADAM_KINDS)
    loss = np.empty(steps, dt)
    weights = np.empty((steps + 1, w.size), dt)
    grads = np.empty((steps, w.size), dt)
    state = np.empty((steps, n_state), dt)
    weights[0] = w
    s = init_state(w.shape, dt, opt, resume)
    done = 0 if resume is None else resume.updates
    mask = wd_mask(net, opt, dt)
    for k in range(steps):
        loss[k], grads[k] = _objective_gradient(net, weights[k], data, opt, gradient)
        weights[k + 1], s = update(weights[k], grads[k], s, opt, done + k, mistake, mask)
        state[k] = flat_state(s, opt)
    return Trajectory(loss, weights, grads, state)


def _objective_gradient(net: Network, w: np.ndarray, data: Data, opt: Optimizer,
                        gradient: Callable[[Network, np.ndarray, Data], tuple] | None = None):
    """(E, d(E + λ/2·Σ m⊙w²)/dw) at ``w`` (..., P), then + λ·m⊙w by hand (d/dw5 of λ/2·w5²
    is λ·w5; m: the weights, and the biases with ``decay_biases``): the tutorial's 8 formulas
    on its own network and example, else the δ recursion."""
    E, dw = (mlp.loss_and_gradient if gradient is None else gradient)(net, w, data)
    if opt.l2:
        dw = dw + penalty_gradient(opt, net, w)
    return E, opt.masked(dw)  # a frozen parameter: gradient 0


def check_mistake(opt: Optimizer, mistake: str) -> None:
    """A one-line InputError unless ``mistake`` is in `MISTAKES` and applies to ``opt``."""
    if mistake not in MISTAKES:
        raise InputError(f"unknown optimizer mistake {mistake!r}; expected one of "
                         + ", ".join(MISTAKES))
    if opt.kind not in MISTAKES[mistake].kinds:
        raise InputError(f"mistake {mistake!r} applies to {', '.join(MISTAKES[mistake].kinds)}; "
                         f"got optimizer {opt.kind!r}")


def init_state(shape, dt, opt: Optimizer, resume: Resume | None = None) -> dict:
    """The state (m, v of ``shape`` (..., P); t the updates made): fresh, or holding
    ``resume.state`` (the layout of `flat_state`)."""
    P = shape[-1]
    flat, t = (np.zeros((*shape[:-1], 2 * P), dt), 0) if resume is None else \
        (resume.state, resume.updates)
    if opt.kind in ADAM_KINDS:
        return {"m": flat[..., :P].copy(), "v": flat[..., P:2 * P].copy(), "t": t}
    if opt.kind in ("momentum", "nesterov", "textbook-momentum"):
        return {"v": flat[..., :P].copy(), "t": t}
    return {"t": t}


def flat_state(s: dict, opt: Optimizer) -> np.ndarray:
    if opt.kind in ADAM_KINDS:
        return np.concatenate([s["m"], s["v"], [s["t"]]])
    if opt.kind in ("momentum", "nesterov", "textbook-momentum"):
        return s["v"]
    return np.empty(0)


def wd_mask(net: Network, opt: Optimizer, dt) -> np.ndarray | None:
    """The weight decay's mask m (P,) in ``dt`` (`optimizers.decay_mask`), or None where it
    is all 1 (every parameter decayed: wd·w, bit for bit as before masks)."""
    m = decay_mask(net, opt.wd_biases())
    return None if m.all() or not opt.weight_decay else m.astype(dt)


def update(w, dw, s: dict, opt: Optimizer, k: int, mistake=None, mask=None) -> tuple:
    """One update of the weights ``w`` with gradient ``dw``: (new weights, new state).

    ``w``, ``dw``: (..., 8); the learning rate may be a column (N, 1) for a batch; ``mask``
    (P,): the parameters weight decay acts on (`wd_mask`; None: all).
    """
    dt = dw.dtype
    lr = _rate(opt.lr_at(k), dt)
    mu, tau = dt.type(opt.momentum), dt.type(opt.dampening)
    wd = dt.type(opt.weight_decay) if mask is None else dt.type(opt.weight_decay) * mask
    t = s["t"] + 1  # the step count, 1 at the first update
    if opt.kind != "adamw" and opt.weight_decay:
        if mistake == "weight-decay-sign":
            dw = dw - wd * w  # WRONG: decay pushes the weights away from 0
        else:
            dw = dw + wd * w  # coupled weight decay: dw5 = dw5 + wd * w5

    if opt.kind == "sgd":
        return w - lr * dw, {"t": t}  # w5 = w5 - lr * dw5

    if opt.kind in ("momentum", "nesterov"):
        v = s["v"]
        if mistake == "momentum-before-gradient":  # WRONG: steps with last step's velocity
            w = w - lr * v
            return w, {"v": mu * v + dw, "t": t}
        if t == 1:
            v = dw.copy()  # v5 = dw5 at the first step (PyTorch's momentum_buffer starts so)
        else:
            v = mu * v + (1 - tau) * dw  # v5 = mu * v5 + (1 - dampening) * dw5
        if opt.kind == "nesterov":
            w = w - lr * (dw + mu * v)  # w5 = w5 - lr * (dw5 + mu * v5)
        else:
            w = w - lr * v  # w5 = w5 - lr * v5
        return w, {"v": v, "t": t}

    if opt.kind == "textbook-momentum":
        u = mu * s["v"] - lr * dw  # u5 = mu * u5 - lr * dw5  (a velocity in weight units)
        return w + u, {"v": u, "t": t}  # w5 = w5 + u5

    # adam and adamw
    b1, b2, eps = dt.type(opt.betas[0]), dt.type(opt.betas[1]), dt.type(opt.eps)
    if opt.kind == "adamw" and mistake != "adamw-decay-after":
        w = w - lr * wd * w  # decoupled: w5 = w5 - lr * wd * w5, on the weights before the step
    m = b1 * s["m"] + (1 - b1) * dw  # m5 = b1 * m5 + (1 - b1) * dw5      (first moment)
    v = b2 * s["v"] + (1 - b2) * dw * dw  # v5 = b2 * v5 + (1 - b2) * dw5²  (second moment)
    m_hat = m / (1 - b1**t)  # bias correction: m and v start at 0
    v_hat = v / (1 - b2**t)
    if mistake == "adam-no-bias-correction":
        m_hat, v_hat = m, v  # WRONG: the first steps are (1-b1)/sqrt(1-b2) ~ 3x too short
    w = w - lr * m_hat / (np.sqrt(v_hat) + eps)  # w5 = w5 - lr * m_hat5 / (sqrt(v_hat5) + eps)
    if mistake == "adamw-decay-after":
        w = w - lr * wd * w  # WRONG: decays the weights after the step, not before
    return w, {"m": m, "v": v, "t": t}


def _rate(lr, dt):
    return lr.astype(dt) if isinstance(lr, np.ndarray) else dt.type(lr)


# --- batched: N configurations (starting parameters, learning rate) with one optimizer ------
def train_batch(net: Network, w: np.ndarray, lr: np.ndarray, data: Data, opt: Optimizer,
                steps: int) -> BatchResult:
    """N trainings at once: ``w`` (N, P), ``lr`` (N,); the same formulas with a leading axis
    of configurations (the learning rate a column), no loop over N.

    On the tutorial's network and example the weights are held as 8 contiguous rows
    (structure of arrays), so every formula is one NumPy call over a block of `BLOCK`
    configurations: `_soa_gradients` and `update` written with preallocated rows and in-place
    operations (`_train_block`), the same operations in the same order, so the same numbers,
    without ~100 temporary arrays and the per-step Python work of `update`.
    """
    ex = tutorial_example(net, data)
    if ex is not None:
        final_w, final_l = np.empty_like(w), np.empty(w.shape[0], w.dtype)
        for lo in range(0, w.shape[0], BLOCK):
            rows = slice(lo, lo + BLOCK)
            final_l[rows], final_w[rows] = _train_block(w[rows], lr[rows], ex, opt, steps)
        return BatchResult(None, final_l, final_w, None)
    W = w.copy()
    rates = lr.astype(w.dtype)[:, None]
    s = init_state(W.shape, w.dtype, opt)
    change = opt.lr_change
    mask = wd_mask(net, opt, w.dtype)
    for k in range(steps):
        _, dW = _objective_gradient(net, W, data, opt)
        rate = rates if not change or k < change[0] else np.full_like(rates, change[1])
        per_row = opt._replace(lr=rate, lr_change=None)  # type: ignore[arg-type]  # a column
        W, s = update(W, dW, s, per_row, k, mask=mask)  # of rates (N, 1): update broadcasts it
    E, _ = _objective_gradient(net, W, data, opt._replace(l2=0.0))
    return BatchResult(None, E, W, None)


BLOCK = 4096  # configurations trained together: a block's ~40 temporaries stay in L2 cache


def _train_block(w, lr, example: Example, opt: Optimizer, steps: int) -> tuple:
    """``steps`` updates of a block ``w`` (m, 8): `_soa_gradients` then `update`, in place.

    Every line below names the expression of `_soa_gradients`, `_sigmoid_tanh` or `update`
    it computes (a*b + c*d as a*b, then + c*d; x*y as y*x: exact in floating point), and
    tests/test_optim_fast.py checks the result is bit for bit theirs.
    """
    dt = w.dtype
    W = np.array(w.T, order="C")  # (8, m): w1..w8 as rows
    m = W.shape[1]
    rates = lr.astype(dt)
    (i1, i2), (t1, t2) = example.inputs, example.targets
    # the two neurons of a layer go through each formula together, as rows of one (2, m)
    # array: (w1, w3) and (w2, w4) are W[0:4] in pairs, (w5, w7) and (w6, w8) W[4:8]
    pair_in, pair_out = W[0:4].reshape(2, 2, m), W[4:8].reshape(2, 2, m)
    ins = np.array([i1, i2], dt)[None, :, None]  # (1, 2, 1): i1, i2
    tgt = np.array([t1, t2], dt)[:, None]  # (2, 1): t1, t2
    A_h, A_o, D, G, X = np.empty((5, 2, m), dt)  # (a_h1, a_h2), (a_o1, a_o2), (d1, d2), ...
    a_h1, a_h2 = A_h
    d1, d2 = D
    dW, T = np.empty((8, m), dt), np.empty((8, m), dt)
    dW_in, dW_out = dW[0:4].reshape(2, 2, m), dW[4:8].reshape(2, 2, m)
    mu, tau, wd, l2 = (dt.type(v) for v in (opt.momentum, opt.dampening, opt.weight_decay,
                                            opt.l2))
    b1, b2, eps = dt.type(opt.betas[0]), dt.type(opt.betas[1]), dt.type(opt.eps)
    state = [np.zeros((8, m), dt) for _ in range(2 if opt.kind in ADAM_KINDS else 1)]
    V = state[0]  # momentum_buffer; Adam's m (first moment)
    change = opt.lr_change

    def sigmoid(a, p, q, u, v):
        """a = σ(p*u + q*v) = 0.5 + 0.5*tanh(0.5*(p*u + q*v)), both neurons at once"""
        np.multiply(p, u, out=a)
        np.multiply(q, v, out=X)
        a += X
        a *= 0.5
        np.tanh(a, out=a)
        a *= 0.5
        a += 0.5

    for k in range(steps):
        t = k + 1
        # _soa_gradients
        sigmoid(A_h, pair_in[:, 0], pair_in[:, 1], i1, i2)  # a_h1 = σ(w1*i1 + w2*i2), a_h2
        sigmoid(A_o, pair_out[:, 0], pair_out[:, 1], a_h1, a_h2)  # a_o1 = σ(w5*a_h1 + w6*a_h2)
        np.subtract(A_o, tgt, out=D)  # d = (a_o - t) * a_o * (1 - a_o)
        D *= A_o
        np.subtract(1, A_o, out=X)
        D *= X
        np.multiply(W[4:6], d1, out=G)  # g1 = (d1 * w5 + d2 * w7) * a_h1 * (1 - a_h1), g2
        np.multiply(W[6:8], d2, out=X)
        G += X
        G *= A_h
        np.subtract(1, A_h, out=X)
        G *= X
        np.multiply(G[:, None, :], ins, out=dW_in)  # g1 * i1, g1 * i2, g2 * i1, g2 * i2
        np.multiply(D[:, None, :], A_h[None, :, :], out=dW_out)  # d1 * a_h1, d1 * a_h2, d2 ...
        if opt.l2:
            np.multiply(W, l2, out=T)  # dW += l2 * W
            dW += T
        # update
        lr_k = rates if not change or k < change[0] else np.full_like(rates, change[1])
        if opt.kind != "adamw" and opt.weight_decay:
            np.multiply(W, wd, out=T)  # dw = dw + wd * w
            dW += T
        if opt.kind == "sgd":
            np.multiply(dW, lr_k, out=T)  # w = w - lr * dw
            W -= T
        elif opt.kind in ("momentum", "nesterov"):
            if t == 1:
                V[...] = dW  # v = dw.copy()
            else:
                V *= mu  # v = mu * v + (1 - tau) * dw   ((1 - 0) * dw is dw)
                if opt.dampening:
                    np.multiply(dW, 1 - tau, out=T)
                    V += T
                else:
                    V += dW
            np.multiply(V, mu if opt.kind == "nesterov" else 1, out=T)
            if opt.kind == "nesterov":
                T += dW  # w = w - lr * (dw + mu * v)
            T *= lr_k  # (momentum: w = w - lr * v; T = 1 * v is v)
            W -= T
        elif opt.kind == "textbook-momentum":
            V *= mu  # u = mu * u - lr * dw
            np.multiply(dW, lr_k, out=T)
            V -= T
            W += V  # w = w + u
        elif opt.kind in ADAM_KINDS:
            M, S = state
            if opt.kind == "adamw":
                np.multiply(W, lr_k * wd, out=T)  # w = w - lr * wd * w
                W -= T
            M *= b1  # m = b1 * m + (1 - b1) * dw
            np.multiply(dW, 1 - b1, out=T)
            M += T
            np.multiply(dW, 1 - b2, out=T)  # v = b2 * v + (1 - b2) * dw * dw
            T *= dW
            S *= b2
            S += T
            np.divide(S, 1 - b2**t, out=T)  # v_hat = v / (1 - b2**t)
            np.sqrt(T, out=T)
            T += eps
            np.divide(M, 1 - b1**t, out=dW)  # m_hat = m / (1 - b1**t)
            dW *= lr_k  # w = w - lr * m_hat / (sqrt(v_hat) + eps)
            dW /= T
            W -= dW
        else:
            raise ValueError(f"{opt.kind} has no batched form")
    return _soa_loss(W, example), W.T


def _sigmoid_tanh(x):
    """σ(x) = ½ + ½·tanh(x/2): the same function, no overflow at any x, and measured 13x
    faster than `manual.network.sigmoid`'s exp-and-select form (which `train` keeps)."""
    return 0.5 + 0.5 * np.tanh(0.5 * x)


def _soa_forward(W, example: Example):
    i1, i2 = example.inputs
    a_h1 = _sigmoid_tanh(W[0] * i1 + W[1] * i2)
    a_h2 = _sigmoid_tanh(W[2] * i1 + W[3] * i2)
    a_o1 = _sigmoid_tanh(W[4] * a_h1 + W[5] * a_h2)
    a_o2 = _sigmoid_tanh(W[6] * a_h1 + W[7] * a_h2)
    return a_h1, a_h2, a_o1, a_o2


def _soa_loss(W, example: Example):
    _, _, a_o1, a_o2 = _soa_forward(W, example)
    t1, t2 = example.targets
    return 0.5 * np.square(t1 - a_o1) + 0.5 * np.square(t2 - a_o2)


def _soa_gradients(W, example: Example, opt: Optimizer):
    """dw1..dw8 as rows (8, N): `manual.gradients.weight_gradients`, common factors once."""
    (i1, i2), (t1, t2) = example.inputs, example.targets
    a_h1, a_h2, a_o1, a_o2 = _soa_forward(W, example)
    d1 = (a_o1 - t1) * a_o1 * (1 - a_o1)  # dE_total/do1
    d2 = (a_o2 - t2) * a_o2 * (1 - a_o2)  # dE_total/do2
    g1 = (d1 * W[4] + d2 * W[6]) * a_h1 * (1 - a_h1)  # dE_total/dh1
    g2 = (d1 * W[5] + d2 * W[7]) * a_h2 * (1 - a_h2)  # dE_total/dh2
    dW = np.stack([g1 * i1, g1 * i2, g2 * i1, g2 * i2, d1 * a_h1, d1 * a_h2, d2 * a_h1, d2 * a_h2])
    if opt.l2:
        dW += W.dtype.type(opt.l2) * W  # + λ·w from λ/2·Σw²
    return dW
