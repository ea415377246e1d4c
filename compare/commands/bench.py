"""``autograd-compare bench``: throughput of each backend's batched training, against NumPy.

One run measures, per backend and dtype, configuration-steps per second of ``train_batch``
(N configurations x S steps, no threshold, no per-step losses) next to a plain vectorised NumPy
loop written here (`numpy_reference`), so the ratios mean something on a busy machine. The
first call (tracing, compilation, caches) is timed apart from the steady state (best of
``--repeat`` further calls). Also: the cost of one 100-step ``train`` trajectory per backend.

``--optimizer KIND`` (or ``all``) measures instead each backend's batched training with that
optimizer (`compare.harness.optim_check.train_batch`: torch.optim's rules in every backend)
next to `numpy_reference` with that optimizer, as a plain vectorised NumPy loop.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import sys
import time
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from autograd_compare import budget, cache, registry, validate
from autograd_compare import optimizers as O
from autograd_compare.commands.options import add_backends_option, positive_int, selected_backends
from autograd_compare.commands.progress import Progress
from autograd_compare.errors import InputError
from autograd_compare.interface import CLASS_INPUTS, CLASS_TARGETS, CLASS_WEIGHTS, DTYPES, Example

HELP = ("Benchmark: configuration-steps/s of each backend's batched training (float64 and "
        "float32)\nagainst a plain vectorised NumPy loop, plus the cost of one 100-step "
        "trajectory; --optimizer KIND\n(or all) measures momentum, Adam, ... instead.")
LR = 0.5
OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam", "adamw")  # every one with a batched form
WEIGHT_DECAY = 0.01  # bench --optimizer: coupled (decoupled for adamw), so the decay is timed
TRAJECTORY_STEPS = 100
CHUNK = 65_536  # configurations per batched call: memory is bounded for any --n


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--n", type=positive_int("--n"), default=60_000,
                        help="configurations per batch (default 60000)")
    parser.add_argument("--sizes", type=_sizes, default=None, metavar="N,...",
                        help="several batch sizes in one run, e.g. 100,2000,60000 (overrides --n)")
    parser.add_argument("--no-cache", action="store_true",
                        help="no persistent compilation caches (compare.cache): every first "
                        "call compiles")
    parser.add_argument("--steps", type=positive_int("--steps"), default=1000,
                        help="gradient-descent steps per configuration (default 1000)")
    parser.add_argument("--repeat", type=positive_int("--repeat"), default=2,
                        help="steady-state calls after the first; the best counts (default 2)")
    parser.add_argument("--dtypes", type=_dtypes, default=DTYPES, metavar="DTYPE,...",
                        help="dtypes to measure (default float64,float32)")
    parser.add_argument("--optimizer", type=_optimizers, default=None, metavar="KIND",
                        help="time batched training with this optimizer instead of plain "
                        f"gradient descent: {', '.join(OPTIMIZERS)}, or all (each with its "
                        f"defaults and weight decay {WEIGHT_DECAY})")
    add_backends_option(parser)
    parser.add_argument("--json", action="store_true",
                        help="write the measurements as JSON to stdout (the table to stderr)")
    budget.add_time_option(parser)
    budget.add_options(parser, output=False)


def _sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(t) for t in text.split(",") if t.strip())
    except ValueError:
        sizes = ()
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"--sizes must be whole numbers >= 1, comma-separated; "
                                         f"got {validate.short_text(text)}")
    _once(sizes, "--sizes")
    return sizes


def _once(values: tuple, option: str) -> None:
    """A value listed twice is a usage error (it would be measured twice)."""
    seen: set = set()
    for v in values:  # a set: 600,000 sizes are checked at once
        if v in seen:
            raise argparse.ArgumentTypeError(f"{validate.short_text(v)} is listed twice in "
                                             f"{option}; give each once")
        seen.add(v)


def _optimizers(text: str) -> tuple[str, ...]:
    kinds = OPTIMIZERS if text.strip() == "all" else (text.strip(),)
    if kinds[0] not in OPTIMIZERS:
        raise argparse.ArgumentTypeError(f"unknown optimizer {validate.short_text(text)}; "
                                         f"expected one of {', '.join(OPTIMIZERS)} or all")
    return kinds


def _dtypes(text: str) -> tuple[str, ...]:
    names = tuple(t.strip() for t in text.split(",") if t.strip())
    bad = [n for n in names if n not in DTYPES]
    if bad or not names:
        raise argparse.ArgumentTypeError(f"unknown dtype {validate.short_text((bad or [text])[0])}"
                                         f"; expected one or more of {', '.join(DTYPES)}")
    _once(names, "--dtypes")
    return names


def numpy_gradient(w: np.ndarray, example: Example) -> np.ndarray:
    """dE_total/dw1..dw8 (N, 8) at ``w`` (N, 8): the tutorial's formulas, plain NumPy."""
    (i1, i2), (t1, t2) = example.inputs, example.targets
    one = w.dtype.type(1)
    w1, w2, w3, w4, w5, w6, w7, w8 = w.T
    a_h1 = one / (one + np.exp(-(w1 * i1 + w2 * i2)))
    a_h2 = one / (one + np.exp(-(w3 * i1 + w4 * i2)))
    a_o1 = one / (one + np.exp(-(w5 * a_h1 + w6 * a_h2)))
    a_o2 = one / (one + np.exp(-(w7 * a_h1 + w8 * a_h2)))
    d1 = (a_o1 - t1) * a_o1 * (one - a_o1)  # dE_total/do1
    d2 = (a_o2 - t2) * a_o2 * (one - a_o2)
    g1 = (d1 * w5 + d2 * w7) * a_h1 * (one - a_h1)  # dE_total/dh1
    g2 = (d1 * w6 + d2 * w8) * a_h2 * (one - a_h2)
    return np.stack([g1 * i1, g1 * i2, g2 * i1, g2 * i2,
                     d1 * a_h1, d1 * a_h2, d2 * a_h1, d2 * a_h2], axis=1)


def bench_optimizer(kind: str) -> O.Optimizer:
    """The optimizer ``bench --optimizer kind`` times: its defaults, weight decay
    `WEIGHT_DECAY`, learning rate `LR` (each configuration gets `LR` too)."""
    return O.make(kind, lr=LR, weight_decay=WEIGHT_DECAY)


def numpy_reference(w: np.ndarray, lr: np.ndarray, example: Example, steps: int,
                    opt: O.Optimizer | None = None) -> np.ndarray:
    """The baseline: `numpy_gradient`, then ``opt``'s update (the rules of
    `compare.optimizers`; None: plain descent w -= lr·g), a plain vectorised loop over steps.

    Args:
        w: (N, 8) starting weights; lr: (N,); both of the dtype being measured. ``opt.l2``
            and ``opt.lr_change`` are not used (the bench does not set them).

    Returns:
        (N, 8) final weights.
    """
    w, lr, dt = w.copy(), lr[:, None], w.dtype
    if opt is None:
        for _ in range(steps):
            w -= lr * numpy_gradient(w, example)
        return w
    one = dt.type(1)
    mu, tau, wd = dt.type(opt.momentum), dt.type(opt.dampening), dt.type(opt.weight_decay)
    b1, b2, eps = (dt.type(x) for x in (*opt.betas, opt.eps))
    buf, m, v = np.zeros_like(w), np.zeros_like(w), np.zeros_like(w)
    for t in range(1, steps + 1):
        g = numpy_gradient(w, example)
        if opt.kind == "adamw":
            w = w - lr * wd * w
        else:
            g = g + wd * w
        if opt.kind == "sgd":
            w = w - lr * g
        elif opt.kind in ("momentum", "nesterov"):
            buf = g if t == 1 else mu * buf + (one - tau) * g
            w = w - lr * (g + mu * buf if opt.kind == "nesterov" else buf)
        else:
            m = b1 * m + (one - b1) * g
            v = b2 * v + (one - b2) * g * g
            w = w - lr * (m / (one - b1**t)) / (np.sqrt(v / (one - b2**t)) + eps)
    return w


def measure(fn, repeat: int, what: str = "", log=lambda what: None) -> dict:
    """Time ``fn()``: the first call, and the best of ``repeat`` more (seconds); ``log`` hears
    of each call before it starts (outside the timing)."""
    log(f"{what}, first call")
    t0 = time.perf_counter()
    result = fn()
    first = time.perf_counter() - t0
    steady = []
    for k in range(repeat):
        log(f"{what}, call {k + 2} of {repeat + 1}")
        t0 = time.perf_counter()
        fn()
        steady.append(time.perf_counter() - t0)
    best = min(steady)
    return {"first_call_s": first, "steady_s": best, "warmup_s": max(first - best, 0.0),
            "result": result}


def _measure_chunked(fn, w: np.ndarray, lr: np.ndarray, n: int, repeat: int, what: str,
                     log) -> dict:
    """`measure` of ``fn(w, lr)`` over ``n`` configurations in calls of at most `CHUNK` rows,
    every call on (the first rows of) the same block ``w``; its result is the first call's
    (for the check against NumPy). Memory is that of one block whatever ``n``."""

    def calls() -> np.ndarray:
        first = fn(w[: min(CHUNK, n)], lr[: min(CHUNK, n)])
        for lo in range(CHUNK, n, CHUNK):
            rows = min(CHUNK, n - lo)
            fn(w[:rows], lr[:rows])
        return first

    return measure(calls, repeat, what, log)


def bench(names, dtypes, n: int | tuple[int, ...], steps: int, repeat: int,
          log=lambda what: None, kinds: Sequence[str] | None = None) -> dict:
    """All measurements, JSON-ready (see docs/benchmarks.md): per dtype (and optimizer, for
    ``kinds``, `--optimizer`'s) and size, the NumPy reference and then every backend's batched
    training; ``n``: one batch size or several (each measured in turn, as given). N above
    `CHUNK` runs as ceil(N / CHUNK) calls on one block of starts (bounded memory)."""
    sizes = (n,) if isinstance(n, int) else tuple(n)
    rows, trajectories = [], []
    for dtype in dtypes:
        dt = validate.dtype(dtype)
        example = validate.example((CLASS_INPUTS, CLASS_TARGETS), dt)
        for kind in kinds or (None,):
            opt = None if kind is None else bench_optimizer(kind)
            tag = {} if kind is None else {"optimizer": kind}
            for size in sizes:
                block = min(size, CHUNK)
                w = np.random.default_rng(0).uniform(-1, 1, (block, 8)).astype(dt)
                lr = np.full(block, LR, dt)
                ref = _measure_chunked(functools.partial(
                    numpy_reference, example=example, steps=steps, opt=opt), w, lr, size,
                    repeat, ", ".join(filter(None, ("numpy reference", kind, dtype,
                                                    f"N={size}"))), log)
                ref_rate = size * steps / ref["steady_s"]
                rows.append({**tag, **_row("numpy-reference", dtype, ref, size, steps, ref_rate,
                                           None, ref)})
                for name in names:
                    m = _measure_chunked(_final_weights(name, dt, example, opt, steps), w, lr,
                                         size, repeat,
                                         f"{name} {kind or 'train_batch'}, {dtype}, N={size}", log)
                    diff = float(np.max(np.abs(m["result"].astype(np.float64) - ref["result"])))
                    rows.append({**tag, **_row(name, dtype, m, size, steps, ref_rate, diff, ref)})
        for name in names if kinds is None else ():
            backend = registry.get_backend(name, dt)
            t = measure(lambda b=backend, ex=example:
                        b.train(CLASS_WEIGHTS, ex, lr=LR, steps=TRAJECTORY_STEPS).loss,
                        max(repeat, 3), f"{name} train, {dtype}", log)
            trajectories.append({"backend": name, "dtype": dtype, "steps": TRAJECTORY_STEPS,
                                 "first_call_s": t["first_call_s"], "steady_s": t["steady_s"],
                                 "warmup_s": t["warmup_s"]})
    rates: dict = {}
    for r in rows:
        if r["n"] == sizes[-1]:  # the largest size measured last
            into = rates.setdefault(r["optimizer"], {}) if kinds else rates
            into.setdefault(r["backend"], {})[r["dtype"]] = r["config_steps_per_s"]
    config = {"n": sizes[-1], "sizes": list(sizes), "steps": steps, "repeat": repeat, "lr": LR,
              "cache": cache.folder_in_use(), "backends": list(names), "dtypes": list(dtypes)}
    if kinds:
        config.update(optimizers=list(kinds),
                      settings={k: bench_optimizer(k).describe() for k in kinds})
    return {"tool": "autograd-compare", "command": "bench", "machine": machine(),
            "config": config, "batched": rows, "config_steps_per_s": rates,
            "single_trajectory": trajectories}


def _final_weights(name: str, dt: np.dtype, example: Example, opt: O.Optimizer | None,
                   steps: int):
    """``fn(w, lr)`` -> final weights of backend ``name``'s batched training (``opt`` None:
    its own plain-descent ``train_batch``; else `compare.harness.optim_check.train_batch`)."""
    if opt is None:
        backend = registry.get_backend(name, dt)
        return lambda w, lr: backend.train_batch(w, lr, example, steps=steps).final_weights
    from autograd_compare.harness import optim_check
    from autograd_compare.network import TUTORIAL, example_data

    return lambda w, lr: optim_check.train_batch(name, TUTORIAL, w, lr,
                                                 example_data(example, dt), opt, steps,
                                                 dt).final_weights


def _row(name, dtype, m, n, steps, ref_rate, diff, ref) -> dict:
    rate = n * steps / m["steady_s"]
    return {"backend": name, "dtype": dtype, "n": n, "config_steps_per_s": rate,
            "ratio_to_numpy": rate / ref_rate,
            "first_call_ratio_to_numpy": ref["first_call_s"] / m["first_call_s"],
            "steady_s": m["steady_s"],
            "first_call_s": m["first_call_s"], "warmup_s": m["warmup_s"],
            "max_abs_diff_vs_numpy": diff}


def machine() -> dict:
    """Where the numbers were taken: CPU, cores, load, library versions."""
    versions = {"python": platform.python_version(), "numpy": np.__version__}
    for lib in ("torch", "jax"):
        mod = sys.modules.get(lib)
        if mod is not None:
            versions[lib] = getattr(mod, "__version__", "?")
    return {"cpu": _cpu_name(), "cores": os.cpu_count(), "platform": platform.platform(),
            "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
            "versions": versions}


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def table(result: dict) -> str:
    """The human-readable throughput table."""
    m, c = result["machine"], result["config"]
    load = ", ".join(f"{x:.2f}" for x in m["load_average"] or [])
    kinds = c.get("optimizers")
    opt_col = f"{'optimizer':<10} " if kinds else ""
    lines = [f"{m['cpu']}, {m['cores']} cores, load average {load}; "
             f"N = {', '.join(str(n) for n in c['sizes'])} configurations x {c['steps']} steps, "
             f"lr {c['lr']}; compilation cache: {c['cache'] or 'off'}",
             *(f"  {setting}" for setting in (c.get("settings") or {}).values()),
             f"{opt_col}{'backend':<16} {'dtype':<8} {'N':>6} {'M config-steps/s':>16} "
             f"{'x NumPy':>8} {'steady s':>9} {'1st call s':>10} {'1st x NumPy':>11} "
             f"{'max|Δw| vs NumPy':>16}"]
    for r in result["batched"]:
        diff = "-" if r["max_abs_diff_vs_numpy"] is None else f"{r['max_abs_diff_vs_numpy']:.1e}"
        opt = f"{r['optimizer']:<10} " if kinds else ""
        lines.append(f"{opt}{r['backend']:<16} {r['dtype']:<8} {r['n']:>6} "
                     f"{r['config_steps_per_s'] / 1e6:16.2f} {r['ratio_to_numpy']:8.2f} "
                     f"{r['steady_s']:9.3f} {r['first_call_s']:10.3f} "
                     f"{r['first_call_ratio_to_numpy']:11.2f} {diff:>16}")
    if result["single_trajectory"]:
        lines.append(f"one {TRAJECTORY_STEPS}-step train() trajectory:")
    for t in result["single_trajectory"]:
        lines.append(f"  {t['backend']:<14} {t['dtype']:<8} steady {t['steady_s'] * 1e3:9.2f} ms"
                     f"   first call {t['first_call_s'] * 1e3:9.2f} ms")
    return "\n".join(lines)


class Plan(NamedTuple):
    """What a ``bench`` request costs, known before any timing."""

    calls: int  # timed calls (each one step of the progress bar)
    seconds: float  # at the least (`budget.bench_seconds`)
    memory: float  # bytes (`budget.bench_memory`)


def plan(names: Sequence[str], dtypes: Sequence[str], sizes: Sequence[int], steps: int,
         repeat: int, kinds: Sequence[str] | None = None) -> Plan:
    """The `Plan` of ``bench`` (``kinds``: ``--optimizer``'s, None for plain descent)."""
    batches = len(dtypes) * len(kinds or ("sgd",))
    trajectories = (0 if kinds else len(dtypes), TRAJECTORY_STEPS)
    rows = batches * len(sizes) * (1 + len(names))
    calls = rows * (1 + repeat) + trajectories[0] * len(names) * (1 + max(repeat, 3))
    seconds = budget.bench_seconds(names, sizes, steps, repeat, CHUNK, batches, trajectories)
    return Plan(calls, seconds, budget.bench_memory(names, rows, min(max(sizes), CHUNK)))


def run(args: argparse.Namespace) -> int:
    if not args.no_cache:
        return _run(args)
    before = os.environ.get(cache.ENV_OFF)
    os.environ[cache.ENV_OFF] = "1"  # before any backend configures its cache
    try:
        return _run(args)
    finally:  # this call only: a caller in the same process keeps its own setting
        if before is None:
            del os.environ[cache.ENV_OFF]
        else:
            os.environ[cache.ENV_OFF] = before


def _run(args: argparse.Namespace) -> int:
    sizes = args.sizes or (args.n,)
    names = selected_backends(args)
    human = sys.stderr if args.json else sys.stdout
    planned = plan(names, args.dtypes, sizes, args.steps, args.repeat, args.optimizer)
    budget.check_time(planned.seconds, args.max_minutes)  # refused before any framework loads
    budget.check(planned.memory, args.max_memory_mb, "memory", "--max-memory-mb")
    for name in names:  # a missing framework (optax for jax too): one line before any timing
        if not args.optimizer:
            registry.get_backend(name, args.dtypes[0])
        elif name.startswith(registry.MISTAKE_PREFIX):
            raise InputError(f"bench --optimizer times correct backends only; got "
                             f"{validate.short_text(name)}")
        else:
            registry.backend_module(name, "optim", registry.OPTIM_NEEDS.get(name))
    with Progress(planned.calls, stream=sys.stderr) as progress:
        result = bench(names, args.dtypes, sizes, args.steps, args.repeat, progress.step,
                       args.optimizer)
    print(table(result), file=human)
    if args.json:
        print(json.dumps(result, indent=2, allow_nan=False))
    return 0
