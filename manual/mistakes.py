"""Common mistakes: deliberately wrong variants of the manual backend, one wrong line each.

Run one as a backend (``--backends manual,mistake:missing-e2-path``) to see what a wrong
derivation looks like and to watch the harness catch it. ``autograd-compare mistakes`` lists
them. Formula mistakes carry ``weight_gradients(v, w, example)``, a drop-in for
`manual.gradients.weight_gradients` (plain arithmetic, so it also runs on SymPy symbols in
object arrays); mistakes in the forward pass or the training loop reuse manual's formulas.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from autograd_compare.errors import InputError
from autograd_compare.interface import Example, Forward, Gradients, RawBackend
from autograd_compare.manual import gradients as right
from autograd_compare.manual.network import forward_values
from autograd_compare.naming import node_values
from autograd_compare.network import BackwardPass, Data, ForwardPass, Network, describe
from autograd_compare.optimizers import Optimizer
from autograd_compare.types import Array, BatchResult, Resume, Trajectory

SWAP_W2_W3 = [0, 2, 1, 3, 4, 5, 6, 7]  # w1, w3, w2, w4, w5..w8


class Mistake(NamedTuple):
    name: str  # "no-sigmoid-derivative"; the backend is "mistake:no-sigmoid-derivative"
    description: str  # one line
    make: Callable[[np.dtype], RawBackend]  # raw backend (no input checks)
    weight_gradients: Callable | None  # wrong dw1..dw8 formulas, or None if they are right


# --- the chain rule, node by node; each formula mistake changes exactly one marked line ------
def _backward(v: dict, w, example: Example, kind: str) -> dict:
    """dE_total/d(node) and dE_total/dw1..dw8 by the chain rule, with mistake ``kind``.

    Args: as `manual.gradients.weight_gradients`. Returns: dict of node names and "dw" (8,).
    """
    w1, w2, w3, w4, w5, w6, w7, w8 = np.moveaxis(w, -1, 0)
    i1, i2 = example.inputs
    t1, t2 = example.targets
    a_h1, a_h2, a_o1, a_o2 = v["a_h1"], v["a_h2"], v["a_o1"], v["a_o2"]
    g_a_o1, g_a_o2 = a_o1 - t1, a_o2 - t2  # ∂E1/∂a_o1, ∂E2/∂a_o2
    if kind == "mean-loss":  # WRONG: E_total = (E1 + E2)/2 halves every gradient
        g_a_o1, g_a_o2 = (a_o1 - t1) / 2, (a_o2 - t2) / 2
    g_o1, g_o2 = g_a_o1 * a_o1 * (1 - a_o1), g_a_o2 * a_o2 * (1 - a_o2)  # ·σ'(o)
    if kind == "no-sigmoid-derivative":  # WRONG: the factor a_o*(1 - a_o) is dropped
        g_o1, g_o2 = g_a_o1, g_a_o2
    g_a_h1 = g_o1 * w5 + g_o2 * w7  # E1 path through w5 plus E2 path through w7
    if kind == "missing-e2-path":  # WRONG: dE_total/da_h1 = dE1/da_h1 only
        g_a_h1 = g_o1 * w5
    g_a_h2 = g_o1 * w6 + g_o2 * w8
    g_h1, g_h2 = g_a_h1 * a_h1 * (1 - a_h1), g_a_h2 * a_h2 * (1 - a_h2)  # ·σ'(h)
    dw = [g_h1 * i1, g_h1 * i2, g_h2 * i1, g_h2 * i2,
          g_o1 * a_h1, g_o1 * a_h2, g_o2 * a_h1, g_o2 * a_h2]
    if kind == "swapped-weights":  # WRONG wiring: w2 feeds h2 from i1, w3 feeds h1 from i2
        dw[1], dw[2] = g_h2 * i1, g_h1 * i2
    return dict(h1=g_h1, h2=g_h2, a_h1=g_a_h1, a_h2=g_a_h2, o1=g_o1, o2=g_o2,
                a_o1=g_a_o1, a_o2=g_a_o2, dw=np.stack(dw, axis=-1))


def _formulas(kind: str) -> Callable:
    def weight_gradients(v: dict, w, example: Example) -> np.ndarray:
        return _backward(v, w, example, kind)["dw"]

    weight_gradients.__doc__ = f"dw1..dw8 with mistake {kind!r}; see `_backward`."
    return weight_gradients


# --- forward passes ---------------------------------------------------------------------------
def _forward_values(kind: str) -> Callable:
    def values(w, example: Example) -> dict:
        if kind == "swapped-weights":  # WRONG: h1 = w1*i1 + w3*i2, h2 = w2*i1 + w4*i2
            return forward_values(np.asarray(w)[..., SWAP_W2_W3], example)
        v = forward_values(w, example)
        if kind == "mean-loss":  # WRONG: averaged instead of summed
            v["E_total"] = (v["E1"] + v["E2"]) / 2
        return v

    return values


# --- one gradient-descent step: (weights, lr) -> (values, gradients used, new weights) --------
def _step(kind: str, values: Callable, formulas: Callable) -> Callable:
    def step(w, example: Example, lr):
        v = values(w, example)
        g = formulas(v, w, example)
        if kind == "update-sign":  # WRONG: w_new = w_old + lr * dE_total/dw (climbs the error)
            return v, g, w + lr * g
        if kind == "updated-weights-in-hidden":  # WRONG: dw1..dw4 from the new w5..w8
            w_out_new = w[..., 4:] - lr * g[..., 4:]
            w_mixed = np.concatenate([w[..., :4], w_out_new], axis=-1)
            g = np.concatenate([formulas(v, w_mixed, example)[..., :4], g[..., 4:]], axis=-1)
        return v, g, w - lr * g

    return step


# --- the backend around them ------------------------------------------------------------------
def _backend(kind: str, dtype: np.dtype, values: Callable, formulas: Callable) -> RawBackend:
    step = _step(kind, values, formulas)
    pair = lambda v, a, b: np.stack([v[a], v[b]])  # noqa: E731

    def forward(w, example: Example) -> Forward:
        v = values(w, example)
        return Forward(pair(v, "h1", "h2"), pair(v, "a_h1", "a_h2"), pair(v, "o1", "o2"),
                       pair(v, "a_o1", "a_o2"), pair(v, "E1", "E2"), np.asarray(v["E_total"]))

    def gradients(w, example: Example) -> Gradients:
        v = values(w, example)
        n = _backward(v, w, example, kind)  # node gradients: right for non-formula kinds
        return Gradients(formulas(v, w, example), pair(n, "h1", "h2"), pair(n, "a_h1", "a_h2"),
                         pair(n, "o1", "o2"), pair(n, "a_o1", "a_o2"))

    def train(w, example: Example, *, lr: float, steps: int, record: bool = False) -> Trajectory:
        lr = w.dtype.type(lr)
        weights = np.empty((steps + 1, w.size), w.dtype)
        loss, grads = np.empty(steps, w.dtype), np.empty((steps, w.size), w.dtype)
        weights[0] = w
        for k in range(steps):
            v, grads[k], weights[k + 1] = step(weights[k], example, lr)
            loss[k] = v["E_total"]
        if not record:
            return Trajectory(loss, weights, grads)
        # what forward and gradients give (a wrong update's gradient may differ from them)
        with np.errstate(over="ignore", invalid="ignore"):
            f, g = zip(*[(forward(wk, example), gradients(wk, example)) for wk in weights],
                       strict=True)
        return Trajectory(loss, weights, grads, nodes=np.array([node_values(x) for x in f]),
                          node_grads=np.array([np.concatenate([x.h, x.a_h, x.o, x.a_o])
                                               for x in g]),
                          weight_grads=np.array([x.w for x in g]))

    def train_batch(w, lr, example: Example, *, steps: int, threshold: float | None = None,
                    keep_loss: bool = False) -> BatchResult:
        from autograd_compare.manual.mlp import descend_batch

        rate = lr[:, None]
        return descend_batch(lambda w: (values(w, example)["E_total"], None),
                             lambda w, _: step(w, example, rate)[2], w, steps, threshold,
                             keep_loss)

    return RawBackend(f"mistake:{kind}", np.dtype(dtype), forward, gradients, train, train_batch)


def _mistake(kind: str, description: str, wrong_formulas: bool) -> Mistake:
    formulas = _formulas(kind) if wrong_formulas else right.weight_gradients
    values = _forward_values(kind)
    return Mistake(kind, description,
                   lambda dtype: _backend(kind, dtype, values, formulas),
                   formulas if wrong_formulas else None)


MISTAKES: dict[str, Mistake] = {m.name: m for m in (
    _mistake("no-sigmoid-derivative",
             "dE_total/do1 = a_o1 - t1: the sigmoid's derivative a_o1*(1 - a_o1) is dropped",
             wrong_formulas=True),
    _mistake("update-sign",
             "w_new = w_old + lr * dE_total/dw: the step goes uphill", wrong_formulas=False),
    _mistake("updated-weights-in-hidden",
             "dE_total/dw1..dw4 use w5..w8 already updated in the same step "
             "(a slip in a widely copied example)", wrong_formulas=False),
    _mistake("mean-loss",
             "E_total = (E1 + E2)/2: the loss is averaged instead of summed, halving every "
             "gradient", wrong_formulas=True),
    _mistake("missing-e2-path",
             "dE_total/da_h1 = dE1/da_h1 only: the path through w7 and E2 is forgotten",
             wrong_formulas=True),
    _mistake("swapped-weights",
             "w2 and w3 exchanged: h1 = w1*i1 + w3*i2 and h2 = w2*i1 + w4*i2 "
             "(the weight matrix read transposed)", wrong_formulas=True),
)}


class MistakeBackend(NamedTuple):
    """A mistake's functions on any network, unchecked (`registry.get_network_backend` checks
    and converts, as for every backend's modules)."""

    forward: Callable[[Network, Array, Data], ForwardPass]
    gradients: Callable[[Network, Array, Data], BackwardPass]
    train: Callable[[Network, Array, Data, Optimizer, int, Resume | None], Trajectory]
    # (net, w (N, P), lr (N,), data, opt, steps, threshold, keep_loss); None: no batched form
    train_batch: Callable[[Network, Array, Array, Data, Optimizer, int, float | None, bool],
                          BatchResult] | None = None


def network_backend(kind: str, dtype) -> MistakeBackend:
    """The backend ``mistake:<kind>`` behind the one interface (`compare.backend.Backend`).

    A mistake of the tutorial's formulas (`MISTAKES`) runs on the tutorial's network and one
    example, with plain gradient descent (`check_tutorial_use` says so first); a mistake of an
    update rule (`manual.optim.MISTAKES`) trains with manual's optimizers and has manual's
    forward pass and gradients, on any network."""
    from autograd_compare.manual import mlp, optim

    dt = np.dtype(dtype)
    name = f"mistake:{kind}"
    if kind not in MISTAKES and kind not in optim.MISTAKES:
        raise InputError(f"unknown mistake {name!r}; expected mistake: and one of "
                         + ", ".join([*MISTAKES, *optim.MISTAKES]))
    if kind in optim.MISTAKES:
        def train_rule(net: Network, w: Array, data: Data, opt: Optimizer, steps: int,
                       resume: Resume | None) -> Trajectory:
            return optim.train(net, w, data, opt, steps, resume, kind)

        return MistakeBackend(mlp.forward, mlp.gradients, train_rule)
    raw = make(kind, dt)

    def forward(net: Network, w: Array, data: Data) -> ForwardPass:
        f = raw.forward(w, _example(name, net, data))
        return ForwardPass((f.h[None], f.o[None]), (f.a_h[None], f.a_o[None]),
                          f.E_total[None], f.E_total)

    def gradients(net: Network, w: Array, data: Data) -> BackwardPass:
        g = raw.gradients(w, _example(name, net, data))
        return BackwardPass(g.w, (g.h[None], g.o[None]), (g.a_h[None], g.a_o[None]))

    def train(net: Network, w: Array, data: Data, opt: Optimizer, steps: int,
              resume: Resume | None) -> Trajectory:
        check_tutorial_use(name, net, data, opt)  # plain: a resumed run starts from w
        out = raw.train(w, _example(name, net, data), lr=opt.lr, steps=steps)
        return out._replace(state=np.empty((steps, 0), dt))

    def train_batch(net: Network, w: Array, lr: Array, data: Data, opt: Optimizer, steps: int,
                    threshold: float | None, keep_loss: bool) -> BatchResult:
        check_tutorial_use(name, net, data, opt)  # the rows' own rates: plain gradient descent
        return raw.train_batch(w, lr, _example(name, net, data), steps=steps,
                               threshold=threshold, keep_loss=keep_loss)

    return MistakeBackend(forward, gradients, train, train_batch)


def check_tutorial_use(name: str, net: Network, data: Data, opt: Optimizer | None = None) -> None:
    """A one-line `InputError` unless a mistake of the tutorial's formulas can run here: the
    tutorial's network, one example, plain gradient descent."""
    from autograd_compare.backend import is_plain
    from autograd_compare.network import TUTORIAL

    if net != TUTORIAL or np.shape(data.inputs)[0] != 1 or (opt is not None
                                                            and not is_plain(opt)):
        raise InputError(f"backend {name!r} is a mistake in the tutorial's formulas: it runs on "
                         "the tutorial's network (--preset tutorial) with one example and plain "
                         f"gradient descent (sgd); got {describe(net)}, "
                         f"{np.shape(data.inputs)[0]} examples"
                         + ("" if opt is None else f", optimizer {opt.kind}"))


def _example(name: str, net: Network, data: Data) -> Example:
    check_tutorial_use(name, net, data)
    return Example(data.inputs[0], data.targets[0])


def make(kind: str, dtype) -> RawBackend:
    """The raw backend ``mistake:<kind>``; `compare.get_backend` adds the input checks."""
    if kind not in MISTAKES:
        raise InputError(f"unknown mistake {kind!r}; expected one of "
                         + ", ".join(f"mistake:{k}" for k in MISTAKES))
    return MISTAKES[kind].make(np.dtype(dtype))
