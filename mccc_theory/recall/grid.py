"""Predicted against measured recall over grids of (memory, d, N, V), shared by ``mccc recall``
and the report's "capacity" section.

Memories by name (:data:`MEMORY_NAMES`): ``softmax``, ``linear`` (identity features), ``elu+1``,
``dpfp1``, ``dpfp2``, ``dpfp3``, ``taylor2``, ``delta``, ``least_squares``, ``mccc`` (m = d modes),
``mccc/2`` and ``mccc/4`` (reduced: m = d/2, d/4), all on the codebook task
(:class:`~mccc_theory.recall.tasks.CodebookTask`).

Predictions: analytic key-side profiles for ``linear``, ``delta`` (mean-field),
``least_squares`` and the MCCC memories (:mod:`mccc_theory.capacity.predictors`); for the
other feature maps and softmax attention the key-side moments are *estimated* from sampled
retrieval weights (:func:`~mccc_theory.capacity.crosstalk.empirical_profile`) and fed to the
same value-side predictor, in four groups of queries by their own weight ("semi-empirical",
:func:`~mccc_theory.capacity.predictors.weights_recall`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import numpy as np

from ..capacity.predictors import predict_recall, weights_recall
from ..validation import check_choice, check_positive_int
from .measure import measure_recall
from .memories import DeltaRule, KeyedModalMemory, LeastSquares, LinearAttention, SoftmaxAttention
from .tasks import CodebookTask

__all__ = ["MEMORY_NAMES", "ANALYTIC", "make_memory", "predicted", "GridRow", "compare_grid",
           "theory_grid"]

MEMORY_NAMES = ("softmax", "linear", "elu+1", "dpfp1", "dpfp2", "dpfp3", "taylor2", "delta",
                "least_squares", "mccc", "mccc/2", "mccc/4")
ANALYTIC = ("linear", "delta", "least_squares", "mccc", "mccc/2", "mccc/4")


def make_memory(name: str, d: int, horizon: int):
    """The memory called ``name`` for key dimension d (MCCC modes sized for ``horizon``)."""
    check_choice(name, "memory", MEMORY_NAMES)
    if name == "softmax":
        return SoftmaxAttention()
    if name == "linear":
        return LinearAttention("identity")
    if name in ("elu+1", "taylor2"):
        return LinearAttention(name)
    if name.startswith("dpfp"):
        return LinearAttention("dpfp", int(name[-1]))
    if name == "delta":
        return DeltaRule()
    if name == "least_squares":
        return LeastSquares()
    div = {"mccc": 1, "mccc/2": 2, "mccc/4": 4}[name]
    return KeyedModalMemory.default(max(d // div, 1), d, horizon)


def predicted(name: str, memory, task: CodebookTask, *, method: str = "both",
              profile_trials: int = 64, seed=0):
    """Predicted recall of ``memory`` (called ``name``) on ``task`` and the predictor's kind.

    Returns ``(prediction, kind)``; ``prediction`` is ``(conditional, independent)`` for
    ``method="both"`` (default), else a float.
    """
    d, N, V, dv = task.d, task.n_items, task.n_values, task.value_dim
    if name in ("linear", "delta", "least_squares"):
        return predict_recall(name, d, N, V, d_v=dv, method=method,
                              distinct=task.distinct), "analytic"
    if name.startswith("mccc"):
        return predict_recall("modal", d, N, V, d_v=dv, method=method, distinct=task.distinct,
                              s=memory.s), "analytic"
    b = task.sample(profile_trials, np.random.default_rng(seed))
    W = memory.weights(b.keys, b.queries, write_times=b.write_times,
                       query_times=b.query_times)
    return weights_recall(W, b.targets, V, dv, method=method,
                          distinct=task.distinct), "semi-empirical"


@dataclass(frozen=True)
class GridRow:
    """One cell: memory, sizes, prediction(s), measurement with its interval, state size."""

    memory: str
    d: int
    N: int
    V: int
    predicted: float
    naive: float
    predictor: str
    measured: float
    low: float
    high: float
    state_size: int

    @property
    def gap(self) -> float:
        """``predicted - measured``."""
        return self.predicted - self.measured

    def within(self, tol: float) -> bool:
        """The interval meets ``[predicted - tol, predicted + tol]`` (gap <= tol up to noise)."""
        return self.low - tol <= self.predicted <= self.high + tol

    def to_json(self) -> dict:
        return dict(asdict(self), gap=self.gap)

    @classmethod
    def from_json(cls, data: dict) -> GridRow:
        """The row :meth:`to_json` wrote (``gap`` is recomputed, not read)."""
        from ..errors import MethodError

        names = [f.name for f in fields(cls)]
        missing = [n for n in names if n not in data]
        if missing:
            raise MethodError(f"--resume: a saved row lacks {missing}; was the file written by "
                              "`mccc recall --grid --json`?")
        return cls(**{n: data[n] for n in names})


def theory_grid(quick: bool = False) -> list[tuple[int, int, int]]:
    """THEORY §5's grid: d in {32, 64, 128}, N in {d/4, d/2, d, 2d}, V in {64, 2d, 1024}.

    ``quick``: d in {32, 64}, N in {d/2, 2d}, V in {64, 2d}.
    """
    ds = (32, 64) if quick else (32, 64, 128)
    cells = []
    for d in ds:
        Ns = (d // 2, 2 * d) if quick else (d // 4, d // 2, d, 2 * d)
        Vs = sorted({64, 2 * d} | (set() if quick else {1024}))
        cells += [(d, N, V) for N in Ns for V in Vs]
    return cells


def _cell(name: str, d: int, N: int, V: int, k: int, trials: int, seed: int, alpha: float,
          naive: bool) -> GridRow:
    """One grid cell (module level so that worker processes can run it)."""
    task = CodebookTask(d, N, V)
    mem = make_memory(name, d, N)
    if naive:
        (p, pn), kind = predicted(name, mem, task, seed=seed + 7919 * k)
    else:
        p, kind = predicted(name, mem, task, method="conditional", seed=seed + 7919 * k)
        pn = float("nan")
    res = measure_recall(mem, task, trials=trials, seed=seed + k, alpha=alpha)
    return GridRow(name, d, N, V, p, pn, kind, res.recall, res.low, res.high, res.state_size)


def compare_grid(names, cells, *, trials: int = 2000, seed: int = 0, alpha: float = 0.05,
                 naive: bool = True, progress=None, executor=None, previous=(),
                 on_row=None) -> list[GridRow]:
    """Predicted (conditional and, if ``naive``, independent-rivals) and measured recall.

    Parameters
    ----------
    names : sequence of str
        Memory names (:data:`MEMORY_NAMES`).
    cells : sequence of (d, N, V)
    trials : int
        Monte-Carlo trials per cell (each queries all N stored items).
    seed, alpha : as in :func:`~mccc_theory.recall.measure.measure_recall`.
    progress : callable, optional
        Called with a message per finished cell.
    executor : mccc_theory.parallel.Executor, optional
        Runs the cells (default: serially in this process). The rows do not depend on it:
        every cell draws from its own seed.
    previous : iterable of GridRow
        Rows of an earlier, partial run with the same ``trials``, ``seed``, ``alpha`` and
        ``naive`` (the caller checks that): their cells are not computed again.
    on_row : callable, optional
        Called with each newly computed row as it finishes (e.g. to save a partial sweep).

    Returns
    -------
    list of GridRow
        One row per (memory, cell), memories outermost, in the order given.

    Notes
    -----
    Each trial queries every stored item; the interval is the empirical-Bernstein interval of
    the per-trial recall (queries of one trial are dependent).
    """
    from ..parallel import SerialExecutor

    trials = check_positive_int(trials, "trials")
    for n in names:
        check_choice(n, "memory", MEMORY_NAMES)
    keys = [(name, d, N, V) for name in names for (d, N, V) in cells]
    jobs = [(name, d, N, V, k, trials, seed, alpha, naive)
            for name in names for k, (d, N, V) in enumerate(cells)]
    known = {(r.memory, r.d, r.N, r.V): r for r in previous}
    rows: list[GridRow | None] = [known.get(key) for key in keys]
    todo = [i for i, r in enumerate(rows) if r is None]
    ex = executor or SerialExecutor()
    for j, row in ex.map(_cell, [jobs[i] for i in todo]):
        rows[todo[j]] = row
        if on_row:
            on_row(row)
        if progress:
            progress(f"{row.memory}: d={row.d} N={row.N} V={row.V}")
    return rows
