"""The main job: every backend's gradients and training checked against each other, from the
command line to the report folder; one pipeline (`run`) for the tutorial and for any network.

With no network or optimizer option (`NETWORK_OPTIONS`, `OPTIMIZER_OPTIONS`) the job is the
tutorial's: the class example, the learning-rate sweep, plain gradient descent, in the
tutorial's notation (`harness.gradcheck`, `harness.trajectory`; the report of `report.output`
and `report.extras`). With one (``--preset xor --lrs 0.1,0.5,2 --optimizer adam``) it is any
network with any optimizer: the gradient check at the start, then at every rate every backend
trains with the optimizer and is compared with the reference step by step, optimizer state
included (`harness.optim_check.sweep`; the report of `report.sweep`, with nodes.csv); ``check``
and ``optimizers`` are aliases of it. Both share the checks of the options, the budget, the
report folder (`report.output.Destination`), the printing and the exit code: 0 everything
agrees, 1 a check failed, 2 bad usage or input (one line).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple, TextIO

import numpy as np

from autograd_compare import budget, network, optimizers, registry, validate
from autograd_compare.commands import options, wording
from autograd_compare.commands.progress import Progress
from autograd_compare.errors import BackendUnavailable, InputError
from autograd_compare.harness import gradcheck, optim_check, steps, trajectory
from autograd_compare.interface import LEARNING_RATES, Backend, Example
from autograd_compare.report import claims, extras, html, landscape, output, plots, summary, sweep
from autograd_compare.report.result import MainResult, RunConfig

HELP = """Check hand-derived, PyTorch and JAX gradients against each other on the class example.

With no options: the class example, the learning-rate sweep, every installed backend, float64;
prints a table per learning rate and a gradient-check table, and writes a report folder
(with --json alone: prints the JSON instead, and writes a folder only if --out is given).
Exit code: 0 everything agrees, 1 a check failed, 2 bad usage or input."""
NETWORK_HELP = """Check every backend's gradients and training on any network, with any optimizer.

  autograd-compare --preset xor --lrs 0.1,0.5,2 --optimizer adam
  autograd-compare --layers 2,3,1 --activations tanh,sigmoid --bias trainable --data xor.csv
The gradient check at the start, then at every learning rate every backend trains with the
optimizer and is compared with the reference after every update, optimizer state included.
The CSV has a header row, then per example the inputs and then the targets.
Exit code: 0 every backend agrees, 1 a check failed, 2 bad usage or input."""
ALIAS_HELP = ("'autograd-compare {name}' is an alias of the main job on any network "
              "(autograd-compare --preset NAME ... or --layers ...): the same options, the "
              "same report. --lr LR is --lrs with one rate.\n\n")
# the options that make the main job any network's (`cli.main`): another network, an optimizer
NETWORK_OPTIONS = ("--preset", "--layers", "--activations", "--bias", "--bias-values", "--loss",
                   "--reduction", "--data", "--seed")
OPTIMIZER_OPTIONS = ("--optimizer", *(f"--{k.replace('_', '-')}"
                                      for k in options.OPTIMIZER_SETTINGS))
TUTORIAL_ONLY = ("--landscape",)  # the tutorial view's slice option (the bare main job)


class Job(NamedTuple):
    """A main job built from the options, before any work (`_tutorial`, `_any_network`)."""

    budget: Callable[[bool], tuple[float, float]]  # with pictures? -> (memory, output) bytes
    pictures: str  # what a note calls the report's pictures
    work: Callable[[output.Destination | None, bool, TextIO], int]  # (folder or None,
    #                                             with pictures, human stream) -> exit code


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


def add_network_arguments(parser: argparse.ArgumentParser) -> None:
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


def run(args: argparse.Namespace) -> int:
    """The main job: the options checked, the budget, the report folder reserved, then the
    checks and the writing (`Job.work`); ``args`` from `add_arguments` (the tutorial) or
    `add_network_arguments` (any network)."""
    human = sys.stderr if args.json else sys.stdout
    dt = validate.dtype(args.dtype)
    job = (_any_network if "optimizer" in args else _tutorial)(args, dt, human)
    folder_wanted = bool(args.out) or not args.json  # --json alone: stdout is the report
    with_plots = folder_wanted and not args.no_plots and extras.have_matplotlib()
    memory, size = job.budget(with_plots)
    budget.check(memory, args.max_memory_mb, "memory", "--max-memory-mb")
    budget.check(size, args.max_output_mb, "report files", "--max-output-mb")
    if folder_wanted and not args.no_plots and not with_plots:
        print(f"note: no {job.pictures} in the report: matplotlib is not installed; install it "
              f"with: {plots.INSTALL_HINT}", file=human)
    dest = output.Destination(args.out, output.DEFAULT_OUT, args.force) if folder_wanted \
        else contextlib.nullcontext(None)
    with dest as reserved:  # reserved (or refused, exit 2) before any work
        return job.work(reserved, with_plots, human)


def _emit(text: str, report: dict[str, Any], as_json: bool, human: TextIO) -> None:
    """The tables and the closing line (stdout, or stderr with --json), then the JSON."""
    if as_json:
        print(text, file=human, end="")
        output.emit_stdout(output.to_json(report))
    else:
        output.emit_stdout(text)


def _many_rates_note(n_rates: int, human: TextIO) -> None:
    print(f"note: {n_rates} learning rates: one plot per rate only up to "
          f"{budget.MAX_LR_PLOTS}; see {plots.ALL_LRS_FILE} for all of them", file=human)


# --- the tutorial: the class example, plain gradient descent, its notation ---------------------
def _tutorial(args: argparse.Namespace, dt: np.dtype, human: TextIO) -> Job:
    weights, (inputs, targets) = options.check_network(args)
    w = np.asarray(weights, dt)
    example = Example(np.asarray(inputs, dt), np.asarray(targets, dt))
    lrs = options.check_lrs(args.lrs, dt)
    names, added = options.with_reference(options.selected_backends(args))

    def work(dest: output.Destination | None, with_plots: bool, human: TextIO) -> int:
        if added:
            print(f"note: {added} added as the reference: a mistake backend needs a correct "
                  "one to be compared with", file=human)
        return _tutorial_work(args, names, dt, w, example, lrs, dest, with_plots, human)

    def cost(pictures: bool) -> tuple[float, float]:
        memory, size = budget.main_job(len(lrs), len(names), args.steps, pictures)
        return memory + budget.libraries(names), size

    return Job(cost, "plots", work)


def _tutorial_work(args: argparse.Namespace, names: tuple[str, ...], dt: np.dtype,
                   w: np.ndarray, example: Example, lrs: tuple[float, ...],
                   dest: output.Destination | None, with_plots: bool, human: TextIO) -> int:
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
            _emit(_tutorial_text(result, None), output.as_dict(result), args.json, human)
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
        _many_rates_note(len(lr_results), human)

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
        report[0] = output.as_dict(done[0])  # report.json, and --json's output: built once
        teaching(folder, report[0], bool(pictures))  # network, landscape, report.html
        output.write_text(folder / output.JSON_NAME, output.to_json(report[0]))

    done = [result]
    report: list[dict[str, Any]] = [{}]
    dest.commit(fill, before=lambda: _emit(_tutorial_text(done[0], out), report[0], as_json,
                                           human))
    return done[0]


def _drop_pictures(folder: Path, err: Exception, human: TextIO) -> None:
    """All pictures or none: matplotlib could not draw these numbers."""
    for picture in [*folder.glob("*.png"), *folder.glob("*.svg")]:
        picture.unlink()
    print(f"note: no plots in the report: matplotlib cannot draw these numbers "
          f"({type(err).__name__}: {validate.short_text(str(err))})", file=human)


def _tutorial_text(result: MainResult, out: Path | None) -> str:
    return "\n".join([summary.header(result.config), summary.trajectory_table(result), "",
                      claims.table(result.claims), "", summary.gradcheck_table(result), "",
                      summary.verdict(result), wording.closing_line(result.ok, out)]) + "\n"


# --- any network, any optimizer --------------------------------------------------------------
def _any_network(args: argparse.Namespace, dt: np.dtype, human: TextIO) -> Job:
    opt = options.optimizer_from(args)
    source, net, data, w, lr, steps_ = options.build(argparse.Namespace(
        **{**vars(args), "lr": None, "steps": args.steps}))
    data = _data(args, net, data)
    tutorial = args.layers is None and (args.preset or "tutorial") == "tutorial"
    lrs = options.check_lrs(args.lrs or (LEARNING_RATES if tutorial else (lr,)), dt)
    names = _names(args, opt)
    cols = options.columns(args, net)
    P, B = network.n_params(net), data.inputs.shape[0]

    def cost(pictures: bool) -> tuple[float, float]:
        memory, size = budget.optimizers(len(lrs), len(names), steps_, P, pictures)
        nodes_memory, nodes_size = budget.network_check(P, 2 * B * sum(net.sizes[1:]), 1,
                                                        len(lrs) * len(names), False)
        data_memory, data_size = budget.network_data(B, net.sizes, len(lrs), len(names))
        return (memory + nodes_memory + data_memory + budget.libraries(names),
                size + nodes_size + data_size)

    def work(dest: output.Destination | None, with_plots: bool, human: TextIO) -> int:
        with Progress(len(lrs) + 1 + (dest is not None)) as progress:
            progress.step("gradient check")
            sw = optim_check.sweep(
                source, opt, names, net, w, data, lrs, steps_, dt,
                lambda lr: progress.step(f"training {len(names)} backends at lr {lr:g}"))
            title = (f"{sweep.describe_optimizer(opt)}, {steps_} steps, {dt.name}, {source} "
                     f"({network.describe(net)}, {B} example{'s' if B != 1 else ''})")
            if dest is None:
                report = sweep.as_dict(sw, cols, None, [])
                _emit(_network_text(sw, title, None), report, args.json, human)
                return report["exit_code"]
            progress.step(f"writing {dest.path}")
            return _network_write(dest, sw, cols, title, with_plots, human, args.json)

    return Job(cost, "pictures", work)


def _names(args: argparse.Namespace, opt: optimizers.Optimizer) -> list[str]:
    """The backends: the first correct one is the reference (manual added when all are
    ``mistake:`` update rules); gradient mistakes belong to the tutorial's main job."""
    from autograd_compare.manual.mistakes import MISTAKES as GRADIENT_MISTAKES
    from autograd_compare.manual.optim import MISTAKES

    if args.backends is None:
        names = optim_check.available()
    else:
        names = list(args.backends)  # each once (`options.backend_list`)
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


def _network_write(dest: output.Destination, sw: optim_check.Sweep, cols, title: str,
           with_plots: bool, human: TextIO, as_json: bool) -> int:
    out = dest.path
    lrs = [r.optimizer.lr for r in sw.rates]
    if with_plots and len(lrs) > budget.MAX_LR_PLOTS:
        _many_rates_note(len(lrs), human)
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

    dest.commit(fill, before=lambda: _emit(_network_text(sw, title, out), report, as_json, human))
    return report["exit_code"]


def _network_text(sw: optim_check.Sweep, title: str, out: Path | None) -> str:
    from autograd_compare.report import network_summary

    return "\n".join([f"{title}; reference: {sw.rates[0].reference}",
                      network_summary.gradcheck_table(sw.gradcheck, sw.data.inputs.dtype.name),
                      "", _rates_table(sw), "", sweep.verdict(sw),
                      wording.closing_line(sw.ok, out)]) + "\n"


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
            comp = r.decisive(name) if name in r.comparisons else None
            diff = f"{comp.largest.abs:>14.3e} {comp.largest.ratio:>10.3g}" if comp \
                else f"{'':>14} {'':>10}"
            lines.append(f"{r.optimizer.lr:>8g}  {name:<34} {r.final_loss[name]:>22.17g} "
                         f"{diff}  {sweep.backend_verdict(r, name)}")
    for r in sw.rates:
        for name, run in r.runs.items():
            bad = np.flatnonzero(~np.isfinite(run.loss))
            if bad.size or not np.isfinite(r.final_loss[name]):
                k = int(bad[0]) if bad.size else run.loss.size
                lines.append(f"{name}: the training at lr {r.optimizer.lr:g} diverged: the loss "
                             f"is not finite from step {k} on (try a smaller rate)")
    return "\n".join(lines)
