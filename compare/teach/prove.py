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

import re
from collections.abc import Callable
from types import ModuleType
from typing import Any, NamedTuple

import numpy as np

from autograd_compare import naming
from autograd_compare.errors import BackendUnavailable
from autograd_compare.interface import CLASS_INPUTS, CLASS_TARGETS, CLASS_WEIGHTS, Example
from autograd_compare.network import activation_of

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
    ratio: str = "1"  # derived / implemented in a_h1 .. a_o2, t, w ("1" when proved)


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


def expand_forward(sp: ModuleType, sym: dict[str, Any], keep: str | None = None,
                   equations: dict[str, tuple[str, Any]] = EQUATIONS) -> dict[str, Any]:
    """Every forward quantity as an expression in the leaves (and in ``keep``, left free).

    Args:
        sp: the sympy module. sym: leaf name -> Symbol. keep: a node to leave as its own
            symbol (to differentiate with respect to it), or None.

    Returns:
        dict name -> expression, for every name in `EQUATIONS` and the leaves.
    """
    out = dict(sym)
    for name, (kind, ops) in equations.items():
        if name == keep:
            out[name] = sp.Symbol(name, real=True)
        elif kind == "lin":  # a bias is the pair (b, "1"): b times the constant input 1
            out[name] = sum(out[w] * (1 if x == "1" else out[x]) for w, x in ops)
        elif kind == "sigmoid":
            out[name] = 1 / (1 + sp.exp(-out[ops]))  # σ(x), no derivative rule assumed
        elif kind == "half_sq":
            t, a = ops
            out[name] = sp.Rational(1, 2) * (out[t] - out[a]) ** 2
        else:  # "sum"
            out[name] = out[ops[0]] + out[ops[1]]
    return out


def derived(sp: ModuleType, sym: dict[str, Any], name: str,
            equations: dict[str, tuple[str, Any]] = EQUATIONS) -> Any:
    """dE_total/d(name) straight from the forward equations, as an expression in the leaves."""
    if name in sym:
        return sp.diff(expand_forward(sp, sym, equations=equations)["E_total"], sym[name])
    f = expand_forward(sp, sym, keep=name, equations=equations)
    node = sp.Symbol(name, real=True)
    return sp.diff(f["E_total"], node).subs(
        node, expand_forward(sp, sym, equations=equations)[name])


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
    d, impl = derived(sp, sym, name), sp.sympify(implemented)
    difference = d - impl
    residual = sp.cancel(sp.together(_rationalise(sp, difference, full)))
    if residual == 0:
        return Verdict(name, True, "0", 0.0)
    at = dict(zip((sym[n] for n in naming.WEIGHT_NAMES), CLASS_WEIGHTS, strict=True))
    at.update({sym["i1"]: CLASS_INPUTS[0], sym["i2"]: CLASS_INPUTS[1],
               sym["t1"]: CLASS_TARGETS[0], sym["t2"]: CLASS_TARGETS[1]})
    ratio = _ratio(sp, d, impl, full)
    if len(ratio) > 60:  # no single factor: its value where the class example sits
        ratio = f"{float(d.evalf(30, subs=at) / impl.evalf(30, subs=at)):.6g} at the class " \
                "example (no simple factor)"
    return Verdict(name, False, str(residual), float(difference.evalf(30, subs=at)), ratio)


def _ratio(sp: ModuleType, derived_: Any, implemented: Any, full: dict[str, Any]) -> str:
    """derived / implemented, written in the activations (z_h1 = e^-h1 = (1 - a_h1)/a_h1):
    a_o1*(1 - a_o1) for a dropped σ'(o1), 2 for a halved gradient."""
    if implemented == 0:
        return "inf"
    a = {n: sp.Symbol(f"a_{n}", positive=True) for n in ("h1", "h2", "o1", "o2")}
    back = {sp.Symbol(f"z_{n}", positive=True): (1 - a[n]) / a[n] for n in a}
    ratio = _rationalise(sp, derived_ / implemented, full).subs(back)
    text = str(sp.factor(sp.cancel(sp.together(ratio))))
    return re.sub(r"^-(a_\w+)\*\(\1 - 1\)$", r"\1*(1 - \1)", text)  # σ(1 - σ), as written


def render(verdicts: list[Verdict]) -> str:
    """One line per derivative, then a summary line."""
    lines = []
    for v in verdicts:
        label = f"∂E_total/∂{v.name}"
        if v.proved:
            lines.append(f"  {label:<15} PROVED  derived - implemented simplifies to 0")
        else:
            lines.append(f"  {label:<15} FAILED  derived - implemented does not simplify to 0; "
                         f"it is {v.at_class_example:.6e} at the class example; "
                         f"derived / implemented = {v.ratio}")
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


# --- any network: activations, δ_L, the δ recursion, the 2-2-2 presets with biases -----------
class GeneralVerdict(NamedTuple):
    """The outcome for one general formula (``explain --prove``, after the tutorial's)."""

    part: str  # "activation", "delta_L", "recursion", "2-2-2"
    name: str  # "tanh", "mse + sigmoid (mean)", "W1[0,1] of tanh,sigmoid", "mazur: w5"
    proved: bool
    residual: str  # "0" when proved


PARTS = {
    "activation": "(a) each activation's derivative as manual/mlp.py writes it "
                  "(`derivative`), against SymPy's d f/dz",
    "delta_L": "(b) δ_L = ∂E/∂z_L as manual/mlp.py computes it, for each loss and last "
               "activation, reduction sum and mean (2 examples, 2 outputs)",
    "recursion": "(c) the δ recursion δ_l = (W_(l+1)ᵀ δ_(l+1)) ⊙ f_l'(z_l), ∂E/∂W_l = "
                 "δ_l a_(l-1)ᵀ, ∂E/∂b_l = δ_l on symbolic 2-2-2 networks (every weight and "
                 "bias)",
    "2-2-2": "(d) the per-weight formulas explain prints for the 2-2-2 presets (tutorial, "
             "Mazur's frozen b1 and b2, trainable biases), and manual/gradients.py with the "
             "bias terms in the forward pass",
}
ACTIVATIONS = ("sigmoid", "tanh", "relu", "identity", "leaky-relu", "leaky-relu:0.2", "elu",
               "elu:0.5", "gelu", "softplus", "silu")
# (b): each kind once; leaky ReLU with a slope exact in few bits (backward_pass's c is a float,
# and SymPy rounds the product of a float with 0.01's value, a fraction over 2^59, to 53 bits)
DELTA_ACTIVATIONS = ("sigmoid", "tanh", "relu", "identity", "leaky-relu:0.25", "elu", "gelu",
                     "softplus", "silu")
# where f or f' changes its formula: proved on each side (z = kink ± p, p > 0), the derivative
# at the point itself is a convention (the tests hold the backends to torch's)
KINKS = {"relu": 0, "leaky-relu": 0, "elu": 0, "softplus": 20}


def _as_sympy(sp: ModuleType, x: Any) -> Any:
    """A value of the implemented formula as SymPy: booleans (relu's z > 0) as 0/1, floats
    (the reduction's 1/4) as exact rationals."""
    if isinstance(x, (bool, np.bool_)) or x is sp.true or x is sp.false:
        return sp.Integer(1 if bool(x) else 0)
    x = sp.sympify(x)
    return x.xreplace({f: sp.Rational(f) for f in x.atoms(sp.Float)})


def _reference_activation(sp: ModuleType, name: str, z: Any) -> Any:
    """f(z) from its definition (no derivative rule): σ = 1/(1 + e^-z), tanh, max(z, 0), z,
    leaky ReLU and ELU by cases, GELU z·½(1 + erf(z/√2)), softplus log(1 + e^z) (z itself
    above nn.Softplus()'s threshold 20), SiLU z·σ(z)."""
    kind, p = activation_of(name)
    q = sp.Rational(p)  # the float's exact value, as the code has it
    if kind == "sigmoid":
        return 1 / (1 + sp.exp(-z))
    if kind == "tanh":
        return sp.tanh(z)
    if kind == "relu":
        return sp.Piecewise((z, z > 0), (0, True))
    if kind == "leaky-relu":
        return sp.Piecewise((z, z > 0), (q * z, True))
    if kind == "elu":
        return sp.Piecewise((z, z > 0), (q * (sp.exp(z) - 1), True))
    if kind == "gelu":
        return z * (1 + sp.erf(z / sp.sqrt(2))) / 2
    if kind == "softplus":
        return sp.Piecewise((z, z > 20), (sp.log(1 + sp.exp(z)), True))
    if kind == "silu":
        return z / (1 + sp.exp(-z))
    return z


def _points(sp: ModuleType, name: str, z: Any, p: Any) -> tuple[tuple[Any, str], ...]:
    """Where ``name``'s derivative is proved: z itself, or each side of its kink."""
    at = KINKS.get(activation_of(name).kind)
    if at is None:
        return ((z, ""),)
    return ((at + p, f" (z > {at})"), (at - p, f" (z < {at})"))


def _activate(sp: ModuleType, act: str, z: Any) -> Any:
    """f applied to every row of ``z`` (B, n) from its definition; softmax over each row."""
    if act == "softmax":
        return np.array([[sp.exp(zj) / sum(sp.exp(zk) for zk in row) for zj in row]
                         for row in z], dtype=object)
    if act == "log-softmax":
        return np.array([[zj - sp.log(sum(sp.exp(zk) for zk in row)) for zj in row]
                         for row in z], dtype=object)
    return np.array([[_reference_activation(sp, act, zj) for zj in row] for row in z],
                    dtype=object)


def _as_backward_input(sp: ModuleType, act: str, a: Any) -> tuple[Any, dict[Any, Any]]:
    """``a`` as `manual.mlp.backward_pass` is given it, and the values to put back: a
    log-softmax output as symbols A_bj that NumPy can exponentiate (``np.exp`` of an object
    array calls each entry's ``exp()``; SymPy's expressions have none), A_bj = a_bj after."""
    if act != "log-softmax":
        return a, {}

    class LogProbability(sp.Symbol):  # type: ignore[misc,name-defined]
        def exp(self) -> Any:
            return sp.exp(self)

    syms = np.array([[LogProbability(f"A{b}{j}", real=True) for j in range(a.shape[1])]
                     for b in range(a.shape[0])], dtype=object)
    return syms, dict(zip(syms.ravel(), a.ravel(), strict=True))


def _zero(sp: ModuleType, difference: Any) -> tuple[bool, str]:
    """(difference == 0 for every value of its symbols, the simplified residual)."""
    residual = sp.simplify(sp.cancel(sp.together(difference)))
    if residual != 0:
        residual = sp.simplify(residual.rewrite(sp.exp))
    return residual == 0, str(residual)


def prove_activations(derivative: Callable[..., Any] | None = None) -> list[GeneralVerdict]:
    """(a): ``derivative(name, z, a)`` (default `manual.mlp.derivative`) equals d f/dz. ReLU,
    leaky ReLU and ELU are proved on each side of 0, softplus on each side of 20 (`KINKS`);
    at z = 0 manual, torch and jax all take the left side's (0, the slope, α)."""
    from autograd_compare.manual import mlp

    derivative = derivative or mlp.derivative
    sp = _sympy()
    z, p = sp.Symbol("z", real=True), sp.Symbol("p", positive=True)
    out = []
    for name in ACTIVATIONS:
        for at, label in _points(sp, name, z, p):
            f = _reference_activation(sp, name, z)
            d = sp.diff(f, z).subs(z, at)
            zs = np.array([at], dtype=object)
            impl = derivative(name, zs, np.array([f.subs(z, at)], dtype=object))
            ok, res = _zero(sp, d - _as_sympy(sp, np.asarray(impl).ravel()[0]))
            out.append(GeneralVerdict("activation", name + label, ok, res))
    return out


def _loss_reference(sp: ModuleType, loss: str, reduction: str, z, a, t) -> Any:
    """E = c · Σ_b loss_b from the definitions (log-sum-exp for cross-entropy; bce as
    -t log σ(z) - (1 - t) log(1 - σ(z)) with σ(z) = 1/(1 + e^-z); nll as -Σ t·a with ``a`` the
    log-softmax written out)."""
    B, n = z.shape
    # c: 1 for sum, 1/B for a mean over the examples (always, for the class losses), else 1/(B·n)
    c = 1 if reduction == "sum" else sp.Rational(1, B) if (
        loss in ("cross-entropy", "nll") or reduction == "mean-examples") else sp.Rational(1, B * n)
    if loss == "cross-entropy":
        per = [-sum(t[b, j] * (z[b, j] - sp.log(sum(sp.exp(z[b, k]) for k in range(n))))
                    for j in range(n)) for b in range(B)]
    elif loss == "nll":
        per = [-sum(t[b, j] * a[b, j] for j in range(n)) for b in range(B)]
    elif loss == "bce":
        s = [[1 / (1 + sp.exp(-z[b, j])) for j in range(n)] for b in range(B)]
        per = [-sum(t[b, j] * sp.log(s[b][j]) + (1 - t[b, j]) * sp.log(1 - s[b][j])
                    for j in range(n)) for b in range(B)]
    else:
        k2 = sp.Rational(1, 2) if loss == "half-sse" else 1
        per = [k2 * sum((t[b, j] - a[b, j]) ** 2 for j in range(n)) for b in range(B)]
    return c * sum(per)


def _delta_case(sp: ModuleType, loss: str, act: str, reduction: str, sign: int,
                backward: Callable[..., Any]) -> GeneralVerdict:
    from autograd_compare.network import make_network

    B, n = 2, 2
    kink = KINKS.get(activation_of(act).kind)
    positive = kink is not None  # z = kink + sign·u, u > 0: one side of the kink
    u = np.array([[sp.Symbol(f"z{b}{j}", positive=True) if positive
                   else sp.Symbol(f"z{b}{j}", real=True) for j in range(n)] for b in range(B)],
                 dtype=object)
    z = kink + sign * u if positive else u
    t = np.array([[sp.Symbol(f"t{b}{j}", real=True) for j in range(n)] for b in range(B)],
                 dtype=object)
    a = _activate(sp, act, z)
    net = make_network((1, n), act, loss=loss, reduction=reduction)
    w = np.array([sp.Symbol(f"w{j}", real=True) for j in range(n)], dtype=object)
    x = np.array([[sp.Symbol(f"x{b}", real=True)] for b in range(B)], dtype=object)
    # relu's f' reads only the sign of z, the case fixed here: give it that sign as numbers
    # (SymPy's z > 0 is a boolean that does not multiply an expression)
    z_in = np.full((B, n), float(sign)) if act == "relu" else z
    a_in, put_back = _as_backward_input(sp, act, a)
    dz = backward(net, w, x, t, [z_in], [a_in])[1][-1]
    E = _loss_reference(sp, loss, reduction, z, a, t)
    name = f"{loss} + {act} ({reduction})" + ({1: f" z > {kink}", -1: f" z < {kink}"}[sign]
                                               if positive else "")
    bad = []
    for b in range(B):
        for j in range(n):
            d = sign * sp.diff(E, u[b, j]) if positive else sp.diff(E, z[b, j])  # dz = sign·du
            ok, res = _zero(sp, d - _as_sympy(sp, dz[b, j]).subs(put_back))
            if not ok:
                bad.append(f"δ[{b},{j}]: {res}")
    return GeneralVerdict("delta_L", name, not bad, "; ".join(bad) or "0")


def prove_delta_L(backward: Callable[..., Any] | None = None) -> list[GeneralVerdict]:
    """(b): δ_L of ``backward`` (default `manual.mlp.backward_pass`) equals ∂E/∂z_L for every
    loss and last activation, sum and mean."""
    from autograd_compare.manual import mlp

    backward = backward or mlp.backward_pass
    sp = _sympy()
    out = []
    for reduction in ("sum", "mean"):
        for loss in ("half-sse", "mse"):
            for act in DELTA_ACTIVATIONS:
                for sign in ((1, -1) if activation_of(act).kind in KINKS else (1,)):
                    out.append(_delta_case(sp, loss, act, reduction, sign, backward))
        out.append(_delta_case(sp, "cross-entropy", "softmax", reduction, 1, backward))
        out.append(_delta_case(sp, "bce", "sigmoid", reduction, 1, backward))
        out.append(_delta_case(sp, "nll", "log-softmax", reduction, 1, backward))
    return out


RECURSION_NETS = (  # hidden, last activation, loss, reduction
    ("tanh", "sigmoid", "half-sse", "sum"),
    ("sigmoid", "softmax", "cross-entropy", "mean"),
    ("identity", "tanh", "mse", "mean"),
    ("tanh", "sigmoid", "bce", "mean"),
    ("sigmoid", "log-softmax", "nll", "sum"),
    ("silu", "sigmoid", "mse", "sum"),  # (gelu here: SymPy has not cancelled it in minutes)
)


# the sub-expression of f(z) that makes the rest rational: e^-z for σ and SiLU, tanh z, e^z_j
ATOMS = {"sigmoid": lambda sp, z: sp.exp(-z), "silu": lambda sp, z: sp.exp(-z),
         "tanh": lambda sp, z: sp.tanh(z), "softmax": lambda sp, z: sp.exp(z),
         "log-softmax": lambda sp, z: sp.exp(z)}


def prove_recursion(backward: Callable[..., Any] | None = None) -> list[GeneralVerdict]:
    """(c): ∂E/∂W_l and ∂E/∂b_l of ``backward`` (default `manual.mlp.backward_pass`) on symbolic
    2-2-2 networks with trainable biases (one example) equal SymPy's derivatives of E."""
    from autograd_compare.manual import mlp
    from autograd_compare.network import layout, make_network, param_names

    backward = backward or mlp.backward_pass
    sp = _sympy()
    out = []
    for hidden, last, loss, reduction in RECURSION_NETS:
        net = make_network((2, 2, 2), (hidden, last), "trainable", loss=loss,
                           reduction=reduction)
        names = param_names(net)
        w = np.array([sp.Symbol(f"p{k}", real=True) for k in range(len(names))], dtype=object)
        x = np.array([[sp.Symbol("x0", real=True), sp.Symbol("x1", real=True)]], dtype=object)
        t = np.array([[sp.Symbol("t0", real=True), sp.Symbol("t1", real=True)]], dtype=object)
        lay = layout(net)
        zs: list[Any] = []
        as_: list[Any] = []
        atoms: list[Any] = []
        a = x
        for l, act in enumerate((hidden, last)):
            W = w[lay[l].W].reshape(lay[l].W_shape)
            bias = w[lay[l].b]
            z = np.array([[sum(W[j, k] * a[0, k] for k in range(2)) + bias[j]
                           for j in range(2)]], dtype=object)
            a = _activate(sp, act, z)
            zs.append(z)
            as_.append(a)
            atoms = [ATOMS[act](sp, z[0, j]) for j in range(2) if act in ATOMS] + atoms
        E = _loss_reference(sp, loss, reduction, zs[-1], as_[-1], t)
        a_in, put_back = _as_backward_input(sp, last, as_[-1])
        dw = backward(net, w, x, t, zs, [*as_[:-1], a_in])[0]
        label = f"{hidden},{last} {loss} ({reduction})"
        bad = []
        for k, pname in enumerate(names):
            diff = sp.diff(E, w[k]) - _as_sympy(sp, dw[k]).subs(put_back)
            for i, atom in enumerate(atoms):  # outer layer first: its atoms contain the inner
                diff = diff.subs(atom, sp.Symbol(f"u{i}", positive=True))
            ok = sp.cancel(sp.together(diff)) == 0 or _zero(sp, diff)[0]
            if not ok:
                bad.append(pname)
        out.append(GeneralVerdict("recursion", label, not bad,
                                  "0" if not bad else "wrong: " + ", ".join(bad)))
    return out


def _two_two_two_equations(bias: str) -> dict[str, tuple[str, Any]]:
    if bias == "none":
        return EQUATIONS
    hb = ("b1", "b1") if bias == "frozen" else ("b_h1", "b_h2")
    ob = ("b2", "b2") if bias == "frozen" else ("b_o1", "b_o2")
    eq = dict(EQUATIONS)
    for node, b in (("h1", hb[0]), ("h2", hb[1]), ("o1", ob[0]), ("o2", ob[1])):
        eq[node] = ("lin", (*EQUATIONS[node][1], (b, "1")))
    return eq


def prove_two_two_two(weight_gradients: Callable[..., Any] | None = None
                      ) -> list[GeneralVerdict]:
    """(d): every step explain prints for the 2-2-2 presets, and ``weight_gradients``
    (default `manual.gradients.weight_gradients`) with the biases in the forward pass."""
    from autograd_compare.teach.explain import ORDER, ORDER_TRAINABLE, build_steps

    if weight_gradients is None:
        from autograd_compare.manual import gradients

        weight_gradients = gradients.weight_gradients
    sp = _sympy()
    out = []
    for label, bias in (("tutorial", "none"), ("mazur (b1, b2 frozen)", "frozen"),
                        ("trainable biases", "trainable")):
        eq = _two_two_two_equations(bias)
        sym = _symbols(sp)
        extra = {"none": (), "frozen": ("b1", "b2"), "trainable": ("b_h1", "b_h2", "b_o1",
                                                                   "b_o2")}[bias]
        sym.update({b: sp.Symbol(b, real=True) for b in extra})
        full = expand_forward(sp, sym, equations=eq)
        v, w, ex = _symbolic_inputs(sym, full)
        v = {**v, **{n: sym[n] for n in (*naming.INPUT_NAMES, *naming.TARGET_NAMES,
                                         *naming.WEIGHT_NAMES)}}
        if bias == "frozen":
            v.update({"b_h1": sym["b1"], "b_h2": sym["b1"], "b_o1": sym["b2"],
                      "b_o2": sym["b2"]})
        else:
            v.update({b: sym[b] for b in extra})
        order = ORDER_TRAINABLE if bias == "trainable" else ORDER
        implemented = {f"explain {s.name}": (s.name, s.value)
                       for s in build_steps(v, {}, 1.0, order)}
        manual = np.asarray(weight_gradients(v, w, ex))
        implemented.update({f"manual/gradients.py {n}": (n, manual[k])
                            for k, n in enumerate(naming.WEIGHT_NAMES)})
        for shown, (name, impl) in implemented.items():
            diff = derived(sp, sym, name, eq) - sp.sympify(impl)
            ok = sp.cancel(sp.together(_rationalise(sp, diff, full))) == 0
            out.append(GeneralVerdict("2-2-2", f"{label}: {shown}", ok, "0" if ok else
                                      str(diff)[:200]))
    return out


def prove_general() -> list[GeneralVerdict]:
    """(a) to (d), in that order."""
    return [*prove_activations(), *prove_delta_L(), *prove_recursion(), *prove_two_two_two()]


def render_general(verdicts: list[GeneralVerdict]) -> str:
    """A heading per part, one "proved"/"FAILED" line per formula, a summary line."""
    lines: list[str] = []
    for part, heading in PARTS.items():
        mine = [v for v in verdicts if v.part == part]
        if not mine:
            continue
        lines.append(heading + ":")
        for v in mine:
            lines.append(f"  proved  {v.name}" if v.proved else
                         f"  FAILED  {v.name}: derived - implemented = {v.residual}")
    failed = [v.name for v in verdicts if not v.proved]
    lines.append(("the 1 general formula proved" if len(verdicts) == 1 else
                  f"all {len(verdicts)} general formulas proved") if not failed else
                 f"{len(failed)} of {len(verdicts)} general formulas are WRONG: "
                 + ", ".join(failed))
    return "\n".join(lines)
