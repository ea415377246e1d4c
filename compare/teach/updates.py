"""One weight's updates under an optimizer, step by step with numbers (``explain --optimizer``).

The tutorial writes plain gradient descent as ``w5 = w5 - lr * dw5``. `explain_updates` writes
each rule of `compare.optimizers` the same way for one weight (``v5 = mu * v5 + dw5``,
``w5 = w5 - lr * v5``; Adam's m5, v5, m̂5, v̂5), works the numbers out by hand for the first
few steps, and puts beside each stored quantity (the gradient, the optimizer state, the new
weight) what `manual/optim.py`, `torch.optim` and `optax` computed. The eight weights are
updated together (the gradient needs all of them); one is shown.

Any network: the tutorial's in its notation (w5, dw5, v5 from its own formulas), every other
(``net``, ``data``) with its parameter names (W2[0,1], dW2[0,1], v_W2[0,1]) and the gradient of
`manual.mlp`'s δ recursion, the backends' runs from `optim_check`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from autograd_compare import naming
from autograd_compare.errors import InputError
from autograd_compare.interface import Example
from autograd_compare.manual import mlp
from autograd_compare.manual.gradients import weight_gradients
from autograd_compare.manual.network import forward_values
from autograd_compare.network import (
    Data,
    Network,
    describe,
    is_tutorial_shape,
    layout,
    loss_name,
    param_names,
)
from autograd_compare.optimizers import ADAM_KINDS, MANUAL_ONLY, Optimizer
from autograd_compare.teach.explain import per_backend
from autograd_compare.teach.render import backends_json, rel_diff

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
    E_total: float  # the loss at the weights before this update (E on a network)
    lines: tuple[Line, ...]


class UpdateExplanation(NamedTuple):
    optimizer: Optimizer
    weight: str  # "w5"
    weights: dict  # w1..w8 at the start
    example: dict  # i1, i2, t1, t2
    steps: tuple[UpdateStep, ...]
    dtype: str
    notes: tuple[str, ...]
    loss: str = "E_total"  # the loss's name: E_total in the tutorial's notation, else E
    about: str = ""  # a network's one-line description and data (empty for the tutorial's)


def _n(x) -> str:
    return f"{float(x):.12g}"


def _quiet(what: str) -> None:
    pass


STEP_BLOCK = 1000  # hand-worked steps per piece of progress (about a second each)


def progress_steps(steps: int) -> int:
    """Pieces of work `explain_updates` announces to ``on_step``: each backend's run, then
    every `STEP_BLOCK` hand-worked steps."""
    return len(BACKENDS) + -(-steps // STEP_BLOCK)


def _runs(w: np.ndarray, example: Example, opt: Optimizer, steps: int, dt,
          net: Network | None = None, data: Data | None = None,
          on_step: Callable[[str], None] = _quiet) -> dict:
    """label -> `Trajectory` of each backend, or the one-line reason it is missing."""
    from autograd_compare import network
    from autograd_compare.harness import optim_check

    if net is None or data is None:
        net, data = network.TUTORIAL, network.example_data(example, dt)

    def run(name: str) -> tuple:
        on_step(f"{steps} steps with {BACKENDS[name]}")
        theirs = optim_check.counterpart(name, opt)
        return optim_check.train(name, net, w, data, theirs, steps, dt), theirs

    return per_backend(run, BACKENDS)


def _theirs(run, key: str, k: int, j: int, params: tuple[str, ...]):
    """The backend's value of ``key`` ("grad", "weight", "state:v5") after update k."""
    if isinstance(run, str):
        return run
    traj, opt = run
    if key == "grad":
        return float(traj.grads[k, j])
    if key == "weight":
        return float(traj.weights[k + 1, j])
    name = key.split(":", 1)[1]
    names = naming.optimizer_state_names(opt.kind, params)
    if name not in names:
        return f"{opt.kind} keeps no {name}"
    return float(traj.state[k, names.index(name)])


def default_weight(net: Network | None) -> str:
    """w5 (the tutorial's), else the last layer's first weight (W2[0,0] on a 2-layer net)."""
    if net is None or is_tutorial_shape(net):
        return "w5"
    return param_names(net)[layout(net)[-1].W.start]


def explain_updates(w, example: Example, opt: Optimizer, weight: str = "w5", steps: int = 3,
                    dtype="float64", net: Network | None = None, data: Data | None = None,
                    on_step: Callable[[str], None] = _quiet) -> UpdateExplanation:
    """``steps`` updates of ``opt``, weight ``weight`` shown: the tutorial network from
    ``example``, or any ``net`` trained full-batch on ``data`` (``example`` unused then).
    ``on_step`` hears of each of `progress_steps` pieces of work before it starts.

    Raises:
        InputError: ``weight`` is not one of the network's parameters.
    """
    params = naming.WEIGHT_NAMES if net is None else param_names(net)
    if weight not in params:
        shown = ", ".join(params) if len(params) <= 24 else ", ".join(params[:24]) + ", ..."
        raise InputError(f"--weight {weight!r}: explain --optimizer shows one of {shown}")
    dt = np.dtype(dtype)
    j = params.index(weight)

    def q(prefix: str) -> str:  # the quantity's name for this weight: v5, v_W2[0,1], ...
        return naming.param_quantity(prefix, weight)

    loss = "E_total" if net is None else loss_name(net)
    W = np.asarray(w, dt).copy()
    example = Example(np.asarray(example.inputs, dt), np.asarray(example.targets, dt))
    if data is not None:
        data = Data(np.asarray(data.inputs, dt), np.asarray(data.targets, dt))
    f = dt.type
    mu, tau, wd, lam = f(opt.momentum), f(opt.dampening), f(opt.weight_decay), f(opt.l2)
    b1, b2, eps = f(opt.betas[0]), f(opt.betas[1]), f(opt.eps)
    runs = _runs(W, example, opt, steps, dt, net, data, on_step)
    state = {"v": np.zeros(W.size, dt), "m": np.zeros(W.size, dt)}
    out = []
    for k in range(steps):
        t = k + 1
        if k % STEP_BLOCK == 0:
            on_step(f"working out steps {t}..{min(k + STEP_BLOCK, steps)} by hand")
        lr = f(opt.lr_at(k))
        if net is None or data is None:
            v = forward_values(W, example)
            E, g = v["E_total"], weight_gradients(v, W, example)
            how = f"the chain rule (explain --weight {weight})"
        else:
            E, g = mlp.forward(net, W, data).E, mlp.gradients(net, W, data).w
            how = "the δ recursion (explain shows it layer by layer)"
        lines = [(q("d"), f"∂{loss}/∂{weight}", how, g[j], "grad" if not lam else "")]
        if lam:
            g = g + lam * W
            lines.append((q("d"), f"{q('d')} + l2 * {weight}",
                          f"{_n(g[j] - lam * W[j])} + {opt.l2:g} * {_n(W[j])}", g[j], "grad"))
        if wd and opt.kind != "adamw":
            g = g + wd * W
            lines.append((q("d"), f"{q('d')} + weight_decay * {weight}",
                          f"{_n(g[j] - wd * W[j])} + {opt.weight_decay:g} * {_n(W[j])}", g[j],
                          ""))
        if opt.kind == "sgd":
            new = W - lr * g
            lines.append((weight, f"{weight} - lr * {q('d')}",
                          f"{_n(W[j])} - {_n(lr)} * {_n(g[j])}", new[j], "weight"))
        elif opt.kind in ("momentum", "nesterov"):
            if t == 1:
                vel = g.copy()
                lines.append((q("v"), q("d"), "(the buffer starts at the first gradient)",
                              vel[j], "state:" + q("v")))
            else:
                vel = mu * state["v"] + (1 - tau) * g
                lines.append((q("v"), f"mu * {q('v')} + (1 - dampening) * {q('d')}",
                              f"{_n(mu)} * {_n(state['v'][j])} + (1 - {_n(tau)}) * {_n(g[j])}",
                              vel[j], "state:" + q("v")))
            state["v"] = vel
            if opt.kind == "nesterov":
                new = W - lr * (g + mu * vel)
                lines.append((weight, f"{weight} - lr * ({q('d')} + mu * {q('v')})",
                              f"{_n(W[j])} - {_n(lr)} * ({_n(g[j])} + {_n(mu)} * {_n(vel[j])})",
                              new[j], "weight"))
            else:
                new = W - lr * vel
                lines.append((weight, f"{weight} - lr * {q('v')}",
                              f"{_n(W[j])} - {_n(lr)} * {_n(vel[j])}", new[j], "weight"))
        elif opt.kind == "textbook-momentum":
            u = mu * state["v"] - lr * g
            lines.append((q("u"), f"mu * {q('u')} - lr * {q('d')}",
                          f"{_n(mu)} * {_n(state['v'][j])} - {_n(lr)} * {_n(g[j])}", u[j],
                          "state:" + q("u")))
            state["v"] = u
            new = W + u
            lines.append((weight, f"{weight} + {q('u')}", f"{_n(W[j])} + {_n(u[j])}", new[j],
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
                (q("m"), f"b1 * {q('m')} + (1 - b1) * {q('d')}",
                 f"{_n(b1)} * {_n(state['m'][j])} + (1 - {_n(b1)}) * {_n(g[j])}", m[j],
                 "state:" + q("m")),
                (q("v"), f"b2 * {q('v')} + (1 - b2) * {q('d')}²",
                 f"{_n(b2)} * {_n(state['v'][j])} + (1 - {_n(b2)}) * {_n(g[j])}²", sq[j],
                 "state:" + q("v")),
                (q("m̂"), f"{q('m')} / (1 - b1^{t})", f"{_n(m[j])} / (1 - {_n(b1)}^{t})", m_hat[j],
                 ""),
                (q("v̂"), f"{q('v')} / (1 - b2^{t})", f"{_n(sq[j])} / (1 - {_n(b2)}^{t})", v_hat[j],
                 ""),
                (weight, f"{weight} - lr * {q('m̂')} / (√{q('v̂')} + eps)",
                 f"{_n(W[j])} - {_n(lr)} * {_n(m_hat[j])} / (√{_n(v_hat[j])} + {opt.eps:g})",
                 new[j], "weight")]
            state["m"], state["v"] = m, sq
        built = tuple(Line(s, fo, nu, val, key,
                           {label: _theirs(run, key, k, j, params)
                            for label, run in runs.items()} if key else {})
                      for s, fo, nu, val, key in lines)
        out.append(UpdateStep(t, float(E), built))
        W = new
    notes = []
    if opt.kind in MANUAL_ONLY:
        notes.append("textbook-momentum exists in manual/optim.py only; torch.optim and optax "
                     "run PyTorch's momentum beside it, whose weights are the same at a "
                     f"constant lr (its velocity is {q('v')} = -{q('u')} / lr), so only "
                     f"{q('d')} and {weight} are compared with them")
    if opt.kind in ADAM_KINDS:
        notes.append(f"m̂ and v̂ are not stored by the frameworks: {q('m')}, {q('v')} and "
                     f"{weight} are compared")
    weights = dict(zip(params, map(float, np.asarray(w, dt)), strict=True))
    if net is None or data is None:
        ex = dict(zip(naming.INPUT_NAMES + naming.TARGET_NAMES,
                      map(float, (*example.inputs, *example.targets)), strict=True))
        return UpdateExplanation(opt, weight, weights, ex, tuple(out), dt.name, tuple(notes))
    B = data.inputs.shape[0]
    return UpdateExplanation(opt, weight, weights, {}, tuple(out), dt.name, tuple(notes),
                             loss, f"{describe(net)}; {B} example{'s' if B != 1 else ''}, "
                             "full batch")


def render_updates(ex: UpdateExplanation) -> str:
    """Plain text: the rule, then per step each line with its numbers and the backends."""
    rule = rule_for(ex.optimizer.kind, ex.weight)
    w = ", ".join(f"{k} = {v:.10g}" for k, v in list(ex.weights.items())[:16]) + (
        ", ..." if len(ex.weights) > 16 else "")
    given = ("Example: " + ", ".join(f"{k} = {v:g}" for k, v in ex.example.items())
             if ex.example else f"Network: {ex.about}")
    every = "All eight weights are" if len(ex.weights) == 8 else \
        f"All {len(ex.weights)} parameters are"
    out = [f"Optimizer: {ex.optimizer.describe()}; weight {ex.weight}; {len(ex.steps)} "
           f"step{'s' if len(ex.steps) != 1 else ''}; computed in {ex.dtype}",
           f"Weights: {w}", given,
           f"Rule (PyTorch's convention, as manual/optim.py writes it): {rule}",
           f"{every} updated at each step (the gradient needs them); {ex.weight} is shown."]
    out += [f"Note: {n}." for n in ex.notes]
    for step in ex.steps:
        out += ["", f"Step {step.step} ({ex.loss} = {step.E_total:.12g} before the update)"]
        width = max(len(line.symbol) for line in step.lines)
        for line in step.lines:
            out.append(f"  {line.symbol:<{width}} = {line.formula}")
            out.append(f"  {'':<{width}} = {line.numbers} = {_n(line.value)}")
        compared = [line for line in step.lines if line.backends]
        labels = list(dict.fromkeys(lab for line in compared for lab in line.backends))
        if labels:
            out.append("  beside " + ", ".join(labels) + " (rel diff):")
            for line in compared:
                cells = [f"{lab} not available" if isinstance(v, str) and "not installed" in v
                         else "—" if isinstance(v, str) else f"{rel_diff(v, line.value):.1e}"
                         for lab in labels for v in [line.backends.get(lab)]]
                out.append(f"    {line.symbol:<{width}}  " + "  ".join(
                    f"{c:>8}" for c in cells))
    missing = {lab: v for s in ex.steps for line in s.lines for lab, v in line.backends.items()
               if isinstance(v, str) and "not installed" in v}
    out += [f"{lab}: {msg}" for lab, msg in missing.items()]
    return "\n".join(out)


def rule_for(kind: str, weight: str) -> str:
    """`RULES`[kind] written for ``weight`` (the tutorial's w5 replaced by its names)."""
    def q(prefix: str) -> str:
        return naming.param_quantity(prefix, weight)

    text = RULES[kind]
    for old, new in (("m̂5", q("m̂")), ("v̂5", q("v̂")), ("dw5", q("d")), ("v5", q("v")),
                     ("m5", q("m")), ("u5", q("u")), ("w5", weight)):
        pattern = rf"(?<![0-9A-Za-z_\[]){re.escape(old)}(?![0-9A-Za-z_\]])"
        text = re.sub(pattern, new.replace("\\", "\\\\"), text)  # new: literal text
    return text


def updates_json(ex: UpdateExplanation) -> str:
    return json.dumps({
        "optimizer": ex.optimizer.describe(), "kind": ex.optimizer.kind, "weight": ex.weight,
        "weights": ex.weights, "example": ex.example, "dtype": ex.dtype, "notes": ex.notes,
        "network": ex.about or None,
        "steps": [{"step": s.step, ex.loss: s.E_total, "lines": [
            {"symbol": line.symbol, "formula": line.formula, "numbers": line.numbers,
             "value": float(line.value), "backends": backends_json(line.backends, line.value)}
            for line in s.lines]} for s in ex.steps]}, indent=2, ensure_ascii=False)
