"""Forward pass in torch, in the tutorial's notation. Works on scalars and, unchanged, on batches.

Every tensor carries an explicit dtype (float64 or float32); the global default dtype is never
touched. NumPy arrays go in and come out at the edge only (`forward`).
"""

from __future__ import annotations

from typing import NamedTuple, TypeAlias

import numpy as np
import torch

from autograd_compare.interface import Example, Forward


class TorchExample(NamedTuple):
    """An `Example` converted once at the edge: torch tensors of the working dtype."""

    inputs: torch.Tensor  # (2,) or (N, 2)
    targets: torch.Tensor


AnyExample: TypeAlias = Example | TorchExample  # what the formulas below take


def sigmoid(x: torch.Tensor) -> torch.Tensor:
    """σ(x) = 1/(1 + exp(-x)); torch.sigmoid is stable (no overflow, no warning at |x| = 1000)."""
    return torch.sigmoid(x)


def columns(w) -> tuple:
    """w1..w8 as 8 tensors: the columns of a tensor ``w`` (..., 8), like np.moveaxis(w, -1, 0).

    A sequence of 8 tensors (the batched trainer keeps one contiguous leaf per weight, so the
    backward pass needs no strided stack) is returned as it is.
    """
    return tuple(w) if isinstance(w, (tuple, list)) else w.movedim(-1, 0).unbind()


def forward_values(w, example: AnyExample) -> dict:
    """Every forward quantity by name (h1 ... E_total), as torch tensors in autograd's graph.

    Args:
        w: (8,) weights w1..w8, or (N, 8) for N networks at once (any float dtype), or
            the 8 columns of that as a sequence of tensors () or (N,).
        example: inputs (i1, i2) and targets (t1, t2), NumPy or torch, same dtype as ``w``.

    Returns:
        dict name -> tensor, each () for w of shape (8,) or (N,) for w of shape (N, 8).
    """
    w1, w2, w3, w4, w5, w6, w7, w8 = columns(w)
    i1, i2 = torch.as_tensor(example.inputs, dtype=w1.dtype).unbind()
    t1, t2 = torch.as_tensor(example.targets, dtype=w1.dtype).unbind()
    h1 = w1 * i1 + w2 * i2
    h2 = w3 * i1 + w4 * i2
    a_h1 = sigmoid(h1)
    a_h2 = sigmoid(h2)
    o1 = w5 * a_h1 + w6 * a_h2
    o2 = w7 * a_h1 + w8 * a_h2
    a_o1 = sigmoid(o1)
    a_o2 = sigmoid(o2)
    E1 = 0.5 * (t1 - a_o1) ** 2
    E2 = 0.5 * (t2 - a_o2) ** 2
    E_total = E1 + E2
    return dict(h1=h1, h2=h2, a_h1=a_h1, a_h2=a_h2, o1=o1, o2=o2, a_o1=a_o1, a_o2=a_o2,
                E1=E1, E2=E2, E_total=E_total)


def forward(w: np.ndarray, example: Example) -> Forward:
    """Forward pass for one network: ``w`` (8,) -> `Forward` of NumPy arrays (2,) and ()."""
    with torch.no_grad():
        v = forward_values(torch.from_numpy(w), example)
    pair = lambda a, b: torch.stack([a, b]).numpy()  # noqa: E731
    return Forward(h=pair(v["h1"], v["h2"]), a_h=pair(v["a_h1"], v["a_h2"]),
                   o=pair(v["o1"], v["o2"]), a_o=pair(v["a_o1"], v["a_o2"]),
                   E=pair(v["E1"], v["E2"]), E_total=v["E_total"].numpy())
