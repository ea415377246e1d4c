"""How far two correct backends may differ, tied to the dtype. The reasons are the numbers.

Every backend evaluates the same formulas, but libraries order, fuse and round differently
(PyTorch's and XLA's exp and sigmoid are not NumPy's). What bounds the difference:

* **Operation count.** From w1..w8 to dE_total/dw1 and the update of w1 the longest chain of
  rounded operations is about 30: h1 (3: two products, one sum), σ (4: negate, exp, add,
  divide), o1 (3), σ (4), then back through (a_o1 - t1)·a_o1·(1 - a_o1)·w5 + (...)·w7 (9),
  ·a_h1·(1 - a_h1)·i1 (4), and w1 - lr·dw1 (2). Each rounding is at most ½ ulp; two backends
  may round in opposite directions, so their difference is at most 2·30·½ eps = 30 eps.
* **Safety factor 4** for library functions that are not correctly rounded (exp, sigmoid and
  tanh in PyTorch/XLA are within about 2 ulp, not ½) and for the growth of an error through
  one multiplication by a weight of order 1.
* **Step count.** A difference made in step k is carried into every later step. Gradient
  descent on this network does not amplify it (σ' <= ¼ damps it, and the sweep's learning
  rates keep the update stable), so differences add up at most linearly: the tolerance at
  step k is (k + 1) times the one-step tolerance.
* **Scale.** A tolerance is relative to the quantity's scale: the size of the terms it is
  computed from, not its own size, because a sum of large terms that cancels (o1 = w5*a_h1 +
  w6*a_h2 with w5 = -w6, or a_o1 - t1 near convergence) keeps the rounding error of the terms.
  `term_scales` evaluates the network with every term made positive (the running error bound
  of Higham, *Accuracy and Stability of Numerical Algorithms*, §3): |h| becomes
  |W_hidden|·|i|, a sigmoid adds the error it passes on (σ'·scale of its input), a_o - t
  becomes |a_o| + |t|, and so on back to dw. A trajectory uses each quantity's largest scale
  over the reference run, so a quantity that crosses zero is judged by its size elsewhere.

float64: 4·30·eps = 120·2.2e-16 = 2.7e-14 per step (2.7e-12 after 100 steps).
float32: 4·30·eps = 120·1.2e-7 = 1.4e-5 per step.

The numerical references are float64 whatever the backends' dtype: complex step is exact up to
the rounding of the forward pass (same 30-operation bound, no cancellation), and the central
difference with step h = cbrt(eps)·max(1, |x|) has truncation plus rounding error about
eps^(2/3) ~ 4e-11 relative to the scale; `FD_RTOL` allows 100 times that, a check on our own
reference code rather than on the backends.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from autograd_compare.interface import Example

FloatArray = NDArray[np.float64]

OPS_PER_STEP = 30  # longest chain of roundings from the weights to an updated weight (above)
SAFETY = 4  # library functions within ~2 ulp, one multiplication by an O(1) weight
FD_RTOL = 100 * float(np.finfo(np.float64).eps) ** (2 / 3)  # ~4e-9: FD vs complex step


def eps(dtype: DTypeLike) -> float:
    """Machine epsilon of ``dtype`` (2.2e-16 for float64, 1.2e-7 for float32)."""
    return float(np.finfo(np.dtype(dtype)).eps)


def step_rtol(dtype: DTypeLike) -> float:
    """Allowed difference for one step of forward + backward + update, relative to scale."""
    return SAFETY * OPS_PER_STEP * eps(dtype)


RULE = "|difference| <= step_rtol * (step + 1) * scale"


class Cells(NamedTuple):
    """Two (rows, columns) tables compared cell by cell (`compare_cells`)."""

    diff: FloatArray  # |x - y|: 0 where both are the same (``same``), inf where one is NaN
    first: tuple[int, int] | None  # the earliest row, then column, outside the tolerance
    largest: tuple[int, int]  # where the largest finite |x - y| is
    abs: float  # that largest finite |x - y|
    ratio: float  # the largest |x - y| / tolerance (NaN if a tolerance is)


def both_missing(x: FloatArray, y: FloatArray) -> NDArray[np.bool_]:
    """Both NaN (a step with no value), or both the same infinity: the same."""
    same: NDArray[np.bool_] = (np.isnan(x) & np.isnan(y)) | (
        np.isinf(x) & np.isinf(y) & (np.sign(x) == np.sign(y)))
    return same


def compare_cells(x: FloatArray, y: FloatArray, tol: FloatArray,
                  same: NDArray[np.bool_]) -> Cells:
    """``x`` against the reference ``y`` (same shape) with tolerance ``tol``: a NaN on one
    side only is an infinite difference; a cell in ``same`` is 0 and never diverges, nor does
    a cell with no difference at all (0 and -0 included) even where an overflowed scale made
    its tolerance NaN."""
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.where(same, 0.0, np.abs(x - y))
    diff = np.where(np.isnan(diff), np.inf, diff)
    bad = ~same & (diff > 0) & ~(diff <= tol)
    first = None
    if bad.any():  # row-major: the earliest row, then the first column
        first = _cell(np.argmax(bad), bad.shape)
    finite = np.where(np.isfinite(diff), diff, 0.0)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ratio = np.where(diff > 0, diff / tol, 0.0)
    return Cells(diff, first, _cell(np.argmax(finite), finite.shape), float(finite.max()),
                 float(ratio.max()))


def _cell(flat: np.intp, shape: tuple[int, ...]) -> tuple[int, int]:
    k, q = np.unravel_index(flat, shape)
    return int(k), int(q)


class Settings(NamedTuple):
    """The tolerance settings for one dtype, as reported in report.json ("tolerance")."""

    dtype: str
    eps: float
    ops_per_step: int
    safety: int
    step_rtol: float
    fd_rtol: float
    rule: str


class TermScales(NamedTuple):
    """The scale of every quantity at S points (see `term_scales`)."""

    nodes: FloatArray  # (S, 11): h1..E_total (`naming.FORWARD_NAMES` order)
    node_grads: FloatArray  # (S, 8): dE_total/dh1..dE_total/da_o2 (`naming.NODE_NAMES`)
    dw: FloatArray  # (S, 8): dE_total/dw1..dE_total/dw8


def describe(dtype: DTypeLike) -> Settings:
    """The tolerance settings for ``dtype``, as reported in report.json."""
    return Settings(np.dtype(dtype).name, eps(dtype), OPS_PER_STEP, SAFETY, step_rtol(dtype),
                    FD_RTOL, RULE)


def term_scales(weights: ArrayLike, nodes: ArrayLike, example: Example,
                dtype: DTypeLike) -> TermScales:
    """The scale of every quantity: the network evaluated with all terms made positive.

    Args:
        weights: (S, 8) w1..w8 at S points. nodes: (S, 11) the reference's h1..E_total there
            (`naming.FORWARD_NAMES` order). example: inputs and targets. dtype: of the
            compared values.

    Returns:
        `TermScales`; every entry >= the quantity's own |value| (to first order).
    """
    w = np.abs(np.asarray(weights, np.float64))
    n = np.asarray(nodes, np.float64)
    i = np.abs(np.asarray(example.inputs, np.float64))
    t = np.asarray(example.targets, np.float64)
    W_hidden, W_output = w[:, :4].reshape(-1, 2, 2), w[:, 4:].reshape(-1, 2, 2)
    a_h, a_o, e = n[:, 2:4], n[:, 6:8], eps(dtype)
    H = W_hidden @ i  # |w1|*|i1| + |w2|*|i2|, ...
    A_h = np.abs(a_h) + H * a_h * (1 - a_h)  # σ passes on σ'(h) times h's error
    O = (W_output @ A_h[..., None])[..., 0]
    A_o = np.abs(a_o) + O * a_o * (1 - a_o)
    D = A_o + np.abs(t)  # scale of a_o - t (which cancels near convergence)
    E = D * (np.abs(a_o - t) + e * D)  # E = ½(t - a_o)²: |δ|·err(δ), plus err(δ)² at δ = 0
    G_o = D * A_o * (1 + A_o)  # dE_total/do = (a_o - t) * a_o * (1 - a_o)
    G_ah = (np.swapaxes(W_output, 1, 2) @ G_o[..., None])[..., 0]  # Σ_k dE/do_k * w
    G_h = G_ah * A_h * (1 + A_h)
    dw = np.concatenate([(G_h[:, :, None] * i).reshape(-1, 4),  # dw1..dw4 = dE/dh * i
                         (G_o[:, :, None] * A_h[:, None, :]).reshape(-1, 4)], axis=1)
    return TermScales(np.concatenate([H, A_h, O, A_o, E, E.sum(axis=1, keepdims=True)], axis=1),
                      np.concatenate([G_h, G_ah, G_o, D], axis=1), dw)
