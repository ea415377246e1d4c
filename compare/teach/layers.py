"""The δ recursion with numbers, for any network (`compare.network`): one example, then the batch.

For a network that is not the tutorial's 2-2-2 shape, the chain rule is written layer by layer
in matrix form, as `manual.mlp` computes it (column vectors for one example b):

    forward   z_l = W_l a_{l-1} + b_l,   a_l = f_l(z_l),   a_0 = x
    δ_L       = ∂E/∂z_L from the loss and the last activation (`delta_formula`)
    δ_l       = (W_{l+1}ᵀ δ_{l+1}) ⊙ f_l'(z_l)
    ∂E/∂W_l   = Σ_b δ_l a_{l-1}ᵀ,   ∂E/∂b_l = Σ_b δ_l

`explain_layers` works every quantity out by hand for example ``example`` (in the dtype, with
`manual.mlp.derivative` for each f'), and puts beside each one the same quantity from every
installed backend (forward values, dE/dz and dE/da per example from their ``mlp`` modules,
and their dE/dW, dE/db for the whole batch). `render_layers` prints it compactly: a matrix
is a few rows, the batch is one sum, never 150 examples.
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

import numpy as np

from autograd_compare.errors import InputError
from autograd_compare.manual import mlp
from autograd_compare.network import (
    CLASS_LOSSES,
    Data,
    Network,
    activation_of,
    describe,
    layout,
    reduction_scale,
)
from autograd_compare.registry import get_network_backend
from autograd_compare.teach.explain import per_backend

# f'(z) as manual/mlp.py writes it (`mlp.derivative`), in terms of a = f(z) or of z; by kind
DERIVATIVES = {"sigmoid": "a ⊙ (1 - a)", "tanh": "1 - a ⊙ a", "relu": "1 where z > 0, else 0",
               "identity": "1", "leaky-relu": "1 where z > 0, else the slope",
               "elu": "1 where z > 0, else α·e^z", "gelu": "Φ(z) + z ⊙ φ(z)",
               "softplus": "σ(z), 1 where z > 20", "silu": "σ(z) ⊙ (1 + z ⊙ (1 - σ(z)))"}


class Quantity(NamedTuple):
    """One printed vector or matrix: ``symbol = formula = value``, and the backends' own."""

    symbol: str  # "δ1", "∂E/∂W2"
    formula: str  # "(W2ᵀ δ2) ⊙ f1'(z1)"
    value: np.ndarray  # in the explanation's dtype
    backends: dict  # label -> np.ndarray (the same quantity) or the reason it is missing
    section: str  # "forward", "example", "batch"


class LayerExplanation(NamedTuple):
    network: Network
    example: int  # the example worked out, numbered from 1
    batch: int  # B
    scale: float  # c in E = c · Σ_b loss_b
    dtype: str
    inputs: np.ndarray  # x of the example (n_0,)
    targets: np.ndarray  # t of the example (n_L,)
    params: tuple  # per layer (W_l, b_l or None) in the dtype
    quantities: tuple[Quantity, ...]
    loss: float  # loss_b of the example
    E: float  # E over the whole batch
    source: str = ""  # "preset iris", "your network"


def delta_formula(net: Network) -> str:
    """δ_L = ∂E/∂z_L as `manual.mlp` computes it for the network's loss and last activation."""
    L = net.layers
    if net.loss == "cross-entropy":
        return f"c · (a{L} Σ_j t_j - t)"
    if net.loss == "bce":
        return f"c · (σ(z{L}) - t) = c · (a{L} - t)"
    if net.loss == "nll":
        return f"∂E/∂a{L} - e^a{L} Σ_j (∂E/∂a{L})_j = c · (e^a{L} Σ_j t_j - t)"
    two = "2" if net.loss == "mse" else ""
    return f"c · {two}(a{L} - t) ⊙ f{L}'(z{L})"


def _loss_text(net: Network) -> str:
    L = net.layers
    return {"half-sse": f"½ Σ_j (t_j - a{L}_j)²", "mse": f"Σ_j (t_j - a{L}_j)²",
            "cross-entropy": f"-Σ_j t_j log a{L}_j",
            "bce": f"Σ_j softplus(z{L}_j) - t_j z{L}_j  (= -Σ_j t_j log a{L}_j + (1 - t_j) "
                   f"log(1 - a{L}_j))",
            "nll": f"-Σ_j t_j a{L}_j  (a{L} = log softmax(z{L}))"}[net.loss]


def _scale_text(net: Network, batch: int) -> str:
    if net.reduction == "sum":
        return "c = 1 (reduction sum)"
    if net.loss in CLASS_LOSSES or net.reduction == "mean-examples":
        return f"c = 1/B = 1/{batch} (reduction mean over the examples)"
    return (f"c = 1/(B·n_{net.layers}) = 1/{batch * net.sizes[-1]} (reduction mean over the "
            "elements, as PyTorch's MSELoss)")


def _backend_values(net: Network, w: np.ndarray, data: Data, dt: np.dtype, k: int) -> dict:
    """label -> {key: array} from each backend, or the reason it is unavailable."""
    lay = layout(net)

    def values(name: str) -> dict:
        b = get_network_backend(name, dt)
        f, g = b.forward(net, w, data), b.gradients(net, w, data)
        vals: dict[str, Any] = {"E": f.E}
        prev = data.inputs[k]
        for l in range(net.layers):
            vals[f"z{l + 1}"], vals[f"a{l + 1}"] = f.z[l][k], f.a[l][k]
            vals[f"δ{l + 1}"] = g.z[l][k]
            da = g.a[l]
            if da is not None:
                vals[f"da{l + 1}"] = da[k]
            vals[f"dW{l + 1}_k"] = np.outer(g.z[l][k], prev)  # their δ with their a
            prev = f.a[l][k]
            vals[f"dW{l + 1}"] = g.w[lay[l].W].reshape(lay[l].W_shape)
            vals[f"db{l + 1}"] = (g.w[lay[l].b] if lay[l].b is not None
                                  else g.z[l].sum(axis=0))  # Σ_b δ_l (frozen/no bias too)
        return vals

    return per_backend(values)


def explain_layers(net: Network, w, data: Data, example: int = 1, dtype: Any = "float64",
                   source: str = "") -> LayerExplanation:
    """Every quantity of the δ recursion for example ``example`` and the batch sums.

    Args:
        net: any network. w: its flat parameter vector (P,). data: the batch (B rows).
        example: the example worked out, numbered from 1 (row ``example - 1`` of the data),
            as everywhere a person reads it. dtype: "float64" or "float32".

    Raises:
        InputError: ``example`` is not a row of ``data``.
    """
    dt = np.dtype(dtype)
    batch = int(np.shape(data.inputs)[0])
    if isinstance(example, bool) or not isinstance(example, (int, np.integer)) or not (
            1 <= example <= batch):
        raise InputError(f"--example {example!r} is out of range: the data has {batch} "
                         f"example{'s' if batch != 1 else ''} (1..{batch})")
    w = np.asarray(w, dt)
    data = Data(np.asarray(data.inputs, dt), np.asarray(data.targets, dt))
    k = int(example) - 1  # the row
    x, t = data.inputs[k], data.targets[k]
    params = [(W, b) for W, b in mlp.unpack_params(net, w, dt)]
    c = dt.type(reduction_scale(net, batch))
    theirs = _backend_values(net, w, data, dt, k)

    def q(key: str, symbol: str, formula: str, value, section: str) -> Quantity:
        return Quantity(symbol, formula, np.asarray(value, dt),
                        {label: v if isinstance(v, str) else v[key]
                         for label, v in theirs.items()}, section)

    qs: list[Quantity] = []
    zs, as_ = [], []
    a = x
    for l, ((W, b), f) in enumerate(zip(params, net.activations, strict=True), start=1):
        z = W @ a if b is None else W @ a + b
        a = mlp.activation(f, z)
        zs.append(z)
        as_.append(a)
        bias = "" if b is None else f" + b{l}"
        qs.append(q(f"z{l}", f"z{l}", f"W{l} a{l - 1}{bias}", z, "forward"))
        qs.append(q(f"a{l}", f"a{l}", f"{f}(z{l})", a, "forward"))
    L = net.layers
    loss = mlp.example_losses(net, zs[-1][None, :], as_[-1][None, :], t[None, :])[0]
    # backward, example k (δ_l = ∂E/∂z_l of this example: c is inside)
    deltas: list[np.ndarray] = [np.empty(0, dt)] * L

    def through(l: int, da: np.ndarray, formula: str) -> None:
        """δ_l = ∂E/∂a_l ⊙ f_l'(z_l), with the rule f_l' shown."""
        act = net.activations[l - 1]
        fp = mlp.derivative(act, zs[l - 1], as_[l - 1])
        rule = DERIVATIVES[activation_of(act).kind]
        qs.append(Quantity(f"f{l}'(z{l})", f"{rule}  ({act}, a = a{l})", fp, {}, "example"))
        deltas[l - 1] = da * fp
        qs.append(q(f"δ{l}", f"δ{l}", formula, deltas[l - 1], "example"))

    if net.loss in ("cross-entropy", "bce"):  # from the logits z_L
        deltas[-1] = c * (as_[-1] * t.sum() - t) if net.loss == "cross-entropy" else \
            c * (as_[-1] - t)
        pair = "softmax with cross-entropy" if net.loss == "cross-entropy" else "sigmoid with bce"
        qs.append(q(f"δ{L}", f"δ{L}", delta_formula(net) + f"  ({pair}, from the logits z{L})",
                    deltas[-1], "example"))
    elif net.loss == "nll":
        da = -c * t
        qs.append(q(f"da{L}", f"∂E/∂a{L}", "-c · t", da, "example"))
        deltas[-1] = da - np.exp(as_[-1]) * da.sum()
        qs.append(q(f"δ{L}", f"δ{L}", delta_formula(net) + "  (through log-softmax)",
                    deltas[-1], "example"))
    else:
        k2 = c if net.loss == "half-sse" else 2 * c
        da = k2 * (as_[-1] - t)
        qs.append(q(f"da{L}", f"∂E/∂a{L}", f"c · {'2' if net.loss == 'mse' else ''}"
                    f"(a{L} - t)", da, "example"))
        through(L, da, f"∂E/∂a{L} ⊙ f{L}'(z{L})")
    for l in range(L - 1, 0, -1):  # 1-based layer l below layer l+1
        da = params[l][0].T @ deltas[l]
        qs.append(q(f"da{l}", f"∂E/∂a{l}", f"W{l + 1}ᵀ δ{l + 1}", da, "example"))
        through(l, da, f"(W{l + 1}ᵀ δ{l + 1}) ⊙ f{l}'(z{l})")
    prev = x
    for l in range(1, L + 1):
        qs.append(q(f"dW{l}_k", f"∂E/∂W{l} (example {k + 1})", f"δ{l} a{l - 1}ᵀ",
                    np.outer(deltas[l - 1], prev), "example"))
        prev = as_[l - 1]
    # the batch: the same recursion for every row at once (manual.mlp), then the sums
    f_all = mlp.forward(net, w, data)
    dz = mlp.backward_pass(net, w, data.inputs, data.targets, f_all.z, f_all.a)[1]
    for l in range(1, L + 1):
        prev_all = data.inputs if l == 1 else f_all.a[l - 2]
        qs.append(q(f"dW{l}", f"∂E/∂W{l}", f"Σ_b δ{l} a{l - 1}ᵀ  (over the {batch} "
                    "examples)" if batch > 1 else f"δ{l} a{l - 1}ᵀ", dz[l - 1].T @ prev_all,
                    "batch"))
        if params[l - 1][1] is not None:
            frozen = net.bias == "frozen"
            qs.append(q(f"db{l}", f"∂E/∂b{l}", (f"Σ_b δ{l}" if batch > 1 else f"δ{l}")
                        + ("  (frozen: not updated)" if frozen else ""),
                        dz[l - 1].sum(axis=0), "batch"))
    return LayerExplanation(net, k + 1, batch, float(c), dt.name, x, t, tuple(params), tuple(qs),
                            float(loss), float(f_all.E), source)


# --- output ------------------------------------------------------------------------------------
def _fmt(x: float) -> str:
    return f"{float(x): .8g}"


def _rows(value: np.ndarray) -> list[str]:
    """A vector on one line, a matrix one row a line, each entry right-aligned."""
    m = np.atleast_2d(value)
    cells = [[_fmt(x) for x in row] for row in m]
    width = max(len(c) for row in cells for c in row)
    return ["[" + " ".join(c.rjust(width) for c in row) + " ]" for row in cells]


def largest_diff(value: np.ndarray, other: np.ndarray) -> float:
    """max |other - value| / max |value| (the scale of the whole vector or matrix)."""
    value = np.asarray(value, np.float64)
    scale = float(np.max(np.abs(value))) if value.size else 0.0
    diff = float(np.max(np.abs(np.asarray(other, np.float64) - value))) if value.size else 0.0
    return diff / scale if scale else diff


def _shape(value: np.ndarray) -> str:
    return "×".join(map(str, value.shape)) if value.ndim == 2 else str(value.size)


def _block(symbol: str, formula: str, value: np.ndarray, indent: str = "  ") -> list[str]:
    head = f"{indent}{symbol} = {formula}" if formula else f"{indent}{symbol}"
    rows = _rows(value)
    pad = " " * (len(indent) + 4)
    if len(rows) == 1 and len(head) + len(rows[0]) < 100:
        return [f"{head} = {rows[0]}"]
    return [f"{head}  ({_shape(value)})"] + [f"{pad}{r}" for r in rows]


def _vs(qs: list[Quantity]) -> list[str]:
    """One line per backend: its largest difference over the quantities shown above."""
    labels = [lab for q in qs for lab in q.backends]
    out = []
    for label in dict.fromkeys(labels):
        missing = [q.backends[label] for q in qs if isinstance(q.backends.get(label), str)]
        if missing:
            out.append(f"    {label:<22} not available: {missing[0]}")
            continue
        worst = max(((largest_diff(q.value, q.backends[label]), q.symbol) for q in qs
                     if label in q.backends), default=(0.0, ""))
        out.append(f"    {label:<22} largest difference {worst[0]:.1e} (at {worst[1]})")
    return out


def render_layers(ex: LayerExplanation) -> str:
    """Plain text: the notation, the parameters, example K forward and backward, the batch."""
    net, L = ex.network, ex.network.layers
    src = f" ({ex.source})" if ex.source else ""
    out = [f"Network{src}: {describe(net)}; {ex.batch} example{'s' if ex.batch != 1 else ''};"
           f" computed in {ex.dtype}",
           f"Layer l = 1..{L}: z_l = W_l a_(l-1) + b_l, a_l = f_l(z_l), a_0 = x; "
           f"loss_b = {_loss_text(net)}; E = c · Σ_b loss_b with {_scale_text(net, ex.batch)}",
           "Backward (manual/mlp.py): δ_l = ∂E/∂z_l;  δ_L = " + delta_formula(net)
           + ";  δ_l = (W_(l+1)ᵀ δ_(l+1)) ⊙ f_l'(z_l);  ∂E/∂W_l = Σ_b δ_l a_(l-1)ᵀ;  "
           "∂E/∂b_l = Σ_b δ_l", "", "Parameters"]
    for l, (W, b) in enumerate(ex.params, start=1):
        out += _block(f"W{l}", "", W)
        if b is not None:
            kind = "frozen" if net.bias == "frozen" else "trainable"
            out += _block(f"b{l} ({kind})", "", b)
    more = " (--example K picks another)" if ex.batch > 1 else ""
    out += ["", f"Example {ex.example} of {ex.batch}{more}"]
    out += _block("x = a0", "", ex.inputs) + _block("t", "", ex.targets)
    out += ["", "Forward"]
    qs = list(ex.quantities)
    fwd = [q for q in qs if q.section == "forward"]
    for q in fwd:
        out += _block(q.symbol, q.formula, q.value)
    out.append(f"  loss_{ex.example} = {_loss_text(net)} = {_fmt(ex.loss).strip()}")
    out.append(f"  E (all {ex.batch} examples) = {_fmt(ex.E).strip()}")
    out += ["  beside the frameworks' own forward pass (largest |difference| / largest |value|):",
            *_vs(fwd)]
    out += ["", f"Backward, example {ex.example} (δ_l = ∂E/∂z_l of this example, c inside)"]
    ex_qs = [q for q in qs if q.section == "example"]
    for q in ex_qs:
        out += _block(q.symbol, q.formula, q.value)
    out += ["  beside the frameworks' own gradients for this example (their ∂E/∂z, ∂E/∂a and "
            "δ a_(l-1)ᵀ from them):", *_vs([q for q in ex_qs if q.backends])]
    batch = [q for q in qs if q.section == "batch"]
    out += ["", f"Summed over the batch ({ex.batch} example{'s' if ex.batch != 1 else ''}; "
            f"{_scale_text(net, ex.batch).split(' (')[0]} is inside each δ)"]
    for q in batch:
        out += _block(q.symbol, q.formula, q.value)
    out += ["  beside the frameworks' own gradients (dE/dW, dE/db of the whole batch):",
            *_vs(batch)]
    return "\n".join(out)


def layers_json(ex: LayerExplanation) -> str:
    """The same as JSON (arrays as nested lists of floats)."""
    def arr(v: Any) -> Any:
        return v if isinstance(v, str) else np.asarray(v, np.float64).tolist()

    return json.dumps({
        "network": describe(ex.network), "source": ex.source, "example": ex.example,
        "examples": ex.batch, "c": ex.scale, "dtype": ex.dtype, "inputs": arr(ex.inputs),
        "targets": arr(ex.targets), "loss": ex.loss, "E": ex.E,
        "delta_L": delta_formula(ex.network),
        "parameters": [{"W": arr(W), "b": None if b is None else arr(b)} for W, b in ex.params],
        "quantities": [{"symbol": q.symbol, "formula": q.formula, "section": q.section,
                        "value": arr(q.value),
                        "backends": {lab: ({"value": arr(v),
                                            "largest_diff": largest_diff(q.value, v)}
                                           if not isinstance(v, str) else {"unavailable": v})
                                     for lab, v in q.backends.items()}}
                       for q in ex.quantities]}, indent=2, ensure_ascii=False)
