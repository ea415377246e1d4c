"""The user's own torch model as a backend: its ``forward`` and its loss, run and differentiated
by torch autograd (what the user's training really computes), beside the network read from it
(`compare.usermodel.describe_model`).

The parameter vector is the network's (`compare.network.layout`: W_l row-major (out, in), then
b_l); each call loads it into a copy of the user's module, so the model itself is never touched.
Node values are caught by forward hooks: z_l is what the l-th ``nn.Linear`` returns, a_l what
the activation module after it returns (z_l itself where there is none). Whatever the user's
``forward`` does around its layers (a factor, a second softmax) reaches E and so every gradient.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from autograd_compare.backend import Backend
from autograd_compare.errors import InputError
from autograd_compare.network import (
    BackwardPass,
    Data,
    ForwardPass,
    Network,
    from_logits,
    layout,
    n_params,
)
from autograd_compare.optimizers import Optimizer
from autograd_compare.types import Array, BatchResult, Resume, Trajectory

NAME = "model"  # the backend's name in the checks and the report
Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def layers(model: nn.Module) -> list[tuple[nn.Linear, nn.Module | None]]:
    """Each ``nn.Linear`` of a Sequential with its activation module (None: none, or another
    Linear); ``nn.Identity`` and eval-mode ``nn.Dropout`` are skipped, as the reader does."""
    mods = [m for m in model._modules.values()  # every entry, a module used twice included
            if not isinstance(m, (nn.Identity, nn.Dropout))]
    out: list[tuple[nn.Linear, nn.Module | None]] = []
    for i, mod in enumerate(mods):
        if isinstance(mod, nn.Linear):
            nxt = mods[i + 1] if i + 1 < len(mods) else None
            out.append((mod, None if isinstance(nxt, nn.Linear) else nxt))
    return out


def backend(model: nn.Module, loss: Loss, read: Network, dtype: np.dtype[Any]) -> Backend:
    """`Backend` ``"model"``: ``forward`` and ``gradients`` run ``loss(model(x), t)``; ``train``
    is torch.optim.SGD on a copy of the model (plain gradient descent only)."""
    tdt = torch.float64 if dtype == np.float64 else torch.float32

    def load(w: Array) -> nn.Module:
        return loaded(model, read, w)

    def run(m: nn.Module, data: Data, grad: bool
            ) -> tuple[list[torch.Tensor], list[torch.Tensor], torch.Tensor]:
        """z, a per layer (hooked) and the user's E."""
        zs: list[torch.Tensor] = []
        as_: list[torch.Tensor] = []
        hooks = []
        for lin, act in layers(m):
            def keep_z(mod: nn.Module, inp: Any, out: torch.Tensor, act: Any = act) -> None:
                if grad:
                    out.retain_grad()
                zs.append(out)
                if act is None:
                    as_.append(out)

            hooks.append(lin.register_forward_hook(keep_z))
            if act is not None:
                def keep_a(mod: nn.Module, inp: Any, out: torch.Tensor) -> None:
                    if grad and out.requires_grad:
                        out.retain_grad()
                    as_.append(out)

                hooks.append(act.register_forward_hook(keep_a))
        try:
            x, t = (torch.from_numpy(np.asarray(v)).to(tdt) for v in (data.inputs, data.targets))
            E = loss(m(x), t.argmax(-1) if isinstance(loss, nn.NLLLoss) else t)  # NLLLoss:
            #   class indices (check_model has checked that the rows are one-hot)
        finally:
            for h in hooks:
                h.remove()
        if len(zs) != read.layers:
            raise InputError(f"the model's forward ran {len(zs)} of its {read.layers} Linear "
                             "layers (or one more than once); the checks need each once")
        return zs, as_, E

    def forward(net: Network, w: npt.ArrayLike, data: Data) -> ForwardPass:
        w = np.asarray(w, dtype)
        with torch.no_grad():
            zs, as_, E = run(load(w), data, grad=False)
        a = [v.numpy() for v in as_]
        if from_logits(read) and layers(model)[-1][1] is None:  # logits out: a_L for the record
            a[-1] = (torch.softmax(zs[-1], -1) if read.activations[-1] == "softmax"
                     else torch.sigmoid(zs[-1])).numpy()
        losses = np.full(zs[0].shape[0], np.nan, dtype)  # the user's loss gives E only
        return ForwardPass(tuple(z.numpy() for z in zs), tuple(a), losses,
                           np.asarray(E.detach().numpy(), dtype))

    def gradients(net: Network, w: npt.ArrayLike, data: Data) -> BackwardPass:
        w = np.asarray(w, dtype)
        m = load(w)
        for p in m.parameters():  # dE/dw of a frozen weight too (the gradient check's); it
            p.requires_grad_(True)  # is held fixed in training, not left out of the maths
        zs, as_, E = run(m, data, grad=True)
        E.backward()
        dz = tuple(_grad(z, dtype) for z in zs)
        da: list[Array | None] = [_grad(a, dtype) for a in as_[:read.layers - 1]]
        da.append(None if from_logits(read) else _grad(as_[-1], dtype))  # no dE/da_L node
        return BackwardPass(flat_grad(m, read, dtype), dz, tuple(da))

    def train(net: Network, w: npt.ArrayLike, data: Data, opt: Optimizer, steps: int,
              resume: Resume | None = None) -> Trajectory:
        w = np.asarray(w, dtype)
        from autograd_compare.backend import is_plain

        if not is_plain(opt):
            raise InputError(f"the model is trained by plain gradient descent here; got "
                             f"{opt.describe()}")
        m = load(w)
        sgd = torch.optim.SGD(m.parameters(), lr=opt.lr)
        P = w.size
        loss_k, grads = np.empty(steps, dtype), np.empty((steps, P), dtype)
        weights = np.empty((steps + 1, P), dtype)
        weights[0] = w
        for k in range(steps):
            sgd.zero_grad()
            E = run(m, data, grad=False)[2]
            E.backward()
            loss_k[k], grads[k] = E.item(), flat_grad(m, read, dtype)
            sgd.step()
            weights[k + 1] = flat_params(m, read, dtype)
        return Trajectory(loss_k, weights, grads, np.empty((steps, 0), dtype))

    def train_batch(*args: Any, **kwargs: Any) -> BatchResult:
        raise InputError("the model has no batched form; its checks train it one run at a time")

    return Backend(NAME, np.dtype(dtype), forward, gradients, train, train_batch)


def loaded(model: nn.Module, read: Network, w: Array) -> nn.Module:
    """A copy of ``model`` in ``w``'s dtype holding the parameters ``w`` (P,)."""
    m = copy.deepcopy(model).to(torch.float64 if w.dtype == np.float64 else torch.float32)
    with torch.no_grad():
        for (lin, _), lay in zip(layers(m), layout(read), strict=True):
            lin.weight.copy_(torch.from_numpy(np.asarray(w[lay.W])).reshape(lay.W_shape))
            if lay.b is not None:
                lin.bias.copy_(torch.from_numpy(np.asarray(w[lay.b])))
    return m


def output(model: nn.Module, read: Network, w: Array, x: Array) -> Array:
    """What the user's model returns for inputs ``x`` at parameters ``w``."""
    with torch.no_grad():
        return loaded(model, read, w)(torch.from_numpy(np.asarray(x))).numpy()


def _grad(v: torch.Tensor, dtype: np.dtype[Any]) -> Array:
    """dE/dv; zeros where v does not reach E."""
    return np.zeros(v.shape, dtype) if v.grad is None else v.grad.numpy().astype(dtype)


def flat_params(m: nn.Module, net: Network, dtype: np.dtype[Any]) -> Array:
    return _flat(m, net, dtype, lambda p: p.detach())


def flat_grad(m: nn.Module, net: Network, dtype: np.dtype[Any]) -> Array:
    """The model's .grad in the network's parameter order (zeros where none reached)."""
    return _flat(m, net, dtype, lambda p: torch.zeros_like(p) if p.grad is None else p.grad)


def _flat(m: nn.Module, net: Network, dtype: np.dtype[Any],
          of: Callable[[torch.Tensor], torch.Tensor]) -> Array:
    out = np.empty(n_params(net), dtype)
    for (lin, _), lay in zip(layers(m), layout(net), strict=True):
        out[lay.W] = of(lin.weight).reshape(-1).numpy()
        if lay.b is not None:
            out[lay.b] = of(lin.bias).numpy()
    return out
