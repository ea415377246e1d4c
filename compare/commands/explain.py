"""``autograd-compare explain``: the chain rule with numbers, or (``--prove``) a SymPy proof."""

from __future__ import annotations

import argparse
import json

import numpy as np

from autograd_compare import validate
from autograd_compare.commands.options import add_network_options
from autograd_compare.teach import errata
from autograd_compare.teach.explain import TARGETS, explain
from autograd_compare.teach.render import render_json, render_markdown, render_text

HELP = """Explain every gradient: the chain rule in the tutorial's notation, factor by factor.

For dE_total/dw5..dw8, dE_total/da_h1, dE_total/da_h2 and dE_total/dw1..dw4: each local
derivative with its value, the product, what PyTorch and JAX computed, and the update
w_new = w_old - lr * dE_total/dw. With --prove: SymPy derives every gradient from the forward
equations and proves the formulas in manual/ identical (exit 1 if one is not). With
--errata: the tutorial's typos, each with its correction and the check that proves it."""



def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_network_options(parser)
    parser.add_argument("--lr", type=float, default=0.5,
                        help="learning rate of the update shown after each weight (default 0.5)")
    parser.add_argument("--weight", choices=TARGETS, default=None, metavar="NAME",
                        help="explain only this gradient: a weight w1..w8 or a node "
                        + ", ".join(TARGETS[8:]) + " (every one the proof covers)")
    parser.add_argument("--format", choices=("text", "markdown", "json"), default="text",
                        help="plain text for a terminal (default), Markdown for notes, or JSON")
    parser.add_argument("--prove", action="store_true",
                        help="prove the formulas in manual/ with SymPy instead (exit 1 if one "
                        "is wrong)")
    parser.add_argument("--errata", action="store_true",
                        help="list the tutorial's typos, corrected, each with its check")


def run(args: argparse.Namespace) -> int:
    dt = validate.dtype(args.dtype)
    w = validate.weights(args.weights, dt)  # checked with --prove too: every option counts
    example = validate.example((args.inputs, args.targets), dt)
    validate.representable_start(w, example, dt)
    lr = validate.learning_rate(args.lr, dt)
    if args.errata:
        items = errata.errata(np.asarray(w, np.float64), example)
        print(json.dumps([e._asdict() for e in items], indent=2, ensure_ascii=False)
              if args.format == "json" else errata.render_markdown(items)
              if args.format == "markdown" else errata.render_text(items))
        return 0
    if args.prove:
        from autograd_compare.teach import prove

        verdicts = [v for v in prove.prove() if args.weight in (None, v.name)]
        if args.format == "json":
            print(json.dumps({"proved": all(v.proved for v in verdicts),
                              "verdicts": [v._asdict() for v in verdicts]}, indent=2))
        else:
            print("Symbolic check of manual/gradients.py against SymPy's derivatives of the "
                  "forward equations:")
            print(prove.render(verdicts))
        return 0 if all(v.proved for v in verdicts) else 1
    result = explain(w, example, lr, args.weight, dt)
    render = {"markdown": render_markdown, "json": render_json}.get(args.format, render_text)
    print(render(result))
    return 0
