"""``mccc report``: write the self-contained HTML report."""

from __future__ import annotations

import json
import sys

HELP = "write the approximation-error report (one self-contained HTML file)"
EPILOG = """examples:
  mccc report                      # quick sizes, in build/report/ (a few minutes on 2 cores)
  mccc report --pdf                # and build/report/mccc-report.pdf (headless Chromium)
  mccc report --full               # full sizes (~7 min idle), at most --budget 15 minutes
  mccc report --full --out reports # regenerate the repository's committed example report
  mccc report --only gramians --out /tmp/r   # one section
  mccc report --json /tmp/r/summary.json     # the summary table as JSON

Sections: theorems, gramians, reduction, attention, capacity, kernels, benchmarks.
Exit code 1 when any summary item misses its target (the report is still written).
"""


def add_arguments(p) -> None:
    size = p.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true",
                      help="reduced sizes, about a minute per section on 2 cores (the default)")
    size.add_argument("--full", action="store_true",
                      help="full sizes (about 7 minutes on 2 cores when idle), within --budget")
    p.add_argument("--budget", type=float, default=15.0, metavar="MIN",
                   help="with --full: once MIN minutes are spent, the remaining sections are "
                   "built at quick sizes and say so (default 15)")
    p.add_argument("--pdf", action="store_true",
                   help="also print the report to mccc-report.pdf (headless Chromium)")
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
    if not args.budget > 0:
        raise OrderError(f"--budget: expected a positive number of minutes, found {args.budget}")
    if args.pdf:
        from ..errors import BackendUnavailableError
        from ..report.build import browser_executable

        if browser_executable() is None:  # before minutes of work, not after
            raise BackendUnavailableError("--pdf: needs Chromium or Chrome on PATH (Debian: "
                                          "apt-get install chromium)")
    res = write_report(args.out, quick=not args.full, only=args.only, seed=args.seed,
                       workers=args.workers, budget=60 * args.budget if args.full else None)
    pdf = None
    if args.pdf:
        from ..report.build import write_pdf

        pdf = write_pdf(res.path, res.path.with_suffix(".pdf"))
    missed = [r for r in res.summary if not r["ok"]]
    print(f"report written to {res.path} ({len(res.summary)} checked items, {len(missed)} missed, "
          f"{res.seconds:.0f} s)" + (f"; PDF: {pdf}" if pdf else ""))
    for r in missed:
        print(f"MISSED: [{r['section']}] {r['item']}: seen {r['value']}, target {r['target']}",
              file=sys.stderr)
    if json_path:
        with json_path.open("w") as fh:
            json.dump(res.to_json(), fh, indent=2)
    return 1 if missed else 0
