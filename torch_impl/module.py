"""The 2-2-2 network as a torch.nn.Module of two nn.Linear(2, 2, bias=False) layers.

nn.Linear stores its weight as (out_features, in_features) and computes y = x @ weight.T, so
row j of a weight matrix holds everything feeding neuron j. With w1..w8 read row-major:

    hidden.weight = [[w1, w2],    h1 = w1*i1 + w2*i2      w3 = hidden.weight[1, 0]
                     [w3, w4]]    h2 = w3*i1 + w4*i2           (into h2, from i1)
    output.weight = [[w5, w6],    o1 = w5*a_h1 + w6*a_h2  w7 = output.weight[1, 0]
                     [w7, w8]]    o2 = w7*a_h1 + w8*a_h2       (into o2, from a_h1)

which is exactly `compare.interface`'s flat layout: w = cat(hidden.weight.ravel(),
output.weight.ravel()). Everything here is torch ops: any dtype, any device, autograd intact.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import torch
from torch import nn

from autograd_compare.errors import InputError
from autograd_compare.interface import CLASS_WEIGHTS, Example
from autograd_compare.types import Trajectory

Reduction = Literal["mean", "sum", "none"]
REDUCTIONS = ("mean", "sum", "none")


class Net222(nn.Module):
    """inputs (..., 2) -> a_o (..., 2): σ(output(σ(hidden(inputs)))), no biases.

    Args:
        weights: w1..w8 (8,) (a tensor, array or sequence); default the class example's
            `CLASS_WEIGHTS` (0.15 ... 0.55).
        dtype, device: as for ``nn.Linear``: torch's default dtype and device unless given.
    """

    def __init__(self, weights: torch.Tensor | Sequence[float] | np.ndarray | None = None, *,
                 dtype: torch.dtype | None = None, device: torch.device | str | None = None):
        super().__init__()
        factory = {"dtype": dtype, "device": device}
        self.hidden = nn.Linear(2, 2, bias=False, **factory)  # [[w1, w2], [w3, w4]]
        self.output = nn.Linear(2, 2, bias=False, **factory)  # [[w5, w6], [w7, w8]]
        set_weights(self, CLASS_WEIGHTS if weights is None else weights)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        a_h = torch.sigmoid(self.hidden(inputs))  # a_h = σ(h), h = W_hidden @ i
        return torch.sigmoid(self.output(a_h))  # a_o = σ(o), o = W_output @ a_h


def e_total(a_o: torch.Tensor, targets: torch.Tensor, *,
            reduction: Reduction = "mean") -> torch.Tensor:
    """E_total = ½(t1 - a_o1)² + ½(t2 - a_o2)² of each example, then reduced over examples.

    Args:
        a_o: (..., 2) network outputs; targets: (..., 2), broadcastable to ``a_o``.
        reduction: "mean" (default, like torch.nn losses) or "sum" over the examples, or
            "none" for one E_total per example, shape (...). For one example (2,) all three
            give the tutorial's E_total.
    """
    per_example = (0.5 * (targets - a_o) ** 2).sum(-1)  # E1 + E2
    return apply_reduction(per_example, reduction)


def set_weights(model: Net222, w: torch.Tensor | Sequence[float] | np.ndarray) -> None:
    """Copy w1..w8 (8,) into the model's two weight tensors, converted to their dtype/device.

    ``w`` may live on any device, have any dtype and require grad (it is only read).
    """
    like = model.hidden.weight
    w = w.detach() if isinstance(w, torch.Tensor) else torch.as_tensor(w, dtype=like.dtype)
    if w.shape != (8,):
        raise InputError(f"expected 8 weights w1..w8; got shape {tuple(w.shape)}")
    with torch.no_grad():
        model.hidden.weight.copy_(w[0:4].reshape(2, 2))  # [[w1, w2], [w3, w4]]
        model.output.weight.copy_(w[4:8].reshape(2, 2))  # [[w5, w6], [w7, w8]]


def get_weights(model: Net222) -> torch.Tensor:
    """w1..w8 (8,): a detached copy, in the model's dtype and on its device."""
    return torch.cat([model.hidden.weight.detach().reshape(4),
                      model.output.weight.detach().reshape(4)])


def weight_grads(model: Net222) -> torch.Tensor:
    """dE/dw1..dw8 (8,) from the ``.grad`` of the two weight tensors, same layout and device."""
    grads = (model.hidden.weight.grad, model.output.weight.grad)
    if grads[0] is None or grads[1] is None:
        raise InputError("the model has no gradients yet; call backward() first")
    return torch.cat([grads[0].reshape(4), grads[1].reshape(4)])


def train_sgd(w, example: Example, *, lr: float, steps: int,
              dtype: torch.dtype = torch.float64) -> Trajectory:
    """The everyday PyTorch loop: Net222 + torch.optim.SGD(lr) for ``steps`` steps.

    Returns the same `Trajectory` (NumPy, CPU) as the backends' ``train`` to compare them.
    """
    model = Net222(w, dtype=dtype)
    inputs = torch.as_tensor(example.inputs, dtype=dtype)
    targets = torch.as_tensor(example.targets, dtype=dtype)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    loss, weights, grads = [], [get_weights(model)], []
    for _ in range(steps):
        opt.zero_grad()
        e = e_total(model(inputs), targets)
        e.backward()
        loss.append(e.detach().clone())
        grads.append(weight_grads(model).clone())
        opt.step()  # w <- w - lr * w.grad
        weights.append(get_weights(model))
    return Trajectory(*(torch.stack(x).cpu().numpy() for x in (loss, weights, grads)))


def apply_reduction(per_example: torch.Tensor, reduction: str) -> torch.Tensor:
    """One value per example (...) -> its "mean", its "sum", or itself ("none")."""
    if reduction not in REDUCTIONS:
        raise InputError(f"reduction must be one of {', '.join(map(repr, REDUCTIONS))}; "
                         f"got {reduction!r}")
    if reduction == "mean":
        return per_example.mean()
    if reduction == "sum":
        return per_example.sum()
    return per_example
