"""The torch backend against the manual one: forward, gradients, trajectories, batches, dtypes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from autograd_compare.interface import CLASS_WEIGHTS, LEARNING_RATES, Example
from autograd_compare.manual.network import forward_values
from autograd_compare.registry import get_backend
from autograd_compare.torch_impl import backend as torch_backend
from tests.helpers import EPS32, assert_close

STEPS = 100
# float64 trajectories: 1e-12 relative, measured where relative error means something. A weight
# or gradient that crosses zero (w5 ~ -1e-5 at lr 1.0, step 89) cancels in w - lr*g, so its own
# relative error is unbounded; it is measured against the largest entry of the same step's vector.
# The loss ½Σδ_j², δ_j = t_j - a_o_j, cancels near convergence: a relative error r in a_o_j gives
# an absolute error r·Σ|δ_j|·|a_o_j| in E_total, which is the bound used for it (as tests/
# test_golden.py does).
TRAJ_RTOL = 1e-12
# float32: both backends round every op to float32, in different orders. Measured over the sweep
# (100 steps) the largest difference is 8 eps32 of each field's largest entry (weights, grads,
# loss). The error is absolute-like, not relative: the loss ½(t - a_o)² inherits a_o's absolute
# rounding error times |t - a_o|, so at E ~ 3e-8 (lr 2.0) its relative error reaches ~5000 eps32
# while its absolute error stays ~1e-15. Gradient descent below lr = 2/λ_max does not amplify
# rounding errors, so they add up over steps instead of growing. We allow 64 eps32 (8x headroom)
# of the field's largest magnitude.
F32_SCALE = 64 * EPS32


def class_example(dtype: str) -> Example:
    return Example(np.array([0.05, 0.1], dtype), np.array([0.5, 0.5], dtype))


@pytest.fixture(scope="module")
def pair64():
    return get_backend("torch", "float64"), get_backend("manual", "float64")


def test_forward_matches_manual_and_known_values(pair64):
    torch_b, manual_b = pair64
    got, want = torch_b.forward(CLASS_WEIGHTS), manual_b.forward(CLASS_WEIGHTS)
    for field in got._fields:
        assert_close(getattr(got, field), getattr(want, field), 1e-15, what=f"forward.{field}")
    assert_close(got.E_total, 0.014181377937891656737, 1e-15, what="E_total (mpmath)")


def test_gradients_match_manual_and_known_values(pair64):
    torch_b, manual_b = pair64
    got, want = torch_b.gradients(CLASS_WEIGHTS), manual_b.gradients(CLASS_WEIGHTS)
    for field in got._fields:
        assert_close(getattr(got, field), getattr(want, field), 1e-15, what=f"gradients.{field}")
    assert_close(got.w[4], 0.012880818631628251006, 1e-15, what="dE_total/dw5 (mpmath)")


@pytest.mark.parametrize("lr", LEARNING_RATES)
def test_trajectory_float64_matches_manual(pair64, lr):
    torch_b, manual_b = pair64
    got, want = torch_b.train(CLASS_WEIGHTS, lr=lr, steps=STEPS), manual_b.train(
        CLASS_WEIGHTS, lr=lr, steps=STEPS)
    assert_trajectory_close(got, want, TRAJ_RTOL, what=f"lr={lr}")


def assert_trajectory_close(got, want, rtol: float, what: str) -> None:
    """Weights and grads: rtol of each step's largest entry; loss: the cancellation bound."""
    for field in ("weights", "grads"):
        expected = getattr(want, field)
        floor = rtol * np.max(np.abs(expected), axis=1, keepdims=True)
        assert_close(getattr(got, field), expected, rtol, floor, what=f"{what} {field}")
    assert_close(got.loss, want.loss, rtol, loss_floor(want.weights[:-1], rtol),
                 what=f"{what} loss")


def loss_floor(w: np.ndarray, rtol: float) -> np.ndarray:
    """Absolute error of E_total at weights ``w`` (..., 8) if a_o carries relative error rtol."""
    v = forward_values(w, class_example("float64"))
    return rtol * sum(np.abs(0.5 - v[a]) * np.abs(v[a]) for a in ("a_o1", "a_o2"))


@pytest.mark.parametrize("lr", LEARNING_RATES)
def test_trajectory_float32_matches_manual(lr):
    got = get_backend("torch", "float32").train(CLASS_WEIGHTS, lr=lr, steps=STEPS)
    want = get_backend("manual", "float32").train(CLASS_WEIGHTS, lr=lr, steps=STEPS)
    for field in got._fields:
        expected = getattr(want, field)
        scale = float(np.max(np.abs(expected)))
        assert_close(getattr(got, field), expected, 0.0, atol=F32_SCALE * scale,
                     what=f"float32 lr={lr} {field}")


def starts(n: int, dtype: str, scale: float = 1.0, seed: int = 3) -> np.ndarray:
    """n starting weight vectors, the class example first, the rest uniform on [-scale, scale]."""
    w = np.random.default_rng(seed).uniform(-scale, scale, (n, 8))
    w[0] = CLASS_WEIGHTS
    return w.astype(dtype)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_batch_equals_single_runs(dtype):
    b = get_backend("torch", dtype)
    w = starts(12, dtype)
    lr = np.resize(np.array(LEARNING_RATES, dtype), 12)
    out = b.train_batch(w, lr, steps=40, keep_loss=True)
    for n in range(len(w)):
        single = b.train(w[n], lr=float(lr[n]), steps=40)
        assert_close(out.initial_loss[n], single.loss[0], 0.0, what=f"row {n} initial_loss")
        assert_close(out.loss[n], single.loss, 0.0, what=f"row {n} loss")
        assert_close(out.final_weights[n], single.weights[-1], 0.0, what=f"row {n} weights")
        final = b.forward(single.weights[-1]).E_total
        assert_close(out.final_loss[n], final, 0.0, what=f"row {n} final_loss")


def test_batch_matches_manual_batch_float64():
    w = starts(50, "float64")
    lr = np.resize(np.array(LEARNING_RATES), 50)
    got = get_backend("torch").train_batch(w, lr, steps=100, threshold=1e-3, keep_loss=True)
    want = get_backend("manual").train_batch(w, lr, steps=100, threshold=1e-3, keep_loss=True)
    assert_close(got.initial_loss, want.initial_loss, 1e-15, loss_floor(w, 1e-15),
                 what="initial_loss")
    floor = TRAJ_RTOL * np.max(np.abs(want.final_weights), axis=1, keepdims=True)
    assert_close(got.final_weights, want.final_weights, TRAJ_RTOL, floor, what="weights")
    assert_close(got.final_loss, want.final_loss, TRAJ_RTOL,
                       loss_floor(want.final_weights, TRAJ_RTOL), what="final_loss")
    np.testing.assert_array_equal(got.steps_to_threshold, want.steps_to_threshold)


def test_keep_loss_off_returns_no_history():
    out = get_backend("torch").train_batch(starts(3, "float64"), np.full(3, 0.5), steps=5)
    assert out.loss is None


def test_threshold_is_first_step_at_or_below():
    b = get_backend("torch")
    w = starts(6, "float64")
    lr = np.array(LEARNING_RATES)
    threshold = 2e-3
    out = b.train_batch(w, lr, steps=60, threshold=threshold)
    for n in range(len(w)):
        single = b.train(w[n], lr=float(lr[n]), steps=60)
        losses = np.append(single.loss, b.forward(single.weights[-1]).E_total)  # E(w_0..w_60)
        hits = np.flatnonzero(losses <= threshold)
        assert out.steps_to_threshold[n] == (hits[0] if hits.size else -1), f"row {n}"
    assert np.any(out.steps_to_threshold > 0) and np.any(out.steps_to_threshold == -1)
    everyone = b.train_batch(w, lr, steps=3, threshold=1.0)  # E_total < 1 always: reached at 0
    np.testing.assert_array_equal(everyone.steps_to_threshold, np.zeros(6, np.int64))
    nobody = b.train_batch(w, lr, steps=3)  # no threshold given
    np.testing.assert_array_equal(nobody.steps_to_threshold, np.full(6, -1, np.int64))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_extreme_inputs_stay_finite_without_warnings(dtype):
    b = get_backend("torch", dtype)
    w = starts(8, dtype, scale=50.0)
    w[1] = [50, -50, 50, -50, 50, -50, 50, -50]
    big = Example(np.array([20.0, -20.0]), np.array([0.5, 0.5]))  # |h| = 2000, far past overflow
    for example in (None, big):
        out = b.train_batch(w, np.full(8, 100.0, dtype), example=example, steps=50,
                            threshold=1e-3, keep_loss=True)
        for field in ("initial_loss", "final_loss", "final_weights", "loss"):
            assert np.all(np.isfinite(getattr(out, field))), f"{field} not finite"
        single = b.train(w[1], example=example, lr=100.0, steps=50)
        for field in single._fields:
            assert np.all(np.isfinite(getattr(single, field))), f"train {field} not finite"
        grads = b.gradients(w[1], example=example)
        assert all(np.all(np.isfinite(g)) for g in grads)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_every_output_has_the_requested_dtype(dtype):
    raw = torch_backend.make(np.dtype(dtype))  # unguarded: the backend itself must get it right
    w = np.array(CLASS_WEIGHTS, dtype)
    ex = class_example(dtype)
    results = [raw.forward(w, ex), raw.gradients(w, ex), raw.train(w, ex, 0.5, 3),
               raw.train_batch(np.stack([w, w]), np.array([0.5, 1.0], dtype), ex, 3, 0.01, True)]
    for result in results:
        for field, value in zip(result._fields, result, strict=True):
            want = np.int64 if field == "steps_to_threshold" else np.dtype(dtype)
            assert isinstance(value, np.ndarray), f"{type(result).__name__}.{field}"
            assert value.dtype == want, f"{type(result).__name__}.{field}: {value.dtype}"


def test_default_dtype_is_left_alone():
    before = torch.get_default_dtype()
    b = get_backend("torch", "float64")
    b.train(CLASS_WEIGHTS, lr=0.5, steps=2)
    b.train_batch(starts(2, "float64"), np.full(2, 0.5), steps=2)
    b.gradients(CLASS_WEIGHTS)
    assert torch.get_default_dtype() is before is torch.float32


def test_blocks_of_rows_give_the_same_result(monkeypatch):
    from autograd_compare.torch_impl import train as torch_train

    w, lr = starts(12, "float64"), np.resize(np.array(LEARNING_RATES), 12)
    whole = get_backend("torch").train_batch(w, lr, steps=30, threshold=5e-3, keep_loss=True)
    monkeypatch.setattr(torch_train, "CHUNK", 5)  # blocks of 5, 5 and 2 rows
    blocks = get_backend("torch").train_batch(w, lr, steps=30, threshold=5e-3, keep_loss=True)
    for field in ("initial_loss", "final_loss", "final_weights", "loss"):
        assert_close(getattr(blocks, field), getattr(whole, field), 0.0, what=field)
    np.testing.assert_array_equal(blocks.steps_to_threshold, whole.steps_to_threshold)
    assert np.any(whole.steps_to_threshold >= 0)


def test_compiled_path_matches_eager(monkeypatch):
    """The torch.compile path (normally only for >= 5e7 config-steps), forced on small blocks."""
    from autograd_compare.torch_impl import compiled
    from autograd_compare.torch_impl import train as torch_train

    w, lr = starts(12, "float64"), np.resize(np.array(LEARNING_RATES), 12)
    b = get_backend("torch")
    eager = b.train_batch(w, lr, steps=30, threshold=5e-3, keep_loss=True)
    for module in (torch_train, compiled):
        monkeypatch.setattr(module, "CHUNK", 8)  # blocks of 8 and 4 rows, the 4 padded to 8
    monkeypatch.setattr(torch_train, "COMPILE_MIN_WORK", 0)
    fused = b.train_batch(w, lr, steps=30, threshold=5e-3, keep_loss=True)
    assert compiled.unavailable is None, compiled.unavailable
    floor = TRAJ_RTOL * np.max(np.abs(eager.final_weights), axis=1, keepdims=True)
    assert_close(fused.final_weights, eager.final_weights, TRAJ_RTOL, floor, what="weights")
    assert_close(fused.final_loss, eager.final_loss, TRAJ_RTOL,
                       loss_floor(eager.final_weights, TRAJ_RTOL), what="final_loss")
    assert_close(fused.loss, eager.loss, TRAJ_RTOL, what="loss")
    np.testing.assert_array_equal(fused.steps_to_threshold, eager.steps_to_threshold)
    wild = starts(8, "float64", scale=50.0)  # same shape and dtype: no second compilation
    big = Example(np.array([20.0, -20.0]), np.array([0.5, 0.5]))
    out = b.train_batch(wild, np.full(8, 100.0), example=big, steps=30, keep_loss=True)
    for field in ("initial_loss", "final_loss", "final_weights", "loss"):
        assert np.all(np.isfinite(getattr(out, field))), f"compiled, extreme: {field}"


def test_compile_failure_falls_back_to_eager(monkeypatch):
    from autograd_compare.torch_impl import compiled
    from autograd_compare.torch_impl import train as torch_train

    def broken(*args, **kwargs):
        raise RuntimeError("no C++ compiler")

    monkeypatch.setattr(torch_train, "COMPILE_MIN_WORK", 0)
    monkeypatch.setattr(compiled, "_compiled", None)
    monkeypatch.setattr(compiled, "unavailable", None)
    monkeypatch.setattr(torch, "compile", broken)
    w, lr = starts(3, "float64"), np.full(3, 0.5)
    out = get_backend("torch").train_batch(w, lr, steps=5)
    assert "no C++ compiler" in compiled.unavailable
    single = get_backend("torch").train(w[2], lr=0.5, steps=5)
    assert_close(out.final_weights[2], single.weights[-1], 0.0, what="eager fallback")
