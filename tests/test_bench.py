"""``autograd-compare bench`` and benchmarks/bench.py run on tiny sizes and report the documented
shape. Timings are never asserted (the machine is shared and noisy)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from autograd_compare.commands.bench import numpy_reference
from autograd_compare.commands.cli import main
from autograd_compare.interface import CLASS_INPUTS, CLASS_TARGETS, DTYPES, Example
from autograd_compare.manual.soa import train_batch
from tests.helpers import EPS32, EPS64, assert_close

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--n", "16", "--steps", "3", "--repeat", "1"]


def test_json_shape(capsys):
    assert main(["bench", *TINY, "--backends", "manual,torch,jax", "--json"]) == 0
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    assert "x NumPy" in captured.err  # the table goes to stderr with --json
    names = ["numpy-reference", "manual", "torch", "jax"]
    assert list(data["config_steps_per_s"]) == names
    for per_dtype in data["config_steps_per_s"].values():
        assert set(per_dtype) == {"float64", "float32"}
        assert all(v > 0 for v in per_dtype.values())
    assert len(data["batched"]) == 8
    for row in data["batched"]:
        assert {"first_call_s", "steady_s", "warmup_s", "ratio_to_numpy"} <= set(row)
        assert row["steady_s"] > 0 and row["first_call_s"] > 0
        # warmup is the first call's extra time over the steady one, clamped at 0: the same
        # expression recomputed from the reported fields (1 eps: the JSON round trip is exact)
        want = max(row["first_call_s"] - row["steady_s"], 0.0)
        assert_close(row["warmup_s"], want, EPS64, what="warmup_s")
    assert [(t["backend"], t["dtype"]) for t in data["single_trajectory"]] == [
        (b, d) for d in ("float64", "float32") for b in names[1:]]
    assert data["machine"]["cores"] >= 1 and data["config"]["n"] == 16


def test_script_for_ci_logs_prints_the_table():
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench.py"), *TINY,
                           "--backends", "manual", "--dtypes", "float32"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "M config-steps/s" in lines[1]
    assert lines[2].split()[:2] == ["numpy-reference", "float32"]
    assert lines[3].split()[:2] == ["manual", "float32"]
    assert "100-step train() trajectory" in done.stdout


@pytest.mark.parametrize("args, message", [
    (["--n", "0"], "--n must be >= 1"),
    (["--dtypes", "float16"], "unknown dtype 'float16'"),
    (["--steps", "x"], "--steps must be a whole number"),
])
def test_bad_options_exit_2(capsys, args, message):
    assert main(["bench", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


@pytest.mark.parametrize("dt, eps", [(np.float64, EPS64), (np.float32, EPS32)])
def test_numpy_reference_trains_the_same_network(dt, eps):
    ex = Example(np.array(CLASS_INPUTS, dt), np.array(CLASS_TARGETS, dt))
    w = np.random.default_rng(2).uniform(-1, 1, (50, 8)).astype(dt)
    lr = np.full(50, 0.5, dt)
    ref = numpy_reference(w, lr, ex, 20)
    assert ref.dtype == dt
    # the same formulas in another operation order (x*x, fused layers) after 20 steps, |w| < 1:
    # measured 1 eps64 and 0.75 eps32 absolute; 4 eps allowed
    assert_close(ref, train_batch(w, lr, ex, steps=20).final_weights, rtol=0, atol=4 * eps)

def test_several_sizes_first_call_and_steady_apart(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("AUTOGRAD_COMPARE_CACHE_DIR", str(tmp_path / "cache"))
    assert main(["bench", "--sizes", "3,20", "--steps", "2", "--repeat", "1", "--dtypes",
                 "float64", "--backends", "manual", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["config"]["sizes"] == [3, 20] and data["config"]["cache"] == str(
        tmp_path / "cache")
    assert [(r["backend"], r["n"]) for r in data["batched"]] == [
        ("numpy-reference", 3), ("manual", 3), ("numpy-reference", 20), ("manual", 20)]
    for r in data["batched"]:
        assert r["first_call_s"] > 0 and r["steady_s"] > 0 and r["first_call_ratio_to_numpy"] > 0
    assert data["batched"][0]["first_call_ratio_to_numpy"] == 1.0
    monkeypatch.delenv("AUTOGRAD_COMPARE_NO_CACHE", raising=False)
    assert main(["bench", "--sizes", "3", "--steps", "1", "--repeat", "1", "--dtypes",
                 "float64", "--backends", "manual", "--json", "--no-cache"]) == 0
    assert json.loads(capsys.readouterr().out)["config"]["cache"] is None
    assert "AUTOGRAD_COMPARE_NO_CACHE" not in os.environ  # that call only, not the process


def test_bad_sizes_are_a_usage_error(capsys):
    assert main(["bench", "--sizes", "10,x"]) == 2
    assert "--sizes must be whole numbers" in capsys.readouterr().err


# --- sized before the work, progress while it runs (issue 23) -----------------------------------
@pytest.mark.parametrize("argv, fragment", [
    (["--steps", "2147483647"], "needs at least 1.32 years of computing, over the limit of 1 h; "
     "raise it with --max-minutes 691705"),
    (["--repeat", "2147483647"], "needs at least 442 years"),
    (["--sizes", "9223372036854775808"], "ask for less (--max-minutes goes up to 2147483647)"),
    (["--sizes", "60000,600000", "--steps", "10000", "--optimizer", "all"], "--max-minutes"),
    (["--n", "100", "--max-memory-mb", "300"], "raise it with --max-memory-mb"),  # 3 frameworks
    (["--sizes", ",".join(map(str, range(1, 600_001))), "--steps", "1", "--backends",
      "manual", "--dtypes", "float32", "--max-minutes", "1000"], "GB of memory"),  # 2 KB a row
])
def test_requests_are_sized_before_any_timing(argv, fragment, capsys, no_work, monkeypatch):
    from autograd_compare import registry
    from tests.cli_helpers import one_line_exit_2

    def boom(*a, **k):
        raise AssertionError("a framework loaded before the refusal")

    monkeypatch.setattr(registry, "get_backend", boom)
    monkeypatch.setattr(registry, "backend_module", boom)
    one_line_exit_2(["bench", *argv], capsys, fragment)


def test_the_time_limit_can_be_raised(capsys, no_work):
    from tests.cli_helpers import one_line_exit_2

    argv = ["bench", "--steps", "1000000", "--backends", "manual", "--dtypes", "float32"]
    err = one_line_exit_2(argv, capsys, "raise it with --max-minutes")
    needed = err.split("--max-minutes ")[1].split()[0]
    with pytest.raises(AssertionError, match="before the refusal"):  # past the budget: work
        main([*argv, "--max-minutes", needed])


def test_the_estimate_counts_every_call():
    from autograd_compare import budget
    from autograd_compare.commands import bench

    one = bench.plan(["manual"], ["float32"], [10], 100, 1).seconds
    assert bench.plan(["manual"], ["float32"], [10], 200, 1).seconds > one  # steps
    assert bench.plan(["manual"], ["float32"], [10], 100, 5).seconds > one  # repeat
    assert bench.plan(["manual"], ["float32"], [10, 10], 100, 1).seconds > one  # sizes
    assert bench.plan(["manual", "torch"], ["float32"], [10], 100, 1).seconds > one  # backends
    assert bench.plan(["manual"], DTYPES, [10], 100, 1).seconds > one  # dtypes
    # N above one chunk: ceil(N / CHUNK) batched calls, each paying the per-step cost
    n = 3 * bench.CHUNK
    step = budget.BENCH_STEP_SECONDS["numpy-reference"] + budget.BENCH_STEP_SECONDS["manual"]
    config = (budget.BENCH_CONFIG_STEP_SECONDS["numpy-reference"]
              + budget.BENCH_CONFIG_STEP_SECONDS["manual"])
    batched = 2 * (3 * 100 * step + n * 100 * config)
    trajectory = 4 * bench.TRAJECTORY_STEPS * budget.BENCH_STEP_SECONDS["manual"]
    assert bench.plan(["manual"], ["float32"], [n], 100, 1).seconds == pytest.approx(
        batched + trajectory, rel=1e-12)


@pytest.mark.parametrize("extra, calls", [
    ([], 2 * 2 + 4),  # numpy and manual: 2 calls each; the trajectory: 1 + 3 calls
    (["--optimizer", "adam"], 2 * 2),  # no trajectory
])
def test_progress_announces_every_timed_call(extra, calls, monkeypatch, capsys):
    from tests.cli_helpers import record_progress

    bars = record_progress(monkeypatch, "bench")
    assert main(["bench", *TINY, "--backends", "manual", "--dtypes", "float32", *extra]) == 0
    (bar,) = bars
    assert bar.full() and bar.total == calls
    assert bar.steps[:2] == ["numpy reference, float32, N=16, first call"
                             if not extra else "numpy reference, adam, float32, N=16, first call",
                             "numpy reference, float32, N=16, call 2 of 2"
                             if not extra else "numpy reference, adam, float32, N=16, call 2 of 2"]
