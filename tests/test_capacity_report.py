"""The report's "capacity" section on its quick path: builds, and every checked item holds."""

from mccc_theory.report import capacity
from mccc_theory.report.build import SECTIONS
from mccc_theory.report.document import ReportContext


def test_quick_section_builds_and_holds():
    assert "capacity" in SECTIONS
    sec = capacity.build(ReportContext(quick=True))
    assert sec.id == "capacity" and len(sec.blocks) > 5
    missed = [(r.item, r.value, r.target) for r in sec.summary if not r.ok]
    assert not missed, missed
    items = " ".join(r.item for r in sec.summary)
    for what in ("linear attention: worst |predicted - measured|", "delta:", "least_squares:",
                 "mccc:", "mccc/4:", "MQAR", "DPFP", "1 - m/N"):
        assert what in items
