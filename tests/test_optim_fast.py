"""The fast batched optimizer paths equal the per-configuration ones.

* torch: `torch_impl.optim.train_batch` (one torch.optim param group per rate over shared
  leaves) against ``torch.optim`` run on one configuration at a time (`torch_impl.optim.train`),
  within the trajectory tolerance model of `compare.harness.optim_check` (each final weight
  against its scale at the last step), for every optimizer and option, float64 and float32.
* jax: `jax_impl.optim.train_batch` (vmap(grad), lax.scan) against optax per configuration.
* manual: the in-place block (`manual.optim._train_block`) is bit for bit the readable loop of
  `_soa_gradients` then `update`.
"""

from __future__ import annotations

import numpy as np
import pytest

from autograd_compare import optimizers as O
from autograd_compare.harness import network_check, tolerances
from autograd_compare.harness import optim_check as C
from autograd_compare.manual import optim as manual_optim
from autograd_compare.naming import WEIGHT_NAMES
from autograd_compare.network import TUTORIAL as TUT
from tests.helpers import class_example, starts, tutorial_data

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
DATA = tutorial_data()  # the class example, one row
LRS = np.array([0.1, 0.5, 2.0, 0.5, 1.0, 0.2])


def _opt(name: str, change: bool) -> O.Optimizer:
    kw = dict(CONFIGS[name])
    return O.make(kw.pop("kind"), lr_change=(10, 0.3) if change else None, **kw)


def _assert_rows_match_single_runs(backend: str, out: O.BatchResult, w: np.ndarray,
                                   opt: O.Optimizer, dtype: str) -> None:
    """Row n of ``out`` against ``backend``'s own per-configuration `train`, judged by the
    tolerance `optim_check` gives each weight at the last step."""
    ex = class_example(dtype)
    for n, lr in enumerate(LRS):
        one_opt = O.with_lr(opt, float(lr))
        one = C.train(backend, TUT, w[n], tutorial_data(dtype, ex), one_opt, STEPS, dtype)
        scale = C.scales(TUT, one_opt, one, tutorial_data(dtype, ex), dtype)
        # rtol · (step + 1) · scale at the last step, as `optim_check.compare_runs` gives it
        tol = network_check.step_rtol(TUT, 1, dtype) * STEPS * np.array(
            [scale[name][-1] for name in WEIGHT_NAMES])
        diff = np.abs(out.final_weights[n].astype(np.float64) - one.weights[-1])
        assert np.all(diff <= tol), (f"{backend} {opt.describe()} row {n}: |Δw| {diff} > {tol}")


torch = pytest.importorskip("torch")


@pytest.mark.parametrize("change", [False, True], ids=["constant-lr", "lr-change"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(CONFIGS))
def test_torch_batch_equals_torch_optim_per_configuration(name, dtype, change):
    """One torch.optim param group per rate over shared leaves == one run per configuration."""
    w = starts(len(LRS), dtype)
    opt = _opt(name, change)
    out = C.train_batch("torch", TUT, w, LRS, DATA, opt, STEPS, dtype)
    assert out.final_weights.dtype == np.dtype(dtype) and out.final_loss.dtype == np.dtype(dtype)
    _assert_rows_match_single_runs("torch", out, w, opt, dtype)
    from autograd_compare.manual.network import forward_values

    v = forward_values(out.final_weights.astype(np.float64), class_example())
    # E_total = ½(t - a_o)² from a_o with relative error ~eps: |Δ| <= eps·Σ|t - a_o|·|a_o|
    floor = sum(np.abs(0.5 - v[a]) * np.abs(v[a]) for a in ("a_o1", "a_o2"))
    err = np.abs(out.final_loss.astype(np.float64) - v["E_total"])
    assert np.all(err <= 20 * tolerances.eps(dtype) * (floor + v["E_total"])), err


def test_torch_batch_single_row_equals_its_row_in_the_whole_batch():
    w, opt = starts(len(LRS), "float64"), _opt("nesterov+wd", True)
    whole = C.train_batch("torch", TUT, w, LRS, DATA, opt, STEPS)
    one = C.train_batch("torch", TUT, w[2:3], LRS[2:3], DATA, opt, STEPS)
    # same elementwise kernels on another length: last-bit differences in exp, not more
    np.testing.assert_allclose(one.final_weights, whole.final_weights[2:3], rtol=0, atol=1e-13)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["sgd+wd+l2", "momentum+dampening+wd", "nesterov+wd",
                                  "adam+wd+l2", "adamw+betas+eps"])
def test_jax_batch_equals_optax_per_configuration(name, dtype):
    pytest.importorskip("optax")
    w = starts(len(LRS), dtype)
    opt = _opt(name, True)
    out = C.train_batch("jax", TUT, w, LRS, DATA, opt, STEPS, dtype)
    _assert_rows_match_single_runs("jax", out, w, opt, dtype)


def _readable_block(w, lr, ex, opt: O.Optimizer, steps: int):
    """`manual.optim`'s batched step as first written: `_soa_gradients`, then `update`."""
    dt = w.dtype
    W = np.array(w.T, order="C")
    rates = lr.astype(dt)
    s = manual_optim.init_state(W.shape, dt, opt)
    change = opt.lr_change
    for k in range(steps):
        dW = manual_optim._soa_gradients(W, ex, opt)
        rate = rates if not change or k < change[0] else np.full_like(rates, change[1])
        W, s = manual_optim.update(W, dW, s, opt._replace(lr=rate, lr_change=None), k)
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
            "from autograd_compare.network import TUTORIAL as T, example_data as d; "
            "from autograd_compare import CLASS_INPUTS as i, CLASS_TARGETS as t, Example; "
            "C.train_batch('jax', T, np.full((2, 8), 0.3), np.full(2, 0.5), d(Example(i, t)), "
            "O.make('adam'), 3)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "AUTOGRAD_COMPARE_CACHE_DIR":
                                            str(tmp_path)})
    assert done.returncode == 0, done.stderr
    assert any((tmp_path / "jax").iterdir())
