#!/usr/bin/env python
"""Throughput benchmark for CI logs: ``python benchmarks/bench.py [--json] [--n N] ...``.

The same as ``autograd-compare bench`` (see `compare.commands.bench`): configuration-steps/s
of every installed backend's batched training in float64 and float32 next to a plain NumPy
loop, the ratios, warm-up apart from steady state, and one 100-step trajectory per backend.
"""

import sys

from autograd_compare.commands.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
