"""``autograd-compare bench --optimizer``: the shape of its report on tiny sizes, its ratios
recomputed from the reported times, and its NumPy reference against the manual backend's
per-configuration training. Timings are never asserted (the machine is shared and noisy)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from autograd_compare import optimizers as O
from autograd_compare.commands.bench import (
    LR,
    OPTIMIZERS,
    WEIGHT_DECAY,
    bench_optimizer,
    numpy_reference,
)
from autograd_compare.commands.cli import main
from autograd_compare.harness import optim_check as C
from autograd_compare.network import TUTORIAL, example_data
from tests.helpers import EPS32, EPS64, assert_close, class_example

pytest.importorskip("torch")
pytest.importorskip("optax")

BACKENDS = ["manual", "torch", "jax"]
TINY = ["--sizes", "3,5", "--steps", "4", "--repeat", "1"]


def test_every_optimizer_backend_size_and_dtype_in_order(capsys):
    assert main(["bench", "--optimizer", "all", *TINY, "--backends", ",".join(BACKENDS),
                 "--json"]) == 0
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    assert data["config"]["optimizers"] == list(OPTIMIZERS) == [
        "sgd", "momentum", "nesterov", "adam", "adamw"]
    assert data["config"]["sizes"] == [3, 5] and data["config"]["steps"] == 4
    names = ["numpy-reference", *BACKENDS]
    assert [(r["dtype"], r["optimizer"], r["n"], r["backend"]) for r in data["batched"]] == [
        (d, k, n, b) for d in ("float64", "float32") for k in OPTIMIZERS for n in (3, 5)
        for b in names]
    rows = {(r["dtype"], r["optimizer"], r["n"], r["backend"]): r for r in data["batched"]}
    for (dtype, kind, n, backend), r in rows.items():
        ref = rows[(dtype, kind, n, "numpy-reference")]
        # configuration-steps/s and both ratios recomputed from the reported seconds
        assert_close(r["config_steps_per_s"], n * 4 / r["steady_s"], 4 * EPS64, what="rate")
        assert_close(r["ratio_to_numpy"], ref["steady_s"] / r["steady_s"], 4 * EPS64,
                     what="steady ratio")
        assert_close(r["first_call_ratio_to_numpy"], ref["first_call_s"] / r["first_call_s"],
                     4 * EPS64, what="first-call ratio")
        if backend == "numpy-reference":
            assert r["max_abs_diff_vs_numpy"] is None
        else:  # the same optimizer, 4 steps from |w| < 1: the same weights up to rounding;
            # Adam divides by √v̂, which amplifies it (measured 116 eps32: jax, adamw)
            eps = EPS64 if dtype == "float64" else EPS32
            bound = (1000 if kind in ("adam", "adamw") else 64) * eps
            assert r["max_abs_diff_vs_numpy"] <= bound, (dtype, kind, n, backend)
    assert set(data["config_steps_per_s"]) == set(OPTIMIZERS)
    for kind, per_backend in data["config_steps_per_s"].items():
        assert list(per_backend) == names
        for backend, per_dtype in per_backend.items():  # the largest size, N = 5
            for dtype, rate in per_dtype.items():
                assert rate == rows[(dtype, kind, 5, backend)]["config_steps_per_s"]
    for kind in OPTIMIZERS:  # the settings timed are on the table (stderr with --json)
        assert bench_optimizer(kind).describe() in captured.err
    assert "\noptimizer  backend  " in captured.err  # the header names the optimizer column


def test_one_optimizer_prints_its_table(capsys):
    assert main(["bench", "--optimizer", "nesterov", "--n", "4", "--steps", "2", "--repeat",
                 "1", "--backends", "manual", "--dtypes", "float32"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].strip() == "nesterov(lr=0.5, momentum=0.9, weight_decay=0.01)"
    assert lines[2].split()[:3] == ["optimizer", "backend", "dtype"]
    assert [line.split()[:4] for line in lines[3:]] == [
        ["nesterov", "numpy-reference", "float32", "4"], ["nesterov", "manual", "float32", "4"]]


@pytest.mark.parametrize("args, message", [
    (["--optimizer", "rmsprop"], "unknown optimizer 'rmsprop'; expected one of sgd, momentum"),
    (["--optimizer", "textbook-momentum"], "unknown optimizer 'textbook-momentum'"),
    (["--optimizer", "adam", "--backends", "mistake:weight-decay-sign"],
     "bench --optimizer times correct backends only"),
])
def test_bad_optimizer_options_exit_2_one_line(capsys, args, message):
    assert main(["bench", *args, "--n", "2", "--steps", "1"]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("kind", OPTIMIZERS)
def test_numpy_reference_trains_like_manual_per_configuration(kind, dtype):
    """The reference's rows against manual.optim.train (another implementation: one
    configuration, the tutorial's gradients, `_update`), step count 30, with dampening where
    the optimizer has it."""
    ex = class_example(dtype)
    opt = bench_optimizer(kind)
    if kind == "momentum":
        opt = opt._replace(dampening=0.3)
    assert (opt.lr, opt.weight_decay) == (LR, WEIGHT_DECAY)
    w = np.random.default_rng(4).uniform(-1, 1, (5, 8)).astype(dtype)
    lr = np.array([0.1, 0.5, 1.0, 2.0, 0.5], dtype)
    ref = numpy_reference(w, lr, ex, 30, opt)
    assert ref.dtype == np.dtype(dtype)
    eps = EPS64 if dtype == "float64" else EPS32
    for n in range(5):
        one = C.train("manual", TUTORIAL, w[n], example_data(ex), O.with_lr(opt, float(lr[n])), 30,
                      dtype)
        # the same rules in another operation order (exp vs tanh sigmoid, stacked columns):
        # measured up to ~40 eps after 30 steps (Adam divides by √v̂); 400 eps allowed
        assert_close(ref[n], one.weights[-1], rtol=0, atol=400 * eps, what=f"{kind} row {n}")


def _e_total(w) -> complex:
    """E_total of the class example for weights ``w`` (8,), real or complex (complex step)."""
    (i1, i2), (t1, t2) = (0.05, 0.1), (0.5, 0.5)

    def sigmoid(x):
        return 1 / (1 + np.exp(-x))

    a_h1, a_h2 = sigmoid(w[0] * i1 + w[1] * i2), sigmoid(w[2] * i1 + w[3] * i2)
    a_o1, a_o2 = sigmoid(w[4] * a_h1 + w[5] * a_h2), sigmoid(w[6] * a_h1 + w[7] * a_h2)
    return 0.5 * (t1 - a_o1) ** 2 + 0.5 * (t2 - a_o2) ** 2


def _complex_step_gradient(w: np.ndarray) -> np.ndarray:
    """dE_total/dw by the complex step (no subtraction: exact to rounding)."""
    return np.array([(_e_total(w + 1e-30j * np.eye(8)[j])).imag / 1e-30 for j in range(8)])


def test_numpy_reference_two_nesterov_steps_against_the_complex_step():
    """Two steps of Nesterov (μ = 0.9, weight decay 0.01) from the class example, with the
    gradients by the complex step: v ← g (step 1), v ← μ·v + g (step 2); w ← w - lr·(g + μ·v)
    where g includes wd·w."""
    from autograd_compare.interface import CLASS_WEIGHTS

    w0 = np.array(CLASS_WEIGHTS)
    lr, mu, wd = 0.5, 0.9, 0.01
    g1 = _complex_step_gradient(w0) + wd * w0
    v1 = g1
    w1 = w0 - lr * (g1 + mu * v1)
    g2 = _complex_step_gradient(w1) + wd * w1
    v2 = mu * v1 + g2
    w2 = w1 - lr * (g2 + mu * v2)
    opt = O.make("nesterov", lr=lr, weight_decay=wd)
    out = numpy_reference(w0[None, :], np.array([lr]), class_example(), 2, opt)
    assert_close(out[0], w2, rtol=0, atol=16 * EPS64, what="w after 2 steps")
    assert np.max(np.abs(w2 - w0)) > 1e-3  # the steps moved the weights
