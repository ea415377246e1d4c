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

from typing import NamedTuple

import numpy as np

from autograd_compare import naming
from autograd_compare.harness import reference, tolerances
from autograd_compare.interface import Backend, Example

CS_STEP = 1e-20
FD_STEP_FACTOR = float(np.finfo(np.float64).eps) ** (1 / 3)  # ~6.1e-6
FD_STEP_TEXT = "h = cbrt(eps)*max(1, |x|) ~ 6.1e-06*max(1, |x|)"
# output layer first: dE_total/da_o1 ... dE_total/dh2, then dw5..dw8, then dw1..dw4
ORDER = naming.BACKWARD_ORDER + naming.GRADS[4:] + naming.GRADS[:4]


class Row(NamedTuple):
    quantity: str  # "a_o1" (the node) or "dw5" (the weight)
    label: str  # "dE_total/da_o1", "dE_total/dw5"
    complex_step: float
    finite_difference: float
    fd_step: float
    fd_ok: bool  # central difference agrees with complex step (checks our references)
    tolerance: float  # allowed |backend - complex_step|
    backends: dict  # name -> {"value", "abs_error", "rel_error", "ulps", "ok"}


class Result(NamedTuple):
    rows: list[Row]
    ok: bool
    first_failure: dict | None  # first row (in ORDER) where a backend or the FD check fails
    first_failures: dict  # backend name -> its first failing row (as first_failure), if any


def references(w, example: Example) -> dict[str, tuple[float, float, float]]:
    """name -> (complex step, central difference, FD step) at float64 point ``w`` (8,)."""
    w = [float(x) for x in w]
    ins, tgs = [float(x) for x in example.inputs], [float(x) for x in example.targets]
    base = reference.forward(w, ins, tgs)
    out = {}
    for j, name in enumerate(naming.GRADS):
        def e_total(dx, j=j):
            return reference.forward([x + dx if k == j else x for k, x in enumerate(w)],
                                     ins, tgs)["E_total"]
        out[name] = _derivatives(e_total, w[j])
    for name in naming.HIDDEN_AND_OUTPUT:
        def e_total(dx, name=name):
            return reference.forward(w, ins, tgs, nudge={name: dx})["E_total"]
        out[name] = _derivatives(e_total, base[name].real)
    return out


def _derivatives(e_total, x: float) -> tuple[float, float, float]:
    cs = e_total(CS_STEP * 1j).imag / CS_STEP
    h = FD_STEP_FACTOR * max(1.0, abs(x))
    fd = (e_total(h).real - e_total(-h).real) / (2 * h)
    return cs, fd, h


def check(backends: list[Backend], w: np.ndarray, example: Example) -> Result:
    """Compare every backend's gradients at ``w`` (8,) with the references.

    Args:
        backends: guarded backends, all of one dtype. w: (8,) starting weights in that dtype.
        example: inputs and targets in that dtype.
    """
    dtype = backends[0].dtype
    refs = references(np.asarray(w, np.float64), example)
    values = {b.name: _values(b, w, example) for b in backends}
    scales = _scales(np.asarray(w, np.float64), example, dtype)
    rows, first, firsts = [], None, {}
    for q in ORDER:
        cs, fd, h = refs[q]
        scale = max(scales[q], abs(cs))
        tol = tolerances.gradcheck_tolerance(dtype, scale)
        fd_ok = bool(abs(fd - cs) <= tolerances.fd_tolerance(scale, scales["E_total"], h))
        per = {name: _error(v[q], cs, tol, dtype) for name, v in values.items()}
        rows.append(Row(q, naming.gradient_label(q), cs, fd, h, fd_ok, tol, per))
        failure = _first_failure(q, cs, fd, fd_ok, tol, per)
        first = first or failure
        for name, e in per.items():
            if not e["ok"] and name not in firsts:
                firsts[name] = _first_failure(q, cs, fd, True, tol, {name: e})
    return Result(rows, first is None, first, firsts)


def _scales(w: np.ndarray, example: Example, dtype) -> dict[str, float]:
    """Each gradient's scale at ``w``: `tolerances.term_scales` (sums of |terms|)."""
    base = reference.forward(w.tolist(), example.inputs.tolist(), example.targets.tolist())
    nodes = np.array([[base[n].real for n in naming.NODES]])
    terms = tolerances.term_scales(w[None, :], nodes, example, dtype)
    names = naming.HIDDEN_AND_OUTPUT + naming.GRADS + ("E_total",)
    values = np.concatenate([terms["node_grads"][0], terms["dw"][0], terms["nodes"][0, -1:]])
    return dict(zip(names, values.tolist(), strict=True))


def _values(b: Backend, w, example: Example) -> dict[str, float]:
    g = b.gradients(w, example)
    out = naming.node_gradients(g)
    out.update(zip(naming.GRADS, np.asarray(g.w).tolist(), strict=True))
    return out


def _error(value: float, ref: float, tol: float, dtype) -> dict:
    diff = abs(value - ref)
    rel = diff / abs(ref) if ref != 0 else (0.0 if diff == 0 else float("inf"))
    spacing = float(np.spacing(np.asarray(abs(ref), dtype)))
    return {"value": value, "abs_error": diff, "rel_error": rel, "ulps": diff / spacing,
            "ok": bool(diff <= tol)}  # NaN compares False: not ok


def _first_failure(q, cs, fd, fd_ok, tol, per) -> dict | None:
    for name, e in per.items():
        if not e["ok"]:
            return {"backend": name, "quantity": naming.gradient_label(q), "value": e["value"],
                    "reference": cs, "abs_error": e["abs_error"], "tolerance": tol}
    if not fd_ok:
        return {"backend": "central difference", "quantity": naming.gradient_label(q),
                "value": fd, "reference": cs, "abs_error": abs(fd - cs), "tolerance": None}
    return None
