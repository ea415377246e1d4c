"""Batched optimizer training with the step compiled ahead of time (AOTInductor), kept on disk.

The eager batched path (`torch_impl.optim.train_batch`: autograd's graph over 8 leaves, then
torch.optim's multi-tensor update) pays about 70 small autograd operations and 10-30 small
optimizer kernels per step, each a Python call and a dispatch; measured at 0.12-0.2x the NumPy
reference. Here one step (the forward code, its derivative by `torch.func.grad`, traced into
ATen operations by `make_fx`, and the update rule written with torch.optim's arithmetic) is one
call into a shared library built by `torch_impl.aot.compile_library` and kept in the cache
folder (``torch/aoti``), like the plain gradient-descent step of `torch_impl.aot`.

Two libraries per dtype cover the five optimizers, their hyperparameters being inputs:

* ``momentum``: sgd, momentum (dampening) and nesterov. g ← g + wd·w; v ← g at step 1, else
  μ·v + (1-τ)·g; w ← w - lr·v, or w - lr·(g + μ·v) for Nesterov. Plain SGD runs it with μ = 0,
  τ = 0, which gives v = g exactly (0·v + 1·g), so w ← w - lr·g as torch.optim.SGD.
* ``adam``: adam and adamw. g ← g + wd·w (adam) or w ← w·(1 - lr·wd) (adamw, before the
  step); m ← m + (1-β1)·(g - m) (``lerp``, as torch); v ← β2·v + (1-β2)·g²;
  w ← w - (lr/(1-β1^t))·m / (√v/√(1-β2^t) + ε).

An l2 term λ/2·Σw² is part of the differentiated loss (λ = 0 adds 0·w). The learning rate is
one per configuration (a vector), so a sweep needs no parameter groups. Results equal
torch.optim's within the trajectory tolerances (tests/test_optim_fast.py); with the cache off,
``AUTOGRAD_COMPARE_TORCH_AOT=0``, or a failed build, `torch_impl.optim` stays eager.
"""

from __future__ import annotations

import hashlib
import inspect
import math
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from autograd_compare import cache
from autograd_compare.interface import Example
from autograd_compare.optimizers import OptimBatch, Optimizer
from autograd_compare.torch_impl import aot, network

FAMILIES = {"sgd": "momentum", "momentum": "momentum", "nesterov": "momentum",
            "adam": "adam", "adamw": "adam"}
STATE = {"momentum": 8, "adam": 16}  # state rows per configuration: v1..v8; m1..m8, v1..v8
CHUNK = 8192  # configurations per block: a block's ~30 rows stay in cache from step to step
_runners: dict[tuple[str, str], aot.Runner] = {}
_lock = threading.Lock()
unavailable: str | None = None  # why building failed, once it has


def _gradients(cols: tuple, half_l2, inputs, targets) -> tuple:
    """d(Σ E_total + λ/2·Σw²)/dw for each of the 8 rows, by autograd (`torch.func.grad`)."""

    def objective(cols):
        e_total = network.forward_values(cols, Example(inputs, targets))["E_total"]
        return e_total.sum() + half_l2 * sum((c * c).sum() for c in cols)

    return torch.func.grad(objective)(cols)


def momentum_step(w1, w2, w3, w4, w5, w6, w7, w8, v1, v2, v3, v4, v5, v6, v7, v8, lr, hyper,
                  inputs, targets):
    """One update of sgd / momentum / nesterov: (new w1..w8, new v1..v8).

    ``hyper`` = [μ, 1-τ, wd, λ/2, 1 at step 1 else 0, 1 for Nesterov else 0].
    """
    cols, bufs = (w1, w2, w3, w4, w5, w6, w7, w8), (v1, v2, v3, v4, v5, v6, v7, v8)
    mu, keep, wd, half_l2, first, nesterov = hyper.unbind()
    grads = _gradients(cols, half_l2, inputs, targets)
    new_w, new_v = [], []
    for w, v, g in zip(cols, bufs, grads, strict=True):
        g = g + wd * w  # coupled weight decay (torch: grad.add(param, alpha=wd))
        v = torch.where(first > 0, g, mu * v + keep * g)  # momentum_buffer
        d = torch.where(nesterov > 0, g + mu * v, v)
        new_w.append(w - lr * d)
        new_v.append(v)
    return (*new_w, *new_v)


def adam_step(w1, w2, w3, w4, w5, w6, w7, w8, m1, m2, m3, m4, m5, m6, m7, m8,
              v1, v2, v3, v4, v5, v6, v7, v8, lr, hyper, inputs, targets):
    """One update of adam / adamw: (new w1..w8, m1..m8, v1..v8).

    ``hyper`` = [1-β1, β2, 1-β2, ε, coupled wd, decoupled wd, λ/2, 1-β1^t, √(1-β2^t)].
    """
    cols = (w1, w2, w3, w4, w5, w6, w7, w8)
    ms, vs = (m1, m2, m3, m4, m5, m6, m7, m8), (v1, v2, v3, v4, v5, v6, v7, v8)
    one_b1, b2, one_b2, eps, wd, wd_decoupled, half_l2, bc1, bc2_sqrt = hyper.unbind()
    grads = _gradients(cols, half_l2, inputs, targets)
    new_w, new_m, new_v = [], [], []
    for w, m, v, g in zip(cols, ms, vs, grads, strict=True):
        g = g + wd * w  # Adam's coupled weight decay
        w = w * (1 - lr * wd_decoupled)  # AdamW's: param.mul_(1 - lr * wd), before the step
        m = m + one_b1 * (g - m)  # exp_avg.lerp_(grad, 1 - β1)
        v = b2 * v + one_b2 * (g * g)  # exp_avg_sq.mul_(β2).addcmul_(grad, grad, 1 - β2)
        denom = torch.sqrt(v) / bc2_sqrt + eps
        new_w.append(w - (lr / bc1) * (m / denom))  # param.addcdiv_(m, denom, -lr/bc1)
        new_m.append(m)
        new_v.append(v)
    return (*new_w, *new_m, *new_v)


STEPS: dict[str, Callable[..., tuple]] = {"momentum": momentum_step, "adam": adam_step}
N_HYPER = {"momentum": 6, "adam": 9}


def hyper(opt: Optimizer, t: int, dtype: torch.dtype) -> torch.Tensor:
    """The ``hyper`` input of update ``t`` (1-based) of ``opt``'s family, in ``dtype``
    (computed in Python floats first, as torch.optim does)."""
    return torch.tensor(_hyper_values(opt, t), dtype=dtype)


def _hyper_values(opt: Optimizer, t: int) -> list[float]:
    if FAMILIES[opt.kind] == "momentum":
        mu = opt.momentum if opt.kind != "sgd" else 0.0
        values = [mu, 1.0 - opt.dampening, opt.weight_decay, opt.l2 / 2, float(t == 1),
                  float(opt.kind == "nesterov")]
    else:
        b1, b2 = opt.betas
        adamw = opt.kind == "adamw"
        values = [1.0 - b1, b2, 1.0 - b2, opt.eps, 0.0 if adamw else opt.weight_decay,
                  opt.weight_decay if adamw else 0.0, opt.l2 / 2, 1.0 - b1**t,
                  math.sqrt(1.0 - b2**t)]
    return values


def enabled() -> bool:
    """On with the persistent cache, ``$AUTOGRAD_COMPARE_TORCH_AOT`` not "0", no failed build
    in this process, on Linux or macOS (as `torch_impl.aot.enabled`)."""
    return (cache.enabled() and os.environ.get(aot.ENV, "1") != "0" and unavailable is None
            and sys.platform in ("linux", "darwin"))


def _key(family: str, dtype: torch.dtype) -> str:
    """Changes with torch, the dtype, the threads, the step's code and the forward code."""
    text = "\n".join([torch.__version__, str(dtype), str(aot.THREADS), sys.platform,
                      inspect.getsource(STEPS[family]), inspect.getsource(_gradients),
                      inspect.getsource(network.forward_values)])
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def library(family: str, dtype: torch.dtype) -> Path:
    """Where the compiled step of ``family`` for ``dtype`` is kept."""
    name = str(dtype).removeprefix("torch.")
    return cache.folder() / "torch" / "aoti" / f"optim-{family}-{name}-{_key(family, dtype)}.so"


def _example_args(family: str, dtype: torch.dtype, n: int) -> tuple[torch.Tensor, ...]:
    rows = tuple(torch.rand(n, dtype=dtype) for _ in range(8 + STATE[family]))
    return (*rows, torch.full((n,), 0.5, dtype=dtype), torch.rand(N_HYPER[family], dtype=dtype),
            torch.tensor([0.05, 0.1], dtype=dtype), torch.tensor([0.01, 0.99], dtype=dtype))


def build(family: str, dtype: torch.dtype, target: Path) -> None:
    """Export the family's step (batch size dynamic), compile it, put it at ``target``."""
    aot.compile_library(STEPS[family], _example_args(family, dtype, 64), 9 + STATE[family],
                        target)  # compiled for aot.THREADS threads


def runner(opt: Optimizer, dtype: torch.dtype) -> aot.Runner | None:
    """The loaded step for ``opt``'s family and ``dtype`` (built first if not in the cache),
    or None: not enabled, an optimizer without a compiled form, or the build failed (the
    reason in `unavailable`)."""
    global unavailable
    if opt.kind not in FAMILIES or not enabled():
        return None
    family = FAMILIES[opt.kind]
    with _lock:
        key = (family, str(dtype))
        if key in _runners:
            return _runners[key]
        target = library(family, dtype)
        try:
            if not target.is_file():
                print(f"note: compiling the torch batched {family} step once for {dtype} "
                      f"(kept in {target.parent})", file=sys.stderr)
                build(family, dtype, target)
            run = aot.load(target)
        except Exception as err:  # inductor raises many types; any of them means "no"
            unavailable = f"{type(err).__name__}: {err}"
            return None
        _runners[key] = run
        return run


def train_batch(run: aot.Runner, w: np.ndarray, lr: np.ndarray, example: Example,
                opt: Optimizer, steps: int) -> OptimBatch:
    """`torch_impl.optim.train_batch`'s result through the compiled step ``run`` (from
    `runner`), in blocks of `CHUNK` configurations, one library call per block and step."""
    final_w, final_l = np.empty_like(w), np.empty(w.shape[0], w.dtype)
    for lo in range(0, w.shape[0], CHUNK):
        rows = slice(lo, lo + CHUNK)
        final_l[rows], final_w[rows] = _train_block(run, w[rows], lr[rows], example, opt, steps)
    return OptimBatch(final_l, final_w)


def _train_block(run: aot.Runner, w: np.ndarray, lr: np.ndarray, example: Example,
                 opt: Optimizer, steps: int) -> tuple[np.ndarray, np.ndarray]:
    n = w.shape[0]
    rows = max(n, 2)  # the exported batch size is >= 2: a single row runs twice
    dt = torch.from_numpy(w[:0]).dtype
    cols = [torch.from_numpy(np.resize(c, rows)) for c in w.T]
    state = [torch.zeros(rows, dtype=dt) for _ in range(STATE[FAMILIES[opt.kind]])]
    lr_t = torch.from_numpy(np.resize(lr, rows))
    inputs = torch.as_tensor(example.inputs, dtype=dt).contiguous()
    targets = torch.as_tensor(example.targets, dtype=dt).contiguous()
    # every step's `hyper` at once (rows of one tensor): a tensor per step costs ~5 µs, about
    # as much as a whole step at N = 100
    hypers = torch.tensor([_hyper_values(opt, k + 1) for k in range(steps)], dtype=dt).unbind()
    for k in range(steps):
        if opt.lr_change and k == opt.lr_change[0]:
            lr_t = torch.full((rows,), opt.lr_change[1], dtype=dt)
        out = run([*cols, *state, lr_t, hypers[k], inputs, targets])
        cols, state = out[:8], out[8:]
    cols = [c[:n] for c in cols]
    with torch.no_grad():
        e_total = network.forward_values(cols, example)["E_total"]
    return e_total.numpy(), torch.stack(cols, dim=1).numpy()
