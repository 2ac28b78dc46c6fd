"""Scale-out: ``mccc recall --grid`` cells serially against a local Dask cluster (issue 14).

Wall time of the same recall-grid sweep (predicted and measured recall of linear attention and
the quarter-size MCCC memory on the quick THEORY grid) run serially in this process and on a
``LocalCluster`` of 2 worker processes (one thread each), with the cluster's start-up timed
apart. The rows must be identical (every cell draws from its own seed); the benchmark raises if
they are not. Wall time, not CPU time: a parallel speed-up is a wall-clock quantity.

Run: ``python benchmarks/bench_parallel.py [--quick]`` or ``mccc bench --only parallel``.
"""

from __future__ import annotations

import sys
import time

from timing import Table, single_thread_blas

from mccc_theory.parallel import executor
from mccc_theory.recall.grid import compare_grid, theory_grid


def _sweep(ex, quick):
    cells = theory_grid(quick=True)[: 4 if quick else None]
    return compare_grid(["linear", "mccc/4"], cells, trials=60 if quick else 400, seed=0,
                        executor=ex)


def run(quick: bool = False) -> Table:
    table = Table("Scale-out: recall grid, serial vs local Dask cluster (2 processes)",
                  ["executor", "cells", "start-up s", "sweep s", "speed-up (sweep)",
                   "speed-up (with start-up)"])
    with single_thread_blas():
        with executor() as ex:
            t0 = time.perf_counter()
            serial = _sweep(ex, quick)
            t_serial = time.perf_counter() - t0
        t0 = time.perf_counter()
        with executor(workers=2) as ex:
            t_start = time.perf_counter() - t0
            t1 = time.perf_counter()
            dask_rows = _sweep(ex, quick)
            t_dask = time.perf_counter() - t1
    if [r.to_json() for r in serial] != [r.to_json() for r in dask_rows]:
        raise AssertionError("the Dask sweep's rows differ from the serial ones")
    table.rows.append(["serial", len(serial), 0.0, t_serial, 1.0, 1.0])
    table.rows.append(["LocalCluster(2)", len(dask_rows), t_start, t_dask, t_serial / t_dask,
                       t_serial / (t_dask + t_start)])
    table.notes.append("wall time on this machine's 2 cores; rows identical to the serial run "
                       "(checked)")
    return table


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv).format())
