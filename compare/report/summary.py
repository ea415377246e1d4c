"""The human-readable tables and verdict lines of the main job."""

from __future__ import annotations

from autograd_compare.harness.gradcheck import CS_STEP, FD_STEP_TEXT


def _num(x: float, dtype: str) -> str:
    if isinstance(x, str):  # "inf" / "nan" from report.finite
        return x
    return f"{x:.16g}" if dtype == "float64" else f"{x:.8g}"


def _v(x) -> str:
    """A value in a verdict line: 10 significant digits, or "inf"/"nan" as written."""
    return x if isinstance(x, str) else f"{x:.10g}"


def header(config: dict) -> str:
    names = ", ".join(config["backends"])
    short = lambda xs: ",".join(f"{x:.8g}" for x in xs)  # noqa: E731
    return (f"autograd-compare: {names} (reference {config['reference']}), "
            f"{config['dtype']}, {config['steps']} steps; weights {short(config['weights'])}, "
            f"inputs {short(config['inputs'])}, targets {short(config['targets'])}")


def trajectory_table(result: dict) -> str:
    """Per learning rate: final E_total per backend, largest difference, verdict."""
    cfg, dtype = result["config"], result["config"]["dtype"]
    names = cfg["backends"]
    width = max(20, *(len(n) for n in names)) + 2
    lines = [f"Training: E_total after {cfg['steps']} steps, and the largest difference from "
             f"{cfg['reference']} over every step and quantity",
             "  lr     " + "".join(f"{n:<{width}}" for n in names)
             + f"{'|diff|':<10}{'rel':<10}{'ULPs':<8}{'diff/tol':<10}verdict"]
    for t in result["trajectories"]:
        d = t["largest_difference"]
        lines.append(f"  {t['lr']:<7g}" + "".join(
            f"{_num(t['final_E_total'][n], dtype):<{width}}" for n in names)
            + f"{_g(d['abs']):<10}{_g(d['rel']):<10}{_g(d['ulps']):<8}{_g(d['ratio']):<10}"
            + ("agree" if t["ok"] else "DISAGREE"))
    return "\n".join(lines)


def gradcheck_table(result: dict) -> str:
    """Per gradient: complex step, central difference, every backend's distance in ULPs."""
    g, names = result["gradcheck"], result["config"]["backends"]
    width = max(8, *(len(n) for n in names)) + 2
    lines = [f"Gradient check at the starting weights: complex step (h = {CS_STEP:g}) is the "
             f"reference; central difference ({FD_STEP_TEXT}) checks it",
             f"  {'gradient':<17}{'complex step':<24}{'|FD - CS|':<11}"
             + "".join(f"{n:<{width}}" for n in names) + "verdict",
             f"  {'':<52}" + f"{'(each backend: ULPs from the complex step)':<{width}}"]
    for row in g["rows"]:
        ok = row["fd_ok"] and all(b["ok"] for b in row["backends"].values())
        lines.append(f"  {row['label']:<17}{row['complex_step']:<24.17g}"
                     f"{_g(abs(row['finite_difference'] - row['complex_step'])):<11}"
                     + "".join(f"{_g(row['backends'][n]['ulps']):<{width}}" for n in names)
                     + ("ok" if ok else "WRONG"))
    return "\n".join(lines)


def _pct(x) -> str:
    return x if isinstance(x, str) else f"{x:.2%}"


def _g(x) -> str:
    if isinstance(x, str):  # "inf" / "nan" from report.finite
        return x
    return f"{x:.0f}" if 1 <= x < 1e6 and x == int(x) else f"{x:.2g}"


def verdict(result: dict) -> str:
    """Closing lines: all agree, or for every failing backend where it first goes wrong."""
    cfg = result["config"]
    lines = []
    for name in cfg["backends"]:
        grad = result["gradcheck"]["first_failures"].get(name)
        if grad:
            lines.append(f"FAIL {name}: gradient check first wrong at {grad['quantity']}: "
                         f"{_v(grad['value'])}, complex step {_v(grad['reference'])}")
        for t in result["trajectories"]:
            first = t["backends"].get(name, {}).get("first_divergence")
            if first:
                lines.append(
                    f"FAIL {name}: training at lr {t['lr']:g} first diverges at step "
                    f"{first['step']}, {first['quantity']}: {_v(first['value'])} vs "
                    f"{cfg['reference']} {_v(first['reference'])} (difference "
                    f"{_g(first['difference'])} > tolerance {_g(first['tolerance'])})")
                break
    fd = result["gradcheck"]["first_failure"]
    if fd and fd["backend"] == "central difference":
        lines.append(f"FAIL reference: central difference disagrees with complex step at "
                     f"{fd['quantity']}")
    for name in result.get("undetected_mistakes", []):
        lines.append(f"FAIL {name}: a mistake backend, but no check caught it at these inputs "
                     "(try other weights, targets or learning rates)")
    if not lines:
        d = result["largest_difference"]
        where = (f" ({d['backend']} at lr {d['lr']:g}, step {d['at']['step']}, "
                 f"{d['at']['quantity']})" if d and d["backend"] else "")
        lines.append("OK: every backend agrees with the complex-step gradients and, at every "
                     "step of every learning rate, with " + cfg["reference"] + ".")
        if d and d["backend"]:
            lines.append(f"Largest difference{where}: {_g(d['abs'])} absolute, {_g(d['rel'])} "
                         f"relative, {_g(d['ulps'])} ULPs; {_pct(d['ratio'])} of the tolerance.")
    return "\n".join(lines)
