"""The human-readable tables of the main job's gradient check (`harness.optim_check.Sweep`) and of
the presets."""

from __future__ import annotations

from autograd_compare.harness.network_check import NOT_GIVEN, GradCheck, GradRow
from autograd_compare.network import Preset, describe, n_params

MAX_ROWS = 24  # gradient rows printed in full; the rest are summarised


def number(x: float, dtype: str) -> str:
    """All the digits of ``dtype``: 16 for float64, 8 for float32."""
    return f"{x:.16g}" if dtype == "float64" else f"{x:.8g}"


def compact(x: float) -> str:
    """A difference or a count in a table: 12 or 1.2e-17."""
    return f"{x:.0f}" if 1 <= x < 1e6 and x == int(x) else f"{x:.2g}"


def presets_table(presets: list[Preset]) -> str:
    width = max(len(p.name) for p in presets) + 2
    lines = [f"{'preset':<{width}}{'network':<58}{'B':>4}{'P':>5}{'lr':>6}{'steps':>7}"]
    for p in presets:
        lines.append(f"{p.name:<{width}}{describe(p.network):<58}{p.data.inputs.shape[0]:>4}"
                     f"{n_params(p.network):>5}{p.lr:>6g}{p.steps:>7}")
        lines.append(f"{'':<{width}}{p.about}")
    return "\n".join(lines)


def _error(r: GradRow, name: str) -> str:
    return compact(r.errors[name]) if name in r.errors else NOT_GIVEN


def gradcheck_table(g: GradCheck, dtype: str) -> str:
    """Parameter rows (and the first node rows) in backward order, then per-backend summary."""
    names = list(g.largest)
    width = {n: max(14, len(n) + 8) for n in names}  # "<name> |err|" and a space
    lines = [f"Gradient check: {len(g.rows)} gradients (every parameter and every node of "
             "every example) against the complex step; central difference as a check",
             f"  {'gradient':<30}{'complex step':<24}" + "".join(f"{n + ' |err|':<{width[n]}}"
                                                              for n in names) + "verdict"]
    shown = [r for r in g.rows if "(example" not in r.quantity][:MAX_ROWS]
    for r in shown:
        ok = all(e <= r.tolerance for e in r.errors.values()) and r.fd_ok
        lines.append(f"  {r.quantity:<30}{number(r.complex_step, dtype):<24}"
                     + "".join(f"{_error(r, n):<{width[n]}}" for n in names)
                     + ("ok" if ok else "WRONG"))
    rest = len(g.rows) - len(shown)
    if rest:
        lines.append(f"  ... and {rest} more rows (see --json)")
    lines.append("  largest |error|/tolerance: " + ", ".join(
        f"{n} {compact(v)}" for n, v in g.largest.items()))
    return "\n".join(lines)
