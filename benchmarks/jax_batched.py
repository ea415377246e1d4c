"""Throughput of the JAX backend's batched training against a plain NumPy loop, in one run.

    python benchmarks/jax_batched.py [--n 60000] [--steps 1000] [--reps 5]

Prints config-steps/s (best and median of ``--reps`` interleaved runs) for: the NumPy reference
(`compare.commands.bench.numpy_reference`), the backend's ``train_batch``
(`jax_impl.mlp.train_batch`: jit of ``lax.scan`` over steps of ``vmap(value_and_grad)``) and,
with ``--straightforward``, a ``jit(vmap(scan))`` over configurations instead, in float64 and
float32; the first call (compilation) is timed apart.
Ratios are to the NumPy reference timed in the same run: the machine is shared, so absolute
numbers move with the load (printed). Config-steps per CPU-second (all threads) is the
load-robust measure of efficiency; wall-clock throughput is at most that times the core count.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from autograd_compare import get_backend
from autograd_compare.commands.bench import numpy_reference
from autograd_compare.interface import (
    CLASS_INPUTS,
    CLASS_TARGETS,
    CLASS_WEIGHTS,
    LEARNING_RATES,
    Example,
)
from autograd_compare.jax_impl import mlp
from autograd_compare.jax_impl.precision import precision
from autograd_compare.network import TUTORIAL


def loss(w, example: Example):
    """E_total at ``w`` (8,) on one example: the backend's forward code."""
    return mlp.loss(TUTORIAL, w, example.inputs[None], example.targets[None])


@partial(jax.jit, static_argnums=4)
def straightforward(w, lr, example: Example, threshold, steps: int):
    """jit(vmap(scan)) on (N, 8) with the interface's summaries: the baseline improved on.

    It needs E_total each step (steps to threshold). Without that output (``jax.grad`` only),
    XLA fuses the whole step into one kernel per weight and recomputes the forward pass, with
    its 4 exp(), for each of the 8 weights: measured 3.3 M config-steps per CPU-second.
    """
    def one(w, lr):
        def step(carry, k):
            w, reached = carry
            E_total, dw = jax.value_and_grad(loss)(w, example)
            reached = jnp.where((reached < 0) & (E_total <= threshold), k, reached)
            return (w - lr * dw, reached), None
        start = (w, jnp.int32(-1))
        return jax.lax.scan(step, start, jnp.arange(steps, dtype=jnp.int32))[0]
    return jax.vmap(one)(w, lr)


def single_trajectory_cost(repeats: int = 200) -> None:
    """Median wall time of one 100-step `train` at the class example, after its compilation."""
    backend = get_backend("jax")
    start = time.perf_counter()
    backend.train(CLASS_WEIGHTS, lr=0.5, steps=100)
    first = time.perf_counter() - start
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        backend.train(CLASS_WEIGHTS, lr=0.5, steps=100)
        times.append(time.perf_counter() - start)
    print(f"float64: one 100-step train: {np.median(times) * 1e6:.0f} us median of {repeats} "
          f"(first call, compiling: {first:.2f} s)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=60_000)
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--straightforward", action="store_true",
                   help="also time jit(vmap(scan)) (slow to collapse when cores are busy)")
    a = p.parse_args()

    rng = np.random.default_rng(0)
    w = rng.uniform(-1, 1, (a.n, 8))
    lr = rng.choice(LEARNING_RATES, a.n)
    runs: dict[str, Callable[[], object]] = {}  # name -> one timed call
    for dt in (np.float64, np.float32):
        ex = Example(np.array(CLASS_INPUTS, dt), np.array(CLASS_TARGETS, dt))
        wd, lrd, name = w.astype(dt), lr.astype(dt), np.dtype(dt).name
        batch = partial(get_backend("jax", name).train_batch, wd, lrd, ex, steps=a.steps)
        start = time.perf_counter()
        batch()
        print(f"{name}: train_batch compile+first run {time.perf_counter() - start:.2f} s",
              flush=True)
        runs[f"numpy {name}"] = partial(numpy_reference, wd, lrd, ex, a.steps)
        runs[f"jax backend {name}"] = batch
        if a.straightforward:
            def plain(wd=wd, lrd=lrd, ex=ex, dt=dt):
                with precision(dt):
                    return jax.block_until_ready(
                        straightforward(wd, lrd, ex, dt(-np.inf), a.steps))
            start = time.perf_counter()
            plain()
            print(f"{name}: straightforward compile+first run {time.perf_counter() - start:.2f} s")
            runs[f"jax straightforward {name}"] = plain
    single_trajectory_cost()
    times: dict[str, list[float]] = {k: [] for k in runs}
    cpu: dict[str, list[float]] = {k: [] for k in runs}
    print(f"load average before: {os.getloadavg()}", flush=True)
    for _ in range(a.reps):
        for key, run in runs.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            run()
            times[key].append(time.perf_counter() - start)
            cpu[key].append(time.process_time() - start_cpu)
    print(f"load average after: {os.getloadavg()}")
    print(f"N = {a.n} configurations x {a.steps} steps, {a.reps} interleaved runs each")
    work = a.n * a.steps
    for key, ts in times.items():
        ref = np.median(times["numpy " + key.split()[-1]])
        print(f"  {key:28s} best {work / min(ts) / 1e6:7.1f} M/s  median "
              f"{work / np.median(ts) / 1e6:7.1f} M/s  x{ref / np.median(ts):5.2f} NumPy (median)"
              f"  {work / np.median(cpu[key]) / 1e6:7.1f} M per CPU-second")


if __name__ == "__main__":
    main()
