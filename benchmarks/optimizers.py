#!/usr/bin/env python
"""Batched training throughput per optimizer, for CI logs: ``autograd-compare bench --optimizer``.

``python benchmarks/optimizers.py [--optimizer all] [--sizes 100,2000,60000] [--steps 1000]
[--repeat 2] [--dtypes float64,float32] [--backends ...] [--json]``

For every optimizer (default: all), N configurations train for S steps in each backend's
batched path and in `compare.commands.bench.numpy_reference` with the same optimizer, as
a plain vectorised NumPy loop. Reported per optimizer, backend, N and dtype: configuration-steps
per second, the ratio to the NumPy reference measured in the same run, and the first call
(compilation, caches) apart from the steady state. See docs/performance.md, "Optimizers".
"""

from __future__ import annotations

import sys

from autograd_compare.commands.cli import main

DEFAULTS = ["--optimizer", "all", "--sizes", "100,2000,60000"]


def run(argv: list[str]) -> int:
    """``bench`` with `DEFAULTS` for the options not given in ``argv``."""
    given = {a.split("=", 1)[0] for a in argv if a.startswith("--")}
    extra = [x for opt, value in zip(DEFAULTS[::2], DEFAULTS[1::2])
             if opt not in given and not (opt == "--sizes" and "--n" in given)
             for x in (opt, value)]
    return main(["bench", *extra, *argv])


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
