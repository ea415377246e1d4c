"""The chain rule with numbers: every factor of every gradient, in the tutorial's notation.

`explain` builds, for the class network (or any weights and example), one `Step` per gradient
in the order the tutorial derives them: dE_total/dw5..dw8, then dE_total/da_h1 and
dE_total/da_h2, then dE_total/dw1..dw4. A step is a sum of `Term`s (one for a weight that
reaches a single output, two for a hidden activation), each a product of local derivatives
(`Factor`s) with their values, plus what every installed backend computed for the same
derivative. `render_text` and `render_markdown` turn them into prose.

`explain_network` does the same for any 2-2-2 sigmoid ½Σ(t-a)² network with biases, such as
Matt Mazur's walkthrough (``--preset mazur``): h1 = w1*i1 + w2*i2 + b1*1, ...; frozen biases
are said to be frozen, trainable ones get their own ∂E_total/∂b steps, and the frameworks'
values come from their ``mlp`` backends (`compare.registry.get_network_backend`).
"""

from __future__ import annotations

import functools
import operator
from typing import Any, NamedTuple

import numpy as np

from autograd_compare import naming
from autograd_compare.errors import CompareError
from autograd_compare.interface import Example, Gradients
from autograd_compare.manual.network import forward_values
from autograd_compare.network import Network, layout
from autograd_compare.registry import get_backend, get_network_backend

BACKENDS = {"manual": "manual (hand formulas)", "torch": "PyTorch autograd", "jax": "JAX grad"}
FORWARD = (  # name, formula, in the tutorial's order
    ("h1", "w1*i1 + w2*i2"), ("a_h1", "σ(h1)"), ("h2", "w3*i1 + w4*i2"), ("a_h2", "σ(h2)"),
    ("o1", "w5*a_h1 + w6*a_h2"), ("a_o1", "σ(o1)"), ("o2", "w7*a_h1 + w8*a_h2"),
    ("a_o2", "σ(o2)"), ("E1", "½*(t1 - a_o1)²"), ("E2", "½*(t2 - a_o2)²"),
    ("E_total", "E1 + E2"),
)
OUTPUT_WEIGHTS = {"w5": (1, "a_h1"), "w6": (1, "a_h2"), "w7": (2, "a_h1"), "w8": (2, "a_h2")}
HIDDEN = {"a_h1": ("w5", "w7"), "a_h2": ("w6", "w8")}  # the weights a_h reaches o1, o2 through
INPUT_WEIGHTS = {"w1": (1, "i1"), "w2": (1, "i2"), "w3": (2, "i1"), "w4": (2, "i2")}
ORDER = naming.EXPLANATION_ORDER
OUTPUT_ACTIVATIONS = {"a_o1": 1, "a_o2": 2}  # ∂E_total/∂a_ok = ∂Ek/∂a_ok
OUTPUTS = {"o1": 1, "o2": 2}  # ∂E_total/∂ok = ∂Ek/∂a_ok * ∂a_ok/∂ok
HIDDEN_INPUTS = {"h1": 1, "h2": 2}  # ∂E_total/∂hj = ∂E_total/∂a_hj * ∂a_hj/∂hj
TARGETS = naming.EXPLAINABLE  # what --weight accepts
OUTPUT_BIASES = {"b_o1": 1, "b_o2": 2}  # trainable biases, one per neuron
HIDDEN_BIASES = {"b_h1": 1, "b_h2": 2}
BIAS_NAMES = ("b_h1", "b_h2", "b_o1", "b_o2")  # their order in the flat vector
ORDER_TRAINABLE = ("w5", "w6", "w7", "w8", "b_o1", "b_o2", "a_h1", "a_h2",
                   "w1", "w2", "w3", "w4", "b_h1", "b_h2")


class Factor(NamedTuple):
    """One local derivative: ``symbol = formula = value``."""

    symbol: str  # "∂a_o1/∂o1"
    formula: str  # "a_o1 * (1 - a_o1)", in the leaves and forward values
    value: np.floating  # in the explanation's dtype (float32 stays float32)
    short: str = ""  # shown instead of a long formula worked out in an earlier step


class Term(NamedTuple):
    """One path from E_total to the variable: a product of factors."""

    symbol: str  # "∂E1/∂a_h1"
    factors: tuple[Factor, ...]

    @property
    def value(self) -> np.floating:
        """The product, left to right, in the factors' dtype (as the manual backend does)."""
        return functools.reduce(operator.mul, [f.value for f in self.factors])

    @property
    def formula(self) -> str:
        """The factors' formulas multiplied out, as the tutorial writes the result."""
        return " * ".join(f"({f.formula})" if _is_sum(f.formula) else f.formula
                          for f in self.factors)


class Step(NamedTuple):
    """dE_total/d(name) = the sum of its terms, beside every backend's own value."""

    name: str  # "w5" or "a_h1"
    note: str  # one line of context, or ""
    terms: tuple[Term, ...]
    backends: dict  # label -> value (float) or the reason it is missing (str)
    update: tuple | None  # (lr, w_old, w_new) for a weight, in the dtype

    @property
    def value(self) -> np.floating:
        """The sum of the terms, in their dtype."""
        return functools.reduce(operator.add, [t.value for t in self.terms])

    @property
    def chain(self) -> str:
        """``∂E1/∂a_o1 * ∂a_o1/∂o1 * ∂o1/∂w5`` or ``∂E1/∂a_h1 + ∂E2/∂a_h1``."""
        if len(self.terms) > 1:
            return " + ".join(t.symbol for t in self.terms)
        return " * ".join(f.symbol for f in self.terms[0].factors)

    @property
    def formula(self) -> str:
        return " + ".join(t.formula for t in self.terms)


class Explanation(NamedTuple):
    forward: dict  # name -> value, h1 .. E_total
    example: dict  # i1, i2, t1, t2 -> value
    steps: tuple[Step, ...]
    lr: float
    weights: dict = {}  # w1..w8 -> value
    dtype: str = "float64"
    biases: dict = {}  # symbol -> value ("b1", "b2" shared by a layer, or b_h1 .. b_o2)
    bias: str = "none"  # "none", "frozen" (not updated) or "trainable"
    formulas: tuple = FORWARD  # (name, formula) of the forward pass, with the bias terms


def backend_gradients(w, example: Example, dtype) -> dict:
    """label -> `Gradients` from each backend, or the one-line reason it is unavailable."""
    return per_backend(lambda name: get_backend(name, dtype).gradients(w, example))


def per_backend(gradients, backends: dict[str, str] = BACKENDS) -> dict:
    """label -> ``gradients(name)`` for each name -> label of ``backends``, or why it is
    unavailable."""
    out: dict[str, Any] = {}
    for name, label in backends.items():
        try:
            out[label] = gradients(name)
        except CompareError as err:  # not installed, or not written yet
            out[label] = str(err)
    return out


def _is_sum(formula: str) -> bool:
    """True if ``formula`` has a + or - outside parentheses (it needs them in a product)."""
    depth = 0
    for i, ch in enumerate(formula):
        depth += (ch == "(") - (ch == ")")
        if depth == 0 and ch in "+-" and formula[i - 1:i + 2] in (" + ", " - "):
            return True
    return False


def _lookup(g: Gradients | str | dict, name: str):
    if isinstance(g, (str, dict)):
        return g if isinstance(g, str) else g[name]
    if name.startswith("w"):
        return float(g.w[int(name[1]) - 1])
    return float(getattr(g, name[:-1])[int(name[-1]) - 1])  # "a_h1" -> g.a_h[0]


def _output_delta(v: dict, k: int) -> tuple[Factor, Factor]:
    """∂E_k/∂a_ok and ∂a_ok/∂o_k: the two factors every path through output k starts with."""
    a, t = v[f"a_o{k}"], v[f"t{k}"]
    return (Factor(f"∂E{k}/∂a_o{k}", f"a_o{k} - t{k}", a - t),
            Factor(f"∂a_o{k}/∂o{k}", f"a_o{k} * (1 - a_o{k})", a * (1 - a)))


def _hidden_formula(name: str) -> str:
    w_1, w_2 = HIDDEN[name]
    return (f"(a_o1 - t1) * a_o1 * (1 - a_o1) * {w_1} + "
            f"(a_o2 - t2) * a_o2 * (1 - a_o2) * {w_2}")


def build_steps(v: dict, grads: dict, lr: float, names=ORDER) -> tuple[Step, ...]:
    """The `Step` of each name in ``names``; ``v`` holds forward values, weights and example."""
    steps = []
    for name in names:
        backends = {label: _lookup(g, name) for label, g in grads.items()}
        if name in OUTPUT_WEIGHTS or name in OUTPUT_BIASES:
            k, a_h = OUTPUT_WEIGHTS.get(name) or (OUTPUT_BIASES[name], "1")
            x = v[a_h] if a_h in v else np.ones_like(v[f"a_o{k}"])[()]
            terms: tuple[Term, ...] = (Term(f"∂E{k}/∂{name}", (
                *_output_delta(v, k), Factor(f"∂o{k}/∂{name}", a_h, x))),)
            note = f"∂E{3 - k}/∂{name} = 0: {name} does not reach E{3 - k}"
        elif name in OUTPUT_ACTIVATIONS:
            k = OUTPUT_ACTIVATIONS[name]
            terms = (Term(f"∂E{k}/∂{name}", _output_delta(v, k)[:1]),)
            note = f"E_total = E1 + E2 and only E{k} depends on {name}"
        elif name in OUTPUTS:
            k = OUTPUTS[name]
            terms = (Term(f"∂E{k}/∂{name}", _output_delta(v, k)),)
            note = f"only E{k} depends on {name}, through a_o{k} = σ({name})"
        elif name in HIDDEN:
            terms = tuple(Term(f"∂E{k}/∂{name}", (*_output_delta(v, k),
                                                  Factor(f"∂o{k}/∂{name}", w, v[w])))
                          for k, w in ((1, HIDDEN[name][0]), (2, HIDDEN[name][1])))
            note = (f"{name} reaches both outputs, so both errors contribute; the tutorial "
                    "writes ∂E1/∂a_h1 + ∂E1/∂a_h2 here: erratum 1 of explain --errata")
        else:
            j = (HIDDEN_INPUTS.get(name) or HIDDEN_BIASES.get(name)
                 or INPUT_WEIGHTS[name][0])
            a_h = f"a_h{j}"
            d_ah = build_steps(v, {}, lr, (a_h,))[0].value
            factors: tuple[Factor, ...] = (Factor(f"∂E_total/∂{a_h}", _hidden_formula(a_h), d_ah,
                              short=f"∂E1/∂{a_h} + ∂E2/∂{a_h} (above)"),
                       Factor(f"∂{a_h}/∂h{j}", f"{a_h} * (1 - {a_h})", v[a_h] * (1 - v[a_h])))
            if name in INPUT_WEIGHTS or name in HIDDEN_BIASES:
                i = INPUT_WEIGHTS[name][1] if name in INPUT_WEIGHTS else "1"
                x = v[i] if i in v else np.ones_like(v[a_h])[()]
                factors += (Factor(f"∂h{j}/∂{name}", i, x),)
                note = f"through h{j} and a_h{j}, whose gradient is worked out above"
            else:
                note = f"through a_h{j} = σ(h{j}), whose gradient is worked out above"
            terms = (Term(f"∂E_total/∂{name}", factors),)
        step = Step(name, note, terms, backends, None)
        if name.startswith("w") or name in BIAS_NAMES:
            w_old = v[name]
            lr_d = np.asarray(lr, dtype=np.asarray(w_old).dtype)[()]  # lr in the dtype
            step = step._replace(update=(lr, w_old, w_old - lr_d * step.value))
        steps.append(step)
    return tuple(steps)


def explain(w, example: Example, lr: float, only: str | None = None,
            dtype="float64") -> Explanation:
    """Every gradient of the network at ``w`` for one example, factor by factor.

    Args:
        w: (8,) weights w1..w8. example: inputs (i1, i2) and targets (t1, t2), arrays (2,).
        lr: learning rate of the update shown after each weight.
        only: one of `TARGETS` to explain just that gradient (for w1..w4, h1 and h2 the a_h
            step it needs comes first), or None for the tutorial's order (`ORDER`).
        dtype: "float64" or "float32", for every backend and the hand arithmetic: the
            forward pass, every factor, product, sum and update are computed in it.

    Returns:
        An `Explanation`.
    """
    dt = np.dtype(dtype)
    w = np.asarray(w, dtype=dt)
    example = Example(np.asarray(example.inputs, dt), np.asarray(example.targets, dt))
    v = {k: np.asarray(x)[()] for k, x in forward_values(w, example).items()}  # dtype scalars
    return _explanation(w, example, v, backend_gradients(w, example, dt), lr,
                        _names(only, ORDER))


def _explanation(w: np.ndarray, example: Example, v: dict, grads: dict, lr: float,
                 names: tuple[str, ...], bias: dict | None = None, net: Network | None = None
                 ) -> Explanation:
    """The `Explanation` of forward values ``v`` and the backends' ``grads`` at the weights
    ``w`` (8,) and ``example`` (of the dtype), with a 2-2-2 network's ``bias`` values."""
    ex = dict(zip(naming.INPUT_NAMES + naming.TARGET_NAMES, (*example.inputs, *example.targets),
                  strict=True))
    v = {**v, **ex, **{f"w{k + 1}": w[k] for k in range(8)}, **(bias or {})}
    steps, extra = build_steps(v, grads, lr, names), tuple[Any, ...]()
    if net is not None and bias is not None:
        sym = bias_symbols(net)
        steps = tuple(st._replace(note=st.note.split("; the tutorial writes")[0])  # its typo
                      for st in steps)
        extra = ({sym[n]: float(x) for n, x in bias.items()}, net.bias,
                 tuple((n, _with_bias(n, f, sym)) for n, f in FORWARD))
    return Explanation({n: float(v[n]) for n, _ in FORWARD}, {k: float(x) for k, x in ex.items()},
                       steps, lr, {f"w{k + 1}": float(w[k]) for k in range(8)}, w.dtype.name,
                       *extra)


def _names(only: str | None, order: tuple[str, ...]) -> tuple[str, ...]:
    """The steps to show: ``order``, or ``only`` after the a_h step it needs."""
    if only is None:
        return order
    j = {**HIDDEN_INPUTS, **HIDDEN_BIASES, **{n: k for n, (k, _) in INPUT_WEIGHTS.items()}}
    return (f"a_h{j[only]}", only) if only in j else (only,)


def is_two_two_two(net: Network) -> bool:
    """2-2-2 sigmoid, ½Σ(t-a)² summed: the networks `explain_network` writes in the
    tutorial's notation (with biases of any kind)."""
    return (net.sizes == (2, 2, 2) and net.activations == ("sigmoid", "sigmoid")
            and net.loss == "half-sse" and net.reduction == "sum")


def bias_symbols(net: Network) -> dict[str, str]:
    """b_h1, b_h2, b_o1, b_o2 -> the symbol the text uses: Mazur's b1, b2 when a frozen
    layer shares one value, else the per-neuron name itself."""
    if net.bias == "frozen" and net.bias_values is not None and all(
            len(set(layer)) == 1 for layer in net.bias_values):
        return {"b_h1": "b1", "b_h2": "b1", "b_o1": "b2", "b_o2": "b2"}
    return {n: n for n in BIAS_NAMES}


def targets(net: Network) -> tuple[str, ...]:
    """What --weight accepts for a 2-2-2 network: `TARGETS`, and its trainable biases."""
    return TARGETS + (BIAS_NAMES if net.bias == "trainable" else ())


def explain_network(net: Network, params, example: Example, lr: float,
                    only: str | None = None, dtype="float64") -> Explanation:
    """`explain` for any 2-2-2 network of `is_two_two_two` (one example).

    Args:
        net: the network; without biases this is exactly `explain`.
        params: its flat parameter vector (w1..w4, b_h1, b_h2, w5..w8, b_o1, b_o2 when the
            biases are trainable, else w1..w8).
        example, lr, only, dtype: as for `explain`; ``only`` may name a trainable bias.
    """
    assert is_two_two_two(net), "explain_network writes 2-2-2 sigmoid half-sse (sum) networks"
    dt = np.dtype(dtype)
    params = np.asarray(params, dtype=dt)
    if net.bias == "none":
        return explain(params, example, lr, only, dt)
    lay = layout(net)
    w = np.concatenate([params[lay[0].W], params[lay[1].W]])
    if net.bias == "trainable":
        b = np.concatenate([params[lay[0].b], params[lay[1].b]])
    else:
        assert net.bias_values is not None
        b = np.asarray([*net.bias_values[0], *net.bias_values[1]], dt)
    example = Example(np.asarray(example.inputs, dt), np.asarray(example.targets, dt))
    order = ORDER_TRAINABLE if net.bias == "trainable" else ORDER
    return _explanation(w, example, _biased_forward(net, params, example),
                        network_gradients(net, params, example, dt), lr, _names(only, order),
                        dict(zip(BIAS_NAMES, b, strict=True)), net)


def _with_bias(name: str, formula: str, sym: dict[str, str]) -> str:
    """h1 = w1*i1 + w2*i2 -> w1*i1 + w2*i2 + b1*1 (Mazur writes the bias's input, 1)."""
    node = {"h1": "b_h1", "h2": "b_h2", "o1": "b_o1", "o2": "b_o2"}.get(name)
    return f"{formula} + {sym[node]}*1" if node else formula


def _biased_forward(net: Network, params, example: Example) -> dict:
    """The tutorial's forward pass with a bias added to each weighted sum (`manual.mlp`)."""
    from autograd_compare.manual.mlp import forward_pass

    x, t = (np.asarray(v, params.dtype) for v in example)
    (h, o), (a_h, a_o), _ = forward_pass(net, params, x[None], t[None])
    E1, E2 = 0.5 * np.square(t - a_o[0])
    return dict(h1=h[0, 0], h2=h[0, 1], a_h1=a_h[0, 0], a_h2=a_h[0, 1], o1=o[0, 0], o2=o[0, 1],
                a_o1=a_o[0, 0], a_o2=a_o[0, 1], E1=E1, E2=E2, E_total=E1 + E2)


def network_gradients(net: Network, params, example: Example, dt) -> dict:
    """label -> {name: dE_total/d(name)} from each backend's ``mlp`` module, or the reason
    it is unavailable; names as in the tutorial (w1.., b_h1.., h1, a_h1, o1, a_o1, ...)."""
    from autograd_compare.network import Data

    data = Data(np.asarray(example.inputs, dt)[None, :], np.asarray(example.targets, dt)[None, :])
    lay = layout(net)

    def named(name: str) -> dict:
        g = get_network_backend(name, dt).gradients(net, params, data)
        vals = {f"w{k + 1}": float(g.w[lay[k // 4].W][k % 4]) for k in range(8)}
        if net.bias == "trainable":
            vals.update({n: float(g.w[lay[j // 2].b][j % 2])  # type: ignore[index]
                         for j, n in enumerate(BIAS_NAMES)})
        for j in (1, 2):
            vals[f"h{j}"], vals[f"o{j}"] = float(g.z[0][0, j - 1]), float(g.z[1][0, j - 1])
            a_h, a_o = g.a[0], g.a[1]
            assert a_h is not None and a_o is not None  # sigmoid layers carry dE/da
            vals[f"a_h{j}"], vals[f"a_o{j}"] = float(a_h[0, j - 1]), float(a_o[0, j - 1])
        return vals

    return per_backend(named)
