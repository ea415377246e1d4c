"""``autograd-compare presets``: the ready-made networks of ``check --preset``."""

from __future__ import annotations

import argparse

HELP = """List the preset networks (use one with: autograd-compare check --preset NAME)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true",
                        help="print the presets as JSON (a list, one object per preset)")


def run(args: argparse.Namespace) -> int:
    from autograd_compare import network
    from autograd_compare.report.network_summary import presets_table
    from autograd_compare.report.output import emit_stdout, to_json

    presets = [network.preset(name) for name in network.PRESETS]
    if args.json:
        emit_stdout(to_json([{"name": p.name, "about": p.about,
                              "network": network.to_dict(p.network),
                              "examples": int(p.data.inputs.shape[0]), "lr": p.lr,
                              "steps": p.steps, "weights": p.weights.tolist()}
                             for p in presets]))
    else:
        emit_stdout(presets_table(presets) + "\n")
    return 0
