"""Backward pass by torch.autograd of the forward code in `torch_impl.network`. No hand formulas."""

from __future__ import annotations

import numpy as np
import torch

from autograd_compare.interface import Example, Gradients
from autograd_compare.naming import NODE_NAMES
from autograd_compare.torch_impl.network import AnyExample, forward_values


def weight_gradients(v: dict, w, example: AnyExample):
    """dE_total/dw1..dw8 by reverse-mode autograd through ``v``'s graph.

    Args:
        v: `forward_values` at ``w``, built while ``w.requires_grad``. w: (8,) or (N, 8), or
            a sequence of 8 leaf tensors (N,) (the batched trainer's columns).
        example: unused (kept so the signature mirrors `manual.gradients`).

    Returns:
        (8,) or (N, 8): dw1..dw8; for a sequence ``w``, a tuple of 8 tensors (N,). For a
        batch, d(Σ_n E_total[n])/dw[n] = dE_total[n]/dw[n]: row n's loss ignores other rows.
    """
    if isinstance(w, (tuple, list)):
        return torch.autograd.grad(v["E_total"].sum(), w)
    (dw,) = torch.autograd.grad(v["E_total"].sum(), w, retain_graph=True)
    return dw


def node_gradients(v: dict, w: torch.Tensor, example: AnyExample) -> dict:
    """dE_total/d(node) for every intermediate node, and dE_total/dw under "w": one reverse
    pass of autograd through ``v``'s graph, asked for ``w`` and every node at once.

    Returns:
        dict "w" -> dE_total/dw (as ``w``), "h1" -> dE_total/dh1, ... "a_o2" -> dE_total/da_o2
        (same shapes as ``v``).
    """
    found = torch.autograd.grad(v["E_total"].sum(), [w, *(v[name] for name in NODE_NAMES)])
    return dict(zip(("w", *NODE_NAMES), found, strict=True))


def gradients(w: np.ndarray, example: Example) -> Gradients:
    """dE_total/dw (8,) and dE_total/d(node) (2,) each, for one network ``w`` (8,) (NumPy)."""
    w_t = torch.from_numpy(w).clone().requires_grad_(True)
    n = node_gradients(forward_values(w_t, example), w_t, example)
    pair = lambda a, b: torch.stack([a, b]).numpy()  # noqa: E731
    return Gradients(w=n["w"].numpy(), h=pair(n["h1"], n["h2"]),
                     a_h=pair(n["a_h1"], n["a_h2"]), o=pair(n["o1"], n["o2"]),
                     a_o=pair(n["a_o1"], n["a_o2"]))
