"""The common interface: the network's data, the presets, and what every backend provides.

The network (the tutorial's 2-2-2, sigmoid everywhere, no biases):

    h1 = w1*i1 + w2*i2        a_h1 = σ(h1)        o1 = w5*a_h1 + w6*a_h2    a_o1 = σ(o1)
    h2 = w3*i1 + w4*i2        a_h2 = σ(h2)        o2 = w7*a_h1 + w8*a_h2    a_o2 = σ(o2)
    E1 = ½(t1 - a_o1)²        E2 = ½(t2 - a_o2)²  E_total = E1 + E2

Weights cross every boundary as ONE flat vector ``w`` of shape (8,) in the order w1..w8.
Read row-major it is the two layer matrices in PyTorch's (out, in) layout:

    W_hidden = w[0:4].reshape(2, 2) = [[w1, w2],     h   = W_hidden @ [i1, i2]
                                       [w3, w4]]
    W_output = w[4:8].reshape(2, 2) = [[w5, w6],     o   = W_output @ [a_h1, a_h2]
                                       [w7, w8]]

Every array here is a NumPy array of the backend's dtype (float64 unless float32 was asked
for); each backend converts at its own edge only. Node arrays are indexed by neuron, so
``Forward.a_h[0]`` is a_h1 and ``Gradients.o[1]`` is dE_total/do2.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Protocol, TypeAlias

import numpy as np
import numpy.typing as npt

from autograd_compare.types import BatchResult, Trajectory

Array: TypeAlias = npt.NDArray[Any]  # a NumPy array of the backend's dtype
Weights: TypeAlias = Array  # shape (8,): w1..w8
ArrayLike: TypeAlias = npt.ArrayLike  # anything np.asarray takes: a list, a tuple, an array
WeightsLike: TypeAlias = ArrayLike  # 8 numbers w1..w8

N_WEIGHTS = 8


class Example(NamedTuple):
    """One training example."""

    inputs: Array  # (2,): i1, i2
    targets: Array  # (2,): t1, t2


ExampleLike: TypeAlias = Example | tuple[ArrayLike, ArrayLike]  # (inputs, targets), 2 numbers each


class Forward(NamedTuple):
    """Every intermediate value of the forward pass."""

    h: Array  # (2,): h1, h2      = W_hidden @ inputs
    a_h: Array  # (2,): a_h1, a_h2  = σ(h)
    o: Array  # (2,): o1, o2      = W_output @ a_h
    a_o: Array  # (2,): a_o1, a_o2  = σ(o)
    E: Array  # (2,): E1, E2      = ½(t - a_o)²
    E_total: Array  # ():   E1 + E2


class Gradients(NamedTuple):
    """dE_total/d(everything): the weights and every intermediate node."""

    w: Array  # (8,): dE_total/dw1 .. dE_total/dw8
    h: Array  # (2,): dE_total/dh1, dE_total/dh2
    a_h: Array  # (2,): dE_total/da_h1, dE_total/da_h2
    o: Array  # (2,): dE_total/do1, dE_total/do2
    a_o: Array  # (2,): dE_total/da_o1, dE_total/da_o2


# --- what `get_backend(name)` returns: validated, converted, dtype-guarded -------------------
class ForwardFn(Protocol):
    def __call__(self, w: WeightsLike, example: ExampleLike | None = None) -> Forward:
        """Forward pass. ``w``: 8 numbers w1..w8; ``example``: (inputs, targets), default the
        class example (`CLASS_INPUTS`, `CLASS_TARGETS`)."""


class GradientsFn(Protocol):
    def __call__(self, w: WeightsLike, example: ExampleLike | None = None) -> Gradients:
        """dE_total with respect to w1..w8 and to every node h1..a_o2."""


class TrainFn(Protocol):
    def __call__(self, w: WeightsLike, example: ExampleLike | None = None, *, lr: float = 0.5,
                 steps: int = 100, record: bool = False) -> Trajectory:
        """``steps`` (>= 1) steps of gradient descent at learning rate ``lr`` (> 0);
        ``record``: also every node's value and gradient at each step (`Trajectory.nodes`),
        so that nothing needs to be evaluated again afterwards."""


class TrainBatchFn(Protocol):
    def __call__(self, w: ArrayLike, lr: ArrayLike, example: ExampleLike | None = None, *,
                 steps: int = 100, threshold: float | None = None,
                 keep_loss: bool = False) -> BatchResult:
        """N trainings at once: ``w`` (N, 8) starting weights, ``lr`` (N,) learning rates.

        Vectorised over configurations (no Python loop over N); row n equals
        ``train(w[n], example, lr=lr[n], steps=steps)`` up to floating-point reassociation.
        ``threshold``: record the first step whose E_total is <= it; ``keep_loss``: keep the
        (N, steps) loss history.
        """


class Backend(NamedTuple):
    """What `get_backend` returns: a name, a dtype and four pure functions."""

    name: str  # "manual", "torch", "jax", or "mistake:<name>"
    dtype: np.dtype[Any]  # float64 (default) or float32
    forward: ForwardFn
    gradients: GradientsFn
    train: TrainFn
    train_batch: TrainBatchFn


# --- the same functions, unchecked: `compare.tutorial_view.raw` (a view of the one backend
# interface, `compare.backend`) and the mistakes (`manual.mistakes.make`) ----------------------
# The registry has already checked and converted every argument (NumPy arrays of the backend's
# dtype, an `Example`, lr > 0, steps >= 1), so nothing has a default but the batch options.
class RawForwardFn(Protocol):
    def __call__(self, w: Weights, example: Example) -> Forward: ...


class RawGradientsFn(Protocol):
    def __call__(self, w: Weights, example: Example) -> Gradients: ...


class RawTrainFn(Protocol):
    def __call__(self, w: Weights, example: Example, *, lr: float, steps: int,
                 record: bool = False) -> Trajectory: ...


class RawTrainBatchFn(Protocol):
    def __call__(self, w: Array, lr: Array, example: Example, *, steps: int,
                 threshold: float | None = None, keep_loss: bool = False) -> BatchResult: ...


class RawBackend(NamedTuple):
    """The tutorial's functions unchecked; `registry.guarded` makes a `Backend` of them."""

    name: str
    dtype: np.dtype[Any]
    forward: RawForwardFn
    gradients: RawGradientsFn
    train: RawTrainFn
    train_batch: RawTrainBatchFn


# --- presets ---------------------------------------------------------------------------------
CLASS_WEIGHTS = (0.15, 0.2, 0.25, 0.3, 0.4, 0.45, 0.5, 0.55)  # w1..w8 of the class example
CLASS_INPUTS = (0.05, 0.1)  # i1, i2
CLASS_TARGETS = (0.5, 0.5)  # t1, t2
LEARNING_RATES = (0.1, 0.2, 0.5, 0.8, 1.0, 2.0)  # the tutorial's sweep
DTYPES = ("float64", "float32")
