"""``mccc report``: write the self-contained HTML report."""

from __future__ import annotations

import json
import sys

HELP = "write the approximation-error report (one self-contained HTML file)"
EPILOG = """examples:
  mccc report                      # full report in build/report/ (under 10 minutes on 2 cores)
  mccc report --out reports        # regenerate the repository's committed example report
  mccc report --quick --out /tmp/r # reduced sizes (as in CI)
  mccc report --only gramians      # one section
  mccc report --quick --json /tmp/r/summary.json   # the summary table as JSON

Sections: theorems, gramians, reduction, attention, capacity, kernels, benchmarks.
Exit code 1 when any summary item misses its target (the report is still written).
"""


def add_arguments(p) -> None:
    p.add_argument("--quick", action="store_true", help="reduced sizes (minutes -> seconds)")
    p.add_argument("--out", default="build/report", metavar="DIR",
                   help="output folder (default build/report, outside version control)")
    p.add_argument("--only", action="append", metavar="SECTION", help="build only this section")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--workers", type=int, default=None, metavar="P",
                   help="processes for Monte-Carlo grids (default: one per CPU core)")
    p.add_argument("--json", metavar="FILE", help="also write the summary and versions as JSON")


def run(args) -> int:
    from ..errors import MethodError, OrderError
    from ..report.build import SECTIONS, write_report
    from .paths import output_dir, output_file

    output_dir(args.out, "--out")
    json_path = output_file(args.json, "--json") if args.json else None
    if args.workers is not None and args.workers < 1:
        raise OrderError(f"--workers: expected an integer >= 1, found {args.workers}")
    for name in args.only or ():
        if name not in SECTIONS:
            raise MethodError(f"--only: unknown section {name!r}; choose from {', '.join(SECTIONS)}")
    res = write_report(args.out, quick=args.quick, only=args.only, seed=args.seed,
                       workers=args.workers)
    missed = [r for r in res.summary if not r["ok"]]
    print(f"report written to {res.path} ({len(res.summary)} checked items, {len(missed)} missed, "
          f"{res.seconds:.0f} s)")
    for r in missed:
        print(f"MISSED: [{r['section']}] {r['item']}: seen {r['value']}, target {r['target']}",
              file=sys.stderr)
    if json_path:
        with json_path.open("w") as fh:
            json.dump(res.to_json(), fh, indent=2)
    return 1 if missed else 0
