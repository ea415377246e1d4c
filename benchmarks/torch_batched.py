"""Throughput of the torch backend's batched train against a plain vectorised NumPy loop
(`compare.commands.bench.numpy_reference`).

Both run in the same process, interleaved, so the ratio survives a noisy shared machine:

    python benchmarks/torch_batched.py --n 60000 --steps 1000 --repeats 3 --threads 1

Prints config-steps/s for each run and the torch/NumPy ratio. Not a test (no timed tests).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from autograd_compare.commands.bench import numpy_reference
from autograd_compare.interface import CLASS_INPUTS, CLASS_TARGETS, CLASS_WEIGHTS, Example
from autograd_compare.registry import get_backend


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=60000, help="configurations")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    parser.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    w = rng.uniform(-1, 1, (args.n, 8)).astype(args.dtype)
    lr = rng.choice([0.1, 0.2, 0.5, 0.8, 1.0, 2.0], args.n).astype(args.dtype)
    example = Example(np.array(CLASS_INPUTS, args.dtype), np.array(CLASS_TARGETS, args.dtype))
    backend = get_backend("torch", args.dtype)
    work = args.n * args.steps
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), {args.dtype}, "
          f"N={args.n} x {args.steps} steps (torch_impl.mlp.train_batch)")
    warm = timed(lambda: backend.train_batch(w, lr, steps=args.steps))
    print(f"warm-up (first full call): {warm:.2f} s")
    for r in range(args.repeats):
        t_np = timed(lambda: numpy_reference(w, lr, example, args.steps))
        t_torch = timed(lambda: backend.train_batch(w, lr, steps=args.steps, threshold=1e-3))
        print(f"run {r}: numpy {work / t_np / 1e6:6.2f} M config-steps/s   torch "
              f"{work / t_torch / 1e6:6.2f} M   ratio torch/numpy {t_np / t_torch:.2f}", flush=True)
    single = min(timed(lambda: backend.train(CLASS_WEIGHTS, lr=0.5, steps=100)) for _ in range(5))
    print(f"one 100-step trajectory (train): {single * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
