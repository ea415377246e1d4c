"""Trajectory check: every backend trains from the same start; compare them step by step.

Step k of a run is one row of 27 quantities, in graph order: the forward pass at the weights
entering step k (h1 ... E_total), the gradients there (dw1..dw8), then the weights leaving
step k (w1..w8 after the update). The last row (k = steps) holds the forward pass at the final
weights only. Every backend is compared with the reference backend (the first correct one
listed); the first divergence is the first row, then the first quantity in that order, whose
difference exceeds `compare.tolerances.trajectory_tolerance`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from autograd_compare import naming
from autograd_compare.harness import tolerances
from autograd_compare.interface import Backend, Example

QUANTITIES = naming.NODES + naming.GRADS + naming.WEIGHTS  # 27 columns of a row
N_NODES, N_GRADS = len(naming.NODES), len(naming.GRADS)


class Run(NamedTuple):
    """One backend at one learning rate."""

    backend: str
    weights: np.ndarray  # (steps+1, 8): weights[k] enters step k
    nodes: np.ndarray  # (steps+1, 11): h1..E_total at weights[k]
    grads: np.ndarray  # (steps, 8): dw1..dw8 used by update k


class Comparison(NamedTuple):
    """One backend against the reference at one learning rate."""

    backend: str
    diff: np.ndarray  # (steps+1, 27): |backend - reference|, 0 where both lack a value
    tolerance: np.ndarray  # (steps+1, 27)
    largest: dict  # {"abs", "rel", "ulps", "ratio"}: largest difference; ratio = diff/tolerance
    first_divergence: dict | None  # {"step", "quantity", "value", "reference", ...} or None


class LrResult(NamedTuple):
    lr: float
    runs: dict  # backend name -> Run
    reference: str
    comparisons: dict  # backend name -> Comparison (every backend but the reference)
    ok: bool
    first_divergence: dict | None  # earliest over the backends (with "backend")
    largest: dict  # largest over the backends (with "backend")


def train(backend: Backend, w: np.ndarray, example: Example, lr: float, steps: int) -> Run:
    """Train and record every intermediate; E_total rows come from the training itself."""
    t = backend.train(w, example, lr, steps)
    with np.errstate(over="ignore", invalid="ignore"):  # weights a large lr sent far away
        nodes = np.stack([naming.node_values(backend.forward(wk, example))
                          if np.isfinite(wk).all() else np.full(len(naming.NODES), np.nan)
                          for wk in t.weights])
    nodes[:-1, -1] = t.loss  # the E_total training saw before each update
    return Run(backend.name, np.asarray(t.weights), nodes, np.asarray(t.grads))


def rows(run: Run) -> np.ndarray:
    """(steps+1, 27) in the order of `QUANTITIES`; NaN where a step has no such value."""
    out = np.full((run.nodes.shape[0], len(QUANTITIES)), np.nan)
    out[:, :N_NODES] = run.nodes
    out[:-1, N_NODES:N_NODES + N_GRADS] = run.grads
    out[:-1, N_NODES + N_GRADS:] = run.weights[1:]
    return out


def scales(ref: Run, example: Example, dtype) -> np.ndarray:
    """(27,): each quantity's scale over the run (`compare.tolerances`, "Scale").

    Forward values and gradients: their largest term scale (`tolerances.term_scales`) or
    |value|; weights: their largest |value|. Non-finite reference values are left out.
    """
    y = rows(ref)
    out = np.max(np.abs(y), axis=0, initial=0.0, where=np.isfinite(y))
    ok = np.isfinite(ref.nodes).all(axis=1)
    terms = tolerances.term_scales(ref.weights[ok], ref.nodes[ok], example, dtype)
    term = np.concatenate([terms["nodes"], terms["dw"]], axis=1)
    out[:N_NODES + N_GRADS] = np.maximum(out[:N_NODES + N_GRADS], term.max(axis=0, initial=0.0))
    return out


def compare_runs(run: Run, ref: Run, example: Example, dtype) -> Comparison:
    """``run`` against ``ref`` (same steps, same ``example``), with tolerances for ``dtype``."""
    x, y = rows(run), rows(ref)
    both_missing = np.isnan(x) & np.isnan(y)
    same_inf = np.isinf(x) & np.isinf(y) & (np.sign(x) == np.sign(y))
    with np.errstate(invalid="ignore"):
        diff = np.where(both_missing | same_inf, 0.0, np.abs(x - y))
    diff = np.where(np.isnan(diff), np.inf, diff)  # a NaN on one side only is a divergence
    scale = scales(ref, example, dtype)
    steps = np.arange(x.shape[0])[:, None]
    tol = tolerances.trajectory_tolerance(dtype, steps, scale[None, :])
    bad = ~(diff <= tol)
    first = None
    if bad.any():
        k, q = np.unravel_index(np.argmax(bad), bad.shape)  # row-major: earliest step first
        first = {"step": int(k), "quantity": _label(q), "value": float(x[k, q]),
                 "reference": float(y[k, q]), "difference": float(diff[k, q]),
                 "tolerance": float(tol[k, q])}
    return Comparison(run.backend, diff, tol, _largest(diff, tol, y, dtype), first)


def _label(q: int) -> str:
    name = QUANTITIES[q]
    return f"{name} after the update" if q >= N_NODES + N_GRADS else name


def _largest(diff, tol, y, dtype) -> dict:
    finite = np.isfinite(diff)
    d = np.where(finite, diff, 0.0)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        rel = np.where((np.abs(y) > 0) & finite, d / np.abs(y), 0.0)
        spacing = np.spacing(np.abs(np.nan_to_num(y)).astype(dtype)).astype(np.float64)
        ulps = np.where(finite, d / spacing, 0.0)
        ratio = np.where(d > 0, d / tol, 0.0)
    k, q = np.unravel_index(np.argmax(d), d.shape)
    return {"abs": float(d.max()), "rel": float(rel.max()), "ulps": float(ulps.max()),
            "ratio": float(ratio.max()) if finite.all() else float("inf"),
            "at": {"step": int(k), "quantity": _label(q)}}


def check_lr(backends: list[Backend], reference: str, w: np.ndarray, example: Example,
             lr: float, steps: int) -> LrResult:
    """Train every backend at ``lr`` and compare each with ``reference``.

    A learning rate too large for the gradients sends the weights to inf and NaN: a result
    like any other (compared by the NaN rules of `compare_runs`), so overflow is not warned.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        runs = {b.name: train(b, w, example, lr, steps) for b in backends}
        dtype = backends[0].dtype
        comps = {name: compare_runs(run, runs[reference], example, dtype)
                 for name, run in runs.items() if name != reference}
    firsts = [dict(c.first_divergence, backend=name) for name, c in comps.items()
              if c.first_divergence]
    first = min(firsts, key=lambda f: (f["step"], _order(f["quantity"])), default=None)
    largest = max((dict(c.largest, backend=name) for name, c in comps.items()),
                  key=lambda d: d["ratio"], default={"abs": 0.0, "rel": 0.0, "ulps": 0.0,
                                                     "ratio": 0.0, "backend": None})
    return LrResult(lr, runs, reference, comps, first is None, first, largest)


def _order(label: str) -> int:
    name = label.split(" ")[0]
    return QUANTITIES.index(name) + (N_GRADS if label.endswith("update") else 0)
