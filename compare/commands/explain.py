"""``autograd-compare explain``: the chain rule with numbers, or (``--prove``) a SymPy proof."""

from __future__ import annotations

import argparse
import json

import numpy as np

from autograd_compare import budget, network, optimizers, validate
from autograd_compare.commands import options
from autograd_compare.commands.options import add_network_options, positive_int
from autograd_compare.commands.progress import Progress
from autograd_compare.errors import InputError
from autograd_compare.interface import Example
from autograd_compare.teach import errata
from autograd_compare.teach.explain import (
    BIAS_NAMES,
    TARGETS,
    explain,
    explain_network,
    is_two_two_two,
    targets,
)
from autograd_compare.teach.render import render_json, render_markdown, render_text

HELP = """Explain every gradient: the chain rule in the tutorial's notation, factor by factor.

For dE_total/dw5..dw8, dE_total/da_h1, dE_total/da_h2 and dE_total/dw1..dw4: each local
derivative with its value, the product, what PyTorch and JAX computed, and the update
w_new = w_old - lr * dE_total/dw. With --prove: SymPy derives every gradient from the forward
equations and proves the formulas in manual/ identical (exit 1 if one is not). With
--errata: the tutorial's typos, each with its correction and the check that proves it.
--preset mazur (any 2-2-2 sigmoid network) adds the bias terms; other networks (--preset
xor, --preset iris, --layers ...) get the layer-by-layer δ recursion for one example
(--example K) and the batch. --optimizer KIND shows one weight's updates (--weight,
--steps) with the optimizer's state, beside manual/optim.py, torch.optim and optax."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    options.add_network_arguments(parser)
    add_network_options(parser, weights=False)
    parser.set_defaults(inputs=None, targets=None)  # None: the network's own example
    parser.add_argument("--lr", type=float, default=None,
                        help="learning rate of the update shown after each weight (default "
                        "0.5, or the preset's)")
    parser.add_argument("--weight", default=None, metavar="NAME",
                        help="explain only this gradient: a weight w1..w8, a node "
                        + ", ".join(TARGETS[8:]) + " or a trainable bias b_h1..b_o2 (2-2-2 "
                        "networks); with --optimizer the parameter shown (default w5, or the "
                        "last layer's first weight: W2[0,0])")
    parser.add_argument("--example", type=int, default=1, metavar="K",
                        help="the example (numbered from 1, as in nodes.csv) whose δ recursion "
                        "is shown (default 1)")
    parser.add_argument("--format", choices=("text", "markdown", "json"), default="text",
                        help="plain text for a terminal (default), Markdown for notes, or JSON")
    parser.add_argument("--prove", action="store_true",
                        help="prove the formulas in manual/ with SymPy instead (exit 1 if one "
                        "is wrong)")
    parser.add_argument("--mistake", default=None, metavar="KIND",
                        help="with --prove: prove the formulas of mistake:KIND instead (one of "
                        "the formula mistakes of `autograd-compare mistakes`); each wrong one "
                        "is shown with derived / implemented")
    parser.add_argument("--errata", action="store_true",
                        help="list the tutorial's typos (or, with --preset mazur, where Mazur's "
                        "printed figures differ from the exact values), each with its check")
    options.add_optimizer_arguments(parser, default=None)
    parser.add_argument("--steps", type=positive_int("--steps"), default=None,
                        help="with --optimizer: the updates shown (default 3)")
    budget.add_options(parser, output=False)


def _setup(args: argparse.Namespace) -> tuple[str, network.Network, network.Data, np.ndarray,
                                              float]:
    """(source, network, data, start, lr) from the network options; --inputs/--targets
    replace the data by one example."""
    source, net, data, w, lr, _ = options.build(args)
    if args.inputs is not None or args.targets is not None:
        if args.data:
            raise InputError("give --data or --inputs/--targets, not both")
        inputs = data.inputs[0] if args.inputs is None else args.inputs
        targets_ = data.targets[0] if args.targets is None else args.targets
        data = network.data(net, [inputs], [targets_])
    return source, net, data, w, lr


def _is_tutorial(net: network.Network, data: network.Data) -> bool:
    return is_two_two_two(net) and net.bias == "none" and data.inputs.shape[0] == 1


def run(args: argparse.Namespace) -> int:
    if args.mistake is not None and not args.prove:
        raise InputError(f"--mistake {validate.short_text(args.mistake)} goes with --prove "
                         "(the proof of that mistake's formulas)")
    if args.steps is not None and args.optimizer is None:
        raise InputError(f"--steps {args.steps} goes with --optimizer (the updates shown); "
                         "explain without it shows the gradients at the start")
    args.steps = 3 if args.steps is None else args.steps
    dt = validate.dtype(args.dtype)
    source, net, data, w, lr = _setup(args)
    two = is_two_two_two(net) and data.inputs.shape[0] == 1
    if _is_tutorial(net, data):  # today's checks, every option counts (--prove too)
        w = validate.weights(w, dt)
        example = validate.example((data.inputs[0], data.targets[0]), dt)
        validate.representable_start(w, example, dt)
    else:
        example = Example(data.inputs[0], data.targets[0])
    lr = validate.learning_rate(lr, dt)
    if args.errata:
        return _errata(args, net, data, w, example)
    if args.prove:
        return _prove(args)
    if args.optimizer is not None:
        return _updates(args, net, data, w, example, lr, dt)
    if two:
        if args.example != 1:
            raise InputError(f"--example {args.example} is out of range: the data has 1 "
                             "example (1..1)")
        if args.weight is not None and args.weight not in targets(net):
            raise InputError(_unknown_weight(args.weight, net))
        result = explain(w, example, lr, args.weight, dt) if net.bias == "none" else \
            explain_network(net, w, example, lr, args.weight, dt)
        render = {"markdown": render_markdown, "json": render_json}.get(args.format,
                                                                        render_text)
        print(render(result))
        return 0
    from autograd_compare.teach.layers import explain_layers, layers_json, render_layers

    if args.weight is not None:
        raise InputError(f"--weight names a gradient of a 2-2-2 network; {network.describe(net)}"
                         " is shown layer by layer (--example K picks the example)")
    result_l = explain_layers(net, w, data, args.example, dt, source)
    text = render_layers(result_l)
    print(layers_json(result_l) if args.format == "json" else
          f"```text\n{text}\n```" if args.format == "markdown" else text)
    return 0


def _unknown_weight(name: str, net: network.Network) -> str:
    shown = validate.short_text(name)
    if name in BIAS_NAMES and net.bias != "trainable":
        return (f"--weight {shown}: the biases of this network are frozen (not updated, so "
                "they have no update to explain)" if net.bias == "frozen" else
                f"--weight {shown}: this network has no biases")
    return f"unknown --weight {shown}; expected one of {', '.join(targets(net))}"


def _errata(args, net, data, w, example) -> int:
    if args.preset == "mazur":
        items = errata.mazur_errata()
        text = errata.render_mazur_text
    elif _is_tutorial(net, data):
        items = errata.errata(np.asarray(w, np.float64), example)
        text = errata.render_text
    else:
        raise InputError("explain --errata lists the tutorial's typos (the tutorial network) "
                         "and Mazur's figures (--preset mazur)")
    print(json.dumps([e._asdict() for e in items], indent=2, ensure_ascii=False)
          if args.format == "json" else errata.render_markdown(items)
          if args.format == "markdown" else text(items))
    return 0


def _prove(args: argparse.Namespace) -> int:
    """manual/'s formulas (or, with --mistake, that mistake's) against SymPy's derivatives."""
    from autograd_compare.manual.mistakes import MISTAKES
    from autograd_compare.teach import prove

    if args.weight is not None and args.weight not in TARGETS + BIAS_NAMES:
        raise InputError(f"unknown --weight {validate.short_text(args.weight)}; --prove proves "
                         f"one of {', '.join(TARGETS + BIAS_NAMES)}")
    formulas = {k: m.weight_gradients for k, m in MISTAKES.items() if m.weight_gradients}
    if args.mistake is not None and args.mistake not in formulas:
        raise InputError(f"unknown --mistake {validate.short_text(args.mistake)}; formula "
                         f"mistakes: {', '.join(formulas)}")
    general: list = []
    if args.mistake is not None:  # the mistake's weight formulas only: exit 1 (they are wrong)
        verdicts = [v for v in prove.prove(formulas[args.mistake])
                    if args.weight in (None, v.name)]
        whose, more = f"mistake:{args.mistake}'s formulas", {"mistake": args.mistake}
    else:
        with Progress(2) as progress:  # SymPy: seconds
            progress.step("proving manual/gradients.py")
            verdicts = [v for v in prove.prove() if args.weight in (None, v.name)]
            progress.step("proving the formulas of any network")
            general = prove.prove_general() if args.weight is None else [  # (d) for that name
                v for v in prove.prove_two_two_two() if v.name.endswith(f" {args.weight}")]
        whose, more = "manual/gradients.py", {}
    ok = all(v.proved for v in verdicts) and all(v.proved for v in general)
    if args.format == "json":
        extra = {"general": [v._asdict() for v in general]} if args.mistake is None else {}
        print(json.dumps({"proved": ok, **more, "verdicts": [v._asdict() for v in verdicts],
                          **extra}, indent=2, ensure_ascii=False))
        return 0 if ok else 1
    if verdicts or args.mistake is not None:
        print(f"Symbolic check of {whose} against SymPy's derivatives of the forward equations:")
        print(prove.render(verdicts))
    if verdicts and general:
        print()
    if general:
        print(prove.render_general(general))
    return 0 if ok else 1


def _updates(args, net, data, w, example, lr, dt) -> int:
    from autograd_compare.teach.updates import (
        default_weight,
        explain_updates,
        progress_steps,
        render_updates,
        updates_json,
    )

    opt = optimizers.with_lr(options.optimizer_from(args), lr)
    tutorial = _is_tutorial(net, data)
    budget.check_text(budget.explain_updates(args.steps), "--steps", args.steps)
    budget.check(budget.explain_memory(args.steps, 8 if tutorial else network.n_params(net),
                                       args.format),
                 args.max_memory_mb, "memory", "--max-memory-mb")
    with Progress(progress_steps(args.steps) + 1) as progress:
        if tutorial:
            result = explain_updates(w, example, opt, args.weight or "w5", args.steps, dt,
                                     on_step=progress.step)
        else:  # any network, full batch, in its parameters' names
            result = explain_updates(w, example, opt, args.weight or default_weight(net),
                                     args.steps, dt, net, data, on_step=progress.step)
        progress.step("writing the explanation")
        text = updates_json(result) if args.format == "json" else render_updates(result)
    print(text if args.format != "markdown" else f"```text\n{text}\n```")
    return 0
