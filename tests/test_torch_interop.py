"""PyTorch interop: nn.Module + torch.optim.SGD trajectories, the weight mapping, and the
hand-written autograd.Function checked by torch.autograd.gradcheck."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from autograd_compare.interface import CLASS_WEIGHTS, LEARNING_RATES, Trajectory
from autograd_compare.registry import get_backend
from autograd_compare.torch_impl.function import HandBackprop, e_total, make_function
from autograd_compare.torch_impl.module import Net222, get_weights, set_weights, train_sgd
from autograd_compare.torch_impl.network import forward_values
from tests.helpers import assert_close
from tests.test_torch_backend import (
    F32_SCALE,
    TRAJ_RTOL,
    assert_trajectory_close,
    class_example,
)

F64 = torch.float64


@pytest.mark.parametrize("lr", LEARNING_RATES)
def test_module_with_sgd_reproduces_manual_float64(lr):
    got = train_sgd(CLASS_WEIGHTS, class_example("float64"), lr, 100)
    want = get_backend("manual").train(CLASS_WEIGHTS, lr=lr, steps=100)
    assert_trajectory_close(got, want, TRAJ_RTOL, what=f"nn.Module+SGD lr={lr}")


@pytest.mark.parametrize("lr", [0.5, 2.0])
def test_module_with_sgd_reproduces_manual_float32(lr):
    got = train_sgd(CLASS_WEIGHTS, class_example("float32"), lr, 100, dtype=torch.float32)
    want = get_backend("manual", "float32").train(CLASS_WEIGHTS, lr=lr, steps=100)
    for field in got._fields:
        expected = getattr(want, field)
        assert getattr(got, field).dtype == np.float32, field
        assert_close(getattr(got, field), expected, 0.0,
                     atol=F32_SCALE * float(np.max(np.abs(expected))), what=f"lr={lr} {field}")


def test_weight_mapping_round_trip_and_layout():
    w = np.array([1.5, -2.25, 3.125, 4.0, -5.5, 6.75, 7.0, -8.25])  # exact in binary
    model = Net222(w)
    assert_close(get_weights(model), w, 0.0, what="round trip")
    assert_close(model.hidden.weight[1, 0].item(), 3.125, 0.0, what="w3 = hidden.weight[1, 0]")
    assert_close(model.output.weight[1, 0].item(), 7.0, 0.0, what="w7 = output.weight[1, 0]")
    set_weights(model, w[::-1].copy())
    assert_close(get_weights(model), w[::-1], 0.0, what="after set_weights")
    with pytest.raises(ValueError, match=r"got shape \(7,\)"):
        set_weights(model, w[:7])


def test_module_forward_and_grads_match_backend():
    model = Net222(CLASS_WEIGHTS)
    ex = class_example("float64")
    a_o = model(torch.as_tensor(ex.inputs))
    backend = get_backend("torch")
    assert_close(a_o.detach().numpy(), backend.forward(CLASS_WEIGHTS).a_o, 1e-15, what="a_o")
    step = train_sgd(CLASS_WEIGHTS, ex, 0.5, 1)
    assert_close(step.grads[0], backend.gradients(CLASS_WEIGHTS).w, 1e-15, what="dE/dw")


def inputs_targets():
    return torch.tensor([0.05, 0.1], dtype=F64), torch.tensor([0.5, 0.5], dtype=F64)


def random_weights(n: int = 6) -> torch.Tensor:
    w = torch.from_numpy(np.random.default_rng(7).uniform(-2, 2, (n, 8)))
    return w.requires_grad_(True)


def test_gradcheck_passes_on_hand_backward():
    i, t = inputs_targets()
    assert torch.autograd.gradcheck(HandBackprop.apply, (random_weights(), i, t))
    single = torch.tensor(CLASS_WEIGHTS, dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(HandBackprop.apply, (single, i, t))


def test_gradcheck_fails_when_sigmoid_factor_is_dropped():
    wrong = make_function(lambda a: torch.ones_like(a))  # forgot ∂a/∂x = a * (1 - a)
    i, t = inputs_targets()
    assert not torch.autograd.gradcheck(wrong.apply, (random_weights(), i, t),
                                        raise_exception=False)


def test_hand_backward_equals_autograd_of_forward_code():
    i, t = inputs_targets()
    w = random_weights()
    (hand,) = torch.autograd.grad(e_total(w, i, t).sum(), w)
    (auto,) = torch.autograd.grad(forward_values(w, class_example("float64"))["E_total"].sum(), w)
    scale = auto.abs().amax(-1, keepdim=True).numpy()
    assert_close(hand.numpy(), auto.numpy(), 1e-15, 1e-15 * scale, what="dE/dw")


def test_hand_function_inside_an_optimizer_loop():
    """As a user would: a Parameter, the Function as the loss, torch.optim.SGD."""
    i, t = inputs_targets()
    w = torch.nn.Parameter(torch.tensor(CLASS_WEIGHTS, dtype=F64))
    opt = torch.optim.SGD([w], lr=0.5)
    loss, weights, grads = [], [w.detach().clone()], []
    for _ in range(100):
        opt.zero_grad()
        e = e_total(w, i, t)
        e.backward()
        loss.append(e.detach().clone())
        grads.append(w.grad.clone())
        opt.step()
        weights.append(w.detach().clone())
    got = Trajectory(*(torch.stack(x).numpy() for x in (loss, weights, grads)))
    want = get_backend("manual").train(CLASS_WEIGHTS, lr=0.5, steps=100)
    assert_trajectory_close(got, want, TRAJ_RTOL, what="HandBackprop+SGD")
