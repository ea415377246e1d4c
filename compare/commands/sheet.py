"""``autograd-compare sheet``: write the course spreadsheet with live formulas (.xlsx)."""

from __future__ import annotations

import argparse

import numpy as np

from autograd_compare import budget, validate
from autograd_compare.commands import wording
from autograd_compare.commands.options import add_network_options, positive_int
from autograd_compare.commands.progress import Progress
from autograd_compare.errors import InputError
from autograd_compare.teach.sheet import (
    FIRST_ROW,
    GIVEN,
    build,
    check_out,
    progress_steps,
    write,
)

HELP = """Write the classic course spreadsheet (.xlsx): gradient descent as live Excel formulas.

One row per iteration: w1..w8, h1 .. E_total and dw1..dw8, every one a formula of the row
above and of the named cells input_i1, input_i2, target_t1, target_t2 and learning_rate, plus
a chart of E_total. Change the learning rate in the sheet and the curve follows."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, metavar="FILE.xlsx",
                        help="where to write the workbook (refuses to overwrite without --force)")
    parser.add_argument("--force", action="store_true", help=wording.FORCE_HELP)
    parser.add_argument("--lr", type=float, default=0.5,
                        help="the learning rate cell's starting value (default 0.5)")
    parser.add_argument("--steps", type=positive_int("steps"), default=100,
                        help="gradient-descent steps, one row each after row 0 (default 100)")
    add_network_options(parser, dtype=False)
    budget.add_options(parser)


def run(args: argparse.Namespace) -> int:
    dt = np.dtype("float64")  # a spreadsheet computes in doubles
    w = validate.weights(args.weights, dt)
    example = validate.example((args.inputs, args.targets), dt)
    lr = validate.learning_rate(args.lr)
    last = FIRST_ROW + args.steps
    if last > budget.XLSX_MAX_ROWS:
        raise InputError(f"--steps {args.steps} needs rows up to {last}, beyond the xlsx limit "
                         f"of {budget.XLSX_MAX_ROWS} rows; use --steps "
                         f"{budget.XLSX_MAX_ROWS - FIRST_ROW} or fewer")
    memory, size = budget.sheet(args.steps)
    budget.check(memory, args.max_memory_mb, "memory", "--max-memory-mb")
    budget.check(size, args.max_output_mb, "spreadsheet file", "--max-output-mb")
    check_out(args.out, force=args.force)  # before the workbook is built
    with Progress(progress_steps(args.steps)) as progress:
        wb = build(w, example.inputs, example.targets, lr, args.steps, progress.step)
        path = write(wb, args.out, force=args.force, on_step=progress.step)
    lr_cell = dict((n, c) for n, _, c in GIVEN)["learning_rate"]
    print(f"wrote {path}: iterations 0..{args.steps} in rows {FIRST_ROW}..{FIRST_ROW + args.steps}"
          f" of sheet 'backprop'; the learning rate is cell {lr_cell} (name learning_rate)")
    return 0
