"""Random-restart studies on a Dask distributed cluster (``restarts --dask-scheduler ADDRESS`` or
``--dask-local N``).

Each chunk of starts (any network, any optimizer) is one Dask task, `restarts.run_chunk` on the
worker, which builds its backends itself (once per worker process) and returns only the chunk's
per-configuration summaries (`restarts.Chunk`: with E at the tail step, so the client tells
reached, stuck and still descending apart as on one machine: `restarts.classify`). A chunk's
starts come from its own seeded generator blocks (`restarts.starts`), so the numbers do not
depend on which worker ran it, in which order, or how often: they are the single-machine numbers
bit for bit. The client keeps at most `WINDOW` chunks per worker in flight and stores each
result as it arrives (memory: the summaries, N x L values per backend, as on one machine). A
chunk whose task fails is retried (`RETRIES`); a chunk lost with a dying worker is rescheduled
by the scheduler.
Needs ``pip install 'autograd-compare[dask]'`` on the client and on every worker.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np

from autograd_compare.errors import BackendUnavailable, InputError
from autograd_compare.study import restarts

INSTALL_HINT = "pip install 'autograd-compare[dask]'"
WINDOW = 2  # chunks in flight per worker thread (at least 4 in all)
RETRIES = 3  # a failing chunk is run again up to this many times
CONNECT_TIMEOUT = "20s"


def _distributed():
    try:
        import distributed
    except ImportError:
        raise BackendUnavailable(f"--dask-scheduler/--dask-local need dask.distributed, which is "
                                 f"not installed; install it with: {INSTALL_HINT}") from None
    return distributed


def remote_chunk(study: restarts.Study, names: tuple[str, ...], dtype: str,
                 lo: int) -> restarts.Chunk:
    """The task run by a worker: chunk ``lo`` with backends built in the worker (the
    frameworks are imported once per worker process)."""
    backends = restarts.get_backends(study, names, dtype)
    return restarts.run_chunk(study, restarts.trainers(study, backends), lo)


def local_cluster(workers: int):
    """A `LocalCluster` of ``workers`` processes of one thread each, no dashboard."""
    distributed = _distributed()
    return distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                    host="127.0.0.1", dashboard_address=None,
                                    scheduler_kwargs={"dashboard_address": ":0"},  # a free port
                                    silence_logs=logging.ERROR)


def connect(address):
    """A `distributed.Client` for a scheduler address or a cluster (one-line error if none)."""
    distributed = _distributed()
    try:
        return distributed.Client(address, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError) as err:
        raise InputError(f"cannot reach the Dask scheduler at {address!r}: {err}") from None


def run(study: restarts.Study, names: tuple[str, ...], dtype: np.dtype, client,
        on_chunk: Callable[[str], None] = lambda what: None) -> restarts.Outcome:
    """`restarts.run` with every chunk a task on ``client``'s cluster; the same `Outcome`."""
    distributed = _distributed()
    restarts.check(study)
    collect = restarts.Collector(study, names, np.dtype(dtype))
    todo = list(reversed(restarts.chunk_starts(study)))
    total = len(todo)
    threads = sum(client.nthreads().values()) or 1
    window = max(4, WINDOW * threads)

    def submit(lo: int):
        return client.submit(remote_chunk, study, names, np.dtype(dtype).name, lo,
                             retries=RETRIES, pure=False)

    running = distributed.as_completed([submit(todo.pop()) for _ in range(min(window, total))])
    done = 0
    for future in running:
        chunk = future.result()
        future.release()
        collect.add(chunk)
        done += 1
        on_chunk(f"chunk {done}/{total} done (starts {chunk.lo}..{chunk.hi - 1})")
        if todo:
            running.add(submit(todo.pop()))
    return collect.outcome()
