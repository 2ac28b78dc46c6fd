"""Timing and table printing shared by the benchmark scripts (``bench_*.py``).

Each ``bench_<area>.py`` exposes ``run(quick: bool = False) -> Table`` and runs stand-alone
(``python benchmarks/bench_<area>.py [--quick]``); ``mccc bench`` runs them all in one process.
Timings are the minimum over repeats of the mean over ``number`` calls (the least noisy estimate
of the cost on an otherwise idle machine); BLAS threads are pinned to one for comparability.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["Table", "best_time", "single_thread_blas"]


def best_time(fn: Callable[[], object], *, repeat: int = 3, number: int = 1,
              min_seconds: float = 0.0) -> float:
    """Minimum over ``repeat`` runs of the mean time of ``number`` calls of ``fn`` (seconds)."""
    fn()  # warm-up: imports, JIT compilation, caches
    best = float("inf")
    for _ in range(repeat):
        n = number
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        elapsed = time.perf_counter() - t0
        while elapsed < min_seconds:
            n *= 2
            t0 = time.perf_counter()
            for _ in range(n):
                fn()
            elapsed = time.perf_counter() - t0
        best = min(best, elapsed / n)
    return best


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
            if isinstance(v, float):
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
