"""The manual backend behind the common interface."""

from __future__ import annotations

import numpy as np

from compare.interface import Backend
from manual.gradients import gradients
from manual.network import forward
from manual.train import train, train_batch


def make(dtype: np.dtype) -> Backend:
    """The raw backend; `compare.get_backend` adds input checks and the dtype guard."""
    return Backend("manual", np.dtype(dtype), forward, gradients, train, train_batch)
