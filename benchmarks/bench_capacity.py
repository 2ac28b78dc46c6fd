"""Recall predictor against the Monte-Carlo it replaces (issue 5, THEORY §5).

For linear attention on the codebook task, time one conditional prediction and the Monte-Carlo
run that measures recall to the same precision: the number of independent queries whose Wilson
95% interval half-width equals the predictor's accuracy target 0.03 / 2 (so the measurement can
resolve the predictor's error). Also reports the predictor's gap to a large Monte-Carlo run.
BLAS pinned to one thread.

Run: ``python benchmarks/bench_capacity.py [--quick]`` or ``mccc bench --only capacity``.
"""

from __future__ import annotations

import sys

from timing import Table, best_time, single_thread_blas

from mccc_theory.capacity import predict_recall
from mccc_theory.recall import CodebookTask, LinearAttention, measure_recall

HALF_WIDTH = 0.015  # half the accuracy target 0.03


def _queries_needed(p: float) -> int:
    # Wilson/normal half-width 1.96 sqrt(p(1-p)/n) = HALF_WIDTH, at least 100
    return max(100, int(1.96 ** 2 * p * (1 - p) / HALF_WIDTH ** 2) + 1)


def run(quick: bool = False) -> Table:
    cells = [(32, 64, 64), (64, 128, 128)] if quick else [(32, 64, 64), (64, 128, 128),
                                                          (128, 256, 256), (64, 128, 1024)]
    table = Table("Recall: conditional predictor vs Monte-Carlo (linear attention)",
                  ["d", "N", "V", "predicted", "measured", "gap", "predictor s", "MC queries",
                   "MC s", "speed-up"])
    with single_thread_blas():
        for d, N, V in cells:
            pred = predict_recall("linear", d, N, V)
            t_pred = best_time(lambda d=d, N=N, V=V: predict_recall("linear", d, N, V),
                               repeat=2 if quick else 3)
            n = _queries_needed(pred)
            task = CodebookTask(d, N, V)
            t_mc = best_time(lambda task=task, n=n: measure_recall(
                LinearAttention(), task, trials=n, queries_per_trial=1), repeat=1)
            big = measure_recall(LinearAttention(), task, trials=n * (2 if quick else 8),
                                 seed=1, queries_per_trial=1)
            table.rows.append([d, N, V, pred, big.recall, pred - big.recall, t_pred, n, t_mc,
                               t_mc / t_pred])
    table.notes.append(f"MC queries: independent queries for a 95% half-width of {HALF_WIDTH}; "
                       "'measured' uses 2x (quick) or 8x as many")
    return table


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv).format())
