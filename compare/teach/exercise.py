"""Exercises: the tutorial's eight gradients as Python functions for a student to fill in,
checked against autograd with the likely mistake named (`manual.catalogue`).

`template` is the student's file (the forward pass given, each dE_total/dw a blank with its
chain of factors in the docstring), `template(answers=True)` the teacher's key. `check` runs
the student's functions at the class example and two other weight sets through the gradient
check of the main job (`network_check.gradient_check`: a complex-step reference and the
dtype's tolerance), beside PyTorch autograd (else JAX, else the hand-derived backend).
"""

from __future__ import annotations

import types
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from autograd_compare import network, plugins, registry, validate
from autograd_compare.errors import InputError
from autograd_compare.harness import network_check
from autograd_compare.manual import catalogue
from autograd_compare.manual.network import forward_values
from autograd_compare.naming import WEIGHT_NAMES

ORDER = WEIGHT_NAMES[4:] + WEIGHT_NAMES[:4]  # the tutorial's order: w5..w8, then w1..w4
CHAINS = {  # the chain of factors, as the tutorial writes it; the answer in the notation
    "w5": ("dE_total/da_o1 · da_o1/do1 · do1/dw5",
           "(n.a_o1 - n.t1) * n.a_o1 * (1 - n.a_o1) * n.a_h1"),
    "w6": ("dE_total/da_o1 · da_o1/do1 · do1/dw6",
           "(n.a_o1 - n.t1) * n.a_o1 * (1 - n.a_o1) * n.a_h2"),
    "w7": ("dE_total/da_o2 · da_o2/do2 · do2/dw7",
           "(n.a_o2 - n.t2) * n.a_o2 * (1 - n.a_o2) * n.a_h1"),
    "w8": ("dE_total/da_o2 · da_o2/do2 · do2/dw8",
           "(n.a_o2 - n.t2) * n.a_o2 * (1 - n.a_o2) * n.a_h2"),
    "w1": ("dE_total/da_h1 · da_h1/dh1 · dh1/dw1, with dE_total/da_h1 = dE1/da_h1 + dE2/da_h1",
           "(d_o1(n) * n.w5 + d_o2(n) * n.w7) * n.a_h1 * (1 - n.a_h1) * n.i1"),
    "w2": ("dE_total/da_h1 · da_h1/dh1 · dh1/dw2", "(d_o1(n) * n.w5 + d_o2(n) * n.w7) * n.a_h1 "
           "* (1 - n.a_h1) * n.i2"),
    "w3": ("dE_total/da_h2 · da_h2/dh2 · dh2/dw3", "(d_o1(n) * n.w6 + d_o2(n) * n.w8) * n.a_h2 "
           "* (1 - n.a_h2) * n.i1"),
    "w4": ("dE_total/da_h2 · da_h2/dh2 · dh2/dw4", "(d_o1(n) * n.w6 + d_o2(n) * n.w8) * n.a_h2 "
           "* (1 - n.a_h2) * n.i2"),
}
HEAD = '''"""Backpropagation by hand on the tutorial's network: i1, i2 -> h1, h2 -> o1, o2, a
sigmoid after every neuron, no biases, E_total = E1 + E2 = 1/2 (t1 - a_o1)^2 + 1/2 (t2 - a_o2)^2.

Fill in each function with the chain rule. `n` holds every number of the forward pass by its
name: n.i1, n.i2, n.t1, n.t2, n.w1 .. n.w8, n.h1, n.a_h1, n.h2, n.a_h2, n.o1, n.a_o1, n.o2,
n.a_o2, n.E1, n.E2, n.E_total. A function that returns None is not filled in yet.

Check your answers (each against autograd, the likely mistake named):

    autograd-compare exercise --check {name}
"""
'''
HELPERS = '''

def d_o1(n):
    """dE_total/do1 = dE_total/da_o1 * da_o1/do1 (the key's helper)"""
    return (n.a_o1 - n.t1) * n.a_o1 * (1 - n.a_o1)


def d_o2(n):
    """dE_total/do2 = dE_total/da_o2 * da_o2/do2"""
    return (n.a_o2 - n.t2) * n.a_o2 * (1 - n.a_o2)
'''
POINTS = 3  # the class example and two seeded random weight sets in [-1, 1]
REFERENCE_NAMES = {"torch": "PyTorch autograd", "jax": "JAX grad",
                   "manual": "the hand-derived backward pass (torch and jax not installed)"}


class Answer(NamedTuple):
    weight: str  # "w5"
    status: str  # "right", "wrong", "blank"
    yours: float | None  # at the class example
    expected: float  # autograd's, at the class example
    detail: str  # what is wrong, or the likely mistake; "" when right


def template(name: str = "exercise.py", answers: bool = False) -> str:
    """The student's file (each gradient returns None), or with ``answers`` the key."""
    out = [HEAD.format(name=name)]
    if answers:
        out.append(HELPERS)
    for w in ORDER:
        chain, key = CHAINS[w]
        body = f"return {key}" if answers else "return None  # your formula here"
        out.append(f'\n\ndef dE_total_d{w}(n):\n    """dE_total/d{w} = {chain}"""\n    {body}\n')
    return "".join(out)


def _points() -> list[np.ndarray]:
    start = np.asarray(network.preset("tutorial").weights, np.float64)
    rng = np.random.default_rng(2024)
    return [start] + [rng.uniform(-1, 1, 8) for _ in range(POINTS - 1)]


def _namespace(w: np.ndarray, data: network.Data) -> types.SimpleNamespace:
    ex = network.tutorial_example(network.preset("tutorial").network, data)
    assert ex is not None
    v = {k: float(x) for k, x in forward_values(w, ex).items()}
    leaves = dict(zip(WEIGHT_NAMES, map(float, w), strict=True))
    leaves.update(i1=float(ex.inputs[0]), i2=float(ex.inputs[1]), t1=float(ex.targets[0]),
                  t2=float(ex.targets[1]))
    return types.SimpleNamespace(**leaves, **v)


def _value(fn: Any, n: types.SimpleNamespace) -> float | None | str:
    """The student's number, None (blank), or what went wrong, in words."""
    try:
        got = fn(n)
    except Exception as err:  # noqa: BLE001 - the student's code: any error is an answer
        return f"raised {type(err).__name__}: {err}"
    if got is None:
        return None
    try:
        return float(got)
    except (TypeError, ValueError):
        return f"returned {type(got).__name__}, not a number"


class _Point(NamedTuple):
    yours: dict[str, float | None | str]  # weight -> the student's number (or None, words)
    expected: dict[str, float]  # autograd's
    right: dict[str, bool]
    got: np.ndarray  # (8,) w1..w8: the student's numbers, the reference's where not given
    tolerance: np.ndarray  # (8,) the gradient check's


def check(path: str | Path, reference: str | None = None) -> tuple[str, list[Answer]]:
    """(the autograd backend used, one `Answer` per weight in `ORDER`) for the file ``path``."""
    if not str(path).endswith(".py"):
        raise InputError(f"--check needs a .py file; got {validate.short_text(str(path))}")
    try:
        module = plugins.import_source(str(path))
    except SyntaxError as err:
        raise InputError(f"{path}, line {err.lineno}: {err.msg} (a Python syntax error)"
                         ) from None
    except Exception as err:  # noqa: BLE001 - the student's module runs: any error is one line
        raise InputError(f"{path}: cannot load it ({type(err).__name__}: "
                         f"{validate.short_text(str(err))})") from None
    fns = {w: getattr(module, f"dE_total_d{w}", None) for w in ORDER}
    missing = [f"dE_total_d{w}" for w, fn in fns.items() if not callable(fn)]
    if missing:
        raise InputError(f"{path} has no function {', '.join(missing)}; start from the file "
                         "`autograd-compare exercise` writes")
    name = reference or next(n for n in ("torch", "jax", "manual") if n in registry.backends())
    tutorial = network.preset("tutorial")
    at = _points()
    points = [_point(name, tutorial.network, w, tutorial.data, fns) for w in at]
    known = catalogue.candidates(tutorial.network, at[0], tutorial.data)  # once, for all eight
    return name, [_answer(x, points, known) for x in ORDER]


def _point(name: str, net: network.Network, w: np.ndarray, data: network.Data,
           fns: dict[str, Any]) -> _Point:
    """The student's functions at ``w`` through the gradient check beside backend ``name``
    (a blank or a failed one is given the reference's own number, so each is judged alone)."""
    from autograd_compare.manual import mlp

    n = _namespace(w, data)
    yours = {x: _value(fns[x], n) for x in ORDER}
    right = mlp.gradients(net, w, data).w
    got = np.array([yours[x] if isinstance(yours[x], float) else right[i]
                    for i, x in enumerate(WEIGHT_NAMES)])
    with plugins.given("yours", lambda *_: got):
        grad = network_check.gradient_check(
            [registry.get_network_backend(name), registry.get_network_backend("yours")],
            net, w, data)
    rows = {r.quantity[len("dE_total/d"):]: r for r in grad.rows}
    return _Point(yours, {x: rows[x].values[name] for x in ORDER},
                  {x: rows[x].errors["yours"] <= rows[x].tolerance for x in ORDER}, got,
                  np.array([rows[x].tolerance for x in WEIGHT_NAMES]))


def _answer(w: str, points: list[_Point], known: list[tuple[Any, np.ndarray]]) -> Answer:
    first = points[0]
    yours, expected = first.yours[w], first.expected[w]
    if yours is None:
        return Answer(w, "blank", None, expected, "not filled in yet")
    if isinstance(yours, str):
        return Answer(w, "wrong", None, expected, yours)
    for k, p in enumerate(points):
        if not isinstance(p.yours[w], float) or not p.right[w]:
            where = "the class example" if k == 0 else f"random weight set {k}"
            likely = _likely(w, known, first) if not first.right[w] else ""
            return Answer(w, "wrong", yours, expected,
                          f"yours {p.yours[w]} vs {p.expected[w]} at {where}{likely}")
    return Answer(w, "right", yours, expected, "")


def _likely(w: str, known: list[tuple[Any, np.ndarray]], p: _Point) -> str:
    """'; likely: ...' from the catalogue's gradients at the class example (``known``,
    `manual.catalogue.candidates`), judged on this one number (4× the gradient check's
    tolerance, as there), or another weight's."""
    i = WEIGHT_NAMES.index(w)
    near = 4 * p.tolerance[i]
    found = [s.sentence for s, want in known if abs(p.got[i] - want[i]) <= near]
    found += [f"it is dE_total/d{x}, another weight's gradient" for x in ORDER
              if x != w and abs(p.got[i] - p.expected[x]) <= near]
    if not found:
        return "; no known mistake matches"
    return "; likely: " + " or ".join(dict.fromkeys(found))
