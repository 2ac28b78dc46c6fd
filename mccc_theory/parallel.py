"""One execution layer for the long sweeps: serial, a local Dask cluster, or a Dask scheduler.

The sweeps of the toolkit (``mccc prove`` shards, ``mccc recall --grid`` cells, ``mccc train
--sweep`` cells) are lists of independent jobs ``fn(*job)``, each deterministic in its own seed.
They run on an :class:`Executor` chosen by one rule (:func:`executor`):

=================================  ==================================================================
arguments                           executor
=================================  ==================================================================
``scheduler="tcp://host:8786"``     that existing Dask scheduler (SSH, Kubernetes, SLURM through
                                    dask-jobqueue, ...); ``workers`` must then be left out
``workers=N`` with ``N >= 2``       a :class:`distributed.LocalCluster` of N worker *processes*,
                                    one thread each, started here and closed afterwards
neither, or ``workers=1``           serial, in this process (a one-worker cluster would only add
                                    its start-up cost)
=================================  ==================================================================

Results never depend on the executor: every job carries its own seed, and
:meth:`Executor.map` yields ``(index, result)`` pairs so the caller puts rows back in job order.
On Dask, a job that raises is retried ``retries`` times (Dask's own ``retries``) and a job whose
worker dies is rescheduled on another worker by the scheduler (up to Dask's
``distributed.scheduler.allowed-failures``, default 3).

Notes
-----
Worker processes of a local cluster are *spawned* (Dask's default), not forked: the parent may
hold JAX or torch thread pools, which do not survive a fork. A script that starts a local cluster
must therefore do so under ``if __name__ == "__main__":``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence

from .errors import BackendUnavailableError, MCCCError
from .validation import check_positive_int

__all__ = ["Executor", "SerialExecutor", "DaskExecutor", "SchedulerError", "executor",
           "describe", "run_ordered", "DEFAULT_TIMEOUT"]


DEFAULT_TIMEOUT = 10.0  # seconds to wait for a scheduler (``executor(timeout=None)``)


class SchedulerError(MCCCError, OSError):
    """The Dask scheduler given with ``--scheduler`` could not be reached in time."""


class Executor:
    """Runs independent jobs ``fn(*job)``; :meth:`map` yields ``(index, result)`` as they finish."""

    name = "executor"
    n_workers = 1

    def map(self, fn: Callable, jobs: Sequence[tuple]) -> Iterator[tuple[int, object]]:
        raise NotImplementedError


class SerialExecutor(Executor):
    """Every job in this process, in order."""

    name = "serial"

    def map(self, fn, jobs):
        for i, job in enumerate(jobs):
            yield i, fn(*job)


class DaskExecutor(Executor):
    """Jobs as Dask futures on ``client`` (a :class:`distributed.Client`), retried on failure."""

    def __init__(self, client, *, retries: int = 2, name: str = "dask"):
        self.client = client
        self.retries = retries
        self.name = name

    @property
    def n_workers(self) -> int:
        return max(len(self.client.scheduler_info().get("workers", {})), 1)

    def map(self, fn, jobs):
        from distributed import as_completed

        # pure=False: two equal jobs are still two tasks (a sweep may repeat a cell on purpose)
        futures = [self.client.submit(fn, *job, retries=self.retries, pure=False) for job in jobs]
        index = {f.key: i for i, f in enumerate(futures)}
        try:
            for fut in as_completed(futures):
                yield index[fut.key], fut.result()
        finally:
            for fut in futures:
                fut.cancel()


def _distributed():
    try:
        import distributed
    except ImportError as exc:  # pragma: no cover - dask is a core dependency
        raise BackendUnavailableError(
            "--workers/--scheduler: Dask distributed is not installed; "
            "pip install 'dask[distributed]'") from exc
    return distributed


@contextlib.contextmanager
def executor(workers: int | None = None, scheduler: str | None = None, *,
             timeout: float | None = None, retries: int = 2) -> Iterator[Executor]:
    """The executor the rule of the module docstring picks, closed when the block ends.

    Parameters
    ----------
    workers : int, optional
        Worker processes of a local Dask cluster (``>= 1``; 1 means serial).
    scheduler : str, optional
        Address of an existing Dask scheduler, e.g. ``"tcp://10.0.0.5:8786"``.
    timeout : float, optional
        Seconds to wait for the scheduler before giving up (default :data:`DEFAULT_TIMEOUT`).
    retries : int
        Dask retries of a job that raised.

    Raises
    ------
    OrderError
        ``workers`` not an integer >= 1.
    MethodError
        Both ``workers`` and ``scheduler`` given.
    SchedulerError
        ``scheduler`` did not answer within ``timeout`` seconds.

    Examples
    --------
    >>> with executor() as ex:
    ...     sorted(ex.map(pow, [(2, 3), (3, 2)]))
    [(0, 8), (1, 9)]
    """
    from .errors import MethodError

    if workers is not None:
        workers = check_positive_int(workers, "workers")
    if scheduler is not None and workers is not None:
        raise MethodError("--workers/--scheduler: give one of them, not both (the scheduler's "
                          "workers run the jobs)")
    if scheduler is None and (workers is None or workers == 1):
        yield SerialExecutor()
        return
    distributed = _distributed()
    if scheduler is not None:
        timeout = DEFAULT_TIMEOUT if timeout is None else timeout
        try:
            client = distributed.Client(scheduler, timeout=timeout)
        except (OSError, TimeoutError, ValueError) as exc:
            raise SchedulerError(
                f"--scheduler: no Dask scheduler answered at {scheduler!r} within {timeout:g} s "
                f"({type(exc).__name__}); start one with `dask scheduler` or check the "
                "address") from None
        try:
            yield DaskExecutor(client, retries=retries, name=f"dask scheduler {scheduler}")
        finally:
            client.close()
        return
    import dask

    # one thread per process: the jobs are NumPy/BLAS-bound and run their own single-thread
    # BLAS; silence the dashboard (no port to bind in CI) and Dask's per-worker memory chatter
    with dask.config.set({"distributed.worker.daemon": False,
                          "distributed.logging.distributed": "error"}):
        cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1,
                                           processes=True, dashboard_address=None)
        client = distributed.Client(cluster)
        try:
            yield DaskExecutor(client, retries=retries, name=f"local Dask cluster ({workers} "
                               "processes)")
        finally:
            client.close()
            cluster.close()


def describe(workers: int | None, scheduler: str | None) -> str:
    """A one-line name of the executor the rule picks (for progress lines and JSON)."""
    if scheduler is not None:
        return f"dask scheduler {scheduler}"
    if workers is None or workers == 1:
        return "serial"
    return f"local Dask cluster ({workers} processes)"


def run_ordered(ex: Executor, fn: Callable, jobs: Sequence[tuple], *,
                done: Callable[[int, object], None] | None = None) -> list:
    """``[fn(*job) for job in jobs]`` on ``ex``, in job order; ``done(i, result)`` per finished job."""
    results: list = [None] * len(jobs)
    for i, res in ex.map(fn, jobs):
        results[i] = res
        if done is not None:
            done(i, res)
    return results

