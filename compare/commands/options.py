"""Command-line options shared by the commands, and ``--config FILE.toml`` loading."""

from __future__ import annotations

import argparse
import itertools
import tomllib
from typing import TYPE_CHECKING, Any

import numpy as np

from autograd_compare import budget, network, optimizers, plugins, validate
from autograd_compare.errors import CompareError, InputError
from autograd_compare.interface import (
    CLASS_INPUTS,
    CLASS_TARGETS,
    CLASS_WEIGHTS,
    DTYPES,
    LEARNING_RATES,
)
from autograd_compare.registry import MISTAKE_PREFIX, REGISTRY, backends

if TYPE_CHECKING:
    from autograd_compare.report.network_output import DataColumns


def floats(what: str, count: int | None = None):
    """argparse ``type=`` for ``"0.1,0.2"``: a tuple of floats (``count`` of them if given)."""

    def parse(text: str) -> tuple[float, ...]:
        try:
            return tuple(validate.sequence_of_floats(text, what, count))
        except InputError as err:
            raise argparse.ArgumentTypeError(str(err)) from None

    parse.__name__ = what  # argparse names the type in its messages
    return parse


def positive_int(what: str, maximum: int = validate.MAX_COUNT):
    """argparse ``type=`` for a whole number from 1 to ``maximum``."""

    def parse(text: str) -> int:
        try:
            value = int(text) if len(text) <= 40 else None
        except ValueError:
            value = None
        if value is None:
            msg = f"{what} must be a whole number; got {validate.short_text(text)}"
            raise argparse.ArgumentTypeError(msg) from None
        if value < 1:
            raise argparse.ArgumentTypeError(f"{what} must be >= 1; got {value}")
        if value > maximum:
            raise argparse.ArgumentTypeError(f"{what} must be <= {maximum}; got {value}")
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
                        help="backends to run: " + ", ".join(backends())
                        + f", {MISTAKE_PREFIX}<kind>, or your own gradients as "
                        "package.module:function (default: manual, torch, jax as installed)")


def backend_list(text: str) -> tuple[str, ...]:
    """``"manual,torch"`` -> ("manual", "torch"); unknown or repeated names are usage errors."""
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    for i, name in enumerate(names):
        if name not in REGISTRY and not name.startswith(MISTAKE_PREFIX) \
                and not plugins.is_plugin(name):
            raise argparse.ArgumentTypeError(
                f"unknown backend {validate.short_text(name)}; expected one of "
                f"{', '.join(backends())}, {MISTAKE_PREFIX}<kind> or package.module:function")
        if name in names[:i]:
            raise argparse.ArgumentTypeError(
                f"backend {validate.short_text(name)} is listed twice in --backends")
    if not names:
        raise argparse.ArgumentTypeError("--backends needs at least one name")
    return names


def selected_backends(args: argparse.Namespace) -> tuple[str, ...]:
    """The backends asked for, or every installed built-in one."""
    return tuple(args.backends) if args.backends else tuple(backends(plugins=False))


def with_reference(names: tuple[str, ...]) -> tuple[tuple[str, ...], str | None]:
    """``names`` with the first correct backend moved to the front (the reference), or "manual"
    put there when every one is a mistake (a mistake needs a correct backend to be compared
    with); and the name added (or None)."""
    correct = [n for n in names if not n.startswith(MISTAKE_PREFIX)]
    if names and not correct:
        return ("manual", *names), "manual"
    if not correct:
        return tuple(names), None
    return (correct[0], *(n for n in names if n != correct[0])), None


def check_lrs(lrs, dtype: Any = "float64") -> tuple[float, ...]:
    """Every learning rate finite and > 0 in ``dtype`` (rounded to it), none listed twice."""
    out = tuple(validate.learning_rate(lr, dtype) for lr in lrs)
    for i, lr in enumerate(out):
        if lr in out[:i]:
            same = "" if lrs[i] == lrs[out.index(lr)] else f" in {validate.dtype(dtype).name}"
            raise InputError(f"learning rate {lrs[i]!r} is listed twice{same} (equal to "
                             f"{lrs[out.index(lr)]!r}); give each rate once")
    return out


# --- any network: a preset or your own --------------------------------------------------------
def _activations(text: str) -> tuple[str, ...]:
    """--activations: names, a parameter after a colon (leaky-relu:0.2): `activation_name`."""
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    if not names:
        raise argparse.ArgumentTypeError("activation needs at least one name")
    try:
        return tuple(network.activation_name(n) for n in names)
    except InputError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


_activations.__name__ = "activation"


def _sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(p) if len(p.strip()) <= 40 else -1 for p in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--layers must be whole numbers like 2,3,1; "
                                         f"got {validate.short_text(text)}") from None
    if len(sizes) < 2 or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"--layers needs an input size and at least one "
                                         f"layer, each a whole number from 1 (at most 40 "
                                         f"digits); got {validate.short_text(text)}")
    return sizes


def add_network_arguments(parser: argparse.ArgumentParser) -> None:
    """--preset, --layers, --activations, --bias, --bias-values, --loss, --reduction, --data,
    --weights, --seed: the network options `build` reads (``explain`` and ``optimizers`` take
    them too)."""
    parser.add_argument("--preset", choices=tuple(network.PRESETS), default=None,
                        help="a ready-made network (see 'autograd-compare presets'); "
                        "default tutorial unless --layers is given")
    add_own_network_arguments(parser)
    parser.add_argument("--weights", type=floats("weights"), metavar="W,...",
                        help="starting parameters in PyTorch's parameters_to_vector order "
                        "(W1 row-major, b1, W2, ...); default: the preset's, or "
                        "U(-0.5, 0.5) drawn with --seed")
    parser.add_argument("--seed", type=int, default=0, help="for the random start (default 0)")


def add_own_network_arguments(parser: argparse.ArgumentParser) -> None:
    """--layers, --activations, --bias, --bias-values, --loss, --reduction, --data: a network
    of your own (``restarts`` takes these; it has its own --preset and --seed)."""
    parser.add_argument("--layers", type=_sizes, metavar="N0,N1,...",
                        help="your own network: input size, then each layer's width")
    parser.add_argument("--activations", type=_activations,
                        metavar="F1,...", help="one per layer, or one for all "
                        f"({network.activation_choices()}, e.g. leaky-relu:0.2; softmax last "
                        "with cross-entropy, log-softmax last with nll, sigmoid last with bce)")
    parser.add_argument("--bias", choices=network.BIAS_MODES, default=None,
                        help="biases: none (default), trainable, or frozen (with --bias-values)")
    parser.add_argument("--bias-values", type=floats("bias values"), metavar="B,...",
                        help="frozen biases: one per layer (shared by its neurons) or one per "
                        "neuron")
    parser.add_argument("--loss", choices=network.LOSSES, default=None,
                        help="half-sse (default, ½Σ(t-a)²), mse, cross-entropy (softmax), bce "
                        "(sigmoid, from the logits) or nll (log-softmax)")
    parser.add_argument("--reduction", choices=network.REDUCTIONS, default=None,
                        help="over examples: sum (default), mean (PyTorch's: over B·n_out "
                        "for squared errors) or mean-examples (over B only, as scikit-learn)")
    parser.add_argument("--data", metavar="FILE.csv",
                        help="header row, then per row the inputs and then the targets")


CUSTOM = ("activations", "bias", "bias_values", "loss", "reduction")
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
            data = read_data(args, net)
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
        _check_memory(args, budget.parameters(network.n_params(net)))  # before any array
        data = read_data(args, net)
        if args.seed < 0:
            raise InputError(f"--seed must be >= 0; got {args.seed}")
        rng = np.random.default_rng(args.seed)
        w, lr, steps, source = (rng.uniform(-0.5, 0.5, network.n_params(net)), 0.1, 100,
                                "your network")
    if args.weights is not None:
        w = network.weights(net, args.weights)
    lr = args.lr if args.lr is not None else lr
    steps = args.steps if args.steps is not None else steps
    return source, net, data, w, validate.learning_rate(lr), steps


def _check_memory(args: argparse.Namespace, estimate: float) -> None:
    budget.check(estimate, getattr(args, "max_memory_mb", budget.DEFAULT_MEMORY_MB), "memory",
                 "--max-memory-mb")


def read_data(args: argparse.Namespace, net: network.Network) -> network.Data:
    """The --data file (`network.read_text`, the one reader), sized by its line count before
    it is parsed (`budget.data_file`)."""
    text = network.read_text(args.data)
    _check_memory(args, budget.data_file(text.count("\n") + 1, net.sizes[0] + net.sizes[-1]))
    return network.parse_csv(net, text, validate.short_text(args.data))


def _bias_values(args: argparse.Namespace):
    v = args.bias_values
    if v is None:
        return None
    sizes = args.layers[1:]
    if len(v) == len(sizes):
        return list(v)
    if len(v) == sum(sizes):  # layer l's neurons: v[end_l - n_l : end_l]
        return [list(v[end - n:end]) for end, n in zip(itertools.accumulate(sizes), sizes)]
    raise InputError(f"--bias-values needs {len(sizes)} values (one per layer) or "
                     f"{sum(sizes)} (one per neuron); got {len(v)}")


def columns(args: argparse.Namespace, net: network.Network) -> DataColumns:
    """The data's column names: the --data CSV's header, the shipped Iris file's, or the
    notation's (i1, i2, t1, t2 for the 2-2-2 presets)."""
    from autograd_compare.report import network_output

    if args.data:
        return network_output.read_columns(net, args.data)
    if args.layers is None and (args.preset or "tutorial") == "iris":
        return network_output.header_columns(net, network.iris_text(), None)
    return network_output.default_columns(net)


# --- the optimizer ---------------------------------------------------------------------------
def add_optimizer_arguments(parser: argparse.ArgumentParser, default: str | None = "sgd") -> None:
    """--optimizer (``default``) and its settings: what `_optimizer` reads (``restarts`` and
    ``explain`` take them too, with ``default`` None)."""
    parser.add_argument("--optimizer", default=default, metavar="KIND",
                        help="one of " + ", ".join(optimizers.KINDS)
                        + (f" (default {default})" if default else ""))
    parser.add_argument("--momentum", default=None, metavar="MU",
                        help="momentum μ in (0, 1), for momentum, nesterov and "
                        "textbook-momentum (default 0.9)")
    parser.add_argument("--dampening", default=None, metavar="TAU",
                        help="dampening τ of --optimizer momentum, in [0, 1) (default 0)")
    parser.add_argument("--weight-decay", default=None, metavar="WD",
                        help="weight decay: coupled (g + wd*w), decoupled for adamw (default 0)")
    parser.add_argument("--l2", default=None, metavar="LAMBDA",
                        help="add λ/2·Σw² to the loss, over the weights (the biases too with "
                        "--decay-biases yes); the gradient check includes it (default 0)")
    parser.add_argument("--decay-biases", default=None, type=yes_no("--decay-biases"),
                        metavar="yes|no", help="whether --l2 and --weight-decay act on the "
                        "trainable biases too (default: yes for --weight-decay, as "
                        "torch.optim; no for --l2, as scikit-learn's alpha and Keras)")
    parser.add_argument("--betas", type=floats("betas", 2), default=None,
                        metavar="B1,B2", help="Adam's β1, β2 (default 0.9,0.999)")
    parser.add_argument("--eps", default=None, help="Adam's ε (default 1e-8)")
    parser.add_argument("--lr-change", type=floats("--lr-change", 2), default=None,
                        metavar="K,LR", help="from update K+1 on, use learning rate LR")


OPTIMIZER_SETTINGS = ("momentum", "dampening", "weight_decay", "l2", "betas", "eps", "lr_change",
                      "decay_biases")


def yes_no(what: str):
    """argparse ``type=`` for ``yes`` / ``no``: True / False (anything else: one line)."""

    def parse(text: str) -> bool:
        if text not in ("yes", "no"):
            raise argparse.ArgumentTypeError(f"{what} must be yes or no; got "
                                             f"{validate.short_text(text)}")
        return text == "yes"

    parse.__name__ = what
    return parse


def optimizer_from(args: argparse.Namespace, kind: str | None = None) -> optimizers.Optimizer:
    """The checked `Optimizer` the options describe (lr 1: each run sets its own).

    A setting that the optimizer does not use (--betas with momentum, --dampening with adam)
    is a one-line error, as is any setting without an --optimizer when ``kind`` is None.
    """
    kind = kind if kind is not None else args.optimizer
    given = [f"--{k.replace('_', '-')}" for k in OPTIMIZER_SETTINGS
             if getattr(args, k) is not None]
    if kind is None:
        if given:
            verb = "needs" if len(given) == 1 else "need"
            raise InputError(f"{', '.join(given)} {verb} --optimizer KIND (one of "
                             f"{', '.join(optimizers.KINDS)})")
        kind = "sgd"
    for flag, kinds in (("betas", optimizers.ADAM_KINDS), ("eps", optimizers.ADAM_KINDS),
                        ("momentum", optimizers.MOMENTUM_KINDS), ("dampening", ("momentum",))):
        if getattr(args, flag) is not None and kind in optimizers.KINDS and kind not in kinds:
            names = " and ".join([", ".join(kinds[:-1]), kinds[-1]] if kinds[:-1] else kinds)
            raise InputError(f"--{flag} applies to {names}; got --optimizer "
                             f"{validate.short_text(kind)}")
    change = None
    if args.lr_change is not None:
        k, lr2 = args.lr_change
        if k != int(k):
            raise InputError(f"--lr-change step must be a whole number >= 1; got {k!r}")
        change = (int(k), lr2)
    def value(name: str, default: object) -> object:
        v = getattr(args, name)
        return default if v is None else v

    return optimizers.make(kind, lr=1.0, momentum=args.momentum,
                           dampening=value("dampening", 0.0),
                           weight_decay=value("weight_decay", 0.0), l2=value("l2", 0.0),
                           betas=value("betas", (0.9, 0.999)), eps=value("eps", 1e-8),
                           lr_change=change, decay_biases=getattr(args, "decay_biases", None))


# --- a Dask scheduler ------------------------------------------------------------------------
DASK_SCHEMES = ("tcp", "tls", "ws", "wss", "ucx", "inproc")  # distributed's address schemes


def dask_address(text: str) -> str:
    """argparse ``type=`` for --dask-scheduler: ``[SCHEME://]HOST:PORT`` (``inproc://...``
    as it is); anything else is a one-line usage error before Dask is imported."""
    scheme, sep, rest = text.partition("://")
    if not sep:
        scheme, rest = "tcp", text
    host, colon, port = rest.rpartition(":")
    ok = scheme in DASK_SCHEMES and (scheme == "inproc" and bool(rest) or (
        bool(colon) and port.isdigit() and 0 < int(port[:6]) < 65536 and bool(host)
        and not any(c.isspace() or c in "/?#" for c in host)))
    if not ok:
        raise argparse.ArgumentTypeError(
            f"--dask-scheduler must be an address such as tcp://10.0.0.5:8786 "
            f"([{'|'.join(DASK_SCHEMES)}://]HOST:PORT); got {validate.short_text(text)}")
    return text


# --- --config FILE.toml --------------------------------------------------------------------
MAX_CONFIG_BYTES = 1 << 20  # a config file is a few lines; refuse to read more than 1 MiB
NO_CONFIG = ("config", "version", "help")


def config_args(parser: argparse.ArgumentParser, argv: list[str]) -> list[str]:
    """The command line with the ``--config FILE.toml`` values put in front, as flags.

    One parser for every source: each key of the file becomes the command-line text
    ``--key=VALUE`` and goes through the parser, so its ``type=``, ``choices`` and checks
    are exactly those of the flag; later (command-line) flags win. The file is checked on its
    own first, so an error names the file. At most one ``--config``, at most 1 MiB, UTF-8.
    """
    paths = _config_paths(parser, argv)
    if not paths:
        return argv
    if len(paths) > 1:
        raise InputError(f"--config is given {len(paths)} times; give one file (its values "
                         "can be overridden by flags)")
    path = paths[0]
    if not path:
        raise InputError("--config needs a file name; got ''")
    shown = validate.short_text(path)
    config = read_config(path, shown)
    actions = {a.dest: a for a in parser._actions
               if a.option_strings and a.dest not in NO_CONFIG}
    unknown = [k for k in config if k.replace("-", "_") not in actions]
    if unknown:
        known = sorted(k.replace("_", "-") for k in actions)
        expected = ("; expected one of " + ", ".join(known)) if known else \
            "; this command takes no options from a config file"
        raise InputError(f"unknown config key{'s' if len(unknown) > 1 else ''} "
                         + ", ".join(validate.short_text(k) for k in unknown)
                         + f" in {shown}{expected}")
    args: list[str] = []
    for key, value in config.items():
        args += _as_cli_args(key, value, actions[key.replace("-", "_")], shown)
    _check_alone(parser, args, shown)
    return args + argv


def _config_paths(parser: argparse.ArgumentParser, argv: list[str]) -> list[str]:
    """Every ``--config`` value of ``argv``: ``--config F``, ``--config=F`` or an unambiguous
    abbreviation (``--conf F``), as argparse itself would read them."""
    others = [o for a in parser._actions for o in a.option_strings if o != "--config"]
    paths = []
    i = 0
    while i < len(argv):
        token = argv[i]
        if token == "--":
            break
        name, eq, value = token.partition("=")
        if (len(name) > 2 and "--config".startswith(name)
                and not any(o.startswith(name) for o in others)):
            if eq:
                paths.append(value)
            elif i + 1 < len(argv):
                if looks_like_option(argv[i + 1]):
                    raise InputError(f"{token} needs a file name; got the option "
                                     f"{validate.short_text(argv[i + 1])} (a file whose name "
                                     "starts with '-': --config=./NAME)")
                paths.append(argv[i + 1])
                i += 1
            else:
                raise InputError(f"{token} needs a file name")
        i += 1
    return paths


def looks_like_option(token: str) -> bool:
    """``--backends`` or ``-h`` (not ``-`` alone, not a negative number ``-3``)."""
    return token.startswith("-") and len(token) > 1 and not (token[1].isdigit()
                                                             or token[1] == ".")


def read_config(path: str, shown: str) -> dict:
    """The TOML file's keys and values (at most 1 MiB, UTF-8, a leading byte-order mark
    dropped), or a one-line InputError."""
    data = validate.read_bounded(path, MAX_CONFIG_BYTES, f"config {shown}",
                                 "a config file holds a few options")
    try:
        text = data.decode("utf-8-sig")  # a byte-order mark (Windows editors) is no TOML
    except UnicodeDecodeError as err:
        raise InputError(f"config {shown} is not UTF-8 text (byte {err.start})") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise InputError(f"config {shown} is not valid TOML: {err}") from None


def _as_cli_args(key: str, value: Any, action: argparse.Action, shown: str) -> list[str]:
    """One TOML key -> the flags a user would have typed (``[]`` for a false switch)."""
    flag = action.option_strings[-1]
    where = f"config key {validate.short_text(key)} in {shown}"
    if action.nargs == 0:  # a switch (--force, --json): true or false, nothing else
        if not isinstance(value, bool):
            raise InputError(f"{where} must be true or false; got {_toml_text(value)}")
        return [flag] if value else []
    if isinstance(value, list):
        if not value:
            raise InputError(f"{where} is an empty list")
        parts = [_scalar_text(v, where) for v in value]
        if any("," in p for p in parts):
            raise InputError(f"{where}: a list entry contains a comma")
        return [f"{flag}={','.join(parts)}"]
    return [f"{flag}={_scalar_text(value, where)}"]


def _scalar_text(value: Any, where: str) -> str:
    if isinstance(value, bool):
        raise InputError(f"{where} must be a number or text, not {_toml_text(value)}")
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return repr(value)
    raise InputError(f"{where} must be a number or text; got {_toml_text(value)}")


def _toml_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return validate.short_text(value)


def _check_alone(parser: argparse.ArgumentParser, args: list[str], shown: str) -> None:
    """Parse the file's flags alone (required options relaxed) so an error names the file."""
    required = [a for a in parser._actions if a.required]
    for a in required:
        a.required = False
    try:
        parser.parse_args(args)
    except CompareError as err:
        raise InputError(f"in config {shown}: {err}") from None
    finally:
        for a in required:
            a.required = True
