"""Issue 13: every listed input, and one test per family of the principles behind the fixes.

Families: 1 report folders, 2 sizes, 3 one parser for every source (--config), 4 API inputs,
5 verdicts. The fuzz suite (family 6) is tests/test_fuzz.py.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from autograd_compare import budget, get_backend
from autograd_compare.commands.cli import main
from autograd_compare.errors import InputError
from autograd_compare.report import output
from autograd_compare.study import restarts as study

FAST = ["--backends", "manual", "--lrs", "1", "--steps", "2"]
DEAD_PID = 4_000_000  # above Linux's pid_max (4194304 is the largest possible; none this high)


def _dead_pid() -> int:
    pid = DEAD_PID
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        except PermissionError:
            pass
        pid += 1


@pytest.fixture
def cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def no_work(monkeypatch):
    """Any refusal must come before the work: the gradient check must never be reached."""
    def boom(*a, **k):
        raise AssertionError("the work started before the refusal")
    monkeypatch.setattr("autograd_compare.harness.network_check.gradient_check", boom)
    monkeypatch.setattr("autograd_compare.study.restarts.run", boom)
    for name in ("harness.optim_check.check",
                 "teach.updates.explain_updates"):
        monkeypatch.setattr(f"autograd_compare.{name}", boom)
    import autograd_compare.commands.sheet  # noqa: F401 - imports build by name: patch it there

    monkeypatch.setattr("autograd_compare.commands.sheet.build", boom)


def _one_line_exit_2(argv, capsys, fragment):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert fragment in err, err
    assert len(err) < 400, err  # nothing echoed whole
    return err


def _entries(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir())


# --- the listed inputs: tracebacks that must be one line and exit 2 -----------------
LISTED_EXIT_2 = [
    (["--targets", "1e160,0"], "targets t1,t2 must be at most"),
    (["--targets", "1e200,1e200"], "targets t1,t2 must be at most"),
    (["--targets", "1e154,1e154"], "targets t1,t2 must be at most"),
    (["--targets", "1e20,1e20", "--dtype", "float32"], "in float32"),
    (["--steps", "99999999999999999999999999"], "steps must be <= 2147483647"),
    (["--steps", "2000000000"], "--max-memory-mb"),
    (["--steps", "100000000"], "--max-memory-mb"),
    (["--lrs", ",".join(f"{0.01 * (k + 1):.4f}" for k in range(10_000))], "--max-memory-mb"),
    (["restarts", "--n", "1000000000"], "--max-memory-mb"),
    (["restarts", "--n", "100000000", "--steps", "1"], "--max-memory-mb"),
    (["restarts", "--range=-1.7e308,1.7e308"], "--range is too wide"),
    (["restarts", "--steps", "9223372036854775808", "--backends", "jax"], "must be <="),
    (["restarts", "--backends", "manual,manual"], "listed twice"),
    (["restarts", "--targets", "1e200,1e200"], "targets t1,t2 must be at most"),
    (["--lrs", "0.5,0.5"], "listed twice"),
    (["--dtype", "float32", "--lrs", "1e-320"], "is 0 in float32"),
    (["--dtype", "float32", "--lrs", "1e39"], "is infinite in float32"),
    (["--out", ""], "--out needs a folder name"),
    (["--out", "."], "must name a new folder"),
    (["--lrs", ",".join(["0.5"] * 15_000 + ["x"] + ["0.5"] * 15_000)], "entry 15001 of 30001"),
    (["sheet", "--out", "s.xlsx", "--steps", "100000", "--max-memory-mb", "1000"],
     "--max-memory-mb"),
    (["sheet", "--out", "s.xlsx", "--steps", "2000000"], "beyond the xlsx limit"),
    (["explain", "--prove", "--lr", "nan"], "learning rate must be finite"),
    # networks and optimizers are sized too (estimates: compare/budget.py)
    (["check", "--preset", "iris", "--steps", "100000000"], "--max-memory-mb"),
    (["--preset", "mazur", "--steps", "100000000"], "--max-memory-mb"),
    (["check", "--preset", "xor", "--steps", "1000000", "--max-output-mb", "10",
      "--max-memory-mb", "100000"], "--max-output-mb"),
    (["restarts", "--preset", "xor", "--n", "100000000"], "--max-memory-mb"),
    (["restarts", "--preset", "xor", "--optimizer", "adam", "--n", "100000000"],
     "--max-memory-mb"),
    (["optimizers", "--steps", "100000000"], "--max-memory-mb"),
    (["optimizers", "--preset", "xor", "--steps", "200000", "--out", "o",
      "--max-output-mb", "10", "--max-memory-mb", "100000"], "--max-output-mb"),
    (["explain", "--optimizer", "adam", "--steps", "100000000"], "give --steps 1048576 or fewer"),
    (["explain", "--targets", "1e200,1e200"], "targets t1,t2 must be at most"),
]


@pytest.mark.parametrize("argv,fragment", LISTED_EXIT_2, ids=lambda x: str(x)[:40])
def test_listed_inputs_exit_2_before_any_work(argv, fragment, cwd, capsys, no_work):
    _one_line_exit_2(argv, capsys, fragment)
    assert _entries(cwd) == []  # no folder, no temporary, no spreadsheet


@pytest.mark.parametrize("argv,code", [
    (["--lrs", "1e300", "--steps", "2"], 0),  # was a matplotlib OverflowError
    (["--targets", "30,-30", "--steps", "2", "--lrs", "0.5"], 0),  # was a false FD alarm
    (["--backends", "mistake:update-sign"], 1),  # was OK
])
def test_listed_inputs_that_run(argv, code, cwd, capsys):
    assert main(argv + ["--out", "r"]) == code
    err = capsys.readouterr().err
    assert "Traceback" not in err and "Warning" not in err
    report = json.loads((cwd / "r" / "report.json").read_text())
    assert sorted(report["files"]) == sorted(p.name for p in (cwd / "r").iterdir())
    assert report["exit_code"] == code


# --- family 1: report folders ------------------------------------------------------------------
def test_force_never_replaces_a_folder_that_is_not_a_report(cwd, capsys, no_work):
    project = cwd / "proj"
    (project / "src").mkdir(parents=True)
    (project / "report.json").write_text('{"name": "my project"}')
    (project / "README").write_text("mine")
    _one_line_exit_2(FAST + ["--out", "proj", "--force"], capsys, "not written by")
    ours = cwd / "ours"
    ours.mkdir()
    (ours / "report.json").write_text('{"tool": "autograd-compare", "files": []}')
    (ours / "notes.txt").write_text("mine")  # a report with a user's file in it: kept
    _one_line_exit_2(FAST + ["--out", "ours", "--force"], capsys, "'notes.txt'")
    (cwd / "empty").mkdir()
    _one_line_exit_2(FAST + ["--out", "empty", "--force"], capsys, "no report.json")
    assert _entries(project) == ["README", "report.json", "src"]
    assert _entries(ours) == ["notes.txt", "report.json"]


def test_force_replaces_a_report_with_every_tool_file(cwd, capsys):
    assert main(FAST + ["--out", "r"]) == 0
    assert main(["--backends", "manual", "--lrs", "2", "--steps", "2", "--out", "r",
                 "--force"]) == 0
    report = json.loads((cwd / "r" / "report.json").read_text())
    assert report["lrs"] == [2.0]
    assert _entries(cwd) == ["r"]  # nothing left beside it


@pytest.mark.parametrize("make,argv,fragment", [
    (lambda d: os.symlink("nowhere", d / "dang"), ["--out", "dang"], "symbolic link"),
    (lambda d: (d / "afile").write_text("x"), ["--out", "afile/sub"], "is a file"),
    (lambda d: None, ["--out", "x" * 245], "File name too long"),
    (lambda d: (d / "r").mkdir(), ["--out", "r/.."], "not a parent"),
])
def test_every_destination_check_comes_before_the_work(make, argv, fragment, cwd, capsys,
                                                       no_work):
    make(cwd)
    before = _entries(cwd)
    _one_line_exit_2(FAST + argv, capsys, fragment)
    assert _entries(cwd) == before


def test_out_dot_inside_a_report_is_refused(cwd, capsys, monkeypatch, no_work):
    (cwd / "r").mkdir()
    (cwd / "r" / "report.json").write_text('{"tool": "autograd-compare"}')
    monkeypatch.chdir(cwd / "r")
    _one_line_exit_2(FAST + ["--out", ".", "--force"], capsys, "not the current one")
    _one_line_exit_2(FAST + ["--out", str(cwd / "r"), "--force"], capsys, "current folder")
    assert _entries(cwd) == ["r"] and _entries(cwd / "r") == ["report.json"]


def test_stale_work_folders_of_killed_runs_are_removed_by_the_next_run(cwd, capsys):
    dead, alive = _dead_pid(), os.getppid()
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
    assert _entries(cwd) == sorted(["keep.tmp-1-x", "r", living.name])
    assert (cwd / "r" / "report.json").is_file()


def test_a_reservation_of_a_living_run_is_respected(cwd, capsys, no_work):
    (cwd / "r").mkdir()
    (cwd / "r" / f"{output.RESERVED_PREFIX}{os.getppid()}").touch()
    _one_line_exit_2(FAST + ["--out", "r"], capsys, "already exists")


def test_default_names_count_up_and_skip_stale_reservations(cwd, capsys):
    (cwd / "autograd-compare-report").mkdir()
    assert main(FAST) == 0
    assert (cwd / "autograd-compare-report-2" / "report.json").is_file()
    stale = cwd / "autograd-compare-report-3"
    stale.mkdir()
    (stale / f"{output.RESERVED_PREFIX}{_dead_pid()}").touch()
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
    assert sorted(report["files"]) == _entries(cwd / "same")


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
    assert _entries(cwd) == ["s"]


# --- family 2: sizes ---------------------------------------------------------------------------
def test_budget_refusal_names_estimate_limit_and_option(cwd, capsys, no_work):
    err = _one_line_exit_2(["--steps", "3000000", "--backends", "manual", "--lrs", "1"],
                           capsys, "--max-memory-mb")
    # the trainings and their comparisons (budget.optimizers), plus manual's own 128 MiB
    # (budget.LIBRARY_BYTES: the frameworks' memory is in every main-job estimate)
    assert "needs about 4.72 GB of memory, over the limit of 2 GB" in err
    err = _one_line_exit_2(["--steps", "1000000", "--backends", "manual", "--lrs", "1",
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
    pngs = [n for n in _entries(cwd / "r") if n.startswith("loss") or n == "differences.png"]
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
    _one_line_exit_2(["sheet", "--out", "s.xlsx", "--steps", str(budget.XLSX_MAX_ROWS)], capsys,
                     "xlsx limit")
    (cwd / "x.xlsx").mkdir()
    err = _one_line_exit_2(["sheet", "--out", "x.xlsx", "--force"], capsys, "is a folder")
    assert ".tmp" not in err
    os.symlink("nowhere.xlsx", cwd / "d.xlsx")
    _one_line_exit_2(["sheet", "--out", "d.xlsx"], capsys, "symbolic link")
    _one_line_exit_2(["sheet", "--out", "d.xlsx", "--force"], capsys, "symbolic link")
    assert _entries(cwd) == ["d.xlsx", "x.xlsx"]


def test_sheet_files_have_ordinary_permissions(cwd, capsys):
    umask = os.umask(0o022)
    try:
        assert main(["sheet", "--out", "s.xlsx", "--steps", "2"]) == 0
        assert stat.S_IMODE(os.stat("s.xlsx").st_mode) == 0o644
        assert main(["sheet", "--out", "s.xlsx", "--steps", "3", "--force"]) == 0
        assert stat.S_IMODE(os.stat("s.xlsx").st_mode) == 0o644
    finally:
        os.umask(umask)


# --- family 3: one parser for every source ----------------------------------------------------
CONFIG_BAD = [
    ("", 'dtype = "foo"\n', "invalid choice: 'foo'"),
    ("", "dtype = 64\n", "invalid choice: '64'"),
    *[("", f"{key} = true\n", f"config key '{key}'")
      for key in ("lrs", "backends", "dtype", "out", "steps", "targets")],
    *[("restarts", f"{key} = true\n", f"config key '{key}'")
      for key in ("n", "range", "checkpoints", "chunk", "seed", "threshold")],
    ("bench", "dtypes = true\n", "config key 'dtypes'"),
    ("explain", 'weight = "w9"\n', "unknown --weight 'w9'"),
    ("explain", 'format = "html"\n', "invalid choice: 'html'"),
    ("explain", "lr = true\n", "config key 'lr'"),
    ("", "steps = 0\n", "steps must be >= 1"),
    ("", "lrs = [0.5, -1]\n", "learning rate must be finite and > 0"),
    ("", "lrs = []\n", "empty list"),
    ("", "force = 1\n", "must be true or false"),
    ("", "weights = [{a = 1}]\n", "must be a number or text"),
    ("", "bogus = 1\nalso = 2\n", "unknown config keys 'bogus', 'also'"),
    ("mistakes", "x = 1\n", "unknown config key 'x' in 'c.toml'; expected one of json"),
]


@pytest.mark.parametrize("command,text,fragment", CONFIG_BAD, ids=lambda x: str(x)[:30])
def test_config_values_go_through_the_flags_checks(command, text, fragment, cwd, capsys,
                                                    no_work):
    (cwd / "c.toml").write_text(text)
    argv = ([command] if command else []) + ["--config", "c.toml"]
    if command == "bench":
        argv += ["--n", "1"]
    _one_line_exit_2(argv, capsys, fragment)
    assert _entries(cwd) == ["c.toml"]


@pytest.mark.parametrize("argv,fragment", [
    (["--config", ""], "--config needs a file name"),
    (["--config", "c.toml", "--config", "c.toml"], "--config is given 2 times"),
    (["--conf", "c.toml", "--config=c.toml"], "--config is given 2 times"),
    (["--config", "/dev/zero"], "larger than 1 MiB"),
    (["--config", "bad.toml"], "is not UTF-8 text"),
    (["--config", "nowhere.toml"], "cannot read config"),
])
def test_config_file_itself_is_checked(argv, fragment, cwd, capsys, no_work):
    (cwd / "c.toml").write_text("steps = 2\n")
    (cwd / "bad.toml").write_bytes(b'out = "\xff\xfe"\n')
    _one_line_exit_2(argv, capsys, fragment)


def test_config_values_equal_the_same_flags(cwd, capsys):
    (cwd / "c.toml").write_text('lrs = [0.1]\nsteps = 2\nbackends = ["manual"]\n'
                                'dtype = "float32"\njson = true\nout = "a"\n')
    assert main(["--config", "c.toml"]) == 0
    from_file = json.loads(capsys.readouterr().out)
    assert main(["--lrs", "0.1", "--steps", "2", "--backends", "manual", "--dtype", "float32",
                 "--json", "--out", "b"]) == 0
    from_flags = json.loads(capsys.readouterr().out)
    for report in (from_file, from_flags):  # only where each report went differs
        report.pop("report_dir")
    assert from_file == from_flags
    assert from_file["lrs"] == [float(np.float32(0.1))]  # rounded to the dtype


# --- family 4: API inputs -------------------------------------------------------------------
W = [0.15, 0.2, 0.25, 0.3, 0.4, 0.45, 0.5, 0.55]


def _torch():
    return pytest.importorskip("torch")


API_BAD = [
    ("forward", lambda: ([1, [2, 3], *W[2:]],), "ragged"),
    ("forward", lambda: ("0.1,0.2",), "not text"),
    ("forward", lambda: ([str(x) for x in W],), "must be numbers"),
    ("forward", lambda: (np.array(W) + 1j,), "not complex"),
    ("forward", lambda: ([True, *W[1:]],), "not booleans"),
    ("forward", lambda: (np.ones(8, bool),), "not booleans"),
    ("forward", lambda: (np.array(W, dtype=object),), "object"),
    ("forward", lambda: (list(range(30_000)),), "expected 8 weights"),
    ("forward", lambda: (_torch().tensor(W[:5]),), "expected 8 weights (w1..w8); got 5"),
    ("forward", lambda: (_torch().tensor(W) + 1j,), "not complex"),
    ("train", lambda: (W, None, {"lr": 0.5, "steps": 10**30}), "steps must be at most"),
    ("train", lambda: (W, None, {"lr": 0.5, "steps": 2.0}), "whole number"),
    ("train", lambda: (W, None, {"lr": 0.5, "steps": True}), "whole number"),
    ("train", lambda: (W, None, {"lr": "0.5", "steps": 2}), "learning rate must be a number"),
    ("train", lambda: (W, None, {"lr": True, "steps": 2}), "learning rate must be a number"),
    ("train_batch", lambda: (np.ones((2, 8)) + 0j, [0.5, 0.5]), "not complex"),
    ("train_batch", lambda: (np.ones((2, 8)), ["a", "b"]), "must be numbers"),
]


# ids: a lambda's default id is its name; str() of it has its address, which differs between
# processes (pytest-xdist requires every worker to collect the same ids)
@pytest.mark.parametrize("method,args,fragment", API_BAD,
                         ids=lambda x: None if callable(x) else str(x)[:30])
def test_api_rejects_with_one_line_input_errors(method, args, fragment):
    backend = get_backend("manual")
    *positional, options = args() if isinstance(args()[-1], dict) else (*args(), {})
    with pytest.raises(InputError) as err:
        getattr(backend, method)(*positional, **options)  # lr, steps: keyword-only
    assert fragment in str(err.value) and "\n" not in str(err.value)
    assert len(str(err.value)) < 250 and "built-in method" not in str(err.value)


@pytest.mark.parametrize("name", [["manual"], None, 3, b"manual", "nope" * 1000])
def test_get_backend_with_a_bad_name_is_an_input_error(name):
    with pytest.raises(InputError) as err:
        get_backend(name)
    assert len(str(err.value)) < 250


def test_api_accepts_numpy_lists_torch_and_jax_arrays():
    torch = _torch()
    jnp = pytest.importorskip("jax.numpy")
    backend = get_backend("manual")
    expected = backend.forward(W).E_total
    for w in (np.array(W), tuple(W), np.array(W, np.float32).astype(np.float64),
              torch.tensor(W, dtype=torch.float64, requires_grad=True),
              torch.tensor(W, dtype=torch.float64).flip(0).flip(0),  # not contiguous
              jnp.asarray(np.array(W)),
              [int(x * 0) for x in W]):
        got = backend.forward(w).E_total
        assert got.dtype == np.float64 and np.isfinite(got)
    assert backend.forward(torch.tensor(W, dtype=torch.float64)).E_total == expected
    w_batch = torch.tensor([W, W], dtype=torch.float64, requires_grad=True)
    r = backend.train_batch(w_batch, torch.tensor([0.5, 0.5]), steps=2)
    assert r.final_weights.shape == (2, 8)


# --- family 5: verdicts -----------------------------------------------------------------------
def test_every_mistake_fails_alone_and_every_failing_one_is_blamed(cwd, capsys):
    from autograd_compare.manual.mistakes import MISTAKES

    names = [f"mistake:{k}" for k in MISTAKES]
    assert main(["--backends", ",".join(names), "--lrs", "0.5", "--steps", "3", "--json",
                 "--out", "all"]) == 1
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    assert result["reference"] == "manual"  # added: a correct one to compare with
    wrong_gradients = {n for n, r in result["gradcheck"]["largest_error_over_tolerance"].items()
                       if r == "inf" or r > 1}
    diverged = {n for n, b in result["per_lr"][0]["backends"].items() if b["first_divergence"]}
    assert wrong_gradients | diverged == set(names) and not result["undetected_mistakes"]
    for name in names:
        assert main(["--backends", name, "--targets", "30,-30", "--steps", "2", "--lrs", "0.5",
                     "--out", name.replace(":", "-")]) == 1, name
    capsys.readouterr()


def test_an_undetected_mistake_still_fails(cwd, capsys, monkeypatch):
    # update-sign with every difference hidden: no check catches it, and the run still fails
    from autograd_compare.harness import optim_check

    monkeypatch.setattr(optim_check, "check", _no_divergence(optim_check.check))
    assert main(["--backends", "manual,mistake:update-sign", "--lrs", "0.5", "--steps", "2",
                 "--out", "r"]) == 1
    out = capsys.readouterr().out
    assert "FAIL: mistake:update-sign agreed with the reference: a mistake backend is never a " \
           "pass" in out
    assert "OK:" not in out


def _no_divergence(check):
    def wrapped(*a, **k):
        r = check(*a, **k)
        hide = lambda comps: {n: c._replace(first_divergence=None)  # noqa: E731
                              for n, c in comps.items()}
        return r._replace(comparisons=hide(r.comparisons), steps=hide(r.steps), separations={},
                          first_divergence=None, ok=True)
    return wrapped


def test_nan_counts_the_same_in_restarts_as_in_the_main_job():
    nan, inf = float("nan"), float("inf")
    x = np.array([nan, inf, 1.0, nan, -inf, 2.0])
    y = np.array([nan, inf, 1.0, 1.0, inf, 2.0 + 1e-15])
    d = study._absdiff(x, y)
    assert d[:3].tolist() == [0.0, 0.0, 0.0]  # both NaN, the same inf, equal: agreement
    assert d[3] == inf and d[4] == inf  # NaN on one side, opposite infinities: divergence
    assert 0 < d[5] < 1e-14


def test_distinct_rates_get_distinct_plot_names(cwd, capsys):
    assert main(["--backends", "manual", "--lrs", "0.5,0.5000001", "--steps", "2",
                 "--out", "r"]) == 0
    files = json.loads((cwd / "r" / "report.json").read_text())["files"]
    assert "loss-lr-0.5.png" in files and "loss-lr-0.5000001.png" in files
    assert len(files) == len(set(files)) == len(_entries(cwd / "r"))


def test_central_difference_tolerance_grows_with_e_total_not_with_the_gradient():
    from autograd_compare import network
    from autograd_compare.harness import network_check, tolerances
    from autograd_compare.registry import get_network_backend

    net = network.TUTORIAL
    data = network.data(net, [[0.05, 0.1]], [[30.0, -30.0]])
    result = network_check.gradient_check([get_network_backend("manual")], net, np.array(W),
                                          data)
    assert result.ok, result.first_failure
    row = next(r for r in result.rows if r.quantity == "dE_total/dw1")
    # the measured rounding error of the FD is far above the truncation allowance FD_RTOL ·
    # scale: it is E_total's rounding divided by 2h that the allowance must (and does) hold
    assert row.fd_ok and abs(row.finite_difference - row.complex_step) > (
        10 * tolerances.FD_RTOL * abs(row.complex_step))
    # and the allowance is not loose: the FD still agrees to 1e-4 relative
    assert abs(row.finite_difference - row.complex_step) < 1e-4 * abs(row.complex_step)


def test_float32_learning_rates_are_rounded_and_checked(cwd, capsys):
    assert main(["--dtype", "float32", "--backends", "manual", "--lrs", "0.1,0.1000000001",
                 "--out", "r"]) == 2
    assert "listed twice in float32" in capsys.readouterr().err
