"""The main job: the class example and the learning-rate sweep on every backend, checked.

Runs the gradient check and the trajectory check, prints the tables, writes the report folder.
Exit code 0 when everything agrees, 1 when any check fails, 2 for bad usage or input.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from autograd_compare import registry
from autograd_compare.commands import options, wording
from autograd_compare.commands.progress import Progress
from autograd_compare.errors import BackendUnavailable, InputError
from autograd_compare.harness import gradcheck, steps, trajectory
from autograd_compare.interface import Backend, Example
from autograd_compare.report import claims, extras, landscape, output, plot_pool, plots, summary
from autograd_compare.report.result import MainResult, RunConfig

HELP = """Check hand-derived, PyTorch and JAX gradients against each other on the class example.

With no options: the class example, the learning-rate sweep, every installed backend, float64;
prints a table per learning rate and a gradient-check table, and writes a report folder
(with --json alone: prints the JSON instead, and writes a folder only if --out is given).
Exit code: 0 everything agrees, 1 a check failed, 2 bad usage or input."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    options.add_lrs_option(parser)
    parser.add_argument("--steps", type=options.positive_int("steps"), default=100,
                        help="gradient-descent steps per learning rate (default 100)")
    options.add_backends_option(parser)
    options.add_network_options(parser)
    parser.add_argument("--out", metavar="DIR", default=None,
                        help=f"report folder (default {output.DEFAULT_OUT}, or -2, -3, ... if "
                        "taken: never overwritten; with --json: none unless given)")
    parser.add_argument("--force", action="store_true", help=wording.FORCE_HELP)
    parser.add_argument("--json", action="store_true", help=wording.JSON_HELP)
    parser.add_argument("--no-plots", action="store_true",
                        help="write no PNG files (report.json, trace.csv and report.html only)")
    add_landscape_option(parser)


def add_landscape_option(parser: argparse.ArgumentParser, default: str = "plane") -> None:
    parser.add_argument("--landscape", type=landscape_slice, default=default, metavar="SLICE",
                        help="the slice of weight space drawn in landscape.png: 'plane' or two "
                        f"weights such as w5,w6 (default {default})")


def landscape_slice(text: str) -> landscape.Slice:
    """argparse ``type=`` for --landscape (a bad value is a one-line usage error)."""
    try:
        return landscape.parse(text)
    except InputError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def run(args: argparse.Namespace) -> int:
    human = sys.stderr if args.json else sys.stdout
    dt = np.dtype(args.dtype)
    weights, (inputs, targets) = options.check_network(args)
    w = np.asarray(weights, dt)
    example = Example(np.asarray(inputs, dt), np.asarray(targets, dt))
    lrs = options.check_lrs(args.lrs)
    out: Path | None = None  # --json alone: the JSON on stdout is the report
    if args.out or not args.json:
        out = Path(args.out) if args.out else output.default_out()
        output.check_out(out, args.force)  # refuse before doing any work
    with_plots = (out is not None and not args.no_plots
                  and importlib.util.find_spec("matplotlib") is not None)
    # workers import pyplot while this process imports the frameworks (report.plot_pool)
    drawer = plot_pool.Drawer() if with_plots else None
    try:
        return _run(args, dt, w, example, lrs, out, drawer, human)
    finally:
        if drawer is not None:
            drawer.close()


def _run(args: argparse.Namespace, dt: np.dtype, w: np.ndarray, example: Example,
         lrs: tuple[float, ...], out: Path | None, drawer: plot_pool.Drawer | None,
         human: TextIO) -> int:
    backends = _backends(args, dt)
    reference = next((b.name for b in backends if not b.name.startswith("mistake:")),
                     backends[0].name)
    backends.sort(key=lambda b: b.name != reference)  # the reference first, others as listed
    config = RunConfig(tuple(b.name for b in backends), reference, dt.name, tuple(lrs),
                       args.steps, tuple(w.tolist()), tuple(example.inputs.tolist()),
                       tuple(example.targets.tolist()))
    with Progress(len(lrs) + 1 + 2 * (out is not None)) as progress:
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
        claimed = tuple(claims.check(r.lr, r.runs[r.reference].nodes[:, -1])
                        for r in lr_results)
        result = MainResult(config, grad, tuple(lr_results), claims=claimed)
        if out is not None:
            progress.step("recording every step for report.html")
            trace = steps.as_json([steps.record(b, w, example, lr, args.steps)
                                   for lr in lrs for b in backends])
            progress.step(f"writing {out}")
            result = _write(out, args.force, result, human,
                            lambda folder, result_json, with_plots: extras.write_main(
                                folder, result_json, trace, example, args.landscape,
                                with_plots), drawer, args.no_plots)
    print(summary.header(config), summary.trajectory_table(result), "",
          claims.table(result.claims), "",
          summary.gradcheck_table(result), "", summary.verdict(result),
          wording.closing_line(result.ok, out), sep="\n", file=human)
    if args.json:
        sys.stdout.write(output.to_json(output.as_dict(result)))
    return result.exit_code


def _backends(args: argparse.Namespace, dt: np.dtype) -> list[Backend]:
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


def _write(out: Path, force: bool, result: MainResult, human: TextIO,
           teaching: Callable[[Path, dict[str, Any], bool], object],
           drawer: plot_pool.Drawer | None = None, no_plots: bool = False) -> MainResult:
    """Fill the report folder: report.json (== the --json output), trace.csv, the PNGs."""
    with_plots = not no_plots and importlib.util.find_spec("matplotlib") is not None
    lr_results = result.trajectories
    files = [output.JSON_NAME, output.CSV_NAME] + (
        [plots.loss_file(r.lr) for r in lr_results] + [plots.ALL_LRS_FILE, plots.DIFF_FILE]
        if with_plots else []) + extras.file_names(with_plots)
    result = result._replace(report_dir=str(out), files=tuple(files))
    if not with_plots and not no_plots:
        print(f"note: no plots in the report: matplotlib is not installed; install it with: "
              f"{plots.INSTALL_HINT}", file=human)

    result_json = output.as_dict(result)

    def fill(folder: Path) -> None:
        output.write_text(folder / output.JSON_NAME, output.to_json(result_json))
        output.write_text(folder / output.CSV_NAME, output.trace_csv(lr_results))
        if with_plots:
            if drawer is None:
                plots.save_all(folder, lr_results)
            else:
                drawer.save(folder, lr_results)
        teaching(folder, result_json, with_plots)  # network, landscape, report.html

    output.write_folder(out, fill, force)
    return result
