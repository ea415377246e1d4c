"""``autograd-compare restarts``: the random-restart study, printed and written to a folder."""

from __future__ import annotations

import argparse
import csv
import io
import sys
import time
from pathlib import Path

import numpy as np

from autograd_compare import budget, registry, validate
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
from autograd_compare.registry import MISTAKE_PREFIX
from autograd_compare.report import output
from autograd_compare.report.plots import PlotsUnavailable
from autograd_compare.study import restarts

HELP = ("Random restarts: train N random starting weight vectors at every learning rate with "
        "every backend.\n\nThe tutorial's hiker dropped many times at random places on the "
        "island: how often\ndoes gradient descent reach sea level (E_total <= --threshold), how "
        "fast, and do\nthe backends agree on every one of the N x L configurations?")
DEFAULT_OUT = "autograd-compare-restarts"
SUMMARY_CSV, DISAGREE_CSV, GALLERY_CSV = "summary.csv", "disagreements.csv", "gallery.csv"
CHECKPOINTS_CSV = "checkpoints.csv"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--n", type=positive_int("--n"), default=1000,
                        help="number of random starting weight vectors (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--distribution", default="uniform", metavar="NAME",
                        help="how w1..w8 are drawn: " + "; ".join(
                            f"{k}: {v}" for k, v in restarts.DISTRIBUTIONS.items())
                        + " (default uniform)")
    parser.add_argument("--range", type=floats("range", 2), default=(-1.0, 1.0),
                        metavar="LOW,HIGH", help="range of the distribution (default -1,1)")
    parser.add_argument("--steps", type=positive_int("--steps"), default=1000,
                        help="gradient-descent steps per configuration (default 1000)")
    parser.add_argument("--checkpoints", type=steps_list, default=(), metavar="K,...",
                        help="also record the distribution of E_total after these steps "
                        "(each between 1 and STEPS-1; default none)")
    parser.add_argument("--threshold", type=float, default=1e-5,
                        help="'sea level': E_total <= THRESHOLD counts as reached (default 1e-5)")
    parser.add_argument("--chunk", type=positive_int("--chunk"), default=32768,
                        help="starts per batched call; memory grows with CHUNK x rates "
                        "(default 32768)")
    add_lrs_option(parser)
    add_backends_option(parser)
    add_network_options(parser, weights=False)
    parser.add_argument("--out", metavar="DIR", default=None,
                        help=f"report folder (default {DEFAULT_OUT}, or -2, -3, ... if taken)")
    parser.add_argument("--force", action="store_true", help="replace an existing report folder")
    parser.add_argument("--no-plots", action="store_true", help="write no PNG files")
    parser.add_argument("--json", action="store_true",
                        help="write the result as JSON to stdout (the table goes to stderr)")
    budget.add_options(parser)


def study_from(args: argparse.Namespace) -> restarts.Study:
    """The `restarts.Study` the options describe (checked: one-line errors)."""
    low, high = args.range
    return restarts.check(restarts.Study(
        n=args.n, seed=args.seed, distribution=args.distribution, low=low, high=high,
        steps=args.steps, lrs=check_lrs(args.lrs, validate.dtype(args.dtype)),
        threshold=args.threshold, chunk=args.chunk, checkpoints=tuple(args.checkpoints)))


def steps_list(text: str) -> tuple[int, ...]:
    """argparse ``type=`` for ``"10,100"``: whole step numbers."""
    try:
        return tuple(int(p) for p in text.split(",") if p.strip() and len(p) <= 40)
    except ValueError:
        raise argparse.ArgumentTypeError(
            "--checkpoints must be comma-separated whole numbers; got "
            f"{validate.short_text(text)}") from None


def run(args: argparse.Namespace) -> int:
    study = study_from(args)
    dt = validate.dtype(args.dtype)
    example = validate.example((args.inputs, args.targets), dt)
    spread = 10 * (study.high - study.low) / 2 if study.distribution == "normal" else 0.0
    corner = max(abs(study.low), abs(study.high)) + spread  # the largest start, near enough
    validate.representable_start(np.full(8, corner), example, dt, "--range")
    names, added = with_reference(selected_backends(args))
    memory, size = budget.restarts(study.n, len(study.lrs), len(names), study.steps,
                                   study.chunk, len(study.checkpoints))
    budget.check(memory, args.max_memory_mb, "memory", "--max-memory-mb")
    budget.check(size, args.max_output_mb, "report files", "--max-output-mb")
    human = sys.stderr if args.json else sys.stdout
    with output.Destination(args.out, DEFAULT_OUT, args.force) as dest:
        out_dir = dest.path  # reserved before any work (exit 2 if taken)
        if added:
            print(f"note: {added} added as the reference: a mistake backend needs a correct "
                  "one to be compared with", file=human)
        backends = {name: registry.get_backend(name, dt) for name in names}
        n_chunks = -(-study.n // min(study.chunk, study.n))
        start = time.perf_counter()
        with Progress(n_chunks * len(names) + 1, stream=sys.stderr) as progress:
            outcome = restarts.run(study, backends, example, on_step=progress.step)
            progress.step("re-running the gallery starts one at a time")
            curves = restarts.curves(outcome, backends, example)
        elapsed = time.perf_counter() - start
        result = as_dict(outcome, dt, example, elapsed)
        result["report_dir"] = str(out_dir)
        files = []

        def fill(folder: Path) -> None:
            _write_csv(folder / SUMMARY_CSV, summary_csv(result))
            _write_csv(folder / DISAGREE_CSV, disagreements_csv(result))
            _write_csv(folder / GALLERY_CSV, gallery_csv(curves))
            _write_csv(folder / CHECKPOINTS_CSV, checkpoints_csv(result))
            files.extend([output.JSON_NAME, SUMMARY_CSV, DISAGREE_CSV, GALLERY_CSV,
                          CHECKPOINTS_CSV])
            if not args.no_plots:
                try:
                    from autograd_compare.report import restarts_plots

                    files.extend(restarts_plots.save_all(folder, outcome, curves))
                except PlotsUnavailable as err:
                    print(f"note: {err}; writing the report without plots", file=sys.stderr)
            result["files"] = sorted(files)
            (folder / output.JSON_NAME).write_text(output.to_json(result), encoding="utf-8")

        def emit() -> None:  # printed before the folder is put in place (docs/hardening.md)
            text = table(result) + f"\nreport written to {out_dir}/\n"
            if args.json:
                print(text, file=human, end="")
                output.emit_stdout(output.to_json(result))
            else:
                output.emit_stdout(text)

        dest.commit(fill, before=emit)
    return result["exit_code"]


def _write_csv(path: Path, rows) -> None:
    """Write CSV text, or stream an iterable of lines, to ``path``."""
    with open(path, "w", encoding="utf-8", newline="") as f:
        if isinstance(rows, str):
            f.write(rows)
        else:
            f.writelines(rows)


def as_dict(outcome: restarts.Outcome, dt, example, elapsed: float) -> dict:
    """Everything the study found (fields documented in the README, "Random restarts")."""
    s = outcome.study
    found = restarts.disagreements(outcome)
    caught = outcome.disagreeing or {}
    missed = [b for b in outcome.backends if b.startswith(MISTAKE_PREFIX)
              and not caught.get(b)]
    ok = not found and not missed
    return {
        "tool": "autograd-compare", "command": "restarts", "ok": ok, "exit_code": 0 if ok else 1,
        "config": {"n": s.n, "seed": s.seed, "distribution": s.distribution,
                   "range": [s.low, s.high], "steps": s.steps, "lrs": list(s.lrs),
                   "threshold": s.threshold, "chunk": s.chunk, "dtype": dt.name,
                   "checkpoints": list(s.checkpoints),
                   "backends": list(outcome.backends), "reference": outcome.backends[0],
                   "inputs": example.inputs.tolist(), "targets": example.targets.tolist()},
        "tolerance": restarts.tolerance_rule(dt, s.steps),
        "seconds": elapsed,
        "per_lr": restarts.summary(outcome),
        "disagreements": found,
        **({"undetected_mistakes": missed} if missed else {}),
        "report_dir": None, "files": [],
    }


def table(result: dict) -> str:
    """The human-readable table: one line per learning rate and backend."""
    c = result["config"]
    lines = [f"Random restarts: {c['n']} starts ({c['distribution']} on "
             f"[{c['range'][0]:g}, {c['range'][1]:g}], seed {c['seed']}) x {len(c['lrs'])} "
             f"rates x {c['steps']} steps, {c['dtype']}, {result['seconds']:.1f} s",
             f"{'lr':>5} {'backend':<10} {'median E':>10} {'p90 E':>10} {'max E':>10} "
             f"{'reached':>8} {'med.steps':>9}   {'worst diff':>10} {'/tol':>8} {'disagree':>8}"]
    for row in result["per_lr"]:
        x = row["cross_backend"]
        for i, (b, s) in enumerate(row["backends"].items()):
            e, k = s["final_loss"], s["steps_to_threshold"]["median"]
            tail = (f"   {x['worst_difference']:10.2e} {x['worst_ratio_to_tolerance']:8.2g} "
                    f"{x['disagreements']:8d}") if i == 0 else ""
            lines.append(f"{row['lr']:5g} {b:<10} {e['median']:10.3e} {e['p90']:10.3e} "
                         f"{e['max']:10.3e} {s['reached_fraction']:8.1%} "
                         f"{'-' if k is None else k:>9}{tail}")
    for row in result["per_lr"]:
        ref = result["config"]["reference"]
        if row["checkpoints"]:
            lines.append(f"{row['lr']:5g} median E_total ({ref}) after step " + ", ".join(
                f"{c['step']}: {c['E_total'][ref]['median']:.3e}" for c in row["checkpoints"])
                + f", {result['config']['steps']}: "
                + f"{row['backends'][ref]['final_loss']['median']:.3e}")
    n = len(result["disagreements"])
    lines += [f"FAIL {b}: a mistake backend, but it agrees with the others on every "
              "configuration" for b in result.get("undetected_mistakes", [])]
    lines.append("backends agree on every configuration" if n == 0 else
                 f"{n} configurations where backends DISAGREE beyond tolerance "
                 f"(listed in {DISAGREE_CSV} and report.json)")
    return "\n".join(lines)


def _csv(header, rows) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue()


def summary_csv(result: dict) -> str:
    """One row per (lr, backend): the distribution of final E_total and steps to threshold."""
    qs = ("min", "p1", "p10", "median", "p90", "p99", "max", "mean", "non_finite")
    rows = []
    for row in result["per_lr"]:
        x = row["cross_backend"]
        for b, s in row["backends"].items():
            k = s["steps_to_threshold"]
            rows.append([repr(row["lr"]), b, *(repr(s["final_loss"][q]) for q in qs),
                         s["reached"], repr(s["reached_fraction"]),
                         *("" if k[q] is None else k[q] for q in ("min", "median", "p90", "max")),
                         repr(x["worst_difference"]), repr(x["median_difference"]),
                         x["disagreements"]])
    header = ("lr", "backend", *(f"final_E_{q}" for q in qs), "reached", "reached_fraction",
              "steps_min", "steps_median", "steps_p90", "steps_max", "worst_difference",
              "median_difference", "disagreements")
    return _csv(header, rows)


def checkpoints_csv(result: dict) -> str:
    """One row per (lr, step, backend): the distribution of E_total at each checkpoint and
    at the last step."""
    qs = ("min", "p1", "p10", "median", "p90", "p99", "max", "mean", "non_finite")
    rows = []
    for row in result["per_lr"]:
        last = {"step": result["config"]["steps"],
                "E_total": {b: s["final_loss"] for b, s in row["backends"].items()}}
        for c in [*row["checkpoints"], last]:
            for b, e in c["E_total"].items():
                rows.append([repr(row["lr"]), c["step"], b, *(repr(e[q]) for q in qs)])
    return _csv(("lr", "step", "backend", *(f"E_{q}" for q in qs)), rows)


def disagreements_csv(result: dict) -> str:
    """Every configuration where the backends differ beyond tolerance (header only if none)."""
    names = result["config"]["backends"]
    rows = [[d["start"], repr(d["lr"]), *map(repr, d["weights"]),
             *(repr(d["final_loss"][b]) for b in names),
             *(d["steps_to_threshold"][b] for b in names),
             repr(d["difference"]), repr(d["ratio_to_tolerance"])]
            for d in result["disagreements"]]
    header = ("start", "lr", *(f"w{j}" for j in range(1, 9)),
              *(f"final_E_{b}" for b in names), *(f"steps_{b}" for b in names),
              "difference", "ratio_to_tolerance")
    return _csv(header, rows)


def gallery_csv(curves: list[dict]) -> str:
    """The gallery's loss curves, one row per (lr, which start, backend, step)."""
    rows = [[repr(c["lr"]), c["which"], c["start"], b, k, repr(float(v))]
            for c in curves for b, loss in c["loss"].items() for k, v in enumerate(loss)]
    return _csv(("lr", "which", "start", "backend", "step", "E_total"), rows)

