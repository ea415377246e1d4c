"""The main job on any network with any optimizer (``autograd-compare --preset xor --lrs
0.1,0.5,2 --optimizer adam``); ``check`` and ``optimizers`` are aliases of it.

The gradient check at the start (every parameter and every node against the complex step),
then at every learning rate every backend trains with the optimizer and is compared with the
reference step by step, optimizer state included (`harness.optim_check.sweep`). The
report folder has the tutorial main job's files plus nodes.csv (`report.sweep`).
Exit code 0 everything agrees, 1 a check failed, 2 bad usage or input (one line).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path
from typing import TextIO

import numpy as np

from autograd_compare import budget, network, optimizers, registry, validate
from autograd_compare.commands import options, wording
from autograd_compare.commands.progress import Progress
from autograd_compare.errors import InputError
from autograd_compare.harness import optim_check
from autograd_compare.report import extras, html, output, plots, sweep

HELP = """Check every backend's gradients and training on any network, with any optimizer.

  autograd-compare --preset xor --lrs 0.1,0.5,2 --optimizer adam
  autograd-compare --layers 2,3,1 --activations tanh,sigmoid --bias trainable --data xor.csv
The gradient check at the start, then at every learning rate every backend trains with the
optimizer and is compared with the reference after every update, optimizer state included.
The CSV has a header row, then per example the inputs and then the targets.
Exit code: 0 every backend agrees, 1 a check failed, 2 bad usage or input."""
ALIAS_HELP = ("'autograd-compare {name}' is an alias of the main job on any network "
              "(autograd-compare --preset NAME ... or --layers ...): the same options, the "
              "same report. --lr LR is --lrs with one rate.\n\n")
# the options that send the main job here (`cli.main`): another network, or an optimizer
NETWORK_OPTIONS = ("--preset", "--layers", "--activations", "--bias", "--bias-values", "--loss",
                   "--reduction", "--data", "--seed")
OPTIMIZER_OPTIONS = ("--optimizer", *(f"--{k.replace('_', '-')}"
                                      for k in options.OPTIMIZER_SETTINGS))
TUTORIAL_ONLY = ("--landscape",)  # the tutorial view's slice option (the bare main job)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    options.add_network_arguments(parser)
    parser.add_argument("--inputs", type=options.floats("inputs"), default=None,
                        metavar="X,...", help="one example's inputs instead of the data")
    parser.add_argument("--targets", type=options.floats("targets"), default=None,
                        metavar="T,...", help="its targets (with --inputs)")
    options.add_optimizer_arguments(parser)
    parser.add_argument("--lrs", "--lr", type=options.floats("learning rates"), default=None,
                        metavar="LR,...", help="learning rates (default: the tutorial's sweep "
                        "for the tutorial, else the preset's rate, 0.1 for --layers)")
    parser.add_argument("--steps", type=options.positive_int("steps"), default=None,
                        help="updates per learning rate (default the preset's, 100)")
    options.add_backends_option(parser)
    parser.add_argument("--dtype", choices=network.DTYPES, default="float64",
                        help="floating-point type of every backend (default float64)")
    options.add_output_options(parser, "write no pictures (report.json, trace.csv, nodes.csv "
                               "and report.html only)")
    budget.add_options(parser)


def _names(args: argparse.Namespace, opt: optimizers.Optimizer) -> list[str]:
    """The backends: the first correct one is the reference (manual added when all are
    ``mistake:`` update rules); gradient mistakes belong to the tutorial's main job."""
    from autograd_compare.manual.mistakes import MISTAKES as GRADIENT_MISTAKES
    from autograd_compare.manual.optim import MISTAKES

    if args.backends is None:
        names = optim_check.available()
    else:
        names = list(args.backends)
        if len(set(names)) != len(names):
            raise InputError("a backend is listed twice in --backends")
    for name in names:
        kind = name.removeprefix(registry.MISTAKE_PREFIX)
        if not name.startswith(registry.MISTAKE_PREFIX) or kind in MISTAKES:
            continue
        if kind in GRADIENT_MISTAKES:
            raise InputError(f"backend {name!r} is a gradient mistake of the tutorial's network: "
                             "it runs in the bare main job (autograd-compare --backends "
                             f"manual,{name}); here the mistakes are the optimizer's: "
                             + ", ".join(MISTAKES))
        raise InputError(f"unknown optimizer mistake {name!r}; expected mistake: and one of "
                         + ", ".join(MISTAKES))
    ordered, added = options.with_reference(tuple(names))
    if added:
        print(f"note: {added} added as the reference: a mistake backend needs a correct one "
              "to be compared with", file=sys.stderr)
    optim_check.require_backends(opt, list(ordered))
    return list(ordered)


def _data(args: argparse.Namespace, net: network.Network, data: network.Data) -> network.Data:
    if (args.inputs is None) != (args.targets is None):
        raise InputError("--inputs and --targets go together (one example)")
    if args.inputs is None:
        return data
    if args.data:
        raise InputError("give --data or --inputs/--targets, not both")
    return network.data(net, [args.inputs], [args.targets])


def run(args: argparse.Namespace) -> int:
    human = sys.stderr if args.json else sys.stdout
    opt = options.optimizer_from(args)
    dt = validate.dtype(args.dtype)
    source, net, data, w, lr, steps = options.build(argparse.Namespace(
        **{**vars(args), "lr": None, "steps": args.steps}))
    data = _data(args, net, data)
    tutorial = args.layers is None and (args.preset or "tutorial") == "tutorial"
    from autograd_compare.interface import LEARNING_RATES

    lrs = options.check_lrs(args.lrs or (LEARNING_RATES if tutorial else (lr,)), dt)
    names = _names(args, opt)
    cols = options.columns(args, net)
    folder_wanted = bool(args.out) or not args.json  # --json alone: stdout is the report
    with_plots = folder_wanted and not args.no_plots and extras.have_matplotlib()
    P, B = network.n_params(net), data.inputs.shape[0]
    memory, size = budget.optimizers(len(lrs), len(names), steps, P, with_plots)
    nodes_memory, nodes_size = budget.network_check(P, 2 * B * sum(net.sizes[1:]), 1,
                                                    len(lrs) * len(names), False)
    budget.check(memory + nodes_memory, args.max_memory_mb, "memory", "--max-memory-mb")
    budget.check(size + nodes_size, args.max_output_mb, "report files", "--max-output-mb")
    if folder_wanted and not args.no_plots and not with_plots:
        print(f"note: no pictures in the report: matplotlib is not installed; install it "
              f"with: {plots.INSTALL_HINT}", file=human)
    dest = output.Destination(args.out, output.DEFAULT_OUT, args.force) if folder_wanted \
        else contextlib.nullcontext(None)
    with dest as reserved:  # reserved (or refused, exit 2) before any work
        with Progress(len(lrs) + 1 + (reserved is not None)) as progress:
            progress.step("gradient check")
            sw = optim_check.sweep(
                source, opt, names, net, w, data, lrs, steps, dt,
                lambda lr: progress.step(f"training {len(names)} backends at lr {lr:g}"))
            title = (f"{sweep.describe_optimizer(opt)}, {steps} steps, {dt.name}, {source} "
                     f"({network.describe(net)}, {B} example{'s' if B != 1 else ''})")
            if reserved is None:
                report = sweep.as_dict(sw, cols, None, [])
                _emit(sw, title, None, human, args.json, report)
                return report["exit_code"]
            progress.step(f"writing {reserved.path}")
            return _write(reserved, sw, cols, title, with_plots, human, args.json)


def _write(dest: output.Destination, sw: optim_check.Sweep, cols, title: str,
           with_plots: bool, human: TextIO, as_json: bool) -> int:
    out = dest.path
    lrs = [r.optimizer.lr for r in sw.rates]
    if with_plots and len(lrs) > budget.MAX_LR_PLOTS:
        print(f"note: {len(lrs)} learning rates: one plot per rate only up to "
              f"{budget.MAX_LR_PLOTS}; see {plots.ALL_LRS_FILE} for all of them", file=human)
    report = sweep.as_dict(sw, cols, str(out), sweep.file_names(with_plots, lrs))
    header, rows = sweep.trace(sw)

    def fill(folder: Path) -> None:
        output.write_text(folder / output.CSV_NAME, output.csv_text(header, rows))
        output.write_text(folder / sweep.NODES_CSV, sweep.nodes_csv(sw, cols))
        if with_plots:
            sweep.write_pictures(folder, sw, title)
        output.write_text(folder / output.JSON_NAME, output.to_json(report))
        output.write_text(folder / html.FILE,
                          sweep.render(sw, report, header, rows, cols, folder))

    dest.commit(fill, before=lambda: _emit(sw, title, out, human, as_json, report))
    return report["exit_code"]


def _emit(sw: optim_check.Sweep, title: str, out: Path | None, human: TextIO,
          as_json: bool, report: dict) -> None:
    """The tables and the closing line (stdout, or stderr with --json), then the JSON."""
    from autograd_compare.report import network_summary

    text = "\n".join([f"{title}; reference: {sw.rates[0].reference}",
                      network_summary.gradcheck_table(sw.gradcheck, sw.data.inputs.dtype.name),
                      "", _rates_table(sw), "", sweep.verdict(sw),
                      wording.closing_line(sw.ok, out)]) + "\n"
    if as_json:
        print(text, file=human, end="")
        output.emit_stdout(output.to_json(report))
    else:
        output.emit_stdout(text)


def _rates_table(sw: optim_check.Sweep) -> str:
    opt = sw.optimizer
    lines = []
    if opt.kind in optimizers.MANUAL_ONLY:
        lines.append("(torch and jax run momentum, PyTorch's form; only the loss, gradients "
                     "and parameters are compared)")
    header = (f"{'lr':>8}  {'backend':<34} {'final loss':>22} {'largest |diff|':>14} "
              f"{'/tolerance':>10}  verdict")
    lines += [header, "-" * len(header)]
    for r in sw.rates:
        for name in r.runs:
            comp = r.comparisons.get(name)
            first = comp.first_divergence if comp else None
            verdict = ("(reference)" if comp is None else "agrees" if first is None else
                       f"DIVERGES at {first.label}: {first.value:.17g} vs {first.reference:.17g}")
            diff = f"{comp.largest.abs:>14.3e} {comp.largest.ratio:>10.3g}" if comp \
                else f"{'':>14} {'':>10}"
            lines.append(f"{r.optimizer.lr:>8g}  {name:<34} {r.final_loss[name]:>22.17g} "
                         f"{diff}  {verdict}")
    for r in sw.rates:
        for name, run in r.runs.items():
            bad = np.flatnonzero(~np.isfinite(run.loss))
            if bad.size or not np.isfinite(r.final_loss[name]):
                k = int(bad[0]) if bad.size else run.loss.size
                lines.append(f"{name}: the training at lr {r.optimizer.lr:g} diverged: the loss "
                             f"is not finite from step {k} on (try a smaller rate)")
    return "\n".join(lines)
