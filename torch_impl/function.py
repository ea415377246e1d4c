"""E_total as a torch.autograd.Function whose backward is the tutorial's hand-derived formulas.

Drop it into any torch model as a loss: ``E = HandBackprop.apply(w, inputs, targets)`` with
``w`` (..., 8) requiring grad; ``E.sum().backward()`` then runs the lines below, not autograd's
own derivative of the forward code. Inputs and targets are constants (no gradient for them).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

SigmaPrime = Callable[[torch.Tensor], torch.Tensor]  # σ'(x) written in terms of a = σ(x)


def sigmoid_derivative(a: torch.Tensor) -> torch.Tensor:
    """∂a/∂x = a * (1 - a) for a = σ(x)."""
    return a * (1 - a)


def make_function(sigma_prime: SigmaPrime = sigmoid_derivative) -> type[torch.autograd.Function]:
    """A torch.autograd.Function for E_total with the hand backward using ``sigma_prime``.

    Tests pass a wrong ``sigma_prime`` (the factor a*(1-a) dropped) to see gradcheck fail.
    """

    class HandBackprop(torch.autograd.Function):
        @staticmethod
        def forward(ctx, w, inputs, targets):
            """w (..., 8), inputs (2,), targets (2,) -> E_total (...)."""
            w1, w2, w3, w4, w5, w6, w7, w8 = w.unbind(-1)
            i1, i2 = inputs.unbind()
            t1, t2 = targets.unbind()
            a_h1 = torch.sigmoid(w1 * i1 + w2 * i2)
            a_h2 = torch.sigmoid(w3 * i1 + w4 * i2)
            a_o1 = torch.sigmoid(w5 * a_h1 + w6 * a_h2)
            a_o2 = torch.sigmoid(w7 * a_h1 + w8 * a_h2)
            ctx.save_for_backward(w, inputs, targets, a_h1, a_h2, a_o1, a_o2)
            return 0.5 * (t1 - a_o1) ** 2 + 0.5 * (t2 - a_o2) ** 2  # E1 + E2

        @staticmethod
        def backward(ctx, grad_e):
            """grad_e (...) = ∂L/∂E_total -> (∂L/∂w (..., 8), None, None)."""
            w, inputs, targets, a_h1, a_h2, a_o1, a_o2 = ctx.saved_tensors
            w1, w2, w3, w4, w5, w6, w7, w8 = w.unbind(-1)
            i1, i2 = inputs.unbind()
            t1, t2 = targets.unbind()
            ds = sigma_prime
            dE_do1 = (a_o1 - t1) * ds(a_o1)  # ∂E1/∂a_o1 * ∂a_o1/∂o1
            dE_do2 = (a_o2 - t2) * ds(a_o2)  # ∂E2/∂a_o2 * ∂a_o2/∂o2
            dE_dh1 = (dE_do1 * w5 + dE_do2 * w7) * ds(a_h1)  # ∂E_total/∂a_h1 * ∂a_h1/∂h1
            dE_dh2 = (dE_do1 * w6 + dE_do2 * w8) * ds(a_h2)  # ∂E_total/∂a_h2 * ∂a_h2/∂h2
            dw = torch.stack([
                dE_dh1 * i1,  # dw1 = ∂E_total/∂h1 * ∂h1/∂w1
                dE_dh1 * i2,  # dw2
                dE_dh2 * i1,  # dw3
                dE_dh2 * i2,  # dw4
                dE_do1 * a_h1,  # dw5 = (a_o1 - t1) * a_o1 * (1 - a_o1) * a_h1
                dE_do1 * a_h2,  # dw6
                dE_do2 * a_h1,  # dw7
                dE_do2 * a_h2,  # dw8
            ], dim=-1)
            return grad_e.unsqueeze(-1) * dw, None, None

    return HandBackprop


HandBackprop = make_function()


def e_total(w: torch.Tensor, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """E_total (...) for weights ``w`` (..., 8), differentiable through `HandBackprop`."""
    return HandBackprop.apply(w, inputs, targets)
