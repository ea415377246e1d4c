"""``autograd-compare presets``: the ready-made networks of ``check --preset``."""

from __future__ import annotations

import argparse

HELP = """List the preset networks (use one with: autograd-compare check --preset NAME)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """No options beyond --help, --version and --config."""


def run(args: argparse.Namespace) -> int:
    from autograd_compare import network
    from autograd_compare.report.network_summary import presets_table

    print(presets_table([network.preset(name) for name in network.PRESETS]))
    return 0
