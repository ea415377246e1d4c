"""``autograd-compare optimizers``: momentum, weight decay, L2 and Adam, backend by backend."""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path
from typing import TextIO

import numpy as np

from autograd_compare import budget, naming, optimizers, registry, validate
from autograd_compare.commands.options import (
    add_lrs_option,
    add_network_options,
    check_lrs,
    check_network,
    floats,
    positive_int,
)
from autograd_compare.errors import InputError
from autograd_compare.interface import CLASS_INPUTS, CLASS_TARGETS, CLASS_WEIGHTS
from autograd_compare.network import Data, Network, describe, param_names
from autograd_compare.network import to_dict as network_to_dict
from autograd_compare.report import (
    extras,
    optim_html,
    optim_output,
    optim_plots,
    output,
    plots,
)

HELP = """Train with an optimizer in every backend and compare them step by step.

manual writes each update rule by hand, torch uses torch.optim (SGD, Adam, AdamW), jax uses
optax; weights, gradients and the optimizer's state (velocity; Adam's m, v and step count)
are compared after every step, and the first divergence is named ("v5 after step 3").
textbook-momentum (v = mu*v - lr*g, w = w + v) is manual only; torch and jax run PyTorch's
momentum beside it and only the weights are compared.
Exit 0: all agree; 1: a backend diverges; 2: bad input.
Example: autograd-compare optimizers --optimizer adamw --weight-decay 0.01 --lrs 0.1,0.5"""


def add_optimizer_arguments(parser: argparse.ArgumentParser, default: str | None = "sgd") -> None:
    """--optimizer (``default``) and its settings: what `_optimizer` reads (``restarts`` and
    ``explain`` take them too, with ``default`` None)."""
    parser.add_argument("--optimizer", default=default, metavar="KIND",
                        help="one of " + ", ".join(optimizers.KINDS)
                        + (f" (default {default})" if default else ""))
    parser.add_argument("--momentum", default=None, metavar="MU",
                        help="momentum μ in [0, 1) (default 0.9 for the momentum kinds)")
    parser.add_argument("--dampening", default=None, metavar="TAU",
                        help="dampening τ of momentum, in [0, 1) (default 0)")
    parser.add_argument("--weight-decay", default=None, metavar="WD",
                        help="weight decay: coupled (g + wd*w), decoupled for adamw (default 0)")
    parser.add_argument("--l2", default=None, metavar="LAMBDA",
                        help="add λ/2·Σw² to the loss (default 0)")
    parser.add_argument("--betas", type=floats("betas", 2), default=None,
                        metavar="B1,B2", help="Adam's β1, β2 (default 0.9,0.999)")
    parser.add_argument("--eps", default=None, help="Adam's ε (default 1e-8)")
    parser.add_argument("--lr-change", type=floats("--lr-change", 2), default=None,
                        metavar="K,LR", help="from update K+1 on, use learning rate LR")


OPTIMIZER_SETTINGS = ("momentum", "dampening", "weight_decay", "l2", "betas", "eps", "lr_change")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from autograd_compare.commands.check import add_network_arguments

    add_optimizer_arguments(parser)
    add_lrs_option(parser)
    parser.add_argument("--steps", type=positive_int("--steps"), default=100,
                        help="updates per run (default 100)")
    parser.add_argument("--backends", default=None, metavar="NAME,...",
                        help="backends, the first is the reference: manual, torch, jax or "
                        "mistake:<name> (" + ", ".join(_mistakes()) + "); default: every "
                        "installed one")
    add_network_arguments(parser)  # --preset, --layers, ..., --weights, --seed (as check)
    add_network_options(parser, weights=False)  # --inputs, --targets (the tutorial's), --dtype
    parser.add_argument("--json", action="store_true",
                        help="write the result as JSON to stdout (tables go to stderr)")
    parser.add_argument("--out", metavar="DIR", default=None,
                        help="also write a report folder: report.json, trace.csv (loss, "
                        "parameters, gradients and optimizer state per step), "
                        + ", ".join(optim_plots.FILES))
    parser.add_argument("--force", action="store_true",
                        help="replace the --out folder if it holds an earlier report")
    parser.add_argument("--no-plots", action="store_true",
                        help="no pictures in the --out folder")
    budget.add_options(parser)


def _mistakes() -> list[str]:
    from autograd_compare.manual.optim import MISTAKES

    return list(MISTAKES)


def _backends(text: str | None) -> list[str]:
    from autograd_compare.errors import InputError
    from autograd_compare.harness import optim_check

    if text is None:
        return optim_check.available()
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise InputError(f"--backends needs at least one name; got {text!r}")
    for name in names:
        if name.startswith(optim_check.MISTAKE_PREFIX):
            if name[len(optim_check.MISTAKE_PREFIX):] not in _mistakes():
                raise InputError(f"unknown optimizer mistake {name!r}; expected mistake: and "
                                 "one of " + ", ".join(_mistakes()))
        elif name not in registry.REGISTRY:
            raise InputError(f"unknown backend {name!r}; expected one of "
                             f"{', '.join(registry.REGISTRY)} or mistake:<name>")
    return names


def optimizer_from(args: argparse.Namespace, kind: str | None = None) -> optimizers.Optimizer:
    """The checked `Optimizer` the options describe (lr 1: each run sets its own).

    A setting that the optimizer does not use (--betas with momentum, --dampening with adam)
    is a one-line error, as is any setting without an --optimizer when ``kind`` is None.
    """
    from autograd_compare.errors import InputError

    kind = kind if kind is not None else args.optimizer
    given = [f"--{k.replace('_', '-')}" for k in OPTIMIZER_SETTINGS
             if getattr(args, k) is not None]
    if kind is None:
        if given:
            verb = "needs" if len(given) == 1 else "need"
            raise InputError(f"{', '.join(given)} {verb} --optimizer KIND (one of "
                             f"{', '.join(optimizers.KINDS)})")
        kind = "sgd"
    for flag, kinds in (("betas", optimizers.ADAM_KINDS), ("eps", optimizers.ADAM_KINDS)):
        if getattr(args, flag) is not None and kind not in kinds:
            raise InputError(f"--{flag} applies to adam and adamw; got --optimizer {kind}")
    change = None
    if args.lr_change is not None:
        k, lr2 = args.lr_change
        if k != int(k):
            from autograd_compare.errors import InputError

            raise InputError(f"--lr-change step must be a whole number >= 1; got {k!r}")
        change = (int(k), lr2)
    def value(name: str, default: object) -> object:
        v = getattr(args, name)
        return default if v is None else v

    return optimizers.make(kind, lr=1.0, momentum=args.momentum,
                           dampening=value("dampening", 0.0),
                           weight_decay=value("weight_decay", 0.0), l2=value("l2", 0.0),
                           betas=value("betas", (0.9, 0.999)), eps=value("eps", 1e-8),
                           lr_change=change)


TUTORIAL_DEFAULTS = {"inputs": CLASS_INPUTS, "targets": CLASS_TARGETS}


def _network(args: argparse.Namespace) -> tuple[str, Network | None, np.ndarray, Data]:
    """(source, network or None for the tutorial's own path, float64 start, float64 data)."""
    from autograd_compare.commands import check

    tutorial = args.layers is None and args.preset in (None, "tutorial") and not args.data
    if tutorial:
        w = CLASS_WEIGHTS if args.weights is None else args.weights
        if len(w) != 8:
            raise InputError(f"the tutorial's network has 8 weights w1..w8; got {len(w)} "
                             "(--weights)")
        ns = argparse.Namespace(**{**vars(args), "weights": w})
        weights, (inputs, targets) = check_network(ns)
        return ("the tutorial's network", None, np.asarray(weights, np.float64),
                Data(np.asarray([inputs], np.float64), np.asarray([targets], np.float64)))
    for key, default in TUTORIAL_DEFAULTS.items():
        if tuple(getattr(args, key)) != tuple(default):
            raise InputError(f"--{key} is for the tutorial's network; a preset or --layers "
                             "network takes its examples from the preset or --data")
    source, net, data, w, _, _ = check.build(argparse.Namespace(**{**vars(args), "lr": None,
                                                                   "steps": None}))
    return source, net, np.asarray(w, np.float64), data


def run(args: argparse.Namespace) -> int:
    human = sys.stderr if args.json else sys.stdout
    opt = optimizer_from(args)
    dt = validate.dtype(args.dtype)
    lrs = check_lrs(args.lrs, dt)
    names = _backends(args.backends)
    if opt.kind in optimizers.MANUAL_ONLY and not any(
            n == "manual" or n.startswith("mistake:") for n in names):
        raise InputError(f"optimizer {opt.kind!r} exists in the manual backend only; got "
                         f"backends {','.join(names)!r} (add manual)")
    source, net, w, data = _network(args)
    out = Path(args.out) if args.out else None
    with_plots = out is not None and not args.no_plots and extras.have_matplotlib()
    memory, size = budget.optimizers(len(lrs), len(names), args.steps, w.size, with_plots)
    budget.check(memory, args.max_memory_mb, "memory", "--max-memory-mb")
    budget.check(size, args.max_output_mb, "report files", "--max-output-mb")
    if out is not None and not args.no_plots and not with_plots:
        print(f"note: no pictures in the report: matplotlib is not installed; install it "
              f"with: {plots.INSTALL_HINT}", file=human)
    dest = output.Destination(out, force=args.force) if out is not None \
        else contextlib.nullcontext(None)  # reserved before any work
    with dest as reserved:
        return _run(args, opt, dt, lrs, names, source, net, w, data, reserved, with_plots,
                    human)


def _run(args: argparse.Namespace, opt: optimizers.Optimizer, dt: np.dtype, lrs: tuple,
         names: list[str], source: str, net: Network | None, w: np.ndarray, data: Data,
         dest: output.Destination | None, with_plots: bool, human: TextIO) -> int:
    from autograd_compare.harness import network_optim_check, optim_check
    from autograd_compare.interface import Example

    if net is None:
        ex = Example(np.asarray(data.inputs[0], dt), np.asarray(data.targets[0], dt))
        results: list = [optim_check.check(optimizers.with_lr(opt, lr), names, w, ex,
                                           args.steps, dt) for lr in lrs]
        params, loss_name, shown = naming.WEIGHT_NAMES, "E_total", "the tutorial's network"
    else:
        results = [network_optim_check.check(optimizers.with_lr(opt, lr), names, net, w, data,
                                             args.steps, dt) for lr in lrs]
        params, loss_name = param_names(net), network_optim_check.LOSS
        shown = f"{source} ({describe(net)}, {data.inputs.shape[0]} examples)"
    settings = opt.describe().replace("lr=1, ", "").replace("(lr=1)", "")
    title = f"{settings}, {args.steps} steps, {dt.name}, {shown}"
    _print_table(results, title, names, opt, human)
    ok = all(r.ok for r in results)
    report = {"tool": "autograd-compare", "command": "optimizers", "ok": ok,
              "exit_code": 0 if ok else 1, "optimizer": optim_output.optimizer_dict(opt),
              "lrs": list(lrs), "steps": args.steps, "dtype": dt.name, "backends": names,
              "reference": names[0], "source": source,
              "network": None if net is None else network_to_dict(net),
              "examples": int(data.inputs.shape[0]), "start": w.tolist(),
              "parameters": list(params), "per_lr": optim_output.per_lr(results),
              "report_dir": None, "files": []}
    if dest is not None:
        report["report_dir"] = str(dest.path)
        report["files"] = [output.JSON_NAME, optim_output.TRACE_CSV, optim_html.FILE]
        if with_plots:
            report["files"] += list(optim_plots.FILES)

        def fill(folder: Path) -> None:
            header, rows = optim_output.trace(results, params, loss_name)
            output.write_text(folder / optim_output.TRACE_CSV, output.csv_text(header, rows))
            if with_plots:
                curves = optim_plots.curves(title, loss_name, results)
                for name in optim_plots.FILES:
                    (folder / name).write_bytes(optim_plots.png(name, curves))
            output.write_text(folder / output.JSON_NAME, output.to_json(report))
            optim_html.write(folder, report, header, rows)

        dest.commit(fill)
        print(f"Report: {dest.path}/", file=human)
    if args.json:
        sys.stdout.write(output.to_json(report))
    return 0 if ok else 1


def _print_table(results: list, title: str, names: list[str], opt: optimizers.Optimizer,
                 human: TextIO) -> None:
    print(f"{title}; reference: {names[0]}", file=human)
    if opt.kind in optimizers.MANUAL_ONLY:
        print("(torch and jax run momentum, PyTorch's form; only the loss, gradients and "
              "weights are compared)", file=human)
    header = f"{'lr':>6}  {'backend':<34} {'largest |diff|':>14} {'/tolerance':>10}  verdict"
    print(header, file=human)
    print("-" * len(header), file=human)
    for res in results:
        for name, comp in res.comparisons.items():
            first = comp.first_divergence
            verdict = ("agrees" if first is None else
                       f"DIVERGES at {first.label}: {first.value:.17g} vs {first.reference:.17g}")
            print(f"{res.optimizer.lr:>6g}  {name:<34} {comp.largest.abs:>14.3e} "
                  f"{comp.largest.ratio:>10.3g}  {verdict}", file=human)
        if not res.comparisons:
            print(f"{res.optimizer.lr:>6g}  {names[0]:<34} (only one backend: nothing "
                  "to compare)", file=human)
    ok = all(r.ok for r in results)
    print("all backends agree" if ok else "a backend diverges (exit 1)", file=human)
