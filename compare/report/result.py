"""The main job's result as one named value: what was asked, what the checks found, where it went.

`commands.run` builds a `MainResult`; `output.as_dict` turns it into report.json's dict (the
only dict on the way), `summary` prints it as tables, `plots` draws its trajectories.
"""

from __future__ import annotations

from typing import NamedTuple

from autograd_compare.harness import gradcheck
from autograd_compare.harness.trajectory import Difference, LrResult
from autograd_compare.report.claims import Claim


class RunConfig(NamedTuple):
    """The job as asked for, after validation (report.json "config")."""

    backends: tuple[str, ...]  # the reference first, then the others as listed
    reference: str
    dtype: str  # "float64" or "float32"
    lrs: tuple[float, ...]
    steps: int
    weights: tuple[float, ...]  # w1..w8 at the start
    inputs: tuple[float, ...]  # i1, i2
    targets: tuple[float, ...]  # t1, t2


class Worst(NamedTuple):
    """The largest difference over every learning rate (report.json "largest_difference")."""

    lr: float
    difference: Difference | None  # None: only the reference ran at this rate


class MainResult(NamedTuple):
    """Everything the main job found."""

    config: RunConfig
    gradcheck: gradcheck.Result
    trajectories: tuple[LrResult, ...]  # one per learning rate, in the order of config.lrs
    report_dir: str | None = None  # the report folder, None when none is written
    files: tuple[str, ...] = ()  # the files in it
    claims: tuple[Claim, ...] = ()  # the tutorial's claims, one per learning rate
    undetected_mistakes: tuple[str, ...] = ()  # mistake backends no check caught: a failure

    @property
    def ok(self) -> bool:
        """Every gradient and every step of every learning rate agrees, and every mistake
        backend was caught."""
        return (self.gradcheck.ok and all(r.ok for r in self.trajectories)
                and not self.undetected_mistakes)

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def largest(self) -> Worst | None:
        """The learning rate with the largest difference/tolerance (the first of equals)."""
        worst = [Worst(r.lr, r.largest) for r in self.trajectories]
        return max(worst, key=lambda w: w.difference.ratio if w.difference else 0.0,
                   default=None)
