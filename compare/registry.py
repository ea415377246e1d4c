"""Which backends exist, and how to get one. Frameworks are imported only on request."""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

import numpy as np

from autograd_compare import validate
from autograd_compare.errors import BackendUnavailable, DtypeError, InputError
from autograd_compare.interface import (
    CLASS_INPUTS,
    CLASS_TARGETS,
    Backend,
    BatchResult,
    Example,
    Forward,
    Gradients,
    Trajectory,
)

# name -> (module with make(dtype) -> Backend, framework it imports, extra to install)
REGISTRY = {
    "manual": ("autograd_compare.manual.backend", None, None),
    "torch": ("autograd_compare.torch_impl.backend", "torch", "torch"),
    "jax": ("autograd_compare.jax_impl.backend", "jax", "jax"),
}
MISTAKE_PREFIX = "mistake:"


def backends() -> list[str]:
    """Names of the backends whose framework is installed (nothing is imported)."""
    return [name for name, (_, framework, _) in REGISTRY.items()
            if framework is None or importlib.util.find_spec(framework) is not None]


def get_backend(name: str, dtype: Any = "float64") -> Backend:
    """The backend ``name`` in ``dtype``, with input checks and a dtype guard around it.

    Args:
        name: one of ``REGISTRY`` ("manual", "torch", "jax") or ``"mistake:<kind>"``
            (a deliberately wrong manual backend, see ``autograd-compare mistakes``).
        dtype: "float64" (default) or "float32".

    Raises:
        InputError: unknown name or dtype.
        BackendUnavailable: the framework is not installed (the message says which extra).
    """
    dt = validate.dtype(dtype)
    if not isinstance(name, str):
        raise InputError(f"backend name must be text, one of {', '.join(REGISTRY)} or "
                         f"{MISTAKE_PREFIX}<kind>; got {validate.short_text(name)}")
    if name.startswith(MISTAKE_PREFIX):
        from autograd_compare.manual import mistakes

        return guarded(mistakes.make(name[len(MISTAKE_PREFIX):], dt), dt)
    if name not in REGISTRY:
        raise InputError(f"unknown backend {validate.short_text(name)}; expected one of "
                         f"{', '.join(REGISTRY)} or {MISTAKE_PREFIX}<kind>")
    module, framework, extra = REGISTRY[name]
    if framework is not None and importlib.util.find_spec(framework) is None:
        raise BackendUnavailable(f"backend {name!r} needs {framework}, which is not installed; "
                                 f"install it with: pip install 'autograd-compare[{extra}]'")
    try:
        make = importlib.import_module(module).make
    except ImportError as err:
        if framework is None or (err.name or "").split(".")[0] != framework:
            raise  # our own module is broken: a bug, not a missing extra
        hint = f"reinstall with: pip install 'autograd-compare[{extra}]'"
        raise BackendUnavailable(f"backend {name!r} could not import {framework} ({err}); "
                                 + hint) from err
    return guarded(make(dt), dt)


def guarded(raw: Backend, dt: np.dtype) -> Backend:
    """Wrap a backend's functions: validate inputs, then check every result's dtype."""

    def forward(w, example=None) -> Forward:
        return _check(raw, raw.forward(validate.weights(w, dt), _example(example, dt)), "forward")

    def gradients(w, example=None) -> Gradients:
        out = raw.gradients(validate.weights(w, dt), _example(example, dt))
        return _check(raw, out, "gradients")

    def train(w, example=None, lr=0.5, steps=100) -> Trajectory:
        out = raw.train(validate.weights(w, dt), _example(example, dt),
                        validate.learning_rate(lr, dt), validate.steps(steps))
        return _check(raw, out, "train")

    def train_batch(w, lr, example=None, steps=100, threshold: float | None = None,
                    keep_loss: bool = False) -> BatchResult:
        w_arr, lr_arr = validate.batch(w, lr, dt)
        out = raw.train_batch(w_arr, lr_arr, _example(example, dt), validate.steps(steps),
                              validate.threshold(threshold), bool(keep_loss))
        return _check(raw, out, "train_batch")

    return Backend(raw.name, dt, forward, gradients, train, train_batch)


def _example(example: Any, dt: np.dtype) -> Example:
    return validate.example((CLASS_INPUTS, CLASS_TARGETS) if example is None else example, dt)


def _check(raw: Backend, result, what: str):
    """Refuse numbers that are not NumPy arrays of the requested dtype (float32 posing as 64)."""
    for field, value in zip(result._fields, result, strict=False):
        if value is None or field == "steps_to_threshold":
            continue
        if not isinstance(value, np.ndarray) or value.dtype != raw.dtype:
            got = value.dtype if isinstance(value, np.ndarray) else type(value).__name__
            raise DtypeError(f"backend {raw.name!r} returned {what}.{field} as {got}, but "
                             f"{raw.dtype.name} was requested; refusing to report it")
    return result
