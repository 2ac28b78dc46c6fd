"""Report section: the benchmark tables (benchmarks/bench_*.py) with their targets.

The full-size benchmarks take longer than the report's time budget, so the section shows the
tables ``make bench`` saved in ``reports/bench.json`` (with when and where they were measured);
without that file it runs every benchmark at its quick sizes, where the targets (stated at the
large sizes) are not measured.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

from .document import ReportContext, Section, SummaryRow, paragraph, table_html

BENCH_JSON = Path(__file__).resolve().parents[2] / "reports" / "bench.json"
#: written by benchmarks/gpu_check.sh when a GPU is lent; until then the GPU rows say so
GPU_JSON = BENCH_JSON.with_name("gpu.json")


def _gpu_rows() -> list[list]:
    if not GPU_JSON.is_file():
        return [["GPU (Triton compiled, SDPA / flash attention, flash-linear-attention)",
                 "not measured", "no reports/gpu.json: run benchmarks/gpu_check.sh on a GPU"]]
    data = json.loads(GPU_JSON.read_text())
    rows = []
    for group in ("scan", "fla", "layer"):
        for r in data.get(group, []):
            vals = ", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}"
                             for k, v in r.items() if k not in ("name", "trace"))
            rows.append([f"{group}: {r.get('name', '?')}", data.get("device", "?"), vals])
    return rows


def _run_quick(ctx: ReportContext) -> list[dict]:
    from ..cli.bench import BENCH_DIR, available

    sys.path.insert(0, str(BENCH_DIR))
    tables = []
    for name, path in available().items():
        ctx.progress(f"benchmark {name} (quick sizes)")
        spec = importlib.util.spec_from_file_location(f"bench_{name}", path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        result = mod.run(quick=True)
        tables += [t.to_json() for t in (result if isinstance(result, list) else [result])]
    return tables


def build(ctx: ReportContext) -> Section:
    sec = Section("benchmarks", "Benchmarks against the anchors")
    if BENCH_JSON.is_file():
        saved = json.loads(BENCH_JSON.read_text())
        tables = saved["tables"]
        sec.add(paragraph(
            f"From {BENCH_JSON.name}, measured {saved['measured_at']} on {saved['machine']}"
            f"{' at quick sizes' if saved.get('quick') else ''}; `make bench` measures again. "
            "Times are minima over repeats with BLAS limited to one thread."))
    else:
        tables = _run_quick(ctx)
        sec.add(paragraph(
            "No saved full-size run (`reports/bench.json`): the benchmarks ran at their quick "
            "sizes, so the targets stated at the large sizes are not measured here. Run "
            "`make bench` and then `make report`."))
    sec.add("<h3>GPU</h3>")
    sec.add(table_html(["benchmark", "device", "measured"], _gpu_rows()))
    for table in tables:
        sec.add(f"<h3>{table['title']}</h3>")
        sec.add(table_html(table["header"], table["rows"]))
        for note in table["notes"]:
            sec.add(paragraph(note))
        for c in table.get("checks", []):
            sec.summary.append(SummaryRow(c["item"], c["value"], c["target"], c["ok"]))
    return sec
