"""The explanation as text for a terminal, Markdown for notes, or JSON (`explain`'s output)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from autograd_compare.teach.explain import Explanation, Step

REL_DIFF = ("rel diff = |framework value - hand value| / |hand value| (the hand value is the "
            "product or sum of the factors above, computed in {dtype})")


def _num(x: float) -> str:
    return f"{x: .12g}"


def rel_diff(value, reference) -> float:
    """|value - reference| / |reference| (|value| when the reference is 0), in float64."""
    reference = float(reference)
    return abs(float(value) - reference) / abs(reference) if reference else abs(float(value))


def backends_json(backends: dict, reference) -> dict:
    """label -> {"value", "rel_diff"} to ``reference``, or {"unavailable": why}."""
    return {label: ({"value": float(v), "rel_diff": rel_diff(v, reference)}
                    if not isinstance(v, str) else {"unavailable": v})
            for label, v in backends.items()}


def _vs(value, reference) -> str:
    """A backend's value beside the hand product, or why it is missing."""
    if isinstance(value, str):
        return f" not available: {value}"
    return f"{_num(value)}   rel diff {rel_diff(value, reference):.1e}"


def _given(ex: Explanation) -> list[str]:
    """The numbers everything below is computed from."""
    w = ", ".join(f"{k} = {v:.10g}" for k, v in ex.weights.items())
    given = ", ".join(f"{k} = {v:.10g}" for k, v in ex.example.items())
    lines = [f"Weights: {w}"]
    if ex.biases:
        b = ", ".join(f"{k} = {v:.10g}" for k, v in ex.biases.items())
        lines.append(f"Biases: {b}; " + ("frozen: not updated, so no ∂E_total/∂b step and no "
                                         "update" if ex.bias == "frozen" else
                                         "trainable: each has its ∂E_total/∂b and update"))
    return lines + [f"Example: {given}; learning rate lr = {ex.lr:g}; computed in {ex.dtype}"]


def _update(step: Step) -> str:
    assert step.update is not None, "only weights have an update"
    lr, old, new = step.update
    n = step.name
    return (f"{n}_new = {n}_old - lr * ∂E_total/∂{n} = {old:.12g} - {lr:g} * {step.value:.12g}"
            f" = {new:.12g}")


def render_text(ex: Explanation) -> str:
    """Plain text for a terminal: one block per gradient, factors aligned."""
    given = ", ".join(f"{k} = {v:g}" for k, v in ex.example.items())
    out = [*_given(ex), "", f"Forward pass ({given})"]
    width = max(18, *(len(f) for _, f in ex.formulas))
    out += [f"  {name:<8} = {formula:<{width}} = {_num(ex.forward[name])}"
            for name, formula in ex.formulas]
    for step in ex.steps:
        out += ["", f"∂E_total/∂{step.name} = {step.chain}", f"    = {step.formula}"]
        if step.note:
            out.append(f"  ({step.note})")
        rows: list[tuple[str, str, float | np.floating[Any] | None]] = []
        for term in step.terms:
            indent = "  "
            if len(step.terms) > 1:
                rows.append(("  " + term.symbol, " * ".join(f.symbol for f in term.factors), None))
                indent = "    "
            rows += [(indent + f.symbol, f.short or f.formula, f.value) for f in term.factors]
            if len(step.terms) > 1:
                rows.append((indent + "product", "", term.value))
        rows.append(("  sum" if len(step.terms) > 1 else "  product", "", step.value))
        w_sym = max(len(r[0]) for r in rows)
        w_for = max(len(r[1]) for r in rows)
        for sym, formula, value in rows:
            tail = "" if value is None else f" = {_num(float(value))}"
            eq = "= " if formula else "  "
            out.append(f"{sym:<{w_sym}} {eq}{formula:<{w_for}}{tail}".rstrip())
        out.append("  beside the frameworks' own gradients ("
                   + REL_DIFF.format(dtype=ex.dtype).split(" (")[0] + "):")
        out += [f"    {label:<22} {_vs(v, step.value)}" for label, v in step.backends.items()]
        if step.update:
            out.append(f"  update: {_update(step)}")
    out += ["", REL_DIFF.format(dtype=ex.dtype) + "."]
    if not ex.biases:
        out.append("The tutorial's typos on the way: autograd-compare explain --errata")
    elif "b1" in ex.biases:
        out.append("Where Mazur's printed figures differ from the exact values: "
                   "autograd-compare explain --preset mazur --errata")
    return "\n".join(out)


def render_markdown(ex: Explanation) -> str:
    """Markdown for notes: a table of factors and a table of backends per gradient."""
    given = ", ".join(f"{k} = {v:g}" for k, v in ex.example.items())
    out = [*(f"{line}  " for line in _given(ex)), "",
           f"*{REL_DIFF.format(dtype=ex.dtype)}.*", "",
           f"## Forward pass ({given})", "", "| quantity | formula | value |", "|---|---|---:|"]
    out += [f"| {n} | `{f}` | {ex.forward[n]:.12g} |" for n, f in ex.formulas]
    for step in ex.steps:
        out += ["", f"### ∂E_total/∂{step.name}", "",
                f"`∂E_total/∂{step.name} = {step.chain}`", "", f"`= {step.formula}`", ""]
        if step.note:
            out += [f"*{step.note}*", ""]
        out += ["| factor | formula | value |", "|---|---|---:|"]
        for term in step.terms:
            out += [f"| {f.symbol} | `{f.short or f.formula}` | {f.value:.12g} |"
                    for f in term.factors]
            if len(step.terms) > 1:
                out.append(f"| *{term.symbol}* | *product* | *{term.value:.12g}* |")
        total = "sum" if len(step.terms) > 1 else "product"
        out += [f"| **{total}** | | **{step.value:.12g}** |", "",
                "| computed by | value | relative difference to the " + total + " |",
                "|---|---:|---:|"]
        out += [f"| {label} | not available: {v} | |" if isinstance(v, str) else
                f"| {label} | {v:.12g} | {rel_diff(v, step.value):.1e} |"
                for label, v in step.backends.items()]
        if step.update:
            out += ["", f"Update: `{_update(step)}`"]
    return "\n".join(out)


def render_json(ex: Explanation) -> str:
    """Everything `render_text` shows, as JSON (numbers as floats, in the order computed)."""
    def factor(f) -> dict:
        return {"symbol": f.symbol, "formula": f.formula, "value": float(f.value)}

    steps = []
    for step in ex.steps:
        steps.append({
            "name": step.name, "gradient": f"∂E_total/∂{step.name}", "chain": step.chain,
            "formula": step.formula, "note": step.note, "value": float(step.value),
            "terms": [{"symbol": t.symbol, "value": float(t.value),
                       "factors": [factor(f) for f in t.factors]} for t in step.terms],
            "backends": backends_json(step.backends, step.value),
            "update": None if step.update is None else dict(zip(
                ("lr", "w_old", "w_new"), map(float, step.update), strict=True)),
        })
    extra = {"biases": ex.biases, "bias": ex.bias} if ex.biases else {}
    return json.dumps({"weights": ex.weights, **extra, "example": ex.example, "lr": ex.lr,
                       "dtype": ex.dtype, "rel_diff": REL_DIFF.format(dtype=ex.dtype),
                       "forward": ex.forward, "steps": steps}, indent=2, ensure_ascii=False)
