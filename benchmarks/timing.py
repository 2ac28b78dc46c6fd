"""Timing and table printing shared by the benchmark scripts (``bench_*.py``).

Each ``bench_<area>.py`` exposes ``run(quick: bool = False) -> Table`` and runs stand-alone
(``python benchmarks/bench_<area>.py [--quick]``); ``mccc bench`` runs them all in one process.

Honest timings on a shared machine: every time is **process CPU time** (``time.process_time``:
the CPU this process spent, not the wall-clock, so other processes' time slices do not count),
and the minimum over repeats (the least disturbed run; cache and memory-bus contention from
other processes can still only make a time longer). :func:`compare` times the candidates of one
ratio *interleaved* (round-robin, each round runs every candidate once), so a slow phase of the
machine hits all of them alike. BLAS threads are pinned to one for comparability; a runtime
that runs its own worker threads (XLA) is charged for all of them, so its times are an upper
bound. :func:`copy_limit` is the bandwidth limit of a kernel, measured in the same run: the time
to copy buffers of the bytes the kernel must read into buffers of the bytes it must write.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Table", "best_time", "compare", "copy_limit", "single_thread_blas", "ratio_str"]

clock = time.process_time


def _calibrate(fn: Callable[[], object], min_seconds: float) -> int:
    """Calls per timed run so that one run lasts at least ``min_seconds`` (after a warm-up)."""
    fn()  # warm-up: imports, JIT compilation, caches
    n = 1
    while True:
        t0 = clock()
        for _ in range(n):
            fn()
        if clock() - t0 >= min_seconds or n >= 1 << 20:
            return n
        n *= 2


def best_time(fn: Callable[[], object], *, repeat: int = 3, number: int = 1,
              min_seconds: float = 0.0) -> float:
    """Minimum over ``repeat`` runs of the mean CPU time of ``number`` calls of ``fn`` (seconds);
    ``number`` is doubled until one run lasts ``min_seconds``."""
    n = max(number, _calibrate(fn, min_seconds))
    best = float("inf")
    for _ in range(repeat):
        t0 = clock()
        for _ in range(n):
            fn()
        best = min(best, (clock() - t0) / n)
    return best


def compare(fns: dict[str, Callable[[], object]], *, repeat: int = 5,
            min_seconds: float = 0.02) -> dict[str, float]:
    """CPU seconds per call of each candidate: minimum over ``repeat`` interleaved rounds.

    Each candidate is warmed up and calibrated to at least ``min_seconds`` per timed run; each
    round then times every candidate once, in order, so the ratios of one table come from the
    same stretch of machine time.
    """
    calls = {k: _calibrate(f, min_seconds) for k, f in fns.items()}
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(repeat):
        for k, f in fns.items():
            n = calls[k]
            t0 = clock()
            for _ in range(n):
                f()
            best[k] = min(best[k], (clock() - t0) / n)
    return best


def copy_limit(read_bytes: int, write_bytes: int) -> Callable[[], None]:
    """A callable that reads ``read_bytes`` and writes ``write_bytes`` once (``np.copyto`` of
    float64 buffers, the excess written by ``fill``): the bandwidth limit of a kernel that
    must move those bytes, to be timed alongside it."""
    n_in, n_out = read_bytes // 8, write_bytes // 8
    src = np.ones(max(n_in, 1))
    dst = np.empty(max(n_out, 1))
    k = min(n_in, n_out)

    def move():
        np.copyto(dst[:k], src[:k])
        if n_out > k:
            dst[k:].fill(0.0)
        elif n_in > k:
            src[k:].sum()  # the remaining reads

    return move


def ratio_str(r: float) -> str:
    """A ratio with two significant digits and no exponent: ``0.23x``, ``4.1x``, ``150x``."""
    return f"{float(f'{r:.2g}'):g}x"


def single_thread_blas():
    """Context manager limiting BLAS/OpenMP to one thread (THEORY's figures are single-thread)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)


@dataclass
class Table:
    """A benchmark result table: a title, column names, rows, and notes (targets, anchors)."""

    title: str
    header: list[str]
    rows: list[list] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # targets named in the issues: dicts with keys item, value, target, ok (the report's summary)
    checks: list[dict] = field(default_factory=list)

    def check(self, item: str, value: float, target: float, *, at_least: bool = True,
              unit: str = "x") -> None:
        """Record a measured ``value`` against its ``target`` (``>=`` target, or ``<=``)."""
        ok = value >= target if at_least else value <= target
        sign = ">=" if at_least else "<="
        self.checks.append({"item": item, "value": f"{value:.3g}{unit}",
                            "target": f"{sign} {target:g}{unit}", "ok": bool(ok)})

    def format(self) -> str:
        def cell(v):
            if isinstance(v, float | np.floating):
                return f"{v:.3g}"
            return str(v)

        cells = [[cell(v) for v in r] for r in self.rows]
        widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h)
                  for i, h in enumerate(self.header)]
        line = "  ".join(h.rjust(w) for h, w in zip(self.header, widths, strict=True))
        out = [self.title, "=" * len(self.title), line, "-" * len(line)]
        out += ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
        out += [f"note: {n}" for n in self.notes]
        out += [f"target: {c['item']}: {c['value']} (target {c['target']}) "
                f"{'ok' if c['ok'] else 'MISSED'}" for c in self.checks]
        return "\n".join(out)

    def to_json(self) -> dict:
        return {"title": self.title, "header": self.header, "rows": self.rows, "notes": self.notes,
                "checks": self.checks}
