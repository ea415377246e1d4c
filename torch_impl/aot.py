"""The batched gradient-descent step compiled ahead of time (AOTInductor), kept on disk.

Eager torch pays ~70 small autograd operations per step, which at a few thousand
configurations is slower than plain NumPy, and torch.compile pays its tracing (seconds) again
in every new process. Here the step, forward code plus its autograd derivative
(`torch.func.grad`, traced into ATen operations by `make_fx`), is exported once with a
dynamic batch size, compiled by AOTInductor into a shared library and kept in the user cache
folder (`compare.cache`, subfolder ``torch/aoti``); later processes load that library in
about a millisecond (`torch._C._aoti`, without importing inductor) and run one fused C++ loop
per step. The first use on a machine builds it (~10-40 s, once per dtype and torch version).

Used by `train.train_batch` when caching is on and ``AUTOGRAD_COMPARE_TORCH_AOT`` is not "0";
if building fails (no C++ compiler, say) the batched path stays eager. Results equal the eager
path up to reassociation (tests/test_torch_aot.py).
"""

from __future__ import annotations

import hashlib
import inspect
import os
import shutil
import sys
import tempfile
import threading
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeAlias

import numpy as np
import torch

from autograd_compare import cache
from autograd_compare.interface import Example
from autograd_compare.torch_impl import compiled, network

ENV = "AUTOGRAD_COMPARE_TORCH_AOT"
THREADS = compiled.THREADS  # threads of the compiled kernel (see torch_impl.compiled)
# The loaded library's entry point: the step's 14 input tensors -> its 10 output tensors.
Runner: TypeAlias = Callable[[list[torch.Tensor]], list[torch.Tensor]]
_runners: dict[str, Runner] = {}  # dtype name -> loaded runner
_lock = threading.Lock()
unavailable: str | None = None  # why building failed, once it has


def enabled() -> bool:
    """On when the persistent cache is on, ``$AUTOGRAD_COMPARE_TORCH_AOT`` is not "0" and no
    build has failed in this process (Linux and macOS: AOTInductor needs a C++ compiler)."""
    return (cache.enabled() and os.environ.get(ENV, "1") != "0" and unavailable is None
            and sys.platform in ("linux", "darwin"))


def step(w1, w2, w3, w4, w5, w6, w7, w8, lr, reached, k, threshold, inputs, targets):
    """One step for a block of configurations: (new w1..w8, E_total before it, reached)."""
    cols = (w1, w2, w3, w4, w5, w6, w7, w8)

    def loss(cols):
        e_total = network.forward_values(cols, Example(inputs, targets))["E_total"]
        return e_total.sum(), e_total

    grads, e_total = torch.func.grad(loss, has_aux=True)(cols)  # autograd of the forward code
    reached = torch.where((reached < 0) & (e_total <= threshold), k, reached)
    return (*(w - lr * g for w, g in zip(cols, grads, strict=True)), e_total, reached)


def _key(dtype: torch.dtype) -> str:
    """Changes with torch, the dtype, the step's code and the forward code."""
    text = "\n".join([torch.__version__, str(dtype), str(THREADS), inspect.getsource(step),
                      inspect.getsource(network.forward_values), sys.platform])
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def library(dtype: torch.dtype) -> Path:
    """Where the compiled step for ``dtype`` is kept."""
    name = str(dtype).removeprefix("torch.")
    return cache.folder() / "torch" / "aoti" / f"step-{name}-{_key(dtype)}.so"


def _example_args(dtype: torch.dtype, n: int) -> tuple[torch.Tensor, ...]:
    cols = tuple(torch.rand(n, dtype=dtype) for _ in range(8))
    return (*cols, torch.full((n,), 0.5, dtype=dtype), torch.full((n,), -1, dtype=torch.int64),
            torch.tensor(0), torch.tensor(-1.0, dtype=dtype),
            torch.tensor([0.05, 0.1], dtype=dtype), torch.tensor([0.01, 0.99], dtype=dtype))


def build(dtype: torch.dtype, target: Path) -> None:
    """Export `step` (batch size dynamic), compile it, and put the library at ``target``."""
    compile_library(step, _example_args(dtype, 64), 10, target)


def compile_library(fn: Callable, args: tuple[torch.Tensor, ...], batched: int,
                    target: Path) -> None:
    """Trace ``fn`` (its `torch.func.grad` included) into ATen operations, export it with the
    batch size of its first ``batched`` arguments dynamic (>= 2), compile it by AOTInductor
    and put the shared library at ``target`` (atomically)."""
    from torch.fx.experimental.proxy_tensor import make_fx

    cache.configure_torch()  # inductor's intermediate caches beside it
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".build-") as tmp, \
            warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's own deprecations while it compiles
        graph = make_fx(fn, tracing_mode="symbolic")(*args)  # ATen ops, backward included
        n = torch.export.Dim("n", min=2)
        exported = torch.export.export(graph, args, dynamic_shapes=(
            *({0: n} for _ in range(batched)), *(None for _ in args[batched:])))
        package = Path(tmp) / "step.pt2"
        with torch._inductor.config.patch({"cpp.threads": THREADS or -1}):
            torch._inductor.aoti_compile_and_package(exported, package_path=str(package))
        with zipfile.ZipFile(package) as z:
            [so] = [name for name in z.namelist() if name.endswith(".so")]
            with z.open(so) as src, open(Path(tmp) / "step.so", "wb") as dst:
                shutil.copyfileobj(src, dst)
        os.replace(Path(tmp) / "step.so", target)  # atomic: a reader sees all or nothing


def load(target: Path) -> Runner:
    """The entry point of a library built by `compile_library` (about a millisecond)."""
    return torch._C._aoti.AOTIModelContainerRunnerCpu(str(target), 1).run


def runner(dtype: torch.dtype) -> Runner | None:
    """The loaded step for ``dtype`` (built first if not in the cache), or None if
    unavailable (see `enabled`; the reason in `unavailable`)."""
    global unavailable
    if not enabled():
        return None
    with _lock:
        if str(dtype) in _runners:
            return _runners[str(dtype)]
        target = library(dtype)
        try:
            if not target.is_file():
                print(f"note: compiling the torch batched step once for {dtype} (kept in "
                      f"{target.parent})", file=sys.stderr)
                build(dtype, target)
            run = load(target)
        except Exception as err:  # inductor raises many types; any of them means "no"
            unavailable = f"{type(err).__name__}: {err}"
            return None
        _runners[str(dtype)] = run
        return run


def train_block(run: Runner, w: np.ndarray, lr: np.ndarray, ex: Example, steps: int,
                threshold: float | None, history: torch.Tensor | None,
                ) -> tuple[torch.Tensor | None, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Like `train._train_block` (same arguments and results), one library call per step."""
    n = w.shape[0]
    rows = max(n, 2)  # the exported batch size is >= 2: a single row runs twice
    dt = torch.from_numpy(w[:0]).dtype
    cols = [torch.from_numpy(np.resize(c, rows)) for c in w.T]
    lr_t = torch.from_numpy(np.resize(lr, rows))
    reached = torch.full((rows,), -1, dtype=torch.int64)
    limit = torch.tensor(-np.inf if threshold is None else threshold, dtype=dt)
    # the caller's ex already holds tensors of dt (train.as_torch): as_tensor returns them as is
    inputs = torch.as_tensor(ex.inputs, dtype=dt).contiguous()
    targets = torch.as_tensor(ex.targets, dtype=dt).contiguous()
    initial: torch.Tensor | None = None  # stays None only for steps == 0
    for k in range(steps):
        out = run([*cols, lr_t, reached, torch.tensor(k), limit, inputs, targets])
        cols, e_total, reached = out[:8], out[8], out[9]
        if k == 0:
            initial = e_total[:n]
        if history is not None:
            history[:, k] = e_total[:n]
    cols = [c[:n] for c in cols]
    with torch.no_grad():
        final = network.forward_values(cols, ex)["E_total"]
    reached = reached[:n]
    if threshold is not None:
        reached = reached.masked_fill((reached < 0) & (final <= threshold), steps)
    return initial, final, torch.stack(cols, dim=1), reached
