"""The main job's speed-ups change no output: the manual and JAX backends computed ahead in a
helper process (commands.prefetch), the recorded steps taken from the trajectory check's runs
(harness.steps.record(run=...)), the network and the landscape drawn by the plot workers."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys

import numpy as np
import pytest

from autograd_compare.commands import prefetch
from autograd_compare.commands.cli import main
from autograd_compare.harness import steps, trajectory
from autograd_compare.interface import CLASS_INPUTS, CLASS_TARGETS, CLASS_WEIGHTS, Example
from autograd_compare.registry import get_backend
from autograd_compare.report import plot_pool

pytest.importorskip("matplotlib")
BACKENDS = "manual,torch,jax,mistake:update-sign"


def _files(folder) -> dict[str, bytes]:
    """Every file of a report folder, with what legitimately differs between two runs blanked:
    the folder's own name, the SVG's date and its random clip-path ids."""
    out = {}
    for p in sorted(folder.iterdir()):
        data = p.read_bytes().replace(str(folder).encode(), b"FOLDER")
        data = re.sub(rb"<dc:date>.*?</dc:date>", b"", data)
        data = re.sub(rb"#?p[0-9a-f]{10}\b", b"ID", data)
        # report.html embeds network.svg (date, ids) as base64
        data = re.sub(rb"data:image/svg\+xml;base64,[A-Za-z0-9+/=]+", b"SVG", data)
        out[p.name] = data
    return out


@pytest.mark.parametrize("args", [["--lrs", "0.5,2", "--steps", "9"],
                                  ["--lrs", "1", "--steps", "205", "--dtype", "float32",
                                   "--landscape", "w5,w6"]])
def test_helper_and_workers_write_what_the_main_process_alone_writes(tmp_path, monkeypatch,
                                                                     args):
    monkeypatch.setenv("AUTOGRAD_COMPARE_PREFETCH", "0")
    monkeypatch.setattr(plot_pool, "WORKERS", 0)
    alone = tmp_path / "alone"
    code = main([*args, "--backends", BACKENDS, "--out", str(alone)])
    monkeypatch.setenv("AUTOGRAD_COMPARE_PREFETCH", "1")
    monkeypatch.setattr(plot_pool, "WORKERS", 2)
    helped = tmp_path / "helped"
    assert main([*args, "--backends", BACKENDS, "--out", str(helped)]) == code == 1  # a mistake
    here, there = _files(alone), _files(helped)
    assert sorted(here) == sorted(there)
    for name in here:
        assert here[name] == there[name], name


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", ["manual", "torch", "jax"])
def test_recorded_steps_from_the_run_equal_recorded_steps_trained_again(name, dtype):
    b = get_backend(name, dtype)
    w = np.asarray(CLASS_WEIGHTS, dtype)
    ex = Example(np.asarray(CLASS_INPUTS, dtype), np.asarray(CLASS_TARGETS, dtype))
    for n_steps in (12, 230):  # 230: thinned to steps.MAX_ROWS rows
        run = trajectory.train(b, w, ex, 0.7, n_steps)
        again, reused = (steps.record(b, w, ex, 0.7, n_steps, run=r) for r in (None, run))
        for field in steps.StepTrace._fields:
            assert np.array_equal(getattr(again, field), getattr(reused, field)), field


def _plan(**changes) -> prefetch.Plan:
    plan = prefetch.Plan(("manual", "jax"), "float64", np.asarray(CLASS_WEIGHTS),
                         Example(np.asarray(CLASS_INPUTS), np.asarray(CLASS_TARGETS)),
                         (0.5,), 6, True)
    return plan._replace(**changes)


def _same_answers(b, plan: prefetch.Plan) -> None:
    """``b`` answers the plan's calls, and one it never made, like the backend itself."""
    own = get_backend(b.name)
    w, ex = plan.w, plan.example
    calls = [("train", (w, ex), {"lr": 0.5, "steps": 6})]
    for x in (w, w + 0.25):  # w: asked for by the plan; w + 0.25: never
        calls += [("forward", (x, ex), {}), ("gradients", (x, ex), {})]
    for what, args, kwargs in calls:
        mine, theirs = getattr(b, what)(*args, **kwargs), getattr(own, what)(*args, **kwargs)
        assert all(np.array_equal(p, q) for p, q in zip(mine, theirs, strict=True)), what


def test_the_helpers_answers_are_the_backends_own():
    helper = prefetch.Prefetcher(_plan())
    try:
        for name in ("manual", "jax"):
            _same_answers(helper.backend(name), helper.plan)
        assert helper._results  # answered from the helper, not recomputed here
    finally:
        helper.close()
    assert helper.proc.returncode == 0


@pytest.mark.parametrize("when", ["at once", "after loading"])
def test_a_killed_helper_costs_time_never_a_number(when):
    helper = prefetch.Prefetcher(_plan())
    try:
        if when == "after loading":
            helper.backend("manual")
        os.kill(helper.proc.pid, signal.SIGKILL)
        helper.proc.wait()
        for name in ("manual", "jax"):
            _same_answers(helper.backend(name), helper.plan)
    finally:
        helper.close()


def test_main_process_imports_neither_jax_nor_matplotlib(tmp_path):
    """The point of the helper and the workers: this process imports torch only."""
    code = ("import sys; from autograd_compare.commands.cli import main; "
            f"code = main(['--lrs', '0.5', '--steps', '5', '--out', {str(tmp_path / 'r')!r}]); "
            "print(sorted(m for m in ('jax', 'matplotlib', 'torch') if m in sys.modules)); "
            "sys.exit(code)")
    env = {k: v for k, v in os.environ.items()
           if k not in ("AUTOGRAD_COMPARE_PREFETCH", "AUTOGRAD_COMPARE_PLOT_WORKERS")}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1].replace("'", '"')) == ["torch"]


@pytest.mark.parametrize(("cores", "load", "workers"), [(2, 0.0, 1), (2, 1.2, 1), (1, 0.0, 1),
                                                        (4, 0.9, 2), (4, 1.1, 1), (16, 3.0, 2),
                                                        (16, 13.5, 1)])
def test_a_second_plot_worker_only_when_three_cores_are_idle(monkeypatch, cores, load, workers):
    monkeypatch.setattr(os, "cpu_count", lambda: cores)
    monkeypatch.setattr(os, "getloadavg", lambda: (load, load, load))
    assert plot_pool.default_workers() == workers


@pytest.mark.parametrize(("mode", "jax_here", "started"), [
    ("", False, True), ("", True, False), ("1", True, True), ("0", False, False)])
def test_a_helper_only_when_it_can_pay(monkeypatch, mode, jax_here, started):
    monkeypatch.setenv("AUTOGRAD_COMPARE_PREFETCH", mode)
    if jax_here:
        import jax  # noqa: F401
    else:
        monkeypatch.delitem(sys.modules, "jax", raising=False)
    assert prefetch.enabled() is started



def test_the_helper_hands_over_the_reference_drawings_made_from_the_same_numbers():
    """The network and the landscape are drawn from the helper's recorded steps of the reference
    while this process still imports torch: the same tasks `extras.main_drawings` makes here."""
    from autograd_compare.report import extras, landscape

    got = []
    plan = _plan(lrs=(0.5, 2.0), drawings=("manual", landscape.parse("w5,w6")))
    helper = prefetch.Prefetcher(plan, got.append)
    try:
        assert helper.drew("manual") and not helper.drew("jax")
    finally:
        helper.close()
    b = get_backend("manual")
    traces = [steps.record(b, plan.w, plan.example, lr, plan.steps) for lr in plan.lrs]
    here = extras.main_drawings("manual", tuple(CLASS_WEIGHTS), steps.as_json(traces),
                                plan.example, landscape.parse("w5,w6"))
    assert len(got) == 1 and sorted(got[0]) == ["landscape", "network"]
    assert _bit_identical(got[0], here)


def _bit_identical(a, b) -> bool:
    """The same structure with the same bits in every number (arrays, floats) and text."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
    if isinstance(a, float) or isinstance(b, float):
        return type(a) is type(b) and np.float64(a).tobytes() == np.float64(b).tobytes()
    if isinstance(a, dict):
        return (type(a) is type(b) and list(a) == list(b)
                and all(_bit_identical(a[k], b[k]) for k in a))
    if isinstance(a, (list, tuple)):
        return (type(a) is type(b) and len(a) == len(b)
                and all(_bit_identical(x, y) for x, y in zip(a, b, strict=True)))
    return type(a) is type(b) and a == b


def test_no_drawings_from_the_helper_unless_asked_for_its_reference():
    got = []
    helper = prefetch.Prefetcher(_plan(), got.append)  # no drawings in the plan
    try:
        assert not helper.drew("manual")
    finally:
        helper.close()
    assert got == []
