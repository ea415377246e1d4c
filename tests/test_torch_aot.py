"""The torch batched step compiled ahead of time (torch_impl.aot): built once into the (test)
cache folder, equal to the eager autograd path up to reassociation, loaded by a second
process without building, and a failed build falls back to eager."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from autograd_compare.interface import LEARNING_RATES, Example
from autograd_compare.manual.network import forward_values
from autograd_compare.registry import get_backend
from tests.helpers import assert_close, class_example, starts

# The fused step against eager autograd on 12 rows x 30 steps: the same operations in another
# order (reassociation only), so the differences are a few eps; 1e-12 leaves room for the
# cancellation in E_total = ½(t - a_o)², which `loss_floor` bounds.
TRAJ_RTOL = 1e-12


def loss_floor(w: np.ndarray, rtol: float) -> np.ndarray:
    """Absolute error of E_total at weights ``w`` (..., 8) if a_o carries relative error rtol."""
    v = forward_values(w, class_example("float64"))
    return rtol * sum(np.abs(0.5 - v[a]) * np.abs(v[a]) for a in ("a_o1", "a_o2"))

torch = pytest.importorskip("torch")
from autograd_compare.torch_impl import aot  # noqa: E402
from autograd_compare.torch_impl import train as torch_train  # noqa: E402


@pytest.fixture
def aot_on(monkeypatch):
    monkeypatch.setenv(aot.ENV, "1")
    monkeypatch.setattr(aot, "unavailable", None)
    monkeypatch.setattr(aot, "_runners", {})
    return aot


def _eager(w, lr, **kw):
    os.environ[aot.ENV] = "0"
    try:
        return get_backend("torch").train_batch(w, lr, **kw)
    finally:
        os.environ[aot.ENV] = "1"


def test_ahead_of_time_step_matches_eager_autograd(aot_on, monkeypatch):
    w, lr = starts(12, "float64"), np.resize(np.array(LEARNING_RATES), 12)
    kw = dict(steps=30, threshold=5e-3, keep_loss=True)
    eager = _eager(w, lr, **kw)
    monkeypatch.setattr(torch_train, "CHUNK", 5)  # blocks of 5, 5 and 2 rows
    fused = get_backend("torch").train_batch(w, lr, **kw)
    assert aot.unavailable is None, aot.unavailable
    assert aot.library(torch.float64).is_file()
    floor = TRAJ_RTOL * np.max(np.abs(eager.final_weights), axis=1, keepdims=True)
    assert_close(fused.final_weights, eager.final_weights, TRAJ_RTOL, floor, what="weights")
    assert_close(fused.final_loss, eager.final_loss, TRAJ_RTOL,
                 loss_floor(eager.final_weights, TRAJ_RTOL), what="final_loss")
    assert_close(fused.initial_loss, eager.initial_loss, TRAJ_RTOL, what="initial_loss")
    assert_close(fused.loss, eager.loss, TRAJ_RTOL, what="loss")
    np.testing.assert_array_equal(fused.steps_to_threshold, eager.steps_to_threshold)
    one = get_backend("torch").train_batch(w[:1], lr[:1], **kw)  # a single row (padded to 2)
    assert_close(one.final_weights, eager.final_weights[:1], TRAJ_RTOL, floor[:1], what="n=1")
    wild = starts(8, "float64", scale=50.0)
    big = Example(np.array([20.0, -20.0]), np.array([0.5, 0.5]))
    out = get_backend("torch").train_batch(wild, np.full(8, 100.0), example=big, steps=30,
                                           keep_loss=True)
    for field in ("initial_loss", "final_loss", "final_weights", "loss"):
        assert np.all(np.isfinite(getattr(out, field))), f"ahead of time, extreme: {field}"


def test_a_second_process_loads_without_building(aot_on):
    get_backend("torch").train_batch(starts(3, "float64"), np.full(3, 0.5), steps=2)  # built
    code = ("import numpy as np, sys; from autograd_compare.registry import get_backend; "
            "from autograd_compare.torch_impl import aot; "
            "get_backend('torch').train_batch(np.full((3, 8), 0.2), np.full(3, 0.5), steps=4); "
            "print(aot.unavailable, sorted(aot._runners), 'torch._inductor.codecache' in "
            "sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, env={**os.environ, aot.ENV: "1"})
    assert done.returncode == 0, done.stderr
    assert "compiling" not in done.stderr
    assert done.stdout.split() == ["None", "['torch.float64']", "False"]


def test_failed_build_falls_back_to_eager(aot_on, monkeypatch, tmp_path):
    def broken(dtype, target):
        raise RuntimeError("no C++ compiler")

    monkeypatch.setenv("AUTOGRAD_COMPARE_CACHE_DIR", str(tmp_path))  # nothing built there
    monkeypatch.setattr(aot, "build", broken)
    w, lr = starts(4, "float64"), np.full(4, 0.5)
    out = get_backend("torch").train_batch(w, lr, steps=5)
    assert "no C++ compiler" in aot.unavailable
    assert_close(out.final_weights, _eager(w, lr, steps=5).final_weights, 0.0, what="eager")
