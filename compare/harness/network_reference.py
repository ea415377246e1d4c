"""An independent, complex-safe forward pass for any network: the numerical references.

Written apart from the backends, in complex128 NumPy, so that a complex step x + i·h flows
through it analytically (Im f(x + i·h)/h = f'(x) up to rounding, no cancellation). Every
function here is analytic in its argument (σ picks its branch by Re z, softmax subtracts the
real max, the squares are (t - a)·(t - a), never |t - a|²); ReLU, leaky ReLU and ELU are
analytic away from z = 0, softplus away from its threshold 20; GELU's Φ is taken to first order
in Im z (`normal_cdf`: exact for the complex step).

A leading axis ``...`` on the parameters or on a nudge evaluates many perturbed networks in one
call; any node (z_l or a_l of every example) can be nudged and the rest of the pass rerun.
"""

from __future__ import annotations

import math
from typing import NamedTuple, TypeAlias

import numpy as np
import numpy.typing as npt

from autograd_compare.network import (
    SOFTPLUS_THRESHOLD,
    Network,
    activation_of,
    frozen_bias,
    layout,
    reduction_scale,
)

Complex: TypeAlias = npt.NDArray[np.complex128]


class Nudge(NamedTuple):
    kind: str  # "z" or "a"
    layer: int  # 0-based
    amount: npt.NDArray[np.inexact]  # broadcast to (..., B, n_layer) and added to that node


class Values(NamedTuple):
    z: list[Complex]  # L arrays (..., B, n_l)
    a: list[Complex]
    losses: Complex  # (..., B): loss_b before the reduction
    E: Complex  # (...)


def sigmoid(z: Complex) -> Complex:
    right = z.real >= 0
    e = np.exp(np.where(right, -z, z))  # Re <= 0: never overflows
    return np.where(right, 1 / (1 + e), e / (1 + e))


def activation(name: str, z: Complex) -> Complex:
    if name == "log-softmax":
        return log_softmax(z)
    kind, p = activation_of(name)
    if kind == "sigmoid":
        return sigmoid(z)
    if kind == "tanh":
        return np.tanh(z)
    if kind == "relu":
        return np.where(z.real > 0, z, 0)
    if kind == "identity":
        return z
    if kind == "leaky-relu":
        return np.where(z.real > 0, z, p * z)
    if kind == "elu":
        return np.where(z.real > 0, z, p * np.expm1(np.where(z.real > 0, 0, z)))
    if kind == "gelu":
        return z * normal_cdf(z)
    if kind == "softplus":  # nn.Softplus(): z itself above the threshold
        return np.where(z.real > SOFTPLUS_THRESHOLD, z,
                        log1p(np.exp(np.where(z.real > SOFTPLUS_THRESHOLD, 0, z))))
    if kind == "silu":
        return z * sigmoid(z)
    return np.exp(log_softmax(z))


def softplus(z: Complex) -> Complex:
    """log(1 + e^z), its branch picked by Re z: max(z, 0) + log1p(e^-|z|), never overflowing."""
    right = z.real >= 0
    return np.where(right, z, 0) + np.log1p(np.exp(np.where(right, -z, z)))
_ERFC = np.frompyfunc(math.erfc, 1, 1)


def normal_cdf(z: Complex) -> Complex:
    """Φ(z) = ½ erfc(-z/√2) to first order in Im z: Φ(x) + i·y·φ(x), φ = Φ' = e^(-x²/2)/√(2π)
    (NumPy has no complex erf; the complex step's y = 1e-20 makes the y² terms 1e-40 relative,
    and a real z is exact)."""
    x, y = z.real, z.imag
    cdf = 0.5 * np.asarray(_ERFC(-x / math.sqrt(2)), x.dtype)
    pdf = np.exp(-0.5 * np.square(np.minimum(np.abs(x), 40))) / math.sqrt(2 * math.pi)
    return cdf + 1j * y * pdf


def log1p(u: Complex) -> Complex:
    """log(1 + u), analytic: ½ log1p(2·Re u + |u|²) + i·atan2(Im u, 1 + Re u) (NumPy's complex
    log1p takes the log of |1 + u| and so loses Re u when it is small)."""
    a, b = u.real, u.imag
    return 0.5 * np.log1p(2 * a + a * a + b * b) + 1j * np.arctan2(b, 1 + a)


def log_softmax(z: Complex) -> Complex:
    peak: npt.NDArray[np.float64] = z.real.max(axis=-1, keepdims=True)  # the real max
    s = z - peak
    total: Complex = np.exp(s).sum(axis=-1, keepdims=True)  # (..., 1)
    return s - np.log(total)


def forward(net: Network, w: npt.ArrayLike, x: npt.NDArray[np.floating],
            t: npt.NDArray[np.floating], nudge: Nudge | None = None,
            dtype: type = np.complex128, weights: npt.ArrayLike | None = None,
            l2: npt.ArrayLike | None = None) -> Values:
    """The network at parameters ``w`` (..., P), data ``x`` (B, n_0), ``t`` (B, n_L), in
    ``dtype`` (np.clongdouble where complex128 overflows: `network_check.references`).

    ``weights``: the example weights s_b (B,), E = c·Σ_b s_b·loss_b; ``l2``: λ·m (P,), the
    l2 term's factor per parameter (m: 1 on what it covers), E + ½·Σ_j λ·m_j·w_j² (analytic:
    w·w, so the complex step differentiates it too)."""
    w = np.asarray(w, dtype)
    zs, as_ = [], []
    a: Complex = np.asarray(x, dtype)
    for l, (lay, name) in enumerate(zip(layout(net), net.activations, strict=True)):
        W = w[..., lay.W].reshape(w.shape[:-1] + lay.W_shape)
        z = np.einsum("...bk,...jk->...bj", a, W)
        if lay.b is not None:
            z = z + w[..., None, lay.b]
        elif net.bias == "frozen":
            z = z + np.asarray(frozen_bias(net, l))
        if nudge is not None and (nudge.kind, nudge.layer) == ("z", l):
            z = z + nudge.amount
        a = activation(name, z)
        if nudge is not None and (nudge.kind, nudge.layer) == ("a", l):
            a = a + nudge.amount
        zs.append(z)
        as_.append(a)
    if net.loss == "cross-entropy":
        losses = -(t * log_softmax(zs[-1])).sum(axis=-1)
    elif net.loss == "bce":  # -t log σ(z) - (1 - t) log(1 - σ(z)) = softplus(z) - t·z
        losses = (softplus(zs[-1]) - t * zs[-1]).sum(axis=-1)
    elif net.loss == "nll":
        losses = -(t * a).sum(axis=-1)  # a = log softmax(z_L)
    else:
        d = t - a
        losses = (0.5 if net.loss == "half-sse" else 1.0) * (d * d).sum(axis=-1)
    c = reduction_scale(net, np.shape(x)[0], weights)
    E = c * (losses if weights is None else np.asarray(weights, np.float64) * losses).sum(axis=-1)
    if l2 is not None:
        E = E + 0.5 * (np.asarray(l2, np.float64) * w * w).sum(axis=-1)
    return Values(zs, as_, losses, E)
