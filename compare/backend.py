"""The one backend interface: any network (`compare.network`), any optimizer
(`compare.optimizers`).

Each backend (`manual`, `torch_impl`, `jax_impl`) implements it with the same two modules, file
for file: ``mlp`` (the forward pass, the gradients, plain gradient descent; `GradientModule`)
and ``optim`` (the optimizers; `OptimizerModule`). `compare.registry.get_network_backend`
puts them behind one `Backend`, with the input checks and a dtype guard: ``train`` and
``train_batch`` take an `Optimizer`. For plain gradient descent (`is_plain`: the tutorial's
w ← w - lr·dE/dw) both run the kernels of ``mlp`` (``train_batch`` with ``threshold`` and
``keep_loss``, for the restart study); for every other rule, ``optim`` (torch.optim, optax,
the hand-written rules: what is checked is what users run).
The tutorial's 8-weight functions (`compare.interface`, `registry.get_backend`) are a view of
this interface in the tutorial's notation (`compare.tutorial_view`); on the tutorial's network
and example, manual's ``mlp`` runs the tutorial's 8 formulas (`manual/network.py`,
`manual/gradients.py`, batched in `manual/soa.py`).
"""

from __future__ import annotations

from typing import Any, NamedTuple, Protocol

import numpy as np
import numpy.typing as npt

from autograd_compare.network import BackwardPass, Data, ForwardPass, Network
from autograd_compare.optimizers import Optimizer
from autograd_compare.types import Array, BatchResult, Resume, Trajectory


class ForwardFn(Protocol):
    def __call__(self, net: Network, w: npt.ArrayLike, data: Data) -> ForwardPass:
        """Every z, a (B, n_l) and the loss at the parameter vector ``w`` (P,)."""


class GradientsFn(Protocol):
    def __call__(self, net: Network, w: npt.ArrayLike, data: Data) -> BackwardPass:
        """dE/dw (P,) and dE/dz_l, dE/da_l (B, n_l) at ``w`` (P,)."""


class TrainFn(Protocol):
    def __call__(self, net: Network, w: npt.ArrayLike, data: Data, opt: Optimizer,
                 steps: int, resume: Resume | None = None) -> Trajectory:
        """``steps`` full-batch updates of ``opt`` (its lr) from ``w`` (P,); ``resume``: the
        optimizer's state to start from (another run's), else a fresh one."""


class TrainBatchFn(Protocol):
    def __call__(self, net: Network, w: npt.ArrayLike, lr: npt.ArrayLike, data: Data,
                 opt: Optimizer, steps: int, threshold: float | None = None,
                 keep_loss: bool = False) -> BatchResult:
        """N trainings: ``w`` (N, P) starts, ``lr`` (N,) rates (instead of ``opt.lr``);
        ``threshold`` and ``keep_loss`` with plain gradient descent only."""


class Backend(NamedTuple):
    """One backend for any network and any optimizer; arrays in and out are NumPy of
    ``dtype``."""

    name: str  # "manual", "torch", "jax"
    dtype: np.dtype[Any]
    forward: ForwardFn
    gradients: GradientsFn
    train: TrainFn
    train_batch: TrainBatchFn


class GradientModule(Protocol):
    """Each backend's ``mlp`` module, unchecked (the registry has checked and converted)."""

    def forward(self, net: Network, w: Array, data: Data) -> ForwardPass: ...

    def gradients(self, net: Network, w: Array, data: Data) -> BackwardPass: ...

    def train(self, net: Network, w: Array, data: Data, *, lr: float,
              steps: int) -> Trajectory: ...

    def train_batch(self, net: Network, w: Array, lr: Array, data: Data, steps: int,
                    threshold: float | None = None,
                    keep_loss: bool = False) -> BatchResult: ...


class OptimizerModule(Protocol):
    """Each backend's ``optim`` module, unchecked."""

    def train(self, net: Network, w: Array, data: Data, opt: Optimizer, steps: int,
              resume: Resume | None = None) -> Trajectory: ...

    def train_batch(self, net: Network, w: Array, lr: Array, data: Data, opt: Optimizer,
                    steps: int) -> BatchResult: ...


def is_plain(opt: Optimizer) -> bool:
    """Plain gradient descent, w ← w - lr·dE/dw: ``train`` and ``train_batch`` run the ``mlp``
    kernels."""
    return (opt.kind == "sgd" and not opt.weight_decay and not opt.l2
            and opt.lr_change is None and not opt.frozen)
