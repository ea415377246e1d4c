"""The PyTorch backend behind the common interface."""

from __future__ import annotations

import numpy as np

from autograd_compare.interface import RawBackend
from autograd_compare.torch_impl.gradients import gradients
from autograd_compare.torch_impl.network import forward
from autograd_compare.torch_impl.train import train, train_batch


def make(dtype: np.dtype) -> RawBackend:
    """The raw backend; `compare.get_backend` adds input checks and the dtype guard."""
    return RawBackend("torch", np.dtype(dtype), forward, gradients, train, train_batch)
