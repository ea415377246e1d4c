"""Optimizer check: every backend trains with one optimizer; compare them step by step.

Row k of a run is update k+1 (steps are counted from 1 in labels), in the order the update
computes things: E_total and the gradients dw1..dw8 at the weights entering the step, then the
optimizer's state after the step (v1..v8; or m1..m8, v1..v8, t), then the weights w1..w8 after
it. Each backend is compared with the reference (the first backend listed) on the columns both
have (textbook momentum's u1..u8 is not PyTorch's v1..v8, so only E_total, gradients and
weights are compared there); the first divergence is the earliest row, then the first column,
whose difference exceeds `compare.harness.tolerances.trajectory_tolerance`, e.g.
"v5 after step 3".

Scales (what a tolerance is relative to; `tolerances` explains why terms, not values): G_j,
the gradient's term scale (`tolerances.term_scales`, plus λ·|w_j| for l2 and wd·|w_j| for
coupled weight decay), each scale the largest over steps 1..k of the reference run (causal:
an early step is not judged by sizes that come later), then

* E_total, dw_j: their term scales, as in `compare.harness.trajectory`;
* a momentum buffer v_j = Σ μ^i·g carries every gradient's rounding: |v_j| + G_j/(1 - μ);
  textbook u_j = -lr·v_j: lr times that;
* Adam's m_j (a weighted mean of g): |m_j| + G_j; v_j (of g²): |v_j| + G_j²; t (a count): 1;
* a weight: |w_j| + lr·D_j, where D_j bounds the step's direction: G_j (sgd), G_j/(1 - μ)
  (momentum; (1 + μ)·G_j/(1 - μ) for Nesterov), and for Adam (G_j + |m̂_j|)/(√v̂_j + ε) at
  every step (an error in m̂ of order G_j is divided by √v̂), plus wd·|w_j| for AdamW.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, cast

import numpy as np
from numpy.typing import DTypeLike

from autograd_compare import naming, registry, validate
from autograd_compare.errors import InputError
from autograd_compare.harness import tolerances
from autograd_compare.harness.tolerances import FloatArray
from autograd_compare.interface import ArrayLike, Example, ExampleLike
from autograd_compare.optimizers import ADAM_KINDS, MANUAL_ONLY, Optimizer, OptimModule
from autograd_compare.types import BatchResult, Trajectory

MISTAKE_PREFIX = registry.MISTAKE_PREFIX
OPTIM_NEEDS = registry.OPTIM_NEEDS  # frameworks an optim module needs beyond its backend's


class Divergence(NamedTuple):
    """The first quantity of a backend outside tolerance."""

    backend: str
    step: int  # 1-based update number
    quantity: str  # "v5"
    label: str  # "v5 after step 3"
    value: float
    reference: float
    difference: float
    tolerance: float


class Largest(NamedTuple):
    """A backend's largest difference from the reference over the run."""

    backend: str | None
    abs: float  # largest |difference|
    ratio: float  # largest |difference| / tolerance (< 1 agrees)
    label: str  # where the largest |difference| is


class OptimComparison(NamedTuple):
    backend: str
    columns: tuple[str, ...]  # compared quantities
    diff: FloatArray  # (steps, Q)
    tolerance: FloatArray  # (steps, Q)
    largest: Largest
    first_divergence: Divergence | None


class OptimResult(NamedTuple):
    optimizer: Optimizer
    dtype: np.dtype[Any]
    reference: str
    runs: dict[str, Trajectory]  # backend name -> its run
    comparisons: dict[str, OptimComparison]  # every backend but the reference
    ok: bool
    first_divergence: Divergence | None  # earliest over the backends
    largest: Largest  # largest ratio over the backends


def available() -> list[str]:
    """Backends whose framework is installed (nothing imported)."""
    return [name for name in registry.backends()
            if name not in OPTIM_NEEDS or importlib.util.find_spec(OPTIM_NEEDS[name])]


def module(name: str) -> OptimModule:
    """The optim module of backend ``name`` (``mistake:<kind>`` is manual's)."""
    key = "manual" if name.startswith(MISTAKE_PREFIX) else name
    if key not in registry.REGISTRY:
        raise InputError(f"unknown backend {name!r}; expected one of "
                         f"{', '.join(registry.REGISTRY)} or {MISTAKE_PREFIX}<kind>")
    # each backend's optim module is checked against OptimModule at the end of this file
    return cast(OptimModule, registry.backend_module(key, "optim", OPTIM_NEEDS.get(key)))


def _check_kind(name: str, opt: Optimizer) -> None:
    if opt.kind in MANUAL_ONLY and not (name == "manual" or name.startswith(MISTAKE_PREFIX)):
        raise InputError(f"optimizer {opt.kind!r} exists in the manual backend only; got "
                         f"backend {name!r}")


def train(name: str, w: ArrayLike, example: ExampleLike | None, opt: Optimizer, steps: int,
          dtype: DTypeLike = "float64") -> Trajectory:
    """Backend ``name`` trains from ``w`` (8,) with ``opt`` for ``steps`` steps in ``dtype``."""
    dt = validate.dtype(dtype)
    w_arr, ex, steps = validate.weights(w, dt), _example(example, dt), validate.steps(steps)
    _check_kind(name, opt)
    mod = module(name)
    if name.startswith(MISTAKE_PREFIX):  # mod is manual.optim, the one with train_mistake
        from autograd_compare.manual.optim import train_mistake

        return train_mistake(w_arr, ex, opt, steps, name[len(MISTAKE_PREFIX):])
    return mod.train(w_arr, ex, opt, steps)


def train_batch(name: str, w: ArrayLike, lr: ArrayLike, example: ExampleLike | None,
                opt: Optimizer, steps: int, dtype: DTypeLike = "float64") -> BatchResult:
    """Backend ``name`` trains N configurations: ``w`` (N, 8), ``lr`` (N,)."""
    dt = validate.dtype(dtype)
    w_arr, lr_arr = validate.batch(w, lr, dt)
    _check_kind(name, opt)
    if name.startswith(MISTAKE_PREFIX):
        raise InputError(f"{name!r} has no batched form; use manual, torch or jax")
    return module(name).train_batch(w_arr, lr_arr, _example(example, dt), opt,
                                    validate.steps(steps))


def _example(example: ExampleLike | None, dt: np.dtype[Any]) -> Example:
    from autograd_compare.interface import CLASS_INPUTS, CLASS_TARGETS

    return validate.example((CLASS_INPUTS, CLASS_TARGETS) if example is None else example, dt)


def columns(opt: Optimizer) -> tuple[str, ...]:
    """The quantities of one row, in order."""
    return ("E_total", *naming.WEIGHT_GRAD_NAMES, *opt.state_names(), *naming.WEIGHT_NAMES)


def rows(t: Trajectory) -> FloatArray:
    """(steps, Q) float64 in `columns` order."""
    return np.concatenate([t.loss[:, None], t.grads, t.state, t.weights[1:]],
                          axis=1).astype(np.float64)


def label(quantity: str, step: int) -> str:
    """ "v5", 3 -> "v5 after step 3"; "dw5", 3 -> "dw5 at step 3" (the gradient it used)."""
    where = "at" if quantity in ("E_total", "E") or quantity.startswith("d") else "after"
    return f"{quantity} {where} step {step}"


def scales(opt: Optimizer, ref: Trajectory, example: Example,
           dtype: DTypeLike) -> dict[str, FloatArray]:
    """Each quantity's scale at every step, (steps,) per name (see the module docstring).

    Causal: the scale at step k is the largest over steps 1..k, so an early step is judged by
    the sizes it has seen, not by larger ones that come later.
    """
    from autograd_compare.manual.network import forward_values

    w = np.asarray(ref.weights[:-1], np.float64)
    ex = Example(np.asarray(example.inputs, np.float64), np.asarray(example.targets, np.float64))
    v = forward_values(w, ex)
    nodes = np.stack([v[name] for name in naming.FORWARD_NAMES], axis=1)
    terms = tolerances.term_scales(w, nodes, ex, dtype)
    E = np.maximum(terms.nodes[:, -1], np.abs(ref.loss.astype(np.float64)))
    return update_scales(opt, ref, terms.dw, E, "E_total", naming.WEIGHT_NAMES)


def update_scales(opt: Optimizer, ref: Trajectory, dw_terms: FloatArray, E: FloatArray,
                  loss_name: str, params: tuple[str, ...]) -> dict[str, FloatArray]:
    """The scales of the module docstring from the gradient's term scales ``dw_terms``
    (steps, P) and the loss's ``E`` (steps,) of the reference run ``ref``: every network's
    optimizer check shares them (`compare.harness.network_optim_check`)."""

    def up_to(x: FloatArray) -> FloatArray:
        """Largest over steps 1..k, at every k."""
        return np.maximum.accumulate(x, axis=0)

    P = len(params)
    wabs = up_to(np.abs(ref.weights.astype(np.float64)))[1:]  # (S, P): |w| entering and after
    G = up_to(np.maximum(dw_terms, np.abs(ref.grads.astype(np.float64)))) + opt.l2 * wabs
    if opt.kind != "adamw":
        G = G + opt.weight_decay * wabs
    steps = ref.grads.shape[0]
    lr = up_to(np.array([opt.lr_at(k) for k in range(steps)]))[:, None]
    mu = opt.momentum
    out = {loss_name: up_to(E)}
    out.update({g: G[:, j] for j, g in enumerate(naming.grad_names(params))})
    assert ref.state is not None, "an optimizer's trajectory carries its state"
    s = up_to(np.abs(ref.state.astype(np.float64)))
    names = naming.optimizer_state_names(opt.kind, params)
    if opt.kind in ("momentum", "nesterov"):
        out.update({n: s[:, j] + G[:, j] / (1 - mu) for j, n in enumerate(names)})
        D = G / (1 - mu) * (1 + mu if opt.kind == "nesterov" else 1)
    elif opt.kind == "textbook-momentum":
        out.update({n: s[:, j] + lr[:, 0] * G[:, j] / (1 - mu) for j, n in enumerate(names)})
        D = G / (1 - mu)
    elif opt.kind in ADAM_KINDS:
        b1, b2 = opt.betas
        st = np.abs(ref.state.astype(np.float64))
        m, vv, t = st[:, :P], st[:, P:2 * P], st[:, 2 * P:2 * P + 1]
        out.update({n: s[:, j] + G[:, j] for j, n in enumerate(names[:P])})
        out.update({n: s[:, P + j] + G[:, j] ** 2 for j, n in enumerate(names[P:2 * P])})
        out[naming.STEP_COUNT] = np.ones(steps)
        m_hat, v_hat = m / (1 - b1**t), vv / (1 - b2**t)
        D = up_to((G + m_hat) / (np.sqrt(v_hat) + opt.eps))
        if opt.kind == "adamw":
            D = D + opt.weight_decay * wabs
    else:
        D = G
    out.update({n: wabs[:, j] + lr[:, 0] * D[:, j] for j, n in enumerate(params)})
    return out


def compare_runs(name: str, run: Trajectory, run_cols: tuple[str, ...],
                 ref: Trajectory, ref_cols: tuple[str, ...], scale: dict[str, FloatArray],
                 dtype: DTypeLike, rtol: float | None = None) -> OptimComparison:
    """``run`` against ``ref`` on their common columns (in the reference's order); the
    tolerance is `tolerances.trajectory_tolerance`, or ``rtol · (step + 1) · scale`` when a
    network's own per-step ``rtol`` is given (`network_check.step_rtol`)."""
    common = tuple(c for c in ref_cols if c in run_cols)
    x = rows(run)[:, [run_cols.index(c) for c in common]]
    y = rows(ref)[:, [ref_cols.index(c) for c in common]]
    # Both overflowed (inf or NaN: which one depends on the order of operations, e.g.
    # inf - inf) count as the same; finite against non-finite is a difference.
    same = ~np.isfinite(x) & ~np.isfinite(y)
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.where(same, 0.0, np.abs(x - y))
    diff = np.where(np.isnan(diff), np.inf, diff)  # NaN on one side only: a divergence
    steps = np.arange(x.shape[0])[:, None]
    stacked = np.stack([scale[c] for c in common], 1)
    tol = (tolerances.trajectory_tolerance(dtype, steps, stacked) if rtol is None
           else rtol * (steps + 1.0) * stacked)
    bad = ~same & ~(diff <= tol)  # a NaN tolerance (an overflowed scale) judges nothing
    first = None
    if bad.any():
        k, q = np.unravel_index(np.argmax(bad), bad.shape)  # row-major: earliest step first
        first = Divergence(name, int(k) + 1, common[q], label(common[q], int(k) + 1),
                           float(x[k, q]), float(y[k, q]), float(diff[k, q]), float(tol[k, q]))
    finite = np.where(np.isfinite(diff), diff, 0.0)
    k, q = np.unravel_index(np.argmax(finite), finite.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(diff > 0, diff / tol, 0.0)
    largest = Largest(name, float(finite.max()), float(ratio.max()),
                      label(common[q], int(k) + 1))
    return OptimComparison(name, common, diff, tol, largest, first)


def counterpart(name: str, opt: Optimizer) -> Optimizer:
    """The optimizer backend ``name`` runs for ``opt``: a manual-only convention runs as its
    framework counterpart elsewhere (textbook momentum -> momentum, same μ and lr), so that
    the weights of the two conventions can be compared."""
    if opt.kind in MANUAL_ONLY and not (name == "manual" or name.startswith(MISTAKE_PREFIX)):
        return opt._replace(kind="momentum")
    return opt


def earliest_and_largest(comps: dict[str, OptimComparison], ref_cols: Sequence[str]
                         ) -> tuple[Divergence | None, Largest]:
    """The first divergence over every comparison (earliest step, then column order) and the
    largest difference relative to its tolerance."""
    firsts = [c.first_divergence for c in comps.values() if c.first_divergence]
    order = {c: i for i, c in enumerate(ref_cols)}
    first = min(firsts, key=lambda d: (d.step, order[d.quantity]), default=None)
    largest = max((c.largest for c in comps.values()), key=lambda d: d.ratio,
                  default=Largest(None, 0.0, 0.0, ""))
    return first, largest


def require_backends(opt: Optimizer, backends: list[str]) -> None:
    """A one-line InputError for no backend, or a manual-only optimizer without manual."""
    if not backends:
        raise InputError("need at least one backend")
    if opt.kind in MANUAL_ONLY and not any(counterpart(n, opt) == opt for n in backends):
        raise InputError(f"optimizer {opt.kind!r} exists in the manual backend only; got "
                         f"backends {','.join(backends)!r} (add manual)")


def check(opt: Optimizer, backends: list[str], w: ArrayLike, example: ExampleLike | None = None,
          steps: int = 20, dtype: DTypeLike = "float64") -> OptimResult:
    """Train every backend with ``opt`` (or its `counterpart`) and compare each with the first."""
    require_backends(opt, backends)
    dt = validate.dtype(dtype)
    ex = _example(example, dt)
    reference = backends[0]
    opts = {name: counterpart(name, opt) for name in backends}
    runs = {name: train(name, w, ex, opts[name], steps, dt) for name in backends}
    scale = scales(opts[reference], runs[reference], ex, dt)
    ref_cols = columns(opts[reference])
    comps = {name: compare_runs(name, run, columns(opts[name]), runs[reference], ref_cols,
                                scale, dt)
             for name, run in runs.items() if name != reference}
    first, largest = earliest_and_largest(comps, ref_cols)
    return OptimResult(opt, dt, reference, runs, comps, first is None, first, largest)


if TYPE_CHECKING:  # mypy holds every backend's optim module to the OptimModule protocol
    from autograd_compare.jax_impl import optim as _jax_optim
    from autograd_compare.manual import optim as _manual_optim
    from autograd_compare.torch_impl import optim as _torch_optim

    _OPTIM_MODULES: tuple[OptimModule, ...] = (_manual_optim, _torch_optim, _jax_optim)
