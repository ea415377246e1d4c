"""``autograd-compare exercise``: the tutorial's gradients to fill in, and their check."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from autograd_compare import validate
from autograd_compare.errors import InputError, OutputError

HELP = """Backpropagation by hand, as an exercise: write exercise.py, fill in its eight functions
dE_total_dw1 .. dE_total_dw8 with the tutorial's chain rule, then check them: each is run at
the class example and two other weight sets against autograd, and a wrong one is told the
likely mistake (a derivative left out, a path forgotten, another weight's gradient, ...).

  autograd-compare exercise                      # writes exercise.py (never over a file)
  autograd-compare exercise --check exercise.py  # exit 0 when all eight are right
  autograd-compare exercise --answers --out key.py   # the teacher's key"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="exercise.py", metavar="FILE",
                        help="the file to write (default exercise.py; an existing file is "
                        "kept unless --force)")
    parser.add_argument("--answers", action="store_true",
                        help="write the teacher's key (every function filled in) instead")
    parser.add_argument("--force", action="store_true", help="replace an existing --out file")
    parser.add_argument("--check", default=None, metavar="FILE",
                        help="check the functions of FILE instead of writing one")
    parser.add_argument("--json", action="store_true", help="with --check: JSON on stdout")


def run(args: argparse.Namespace) -> int:
    from autograd_compare.teach import exercise

    if args.check is not None:
        return _check(args, exercise)
    if args.json:
        raise InputError("--json goes with --check")
    out = Path(args.out)
    if out.suffix != ".py":
        raise InputError(f"--out {validate.short_text(args.out)} must end in .py (it is "
                         "imported by --check)")
    text = exercise.template(out.name, answers=args.answers)
    _write(out, text, args.force)
    what = "the answer key" if args.answers else "the exercise"
    print(f"{what} written to {out}; check it with: autograd-compare exercise --check {out}")
    return 0


def _write(out: Path, text: str, force: bool) -> None:
    """``text`` into ``out`` completely or not at all: a new file is created exclusively (two
    runs at once cannot both write it), a replaced one is renamed into place."""
    try:
        if not force:
            with open(out, "x", encoding="utf-8") as f:
                f.write(text)
            return
        tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, out)
    except FileExistsError:
        raise InputError(f"{out} exists; keep your answers, or give --force (or another "
                         "--out)") from None
    except OSError as err:
        raise OutputError(f"cannot write {out}: {err.strerror}") from None


def _check(args: argparse.Namespace, exercise) -> int:
    from autograd_compare.report.output import emit_stdout, to_json

    name, answers = exercise.check(args.check)
    right = sum(a.status == "right" for a in answers)
    if args.json:
        emit_stdout(to_json({"file": args.check, "reference": name, "ok": right == len(answers),
                             "answers": [a._asdict() for a in answers]}))
        return 0 if right == len(answers) else 1
    lines = [f"{args.check} against {exercise.REFERENCE_NAMES.get(name, name)} at the class "
             f"example and {exercise.POINTS - 1} other weight sets:"]
    for a in answers:
        shown = {"right": f"right  {a.yours!r}", "blank": "not filled in yet",
                 "wrong": f"WRONG  {a.detail}"}[a.status]
        lines.append(f"  dE_total/d{a.weight:<3} {shown}")
    wrong = sum(a.status == "wrong" for a in answers)
    lines.append(f"{right} of {len(answers)} right, {wrong} wrong, "
                 f"{len(answers) - right - wrong} not filled in yet")
    emit_stdout("\n".join(lines) + "\n")
    return 0 if right == len(answers) else 1
