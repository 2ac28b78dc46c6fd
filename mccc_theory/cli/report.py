"""``mccc report``: write the self-contained HTML report."""

from __future__ import annotations

HELP = "write the approximation-error report (one self-contained HTML file)"
EPILOG = """examples:
  mccc report                      # full report under reports/
  mccc report --quick --out /tmp/r # reduced sizes (as in CI)
  mccc report --only gramians      # one section
"""


def add_arguments(p) -> None:
    p.add_argument("--quick", action="store_true", help="reduced sizes (minutes -> seconds)")
    p.add_argument("--out", default="reports", metavar="DIR", help="output folder (default reports)")
    p.add_argument("--only", action="append", metavar="SECTION", help="build only this section")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")


def run(args) -> int:
    from ..errors import MethodError
    from ..report.build import SECTIONS, write_report

    for name in args.only or ():
        if name not in SECTIONS:
            raise MethodError(f"--only: unknown section {name!r}; choose from {', '.join(SECTIONS)}")
    path = write_report(args.out, quick=args.quick, only=args.only, seed=args.seed)
    print(f"report written to {path}")
    return 0
