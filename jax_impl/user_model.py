"""The user's own JAX model as a backend: a pure ``apply(params, x)`` and the named loss, run and
differentiated by `jax.grad` (what the user's training really computes), beside the network
read from ``params`` (`compare.usermodel.describe_model`).

``params`` is a list of layer dicts: ``"W"``/``"weight"`` in PyTorch's (out, in) layout or
``"kernel"`` in Flax's (in, out), ``"b"``/``"bias"``, other entries (an ``"activation"`` name)
passed through as they are. The parameter vector is the network's (W_l row-major (out, in),
then b_l); each call builds the user's structure from it, so ``params`` is never touched. An
opaque ``apply`` shows no node values: the backend gives parameter gradients only, and the
gradient check judges it on those (`BackwardPass` with no nodes).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import numpy.typing as npt

from autograd_compare import network
from autograd_compare.backend import Backend
from autograd_compare.errors import InputError
from autograd_compare.jax_impl.precision import precision, to_numpy
from autograd_compare.network import BackwardPass, Data, ForwardPass, Network, layout
from autograd_compare.optimizers import Optimizer
from autograd_compare.types import BatchResult, Resume, Trajectory

NAME = "model"  # the backend's name in the checks and the report
WEIGHT_KEYS = {"W": "out-in", "weight": "out-in", "kernel": "in-out"}  # key: its layout
BIAS_KEYS = ("b", "bias")


def weight_key(layer: dict[str, Any]) -> str | None:
    return next((k for k in WEIGHT_KEYS if k in layer), None)


def backend(apply: Callable[[Any, Any], Any], params: Sequence[dict[str, Any]],
            loss: Callable[[Any, Any], Any], read: Network, dtype: np.dtype[Any]) -> Backend:
    """`Backend` ``"model"``: ``gradients`` is `jax.grad` of ``loss(apply(params, x), t)``."""

    def E(w: Any, x: Any, t: Any) -> Any:
        return loss(apply(built(params, read, w), x), t)

    def gradients(net: Network, w: npt.ArrayLike, data: Data) -> BackwardPass:
        with precision(dtype):
            x, t = (jnp.asarray(v, dtype) for v in (data.inputs, data.targets))
            g = jax.grad(E)(jnp.asarray(w, dtype), x, t)
            return BackwardPass(to_numpy(g, dtype), (), ())  # no nodes: apply is opaque

    def forward(net: Network, w: npt.ArrayLike, data: Data) -> ForwardPass:
        raise InputError("the model's own forward pass shows its output only; its gradients "
                         "are what is checked")

    def train(net: Network, w: npt.ArrayLike, data: Data, opt: Optimizer, steps: int,
              resume: Resume | None = None) -> Trajectory:
        raise InputError("the model is checked at the start (its gradients); train it with "
                         "the backends")

    def train_batch(*args: Any, **kwargs: Any) -> BatchResult:
        raise InputError("the model has no batched form")

    return Backend(NAME, np.dtype(dtype), forward, gradients, train, train_batch)


def output(apply: Callable[[Any, Any], Any], params: Sequence[dict[str, Any]], read: Network,
           w: np.ndarray, x: np.ndarray) -> np.ndarray:
    """What ``apply`` returns for inputs ``x`` at parameters ``w`` (float64)."""
    f64 = np.dtype(np.float64)
    with precision(f64):
        return to_numpy(apply(built(params, read, jnp.asarray(w, f64)), jnp.asarray(x, f64)),
                        f64)


def built(params: Sequence[dict[str, Any]], read: Network, w: Any) -> list[dict[str, Any]]:
    """The user's structure holding the parameter vector ``w`` (a JAX array): each weight in
    its key's layout, the bias where the layer has one, every other entry as it was."""
    out = []
    for layer, lay in zip(params, layout(read), strict=True):
        key = weight_key(layer)
        assert key is not None, "describe_model has checked every layer"
        W = w[lay.W].reshape(lay.W_shape)
        new = dict(layer, **{key: W.T if WEIGHT_KEYS[key] == "in-out" else W})
        bias = next((k for k in BIAS_KEYS if k in layer), None)
        if bias is not None and lay.b is not None:
            new[bias] = w[lay.b]
        out.append(new)
    return out


# --- models of JAX libraries: Equinox's nn.MLP, Flax's nnx.Sequential of nnx.Linear ----------
PROBE = np.linspace(-3.0, 3.0, 7)  # an activation is known by its values here


def activation_name(fn: Callable[[Any], Any], where: str) -> str:
    """"sigmoid", "tanh", "relu", "identity", "softmax", "log-softmax", "gelu", "silu",
    "softplus", or "leaky-relu"/"elu" with the parameter that fits: what ``fn`` computes on
    `PROBE`."""
    x, neg = PROBE, PROBE < 0
    sig = 1 / (1 + np.exp(-x))
    cdf = 0.5 * np.array([math.erfc(-v / math.sqrt(2)) for v in x])
    known = {"identity": x, "sigmoid": sig, "tanh": np.tanh(x), "relu": np.maximum(x, 0),
             "softmax": np.exp(x) / np.exp(x).sum(), "log-softmax": x - np.log(np.exp(x).sum()),
             "gelu": x * cdf, "silu": x * sig,
             "softplus": np.log1p(np.exp(x))}  # PROBE < 20: below softplus's threshold
    f64 = np.dtype(np.float64)
    try:
        with precision(f64):
            got = to_numpy(fn(jnp.asarray(x, f64)), f64)
    except Exception as err:  # noqa: BLE001 - the user's function
        raise InputError(f"{where}: its activation {fn!r} failed on a vector "
                         f"({type(err).__name__})") from None
    if got.shape != x.shape:
        raise InputError(f"{where}: activation {getattr(fn, '__name__', fn)!r} changes the "
                         f"shape of a vector {x.shape} to {got.shape}")
    fits = functools.partial(np.allclose, got, rtol=1e-12, atol=1e-15)
    for name, want in known.items():
        if fits(want):
            return name
    slope, alpha = got[0] / x[0], got[0] / np.expm1(x[0])  # from f(-3)
    if fits(np.where(neg, slope * x, x)):
        return _with_parameter("leaky-relu", slope, where)
    if alpha > 0 and fits(np.where(neg, alpha * np.expm1(x), x)):
        return _with_parameter("elu", alpha, where)
    approx = 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))
    hint = (" (it is the tanh approximation of GELU, jax.nn.gelu's default: use "
            "approximate=False, the exact erf form)" if np.allclose(got, approx) else "")
    raise InputError(f"{where}: activation {getattr(fn, '__name__', fn)!r} is none of "
                     f"sigmoid, tanh, relu, identity, softmax, log-softmax, gelu, silu, "
                     f"softplus, leaky-relu, elu{hint}")


def _with_parameter(kind: str, parameter: float, where: str) -> str:
    """The name of ``kind`` with the parameter read off the probe: its 12-digit decimal where
    that is within 4 ulp (jax.nn.leaky_relu(x, 0.2) gives f(-3)/-3 = 0.2 only to rounding)."""
    short = float(f"{parameter:.12g}")
    p = short if abs(short - parameter) <= 4 * np.spacing(abs(parameter)) else float(parameter)
    try:
        return network.activation_name(f"{kind}:{p!r}")
    except InputError as err:
        raise InputError(f"{where}: {err}") from None


def library_model(model: Any) -> tuple[list[dict[str, Any]], Callable[[Any, Any], Any]] | None:
    """(layer dicts, apply(layers, x)) for an Equinox ``nn.MLP`` or a Flax ``nnx.Sequential``
    (the user's own ``__call__`` runs on copies holding the checked weights); None for
    anything else."""
    tops = {c.__module__.split(".")[0] for c in type(model).__mro__}
    if "equinox" in tops:
        return _equinox(model)
    if "flax" in tops:
        return _nnx(model)
    return None


def _equinox(model: Any) -> tuple[list[dict[str, Any]], Callable[[Any, Any], Any]]:
    import equinox as eqx

    if not isinstance(model, eqx.nn.MLP):
        raise InputError(f"an Equinox {type(model).__name__}: only eqx.nn.MLP is supported")
    n = len(model.layers)
    acts = [activation_name(model.activation, "eqx.nn.MLP")] * (n - 1) + [
        activation_name(model.final_activation, "eqx.nn.MLP (final_activation)")]
    if {"softmax", "log-softmax"} & set(acts):  # Equinox applies activations one output at a time
        raise InputError("eqx.nn.MLP applies its activations to each output on its own, so a "
                         "softmax fails there (Equinox's own call too); keep final_activation "
                         "the identity and use loss='cross-entropy', which takes the logits")
    params = [{"W": np.asarray(lin.weight), **({} if lin.bias is None else
                                                {"b": np.asarray(lin.bias)}),
               "activation": act} for lin, act in zip(model.layers, acts, strict=True)]

    def apply(layers: Sequence[dict[str, Any]], x: Any) -> Any:
        def where(m: Any) -> list[Any]:
            return [leaf for lin in m.layers for leaf in (lin.weight, lin.bias)
                    if leaf is not None]
        values = [v for layer in layers for v in (layer["W"], layer.get("b")) if v is not None]
        return jax.vmap(eqx.tree_at(where, model, values))(x)  # one example at a time

    return params, apply


def _nnx(model: Any) -> tuple[list[dict[str, Any]], Callable[[Any, Any], Any]]:
    from flax import nnx

    if not isinstance(model, nnx.Sequential):
        raise InputError(f"a Flax {type(model).__name__}: only nnx.Sequential of nnx.Linear "
                         "and activation functions is supported")
    params: list[dict[str, Any]] = []
    for i, part in enumerate(model.layers):
        if isinstance(part, nnx.Linear):
            params.append({"kernel": np.asarray(part.kernel[...]), **(
                {"bias": np.asarray(part.bias[...])} if part.bias is not None else {}),
                "activation": "identity"})
        elif callable(part) and params and params[-1]["activation"] == "identity":
            params[-1]["activation"] = activation_name(part, f"nnx.Sequential layer {i}")
        else:
            raise InputError(f"nnx.Sequential layer {i} ({type(part).__name__}): expected "
                             "nnx.Linear, each followed by at most one activation function")
    graph = nnx.split(model)[0]
    where = [i for i, part in enumerate(model.layers) if isinstance(part, nnx.Linear)]

    def apply(layers: Sequence[dict[str, Any]], x: Any) -> Any:
        state = nnx.split(model)[1]  # a fresh copy each call: the user's model is never changed
        pure = nnx.to_pure_dict(state)
        for i, layer in zip(where, layers, strict=True):
            pure["layers"][i]["kernel"] = layer["kernel"]
            if "bias" in layer:
                pure["layers"][i]["bias"] = layer["bias"]
        nnx.replace_by_pure_dict(state, pure)
        return nnx.merge(graph, state)(x)

    return params, apply
