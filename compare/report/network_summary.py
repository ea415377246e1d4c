"""The human-readable tables of a network check (`harness.network_check.NetworkCheck`)."""

from __future__ import annotations

import numpy as np

from autograd_compare.harness.network_check import NetworkCheck
from autograd_compare.network import Preset, describe, n_params

MAX_ROWS = 24  # gradient rows printed in full; the rest are summarised


def _num(x: float, dtype: str) -> str:
    return f"{x:.16g}" if dtype == "float64" else f"{x:.8g}"


def _g(x: float) -> str:
    return f"{x:.2g}"


def presets_table(presets: list[Preset]) -> str:
    width = max(len(p.name) for p in presets) + 2
    lines = [f"{'preset':<{width}}{'network':<58}{'B':>4}{'P':>5}{'lr':>6}{'steps':>7}"]
    for p in presets:
        lines.append(f"{p.name:<{width}}{describe(p.network):<58}{p.data.inputs.shape[0]:>4}"
                     f"{n_params(p.network):>5}{p.lr:>6g}{p.steps:>7}")
        lines.append(f"{'':<{width}}{p.about}")
    return "\n".join(lines)


def header(result: NetworkCheck, batch: int, source: str) -> str:
    t = result.trajectory
    names = ", ".join(t.runs)
    return (f"autograd-compare check: {source}: {describe(result.network)}; {batch} example(s), "
            f"{n_params(result.network)} parameters; {names} (reference {t.reference}), "
            f"{result.dtype}")


def gradcheck_table(result: NetworkCheck) -> str:
    """Parameter rows (and the first node rows) in backward order, then per-backend summary."""
    g, dtype = result.gradcheck, result.dtype
    names = list(g.largest)
    lines = [f"Gradient check: {len(g.rows)} gradients (every parameter and every node of "
             "every example) against the complex step; central difference as a check",
             f"  {'gradient':<30}{'complex step':<24}" + "".join(f"{n + ' |err|':<14}"
                                                              for n in names) + "verdict"]
    shown = [r for r in g.rows if "(example" not in r.quantity][:MAX_ROWS]
    for r in shown:
        ok = all(e <= r.tolerance for e in r.errors.values()) and r.fd_ok
        lines.append(f"  {r.quantity:<30}{_num(r.complex_step, dtype):<24}"
                     + "".join(f"{_g(r.errors[n]):<14}" for n in names)
                     + ("ok" if ok else "WRONG"))
    rest = len(g.rows) - len(shown)
    if rest:
        lines.append(f"  ... and {rest} more rows (see --json)")
    lines.append("  largest |error|/tolerance: " + ", ".join(
        f"{n} {_g(v)}" for n, v in g.largest.items()))
    return "\n".join(lines)


def trajectory_table(result: NetworkCheck) -> str:
    t, dtype = result.trajectory, result.dtype
    lines = [f"Training: {t.steps} full-batch steps at lr {t.lr:g}; E after the last step, and "
             f"the largest difference from {t.reference} over every step and quantity",
             f"  {'backend':<10}{'final E':<24}{'|diff|':<10}{'diff/tol':<10}"]
    for name, r in t.runs.items():
        d = t.largest.get(name)
        lines.append(f"  {name:<10}{_num(float(r.loss[-1]), dtype):<24}"
                     + (f"{_g(d['abs']):<10}{_g(d['ratio']):<10}" if d else "(reference)"))
    lines += [f"  {note}" for note in divergence_notes(result)]
    return "\n".join(lines)


def divergence_notes(result: NetworkCheck) -> list[str]:
    """One line per backend whose training left the finite numbers (lr too large)."""
    notes = []
    for name, r in result.trajectory.runs.items():
        bad = np.flatnonzero(~np.isfinite(r.loss))
        if bad.size:
            notes.append(f"{name}: the training diverged: E is not finite from step {bad[0]} "
                         f"on (try a smaller --lr)")
    return notes


def verdict(result: NetworkCheck) -> str:
    f = result.first_divergence
    if f is None:
        return "Verdict: every backend agrees (gradient check and trajectory check)."
    where = f" at step {f['step']}" if "step" in f else ""
    return (f"Verdict: DISAGREE. First divergence ({f['check']} check){where}: {f['backend']} "
            f"on {f['quantity']}: {f['value']!r} vs reference {f['reference']!r}")
