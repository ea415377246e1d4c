"""``autograd-compare explain``: the chain rule with numbers, or (``--prove``) a SymPy proof."""

from __future__ import annotations

import argparse

from autograd_compare import validate
from autograd_compare.commands.options import add_network_options
from autograd_compare.teach.explain import FORWARD, TARGETS, Explanation, Step, explain

HELP = """Explain every gradient: the chain rule in the tutorial's notation, factor by factor.

For dE_total/dw5..dw8, dE_total/da_h1, dE_total/da_h2 and dE_total/dw1..dw4: each local
derivative with its value, the product, what PyTorch and JAX computed, and the update
w_new = w_old - lr * dE_total/dw. With --prove: SymPy derives every gradient from the forward
equations and proves the formulas in manual/ identical (exit 1 if one is not)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_network_options(parser)
    parser.add_argument("--lr", type=float, default=0.5,
                        help="learning rate of the update shown after each weight (default 0.5)")
    parser.add_argument("--weight", choices=TARGETS, default=None,
                        help="explain only this gradient (w1..w8, a_h1 or a_h2)")
    parser.add_argument("--format", choices=("text", "markdown"), default="text",
                        help="plain text for a terminal (default) or Markdown for notes")
    parser.add_argument("--prove", action="store_true",
                        help="prove the formulas in manual/ with SymPy instead (exit 1 if one "
                        "is wrong)")


def run(args: argparse.Namespace) -> int:
    dt = validate.dtype(args.dtype)
    w = validate.weights(args.weights, dt)  # checked with --prove too: every option counts
    example = validate.example((args.inputs, args.targets), dt)
    validate.representable_start(w, example, dt)
    lr = validate.learning_rate(args.lr, dt)
    if args.prove:
        from autograd_compare.teach import prove

        verdicts = [v for v in prove.prove() if args.weight in (None, v.name)]
        print("Symbolic check of manual/gradients.py against SymPy's derivatives of the "
              "forward equations:")
        print(prove.render(verdicts))
        return 0 if all(v.proved for v in verdicts) else 1
    result = explain(w, example, lr, args.weight, dt)
    print(render_markdown(result) if args.format == "markdown" else render_text(result))
    return 0


def _num(x: float) -> str:
    return f"{x: .12g}"


def _vs(value, reference: float) -> str:
    """A backend's value beside the hand product, or why it is missing."""
    if isinstance(value, str):
        return f" not available: {value}"
    rel = abs(value - reference) / abs(reference) if reference else abs(value)
    return f"{_num(value)}   rel diff {rel:.1e}"


def _update(step: Step) -> str:
    lr, old, new = step.update
    n = step.name
    return (f"{n}_new = {n}_old - lr * ∂E_total/∂{n} = {old:.12g} - {lr:g} * {step.value:.12g}"
            f" = {new:.12g}")


def render_text(ex: Explanation) -> str:
    """Plain text for a terminal: one block per gradient, factors aligned."""
    given = ", ".join(f"{k} = {v:g}" for k, v in ex.example.items())
    out = [f"Forward pass ({given})"]
    out += [f"  {name:<8} = {formula:<18} = {_num(ex.forward[name])}" for name, formula in FORWARD]
    for step in ex.steps:
        out += ["", f"∂E_total/∂{step.name} = {step.chain}", f"    = {step.formula}"]
        if step.note:
            out.append(f"  ({step.note})")
        rows = []
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
            tail = "" if value is None else f" = {_num(value)}"
            eq = "= " if formula else "  "
            out.append(f"{sym:<{w_sym}} {eq}{formula:<{w_for}}{tail}".rstrip())
        out.append("  beside the frameworks' own gradients:")
        out += [f"    {label:<22} {_vs(v, step.value)}" for label, v in step.backends.items()]
        if step.update:
            out.append(f"  update: {_update(step)}")
    return "\n".join(out)


def render_markdown(ex: Explanation) -> str:
    """Markdown for notes: a table of factors and a table of backends per gradient."""
    given = ", ".join(f"{k} = {v:g}" for k, v in ex.example.items())
    out = [f"## Forward pass ({given})", "", "| quantity | formula | value |", "|---|---|---:|"]
    out += [f"| {n} | `{f}` | {ex.forward[n]:.12g} |" for n, f in FORWARD]
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
        for label, v in step.backends.items():
            if isinstance(v, str):
                out.append(f"| {label} | not available: {v} | |")
            else:
                rel = abs(v - step.value) / abs(step.value) if step.value else abs(v)
                out.append(f"| {label} | {v:.12g} | {rel:.1e} |")
        if step.update:
            out += ["", f"Update: `{_update(step)}`"]
    return "\n".join(out)
