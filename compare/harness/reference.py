"""An independent forward pass for the numerical references: complex-safe, node by node.

Written apart from every backend (Python complex numbers, `cmath`), so that a complex step
``x + i·h`` flows through it analytically: Im E_total(x + i·h) / h = dE_total/dx up to
rounding, with no subtraction and so no cancellation. Any node can be nudged and the rest of
the pass rerun, which gives dE_total/d(node) for h1 ... a_o2 too.
"""

from __future__ import annotations

import cmath
from collections.abc import Sequence


def sigmoid(z: complex) -> complex:
    """σ(z) = 1/(1 + exp(-z)), analytic; the branch is picked by Re z so exp never overflows."""
    if z.real >= 0:
        return 1 / (1 + cmath.exp(-z))
    e = cmath.exp(z)
    return e / (1 + e)


def forward(w: Sequence[complex], inputs: Sequence[float], targets: Sequence[float],
            nudge: dict[str, complex] | None = None) -> dict[str, complex]:
    """Every node of the network; ``nudge[name]`` is added to that node before it is used.

    Args:
        w: w1..w8 (8 numbers, complex allowed). inputs: i1, i2. targets: t1, t2.
        nudge: e.g. ``{"h1": 1e-20j}`` to differentiate with respect to h1.

    Returns:
        dict "h1" ... "E_total" -> complex value.
    """
    d = nudge or {}
    w1, w2, w3, w4, w5, w6, w7, w8 = w
    i1, i2 = inputs
    t1, t2 = targets
    h1 = w1 * i1 + w2 * i2 + d.get("h1", 0)
    h2 = w3 * i1 + w4 * i2 + d.get("h2", 0)
    a_h1 = sigmoid(h1) + d.get("a_h1", 0)
    a_h2 = sigmoid(h2) + d.get("a_h2", 0)
    o1 = w5 * a_h1 + w6 * a_h2 + d.get("o1", 0)
    o2 = w7 * a_h1 + w8 * a_h2 + d.get("o2", 0)
    a_o1 = sigmoid(o1) + d.get("a_o1", 0)
    a_o2 = sigmoid(o2) + d.get("a_o2", 0)
    E1 = 0.5 * (t1 - a_o1) ** 2
    E2 = 0.5 * (t2 - a_o2) ** 2
    return dict(h1=h1, h2=h2, a_h1=a_h1, a_h2=a_h2, o1=o1, o2=o2, a_o1=a_o1, a_o2=a_o2,
                E1=E1, E2=E2, E_total=E1 + E2)
