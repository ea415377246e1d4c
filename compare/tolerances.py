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
* **Scale.** A tolerance is relative to the quantity's scale, the largest |value| it takes
  in the reference run (over all steps; at one point, over its group: the eight dw, or the
  eight nodes). Late in training dE_total/dw is a small difference of O(1) terms, so its
  rounding error is set by those terms, not by its own tiny size.

float64: 4·30·eps = 120·2.2e-16 = 2.7e-14 per step (2.7e-12 after 100 steps).
float32: 4·30·eps = 120·1.2e-7 = 1.4e-5 per step.

The numerical references are float64 whatever the backends' dtype: complex step is exact up to
the rounding of the forward pass (same 30-operation bound, no cancellation), and the central
difference with step h = cbrt(eps)·max(1, |x|) has truncation plus rounding error about
eps^(2/3) ~ 4e-11 relative to the scale; `FD_RTOL` allows 100 times that, a check on our own
reference code rather than on the backends.
"""

from __future__ import annotations

import numpy as np

OPS_PER_STEP = 30  # longest chain of roundings from the weights to an updated weight (above)
SAFETY = 4  # library functions within ~2 ulp, one multiplication by an O(1) weight
REFERENCE_DTYPE = np.dtype(np.float64)
FD_RTOL = 100 * float(np.finfo(np.float64).eps) ** (2 / 3)  # ~4e-9: FD vs complex step


def eps(dtype) -> float:
    """Machine epsilon of ``dtype`` (2.2e-16 for float64, 1.2e-7 for float32)."""
    return float(np.finfo(np.dtype(dtype)).eps)


def step_rtol(dtype) -> float:
    """Allowed difference for one step of forward + backward + update, relative to scale."""
    return SAFETY * OPS_PER_STEP * eps(dtype)


def trajectory_tolerance(dtype, step: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Allowed |difference| at ``step`` (0-based, shape (S, 1)) for quantities of ``scale`` (Q,).

    Returns:
        (S, Q): ``step_rtol(dtype) * (step + 1) * scale``.
    """
    return step_rtol(dtype) * (np.asarray(step, np.float64) + 1) * np.asarray(scale, np.float64)


def gradcheck_tolerance(dtype, scale) -> float:
    """Allowed |backend - complex step| at one point for a gradient of group ``scale``."""
    return step_rtol(dtype) * float(scale)


def describe(dtype) -> dict:
    """The tolerance settings for ``dtype``, as reported in report.json."""
    return {"dtype": np.dtype(dtype).name, "eps": eps(dtype), "ops_per_step": OPS_PER_STEP,
            "safety": SAFETY, "step_rtol": step_rtol(dtype), "fd_rtol": FD_RTOL,
            "rule": "|difference| <= step_rtol * (step + 1) * scale"}
