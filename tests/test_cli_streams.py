"""The process edge (`commands.cli`): closed or full stdout/stderr, a reader that leaves."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from autograd_compare.commands import cli
from tests.cli_helpers import ENV, FAST


# --- the process edge ------------------------------------------------------------------------
def _shell(argv: list[str], redirect: str) -> subprocess.CompletedProcess:
    line = " ".join([sys.executable, "-m", "autograd_compare", *argv, redirect])
    return subprocess.run(["sh", "-c", line], text=True, capture_output=True, env=ENV,
                          timeout=120)


def test_stdout_closed_is_one_line_and_exit_2(cwd):
    done = _shell([*FAST, "--out", "r"], ">&-")
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and "standard output" in done.stderr, done.stderr
    assert not (cwd / "r").exists()


def test_stderr_closed_keeps_the_exit_code_and_the_report(cwd):
    done = _shell([*FAST, "--out", "r"], "2>&-")
    assert done.returncode == 0, done
    assert (cwd / "r" / "report.json").exists() and "OK. Report: r/" in done.stdout


@pytest.mark.parametrize("argv,code", [(["--lrs", "abc"], 2), ([*FAST, "--json"], 0)])
def test_stderr_full_keeps_the_exit_code(argv, code, cwd):
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "autograd_compare", *argv],
                              stdout=subprocess.DEVNULL, stderr=full, env=ENV, timeout=120)
    assert done.returncode == code


@pytest.mark.parametrize("argv", [["mistakes"], ["presets", "--json"], [*FAST, "--out", "r"],
                                  ["restarts", "--n", "2", "--steps", "2", "--backends",
                                   "manual", "--json"]], ids=lambda a: a[0])
def test_a_reader_that_leaves_is_a_quiet_exit_141(argv, cwd):
    read, write = os.pipe()
    os.close(read)  # `| head -c0`: the reader is gone before the first write
    done = subprocess.run([sys.executable, "-m", "autograd_compare", *argv], stdout=write,
                          stderr=subprocess.PIPE, text=True, env=ENV, timeout=120)
    os.close(write)
    assert done.returncode == cli.READER_GONE, done.stderr
    assert "Traceback" not in done.stderr and "Broken pipe" not in done.stderr, done.stderr
    assert not (cwd / "r").exists()  # the tables were not read: no report either


def test_the_plot_workers_variable_is_gone():
    assert "AUTOGRAD_COMPARE_PLOT_WORKERS" not in "".join(
        p.read_text() for p in Path("compare").rglob("*.py"))
