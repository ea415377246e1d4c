"""Loss curves of the optimizers on any preset (the notebook's comparison).

`loss_curves` trains a preset's network full-batch with each optimizer of
`compare.optimizers`, by hand: `manual.optim.train` (the update rules written out,
element-wise; the gradient from the δ recursion, or the tutorial's own formulas on its
network). The curves agree with torch.optim's and optax's (tests/test_explain_optim.py).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from autograd_compare import network, optimizers, validate
from autograd_compare.manual import mlp, optim

KINDS = ("sgd", "momentum", "nesterov", "adam", "adamw")


class Curves(NamedTuple):
    preset: str
    optimizers: dict  # kind -> `compare.optimizers.Optimizer`
    loss: dict  # kind -> (steps + 1,) E at the start and after each update


def loss_curves(preset: str = "tutorial", kinds: tuple[str, ...] = KINDS, steps: int = 200,
                lr: float | dict | None = None, dtype: Any = "float64",
                **settings: Any) -> Curves:
    """E after each of ``steps`` updates, for each optimizer kind, from the preset's start.

    Args:
        preset: a name of `compare.network.PRESETS`.
        kinds: optimizer kinds (`compare.optimizers.KINDS`).
        lr: one learning rate, a dict kind -> learning rate, or None for the preset's.
        settings: passed to `compare.optimizers.make` for every kind that takes them
            (``weight_decay`` goes to adamw only, ``momentum`` to the momentum kinds).
    """
    p = network.preset(preset)
    dt = validate.dtype(dtype)
    data = network.data(p.network, p.data.inputs, p.data.targets, dt)
    opts, loss = {}, {}
    for kind in kinds:
        rate = lr.get(kind, p.lr) if isinstance(lr, dict) else p.lr if lr is None else lr
        kw = {k: v for k, v in settings.items()
              if not (k == "weight_decay" and kind != "adamw")
              and not (k == "momentum" and kind not in optimizers.MOMENTUM_KINDS)}
        opt = optimizers.make(kind, lr=rate, **kw)
        run = optim.train(p.network, network.weights(p.network, p.weights, dt), data, opt, steps)
        final = mlp.forward(p.network, run.weights[-1], data).E  # E after the last update
        opts[kind], loss[kind] = opt, np.append(run.loss, final)
    return Curves(preset, opts, loss)
