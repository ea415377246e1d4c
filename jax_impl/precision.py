"""Scoped 64-bit JAX and the NumPy <-> JAX edge. The only place that touches x64.

JAX computes in float32 unless ``jax_enable_x64`` is on, and it does so silently: asking for
``jnp.asarray(x, jnp.float64)`` then gives float32. Flipping the global flag would change every
other JAX program in the process, so each backend call instead runs inside the
``jax.enable_x64`` context manager (a thread-local, jit-cache-keyed setting), which is undone
when the call returns. Results are checked here and again by the registry's dtype guard.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import jax
import numpy as np

from autograd_compare.errors import DtypeError


@contextlib.contextmanager
def precision(dtype: np.dtype) -> Iterator[None]:
    """64-bit JAX inside the block if ``dtype`` is float64, JAX's float32 default otherwise.

    Raises:
        DtypeError: this JAX cannot compute in ``dtype`` (x64 could not be enabled).
    """
    dtype = np.dtype(dtype)
    if not hasattr(jax, "enable_x64"):  # the scoped context manager arrived in JAX 0.8
        raise DtypeError(f"jax {jax.__version__} has no jax.enable_x64 context manager, so "
                         f"{dtype.name} cannot be guaranteed; install jax >= 0.8")
    with jax.enable_x64(dtype == np.float64):
        got = jax.dtypes.canonicalize_dtype(dtype)  # what JAX would really compute in
        if got != dtype:
            raise DtypeError(f"JAX computes {got} although {dtype.name} was requested; "
                             "jax.enable_x64 had no effect in this JAX version")
        yield


def to_numpy(x, dtype: np.dtype) -> np.ndarray:
    """A JAX array -> writable NumPy array, refusing (not casting) a result of another dtype."""
    out = np.array(x)  # a copy: JAX's buffers are read-only
    if out.dtype != np.dtype(dtype):
        raise DtypeError(f"JAX returned {out.dtype} where {np.dtype(dtype).name} was "
                         "requested; refusing to report it")
    return out
