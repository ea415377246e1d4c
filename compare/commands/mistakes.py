"""``autograd-compare mistakes``: the catalogue of deliberately wrong manual backends."""

from __future__ import annotations

import argparse

HELP = """List the common mistakes, each runnable as a backend named mistake:<name>.

Try one beside the right ones, e.g.
  autograd-compare --backends manual,torch,mistake:missing-e2-path --out rep
and the report names the first quantity it gets wrong (exit code 1)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """No options beyond --help, --version and --config."""


def run(args: argparse.Namespace) -> int:
    from autograd_compare.manual.mistakes import MISTAKES

    width = max(len(name) for name in MISTAKES) + len("mistake:") + 2
    for m in MISTAKES.values():
        print(f"{'mistake:' + m.name:<{width}}{m.description}")
    return 0
