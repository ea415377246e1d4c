"""The result types every backend returns, for any network and any optimizer: one set.

Arrays are NumPy arrays of the backend's dtype; P is the length of the parameter vector (8 for
the tutorial's w1..w8), N the number of configurations of a batch. This module is part of the
contract: it imports nothing of ours.
"""

from __future__ import annotations

from typing import Any, NamedTuple, TypeAlias

import numpy.typing as npt

Array: TypeAlias = npt.NDArray[Any]


class Trajectory(NamedTuple):
    """``steps`` updates from ``weights[0]``: plain gradient descent or any optimizer."""

    loss: Array  # (steps,): E at weights[k], before update k+1 (without an l2 term)
    weights: Array  # (steps+1, P): weights[0] is the start, weights[k+1] is after update k+1
    grads: Array  # (steps, P): the gradient update k+1 used (with an l2 term, if any)
    state: Array | None = None  # (steps, S): the optimizer's state after update k+1
    #                             (`Optimizer.state_names`); None for plain gradient descent
    # ``record=True`` only (the tutorial's trainers), else None: at every weights[k],
    # k = 0..steps (the final weights too), what the backend's forward and gradients give
    nodes: Array | None = None  # (steps+1, 11): h1 .. E_total (naming.FORWARD_NAMES)
    node_grads: Array | None = None  # (steps+1, 8): dE/d(node) (naming.NODE_NAMES)
    weight_grads: Array | None = None  # (steps+1, P): dE/dw (``grads``: what updates used)


class Resume(NamedTuple):
    """Where a training picks up: the optimizer's state after ``updates`` updates (a row of
    `Trajectory.state`; (0,) for plain gradient descent). The next update is number
    ``updates + 1``: its learning rate is ``Optimizer.lr_at(updates)``."""

    state: Array  # (S,)
    updates: int  # >= 1


class BatchResult(NamedTuple):
    """N independent trainings (row n = configuration n)."""

    initial_loss: Array | None  # (N,): E at the start; None where a trainer does not
    #                             compute it (the optimizer trainers)
    final_loss: Array  # (N,): E after the last update
    final_weights: Array  # (N, P): the parameters after the last update
    steps_to_threshold: Array | None  # (N,) int64: first k in 0..steps with E(w[k]) <=
    #                                   threshold, -1 if never or no threshold was given;
    #                                   None from the optimizer trainers
    loss: Array | None = None  # (N, steps): E before each update, only if keep_loss=True
