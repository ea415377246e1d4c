"""What a wrong backward pass most likely did: known mistakes, computed on the same network.

Each entry is the δ recursion of `manual.mlp` with one mistake a student (or a library) makes;
`diagnose` computes every entry's dE/dw at the same weights and data and names those the wrong
values match. On the tutorial's network the sentences use its notation (dE_total/dh1, a_o1).

Gradient mistakes (seen at the gradient check):
  no-activation-derivative  δ_l = dE/da_l: f'(z_l) left out, at one layer
  missing-path              dE/da_j of the last hidden layer takes one output's path only
  transposed-gradient       dW_l written as a_{l-1}ᵀ δ_l (in, out) into the (out, in) slot
  transposed-weights        W_l read transposed (h1 = w1*i1 + w3*i2): forward and backward
  backward-transposed       δ_{l-1} from δ_l W_lᵀ instead of δ_l W_l (square W_l)
  wrong-layer-weights       δ_{l-1} through another layer's W of the same shape
  softmax-twice             the softmax Jacobian applied to (a - t), which already is dE/dz
  sign                      (t - a) for (a - t): every gradient negated
  factor                    ×2 (the ½ of ½Σ(t - a)² lost), ×½, ×B or ×1/B (sum vs mean)
Update mistakes (seen in the first update of plain gradient descent, `diagnose_update`):
  update-sign               w + lr·g: uphill
  updated-weights           lower layers' gradients through the already updated W_L
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

import numpy as np

from autograd_compare.manual import mlp
from autograd_compare.network import (
    Data,
    Network,
    is_tutorial_shape,
    layout,
    n_params,
)
from autograd_compare.types import Array


class Suspect(NamedTuple):
    name: str  # a catalogue entry: "no-activation-derivative"
    sentence: str  # what was done, in the network's notation


class Wrong(NamedTuple):
    """One mistake inside the δ recursion (None: done right)."""

    no_derivative: int | None = None  # layer whose f' is left out
    only_path: tuple[int, int] | None = None  # (hidden unit j, output k): one path only
    transposed_dW: int | None = None
    transposed_W: int | None = None  # forward and backward
    backward_T: int | None = None  # layer whose W is used transposed going back
    through: tuple[int, int] | None = None  # (layer, the layer whose W is used instead)
    softmax_twice: bool = False
    back: Array | None = None  # (P,): the weights used going back (the forward uses w)


RIGHT = Wrong()  # no mistake
MAX_PATHS = 64  # missing-path is looked for when (last hidden width) x (outputs) is at most this


def backward(net: Network, w: Array, data: Data, wrong: Wrong = RIGHT) -> Array:
    """dE/dw (P,) by the δ recursion with the mistake ``wrong`` (w (P,), any batch)."""
    x, t = data.inputs, data.targets
    lays = layout(net)
    v = w.copy()
    if wrong.transposed_W is not None:  # WRONG: W_l read column-wise
        lay = lays[wrong.transposed_W]
        v[lay.W] = w[lay.W].reshape(lay.W_shape).T.ravel()
    zs, as_, _ = mlp.forward_pass(net, v, x, t)
    params = mlp.unpack_params(net, v if wrong.back is None else wrong.back, v.dtype)
    c = mlp.example_scale(net, x.shape[0], v.dtype, data.weights)
    L, a = net.layers, as_[-1]
    if net.loss == "cross-entropy":
        dz = c * (a * t.sum(axis=-1, keepdims=True) - t)
        if wrong.softmax_twice:  # WRONG: the softmax Jacobian once more
            dz = a * (dz - (a * dz).sum(axis=-1, keepdims=True))
    elif net.loss == "bce":
        dz = c * (a - t)  # σ(z_L) - t, from the logits
    elif net.loss == "nll":
        dz = c * (np.exp(a) * t.sum(axis=-1, keepdims=True) - t)  # a = log softmax(z_L)
    else:
        dz = (c if net.loss == "half-sse" else 2 * c) * (a - t)
        if wrong.no_derivative != L - 1:  # WRONG when equal: f' of the output left out
            dz = dz * mlp.derivative(net.activations[-1], zs[-1], a)
    deltas = [dz]
    for l in range(L - 2, -1, -1):
        m = wrong.through[1] if wrong.through and wrong.through[0] == l + 1 else l + 1
        W = params[m][0]
        if wrong.backward_T == l + 1:  # WRONG: δ_{l+1} W_{l+1}ᵀ
            W = W.T
        da = dz @ W
        if wrong.only_path is not None and l == L - 2:  # WRONG: unit j, output k's path only
            j, k = wrong.only_path
            da[:, j] = dz[:, k] * W[k, j]
        if wrong.no_derivative != l:  # WRONG when equal: f'(z_l) left out
            da = da * mlp.derivative(net.activations[l], zs[l], as_[l])
        dz = da
        deltas.insert(0, dz)
    dw = np.empty_like(w)
    for l, lay in enumerate(lays):
        prev = x if l == 0 else as_[l - 1]
        dW = deltas[l].T @ prev  # δ_lᵀ a_{l-1}: (out, in)
        if wrong.transposed_dW == l:  # WRONG: a_{l-1}ᵀ δ_l, (in, out), written row by row
            dW = prev.T @ deltas[l]
        if wrong.transposed_W == l:  # the gradient of W_lᵀ, put back where w sits
            dW = dW.T
        dw[lay.W] = dW.ravel()
        if lay.b is not None:
            dw[lay.b] = deltas[l].sum(axis=0)
    return dw


def _layer(net: Network, l: int) -> str:
    if is_tutorial_shape(net):
        return ("the hidden layer (h1, h2)", "the output layer (o1, o2)")[l]
    return f"layer {l + 1} ({net.activations[l]})"


def _derivative(net: Network, l: int) -> str:
    if is_tutorial_shape(net):
        n = "ho"[l]
        return (f"σ'({n}1) left out: dE_total/d{n}1 = dE_total/da_{n}1, without the factor "
                f"a_{n}1(1 - a_{n}1)")
    return f"{_layer(net, l)}: f'(z{l + 1}) left out, dE/dz{l + 1} = dE/da{l + 1}"


def _path(net: Network, j: int, k: int) -> str:
    if is_tutorial_shape(net):
        other = 2 - k
        return (f"dE_total/da_h{j + 1} takes only E{k + 1}'s path (through o{k + 1}); the "
                f"path through o{other} and E{other} is forgotten")
    return (f"dE/da{net.layers - 1}[{j}] takes only output {k}'s path; the other outputs' "
            "paths are forgotten")


def _gradient_suspects(net: Network) -> Iterator[tuple[Suspect, Wrong]]:
    L, shapes = net.layers, [lay.W_shape for lay in layout(net)]
    out_act = net.activations[-1]
    for l in range(L):
        if l < L - 1 or net.loss in ("half-sse", "mse"):  # the others' δ_L has no f' factor
            if net.activations[l] != "identity":
                yield Suspect("no-activation-derivative", _derivative(net, l)), \
                    Wrong(no_derivative=l)
        yield Suspect("transposed-gradient", f"dW{l + 1} of {_layer(net, l)} computed as "
                      f"a{l}ᵀ·δ{l + 1} (in, out) and written where (out, in) belongs"), \
            Wrong(transposed_dW=l)
        if shapes[l][0] == shapes[l][1] and shapes[l][0] > 1:
            yield Suspect("transposed-weights", f"the weights of {_layer(net, l)} read "
                          "transposed (W{0}ᵀ for W{0})".format(l + 1)), Wrong(transposed_W=l)
            if l > 0:
                yield Suspect("backward-transposed", f"dE/da{l} = δ{l + 1}·W{l + 1}ᵀ instead "
                              f"of δ{l + 1}·W{l + 1}"), Wrong(backward_T=l)
        for m in range(L):
            if l > 0 and m != l and shapes[m] == shapes[l]:
                yield Suspect("wrong-layer-weights", f"backpropagated through W{m + 1} where "
                              f"W{l + 1} ({_layer(net, l)}) belongs"), Wrong(through=(l, m))
    if L > 1 and 1 < net.sizes[-1] and net.sizes[-2] * net.sizes[-1] <= MAX_PATHS:
        for j in range(net.sizes[-2]):
            for k in range(net.sizes[-1]):
                yield Suspect("missing-path", _path(net, j, k)), Wrong(only_path=(j, k))
    if net.loss == "cross-entropy" and out_act == "softmax":
        yield Suspect("softmax-twice", "the softmax derivative applied to a - t, which is "
                      "already dE/dz of softmax with cross-entropy"), Wrong(softmax_twice=True)


def _factors(net: Network, B: int) -> Iterator[tuple[Suspect, float]]:
    E = "E_total" if is_tutorial_shape(net) else "E"
    yield Suspect("sign", f"every gradient negated: (t - a) used for d{E}/da = (a - t)"), -1.0
    half = net.loss == "half-sse"
    yield Suspect("factor", "every gradient ×2: d/da of ½(t - a)² taken as 2(a - t)"
                  if half else "every gradient ×2"), 2.0
    yield Suspect("factor", f"every gradient ×½: {E} averaged over the {net.sizes[-1]} "
                  "outputs, or the ½ counted twice" if half else "every gradient ×½"), 0.5
    if B > 1:
        mean = net.reduction != "sum"
        yield Suspect("factor", f"every gradient ×{B}: summed over the {B} examples where "
                      "the loss is their mean" if mean else f"every gradient ×{B}"), float(B)
        yield Suspect("factor", f"every gradient ×1/{B}: averaged over the {B} examples where "
                      "the loss is their sum" if not mean else f"every gradient ×1/{B}"), 1 / B


def _float64(data: Data) -> Data:
    return Data(np.asarray(data.inputs, np.float64), np.asarray(data.targets, np.float64),
                data.weights)


def candidates(net: Network, w: Array, data: Data) -> list[tuple[Suspect, Array]]:
    """Every catalogue entry's dE/dw (P,) at ``w`` on ``data`` (float64)."""
    w, d = np.asarray(w, np.float64), _float64(data)
    right = backward(net, w, d)
    out = [(s, backward(net, w, d, wrong)) for s, wrong in _gradient_suspects(net)]
    return out + [(s, f * right) for s, f in _factors(net, d.inputs.shape[0])]


def _matches(got: Array, want: Array, tolerance: Array) -> bool:
    """``got`` is ``want`` within 4× the gradient check's ``tolerance`` (the mistake is
    computed in another order than the backend's)."""
    return bool((np.abs(got - want) <= 4 * tolerance).all())


def diagnose(net: Network, w: Array, data: Data, got: Array, tolerance: Array
             ) -> tuple[Suspect, ...]:
    """The entries whose dE/dw matches ``got`` (P,), a backend's that failed the gradient
    check, within ``tolerance`` (P,); () when none does."""
    got = np.asarray(got, np.float64)
    if got.shape != (n_params(net),):
        return ()
    return tuple(dict.fromkeys(s for s, want in candidates(net, w, data)
                               if _matches(got, want, tolerance)))


def diagnose_update(net: Network, w0: Array, w1: Array, data: Data, lr: float,
                    tolerance: Array) -> tuple[Suspect, ...]:
    """The update mistakes whose first plain gradient-descent step from ``w0`` lands on ``w1``
    (P,) within ``tolerance`` (P,) of the weights."""
    w0 = np.asarray(w0, np.float64)
    d = _float64(data)
    g = backward(net, w0, d)
    out = []
    if _matches(np.asarray(w1, np.float64), w0 + lr * g, tolerance):
        out.append(Suspect("update-sign", "w + lr·dE/dw: the step goes uphill"))
    last = layout(net)[-1]
    ahead = w0.copy()  # WRONG: the last layer's W already updated when going back
    ahead[last.W] -= lr * g[last.W]
    early = backward(net, w0, d, Wrong(back=ahead))
    moved = w0 - lr * np.where(np.arange(w0.size) < last.W.start, early, g)
    if net.layers > 1 and _matches(np.asarray(w1, np.float64), moved, tolerance):
        hidden = "dw1..dw4" if is_tutorial_shape(net) else "the lower layers' gradients"
        top = "w5..w8" if is_tutorial_shape(net) else f"W{net.layers}"
        out.append(Suspect("updated-weights", f"{hidden} computed with {top} already updated "
                           "in the same step"))
    return tuple(out)
