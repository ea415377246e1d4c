"""Loss curves of the optimizers on any preset (the notebook's comparison).

`loss_curves` trains a preset's network full-batch with each optimizer of
`compare.optimizers`, by hand: the gradient from `manual.mlp` (the δ recursion), the update
from `manual.optim` (the rules written out, element-wise, so they apply to any parameter
vector). For the tutorial network the curves equal `manual.optim.train`, torch.optim's and
optax's (tests/test_explain_optim.py).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from autograd_compare import network, optimizers
from autograd_compare.manual import mlp
from autograd_compare.manual.optim import init_state, update

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
    dt = network.dtype(dtype)
    data = network.data(p.network, p.data.inputs, p.data.targets, dt)
    opts, loss = {}, {}
    for kind in kinds:
        rate = lr.get(kind, p.lr) if isinstance(lr, dict) else p.lr if lr is None else lr
        kw = {k: v for k, v in settings.items()
              if not (k == "weight_decay" and kind != "adamw")
              and not (k == "momentum" and kind not in optimizers.MOMENTUM_KINDS)}
        opt = optimizers.make(kind, lr=rate, **kw)
        w = network.weights(p.network, p.weights, dt)
        state = init_state(w.shape, dt, opt)
        out = np.empty(steps + 1, dt)
        for k in range(steps):
            out[k] = mlp.forward(p.network, w, data).E
            g = mlp.gradients(p.network, w, data).w
            if opt.l2:
                g = g + dt.type(opt.l2) * w
            w, state = update(w, g, state, opt, k)
        out[steps] = mlp.forward(p.network, w, data).E
        opts[kind], loss[kind] = opt, out
    return Curves(preset, opts, loss)
