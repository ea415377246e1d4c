#!/usr/bin/env python
"""Batched training throughput per optimizer: each backend's ``train_batch`` against NumPy.

``python benchmarks/optimizers.py [--n 20000] [--steps 200] [--dtype float64] [--repeat 2]``

For every optimizer, N configurations (random starting weights, the tutorial's learning rates
in turn) train for S steps in each backend, and in `numpy_reference`, a plain vectorised NumPy
loop of the same optimizer written here (rows of (N, 8), no blocking, no threads). Reported:
configuration-steps per second (best of ``--repeat`` calls after a first, warm-up call that
includes JAX's compilation) and the ratio to the NumPy reference measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

# One thread per framework, like the NumPy reference: on a shared, loaded machine an OpenMP
# team of 2 waiting at every barrier made torch's kernels up to 100x slower (measured), which
# says nothing about the optimizers. Set before torch or jax is imported.
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false "
                      "intra_op_parallelism_threads=1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from autograd_compare import optimizers as O  # noqa: E402
from autograd_compare.harness import optim_check  # noqa: E402
from autograd_compare.interface import (  # noqa: E402
    CLASS_INPUTS,
    CLASS_TARGETS,
    LEARNING_RATES,
    Example,
)

SETTINGS = {
    "sgd": dict(weight_decay=0.01),
    "momentum": dict(weight_decay=0.01),
    "nesterov": dict(weight_decay=0.01),
    "adam": dict(weight_decay=0.01),
    "adamw": dict(weight_decay=0.01),
}


def numpy_reference(w: np.ndarray, lr: np.ndarray, example: Example, opt: O.Optimizer,
                    steps: int) -> np.ndarray:
    """The baseline: forward, backward and the update as a plain NumPy loop over steps."""
    w = w.copy()
    dt = w.dtype
    (i1, i2), (t1, t2) = example.inputs, example.targets
    lr = lr[:, None]
    one = dt.type(1)
    mu, wd = dt.type(opt.momentum), dt.type(opt.weight_decay)
    b1, b2, eps = (dt.type(x) for x in (*opt.betas, opt.eps))
    buf, m, v = np.zeros_like(w), np.zeros_like(w), np.zeros_like(w)
    for t in range(1, steps + 1):
        w1, w2, w3, w4, w5, w6, w7, w8 = w.T
        a_h1 = one / (one + np.exp(-(w1 * i1 + w2 * i2)))
        a_h2 = one / (one + np.exp(-(w3 * i1 + w4 * i2)))
        a_o1 = one / (one + np.exp(-(w5 * a_h1 + w6 * a_h2)))
        a_o2 = one / (one + np.exp(-(w7 * a_h1 + w8 * a_h2)))
        d1 = (a_o1 - t1) * a_o1 * (one - a_o1)
        d2 = (a_o2 - t2) * a_o2 * (one - a_o2)
        g1 = (d1 * w5 + d2 * w7) * a_h1 * (one - a_h1)
        g2 = (d1 * w6 + d2 * w8) * a_h2 * (one - a_h2)
        g = np.stack([g1 * i1, g1 * i2, g2 * i1, g2 * i2,
                      d1 * a_h1, d1 * a_h2, d2 * a_h1, d2 * a_h2], axis=1)
        if opt.kind == "adamw":
            w = w - lr * wd * w
        else:
            g = g + wd * w
        if opt.kind == "sgd":
            w = w - lr * g
        elif opt.kind in ("momentum", "nesterov"):
            buf = g if t == 1 else mu * buf + g
            w = w - lr * (g + mu * buf if opt.kind == "nesterov" else buf)
        else:
            m = b1 * m + (one - b1) * g
            v = b2 * v + (one - b2) * g * g
            w = w - lr * (m / (one - b1**t)) / (np.sqrt(v / (one - b2**t)) + eps)
    return w


def _time(fn, repeat: int) -> tuple[float, float, object]:
    start = time.perf_counter()
    out = fn()
    first = time.perf_counter() - start
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return first, best, out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=20_000)
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--dtype", default="float64", choices=("float64", "float32"))
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--optimizers", default=",".join(SETTINGS))
    p.add_argument("--json", action="store_true", help="JSON to stdout, the table to stderr")
    args = p.parse_args(argv)
    dt = np.dtype(args.dtype)
    rng = np.random.default_rng(0)
    w = rng.uniform(-1, 1, (args.n, 8)).astype(dt)
    lr = np.resize(np.array(LEARNING_RATES, dt), args.n)
    ex = Example(np.array(CLASS_INPUTS, dt), np.array(CLASS_TARGETS, dt))
    backends = optim_check.available()
    work = args.n * args.steps
    rows, table = [], sys.stderr if args.json else sys.stdout
    print(f"N = {args.n} configurations x {args.steps} steps, {dt.name}; config-steps/s "
          "(best of --repeat) and ratio to the NumPy reference in this run", file=table)
    print(f"{'optimizer':<10} {'backend':<8} {'first call s':>12} {'config-steps/s':>15} "
          f"{'vs NumPy':>9}", file=table)
    for kind in args.optimizers.split(","):
        opt = O.make(kind, **SETTINGS[kind])
        _, ref_s, ref_w = _time(lambda opt=opt: numpy_reference(w, lr, ex, opt, args.steps),
                                  args.repeat)
        print(f"{kind:<10} {'numpy':<8} {'':>12} {work / ref_s:>15.3e} {1.0:>9.2f}", file=table)
        rows.append(dict(optimizer=kind, backend="numpy", rate=work / ref_s, ratio=1.0))
        for name in backends:
            run = lambda name=name, opt=opt: optim_check.train_batch(  # noqa: E731
                name, w, lr, ex, opt, args.steps, dt)
            first, best, out = _time(run, args.repeat)
            err = float(np.max(np.abs(out.final_weights.astype(np.float64) - ref_w)))
            rate = work / best
            print(f"{'':<10} {name:<8} {first:>12.2f} {rate:>15.3e} {rate * ref_s / work:>9.2f}"
                  f"   (max |w - NumPy's| {err:.1e})", file=table)
            rows.append(dict(optimizer=kind, backend=name, rate=rate, ratio=ref_s / best,
                             first_call_s=first, max_weight_difference=err))
    if args.json:
        json.dump({"n": args.n, "steps": args.steps, "dtype": dt.name, "rows": rows},
                  sys.stdout, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
