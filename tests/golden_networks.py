"""Golden values for Matt Mazur's network, derived without any backend code.

Mazur, "A Step by Step Backpropagation Example" (2015): the tutorial's 2-2-2 sigmoid network
with a bias b1 = 0.35 shared by both hidden neurons and b2 = 0.60 shared by both output
neurons (never updated), inputs 0.05, 0.10, targets 0.01, 0.99, weights w1..w8 = 0.15 ... 0.55,
E_total = Σ ½(target - out)², learning rate 0.5.

The forward pass is written out here in 50-digit mpmath, neuron by neuron in his notation
(net_h1, out_h1, ...), and every derivative is `mpmath.diff` of that forward pass: no
hand-derived formula and no float64 arithmetic, as tests/golden.py does for the class example.
The starting numbers are first rounded to the backend's dtype, so only its arithmetic is
measured.
"""

from __future__ import annotations

from functools import cache

import mpmath as mp
import numpy as np

mp.mp.dps = 50
W = (0.15, 0.20, 0.25, 0.30, 0.40, 0.45, 0.50, 0.55)
B1, B2 = 0.35, 0.60
I = (0.05, 0.10)
T = (0.01, 0.99)
LR = 0.5
NODES = ("net_h1", "net_h2", "out_h1", "out_h2", "net_o1", "net_o2", "out_o1", "out_o2")

# Mazur's printed figures (his post, rounded as printed there)
PUBLISHED = {
    "net_h1": 0.3775, "out_h1": 0.593269992, "out_h2": 0.596884378,
    "net_o1": 1.105905967, "out_o1": 0.75136507, "out_o2": 0.772928465,
    "E_o1": 0.274811083, "E_o2": 0.023560026, "E_total": 0.298371109,
    "dE/dw5": 0.082167041, "dE/dw1": 0.000438568,
    "w1+": 0.149780716, "w2+": 0.19956143, "w3+": 0.24975114, "w4+": 0.29950229,
    "w5+": 0.35891648, "w6+": 0.408666186, "w7+": 0.511301270, "w8+": 0.561370121,
    "E_total after 1 step": 0.291027924, "E_total after 10000 steps": 0.0000351085,
    "out_o1 after 10000 steps": 0.015912196, "out_o2 after 10000 steps": 0.984065734,
}


def _sigma(x):
    return 1 / (1 + mp.exp(-x))


def forward(w, b, i, t, override=None):
    """Mazur's forward pass; ``override`` replaces one node's value by name."""
    o = override or {}
    v = {}

    def put(name, value):
        v[name] = o.get(name, value)
        return v[name]

    net_h1 = put("net_h1", w[0] * i[0] + w[1] * i[1] + b[0])
    net_h2 = put("net_h2", w[2] * i[0] + w[3] * i[1] + b[0])
    out_h1 = put("out_h1", _sigma(net_h1))
    out_h2 = put("out_h2", _sigma(net_h2))
    net_o1 = put("net_o1", w[4] * out_h1 + w[5] * out_h2 + b[1])
    net_o2 = put("net_o2", w[6] * out_h1 + w[7] * out_h2 + b[1])
    out_o1 = put("out_o1", _sigma(net_o1))
    out_o2 = put("out_o2", _sigma(net_o2))
    v["E_o1"] = (t[0] - out_o1) ** 2 / 2
    v["E_o2"] = (t[1] - out_o2) ** 2 / 2
    v["E_total"] = v["E_o1"] + v["E_o2"]
    return v


def weight_gradients(w, b, i, t):
    def along(k):
        return lambda x: forward([x if j == k else w[j] for j in range(8)], b, i, t)["E_total"]
    return [mp.diff(along(k), w[k]) for k in range(8)]


def node_gradients(w, b, i, t):
    base = forward(w, b, i, t)
    return {n: mp.diff(lambda x, n=n: forward(w, b, i, t, {n: x})["E_total"], base[n])
            for n in NODES}


def _mpf(xs, dtype: str):
    return [mp.mpf(float(np.dtype(dtype).type(x))) for x in xs]


def _start(dtype: str):
    return _mpf(W, dtype), _mpf((B1, B2), dtype), _mpf(I, dtype), _mpf(T, dtype)


@cache
def mazur(dtype: str = "float64") -> dict:
    """Forward values, gradients and the weights after one step at lr 0.5, as floats."""
    w, b, i, t = _start(dtype)
    g = weight_gradients(w, b, i, t)
    rate = _mpf([LR], dtype)[0]
    w1 = [wk - rate * gk for wk, gk in zip(w, g)]
    return {"forward": {k: float(x) for k, x in forward(w, b, i, t).items()},
            "dw": [float(x) for x in g],
            "dnode": {k: float(x) for k, x in node_gradients(w, b, i, t).items()},
            "weights_after_1": [float(x) for x in w1],
            "E_total_after_1": float(forward(w1, b, i, t)["E_total"])}


@cache
def mazur_after(steps: int, dtype: str = "float64") -> dict:
    """E_total and the outputs after ``steps`` steps at lr 0.5 (30 digits: plenty, and faster)."""
    with mp.workdps(30):
        w, b, i, t = _start(dtype)
        rate = _mpf([LR], dtype)[0]
        for _ in range(steps):
            g = weight_gradients(w, b, i, t)
            w = [wk - rate * gk for wk, gk in zip(w, g)]
        v = forward(w, b, i, t)
        return {"E_total": float(v["E_total"]), "out_o1": float(v["out_o1"]),
                "out_o2": float(v["out_o2"]), "weights": [float(x) for x in w]}
