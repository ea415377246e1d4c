"""Check a user's own model: hand-derived backward, PyTorch autograd and JAX grad compared.

    import torch
    from autograd_compare import check_model

    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))
    result = check_model(model, X, Y, loss="cross-entropy", reduction="mean", lr=0.1, steps=50)
    assert result.ok, result.first_divergence  # the main job's checks, on the model's network

A torch model is also run: its own ``forward`` and loss (``loss=nn.CrossEntropyLoss()``,
``nn.MSELoss(...)``, ``nn.BCEWithLogitsLoss()``, ``nn.BCELoss()``, ``nn.NLLLoss()`` or a name)
join the gradient check as the backend ``"model"``
(`torch_impl.user_model`); where they differ from the network read from its layers, the
check fails at the first differing node and ``.notes`` names the likely cause (softmax before
``CrossEntropyLoss``, a forward that computes something else than its layers describe).

Accepted models:

* a ``torch.nn.Sequential`` (or a subclass) of ``nn.Linear`` and the activation modules
  ``nn.Sigmoid``, ``nn.Tanh``, ``nn.ReLU``, ``nn.LeakyReLU(negative_slope)``, ``nn.ELU(alpha)``,
  ``nn.GELU()`` (the exact form; ``approximate="tanh"`` is refused), ``nn.Softplus()`` (beta 1,
  threshold 20 only), ``nn.SiLU`` (and ``nn.Softmax`` or ``nn.LogSoftmax`` as the last module,
  read as the softmax of the cross-entropy, the log-softmax of the nll); a Linear
  directly after a Linear has the identity between them; ``nn.Identity`` and ``nn.Dropout``
  in eval mode are skipped (the identity). With ``loss="cross-entropy"`` the last Linear's
  outputs are the logits, as for ``nn.CrossEntropyLoss``; with ``loss="bce"`` they are the
  logits of a sigmoid last layer, as for ``nn.BCEWithLogitsLoss`` (a model ending in
  ``nn.Sigmoid`` is read the same, for ``nn.BCELoss``). For cross-entropy and nll, targets may
  be class indices (B,); for bce with one output, targets (B,). Biases: all trainable, all
  absent, or all frozen (``requires_grad=False``, checked at their values). Weights with
  ``requires_grad=False`` are held fixed in every backend (their gradient is 0, as for
  torch.optim). A Linear used twice is refused.
* a JAX-style pytree: a list of layer dicts ``{"W": (out, in), "b": (out,) optional,
  "activation": name}`` (PyTorch's (out, in) layout; "weight"/"bias" are accepted too).
* an Equinox ``eqx.nn.MLP`` or a Flax ``nnx.Sequential`` of ``nnx.Linear`` and activation
  functions (each known by its values: sigmoid, tanh, relu, identity, softmax, gelu, silu,
  softplus, leaky-relu and elu with their parameter); their own
  ``__call__`` runs as the backend ``"model"``, on copies holding the checked weights.

The model's parameters are read once (as float64 NumPy) and never modified (it runs on copies).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from autograd_compare import network, optimizers, registry, validate
from autograd_compare.errors import InputError
from autograd_compare.harness import optim_check
from autograd_compare.optimizers import SGD

TORCH_ACTIVATIONS = {"Sigmoid": "sigmoid", "Tanh": "tanh", "ReLU": "relu",
                     "LeakyReLU": "leaky-relu", "ELU": "elu", "GELU": "gelu",
                     "Softplus": "softplus", "SiLU": "silu",
                     "Softmax": "softmax"}  # nn.Identity and eval-mode nn.Dropout: skipped
TORCH_ACTIVATIONS["LogSoftmax"] = "log-softmax"  # last only, with nn.NLLLoss
LOSS_OBJECTS = {"MSELoss": "mse", "CrossEntropyLoss": "cross-entropy",  # torch.nn class: loss
                "BCEWithLogitsLoss": "bce", "BCELoss": "bce", "NLLLoss": "nll"}
UNSUPPORTED_SETTINGS = (  # attribute, what it is, its harmless value
    ("weight", "class or element weights", None), ("pos_weight", "positive-class weights", None),
    ("label_smoothing", "label smoothing", 0.0), ("ignore_index", "an ignored class", -100))


def check_model(model: Any, inputs: Any, targets: Any, *, loss: Any = "half-sse",
                reduction: str = "sum", lr: float = 0.1, steps: int = 20,
                dtype: str = "float64", backends: tuple[str, ...] | None = None,
                apply: Callable[[Any, Any], Any] | None = None, l2: float = 0.0,
                decay_biases: bool | None = None,
                sample_weight: Any = None) -> optim_check.Sweep:
    """Run the gradient check and the trajectory check on ``model`` with data (B, n_in), (B, n_out).

    A torch model is also *run*: its own ``forward`` and loss, differentiated by torch
    autograd, join the gradient check as the backend ``"model"`` beside the hand-derived
    backward pass, torch and JAX on the network read from it; where they differ, the result
    fails at the first differing node and ``.notes`` says why in a sentence.

    Args:
        model: see the module docstring. inputs, targets: arrays (NumPy, torch or JAX).
        loss: "half-sse", "mse", "cross-entropy", "bce" or "nll", with ``reduction`` "sum",
            "mean" (PyTorch's) or "mean-examples" (divided by B only); or the user's own
            ``nn.MSELoss()``, ``nn.CrossEntropyLoss()``, ``nn.BCEWithLogitsLoss()``,
            ``nn.BCELoss()`` or ``nn.NLLLoss()`` object (its ``reduction`` is used; weights,
            label smoothing and ignore_index are refused).
        apply: with a layer pytree as ``model``, the user's pure JAX ``apply(params, x)``:
            run and differentiated by `jax.grad` as the backend ``"model"`` (parameter
            gradients: an opaque function shows no nodes).
        lr: the learning rate of full-batch gradient descent (sgd), the trajectory check's.
        steps: the updates of that trajectory.
        dtype: "float64" or "float32".
        backends: names (default every installed backend; the first is the trajectory's
            reference).
        l2: λ, the loss becomes E + λ/2·Σ‖W‖² (the gradient check's E and the training's);
            ``decay_biases`` True puts the biases in the sum too (default: weights only).
            scikit-learn's ``alpha`` is ``l2=alpha/n`` with ``reduction="mean-examples"``
            (docs/conventions.md).
        sample_weight: B example weights s_b >= 0: E = c·Σ_b s_b·loss_b, a mean divided by
            Σ_b s_b (scikit-learn's convention); the loss then by name, not a loss object.

    Returns:
        The main job's `optim_check.Sweep` at the one rate ``lr``: ``.ok``,
        ``.first_divergence`` (None when everything agrees), ``.gradcheck``, ``.rates[0]``
        (the step-by-step check: ``.runs``, ``.comparisons``, ``.largest``);
        `report.sweep.as_dict` gives its report.json.

    Raises:
        InputError: an unsupported layer (named), a bad combination or bad data.
    """
    loss_object = None if isinstance(loss, str) else loss
    if loss_object is not None and sample_weight is not None:
        raise InputError(f"sample_weight= needs the loss by name (loss='mse', 'half-sse' or "
                         f"'cross-entropy'); the loss object {validate.short_text(loss_object)} "
                         "computes its own unweighted reduction")
    if loss_object is not None:
        loss, reduction = _loss_of(loss_object)
    if jax_library(model):
        if apply is not None:
            raise InputError("an Equinox or Flax model runs itself; give no apply=")
        from autograd_compare.jax_impl import user_model as jax_model

        model, apply = jax_model.library_model(model) or (model, None)
    net, w = describe_model(model, loss, reduction)
    if type(loss_object).__name__ == "BCELoss" and _last_module(model) != "Sigmoid":
        raise InputError("nn.BCELoss takes probabilities, but your model does not end in "
                         "nn.Sigmoid; add it, or use nn.BCEWithLogitsLoss (the logits)")
    names = _backend_names(backends)
    dt = validate.dtype(dtype)
    data = network.data(net, _numpy(inputs, "inputs"), _targets(net, targets), dt,
                        None if sample_weight is None else _numpy(sample_weight, "sample_weight"))
    judged = []
    if not isinstance(model, (list, tuple)):  # a torch model: its own forward and loss too
        from autograd_compare.torch_impl import user_model

        if type(loss_object).__name__ == "NLLLoss":
            _one_hot(data.targets)  # nn.NLLLoss takes class indices: the one-hot rows' argmax
        judged.append(user_model.backend(model, loss_object or _torch_loss(net, model,
                                                                           data.weights), net,
                                         dt))
    elif apply is not None:  # a JAX model: its own apply
        if loss_object is not None or not callable(apply):
            raise InputError("with a JAX model give apply=<function(params, x)> and the loss "
                             f"by name (loss={' or '.join(map(repr, network.LOSSES))})")
        from autograd_compare.jax_impl import user_model as jax_model

        judged.append(jax_model.backend(apply, model, _jax_loss(net, model, data.weights), net,
                                        dt))
    opt = optimizers.make("sgd", lr=lr, l2=l2, decay_biases=decay_biases,
                          frozen=frozen_weights(model, net))  # requires_grad=False: held fixed
    sw = optim_check.sweep("your model", opt, list(names), net, network.weights(net, w, dt),
                           data, (lr,), steps, dt, judged=judged)
    return sw._replace(notes=_diagnosis(sw, model, loss_object, apply)) if judged else sw


def check_gradients(fn: Callable[..., Any], net: str | network.Network = "tutorial", *,
                    weights: Any = None, inputs: Any = None, targets: Any = None,
                    lrs: Any = None, steps: int | None = None, optimizer: Any = SGD,
                    dtype: str = "float64", backends: tuple[str, ...] | None = None,
                    name: str | None = None, sample_weight: Any = None) -> optim_check.Sweep:
    """Check the user's own gradient function as a backend: the main job's gradient check and
    trajectory check at every rate, beside manual, torch and jax.

        def my_backprop(net, w, data):  # w (P,), data.inputs (B, n_in), data.targets (B, n_out)
            ...
            return dE_dw  # (P,) in network.param_names order; or (E, dE_dw); or a BackwardPass

        assert check_gradients(my_backprop).ok  # the class example and its sweep

    Args:
        fn: the function (`compare.plugins`); it trains with ``optimizer``'s update rule
            written once in `manual.optim`, around its gradients.
        net: a preset name or a `network.make_network` network (then ``weights``,
            ``inputs`` and ``targets`` are needed).
        weights: the flat start (P,) (default the preset's).
        inputs: (B, n_in) (default the preset's data).
        targets: (B, n_out).
        lrs: the learning rates (default: the tutorial's sweep, else the preset's rate).
        steps: updates per rate (default the preset's).
        optimizer: an `optimizers.make` value or a kind ("adam"); sgd by default.
        dtype: "float64" or "float32".
        backends: the others (default every installed one; the first is the trajectory's
            reference).
        name: the backend's name in the report (default ``fn.__name__``).
        sample_weight: B example weights (``data.weights`` in ``fn``; see `check_model`).

    Returns:
        The main job's `optim_check.Sweep`: ``.ok``, ``.first_divergence``, ``.gradcheck``,
        ``.rates``; `report.sweep.as_dict` gives its report.json.
    """
    from autograd_compare import plugins
    from autograd_compare.interface import LEARNING_RATES

    if not callable(fn):
        raise InputError(f"fn must be a function (net, w, data) -> dE/dw; got "
                         f"{validate.short_text(fn)}")
    label = name or getattr(fn, "__name__", "yours")
    if not isinstance(label, str) or label in registry.REGISTRY or not label.isidentifier():
        raise InputError(f"name {validate.short_text(label)} cannot name your backend; give "
                         "name='...' (a word that is not manual, torch or jax)")
    if isinstance(net, str):
        given = network.preset(net)
        lr_default = LEARNING_RATES if net == "tutorial" else (given.lr,)
        net, steps = given.network, given.steps if steps is None else steps
        weights = given.weights if weights is None else weights
        inputs = given.data.inputs if inputs is None else inputs
        targets = given.data.targets if targets is None else targets
    elif not isinstance(net, network.Network):
        raise InputError(f"net must be a preset name ({', '.join(network.PRESETS)}) or a "
                         f"network.make_network(...) value; got {validate.short_text(net)}")
    else:
        lr_default = (0.1,)
    if weights is None or inputs is None or targets is None:
        raise InputError("with your own network give weights=, inputs= and targets=")
    dt = validate.dtype(dtype)
    lrs = (lrs,) if isinstance(lrs, (int, float)) else lrs
    rates = tuple(validate.learning_rate(lr, dt) for lr in (lrs or lr_default))
    if isinstance(optimizer, str):
        optimizer = optimizers.make(optimizer)
    if not isinstance(optimizer, optimizers.Optimizer):
        raise InputError(f"optimizer must be a name or an optimizers.make(...) value; got "
                         f"{validate.short_text(optimizer)}")
    names = [*_backend_names(backends), label]
    optim_check.require_backends(optimizer, names)
    data = network.data(net, _numpy(inputs, "inputs"), _numpy(targets, "targets"), dt,
                        None if sample_weight is None else _numpy(sample_weight, "sample_weight"))
    with plugins.given(label, fn):
        return optim_check.sweep(f"your {label}", optimizer, names, net,
                                 network.weights(net, weights, dt), data, rates,
                                 validate.steps(100 if steps is None else steps), dt)


def frozen_weights(model: Any, net: network.Network) -> tuple[int, ...]:
    """The parameter indices of a torch model's weights with ``requires_grad=False`` (every
    backend holds them fixed, as torch.optim does)."""
    if isinstance(model, (list, tuple)) or not hasattr(model, "_modules"):
        return ()
    from autograd_compare.torch_impl.user_model import layers

    return tuple(i for (lin, _), lay in zip(layers(model), network.layout(net), strict=True)
                 if not lin.weight.requires_grad for i in range(lay.W.start, lay.W.stop))


def jax_library(model: Any) -> bool:
    """An Equinox or Flax model (or a subclass of one): read and run by `jax_impl.user_model`."""
    return any(c.__module__.split(".")[0] in ("equinox", "flax") for c in type(model).__mro__)


def _output_formula(net: network.Network, out: str) -> str:
    """The network's output in symbols: "σ(W2 a1 + b2)", "W3 a2" (the logits)."""
    L = net.layers
    z = f"W{L} {'x' if L == 1 else f'a{L - 1}'}" + (f" + b{L}" if net.bias != "none" else "")
    f = net.activations[-1]
    act = None if f in ("identity", "softmax") else {"sigmoid": "σ",
                                                      "log-softmax": "log_softmax"}.get(f, f)
    return z if out == "z" or act is None else f"{act}({z})"


def _loss_of(obj: Any) -> tuple[str, str]:
    """(loss, reduction) of a torch loss object (`check_model`'s ``loss``)."""
    kind = type(obj).__name__
    if kind not in LOSS_OBJECTS:
        raise InputError(f"unsupported loss {validate.short_text(obj)}; expected one of "
                         f"{', '.join(LOSS_OBJECTS)} (a torch.nn loss object) or one of "
                         f"{', '.join(network.LOSSES)}")
    reduction = getattr(obj, "reduction", "mean")
    if reduction not in network.REDUCTIONS:
        raise InputError(f"loss {kind}(reduction={reduction!r}): expected reduction 'sum' or "
                         "'mean' (the checks need one number E)")
    for name, what, harmless in UNSUPPORTED_SETTINGS:
        value = getattr(obj, name, harmless)
        if (value is not None) if harmless is None else (value != harmless):
            raise InputError(f"loss {kind}({name}={validate.short_text(value, 40)}) is not "
                             f"supported ({what}); use {kind}() or {kind}(reduction=...)")
    return LOSS_OBJECTS[kind], reduction


def _one_hot(t: np.ndarray) -> None:
    """Refuse targets that are not one-hot rows (nn.NLLLoss takes class indices)."""
    ok = np.all((t == 0) | (t == 1), axis=-1) & (t.sum(axis=-1) == 1)
    if not ok.all():
        b = int(np.argmin(ok))
        raise InputError(f"nn.NLLLoss takes class indices, but target row {b + 1} is "
                         f"{validate.short_text(t[b].tolist())}; give class indices (B,) or "
                         "one-hot rows")


def _torch_loss(net: network.Network, model: Any, s: Any = None) -> Any:
    """The loss ``loss=`` names, as torch computes it on the model's output: what the user
    said they train with (``s``: example weights, example b's loss times s_b)."""
    import torch

    probabilities = _last_module(model) in ("Softmax", "Sigmoid")
    F = torch.nn.functional

    def loss(y: Any, t: Any) -> Any:
        c = network.reduction_scale(net, t.shape[0], s)
        if net.loss == "cross-entropy":
            per = -(t * (torch.log(y) if probabilities else torch.log_softmax(y, dim=-1)))
        elif net.loss == "bce":  # torch's own: on probabilities (nn.Sigmoid last) or logits
            bce = F.binary_cross_entropy if probabilities else F.binary_cross_entropy_with_logits
            per = bce(y, t, reduction="none")
        elif net.loss == "nll":
            per = -(t * y)  # y: log-probabilities (nn.LogSoftmax last)
        else:
            per = (0.5 if net.loss == "half-sse" else 1.0) * (t - y) ** 2
        per = per.sum(dim=-1)  # loss_b (B,)
        return c * (per if s is None else torch.as_tensor(s, dtype=y.dtype) * per).sum()

    return loss


def _jax_loss(net: network.Network, params: Any, s: Any = None) -> Any:
    """The named loss in jax.numpy on ``apply``'s output (probabilities where the last layer
    says "softmax", else logits for the cross-entropy; ``s``: example weights)."""
    import jax
    import jax.numpy as jnp

    probabilities = params[-1].get("activation") in ("softmax", "sigmoid")

    def loss(y: Any, t: Any) -> Any:
        c = network.reduction_scale(net, t.shape[0], s)
        if net.loss == "cross-entropy":
            per = -(t * (jnp.log(y) if probabilities else jax.nn.log_softmax(y, axis=-1)))
        elif net.loss == "bce" and probabilities:  # on probabilities (sigmoid last)
            per = -(t * jnp.log(y) + (1 - t) * jnp.log1p(-y))
        elif net.loss == "bce":  # on logits
            per = -(t * jax.nn.log_sigmoid(y) + (1 - t) * jax.nn.log_sigmoid(-y))
        elif net.loss == "nll":
            per = -(t * y)  # y: log-probabilities (log-softmax last)
        else:
            per = (0.5 if net.loss == "half-sse" else 1.0) * (t - y) ** 2
        per = per.sum(axis=-1)  # loss_b (B,)
        return c * (per if s is None else jnp.asarray(s, y.dtype) * per).sum()

    return loss


def _last_module(model: Any) -> str:
    if isinstance(model, (list, tuple)):
        act = str(model[-1].get("activation")) if model else ""
        return {"softmax": "Softmax", "sigmoid": "Sigmoid"}.get(act, "")
    mods = list(model._modules.values())
    return type(mods[-1]).__name__ if mods else ""


def _diagnosis(sw: optim_check.Sweep, model: Any, loss_object: Any,
               apply: Any = None) -> tuple[str, ...]:
    """Why the user's model differs from the network read from it (empty when it agrees)."""
    NAME = "model"  # the user's own model's backend (torch_impl/jax_impl.user_model)

    first = sw.gradcheck.first_failure
    wrong = [r for r in sw.gradcheck.rows if not r.errors.get(NAME, 0.0) <= r.tolerance]
    if not wrong:
        return ()
    if type(loss_object).__name__ == "CrossEntropyLoss" and _last_module(model) == "Softmax":
        return ("your model ends in nn.Softmax and is trained with nn.CrossEntropyLoss, which "
                "applies log-softmax itself: softmax twice. Drop the Softmax layer (the loss "
                "takes the logits)",)
    if type(loss_object).__name__ == "BCEWithLogitsLoss" and _last_module(model) == "Sigmoid":
        return ("your model ends in nn.Sigmoid and is trained with nn.BCEWithLogitsLoss, which "
                "applies the sigmoid itself: sigmoid twice. Drop the Sigmoid layer, or use "
                "nn.BCELoss",)
    net, w = sw.network, sw.start
    from autograd_compare.manual import mlp

    mine = mlp.forward(net, w, sw.data)
    probabilities = _last_module(model) in ("Softmax", "Sigmoid")
    out = "z" if network.from_logits(net) and not probabilities else "a"
    ours = (mine.z if out == "z" else mine.a)[-1]  # logits where the model gives them
    if apply is None:
        from autograd_compare.torch_impl.user_model import output

        got = output(model, net, w, sw.data.inputs)
    else:
        from autograd_compare.jax_impl import user_model as jax_model

        got = jax_model.output(apply, model, net, np.asarray(w, np.float64),
                               np.asarray(sw.data.inputs, np.float64))
    formula = _output_formula(net, out)
    where = first["quantity"] if first and first.get("backend") == NAME else wrong[0].quantity
    diff = np.abs(got - ours)
    if np.all(diff <= 1e-12 * np.maximum(1.0, np.abs(ours))):
        return (f"your model's output is {formula}, as read from its layers, but its loss's "
                f"gradients differ from the hand-derived ones, first at {where}: the loss is "
                "not the one named, or its forward reuses or skips a layer",)
    b, j = np.unravel_index(int(np.argmax(diff)), diff.shape)
    return (f"your model's output is not {formula}: for example {b + 1}, output {j + 1} it "
            f"gives {float(got[b, j]):.10g} where {formula} gives {float(ours[b, j]):.10g} "
            f"(its forward computes something else than its layers describe); first "
            f"differing gradient: {where}",)



def _backend_names(backends: Any) -> tuple[str, ...]:
    """``backends`` checked: registry names or mistake:<kind> (an SGD update-rule mistake),
    each once (default every installed one)."""
    if backends is None:
        return tuple(optim_check.available())
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
    elif any(c.__name__ == "Sequential" for c in type(model).__mro__) and hasattr(
            model, "_modules"):  # torch.nn.Sequential or a subclass (its own forward is run)
        layers = _torch_layers(model)
    else:
        raise InputError(f"expected a torch.nn.Sequential, an Equinox eqx.nn.MLP, a Flax "
                         f"nnx.Sequential or a list of layer dicts; got {type(model).__name__}")
    if not layers:
        raise InputError("the model has no Linear layer")
    acts = [layer.activation for layer in layers]
    if loss in network.LOGITS_LOSSES and acts[-1] == "identity":
        # the last Linear gives the logits, as nn.CrossEntropyLoss and nn.BCEWithLogitsLoss take
        acts[-1] = "softmax" if loss == "cross-entropy" else "sigmoid"
    kinds = {"none" if L.b is None else "frozen" if L.frozen else "trainable" for L in layers}
    if len(kinds) > 1:
        raise InputError("biases must be all trainable, all absent or all frozen "
                         f"(requires_grad=False); this model mixes {', '.join(sorted(kinds))}")
    (bias,) = kinds
    sizes = [layers[0].W.shape[1]] + [L.W.shape[0] for L in layers]
    for k in range(1, len(layers)):
        if layers[k].W.shape[1] != sizes[k]:
            raise InputError(f"layer {k}: weight (out, in) = {layers[k].W.shape} does not take "
                             f"the {sizes[k]} outputs of the layer before (a pytree's 'W' is "
                             "PyTorch's (out, in) layout; give Flax's (in, out) as 'kernel')")
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
    seen: dict[int, int] = {}
    for i, mod in enumerate(model._modules.values()):  # a module used twice: listed twice
        kind = type(mod).__name__
        if kind == "Linear" and id(mod) in seen:
            raise InputError(f"layer {i} is layer {seen[id(mod)]} again (the same nn.Linear "
                             "object: shared weights); the checks need a separate nn.Linear "
                             "per layer")
        seen[id(mod)] = i
        if kind == "Identity" or (kind == "Dropout" and not mod.training):
            continue  # exactly the identity (Dropout in eval mode)
        if kind == "Dropout":
            raise InputError(f"layer {i} (Dropout) is in training mode, which is random; call "
                             "model.eval() first (Dropout is then the identity)")
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
            if kind in ("Softmax", "LogSoftmax") and mod.dim not in (-1, 1, None):
                raise InputError(f"layer {i} ({kind}): only dim=-1 (the features) is supported")
            layers[-1] = layers[-1]._replace(activation=_torch_activation(i, mod))
            after_linear = False
        else:
            text = " ".join(repr(mod).split())  # one line, even for a nested module
            text = text if len(text) <= 80 else text[:77] + "..."
            raise InputError(f"unsupported layer {i}: {text}; supported: Linear, "
                             + ", ".join(TORCH_ACTIVATIONS) + " (Softmax, LogSoftmax last), "
                             "Identity, "
                             "Dropout (in eval mode)")
    return layers


def _torch_activation(i: int, mod: Any) -> str:
    """The activation name of torch module ``mod`` (layer ``i``), with its parameter."""
    kind = type(mod).__name__
    name = TORCH_ACTIVATIONS[kind]
    if kind == "GELU" and mod.approximate != "none":
        raise InputError(f"layer {i} (GELU(approximate={mod.approximate!r})): only the exact "
                         "nn.GELU() is supported (approximate='none', the erf form)")
    if kind == "Softplus" and (mod.beta != 1 or mod.threshold != network.SOFTPLUS_THRESHOLD):
        raise InputError(f"layer {i} (Softplus(beta={mod.beta}, threshold={mod.threshold})): "
                         "only nn.Softplus() is supported (beta=1, threshold=20)")
    parameter = {"LeakyReLU": "negative_slope", "ELU": "alpha"}.get(kind)
    if parameter is None:
        return name
    try:
        return network.activation_name(f"{name}:{float(getattr(mod, parameter))!r}")
    except InputError as err:
        raise InputError(f"layer {i} ({kind}): {err}") from None


def _pytree_layer(i: int, layer: Any) -> _Layer:
    if not isinstance(layer, dict):
        raise InputError(f"layer {i}: expected a dict with 'W', 'b', 'activation'; got "
                         f"{type(layer).__name__}")
    unknown = set(layer) - {"W", "weight", "kernel", "b", "bias", "activation"}
    if unknown:
        raise InputError(f"layer {i}: unsupported keys {sorted(unknown)}; expected 'W' (out, "
                         "in) or 'kernel' (in, out), 'b', 'activation'")
    keys = [k for k in ("W", "weight", "kernel") if k in layer]
    if len(keys) != 1:
        raise InputError(f"layer {i}: expected one weight, 'W' (out, in) or Flax's 'kernel' "
                         f"(in, out); got {keys or 'none'}")
    (key,) = keys
    layout = "(in, out), Flax's 'kernel'" if key == "kernel" else f"(out, in), {key!r}"
    W = _numpy(layer[key], f"layer {i}: weight")
    if W.ndim != 2:
        raise InputError(f"layer {i}: weight must be a matrix {layout}; got shape {W.shape}")
    W = W.T if key == "kernel" else W
    b = layer.get("b", layer.get("bias"))
    b = None if b is None else _numpy(b, f"layer {i}: bias").reshape(-1)
    if b is not None and b.shape != (W.shape[0],):
        raise InputError(f"layer {i}: bias must have {W.shape[0]} entries (the outputs of its "
                         f"weight, layout {layout}); got {b.size}")
    try:
        act = network.activation_name(layer.get("activation", "identity"))
    except InputError as err:
        raise InputError(f"layer {i}: {err}") from None
    return _Layer(W, b, False, act)


def _targets(net: network.Network, targets: Any) -> np.ndarray:
    """``targets`` (B, n_out); for cross-entropy and nll also class indices (B,) of integers,
    as ``nn.CrossEntropyLoss`` and ``nn.NLLLoss`` take them, made one-hot (the same loss and
    gradients); for bce with one output also (B,), made a column."""
    raw = validate.as_numpy(targets, "targets")
    if net.loss == "bce" and raw.ndim == 1 and net.sizes[-1] == 1:
        return raw.astype(np.float64)[:, None]
    if net.loss not in network.CLASS_LOSSES or raw.ndim != 1 or raw.dtype.kind not in "iu":
        return raw.astype(np.float64)
    classes = net.sizes[-1]
    bad = raw[(raw < 0) | (raw >= classes)]
    if bad.size:
        raise InputError(f"class index {int(bad[0])} out of range: the model has {classes} "
                         f"outputs, so classes are 0..{classes - 1}")
    return np.eye(classes)[raw]


def _numpy(x: Any, what: str) -> np.ndarray:
    """Real numbers as float64 (`validate.as_numpy`: NumPy, lists, torch or JAX arrays);
    complex, text, booleans, objects, ragged lists, meta or sparse tensors: `InputError`."""
    return validate.as_numpy(x, what).astype(np.float64)
