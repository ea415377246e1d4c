"""The fast batched optimizer paths equal the per-configuration ones.

* torch: `torch_impl.optim_aot` (the step compiled ahead of time: autograd's derivative and
  torch.optim's update rule in one library call) against ``torch.optim`` run on one
  configuration at a time (`torch_impl.optim.train`), within the trajectory tolerance model of
  `compare.harness.optim_check` (each final weight against its scale at the last step), for
  every optimizer and option, float64 and float32. The test also checks that the compiled path
  was the one taken (a silent fall-back to eager would make it pass for nothing).
* jax: `jax_impl.optim.train_batch` (vmap(grad), lax.scan) against optax per configuration.
* manual: the in-place block (`manual.optim._train_block`) is bit for bit the readable loop of
  `_soa_gradients` then `_update`.
"""

from __future__ import annotations

import numpy as np
import pytest

from autograd_compare import optimizers as O
from autograd_compare.harness import optim_check as C
from autograd_compare.harness import tolerances
from autograd_compare.manual import optim as manual_optim
from autograd_compare.naming import WEIGHT_NAMES
from tests.helpers import class_example, starts

# every optimizer, with each of its options switched on somewhere
CONFIGS = {
    "sgd": dict(kind="sgd"),
    "sgd+wd+l2": dict(kind="sgd", weight_decay=0.1, l2=0.05),
    "momentum": dict(kind="momentum"),
    "momentum+dampening+wd": dict(kind="momentum", dampening=0.3, weight_decay=0.1),
    "nesterov+wd": dict(kind="nesterov", weight_decay=0.1),
    "adam": dict(kind="adam"),
    "adam+wd+l2": dict(kind="adam", weight_decay=0.1, l2=0.05),
    "adamw+wd": dict(kind="adamw", weight_decay=0.1),
    "adamw+betas+eps": dict(kind="adamw", weight_decay=0.01, betas=(0.8, 0.99), eps=1e-6),
}
DTYPES = ["float64", "float32"]
STEPS = 25
LRS = np.array([0.1, 0.5, 2.0, 0.5, 1.0, 0.2])


def _opt(name: str, change: bool) -> O.Optimizer:
    kw = dict(CONFIGS[name])
    return O.make(kw.pop("kind"), lr_change=(10, 0.3) if change else None, **kw)


def _assert_rows_match_single_runs(backend: str, out: O.OptimBatch, w: np.ndarray,
                                   opt: O.Optimizer, dtype: str) -> None:
    """Row n of ``out`` against ``backend``'s own per-configuration `train`, judged by the
    tolerance `optim_check` gives each weight at the last step."""
    ex = class_example(dtype)
    for n, lr in enumerate(LRS):
        one_opt = O.with_lr(opt, float(lr))
        one = C.train(backend, w[n], ex, one_opt, STEPS, dtype)
        scale = C.scales(one_opt, one, ex, dtype)
        tol = tolerances.trajectory_tolerance(
            dtype, STEPS - 1, np.array([scale[name][-1] for name in WEIGHT_NAMES]))
        diff = np.abs(out.final_weights[n].astype(np.float64) - one.weights[-1])
        assert np.all(diff <= tol), (f"{backend} {opt.describe()} row {n}: |Δw| {diff} > {tol}")


torch = pytest.importorskip("torch")
from autograd_compare.torch_impl import aot, optim_aot  # noqa: E402


@pytest.fixture
def compiled_on(monkeypatch):
    """The ahead-of-time path on (tests/conftest.py turns it off), into the test cache folder
    (libraries built once per session and family)."""
    monkeypatch.setenv(aot.ENV, "1")
    monkeypatch.setattr(optim_aot, "unavailable", None)
    return optim_aot


@pytest.mark.parametrize("change", [False, True], ids=["constant-lr", "lr-change"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(CONFIGS))
def test_torch_compiled_step_equals_torch_optim_per_configuration(compiled_on, name, dtype,
                                                                  change):
    w = starts(len(LRS), dtype)
    opt = _opt(name, change)
    out = C.train_batch("torch", w, LRS, None, opt, STEPS, dtype)
    family = optim_aot.FAMILIES[opt.kind]
    assert optim_aot.unavailable is None, optim_aot.unavailable
    assert (family, f"torch.{dtype}") in optim_aot._runners  # the compiled path was taken
    assert optim_aot.library(family, getattr(torch, dtype)).is_file()
    assert out.final_weights.dtype == np.dtype(dtype) and out.final_loss.dtype == np.dtype(dtype)
    _assert_rows_match_single_runs("torch", out, w, opt, dtype)
    from autograd_compare.manual.network import forward_values

    v = forward_values(out.final_weights.astype(np.float64), class_example())
    # E_total = ½(t - a_o)² from a_o with relative error ~eps: |Δ| <= eps·Σ|t - a_o|·|a_o|
    floor = sum(np.abs(0.5 - v[a]) * np.abs(v[a]) for a in ("a_o1", "a_o2"))
    err = np.abs(out.final_loss.astype(np.float64) - v["E_total"])
    assert np.all(err <= 20 * tolerances.eps(dtype) * (floor + v["E_total"])), err


def test_torch_compiled_step_single_row_and_blocks(compiled_on, monkeypatch):
    """One row (run padded to the exported minimum of 2) and several blocks give the rows the
    whole batch gives."""
    w, opt = starts(len(LRS), "float64"), _opt("nesterov+wd", True)
    whole = C.train_batch("torch", w, LRS, None, opt, STEPS)
    one = C.train_batch("torch", w[2:3], LRS[2:3], None, opt, STEPS)
    # a row's numbers may depend on its place (vector lanes or the scalar tail of the compiled
    # loop: last-bit differences in exp), hence a few eps, not equality
    np.testing.assert_allclose(one.final_weights, whole.final_weights[2:3], rtol=0, atol=1e-13)
    monkeypatch.setattr(optim_aot, "CHUNK", 4)  # blocks of 4 and 2 rows
    blocks = C.train_batch("torch", w, LRS, None, opt, STEPS)
    np.testing.assert_allclose(blocks.final_weights, whole.final_weights, rtol=0, atol=1e-13)


def test_torch_failed_build_falls_back_to_torch_optim(compiled_on, monkeypatch, tmp_path):
    def broken(family, dtype, target):
        raise RuntimeError("no C++ compiler")

    monkeypatch.setenv("AUTOGRAD_COMPARE_CACHE_DIR", str(tmp_path))  # nothing built there
    monkeypatch.setattr(optim_aot, "build", broken)
    monkeypatch.setattr(optim_aot, "_runners", {})
    w, opt = starts(len(LRS), "float64"), _opt("adam", False)
    out = C.train_batch("torch", w, LRS, None, opt, 5)
    assert "no C++ compiler" in optim_aot.unavailable
    monkeypatch.setenv(aot.ENV, "0")  # the eager torch.optim path itself
    eager = C.train_batch("torch", w, LRS, None, opt, 5)
    np.testing.assert_array_equal(out.final_weights, eager.final_weights)


def test_torch_manual_only_convention_has_no_compiled_form(compiled_on):
    assert optim_aot.runner(O.make("textbook-momentum"), torch.float64) is None


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["sgd+wd+l2", "momentum+dampening+wd", "nesterov+wd",
                                  "adam+wd+l2", "adamw+betas+eps"])
def test_jax_batch_equals_optax_per_configuration(name, dtype):
    pytest.importorskip("optax")
    w = starts(len(LRS), dtype)
    opt = _opt(name, True)
    _assert_rows_match_single_runs("jax", C.train_batch("jax", w, LRS, None, opt, STEPS, dtype),
                                   w, opt, dtype)


def _readable_block(w, lr, ex, opt: O.Optimizer, steps: int):
    """`manual.optim`'s batched step as first written: `_soa_gradients`, then `_update`."""
    dt = w.dtype
    W = np.array(w.T, order="C")
    rates = lr.astype(dt)
    s = manual_optim._init_state(W.shape, dt, opt)
    change = opt.lr_change
    for k in range(steps):
        dW = manual_optim._soa_gradients(W, ex, opt)
        rate = rates if not change or k < change[0] else np.full_like(rates, change[1])
        W, s = manual_optim._update(W, dW, s, opt._replace(lr=rate, lr_change=None), k)
    return manual_optim._soa_loss(W, ex), W.T


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", [*CONFIGS, "textbook-momentum+wd"])
def test_manual_in_place_block_is_bit_for_bit_the_readable_one(name, dtype):
    if name == "textbook-momentum+wd":
        opt = O.make("textbook-momentum", weight_decay=0.1, lr_change=(10, 0.3))
    else:
        opt = _opt(name, True)
    w = starts(37, dtype, scale=2.0)
    lr = np.resize(LRS, 37).astype(dtype)
    loss, weights = manual_optim._train_block(w, lr, class_example(dtype), opt, STEPS)
    want_loss, want_weights = _readable_block(w, lr, class_example(dtype), opt, STEPS)
    np.testing.assert_array_equal(weights, want_weights)
    np.testing.assert_array_equal(loss, want_loss)


def test_jax_optimizer_programs_go_to_the_persistent_cache(tmp_path):
    """The optimizer paths configure JAX's compilation cache themselves (before, only
    `registry.get_backend("jax")` did, so ``bench --optimizer`` compiled in every run)."""
    import os
    import subprocess
    import sys

    pytest.importorskip("optax")
    code = ("import numpy as np; from autograd_compare import optimizers as O; "
            "from autograd_compare.harness import optim_check as C; "
            "C.train_batch('jax', np.full((2, 8), 0.3), np.full(2, 0.5), None, O.make('adam'), 3)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "AUTOGRAD_COMPARE_CACHE_DIR":
                                            str(tmp_path)})
    assert done.returncode == 0, done.stderr
    assert any((tmp_path / "jax").iterdir())
