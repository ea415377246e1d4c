"""The PyTorch backend behind the common interface."""

from __future__ import annotations

import numpy as np

from compare.interface import Backend
from torch_impl.gradients import gradients
from torch_impl.network import forward
from torch_impl.train import train, train_batch


def make(dtype: np.dtype) -> Backend:
    """The raw backend; `compare.get_backend` adds input checks and the dtype guard."""
    return Backend("torch", np.dtype(dtype), forward, gradients, train, train_batch)
