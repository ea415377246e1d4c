#!/usr/bin/env python
"""A restart study on a Dask cluster, with wall time and peak memory of client and workers.

    python benchmarks/dask_study.py --n 100000 --steps 1000 [--local 2 | --scheduler ADDRESS]

Prints one JSON object: the study, wall seconds, the client's peak resident memory and each
worker's (``ru_maxrss``, read inside each process), and whether the result equals a
single-machine run (``--check``, which runs the study here too: same numbers, bit for bit).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time

import numpy as np

from autograd_compare.interface import LEARNING_RATES
from autograd_compare.study import cluster, restarts


def peak_mib() -> float:
    """This process's peak resident memory (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (2**20 if sys.platform == "darwin" else 2**10)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=100_000)
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--chunk", type=int, default=8192)
    p.add_argument("--backends", default="manual,torch,jax")
    p.add_argument("--local", type=int, default=2, help="LocalCluster workers")
    p.add_argument("--scheduler", default=None, help="an existing scheduler instead")
    p.add_argument("--check", action="store_true", help="also run on this machine and compare")
    a = p.parse_args()
    names = tuple(a.backends.split(","))
    dt = np.dtype("float64")
    study = restarts.Study(n=a.n, seed=0, distribution="uniform", low=-1.0, high=1.0,
                           steps=a.steps, lrs=tuple(LEARNING_RATES), threshold=1e-5,
                           chunk=a.chunk)
    local = None if a.scheduler else cluster.local_cluster(a.local)
    with cluster.connect(a.scheduler or local) as client:
        start = time.perf_counter()
        out = cluster.run(study, names, dt, client)
        wall = time.perf_counter() - start
        workers = client.run(peak_mib)
    if local is not None:
        local.close()
    result = {"n": a.n, "steps": a.steps, "lrs": len(study.lrs), "chunk": a.chunk,
              "backends": list(names), "configurations": a.n * len(study.lrs),
              "wall_s": wall, "client_peak_mib": peak_mib(),
              "worker_peak_mib": sorted(workers.values()),
              "config_steps_per_s_per_backend": a.n * len(study.lrs) * a.steps / wall}
    if a.check:
        here = restarts.run(study, restarts.trainers(study, restarts.get_backends(
            study, names, dt)))
        assert out.steps_to_threshold is not None and here.steps_to_threshold is not None
        result["identical_to_one_machine"] = all(
            x.tobytes() == y.tobytes() for x, y in
            [(out.initial_loss, here.initial_loss), (out.ratio, here.ratio)]
            + [(out.final_loss[b], here.final_loss[b]) for b in names]
            + [(out.steps_to_threshold[b], here.steps_to_threshold[b]) for b in names])
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
