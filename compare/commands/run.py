"""Placeholder main job until the harness lands: the manual backend on the class example."""

from __future__ import annotations

import compare

HELP = "Check hand-derived, PyTorch and JAX gradients against each other on the class example."


def add_arguments(parser) -> None:
    parser.add_argument("--steps", type=int, default=100, help="gradient-descent steps")


def run(args) -> int:
    backend = compare.get_backend("manual")
    for lr in compare.LEARNING_RATES:
        t = backend.train(compare.CLASS_WEIGHTS, lr=lr, steps=args.steps)
        print(f"lr={lr:<4} E_total: start {t.loss[0]:.6f}  after {args.steps} steps "
              f"{float(backend.forward(t.weights[-1]).E_total):.6e}")
    return 0
