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

from autograd_compare.backend import Backend
from autograd_compare.errors import InputError
from autograd_compare.harness.network_check import step_rtol
from autograd_compare.network import Data, Network, n_params
from autograd_compare.network import to_dict as network_dict
from autograd_compare.optimizers import SGD, Optimizer
from autograd_compare.study.restarts import LossQuantiles, loss_quantiles

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


def run(study: NetStudy, net: Network, data: Data, backends: list[Backend],
        opt: Optimizer | None = None,
        on_step: Callable[[str], None] | None = None) -> NetOutcome:
    """Every start at every rate in every backend, with ``opt`` (default plain gradient
    descent)."""
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
            r = b.train_batch(net, w0, np.full(N, lr), data, opt or SGD, study.steps)
            final[b.name][j], weights[b.name][j] = r.final_loss, r.final_weights
            if initial is None:
                assert r.initial_loss is not None  # every backend's train_batch computes it
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


class Histogram(NamedTuple):
    """Counts of the reference's final E in the bins (edges[i], edges[i + 1]]."""

    edges: tuple[float, ...]
    counts: tuple[int, ...]


class BackendStuck(NamedTuple):
    """One backend at one learning rate."""

    name: str
    stuck: int  # starts whose final E is above stuck_above (NaN counts as stuck)
    stuck_fraction: float
    final_loss: LossQuantiles


class LrSummary(NamedTuple):
    """One learning rate: every backend, and how they agree."""

    lr: float
    backends: tuple[BackendStuck, ...]  # the reference first
    same_starts_stuck: bool  # every backend has exactly the reference's stuck starts
    stuck_mismatches: int  # (backend, start) pairs stuck in one and not in the reference
    histogram: Histogram
    worst_difference: float  # largest |Δ| of final parameters and E over starts and backends
    worst_ratio_to_tolerance: float
    disagreements: int  # starts whose difference exceeds the tolerance

    @property
    def ok(self) -> bool:
        return self.disagreements == 0 and self.same_starts_stuck

    def backend(self, name: str) -> BackendStuck:
        return next(b for b in self.backends if b.name == name)

    def to_dict(self) -> dict[str, Any]:
        """report.json's "per_lr" entry (the JSON edge)."""
        return {
            "lr": self.lr,
            "stuck_fraction": {b.name: b.stuck_fraction for b in self.backends},
            "stuck": {b.name: b.stuck for b in self.backends},
            "same_starts_stuck": self.same_starts_stuck,
            "stuck_mismatches": self.stuck_mismatches,
            "final_loss": {b.name: b.final_loss._asdict() for b in self.backends},
            "histogram": {"edges": list(self.histogram.edges),
                          "counts": list(self.histogram.counts)},
            "worst_difference": self.worst_difference,
            "worst_ratio_to_tolerance": self.worst_ratio_to_tolerance,
            "disagreements": self.disagreements,
        }


def summary(out: NetOutcome) -> tuple[LrSummary, ...]:
    """Per learning rate: the stuck fraction per backend, whether every backend agrees on
    which starts are stuck, the final-E distribution and histogram, the cross-backend
    difference."""
    rows = []
    ref = out.backends[0]
    edges = np.asarray(HISTOGRAM_EDGES)
    for j, lr in enumerate(out.study.lrs):
        same = all(np.array_equal(out.stuck[b][j], out.stuck[ref][j]) for b in out.backends)
        rows.append(LrSummary(
            lr=lr,
            backends=tuple(BackendStuck(b, int(out.stuck[b][j].sum()),
                                        float(out.stuck[b][j].mean()),
                                        loss_quantiles(out.final_loss[b][j]))
                           for b in out.backends),
            same_starts_stuck=bool(same),
            stuck_mismatches=int(sum(np.count_nonzero(out.stuck[b][j] != out.stuck[ref][j])
                                     for b in out.backends[1:])),
            histogram=Histogram(tuple(float(e) for e in edges),
                                tuple(int(c) for c in np.histogram(out.final_loss[ref][j],
                                                                   edges)[0])),
            worst_difference=float(out.difference[j].max()),
            worst_ratio_to_tolerance=float(out.ratio[j].max()),
            disagreements=int(np.count_nonzero(~(out.ratio[j] <= 1))),
        ))
    return tuple(rows)


class RestartsConfig(NamedTuple):
    """The study as run (report.json "config")."""

    preset: str
    about: str  # the preset's one line
    network: Network
    examples: int
    n: int
    seed: int
    low: float
    high: float
    steps: int
    lrs: tuple[float, ...]
    stuck_above: float
    dtype: str
    backends: tuple[str, ...]  # the reference first
    optimizer: Optimizer | None = None  # None: plain gradient descent

    def to_dict(self) -> dict[str, Any]:
        from autograd_compare.report.sweep import optimizer_dict

        return {"preset": self.preset, "network": network_dict(self.network), "n": self.n,
                "seed": self.seed, "distribution": "uniform", "range": [self.low, self.high],
                "steps": self.steps, "lrs": list(self.lrs), "stuck_above": self.stuck_above,
                "dtype": self.dtype, "backends": list(self.backends),
                "reference": self.backends[0], "examples": self.examples,
                "optimizer": None if self.optimizer is None else optimizer_dict(self.optimizer)}


class RestartsResult(NamedTuple):
    """Everything ``restarts --preset NAME`` found."""

    config: RestartsConfig
    per_lr: tuple[LrSummary, ...]
    seconds: float
    report_dir: str | None = None
    files: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.per_lr)

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def to_dict(self) -> dict[str, Any]:
        """report.json (the JSON edge)."""
        return {"tool": "autograd-compare", "command": "restarts", "ok": self.ok,
                "exit_code": self.exit_code, "config": self.config.to_dict(),
                "seconds": self.seconds, "per_lr": [r.to_dict() for r in self.per_lr],
                "report_dir": self.report_dir, "files": list(self.files)}
