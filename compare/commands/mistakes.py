"""``autograd-compare mistakes``: the catalogue of deliberately wrong manual backends."""

from __future__ import annotations

import argparse

HELP = """List the common mistakes, each runnable as a backend named mistake:<name>.

Try one beside the right ones, e.g.
  autograd-compare --backends manual,torch,mistake:missing-e2-path --out rep
and the report names the first quantity it gets wrong (exit code 1)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true",
                        help="print the catalogue as JSON (a list of {backend, description})")


def run(args: argparse.Namespace) -> int:
    from autograd_compare.manual.mistakes import MISTAKES
    from autograd_compare.report.output import emit_stdout, to_json

    if args.json:
        emit_stdout(to_json([{"backend": f"mistake:{m.name}", "description": m.description}
                             for m in MISTAKES.values()]))
        return 0
    width = max(len(name) for name in MISTAKES) + len("mistake:") + 2
    emit_stdout("".join(f"{'mistake:' + m.name:<{width}}{m.description}\n"
                        for m in MISTAKES.values()))
    return 0
