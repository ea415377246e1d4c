"""Gradient check at one point: every backend against two independent numerical references.

For each weight (dE_total/dw1..dw8) and each node (dE_total/dh1 ... dE_total/da_o2):

* **complex step** (the reference): Im E_total(x + i·h) / h with h = 1e-20, on the
  complex-safe forward pass of `compare.reference`; exact up to rounding, no step to tune;
* **central difference**: (E_total(x + h) - E_total(x - h)) / 2h with h = cbrt(eps)·max(1, |x|)
  (the step that balances truncation h² against rounding eps/h); a check on the first;
* every backend's value, with its absolute and relative error and its distance in ULPs (of the
  backend's dtype) from the complex step, and a verdict against `compare.tolerances`.

Rows come in the order backpropagation computes them (the tutorial's: output layer first), so
the first failing row names where a wrong derivation first goes wrong.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from autograd_compare import naming
from autograd_compare.harness import reference, tolerances
from autograd_compare.interface import Backend, Example
from autograd_compare.types import Trajectory

CS_STEP = 1e-20
FD_STEP_FACTOR = float(np.finfo(np.float64).eps) ** (1 / 3)  # ~6.1e-6
FD_STEP_TEXT = "h = cbrt(eps)*max(1, |x|) ~ 6.1e-06*max(1, |x|)"
FD_NAME = "central difference"  # `Failure.backend` when our own reference check fails
# output layer first: dE_total/da_o1 ... dE_total/dh2, then dw5..dw8, then dw1..dw4
ORDER = (naming.NODE_NAMES_BACKWARD + naming.WEIGHT_GRAD_NAMES[4:]
         + naming.WEIGHT_GRAD_NAMES[:4])


class Error(NamedTuple):
    """One backend's value of one gradient, against the complex step."""

    value: float
    abs_error: float  # |value - complex step|
    rel_error: float  # abs_error / |complex step|
    ulps: float  # abs_error in units in the last place of the backend's dtype
    ok: bool  # abs_error <= tolerance (NaN: not ok)


class Row(NamedTuple):
    quantity: str  # "a_o1" (the node) or "dw5" (the weight)
    label: str  # "dE_total/da_o1", "dE_total/dw5"
    complex_step: float
    finite_difference: float
    fd_step: float
    fd_ok: bool  # central difference agrees with complex step (checks our references)
    tolerance: float  # allowed |backend - complex_step|
    backends: dict[str, Error]  # backend name -> its value and errors


class Failure(NamedTuple):
    """Where a gradient first goes wrong: a backend's, or our own central difference's."""

    backend: str  # a backend name, or `FD_NAME`
    quantity: str  # a `Row.label`: "dE_total/do2"
    value: float
    reference: float  # the complex step
    abs_error: float
    tolerance: float | None  # None for the central difference (checked by `FD_RTOL`)


class Result(NamedTuple):
    rows: list[Row]
    ok: bool
    first_failure: Failure | None  # first row (in ORDER) where a backend or the FD check fails
    first_failures: dict[str, Failure]  # backend name -> its first failing row, if any


def references(w: ArrayLike, example: Example) -> dict[str, tuple[float, float, float]]:
    """name -> (complex step, central difference, FD step) at float64 point ``w`` (8,)."""
    ws = [float(x) for x in np.asarray(w, np.float64)]
    ins = [float(x) for x in example.inputs]
    tgs = [float(x) for x in example.targets]
    base = reference.forward(ws, ins, tgs)
    out = {}
    for j, name in enumerate(naming.WEIGHT_GRAD_NAMES):
        def weight_nudged(dx: complex, j: int = j) -> complex:
            return reference.forward([x + dx if k == j else x for k, x in enumerate(ws)],
                                     ins, tgs)["E_total"]
        out[name] = _derivatives(weight_nudged, ws[j])
    for name in naming.NODE_NAMES:
        def node_nudged(dx: complex, name: str = name) -> complex:
            return reference.forward(ws, ins, tgs, nudge={name: dx})["E_total"]
        out[name] = _derivatives(node_nudged, base[name].real)
    return out


def _derivatives(e_total: Callable[[complex], complex], x: float) -> tuple[float, float, float]:
    cs = e_total(CS_STEP * 1j).imag / CS_STEP
    h = FD_STEP_FACTOR * max(1.0, abs(x))
    fd = (e_total(h).real - e_total(-h).real) / (2 * h)
    return cs, fd, h


def check(backends: Sequence[Backend], w: ArrayLike, example: Example,
          trained: Mapping[str, Trajectory] | None = None) -> Result:
    """Compare every backend's gradients at ``w`` (8,) with the references.

    Args:
        backends: guarded backends, all of one dtype. w: (8,) starting weights in that dtype.
        example: inputs and targets in that dtype.
        trained: backend name -> a training from ``w`` with ``record=True``: its first row
            holds that backend's gradients at ``w``, taken instead of asking again.
    """
    dtype = backends[0].dtype
    refs = references(w, example)
    trained = trained or {}
    values = {b.name: _values(b, w, example, trained.get(b.name)) for b in backends}
    scales = _scales(np.asarray(w, np.float64), example, dtype)
    rows: list[Row] = []
    first: Failure | None = None
    firsts: dict[str, Failure] = {}
    for q in ORDER:
        cs, fd, h = refs[q]
        scale = max(scales[q], abs(cs))
        tol = tolerances.gradcheck_tolerance(dtype, scale)
        fd_ok = bool(abs(fd - cs) <= tolerances.fd_tolerance(scale, scales["E_total"], h))
        per = {name: _error(v[q], cs, tol, dtype) for name, v in values.items()}
        label = naming.gradient_label(q)
        rows.append(Row(q, label, cs, fd, h, fd_ok, tol, per))
        for name, e in per.items():
            if not e.ok and name not in firsts:
                firsts[name] = Failure(name, label, e.value, cs, e.abs_error, tol)
        if first is None:
            first = next((firsts[name] for name, e in per.items() if not e.ok), None)
        if first is None and not fd_ok:
            first = Failure(FD_NAME, label, fd, cs, abs(fd - cs), None)
    return Result(rows, first is None, first, firsts)


def _scales(w: np.ndarray, example: Example, dtype: DTypeLike) -> dict[str, float]:
    """Each gradient's scale at ``w``: `tolerances.term_scales` (sums of |terms|)."""
    base = reference.forward(w.tolist(), example.inputs.tolist(), example.targets.tolist())
    nodes = np.array([[base[n].real for n in naming.FORWARD_NAMES]])
    terms = tolerances.term_scales(w[None, :], nodes, example, dtype)
    names = naming.NODE_NAMES + naming.WEIGHT_GRAD_NAMES + ("E_total",)
    values = np.concatenate([terms.node_grads[0], terms.dw[0], terms.nodes[0, -1:]])
    return dict(zip(names, values.tolist(), strict=True))


def _values(b: Backend, w: ArrayLike, example: Example,
            trained: Trajectory | None) -> dict[str, float]:
    if trained is None or trained.node_grads is None or trained.weight_grads is None:
        g = b.gradients(np.asarray(w), example)
        nodes, dw = np.concatenate([g.h, g.a_h, g.o, g.a_o]), g.w
    else:
        nodes, dw = trained.node_grads[0], trained.weight_grads[0]
    out = dict(zip(naming.NODE_NAMES, np.asarray(nodes).tolist(), strict=True))
    out.update(zip(naming.WEIGHT_GRAD_NAMES, np.asarray(dw).tolist(), strict=True))
    return out


def _error(value: float, ref: float, tol: float, dtype: DTypeLike) -> Error:
    diff = abs(value - ref)
    rel = diff / abs(ref) if ref != 0 else (0.0 if diff == 0 else float("inf"))
    spacing = float(np.spacing(np.asarray(abs(ref), dtype)))
    return Error(value, diff, rel, diff / spacing, bool(diff <= tol))  # NaN <= tol: not ok
