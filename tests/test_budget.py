"""Requests sized before any work (`compare.budget`): refusals name the estimate, the limit and
the option; the estimates are upper bounds of the measured peaks."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time

import pytest

from autograd_compare import budget
from autograd_compare.commands.cli import main
from tests.cli_helpers import ENV, entries, one_line_exit_2


# --- family 2: sizes ---------------------------------------------------------------------------
def test_budget_refusal_names_estimate_limit_and_option(cwd, capsys, no_work):
    err = one_line_exit_2(["--steps", "3000000", "--backends", "manual", "--lrs", "1"],
                           capsys, "--max-memory-mb")
    # the trainings and their comparisons (budget.optimizers), plus manual's own 128 MiB
    # (budget.LIBRARY_BYTES: the frameworks' memory is in every main-job estimate)
    assert "needs about 4.72 GB of memory, over the limit of 2 GB" in err
    err = one_line_exit_2(["--steps", "1000000", "--backends", "manual", "--lrs", "1",
                            "--max-output-mb", "100", "--max-memory-mb", "5000"], capsys,
                           "--max-output-mb 1145")
    assert "of report files" in err


def test_budget_can_be_raised_and_lowered(cwd, capsys):
    argv = ["--backends", "manual", "--lrs", "1", "--steps", "20000"]
    assert main(argv + ["--max-memory-mb", "60", "--out", "a"]) == 2
    assert main(argv + ["--max-output-mb", "1", "--out", "a"]) == 2
    assert main(argv + ["--max-memory-mb", "300", "--out", "a"]) == 0  # needs ≈215 MB


def test_trace_csv_has_a_row_per_state(cwd, capsys):
    assert main(["--backends", "manual", "--lrs", "1", "--steps", "5", "--out", "r"]) == 0
    lines = (cwd / "r" / "trace.csv").read_text().splitlines()
    assert len(lines) == 1 + 6 and lines[0].startswith("lr,backend,step,w1")  # k = 0..5


def test_many_learning_rates_get_the_overlay_only(cwd, capsys):
    lrs = ",".join(str(0.1 * (k + 1)) for k in range(budget.MAX_LR_PLOTS + 1))
    assert main(["--backends", "manual", "--lrs", lrs, "--steps", "2", "--out", "r"]) == 0
    pngs = [n for n in entries(cwd / "r") if n.startswith("loss") or n == "differences.png"]
    assert pngs == ["differences.png", "loss-all-lrs.png"]  # beside network and landscape
    assert f"only up to {budget.MAX_LR_PLOTS}" in capsys.readouterr().out


def _peak_rss_mb(argv, seconds: float) -> tuple[float, str]:
    """Run the CLI for ``seconds``, then SIGTERM it; its peak resident memory (MB)."""
    with subprocess.Popen([sys.executable, "-m", "autograd_compare", *argv],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) as proc:
        peak, end = 0.0, time.monotonic() + seconds
        while time.monotonic() < end and proc.poll() is None:
            try:
                with open(f"/proc/{proc.pid}/status") as f:
                    for line in f:
                        if line.startswith("VmHWM:"):
                            peak = max(peak, int(line.split()[1]) / 1024)
            except OSError:
                pass
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        return peak, proc.stderr.read()


def test_bench_runs_in_bounded_memory_for_any_n():
    # N = 1e9 configurations would need 64 GB at once; chunked it stays at one block
    peak, err = _peak_rss_mb(["bench", "--n", "1000000000", "--steps", "1", "--repeat", "1",
                              "--backends", "manual", "--dtypes", "float64"], 8.0)
    assert 0 < peak < 400, peak
    assert "Traceback" not in err


def test_sheet_row_limit_and_file_rules(cwd, capsys, no_work):
    one_line_exit_2(["sheet", "--out", "s.xlsx", "--steps", str(budget.XLSX_MAX_ROWS)], capsys,
                     "xlsx limit")
    (cwd / "x.xlsx").mkdir()
    err = one_line_exit_2(["sheet", "--out", "x.xlsx", "--force"], capsys, "is a folder")
    assert ".tmp" not in err
    os.symlink("nowhere.xlsx", cwd / "d.xlsx")
    one_line_exit_2(["sheet", "--out", "d.xlsx"], capsys, "symbolic link")
    one_line_exit_2(["sheet", "--out", "d.xlsx", "--force"], capsys, "symbolic link")
    assert entries(cwd) == ["d.xlsx", "x.xlsx"]


def test_sheet_files_have_ordinary_permissions(cwd, capsys):
    umask = os.umask(0o022)
    try:
        assert main(["sheet", "--out", "s.xlsx", "--steps", "2"]) == 0
        assert stat.S_IMODE(os.stat("s.xlsx").st_mode) == 0o644
        assert main(["sheet", "--out", "s.xlsx", "--steps", "3", "--force"]) == 0
        assert stat.S_IMODE(os.stat("s.xlsx").st_mode) == 0o644
    finally:
        os.umask(umask)


# --- the memory estimate is an upper bound of the measured peak ---------------------------
def _peak_rss_bytes(argv: list[str]) -> int:
    """Peak RSS of ``autograd-compare argv`` (getrusage of the finished child, Linux: KiB)."""
    probe = ("import resource, subprocess, sys\n"
             "subprocess.run([sys.executable, '-m', 'autograd_compare', *sys.argv[1:]],"
             " stdout=subprocess.DEVNULL, check=True)\n"
             "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    done = subprocess.run([sys.executable, "-c", probe, *argv], capture_output=True, text=True,
                          env=ENV, timeout=300, check=True)
    return int(done.stdout) * 1024


@pytest.mark.parametrize("steps", [10_000, 40_000, 80_000])
def test_the_main_job_memory_estimate_is_at_least_the_peak(steps, cwd):
    from autograd_compare import budget

    argv = ["--backends", "manual", "--lrs", "1,2", "--steps", str(steps), "--out", "r"]
    estimate, _ = budget.main_job(2, ["manual"], steps, 8, (2, 2, 2), 1, True)
    peak = _peak_rss_bytes(argv)
    assert estimate >= peak, (estimate / 2**20, peak / 2**20)


def test_the_estimate_counts_the_frameworks():
    from autograd_compare import budget

    assert budget.libraries(["manual", "torch", "jax"]) >= 450 * 2**20  # measured 451 MB
    assert budget.libraries(["mistake:update-sign"]) == budget.libraries(["manual"])


# --- issue 23, second round: explain --optimizer's memory, bench's time ------------------------
@pytest.mark.parametrize("fmt, steps", [("text", 5000), ("json", 4000)])
def test_the_explain_memory_estimate_is_at_least_the_peak(fmt, steps, cwd):
    peak = _peak_rss_bytes(["explain", "--optimizer", "adam", "--l2", "0.05", "--steps",
                            str(steps), "--format", fmt])
    assert budget.explain_memory(steps, 8, fmt) >= peak, peak


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_the_explain_memory_per_step_is_at_least_what_python_allocates(fmt):
    """tracemalloc's peak of the work and its text grows by less than
    `budget.EXPLAIN_STEP_BYTES` a step (measured 8.4 KB as text, 31.9 KB as JSON): the same
    in every run, unlike the RSS, where the frameworks' start varies by tens of MB."""
    import tracemalloc

    import numpy as np

    from autograd_compare import optimizers
    from autograd_compare.interface import CLASS_INPUTS, CLASS_TARGETS, CLASS_WEIGHTS, Example
    from autograd_compare.teach.updates import explain_updates, render_updates, updates_json

    example = Example(np.array(CLASS_INPUTS), np.array(CLASS_TARGETS))
    opt = optimizers.make("adam", lr=0.5, l2=0.05)
    render = updates_json if fmt == "json" else render_updates
    render(explain_updates(CLASS_WEIGHTS, example, opt, "w5", 2))  # imports, caches
    peaks = []
    for steps in (200, 1200):
        tracemalloc.start()
        render(explain_updates(CLASS_WEIGHTS, example, opt, "w5", steps))
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    assert (peaks[1] - peaks[0]) / 1000 <= budget.EXPLAIN_STEP_BYTES[fmt], peaks


@pytest.mark.parametrize("seconds, fragment", [
    (3601, "needs at least 1 h of computing, over the limit of 1 h; raise it with "
     "--max-minutes 61 or ask for less"),
    (86400 * 400, "needs at least 1.1 years"),
    (1e30, "ask for less (--max-minutes goes up to 2147483647)"),
])
def test_time_refusals_name_the_estimate_limit_and_option(seconds, fragment):
    from autograd_compare.errors import InputError

    with pytest.raises(InputError) as err:
        budget.check_time(seconds, 60)
    assert fragment in str(err.value) and "\n" not in str(err.value)
    budget.check_time(3600, 60)  # at the limit: accepted
