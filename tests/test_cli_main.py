"""The main job on the command line: exit codes, options, config file, progress, entry points."""

from __future__ import annotations

import io
import json
import os
import re
import select
import subprocess
import sys

import pytest

from autograd_compare.commands import progress
from autograd_compare.commands.cli import main


@pytest.fixture(autouse=True)
def _no_plots(monkeypatch):
    monkeypatch.setattr("autograd_compare.report.sweep.write_pictures", lambda *a, **k: [])


def test_all_backends_agree_exit_0(tmp_path, capsys):
    assert main(["--lrs", "0.1,2", "--steps", "20", "--out", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    assert "manual" in out and "torch" in out and "jax" in out
    assert "OK: every backend agrees" in out and "DISAGREE" not in out and "WRONG" not in out
    assert f"Report: {tmp_path / 'r'}/" in out


def test_float32_agrees_too(tmp_path, capsys):
    assert main(["--dtype", "float32", "--lrs", "1", "--steps", "20", "--json",
                 "--out", str(tmp_path / "r")]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["dtype"] == "float32" and result["ok"] is True


def test_a_mistake_exits_1_and_says_where(tmp_path, capsys):
    code = main(["--backends", "manual,mistake:missing-e2-path", "--lrs", "0.5", "--steps", "3",
                 "--out", str(tmp_path / "r")])
    out = capsys.readouterr().out
    assert code == 1
    assert "FAIL: gradient check: mistake:missing-e2-path on dE_total/da_h1: " \
           "0.01016489638756088 vs reference 0.025364266500098934" in out
    assert "DIVERGES at dw1 at step 1: 0.00012703718536298281 vs 0.00031699339591029018" in out
    assert out.rstrip().endswith("DISAGREE. Report: " + str(tmp_path / "r") + "/")


@pytest.mark.parametrize(("argv", "message"), [
    (["--lrs", "0.5,-1"], "learning rate must be finite and > 0; got -1.0"),
    (["--lrs", "0.5,abc"], "learning rates must be comma-separated numbers"),
    (["--weights", "1,2,3"], "has 8 parameters; got 3"),
    (["--inputs", "1,nan"], "inputs must be finite numbers; got nan"),
    (["--inputs", "1,2,3"], "--inputs needs 2 comma-separated numbers"),
    (["--steps", "0"], "steps must be >= 1; got 0"),
    (["--dtype", "float16"], "invalid choice: 'float16'"),
    (["--backends", "manual,tensorflow"], "unknown backend 'tensorflow'"),
    (["--backends", "mistake:typo"], "unknown mistake 'mistake:typo'"),
    (["--backends", "manual,manual"], "listed twice"),
    (["--bogus"], "unrecognized arguments: --bogus"),
])
def test_bad_input_exits_2_with_one_line(argv, message, tmp_path, capsys):
    out = tmp_path / "r"
    assert main(argv + ["--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert not out.exists()


def test_options_from_a_toml_file(tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text('lrs = [0.2]\nsteps = 4\nbackends = "manual,torch"\njson = true\n'
                   f'out = "{tmp_path / "r"}"\n')
    assert main(["--config", str(cfg), "--steps", "5"]) == 0  # the command line wins
    result = json.loads(capsys.readouterr().out)
    assert result["lrs"] == [0.2] and result["steps"] == 5
    assert result["backends"] == ["manual", "torch"]


def test_reference_is_the_first_correct_backend(tmp_path, capsys):
    main(["--backends", "mistake:update-sign,torch,manual", "--lrs", "1", "--steps", "2",
          "--json", "--out", str(tmp_path / "r")])
    report = json.loads(capsys.readouterr().out)
    assert report["reference"] == "torch"
    assert report["backends"] == ["torch", "mistake:update-sign", "manual"]


def test_mistakes_subcommand_lists_them(capsys):
    assert main(["mistakes"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 6 and lines[0].startswith("mistake:no-sigmoid-derivative ")


def _main_with_stderr(stream, monkeypatch, tmp_path) -> int:
    monkeypatch.setattr(progress, "DELAY", 0.0)  # show the bar at once (default: after 1 s)
    monkeypatch.setattr(sys, "stderr", stream)
    return main(["--backends", "manual", "--lrs", "0.5,1", "--steps", "2",
                 "--out", str(tmp_path / "r")])


def test_progress_on_a_terminal_shows_percentage_and_time_left(monkeypatch, tmp_path):
    import fcntl
    import pty
    import struct
    import termios

    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # 24 x 100
    terminal = os.fdopen(follower, "w", encoding="utf-8")
    try:
        assert _main_with_stderr(terminal, monkeypatch, tmp_path) == 0
        terminal.flush()
        shown = b""
        while select.select([leader], [], [], 0.2)[0]:  # read while the terminal is open
            shown += os.read(leader, 65536)
    finally:
        terminal.close()
        os.close(leader)
    text = shown.decode()
    assert "training 1 backends at lr 1:" in text and "writing" in text
    # 4 steps: gradient check, 2 rates, writing
    assert " 25%|" in text and " 50%|" in text and " 75%|" in text
    assert re.search(r"\[\d\d:\d\d<\d\d:\d\d\]", text)  # elapsed < time left


def test_no_progress_when_stderr_is_not_a_terminal(monkeypatch, tmp_path):
    stream = io.StringIO()  # a pipe or a file: no bar at all, not even after the delay
    assert _main_with_stderr(stream, monkeypatch, tmp_path) == 0
    assert stream.getvalue() == ""


@pytest.mark.parametrize("command",
                         [["autograd-compare"], [sys.executable, "-m", "autograd_compare"]])
def test_entry_points_run_the_main_job(command, tmp_path):
    exe = os.path.join(os.path.dirname(sys.executable), "autograd-compare")
    cmd = [exe] if command == ["autograd-compare"] else command
    done = subprocess.run(cmd + ["--backends", "manual", "--lrs", "1", "--steps", "2",
                                 "--json", "--out", "rep"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["ok"] is True
    assert (tmp_path / "rep" / "loss-lr-1.png").is_file()


def test_without_matplotlib_the_report_has_no_plots_and_says_how(tmp_path, capsys, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "matplotlib" else real(name, *a))
    assert main(["--backends", "manual", "--lrs", "1", "--steps", "2",
                 "--out", str(tmp_path / "r")]) == 0
    assert "install it with: pip install 'autograd-compare[plot]'" in capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == ["nodes.csv", "report.html",
                                                                  "report.json", "trace.csv"]


def test_manual_only_imports_no_framework(tmp_path):
    code = ("import sys; from autograd_compare.commands.cli import main; "
            "rc = main(['--backends', 'manual', '--lrs', '1', '--steps', '2', '--out', 'r']); "
            "print(rc, sorted({'torch', 'jax'} & set(sys.modules)))")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert done.stdout.splitlines()[-1] == "0 []", done.stderr


def test_negative_option_values_need_no_equals_sign():
    from autograd_compare.commands.cli import attach_negative_values

    assert attach_negative_values(["--range", "-3,3", "--lrs", "0.5", "--x", "-.5", "-h"]) == [
        "--range=-3,3", "--lrs", "0.5", "--x=-.5", "-h"]
    assert attach_negative_values(["--threshold", "-1e-3"]) == ["--threshold=-1e-3"]
    assert attach_negative_values(["--steps=4", "-5"]) == ["--steps=4", "-5"]


def test_config_can_supply_a_required_option(tmp_path):
    out = tmp_path / "from-config.xlsx"
    cfg = tmp_path / "sheet.toml"
    cfg.write_text(f'out = "{out}"\nsteps = 3\n', encoding="utf-8")
    assert main(["sheet", "--config", str(cfg)]) == 0 and out.is_file()


def test_usage_line_lists_the_subcommands(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    usage = capsys.readouterr().out.split("\n\n")[0]
    from autograd_compare.commands.cli import SUBCOMMANDS

    assert {"mistakes", "explain", "sheet", "restarts", "bench", "presets", "check"} <= \
        set(SUBCOMMANDS)
    assert usage.startswith("usage: autograd-compare {" + ",".join(SUBCOMMANDS) + "} ...")
    assert "[--lrs LR,...]" in usage  # and the main job's options on the next line


@pytest.mark.parametrize(("word", "guess"), [("explian", "explain"), ("mistake", "mistakes"),
                                             ("restart", "restarts"), ("zzz", None)])
def test_a_mistyped_subcommand_gets_the_choices_and_a_guess(word, guess, capsys):
    assert main([word, "--steps", "2"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert (f"unknown subcommand {word!r}; choose from mistakes, explain, exercise, sheet, "
            "restarts, bench") in err
    assert (f"did you mean {guess!r}?" in err) if guess else ("did you mean" not in err)


def test_json_alone_prints_the_json_and_leaves_no_folder(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["--backends", "manual", "--lrs", "1", "--steps", "2", "--json"]) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    assert result["ok"] is True and result["report_dir"] is None and result["files"] == []
    assert list(tmp_path.iterdir()) == []
    assert captured.err.rstrip().endswith("OK. No report folder (--json without --out).")


def test_json_alone_ignores_an_existing_default_folder(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "autograd-compare-report").mkdir()  # would be refused by --out, not needed here
    assert main(["--backends", "manual", "--lrs", "1", "--steps", "2", "--json"]) == 0
    assert [p.name for p in tmp_path.iterdir()] == ["autograd-compare-report"]


def test_closing_line_names_the_verdict_and_the_folder(tmp_path, capsys):
    out = tmp_path / "r"
    assert main(["--backends", "manual,mistake:update-sign", "--lrs", "1", "--steps", "2",
                 "--out", str(out)]) == 1
    assert capsys.readouterr().out.rstrip().splitlines()[-1] == f"DISAGREE. Report: {out}/"


@pytest.mark.parametrize("command", [[], ["restarts"], ["sheet"]])
def test_force_has_one_wording_in_every_subcommand(command):
    from autograd_compare.commands import cli, wording

    module = cli.importlib.import_module(cli.SUBCOMMANDS[command[0]] if command else cli.MAIN_JOB)
    parser = cli.build_parser(module, "x")
    force = next(a for a in parser._actions if "--force" in a.option_strings)
    assert force.help == wording.FORCE_HELP


@pytest.mark.parametrize(("args", "code"), [
    (["explain"], 0),
    (["--backends", "manual,mistake:update-sign", "--lrs", "1", "--steps", "2", "--no-plots",
      "--out", "r"], 1)])
def test_the_command_exits_at_once_with_all_its_output(args, code, tmp_path, capsys,
                                                       monkeypatch):
    """`cli.console` skips the interpreter's teardown (os._exit) but loses nothing: stdout in a
    pipe is block-buffered (without PYTHONUNBUFFERED) and must be flushed first; the exit code
    is main's."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    done = subprocess.run([sys.executable, "-m", "autograd_compare", *args], cwd=tmp_path,
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == code, done.stderr
    assert "Traceback" not in done.stderr
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)  # undone after the test: later tests find the repository's files
    assert main(args) == code
    assert done.stdout == capsys.readouterr().out
    assert len(done.stdout) > 2000


def test_run_module_from_python_raises_system_exit_and_leaves_the_caller_alive(tmp_path):
    code = ("import runpy, sys\n"
            "sys.argv = ['autograd-compare', '--backends', 'manual', '--lrs', '1', '--steps',"
            " '2', '--json']\n"
            "try:\n    runpy.run_module('autograd_compare', run_name='__main__')\n"
            "except SystemExit as e:\n    print('exit', e.code, file=sys.stderr)\n"
            "print('still here', file=sys.stderr)\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0
    assert done.stderr.splitlines()[-2:] == ["exit 0", "still here"]
    assert json.loads(done.stdout)["ok"] is True


def test_mistakes_json_is_the_catalogue(capsys):
    import json

    from autograd_compare.manual.mistakes import MISTAKES

    assert main(["mistakes", "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert [m["backend"] for m in got] == [f"mistake:{name}" for name in MISTAKES]
    assert all(m["description"] for m in got)
