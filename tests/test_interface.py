"""The common interface: registry, input checks, dtype guard, stable sigmoid, batch == single."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import numpy as np
import pytest

import autograd_compare as ac
from autograd_compare import registry
from autograd_compare.errors import BackendUnavailable, DtypeError, InputError
from autograd_compare.interface import Forward
from autograd_compare.manual.network import sigmoid
from tests.helpers import assert_close

W = ac.CLASS_WEIGHTS


def test_import_compare_and_manual_pulls_in_no_framework():
    code = ("import sys, autograd_compare as ac, autograd_compare.manual.mlp, "
            "autograd_compare.tutorial_view, autograd_compare.commands.cli, "
            "autograd_compare.commands.options; "
            "ac.get_backend('manual').train(ac.CLASS_WEIGHTS, lr=0.5, steps=2); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'jax')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_backends_lists_installed_frameworks_only(monkeypatch):
    assert ac.backends()[0] == "manual"
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "torch" else real(name, *a))
    assert "torch" not in ac.backends()
    with pytest.raises(BackendUnavailable, match=r"pip install 'autograd-compare\[torch\]'"):
        ac.get_backend("torch")


@pytest.mark.parametrize(("missing", "call", "extra"), [
    ("torch", lambda: registry.get_network_backend("torch"), "torch"),
    ("optax", lambda: registry.backend_module("jax", "optim", needs="optax"), "jax"),
])
def test_companion_modules_name_the_extra_to_install(monkeypatch, missing, call, extra):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == missing else real(name, *a))
    with pytest.raises(BackendUnavailable, match=rf"needs {missing}, .*\[{extra}\]'$"):
        call()


def test_companion_module_of_an_unknown_backend_is_an_input_error():
    with pytest.raises(InputError, match="unknown backend 'tf'; expected one of manual"):
        registry.backend_module("tf", "mlp")
    assert registry.backend_module("manual", "optim").__name__ == "autograd_compare.manual.optim"


@pytest.mark.parametrize(("call", "message"), [
    (lambda: ac.get_backend("tensorflow"), "unknown backend 'tensorflow'; expected one of"),
    (lambda: ac.get_backend("manual", "float16"), "unknown dtype 'float16'; expected"),
    (lambda: ac.get_backend("manual").forward(W[:7]), "expected 8 weights"),
    (lambda: ac.get_backend("manual").forward((*W[:7], float("nan"))), "finite"),
    (lambda: ac.get_backend("manual").forward(W, ((0.05, float("inf")), (0.5, 0.5))),
     "inputs i1,i2 must be finite"),
    (lambda: ac.get_backend("manual").forward(W, ((0.05,), (0.5, 0.5))),
     r"inputs i1,i2 must have shape \(2,\)"),
    (lambda: ac.get_backend("manual").forward(W, ((0.05, 0.1), (0.5, float("nan")))),
     "targets t1,t2 must be finite"),
    (lambda: ac.get_backend("manual").forward(W, ((0.05, 0.1), ("x", 1))),
     "targets t1,t2 must be numbers"),
    (lambda: ac.get_backend("manual", "float32").forward([1e300] * 8),
     r"do not fit in float32 \(largest 3.4e\+38\)"),
    (lambda: ac.get_backend("manual").train(W, lr=0), "learning rate must be finite and > 0"),
    (lambda: ac.get_backend("manual").train(W, lr=-0.5), r"> 0; got -0.5"),
    (lambda: ac.get_backend("manual").train(W, lr=float("nan")), "got nan"),
    (lambda: ac.get_backend("manual").train(W, lr=float("inf")), "got inf"),
    (lambda: ac.get_backend("manual").train(W, lr="fast"), "must be a number"),
    (lambda: ac.get_backend("manual").train(W, lr=0.5, steps=0), "steps must be .* >= 1"),
    (lambda: ac.get_backend("manual").train(W, lr=0.5, steps=2.5), "whole number"),
    (lambda: ac.get_backend("manual").train_batch([W, W], [0.5]),
     r"learning rates must have shape \(2,\) to match weights \(2, 8\); got shape \(1,\)"),
    (lambda: ac.get_backend("manual").train_batch([W[:4]], [0.5]),
     r"batch weights must have shape \(N, 8\)"),
    (lambda: ac.get_backend("manual").train_batch(np.empty((0, 8)), []), "N >= 1"),
    (lambda: ac.get_backend("manual").train_batch([W], [-1.0]), "must be finite and > 0"),
    (lambda: ac.get_backend("manual").train_batch([W], [0.5], threshold=-1), "threshold"),
])
def test_bad_input_is_one_clear_line(call, message):
    with pytest.raises(InputError, match=message) as info:
        call()
    assert "\n" not in str(info.value)


def test_dtype_guard_refuses_float32_posing_as_float64():
    from autograd_compare import tutorial_view

    honest = tutorial_view.raw("manual", np.dtype("float64"))
    # a backend that silently computes in float32 (what JAX does without x64)
    liar = honest._replace(forward=lambda w, ex: Forward(*(np.asarray(x, np.float32)
                                                            for x in honest.forward(w, ex))))
    wrapped = registry.guarded(liar, np.dtype("float64"))
    assert registry.guarded(honest, np.dtype("float64")).forward(W).h.dtype == np.float64
    with pytest.raises(DtypeError, match=r"forward.h as float32, but float64 was requested"):
        wrapped.forward(W)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_sigmoid_is_stable_and_exact_at_the_extremes(dtype):
    x = np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0], dtype)
    s = sigmoid(x)  # filterwarnings=error turns any overflow warning into a failure
    assert s.dtype == np.dtype(dtype)
    assert_close(s, [0.0, np.exp(-50.0) / (1 + np.exp(-50.0)), 0.5, 1.0, 1.0], 4e-7 if
                 dtype == "float32" else 2e-16, atol=1e-300)
    assert_close(sigmoid(np.float64(-1000.0)), 0.0, 0.0, atol=1e-300)


def test_trajectory_shapes_and_update_rule():
    t = ac.get_backend("manual").train(W, lr=0.5, steps=3)
    assert t.loss.shape == (3,) and t.weights.shape == (4, 8) and t.grads.shape == (3, 8)
    assert_close(t.weights[1:], t.weights[:-1] - 0.5 * t.grads, 1e-16)  # w_new = w - lr*dw
    assert np.array_equal(t.weights[0], np.asarray(W))
