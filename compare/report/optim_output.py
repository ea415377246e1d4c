"""The report folder of ``autograd-compare optimizers --out``: report.json and trace.csv.

trace.csv, one row per (learning rate, backend, step k): step 0 holds the starting parameters
only; step k >= 1 is update k: the loss (E_total, or E on a network) and every gradient at the
parameters entering it, every optimizer-state quantity after it (v; u for textbook momentum;
Adam's m, v, the step count t and the bias-corrected m_hat = m/(1-β1^t), v_hat = v/(1-β2^t),
computed in float64 from the backend's m, v, t), and the parameters after it. Names come from
`naming` (tutorial: dw5, v5, m5, m_hat5; a network: dW2[0,1], v_W2[0,1], m_hat_W2[0,1]). A
backend that does not have a quantity (PyTorch's v next to textbook momentum's u) leaves it
empty. Its size is lrs × backends × steps × (3..5)·P.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from autograd_compare import naming
from autograd_compare.harness.optim_check import Divergence, Largest, counterpart
from autograd_compare.optimizers import ADAM_KINDS, Optimizer, OptimTrajectory
from autograd_compare.report.output import csv_text

TRACE_CSV = "trace.csv"


def optimizer_dict(opt: Optimizer) -> dict[str, Any]:
    """Every setting of ``opt`` (the learning rate is per row of the sweep: not here)."""
    return {"kind": opt.kind, "describe": opt.describe().replace(f"lr={opt.lr:g}, ", "", 1),
            "momentum": opt.momentum, "dampening": opt.dampening,
            "weight_decay": opt.weight_decay, "l2": opt.l2, "betas": list(opt.betas),
            "eps": opt.eps, "lr_change": None if opt.lr_change is None else
            {"after_update": opt.lr_change[0], "lr": opt.lr_change[1]}}


def _divergence(d: Divergence | None) -> dict[str, Any] | None:
    return None if d is None else d._asdict()


def _largest(d: Largest) -> dict[str, Any]:
    return {"backend": d.backend, "abs": d.abs, "ratio": d.ratio, "where": d.label}


def per_lr(results: Sequence[Any]) -> list[dict[str, Any]]:
    """One JSON entry per learning rate (an `OptimResult` or a `NetOptimResult` each)."""
    return [{"lr": r.optimizer.lr, "ok": r.ok, "first_divergence": _divergence(r.first_divergence),
             "largest": _largest(r.largest),
             "backends": {name: {"largest": _largest(c.largest),
                                 "first_divergence": _divergence(c.first_divergence),
                                 "compared": len(c.columns)}
                          for name, c in r.comparisons.items()},
             "final_loss": {name: float(run.loss[-1]) for name, run in r.runs.items()}}
            for r in results]


def _state_columns(opt: Optimizer, params: tuple[str, ...]) -> tuple[str, ...]:
    names = naming.optimizer_state_names(opt.kind, params)
    if opt.kind in ADAM_KINDS:
        names = (*names, *naming.bias_corrected_names(params))
    return names


def trace_header(opt: Optimizer, backends: Sequence[str], params: tuple[str, ...],
                 loss_name: str) -> tuple[str, ...]:
    state: list[str] = []
    for name in backends:
        state += [s for s in _state_columns(counterpart(name, opt), params) if s not in state]
    return ("lr", "backend", "step", loss_name, *naming.grad_names(params), *state, *params)


def _state_values(opt: Optimizer, run: OptimTrajectory, P: int) -> np.ndarray:
    """(steps, S) float64: the state, with m_hat and v_hat appended for Adam."""
    s = np.asarray(run.state, np.float64)
    if opt.kind not in ADAM_KINDS:
        return s
    b1, b2 = opt.betas
    t = s[:, 2 * P:2 * P + 1]
    return np.concatenate([s, s[:, :P] / (1 - b1**t), s[:, P:2 * P] / (1 - b2**t)], axis=1)


def trace_rows(results: Sequence[Any], params: tuple[str, ...],
               header: tuple[str, ...]) -> Iterator[list[object]]:
    P = len(params)
    for r in results:
        for name, run in r.runs.items():
            opt = counterpart(name, r.optimizer)
            where = [header.index(c) for c in _state_columns(opt, params)]
            state = _state_values(opt, run, P)
            start: list[object] = [repr(r.optimizer.lr), name, 0, *[""] * (len(header) - 3 - P),
                                   *map(repr, np.asarray(run.weights[0], np.float64).tolist())]
            yield start
            for k in range(run.grads.shape[0]):
                row: list[object] = [""] * len(header)
                row[:3] = [repr(r.optimizer.lr), name, k + 1]
                row[3] = repr(float(run.loss[k]))
                row[4:4 + P] = map(repr, np.asarray(run.grads[k], np.float64).tolist())
                for j, value in zip(where, state[k].tolist(), strict=True):
                    row[j] = repr(value)
                row[-P:] = map(repr, np.asarray(run.weights[k + 1], np.float64).tolist())
                yield row


def trace(results: Sequence[Any], params: tuple[str, ...],
          loss_name: str) -> tuple[tuple[str, ...], list[list[object]]]:
    """trace.csv's header and rows (the rows as text cells)."""
    first = results[0]
    header = trace_header(first.optimizer, tuple(first.runs), params, loss_name)
    return header, list(trace_rows(results, params, header))


def trace_csv(results: Sequence[Any], params: tuple[str, ...], loss_name: str) -> str:
    return csv_text(*trace(results, params, loss_name))
