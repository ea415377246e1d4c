"""The main job: the class example and the learning-rate sweep on every backend, checked.

Runs the gradient check and the trajectory check, prints the tables, writes the report folder.
Exit code 0 when everything agrees, 1 when any check fails, 2 for bad usage or input.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

import numpy as np

from autograd_compare import registry
from autograd_compare.commands import options
from autograd_compare.commands.progress import Progress
from autograd_compare.errors import BackendUnavailable, InputError
from autograd_compare.harness import gradcheck, trajectory
from autograd_compare.interface import Example
from autograd_compare.report import output, plot_pool, plots, summary

HELP = """Check hand-derived, PyTorch and JAX gradients against each other on the class example.

With no options: the class example, the learning-rate sweep, every installed backend, float64;
prints a table per learning rate and a gradient-check table, and writes a report folder.
Exit code: 0 everything agrees, 1 a check failed, 2 bad usage or input."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    options.add_lrs_option(parser)
    parser.add_argument("--steps", type=options.positive_int("steps"), default=100,
                        help="gradient-descent steps per learning rate (default 100)")
    options.add_backends_option(parser)
    options.add_network_options(parser)
    parser.add_argument("--out", metavar="DIR", default=None,
                        help=f"report folder (default {output.DEFAULT_OUT}, or -2, -3, ... if "
                        "taken: never overwritten)")
    parser.add_argument("--force", action="store_true",
                        help="replace the --out folder if it holds an earlier report")
    parser.add_argument("--json", action="store_true",
                        help="write the full result as JSON to stdout (tables go to stderr)")
    parser.add_argument("--no-plots", action="store_true",
                        help="write no PNG files (report.json and trace.csv only)")


def run(args: argparse.Namespace) -> int:
    human = sys.stderr if args.json else sys.stdout
    dt = np.dtype(args.dtype)
    weights, (inputs, targets) = options.check_network(args)
    w = np.asarray(weights, dt)
    example = Example(np.asarray(inputs, dt), np.asarray(targets, dt))
    lrs = options.check_lrs(args.lrs)
    out = Path(args.out) if args.out else output.default_out()
    output.check_out(out, args.force)  # refuse before doing any work
    with_plots = not args.no_plots and importlib.util.find_spec("matplotlib") is not None
    # workers import pyplot while this process imports the frameworks (report.plot_pool)
    drawer = plot_pool.Drawer() if with_plots else None
    try:
        return _run(args, dt, w, example, lrs, out, drawer, human)
    finally:
        if drawer is not None:
            drawer.close()


def _run(args: argparse.Namespace, dt: np.dtype, w: np.ndarray, example: Example, lrs, out: Path,
         drawer: plot_pool.Drawer | None, human) -> int:
    backends = _backends(args, dt)
    reference = next((b.name for b in backends if not b.name.startswith("mistake:")),
                     backends[0].name)
    backends.sort(key=lambda b: b.name != reference)  # the reference first, others as listed
    config = {"backends": [b.name for b in backends], "reference": reference,
              "dtype": dt.name, "lrs": list(lrs), "steps": args.steps,
              "weights": w.tolist(), "inputs": example.inputs.tolist(),
              "targets": example.targets.tolist()}
    with Progress(len(lrs) + 2) as progress:
        progress.step("gradient check")
        grad = gradcheck.check(backends, w, example)
        lr_results = []
        for lr in lrs:
            progress.step(f"training {len(backends)} backends at lr {lr:g}")
            lr_results.append(trajectory.check_lr(backends, reference, w, example, lr,
                                                  args.steps))
            if drawer is not None:  # drawn in a worker while the next rate trains
                drawer.submit(plots.loss_file(lr), lr_results[-1:])
        if drawer is not None:
            drawer.submit(plots.DIFF_FILE, lr_results)
            drawer.submit(plots.ALL_LRS_FILE, lr_results)
        progress.step(f"writing {out}")
        result = output.as_dict(config, lr_results, grad)
        _write(out, args.force, result, lr_results, human, drawer, args.no_plots)
    print(summary.header(config), summary.trajectory_table(result), "",
          summary.gradcheck_table(result), "", summary.verdict(result),
          f"Report: {out}/", sep="\n", file=human)
    if args.json:
        sys.stdout.write(output.to_json(result))
    return result["exit_code"]


def _backends(args: argparse.Namespace, dt: np.dtype) -> list:
    names = options.selected_backends(args)
    seen = set()
    for name in names:
        if name in seen:
            raise InputError(f"backend {name!r} is listed twice in --backends")
        seen.add(name)
    if args.backends:  # asked for by name: every one must load (else exit 2)
        return [registry.get_backend(n, dt) for n in names]
    loaded = []
    for name in names:  # the default: every installed backend that loads
        try:
            loaded.append(registry.get_backend(name, dt))
        except BackendUnavailable as err:
            print(f"note: skipping {err}", file=sys.stderr)
    if not loaded:
        raise BackendUnavailable("no backend could be loaded")
    return loaded


def _write(out: Path, force: bool, result: dict, lr_results: list, human,
           drawer: plot_pool.Drawer | None = None, no_plots: bool = False) -> None:
    """Fill the report folder: report.json (== the --json output), trace.csv, the PNGs."""
    with_plots = not no_plots and importlib.util.find_spec("matplotlib") is not None
    result["report_dir"] = str(out)
    result["files"] = [output.JSON_NAME, output.CSV_NAME] + (
        [plots.loss_file(r.lr) for r in lr_results] + [plots.ALL_LRS_FILE, plots.DIFF_FILE]
        if with_plots else [])
    if not with_plots and not no_plots:
        print(f"note: no plots in the report: matplotlib is not installed; install it with: "
              f"{plots.INSTALL_HINT}", file=human)

    def fill(folder: Path) -> None:
        output.write_text(folder / output.JSON_NAME, output.to_json(result))
        output.write_text(folder / output.CSV_NAME, output.trace_csv(lr_results))
        if with_plots:
            if drawer is None:
                plots.save_all(folder, lr_results)
            else:
                drawer.save(folder, lr_results)

    output.write_folder(out, fill, force)
