"""Checks at the boundary: user values in, clean NumPy arrays of the right dtype out."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from autograd_compare.errors import InputError
from autograd_compare.interface import DTYPES, N_WEIGHTS, Example

MAX_COUNT = 2**31 - 1  # steps, --n, --chunk ...: every framework's loop counter holds this
MAX_STEPS = MAX_COUNT
SHORT = 80  # longest echo of a bad value in a message


def short_text(value: Any, limit: int = SHORT) -> str:
    """``repr(value)`` for a one-line message, cut to ``limit`` characters."""
    text = repr(value.tolist() if isinstance(value, np.ndarray) and value.size < 1000
                else value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# control characters (C0 but tab and newline, DEL, C1) and the bidirectional overrides: a
# terminal would run them (clear the screen, move the cursor, reorder the line)
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def terminal_text(text: str) -> str:
    """``text`` safe to print: every control character but tab and newline written as its
    escape ``\\uXXXX`` (``\\u001b``; also valid in a JSON string); the rest unchanged."""
    if CONTROL.search(text) is None:
        return text
    return CONTROL.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def from_tensor(values: Any, what: str) -> Any:
    """A torch or JAX array as a NumPy array (detached, on the CPU; half precision widened to
    float64, exactly); a tensor without numbers (meta device), a sparse or quantized one, or a
    complex one is an `InputError`. Anything else is returned as it is."""
    module = type(values).__module__.split(".")[0]
    if module == "torch" and hasattr(values, "detach"):
        kind = f"a torch tensor ({str(values.dtype).removeprefix('torch.')})"
        if str(getattr(values, "device", "")) == "meta":
            raise InputError(f"{what} is {kind} on the meta device: it holds no numbers")
        if str(values.layout) != "torch.strided" or values.is_quantized:
            raise InputError(f"{what} is {kind} with layout "
                             f"{str(values.layout).removeprefix('torch.')}"
                             f"{' (quantized)' if values.is_quantized else ''}; give a dense "
                             "tensor (.to_dense(), .dequantize())")
        if values.is_complex():
            raise InputError(f"{what} must be real numbers, not complex; got {kind}")
        t = values.detach().cpu().resolve_neg()
        if t.is_floating_point() and str(t.dtype) not in ("torch.float32", "torch.float64"):
            t = t.double()  # bfloat16, float16, float8: exact in float64
        try:
            return t.numpy()
        except (TypeError, RuntimeError) as err:
            raise InputError(f"{what}: {kind} cannot be read as numbers "
                             f"({short_text(str(err))})") from None
    if module in ("jax", "jaxlib"):
        arr = np.asarray(values)
        if arr.dtype.kind == "V" or arr.dtype.name.startswith(("bfloat16", "float8")):
            arr = arr.astype(np.float64)  # ml_dtypes' half-precision types: exact in float64
        return arr
    return values


def as_numpy(values: Any, what: str) -> np.ndarray:
    """NumPy arrays, lists, and torch/JAX arrays (`from_tensor`) -> an array of real numbers
    (ints or floats); complex, strings, booleans, objects, ragged lists and tensors without
    numbers are an `InputError`."""
    values = from_tensor(values, what)
    if isinstance(values, (str, bytes)):
        raise InputError(f"{what} must be numbers, not text; got {short_text(values)}")
    if _has_bool(values):
        raise InputError(f"{what} must be numbers, not booleans; got {short_text(values)}")
    try:
        arr = np.asarray(values)
    except (TypeError, ValueError, OverflowError):
        raise InputError(f"{what} must be numbers of one shape (a ragged or mixed list?); "
                         f"got {short_text(values)}") from None
    kind = arr.dtype.kind
    if kind == "c":
        raise InputError(f"{what} must be real numbers, not complex; got {short_text(values)}")
    if kind == "b":
        raise InputError(f"{what} must be numbers, not booleans; got {short_text(values)}")
    if kind not in "iuf":
        raise InputError(f"{what} must be numbers; got {arr.dtype.name} values "
                         f"{short_text(values)}")
    return arr


def _has_bool(values: Any, depth: int = 0) -> bool:
    if isinstance(values, (bool, np.bool_)):
        return True
    if isinstance(values, (list, tuple)) and depth < 3:
        return any(_has_bool(v, depth + 1) for v in values)
    return False


def read_bounded(path: Any, limit: int, what: str, hint: str) -> bytes:
    """At most ``limit`` bytes of the file ``path``, or a one-line `InputError`: ``what`` names
    the file ("data file 'x.csv'"), ``hint`` says what to do when it is larger."""
    try:
        with open(path, "rb") as f:
            raw = f.read(limit + 1)
    except (OSError, ValueError) as err:  # ValueError: a NUL character in the name
        raise InputError(f"cannot read {what}: "
                         f"{getattr(err, 'strerror', None) or err}") from None
    if len(raw) > limit:
        raise InputError(f"{what} is larger than {limit >> 20} MiB; {hint}")
    return raw


def dtype(name: Any) -> np.dtype:
    """``"float64"``/``"float32"`` (or the NumPy dtypes) -> ``np.dtype``."""
    key = np.dtype(name).name if isinstance(name, (np.dtype, type)) else name
    if key not in DTYPES:
        raise InputError(f"unknown dtype {name!r}; expected one of {', '.join(DTYPES)}")
    return np.dtype(key)


def finite_array(values: Any, what: str, shape: tuple[int, ...], dt: np.dtype) -> np.ndarray:
    """``values`` as an array of ``shape`` and dtype ``dt``; every entry finite."""
    if (type(values) is np.ndarray and values.dtype == dt and values.shape == shape
            and np.isfinite(values).all()):
        return values.copy()  # the harness's own arrays: nothing to convert, nothing to say
    arr = as_numpy(values, what).astype(np.float64)
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
    if not (type(w) is np.ndarray and w.dtype == dt and w.shape == (N_WEIGHTS,)):
        w = as_numpy(w, "weights w1..w8")
    n = w.size if w.ndim == 1 else None
    if n is not None and n != N_WEIGHTS:
        raise InputError(f"expected {N_WEIGHTS} weights (w1..w8); got {n}: {_short(w)}")
    return finite_array(w, "weights w1..w8", (N_WEIGHTS,), dt)


def example(ex: Any, dt: np.dtype) -> Example:
    """(inputs, targets) -> Example of arrays (2,), (2,)."""
    try:
        inputs, targets = ex
    except (TypeError, ValueError):
        raise InputError(f"example must be (inputs, targets); got {_short(ex)}") from None
    out = Example(finite_array(inputs, "inputs i1,i2", (2,), dt),
                  finite_array(targets, "targets t1,t2", (2,), dt))
    limit = max_target(dt)
    if np.any(np.abs(out.targets) > limit):
        raise InputError(f"targets t1,t2 must be at most {limit:.3g} in size in {dt.name}, so "
                         f"that E_total = ½(t - a_o)² stays finite; got {_short(targets)}")
    return out


def representable_start(w: np.ndarray, ex: Example, dt: np.dtype, what: str = "weights") -> None:
    """Refuse a starting point whose forward pass or gradients overflow ``dt``: every term
    scale of `tolerances.term_scales` (|w|·|i|, the sums, the chain-rule products) must be
    below the dtype's largest number, so the starting point's numbers all exist."""
    from autograd_compare.harness import tolerances

    w64 = np.asarray(w, np.float64).reshape(1, 8)
    i, t = np.asarray(ex.inputs, np.float64), np.asarray(ex.targets, np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        h = w64[0, :4].reshape(2, 2) @ i
        a_h = 0.5 * (1 + np.tanh(h / 2))  # σ without overflow
        o = w64[0, 4:].reshape(2, 2) @ a_h
        a_o = 0.5 * (1 + np.tanh(o / 2))
        e = 0.5 * (t - a_o) ** 2
        nodes = np.concatenate([h, a_h, o, a_o, e, [e.sum()]])[None, :]
        terms = tolerances.term_scales(w64, nodes, Example(i, t), dt)
        values = np.concatenate([np.ravel(v) for v in terms])
        worst = float(np.max(values)) if np.isfinite(values).all() else float("inf")
    limit = float(np.finfo(dt).max)
    if not worst <= limit / 16:
        raise InputError(f"{what} and inputs are too large together: the network's terms "
                         f"(|w|·|i|, then the chain-rule products) reach {worst:.3g}, beyond "
                         f"{dt.name} ({limit:.3g}); use smaller weights or inputs")


def max_target(dt: np.dtype) -> float:
    """Largest |target|: half the square root of the dtype's largest number (E_total finite,
    with room for the sum of the two errors and for the terms of its rounding bound)."""
    return float(np.sqrt(np.finfo(dt).max)) / 2


def learning_rate(lr: Any, dt: Any = None) -> float:
    """A finite learning rate > 0 (a real number, not text or a boolean); with a dtype, rounded
    to it and still finite and > 0 there (float32: 1e-320 -> 0 and 1e39 -> inf are refused)."""
    if isinstance(lr, (bool, np.bool_, str, bytes)) or not isinstance(
            lr, (int, float, np.integer, np.floating)):
        raise InputError(f"learning rate must be a number; got {short_text(lr)}")
    try:
        value = float(lr)
    except (TypeError, ValueError, OverflowError):
        raise InputError(f"learning rate must be a finite number; got {short_text(lr)}") from None
    if not math.isfinite(value) or value <= 0:
        raise InputError(f"learning rate must be finite and > 0; got {short_text(lr)}")
    if dt is not None:
        d = dtype(dt)
        with np.errstate(over="ignore", under="ignore"):
            rounded = float(np.asarray(value, d))
        if not math.isfinite(rounded) or rounded <= 0:
            raise InputError(f"learning rate {short_text(lr)} is "
                             f"{'0' if rounded == 0 else 'infinite'} in {d.name}; choose one "
                             f"between {float(np.finfo(d).smallest_subnormal):.3g} and "
                             f"{float(np.finfo(d).max):.3g}")
        value = rounded
    return value


def steps(n: Any) -> int:
    """A whole number of steps from 1 to `MAX_STEPS`."""
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)) or n < 1:
        raise InputError(f"steps must be a whole number >= 1; got {short_text(n)}")
    if n > MAX_STEPS:
        raise InputError(f"steps must be at most {MAX_STEPS}; got {short_text(n)}")
    return int(n)


def threshold(t: Any) -> float | None:
    """None, or a finite loss threshold >= 0."""
    if t is None:
        return None
    if isinstance(t, (bool, np.bool_, str, bytes)):
        raise InputError(f"threshold must be a number; got {short_text(t)}")
    try:
        value = float(t)
    except (TypeError, ValueError):
        raise InputError(f"threshold must be a number; got {short_text(t)}") from None
    if not math.isfinite(value) or value < 0:
        raise InputError(f"threshold must be finite and >= 0; got {short_text(t)}")
    return value


def batch(w: Any, lr: Any, dt: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    """Starting weights (N, 8) and learning rates (N,) with matching N >= 1."""
    w_arr = as_numpy(w, "batch weights").astype(np.float64)
    lr_arr = as_numpy(lr, "batch learning rates").astype(np.float64)
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
    with np.errstate(over="ignore", under="ignore"):
        lr_out = lr_arr.astype(dt)
    if not np.all(np.isfinite(lr_out) & (lr_out > 0)):
        bad = lr_arr[~(np.isfinite(lr_out) & (lr_out > 0))][0]
        raise InputError(f"batch learning rate {bad:g} is 0 or infinite in {np.dtype(dt).name}")
    return w_out, lr_out


def _short(values: Any, limit: int = SHORT) -> str:
    return short_text(values, limit)


def sequence_of_floats(text: str, what: str, count: int | None = None) -> Sequence[float]:
    """Parse ``"0.1,0.2"`` (command line) into floats; ``count`` entries if given."""
    parts = [p.strip() for p in str(text).split(",") if p.strip()]
    values = []
    for i, p in enumerate(parts, start=1):
        try:
            values.append(float(p))
        except ValueError:
            where = f" (entry {i} of {len(parts)})" if len(parts) > 1 else ""
            raise InputError(f"{what} must be comma-separated numbers; got "
                             f"{short_text(p, 40)}{where}") from None
    if count is not None and len(values) != count:
        raise InputError(f"{what} needs {count} comma-separated numbers; "
                         f"got {len(values)}: {short_text(text)}")
    if not values:
        raise InputError(f"{what} needs at least one number; got {short_text(text)}")
    return values
