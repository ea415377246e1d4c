#!/usr/bin/env python
"""The main job against the import floor, in one run: ``python benchmarks/main_job.py [--reps 5]``.

Each repetition starts two fresh processes back to back: the floor (``import torch, jax,
matplotlib.pyplot``, what any run of the tool must pay) and the default main job
(``autograd-compare``: 3 backends, 6 learning rates, 100 steps, all plots, into a temporary
folder). Prints every pair and the median of the per-pair ratios job / floor; the machine may be
shared, so only ratios taken in the same run mean anything. ``--json`` prints them as JSON.
JAX's compilation cache (compare.cache) is used as a user's second run would: one untimed run
fills it first (``--cache-dir``, default a temporary folder; ``--no-cache`` to time without).
That run also writes the package's byte code (``__pycache__``) even where
``PYTHONDONTWRITEBYTECODE`` is set, as ``pip install`` does for an installed package: without
it, an editable install compiles every module from source in each of the job's processes.
The job runs as ``python -m autograd_compare``, which is what ``autograd-compare`` runs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FLOOR = "import torch, jax, matplotlib.pyplot"
# the floor's imports alone: the time its last import returns, without Python's teardown
FLOOR_IMPORTS = FLOOR + "; import time; print(time.time())"
JOB = ["-m", "autograd_compare"]  # what ``autograd-compare`` runs (commands.cli.console)


def timed(args: list[str], env: dict) -> float:
    start = time.perf_counter()
    subprocess.run(args, check=True, env=env, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def floor_times(env: dict) -> tuple[float, float]:
    """The floor process: (wall time to its exit, wall time until its imports are done)."""
    start, start_clock = time.perf_counter(), time.time()
    done = subprocess.run([sys.executable, "-c", FLOOR_IMPORTS], check=True, env=env,
                          stdout=subprocess.PIPE, text=True)
    return time.perf_counter() - start, float(done.stdout.split()[-1]) - start_clock


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reps", type=int, default=5, help="pairs of fresh processes (default 5)")
    p.add_argument("--cache-dir", default=None, help="compilation cache folder")
    p.add_argument("--no-cache", action="store_true", help="time without compilation caches")
    p.add_argument("--json", action="store_true")
    p.add_argument("job_args", nargs="*", help="extra options for the main job (after --)")
    a = p.parse_args()
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # see the module's docstring
    with tempfile.TemporaryDirectory(prefix="main-job-bench-") as tmp:
        env["AUTOGRAD_COMPARE_CACHE_DIR"] = a.cache_dir or str(Path(tmp) / "cache")
        if a.no_cache:
            env["AUTOGRAD_COMPARE_NO_CACHE"] = "1"
        job = [sys.executable, *JOB, *a.job_args]
        timed([*job, "--out", str(Path(tmp) / "warm")], env)  # fills the cache, untimed
        pairs = []
        load_before = os.getloadavg()
        for i in range(a.reps):
            floor, imports = floor_times(env)
            run = timed([*job, "--out", str(Path(tmp) / f"r{i}")], env)
            pairs.append((floor, run, run / floor, imports, run / imports))
            if not a.json:
                print(f"rep {i}: floor {floor:.2f} s (its imports {imports:.2f} s)  job "
                      f"{run:.2f} s  ratio {run / floor:.3f} ({run / imports:.3f} to the "
                      "imports alone)", flush=True)
    result = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "cores": os.cpu_count(), "load_average_before": list(load_before),
              "load_average_after": list(os.getloadavg()), "reps": a.reps,
              "median_floor_s": statistics.median(x[0] for x in pairs),
              "median_job_s": statistics.median(x[1] for x in pairs),
              "median_ratio": statistics.median(x[2] for x in pairs),
              "median_floor_imports_s": statistics.median(x[3] for x in pairs),
              "median_ratio_to_imports": statistics.median(x[4] for x in pairs),
              "pairs": [{"floor_s": f, "job_s": j, "ratio": r, "floor_imports_s": fi,
                         "ratio_to_imports": ri} for f, j, r, fi, ri in pairs]}
    if a.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"median ratio job/floor {result['median_ratio']:.3f} (floor "
              f"{result['median_floor_s']:.2f} s, job {result['median_job_s']:.2f} s; "
              f"{result['median_ratio_to_imports']:.3f} to the floor's imports alone, "
              f"{result['median_floor_imports_s']:.2f} s; "
              f"load {result['load_average_before'][0]:.1f} -> "
              f"{result['load_average_after'][0]:.1f})")


if __name__ == "__main__":
    main()
