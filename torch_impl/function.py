"""E_total as a torch.autograd.Function whose backward is the tutorial's hand-derived formulas.

Drop it into any torch code as a loss: ``hand_e_total(w, inputs, targets)`` with ``w`` (8,) or
(..., 8), ``inputs`` and ``targets`` (2,) or (B, 2) (broadcast against each other);
``backward()`` then runs the formulas below, not autograd's own derivative of the forward code.

Second derivatives are right, not silently zero: the backward pass recomputes a_h and a_o from
the saved ``w``, ``inputs`` and ``targets`` with ordinary torch ops, so autograd can
differentiate the hand-written backward itself (``create_graph=True``, ``gradgradcheck``,
``torch.autograd.functional.hessian``). ``jvp`` is the same formulas contracted with the
tangents, so forward mode (``torch.func.jvp``, ``jacfwd``, ``torch.func.hessian``) works too.
``generate_vmap_rule`` lets ``torch.func.vmap`` and ``torch.func.grad`` run it.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable
from typing import Any

import torch

from autograd_compare.torch_impl.module import Reduction, apply_reduction

SigmaPrime = Callable[[torch.Tensor], torch.Tensor]  # σ'(x) written in terms of a = σ(x)


def sigmoid_derivative(a: torch.Tensor) -> torch.Tensor:
    """∂a/∂x = a * (1 - a) for a = σ(x)."""
    return a * (1 - a)


def _forward(w: torch.Tensor, inputs: torch.Tensor, targets: torch.Tensor) -> dict:
    """a_h1 .. a_o2 and E_total (...), broadcast over the leading axes of all three."""
    w1, w2, w3, w4, w5, w6, w7, w8 = w.unbind(-1)
    i1, i2 = inputs.unbind(-1)
    t1, t2 = targets.unbind(-1)
    a_h1 = torch.sigmoid(w1 * i1 + w2 * i2)
    a_h2 = torch.sigmoid(w3 * i1 + w4 * i2)
    a_o1 = torch.sigmoid(w5 * a_h1 + w6 * a_h2)
    a_o2 = torch.sigmoid(w7 * a_h1 + w8 * a_h2)
    E_total = 0.5 * (t1 - a_o1) ** 2 + 0.5 * (t2 - a_o2) ** 2  # E1 + E2
    return dict(a_h1=a_h1, a_h2=a_h2, a_o1=a_o1, a_o2=a_o2, E_total=E_total)


def hand_gradients(w: torch.Tensor, inputs: torch.Tensor, targets: torch.Tensor,
                   ds: SigmaPrime = sigmoid_derivative
                   ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """dE_total/dw (..., 8), dE_total/d(i1, i2) (..., 2), dE_total/d(t1, t2) (..., 2).

    The tutorial's chain rule, line by line, in differentiable torch ops.
    """
    v = _forward(w, inputs, targets)
    w1, w2, w3, w4, w5, w6, w7, w8 = w.unbind(-1)
    i1, i2 = inputs.unbind(-1)
    t1, t2 = targets.unbind(-1)
    a_h1, a_h2, a_o1, a_o2 = v["a_h1"], v["a_h2"], v["a_o1"], v["a_o2"]
    dE_do1 = (a_o1 - t1) * ds(a_o1)  # ∂E1/∂a_o1 * ∂a_o1/∂o1
    dE_do2 = (a_o2 - t2) * ds(a_o2)  # ∂E2/∂a_o2 * ∂a_o2/∂o2
    dE_dh1 = (dE_do1 * w5 + dE_do2 * w7) * ds(a_h1)  # ∂E_total/∂a_h1 * ∂a_h1/∂h1
    dE_dh2 = (dE_do1 * w6 + dE_do2 * w8) * ds(a_h2)  # ∂E_total/∂a_h2 * ∂a_h2/∂h2
    shape = v["E_total"].shape
    dw = torch.stack([
        dE_dh1 * i1,  # dw1 = ∂E_total/∂h1 * ∂h1/∂w1
        dE_dh1 * i2,  # dw2
        dE_dh2 * i1,  # dw3
        dE_dh2 * i2,  # dw4
        dE_do1 * a_h1,  # dw5 = (a_o1 - t1) * a_o1 * (1 - a_o1) * a_h1
        dE_do1 * a_h2,  # dw6
        dE_do2 * a_h1,  # dw7
        dE_do2 * a_h2,  # dw8
    ], dim=-1).expand(*shape, 8)
    d_inputs = torch.stack([dE_dh1 * w1 + dE_dh2 * w3,  # ∂E_total/∂i1 = Σ_j ∂E/∂h_j * ∂h_j/∂i1
                            dE_dh1 * w2 + dE_dh2 * w4], dim=-1).expand(*shape, 2)
    d_targets = torch.stack([t1 - a_o1, t2 - a_o2], dim=-1).expand(*shape, 2)  # -(a_o - t)
    return dw, d_inputs, d_targets


def make_function(sigma_prime: SigmaPrime = sigmoid_derivative) -> type[torch.autograd.Function]:
    """A torch.autograd.Function for E_total with the hand backward using ``sigma_prime``.

    Tests pass a wrong ``sigma_prime`` (the factor a*(1-a) dropped) to see gradcheck fail.
    """

    class HandBackprop(torch.autograd.Function):
        """E_total (...) of ``w`` (..., 8), ``inputs`` (..., 2), ``targets`` (..., 2)."""

        generate_vmap_rule = True  # every op below is a batched torch op

        @staticmethod
        def forward(w: torch.Tensor, inputs: torch.Tensor,
                    targets: torch.Tensor) -> torch.Tensor:
            return _forward(w, inputs, targets)["E_total"]

        @staticmethod
        def setup_context(ctx: Any, args: tuple[torch.Tensor, ...], output: Any) -> None:
            ctx.save_for_backward(*args)  # w, inputs, targets: a_h, a_o are recomputed
            ctx.save_for_forward(*args)

        @staticmethod
        def backward(ctx: Any, grad_e: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
            """grad_e (...) = ∂L/∂E_total -> ∂L/∂w, ∂L/∂inputs, ∂L/∂targets (their shapes)."""
            args = ctx.saved_tensors
            w, inputs, targets = args
            grads = hand_gradients(w, inputs, targets, ds=sigma_prime)
            return tuple((grad_e.unsqueeze(-1) * g).sum_to_size(x.shape) if need else None
                         for g, x, need in zip(grads, args, ctx.needs_input_grad, strict=True))

        @staticmethod
        def jvp(ctx: Any, *tangents: torch.Tensor | None) -> torch.Tensor:
            """dE_total = Σ ∂E_total/∂x · ẋ over w, inputs and targets (forward mode)."""
            w, inputs, targets = ctx.saved_tensors
            grads = hand_gradients(w, inputs, targets, ds=sigma_prime)
            terms = [(g * t).sum(-1) for g, t in zip(grads, tangents, strict=True)
                     if t is not None]
            return functools.reduce(operator.add, terms)

    return HandBackprop


HandBackprop = make_function()


def hand_e_total(w: torch.Tensor, inputs: Any, targets: Any, *,
                 reduction: Reduction = "mean") -> torch.Tensor:
    """E_total through `HandBackprop`, reduced over examples like `module.e_total`.

    Args:
        w: (8,) or (..., 8) weights; ``inputs``, ``targets``: (2,) or (..., 2), broadcast
            against ``w``'s leading axes (a tensor, or anything ``torch.as_tensor`` takes,
            then converted to ``w``'s dtype and device).
        reduction: "mean" (default) or "sum" over the examples, or "none" for E_total (...).
    """
    inputs = torch.as_tensor(inputs, dtype=w.dtype, device=w.device)
    targets = torch.as_tensor(targets, dtype=w.dtype, device=w.device)
    return apply_reduction(HandBackprop.apply(w, inputs, targets), reduction)
