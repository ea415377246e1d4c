"""The JAX backend behind the common interface."""

from __future__ import annotations

import numpy as np

from autograd_compare import cache
from autograd_compare.interface import RawBackend
from autograd_compare.jax_impl.gradients import gradients
from autograd_compare.jax_impl.network import forward
from autograd_compare.jax_impl.train import train, train_batch


def make(dtype: np.dtype) -> RawBackend:
    """The raw backend; `compare.get_backend` adds input checks and the dtype guard.

    Every function takes and returns NumPy arrays of ``dtype``; float64 runs inside a scoped
    ``jax.enable_x64`` (see `jax_impl.precision`), leaving the user's JAX settings alone.
    """
    cache.configure_jax()  # compiled programs kept on disk between runs (compare.cache)
    return RawBackend("jax", np.dtype(dtype), forward, gradients, train, train_batch)
