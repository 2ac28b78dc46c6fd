"""Every registered theorem holds on the active Hypothesis profile (the same checks as `mccc prove`)."""

import pytest

from mccc_proofs import all_theorems, run_theorem

THEOREMS = list(all_theorems().values())


@pytest.mark.parametrize("thm", THEOREMS, ids=[t.id for t in THEOREMS])
def test_theorem_holds(thm):
    result = run_theorem(thm)
    assert result.examples > 0
    assert result.holds, (f"{thm.id} fails: worst slack {result.worst_slack:.3g}; "
                          f"counterexample {result.counterexample}; error {result.error}")
