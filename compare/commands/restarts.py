"""``autograd-compare restarts``: the random-restart study on any network with any optimizer,
printed and written to a folder (the tutorial's network by default)."""

from __future__ import annotations

import argparse
import contextlib
import csv
import os
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from autograd_compare import budget, network, registry, validate
from autograd_compare.commands import options, wording
from autograd_compare.commands.options import (
    add_backends_option,
    add_lrs_option,
    add_network_options,
    check_lrs,
    floats,
    positive_int,
    selected_backends,
    with_reference,
)
from autograd_compare.commands.progress import Progress
from autograd_compare.errors import InputError
from autograd_compare.harness import steps as step_trace
from autograd_compare.interface import CLASS_INPUTS, CLASS_TARGETS
from autograd_compare.optimizers import MANUAL_ONLY
from autograd_compare.report import drawing, extras, html, landscape, output
from autograd_compare.report.plots import PlotsUnavailable
from autograd_compare.report.sweep import optimizer_dict
from autograd_compare.study import restarts

HELP = ("Random restarts: train N random starting parameter vectors at every learning rate "
        "with every backend.\n\nThe tutorial's hiker dropped many times at random places on "
        "the island: how often\ndoes training reach sea level (final E <= --threshold), how "
        "fast, and do the\nbackends agree on every one of the N x L configurations? Any "
        "network (--preset,\n--layers ... --data), any optimizer (--optimizer).")
DEFAULT_OUT = "autograd-compare-restarts"
SUMMARY_CSV, DISAGREE_CSV, GALLERY_CSV = "summary.csv", "disagreements.csv", "gallery.csv"
CHECKPOINTS_CSV, FINAL_CSV = "checkpoints.csv", "final_loss.csv"
THRESHOLDS = {"tutorial": 1e-5}  # the default --threshold; 0.1 on any other network
WORKERS_PER_CORE = 4  # --dask-local: at most this many worker processes per CPU core
ISLAND_DOTS = 3000  # starts drawn on the island (landscape.png)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--n", type=positive_int("--n"), default=1000,
                        help="number of random starting parameter vectors (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--distribution", default="uniform", metavar="NAME",
                        choices=tuple(restarts.DISTRIBUTIONS),
                        help="how the parameters are drawn: " + "; ".join(
                            f"{k}: {v}" for k, v in restarts.DISTRIBUTIONS.items())
                        + " (default uniform)")
    parser.add_argument("--range", type=floats("range", 2), default=(-1.0, 1.0),
                        metavar="LOW,HIGH", help="range of the distribution (default -1,1)")
    parser.add_argument("--steps", type=positive_int("--steps"), default=1000,
                        help="updates per configuration (default 1000)")
    parser.add_argument("--checkpoints", type=steps_list, default=(), metavar="K,...",
                        help="also record the distribution of E after these steps "
                        "(each between 1 and STEPS-1; plain gradient descent; default none)")
    parser.add_argument("--threshold", type=float, default=None,
                        help="'sea level': a start whose final E <= THRESHOLD reached it; one "
                        "that has not is stuck if E fell by less than 1%% over the last 10%% "
                        "of the steps, else still descending (default 1e-5 on the tutorial's "
                        "network, else 0.1)")
    parser.add_argument("--chunk", type=positive_int("--chunk"), default=32768,
                        help="starts per batched call; memory grows with CHUNK x rates "
                        "(default 32768)")
    add_lrs_option(parser)
    add_backends_option(parser)
    add_network_options(parser, weights=False)
    parser.add_argument("--out", metavar="DIR", default=None,
                        help=f"report folder (default {DEFAULT_OUT}, or -2, -3, ... if taken; "
                        "with --json: none unless given)")
    parser.add_argument("--force", action="store_true", help=wording.FORCE_HELP)
    parser.add_argument("--no-plots", action="store_true", help="write no PNG files")
    parser.add_argument("--json", action="store_true", help=wording.JSON_HELP)
    parser.add_argument("--landscape", default=None, metavar="SLICE",
                        help="the slice of the island (landscape.png): 'plane' (through the "
                        "median, best and worst start) or two parameters, such as w5,w6 "
                        "(default on the tutorial's network) or W1[0,0],W1[0,1] (default "
                        "elsewhere: the first hidden unit's weights from x1 and x2)")
    parser.add_argument("--preset", default=None, metavar="NAME", choices=tuple(network.PRESETS),
                        help="a preset network (see 'autograd-compare presets'), e.g. xor "
                        "(default: the tutorial's network)")
    cluster = parser.add_mutually_exclusive_group()
    cluster.add_argument("--dask-scheduler", metavar="ADDRESS", default=None,
                         type=options.dask_address,
                         help="run the chunks on an existing Dask distributed cluster, e.g. "
                         "tcp://10.0.0.5:8786 (workers need autograd-compare[dask] installed)")
    cluster.add_argument("--dask-local", type=positive_int("--dask-local"), default=None,
                         metavar="N", help="run the chunks on a local Dask cluster of N worker "
                         "processes (needs autograd-compare[dask])")
    budget.add_options(parser)
    options.add_optimizer_arguments(parser, default=None)  # --optimizer KIND: the study with it
    options.add_own_network_arguments(parser)  # --layers ...: the study on your network


def steps_list(text: str) -> tuple[int, ...]:
    """argparse ``type=`` for ``"10,100"``: whole step numbers, at least one; an entry that is
    no whole number (or longer than 40 digits) is an error, never dropped."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts:
        raise argparse.ArgumentTypeError(f"--checkpoints needs at least one step number; got "
                                         f"{validate.short_text(text)}")
    for i, part in enumerate(parts, start=1):
        try:
            if len(part) <= 40:
                int(part)
                continue
        except ValueError:
            pass
        where = f" (entry {i} of {len(parts)})" if len(parts) > 1 else ""
        raise argparse.ArgumentTypeError(
            "--checkpoints must be comma-separated whole numbers of at most 40 digits; "
            f"got {validate.short_text(part, 40)}{where}")
    return tuple(int(part) for part in parts)


def problem(args: argparse.Namespace) -> network.Preset:
    """The network and its data: a preset (the tutorial's with --inputs/--targets), or your own
    (--layers ... --data) named "your network"."""
    own = args.layers is not None or args.data is not None or any(
        getattr(args, k) is not None for k in options.CUSTOM)
    if not own and (args.preset or "tutorial") == "tutorial":
        p = network.preset("tutorial")
        return p._replace(data=network.data(p.network, [args.inputs], [args.targets]))
    if tuple(args.inputs) != CLASS_INPUTS or tuple(args.targets) != CLASS_TARGETS:
        raise InputError("--inputs and --targets are the tutorial network's example; another "
                         "network brings its own data (or --data FILE.csv)")
    if not own:
        return network.preset(args.preset)
    source, net, data, w, lr, steps = options.build(argparse.Namespace(
        **{**vars(args), "weights": None, "lr": None, "steps": None, "seed": 0}))
    name = "your network" if args.layers is not None else f"{source} (--data)"
    return network.Preset(name, f"{name}: {network.describe(net)}", net, data, w, lr, steps)


def study_from(args: argparse.Namespace) -> restarts.Study:
    """The `restarts.Study` the options describe (checked: one-line errors)."""
    opt, p = options.optimizer_from(args), problem(args)
    low, high = args.range
    threshold = THRESHOLDS.get(p.name, 0.1) if args.threshold is None else args.threshold
    return restarts.check(restarts.Study(
        n=args.n, seed=args.seed, distribution=args.distribution, low=low, high=high,
        steps=args.steps, lrs=check_lrs(args.lrs, validate.dtype(args.dtype)),
        threshold=threshold, chunk=args.chunk, checkpoints=tuple(args.checkpoints),
        problem=p, optimizer=opt))


def island_slice(args: argparse.Namespace, study: restarts.Study) -> landscape.Slice:
    """The --landscape slice on the study's network (`landscape.default_slice` if not given;
    a bad one: `InputError`, one line)."""
    net = study.problem.network
    names = network.param_names(net)
    return landscape.default_slice(net, names) if args.landscape is None else \
        landscape.parse(args.landscape, names)


def local_workers_cap() -> int:
    """The most worker processes --dask-local starts: `WORKERS_PER_CORE` per CPU core."""
    return WORKERS_PER_CORE * (os.cpu_count() or 1)


def check_local_workers(count: int | None) -> None:
    """Refuse (one line, exit 2) more local Dask workers than `local_workers_cap`."""
    cap = local_workers_cap()
    if count is not None and count > cap:
        raise InputError(f"--dask-local {count} is more worker processes than this machine "
                         f"runs ({cap}: {WORKERS_PER_CORE} per CPU core, {os.cpu_count() or 1}"
                         f" cores); give --dask-local {cap} or fewer, or --dask-scheduler "
                         "ADDRESS for a larger cluster")


def run(args: argparse.Namespace) -> int:
    check_local_workers(args.dask_local)  # before anything is built
    study = study_from(args)
    island_slice(args, study)  # a bad --landscape: before any work
    dt = validate.dtype(args.dtype)
    p, tutorial = study.problem, restarts.is_tutorial(study)
    if p.name == "tutorial":
        example = validate.example((args.inputs, args.targets), dt)
        spread = 10 * (study.high - study.low) / 2 if study.distribution == "normal" else 0.0
        corner = max(abs(study.low), abs(study.high)) + spread  # the largest start, near enough
        validate.representable_start(np.full(8, corner), example, dt, "--range")
    names, added = with_reference(selected_backends(args))
    if study.optimizer.kind in MANUAL_ONLY and names != ("manual",):
        raise InputError(f"optimizer {study.optimizer.kind!r} exists in the manual backend "
                         "only; give --backends manual")
    memory, size = budget.restarts(study.n, len(study.lrs), len(names), study.steps,
                                   study.chunk,  # E at the tail step: one checkpoint more
                                   len(study.checkpoints) + restarts.tells_stuck(study),
                                   network.n_params(p.network),
                                   2 * p.data.inputs.shape[0] * sum(p.network.sizes[1:]))
    memory += (args.dask_local or 0) * budget.libraries(names)  # each worker loads them too
    budget.check(memory, args.max_memory_mb, "memory", "--max-memory-mb")
    budget.check(size, args.max_output_mb, "report files", "--max-output-mb")
    made = restarts.get_backends(study, names, dt)
    backends = restarts.trainers(study, made)
    human = sys.stderr if args.json else sys.stdout
    folder_wanted = bool(args.out) or not args.json  # --json alone: stdout is the report
    dest = output.Destination(args.out, DEFAULT_OUT, args.force) if folder_wanted \
        else contextlib.nullcontext(None)
    with dest as reserved:  # reserved before any work (exit 2 if taken)
        if added:
            print(f"note: {added} added as the reference: a mistake backend needs a correct "
                  "one to be compared with", file=human)
        n_chunks = -(-study.n // min(study.chunk, study.n))
        start = time.perf_counter()
        distributed = args.dask_scheduler is not None or args.dask_local is not None
        trace_wanted = reserved is not None and tutorial
        steps = n_chunks * (1 if distributed else len(names)) + 1 + trace_wanted
        with Progress(steps, stream=sys.stderr) as progress:
            if distributed:
                outcome = _run_on_dask(args, study, tuple(names), dt, progress.step)
            else:
                outcome = restarts.run(study, backends, on_step=progress.step)
            progress.step("re-running the gallery starts one at a time")
            curves = restarts.curves(outcome, backends)
            trace: dict[str, Any] = {"runs": []}
            if trace_wanted:
                progress.step("recording every step of the median start for report.html")
                median = next(c for c in curves if c.which == "median")
                trace = step_trace.as_json([step_trace.record(
                    b, np.asarray(median.weights), restarts.example(study), median.lr,
                    study.steps) for b in (registry.get_backend(n, dt) for n in names)])
            result = restarts.report(outcome, dt, time.perf_counter() - start, backends,
                                     progress.step)
        if reserved is None:
            _emit(result, None, args.json, human)
        else:
            result = _write(reserved, args, result, outcome, curves, trace, human)
    return result.exit_code


def _emit(result: restarts.Report, out_dir: Path | None, as_json: bool, human: TextIO) -> None:
    """The table and the closing line (stdout, or stderr with --json), then the JSON."""
    text = table(result) + "\n" + wording.closing_line(result.ok, out_dir) + "\n"
    if as_json:
        print(text, file=human, end="")
        output.emit_stdout(output.to_json(as_dict(result)))
    else:
        output.emit_stdout(text)


def _write(dest: output.Destination, args: argparse.Namespace, result: restarts.Report,
           outcome: restarts.Outcome, curves: list[restarts.Curve], trace: dict[str, Any],
           human: TextIO) -> restarts.Report:
    """Fill the report folder, print, then put it in place (printed first: docs/hardening.md);
    return ``result`` with its "report_dir" and "files"."""
    out_dir = dest.path
    written = [result._replace(report_dir=str(out_dir))]  # fill() adds the files it wrote
    study = outcome.study

    def fill(folder: Path) -> None:
        files = [output.JSON_NAME, html.FILE]
        for name, (header, rows) in {
                SUMMARY_CSV: summary_csv(result), DISAGREE_CSV: disagreements_csv(result),
                GALLERY_CSV: gallery_csv(study, curves), CHECKPOINTS_CSV: checkpoints_csv(result),
                FINAL_CSV: final_csv(outcome)}.items():
            _write_csv(folder / name, header, rows)
            files.append(name)
        if not args.no_plots:
            try:
                from autograd_compare.report import restarts_plots

                files.extend(restarts_plots.save_all(folder, outcome, curves,
                                                     island(args, result, outcome)))
            except PlotsUnavailable as err:
                print(f"note: {err}; writing the report without plots", file=sys.stderr)
        if not args.no_plots and extras.have_matplotlib() and trace["runs"]:
            extras.write_restarts(folder, trace, restarts.example(study))
            files.extend([drawing.SVG_FILE, drawing.PNG_FILE])
        written[0] = written[0]._replace(files=tuple(sorted(files)))
        result_json = as_dict(written[0])
        html.write(folder, html.render_restarts(result_json, trace, folder))
        (folder / output.JSON_NAME).write_text(output.to_json(result_json), encoding="utf-8")

    dest.commit(fill, before=lambda: _emit(written[0], out_dir, args.json, human))
    return written[0]


def island(args: argparse.Namespace, result: restarts.Report,
           outcome: restarts.Outcome) -> Any:
    """What the outcome pictures need (`restarts_plots.Island`), worked out by the study."""
    from autograd_compare.report import restarts_plots

    study = outcome.study
    labels = restarts.outcome_labels(study)
    return restarts_plots.Island(
        {b: restarts.outcomes(outcome, b) for b in outcome.backends},
        {c: restarts.OUTCOMES[c] for c in labels}, labels,
        restarts.tail_step(study.steps) if restarts.tells_stuck(study) else None,
        island_slice(args, study), restarts.starts(study, 0, min(study.n, ISLAND_DOTS)),
        result.per_lr[0].gallery._asdict())


def _write_csv(path: Path, header: Sequence[object], rows: Iterable[Sequence[object]]) -> None:
    """Stream a CSV table to ``path`` (the folder is a temporary one until it is complete)."""
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def _run_on_dask(args: argparse.Namespace, study: restarts.Study, names: tuple[str, ...],
                 dt: np.dtype, on_chunk) -> restarts.Outcome:
    """The study's chunks as tasks on a Dask cluster (`study.cluster`): the same numbers."""
    from autograd_compare.study import cluster

    local = cluster.local_cluster(args.dask_local) if args.dask_local else None
    try:
        with cluster.connect(local if local is not None else args.dask_scheduler) as client:
            return cluster.run(study, names, dt, client, on_chunk)
    finally:
        if local is not None:
            local.close()


def as_dict(result: restarts.Report) -> dict[str, Any]:
    """Everything the study found (fields documented in docs/restarts.md): the one place its
    named results become a dict."""
    s, p = result.study, result.study.problem
    example = {"inputs": p.data.inputs[0].tolist(), "targets": p.data.targets[0].tolist()} \
        if p.name == "tutorial" else {}
    return {
        "tool": "autograd-compare", "command": "restarts", "ok": result.ok,
        "exit_code": result.exit_code,
        "config": {"n": s.n, "seed": s.seed, "distribution": s.distribution,
                   "range": [s.low, s.high], "steps": s.steps, "lrs": list(s.lrs),
                   "threshold": s.threshold, "chunk": s.chunk, "dtype": result.dtype,
                   "checkpoints": list(s.checkpoints),
                   "backends": list(result.backends), "reference": result.reference,
                   **example, "preset": p.name, "network": network.to_dict(p.network),
                   "examples": int(p.data.inputs.shape[0]),
                   "optimizer": optimizer_dict(s.optimizer)},
        "tolerance": restarts.tolerance_rule(s, result.dtype),
        "outcome_rule": {"rule": restarts.outcome_rule(s), "threshold": s.threshold,
                         "tail_step": restarts.tail_step(s.steps)
                         if restarts.tells_stuck(s) else None,
                         "stall": restarts.STALL if restarts.tells_stuck(s) else None},
        "seconds": result.seconds,
        "per_lr": [_plain(row) for row in result.per_lr],
        "disagreements": [_plain(d) for d in result.disagreements],
        "amplified_rounding": [_plain(d) for d in result.amplified],
        **({"undetected_mistakes": list(result.undetected_mistakes)}
           if result.undetected_mistakes else {}),
        "report_dir": result.report_dir, "files": list(result.files),
    }


def _plain(obj: Any) -> Any:
    """Named tuples -> dicts (field order kept), recursively; other values as they are."""
    if isinstance(obj, tuple) and hasattr(obj, "_asdict"):
        return {k: _plain(v) for k, v in obj._asdict().items()}
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_plain(v) for v in obj]
    return obj


def table(result: restarts.Report) -> str:
    """The human-readable table: one line per learning rate and backend."""
    c, E = result.study, network.loss_name(result.study.problem.network)
    how = "" if restarts.counts_steps(c) else f" with {optimizer_dict(c.optimizer)['describe']}"
    lines = [f"Random restarts{how} on {c.problem.name}: {c.n} starts ({c.distribution} on "
             f"[{c.low:g}, {c.high:g}], seed {c.seed}) x {len(c.lrs)} rates x {c.steps} steps, "
             f"{result.dtype}, {result.seconds:.1f} s",
             restarts.outcome_rule(c),
             f"{'lr':>5} {'backend':<10} {'median E':>10} {'p90 E':>10} {'max E':>10} "
             f"{'reached':>8} {'stuck':>6} {'descend':>7} {'med.steps':>9}   "
             f"{'worst diff':>10} {'/tol':>8} {'disagree':>8}"]
    for row in result.per_lr:
        x = row.cross_backend
        for i, (b, s) in enumerate(row.backends.items()):
            e = s.final_loss
            k = None if s.steps_to_threshold is None else s.steps_to_threshold.median
            tail = (f"   {x.worst_difference:10.2e} {x.worst_ratio_to_tolerance:8.2g} "
                    f"{x.disagreements:8d}") if i == 0 else ""
            lines.append(f"{row.lr:5g} {b:<10} {e.median:10.3e} {e.p90:10.3e} "
                         f"{e.max:10.3e} {s.reached_fraction:8.1%} "
                         f"{'-' if s.stuck is None else s.stuck:>6} "
                         f"{'-' if s.still_descending is None else s.still_descending:>7} "
                         f"{'-' if k is None else k:>9}{tail}")
    ref = result.reference
    for row in result.per_lr:
        if row.checkpoints:
            lines.append(f"{row.lr:5g} median {E} ({ref}) after step " + ", ".join(
                f"{cp.step}: {cp.E_total[ref].median:.3e}" for cp in row.checkpoints)
                + f", {c.steps}: {row.backends[ref].final_loss.median:.3e}")
        if row.cross_backend.reached_mismatches:
            lines.append(f"{row.lr:5g} {row.cross_backend.reached_mismatches} starts reached "
                         "the threshold in one backend and not in the reference")
        elif row.cross_backend.outcome_mismatches:
            lines.append(f"{row.lr:5g} {row.cross_backend.outcome_mismatches} starts stuck in "
                         "one backend and still descending in the reference, or the reverse")
    n, k = len(result.disagreements), len(result.amplified)
    lines += [f"FAIL {b}: a mistake backend, but it agrees with the others on every "
              "configuration" for b in result.undetected_mistakes]
    if k:
        lines.append(f"{k} configurations whose whole runs differ beyond tolerance agree at "
                     "every single step (re-checked one update at a time): rounding the "
                     "training amplified, not a disagreement")
    lines.append("backends agree on every configuration" if n == 0 else
                 f"{n} configurations where backends DISAGREE beyond tolerance "
                 f"(listed in {DISAGREE_CSV} and report.json)")
    return "\n".join(lines)


QUANTILE_FIELDS = ("min", "p1", "p10", "median", "p90", "p99", "max", "mean", "non_finite")
Table = tuple[Sequence[str], Iterable[Sequence[object]]]


def summary_csv(result: restarts.Report) -> Table:
    """One row per (lr, backend): the distribution of final E and steps to threshold."""
    rows = []
    for row in result.per_lr:
        x = row.cross_backend
        for b, s in row.backends.items():
            k = s.steps_to_threshold or restarts.StepsQuantiles(None, None, None, None)
            e = s.final_loss._asdict()
            rows.append([repr(row.lr), b, *(repr(e[q]) for q in QUANTILE_FIELDS),
                         s.reached, repr(s.reached_fraction),
                         "" if s.stuck is None else s.stuck,
                         "" if s.still_descending is None else s.still_descending,
                         *("" if v is None else v for v in k),
                         repr(x.worst_difference), repr(x.median_difference),
                         x.disagreements])
    return (("lr", "backend", *(f"final_E_{q}" for q in QUANTILE_FIELDS), "reached",
             "reached_fraction", "stuck", "still_descending",
             *(f"steps_{q}" for q in restarts.StepsQuantiles._fields),
             "worst_difference", "median_difference", "disagreements"), rows)


def checkpoints_csv(result: restarts.Report) -> Table:
    """One row per (lr, step, backend): the distribution of E at each checkpoint and at the
    last step."""
    rows = []
    for row in result.per_lr:
        last = restarts.Checkpoint(result.study.steps,
                                   {b: s.final_loss for b, s in row.backends.items()})
        for c in [*row.checkpoints, last]:
            for b, e in c.E_total.items():
                values = e._asdict()
                rows.append([repr(row.lr), c.step, b,
                             *(repr(values[q]) for q in QUANTILE_FIELDS)])
    return ("lr", "step", "backend", *(f"E_{q}" for q in QUANTILE_FIELDS)), rows


def disagreements_csv(result: restarts.Report) -> Table:
    """Every configuration where the backends differ beyond tolerance (header only if none)."""
    names, counted = result.backends, restarts.counts_steps(result.study)
    rows = [[d.start, repr(d.lr), *map(repr, d.weights),
             *(repr(d.final_loss[b]) for b in names),
             *(d.steps_to_threshold[b] for b in names if d.steps_to_threshold is not None),
             repr(d.difference), repr(d.ratio_to_tolerance)]
            for d in result.disagreements]
    return (("start", "lr", *network.param_names(result.study.problem.network),
             *(f"final_E_{b}" for b in names), *(f"steps_{b}" for b in names if counted),
             "difference", "ratio_to_tolerance"), rows)


def gallery_csv(study: restarts.Study, curves: list[restarts.Curve]) -> Table:
    """The gallery's loss curves, one row per (lr, which start, backend, step)."""
    rows = [[repr(c.lr), c.which, c.start, c.outcome, b, k, repr(float(v))]
            for c in curves for b, loss in c.loss.items() for k, v in enumerate(loss)]
    return ("lr", "which", "start", "outcome", "backend", "step",
            network.loss_name(study.problem.network)), rows


def final_csv(outcome: restarts.Outcome) -> Table:
    """One row per (lr, start), streamed: E at the start, every backend's final E and E at the
    tail step (empty with an optimizer), whether it reached the threshold and its outcome
    ("reached", "stuck", "still descending"; "not reached" with an optimizer), the ratio of
    the cross-backend difference to its tolerance."""
    names = outcome.backends
    reached = {b: restarts.reached(outcome, b) for b in names}
    codes = {b: restarts.outcomes(outcome, b) for b in names}
    tails = outcome.tail_loss

    def rows() -> Iterator[list[object]]:
        for j, lr in enumerate(outcome.study.lrs):
            for n in range(outcome.study.n):
                yield [repr(lr), n, repr(float(outcome.initial_loss[n])),
                       *(repr(float(outcome.final_loss[b][j, n])) for b in names),
                       *("" if tails is None else repr(float(tails[b][j, n])) for b in names),
                       *(int(reached[b][j, n]) for b in names),
                       *(restarts.OUTCOMES[int(codes[b][j, n])] for b in names),
                       repr(float(outcome.ratio[j, n]))]

    return ("lr", "start", "initial_E", *(f"final_E_{b}" for b in names),
            *(f"tail_E_{b}" for b in names), *(f"reached_{b}" for b in names),
            *(f"outcome_{b}" for b in names), "ratio_to_tolerance"), rows()
