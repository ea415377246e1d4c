"""The JAX backend against the manual (hand-derived) backend, and its batched path against itself.

Tolerances and why:
- POINT, float64, 1e-15 relative: forward values and gradients at the class example are short
  chains of correctly rounded operations; jax.grad orders the chain rule's products differently
  from the hand formulas, a few ulps (1e-15 = 4.5 eps64).
- TRAJECTORY, float64, 1e-12 relative to each quantity's scale over the trajectory (the largest
  |value| in that column): w5 crosses zero at lr=1.0 (|w5| = 1e-5 at step 89), where
  w - lr*dw cancels and a 1.6e-17 absolute difference is 1.6e-12 of |w5| but 4e-17 of its scale.
- FLOAT32 = 32 eps32 (3.8e-6), against float64 manual, same scaling: each step rounds ~30 times
  in float32 (<= eps32/2 each) and gradient descent at these rates damps earlier errors rather
  than amplifying them; the manual backend in float32 is itself 6.8 eps32 from float64 at worst,
  and E = ½(t - a_o)² amplifies a_o's error ~11x by cancellation at the class example (observed
  8.9 eps32). 32 eps32 leaves room for another exp() implementation, not for a wrong formula.
- BATCH vs single runs, 2 eps of the dtype: the same jax.grad of the same loss on the same
  numbers; XLA fuses the batched program differently (FMA contraction), 1 ulp seen on E_total.
"""

from __future__ import annotations

import contextlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from autograd_compare.errors import DtypeError
from autograd_compare.interface import CLASS_WEIGHTS, LEARNING_RATES, Backend, Example
from autograd_compare.jax_impl import precision
from autograd_compare.jax_impl import train as jax_train
from autograd_compare.registry import get_backend, guarded
from tests.helpers import EPS32, EPS64, assert_close

POINT_RTOL = {"float64": 1e-15, "float32": 32 * EPS32}
TRAJECTORY_RTOL = {"float64": 1e-12, "float32": 32 * EPS32}
BATCH_RTOL = {"float64": 2 * EPS64, "float32": 2 * EPS32}
STEPS = 100
BATCH_STEPS = 30


def scaled_close(actual, expected, rtol: float, what: str) -> None:
    """assert_close with atol = rtol * (largest |expected| in the same column): see docstring."""
    expected = np.asarray(expected, np.float64)
    scale = np.max(np.abs(expected), axis=0) if expected.ndim else np.abs(expected)
    assert_close(actual, expected, rtol, atol=rtol * scale, what=what)


@pytest.fixture(scope="module")
def manual():
    return get_backend("manual", "float64")


@pytest.fixture(scope="module", params=["float64", "float32"])
def jx(request):
    return get_backend("jax", request.param)


@pytest.fixture(scope="module")
def jx64():
    return get_backend("jax", "float64")


def test_forward_matches_manual(jx, manual):
    got, want = jx.forward(CLASS_WEIGHTS), manual.forward(CLASS_WEIGHTS)
    for field, a, b in zip(got._fields, got, want, strict=True):
        assert_close(a, b, POINT_RTOL[jx.dtype.name], what=f"{jx.dtype} forward.{field}")


def test_gradients_match_manual(jx, manual):
    got, want = jx.gradients(CLASS_WEIGHTS), manual.gradients(CLASS_WEIGHTS)
    for field, a, b in zip(got._fields, got, want, strict=True):
        assert_close(a, b, POINT_RTOL[jx.dtype.name], what=f"{jx.dtype} dE_total/d{field}")


@pytest.mark.parametrize("lr", LEARNING_RATES)
def test_trajectory_matches_manual(jx, manual, lr):
    got, want = jx.train(CLASS_WEIGHTS, lr=lr, steps=STEPS), manual.train(CLASS_WEIGHTS, lr=lr,
                                                                        steps=STEPS)
    for field, a, b in zip(got._fields, got, want, strict=True):
        scaled_close(a, b, TRAJECTORY_RTOL[jx.dtype.name], f"{jx.dtype} lr={lr} {field}")


@pytest.fixture()
def small_blocks(monkeypatch):
    """11 configurations as 4 tasks x 2 blocks x 2 (5 padded rows) on 2 threads: every path."""
    monkeypatch.setattr(jax_train, "CHUNK", 2)
    monkeypatch.setattr(jax_train, "WORKERS", 2)
    monkeypatch.setattr(jax_train, "TASKS_PER_WORKER", 2)
    assert jax_train._layout(11) == (2, 4, 2, 2)


def _starts(dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(5)
    w = np.vstack([CLASS_WEIGHTS, rng.uniform(-2, 2, (10, 8))]).astype(dtype)
    return w, np.resize(np.asarray(LEARNING_RATES, dtype), 11)


def test_batch_equals_single_runs(jx, small_blocks):
    w, lr = _starts(jx.dtype)
    singles = [jx.train(w[n], lr=lr[n], steps=BATCH_STEPS) for n in range(11)]
    losses = [np.append(one.loss, jx.forward(one.weights[-1]).E_total) for one in singles]
    # thresholds giving every outcome: reached at k = 0, never (-1), only after the last step
    first = float(np.median([row[0] for row in losses]))
    last = float(np.mean(losses[0][-2:]))  # row 0 (lr=0.1) descends: E_29 > last > E_30
    rtol = BATCH_RTOL[jx.dtype.name]
    seen = set()
    for threshold in (first, last):
        got = jx.train_batch(w, lr, steps=BATCH_STEPS, threshold=threshold, keep_loss=True)
        for n, (one, E) in enumerate(zip(singles, losses, strict=True)):
            below = np.flatnonzero(E <= threshold)  # E(w_0) .. E(w_steps)
            assert got.steps_to_threshold[n] == (below[0] if below.size else -1), f"row {n}"
            assert_close(got.final_weights[n], one.weights[-1], rtol, what=f"row {n} weights")
            assert_close(got.loss[n], one.loss, rtol, what=f"row {n} loss history")
            assert_close(got.initial_loss[n], E[0], rtol, what=f"row {n} initial loss")
            assert_close(got.final_loss[n], E[-1], rtol, what=f"row {n} final loss")
        seen |= set(got.steps_to_threshold.tolist())
    assert seen >= {-1, 0, BATCH_STEPS}, f"threshold cases lost: {seen}"


def test_batch_summaries_only_unless_asked(jx, small_blocks):
    w, lr = _starts(jx.dtype)
    got = jx.train_batch(w, lr, steps=BATCH_STEPS)
    assert got.loss is None
    assert np.all(got.steps_to_threshold == -1)  # no threshold given
    assert got.final_weights.shape == (11, 8) and got.steps_to_threshold.dtype == np.int64


def test_batch_large_n_uses_every_core_layout(jx64, manual):
    n = 2 * jax_train.CHUNK + 1  # several blocks whatever the core count
    rng = np.random.default_rng(0)
    w, lr = rng.uniform(-1, 1, (n, 8)), rng.choice(LEARNING_RATES, n)
    got, want = jx64.train_batch(w, lr, steps=2), manual.train_batch(w, lr, steps=2)
    scaled_close(got.final_weights, want.final_weights, TRAJECTORY_RTOL["float64"], "weights")


def test_every_output_has_the_requested_dtype(jx, small_blocks):
    dt = jx.dtype
    w, lr = _starts(dt)
    results = [jx.forward(CLASS_WEIGHTS), jx.gradients(CLASS_WEIGHTS),
               jx.train(CLASS_WEIGHTS, lr=0.5, steps=STEPS),
               jx.train_batch(w, lr, steps=BATCH_STEPS, threshold=0.1, keep_loss=True)]
    for result in results:
        for field, value in zip(result._fields, result, strict=True):
            want = np.int64 if field == "steps_to_threshold" else dt
            assert isinstance(value, np.ndarray) and value.dtype == want, (field, value)
            assert value.flags.writeable, f"{field} is read-only"


@pytest.mark.parametrize("x", [-1000.0, 1000.0])
def test_sigmoid_saturates_quietly(x):
    from autograd_compare.jax_impl.network import sigmoid

    with jax.enable_x64(True):
        value = float(sigmoid(jnp.float64(x)))
    assert_close(value, 1.0 if x > 0 else 0.0, 0, what=f"σ({x})")


def test_extreme_inputs_stay_finite(jx, small_blocks):
    w = 50.0 * np.array([1, -1, 1, -1, -1, 1, -1, 1])  # |h|, |o| up to ~7 and ~100
    rows = w * np.sign(np.random.default_rng(1).uniform(-1, 1, (11, 8)))
    results = [jx.forward(w), jx.gradients(w), jx.train(w, lr=100.0, steps=STEPS),
               jx.train_batch(rows, np.full(11, 100.0), steps=BATCH_STEPS, keep_loss=True)]
    for result in results:
        for field, value in zip(result._fields, result, strict=True):
            assert np.all(np.isfinite(value)), f"{field} not finite: {value}"


def _float32_impostor(raw: Backend) -> Backend:
    """A backend that claims float64 but computes the batch in float32 (the JAX trap)."""
    def train_batch(w, lr, *args, **kwargs):
        get = get_backend("jax", "float32").train_batch
        return get(w.astype(np.float32), lr.astype(np.float32), None, *args[1:], **kwargs)
    return raw._replace(train_batch=train_batch)


def test_registry_guard_refuses_float32_posing_as_float64(small_blocks):
    from autograd_compare.jax_impl import backend

    impostor = guarded(_float32_impostor(backend.make(np.float64)), np.dtype("float64"))
    assert impostor.train(CLASS_WEIGHTS, lr=0.5, steps=STEPS).weights.dtype == np.float64
    w, lr = _starts(np.float64)
    with pytest.raises(DtypeError, match="train_batch.initial_loss as float32"):
        impostor.train_batch(w, lr, steps=BATCH_STEPS)


def test_edge_refuses_to_cast_a_wrong_dtype():
    with pytest.raises(DtypeError, match="float32 where float64"):
        precision.to_numpy(np.zeros(2, np.float32), np.float64)


def test_loud_error_if_x64_cannot_be_enabled(monkeypatch):
    monkeypatch.setattr(jax, "enable_x64", lambda on: contextlib.nullcontext())
    with pytest.raises(DtypeError, match="requested"):
        with precision.precision(np.float64):
            pass


def test_loud_error_without_scoped_x64(monkeypatch):
    monkeypatch.delattr(jax, "enable_x64")
    with pytest.raises(DtypeError, match="install jax >= 0.8"):
        with precision.precision(np.float32):
            pass


def test_user_jax_settings_untouched(jx64):
    before = jnp.ones(3).dtype
    jx64.train(CLASS_WEIGHTS, lr=0.5, steps=STEPS)
    assert jnp.ones(3).dtype == before == jnp.float32  # x64 was scoped to the call
    with jax.enable_x64(True):  # a user who runs 64-bit keeps 64-bit after a float32 call
        get_backend("jax", "float32").forward(CLASS_WEIGHTS)
        assert jnp.ones(3).dtype == jnp.float64


def test_example_is_used(jx64, manual):
    ex = Example(np.array([0.3, -0.7]), np.array([0.9, 0.1]))
    assert_close(jx64.gradients(CLASS_WEIGHTS, ex).w, manual.gradients(CLASS_WEIGHTS, ex).w,
                 POINT_RTOL["float64"], what="dE_total/dw at another example")


def test_same_shapes_never_compile_twice(jx, small_blocks):
    w, lr = _starts(jx.dtype)
    jx.train_batch(w, lr, steps=BATCH_STEPS)
    jx.train(CLASS_WEIGHTS, lr=0.5, steps=STEPS)
    batch_misses = jax_train._compiled.cache_info().misses
    train_programs = jax_train._train._cache_size()
    jx.train_batch(w * 0.5, lr, steps=BATCH_STEPS, threshold=0.1)  # new values, same shapes
    jx.train(CLASS_WEIGHTS, lr=0.8, steps=STEPS)
    assert jax_train._compiled.cache_info().misses == batch_misses
    assert jax_train._train._cache_size() == train_programs
