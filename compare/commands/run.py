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

from autograd_compare import budget, registry, validate
from autograd_compare.commands import options
from autograd_compare.commands.progress import Progress
from autograd_compare.errors import BackendUnavailable
from autograd_compare.harness import gradcheck, trajectory
from autograd_compare.interface import Example
from autograd_compare.report import output, plots, summary

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
    budget.add_options(parser)


def run(args: argparse.Namespace) -> int:
    human = sys.stderr if args.json else sys.stdout
    dt = validate.dtype(args.dtype)
    weights, (inputs, targets) = options.check_network(args)
    w = np.asarray(weights, dt)
    example = Example(np.asarray(inputs, dt), np.asarray(targets, dt))
    lrs = options.check_lrs(args.lrs, dt)
    names, added = options.with_reference(options.selected_backends(args))
    with_plots = importlib.util.find_spec("matplotlib") is not None
    memory, size = budget.main_job(len(lrs), len(names), args.steps, with_plots)
    budget.check(memory, args.max_memory_mb, "memory", "--max-memory-mb")
    budget.check(size, args.max_output_mb, "report files", "--max-output-mb")
    with output.Destination(args.out, output.DEFAULT_OUT, args.force) as dest:
        out = dest.path  # reserved: refused (exit 2) or taken before any work
        if added:
            print(f"note: {added} added as the reference: a mistake backend needs a correct "
                  "one to be compared with", file=human)
        backends = _backends(args, names, dt)
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
            progress.step(f"writing {out}")
            result = output.as_dict(config, lr_results, grad)
            _blame_undetected_mistakes(result)
            _write(dest, result, lr_results, human, with_plots, args.json)
    return result["exit_code"]


def _blame_undetected_mistakes(result: dict) -> None:
    """A mistake backend never passes: one that no check caught makes the run fail too."""
    caught = set(result["gradcheck"]["first_failures"])
    for t in result["trajectories"]:
        caught |= {n for n, b in t["backends"].items() if b["first_divergence"]}
    missed = [n for n in result["config"]["backends"]
              if n.startswith("mistake:") and n not in caught]
    if missed:  # (the field exists only then: docs/hardening.md)
        result["undetected_mistakes"] = missed
        result["ok"], result["exit_code"] = False, 1


def _backends(args: argparse.Namespace, names: tuple[str, ...], dt: np.dtype) -> list:
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


def _write(dest: output.Destination, result: dict, lr_results: list, human, with_plots: bool,
           as_json: bool) -> None:
    """Fill the report folder (report.json == the --json output, trace.csv, the PNGs), print
    the tables and the JSON, then put the folder in place.

    Order: everything is printed and flushed before the folder is renamed into place, so a
    failing stdout (``--json > /dev/full``) exits 2 with no folder left; see docs/hardening.md.
    """
    out = dest.path
    result["report_dir"] = str(out)
    per_lr = len(lr_results) <= budget.MAX_LR_PLOTS
    if not with_plots:
        print(f"note: no plots in the report: matplotlib is not installed; install it with: "
              f"{plots.INSTALL_HINT}", file=human)
    elif not per_lr:
        print(f"note: {len(lr_results)} learning rates: one plot per rate only up to "
              f"{budget.MAX_LR_PLOTS}; see {plots.ALL_LRS_FILE} for all of them", file=human)

    def fill(folder: Path) -> None:
        output.write_trace(folder / output.CSV_NAME, lr_results)
        names = []
        if with_plots:
            try:
                names = (plots.save_all(folder, lr_results) if per_lr
                         else plots.save_overlays(folder, lr_results))
            except (OverflowError, ValueError, FloatingPointError) as err:
                for png in folder.glob("*.png"):  # all pictures or none
                    png.unlink()
                print(f"note: no plots in the report: matplotlib cannot draw these numbers "
                      f"({type(err).__name__}: {validate.short_text(str(err))})", file=human)
        result["files"] = [output.JSON_NAME, output.CSV_NAME] + list(names or [])
        output.write_text(folder / output.JSON_NAME, output.to_json(result))

    def emit() -> None:
        text = "\n".join([summary.header(result["config"]), summary.trajectory_table(result),
                          "", summary.gradcheck_table(result), "", summary.verdict(result),
                          f"Report: {out}/"]) + "\n"
        if as_json:
            print(text, file=human, end="")
            output.emit_stdout(output.to_json(result))
        else:
            output.emit_stdout(text)

    dest.commit(fill, before=emit)
