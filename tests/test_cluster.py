"""Restart studies on a real Dask cluster: a scheduler and two worker processes on 127.0.0.1,
started and stopped here. The numbers equal the single-machine run bit for bit, also when a
worker is killed (SIGKILL) in the middle of the study."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from autograd_compare import network, optimizers
from autograd_compare.commands.cli import main
from autograd_compare.study import restarts

distributed = pytest.importorskip("distributed")
from autograd_compare.study import cluster  # noqa: E402

TUTORIAL = network.preset("tutorial")
PROBLEM = TUTORIAL._replace(data=network.data(TUTORIAL.network, [[0.05, 0.1]], [[0.01, 0.99]]))
NAMES = ("manual", "jax")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(address: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "dask", "worker", address, "--nthreads", "1",
                             "--no-dashboard", "--no-nanny", "--host", "127.0.0.1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def scheduler():
    """(address, [worker processes]): a `dask scheduler` and two `dask worker` processes."""
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    procs = [subprocess.Popen([sys.executable, "-m", "dask", "scheduler", "--host", "127.0.0.1",
                               "--port", str(port), "--no-dashboard"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    workers = [_worker(address), _worker(address)]
    procs += workers
    try:
        with distributed.Client(address, timeout="60s") as client:
            client.wait_for_workers(2, timeout=60)
        yield address, workers
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def _study(n: int, chunk: int, steps: int) -> restarts.Study:
    return restarts.Study(n=n, seed=7, distribution="uniform", low=-2.0, high=2.0, steps=steps,
                          lrs=(0.5, 2.0), threshold=1e-4, chunk=chunk, checkpoints=(10,),
                          problem=PROBLEM)


def _single_machine(study: restarts.Study) -> restarts.Outcome:
    backends = restarts.get_backends(study, NAMES, "float64")
    return restarts.run(study, restarts.trainers(study, backends))


def _assert_identical(a: restarts.Outcome, b: restarts.Outcome) -> None:
    """Bit for bit: the same bytes in every array (NaN included)."""
    assert a.backends == b.backends
    pairs = [(a.initial_loss, b.initial_loss), (a.difference, b.difference), (a.ratio, b.ratio)]
    assert (a.steps_to_threshold is None) == (b.steps_to_threshold is None)
    assert (a.tail_loss is None) == (b.tail_loss is None)
    for name in a.backends:
        pairs += [(a.final_loss[name], b.final_loss[name]),
                  (a.checkpoint_loss[name], b.checkpoint_loss[name])]
        if a.tail_loss is not None and b.tail_loss is not None:  # E at the tail step
            pairs.append((a.tail_loss[name], b.tail_loss[name]))
        if a.steps_to_threshold is not None and b.steps_to_threshold is not None:
            pairs.append((a.steps_to_threshold[name], b.steps_to_threshold[name]))
    for x, y in pairs:
        assert x.dtype == y.dtype and x.shape == y.shape and x.tobytes() == y.tobytes()


def test_cluster_study_equals_the_single_machine_run(scheduler):
    address, _ = scheduler
    study = _study(n=700, chunk=64, steps=60)  # 11 chunks, the last one short
    seen = []
    with cluster.connect(address) as client:
        got = cluster.run(study, NAMES, np.dtype("float64"), client, seen.append)
    _assert_identical(got, _single_machine(study))
    assert got.tail_loss is not None  # the outcomes are told on the cluster too
    assert restarts.summary(got) == restarts.summary(_single_machine(study))
    assert len(seen) == 11 and seen[-1].startswith("chunk 11/11 done")


def test_any_network_with_an_optimizer_on_the_cluster(scheduler):
    address, _ = scheduler
    study = _study(n=300, chunk=64, steps=40)._replace(
        problem=network.preset("xor"), checkpoints=(), threshold=0.1,
        optimizer=optimizers.make("adam", lr=1.0))
    with cluster.connect(address) as client:
        got = cluster.run(study, NAMES, np.dtype("float64"), client)
    _assert_identical(got, _single_machine(study))
    assert got.tail_loss is None  # an optimizer: not reached is not told apart


def test_a_worker_killed_mid_study_changes_nothing(scheduler):
    address, workers = scheduler
    study = _study(n=1200, chunk=50, steps=150)  # 24 chunks
    killed = []

    def kill_after_two(what: str) -> None:
        if what.startswith("chunk 2/") and not killed:
            os.kill(workers[0].pid, signal.SIGKILL)
            killed.append(time.monotonic())

    with cluster.connect(address) as client:
        got = cluster.run(study, NAMES, np.dtype("float64"), client, kill_after_two)
        assert len(client.nthreads()) == 1  # the study finished on the surviving worker
    assert killed and workers[0].wait(timeout=10) == -signal.SIGKILL
    _assert_identical(got, _single_machine(study))


def test_cli_dask_local_writes_the_same_report(tmp_path, capsys):
    args = ["restarts", "--n", "300", "--chunk", "64", "--steps", "40", "--lrs", "0.5,2",
            "--backends", "manual,torch", "--no-plots", "--json"]
    assert main([*args, "--out", str(tmp_path / "one")]) == 0
    one = capsys.readouterr().out
    assert main([*args, "--out", str(tmp_path / "dask"), "--dask-local", "2"]) == 0
    two = capsys.readouterr().out
    strip = lambda text: [line for line in text.splitlines()  # noqa: E731
                          if '"seconds"' not in line and '"report_dir"' not in line]
    assert strip(one) == strip(two)
    for name in ("summary.csv", "checkpoints.csv", "disagreements.csv", "gallery.csv",
                 "final_loss.csv"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "dask" / name).read_bytes()


def test_unreachable_scheduler_is_a_one_line_error(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT", "1s")
    code = main(["restarts", "--n", "10", "--steps", "2", "--backends", "manual", "--no-plots",
                 "--out", str(tmp_path / "r"), "--dask-scheduler",
                 f"tcp://127.0.0.1:{_free_port()}"])
    err = capsys.readouterr().err
    assert code == 2 and "cannot reach the Dask scheduler" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "r").exists()


def test_both_cluster_options_at_once_is_a_usage_error(capsys):
    assert main(["restarts", "--dask-local", "2", "--dask-scheduler", "tcp://x:1"]) == 2
    assert "not allowed with argument" in capsys.readouterr().err
