"""The human-readable tables and verdict lines of the main job."""

from __future__ import annotations

from collections.abc import Sequence

from autograd_compare.harness.gradcheck import CS_STEP, FD_NAME, FD_STEP_TEXT
from autograd_compare.report.claims import lr_width
from autograd_compare.report.result import MainResult, RunConfig


def number(x: float, dtype: str) -> str:
    """All the digits of ``dtype``: 16 for float64, 8 for float32."""
    return f"{x:.16g}" if dtype == "float64" else f"{x:.8g}"


def _short(xs: Sequence[float]) -> str:
    return ",".join(f"{x:.8g}" for x in xs)


def header(config: RunConfig) -> str:
    names = ", ".join(config.backends)
    return (f"autograd-compare: {names} (reference {config.reference}), "
            f"{config.dtype}, {config.steps} steps; weights {_short(config.weights)}, "
            f"inputs {_short(config.inputs)}, targets {_short(config.targets)}")


def trajectory_table(result: MainResult) -> str:
    """Per learning rate: final E_total per backend, largest difference, verdict."""
    cfg = result.config
    names = cfg.backends
    width = max(20, *(len(n) for n in names)) + 2
    lines = [f"Training: E_total after {cfg.steps} steps, and the largest difference from "
             f"{cfg.reference} over every step and quantity",
             f"  {'lr':<{lr_width(result.trajectories)}}" + "".join(f"{n:<{width}}" for n in names)
             + f"{'|diff|':<10}{'rel':<10}{'ULPs':<8}{'diff/tol':<10}verdict"]
    for t in result.trajectories:
        d = t.largest
        abs_, rel, ulps, ratio = (d.abs, d.rel, d.ulps, d.ratio) if d else (0.0, 0.0, 0.0, 0.0)
        lines.append(f"  {t.lr:<{lr_width(result.trajectories)}g}" + "".join(
            f"{number(float(t.runs[n].nodes[-1, -1]), cfg.dtype):<{width}}" for n in names)
            + f"{compact(abs_):<10}{compact(rel):<10}{compact(ulps):<8}{compact(ratio):<10}"
            + ("agree" if t.ok else "DISAGREE"))
    return "\n".join(lines)


def gradcheck_table(result: MainResult) -> str:
    """Per gradient: complex step, central difference, every backend's distance in ULPs."""
    g, names = result.gradcheck, result.config.backends
    width = max(8, *(len(n) for n in names)) + 2
    lines = [f"Gradient check at the starting weights: complex step (h = {CS_STEP:g}) is the "
             f"reference; central difference ({FD_STEP_TEXT}) checks it",
             f"  {'gradient':<17}{'complex step':<24}{'|FD - CS|':<11}"
             + "".join(f"{n:<{width}}" for n in names) + "verdict",
             f"  {'':<52}" + f"{'(each backend: ULPs from the complex step)':<{width}}"]
    for row in g.rows:
        ok = row.fd_ok and all(e.ok for e in row.backends.values())
        lines.append(f"  {row.label:<17}{row.complex_step:<24.17g}"
                     f"{compact(abs(row.finite_difference - row.complex_step)):<11}"
                     + "".join(f"{compact(row.backends[n].ulps):<{width}}" for n in names)
                     + ("ok" if ok else "WRONG"))
    return "\n".join(lines)


def compact(x: float) -> str:
    """A difference or a count in a table: 12 or 1.2e-17."""
    return f"{x:.0f}" if 1 <= x < 1e6 and x == int(x) else f"{x:.2g}"


def verdict(result: MainResult) -> str:
    """Closing lines: all agree, or for every failing backend where it first goes wrong."""
    cfg = result.config
    lines = []
    for name in cfg.backends:
        grad = result.gradcheck.first_failures.get(name)
        if grad:
            lines.append(f"FAIL {name}: gradient check first wrong at {grad.quantity}: "
                         f"{grad.value:.10g}, complex step {grad.reference:.10g}")
        for t in result.trajectories:
            c = t.comparisons.get(name)
            first = c.first_divergence if c else None
            if first:
                lines.append(
                    f"FAIL {name}: training at lr {t.lr:g} first diverges at step "
                    f"{first.step}, {first.quantity}: {first.value:.10g} vs "
                    f"{cfg.reference} {first.reference:.10g} (difference "
                    f"{compact(first.difference)} > tolerance {compact(first.tolerance)})")
                break
    fd = result.gradcheck.first_failure
    if fd and fd.backend == FD_NAME:
        lines.append(f"FAIL reference: central difference disagrees with complex step at "
                     f"{fd.quantity}")
    for name in result.undetected_mistakes:
        lines.append(f"FAIL {name}: a mistake backend, but no check caught it at these inputs "
                     "(try other weights, targets or learning rates)")
    if not lines:
        lines.append("OK: every backend agrees with the complex-step gradients and, at every "
                     "step of every learning rate, with " + cfg.reference + ".")
        worst = result.largest()
        d = worst.difference if worst else None
        if worst and d:
            lines.append(f"Largest difference ({d.backend} at lr {worst.lr:g}, step "
                         f"{d.at.step}, {d.at.quantity}): {compact(d.abs)} absolute, "
                         f"{compact(d.rel)} relative, {compact(d.ulps)} ULPs; {d.ratio:.2%} of "
                         "the tolerance.")
    return "\n".join(lines)
