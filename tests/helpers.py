"""The one closeness check every test uses: relative error (with an absolute floor) and ULPs."""

from __future__ import annotations

import numpy as np

EPS64 = float(np.finfo(np.float64).eps)  # 2.2e-16
EPS32 = float(np.finfo(np.float32).eps)  # 1.2e-7


def ulps(a, b) -> np.ndarray:
    """Distance between a and b in units in the last place of b's dtype, at b's magnitude."""
    b = np.asarray(b)
    spacing = np.spacing(np.abs(b).astype(b.dtype)) if b.dtype.kind == "f" else np.spacing(1.0)
    return np.abs(np.asarray(a, np.float64) - b.astype(np.float64)) / spacing


def assert_close(actual, expected, rtol: float, atol: float = 0.0, what: str = "") -> None:
    """|actual - expected| <= atol + rtol * |expected|, element-wise, with a useful message."""
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    err = np.abs(actual - expected)
    atol = np.broadcast_to(np.asarray(atol, dtype=np.float64), expected.shape)
    bound = atol + rtol * np.abs(expected)
    bad = ~(err <= bound)
    if np.any(bad):
        i = np.unravel_index(np.argmax(np.where(bad, err - bound, -np.inf)), err.shape)
        rel = err[i] / abs(expected[i]) if expected[i] != 0 else np.inf
        raise AssertionError(f"{what}{list(i)}: got {actual[i]!r}, expected {expected[i]!r}; "
                             f"abs err {err[i]:.3e}, rel err {rel:.3e} > rtol {rtol:.1e} "
                             f"(atol {atol[i]:.1e}); {int(bad.sum())} of {bad.size} entries off")


def eps(dtype) -> float:
    """Machine epsilon of ``dtype`` ("float64", "float32" or a NumPy dtype)."""
    return float(np.finfo(np.dtype(dtype)).eps)


def class_example(dtype="float64"):
    """The class example (inputs 0.05, 0.1; targets 0.5, 0.5) as an `Example` of ``dtype``."""
    from autograd_compare.interface import CLASS_INPUTS, CLASS_TARGETS, Example

    return Example(np.array(CLASS_INPUTS, dtype), np.array(CLASS_TARGETS, dtype))


def tutorial_data(dtype="float64", example=None):
    """The class example (or ``example``) as the `Data` of `network.TUTORIAL` (one row)."""
    from autograd_compare.network import example_data

    return example_data(class_example(dtype) if example is None else example, dtype)


def starts(n: int, dtype="float64", scale: float = 1.0, seed: int = 3) -> np.ndarray:
    """n starting weight vectors, the class example first, the rest uniform on [-scale, scale]."""
    from autograd_compare.interface import CLASS_WEIGHTS

    w = np.random.default_rng(seed).uniform(-scale, scale, (n, 8))
    w[0] = CLASS_WEIGHTS
    return w.astype(dtype)


def scaled_close(actual, expected, rtol: float, what: str = "") -> None:
    """assert_close with atol = rtol * (largest |expected| in the same column).

    For trajectories (steps, ...): a weight or gradient that crosses zero cancels in
    w - lr*g, so its own relative error is unbounded; its column's scale is what it is
    measured against.
    """
    expected = np.asarray(expected, np.float64)
    scale = np.max(np.abs(expected), axis=0) if expected.ndim else np.abs(expected)
    assert_close(actual, expected, rtol, atol=rtol * scale, what=what)
