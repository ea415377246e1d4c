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

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import numpy.typing as npt

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
            x, t = (jnp.asarray(v, dtype) for v in data)
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
