"""The tutorial's notation (`compare.interface`) as a view of the one backend interface.

`raw(name, dt)` is the tutorial's `RawBackend` for ``name``: each function runs
`registry.get_network_backend` (``train``: its plain gradient descent, the backend's ``mlp``)
on the tutorial's network (`network.TUTORIAL`: 2-2-2, sigmoid,
no biases, ½Σ(t-a)² summed) with the one example as its `Data`, and reads the tutorial's
fields from the results: h, o = z_1, z_2; a_h, a_o = a_1, a_2; the weights w1..w8 are the
parameter vector as it is (`compare.network`: W_1 row-major, then W_2). `registry.get_backend`
puts the input checks and the dtype guard around it (`registry.guarded`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from autograd_compare import naming
from autograd_compare.interface import Array, Example, Forward, Gradients, RawBackend, Weights
from autograd_compare.network import TUTORIAL, BackwardPass, Data, ForwardPass, example_data
from autograd_compare.types import BatchResult, Trajectory


def raw(name: str, dt: np.dtype[Any]) -> RawBackend:
    """Backend ``name`` ("manual", "torch", "jax") in the tutorial's notation, unchecked."""
    from autograd_compare import optimizers, registry

    net = registry.get_network_backend(name, dt)
    mlp = registry.backend_module(name, "mlp")

    def data(example: Example) -> Data:
        return example_data(example, dt)

    def forward(w: Weights, example: Example) -> Forward:
        return as_forward(net.forward(TUTORIAL, w, data(example)), example)

    def gradients(w: Weights, example: Example) -> Gradients:
        return as_gradients(net.gradients(TUTORIAL, w, data(example)))

    def train(w: Weights, example: Example, *, lr: float, steps: int,
              record: bool = False) -> Trajectory:
        d = data(example)
        # plain gradient descent on the kernels of train_batch (a batch's rows are single runs)
        out = mlp.train(TUTORIAL, w, d, lr=lr, steps=steps)
        if not record:
            return out
        # at every weights[k], the final ones too: what forward and gradients give (the
        # unchecked kernels: a diverging run's weights are inf or NaN, and so are its nodes)
        with np.errstate(over="ignore", invalid="ignore"):
            rows = [(as_forward(mlp.forward(TUTORIAL, wk, d), example),
                     as_gradients(mlp.gradients(TUTORIAL, wk, d))) for wk in out.weights]
        return out._replace(nodes=np.array([naming.node_values(f) for f, _ in rows]),
                            node_grads=np.array([grad_row(g) for _, g in rows]),
                            weight_grads=np.array([g.w for _, g in rows]))

    def train_batch(w: Array, lr: Array, example: Example, *, steps: int,
                    threshold: float | None = None, keep_loss: bool = False) -> BatchResult:
        sgd = optimizers.make("sgd", lr=float(lr[0]))  # plain: the rows' own rates are used
        return net.train_batch(TUTORIAL, w, lr, data(example), sgd, steps, threshold, keep_loss)

    return RawBackend(name, dt, forward, gradients, train, train_batch)


def as_forward(f: ForwardPass, example: Example) -> Forward:
    """The tutorial's `Forward` from the network's: E_j = ½(t_j - a_oj)² from the backend's
    a_o (a subtraction, a square and a halving, each exact or correctly rounded: the bits any
    backend gives); E_total is the backend's own loss."""
    a_o = f.a[1][0]
    d = example.targets - a_o
    return Forward(f.z[0][0], f.a[0][0], f.z[1][0], a_o, a_o.dtype.type(0.5) * (d * d),
                   np.asarray(f.E))


def as_gradients(g: BackwardPass) -> Gradients:
    """The tutorial's `Gradients` from the network's (dE/da of a sigmoid output is defined)."""
    da_h, da_o = g.a
    assert da_h is not None and da_o is not None, "the tutorial's outputs are sigmoids"
    return Gradients(g.w, g.z[0][0], da_h[0], g.z[1][0], da_o[0])


def grad_row(g: Gradients) -> Array:
    """dE_total/d(node) in the order of `naming.NODE_NAMES`."""
    return np.concatenate([g.h, g.a_h, g.o, g.a_o])
