"""The 2-2-2 network as a torch.nn.Module of two nn.Linear(2, 2, bias=False) layers.

nn.Linear stores its weight as (out_features, in_features) and computes y = x @ weight.T, so
row j of a weight matrix holds everything feeding neuron j. With w1..w8 read row-major:

    hidden.weight = [[w1, w2],    h1 = w1*i1 + w2*i2      w3 = hidden.weight[1, 0]
                     [w3, w4]]    h2 = w3*i1 + w4*i2           (into h2, from i1)
    output.weight = [[w5, w6],    o1 = w5*a_h1 + w6*a_h2  w7 = output.weight[1, 0]
                     [w7, w8]]    o2 = w7*a_h1 + w8*a_h2       (into o2, from a_h1)

which is exactly `compare.interface`'s flat layout: w = cat(hidden.weight.ravel(),
output.weight.ravel()).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from autograd_compare.interface import CLASS_WEIGHTS, Example, Trajectory


class Net222(nn.Module):
    """inputs (..., 2) -> a_o (..., 2): σ(output(σ(hidden(inputs)))), no biases."""

    def __init__(self, w=CLASS_WEIGHTS, dtype: torch.dtype = torch.float64):
        super().__init__()
        self.hidden = nn.Linear(2, 2, bias=False, dtype=dtype)  # weight [[w1, w2], [w3, w4]]
        self.output = nn.Linear(2, 2, bias=False, dtype=dtype)  # weight [[w5, w6], [w7, w8]]
        set_weights(self, w)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        a_h = torch.sigmoid(self.hidden(inputs))  # a_h = σ(h), h = W_hidden @ i
        return torch.sigmoid(self.output(a_h))  # a_o = σ(o), o = W_output @ a_h


def e_total(a_o: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """E_total = ½(t1 - a_o1)² + ½(t2 - a_o2)², summed over the last axis: (..., 2) -> (...)."""
    return (0.5 * (targets - a_o) ** 2).sum(-1)


def set_weights(model: Net222, w) -> None:
    """Copy w1..w8 (8,) into ``model.hidden.weight`` and ``model.output.weight`` (no grad)."""
    w = torch.as_tensor(np.asarray(w), dtype=model.hidden.weight.dtype)
    if w.shape != (8,):
        raise ValueError(f"expected 8 weights w1..w8; got shape {tuple(w.shape)}: {w.tolist()}")
    with torch.no_grad():
        model.hidden.weight.copy_(w[0:4].reshape(2, 2))  # [[w1, w2], [w3, w4]]
        model.output.weight.copy_(w[4:8].reshape(2, 2))  # [[w5, w6], [w7, w8]]


def get_weights(model: Net222) -> np.ndarray:
    """w1..w8 (8,) as a NumPy array of the model's dtype, read from its two weight tensors."""
    with torch.no_grad():
        return torch.cat([model.hidden.weight.reshape(4), model.output.weight.reshape(4)]).numpy()


def weight_grads(model: Net222) -> np.ndarray:
    """dE_total/dw1..dw8 (8,) from the ``.grad`` of the two weight tensors, same layout."""
    return torch.cat([model.hidden.weight.grad.reshape(4),
                      model.output.weight.grad.reshape(4)]).numpy()


def train_sgd(w, example: Example, lr: float, steps: int,
              dtype: torch.dtype = torch.float64) -> Trajectory:
    """The everyday PyTorch loop: Net222 + torch.optim.SGD(lr) for ``steps`` steps.

    Returns the same `Trajectory` as the backends' ``train`` so the two can be compared.
    """
    model = Net222(w, dtype)
    inputs = torch.as_tensor(np.asarray(example.inputs), dtype=dtype)
    targets = torch.as_tensor(np.asarray(example.targets), dtype=dtype)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    loss, weights, grads = [], [get_weights(model).copy()], []
    for _ in range(steps):
        opt.zero_grad()
        e = e_total(model(inputs), targets)
        e.backward()
        loss.append(e.detach().numpy().copy())
        grads.append(weight_grads(model).copy())
        opt.step()  # w <- w - lr * w.grad
        weights.append(get_weights(model).copy())
    return Trajectory(np.stack(loss), np.stack(weights), np.stack(grads))
