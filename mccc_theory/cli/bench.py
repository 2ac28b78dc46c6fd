"""``mccc bench``: run the benchmark scripts of a source checkout and print their tables."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

HELP = "run the benchmarks (benchmarks/bench_*.py) and print ratio tables"
EPILOG = """examples:
  mccc bench                     # every benchmark, full sizes
  mccc bench --quick             # small sizes (seconds)
  mccc bench --only gramians --json bench.json
  mccc bench --json reports/bench.json   # what `make bench` runs; the report shows this file

Exit code 1 when a measured ratio misses the target named in the issues (listed on stderr).
"""

BENCH_DIR = Path(__file__).resolve().parents[2] / "benchmarks"


def add_arguments(p) -> None:
    p.add_argument("--quick", action="store_true", help="small sizes")
    p.add_argument("--only", action="append", metavar="NAME",
                   help="run only benchmarks/bench_NAME.py (repeatable)")
    p.add_argument("--json", metavar="FILE", help="also write the tables as JSON")


def available() -> dict[str, Path]:
    return {p.stem.removeprefix("bench_"): p for p in sorted(BENCH_DIR.glob("bench_*.py"))}


def run(args) -> int:
    from ..errors import MethodError
    from .paths import output_file

    json_path = output_file(args.json, "--json") if args.json else None
    benches = available()
    if not benches:
        raise MethodError(f"no benchmarks found under {BENCH_DIR}; run `mccc bench` from a "
                          "source checkout (pip install -e .)")
    names = args.only or list(benches)
    unknown = [n for n in names if n not in benches]
    if unknown:
        raise MethodError(f"--only: unknown benchmark {unknown}; choose from {', '.join(benches)}")
    sys.path.insert(0, str(BENCH_DIR))
    tables = []
    for name in names:
        print(f"[bench] {name} ...", file=sys.stderr, flush=True)
        spec = importlib.util.spec_from_file_location(f"bench_{name}", benches[name])
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        result = mod.run(quick=args.quick)
        for table in result if isinstance(result, list) else [result]:
            print(table.format(), end="\n\n", flush=True)
            tables.append(table.to_json())
    if json_path:
        import datetime
        import platform

        json_path.write_text(json.dumps({
            "measured_at": datetime.datetime.now().isoformat(timespec="seconds"),
            "machine": f"{platform.platform()}, {platform.machine()}",
            "quick": bool(args.quick), "tables": tables}, indent=2))
    missed = [(t["title"], c) for t in tables for c in t["checks"] if not c["ok"]]
    for title, c in missed:
        print(f"MISSED: {title}: {c['item']}: {c['value']}, target {c['target']}", file=sys.stderr)
    return 1 if missed else 0
