"""With several failing backends, `trajectory.check_lr` reports the EARLIEST first divergence.

Earliest means the lowest step, then the first quantity in graph order (h1 ... E_total, dw1..dw8,
w1..w8 after the update). The backends are listed in every order, so neither "the first one
found" nor "the last one found" can pass for the earliest.
"""

from __future__ import annotations

from itertools import permutations

import numpy as np
import pytest

from autograd_compare import get_backend
from autograd_compare.harness import trajectory
from autograd_compare.interface import CLASS_WEIGHTS, Example
from tests.helpers import class_example

EX = class_example()
W = np.array(CLASS_WEIGHTS)
LATE_STEP = 3


def _field(first, key: str):
    """A first-divergence record as a dict or a named result type."""
    return first[key] if isinstance(first, dict) else getattr(first, key)


def late_backend():
    """Manual backend whose recorded loss is off from step LATE_STEP on: right until then."""
    manual = get_backend("manual")

    def train(w, example: Example | None = None, *, lr: float = 0.5, steps: int = 100,
              record: bool = False):
        t = manual.train(w, example, lr=lr, steps=steps, record=record)
        loss = t.loss.copy()
        loss[LATE_STEP:] *= 1 + 1e-6  # E_total seen by training, from step LATE_STEP on
        return t._replace(loss=loss)

    return manual._replace(name="late", train=train)


CASES = {  # backend -> its own first divergence against manual at lr 0.5 (step, quantity)
    "mistake:swapped-weights": (0, "h1"),  # the forward pass is wrong from the start
    "mistake:update-sign": (0, "w1 after the update"),  # right values, wrong step
    "late": (LATE_STEP, "E_total"),  # an early quantity, but at a later step
}


def _backend(name: str):
    return late_backend() if name == "late" else get_backend(name)


@pytest.mark.parametrize("name", CASES)
def test_each_failing_backend_alone(name):
    r = trajectory.check_lr([get_backend("manual"), _backend(name)], "manual", W, EX, 0.5, 6)
    got = (_field(r.first_divergence, "step"), _field(r.first_divergence, "quantity"))
    assert got == CASES[name]


@pytest.mark.parametrize("order", list(permutations(CASES)), ids="-".join)
def test_earliest_over_backends_wins_whatever_the_order(order):
    backends = [get_backend("manual"), *(_backend(n) for n in order)]
    r = trajectory.check_lr(backends, "manual", W, EX, 0.5, 6)
    assert not r.ok
    assert _field(r.first_divergence, "backend") == "mistake:swapped-weights"
    assert _field(r.first_divergence, "step") == 0
    assert _field(r.first_divergence, "quantity") == "h1"


@pytest.mark.parametrize("order", list(permutations(["mistake:update-sign", "late"])),
                         ids="-".join)
def test_an_earlier_step_beats_an_earlier_quantity(order):
    """update-sign is off at step 0 (last in the row), late at step 3 (E_total): step 0 wins."""
    backends = [get_backend("manual"), *(_backend(n) for n in order)]
    r = trajectory.check_lr(backends, "manual", W, EX, 0.5, 6)
    assert _field(r.first_divergence, "backend") == "mistake:update-sign"
    assert _field(r.first_divergence, "step") == 0
