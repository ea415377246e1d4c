"""A symbolic proof that the hand-derived gradients in `manual/` are right (SymPy).

The reference derivatives come from the forward equations alone: SymPy differentiates
E_total = ½(t1 - a_o1)² + ½(t2 - a_o2)² with σ(x) = 1/(1 + exp(-x)) written out, so nothing
of the tutorial's derivation (not even σ' = σ(1 - σ)) is assumed. The implemented formulas
are evaluated on symbols: `manual.gradients.weight_gradients` does plain arithmetic on the
names it unpacks, so it accepts NumPy object arrays of SymPy expressions unchanged.

Each difference is then made rational by naming the four exponentials (z_h1 = exp(-h1), ...)
and cancelled. A difference that cancels to 0 as a rational function of independent symbols
is 0 for every value, so the formula is proved; anything else is reported with a numeric
counterexample at the class example.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any, NamedTuple

import numpy as np

from autograd_compare import naming
from autograd_compare.errors import BackendUnavailable
from autograd_compare.interface import CLASS_INPUTS, CLASS_TARGETS, CLASS_WEIGHTS, Example

# the forward equations, in order: name -> (kind, operands); "lin" = weighted sum
EQUATIONS: dict[str, tuple[str, Any]] = {
    "h1": ("lin", (("w1", "i1"), ("w2", "i2"))),
    "h2": ("lin", (("w3", "i1"), ("w4", "i2"))),
    "a_h1": ("sigmoid", "h1"),
    "a_h2": ("sigmoid", "h2"),
    "o1": ("lin", (("w5", "a_h1"), ("w6", "a_h2"))),
    "o2": ("lin", (("w7", "a_h1"), ("w8", "a_h2"))),
    "a_o1": ("sigmoid", "o1"),
    "a_o2": ("sigmoid", "o2"),
    "E1": ("half_sq", ("t1", "a_o1")),
    "E2": ("half_sq", ("t2", "a_o2")),
    "E_total": ("sum", ("E1", "E2")),
}


class Verdict(NamedTuple):
    """The outcome for one derivative dE_total/d(name)."""

    name: str  # "w1".."w8" or a node such as "a_h1"
    proved: bool
    residual: str  # the simplified difference, "0" when proved
    at_class_example: float  # derived - implemented at the class example (0.0 when proved)


def _sympy() -> ModuleType:
    try:
        import sympy
    except ImportError as err:
        raise BackendUnavailable("the proof needs sympy, which is not installed; install it "
                                 "with: pip install 'autograd-compare[teach]'") from err
    return sympy


def _symbols(sp: ModuleType) -> dict[str, Any]:
    names = (*naming.INPUT_NAMES, *naming.TARGET_NAMES, *naming.WEIGHT_NAMES)
    return {n: sp.Symbol(n, real=True) for n in names}


def expand_forward(sp: ModuleType, sym: dict[str, Any], keep: str | None = None
                   ) -> dict[str, Any]:
    """Every forward quantity as an expression in the leaves (and in ``keep``, left free).

    Args:
        sp: the sympy module. sym: leaf name -> Symbol. keep: a node to leave as its own
            symbol (to differentiate with respect to it), or None.

    Returns:
        dict name -> expression, for every name in `EQUATIONS` and the leaves.
    """
    out = dict(sym)
    for name, (kind, ops) in EQUATIONS.items():
        if name == keep:
            out[name] = sp.Symbol(name, real=True)
        elif kind == "lin":
            out[name] = sum(out[w] * out[x] for w, x in ops)
        elif kind == "sigmoid":
            out[name] = 1 / (1 + sp.exp(-out[ops]))  # σ(x), no derivative rule assumed
        elif kind == "half_sq":
            t, a = ops
            out[name] = sp.Rational(1, 2) * (out[t] - out[a]) ** 2
        else:  # "sum"
            out[name] = out[ops[0]] + out[ops[1]]
    return out


def derived(sp: ModuleType, sym: dict[str, Any], name: str) -> Any:
    """dE_total/d(name) straight from the forward equations, as an expression in the leaves."""
    if name in sym:
        return sp.diff(expand_forward(sp, sym)["E_total"], sym[name])
    f = expand_forward(sp, sym, keep=name)
    node = sp.Symbol(name, real=True)
    return sp.diff(f["E_total"], node).subs(node, expand_forward(sp, sym)[name])


def _rationalise(sp: ModuleType, expr: Any, full: dict[str, Any]) -> Any:
    """Name the exponentials (outer ones first) so that ``expr`` becomes a rational function."""
    for node in ("o1", "o2", "h1", "h2"):  # o's contain h's: replace the outer ones first
        expr = expr.subs(sp.exp(-full[node]), sp.Symbol(f"z_{node}", positive=True))
    if expr.has(sp.exp):
        raise AssertionError(f"an exponential was left after renaming: {expr}")
    return expr


def _symbolic_inputs(sym: dict[str, Any], full: dict[str, Any]
                     ) -> tuple[dict[str, Any], np.ndarray, Example]:
    w = np.array([sym[n] for n in naming.WEIGHT_NAMES], dtype=object)
    ex = Example(np.array([sym["i1"], sym["i2"]], dtype=object),
                 np.array([sym["t1"], sym["t2"]], dtype=object))
    v = {k: full[k] for k in EQUATIONS}
    return v, w, ex


def prove(weight_gradients: Callable[..., Any] | None = None,
          node_gradients: Callable[..., Any] | None = None) -> list[Verdict]:
    """Check implemented gradient formulas against SymPy's derivatives of the forward pass.

    Args:
        weight_gradients: ``f(v, w, example) -> dw1..dw8`` (the signature of
            `manual.gradients.weight_gradients`, the default).
        node_gradients: ``f(v, w, example) -> {"a_h1": ..., ...}`` like
            `manual.gradients.node_gradients` (the default when ``weight_gradients`` is
            None too); pass a function to check it, or leave None to skip the nodes when a
            ``weight_gradients`` is given.

    Returns:
        One `Verdict` for each of w1..w8, then for a_o1 ... h2 when nodes are checked.
    """
    if weight_gradients is None:
        from autograd_compare.manual import gradients

        weight_gradients = gradients.weight_gradients
        node_gradients = node_gradients or gradients.node_gradients
    sp = _sympy()
    sym = _symbols(sp)
    full = expand_forward(sp, sym)
    v, w, ex = _symbolic_inputs(sym, full)
    implemented = dict(zip(naming.WEIGHT_NAMES, np.asarray(weight_gradients(v, w, ex)),
                           strict=True))
    if node_gradients is not None:
        nodes = node_gradients(v, w, ex)
        implemented.update({n: nodes[n] for n in naming.NODE_NAMES_BACKWARD})
    return [_verdict(sp, sym, full, name, impl) for name, impl in implemented.items()]


def _verdict(sp: ModuleType, sym: dict[str, Any], full: dict[str, Any], name: str,
             implemented: Any) -> Verdict:
    difference = derived(sp, sym, name) - sp.sympify(implemented)
    residual = sp.cancel(sp.together(_rationalise(sp, difference, full)))
    if residual == 0:
        return Verdict(name, True, "0", 0.0)
    at = dict(zip((sym[n] for n in naming.WEIGHT_NAMES), CLASS_WEIGHTS, strict=True))
    at.update({sym["i1"]: CLASS_INPUTS[0], sym["i2"]: CLASS_INPUTS[1],
               sym["t1"]: CLASS_TARGETS[0], sym["t2"]: CLASS_TARGETS[1]})
    return Verdict(name, False, str(residual), float(difference.evalf(30, subs=at)))


def render(verdicts: list[Verdict]) -> str:
    """One line per derivative, then a summary line."""
    lines = []
    for v in verdicts:
        label = f"∂E_total/∂{v.name}"
        if v.proved:
            lines.append(f"  {label:<15} PROVED  derived - implemented simplifies to 0")
        else:
            lines.append(f"  {label:<15} FAILED  derived - implemented does not simplify to 0; "
                         f"it is {v.at_class_example:.6e} at the class example")
    failed = [v.name for v in verdicts if not v.proved]
    n = len(verdicts)
    formulas = "formula" if n == 1 else "formulas"
    if not failed:
        summary = ("the 1 formula proved identical to SymPy's derivative" if n == 1 else
                   f"all {n} formulas proved identical to SymPy's derivatives")
    else:
        summary = (f"{len(failed)} of {n} {formulas} " + ("is" if len(failed) == 1 else "are")
                   + " WRONG: " + ", ".join(failed))
    return "\n".join(lines + [summary])
