"""Measured recall of a memory on a task, with a confidence interval and zoology's state size.

:func:`measure_recall` samples independent trials of a task (:mod:`mccc_theory.recall.tasks`),
reads every query through the memory (:mod:`mccc_theory.recall.memories`), decodes by argmax
over the task's candidates and reports the fraction correct. The interval has false-alarm
probability ``alpha``:

* one query per trial: the queries are independent, Wilson score interval;
* several queries per trial (they share keys and codebook, so they are dependent): the
  empirical-Bernstein interval of the per-trial recall, valid whatever the dependence.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..validation import check_positive_int
from .intervals import bernstein_interval, wilson_interval

__all__ = ["RecallResult", "measure_recall"]


@dataclass(frozen=True)
class RecallResult:
    """Outcome of :func:`measure_recall`.

    Attributes
    ----------
    recall : float
        Fraction of queries decoded correctly.
    low, high : float
        Confidence interval at level ``1 - alpha``.
    alpha : float
    interval : str
        ``"wilson"`` or ``"bernstein"`` (module docstring).
    successes, n_queries, n_trials : int
    state_size : int
        State entries as zoology counts them (``memory.state_size``).
    memory : str
    """

    recall: float
    low: float
    high: float
    alpha: float
    interval: str
    successes: int
    n_queries: int
    n_trials: int
    state_size: int
    memory: str

    def to_json(self) -> dict:
        return asdict(self)


def measure_recall(memory, task, *, trials: int = 1000, seed=0,
                   queries_per_trial: int | None = None, alpha: float = 0.05,
                   chunk: int = 256) -> RecallResult:
    """Measure recall of ``memory`` on ``task``.

    Parameters
    ----------
    memory : Memory
        A memory from :mod:`mccc_theory.recall.memories`.
    task : CodebookTask or MQARRecallTask
    trials : int
        Number of independent trials.
    seed : int or numpy Generator
        Seeds every random draw (deterministic for an int).
    queries_per_trial : int, optional
        Queries per trial (default: every stored item); 1 gives independent queries.
    alpha : float
        False-alarm probability of the interval.
    chunk : int
        Trials per batch (bounds memory: a batch holds ``chunk * N * d`` keys).

    Returns
    -------
    RecallResult

    Notes
    -----
    Cost: ``trials`` times the memory's read cost plus ``O(Q C d_v)`` decoding per trial
    (C candidates).
    """
    T = check_positive_int(trials, "trials")
    chunk = check_positive_int(chunk, "chunk")
    rng = np.random.default_rng(seed)
    per_trial = []
    for start in range(0, T, chunk):
        b = task.sample(min(chunk, T - start), rng, queries_per_trial=queries_per_trial)
        r = memory.read(b.keys, b.values, b.queries, write_times=b.write_times,
                        query_times=b.query_times)
        per_trial.append(b.correct(r))
    ok = np.concatenate(per_trial, axis=0)
    k, n = int(ok.sum()), int(ok.size)
    if ok.shape[1] == 1:
        low, high, kind = *wilson_interval(k, n, alpha), "wilson"
    elif T >= 2:
        low, high, kind = *bernstein_interval(ok.mean(axis=1), alpha), "bernstein"
    else:
        low, high, kind = 0.0, 1.0, "none (one dependent trial)"
    return RecallResult(k / n, low, high, float(alpha), kind, k, n, T,
                        int(memory.state_size(task.d, task.value_dim, task.seq_len)),
                        memory.name)
