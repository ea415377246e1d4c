"""Gradient check for any network (`compare.network`), and the tolerance model every
network's checks share.

* **gradient check** at one point: every parameter's dE/dw and every node's dE/dz_l, dE/da_l
  (each example, each neuron) from every backend, against the complex step (h = 1e-20) on the
  complex-safe forward pass of `network_reference`, with the central difference as a check on
  that reference. Rows come in backward order (last layer's nodes first, then the parameters
  from the last layer back), so the first failing row is where a wrong derivation goes wrong.
* with an optimizer's l2 term (`optimizers.Optimizer.l2`, over the parameters of its
  `optimizers.decay_mask`), E is the objective E + λ/2·Σ m⊙w²: the reference differentiates
  it (complex step and central difference), and every backend's dE/dw gains λ·m⊙w
  (`optimizers.penalty_gradient`, in its dtype); each backend's own way of adding it (torch
  and jax by autodiff, manual by hand) is what the trajectory check compares.
* the trajectory check (every backend trained from the same start, compared step by step,
  optimizer state included) is `optim_check`'s, with this module's tolerance.

Tolerance (as `tolerances`): SAFETY · ops · eps(dtype) · (k + 1) · scale, where ``ops`` is the
longest chain of roundings of one step for this network (`ops_per_step`: it grows with the
fan-in of each sum and with the number of examples summed), and ``scale`` is the quantity's
running error bound (`term_scales`: the network evaluated with every term made positive), the
largest over the reference run for a trajectory.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple, TypeAlias

import numpy as np
import numpy.typing as npt

from autograd_compare.backend import Backend
from autograd_compare.errors import InputError
from autograd_compare.harness import tolerances
from autograd_compare.harness.network_reference import Nudge, Values, forward
from autograd_compare.network import (
    SOFTPLUS_THRESHOLD,
    Data,
    Network,
    activation_of,
    from_logits,
    frozen_bias,
    layout,
    loss_name,
    node_names,
    param_names,
    reduction_scale,
)
from autograd_compare.optimizers import Optimizer, decay_mask, penalty_gradient

CS_STEP = 1e-20
FD_STEP_FACTOR = float(np.finfo(np.float64).eps) ** (1 / 3)
ACT_OPS = {"sigmoid": 4, "tanh": 4, "relu": 1, "identity": 0, "softmax": 4,  # per element
           "log-softmax": 4, "leaky-relu": 2, "elu": 4, "gelu": 8, "softplus": 4,
           "silu": 6}  # (by its kind)
# where f or f' jumps: z = 0 (ReLU, leaky ReLU, ELU), softplus's threshold (f jumps by 2e-9)
KINKS = {"relu": 0.0, "leaky-relu": 0.0, "elu": 0.0, "softplus": SOFTPLUS_THRESHOLD}

Array: TypeAlias = npt.NDArray[Any]  # a backend's result, of its dtype
Float: TypeAlias = npt.NDArray[np.float64]  # a reference or a scale
RefKey: TypeAlias = str | tuple[str, int]  # "dw", or ("z" | "a", 0-based layer)


def ops_per_step(net: Network, batch: int) -> int:
    """Longest chain of roundings from the parameters to an updated parameter.

    Forward, layer l: a sum of n_{l-1} products (2·n_{l-1} - 1, +1 with a bias) and the
    activation (ACT_OPS; softmax adds its sum over n_L). Loss: 3 per output plus its sum
    (n_L - 1), then the sum over B examples and the reduction. Backward: δ_L (4), each hidden
    layer's δ_{l+1} @ W_{l+1} (2·n_{l+1} - 1) and ⊙ f' (3), the sum over examples in dE/dW
    (B, one product each), and the update (2). For the tutorial's network (B = 1) this is 32,
    about the tutorial's hand count of 30 (`tolerances.OPS_PER_STEP`).
    """
    sizes, L = net.sizes, net.layers
    fwd = sum(2 * n + (net.bias != "none") - 1 + ACT_OPS[activation_of(f).kind]
              for n, f in zip(sizes[:-1], net.activations, strict=True))
    fwd += sizes[-1] if net.activations[-1] in ("softmax", "log-softmax") else 0
    loss = 3 + sizes[-1] - 1 + batch
    bwd = 4 + sum(2 * sizes[l + 1] - 1 + 3 for l in range(1, L))
    return fwd + loss + bwd + batch + 2


def step_rtol(net: Network, batch: int, dtype: npt.DTypeLike) -> float:
    return tolerances.SAFETY * ops_per_step(net, batch) * tolerances.eps(dtype)


# --- quantities in graph order ---------------------------------------------------------------
def _deriv_scale(name: str, A: Float) -> Float:
    """Scale of f'(z) computed from a value of scale A."""
    kind, p = activation_of(name)
    if kind == "sigmoid":
        return A * (1 + A)  # a·(1 - a)
    if kind == "tanh":
        return 1 + A * A  # 1 - a·a
    if kind in ("leaky-relu", "elu"):
        return np.full_like(A, max(1.0, abs(p)))  # 1, the slope, or α·e^z <= α
    if kind in ("gelu", "silu"):
        return np.full_like(A, 2.0)  # Φ + |z|·φ <= 1.25; σ + |z|·σ(1 - σ) <= 1.3
    return np.ones_like(A)  # relu (0 or 1, exact), identity, softplus (σ)


def _deriv_bound(name: str, z: Float, a: Float) -> Float:
    """|f'(z)| or a bound of it (the reference's z and a = f(z), real)."""
    kind, p = activation_of(name)
    if kind == "sigmoid":
        return a * (1 - a)
    if kind == "tanh":
        return 1 - a * a
    if kind == "relu":
        return (z > 0).astype(np.float64)
    if kind in ("leaky-relu", "elu"):
        return np.where(z > 0, 1.0, abs(p)).astype(np.float64)  # α·e^z <= α
    if kind in ("gelu", "silu"):
        return np.full_like(a, 1.3)  # |Φ + z·φ| <= 1.13, |σ(1 + z(1 - σ))| <= 1.1
    return np.ones_like(a)  # identity, softplus (σ <= 1)


class TermScales(NamedTuple):
    """Every quantity's scale (the network with all terms positive); each >= its |value|."""

    z: list[Float]  # L arrays (B, n_l)
    a: list[Float]
    E: float
    dz: list[Float]
    da: list[Float]
    dw: Float  # (P,)


def term_scales(net: Network, w: Float, data: Data, dtype: npt.DTypeLike) -> TermScales:
    """Every quantity's scale at float64 ``w`` (P,): the network with all terms positive.

    Each entry is >= the quantity's own |value| to first order.
    """
    x, t = np.asarray(data.inputs, np.float64), np.asarray(data.targets, np.float64)
    ref = forward(net, w, x, t)
    e, c, lays = tolerances.eps(dtype), reduction_scale(net, x.shape[0], data.weights), layout(net)
    s = np.ones(x.shape[0]) if data.weights is None else np.asarray(data.weights, np.float64)
    cb = c * s[:, None]  # dE/dloss_b, per example: c·s_b
    absW = [np.abs(w[lay.W]).reshape(lay.W_shape) for lay in lays]
    Z: list[Float] = []
    A: list[Float] = []
    prev = np.abs(x)
    for l, (lay, f) in enumerate(zip(lays, net.activations, strict=True)):
        z_scale = prev @ absW[l].T
        if lay.b is not None:
            z_scale = z_scale + np.abs(w[lay.b])
        elif net.bias == "frozen":
            z_scale = z_scale + np.abs(np.asarray(frozen_bias(net, l)))
        a = ref.a[l].real
        if f == "softmax":
            a_scale = a + a * 2 * z_scale.max(axis=-1, keepdims=True)
        elif f == "log-softmax":  # z - max - log Σ e^(z - max): each term's error ≲ 2·max Z
            a_scale = np.abs(a) + 2 * z_scale.max(axis=-1, keepdims=True)
        else:
            d = _deriv_bound(f, ref.z[l].real, a)
            a_scale = np.abs(a) + np.abs(d) * z_scale  # f passes on f'(z)·(error of z)
        Z.append(z_scale)
        A.append(a_scale)
        prev = a_scale
    aL, AL = ref.a[-1].real, A[-1]
    zero = np.zeros(0)
    dz, da = [zero] * net.layers, [zero] * net.layers  # every entry is set below
    if net.loss == "cross-entropy":
        log_a = np.log(np.maximum(aL, np.finfo(np.float64).tiny))
        loss = (np.abs(t) * (np.abs(log_a) + 2 * Z[-1].max(axis=-1, keepdims=True))).sum(-1)
        dz[-1] = cb * (AL * np.abs(t).sum(axis=-1, keepdims=True) + np.abs(t))
        da[-1] = np.zeros_like(aL)
    elif net.loss == "nll":  # -Σ t·a, a = log p; δ_L = c·(p Σ t - t), p = e^a
        p = np.exp(aL)
        loss = (np.abs(t) * AL).sum(-1)
        da[-1] = c * np.abs(t)
        dz[-1] = c * ((p + p * AL) * np.abs(t).sum(axis=-1, keepdims=True) + np.abs(t))
    elif net.loss == "bce":  # softplus(z) - t·z; δ_L = c·(σ(z) - t)
        zL = ref.z[-1].real
        loss = (np.logaddexp(0, zL) + (1 + np.abs(t)) * Z[-1]).sum(-1)
        dz[-1] = c * (AL + np.abs(t))
        da[-1] = np.zeros_like(aL)
    else:
        k = 0.5 if net.loss == "half-sse" else 1.0
        D = AL + np.abs(t)  # scale of a - t, which cancels near convergence
        loss = k * (D * (np.abs(aL - t) + e * D)).sum(axis=-1)
        da[-1] = 2 * k * cb * D
        dz[-1] = da[-1] * _deriv_scale(net.activations[-1], AL)
    for l in range(net.layers - 2, -1, -1):
        da[l] = dz[l + 1] @ absW[l + 1]
        dz[l] = da[l] * _deriv_scale(net.activations[l], A[l])
    dw = np.zeros_like(w)
    for l, lay in enumerate(lays):
        prev = np.abs(x) if l == 0 else A[l - 1]
        dw[lay.W] = (dz[l].T @ prev).reshape(-1)
        if lay.b is not None:
            dw[lay.b] = dz[l].sum(axis=0)
    return TermScales(Z, A, float(c * (s * loss).sum()), dz, da, dw)


# --- gradient check --------------------------------------------------------------------------
NOT_GIVEN = "not given"  # a node row of a backend that gives parameter gradients only


class GradRow(NamedTuple):
    quantity: str  # "dE/dW2[0,1]", "dE/da1[0] (example 2)", "dE_total/dw5" (the tutorial)
    complex_step: float
    finite_difference: float
    fd_ok: bool  # central difference agrees with the complex step (checks our reference),
    #              or is not trusted there (`fd_trusted`)
    tolerance: float
    values: dict[str, float]  # backend name -> its value
    errors: dict[str, float]  # backend name -> |value - complex step|
    fd_trusted: bool = True  # False: a ReLU kink lies within the central difference's step


class GradCheck(NamedTuple):
    rows: list[GradRow]
    ok: bool
    first_failure: dict[str, Any] | None  # JSON-ready {"backend", "quantity", "value", ...}
    largest: dict[str, float]  # backend name -> largest |error| / tolerance


class Ref(NamedTuple):
    """The references of one group of derivatives (same shape each)."""

    cs: Float  # complex step: the reference
    fd: Float  # central difference: a check on our reference code
    h: Float  # the central difference's step
    trusted: npt.NDArray[np.bool_]  # False where x ± h puts a ReLU on the other side of its
    #                                 kink than the other: the difference quotient is then the
    #                                 slope of a bend, not the derivative


def _kink_crossed(net: Network, up: Values, down: Values,
                  per: tuple[int, ...]) -> npt.NDArray[np.bool_]:
    """Whether any ReLU's z (or another kink's, `KINKS`) is on a different side of it at x + h
    than at x - h, reduced over the axes ``per`` (the units, and the examples when one
    parameter moves them all); a layer before the nudged one is the same on both sides."""
    crossed = np.zeros((), bool)
    for l, name in enumerate(net.activations):
        at = KINKS.get(activation_of(name).kind)
        if at is not None:
            crossed = crossed | ((up.z[l].real > at) != (down.z[l].real > at)).any(axis=per)
    return crossed


def references(net: Network, w: Float, data: Data,
               dtype: type = np.complex128, l2: Float | None = None) -> dict[RefKey, Ref]:
    """Complex step and central difference of E for every parameter and every node, computed
    in ``dtype`` (complex128; np.clongdouble, with its wider exponent, where that
    overflows: `checked_references`); ``l2``: λ·m (P,), E + ½·Σ λ·m⊙w² (`l2_factors`).

    Returns {"dw": Ref of (P,), ("z"|"a", l): Ref of (B, n_l)}.
    """
    x, t = np.asarray(data.inputs, np.float64), np.asarray(data.targets, np.float64)
    ref_forward = functools.partial(forward, dtype=dtype, weights=data.weights, l2=l2)
    P, c = w.size, reduction_scale(net, x.shape[0], data.weights)
    if data.weights is not None:  # dE/dloss_b = c·s_b: a column (B, 1) for the nodes below
        c = c * np.asarray(data.weights, np.float64)[:, None]
    eye = np.eye(P)
    cs = ref_forward(net, w + CS_STEP * 1j * eye, x, t).E.imag / CS_STEP
    h = FD_STEP_FACTOR * np.maximum(1.0, np.abs(w))
    up, down = ref_forward(net, w + h * eye, x, t), ref_forward(net, w - h * eye, x, t)
    fd = (up.E.real - down.E.real) / (2 * h)
    crossed = np.broadcast_to(_kink_crossed(net, up, down, (-2, -1)), (P,))  # per parameter
    out: dict[RefKey, Ref] = {"dw": Ref(cs, fd, h, ~crossed)}
    base = ref_forward(net, w, x, t)
    for l, n in enumerate(net.sizes[1:]):
        for kind in ("z", "a"):
            if kind == "a" and l == net.layers - 1 and from_logits(net):
                continue  # the loss is taken from the logits: no dE/da_L
            v = getattr(base, kind)[l].real  # (B, n)
            onehot = np.eye(n)[:, None, :]  # (n, 1, n): nudge neuron j of every example
            # only example b's loss depends on example b's node: dE/dnode_bj = c·dloss_b/dnode
            cs_n = ref_forward(net, w, x, t, Nudge(kind, l, CS_STEP * 1j * onehot)).losses.imag
            hn = FD_STEP_FACTOR * np.maximum(1.0, np.abs(v)).T[:, :, None]  # (n, B, 1)
            up = ref_forward(net, w, x, t, Nudge(kind, l, hn * onehot))
            down = ref_forward(net, w, x, t, Nudge(kind, l, -hn * onehot))
            crossed = np.broadcast_to(_kink_crossed(net, up, down, (-1,)), (n, x.shape[0]))
            out[(kind, l)] = Ref(c * cs_n.T / CS_STEP,
                                 c * ((up.losses.real - down.losses.real) / (2 * hn[..., 0])).T,
                                 hn[..., 0].T, ~crossed.T)  # (B, n): per example, neuron
    return out


def checked_references(net: Network, w: Float, data: Data,
                       l2: Float | None = None) -> dict[RefKey, Ref]:
    """`references`, again in extended precision where a complex step overflowed float64;
    an `InputError` (one line) where even that is not a float64 number: no reference can
    judge the backends there."""
    with np.errstate(all="ignore"):
        refs = references(net, w, data, l2=l2)
        if all(np.isfinite(r.cs).all() for r in refs.values()):
            return refs
        if np.finfo(np.longdouble).max > np.finfo(np.float64).max:
            refs = references(net, w, data, np.clongdouble, l2)
        for key, r in refs.items():
            cs = np.asarray(r.cs, np.float64)
            if not np.isfinite(cs).all():
                what = "w" if isinstance(key, str) else f"{key[0]}{key[1] + 1}"
                what = f"d{loss_name(net)}/d{what}"
                raise InputError(f"the gradient check cannot judge this start: the reference "
                                 f"{what} overflows float64 ({cs[~np.isfinite(cs)].flat[0]}); "
                                 "give smaller weights or inputs")
        return {k: Ref(np.asarray(r.cs, np.float64), np.asarray(r.fd, np.float64),
                       np.asarray(r.h, np.float64), r.trusted & np.isfinite(
                           np.asarray(r.fd, np.float64))) for k, r in refs.items()}


def l2_factors(net: Network, opt: Optimizer | None) -> Float | None:
    """λ·m (P,) of ``opt``'s l2 term (m: `optimizers.decay_mask`), or None without one."""
    if opt is None or not opt.l2:
        return None
    return opt.l2 * decay_mask(net, opt.l2_biases())


def float64_data(data: Data) -> Data:
    """``data`` in float64 (inputs, targets and the example weights)."""
    return Data(np.asarray(data.inputs, np.float64), np.asarray(data.targets, np.float64),
                None if data.weights is None else np.asarray(data.weights, np.float64))


def gradient_check(backends: list[Backend], net: Network, w: Array,
                   data: Data, opt: Optimizer | None = None) -> GradCheck:
    """Every backend's gradients at ``w`` against the references (backends of one dtype);
    with ``opt``'s l2 term, of E + λ/2·Σ m⊙w² (the module docstring)."""
    dtype = backends[0].dtype
    w64 = np.asarray(w, np.float64)
    d64 = float64_data(data)
    l2 = l2_factors(net, opt)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # an overflowing
        refs, scales = checked_references(net, w64, d64, l2), term_scales(net, w64, d64, dtype)
        grads = {b.name: b.gradients(net, w, data) for b in backends}  # E: the report says
        if l2 is not None:
            assert opt is not None  # l2 factors come from it
            grads = {k: g._replace(w=g.w + penalty_gradient(opt, net, np.asarray(w, g.w.dtype)))
                     for k, g in grads.items()}
            scales = scales._replace(dw=scales.dw + l2 * np.abs(w64),
                                     E=scales.E + 0.5 * float((l2 * w64 * w64).sum()))
    B = data.inputs.shape[0]
    rtol = step_rtol(net, B, dtype)
    fd_ops = ops_per_step(net, B)  # roundings in E(x ± h): grows with depth and width
    rows: list[GradRow] = []
    E = loss_name(net)  # E_total in the tutorial's notation
    for l in range(net.layers - 1, -1, -1):  # backward order: last layer first
        for kind in ("a", "z"):
            if (kind, l) not in refs:
                continue
            ref = refs[(kind, l)]
            names = node_names(net, kind, l + 1)
            for b in range(B):
                for j, name in enumerate(names):
                    label = f"d{E}/d{name}" + (f" (example {b + 1})" if B > 1 else "")
                    vals = {k: float(getattr(g, kind)[l][b, j]) for k, g in grads.items()
                            if len(g.z) == net.layers}  # () : parameters only (an opaque
                    #                                       model of the user's)
                    node_scale = (scales.dz if kind == "z" else scales.da)[l]
                    scale = max(node_scale[b, j], abs(ref.cs[b, j]))
                    rows.append(_row(label, ref, (b, j), scale, rtol, fd_ops, scales.E, vals))
        lay = layout(net)[l]
        for sl in (lay.b, lay.W):
            if sl is None:
                continue
            for p in range(sl.start, sl.stop):
                vals = {k: float(g.w[p]) for k, g in grads.items()}
                dw = refs["dw"]
                rows.append(_row(f"d{E}/d{param_names(net)[p]}", dw, (p,),
                                 max(scales.dw[p], abs(dw.cs[p])), rtol, fd_ops, scales.E,
                                 vals))
    first: dict[str, Any] | None = None
    largest = {b.name: 0.0 for b in backends}
    for r in rows:
        for name, err in r.errors.items():
            ratio = err / r.tolerance if r.tolerance > 0 else (0.0 if err == 0 else np.inf)
            largest[name] = max(largest[name], float(np.nan_to_num(ratio, nan=np.inf)))
            if first is None and not err <= r.tolerance:
                first = {"backend": name, "quantity": r.quantity, "value": r.values[name],
                         "reference": r.complex_step, "abs_error": err,
                         "tolerance": r.tolerance}
        if first is None and not r.fd_ok:
            first = {"backend": "central difference", "quantity": r.quantity,
                     "value": r.finite_difference, "reference": r.complex_step,
                     "abs_error": abs(r.finite_difference - r.complex_step), "tolerance": None}
    return GradCheck(rows, first is None, first, largest)


def _row(label: str, ref: Ref, at: tuple[int, ...], scale: float, rtol: float, fd_ops: int,
         e_scale: float, values: dict[str, float]) -> GradRow:
    """One derivative: the backends against the complex step; the central difference counts
    where it can be trusted (no ReLU kink crossed within its step), with its truncation
    allowance plus the rounding of E(x ± h) over ``fd_ops`` operations, divided by 2h."""
    cs, fd, h = float(ref.cs[at]), float(ref.fd[at]), float(ref.h[at])
    trusted = bool(ref.trusted[at])
    fd_tol = (tolerances.FD_RTOL * max(scale, 1e-300)
              + tolerances.SAFETY * fd_ops * tolerances.eps(np.float64) * float(e_scale) / h)
    fd_ok = not trusted or bool(abs(fd - cs) <= fd_tol + 1e-300)
    errors = {k: abs(v - cs) if np.isfinite(v) else np.inf for k, v in values.items()}
    return GradRow(label, cs, fd, fd_ok, rtol * scale, values, errors, trusted)
