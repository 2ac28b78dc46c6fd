"""``mccc prove``: run the theorem registry under a Hypothesis profile."""

from __future__ import annotations

import json
import sys

HELP = "check every registered theorem on Hypothesis-generated instances"
EPILOG = """examples:
  mccc prove                          # ci profile: derandomized, bounded examples
  mccc prove --profile thorough       # many random examples
  mccc prove --only gramian.closed_form_equals_series --json prove.json
  mccc prove --list                   # the theorems, their statements and references

A theorem whose optional dependency (slycot, mpmath) is not installed is reported
"unavailable (pip install ...)"; it is not run and does not fail the command.
"""


def add_arguments(p) -> None:
    p.add_argument("--profile", choices=("ci", "thorough"), default="ci",
                   help="Hypothesis profile (default: ci)")
    p.add_argument("--only", action="append", metavar="ID",
                   help="check only this theorem id or id prefix (repeatable)")
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON to FILE")
    p.add_argument("--list", action="store_true", help="list the theorems and exit")


def run(args) -> int:
    from tqdm import tqdm

    from mccc_proofs import all_theorems, run_theorem

    from ..errors import MethodError
    from ..testing.profiles import load_profile
    from .paths import output_file

    json_path = output_file(args.json, "--json") if args.json else None

    load_profile(args.profile)
    theorems = list(all_theorems().values())
    if args.only:
        theorems = [t for t in theorems if any(t.id == o or t.id.startswith(o) for o in args.only)]
        if not theorems:
            raise MethodError(f"--only: no theorem id matches {args.only}; "
                              "see `mccc prove --list` for the ids")
    if args.list:
        for t in theorems:
            print(f"{t.id}\n    {t.statement}\n    assumes: {t.assumptions}\n"
                  f"    reference: {t.reference}")
            if t.requires:
                print(f"    requires: {', '.join(t.requires)}")
        return 0
    results = []
    bar = tqdm(theorems, desc="proving", unit="thm", file=sys.stderr, disable=None)
    for t in bar:
        bar.set_postfix_str(t.id)
        results.append(run_theorem(t))
    width = max(len(r.theorem.id) for r in results)
    print(f"{'theorem':<{width}}  {'examples':>8}  {'worst slack':>11}  status")
    for r in results:
        slack = "-" if r.examples == 0 else f"{r.worst_slack:11.3g}"
        print(f"{r.theorem.id:<{width}}  {r.examples:>8}  {slack:>11}  {r.status}")
        if not r.holds:
            print(f"    counterexample: {r.counterexample}")
            if r.error:
                print(f"    error: {r.error}")
    failed = sum(not r.holds for r in results)
    unavailable = sum(bool(r.unavailable) for r in results)
    print(f"{len(results) - failed - unavailable} hold, {failed} fail, {unavailable} unavailable "
          f"({args.profile} profile)")
    if json_path:
        with json_path.open("w") as fh:
            json.dump({"profile": args.profile, "results": [r.to_json() for r in results]}, fh,
                      indent=2)
    return 1 if failed else 0
