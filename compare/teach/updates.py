"""One weight's updates under an optimizer, step by step with numbers (``explain --optimizer``).

The tutorial writes plain gradient descent as ``w5 = w5 - lr * dw5``. `explain_updates` writes
each rule of `compare.optimizers` the same way for one weight (``v5 = mu * v5 + dw5``,
``w5 = w5 - lr * v5``; Adam's m5, v5, m̂5, v̂5), works the numbers out by hand for the first
few steps, and puts beside each stored quantity (the gradient, the optimizer state, the new
weight) what `manual/optim.py`, `torch.optim` and `optax` computed. The eight weights are
updated together (the gradient needs all of them); one is shown.

The tutorial network only: the optimizers of `compare.optimizers` train it, in every backend.
"""

from __future__ import annotations

import json
from typing import NamedTuple

import numpy as np

from autograd_compare import naming
from autograd_compare.errors import CompareError, InputError
from autograd_compare.interface import Example
from autograd_compare.manual.gradients import weight_gradients
from autograd_compare.manual.network import forward_values
from autograd_compare.optimizers import ADAM_KINDS, MANUAL_ONLY, Optimizer

BACKENDS = {"manual": "manual/optim.py", "torch": "torch.optim", "jax": "optax"}
RULES = {  # the rule in the tutorial's style, for weight 5
    "sgd": "w5 = w5 - lr * dw5",
    "momentum": "v5 = dw5 at step 1, then v5 = mu * v5 + (1 - dampening) * dw5; "
                "w5 = w5 - lr * v5",
    "nesterov": "v5 = dw5 at step 1, then v5 = mu * v5 + dw5; w5 = w5 - lr * (dw5 + mu * v5)",
    "textbook-momentum": "u5 = mu * u5 - lr * dw5; w5 = w5 + u5",
    "adam": "m5 = b1 * m5 + (1 - b1) * dw5; v5 = b2 * v5 + (1 - b2) * dw5²; "
            "m̂5 = m5 / (1 - b1^t); v̂5 = v5 / (1 - b2^t); w5 = w5 - lr * m̂5 / (√v̂5 + eps)",
    "adamw": "w5 = w5 - lr * weight_decay * w5; then adam's m5, v5, m̂5, v̂5 and "
             "w5 = w5 - lr * m̂5 / (√v̂5 + eps)",
}


class Line(NamedTuple):
    """``symbol = formula = numbers = value``; ``key`` names the backends' stored quantity."""

    symbol: str  # "v5"
    formula: str  # "mu * v5 + (1 - dampening) * dw5"
    numbers: str  # the formula with the numbers put in
    value: np.floating  # in the dtype
    key: str  # "grad", "state:v5", "weight" or "" (an intermediate nobody stores)
    backends: dict  # label -> float, or why it is missing; {} when key is ""


class UpdateStep(NamedTuple):
    step: int  # 1-based
    E_total: float  # at the weights before this update
    lines: tuple[Line, ...]


class UpdateExplanation(NamedTuple):
    optimizer: Optimizer
    weight: str  # "w5"
    weights: dict  # w1..w8 at the start
    example: dict  # i1, i2, t1, t2
    steps: tuple[UpdateStep, ...]
    dtype: str
    notes: tuple[str, ...]


def _n(x) -> str:
    return f"{float(x):.12g}"


def _runs(w: np.ndarray, example: Example, opt: Optimizer, steps: int, dt) -> dict:
    """label -> `Trajectory` of each backend, or the one-line reason it is missing."""
    from autograd_compare.harness import optim_check

    out: dict = {}
    for name, label in BACKENDS.items():
        try:
            out[label] = (optim_check.train(name, w, example, optim_check.counterpart(name, opt),
                                            steps, dt), optim_check.counterpart(name, opt))
        except CompareError as err:
            out[label] = str(err)
    return out


def _theirs(run, key: str, k: int, j: int):
    """The backend's value of ``key`` ("grad", "weight", "state:v5") after update k."""
    if isinstance(run, str):
        return run
    traj, opt = run
    if key == "grad":
        return float(traj.grads[k, j])
    if key == "weight":
        return float(traj.weights[k + 1, j])
    name = key.split(":", 1)[1]
    names = opt.state_names()
    if name not in names:
        return f"{opt.kind} keeps no {name}"
    return float(traj.state[k, names.index(name)])


def explain_updates(w, example: Example, opt: Optimizer, weight: str = "w5", steps: int = 3,
                    dtype="float64") -> UpdateExplanation:
    """``steps`` updates of ``opt`` on the tutorial network, weight ``weight`` shown.

    Raises:
        InputError: ``weight`` is not one of w1..w8.
    """
    if weight not in naming.WEIGHT_NAMES:
        raise InputError(f"--weight {weight!r}: explain --optimizer shows one of "
                         f"{', '.join(naming.WEIGHT_NAMES)}")
    dt = np.dtype(dtype)
    j = naming.WEIGHT_NAMES.index(weight)
    n = weight[1:]
    W = np.asarray(w, dt).copy()
    example = Example(np.asarray(example.inputs, dt), np.asarray(example.targets, dt))
    f = dt.type
    mu, tau, wd, lam = f(opt.momentum), f(opt.dampening), f(opt.weight_decay), f(opt.l2)
    b1, b2, eps = f(opt.betas[0]), f(opt.betas[1]), f(opt.eps)
    runs = _runs(W, example, opt, steps, dt)
    state = {"v": np.zeros(8, dt), "m": np.zeros(8, dt)}
    out = []
    for k in range(steps):
        t = k + 1
        lr = f(opt.lr_at(k))
        v = forward_values(W, example)
        g = weight_gradients(v, W, example)
        lines = [(f"dw{n}", f"∂E_total/∂{weight}", "the chain rule (explain --weight "
                  f"{weight})", g[j], "grad" if not lam else "")]
        if lam:
            g = g + lam * W
            lines.append((f"dw{n}", f"dw{n} + l2 * {weight}",
                          f"{_n(g[j] - lam * W[j])} + {opt.l2:g} * {_n(W[j])}", g[j], "grad"))
        if wd and opt.kind != "adamw":
            g = g + wd * W
            lines.append((f"dw{n}", f"dw{n} + weight_decay * {weight}",
                          f"{_n(g[j] - wd * W[j])} + {opt.weight_decay:g} * {_n(W[j])}", g[j],
                          ""))
        if opt.kind == "sgd":
            new = W - lr * g
            lines.append((weight, f"{weight} - lr * dw{n}",
                          f"{_n(W[j])} - {_n(lr)} * {_n(g[j])}", new[j], "weight"))
        elif opt.kind in ("momentum", "nesterov"):
            if t == 1:
                vel = g.copy()
                lines.append((f"v{n}", f"dw{n}", "(the buffer starts at the first gradient)",
                              vel[j], f"state:v{n}"))
            else:
                vel = mu * state["v"] + (1 - tau) * g
                lines.append((f"v{n}", f"mu * v{n} + (1 - dampening) * dw{n}",
                              f"{_n(mu)} * {_n(state['v'][j])} + (1 - {_n(tau)}) * {_n(g[j])}",
                              vel[j], f"state:v{n}"))
            state["v"] = vel
            if opt.kind == "nesterov":
                new = W - lr * (g + mu * vel)
                lines.append((weight, f"{weight} - lr * (dw{n} + mu * v{n})",
                              f"{_n(W[j])} - {_n(lr)} * ({_n(g[j])} + {_n(mu)} * {_n(vel[j])})",
                              new[j], "weight"))
            else:
                new = W - lr * vel
                lines.append((weight, f"{weight} - lr * v{n}",
                              f"{_n(W[j])} - {_n(lr)} * {_n(vel[j])}", new[j], "weight"))
        elif opt.kind == "textbook-momentum":
            u = mu * state["v"] - lr * g
            lines.append((f"u{n}", f"mu * u{n} - lr * dw{n}",
                          f"{_n(mu)} * {_n(state['v'][j])} - {_n(lr)} * {_n(g[j])}", u[j],
                          f"state:u{n}"))
            state["v"] = u
            new = W + u
            lines.append((weight, f"{weight} + u{n}", f"{_n(W[j])} + {_n(u[j])}", new[j],
                          "weight"))
        else:  # adam, adamw
            if opt.kind == "adamw" and wd:
                decayed = W - lr * wd * W
                lines.append((weight, f"{weight} - lr * weight_decay * {weight}",
                              f"{_n(W[j])} - {_n(lr)} * {opt.weight_decay:g} * {_n(W[j])}",
                              decayed[j], ""))
                W = decayed
            m = b1 * state["m"] + (1 - b1) * g
            sq = b2 * state["v"] + (1 - b2) * g * g
            m_hat, v_hat = m / (1 - b1**t), sq / (1 - b2**t)
            new = W - lr * m_hat / (np.sqrt(v_hat) + eps)
            lines += [
                (f"m{n}", f"b1 * m{n} + (1 - b1) * dw{n}",
                 f"{_n(b1)} * {_n(state['m'][j])} + (1 - {_n(b1)}) * {_n(g[j])}", m[j],
                 f"state:m{n}"),
                (f"v{n}", f"b2 * v{n} + (1 - b2) * dw{n}²",
                 f"{_n(b2)} * {_n(state['v'][j])} + (1 - {_n(b2)}) * {_n(g[j])}²", sq[j],
                 f"state:v{n}"),
                (f"m̂{n}", f"m{n} / (1 - b1^{t})", f"{_n(m[j])} / (1 - {_n(b1)}^{t})", m_hat[j],
                 ""),
                (f"v̂{n}", f"v{n} / (1 - b2^{t})", f"{_n(sq[j])} / (1 - {_n(b2)}^{t})", v_hat[j],
                 ""),
                (weight, f"{weight} - lr * m̂{n} / (√v̂{n} + eps)",
                 f"{_n(W[j])} - {_n(lr)} * {_n(m_hat[j])} / (√{_n(v_hat[j])} + {opt.eps:g})",
                 new[j], "weight")]
            state["m"], state["v"] = m, sq
        built = tuple(Line(s, fo, nu, val, key,
                           {label: _theirs(run, key, k, j) for label, run in runs.items()}
                           if key else {})
                      for s, fo, nu, val, key in lines)
        out.append(UpdateStep(t, float(v["E_total"]), built))
        W = new
    notes = []
    if opt.kind in MANUAL_ONLY:
        notes.append("textbook-momentum exists in manual/optim.py only; torch.optim and optax "
                     "run PyTorch's momentum beside it, whose weights are the same at a "
                     "constant lr (its velocity is v5 = -u5 / lr), so only dw5 and w5 are "
                     "compared with them")
    if opt.kind in ADAM_KINDS:
        notes.append("m̂ and v̂ are not stored by the frameworks: m5, v5 and w5 are compared")
    ex = dict(zip(naming.INPUT_NAMES + naming.TARGET_NAMES,
                  map(float, (*example.inputs, *example.targets)), strict=True))
    return UpdateExplanation(opt, weight, dict(zip(naming.WEIGHT_NAMES, map(float, np.asarray(
        w, dt)), strict=True)), ex, tuple(out), dt.name, tuple(notes))


def rel_diff(value, reference) -> float:
    reference = float(reference)
    return abs(float(value) - reference) / abs(reference) if reference else abs(float(value))


def render_updates(ex: UpdateExplanation) -> str:
    """Plain text: the rule, then per step each line with its numbers and the backends."""
    rule = RULES[ex.optimizer.kind].replace("5", ex.weight[1:])
    w = ", ".join(f"{k} = {v:.10g}" for k, v in ex.weights.items())
    given = ", ".join(f"{k} = {v:g}" for k, v in ex.example.items())
    out = [f"Optimizer: {ex.optimizer.describe()}; weight {ex.weight}; {len(ex.steps)} "
           f"step{'s' if len(ex.steps) != 1 else ''}; computed in {ex.dtype}",
           f"Weights: {w}", f"Example: {given}",
           f"Rule (PyTorch's convention, as manual/optim.py writes it): {rule}",
           "All eight weights are updated at each step (the gradient needs them); "
           f"{ex.weight} is shown."]
    out += [f"Note: {n}." for n in ex.notes]
    for step in ex.steps:
        out += ["", f"Step {step.step} (E_total = {step.E_total:.12g} before the update)"]
        width = max(len(line.symbol) for line in step.lines)
        for line in step.lines:
            out.append(f"  {line.symbol:<{width}} = {line.formula}")
            out.append(f"  {'':<{width}} = {line.numbers} = {_n(line.value)}")
        compared = [line for line in step.lines if line.backends]
        labels = list(dict.fromkeys(lab for line in compared for lab in line.backends))
        if labels:
            out.append("  beside " + ", ".join(labels) + " (rel diff):")
            for line in compared:
                cells = []
                for lab in labels:
                    theirs = line.backends.get(lab)
                    cells.append(f"{lab} not available" if isinstance(theirs, str) and
                                 "not installed" in theirs else
                                 "—" if isinstance(theirs, str) else
                                 f"{rel_diff(theirs, line.value):.1e}")
                out.append(f"    {line.symbol:<{width}}  " + "  ".join(
                    f"{c:>8}" for c in cells))
    missing = {lab: v for s in ex.steps for line in s.lines for lab, v in line.backends.items()
               if isinstance(v, str) and "not installed" in v}
    out += [f"{lab}: {msg}" for lab, msg in missing.items()]
    return "\n".join(out)


def updates_json(ex: UpdateExplanation) -> str:
    return json.dumps({
        "optimizer": ex.optimizer.describe(), "kind": ex.optimizer.kind, "weight": ex.weight,
        "weights": ex.weights, "example": ex.example, "dtype": ex.dtype, "notes": ex.notes,
        "steps": [{"step": s.step, "E_total": s.E_total, "lines": [
            {"symbol": line.symbol, "formula": line.formula, "numbers": line.numbers,
             "value": float(line.value),
             "backends": {lab: ({"value": v, "rel_diff": rel_diff(v, line.value)}
                                if not isinstance(v, str) else {"unavailable": v})
                          for lab, v in line.backends.items()}}
            for line in s.lines]} for s in ex.steps]}, indent=2, ensure_ascii=False)
