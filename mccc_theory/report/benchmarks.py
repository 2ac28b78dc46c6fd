"""Report section: the benchmark tables (benchmarks/bench_*.py) with their targets."""

from __future__ import annotations

import importlib.util
import sys

from .document import ReportContext, Section, SummaryRow, paragraph, table_html


def build(ctx: ReportContext) -> Section:
    from ..cli.bench import BENCH_DIR, available

    sec = Section("benchmarks", "Benchmarks against the anchors")
    benches = available()
    if not benches:
        sec.add(paragraph(f"No benchmarks found under {BENCH_DIR} (installed without a source "
                          "checkout)."))
        return sec
    sec.add(paragraph(
        ("Quick mode: small sizes, so ratios at the target sizes are not measured here; run "
         "`make bench` for the full tables. " if ctx.quick else "")
        + "Times are minima over repeats with BLAS limited to one thread."))
    sys.path.insert(0, str(BENCH_DIR))
    for name, path in benches.items():
        ctx.progress(f"benchmark {name}")
        spec = importlib.util.spec_from_file_location(f"bench_{name}", path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        result = mod.run(quick=ctx.quick)
        for table in result if isinstance(result, list) else [result]:
            sec.add(f"<h3>{table.title}</h3>")
            sec.add(table_html(table.header, table.rows))
            for note in table.notes:
                sec.add(paragraph(note))
            for c in table.checks:
                sec.summary.append(SummaryRow(c["item"], c["value"], c["target"], c["ok"]))
    return sec
