"""The command line: the main job at the top level, subcommands beside it.

``autograd-compare [options]`` runs the main job (`compare.commands.run`);
``autograd-compare SUBCOMMAND [options]`` runs one of `SUBCOMMANDS`.
With no options the main job is the tutorial's class example and sweep, in the tutorial's
notation; network and optimizer options (``--preset mazur``, ``--layers ...``, ``--optimizer
adam``) run the same job on that network with that optimizer; ``check`` and ``optimizers`` are
aliases of it.
Exit codes: 0 all checks agree, 1 a check failed, 2 bad usage or input (one line, no traceback),
141 the reader of stdout closed it early (``| head``: nothing more is printed, as for other
Unix tools). The process edge is handled here once, for every command: stdout closed (``>&-``)
is an error before any work, stderr closed or full never changes the exit code, and every
line printed goes through `validate.terminal_text` (`Escaped`).
"""

from __future__ import annotations

import argparse
import difflib
import errno
import importlib
import os
import re
import sys
from types import ModuleType
from typing import Any, NoReturn, TextIO, cast

from autograd_compare.commands.options import config_args
from autograd_compare.errors import CompareError
from autograd_compare.validate import short_text, terminal_text

PROG = "autograd-compare"
NEGATIVE = re.compile(r"^-(\d|\.\d|inf|nan)", re.IGNORECASE)  # a value such as -3,3 or -1e-3
MAIN_JOB = "autograd_compare.commands.run"
# name -> module with HELP: str, add_arguments(parser) and run(args) -> int
SUBCOMMANDS = {
    "mistakes": "autograd_compare.commands.mistakes",
    "explain": "autograd_compare.commands.explain",
    "exercise": "autograd_compare.commands.exercise",
    "sheet": "autograd_compare.commands.sheet",
    "restarts": "autograd_compare.commands.restarts",
    "bench": "autograd_compare.commands.bench",
    "presets": "autograd_compare.commands.presets",
    "check": MAIN_JOB,  # aliases of the main job on any network
    "optimizers": MAIN_JOB,
}


class UsageError(CompareError):
    """Bad command-line usage (exit 2)."""


READER_GONE = 128 + 13  # 128 + SIGPIPE: what a shell reports for a Unix tool whose reader left


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit code 2, and a value it
    quotes is cut to 80 characters (`validate.short_text`)."""

    def error(self, message: str):  # noqa: D401 - argparse API
        if message.startswith("unrecognized arguments: "):
            extra = message.removeprefix("unrecognized arguments: ").split(" ")
            message = ("unrecognized arguments: "
                       + " ".join(a if len(a) <= 60 else a[:57] + "..." for a in extra[:3])
                       + (f" (and {len(extra) - 3} more)" if len(extra) > 3 else ""))
        raise UsageError(f"{message} (see '{self.prog} --help')")

    def _get_value(self, action: argparse.Action, arg_string: str) -> Any:
        try:
            return super()._get_value(action, arg_string)
        except argparse.ArgumentError as err:  # "invalid float value: 'xxx...'" in full
            raise argparse.ArgumentError(action, _cut(err.message, arg_string)) from None

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        try:
            super()._check_value(action, value)
        except argparse.ArgumentError as err:  # "invalid choice: 'xxx...'" in full
            raise argparse.ArgumentError(action, _cut(err.message, value)) from None


def _cut(message: str, value: Any) -> str:
    """argparse's own message with the whole ``repr(value)`` replaced by its short form."""
    return message.replace(repr(value), short_text(value))


class Escaped:
    """A text stream whose every write goes through `validate.terminal_text`: no control
    character from the user (a label, a path, a column name) reaches the terminal raw. JSON
    is unchanged (its strings escape control characters already, ``\\u007f`` is valid)."""

    def __init__(self, stream: TextIO, notes: bool = False) -> None:
        self.unescaped = stream  # the stream itself (a progress bar draws with \\r)
        self.notes = notes  # stderr: a write that fails is lost, it fails nothing

    def write(self, text: str) -> int:
        try:
            return self.unescaped.write(terminal_text(text))
        except (OSError, ValueError):
            if not self.notes:
                raise
            _to_devnull(2)
            return len(text)

    def flush(self) -> None:
        try:
            self.unescaped.flush()
        except (OSError, ValueError):
            if not self.notes:
                raise
            _to_devnull(2)

    def __getattr__(self, name: str) -> Any:  # flush, fileno, isatty, encoding, ...
        return getattr(self.unescaped, name)


def build_parser(module: ModuleType, prog: str) -> Parser:
    """The parser of ``module`` (the main job's, `MAIN_JOB`, under its own name or an alias)."""
    from autograd_compare import __version__

    epilog = None
    main_job = module.__name__ == MAIN_JOB and prog == PROG
    description = module.HELP
    if module.__name__ == MAIN_JOB and prog != PROG:
        description = module.ALIAS_HELP.format(name=prog.removeprefix(PROG).strip()) + description
    if main_job:
        epilog = "subcommands (each has --help):\n" + "\n".join(
            f"  {name:10s} {_help_of(name)}" for name in SUBCOMMANDS)
    parser = Parser(prog=prog, description=description, epilog=epilog,
                    formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    parser.add_argument("--config", metavar="FILE.toml",
                        help="read options from a TOML file (keys = option names without --; "
                        "the command line wins)")
    module.add_arguments(parser)
    if main_job:  # the usage line names the subcommands before the main job's options
        options = parser.format_usage().removeprefix("usage: ").removeprefix(prog).strip()
        parser.usage = f"{prog} {{{','.join(SUBCOMMANDS)}}} ...\n       {prog} {options}"
    return parser


def unknown_subcommand(word: str) -> str:
    """The error for ``autograd-compare WORD`` when WORD is no subcommand: choices, a guess."""
    guess = difflib.get_close_matches(word, SUBCOMMANDS, n=1, cutoff=0.6)
    hint = f"; did you mean {guess[0]!r}?" if guess else ""
    return (f"unknown subcommand {short_text(word)}; choose from {', '.join(SUBCOMMANDS)}, "
            "or give only "
            f"options for the main job{hint}")


def _help_of(name: str) -> str:
    try:
        module = importlib.import_module(SUBCOMMANDS[name])
        return module.HELP.splitlines()[0]
    except ImportError:  # a subcommand whose module is not written yet
        return ""


def attach_negative_values(argv: list[str]) -> list[str]:
    """``--range -3,3`` -> ``--range=-3,3``: argparse would read ``-3,3`` as an option."""
    out: list[str] = []
    for token in argv:
        if out and NEGATIVE.match(token) and out[-1].startswith("--") and "=" not in out[-1]:
            out[-1] = f"{out[-1]}={token}"
        else:
            out.append(token)
    return out


def main(argv: list[str] | None = None) -> int:
    """Run one command line; the exit code (see the module docstring)."""
    stdout, stderr = sys.stdout, sys.stderr
    if stderr is None:  # started with stderr closed (2>&-): its notes go nowhere
        stderr = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - lives to the exit
    sys.stdout = cast(TextIO, Escaped(stdout)) if stdout is not None else stdout
    sys.stderr = cast(TextIO, Escaped(stderr, notes=True))
    try:
        if stdout is None:  # started with stdout closed (>&-): the results would be lost
            _say("cannot write to standard output: it is closed; redirect it to a file or to "
                 "/dev/null instead")
            return 2
        return _run(argv)
    finally:
        sys.stdout, sys.stderr = stdout, stderr


def _say(message: str) -> None:
    """One line on stderr; a stderr that fails (closed, full) loses it, nothing else."""
    try:
        print(f"{PROG}: {message}", file=sys.stderr, flush=True)
    except (OSError, ValueError):
        _to_devnull(2)


def _to_devnull(fd: int) -> None:
    """Point ``fd`` at /dev/null: what is still buffered for it cannot fail again at exit."""
    try:
        devnull = os.open(os.devnull, os.O_RDWR)
        if devnull != fd:  # a closed ``fd`` is the lowest free one: open() already took it
            os.dup2(devnull, fd)
            os.close(devnull)
    except OSError:
        pass


def _reader_gone(err: BaseException) -> bool:
    """The error is (or was caused by) a write to a pipe whose reader has closed it."""
    seen: BaseException | None = err
    while seen is not None:
        if isinstance(seen, BrokenPipeError) or getattr(seen, "errno", None) == errno.EPIPE:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _run(argv: list[str] | None) -> int:
    argv = attach_negative_values(list(sys.argv[1:] if argv is None else argv))
    try:
        if argv and argv[0] in SUBCOMMANDS:
            module = importlib.import_module(SUBCOMMANDS[argv[0]])
            prog, argv = f"{PROG} {argv[0]}", argv[1:]
        elif argv and not argv[0].startswith("-"):  # the main job takes no positional words
            raise UsageError(unknown_subcommand(argv[0]))
        else:  # the main job
            module, prog = importlib.import_module(MAIN_JOB), PROG
        parser = build_parser(module, prog)
        args = parser.parse_args(config_args(parser, argv))  # --config's keys as flags, first
        return int(module.run(args))
    except (CompareError, OSError) as err:
        if _reader_gone(err):  # `| head`: the reader's choice, not an error; nothing to say
            _to_devnull(1)
            return READER_GONE
        if isinstance(err, CompareError):
            _say(f"error: {err}")
        else:  # a file the user named cannot be read or written
            where = f" {short_text(err.filename)}" if err.filename else ""
            _say(f"error: {err.strerror or err}{where}")
        return 2
    except KeyboardInterrupt:
        _say("interrupted")
        return 130


def console() -> NoReturn:
    """The ``autograd-compare`` command (and ``python -m autograd_compare``): `main`, then exit
    at once.

    When `main` returns, every file is written, closed and in its place, and every Dask
    cluster is closed. What is left is the interpreter's teardown: running the
    destructors of every module object, about 0.4 s for torch alone on the benchmark machine
    (docs/performance.md), which a finished command has no use for. So: flush stdout and stderr,
    then `os._exit`. A flush of stdout that fails exits `READER_GONE` for a closed pipe, else
    120 as Python's own teardown would; stderr failing changes nothing. A closed stdout or
    stderr (``>&-``) gets /dev/null on its descriptor first, so that no file the command opens
    takes descriptor 1 or 2. `main` itself, called from Python (tests, notebooks), returns
    normally.
    """
    for fd in (0, 1, 2):  # a closed descriptor: the next open() would get it
        try:
            os.fstat(fd)
        except OSError:
            _to_devnull(fd)
    code = main()
    try:
        if sys.stdout is not None:
            sys.stdout.flush()
    except (OSError, ValueError) as err:  # a closed pipe, or a stream closed by the caller
        code = code or (READER_GONE if _reader_gone(err) else 120)
    try:
        if sys.stderr is not None:
            sys.stderr.flush()
    except (OSError, ValueError):
        pass
    os._exit(code)
