"""The tutorial's claims about its learning-rate sweep, checked against the measured E_total.

The tutorial (section "Effect of Learning rate") says: "For a learning rate of 2.0, the error is
almost close to 0 after about 25 iterations. For a learning rate of 1, this was achieved in
about 60 iterations and for learning rate of 0.8 it was achieved after about 80 iterations."
"Almost close to 0" is read two ways here: E_total below 1 % and below 0.1 % of its start.
A step k counts when E_total at the weights entering step k (k updates done) is below the
fraction; k = 0 is the start.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

FRACTIONS = (0.01, 0.001)  # "almost close to 0": 1 % and 0.1 % of the starting E_total
TUTORIAL = {2.0: 25, 1.0: 60, 0.8: 80}  # lr -> "about N iterations" in the tutorial
QUOTE = ("\"the error is almost close to 0 after about 25 iterations\" (lr 2.0), \"about 60\" "
         "(lr 1.0), \"about 80\" (lr 0.8)")


class Claim(NamedTuple):
    """One learning rate: the first step below each fraction of the start, beside the tutorial."""

    lr: float
    start: float  # E_total at step 0
    first_below: tuple[int | None, ...]  # per FRACTIONS: first step, None if not within steps
    steps: int  # steps run
    tutorial: int | None  # the tutorial's "about N iterations", None if it states none
    at_tutorial: float | None  # E_total at the tutorial's step / E_total at step 0 (or None)


def first_below(loss: Sequence[float] | NDArray[np.float64], fraction: float) -> int | None:
    """First k with loss[k] < fraction * loss[0], or None (NaN never counts)."""
    e = np.asarray(loss, dtype=np.float64)
    hit = np.flatnonzero(e < fraction * e[0])
    return int(hit[0]) if hit.size else None


def check(lr: float, loss: Sequence[float] | NDArray[np.float64]) -> Claim:
    """``loss``: E_total at steps 0..S (S + 1 values) of one learning rate."""
    n = _tutorial(lr)
    at = float(loss[n] / loss[0]) if n is not None and n < len(loss) and loss[0] else None
    return Claim(float(lr), float(loss[0]), tuple(first_below(loss, f) for f in FRACTIONS),
                 len(loss) - 1, n, at)


def _tutorial(lr: float) -> int | None:
    """The tutorial's number for the nearest tutorial rate, if ``lr`` is that rate up to float32
    rounding (half an ulp, relative 2**-24): ``--dtype float32`` runs 0.8 as 0.800000011920929."""
    rate = min(TUTORIAL, key=lambda r: abs(r - lr))
    return TUTORIAL[rate] if abs(rate - lr) <= 2.0**-24 * rate else None


def sentence(c: Claim) -> str:
    """How far the measured steps are from the tutorial's, in one sentence."""
    found = [f"below {_pct(f)} at step {k}" if k is not None else
             f"not below {_pct(f)} within {c.steps} steps"
             for f, k in zip(FRACTIONS, c.first_below, strict=True)]
    measured = f"E_total is {found[0]} and {found[1]}"
    if c.tutorial is None:
        return f"lr {c.lr:g}: {measured}; the tutorial states no number for this rate."
    k1 = c.first_below[0]
    if k1 is None:
        return (f"lr {c.lr:g}: the tutorial says about {c.tutorial} iterations; {measured}, "
                f"so even 1 % needs more than {c.steps} steps (run more with --steps).")
    at = (f"; at step {c.tutorial} E_total is still {_pct(c.at_tutorial)} of its start"
          if c.at_tutorial is not None else "")
    return (f"lr {c.lr:g}: the tutorial says about {c.tutorial} iterations; {measured}, "
            f"{k1 / c.tutorial:.1f} times the tutorial's number{at}.")


def _pct(fraction: float) -> str:
    return f"{fraction * 100:.2g} %"


def as_dict(c: Claim) -> dict[str, Any]:
    """JSON-ready (the ``claims`` list of report.json)."""
    return {"lr": c.lr, "E_total_start": c.start, "steps": c.steps,
            "tutorial_iterations": c.tutorial,
            "E_total_at_tutorial_step_fraction": c.at_tutorial,
            "first_step_below": [{"fraction": f, "step": k}
                                 for f, k in zip(FRACTIONS, c.first_below, strict=True)],
            "sentence": sentence(c)}


def lr_width(rows: Sequence[Any]) -> int:
    """The lr column's width: 7, or the longest rate (``5e-324`` is ``4.94066e-324``) and a
    space, so that the next column never runs into it."""
    return max(7, *(len(f"{r.lr:g}") + 1 for r in rows))


def table(claims: Sequence[Claim]) -> str:
    """The terminal table."""
    lines = ["The tutorial's claim checked: " + QUOTE,
             f"  {'lr':<{lr_width(claims)}}{'tutorial':<10}{'first step E_total < 1% of start':<36}"
             f"{'< 0.1% of start':<18}"]
    for c in claims:
        cells = [str(k) if k is not None else f"not within {c.steps}" for k in c.first_below]
        tut = f"~{c.tutorial}" if c.tutorial else "-"
        lines.append(f"  {c.lr:<{lr_width(claims)}g}{tut:<10}{cells[0]:<36}{cells[1]:<18}")
    lines += [f"  {sentence(c)}" for c in claims if c.tutorial]
    return "\n".join(lines)
