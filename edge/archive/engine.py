"""Where archive chunks run: a local process pool, a Dask ``LocalCluster``, or an existing Dask scheduler.

All three are handed to the run loop as a :class:`concurrent.futures.Executor` (Dask through
``Client.get_executor``), so one loop serves a laptop and a SLURM cluster alike.
"""
from __future__ import annotations

import contextlib
import logging
import multiprocessing
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass

from auroral.edge.errors import UserError

log = logging.getLogger(__name__)

ENGINES = ("dask", "pool")


@dataclass(frozen=True)
class Engine:
    """An executor and how many chunks it can run at once right now (the run loop keeps twice that in flight).

    ``slots`` is a function because a cluster grows and shrinks while it runs (SLURM jobs start late,
    get pre-empted).
    """

    executor: Executor
    slots: Callable[[], int]


@contextlib.contextmanager
def local_pool(workers: int) -> Iterator[Engine]:
    """Plain ``concurrent.futures`` processes (spawned, so ONNX Runtime never sees a forked state)."""
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        log.info("event=archive_engine engine=pool workers=%d", workers)
        yield Engine(pool, lambda: workers)


@contextlib.contextmanager
def dask_executor(workers: int | None = None, address: str | None = None) -> Iterator[Engine]:
    """A Dask executor: ``address`` connects to a running scheduler, otherwise a ``LocalCluster`` starts.

    Local workers get one thread each: the parallelism is in processes, and each process runs ONNX
    Runtime single-threaded, so N workers use N cores without oversubscription.
    """
    from distributed import Client, LocalCluster

    if address:
        try:
            client = Client(address, timeout="20s")
        except (OSError, TimeoutError, ValueError) as exc:  # ValueError: an address Dask cannot parse
            raise UserError(f"cannot reach the Dask scheduler at {address} ({exc})") from exc
        with client:
            threads = client.nthreads()
            log.info("event=archive_engine engine=dask scheduler=%s workers=%d threads=%d", address,
                     len(threads), sum(threads.values()))
            yield Engine(client.get_executor(pure=False), lambda: max(1, sum(client.nthreads().values())))
        return
    if workers is None:
        raise ValueError("dask_executor needs workers (for a LocalCluster) or address (of a running scheduler)")
    logging.getLogger("distributed").setLevel(max(logging.WARNING, logging.getLogger().level))
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                      dashboard_address=":0") as cluster, Client(cluster) as client:
        log.info("event=archive_engine engine=dask-local workers=%d dashboard=%s", workers, client.dashboard_link)
        yield Engine(client.get_executor(pure=False), lambda: workers)


def open_engine(engine: str, workers: int, address: str | None) -> contextlib.AbstractContextManager[Engine]:
    """``--dask ADDRESS`` wins; otherwise ``workers`` local processes under the chosen engine."""
    if address:
        return dask_executor(address=address)
    if engine == "pool":
        return local_pool(workers)
    return dask_executor(workers=workers)
