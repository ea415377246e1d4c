"""The main job's manual and JAX backends computed ahead, in a helper process.

Importing JAX costs about half as much as importing torch, and the main job used to import both,
one after the other, before checking anything. A `Prefetcher` started before torch is imported
runs a plain ``python -c`` process (not multiprocessing, see `report.plot_pool`) that imports
the backend and makes, in order, exactly the calls the main job will make of it: the gradient
check's ``gradients(w)``, each rate's ``train`` and ``forward`` at every step
(`harness.trajectory.train`), and each rate's recorded steps (`harness.steps.record`). It runs
the same harness functions on the same inputs, so it makes the same calls, and streams every
raw result back (in batches: one message per training or set of recorded steps). With
``Plan.drawings`` it also makes the reference's drawing tasks (network, landscape) from its
recorded steps, handed to the plot workers while the main process still imports torch. The
main process's backend (`registry.guarded` around a proxy) checks its inputs as always, then
answers a call from that stream; a call the helper did not make (or a helper that died) is
computed in the main process instead, by the backend itself, imported there on first need.
Numbers are never recomputed differently: each is the backend's own answer to the same call on
the same (validated) inputs, whichever process made it.

The helper only pays when this process has not imported JAX yet (a command-line run); a
process that has (a notebook, the tests, a second run) computes in place. Set
``AUTOGRAD_COMPARE_PREFETCH=0`` to never start a helper (every backend in the main process, as
before), ``=1`` to always start one.
"""

from __future__ import annotations

import importlib
import json
import os
import pickle
import subprocess
import sys
import threading
import warnings
from collections.abc import Callable, Sequence
from typing import IO, Any, NamedTuple

import numpy as np

from autograd_compare import registry
from autograd_compare.interface import Backend, Example, RawBackend
from autograd_compare.report.plot_pool import _HEADER, _receive

# backends computed by the helper, in this order (torch stays in the main process: it is the
# longest import, and the main process would otherwise wait for it idle). The helper imports
# them in the reverse order (JAX, the slow one, at once), then computes manual first: it is the
# reference, whose recorded steps give the drawings (`Plan.drawings`) and which the main
# process asks for first.
PREFETCHED = ("manual", "jax")
# serve, then leave without the interpreter's teardown (as `commands.cli.console` does): every
# answer is flushed, and the main process may be waiting for this exit
_BOOT = ("import json, os, sys; sys.path[:0] = json.loads(sys.argv[1]); "
         "from autograd_compare.commands.prefetch import serve; serve(); "
         "sys.stderr.flush(); os._exit(0)")


def enabled() -> bool:
    """Whether to start a helper: ``AUTOGRAD_COMPARE_PREFETCH`` 0 or 1, else only when JAX is
    not imported in this process yet."""
    mode = os.environ.get("AUTOGRAD_COMPARE_PREFETCH", "").strip().lower()
    if mode in ("0", "false", "no", "off"):
        return False
    return mode in ("1", "true", "yes", "on") or "jax" not in sys.modules


class Plan(NamedTuple):
    """What the main job will ask of each of some backends (see `serve`)."""

    names: tuple[str, ...]
    dtype: str
    w: np.ndarray  # (8,) in dtype: the start
    example: Example  # arrays in dtype
    lrs: tuple[float, ...]
    steps: int
    trace: bool  # the recorded steps for report.html too
    # the reference's drawings (network, landscape) for the plot workers, made here from its
    # recorded steps as soon as they are (report.extras.main_drawings): (reference, slice), or
    # None
    drawings: tuple[str, Any] | None = None
    # the main process's warning filters for built-in categories (under pytest's
    # filterwarnings=error, a warning in the helper is the same error it is in the main process)
    warning_filters: tuple[Any, ...] = ()


def _send(stream: IO[bytes], obj: object) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)) + data)
    stream.flush()


def _builtin_filters() -> tuple[Any, ...]:
    return tuple(f for f in warnings.filters if getattr(f[2], "__module__", "") == "builtins")


def _key(name: str, what: str, args: tuple[Any, ...], kwargs: dict[str, Any]
         ) -> tuple[Any, ...]:
    """A call, exactly: the backend, the function, every array's dtype, shape and bytes, the
    options."""
    def part(x: Any) -> Any:
        if isinstance(x, np.ndarray):
            return (x.dtype.str, x.shape, x.tobytes())
        if isinstance(x, tuple):
            return tuple(part(y) for y in x)
        return (type(x).__name__, repr(x))

    return (name, what, part(args), tuple(sorted((k, part(v)) for k, v in kwargs.items())))


class _Outbox:
    """Answers for the main process, sent in batches (a list per message): one message per
    call would cost the main process a wake-up and an unpickling each, while it imports torch."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self.pending: list[tuple[Any, ...]] = []

    def add(self, message: tuple[Any, ...]) -> None:
        self.pending.append(message)

    def flush(self) -> None:
        if self.pending:
            _send(self.stream, self.pending)
            self.pending = []


def _recording(raw: RawBackend, out: _Outbox) -> RawBackend:
    """``raw`` with every forward, gradients and train call added to ``out`` as it returns:
    (key, True, result) or (key, False, the error)."""
    def wrap(what: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            key = _key(raw.name, what, args, kwargs)
            try:
                result = fn(*args, **kwargs)
            except Exception as err:
                out.add((key, False, err))
                raise
            out.add((key, True, result))
            return result
        return call

    return raw._replace(forward=wrap("forward", raw.forward),
                        gradients=wrap("gradients", raw.gradients),
                        train=wrap("train", raw.train))


def _raw(name: str, dtype: Any) -> RawBackend:
    dt = np.dtype(dtype)
    registry.get_backend(name, dt)  # the same checks and errors as the main process's
    return importlib.import_module(registry.REGISTRY[name][0]).make(dt)


def serve() -> None:
    """The helper: read a `Plan`; import every backend (the slowest first: see `PREFETCHED`);
    for each, answer ("ready", name) or ("unavailable", name, error) and make the main job's
    calls in its order; answer ("drawings", reference, tasks) after the reference's recorded
    steps if the plan asks for them; answer ("end",), then wait for stdin to close. Answers
    travel in batches (`_Outbox`)."""
    from autograd_compare.harness import steps, trajectory

    tasks = sys.stdin.buffer
    out = _Outbox(sys.stdout.buffer)
    sys.stdout = sys.stderr  # nothing but answers on the pipe
    try:
        plan: Plan = _receive(tasks)
    except EOFError:
        return
    for action, message, category, module, lineno in reversed(plan.warning_filters):
        warnings.filterwarnings(action, getattr(message, "pattern", message) or "", category,
                                getattr(module, "pattern", module) or "", lineno)
    loaded: dict[str, Backend] = {}
    for name in reversed(plan.names):  # the slow imports (JAX) first: see PREFETCHED
        try:
            raw = _raw(name, plan.dtype)
        except Exception as err:  # noqa: BLE001 - handed to the main process, which raises it
            out.add(("unavailable", name, err))
            continue
        loaded[name] = registry.guarded(_recording(raw, out), np.dtype(plan.dtype))
    for name in plan.names:
        if name in loaded:
            out.add(("ready", name))
    out.flush()
    for name in plan.names:  # the main job's order, one backend after the other: the
        if name not in loaded:  # reference's recorded steps (and drawings) come early
            continue
        b = loaded[name]
        try:
            b.gradients(np.asarray(plan.w), plan.example)  # harness.gradcheck
            out.flush()
            runs = []
            for lr in plan.lrs:
                runs.append(trajectory.train(b, plan.w, plan.example, lr, plan.steps))
                out.flush()
            if plan.trace:
                traces = [steps.record(b, plan.w, plan.example, lr, plan.steps, run=run)
                          for lr, run in zip(plan.lrs, runs, strict=True)]
                if plan.drawings is not None and plan.drawings[0] == name:
                    out.add(("drawings", name, _drawings(plan, traces)))
        except Exception:  # noqa: BLE001, S112 - the main process makes the failing call itself
            continue
        finally:
            out.flush()
    out.add(("end",))
    out.flush()
    try:
        _receive(tasks)
    except EOFError:
        return


def _drawings(plan: Plan, traces: list[Any]) -> dict[str, tuple[Any, ...]] | None:
    """`extras.main_drawings` of the reference's recorded steps ``traces``, as the main process
    would make them (`commands.run._trace`)."""
    from autograd_compare.harness import steps
    from autograd_compare.report import extras

    assert plan.drawings is not None
    reference, slice_ = plan.drawings
    weights = tuple(np.asarray(plan.w).tolist())
    return extras.main_drawings(reference, weights, steps.as_json(traces), plan.example, slice_)


class Prefetcher:
    """One helper process computing ``plan``'s calls; `backend` is the main job's backend."""

    def __init__(self, plan: Plan,
                 on_drawings: Callable[[dict[str, tuple[Any, ...]]], None] | None = None
                 ) -> None:
        self.plan = plan
        self._on_drawings = on_drawings  # called in the reading thread with the drawing tasks
        self._drawings: tuple[Any, ...] | None = None  # (reference, tasks) once answered
        self._results: dict[tuple[Any, ...], tuple[bool, Any]] = {}
        self._state: dict[str, tuple[Any, ...]] = {}  # name -> ("ready" / "unavailable", ...)
        self._ended = False
        self._cond = threading.Condition()
        self._local: dict[str, RawBackend] = {}
        paths = [p for p in sys.path if p]
        self.proc = subprocess.Popen([sys.executable, "-c", _BOOT, json.dumps(paths)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert self.proc.stdin is not None and self.proc.stdout is not None  # both PIPE
        self._stdin: IO[bytes] = self.proc.stdin
        _send(self._stdin, plan)
        self._thread = threading.Thread(target=self._read, args=(self.proc.stdout,),
                                        daemon=True, name="autograd-compare-prefetch")
        self._thread.start()

    def _read(self, stream: IO[bytes]) -> None:
        try:
            while True:
                batch = _receive(stream)
                with self._cond:
                    for message in batch:
                        self._take(message)
                    self._cond.notify_all()
        except Exception:  # noqa: BLE001 - died, closed or unreadable: whatever is missing
            pass  # is computed in the main process
        finally:
            with self._cond:
                self._ended = True
                self._cond.notify_all()

    def _take(self, message: tuple[Any, ...]) -> None:
        if message[0] == "end":
            self._ended = True
        elif message[0] in ("ready", "unavailable"):
            self._state[message[1]] = message
        elif message[0] == "drawings":
            self._drawings = message[1:]
            if self._on_drawings is not None and message[2] is not None:
                self._on_drawings(message[2])
        else:
            key, ok, value = message
            self._results[key] = (ok, value)

    def drew(self, reference: str) -> bool:
        """Whether the helper made ``reference``'s drawings (handed to ``on_drawings``); waits
        until it has, or has ended."""
        with self._cond:
            self._cond.wait_for(lambda: self._drawings is not None or self._ended)
            return (self._on_drawings is not None and self._drawings is not None
                    and self._drawings[0] == reference and self._drawings[1] is not None)

    def backend(self, name: str) -> Backend:
        """The main job's backend ``name``: checks its inputs, answers from the helper."""
        with self._cond:
            self._cond.wait_for(lambda: name in self._state or self._ended)
            state = self._state.get(name)
        if state is not None and state[0] == "unavailable":
            raise state[2]
        dt = np.dtype(self.plan.dtype)
        if state is None:  # the helper died before loading it: the main process loads it
            return registry.get_backend(name, dt)

        def proxy(what: str) -> Callable[..., Any]:
            def call(*args: Any, **kwargs: Any) -> Any:
                key = _key(name, what, args, kwargs)
                with self._cond:
                    self._cond.wait_for(lambda: key in self._results or self._ended)
                    found = self._results.get(key)
                if found is None:
                    return getattr(self._raw_here(name), what)(*args, **kwargs)
                ok, value = found
                if not ok:
                    raise value
                return value
            return call

        raw = RawBackend(name, dt, proxy("forward"), proxy("gradients"), proxy("train"),
                         lambda *a, **k: self._raw_here(name).train_batch(*a, **k))
        return registry.guarded(raw, dt)

    def _raw_here(self, name: str) -> RawBackend:
        if name not in self._local:
            self._local[name] = _raw(name, self.plan.dtype)
        return self._local[name]

    def close(self) -> None:
        """Stop the helper (it has nothing left to give once the main job is done)."""
        with self._cond:
            unfinished = not self._ended
        if unfinished:  # the main job ended early (an error): its answers are not wanted
            self.proc.kill()
        try:
            self._stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._thread.join(timeout=5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def start(names: Sequence[str], dtype: np.dtype[Any], w: np.ndarray, example: Example,
          lrs: Sequence[float], steps: int, trace: bool, drawings: tuple[str, Any] | None = None,
          on_drawings: Callable[[dict[str, tuple[Any, ...]]], None] | None = None
          ) -> Prefetcher | None:
    """A `Prefetcher` for the backends of ``names`` in `PREFETCHED` (the framework ones only
    if installed); None when `enabled` is off, none of them is asked for, or a process cannot
    be started. ``drawings``: (reference, landscape slice) to have the reference's drawing
    tasks made in the helper and handed to ``on_drawings`` (see `Plan.drawings`)."""
    chosen = tuple(n for n in PREFETCHED if n in names and n in registry.backends())
    if not enabled() or not chosen:
        return None
    try:
        wanted = drawings if on_drawings is not None and drawings is not None \
            and drawings[0] in chosen else None
        return Prefetcher(Plan(chosen, dtype.name, w, example, tuple(lrs), steps, trace,
                               wanted, _builtin_filters()), on_drawings)
    except OSError:
        return None
