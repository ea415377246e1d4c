"""Report folders (`report.output`): written completely or not at all, never replacing what is
not a report, two runs at once, stale work folders, a full disk, SIGTERM."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from autograd_compare.commands.cli import main
from autograd_compare.errors import CompareError
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


def _work_folder(path: Path, *files: str, mark: bool = True) -> Path:
    path.mkdir()
    for name in files:
        (path / name).write_text(name)
    if mark:
        (path / output.WORK_MARK).touch()
    return path


def test_stale_work_folders_of_killed_runs_are_tidied_by_the_next_run(cwd, capsys):
    dead, alive = dead_pid(), os.getppid()
    _work_folder(cwd / f".r.tmp-{dead}-0123abcd", "report.json", ".report.html.tmp")
    _work_folder(cwd / f".autograd-compare-report.old-{dead}-89abcdef", "report.json")
    _work_folder(cwd / f".x.lock-{dead}-89abcdef")
    living = _work_folder(cwd / f".r.tmp-{alive}-0123abcd")  # a run still going: left alone
    reserved = cwd / "r"  # the final name a killed run had reserved
    reserved.mkdir()
    (reserved / f"{output.RESERVED_PREFIX}{dead}").touch()
    (cwd / "keep.tmp-1-x").mkdir()  # not our pattern
    # our pattern but not our mark: a user's folders, kept with everything in them
    users = [_work_folder(cwd / f".thesis.old-{dead}-0123abcd", "thesis.docx", mark=False),
             _work_folder(cwd / f".r.tmp-{dead}-00000000", "report.json", mark=False)]
    # ours, but holding a file the tool does not write: only the tool's files go
    mixed = _work_folder(cwd / f".y.tmp-{dead}-11111111", "report.json", "notes.txt")
    assert main(FAST + ["--out", "r"]) == 0
    # the report a killed --force had moved aside is back under its name (nothing replaced it)
    assert entries(cwd / "autograd-compare-report") == ["report.json"]
    assert entries(cwd) == sorted(["autograd-compare-report", "keep.tmp-1-x", "r", living.name,
                                   mixed.name, *(u.name for u in users)])
    assert entries(mixed) == ["notes.txt"]
    assert [entries(u) for u in users] == [["thesis.docx"], ["report.json"]]
    assert (cwd / "r" / "report.json").is_file()


def test_a_report_moved_aside_is_deleted_once_a_new_one_took_its_place(cwd, capsys):
    assert main(FAST + ["--out", "r"]) == 0
    _work_folder(cwd / f".r.old-{dead_pid()}-0123abcd", "report.json", "trace.csv")
    assert main(FAST + ["--out", "s"]) == 0
    assert entries(cwd) == ["r", "s"]


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


# --- the writer never deletes what it did not write ---------------------------------------------
def _report(folder: Path, run: str) -> None:
    (folder / "report.json").write_text(json.dumps({"tool": "autograd-compare", "run": run}))
    (folder / "trace.csv").write_text(run)
    (folder / "loss-lr-0.5.png").write_text(run)


def _run_of(folder: Path) -> str:
    return json.loads((folder / "report.json").read_text())["run"]


def test_a_file_added_during_a_force_run_is_kept_with_the_old_report(tmp_path, capsys):
    out = tmp_path / "rep"
    out.mkdir()
    _report(out, "old")

    def fill(folder: Path) -> None:
        _report(folder, "new")
        (out / "notes.txt").write_text("mine")  # the user, while the run works

    with pytest.raises(output.OutputError, match="gained 'notes.txt' during the run"):
        with output.Destination(out, force=True) as dest:
            dest.commit(fill)
    assert entries(tmp_path) == ["rep"]
    assert entries(out) == ["loss-lr-0.5.png", "notes.txt", "report.json", "trace.csv"]
    assert _run_of(out) == "old" and (out / "notes.txt").read_text() == "mine"


def test_a_file_added_to_a_new_reserved_folder_is_kept(tmp_path):
    out = tmp_path / "rep"

    def fill(folder: Path) -> None:
        _report(folder, "new")
        (out / "notes.txt").write_text("mine")

    with pytest.raises(output.OutputError, match="gained 'notes.txt'"):
        with output.Destination(out) as dest:
            dest.commit(fill)
    assert entries(tmp_path) == ["rep"] and entries(out) == ["notes.txt"]


def test_the_cli_keeps_a_file_added_during_a_force_run(cwd, capsys, monkeypatch):
    assert main(FAST + ["--out", "r"]) == 0
    before = {n: (cwd / "r" / n).read_bytes() for n in entries(cwd / "r")}

    def user_writes(*a, **k):
        (cwd / "r" / "notes.txt").write_text("mine")
        return []

    monkeypatch.setattr("autograd_compare.report.sweep.write_pictures", user_writes)
    one_line_exit_2(FAST + ["--out", "r", "--force"], capsys, "gained 'notes.txt'")
    assert {n: (cwd / "r" / n).read_bytes() for n in entries(cwd / "r")} == {
        **before, "notes.txt": b"mine"}
    assert entries(cwd) == ["r"]


@pytest.mark.parametrize("listed,user_file", [
    (["thesis.docx"], "thesis.docx"),  # report.json's list is not trusted
    ([], "loss-lr-my-holiday.png"),  # nor a loose pattern
    ([], "loss-lr-0.5.png.bak"),
    ([], "report.json~"),
])
def test_force_refuses_a_report_holding_a_users_file(tmp_path, listed, user_file):
    out = tmp_path / "rep"
    out.mkdir()
    (out / "report.json").write_text(json.dumps({"tool": "autograd-compare", "files": listed}))
    (out / user_file).write_text("mine")
    with pytest.raises(output.InputError, match=f"also holds '{user_file}'"):
        output.Destination(out, force=True)
    assert entries(out) == sorted(["report.json", user_file])


def test_every_file_the_tool_writes_is_one_it_may_replace(cwd, capsys):
    assert main(["--backends", "manual", "--lrs", "0.5,1e-05", "--steps", "2",
                 "--out", "r"]) == 0
    assert main(["restarts", "--n", "8", "--steps", "3", "--lrs", "1", "--backends",
                 "manual", "--out", "s"]) == 0
    for folder in ("r", "s"):
        names = entries(cwd / folder)
        assert output.foreign(cwd / folder) == [], names
        assert any(n.endswith(".png") for n in names), names  # the pictures were written
    assert "loss-lr-1e-05.png" in entries(cwd / "r")
    assert not output.is_tool_file("loss-lr-nan-1.png") and output.is_tool_file("gallery.png")


def test_sigterm_during_the_swap_waits_until_the_new_report_is_in_place(tmp_path, monkeypatch):
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals are delivered to the main thread")
    out = tmp_path / "rep"
    out.mkdir()
    _report(out, "old")
    rename = os.rename

    def rename_then_signal(a, b):
        rename(a, b)
        os.kill(os.getpid(), signal.SIGTERM)  # the worst moment: between the two renames

    with pytest.raises(SystemExit) as ended:
        with output.Destination(out, force=True) as dest:
            monkeypatch.setattr(os, "rename", rename_then_signal)
            dest.commit(lambda folder: _report(folder, "new"))
    monkeypatch.undo()
    assert ended.value.code == 128 + signal.SIGTERM
    assert entries(tmp_path) == ["rep"] and _run_of(out) == "new"
    assert entries(out) == ["loss-lr-0.5.png", "report.json", "trace.csv"]


# --- the invariant, under runs, --force, kills at any point and a user's files -------------------
class Killed(BaseException):
    """The process is gone: no except clause of the writer catches this."""


class ReportFolders(RuleBasedStateMachine):
    """One folder ``rep`` in a parent: runs with and without --force, runs killed (SIGKILL,
    simulated in-process) after any number of file-system changes, a user adding files anywhere.
    After each step and the next run's tidying (`clean_stale`): every user file is where the
    user put it (or, added to a report during a run, in a kept folder), and ``rep`` is absent
    only if no report was ever complete, else it is a complete report: the last one known to
    be complete, or the one a killed run was finishing."""

    def __init__(self) -> None:
        super().__init__()
        self.parent = Path(tempfile.mkdtemp(prefix="folders-"))
        self.out = self.parent / "rep"
        self.runs = 0
        self.current: str | None = None  # the last report known to be complete at rep
        self.candidates: set[str] = set()  # what a killed run may have left complete there
        self.user: dict[Path, str] = {}

    def teardown(self) -> None:
        shutil.rmtree(self.parent, ignore_errors=True)

    def _new_run(self) -> str:
        self.runs += 1
        return f"run-{self.runs}"

    def _attempt(self, run: str, force: bool, user_file: str | None) -> bool:
        def fill(folder: Path) -> None:
            _report(folder, run)
            if user_file is not None and self.out.is_dir():
                self._user_writes(self.out / user_file)

        try:
            with output.Destination(self.out, force=force) as dest:
                dest.commit(fill)
        except CompareError:
            return False
        return True

    def _user_writes(self, path: Path) -> None:
        path.write_text(f"user {path.name}")
        self.user[path] = f"user {path.name}"

    @rule(force=st.booleans(), add=st.sampled_from([None, "notes.txt", "loss-lr-2x.png"]))
    def run(self, force: bool, add: str | None) -> None:
        run = self._new_run()
        if self._attempt(run, force, add):
            self.current, self.candidates = run, set()

    @rule(force=st.booleans(), after=st.integers(0, 12))
    def killed_run(self, force: bool, after: int) -> None:
        """SIGKILL after ``after`` changes on disk: from then on nothing of the writer runs
        (no clean-up), and its pid is one no process has."""
        run, pid = self._new_run(), dead_pid()
        count = [0]

        def counted(fn):
            def wrapper(*a, **k):
                if count[0] == after:
                    raise Killed
                count[0] += 1
                return fn(*a, **k)
            return wrapper

        with pytest.MonkeyPatch.context() as mp:
            for name in ("rename", "unlink", "rmdir", "mkdir"):
                mp.setattr(os, name, counted(getattr(os, name)))
            mp.setattr(Path, "touch", counted(Path.touch))
            mp.setattr(Path, "write_text", counted(Path.write_text))
            mp.setattr(os, "getpid", lambda: pid)
            mp.setattr(output.Destination, "abandon", lambda self: None)
            try:
                self._attempt(run, force, None)
            except Killed:
                pass
        self.candidates.add(run)

    @rule(name=st.sampled_from(["notes.txt", "loss-lr-mine.png", "data.csv"]),
          where=st.sampled_from(["parent", "rep", "lookalike"]))
    def user_adds_a_file(self, name: str, where: str) -> None:
        if where == "rep":
            folder = self.out
        elif where == "lookalike":  # a user's folder with the name of a work folder
            folder = self.parent / f".rep.old-{dead_pid()}-0badc0de"
        else:
            folder = self.parent
        if folder.is_dir() or where == "lookalike":
            folder.mkdir(exist_ok=True)
            self._user_writes(folder / name)

    @invariant()
    def nothing_is_lost(self) -> None:
        output.clean_stale(self.parent)  # what the next run does first
        for path, text in self.user.items():
            kept = [k / path.name for k in self.parent.glob("rep.kept-*")]
            assert any(p.is_file() and p.read_text() == text for p in [path, *kept]), path
        if self.current is None and not self.candidates:
            assert not (self.out / "report.json").exists()
        elif (self.out / "report.json").exists():
            run = _run_of(self.out)
            assert run in {self.current, *self.candidates}, run
            assert (self.out / "trace.csv").read_text() == run  # complete: every file of it
            self.current, self.candidates = run, set()
        else:
            assert self.current is None, f"{self.current} lost: {entries(self.parent)}"


ReportFolders.TestCase.settings = settings(max_examples=60, stateful_step_count=12,
                                           derandomize=True, deadline=None,
                                           suppress_health_check=list(HealthCheck))
test_report_folders_lose_nothing = ReportFolders.TestCase


@pytest.mark.parametrize("force", [True, False])
def test_a_run_killed_after_any_change_on_disk_loses_nothing(force):
    """Every point of a run, one by one (the state machine samples them)."""
    for after in range(25):
        folders = ReportFolders()
        try:
            if force:  # killed while replacing a report; else while writing the first one
                folders.run(force=False, add=None)
            folders.user_adds_a_file("notes.txt", "parent")
            folders.killed_run(force=force, after=after)
            folders.nothing_is_lost()
            # killed between its mkdir and its mark, a run leaves an empty folder, which is
            # not a report: the next run refuses it (nothing lost, nothing to replace)
            empty = folders.out.is_dir() and not any(folders.out.iterdir())
            folders.run(force=True, add=None)  # the next run, after the tidying
            folders.nothing_is_lost()
            if not empty:
                assert _run_of(folders.out) == f"run-{folders.runs}", after
        finally:
            folders.teardown()


def test_missing_parents_of_out_are_made_and_removed_again_if_the_run_fails(cwd, capsys,
                                                                             monkeypatch):
    assert main(FAST + ["--out", "a/b/r"]) == 0
    assert "report.json" in entries(cwd / "a" / "b" / "r")

    def fails(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("autograd_compare.report.sweep.write_pictures", fails)
    assert main(FAST + ["--out", "x/y/r"]) == 2
    assert entries(cwd) == ["a"]  # x/ and x/y/ were made for the run: gone with it
    (cwd / "a" / "c").mkdir()
    assert main(FAST + ["--out", "a/c/d/r"]) == 2
    assert entries(cwd / "a") == ["b", "c"] and entries(cwd / "a" / "c") == []
