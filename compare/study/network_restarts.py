"""The island for any network: many random starts, every backend, which ones get stuck.

N starting parameter vectors are drawn U[low, high] (``numpy.random.default_rng(seed)``, one
(N, P) draw); each is trained full-batch at every learning rate for S steps by every backend
with one `train_batch` call per backend and rate. A start is *stuck* when its final E is above
``stuck_above``. Kept per configuration: the final E of every backend and the largest
cross-backend difference of the final parameters and E (never the per-step losses).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from autograd_compare.errors import InputError
from autograd_compare.harness.network_check import step_rtol
from autograd_compare.network import Data, NetBackend, Network, n_params
from autograd_compare.study.restarts import loss_quantiles

HISTOGRAM_EDGES = (0.0, 0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 1.0, float("inf"))


class NetStudy(NamedTuple):
    n: int  # starts, >= 1
    seed: int
    low: float  # U[low, high]
    high: float
    steps: int
    lrs: tuple[float, ...]
    stuck_above: float  # final E > stuck_above: the start is stuck


class NetOutcome(NamedTuple):
    """Arrays (L, N): index [j, n] = start n at lrs[j]."""

    study: NetStudy
    backends: tuple[str, ...]  # the first is the reference of the comparison
    initial_loss: np.ndarray  # (N,)
    final_loss: dict[str, np.ndarray]  # backend -> (L, N)
    stuck: dict[str, np.ndarray]  # backend -> (L, N) bool
    difference: np.ndarray  # (L, N): largest |Δ| of final parameters and E over backends
    ratio: np.ndarray  # (L, N): difference / tolerance (> 1: a disagreement)


def check(study: NetStudy) -> NetStudy:
    if not (np.isfinite(study.low) and np.isfinite(study.high) and study.low < study.high):
        raise InputError(f"--range must be two finite numbers LOW < HIGH; got "
                         f"{study.low:g},{study.high:g}")
    if not np.isfinite(study.stuck_above) or study.stuck_above < 0:
        raise InputError(f"--stuck-above must be finite and >= 0; got {study.stuck_above}")
    if study.seed < 0:
        raise InputError(f"--seed must be >= 0; got {study.seed}")
    return study


def starts(study: NetStudy, net: Network) -> np.ndarray:
    """(N, P) float64 starting vectors."""
    rng = np.random.default_rng(study.seed)
    return rng.uniform(study.low, study.high, (study.n, n_params(net)))


def run(study: NetStudy, net: Network, data: Data, backends: list[NetBackend],
        on_step: Callable[[str], None] | None = None) -> NetOutcome:
    w0 = starts(study, net)
    dt = backends[0].dtype
    L, N = len(study.lrs), study.n
    final = {b.name: np.empty((L, N)) for b in backends}
    weights = {b.name: np.empty((L, N, w0.shape[1])) for b in backends}
    initial: np.ndarray | None = None  # E at the starts: the same for every backend and rate
    for b in backends:
        for j, lr in enumerate(study.lrs):
            if on_step:
                on_step(f"training {N} starts with {b.name} at lr {lr:g}")
            r = b.train_batch(net, w0, np.full(N, lr), data, study.steps)
            final[b.name][j], weights[b.name][j] = r.final_loss, r.final_weights
            if initial is None:
                initial = r.initial_loss.astype(np.float64)
    assert initial is not None  # study.lrs is never empty (--lrs needs a number)
    ref = backends[0].name
    rtol = step_rtol(net, data.inputs.shape[0], dt) * (study.steps + 1)
    scale = np.maximum(np.abs(w0).max(axis=1)[None, :],
                       np.abs(weights[ref]).max(axis=2))  # (L, N): largest |w| start or end
    scale_E = np.maximum(initial[None, :], np.abs(final[ref]))
    diff, ratio = np.zeros((L, N)), np.zeros((L, N))
    for b in backends[1:]:
        dw = np.abs(weights[b.name] - weights[ref]).max(axis=2)
        dE = np.abs(final[b.name] - final[ref])
        with np.errstate(divide="ignore", invalid="ignore"):
            q = np.fmax(dw / (rtol * scale), dE / (rtol * scale_E))
        d = np.fmax(dw, dE)
        bad = np.isnan(d) & ~(np.isnan(final[b.name]) & np.isnan(final[ref]))
        diff = np.fmax(diff, np.where(bad, np.inf, d))
        ratio = np.fmax(ratio, np.where(bad | np.isnan(q), np.where(d == 0, 0, np.inf), q))
    stuck = {name: ~(v <= study.stuck_above) for name, v in final.items()}  # NaN counts stuck
    return NetOutcome(study, tuple(b.name for b in backends), initial, final, stuck, diff,
                      ratio)


def summary(out: NetOutcome) -> list[dict[str, Any]]:
    """Per learning rate: the stuck fraction per backend, whether every backend agrees on
    which starts are stuck, the final-E distribution and histogram, the cross-backend
    difference. JSON-ready."""
    rows = []
    ref = out.backends[0]
    edges = np.asarray(HISTOGRAM_EDGES)
    for j, lr in enumerate(out.study.lrs):
        same = all(np.array_equal(out.stuck[b][j], out.stuck[ref][j]) for b in out.backends)
        rows.append({
            "lr": lr,
            "stuck_fraction": {b: float(out.stuck[b][j].mean()) for b in out.backends},
            "stuck": {b: int(out.stuck[b][j].sum()) for b in out.backends},
            "same_starts_stuck": bool(same),
            "stuck_mismatches": int(sum(np.count_nonzero(out.stuck[b][j] != out.stuck[ref][j])
                                        for b in out.backends[1:])),
            "final_loss": {b: loss_quantiles(out.final_loss[b][j])._asdict()
                           for b in out.backends},
            "histogram": {"edges": [float(e) for e in edges],
                          "counts": np.histogram(out.final_loss[ref][j], edges)[0].tolist()},
            "worst_difference": float(out.difference[j].max()),
            "worst_ratio_to_tolerance": float(out.ratio[j].max()),
            "disagreements": int(np.count_nonzero(~(out.ratio[j] <= 1))),
        })
    return rows
