"""Golden values for the class example, derived without manual/ (or any float64 code at all).

The forward pass is evaluated in 50-digit arithmetic (mpmath), and every derivative is taken
numerically from that forward pass with `mpmath.diff` (high-order finite differences at 50
digits, accurate far beyond float64), so no hand-derived formula is involved: this is a second,
independent derivation. Values are rounded to float64 only at the end.

The starting numbers are the class example as the backend under test holds them: 0.15 in
float64 is 0.1499999999999999944..., in float32 0.15000000596..., and the golden values start
from exactly those binary numbers (``dtype`` below). The comparison then measures only the
backend's arithmetic, not the (unavoidable, identical) rounding of the decimal inputs.
"""

from __future__ import annotations

from functools import cache

import mpmath as mp
import numpy as np

mp.mp.dps = 50
NODES = ("h1", "h2", "a_h1", "a_h2", "o1", "o2", "a_o1", "a_o2")
CLASS_W = (0.15, 0.2, 0.25, 0.3, 0.4, 0.45, 0.5, 0.55)
CLASS_I = (0.05, 0.1)
CLASS_T = (0.5, 0.5)
SWEEP = (0.1, 0.2, 0.5, 0.8, 1.0, 2.0)


def _sigma(x):
    return 1 / (1 + mp.exp(-x))


def forward(w, i, t, override=None):
    """Every quantity of the forward pass; ``override`` replaces one node's value by name."""
    override = override or {}
    v = {}

    def put(name, value):
        v[name] = override.get(name, value)
        return v[name]

    h1 = put("h1", w[0] * i[0] + w[1] * i[1])
    h2 = put("h2", w[2] * i[0] + w[3] * i[1])
    a_h1 = put("a_h1", _sigma(h1))
    a_h2 = put("a_h2", _sigma(h2))
    o1 = put("o1", w[4] * a_h1 + w[5] * a_h2)
    o2 = put("o2", w[6] * a_h1 + w[7] * a_h2)
    a_o1 = put("a_o1", _sigma(o1))
    a_o2 = put("a_o2", _sigma(o2))
    v["E1"] = mp.mpf(1) / 2 * (t[0] - a_o1) ** 2
    v["E2"] = mp.mpf(1) / 2 * (t[1] - a_o2) ** 2
    v["E_total"] = v["E1"] + v["E2"]
    return v


def weight_gradients(w, i, t):
    """dE_total/dw_k by numerical differentiation of the 50-digit forward pass."""
    def loss_along(k):
        return lambda x: forward([x if j == k else w[j] for j in range(8)], i, t)["E_total"]
    return [mp.diff(loss_along(k), w[k]) for k in range(8)]


def node_gradients(w, i, t):
    """dE_total/d(node): perturb the node's value, run the rest of the forward pass."""
    base = forward(w, i, t)
    return {n: mp.diff(lambda x, n=n: forward(w, i, t, {n: x})["E_total"], base[n])
            for n in NODES}


def _mpf(xs, dtype: str):
    """The exact values of ``xs`` as rounded to ``dtype`` ("float64" or "float32")."""
    return [mp.mpf(float(np.dtype(dtype).type(x))) for x in xs]


def _at(w, i, t) -> dict:
    return {"forward": {k: float(x) for k, x in forward(w, i, t).items()},
            "dw": [float(g) for g in weight_gradients(w, i, t)],
            "dnode": {k: float(x) for k, x in node_gradients(w, i, t).items()}}


@cache
def class_example(dtype: str = "float64") -> dict:
    """Forward values, weight and node gradients at the class example, as floats."""
    return _at(_mpf(CLASS_W, dtype), _mpf(CLASS_I, dtype), _mpf(CLASS_T, dtype))


@cache
def after_one_step(lr: float, dtype: str = "float64") -> dict:
    """`class_example`'s quantities at the weights one 50-digit step at ``lr`` leads to."""
    w, i, t = _mpf(CLASS_W, dtype), _mpf(CLASS_I, dtype), _mpf(CLASS_T, dtype)
    rate = _mpf([lr], dtype)[0]
    return _at([wk - rate * gk for wk, gk in zip(w, weight_gradients(w, i, t))], i, t)


@cache
def trajectory(lr: float, steps: int, dtype: str = "float64") -> dict:
    """Gradient descent in 50 digits: weights after step 1 and E_total after ``steps`` steps."""
    w, i, t = _mpf(CLASS_W, dtype), _mpf(CLASS_I, dtype), _mpf(CLASS_T, dtype)
    rate = _mpf([lr], dtype)[0]
    after_one = None
    for k in range(steps):
        g = weight_gradients(w, i, t)
        w = [wk - rate * gk for wk, gk in zip(w, g)]
        if k == 0:
            after_one = [float(x) for x in w]
    return {"weights_after_1": after_one, "loss_after": float(forward(w, i, t)["E_total"]),
            "weights_after": [float(x) for x in w]}
