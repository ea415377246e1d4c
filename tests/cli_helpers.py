"""What the command-line tests share: a fast main job, one-line error checks, subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from autograd_compare.commands.cli import main

FAST = ["--backends", "manual", "--lrs", "1", "--steps", "2"]
NET = ["check", "--layers", "2,2,1", "--activations", "sigmoid", "--steps", "2",
       "--backends", "manual", "--json"]
XOR = "a,b,t\n0,0,0\n0,1,1\n1,0,1\n1,1,0\n"
ENV = {**os.environ, "PYTHONWARNINGS": "ignore"}
DEAD_PID = 4_000_000  # above Linux's pid_max (4194304 is the largest possible; none this high)


def dead_pid() -> int:
    """A process id no living process has."""
    pid = DEAD_PID
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        except PermissionError:
            pass
        pid += 1


def one_line(argv: list[str], capsys, fragment: str = "", longest: int = 300) -> str:
    """``main(argv)`` exits 2 with one short line on stderr holding ``fragment``."""
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert fragment in err, err
    assert len(err) <= longest, err
    return err


def one_line_exit_2(argv, capsys, fragment):
    """`one_line` with room for a longer line (under 400 characters: nothing echoed whole)."""
    return one_line(argv, capsys, fragment, longest=399)


def command(*argv: str, stdin=None, **kw) -> subprocess.CompletedProcess:
    """``python -m autograd_compare ARGV`` in a subprocess (text, captured, 120 s at most)."""
    return subprocess.run([sys.executable, "-m", "autograd_compare", *argv], text=True,
                          capture_output=True, timeout=120, env=ENV, stdin=stdin, **kw)


def entries(path: Path) -> list[str]:
    """The names in folder ``path``, sorted."""
    return sorted(p.name for p in path.iterdir())


class Bar:
    """What a command told its progress bar: the total, then every piece announced."""

    def __init__(self, total: int, stream=None, enabled=None) -> None:
        self.total, self.steps = total, []

    def step(self, what: str) -> None:
        self.steps.append(what)

    def __enter__(self) -> Bar:
        return self

    def __exit__(self, *exc) -> None:
        pass

    def full(self) -> bool:
        """Every piece announced: the bar ends at 100% (`Progress` counts each step done)."""
        return len(self.steps) == self.total


def record_progress(monkeypatch, module: str) -> list[Bar]:
    """Replace `Progress` in ``autograd_compare.commands.<module>`` by `Bar`s: those made."""
    bars: list[Bar] = []

    def make(total: int, stream=None, enabled=None) -> Bar:
        bars.append(Bar(total))
        return bars[-1]

    monkeypatch.setattr(f"autograd_compare.commands.{module}.Progress", make)
    return bars
