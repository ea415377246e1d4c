"""Batched training compiled by torch.compile: the forward code, its autograd derivative
(torch.func.grad) and the update fused by inductor into a few C++ loops per step.

`train.train_batch` switches to it for large workloads only (compiling costs ~7 s here); if
compilation is impossible (no C++ compiler, say) it stays on the eager path.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from autograd_compare import cache
from autograd_compare.interface import Example
from autograd_compare.torch_impl.network import forward_values

CHUNK = 16384  # rows per compiled block: one static shape, the last block is padded
# Threads of the compiled kernel (fixed when it is compiled). One, because on a shared machine
# an OpenMP kernel on 2 threads collapsed to 1.5-14 M config-steps/s against 67 M on one
# (benchmarks/torch_batched.py, load average 5 on 2 cores). 0 follows torch.get_num_threads().
THREADS = 1
_compiled = None  # the compiled `_step`, built on first use
unavailable: str | None = None  # why compiling failed, once it has


def _step(cols: tuple, lr, reached, k, threshold, inputs, targets):
    """One gradient-descent step for a block: (new cols, E_total before it, reached)."""

    def loss(cols):
        e_total = forward_values(cols, Example(inputs, targets))["E_total"]
        return e_total.sum(), e_total

    grads, e_total = torch.func.grad(loss, has_aux=True)(cols)  # autograd of the forward code
    reached = torch.where((reached < 0) & (e_total <= threshold), k, reached)
    return tuple(w - lr * g for w, g in zip(cols, grads, strict=True)), e_total, reached


class CompileUnavailable(RuntimeError):
    """torch.compile could not build the step here; the caller falls back to eager."""


def train_block(w: np.ndarray, lr: np.ndarray, ex: Example, steps: int,
                threshold: float | None, history: torch.Tensor | None) -> tuple:
    """Like `train._train_block` (same arguments and results), through the compiled step."""
    global _compiled, unavailable
    n = w.shape[0]
    if n > CHUNK:
        raise ValueError(f"a compiled block holds at most CHUNK={CHUNK} rows; got {n}")
    dt = torch.from_numpy(w[:0]).dtype
    cols = tuple(torch.from_numpy(np.resize(c, CHUNK)) for c in w.T)  # pad with repeated rows
    lr_t = torch.from_numpy(np.resize(lr, CHUNK))
    reached = torch.full((CHUNK,), -1, dtype=torch.int64)
    limit = torch.tensor(-np.inf if threshold is None else threshold, dtype=dt)
    initial = None
    for k in range(steps):
        args = (cols, lr_t, reached, torch.tensor(k), limit, ex.inputs, ex.targets)
        if k == 0:  # compiles (again, for a new dtype or shape) here
            try:
                with warnings.catch_warnings():  # torch's own deprecations while it compiles
                    warnings.filterwarnings("ignore", category=DeprecationWarning,
                                            module=r"torch\.")
                    cache.configure_torch()  # inductor's caches in the user cache folder
                    _compiled = _compiled or torch.compile(_step, dynamic=False, fullgraph=True)
                    with torch._inductor.config.patch({"cpp.threads": THREADS or -1}):
                        cols, e_total, reached = _compiled(*args)
            except Exception as err:  # inductor raises many types; any of them means "no"
                _compiled, unavailable = None, f"{type(err).__name__}: {err}"
                raise CompileUnavailable(unavailable) from err
        else:
            assert _compiled is not None  # built at k == 0, or that step raised
            cols, e_total, reached = _compiled(*args)
        if k == 0:
            initial = e_total[:n].clone()
        if history is not None:
            history[:, k] = e_total[:n]
    cols = tuple(c[:n] for c in cols)
    with torch.no_grad():
        final = forward_values(cols, ex)["E_total"]
    if threshold is not None:
        reached = reached[:n].masked_fill((reached[:n] < 0) & (final <= threshold), steps)
    return initial, final, torch.stack(cols, dim=1), reached[:n]
