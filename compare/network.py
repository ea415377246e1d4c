"""Any fully connected network: its description, its data, its parameter vector, the presets.

The tutorial's 2-2-2 sigmoid network is one case of this description (`TUTORIAL`); every
network goes through the ``mlp`` module of each backend (`manual.mlp`, `torch_impl.mlp`,
`jax_impl.mlp`), and the tutorial's functions (`compare.interface`) are a view of them
(`compare.tutorial_view`).

Layer l = 1..L of a network with sizes (n_0, n_1, ..., n_L), for the B examples of ``Data``
as rows (the layout of ``nn.Linear``):

    z_l = a_{l-1} @ W_lᵀ + b_l      W_l: (n_l, n_{l-1}), b_l: (n_l,), a_0 = inputs (B, n_0)
    a_l = f_l(z_l)                  f_l in ACTIVATIONS, softmax and log-softmax only for l = L; a
                                    parameter after a colon: leaky-relu:0.2 (slope), elu:0.5 (alpha)

    loss, per example b:  half-sse  ½ Σ_j (t_bj - a_bj)²          (the tutorial's E_total)
                          mse       Σ_j (t_bj - a_bj)²
                          cross-entropy  -Σ_j t_bj log softmax(z_L)_bj   (PyTorch's, from logits)
                          bce       Σ_j softplus(z_bj) - t_bj z_bj       (sigmoid last layer)
                                    = -Σ_j t log σ(z) + (1 - t) log(1 - σ(z)), from the logits
                                    z_L as nn.BCEWithLogitsLoss (stable: max(z, 0) + log1p(e^-|z|))
                          nll       -Σ_j t_bj a_bj   (log-softmax last layer: a_L = log p)
    E = c · Σ_b s_b·loss_b  with c = 1 for reduction "sum"; for "mean" PyTorch's divisor:
        1/(B·n_L) for half-sse, mse and bce (MSELoss, BCELoss average over elements), 1/B for
        cross-entropy and nll (one number per example, as CrossEntropyLoss and NLLLoss);
        for "mean-examples" 1/B for every loss (scikit-learn's gradient, most course notes).
    s_b: the example weights of ``Data`` (sample weights, each >= 0; all 1 when not given).
        A mean then divides by their total S = Σ_b s_b in place of B (scikit-learn's
        sample_weight and PyTorch's weighted NLLLoss/CrossEntropyLoss "mean": a weighted
        average; "sum" is Σ_b s_b·loss_b), so weights 1 are no weights (docs/conventions.md).

Parameters cross every boundary as ONE flat vector in ``torch.nn.utils.parameters_to_vector``
order for the equivalent ``nn.Sequential``: W_1 row-major, b_1 (if trainable), W_2, b_2, ...
For the tutorial network (2-2-2, no biases) that is w1..w8 exactly. Frozen biases are part of
the description (`Network.bias_values`), not of the vector.

This module is part of the contract: it imports nothing of ours but `errors` and
`interface.Example` (the tutorial's one example).
"""

from __future__ import annotations

import csv
import functools
import io
import math
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple, TypeAlias

import numpy as np
import numpy.typing as npt

from autograd_compare import validate
from autograd_compare.errors import InputError
from autograd_compare.interface import Example

Array: TypeAlias = npt.NDArray[Any]  # a NumPy array (of the backend's dtype in results)
ACTIVATIONS = ("sigmoid", "tanh", "relu", "identity", "softmax", "log-softmax", "leaky-relu",
               "elu", "gelu", "softplus", "silu")
# the activations that take a parameter, written "leaky-relu:0.2": (its name, PyTorch's default)
ACTIVATION_PARAMETERS = {"leaky-relu": ("slope", 0.01), "elu": ("alpha", 1.0)}
SOFTPLUS_THRESHOLD = 20.0  # nn.Softplus()'s: z itself where z > 20 (log(1 + e^z) - z < 2.1e-9)
LOSSES = ("half-sse", "mse", "cross-entropy", "bce", "nll")
CLASS_LOSSES = ("cross-entropy", "nll")  # one number per example: "mean" divides by B
LOGITS_LOSSES = ("cross-entropy", "bce")  # taken from z_L: a_L is off the loss's path
REDUCTIONS = ("sum", "mean", "mean-examples")
BIAS_MODES = ("none", "trainable", "frozen")


class Network(NamedTuple):
    """A fully connected network. Build it with `make_network`, which validates it."""

    sizes: tuple[int, ...]  # (n_0, n_1, ..., n_L): inputs, then each layer's width
    activations: tuple[str, ...]  # L names from ACTIVATIONS, one per layer ("elu:0.5": see
    #                               `activation_name`, `activation_of`)
    bias: str  # "none" | "trainable" | "frozen"
    bias_values: tuple[tuple[float, ...], ...] | None  # frozen: L tuples (n_l,); else None
    loss: str  # "half-sse" | "mse" | "cross-entropy" | "bce" | "nll"
    reduction: str  # "sum" | "mean" (PyTorch's meaning) | "mean-examples" (divide by B only)

    @property
    def layers(self) -> int:
        return len(self.sizes) - 1


TUTORIAL = Network((2, 2, 2), ("sigmoid", "sigmoid"), "none", None, "half-sse", "sum")


class Data(NamedTuple):
    """Full-batch training data: row b is example b."""

    inputs: Array  # (B, n_0)
    targets: Array  # (B, n_L)
    weights: Array | None = None  # (B,) example weights s_b >= 0 (sample weights); None: all 1


class Layer(NamedTuple):
    """Where layer l's parameters sit in the flat vector."""

    W: slice  # W_l, (n_l, n_{l-1}) row-major
    W_shape: tuple[int, int]
    b: slice | None  # b_l if trainable, else None


# --- results of the ``mlp`` backends (NumPy arrays of the backend's dtype) -------------------
class ForwardPass(NamedTuple):
    z: tuple[Array, ...]  # L arrays (B, n_l): pre-activations
    a: tuple[Array, ...]  # L arrays (B, n_l): activations (a_L is the output)
    losses: Array  # (B,): loss_b before reduction
    E: Array  # (): c · Σ_b loss_b


class BackwardPass(NamedTuple):
    """Empty node tuples: a backend that gives parameter gradients only (a user's opaque
    model), judged on those."""

    w: Array  # (P,): dE/d(parameter vector)
    z: tuple[Array, ...]  # L arrays (B, n_l): dE/dz_l
    a: tuple[Array | None, ...]  # L arrays (B, n_l): dE/da_l; dE/da_L is None for the
    #   losses taken from the logits z_L (`from_logits`: cross-entropy, bce), as PyTorch does


# --- building and checking a description -----------------------------------------------------
def make_network(sizes: Any, activations: Any, bias: str = "none", bias_values: Any = None,
                 loss: str = "half-sse", reduction: str = "sum") -> Network:
    """A validated `Network`.

    Args:
        sizes: (n_0, ..., n_L), each a whole number >= 1, at least two entries.
        activations: L names (one per layer), or one name for every layer.
        bias: "none", "trainable" or "frozen".
        bias_values: for "frozen" only: L sequences (n_l,), or L numbers (one shared per layer).
        loss, reduction: see the module docstring.

    Raises:
        InputError: one line naming the problem.
    """
    try:
        sizes = tuple(int(n) for n in sizes)
    except (TypeError, ValueError):
        raise InputError(f"layer sizes must be whole numbers; got {sizes!r}") from None
    if len(sizes) < 2 or min(sizes) < 1:
        raise InputError(f"layer sizes need an input size and at least one layer, each >= 1; "
                         f"got {sizes}")
    acts = (activations,) if isinstance(activations, str) else tuple(activations)
    if len(acts) == 1:
        acts = acts * (len(sizes) - 1)
    if len(acts) != len(sizes) - 1:
        raise InputError(f"expected {len(sizes) - 1} activations (one per layer of {sizes}); "
                         f"got {len(acts)}: {','.join(map(str, acts))}")
    acts = tuple(activation_name(a) for a in acts)
    _choice(loss, LOSSES, "loss")
    _choice(reduction, REDUCTIONS, "reduction")
    _choice(bias, BIAS_MODES, "bias")
    for out, pair in (("softmax", "cross-entropy"), ("log-softmax", "nll")):
        if out in acts[:-1]:
            raise InputError(f"{out} is supported on the last layer only")
        if (acts[-1] == out) != (loss == pair):
            raise InputError(f"{out} needs the {pair} loss and {pair} needs a {out} last "
                             f"layer; got activation {acts[-1]!r} with loss {loss!r}")
        if acts[-1] == out and sizes[-1] < 2:
            raise InputError(f"a {out} layer needs at least 2 outputs")
    if loss == "bce" and acts[-1] != "sigmoid":
        raise InputError(f"bce needs a sigmoid last layer (its z_L are the logits); got "
                         f"activation {acts[-1]!r}")
    values = None
    if bias == "frozen":
        values = _bias_values(bias_values, sizes)
    elif bias_values is not None:
        raise InputError(f"bias values are given but bias is {bias!r}; use bias 'frozen'")
    return Network(sizes, acts, bias, values, loss, reduction)


class Activation(NamedTuple):
    """An activation name read: ``kind`` in ACTIVATIONS and its parameter."""

    kind: str
    parameter: float  # leaky-relu's slope, elu's alpha; 0.0 for the others (they have none)


def activation_choices() -> str:
    """The accepted names, for messages and --help: "..., leaky-relu[:slope], elu[:alpha], ..."."""
    return ", ".join(f"{a}[:{ACTIVATION_PARAMETERS[a][0]}]" if a in ACTIVATION_PARAMETERS
                     else a for a in ACTIVATIONS)


@functools.lru_cache(maxsize=256)
def _read_activation(text: str) -> tuple[str, Activation]:
    kind, colon, value = (part.strip() for part in text.partition(":"))
    if kind not in ACTIVATIONS:  # the name cut to 40 characters: the choices are long
        raise InputError(f"unknown activation {validate.short_text(text, 40)}; expected one "
                         f"of {activation_choices()}")
    if kind not in ACTIVATION_PARAMETERS:
        if colon:
            raise InputError(f"activation {kind!r} takes no parameter; got "
                             f"{validate.short_text(text)}")
        return kind, Activation(kind, 0.0)
    what, default = ACTIVATION_PARAMETERS[kind]
    try:
        p = float(value) if colon else default
    except ValueError:
        p = math.nan
    if not math.isfinite(p) or (kind == "elu" and p <= 0):
        need = "a number > 0" if kind == "elu" else "a finite number"
        example = {"leaky-relu": "0.2", "elu": "0.5"}[kind]
        raise InputError(f"{kind}'s {what} must be {need}, as in {kind}:{example}; got "
                         f"{validate.short_text(value)}")
    name = kind if p == default else f"{kind}:{p!r}"  # one spelling per function
    return name, Activation(kind, p)


def activation_name(text: Any) -> str:
    """The one spelling of an activation: "relu", "leaky-relu" (slope 0.01, PyTorch's default),
    "leaky-relu:0.2", "elu" (alpha 1), "elu:0.5". Raises `InputError` (one line) for an unknown
    name or a bad parameter (elu's alpha must be > 0)."""
    if not isinstance(text, str):
        raise InputError(f"unknown activation {validate.short_text(text, 40)}; expected one "
                         f"of {activation_choices()}")
    return _read_activation(text)[0]


def activation_of(name: str) -> Activation:
    """(kind, parameter) of an activation name: "elu:0.5" -> Activation("elu", 0.5)."""
    return _read_activation(name)[1]


def _choice(value: Any, allowed: tuple[str, ...], what: str) -> None:
    if value not in allowed:
        raise InputError(f"unknown {what} {value!r}; expected one of {', '.join(allowed)}")


def _bias_values(values: Any, sizes: tuple[int, ...]) -> tuple[tuple[float, ...], ...]:
    if values is None:
        raise InputError("bias 'frozen' needs bias values (one per layer, or one per neuron)")
    values = list(values)
    if len(values) != len(sizes) - 1:
        raise InputError(f"frozen biases need one entry per layer ({len(sizes) - 1}); "
                         f"got {len(values)}")
    out = []
    for l, (v, n) in enumerate(zip(values, sizes[1:], strict=True), start=1):
        row = [v] * n if np.ndim(v) == 0 else list(v)
        if len(row) != n:
            raise InputError(f"frozen bias of layer {l} needs 1 or {n} values; got {len(row)}")
        try:
            row = [float(x) for x in row]
        except (TypeError, ValueError):
            raise InputError(f"frozen bias of layer {l} must be numbers; got {v!r}") from None
        if not all(math.isfinite(x) for x in row):
            raise InputError(f"frozen bias of layer {l} must be finite; got {row}")
        out.append(tuple(row))
    return tuple(out)


@functools.lru_cache(maxsize=256)
def layout(net: Network) -> tuple[Layer, ...]:
    """Each layer's place in the flat parameter vector (parameters_to_vector order); worked
    out once per network (every backend's forward pass asks at every step)."""
    out, at = [], 0
    for n_in, n_out in zip(net.sizes[:-1], net.sizes[1:], strict=True):
        W = slice(at, at + n_out * n_in)
        at = W.stop
        b = None
        if net.bias == "trainable":
            b = slice(at, at + n_out)
            at = b.stop
        out.append(Layer(W, (n_out, n_in), b))
    return tuple(out)


def n_params(net: Network) -> int:
    """Length P of the flat parameter vector."""
    last = layout(net)[-1]
    return int((last.b or last.W).stop)


def frozen_bias(net: Network, layer: int) -> tuple[float, ...]:
    """Layer ``layer``'s (0-based) frozen bias values (n_l,); for bias "frozen" only."""
    assert net.bias_values is not None, "bias 'frozen' carries its values (make_network)"
    return net.bias_values[layer]


def reduction_scale(net: Network, batch: int, weights: Any = None) -> Any:
    """c in E = c · Σ_b s_b·loss_b: 1 for "sum"; 1/(S·n_L) for "mean" of a squared error,
    1/S for its cross-entropy (PyTorch's divisors) and 1/S for "mean-examples", where S is
    ``batch`` B, or Σ_b s_b for example ``weights`` s_b (a weighted mean)."""
    if net.reduction == "sum":
        return 1.0
    total = batch if weights is None else (  # an array's own sum: jax's may be traced
        weights.sum() if hasattr(weights, "sum") else float(np.sum(weights)))
    per_output = net.reduction == "mean" and net.loss not in CLASS_LOSSES
    return 1.0 / (total * net.sizes[-1] if per_output else total)


def from_logits(net: Network) -> bool:
    """The loss is taken from z_L (cross-entropy, bce): no dE/da_L node."""
    return net.loss in LOGITS_LOSSES


def is_tutorial_shape(net: Network) -> bool:
    """2-2-2 sigmoid without trainable biases: the parameters are the tutorial's w1..w8."""
    return (net.sizes == (2, 2, 2) and net.activations == ("sigmoid", "sigmoid")
            and net.bias != "trainable")


def tutorial_example(net: Network, data: Data) -> Example | None:
    """The one example when ``net`` is the tutorial's network exactly (2-2-2 sigmoid, no biases,
    ½Σ(t-a)² summed) and ``data`` one example: there its 8 hand formulas are the kernel."""
    if net != TUTORIAL or np.shape(data.inputs)[0] != 1 or data.weights is not None:
        return None
    return Example(data.inputs[0], data.targets[0])


def example_data(example: Example, dt: Any = "float64") -> Data:
    """The tutorial's one example as the `Data` of `TUTORIAL` (one row)."""
    return data(TUTORIAL, [example.inputs], [example.targets], dt)


def loss_name(net: Network) -> str:
    """E_total in the tutorial's notation (its 2-2-2 sigmoid shape: w1..w8), else E."""
    return "E_total" if is_tutorial_shape(net) else "E"


def param_names(net: Network) -> tuple[str, ...]:
    """Names of the P parameters: w1..w8 for the tutorial's shape, else W1[j,k], b1[j], ..."""
    if is_tutorial_shape(net):
        return tuple(f"w{j}" for j in range(1, 9))
    names = []
    for l, lay in enumerate(layout(net), start=1):
        rows, cols = lay.W_shape
        names += [f"W{l}[{j},{k}]" for j in range(rows) for k in range(cols)]
        if lay.b is not None:
            names += [f"b{l}[{j}]" for j in range(rows)]
    return tuple(names)


def node_names(net: Network, kind: str, layer: int) -> tuple[str, ...]:
    """Names of layer ``layer``'s (1-based) nodes, ``kind`` "z" or "a", one per neuron.

    The tutorial's shape keeps its names: z1 -> h1, h2; a1 -> a_h1, a_h2; z2 -> o1 ...
    """
    n = net.sizes[layer]
    if is_tutorial_shape(net):
        base = {("z", 1): "h", ("a", 1): "a_h", ("z", 2): "o", ("a", 2): "a_o"}[(kind, layer)]
        return tuple(f"{base}{j}" for j in range(1, n + 1))
    return tuple(f"{kind}{layer}[{j}]" for j in range(n))


# --- values at the boundary ------------------------------------------------------------------
def _finite(values: Any, what: str, dt: np.dtype[Any], ndim: int) -> Array:
    if (type(values) is np.ndarray and values.dtype == dt and values.ndim == ndim
            and values.size and np.isfinite(values).all()):
        return values.copy()  # already checked arrays (the harness's own): the same values
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{what} must be numbers") from None
    if arr.ndim != ndim:
        raise InputError(f"{what} must have {ndim} dimension(s); got shape {arr.shape}")
    if arr.size == 0:
        raise InputError(f"{what} is empty")
    if not np.all(np.isfinite(arr)):
        raise InputError(f"{what} must be finite numbers; got {arr[~np.isfinite(arr)][0]}")
    with np.errstate(over="ignore"):
        out = arr.astype(dt)
    if not np.all(np.isfinite(out)):
        raise InputError(f"{what} do not fit in {dt.name}")
    return out


def weights(net: Network, w: Any, dt: Any = "float64") -> Array:
    """The flat parameter vector (P,) as a finite array of ``dt``."""
    dt = validate.dtype(dt)
    p = n_params(net)
    arr = _finite(w, "parameters", dt, 1)
    if arr.shape != (p,):
        raise InputError(f"network {describe(net)} has {p} parameters; got {arr.size}")
    return arr


def weights_batch(net: Network, w: Any, lr: Any, dt: Any = "float64") -> tuple[Array, Array]:
    """Starting vectors (N, P) and learning rates (N,)."""
    dt = validate.dtype(dt)
    p = n_params(net)
    w_arr = _finite(w, "batch parameters", dt, 2)
    if w_arr.shape[1] != p:
        raise InputError(f"batch parameters must have shape (N, {p}); got {w_arr.shape}")
    lr_arr = _finite(lr, "batch learning rates", np.dtype(np.float64), 1)
    if lr_arr.shape != (w_arr.shape[0],) or not np.all(lr_arr > 0):
        raise InputError(f"batch learning rates must be {w_arr.shape[0]} numbers > 0")
    return w_arr, lr_arr.astype(dt)


def data(net: Network, inputs: Any, targets: Any, dt: Any = "float64",
         weights: Any = None) -> Data:
    """``Data`` of shapes (B, n_0), (B, n_L); one example may be given as 1-d rows;
    ``weights``: B example weights s_b >= 0, not all 0 (`example_weights`), or None."""
    dt = validate.dtype(dt)
    x = np.atleast_2d(_finite(inputs, "inputs", dt, np.ndim(inputs)))
    t = np.atleast_2d(_finite(targets, "targets", dt, np.ndim(targets)))
    if x.ndim != 2 or x.shape[1] != net.sizes[0]:
        raise InputError(f"inputs must have shape (B, {net.sizes[0]}); got {x.shape}")
    if t.ndim != 2 or t.shape[1] != net.sizes[-1]:
        raise InputError(f"targets must have shape (B, {net.sizes[-1]}); got {t.shape}")
    if x.shape[0] != t.shape[0]:
        raise InputError(f"{x.shape[0]} input rows but {t.shape[0]} target rows")
    return Data(x, t, None if weights is None else example_weights(weights, x.shape[0], dt))


def example_weights(weights: Any, batch: int, dt: Any = "float64") -> Array:
    """``weights`` as B example weights (B,) of ``dt``: finite numbers >= 0, not all 0."""
    dt = validate.dtype(dt)
    try:
        arr = np.asarray(weights, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"example weights must be numbers; got "
                         f"{validate.short_text(weights)}") from None
    if arr.ndim != 1 or arr.shape[0] != batch:
        raise InputError(f"example weights: one per example needed ({batch}); got "
                         f"{arr.size if arr.ndim else 'one number'}")
    bad = arr[~(np.isfinite(arr) & (arr >= 0))]
    if bad.size:
        raise InputError(f"example weights must be finite and >= 0; got {float(bad[0])}")
    if not arr.any():
        raise InputError("example weights are all 0: no example counts; give at least one > 0")
    return arr.astype(dt)


def describe(net: Network) -> str:
    """One line: "2-2-1 sigmoid,sigmoid, bias trainable, half-sse (sum)"."""
    return (f"{'-'.join(map(str, net.sizes))} {','.join(net.activations)}, bias {net.bias}, "
            f"{net.loss} ({net.reduction})")


def to_dict(net: Network) -> dict[str, Any]:
    """The description at the JSON edge."""
    return {"sizes": list(net.sizes), "activations": list(net.activations), "bias": net.bias,
            "bias_values": None if net.bias_values is None else [list(v) for v in net.bias_values],
            "loss": net.loss, "reduction": net.reduction, "parameters": n_params(net)}


# --- CSV data --------------------------------------------------------------------------------
MAX_DATA_BYTES = 256 << 20  # a --data file is read whole: refuse to read more than 256 MiB


def read_text(source: str | Path, max_bytes: int = MAX_DATA_BYTES) -> str:
    """The text of a data file: at most ``max_bytes``, UTF-8 (a leading byte-order mark
    dropped), no NUL byte; anything else is a one-line `InputError` naming the file.
    The one reader of --data files (`options.read_data`, and the column names of the reports)."""
    shown = validate.short_text(str(source))
    raw = validate.read_bounded(source, max_bytes, f"data file {shown}",
                                "that is the limit for --data files; give fewer rows")
    nul = raw.find(b"\0")
    if nul >= 0:
        line = raw.count(b"\n", 0, nul) + 1
        raise InputError(f"data file {shown} is not a text file (a NUL byte at offset {nul}, "
                         f"line {line}); expected a UTF-8 CSV")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        raise InputError(f"data file {shown} is not UTF-8 text (byte 0x{raw[err.start]:02x} at "
                         f"offset {err.start}, line {line}); save it as UTF-8") from None


def csv_rows(text: str, name: str = "data") -> list[tuple[int, list[str]]]:
    """(line number in the file, cells) of every row with a non-blank cell: blank lines are
    skipped but counted, a leading byte-order mark dropped."""
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff")))
    rows = []
    try:
        for row in reader:
            if any(c.strip() for c in row):
                rows.append((reader.line_num, row))
    except csv.Error as err:
        raise InputError(f"{name}: line {reader.line_num} is not valid CSV: "
                         f"{validate.short_text(str(err))[1:-1]}") from None
    return rows


def _number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def parse_csv(net: Network, text: str, name: str = "data", dt: Any = "float64") -> Data:
    """Rows of text -> `Data`. The first row with a non-blank cell is the header (the column
    names); a first row of numbers only is refused, not taken as names (its example would
    be lost). Line numbers in messages are the file's, blank lines included."""
    rows = csv_rows(text, name)
    want = net.sizes[0] + net.sizes[-1]
    if not rows:
        raise InputError(f"{name}: needs a header row and at least one example; the file is "
                         "empty")
    first_line, header = rows[0]
    if all(_number(c) for c in header):
        shown = validate.short_text(",".join(header))[1:-1]
        raise InputError(f"{name}: line {first_line} holds only numbers "
                         f"({shown}): the first row must be a header "
                         f"naming the {want} columns (e.g. "
                         + ",".join([f"x{k + 1}" for k in range(min(net.sizes[0], 3))]
                                    + [f"t{k + 1}" for k in range(min(net.sizes[-1], 2))])
                         + "); add one")
    if len(rows) < 2:
        raise InputError(f"{name}: needs a header row and at least one example; got only the "
                         "header")
    for line, row in rows:
        if len(row) != want:
            raise InputError(f"{name}: line {line} has {len(row)} columns; the network needs "
                             f"{want} ({net.sizes[0]} inputs, {net.sizes[-1]} targets)")
    values = []
    for line, row in rows[1:]:
        try:
            values.append([float(c) for c in row])
        except ValueError:
            column = next(k for k, c in enumerate(row, start=1) if not _number(c))
            raise InputError(f"{name}: line {line}, column {column} is not a number: "
                             f"{validate.short_text(row[column - 1])}") from None
    arr = np.asarray(values)
    if not np.all(np.isfinite(arr)):
        row_k, col_k = (int(k) for k in np.argwhere(~np.isfinite(arr))[0])
        raise InputError(f"{name}: line {rows[row_k + 1][0]}, column {col_k + 1} is not "
                         f"finite: {validate.short_text(rows[row_k + 1][1][col_k])}")
    return data(net, arr[:, :net.sizes[0]], arr[:, net.sizes[0]:], dt)


def iris_text() -> str:
    """The shipped Iris CSV (Fisher 1936, 150 rows: 4 measurements, 3 one-hot species)."""
    return resources.files("autograd_compare").joinpath("data/iris.csv").read_text("utf-8")


# --- presets ---------------------------------------------------------------------------------
class Preset(NamedTuple):
    name: str
    about: str  # one line
    network: Network
    data: Data  # float64
    weights: Array  # (P,) float64 starting parameters
    lr: float
    steps: int


def _uniform(seed: int, n: int, low: float, high: float) -> Array:
    return np.random.default_rng(seed).uniform(low, high, n)


def _tutorial() -> Preset:
    net = make_network((2, 2, 2), "sigmoid")
    return Preset("tutorial", "the class example: 2-2-2 sigmoid, no biases, ½Σ(t-a)², "
                  "one example", net, data(net, [[0.05, 0.1]], [[0.5, 0.5]]),
                  np.array([0.15, 0.2, 0.25, 0.3, 0.4, 0.45, 0.5, 0.55]), 0.5, 100)


def _mazur() -> Preset:
    net = make_network((2, 2, 2), "sigmoid", "frozen", (0.35, 0.60))
    return Preset("mazur", "Matt Mazur's step-by-step example: 2-2-2 sigmoid, frozen biases "
                  "b1 = 0.35, b2 = 0.60, targets 0.01, 0.99", net,
                  data(net, [[0.05, 0.10]], [[0.01, 0.99]]),
                  np.array([0.15, 0.20, 0.25, 0.30, 0.40, 0.45, 0.50, 0.55]), 0.5, 100)


def _xor() -> Preset:
    net = make_network((2, 2, 1), "sigmoid", "trainable")
    x = [[0, 0], [0, 1], [1, 0], [1, 1]]
    return Preset("xor", "XOR: 2-2-1 sigmoid, trainable biases, the 4 examples, ½Σ(t-a)²",
                  net, data(net, x, [[0], [1], [1], [0]]), _uniform(0, n_params(net), -1, 1),
                  0.5, 100)


def _iris() -> Preset:
    net = make_network((4, 5, 3), ("tanh", "softmax"), "trainable", loss="cross-entropy",
                       reduction="mean")
    return Preset("iris", "Fisher's Iris (150 examples): 4-5-3, tanh hidden, softmax, "
                  "cross-entropy (mean)", net, parse_csv(net, iris_text(), "iris.csv"),
                  _uniform(1, n_params(net), -0.5, 0.5), 0.1, 100)


PRESETS = {"tutorial": _tutorial, "mazur": _mazur, "xor": _xor, "iris": _iris}


def preset(name: str) -> Preset:
    """The preset ``name`` (see `PRESETS`)."""
    if name not in PRESETS:
        raise InputError(f"unknown preset {name!r}; expected one of {', '.join(PRESETS)}")
    return PRESETS[name]()
