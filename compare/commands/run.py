"""The main job: every backend's gradients and training checked against each other, from the
command line to the report folder; one pipeline for every network and optimizer.

The gradient check at the start (`harness.network_check`), then at every learning rate every
backend trains with the optimizer and is compared with the reference step by step, optimizer
state included (`harness.optim_check.sweep`); the report of `report.sweep`. With no options it
is the tutorial's class example and learning-rate sweep with plain gradient descent, in the
tutorial's notation (w1..w8, E_total), with the tutorial's claims checked (`report.claims`);
``check`` and ``optimizers`` are aliases of it. Exit code: 0 everything agrees, 1 a check
failed, 2 bad usage or input (one line).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import sys
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from autograd_compare import budget, network, optimizers, registry, validate
from autograd_compare.commands import options, wording
from autograd_compare.commands.progress import Progress
from autograd_compare.errors import InputError
from autograd_compare.harness import optim_check
from autograd_compare.interface import DTYPES, LEARNING_RATES
from autograd_compare.report import claims, extras, html, landscape, output, plots, sweep

HELP = """Check hand-derived, PyTorch and JAX gradients and training against each other.

With no options: the tutorial's class example (2-2-2 sigmoid network, w1..w8), its
learning-rate sweep, plain gradient descent, every installed backend, float64. Any network
and optimizer the same way:
  autograd-compare --preset xor --lrs 0.1,0.5,2 --optimizer adam
  autograd-compare --layers 2,3,1 --activations tanh,sigmoid --bias trainable --data xor.csv
The gradient check at the start, then at every learning rate every backend trains and is
compared with the reference after every update, optimizer state included; prints the tables
and writes a report folder (with --json alone: prints the JSON instead, and writes a folder
only if --out is given). The CSV has a header row, then per example the inputs and then the
targets. Exit code: 0 everything agrees, 1 a check failed, 2 bad usage or input."""
ALIAS_HELP = ("'autograd-compare {name}' is an alias of the main job (autograd-compare "
              "[options]): the same options, the same report. --lr LR is --lrs with one rate."
              "\n\n")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    options.add_network_arguments(parser)
    parser.add_argument("--inputs", type=options.floats("inputs"), default=None,
                        metavar="X,...", help="one example's inputs instead of the data")
    parser.add_argument("--targets", type=options.floats("targets"), default=None,
                        metavar="T,...", help="its targets (with --inputs)")
    parser.add_argument("--example-weights", type=options.floats("example weights"),
                        default=None, metavar="S,...", help="one weight s_b >= 0 per example, "
                        "in the data's row order (sample weights: E = c·Σ s_b·loss_b, a mean "
                        "divides by Σ s_b; docs/conventions.md)")
    options.add_optimizer_arguments(parser)
    parser.add_argument("--lrs", "--lr", type=options.floats("learning rates"), default=None,
                        metavar="LR,...", help="learning rates (default: the tutorial's sweep "
                        + ",".join(f"{x:g}" for x in LEARNING_RATES) + " for the tutorial, "
                        "else the preset's rate, 0.1 for --layers)")
    parser.add_argument("--steps", type=options.positive_int("steps"), default=None,
                        help="updates per learning rate (default the preset's, 100)")
    options.add_backends_option(parser)
    parser.add_argument("--dtype", choices=DTYPES, default="float64",
                        help="floating-point type of every backend (default float64)")
    parser.add_argument("--out", metavar="DIR", default=None,
                        help=f"report folder (default {output.DEFAULT_OUT}, or -2, -3, ... if "
                        "taken: never overwritten; with --json: none unless given)")
    parser.add_argument("--force", action="store_true", help=wording.FORCE_HELP)
    parser.add_argument("--json", action="store_true", help=wording.JSON_HELP)
    parser.add_argument("--no-plots", action="store_true", help="write no pictures (report.json, "
                        "trace.csv, nodes.csv and report.html only)")
    parser.add_argument("--landscape", default="plane", metavar="SLICE",
                        help="the slice of parameter space drawn in landscape.png: 'plane' or "
                        "two parameters such as w5,w6 (default plane)")
    budget.add_options(parser)


def run(args: argparse.Namespace) -> int:
    """The main job: the options checked, the budget, the report folder reserved, then the
    checks and the writing; ``args`` from `add_arguments`."""
    human = sys.stderr if args.json else sys.stdout
    dt = validate.dtype(args.dtype)
    opt = options.optimizer_from(args)
    source, net, data, w, lr, steps_ = options.build(argparse.Namespace(
        **{**vars(args), "lr": None, "steps": args.steps}))
    data = _data(args, net, data)
    if args.example_weights is not None:
        data = network.data(net, data.inputs, data.targets, weights=args.example_weights)
    tutorial = args.layers is None and (args.preset or "tutorial") == "tutorial"
    lrs = options.check_lrs(args.lrs or (LEARNING_RATES if tutorial else (lr,)), dt)
    names = _names(args, opt, net, data)
    cols = options.columns(args, net)
    slice_ = landscape.parse(args.landscape, network.param_names(net))
    example = network.tutorial_example(net, data)
    if example is not None:  # the tutorial's start: refused before any work if it overflows
        validate.representable_start(validate.weights(w, dt), validate.example(example, dt), dt)
    B = data.inputs.shape[0]
    folder_wanted = bool(args.out) or not args.json  # --json alone: stdout is the report
    with_plots = folder_wanted and not args.no_plots and extras.have_matplotlib()
    memory, size = budget.main_job(len(lrs), names, steps_, network.n_params(net), net.sizes, B,
                                   with_plots)
    budget.check(memory, args.max_memory_mb, "memory", "--max-memory-mb")
    budget.check(size, args.max_output_mb, "report files", "--max-output-mb")
    if folder_wanted and not args.no_plots and not with_plots:
        print(f"note: no pictures in the report: matplotlib is not installed; install it "
              f"with: {plots.INSTALL_HINT}", file=human)
    dest = output.Destination(args.out, output.DEFAULT_OUT, args.force) if folder_wanted \
        else contextlib.nullcontext(None)
    with dest as reserved:  # reserved (or refused, exit 2) before any work
        with Progress(len(lrs) + 1 + (reserved is not None)) as progress:
            progress.step("gradient check")
            sw = optim_check.sweep(
                source, opt, names, net, w, data, lrs, steps_, dt,
                lambda lr: progress.step(f"training {len(names)} backends at lr {lr:g}"))
            gc.freeze()  # the frameworks' objects live to the end: later collections skip them
            title = (f"{sweep.describe_optimizer(opt)}, {steps_} steps, {dt.name}, {source} "
                     f"({network.describe(net)}, {B} example{'s' if B != 1 else ''}"
                     f"{', weighted' if data.weights is not None else ''})")
            if reserved is None:
                report = sweep.as_dict(sw, cols, None, [])
                _emit(_text(sw, title, None), report, args.json, human)
                return report["exit_code"]
            progress.step(f"writing {reserved.path}")
            return _write(reserved, sw, cols, title, slice_, with_plots, human, args.json)


def _emit(text: str, report: dict[str, Any], as_json: bool, human: TextIO) -> None:
    """The tables and the closing line (stdout, or stderr with --json), then the JSON."""
    if as_json:
        print(text, file=human, end="")
        output.emit_stdout(output.to_json(report))
    else:
        output.emit_stdout(text)


def _names(args: argparse.Namespace, opt: optimizers.Optimizer, net: network.Network,
           data: network.Data) -> list[str]:
    """The backends: the first correct one is the reference (manual added when all are
    ``mistake:``s); a mistake of the tutorial's formulas runs on the tutorial's network only."""
    from autograd_compare.manual.mistakes import MISTAKES as FORMULA_MISTAKES
    from autograd_compare.manual.mistakes import check_tutorial_use
    from autograd_compare.manual.optim import MISTAKES

    names = optim_check.available() if args.backends is None else list(args.backends)
    for name in names:
        kind = name.removeprefix(registry.MISTAKE_PREFIX)
        if not name.startswith(registry.MISTAKE_PREFIX) or kind in MISTAKES:
            continue
        if kind not in FORMULA_MISTAKES:
            raise InputError(f"unknown mistake {name!r}; expected mistake: and one of "
                             + ", ".join([*FORMULA_MISTAKES, *MISTAKES]))
        check_tutorial_use(name, net, data, opt)
    ordered, added = options.with_reference(tuple(names))
    if added:
        print(f"note: {added} added as the reference: a mistake backend needs a correct one "
              "to be compared with", file=sys.stderr)
    optim_check.require_backends(opt, list(ordered))
    return list(ordered)


def _data(args: argparse.Namespace, net: network.Network, data: network.Data) -> network.Data:
    """The preset's or --data's examples, or the one example --inputs/--targets give (one of
    them alone keeps the other from a one-example preset: ``--targets 30,-30`` on the class
    example)."""
    if args.inputs is None and args.targets is None:
        return data
    if args.data:
        raise InputError("give --data or --inputs/--targets, not both")
    if (args.inputs is None or args.targets is None) and data.inputs.shape[0] != 1:
        raise InputError(f"--inputs and --targets go together here: the data has "
                         f"{data.inputs.shape[0]} examples")
    inputs = data.inputs[0].tolist() if args.inputs is None else args.inputs
    targets = data.targets[0].tolist() if args.targets is None else args.targets
    for option, given, n in (("--inputs", inputs, net.sizes[0]), ("--targets", targets,
                                                                    net.sizes[-1])):
        if len(given) != n:
            raise InputError(f"{option} needs {n} comma-separated numbers for "
                             f"{network.describe(net)}; got {len(given)}")
    return network.data(net, [inputs], [targets])


def _write(dest: output.Destination, sw: optim_check.Sweep, cols: Any, title: str,
           slice_: landscape.Slice, with_plots: bool, human: TextIO, as_json: bool) -> int:
    """Fill the report folder (trace.csv, nodes.csv, the pictures, report.json == the --json
    output, report.html), print the tables and the JSON, then put the folder in place.

    Order: everything is printed and flushed before the folder is renamed into place, so a
    failing stdout (``--json > /dev/full``) exits 2 with no folder left; see docs/hardening.md.
    """
    out = dest.path
    lrs = [r.optimizer.lr for r in sw.rates]
    if with_plots and len(lrs) > budget.MAX_LR_PLOTS:
        print(f"note: {len(lrs)} learning rates: one plot per rate only up to "
              f"{budget.MAX_LR_PLOTS}; see {plots.ALL_LRS_FILE} for all of them", file=human)
    report: dict[str, Any] = {}

    def fill(folder: Path) -> None:
        sweep.write_trace(folder / output.CSV_NAME, sw)
        output.write_text(folder / sweep.NODES_CSV, sweep.nodes_csv(sw, cols))
        pictures = with_plots
        if with_plots:
            try:
                sweep.write_pictures(folder, sw, title, slice_)
            except (OverflowError, ValueError, FloatingPointError) as err:
                _drop_pictures(folder, err, human)  # all pictures or none
                pictures = False
        report.update(sweep.as_dict(sw, cols, str(out), sweep.file_names(pictures, lrs)))
        output.write_text(folder / output.JSON_NAME, output.to_json(report))
        output.write_text(folder / html.FILE, sweep.render(sw, report, cols, folder))

    dest.commit(fill, before=lambda: _emit(_text(sw, title, out), report, as_json, human))
    return int(report["exit_code"])


def _drop_pictures(folder: Path, err: Exception, human: TextIO) -> None:
    """matplotlib could not draw these numbers: no picture at all."""
    for picture in [*folder.glob("*.png"), *folder.glob("*.svg")]:
        picture.unlink()
    print(f"note: no pictures in the report: matplotlib cannot draw these numbers "
          f"({type(err).__name__}: {validate.short_text(str(err))})", file=human)


def _text(sw: optim_check.Sweep, title: str, out: Path | None) -> str:
    from autograd_compare.report import network_summary

    found = sweep.claims(sw)
    return "\n".join([f"{title}; reference: {sw.rates[0].reference}",
                      network_summary.gradcheck_table(sw.gradcheck, sw.data.inputs.dtype.name),
                      "", _rates_table(sw), "", *([claims.table(found), ""] if found else []),
                      *[line for d in sw.diagnoses for line in d.sentences()],
                      sweep.verdict(sw), wording.closing_line(sw.ok, out)]) + "\n"


def _rates_table(sw: optim_check.Sweep) -> str:
    opt = sw.optimizer
    lines = []
    if opt.kind in optimizers.MANUAL_ONLY:
        lines.append("(torch and jax run momentum, PyTorch's form; only the loss, gradients "
                     "and parameters are compared)")
    lr_w = max(8, *(len(f"{r.optimizer.lr:g}") for r in sw.rates))  # 1.2345678e-300 fits
    header = (f"{'lr':>{lr_w}}  {'backend':<34} {'final loss':>22} {'largest |diff|':>14} "
              f"{'/tolerance':>10}  verdict")
    lines += [header, "-" * len(header)]
    for r in sw.rates:
        for name in r.runs:
            comp = r.decisive(name) if name in r.comparisons else None
            diff = f"{comp.largest.abs:>14.3e} {comp.largest.ratio:>10.3g}" if comp \
                else f"{'':>14} {'':>10}"
            lines.append(f"{r.optimizer.lr:>{lr_w}g}  {name:<34} {r.final_loss[name]:>22.17g} "
                         f"{diff}  {sweep.backend_verdict(r, name)}")
    for r in sw.rates:
        for name, run in r.runs.items():
            bad = np.flatnonzero(~np.isfinite(run.loss))
            if bad.size or not np.isfinite(r.final_loss[name]):
                k = int(bad[0]) if bad.size else run.loss.size
                lines.append(f"{name}: the training at lr {r.optimizer.lr:g} diverged: the loss "
                             f"is not finite from step {k} on (try a smaller rate)")
    return "\n".join(lines)
