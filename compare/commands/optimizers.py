"""``autograd-compare optimizers``: momentum, weight decay, L2 and Adam, backend by backend."""

from __future__ import annotations

import argparse

from autograd_compare import optimizers, registry, validate
from autograd_compare.commands.options import (
    add_lrs_option,
    add_network_options,
    check_lrs,
    check_network,
    floats,
    positive_int,
)

HELP = """Train with an optimizer in every backend and compare them step by step.

manual writes each update rule by hand, torch uses torch.optim (SGD, Adam, AdamW), jax uses
optax; weights, gradients and the optimizer's state (velocity; Adam's m, v and step count)
are compared after every step, and the first divergence is named ("v5 after step 3").
textbook-momentum (v = mu*v - lr*g, w = w + v) is manual only; torch and jax run PyTorch's
momentum beside it and only the weights are compared.
Exit 0: all agree; 1: a backend diverges; 2: bad input.
Example: autograd-compare optimizers --optimizer adamw --weight-decay 0.01 --lrs 0.1,0.5"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_optimizer_arguments(parser)
    add_lrs_option(parser)
    parser.add_argument("--steps", type=positive_int("--steps"), default=100,
                        help="updates per run (default 100)")
    parser.add_argument("--backends", default=None, metavar="NAME,...",
                        help="backends, the first is the reference: manual, torch, jax or "
                        "mistake:<name> (" + ", ".join(_mistakes()) + "); default: every "
                        "installed one")
    add_network_options(parser)


def add_optimizer_arguments(parser: argparse.ArgumentParser, default: str | None = "sgd") -> None:
    """--optimizer (``default``), --momentum, --dampening, --weight-decay, --l2, --betas,
    --eps, --lr-change: what `_optimizer` reads (shared with ``explain --optimizer``)."""
    parser.add_argument("--optimizer", default=default, metavar="KIND",
                        help="one of " + ", ".join(optimizers.KINDS)
                        + (f" (default {default})" if default else ""))
    parser.add_argument("--momentum", default=None, metavar="MU",
                        help="momentum μ in [0, 1) (default 0.9 for the momentum kinds)")
    parser.add_argument("--dampening", default="0", metavar="TAU",
                        help="dampening τ of momentum, in [0, 1) (default 0)")
    parser.add_argument("--weight-decay", default="0", metavar="WD",
                        help="weight decay: coupled (g + wd*w), decoupled for adamw (default 0)")
    parser.add_argument("--l2", default="0", metavar="LAMBDA",
                        help="add λ/2·Σw² to the loss (default 0)")
    parser.add_argument("--betas", type=floats("betas", 2), default=(0.9, 0.999),
                        metavar="B1,B2", help="Adam's β1, β2 (default 0.9,0.999)")
    parser.add_argument("--eps", default="1e-8", help="Adam's ε (default 1e-8)")
    parser.add_argument("--lr-change", type=floats("--lr-change", 2), default=None,
                        metavar="K,LR", help="from update K+1 on, use learning rate LR")


def _mistakes() -> list[str]:
    from autograd_compare.manual.optim import MISTAKES

    return list(MISTAKES)


def _backends(text: str | None) -> list[str]:
    from autograd_compare.errors import InputError
    from autograd_compare.harness import optim_check

    if text is None:
        return optim_check.available()
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise InputError(f"--backends needs at least one name; got {text!r}")
    for name in names:
        if name.startswith(optim_check.MISTAKE_PREFIX):
            if name[len(optim_check.MISTAKE_PREFIX):] not in _mistakes():
                raise InputError(f"unknown optimizer mistake {name!r}; expected mistake: and "
                                 "one of " + ", ".join(_mistakes()))
        elif name not in registry.REGISTRY:
            raise InputError(f"unknown backend {name!r}; expected one of "
                             f"{', '.join(registry.REGISTRY)} or mistake:<name>")
    return names


def _optimizer(args: argparse.Namespace) -> optimizers.Optimizer:
    change = None
    if args.lr_change is not None:
        k, lr2 = args.lr_change
        if k != int(k):
            from autograd_compare.errors import InputError

            raise InputError(f"--lr-change step must be a whole number >= 1; got {k!r}")
        change = (int(k), lr2)
    return optimizers.make(args.optimizer, lr=1.0, momentum=args.momentum,
                           dampening=args.dampening, weight_decay=args.weight_decay, l2=args.l2,
                           betas=args.betas, eps=args.eps, lr_change=change)


def run(args: argparse.Namespace) -> int:
    from autograd_compare.harness import optim_check
    from autograd_compare.interface import Example

    opt = _optimizer(args)
    lrs = check_lrs(args.lrs)
    names = _backends(args.backends)
    w, (inputs, targets) = check_network(args)
    dt = validate.dtype(args.dtype)
    ex = Example(inputs, targets)
    results = [optim_check.check(optimizers.with_lr(opt, lr), names, w, ex, args.steps, dt)
               for lr in lrs]
    print(f"{opt.describe().replace('lr=1, ', '')}, {args.steps} steps, {dt.name}; "
          f"reference: {names[0]}")
    if opt.kind in optimizers.MANUAL_ONLY:
        print("(torch and jax run momentum, PyTorch's form; only E_total, gradients and "
              "weights are compared)")
    header = f"{'lr':>6}  {'backend':<34} {'largest |diff|':>14} {'/tolerance':>10}  verdict"
    print(header)
    print("-" * len(header))
    for res in results:
        for name, comp in res.comparisons.items():
            first = comp.first_divergence
            verdict = ("agrees" if first is None else
                       f"DIVERGES at {first.label}: {first.value:.17g} vs {first.reference:.17g}")
            print(f"{res.optimizer.lr:>6g}  {name:<34} {comp.largest.abs:>14.3e} "
                  f"{comp.largest.ratio:>10.3g}  {verdict}")
        if not res.comparisons:
            print(f"{res.optimizer.lr:>6g}  {names[0]:<34} (only one backend: nothing "
                  "to compare)")
    ok = all(r.ok for r in results)
    print("all backends agree" if ok else "a backend diverges (exit 1)")
    return 0 if ok else 1
