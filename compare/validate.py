"""Checks at the boundary: user values in, clean NumPy arrays of the right dtype out."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from autograd_compare.errors import InputError
from autograd_compare.interface import DTYPES, N_WEIGHTS, Example


def dtype(name: Any) -> np.dtype:
    """``"float64"``/``"float32"`` (or the NumPy dtypes) -> ``np.dtype``."""
    key = np.dtype(name).name if isinstance(name, (np.dtype, type)) else name
    if key not in DTYPES:
        raise InputError(f"unknown dtype {name!r}; expected one of {', '.join(DTYPES)}")
    return np.dtype(key)


def finite_array(values: Any, what: str, shape: tuple[int, ...], dt: np.dtype) -> np.ndarray:
    """``values`` as an array of ``shape`` and dtype ``dt``; every entry finite."""
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{what} must be numbers; got {values!r}") from None
    if arr.shape != shape:
        raise InputError(f"{what} must have shape {shape}; got shape {arr.shape}: {_short(values)}")
    if not np.all(np.isfinite(arr)):
        bad = arr[~np.isfinite(arr)].ravel()[0]
        raise InputError(f"{what} must be finite numbers; got {bad} in {_short(values)}")
    with np.errstate(over="ignore"):
        out = arr.astype(dt)
    if not np.all(np.isfinite(out)):
        limit = float(np.finfo(dt).max)
        raise InputError(f"{what} do not fit in {dt.name} (largest {limit:.3g}): {_short(values)}")
    return out


def weights(w: Any, dt: np.dtype) -> np.ndarray:
    """w1..w8 -> array (8,)."""
    n = np.size(w) if np.ndim(w) == 1 else None
    if n is not None and n != N_WEIGHTS:
        raise InputError(f"expected {N_WEIGHTS} weights (w1..w8); got {n}: {_short(w)}")
    return finite_array(w, "weights w1..w8", (N_WEIGHTS,), dt)


def example(ex: Any, dt: np.dtype) -> Example:
    """(inputs, targets) -> Example of arrays (2,), (2,)."""
    try:
        inputs, targets = ex
    except (TypeError, ValueError):
        raise InputError(f"example must be (inputs, targets); got {_short(ex)}") from None
    return Example(finite_array(inputs, "inputs i1,i2", (2,), dt),
                   finite_array(targets, "targets t1,t2", (2,), dt))


def learning_rate(lr: Any) -> float:
    """A finite learning rate > 0."""
    try:
        value = float(lr)
    except (TypeError, ValueError):
        raise InputError(f"learning rate must be a number; got {lr!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise InputError(f"learning rate must be finite and > 0; got {lr!r}")
    return value


def steps(n: Any) -> int:
    """A whole number of steps >= 1."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise InputError(f"steps must be a whole number >= 1; got {n!r}")
    return int(n)


def threshold(t: Any) -> float | None:
    """None, or a finite loss threshold >= 0."""
    if t is None:
        return None
    try:
        value = float(t)
    except (TypeError, ValueError):
        raise InputError(f"threshold must be a number; got {t!r}") from None
    if not math.isfinite(value) or value < 0:
        raise InputError(f"threshold must be finite and >= 0; got {t!r}")
    return value


def batch(w: Any, lr: Any, dt: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    """Starting weights (N, 8) and learning rates (N,) with matching N >= 1."""
    w_arr, lr_arr = np.asarray(w, dtype=np.float64), np.asarray(lr, dtype=np.float64)
    if w_arr.ndim != 2 or w_arr.shape[1] != N_WEIGHTS or w_arr.shape[0] < 1:
        raise InputError(f"batch weights must have shape (N, {N_WEIGHTS}) with N >= 1; "
                         f"got shape {w_arr.shape}")
    if lr_arr.shape != (w_arr.shape[0],):
        raise InputError(f"batch learning rates must have shape ({w_arr.shape[0]},) to match "
                         f"weights {w_arr.shape}; got shape {lr_arr.shape}")
    w_out = finite_array(w_arr, "batch weights", w_arr.shape, dt)
    if not np.all(np.isfinite(lr_arr) & (lr_arr > 0)):
        bad = lr_arr[~(np.isfinite(lr_arr) & (lr_arr > 0))][0]
        raise InputError(f"batch learning rates must be finite and > 0; got {bad}")
    return w_out, lr_arr.astype(dt)


def _short(values: Any, limit: int = 80) -> str:
    text = repr(values.tolist() if isinstance(values, np.ndarray) else values)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def sequence_of_floats(text: str, what: str, count: int | None = None) -> Sequence[float]:
    """Parse ``"0.1,0.2"`` (command line) into floats; ``count`` entries if given."""
    parts = [p.strip() for p in str(text).split(",") if p.strip()]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise InputError(f"{what} must be comma-separated numbers; got {text!r}") from None
    if count is not None and len(values) != count:
        raise InputError(f"{what} needs {count} comma-separated numbers; "
                         f"got {len(values)}: {text!r}")
    if not values:
        raise InputError(f"{what} needs at least one number; got {text!r}")
    return values
