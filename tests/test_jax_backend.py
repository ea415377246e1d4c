"""The JAX backend's own machinery: chunks and threads, compilation caching, scoped x64, the
dtype guard.

What every backend must do (agree with manual, batch == single runs, dtypes, extreme inputs)
is checked once for all in tests/test_conformance.py.

Tolerances: the batched path on many rows against manual's batch, float64, 2 steps:
measured 1.0 eps64 of each column's largest |weight| (XLA contracts products into FMAs);
allowed 8 eps (<= 10x). Chunks of 4 rows against one chunk of 11: a row's place in the
vector lanes changes its last bit (measured 0.62 eps64 on an initial loss); allowed 2 eps, as
the batch against single runs in tests/test_conformance.py.
"""

from __future__ import annotations

import contextlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from autograd_compare import tutorial_view
from autograd_compare.errors import DtypeError
from autograd_compare.interface import CLASS_WEIGHTS, LEARNING_RATES, RawBackend
from autograd_compare.jax_impl import mlp as jax_mlp
from autograd_compare.jax_impl import precision
from autograd_compare.registry import get_backend, guarded
from tests.helpers import EPS64, assert_close, scaled_close

LARGE_N_EPS = 8
CHUNK_EPS = 2
STEPS = 100
BATCH_STEPS = 30


@pytest.fixture(scope="module")
def manual():
    return get_backend("manual", "float64")


@pytest.fixture(scope="module", params=["float64", "float32"])
def jx(request):
    return get_backend("jax", request.param)


@pytest.fixture(scope="module")
def jx64():
    return get_backend("jax", "float64")


def _starts(dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(5)
    w = np.vstack([CLASS_WEIGHTS, rng.uniform(-2, 2, (10, 8))]).astype(dtype)
    return w, np.resize(np.asarray(LEARNING_RATES, dtype), 11)


def test_chunks_and_threads_give_the_same_result(jx, monkeypatch):
    w, lr = _starts(jx.dtype)
    whole = jx.train_batch(w, lr, steps=BATCH_STEPS, threshold=0.05, keep_loss=True)
    monkeypatch.setattr(jax_mlp, "CHUNK", 4)  # 3 chunks of 4 rows, the last one padded
    monkeypatch.setattr(jax_mlp, "THREADS", 2)
    split = jx.train_batch(w, lr, steps=BATCH_STEPS, threshold=0.05, keep_loss=True)
    rtol = CHUNK_EPS * np.finfo(jx.dtype).eps
    for field, a, b in zip(whole._fields, whole, split, strict=True):
        if field == "steps_to_threshold":
            np.testing.assert_array_equal(b, a)
        else:
            assert_close(b, a, rtol, what=field)
    assert len(set(whole.steps_to_threshold.tolist())) >= 2


def test_batch_of_many_rows_agrees_with_manual(jx64, manual):
    n = 4097  # more rows than one block of manual's batch (manual.soa.BLOCK)
    rng = np.random.default_rng(0)
    w, lr = rng.uniform(-1, 1, (n, 8)), rng.choice(LEARNING_RATES, n)
    got, want = jx64.train_batch(w, lr, steps=2), manual.train_batch(w, lr, steps=2)
    scaled_close(got.final_weights, want.final_weights, LARGE_N_EPS * EPS64, "weights")


@pytest.mark.parametrize("x", [-1000.0, 1000.0])
def test_sigmoid_saturates_quietly(x):
    with jax.enable_x64(True):
        value = float(jax_mlp.activation("sigmoid", jnp.float64(x)))
    assert_close(value, 1.0 if x > 0 else 0.0, 0, what=f"σ({x})")


def _float32_impostor(raw: RawBackend) -> RawBackend:
    """A backend that claims float64 but computes the batch in float32 (the JAX trap)."""
    def train_batch(w, lr, *args, **kwargs):
        get = get_backend("jax", "float32").train_batch
        return get(w.astype(np.float32), lr.astype(np.float32), None, *args[1:], **kwargs)
    return raw._replace(train_batch=train_batch)


def test_registry_guard_refuses_float32_posing_as_float64():
    raw = tutorial_view.raw("jax", np.dtype("float64"))
    impostor = guarded(_float32_impostor(raw), np.dtype("float64"))
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


def test_same_shapes_never_compile_twice(jx):
    w, lr = _starts(jx.dtype)
    jx.train_batch(w, lr, steps=BATCH_STEPS)
    jx.train(CLASS_WEIGHTS, lr=0.5, steps=STEPS)
    batch_programs = jax_mlp._train_batch._cache_size()
    train_programs = jax_mlp._train._cache_size()
    jx.train_batch(w * 0.5, lr, steps=BATCH_STEPS, threshold=0.1)  # new values, same shapes
    jx.train(CLASS_WEIGHTS, lr=0.8, steps=STEPS)
    assert jax_mlp._train_batch._cache_size() == batch_programs
    assert jax_mlp._train._cache_size() == train_programs
