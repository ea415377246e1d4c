"""JAX's batched programs kept whole on disk (jax_impl.train: `_executable_file`): a later
process loads them without tracing or lowering, and computes the same numbers bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("jax")

from autograd_compare import cache  # noqa: E402
from autograd_compare.interface import CLASS_INPUTS, CLASS_TARGETS, Example  # noqa: E402
from autograd_compare.jax_impl import train  # noqa: E402
from autograd_compare.registry import get_backend  # noqa: E402

N, STEPS = 37, 23  # shapes no other test compiles


def _run(dtype: str):
    b = get_backend("jax", dtype)
    w = np.random.default_rng(5).uniform(-1, 1, (N, 8)).astype(dtype)
    lr = np.linspace(0.1, 3, N).astype(dtype)
    ex = Example(np.asarray(CLASS_INPUTS, dtype), np.asarray(CLASS_TARGETS, dtype))
    return b.train_batch(w, lr, ex, steps=STEPS, threshold=0.01, keep_loss=True)


def _file(dtype: str):
    _, _, blocks, chunk = train._layout(N)
    return train._executable_file(blocks, chunk, STEPS, True, np.dtype(dtype))


def _same(a, b) -> None:
    for field, x, y in zip(a._fields, a, b, strict=True):
        assert np.array_equal(x, y), field


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_a_saved_program_loads_without_compiling_and_computes_the_same(dtype, monkeypatch):
    get_backend("jax", dtype)  # configures the caches (compare.cache)
    path = _file(dtype)
    assert path is not None and path.parent == cache.folder() / "jax-exec"
    path.unlink(missing_ok=True)
    train._compiled.cache_clear()
    compiled_here = _run(dtype)
    assert path.is_file()
    train._compiled.cache_clear()  # a new process, as far as the program is concerned

    def no_compiling(lowered):
        raise AssertionError("compiled again although the program is on disk")

    monkeypatch.setattr(train, "_fresh_compile", no_compiling)
    _same(_run(dtype), compiled_here)


def test_a_damaged_file_is_compiled_again(monkeypatch):
    get_backend("jax", "float64")
    path = _file("float64")
    train._compiled.cache_clear()
    expected = _run("float64")
    path.write_bytes(b"not a program")
    train._compiled.cache_clear()
    _same(_run("float64"), expected)
    assert path.read_bytes() != b"not a program"  # rewritten


def test_no_cache_keeps_no_program(monkeypatch):
    monkeypatch.setenv("AUTOGRAD_COMPARE_NO_CACHE", "1")
    assert cache.jax_executables() is None and _file("float64") is None
    train._compiled.cache_clear()
    no_cache = _run("float64")
    monkeypatch.delenv("AUTOGRAD_COMPARE_NO_CACHE")
    train._compiled.cache_clear()
    _same(_run("float64"), no_cache)  # the same numbers with the program from disk
