"""Size budgets: estimate a request's memory and output before any work, refuse beyond them.

Every estimate is an upper bound built from per-item costs measured on this code (the numbers
below, docs/hardening.md "Budgets"); a refusal is one line with the estimate, the limit and
the option that raises it. The defaults fit a laptop: 2 GiB of memory, 1 GiB of files.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from autograd_compare.errors import InputError
from autograd_compare.validate import MAX_COUNT

DEFAULT_MEMORY_MB = 2048
DEFAULT_OUTPUT_MB = 1024
DEFAULT_MINUTES = 60
MB = 1 << 20

# main job, per row of a run (one backend, one learning rate, one step k = 0..steps)
PNG_BYTES = 200_000  # one report picture, generous
MAX_LR_PLOTS = 12  # more learning rates than this: only the overlay and the differences plot

# restarts, per configuration (start x rate) and per backend
CONFIG_BYTES_PER_BACKEND = 12  # final E_total (8) + steps to threshold (4)
CONFIG_BYTES = 48  # difference + ratio (16) and summary temporaries (quantile copies, 32)
CHUNK_ROW_BYTES = 600  # one row of a batched call: weights, lr, results, padding copies
GALLERY_ROW_BYTES = 80  # one gallery.csv row (lr, which, start, backend, step, E_total)
CURVE_STEP_BYTES = 300  # train() of one gallery start, per step (weights, grads, loss)

# sheet, per iteration row
SHEET_ROW_MEMORY = 14_000  # openpyxl keeps ~28 cells with formulas and styles per row
SHEET_ROW_BYTES = 1_500  # the zipped xlsx
XLSX_MAX_ROWS = 1_048_576  # Excel's (and the xlsx format's) row limit


def add_options(parser: argparse.ArgumentParser, output: bool = True) -> None:
    """--max-memory-mb (and --max-output-mb): the budgets a request is checked against."""
    from autograd_compare.commands.options import positive_int

    parser.add_argument("--max-memory-mb", type=positive_int("--max-memory-mb"),
                        default=DEFAULT_MEMORY_MB, metavar="MB",
                        help=f"refuse requests estimated to need more memory (default "
                        f"{DEFAULT_MEMORY_MB})")
    if output:
        parser.add_argument("--max-output-mb", type=positive_int("--max-output-mb"),
                            default=DEFAULT_OUTPUT_MB, metavar="MB",
                            help=f"refuse requests estimated to write more (default "
                            f"{DEFAULT_OUTPUT_MB})")


def check(estimate: float, limit_mb: int, what: str, option: str) -> None:
    """Refuse (`InputError`, exit 2) when ``estimate`` bytes exceed ``limit_mb``."""
    if estimate > limit_mb * MB:
        raise InputError(f"this request needs about {_size(estimate)} of {what}, over the "
                         f"limit of {_size(limit_mb * MB)}; raise it with {option} "
                         f"{_mb_needed(estimate)} or ask for less")


def add_time_option(parser: argparse.ArgumentParser) -> None:
    """--max-minutes: the time budget a request is checked against (`check_time`)."""
    from autograd_compare.commands.options import positive_int

    parser.add_argument("--max-minutes", type=positive_int("--max-minutes"),
                        default=DEFAULT_MINUTES, metavar="MIN",
                        help=f"refuse requests estimated to take longer (default "
                        f"{DEFAULT_MINUTES})")


def check_time(seconds: float, limit_minutes: int, option: str = "--max-minutes") -> None:
    """Refuse (`InputError`, exit 2) when ``seconds`` exceed ``limit_minutes``."""
    if seconds > limit_minutes * 60:
        needed = int(-(-seconds // 60))
        raise_it = f"raise it with {option} {needed} or ask for less" if \
            needed <= MAX_COUNT else f"ask for less ({option} goes up to {MAX_COUNT})"
        raise InputError(f"this request needs at least {_duration(seconds)} of computing, "
                         f"over the limit of {_duration(limit_minutes * 60)}; {raise_it}")


def _duration(seconds: float) -> str:
    for unit, scale in (("years", 365.25 * 86400), ("days", 86400), ("h", 3600), ("min", 60)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds:.3g} s"


def _size(n: float) -> str:
    for unit, scale in (("TB", 1 << 40), ("GB", 1 << 30), ("MB", MB)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n / 1024:.3g} KB"


def _mb_needed(n: float) -> str:
    return str(int(-(-n // MB)))


def main_job(lrs: int, names: Sequence[str], steps: int, P: int, sizes: tuple[int, ...],
             examples: int, plots: bool) -> tuple[float, float]:
    """(memory, output) in bytes of the main job on a network of ``P`` parameters, layer
    ``sizes`` and ``examples`` examples: the trainings and their comparison (`optimizers`), the
    gradient check (`network_check`), the examples and nodes.csv (`network_data`), the
    frameworks."""
    memory, size = optimizers(lrs, len(names), steps, P, plots)
    nodes_memory, nodes_size = network_check(P, 2 * examples * sum(sizes[1:]), 1,
                                             lrs * len(names), False)
    data_memory, data_size = network_data(examples, sizes, lrs, len(names))
    return (memory + nodes_memory + data_memory + libraries(names),
            size + nodes_size + data_size)


def restarts(n: int, lrs: int, backends: int, steps: int, chunk: int, checkpoints: int,
             params: int = 8, nodes: int = 8) -> tuple[float, float]:
    """(memory, output) in bytes of a restart study on a network of ``params`` parameters and
    ``nodes`` z and a values over all examples (defaults: the tutorial's); disagreements not
    counted (unknown). final_loss.csv has a row per configuration."""
    configs = n * lrs
    per_config = backends * (CONFIG_BYTES_PER_BACKEND + 8 * checkpoints) + CONFIG_BYTES
    chunk_rows = min(chunk, n) * lrs
    row = CHUNK_ROW_BYTES + 8 * 4 * (params + nodes - 16)  # the tutorial's row: 600 bytes
    gallery_rows = lrs * 3 * backends * steps
    memory = (configs * per_config + chunk_rows * row * backends
              + 3 * backends * steps * CURVE_STEP_BYTES + 64 * MB)
    return memory, (gallery_rows * GALLERY_ROW_BYTES + configs * (40 + 26 * backends)
                    + 3 * PNG_BYTES + 1 * MB)


def sheet(steps: int) -> tuple[float, float]:
    """(memory, output) in bytes of the spreadsheet."""
    return steps * SHEET_ROW_MEMORY + 64 * MB, steps * SHEET_ROW_BYTES


def network_check(params: int, nodes: int, steps: int, backends: int,
                  plots: bool) -> tuple[float, float]:
    """(memory, output) in bytes of ``check`` on a network of ``params`` parameters and
    ``nodes`` z and a values over all examples: every backend's run (steps+1 rows of nodes, E,
    gradients, parameters) and the comparison arrays; trace.csv (a row per backend and step)."""
    cols = nodes + 1 + 2 * params
    rows = (steps + 1) * cols * 8
    memory = backends * rows * 3 + rows * 6 + 64 * MB  # runs and tables; diff, tol, ratio, ...
    return memory, backends * (steps + 1) * (2 * params + 1) * 24 + (4 * PNG_BYTES if plots
                                                                      else 0)


def optimizers(lrs: int, backends: int, steps: int, params: int,
               plots: bool) -> tuple[float, float]:
    """(memory, output) in bytes of ``optimizers``: per rate and backend, steps+1 rows of the
    loss, parameters, gradients and state (Adam: m, v, m_hat, v_hat), and their comparison."""
    cols = 6 * params + 2
    rows = lrs * backends * (steps + 1)
    return (rows * cols * 8 * 4 + 64 * MB,
            rows * cols * 24 + (2 * PNG_BYTES if plots else 0))


# any network, per data row / parameter (measured on this code, docs/hardening.md "Budgets")
PARAM_COPIES = 16  # start, gradients, optimizer state, trained vectors, comparisons: 8 bytes each
CELL_READ_BYTES = 120  # a --data cell while read: its text, the csv module's str, the float
NODE_WORK_BYTES = 64  # one z or a of one example during training: 8 float64 temporaries
NODES_ROW_CELL_BYTES = 140  # one nodes.csv cell while written: a Python str in a row list + text
NODES_ROW_CELL_TEXT = 24  # one nodes.csv cell on disk


def parameters(count: int) -> float:
    """Memory in bytes that ``count`` parameters need at the least (`PARAM_COPIES` float64
    copies), before any of them is made: ``--layers 2,100000,100000,1`` is refused up front."""
    return float(count) * 8 * PARAM_COPIES + 64 * MB


def data_file(rows: int, cells: int) -> float:
    """Memory in bytes of reading a --data file of ``rows`` rows of ``cells`` cells."""
    return float(rows) * cells * CELL_READ_BYTES + 64 * MB


def network_data(examples: int, sizes: tuple[int, ...], rates: int,
                 backends: int) -> tuple[float, float]:
    """(memory, output) in bytes of the examples of the main job on any network: every z and
    a of every example while training, and nodes.csv (a row per rate, backend, example, at
    step 0 and after the last update: labels, the example, its z and a)."""
    nodes = 2 * sum(sizes[1:])
    rows = 2 * rates * backends * examples
    cols = 4 + sizes[0] + sizes[-1] + nodes
    memory = float(examples) * nodes * NODE_WORK_BYTES * backends + rows * cols * (
        NODES_ROW_CELL_BYTES + NODES_ROW_CELL_TEXT)
    return memory, float(rows) * cols * NODES_ROW_CELL_TEXT


# the frameworks themselves, once loaded (peak RSS of a 1-step run, measured: manual 104 MB with
# matplotlib, torch alone 301 MB, jax alone 252 MB, all three 451 MB); a mistake is manual's
LIBRARY_BYTES = {"manual": 128 * MB, "torch": 224 * MB, "jax": 192 * MB}


def libraries(names: Sequence[str]) -> float:
    """Memory in bytes of the frameworks that ``names`` load (each once)."""
    frameworks = {n if n in LIBRARY_BYTES else "manual" for n in names} | {"manual"}
    return float(sum(LIBRARY_BYTES[f] for f in frameworks))


def explain_updates(steps: int) -> float:
    """Output in bytes of ``explain --optimizer``: about 1 KB of text per step."""
    return steps * 1024.0


# explain --optimizer, per step: the slope of the peak RSS of `explain --optimizer adam --l2
# 0.05` (7 lines a step, the most) against --steps, measured with /usr/bin/time: 9.0 KiB a step
# as text between 2000 and 16000 steps (10.3-11.1 KiB between 1000 and 5000, where the
# frameworks' own start varies by 55 MB), 35.4 KiB as JSON (json.dumps with indent builds its
# pieces in Python); 7.0 KiB on --preset iris. tracemalloc of the same work in one process:
# 8.4 KB a step as text, 31.9 KB as JSON. What grows: 7 `Line`s a step (strings, a value, the
# 3 backends' values), the rendered text, each backend's trajectory. Rounded up; markdown is
# the text and one more copy of it.
EXPLAIN_STEP_BYTES = {"text": 12_000, "markdown": 13_000, "json": 42_000}
# per parameter beyond the tutorial's 8, per step: not measurable against the noise on iris
# (43 parameters); counted from the stored arrays (weights, gradients, up to 4 state values:
# 48 bytes per backend, 3 backends) times two for a copy
EXPLAIN_PARAM_STEP_BYTES = 300


def explain_memory(steps: int, params: int, fmt: str = "text") -> float:
    """Memory in bytes of ``explain --optimizer`` over ``steps`` updates of a network of
    ``params`` parameters, printed as ``fmt``: the three frameworks and the steps' lines."""
    per_step = EXPLAIN_STEP_BYTES[fmt] + EXPLAIN_PARAM_STEP_BYTES * max(params - 8, 0)
    return libraries(["manual", "torch", "jax"]) + 64 * MB + float(steps) * per_step


def check_text(estimate: float, option: str, value: int) -> None:
    """Refuse printed text beyond `DEFAULT_OUTPUT_MB` (fixed: the terminal is no report)."""
    limit = DEFAULT_OUTPUT_MB * MB
    if estimate > limit:
        most = int(value * limit // estimate)
        raise InputError(f"{option} {value} would print about {_size(estimate)} of text, over "
                         f"the limit of {_size(limit)}; give {option} {most} or fewer")



# bench: seconds per step of one batched call, and per configuration-step, rounded down to the
# least of two measurements (so an estimate is the least a request takes): the per-step cost
# from `bench --sizes 1 --steps 200 --repeat 2` (steady calls, N = 1; load average 6, halved),
# the per-configuration one from docs/benchmarks.md's quiet default run (60000 x 1000, float32:
# NumPy 42 M config-steps/s, manual 59 M, torch 100 M, jax 236 M; docs/hardening.md
# "Budgets"). Another backend (a mistake, a plugin) counts as manual.
BENCH_STEP_SECONDS = {"numpy-reference": 5e-5, "manual": 3e-5, "torch": 2e-4, "jax": 1e-6}
BENCH_CONFIG_STEP_SECONDS = {"numpy-reference": 2e-8, "manual": 1.5e-8, "torch": 1e-8,
                             "jax": 4e-9}
# one measured row (a dict, its table line, its JSON): peak RSS of `bench --sizes 1,1,...
# --steps 1 --repeat 1 --backends manual --dtypes float32 --json` grows 1.63 KiB a row
# (10,000 and 20,000 sizes, 2 rows each), rounded up
BENCH_ROW_BYTES = 2_000
BENCH_BLOCK_ROW_BYTES = 8 * 8 * 24  # a row of the block of starts: 8 float64, ~24 temporaries


def bench_seconds(names: Sequence[str], sizes: Sequence[int], steps: int, repeat: int,
                  chunk: int, batches: int, trajectories: tuple[int, int]) -> float:
    """Seconds ``bench`` takes at the least: ``batches`` times (dtypes x optimizers) each size
    for the NumPy reference and every backend, 1 + ``repeat`` calls of ceil(N / ``chunk``)
    batched calls; then ``trajectories`` = (count, steps): count times (once per dtype) a
    train() of that many steps per backend, 1 + max(repeat, 3) calls."""
    total = 0.0
    for name in ("numpy-reference", *names):
        step = BENCH_STEP_SECONDS.get(name, BENCH_STEP_SECONDS["manual"])
        config = BENCH_CONFIG_STEP_SECONDS.get(name, BENCH_CONFIG_STEP_SECONDS["manual"])
        call = sum(-(-n // chunk) * float(steps) * step + float(n) * steps * config
                   for n in sizes)
        total += batches * (1 + repeat) * call
        if name != "numpy-reference":
            total += trajectories[0] * (1 + max(repeat, 3)) * trajectories[1] * step
    return total


def bench_memory(names: Sequence[str], rows: int, block: int) -> float:
    """Memory in bytes of ``bench``: the frameworks, ``rows`` measured rows, and one block of
    ``block`` starts (every batched call runs on it)."""
    return (libraries(names) + 64 * MB + float(rows) * BENCH_ROW_BYTES
            + float(block) * BENCH_BLOCK_ROW_BYTES)
