"""Command-line options shared by the commands, and ``--config FILE.toml`` loading."""

from __future__ import annotations

import argparse
import tomllib
from pathlib import Path
from typing import Any

from autograd_compare import validate
from autograd_compare.errors import InputError
from autograd_compare.interface import (
    CLASS_INPUTS,
    CLASS_TARGETS,
    CLASS_WEIGHTS,
    DTYPES,
    LEARNING_RATES,
)
from autograd_compare.registry import MISTAKE_PREFIX, REGISTRY, backends


def floats(what: str, count: int | None = None):
    """argparse ``type=`` for ``"0.1,0.2"``: a tuple of floats (``count`` of them if given)."""

    def parse(text: str) -> tuple[float, ...]:
        try:
            return tuple(validate.sequence_of_floats(text, what, count))
        except InputError as err:
            raise argparse.ArgumentTypeError(str(err)) from None

    parse.__name__ = what  # argparse names the type in its messages
    return parse


def positive_int(what: str):
    """argparse ``type=`` for a whole number >= 1."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            msg = f"{what} must be a whole number; got {text!r}"
            raise argparse.ArgumentTypeError(msg) from None
        if value < 1:
            raise argparse.ArgumentTypeError(f"{what} must be >= 1; got {value}")
        return value

    parse.__name__ = what
    return parse


def add_network_options(parser: argparse.ArgumentParser, weights: bool = True,
                        dtype: bool = True) -> None:
    """--weights, --inputs, --targets, --dtype (the class example and float64 by default).

    ``weights=False`` leaves out --weights (for commands that draw their own starts),
    ``dtype=False`` leaves out --dtype (for a spreadsheet, which computes in doubles).
    """
    joined = lambda xs: ",".join(str(x) for x in xs)  # noqa: E731
    if weights:
        parser.add_argument("--weights", type=floats("weights", 8), default=CLASS_WEIGHTS,
                            metavar="W1,...,W8",
                            help=f"starting weights (default {joined(CLASS_WEIGHTS)})")
    parser.add_argument("--inputs", type=floats("inputs", 2), default=CLASS_INPUTS,
                        metavar="I1,I2", help=f"inputs (default {joined(CLASS_INPUTS)})")
    parser.add_argument("--targets", type=floats("targets", 2), default=CLASS_TARGETS,
                        metavar="T1,T2", help=f"targets (default {joined(CLASS_TARGETS)})")
    if dtype:
        parser.add_argument("--dtype", choices=DTYPES, default="float64",
                            help="floating-point type of every backend (default float64)")


def add_lrs_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--lrs", type=floats("learning rates"), default=LEARNING_RATES,
                        metavar="LR,...", help="learning rates (default the tutorial's sweep "
                        + ",".join(str(x) for x in LEARNING_RATES) + ")")


def add_backends_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backends", type=backend_list, default=None, metavar="NAME,...",
                        help="backends to run: " + ", ".join(REGISTRY)
                        + f" or {MISTAKE_PREFIX}<kind> (default: every installed backend)")


def backend_list(text: str) -> tuple[str, ...]:
    """``"manual,torch"`` -> ("manual", "torch"); unknown names are a usage error."""
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    for name in names:
        if name not in REGISTRY and not name.startswith(MISTAKE_PREFIX):
            raise argparse.ArgumentTypeError(
                f"unknown backend {name!r}; expected one of {', '.join(REGISTRY)} "
                f"or {MISTAKE_PREFIX}<kind>")
    if not names:
        raise argparse.ArgumentTypeError("--backends needs at least one name")
    return names


def selected_backends(args: argparse.Namespace) -> tuple[str, ...]:
    """The backends asked for, or every installed one."""
    return tuple(args.backends) if args.backends else tuple(backends())


def check_lrs(lrs) -> tuple[float, ...]:
    """Every learning rate finite and > 0."""
    return tuple(validate.learning_rate(lr) for lr in lrs)


def check_network(args: argparse.Namespace) -> tuple:
    """(weights (8,), (inputs, targets)) from the options, all finite."""
    dt = validate.dtype(args.dtype)
    ex = validate.example((args.inputs, args.targets), dt)
    return tuple(validate.weights(args.weights, dt)), (tuple(ex.inputs), tuple(ex.targets))


def apply_config(parser: argparse.ArgumentParser, path: str) -> None:
    """Make the keys of a TOML file the parser's defaults; the command line still wins.

    Keys are option names without the dashes (``lrs = [0.5, 1.0]``, ``out = "rep"``,
    ``steps = 100``); an unknown key is an error that lists the known ones.
    """
    try:
        config = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as err:
        raise InputError(f"cannot read config {path!r}: {err.strerror}") from None
    except tomllib.TOMLDecodeError as err:
        raise InputError(f"config {path!r} is not valid TOML: {err}") from None
    actions = {a.dest: a for a in parser._actions if a.option_strings and a.dest != "help"}
    known = sorted(k.replace("_", "-") for k in actions if k not in ("config", "version"))
    defaults = {}
    for key, value in config.items():
        dest = key.replace("-", "_")
        if dest not in actions or dest in ("config", "version"):
            raise InputError(f"unknown config key {key!r} in {path}; expected one of "
                             + ", ".join(known))
        defaults[dest] = _as_cli_text(value, actions[dest])
        actions[dest].required = False  # given by the file
    parser.set_defaults(**defaults)


def _as_cli_text(value: Any, action: argparse.Action) -> Any:
    """TOML value -> what argparse would have received, so ``type=`` checks it the same way."""
    if isinstance(value, bool) or action.nargs == 0:
        if not isinstance(value, bool):
            raise InputError(f"config key {action.dest!r} must be true or false; got {value!r}")
        return value
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)
