"""The main job's PNGs, drawn in worker processes while the main process imports and computes.

Importing matplotlib and drawing the 8 figures cost about as much as importing torch. Workers
started before the frameworks are imported load pyplot while the main process loads torch and
JAX, draw each per-rate figure as soon as that rate is checked, and hand back PNG bytes
identical to `plots.save_all`'s files (same code: `plots.png`). The report folder is still
written by the main process, all at once (`report.output.write_folder`).

A worker is a plain ``python -c`` subprocess fed pickled tasks on stdin (not multiprocessing:
its "spawn" re-runs a user's script that lacks an ``if __name__ == "__main__"`` guard, and
"fork" is unsafe once torch or JAX threads run). Workers are kept for the life of the process,
so a second run in the same process (tests, notebooks) does not start them again. A worker that
dies is replaced by the next run; its figures are drawn in the main process instead.
"""

from __future__ import annotations

import json
import os
import pickle
import queue
import struct
import subprocess
import sys
import threading
from collections.abc import Sequence
from concurrent.futures import CancelledError, Future
from pathlib import Path
from typing import IO, Any, Literal, TypeAlias

from autograd_compare.harness.trajectory import LrResult
from autograd_compare.report import plots


def default_workers() -> int:
    """2 when 3 cores are idle (load average of the last minute at most cores - 3), else 1.

    The main job runs the main process (torch), the prefetch helper (JAX) and the workers at
    once. A second worker shortens the end of the run only with a core of its own to run on;
    otherwise it is one more start-up (Python, NumPy, pyplot: about 0.4 s of CPU) competing
    with the others (on 2 idle cores: the job took 2.70 s with 2 workers, 2.47-2.60 s with 1;
    docs/performance.md)."""
    cores = os.cpu_count() or 1
    load = getattr(os, "getloadavg", None)  # none on Windows: the cores are taken as free
    try:
        idle = cores - (load()[0] if load is not None else 0.0)
    except OSError:
        idle = cores
    return 2 if idle >= 3 else 1


# Worker processes; 0 draws in the main process, after the computation (plots.save_all).
# $AUTOGRAD_COMPARE_PLOT_WORKERS overrides the default (`default_workers`).
WORKERS = int(os.environ.get("AUTOGRAD_COMPARE_PLOT_WORKERS") or default_workers())
_HEADER = struct.Struct("<Q")
# serve, then leave without the interpreter's teardown (as `commands.cli.console` does): every
# answer is flushed, and the main process may be waiting for this exit
_BOOT = ("import json, os, sys; sys.path[:0] = json.loads(sys.argv[1]); "
         "from autograd_compare.report.plot_pool import serve; serve(); "
         "sys.stderr.flush(); os._exit(0)")


class WorkerDied(RuntimeError):
    """A drawing worker exited before answering."""


# What travels: a task (what to draw, its arguments) to the worker, its answer back, and a
# queued job. What: "png" (`png_of`: name, then the main job's results, an optimizer run's
# curves or a drawing function), "network" (`drawing.render`: panels),
# "landscape" (`extras.landscape_png`: slice, start, paths, example).
_Task: TypeAlias = tuple[str, tuple[Any, ...]]
_Answer: TypeAlias = tuple[Literal[True], Any] | tuple[Literal[False], Exception]
_Job: TypeAlias = tuple[Future[Any], str, tuple[Any, ...]]


def _send(stream: IO[bytes], obj: _Task | _Answer) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)) + data)
    stream.flush()


def _receive(stream: IO[bytes]) -> Any:
    """The next pickled object on ``stream`` (a `_Task` or an `_Answer`; EOFError at the end)."""
    head = stream.read(_HEADER.size)
    if len(head) < _HEADER.size:
        raise EOFError
    (size,) = _HEADER.unpack(head)
    data = stream.read(size)
    if len(data) < size:
        raise EOFError
    return pickle.loads(data)


def png_of(name: str, payload: Any) -> bytes:
    """The PNG bytes of task ``name``: ``payload(name)`` for a drawing function, else
    `optim_plots.png` for a name that starts with `OPTIM_PREFIX` (its payload is an
    `optim_plots.Curves`), else the main job's `plots.png`."""
    if callable(payload):
        return bytes(payload(name))
    if name.startswith(OPTIM_PREFIX):
        from autograd_compare.report import optim_plots

        return optim_plots.png(name[len(OPTIM_PREFIX):], payload)
    return plots.png(name, payload)


def draw(what: str, args: tuple[Any, ...]) -> Any:
    """Run task ``what`` (see `_Task`) in this process: PNG bytes, or {file name: bytes}."""
    if what == "png":
        return png_of(*args)
    if what == "network":
        from autograd_compare.report import drawing

        return drawing.render(*args)
    if what == "landscape":
        from autograd_compare.report import extras

        return extras.landscape_png(*args)
    raise ValueError(f"unknown drawing task {what!r}")


def serve() -> None:
    """The worker: import pyplot, then answer (what, args) with (True, `draw`'s result) or
    (False, the error) until stdin closes."""
    tasks, answers = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing but answers on the pipe
    plots.pyplot()
    while True:
        try:
            task: _Task = _receive(tasks)
        except EOFError:
            return
        answer: _Answer
        try:
            answer = (True, draw(*task))
        except Exception as err:  # noqa: BLE001 - handed back to the main process
            answer = (False, err)
        _send(answers, answer)


OPTIM_PREFIX = "optimizers:"  # a task for `report.optim_plots` (``autograd-compare optimizers``)


class _Worker:
    """One worker process and the thread that feeds it tasks from the shared queue."""

    def __init__(self, tasks: queue.Queue[_Job]) -> None:
        paths = [p for p in sys.path if p]
        self.proc = subprocess.Popen([sys.executable, "-c", _BOOT, json.dumps(paths)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        stdin, stdout = self.proc.stdin, self.proc.stdout
        assert stdin is not None and stdout is not None  # both PIPE: never None
        self.stdin: IO[bytes] = stdin  # tasks to the worker
        self.stdout: IO[bytes] = stdout  # its answers
        self.tasks = tasks
        self.thread = threading.Thread(target=self._feed, daemon=True,
                                       name="autograd-compare-plot-feeder")
        self.thread.start()

    def alive(self) -> bool:
        return self.proc.poll() is None and self.thread.is_alive()

    def _close(self) -> None:
        self.proc.kill()
        self.proc.wait()
        self.stdin.close()
        self.stdout.close()

    def _feed(self) -> None:
        while True:
            task = self.tasks.get()
            if self.proc.poll() is not None:  # died while idle: leave the task to the others
                self.tasks.put(task)
                self._close()
                return
            future, what, args = task
            if not future.set_running_or_notify_cancel():
                continue
            try:
                _send(self.stdin, (what, args))
                answer: _Answer = _receive(self.stdout)
            except (EOFError, OSError, pickle.UnpicklingError) as err:
                future.set_exception(WorkerDied(f"plot worker exited ({err!r})"))
                self._close()
                return
            if answer[0]:
                future.set_result(answer[1])
            else:
                future.set_exception(answer[1])


_tasks: queue.Queue[_Job] = queue.Queue()
_workers: list[_Worker] = []


def _start(workers: int) -> None:
    """Keep ``workers`` live workers (the dead ones replaced)."""
    for w in _workers:
        if not w.thread.is_alive() and not w.stdin.closed:
            w._close()
    _workers[:] = [w for w in _workers if w.alive()]
    while len(_workers) < workers:
        _workers.append(_Worker(_tasks))


def _result(job: Future[Any]) -> Any:
    """What ``job`` drew; None if its worker died or no worker is left to run it (its own
    error, such as matplotlib's ValueError, is raised here)."""
    while True:
        try:
            return job.result(timeout=0.2)
        except TimeoutError:
            if not any(w.alive() for w in _workers) and job.cancel():
                return None
        except (WorkerDied, CancelledError):
            return None


class Drawer:
    """``d = Drawer(); d.submit(name, results) ...; d.save(folder, lr_results); d.close()``."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = WORKERS if workers is None else workers
        self._jobs: dict[str, Future[Any]] = {}
        if self.workers > 0:
            try:
                _start(self.workers)
            except OSError:  # cannot start a process here: draw in this one
                self.workers = 0

    def submit(self, name: str, lr_results: Sequence[LrResult]) -> None:
        """Start drawing PNG ``name`` (see `plots.png`) from ``lr_results`` in a worker."""
        self.submit_task(name, "png", name, list(lr_results))

    def submit_task(self, key: str, what: str, *args: Any) -> None:
        """Start task ``what`` (see `draw`) in a worker; `fetch` ``key`` gets its result."""
        if self.workers > 0:
            future: Future[Any] = Future()
            _tasks.put((future, what, args))
            self._jobs[key] = future

    def submit_tasks(self, tasks: dict[str, tuple[Any, ...]]) -> None:
        """`submit_task` each of ``tasks``, task ``what`` -> its arguments, under the key
        ``what`` (as `extras.main_drawings` makes them)."""
        for what, args in tasks.items():
            self.submit_task(what, what, *args)

    def fetch(self, key: str) -> Any:
        """The result of task ``key``; None if it was not submitted or its worker died (the
        caller draws it itself then). The task's own error is raised here."""
        job = self._jobs.get(key)
        return None if job is None else _result(job)

    def submit_png(self, name: str, payload: Any) -> None:
        """Start drawing PNG ``name`` (see `png_of`) in a worker: ``payload`` is a drawing
        function ``name -> PNG bytes`` (module-level or a `functools.partial` of one, on small
        picklable data) or picklable data for `optim_plots`/`plots`."""
        self.submit_task(name, "png", name, payload)

    def png(self, name: str, payload: Any) -> bytes:
        """Task ``name``'s PNG bytes: the worker's if `submit_png` sent it and a worker drew it,
        else drawn here."""
        job = self._jobs.pop(name, None)
        data = None if job is None else _result(job)
        return png_of(name, payload) if data is None else data

    def save(self, folder: Path, lr_results: Sequence[LrResult]) -> list[str]:
        """Write every PNG of the report into ``folder`` (the names of `plots.save_all`)."""
        if not self._jobs:
            return plots.save_all(folder, lr_results)
        names = plots.loss_files([r.lr for r in lr_results]) + [plots.ALL_LRS_FILE,
                                                                plots.DIFF_FILE]
        for name in names:
            job = self._jobs.get(name)
            data = None if job is None else _result(job)
            if data is None:  # no worker could draw it: drawn here
                data = plots.png(name, lr_results)
            (folder / name).write_bytes(data)
        return names

    def close(self) -> None:
        """Cancel figures not started (after an error); the workers stay for the next run."""
        for job in self._jobs.values():
            job.cancel()
        self._jobs.clear()
