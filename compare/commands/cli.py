"""The command line: the main job at the top level, subcommands beside it.

``autograd-compare [options]`` runs the main job (`compare.commands.run`);
``autograd-compare SUBCOMMAND [options]`` runs one of `SUBCOMMANDS`.
With no network or optimizer option the main job is the tutorial's class example and sweep
(`run.add_arguments`, in the tutorial's notation); given one (`run.NETWORK_OPTIONS`,
`run.OPTIMIZER_OPTIONS`: ``--preset mazur``, ``--layers ...``, ``--optimizer adam``) it is the
same job on that network with that optimizer (`run.add_network_arguments`); ``check`` and
``optimizers`` are aliases of the latter.
Exit codes: 0 all checks agree, 1 a check failed, 2 bad usage or input (one line, no traceback).
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import os
import re
import sys
from types import ModuleType
from typing import NoReturn

from autograd_compare.commands.options import config_args
from autograd_compare.errors import CompareError

PROG = "autograd-compare"
NEGATIVE = re.compile(r"^-(\d|\.\d|inf|nan)", re.IGNORECASE)  # a value such as -3,3 or -1e-3
MAIN_JOB = "autograd_compare.commands.run"
# name -> module with HELP: str, add_arguments(parser) and run(args) -> int
SUBCOMMANDS = {
    "mistakes": "autograd_compare.commands.mistakes",
    "explain": "autograd_compare.commands.explain",
    "sheet": "autograd_compare.commands.sheet",
    "restarts": "autograd_compare.commands.restarts",
    "bench": "autograd_compare.commands.bench",
    "presets": "autograd_compare.commands.presets",
    "check": MAIN_JOB,  # aliases of the main job on any network
    "optimizers": MAIN_JOB,
}


class UsageError(CompareError):
    """Bad command-line usage (exit 2)."""


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit code 2."""

    def error(self, message: str):  # noqa: D401 - argparse API
        raise UsageError(f"{message} (see '{self.prog} --help')")


def build_parser(module: ModuleType, prog: str, any_network: bool = False) -> Parser:
    """The parser of ``module``; the main job's (`MAIN_JOB`) is the tutorial's, or with
    ``any_network`` (always under an alias) the one for any network and optimizer."""
    from autograd_compare import __version__

    epilog = None
    any_network = module.__name__ == MAIN_JOB and (any_network or prog != PROG)
    main_job = module.__name__ == MAIN_JOB and not any_network
    description = module.NETWORK_HELP if any_network else module.HELP
    if any_network and prog != PROG:
        description = module.ALIAS_HELP.format(name=prog.removeprefix(PROG).strip()) + description
    if main_job:
        epilog = "subcommands (each has --help):\n" + "\n".join(
            f"  {name:10s} {_help_of(name)}" for name in SUBCOMMANDS) + (
            "\n\nanother network or an optimizer: with --preset NAME, --layers ... or "
            "--optimizer KIND the main job runs on that network with that optimizer (see "
            "'autograd-compare --preset xor --help')")
    parser = Parser(prog=prog, description=description, epilog=epilog,
                    formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    parser.add_argument("--config", metavar="FILE.toml",
                        help="read options from a TOML file (keys = option names without --; "
                        "the command line wins)")
    (module.add_network_arguments if any_network else module.add_arguments)(parser)
    if main_job:  # the usage line names the subcommands before the main job's options
        options = parser.format_usage().removeprefix("usage: ").removeprefix(prog).strip()
        parser.usage = f"{prog} {{{','.join(SUBCOMMANDS)}}} ...\n       {prog} {options}"
    return parser


def unknown_subcommand(word: str) -> str:
    """The error for ``autograd-compare WORD`` when WORD is no subcommand: choices, a guess."""
    guess = difflib.get_close_matches(word, SUBCOMMANDS, n=1, cutoff=0.6)
    hint = f"; did you mean {guess[0]!r}?" if guess else ""
    return (f"unknown subcommand {word!r}; choose from {', '.join(SUBCOMMANDS)}, or give only "
            f"options for the main job{hint}")


def _help_of(name: str) -> str:
    try:
        module = importlib.import_module(SUBCOMMANDS[name])
        return (module.NETWORK_HELP if SUBCOMMANDS[name] == MAIN_JOB else module.HELP
                ).splitlines()[0]
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


def _any_network(argv: list[str]) -> bool:
    """A network or an optimizer option is given: the main job is any network's."""
    from autograd_compare.commands import run

    given = {t.split("=", 1)[0] for t in argv if t.startswith("--")}
    for i, token in enumerate(argv):  # a --config file's keys count as its flags
        path = token.partition("=")[2] if token.startswith("--config=") else (
            argv[i + 1] if token == "--config" and i + 1 < len(argv) else None)
        if path:
            from autograd_compare.commands.options import read_config
            from autograd_compare.validate import short_text

            given |= {f"--{k.replace('_', '-')}" for k in read_config(path, short_text(path))}
    if not given & {*run.NETWORK_OPTIONS, *run.OPTIMIZER_OPTIONS}:
        return False
    for name in run.TUTORIAL_ONLY:
        if name in given:
            raise UsageError(f"{name} is for the tutorial's network with plain gradient "
                             "descent (the bare main job); with a network or an optimizer "
                             "option it does not apply")
    return True


def main(argv: list[str] | None = None) -> int:
    argv = attach_negative_values(list(sys.argv[1:] if argv is None else argv))
    try:
        any_network = False
        if argv and argv[0] in SUBCOMMANDS:
            module = importlib.import_module(SUBCOMMANDS[argv[0]])
            prog, argv = f"{PROG} {argv[0]}", argv[1:]
        elif argv and not argv[0].startswith("-"):  # the main job takes no positional words
            raise UsageError(unknown_subcommand(argv[0]))
        else:  # the main job: with a network or an optimizer option, any network's
            module, prog = importlib.import_module(MAIN_JOB), PROG
            any_network = _any_network(argv)
        parser = build_parser(module, prog, any_network)
        args = parser.parse_args(config_args(parser, argv))  # --config's keys as flags, first
        return int(module.run(args))
    except CompareError as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # a file the user named cannot be read or written
        where = f" {err.filename!r}" if err.filename else ""
        print(f"{PROG}: error: {err.strerror or err}{where}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


def console() -> NoReturn:
    """The ``autograd-compare`` command (and ``python -m autograd_compare``): `main`, then exit
    at once.

    When `main` returns, every file is written, closed and in its place, and every Dask
    cluster is closed. What is left is the interpreter's teardown: running the
    destructors of every module object, about 0.4 s for torch alone on the benchmark machine
    (docs/performance.md), which a finished command has no use for. So: flush stdout and stderr,
    then `os._exit`. A flush that fails (the reader of stdout went away) exits 120, as Python's
    own teardown would. `main` itself, called from Python (tests, notebooks), returns normally.
    """
    code = main()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):  # a closed pipe, or a stream closed by the caller
        code = code or 120
    os._exit(code)
