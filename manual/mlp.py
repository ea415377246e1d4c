"""Any network (`compare.network`): forward pass and the backward pass derived by hand.

The backward pass in matrix form, examples as rows (B, n):

    δ_L = dE/dz_L:  half-sse   c · (a_L - t) ⊙ f_L'(z_L)
                    mse        c · 2(a_L - t) ⊙ f_L'(z_L)
                    softmax + cross-entropy   c · (a_L · Σ_j t_j - t)   (= c·(a_L - t), one-hot t)
                    sigmoid + bce             c · (σ(z_L) - t)
                    log-softmax + nll         dE/da_L = -c · t, and through log-softmax
                                              (∂a_i/∂z_k = [i = k] - p_k, p = e^a_L = softmax):
                                              dE/da_L - p · Σ_j dE/da_Lj = c · (p · Σ_j t_j - t)
    dE/da_l = δ_{l+1} @ W_{l+1}          (the row form of W_{l+1}ᵀ δ_{l+1})
    δ_l     = dE/da_l ⊙ f_l'(z_l)
    dE/dW_l = δ_lᵀ @ a_{l-1}             (Σ over examples of δ_l a_{l-1}ᵀ)
    dE/db_l = Σ_b δ_l

with c the reduction's scale (`compare.network.reduction_scale`); with example weights s_b,
E = c·Σ_b s_b·loss_b and c·s_b stands for c in example b's row of δ_L (a column (B, 1)).
Each f' written by hand below (`derivative`). No autodiff anywhere in this file. bce is
taken from the logits: loss = softplus(z) - t·z, so dE/dz = c·(σ(z) - t) (softplus' = σ) and no
σ' is left; nll's dE/da_L is a node, cross-entropy's and bce's are not (None). Each δ_L is
proved against SymPy's derivative of the loss's definition by ``explain --prove`` (part (b)).

    f            f(z)                                f'(z)
    sigmoid      σ(z) = 1/(1 + e^-z)                 σ(1 - σ) = a(1 - a)
    tanh         tanh z                              1 - a²
    relu         max(z, 0)                           1 for z > 0, else 0
    identity     z                                   1
    leaky-relu:s z for z > 0, else s·z (s = 0.01)    1 for z > 0, else s
    elu:α        z for z > 0, else α(e^z - 1) (α=1)  1 for z > 0, else α·e^z
    gelu         z·Φ(z), Φ(z) = ½(1 + erf(z/√2))     Φ(z) + z·φ(z), φ(z) = e^(-z²/2)/√(2π)
    softplus     log(1 + e^z); z for z > 20          σ(z); 1 for z > 20   (nn.Softplus())
    silu         z·σ(z)                              σ(z)·(1 + z(1 - σ(z)))

On the tutorial's own network and one example (`compare.network.tutorial_example`) the kernel
is the tutorial's 8 formulas instead (`manual.network`, `manual.gradients`; batched:
`manual.soa`): the numbers the tutorial's text gives, bit for bit.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt

from autograd_compare.manual import gradients as tutorial_gradients
from autograd_compare.manual import network as tutorial_network
from autograd_compare.manual import soa
from autograd_compare.manual.network import sigmoid
from autograd_compare.network import (
    SOFTPLUS_THRESHOLD,
    Array,
    BackwardPass,
    Data,
    ForwardPass,
    Network,
    activation_of,
    frozen_bias,
    layout,
    reduction_scale,
    tutorial_example,
)
from autograd_compare.types import BatchResult, Trajectory

Params: TypeAlias = list[tuple[Array, Array | None]]  # per layer: W_l, b_l (None: no bias)


def activation(name: str, z: Array) -> Array:
    """f(z) for one layer; softmax over the last axis (stable: z - max)."""
    if name == "log-softmax":
        return log_softmax(z)
    kind, p = activation_of(name)
    if kind == "sigmoid":
        return sigmoid(z)
    if kind == "tanh":
        return np.tanh(z)
    if kind == "relu":
        return np.maximum(z, 0)
    if kind == "identity":
        return z
    if kind == "leaky-relu":
        return np.where(z > 0, z, p * z)  # z, or slope·z for z <= 0
    if kind == "elu":
        return np.where(z > 0, z, p * np.expm1(np.minimum(z, 0)))  # z, or α(e^z - 1)
    if kind == "gelu":
        return z * normal_cdf(z)  # z·Φ(z), the exact (erf) form
    if kind == "softplus":  # log(1 + e^z), and z itself above the threshold (nn.Softplus())
        return np.where(z > SOFTPLUS_THRESHOLD, z,
                        np.log1p(np.exp(np.minimum(z, SOFTPLUS_THRESHOLD))))
    if kind == "silu":
        return z * sigmoid(z)  # z·σ(z)
    e = np.exp(z - z.max(axis=-1, keepdims=True))  # softmax
    return e / e.sum(axis=-1, keepdims=True)


def derivative(name: str, z: Array, a: Array) -> Array:
    """f'(z), by hand, from z or from a = f(z) (softmax is handled with the loss). On object
    arrays (`compare.teach.prove`'s SymPy symbols) the same formulas, with SymPy's σ, Φ, φ."""
    kind, p = activation_of(name)
    p = _exact(p, z)  # a number (0.0 for the activations without a parameter)
    if kind == "sigmoid":
        return a * (1 - a)  # σ' = σ(1 - σ)
    if kind == "tanh":
        return 1 - a * a  # tanh' = 1 - tanh²
    if kind == "relu":
        return (z > 0).astype(z.dtype)  # 1 for z > 0, 0 otherwise (0 at z = 0, like torch)
    if kind == "leaky-relu":
        return np.where(z > 0, 1, p).astype(z.dtype)  # 1 for z > 0, slope otherwise (at 0 too)
    if kind == "elu":  # 1 for z > 0, α·e^z otherwise (α at 0, like torch; = a + α, which cancels)
        return np.where(z > 0, 1, p * _exp(np.where(z > 0, 0, z))).astype(z.dtype)
    if kind == "gelu":
        return normal_cdf(z) + z * normal_pdf(z)  # (z·Φ)' = Φ + z·φ
    if kind == "softplus":  # log(1 + e^z)' = σ(z); 1 above the threshold, where f = z
        return np.where(z > SOFTPLUS_THRESHOLD, 1, _sigmoid(z)).astype(z.dtype)
    if kind == "silu":
        s = _sigmoid(z)
        return s * (1 + z * (1 - s))  # (z·σ)' = σ + z·σ(1 - σ)
    return np.ones_like(z)  # identity


_ERFC = np.frompyfunc(math.erfc, 1, 1)  # NumPy has no erf: the C library's, element by element


def _symbolic(x: Array) -> bool:
    return x.dtype == object  # `compare.teach.prove` passes SymPy expressions


def _exact(p: float, x: Array) -> Any:
    """The parameter; on SymPy arrays the float's exact value (SymPy would round each product
    with a float to 15 digits)."""
    return _sympy().Rational(p) if _symbolic(x) else p


def _sympy() -> Any:
    import sympy  # imported only on SymPy arrays (`compare.teach.prove`), never for numbers

    return sympy


def _each(f: Callable[[Any], Any], x: Array) -> Array:
    return np.array([f(v) for v in x.flat], dtype=object).reshape(x.shape)


def _exp(x: Array) -> Array:
    return _each(_sympy().exp, x) if _symbolic(x) else np.exp(x)


def _sigmoid(x: Array) -> Array:
    if _symbolic(x):
        return _each(lambda v: 1 / (1 + _sympy().exp(-v)), x)
    return sigmoid(x)


def normal_cdf(x: Array) -> Array:
    """Φ(x) = ½ erfc(-x/√2) (erfc: no cancellation in the left tail, as 1 + erf would have)."""
    if _symbolic(x):
        sp = _sympy()
        return _each(lambda v: (1 + sp.erf(v / sp.sqrt(2))) / 2, x)
    return 0.5 * np.asarray(_ERFC(-x * _SQRT_HALF), x.dtype)


def normal_pdf(x: Array) -> Array:
    """φ(x) = e^(-x²/2)/√(2π); |x| capped at 40 (e^-800 = 0 already) so x² never overflows."""
    if _symbolic(x):
        sp = _sympy()
        return _each(lambda v: sp.exp(-v * v / 2) / sp.sqrt(2 * sp.pi), x)
    return np.exp(-0.5 * np.square(np.minimum(np.abs(x), 40))) * _INV_SQRT_2PI


_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)


def unpack_params(net: Network, w: Array, dt: npt.DTypeLike) -> Params:
    """[(W_l (..., n_l, n_{l-1}), b_l (..., n_l) or None)] from w (..., P)."""
    out: Params = []
    for l, lay in enumerate(layout(net)):
        b: Array | None
        W = w[..., lay.W].reshape(w.shape[:-1] + lay.W_shape)
        if lay.b is not None:
            b = w[..., lay.b]
        elif net.bias == "frozen":
            b = np.asarray(frozen_bias(net, l), dt)
        else:
            b = None
        out.append((W, b))
    return out


# A diverging training (lr too large for the network) overflows to inf and NaN, as it does in
# torch and jax, without a warning; the harness compares and reports it (`network_summary`).
@np.errstate(over="ignore", invalid="ignore")
def forward_pass(net: Network, w: Array, x: Array,
             t: Array) -> tuple[list[Array], list[Array], Array]:
    """z, a of every layer and the per-example losses; w (..., P), x (B, n_0) -> (..., B, n)."""
    zs: list[Array] = []
    as_: list[Array] = []
    a = x
    for (W, b), name in zip(unpack_params(net, w, w.dtype), net.activations, strict=True):
        z = a @ np.swapaxes(W, -1, -2)  # z = a_{l-1} @ W_lᵀ (+ b_l)
        if b is not None:
            z = z + b[..., None, :]
        a = activation(name, z)
        zs.append(z)
        as_.append(a)
    return zs, as_, example_losses(net, zs[-1], as_[-1], t)


def log_softmax(z: Array) -> Array:
    """log softmax(z) over the last axis: z - max - log Σ e^(z - max)."""
    m = z.max(axis=-1, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis=-1, keepdims=True))


def example_losses(net: Network, z: Array, a: Array, t: Array) -> Array:
    """loss_b (..., B) before the reduction."""
    if net.loss == "cross-entropy":
        return -(t * log_softmax(z)).sum(axis=-1)
    if net.loss == "nll":
        return -(t * a).sum(axis=-1)  # a = log softmax(z_L)
    if net.loss == "bce":  # softplus(z) - t·z, stable: softplus(z) = max(z, 0) + log1p(e^-|z|)
        return (np.maximum(z, 0) - t * z + np.log1p(np.exp(-np.abs(z)))).sum(axis=-1)
    d = t - a
    return (0.5 if net.loss == "half-sse" else 1.0) * (d * d).sum(axis=-1)


def forward(net: Network, w: np.ndarray, data: Data) -> ForwardPass:
    """Every z and a (B, n_l) and the loss, for one parameter vector ``w`` (P,)."""
    ex = tutorial_example(net, data)
    if ex is not None:
        return tutorial_network.forward(w, ex)
    zs, as_, losses = forward_pass(net, w, data.inputs, data.targets)
    return ForwardPass(tuple(zs), tuple(as_), losses, np.asarray(
        reduce(net, losses, data.inputs.shape[0], data.weights)))


def reduce(net: Network, losses: Array, batch: int, weights: Array | None = None) -> Array:
    """E = c · Σ_b loss_b (..., B) -> (...), or c · Σ_b s_b·loss_b with example weights."""
    c = losses.dtype.type(reduction_scale(net, batch, weights))
    if weights is None:
        return c * losses.sum(axis=-1)
    return c * (weights.astype(losses.dtype) * losses).sum(axis=-1)


def example_scale(net: Network, batch: int, dt: npt.DTypeLike,
                  weights: Array | None = None) -> Array:
    """c (a scalar), or c·s_b as a column (B, 1) with example weights: dE/dloss_b."""
    c = np.dtype(dt).type(reduction_scale(net, batch, weights))
    if weights is None:
        return np.asarray(c)  # a 0-d array: c·x is as with the scalar
    return (c * weights.astype(dt))[:, None]


@np.errstate(over="ignore", invalid="ignore")
def backward_pass(net: Network, w: Array, x: Array, t: Array, zs: Sequence[Array],
              as_: Sequence[Array], weights: Array | None = None
              ) -> tuple[Array, list[Array], list[Array | None]]:
    """(dE/dw (..., P), [dE/dz_l], [dE/da_l]) by the δ recursion of the module docstring;
    ``weights``: the example weights s_b (B,) or None."""
    c = example_scale(net, x.shape[0], w.dtype, weights)
    params = unpack_params(net, w, w.dtype)
    L = net.layers
    dz: list[Array] = [np.empty(0, w.dtype)] * L  # every entry is set below
    da: list[Array | None] = [None] * L  # da_L stays None for the losses from the logits
    z, a, f = zs[-1], as_[-1], net.activations[-1]
    if net.loss == "cross-entropy":  # softmax + cross-entropy, from the logits
        dz[-1] = c * (a * t.sum(axis=-1, keepdims=True) - t)
    elif net.loss == "bce":  # sigmoid + bce, from the logits: d/dz (softplus(z) - t·z)
        dz[-1] = c * (a - t)  # a = σ(z_L)
    elif net.loss == "nll":  # log-softmax + nll
        da_L = -c * t  # dE/da_L of -c Σ t·a
        da[-1] = da_L
        dz[-1] = da_L - np.exp(a) * da_L.sum(axis=-1, keepdims=True)  # p = e^a = softmax(z_L)
    else:
        k = c if net.loss == "half-sse" else 2 * c
        da_L = k * (a - t)  # dE/da_L
        da[-1] = da_L
        dz[-1] = da_L * derivative(f, z, a)
    for l in range(L - 2, -1, -1):
        W_next = params[l + 1][0]
        da_l = dz[l + 1] @ W_next  # dE/da_l = δ_{l+1} @ W_{l+1}
        da[l] = da_l
        dz[l] = da_l * derivative(net.activations[l], zs[l], as_[l])  # δ_l
    dw = np.empty_like(w)
    for l, lay in enumerate(layout(net)):
        prev = x if l == 0 else as_[l - 1]
        dW = np.swapaxes(dz[l], -1, -2) @ prev  # δ_lᵀ @ a_{l-1}: (..., n_l, n_{l-1})
        dw[..., lay.W] = dW.reshape(dW.shape[:-2] + (-1,))
        if lay.b is not None:
            dw[..., lay.b] = dz[l].sum(axis=-2)  # Σ_b δ_l
    return dw, dz, da


def gradients(net: Network, w: np.ndarray, data: Data) -> BackwardPass:
    """dE/dw (P,) and dE/dz_l, dE/da_l (B, n_l) for every layer."""
    ex = tutorial_example(net, data)
    if ex is not None:
        return tutorial_gradients.gradients(w, ex)
    zs, as_, _ = forward_pass(net, w, data.inputs, data.targets)
    dw, dz, da = backward_pass(net, w, data.inputs, data.targets, zs, as_, data.weights)
    return BackwardPass(dw, tuple(dz), tuple(da))


def loss_and_gradient(net: Network, w: np.ndarray, data: Data) -> tuple[Array, Array]:
    """(E, dE/dw) at ``w`` (P,) or (N, P): on the tutorial's own network and example, for one
    ``w``, the tutorial's 8 formulas (`manual.gradients.weight_gradients`), else the δ
    recursion."""
    ex = tutorial_example(net, data)
    if ex is not None and w.ndim == 1:
        v = tutorial_network.forward_values(w, ex)
        return np.asarray(v["E_total"]), tutorial_gradients.weight_gradients(v, w, ex)
    f = forward(net, w, data)
    return f.E, backward_pass(net, w, data.inputs, data.targets, f.z, f.a, data.weights)[0]


def train(net: Network, w: np.ndarray, data: Data, *, lr: float, steps: int) -> Trajectory:
    """``steps`` full-batch gradient-descent updates from ``w`` (P,)."""
    lr = w.dtype.type(lr)
    loss = np.empty(steps, w.dtype)
    weights = np.empty((steps + 1, w.size), w.dtype)
    grads = np.empty((steps, w.size), w.dtype)
    weights[0] = w
    for k in range(steps):
        loss[k], grads[k] = loss_and_gradient(net, weights[k], data)
        with np.errstate(over="ignore", invalid="ignore"):  # diverging: see `forward_pass`
            weights[k + 1] = weights[k] - lr * grads[k]  # w_new = w_old - lr · dE/dw
    return Trajectory(loss, weights, grads)


def train_batch(net: Network, w: np.ndarray, lr: np.ndarray, data: Data, steps: int,
                threshold: float | None = None, keep_loss: bool = False) -> BatchResult:
    """N trainings at once, vectorised: ``w`` (N, P), ``lr`` (N,); the same formulas with a
    leading axis of configurations (matmuls batched over it), no loop over N. On the
    tutorial's network and one example: `manual.soa` (its formulas, structure of arrays)."""
    ex = tutorial_example(net, data)
    if ex is not None:
        return soa.train_batch(w, lr, ex, steps=steps, threshold=threshold,
                               keep_loss=keep_loss)
    x, t, s = data.inputs, data.targets, data.weights
    rate = lr.astype(w.dtype)[:, None]

    def loss_of(W: Array) -> tuple[Array, tuple[list[Array], list[Array]]]:
        zs, as_, losses = forward_pass(net, W, x, t)
        return reduce(net, losses, x.shape[0], s), (zs, as_)

    def step(W: Array, nodes: tuple[list[Array], list[Array]]) -> Array:
        with np.errstate(over="ignore", invalid="ignore"):  # diverging: see `forward_pass`
            W -= rate * backward_pass(net, W, x, t, *nodes, s)[0]  # w_new = w_old - lr·dE/dw
        return W

    return descend_batch(loss_of, step, w.copy(), steps, threshold, keep_loss)


def descend_batch(loss_of: Callable[[Array], tuple[Array, Any]],
                  step: Callable[[Array, Any], Array], w: Array, steps: int,
                  threshold: float | None, keep_loss: bool) -> BatchResult:
    """N trainings' bookkeeping from ``w`` (N, P): ``loss_of(w) -> (E (N,), what the step
    needs)``, ``step(w, that) -> the updated w``; E before the first and after the last
    update, the first step whose E <= ``threshold`` (-1: none), E at every step if kept."""
    reached = np.full(w.shape[0], -1, np.int64)
    history = np.empty((w.shape[0], steps), w.dtype) if keep_loss else None
    initial: Array | None = None
    E: Array | None = None
    for k in range(steps + 1):
        E, needs = loss_of(w)
        if k == 0:
            initial = E
        if threshold is not None:
            reached[(reached < 0) & (E <= threshold)] = k
        if k == steps:
            break
        if history is not None:
            history[:, k] = E
        w = step(w, needs)
    assert initial is not None and E is not None  # the loop runs at k = 0 at least
    return BatchResult(initial, E, w, reached, history)
