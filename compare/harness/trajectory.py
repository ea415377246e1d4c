"""Trajectory check: every backend trains from the same start; compare them step by step.

Step k of a run is one row of 27 quantities, in graph order: the forward pass at the weights
entering step k (h1 ... E_total), the gradients there (dw1..dw8), then the weights leaving
step k (w1..w8 after the update). The last row (k = steps) holds the forward pass at the final
weights only. Every backend is compared with the reference backend (the first correct one
listed); the first divergence is the first row, then the first quantity in that order, whose
difference exceeds `compare.tolerances.trajectory_tolerance`. Results are the named types
below (`LrResult`, `Comparison`, `Difference`, `Divergence`); report/output.py turns them
into JSON.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from numpy.typing import DTypeLike, NDArray

from autograd_compare import naming
from autograd_compare.harness import tolerances
from autograd_compare.interface import Backend, Example
from autograd_compare.types import Trajectory

FloatArray = NDArray[np.float64]
N_FORWARD, N_GRADS = len(naming.FORWARD_NAMES), len(naming.WEIGHT_GRAD_NAMES)
AFTER_UPDATE = " after the update"  # label suffix of the weights leaving a step


class Run(NamedTuple):
    """One backend at one learning rate."""

    backend: str
    weights: FloatArray  # (steps+1, 8): weights[k] enters step k
    nodes: FloatArray  # (steps+1, 11): h1..E_total at weights[k] (`naming.FORWARD_NAMES`)
    grads: FloatArray  # (steps, 8): dw1..dw8 used by update k
    # the recorded training (`Trajectory.nodes`: the forward pass at weights[k] as is, where
    # ``nodes`` above holds the E_total training saw), for `steps.record`; None if not kept
    trained: Trajectory | None = None


class Location(NamedTuple):
    """A cell of the (steps+1, 27) trajectory table."""

    step: int
    quantity: str  # "o1", "dw3" or "w8 after the update"


class Difference(NamedTuple):
    """The largest difference of one backend from the reference over a whole run."""

    backend: str
    abs: float  # largest |backend - reference| (finite entries)
    rel: float  # largest |backend - reference| / |reference|
    ulps: float  # largest difference in units in the last place of the dtype
    ratio: float  # largest difference / tolerance (inf if a value is not finite)
    at: Location  # where the largest |difference| is


class Divergence(NamedTuple):
    """The first step and quantity where a backend leaves the tolerance around the reference."""

    backend: str
    step: int
    quantity: str  # a `Location.quantity` label
    value: float  # the backend's
    reference: float  # the reference backend's
    difference: float
    tolerance: float


class Comparison(NamedTuple):
    """One backend against the reference at one learning rate."""

    backend: str
    diff: FloatArray  # (steps+1, 27): |backend - reference|, 0 where both lack a value
    tolerance: FloatArray  # (steps+1, 27)
    largest: Difference
    first_divergence: Divergence | None


class LrResult(NamedTuple):
    """Every backend at one learning rate, each compared with the reference."""

    lr: float
    runs: dict[str, Run]  # backend name -> its run, the reference first
    reference: str
    comparisons: dict[str, Comparison]  # backend name -> Comparison (all but the reference)
    ok: bool
    first_divergence: Divergence | None  # the earliest over the backends
    largest: Difference | None  # the largest ratio over the backends; None: nothing compared


def train(backend: Backend, w: NDArray[np.floating], example: Example, lr: float,
          steps: int) -> Run:
    """Train, recording every intermediate (`Trajectory.nodes`); E_total rows come from the
    training itself, and steps whose weights are not finite have no forward values (NaN)."""
    t = backend.train(w, example, lr=lr, steps=steps, record=True)
    nodes = np.array(t.nodes, dtype=np.float64)
    nodes[~np.isfinite(t.weights).all(axis=1)] = np.nan  # weights a large lr sent far away
    nodes[:-1, -1] = t.loss  # the E_total training saw before each update
    return Run(backend.name, np.asarray(t.weights), nodes, np.asarray(t.grads), t)


def rows(run: Run) -> FloatArray:
    """(steps+1, 27) in the order of `naming.TRAJECTORY_COLUMNS`; NaN where a step has none."""
    out = np.full((run.nodes.shape[0], len(naming.TRAJECTORY_COLUMNS)), np.nan)
    out[:, :N_FORWARD] = run.nodes
    out[:-1, N_FORWARD:N_FORWARD + N_GRADS] = run.grads
    out[:-1, N_FORWARD + N_GRADS:] = run.weights[1:]
    return out


def scales(ref: Run, example: Example, dtype: DTypeLike) -> FloatArray:
    """(27,): each quantity's scale over the run (`compare.tolerances`, "Scale").

    Forward values and gradients: their largest term scale (`tolerances.term_scales`) or
    |value|; weights: their largest |value|. Non-finite reference values are left out.
    """
    y = rows(ref)
    out: FloatArray = np.max(np.abs(y), axis=0, initial=0.0, where=np.isfinite(y))
    ok = np.isfinite(ref.nodes).all(axis=1)
    terms = tolerances.term_scales(ref.weights[ok], ref.nodes[ok], example, dtype)
    term = np.concatenate([terms.nodes, terms.dw], axis=1)
    n = N_FORWARD + N_GRADS
    out[:n] = np.maximum(out[:n], term.max(axis=0, initial=0.0))
    return out


def compare_runs(run: Run, ref: Run, example: Example, dtype: DTypeLike) -> Comparison:
    """``run`` against ``ref`` (same steps, same ``example``), with tolerances for ``dtype``
    (`tolerances.compare_cells`; both NaN or the same infinity count as the same)."""
    x, y = rows(run), rows(ref)
    steps = np.arange(x.shape[0])[:, None]
    tol = tolerances.trajectory_tolerance(dtype, steps, scales(ref, example, dtype)[None, :])
    cells = tolerances.compare_cells(x, y, tol, tolerances.both_missing(x, y))
    first = None
    if cells.first is not None:
        k, q = cells.first
        first = Divergence(run.backend, k, _label(q), float(x[k, q]), float(y[k, q]),
                           float(cells.diff[k, q]), float(tol[k, q]))
    return Comparison(run.backend, cells.diff, tol, _largest(run.backend, cells, y, dtype),
                      first)


def _label(q: int) -> str:
    name = naming.TRAJECTORY_COLUMNS[q]
    return name + AFTER_UPDATE if q >= N_FORWARD + N_GRADS else name


def _largest(backend: str, cells: tolerances.Cells, y: FloatArray,
             dtype: DTypeLike) -> Difference:
    """`tolerances.compare_cells`'s largest, with the relative and ulp sizes; the ratio is
    inf when any difference is."""
    finite = np.isfinite(cells.diff)
    d = np.where(finite, cells.diff, 0.0)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        rel = np.where((np.abs(y) > 0) & finite, d / np.abs(y), 0.0)
        spacing = np.spacing(np.abs(np.nan_to_num(y)).astype(dtype)).astype(np.float64)
        ulps = np.where(finite, d / spacing, 0.0)
    k, q = cells.largest
    return Difference(backend, cells.abs, float(rel.max()), float(ulps.max()),
                      cells.ratio if finite.all() else float("inf"), Location(k, _label(q)))


def check_lr(backends: Sequence[Backend], reference: str, w: NDArray[np.floating],
             example: Example, lr: float, steps: int) -> LrResult:
    """Train every backend at ``lr`` and compare each with ``reference``.

    A learning rate too large for the gradients sends the weights to inf and NaN: a result
    like any other (compared by the NaN rules of `compare_runs`), so overflow is not warned.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        runs = {b.name: train(b, w, example, lr, steps) for b in backends}
        dtype = backends[0].dtype
        comps = {name: compare_runs(run, runs[reference], example, dtype)
                 for name, run in runs.items() if name != reference}
    firsts = [c.first_divergence for c in comps.values() if c.first_divergence]
    first = min(firsts, key=lambda f: (f.step, column(f.quantity)), default=None)
    largest = max((c.largest for c in comps.values()), key=lambda d: d.ratio, default=None)
    return LrResult(lr, runs, reference, comps, first is None, first, largest)


def column(label: str) -> int:
    """The column (0..26) of a `Location.quantity` label: "w8 after the update" -> 26."""
    return naming.TRAJECTORY_COLUMNS.index(label.removesuffix(AFTER_UPDATE))
