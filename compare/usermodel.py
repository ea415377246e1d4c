"""Check a user's own model: hand-derived backward, PyTorch autograd and JAX grad compared.

    import torch
    from autograd_compare import check_model

    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))
    result = check_model(model, X, Y, loss="cross-entropy", reduction="mean", lr=0.1, steps=50)
    assert result.ok, result.first_divergence  # the main job's checks, on the model's network

Accepted models:

* a ``torch.nn.Sequential`` of ``nn.Linear`` and the activation modules ``nn.Sigmoid``,
  ``nn.Tanh``, ``nn.ReLU``, ``nn.Identity`` (and ``nn.Softmax`` as the last module, read as the
  softmax of the cross-entropy); a Linear directly after a Linear has the identity between
  them. With ``loss="cross-entropy"`` the last Linear's outputs are the logits, as for
  ``nn.CrossEntropyLoss``. Biases: all trainable, all absent, or all frozen
  (``requires_grad=False``, checked at their values).
* a JAX-style pytree: a list of layer dicts ``{"W": (out, in), "b": (out,) optional,
  "activation": name}`` (PyTorch's (out, in) layout; "weight"/"bias" are accepted too).

The model's parameters are read once (as float64 NumPy) and never modified.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from autograd_compare import network, registry, validate
from autograd_compare.errors import InputError
from autograd_compare.harness import optim_check
from autograd_compare.optimizers import SGD

TORCH_ACTIVATIONS = {"Sigmoid": "sigmoid", "Tanh": "tanh", "ReLU": "relu",
                     "Identity": "identity", "Softmax": "softmax"}


def check_model(model: Any, inputs: Any, targets: Any, *, loss: str = "half-sse",
                reduction: str = "sum", lr: float = 0.1, steps: int = 20,
                dtype: str = "float64", backends: tuple[str, ...] | None = None
                ) -> optim_check.Sweep:
    """Run the gradient check and the trajectory check on ``model`` with data (B, n_in), (B, n_out).

    Args:
        model: see the module docstring. inputs, targets: arrays (NumPy, torch or JAX).
        loss: "half-sse", "mse" or "cross-entropy"; reduction: "sum" or "mean" (PyTorch's).
        lr, steps: full-batch gradient descent (sgd) for the trajectory check.
        dtype: "float64" or "float32". backends: names (default every installed backend;
            the first is the trajectory's reference).

    Returns:
        The main job's `optim_check.Sweep` at the one rate ``lr``: ``.ok``,
        ``.first_divergence`` (None when everything agrees), ``.gradcheck``, ``.rates[0]``
        (the step-by-step check: ``.runs``, ``.comparisons``, ``.largest``);
        `report.sweep.as_dict` gives its report.json.

    Raises:
        InputError: an unsupported layer (named), a bad combination or bad data.
    """
    net, w = describe_model(model, loss, reduction)
    names = _backend_names(backends)
    dt = validate.dtype(dtype)
    data = network.data(net, _numpy(inputs, "inputs"), _numpy(targets, "targets"), dt)
    return optim_check.sweep("your model", SGD, list(names), net, network.weights(net, w, dt),
                             data, (lr,), steps, dt)


def _backend_names(backends: Any) -> tuple[str, ...]:
    """``backends`` checked: registry names or mistake:<kind> (an SGD update-rule mistake),
    each once (default every installed one)."""
    if backends is None:
        return tuple(registry.backends())
    if isinstance(backends, str) or not isinstance(backends, (list, tuple)):
        raise InputError(f"backends must be a tuple of names such as ('manual', 'torch'); "
                         f"got {validate.short_text(backends)}")
    for i, name in enumerate(backends):
        kind = name.removeprefix(registry.MISTAKE_PREFIX) if isinstance(name, str) else None
        if kind is None or (kind == name and name not in registry.REGISTRY):
            raise InputError(f"unknown backend {validate.short_text(name)}; expected one of "
                             + ", ".join(registry.REGISTRY)
                             + f" or {registry.MISTAKE_PREFIX}<kind>")
        if kind != name:  # mistake:<kind>, an update-rule mistake of SGD
            from autograd_compare.manual import optim

            optim.check_mistake(SGD, kind)
        if name in backends[:i]:
            raise InputError(f"backend {name!r} is listed twice in backends; give each once")
    if not backends:
        raise InputError("backends needs at least one name")
    return tuple(backends)


class _Layer(NamedTuple):
    W: np.ndarray  # (out, in)
    b: np.ndarray | None  # (out,)
    frozen: bool  # the bias does not train (requires_grad=False)
    activation: str


def describe_model(model: Any, loss: str = "half-sse",
                   reduction: str = "sum") -> tuple[network.Network, np.ndarray]:
    """(`Network`, flat float64 parameters) of a torch ``nn.Sequential`` or a layer pytree."""
    if isinstance(model, (list, tuple)):
        layers = [_pytree_layer(i, layer) for i, layer in enumerate(model)]
    elif type(model).__name__ == "Sequential" and hasattr(model, "children"):
        layers = _torch_layers(model)
    else:
        raise InputError(f"expected a torch.nn.Sequential or a list of layer dicts; got "
                         f"{type(model).__name__}")
    if not layers:
        raise InputError("the model has no Linear layer")
    acts = [layer.activation for layer in layers]
    if loss == "cross-entropy" and acts[-1] == "identity":
        acts[-1] = "softmax"  # logits, as nn.CrossEntropyLoss takes them
    kinds = {"none" if L.b is None else "frozen" if L.frozen else "trainable" for L in layers}
    if len(kinds) > 1:
        raise InputError("biases must be all trainable, all absent or all frozen "
                         f"(requires_grad=False); this model mixes {', '.join(sorted(kinds))}")
    (bias,) = kinds
    sizes = [layers[0].W.shape[1]] + [L.W.shape[0] for L in layers]
    for k in range(1, len(layers)):
        if layers[k].W.shape[1] != sizes[k]:
            raise InputError(f"layer {k}: weight {layers[k].W.shape} does not take the "
                             f"{sizes[k]} outputs of the layer before (layout is (out, in))")
    values = [L.b for L in layers] if bias == "frozen" else None
    net = network.make_network(sizes, acts, bias, values, loss, reduction)
    parts: list[np.ndarray] = []
    for L in layers:
        parts.append(L.W.reshape(-1))
        if bias == "trainable" and L.b is not None:  # trainable: every layer has its b
            parts.append(L.b)
    return net, np.concatenate(parts)


def _torch_layers(model) -> list[_Layer]:
    """The Linear layers of an nn.Sequential, each with the activation module after it."""
    layers: list[_Layer] = []
    after_linear = False
    for i, mod in enumerate(model.children()):
        kind = type(mod).__name__
        if kind == "Linear":
            b = None if mod.bias is None else _numpy(mod.bias, f"layer {i} (Linear) bias")
            frozen = mod.bias is not None and not mod.bias.requires_grad
            layers.append(_Layer(_numpy(mod.weight, f"layer {i} (Linear) weight"), b, frozen,
                                 "identity"))
            after_linear = True
        elif kind in TORCH_ACTIVATIONS:
            if not layers:
                raise InputError(f"layer {i} ({kind}) comes before any Linear layer")
            if not after_linear:
                raise InputError(f"layer {i} ({kind}): two activations in a row")
            if kind == "Softmax" and mod.dim not in (-1, 1, None):
                raise InputError(f"layer {i} (Softmax): only dim=-1 (the features) is supported")
            layers[-1] = layers[-1]._replace(activation=TORCH_ACTIVATIONS[kind])
            after_linear = False
        else:
            text = " ".join(repr(mod).split())  # one line, even for a nested module
            text = text if len(text) <= 80 else text[:77] + "..."
            raise InputError(f"unsupported layer {i}: {text}; supported: Linear, "
                             + ", ".join(TORCH_ACTIVATIONS) + " (Softmax last)")
    return layers


def _pytree_layer(i: int, layer: Any) -> _Layer:
    if not isinstance(layer, dict):
        raise InputError(f"layer {i}: expected a dict with 'W', 'b', 'activation'; got "
                         f"{type(layer).__name__}")
    unknown = set(layer) - {"W", "weight", "b", "bias", "activation"}
    if unknown:
        raise InputError(f"layer {i}: unsupported keys {sorted(unknown)}; expected 'W', 'b', "
                         "'activation'")
    W = layer.get("W", layer.get("weight"))
    if W is None:
        raise InputError(f"layer {i}: no weight 'W'")
    W = _numpy(W, f"layer {i}: weight")
    if W.ndim != 2:
        raise InputError(f"layer {i}: weight must be a matrix (out, in); got shape {W.shape}")
    b = layer.get("b", layer.get("bias"))
    b = None if b is None else _numpy(b, f"layer {i}: bias").reshape(-1)
    if b is not None and b.shape != (W.shape[0],):
        raise InputError(f"layer {i}: bias must have {W.shape[0]} entries; got {b.size}")
    act = layer.get("activation", "identity")
    if act not in network.ACTIVATIONS:
        raise InputError(f"layer {i}: unsupported activation {act!r}; expected one of "
                         + ", ".join(network.ACTIVATIONS))
    return _Layer(W, b, False, act)


def _numpy(x: Any, what: str) -> np.ndarray:
    """Real numbers as float64 (`validate.as_numpy`: NumPy, lists, torch or JAX arrays);
    complex, text, booleans, objects, ragged lists, meta or sparse tensors: `InputError`."""
    return validate.as_numpy(x, what).astype(np.float64)
