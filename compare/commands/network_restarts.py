"""``autograd-compare restarts --preset NAME``: the restart study on a preset network.

Reached from `commands.restarts` when ``--preset`` names a network other than the tutorial's,
or with ``--optimizer KIND`` on any preset (the tutorial's too): then every backend trains
with that optimizer (`optimizer_backend`: each backend's batched optimizer training); prints
the table and writes report.json, summary.csv, final_loss.csv and report.html to the --out
folder. Results travel as `study.network_restarts.RestartsResult`; report.json is its
``to_dict()``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import numpy.typing as npt

from autograd_compare import budget, network, registry, validate
from autograd_compare.backend import Backend
from autograd_compare.commands import wording
from autograd_compare.commands.options import check_lrs, selected_backends
from autograd_compare.commands.progress import Progress
from autograd_compare.errors import InputError
from autograd_compare.interface import CLASS_INPUTS, CLASS_TARGETS
from autograd_compare.optimizers import MANUAL_ONLY, Optimizer
from autograd_compare.report import network_html, output
from autograd_compare.report.sweep import optimizer_dict
from autograd_compare.study import network_restarts as study_mod
from autograd_compare.types import BatchResult

SUMMARY_CSV, FINAL_CSV = "summary.csv", "final_loss.csv"
DEFAULT_OUT = "autograd-compare-restarts"
TUTORIAL_ONLY: dict[str, npt.ArrayLike] = {"checkpoints": (), "distribution": "uniform",
                                           "inputs": CLASS_INPUTS, "targets": CLASS_TARGETS}


def optimizer_backend(backend: Backend) -> Backend:
    """``backend`` whose ``train_batch`` with an optimizer also gives E at the starts."""
    from autograd_compare.manual import mlp

    dt = backend.dtype

    def train_batch(net: network.Network, w: npt.ArrayLike, lr: npt.ArrayLike,
                    data: network.Data, opt: Optimizer, steps: int,
                    threshold: float | None = None, keep_loss: bool = False) -> BatchResult:
        w_arr, lr_arr = network.weights_batch(net, w, lr, dt)
        r = backend.train_batch(net, w_arr, lr_arr, data, opt, steps)
        if r.initial_loss is not None:
            return r
        d = network.data(net, data.inputs, data.targets, dt)
        losses = mlp.forward_pass(net, w_arr, d.inputs, d.targets)[2]
        initial = dt.type(network.reduction_scale(net, d.inputs.shape[0])) * losses.sum(-1)
        return BatchResult(initial, r.final_loss, r.final_weights,
                           np.full(w_arr.shape[0], -1, np.int64), None)

    return backend._replace(train_batch=train_batch)


def _network(args: argparse.Namespace, preset: str) -> network.Preset:
    """The preset, or your own network (--layers ... --data) as one: named "your network"."""
    from autograd_compare.commands import options

    if args.layers is None and args.data is None:
        if any(getattr(args, k) is not None for k in options.CUSTOM):
            options.build(argparse.Namespace(**{**vars(args), "preset": None}))  # its error
        return network.preset(preset)
    if args.preset is not None and args.layers is not None:
        raise InputError("give --preset or --layers, not both")
    source, net, data, w, lr, steps = options.build(argparse.Namespace(
        **{**vars(args), "weights": None, "lr": None, "steps": None, "seed": 0}))
    name = "your network" if args.layers is not None else f"{source} (--data)"
    return network.Preset(name, f"{name}: {network.describe(net)}", net, data, w, lr, steps)


def run(args: argparse.Namespace, opt: Optimizer | None = None) -> int:
    preset = args.preset or "tutorial"
    for key, default in TUTORIAL_ONLY.items():
        if tuple(np.atleast_1d(getattr(args, key))) != tuple(np.atleast_1d(default)):
            raise InputError(f"--{key} is for the tutorial's network; --preset "
                             f"{preset}{' with --optimizer' if opt else ''} brings its own "
                             "data and draws U[LOW, HIGH]")
    p = _network(args, preset)
    study = study_mod.check(study_mod.NetStudy(
        n=args.n, seed=args.seed, low=args.range[0], high=args.range[1], steps=args.steps,
        lrs=check_lrs(args.lrs), stuck_above=args.stuck_above))
    dt = validate.dtype(args.dtype)
    memory, size = budget.network_restarts(
        study.n, len(study.lrs), len(selected_backends(args)), network.n_params(p.network),
        2 * p.data.inputs.shape[0] * sum(p.network.sizes[1:]))
    budget.check(memory, args.max_memory_mb, "memory", "--max-memory-mb")
    budget.check(size, args.max_output_mb, "report files", "--max-output-mb")
    # the folder's name is reserved before any work: two runs at once never share it
    with output.Destination(args.out, DEFAULT_OUT, args.force) as dest:
        out_dir = dest.path
        backends = [registry.get_network_backend(n, dt) for n in _names(args, opt)]
        if opt is not None:
            backends = [optimizer_backend(b) for b in backends]
        data = network.data(p.network, p.data.inputs, p.data.targets, dt)
        human = sys.stderr if args.json else sys.stdout
        start = time.perf_counter()
        with Progress(len(backends) * len(study.lrs), stream=sys.stderr) as progress:
            outcome = study_mod.run(study, p.network, data, backends, opt,
                                    on_step=progress.step)
        result = study_mod.RestartsResult(
            config(outcome, p, dt, opt), study_mod.summary(outcome), time.perf_counter() - start,
            str(out_dir), tuple(sorted([output.JSON_NAME, SUMMARY_CSV, FINAL_CSV,
                                        network_html.FILE])))
        print(table(result), file=human)
        report = result.to_dict()

        def fill(folder: Path) -> None:
            output.write_text(folder / SUMMARY_CSV, summary_csv(result))
            output.write_text(folder / FINAL_CSV, final_csv(outcome))
            output.write_text(folder / output.JSON_NAME, output.to_json(report))
            output.write_text(folder / network_html.FILE, network_html.render_restarts(
                result, str(out_dir), result.files, folder))

        dest.commit(fill)
        print(wording.closing_line(result.exit_code == 0, out_dir), file=human)
        if args.json:
            sys.stdout.write(output.to_json(report))
        return result.exit_code


def _names(args: argparse.Namespace, opt: Optimizer | None) -> tuple[str, ...]:
    names = selected_backends(args)
    for n in names:
        if n.startswith(registry.MISTAKE_PREFIX):
            raise InputError(f"backend {n!r}: the restart study compares correct backends; "
                             "mistakes run in 'autograd-compare' and 'optimizers'")
    if opt is not None and opt.kind in MANUAL_ONLY and names != ("manual",):
        raise InputError(f"optimizer {opt.kind!r} exists in the manual backend only; give "
                         "--backends manual")
    return names


def config(outcome: study_mod.NetOutcome, p: network.Preset, dt: np.dtype,
           opt: Optimizer | None = None) -> study_mod.RestartsConfig:
    s = outcome.study
    return study_mod.RestartsConfig(p.name, p.about, p.network, int(p.data.inputs.shape[0]),
                                    s.n, s.seed, s.low, s.high, s.steps, s.lrs, s.stuck_above,
                                    dt.name, outcome.backends, opt)


def table(result: study_mod.RestartsResult) -> str:
    c = result.config
    how = "" if c.optimizer is None else f" with {optimizer_dict(c.optimizer)['describe']}"
    lines = [f"Random restarts{how} on preset {c.preset}: {c.n} starts (uniform on "
             f"[{c.low:g}, {c.high:g}], seed {c.seed}) x {len(c.lrs)} "
             f"rates x {c.steps} steps, {c.dtype}, {result.seconds:.1f} s; "
             f"stuck = final E > {c.stuck_above:g}",
             f"{'lr':>5} {'backend':<10} {'stuck':>7} {'median E':>10} {'p90 E':>10} "
             f"{'max E':>10}   {'same stuck':>10} {'worst diff':>10} {'/tol':>8}"]
    for row in result.per_lr:
        for i, b in enumerate(row.backends):
            e = b.final_loss
            tail = (f"   {'yes' if row.same_starts_stuck else 'NO':>10} "
                    f"{row.worst_difference:10.2e} {row.worst_ratio_to_tolerance:8.2g}"
                    if i == 0 else "")
            lines.append(f"{row.lr:5g} {b.name:<10} {b.stuck_fraction:7.1%} "
                         f"{e.median:10.3e} {e.p90:10.3e} {e.max:10.3e}{tail}")
    lines.append("backends agree on every start, and on which get stuck" if result.ok else
                 "backends DISAGREE (see report.json: stuck_mismatches, disagreements)")
    return "\n".join(lines)


def summary_csv(result: study_mod.RestartsResult) -> str:
    qs = ("min", "p10", "median", "p90", "max")
    rows = [[repr(r.lr), b.name, b.stuck, repr(b.stuck_fraction),
             *(repr(getattr(b.final_loss, q)) for q in qs), int(r.same_starts_stuck),
             repr(r.worst_difference), r.disagreements]
            for r in result.per_lr for b in r.backends]
    header = ("lr", "backend", "stuck", "stuck_fraction", *(f"final_E_{q}" for q in qs),
              "same_starts_stuck", "worst_difference", "disagreements")
    return output.csv_text(header, rows)


def final_csv(outcome: study_mod.NetOutcome) -> str:
    """One row per (lr, start): every backend's final E and whether it is stuck."""
    names = outcome.backends
    rows = [[repr(lr), n, repr(float(outcome.initial_loss[n])),
             *(repr(float(outcome.final_loss[b][j, n])) for b in names),
             *(int(outcome.stuck[b][j, n]) for b in names), repr(float(outcome.ratio[j, n]))]
            for j, lr in enumerate(outcome.study.lrs) for n in range(outcome.study.n)]
    return output.csv_text(("lr", "start", "initial_E", *(f"final_E_{b}" for b in names),
                 *(f"stuck_{b}" for b in names), "ratio_to_tolerance"), rows)
