"""``autograd-compare check``: gradient check + trajectory check for any network.

A preset (``--preset xor``) or a network of your own (``--layers 2,3,1 --activations
tanh,sigmoid --bias trainable --loss mse --data FILE.csv``). Exit code: 0 every backend
agrees, 1 a check failed, 2 bad usage or input (one line).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import sys
from pathlib import Path
from typing import TextIO

import numpy as np

from autograd_compare import budget, network, registry
from autograd_compare.commands import options
from autograd_compare.errors import BackendUnavailable, InputError
from autograd_compare.harness import network_check
from autograd_compare.report import (
    extras,
    network_html,
    network_output,
    network_pictures,
    network_plots,
    network_summary,
    output,
    plots,
)

HELP = """Check every backend's gradients and training on any network: a preset or your own.

  autograd-compare check --preset xor
  autograd-compare check --layers 2,3,1 --activations tanh,sigmoid --bias trainable \\
      --loss mse --data xor.csv
The CSV has a header row, then per example the inputs and then the targets.
Exit code: 0 every backend agrees, 1 a check failed, 2 bad usage or input."""


def _names(what: str, allowed: tuple[str, ...]):
    def parse(text: str) -> tuple[str, ...]:
        names = tuple(n.strip() for n in text.split(",") if n.strip())
        for n in names:
            if n not in allowed:
                raise argparse.ArgumentTypeError(
                    f"unknown {what} {n!r}; expected one of {', '.join(allowed)}")
        if not names:
            raise argparse.ArgumentTypeError(f"{what} needs at least one name")
        return names

    parse.__name__ = what
    return parse


def _sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(p) for p in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--layers must be whole numbers like 2,3,1; "
                                         f"got {text!r}") from None
    if len(sizes) < 2 or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"--layers needs an input size and at least one "
                                         f"layer, each >= 1; got {text!r}")
    return sizes


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_network_arguments(parser)
    parser.add_argument("--lr", type=float, default=None,
                        help="learning rate (default the preset's, 0.1 otherwise)")
    parser.add_argument("--steps", type=options.positive_int("steps"), default=None,
                        help="training steps (default the preset's, 100 otherwise)")
    parser.add_argument("--dtype", choices=network.DTYPES, default="float64")
    options.add_backends_option(parser)
    parser.add_argument("--json", action="store_true",
                        help="write the result as JSON to stdout (tables go to stderr)")
    parser.add_argument("--out", metavar="DIR", default=None,
                        help="also write a report folder: report.json, trace.csv (E, parameters "
                        "and gradients per step), nodes.csv (every z and a per example at the "
                        "first and last step), the pictures and report.html")
    parser.add_argument("--force", action="store_true",
                        help="replace the --out folder if it holds an earlier report")
    parser.add_argument("--no-plots", action="store_true",
                        help="no pictures in the --out folder (network.svg, network.png, "
                        "landscape.png, loss.png, differences.png)")
    budget.add_options(parser)


def add_network_arguments(parser: argparse.ArgumentParser) -> None:
    """--preset, --layers, --activations, --bias, --bias-values, --loss, --reduction, --data,
    --weights, --seed: the network options `build` reads (``explain`` and ``optimizers`` take
    them too)."""
    parser.add_argument("--preset", choices=tuple(network.PRESETS), default=None,
                        help="a ready-made network (see 'autograd-compare presets'); "
                        "default tutorial unless --layers is given")
    parser.add_argument("--layers", type=_sizes, metavar="N0,N1,...",
                        help="your own network: input size, then each layer's width")
    parser.add_argument("--activations", type=_names("activation", network.ACTIVATIONS),
                        metavar="F1,...", help="one per layer, or one for all "
                        f"({', '.join(network.ACTIVATIONS)}; softmax last, with cross-entropy)")
    parser.add_argument("--bias", choices=network.BIAS_MODES, default=None,
                        help="biases: none (default), trainable, or frozen (with --bias-values)")
    parser.add_argument("--bias-values", type=options.floats("bias values"), metavar="B,...",
                        help="frozen biases: one per layer (shared by its neurons) or one per "
                        "neuron")
    parser.add_argument("--loss", choices=network.LOSSES, default=None,
                        help="half-sse (default, ½Σ(t-a)²), mse or cross-entropy")
    parser.add_argument("--reduction", choices=network.REDUCTIONS, default=None,
                        help="over examples: sum (default) or mean (PyTorch's meaning)")
    parser.add_argument("--data", metavar="FILE.csv",
                        help="header row, then per row the inputs and then the targets")
    parser.add_argument("--weights", type=options.floats("weights"), metavar="W,...",
                        help="starting parameters in PyTorch's parameters_to_vector order "
                        "(W1 row-major, b1, W2, ...); default: the preset's, or "
                        "U(-0.5, 0.5) drawn with --seed")
    parser.add_argument("--seed", type=int, default=0, help="for the random start (default 0)")


CUSTOM = ("activations", "bias", "bias_values", "loss", "reduction")
# main-job options that have no meaning for another network (`from_main_job` refuses them)
TUTORIAL_ONLY = ("--inputs", "--targets", "--landscape")


def from_main_job(argv: list[str]) -> list[str]:
    """The main job's command line given a network option (``autograd-compare --preset mazur``),
    as check's: ``--lrs`` with one rate (or its abbreviation ``--lr``) becomes ``--lr``; options
    of the tutorial's network alone (`TUTORIAL_ONLY`, several rates) are one-line errors (exit
    2); every other option means the same in both and is passed on.

    Raises:
        InputError: an option that makes no sense for another network.
    """
    out: list[str] = []
    i = 0
    while i < len(argv):
        token = argv[i]
        name, eq, value = token.partition("=")
        if name in TUTORIAL_ONLY:
            raise InputError(f"{name} is for the tutorial's network; with a network option "
                             "(--preset, --layers, ...) the main job runs 'check', which does "
                             "not take it (see 'autograd-compare check --help')")
        if name in ("--lrs", "--lr"):
            if not eq:
                if i + 1 >= len(argv):
                    raise InputError(f"{name} needs a learning rate")
                i += 1
                value = argv[i]
            if "," in value.strip(", "):
                raise InputError(f"{name} {value}: with a network option (--preset, --layers, "
                                 "...) the main job runs 'check', which trains at one learning "
                                 "rate; give one (--lr LR), or run once per rate")
            out.append(f"--lr={value.strip(', ')}")
        else:
            out.append(token)
        i += 1
    return out


def build(args: argparse.Namespace) -> tuple[str, network.Network, network.Data, np.ndarray,
                                              float, int]:
    """(source, network, float64 data, float64 start, lr, steps) from the options."""
    if args.layers is None:
        given = [f"--{k.replace('_', '-')}" for k in CUSTOM if getattr(args, k) is not None]
        if given:
            raise InputError(f"{', '.join(given)} describe your own network: give --layers "
                             "too, or leave them out to use a preset")
        p = network.preset(args.preset or "tutorial")
        net, data, w, lr, steps = p.network, p.data, p.weights, p.lr, p.steps
        source = f"preset {p.name}"
        if args.data:
            data = network.read_csv(net, args.data)
    else:
        if args.preset:
            raise InputError("give --preset or --layers, not both")
        if args.activations is None:
            raise InputError("--layers needs --activations (one per layer, or one for all)")
        if not args.data:
            raise InputError("--layers needs --data FILE.csv (the examples to train on)")
        net = network.make_network(args.layers, args.activations, args.bias or "none",
                                   _bias_values(args), args.loss or "half-sse",
                                   args.reduction or "sum")
        data = network.read_csv(net, args.data)
        if args.seed < 0:
            raise InputError(f"--seed must be >= 0; got {args.seed}")
        rng = np.random.default_rng(args.seed)
        w, lr, steps, source = (rng.uniform(-0.5, 0.5, network.n_params(net)), 0.1, 100,
                                "your network")
    if args.weights is not None:
        w = network.weights(net, args.weights)
    lr = args.lr if args.lr is not None else lr
    steps = args.steps if args.steps is not None else steps
    from autograd_compare import validate

    return source, net, data, w, validate.learning_rate(lr), steps


def _bias_values(args: argparse.Namespace):
    v = args.bias_values
    if v is None:
        return None
    sizes = args.layers[1:]
    if len(v) == len(sizes):
        return list(v)
    if len(v) == sum(sizes):
        out, at = [], 0
        for n in sizes:
            out.append(list(v[at:at + n]))
            at += n
        return out
    raise InputError(f"--bias-values needs {len(sizes)} values (one per layer) or "
                     f"{sum(sizes)} (one per neuron); got {len(v)}")


def columns(args: argparse.Namespace, net: network.Network) -> network_output.DataColumns:
    """The data's column names: the --data CSV's header, the shipped Iris file's, or the
    notation's (i1, i2, t1, t2 for the 2-2-2 presets)."""
    if args.data:
        return network_output.read_columns(net, args.data)
    if args.layers is None and (args.preset or "tutorial") == "iris":
        return network_output.header_columns(net, network.iris_text(), None)
    return network_output.default_columns(net)


def run(args: argparse.Namespace) -> int:
    human = sys.stderr if args.json else sys.stdout
    source, net, data, w, lr, steps = build(args)
    cols = columns(args, net)
    memory, size = budget.network_check(
        network.n_params(net), 2 * data.inputs.shape[0] * sum(net.sizes[1:]), steps,
        len(options.selected_backends(args)), bool(args.out) and not args.no_plots)
    budget.check(memory, args.max_memory_mb, "memory", "--max-memory-mb")
    budget.check(size, args.max_output_mb, "report files", "--max-output-mb")
    out = Path(args.out) if args.out else None
    dest = output.Destination(out, force=args.force) if out is not None \
        else contextlib.nullcontext(None)  # reserved before any work
    with dest as reserved:
        with_plots = reserved is not None and not args.no_plots and extras.have_matplotlib()
        return _run(args, source, net, data, w, lr, steps, reserved, human, cols, with_plots)


def _run(args: argparse.Namespace, source: str, net: network.Network, data: network.Data,
         w: np.ndarray, lr: float, steps: int, dest: output.Destination | None,
         human: TextIO, cols: network_output.DataColumns,
         with_plots: bool) -> int:
    out = dest.path if dest is not None else None
    backends = _backends(args)
    dt = backends[0].dtype
    d = network.data(net, data.inputs, data.targets, dt)
    result = network_check.check(backends, net, network.weights(net, w, dt), d, lr, steps)
    print(network_summary.header(result, d.inputs.shape[0], source),
          network_summary.gradcheck_table(result), "", network_summary.trajectory_table(result),
          "", network_summary.verdict(result), sep="\n", file=human)
    about = network.PRESETS[source.removeprefix("preset ")]().about \
        if source.startswith("preset ") else ""
    report = {"tool": "autograd-compare", "command": "check", **result.to_dict(),
              "source": source, "examples": int(d.inputs.shape[0]),
              "start": np.asarray(w, np.float64).tolist(),
              "data": {"file": cols.file, "inputs": list(cols.inputs),
                       "targets": list(cols.targets)}}
    if dest is not None:
        report["report_dir"] = str(out)
        report["files"] = [output.JSON_NAME, network_output.TRACE_CSV, network_output.NODES_CSV]
        if not args.no_plots and not with_plots:
            print(f"note: no pictures in the report: matplotlib is not installed; install it "
                  f"with: {plots.INSTALL_HINT}", file=human)
        draw = functools.partial(network_plots.png, network_plots.curves(
            result, f"{source}: {network.describe(net)}"))
        if with_plots:
            report["files"] += network_pictures.FILES + network_plots.FILES
        report["files"].append(network_html.FILE)

        def fill(folder: Path) -> None:
            output.write_text(folder / output.JSON_NAME, output.to_json(report))
            output.write_text(folder / network_output.TRACE_CSV, network_output.trace_csv(result))
            output.write_text(folder / network_output.NODES_CSV,
                              network_output.nodes_csv(result, d, cols))
            if with_plots:
                network_pictures.write(folder, result, backends[0], d)
                for name in network_plots.FILES:
                    (folder / name).write_bytes(draw(name))
            page = network_html.CheckPage(source, about, d, cols, np.asarray(w, np.float64),
                                          str(out), tuple(report["files"]))
            output.write_text(folder / network_html.FILE,
                              network_html.render_check(result, page, folder))

        dest.commit(fill)
        print(f"Report: {out}/", file=human)
    if args.json:
        sys.stdout.write(output.to_json(report))
    return 0 if result.ok else 1


def _backends(args: argparse.Namespace) -> list:
    names = options.selected_backends(args)
    for name in names:
        if name.startswith(registry.MISTAKE_PREFIX):
            raise InputError(f"backend {name!r}: the mistakes exist for the tutorial's "
                             "network only (autograd-compare --backends ...)")
    if len(set(names)) != len(names):
        raise InputError("a backend is listed twice in --backends")
    if args.backends:
        return [registry.get_network_backend(n, args.dtype) for n in names]
    loaded = []
    for name in names:
        try:
            loaded.append(registry.get_network_backend(name, args.dtype))
        except BackendUnavailable as err:
            print(f"note: skipping {err}", file=sys.stderr)
    if not loaded:
        raise BackendUnavailable("no backend could be loaded")
    return loaded
