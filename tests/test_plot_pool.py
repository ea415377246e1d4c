"""The main job's PNGs drawn in worker processes: the same files, byte for byte, as drawn in the
main process; a dead worker costs time, never a figure; --no-plots writes none."""

from __future__ import annotations

import json
import os
import signal

import numpy as np
import pytest

from autograd_compare.commands.cli import main
from autograd_compare.harness import trajectory
from autograd_compare.interface import CLASS_WEIGHTS, Example
from autograd_compare.registry import get_backend
from autograd_compare.report import plot_pool, plots

pytest.importorskip("matplotlib")
ARGS = ["--backends", "manual,torch", "--lrs", "0.5,2", "--steps", "8"]


def _report(folder) -> tuple[dict, dict]:
    """(report.json without report_dir, {file name: bytes} of the other files)."""
    result = json.loads((folder / "report.json").read_text())
    result.pop("report_dir")
    return result, {p.name: p.read_bytes() for p in folder.iterdir() if p.name != "report.json"}


def test_workers_write_the_same_files_as_the_main_process(tmp_path, monkeypatch):
    monkeypatch.setattr(plot_pool, "WORKERS", 0)
    assert main([*ARGS, "--out", str(tmp_path / "here")]) == 0
    monkeypatch.setattr(plot_pool, "WORKERS", 2)
    assert main([*ARGS, "--out", str(tmp_path / "workers")]) == 0
    here, workers = _report(tmp_path / "here"), _report(tmp_path / "workers")
    assert sorted(here[1]) == sorted(workers[1]) == sorted(
        ["trace.csv", "loss-lr-0.5.png", "loss-lr-2.png", "loss-all-lrs.png", "differences.png",
         "network.png", "network.svg", "landscape.png", "report.html"])
    assert here[0] == workers[0]
    for name in here[1]:  # report.html names its folder; the SVG is drawn in this process
        if name.endswith((".png", ".csv")):
            assert here[1][name] == workers[1][name], name


def _results() -> list:
    example = Example(np.array([0.05, 0.1]), np.array([0.01, 0.99]))
    backends = [get_backend("manual"), get_backend("torch")]
    return [trajectory.check_lr(backends, "manual", np.array(CLASS_WEIGHTS), example, lr, 8)
            for lr in (0.5, 2.0)]


def test_killed_workers_cost_no_figure(tmp_path):
    results = _results()
    here = tmp_path / "here"
    here.mkdir()
    expected = plots.save_all(here, results)
    drawer = plot_pool.Drawer(2)
    for worker in plot_pool._workers:  # every worker dies: the main process draws them all
        os.kill(worker.proc.pid, signal.SIGKILL)
        worker.proc.wait()
    for r in results:
        drawer.submit(plots.loss_file(r.lr), [r])
    drawer.submit(plots.DIFF_FILE, results)
    out = tmp_path / "after"
    out.mkdir()
    assert drawer.save(out, results) == expected
    for name in expected:
        assert (out / name).read_bytes() == (here / name).read_bytes(), name
    drawer.close()
    plot_pool.Drawer(2).close()  # the next run replaces them
    assert len(plot_pool._workers) == 2 and all(w.alive() for w in plot_pool._workers)


def test_no_plots_writes_json_and_csv_only(tmp_path, capsys):
    assert main([*ARGS, "--out", str(tmp_path / "r"), "--no-plots", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["files"] == ["report.json", "trace.csv", "report.html"]
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == ["report.html", "report.json",
                                                                  "trace.csv"]


def test_pinned_titles_change_no_pixel(monkeypatch):
    results = _results()
    names = [plots.loss_file(0.5), plots.ALL_LRS_FILE, plots.DIFF_FILE]
    pinned = [plots.png(n, results) for n in names]
    monkeypatch.setattr(plots, "_pin_titles", lambda fig: None)
    assert [plots.png(n, results) for n in names] == pinned
