"""The main job: the class example and the learning-rate sweep on every backend, checked.

Runs the gradient check and the trajectory check, prints the tables, writes the report folder.
Exit code 0 when everything agrees, 1 when any check fails, 2 for bad usage or input.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from autograd_compare import budget, registry, validate
from autograd_compare.commands import options, wording
from autograd_compare.commands.progress import Progress
from autograd_compare.errors import BackendUnavailable, InputError
from autograd_compare.harness import gradcheck, steps, trajectory
from autograd_compare.interface import Backend, Example
from autograd_compare.report import claims, extras, landscape, output, plots, summary
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
    options.add_output_options(parser, "write no PNG files (report.json, trace.csv and "
                               "report.html only)")
    add_landscape_option(parser)
    budget.add_options(parser)


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
    dt = validate.dtype(args.dtype)
    weights, (inputs, targets) = options.check_network(args)
    w = np.asarray(weights, dt)
    example = Example(np.asarray(inputs, dt), np.asarray(targets, dt))
    lrs = options.check_lrs(args.lrs, dt)
    names, added = options.with_reference(options.selected_backends(args))
    folder_wanted = bool(args.out) or not args.json  # --json alone: stdout is the report
    with_plots = (folder_wanted and not args.no_plots
                  and importlib.util.find_spec("matplotlib") is not None)
    memory, size = budget.main_job(len(lrs), len(names), args.steps, with_plots)
    budget.check(memory, args.max_memory_mb, "memory", "--max-memory-mb")
    budget.check(size, args.max_output_mb, "report files", "--max-output-mb")
    if folder_wanted and not args.no_plots and not with_plots:
        print(f"note: no plots in the report: matplotlib is not installed; install it with: "
              f"{plots.INSTALL_HINT}", file=human)
    dest = output.Destination(args.out, output.DEFAULT_OUT, args.force) if folder_wanted \
        else contextlib.nullcontext(None)
    with dest as reserved:  # reserved: refused (exit 2) or taken before any work
        if added:
            print(f"note: {added} added as the reference: a mistake backend needs a correct "
                  "one to be compared with", file=human)
        return _run(args, names, dt, w, example, lrs, reserved, with_plots, human)


def _run(args: argparse.Namespace, names: tuple[str, ...], dt: np.dtype, w: np.ndarray,
         example: Example, lrs: tuple[float, ...], dest: output.Destination | None,
         with_plots: bool, human: TextIO) -> int:
    backends = _backends(args, names, dt)
    gc.freeze()  # the frameworks' millions of objects live to the end: collections skip them
    reference = next((b.name for b in backends if not b.name.startswith("mistake:")),
                     backends[0].name)
    backends.sort(key=lambda b: b.name != reference)  # the reference first, others as listed
    config = RunConfig(tuple(b.name for b in backends), reference, dt.name, tuple(lrs),
                       args.steps, tuple(w.tolist()), tuple(example.inputs.tolist()),
                       tuple(example.targets.tolist()))
    with Progress(len(lrs) + 1 + 2 * (dest is not None)) as progress:
        lr_results = []
        for lr in lrs:
            progress.step(f"training {len(backends)} backends at lr {lr:g}")
            lr_results.append(trajectory.check_lr(backends, reference, w, example, lr,
                                                  args.steps))
        progress.step("gradient check")  # at the start, as every training evaluated it
        grad = gradcheck.check(backends, w, example,
                               {name: run.trained for name, run in lr_results[0].runs.items()
                                if run.trained is not None})
        claimed = tuple(claims.check(r.lr, r.runs[r.reference].nodes[:, -1])
                        for r in lr_results)
        result = MainResult(config, grad, tuple(lr_results), claims=claimed,
                            undetected_mistakes=_undetected_mistakes(grad, lr_results))
        if dest is None:
            _emit(result, None, args.json, human)
            return result.exit_code
        progress.step("recording every step for report.html")
        trace = _trace(backends, w, example, lr_results, args.steps)
        progress.step(f"writing {dest.path}")
        result = _write(dest, result, human, with_plots, args.json,
                        lambda folder, result_json, pictures: extras.write_main(
                            folder, result_json, trace, example, args.landscape, pictures))
    return result.exit_code


def _trace(backends: list[Backend], w: np.ndarray, example: Example,
           lr_results: list[trajectory.LrResult], steps_: int) -> dict[str, Any]:
    """Every step of every backend and rate (`steps.as_json`, rates outer, backends inner),
    from the trajectory check's runs."""
    return steps.as_json([steps.record(b, w, example, r.lr, steps_, run=r.runs[b.name])
                          for r in lr_results for b in backends])


def _undetected_mistakes(grad: gradcheck.Result,
                         lr_results: list[trajectory.LrResult]) -> tuple[str, ...]:
    """A mistake backend never passes: the ones no check caught (they fail the run too)."""
    caught = set(grad.first_failures)
    for r in lr_results:
        caught |= {n for n, c in r.comparisons.items() if c.first_divergence}
    names = lr_results[0].runs if lr_results else {}
    return tuple(n for n in names if n.startswith("mistake:") and n not in caught)


def _backends(args: argparse.Namespace, names: tuple[str, ...],
              dt: np.dtype) -> list[Backend]:
    got: dict[str, Backend | BackendUnavailable] = {}
    for name in names:
        try:
            got[name] = registry.get_backend(name, dt)
        except BackendUnavailable as err:
            if args.backends:  # asked for by name: every one must load (else exit 2)
                raise
            got[name] = err
    loaded = []
    for name in names:  # the default: every installed backend that loads
        found = got[name]
        if isinstance(found, BackendUnavailable):
            print(f"note: skipping {found}", file=sys.stderr)
        else:
            loaded.append(found)
    if not loaded:
        raise BackendUnavailable("no backend could be loaded")
    return loaded


def _write(dest: output.Destination, result: MainResult, human: TextIO, with_plots: bool,
           as_json: bool,
           teaching: Callable[[Path, dict[str, Any], bool], object]) -> MainResult:
    """Fill the report folder (report.json == the --json output, trace.csv, the PNGs, the
    network, the landscape, report.html), print the tables and the JSON, then put the folder
    in place.

    Order: everything is printed and flushed before the folder is renamed into place, so a
    failing stdout (``--json > /dev/full``) exits 2 with no folder left; see docs/hardening.md.
    """
    out = dest.path
    lr_results = result.trajectories
    per_lr = len(lr_results) <= budget.MAX_LR_PLOTS
    if with_plots and not per_lr:
        print(f"note: {len(lr_results)} learning rates: one plot per rate only up to "
              f"{budget.MAX_LR_PLOTS}; see {plots.ALL_LRS_FILE} for all of them", file=human)

    def fill(folder: Path) -> None:
        output.write_trace(folder / output.CSV_NAME, lr_results)
        pictures: list[str] = []
        if with_plots:
            try:
                pictures = (plots.save_overlays(folder, lr_results) if not per_lr
                            else plots.save_all(folder, lr_results))
            except (OverflowError, ValueError, FloatingPointError) as err:
                _drop_pictures(folder, err, human)
        try:
            _finish(folder, pictures)
        except (OverflowError, ValueError, FloatingPointError) as err:
            if not pictures:
                raise
            _drop_pictures(folder, err, human)
            _finish(folder, [])

    def _finish(folder: Path, pictures: list[str]) -> None:
        files = [output.JSON_NAME, output.CSV_NAME, *pictures,
                 *extras.file_names(bool(pictures))]
        done[0] = result._replace(report_dir=str(out), files=tuple(files))
        result_json = output.as_dict(done[0])
        teaching(folder, result_json, bool(pictures))  # network, landscape, report.html
        output.write_text(folder / output.JSON_NAME, output.to_json(result_json))

    done = [result]
    dest.commit(fill, before=lambda: _emit(done[0], out, as_json, human))
    return done[0]


def _drop_pictures(folder: Path, err: Exception, human: TextIO) -> None:
    """All pictures or none: matplotlib could not draw these numbers."""
    for picture in [*folder.glob("*.png"), *folder.glob("*.svg")]:
        picture.unlink()
    print(f"note: no plots in the report: matplotlib cannot draw these numbers "
          f"({type(err).__name__}: {validate.short_text(str(err))})", file=human)


def _emit(result: MainResult, out: Path | None, as_json: bool, human: TextIO) -> None:
    """The tables and the verdict (stdout, or stderr with --json), then the JSON."""
    text = "\n".join([summary.header(result.config), summary.trajectory_table(result), "",
                      claims.table(result.claims), "", summary.gradcheck_table(result), "",
                      summary.verdict(result), wording.closing_line(result.ok, out)]) + "\n"
    if as_json:
        print(text, file=human, end="")
        output.emit_stdout(output.to_json(output.as_dict(result)))
    else:
        output.emit_stdout(text)
