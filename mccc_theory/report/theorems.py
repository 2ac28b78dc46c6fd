"""Report section: every registered theorem checked on Hypothesis-generated instances."""

from __future__ import annotations

from .document import ReportContext, Section, SummaryRow, paragraph, table_html


def build(ctx: ReportContext) -> Section:
    from mccc_proofs import all_theorems, run_theorem

    from ..testing.profiles import load_profile

    load_profile("ci")
    sec = Section("theorems", "Theorems checked (mccc prove, ci profile)")
    sec.add(paragraph(
        "Each theorem is checked on derandomized Hypothesis examples; the slack is "
        r"$1 - \mathrm{observed}/\mathrm{allowed}$ under the error model stated with the check "
        r"($\ge 0$ holds). "
        "Run `mccc prove --profile thorough` for many more random examples."))
    rows = []
    # the kernels.* family has its own section (production.py), per backend
    theorems = [t for t in all_theorems().values() if t.group != "kernels"]
    for k, thm in enumerate(theorems, 1):
        ctx.progress(f"theorem {k}/{len(theorems)}: {thm.id}")
        # quick mode: fewer examples per theorem (the test suite runs the full ci profile)
        r = run_theorem(thm, max_examples=8 if ctx.quick else None)
        rows.append([thm.id, thm.statement, r.examples, r.worst_slack, r.status,
                     r.counterexample or ""])
        value = r.status if r.unavailable else f"worst slack {r.worst_slack:.3g}"
        sec.summary.append(SummaryRow(f"theorem {thm.id}", value,
                                      "holds (slack >= 0)", r.holds))
    sec.add(table_html(["id", "statement", "examples", "worst slack", "status",
                        "counterexample"], rows))
    return sec
