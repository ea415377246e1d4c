"""Plain gradient descent, w <- w - lr * dE_total/dw, for one network or a batch of them."""

from __future__ import annotations

import functools
import os
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from autograd_compare.interface import Example
from autograd_compare.jax_impl.gradients import gradient_arrays
from autograd_compare.jax_impl.network import forward_arrays, loss
from autograd_compare.jax_impl.precision import precision, to_numpy
from autograd_compare.types import BatchResult, Trajectory


@partial(jax.jit, static_argnums=3)
def _train(w, example: Example, lr, steps: int):
    def step(w, _):
        E_total, dw = jax.value_and_grad(loss)(w, example)
        return w - lr * dw, (E_total, w, dw)  # w_new = w_old - lr * dE_total/dw

    w_last, (losses, weights, grads) = jax.lax.scan(step, w, length=steps)
    return losses, jnp.concatenate([weights, w_last[None]]), grads


@jax.jit
def _recorded(w, example: Example):
    """`forward_arrays` and `gradient_arrays` at ``w`` as one row (27,): h1 .. E_total,
    dE_total/d(node) h1 .. a_o2, dw1 .. dw8."""
    f, g = forward_arrays(w, example), gradient_arrays(w, example)
    return jnp.concatenate([*f[:5], f[5][None], *g[1:], g[0]])


def train(w: np.ndarray, example: Example, *, lr: float, steps: int,
          record: bool = False) -> Trajectory:
    """``steps`` updates from ``w`` (8,); see `compare.interface.Trajectory`.

    ``record``: `Trajectory.nodes` and the rest too, one call per step of the programs of
    `forward` and `gradients` compiled together (`_recorded`; the same numbers as those
    calls, as tests/test_conformance.py holds them to). Not the fused training step's own
    values: they can differ from forward and gradients in the last bit, and so can those
    programs mapped over the steps inside one compiled program (float32).
    """
    with precision(w.dtype):
        out = Trajectory(*(to_numpy(x, w.dtype) for x in _train(w, example, w.dtype.type(lr),
                                                                  steps)))
        if not record:
            return out
        rows = to_numpy(np.array(jax.device_get([_recorded(wk, example) for wk in out.weights])),
                        w.dtype)
    return out._replace(nodes=rows[:, :11], node_grads=rows[:, 11:19], weight_grads=rows[:, 19:])


# --- batched: N trainings at once ------------------------------------------------------------
# Layout and parallelism were chosen by measurement (benchmarks/jax_batched.py): weights as 8
# rows of CHUNK configurations (structure of arrays), all steps of one chunk before the next
# (the chunk's temporaries stay in L2), and one thread per core, each running its own share of
# chunks, instead of XLA splitting every step's kernels between the cores. The work is cut into
# a few tasks per thread so that a thread slowed by other processes does not hold up the rest.
CHUNK = 2048  # configurations per block (at most)
UNROLL = 4  # steps per scan iteration
WORKERS = None  # threads; None: one per core this process may use
TASKS_PER_WORKER = 4  # tasks (equal runs of blocks) per thread, handed out as threads free up


def _descend(w, lr, example: Example, threshold, steps: int, keep_loss: bool):
    """All ``steps`` updates of one block. ``w``: tuple of 8 (C,) rows w1..w8; ``lr``: (C,).

    Returns:
        E_total before the first and after the last update (C,) each, final rows (8, C),
        first k with E_total(w_k) <= threshold (C,) (-1 if none), E_total history (steps, C).
    """
    value_and_grad = jax.vmap(jax.value_and_grad(loss), in_axes=(0, None))  # per configuration

    def step(carry, k):
        w, reached = carry
        E_total, dw = value_and_grad(w, example)
        reached = jnp.where((reached < 0) & (E_total <= threshold), k, reached)
        w = tuple(wj - lr * dwj for wj, dwj in zip(w, dw, strict=True))  # w -= lr * dE/dw
        return (w, reached), (E_total if keep_loss else None)

    start = (w, jnp.full(lr.shape, -1, jnp.int32))
    ks = jnp.arange(steps, dtype=jnp.int32)
    (w, reached), history = jax.lax.scan(step, start, ks, unroll=min(UNROLL, steps))
    E_first = jax.vmap(loss, in_axes=(0, None))(start[0], example)
    E_last = jax.vmap(loss, in_axes=(0, None))(w, example)
    reached = jnp.where((reached < 0) & (E_last <= threshold), steps, reached)
    return E_first, E_last, jnp.stack(w), reached, history


def _blocks(w, lr, example: Example, threshold, steps: int, keep_loss: bool):
    """``w``: (B, 8, C), ``lr``: (B, C); `_descend` on each block in turn (`lax.map`)."""
    return jax.lax.map(
        lambda b: _descend(tuple(b[0]), b[1], example, threshold, steps, keep_loss), (w, lr))


@functools.lru_cache(maxsize=64)
def _compiled(blocks: int, chunk: int, steps: int, keep_loss: bool, dtype: np.dtype):
    """`_blocks` compiled for these shapes (same shapes never compile twice in a process;
    across processes JAX's own persistent compilation cache serves it, `compare.cache`)."""
    f64 = jax.ShapeDtypeStruct
    shapes = (f64((blocks, 8, chunk), dtype), f64((blocks, chunk), dtype),
              Example._make((f64((2,), dtype), f64((2,), dtype))),  # the pytree of an Example
              f64((), dtype))
    fn = jax.jit(_blocks, static_argnums=(4, 5))
    with precision(dtype):
        return fn.lower(*shapes, steps, keep_loss).compile()


def _layout(n: int) -> tuple[int, int, int, int]:
    """(threads, tasks, blocks per task, chunk) covering n configurations with little padding."""
    threads = WORKERS or len(os.sched_getaffinity(0))
    tasks = max(1, min(threads * TASKS_PER_WORKER, -(-n // CHUNK)))
    blocks = -(-n // (tasks * CHUNK))
    return min(threads, tasks), tasks, blocks, -(-n // (tasks * blocks))


def compile_batch(n: int, steps: int, dtype=np.float64, keep_loss: bool = False) -> float:
    """Compile `train_batch` for ``n`` configurations ahead of time; seconds spent (0 if cached).

    Lets a benchmark report compilation apart from steady-state throughput.
    """
    _, _, blocks, chunk = _layout(n)
    start = time.perf_counter()
    _compiled(blocks, chunk, steps, keep_loss, np.dtype(dtype))
    return time.perf_counter() - start


def devices() -> list:
    """The devices `train_batch` shares its tasks between: every local device of JAX's default
    backend (GPUs, TPU cores, or CPU "devices" forced by
    ``XLA_FLAGS=--xla_force_host_platform_device_count=K``), or the first only if `SHARD` is
    off."""
    found = jax.local_devices()
    return found if SHARD else found[:1]


SHARD = True  # several local devices: shard the tasks between them (False: the first only)


def _sharded_layout(n: int, ndev: int) -> tuple[int, int, int]:
    """(tasks, blocks per task, chunk) for ``ndev`` devices: tasks a multiple of ``ndev``."""
    tasks = max(1, min(ndev * TASKS_PER_WORKER, -(-n // CHUNK)))
    tasks = -(-tasks // ndev) * ndev
    blocks = -(-n // (tasks * CHUNK))
    return tasks, blocks, -(-n // (tasks * blocks))


@functools.lru_cache(maxsize=64)
def _compiled_sharded(ndev: int, steps: int, keep_loss: bool):
    """`_blocks` for each task, the tasks split between ``ndev`` devices along axis 0
    (`jax.shard_map` over a one-axis `Mesh`); jit compiles it per shape and dtype."""
    from jax.sharding import Mesh
    from jax.sharding import PartitionSpec as P

    mesh = Mesh(np.array(jax.local_devices()[:ndev]), ("tasks",))

    def per_device(w, lr, example: Example, threshold):  # this device's tasks, one by one
        return jax.lax.map(
            lambda t: _blocks(t[0], t[1], example, threshold, steps, keep_loss), (w, lr))

    specs = (P("tasks"), P("tasks"), P(), P())  # tasks split; the example, threshold copied
    # check_vma off: no collective anywhere, every value is per device (scan carries included)
    return jax.jit(jax.shard_map(per_device, mesh=mesh, in_specs=specs, out_specs=P("tasks"),
                                 check_vma=False))


def train_batch(w: np.ndarray, lr: np.ndarray, example: Example, *, steps: int,
                threshold: float | None = None, keep_loss: bool = False) -> BatchResult:
    """N trainings at once: ``w`` (N, 8), ``lr`` (N,); see `compare.interface.BatchResult`.

    One compiled XLA program (`jit` of `lax.map` over blocks of `lax.scan` over steps of
    `vmap(value_and_grad)`), run by one thread per core on equal tasks (runs of blocks); with
    several local devices (`devices`), the tasks are sharded between them instead.
    """
    dt, n = w.dtype, w.shape[0]
    ndev = len(devices())
    thr = dt.type(-np.inf if threshold is None else threshold)  # E <= -inf never holds
    if ndev > 1:
        tasks, blocks, chunk = _sharded_layout(n, ndev)
    else:
        threads, tasks, blocks, chunk = _layout(n)
    pad = tasks * blocks * chunk - n
    w_soa = np.pad(w, ((0, pad), (0, 0))).reshape(tasks, blocks, chunk, 8).transpose(0, 1, 3, 2)
    lr_b = np.pad(lr, (0, pad), constant_values=1).reshape(tasks, blocks, chunk)
    if ndev > 1:
        run_all = _compiled_sharded(ndev, steps, keep_loss)
        with precision(dt):
            out = jax.device_get(run_all(np.ascontiguousarray(w_soa), lr_b, example, thr))
        E_first, E_last, w_last, reached, history = out
    else:
        run = _compiled(blocks, chunk, steps, keep_loss, dt)

        def work(i: int):
            with precision(dt):
                return jax.device_get(run(np.ascontiguousarray(w_soa[i]), lr_b[i], example, thr))

        if threads == 1:
            parts = [work(i) for i in range(tasks)]
        else:
            with ThreadPoolExecutor(threads) as pool:
                parts = list(pool.map(work, range(tasks)))
        E_first, E_last, w_last, reached, history = (
            None if p[0] is None else np.stack(p) for p in zip(*parts, strict=True))
    flat = lambda x: np.asarray(x).reshape(-1)[:n]  # noqa: E731  (tasks, blocks, chunk) -> (N,)
    w_last = np.asarray(w_last)
    return BatchResult(
        initial_loss=to_numpy(flat(E_first), dt), final_loss=to_numpy(flat(E_last), dt),
        final_weights=to_numpy(w_last.transpose(0, 1, 3, 2).reshape(-1, 8)[:n], dt),
        steps_to_threshold=flat(reached).astype(np.int64),
        loss=to_numpy(np.asarray(history).transpose(0, 1, 3, 2).reshape(-1, steps)[:n], dt)
        if keep_loss else None)
