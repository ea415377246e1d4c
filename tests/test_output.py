"""Report folders (`report.output`): written completely or not at all, never replacing what is
not a report, two runs at once, stale work folders, a full disk, SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from autograd_compare.commands.cli import main
from autograd_compare.report import output
from tests.cli_helpers import FAST, dead_pid, entries, one_line_exit_2


# --- family 1: report folders ------------------------------------------------------------------
def test_force_never_replaces_a_folder_that_is_not_a_report(cwd, capsys, no_work):
    project = cwd / "proj"
    (project / "src").mkdir(parents=True)
    (project / "report.json").write_text('{"name": "my project"}')
    (project / "README").write_text("mine")
    one_line_exit_2(FAST + ["--out", "proj", "--force"], capsys, "not written by")
    ours = cwd / "ours"
    ours.mkdir()
    (ours / "report.json").write_text('{"tool": "autograd-compare", "files": []}')
    (ours / "notes.txt").write_text("mine")  # a report with a user's file in it: kept
    one_line_exit_2(FAST + ["--out", "ours", "--force"], capsys, "'notes.txt'")
    (cwd / "empty").mkdir()
    one_line_exit_2(FAST + ["--out", "empty", "--force"], capsys, "no report.json")
    assert entries(project) == ["README", "report.json", "src"]
    assert entries(ours) == ["notes.txt", "report.json"]


def test_force_replaces_a_report_with_every_tool_file(cwd, capsys):
    assert main(FAST + ["--out", "r"]) == 0
    assert main(["--backends", "manual", "--lrs", "2", "--steps", "2", "--out", "r",
                 "--force"]) == 0
    report = json.loads((cwd / "r" / "report.json").read_text())
    assert report["lrs"] == [2.0]
    assert entries(cwd) == ["r"]  # nothing left beside it


@pytest.mark.parametrize("make,argv,fragment", [
    (lambda d: os.symlink("nowhere", d / "dang"), ["--out", "dang"], "symbolic link"),
    (lambda d: (d / "afile").write_text("x"), ["--out", "afile/sub"], "is a file"),
    (lambda d: None, ["--out", "x" * 245], "File name too long"),
    (lambda d: (d / "r").mkdir(), ["--out", "r/.."], "not a parent"),
])
def test_every_destination_check_comes_before_the_work(make, argv, fragment, cwd, capsys,
                                                       no_work):
    make(cwd)
    before = entries(cwd)
    one_line_exit_2(FAST + argv, capsys, fragment)
    assert entries(cwd) == before


def test_out_dot_inside_a_report_is_refused(cwd, capsys, monkeypatch, no_work):
    (cwd / "r").mkdir()
    (cwd / "r" / "report.json").write_text('{"tool": "autograd-compare"}')
    monkeypatch.chdir(cwd / "r")
    one_line_exit_2(FAST + ["--out", ".", "--force"], capsys, "not the current one")
    one_line_exit_2(FAST + ["--out", str(cwd / "r"), "--force"], capsys, "current folder")
    assert entries(cwd) == ["r"] and entries(cwd / "r") == ["report.json"]


def test_stale_work_folders_of_killed_runs_are_removed_by_the_next_run(cwd, capsys):
    dead, alive = dead_pid(), os.getppid()
    stale = [f".r.tmp-{dead}-0123abcd", f".autograd-compare-report.old-{dead}-89abcdef"]
    for name in stale:
        (cwd / name).mkdir()
        (cwd / name / "report.json").write_text("{")
    living = cwd / f".r.tmp-{alive}-0123abcd"  # a run still going: left alone
    living.mkdir()
    reserved = cwd / "r"  # the final name a killed run had reserved
    reserved.mkdir()
    (reserved / f"{output.RESERVED_PREFIX}{dead}").touch()
    (cwd / "keep.tmp-1-x").mkdir()  # not our pattern
    assert main(FAST + ["--out", "r"]) == 0
    assert entries(cwd) == sorted(["keep.tmp-1-x", "r", living.name])
    assert (cwd / "r" / "report.json").is_file()


def test_a_reservation_of_a_living_run_is_respected(cwd, capsys, no_work):
    (cwd / "r").mkdir()
    (cwd / "r" / f"{output.RESERVED_PREFIX}{os.getppid()}").touch()
    one_line_exit_2(FAST + ["--out", "r"], capsys, "already exists")


def test_default_names_count_up_and_skip_stale_reservations(cwd, capsys):
    (cwd / "autograd-compare-report").mkdir()
    assert main(FAST) == 0
    assert (cwd / "autograd-compare-report-2" / "report.json").is_file()
    stale = cwd / "autograd-compare-report-3"
    stale.mkdir()
    (stale / f"{output.RESERVED_PREFIX}{dead_pid()}").touch()
    assert main(FAST) == 0
    assert (stale / "report.json").is_file()  # the stale reservation was taken over


LAUNCH = textwrap.dedent("""
    import os, sys, time
    from autograd_compare.commands.cli import main
    while not os.path.exists(sys.argv[1]):
        time.sleep(0.001)
    sys.exit(main(sys.argv[2:]))
""")


def _together(cwd: Path, *argvs: list[str]) -> list[subprocess.CompletedProcess]:
    """Start the runs, let them import, then release them at the same instant."""
    go = cwd / "go"
    procs = [subprocess.Popen([sys.executable, "-c", LAUNCH, str(go), *argv], cwd=cwd,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for argv in argvs]
    time.sleep(1.5)
    go.touch()
    return [subprocess.CompletedProcess(p.args, p.wait(timeout=120), *p.communicate())
            for p in procs]


def test_two_runs_released_together_keep_both_reports(cwd):
    runs = _together(cwd, FAST, FAST)
    assert [r.returncode for r in runs] == [0, 0], [r.stderr for r in runs]
    folders = sorted(p.name for p in cwd.iterdir() if p.name != "go")
    assert folders == ["autograd-compare-report", "autograd-compare-report-2"]
    for folder in folders:
        assert json.loads((cwd / folder / "report.json").read_text())["ok"] is True
    said = sorted(line for r in runs for line in r.stdout.splitlines() if "Report:" in line)
    assert said == ["OK. Report: autograd-compare-report-2/",
                    "OK. Report: autograd-compare-report/"]


def test_two_runs_released_together_on_one_out_refuse_one(cwd):
    runs = _together(cwd, FAST + ["--out", "same"], FAST + ["--out", "same"])
    assert sorted(r.returncode for r in runs) == [0, 2], [r.stderr for r in runs]
    loser = next(r for r in runs if r.returncode == 2)
    assert "already exists" in loser.stderr and loser.stderr.count("\n") == 1
    assert sorted(p.name for p in cwd.iterdir()) == ["go", "same"]
    report = json.loads((cwd / "same" / "report.json").read_text())
    assert sorted(report["files"]) == entries(cwd / "same")


def test_sigterm_while_working_leaves_nothing(cwd):
    code = ("import time, autograd_compare.harness.network_check as g\n"
            "def slow(*a, **k):\n    print('working', flush=True); time.sleep(60)\n"
            "g.gradient_check = slow\nfrom autograd_compare.commands.cli import main\n"
            f"main({FAST + ['--out', 'r']!r})\n")
    with subprocess.Popen([sys.executable, "-c", code], cwd=cwd, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True) as proc:
        assert proc.stdout.readline().strip() == "working"
        assert len(list(cwd.iterdir())) == 2  # the reserved name and the temporary folder
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 128 + signal.SIGTERM
        assert "Traceback" not in proc.stderr.read()
    assert list(cwd.iterdir()) == []


def test_json_to_a_full_disk_exits_2_and_leaves_no_folder(cwd):
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "autograd_compare", *FAST, "--json"],
                              cwd=cwd, stdout=full, stderr=subprocess.PIPE, text=True,
                              timeout=120)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        "autograd-compare: error: cannot write to standard output: No space left on device")
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr
    assert list(cwd.iterdir()) == []


def test_restarts_folder_follows_the_same_rules(cwd, capsys):
    argv = ["restarts", "--n", "8", "--steps", "3", "--lrs", "1", "--backends", "manual",
            "--no-plots", "--out", "s"]
    assert main(argv) == 0
    assert main(argv) == 2  # taken, no --force
    assert main(argv + ["--force"]) == 0  # its own report
    assert entries(cwd) == ["s"]
