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


def test_bt_bound_chain_allows_the_error_systems_rounded_eigenvalues():
    """The thorough profile's counterexample to reduction.bt_bound_chain (slack -1.08e-14 before
    the error model counted it): G (+) (1 + delta) G with one mode, 1 - |lambda| = 1e-3, order 1.
    The error system is the second block, so ||G - G_1||_H = sigma_2 exactly; its dense
    realization holds exp(s) rounded and gave sigma_2 2.3e-11 (7.7e-14 relative) low."""
    import numpy as np

    from mccc_theory import ModalSystem

    s = np.array([-0.001 + 0.275390625j] * 2)
    b = [0.24436492567988444 + 0.5809717608155709j, 0.24558371092472886 + 0.5838693935580083j]
    c = [0.23365429732472884 - 0.9214713154197318j, 0.23481966264539242 - 0.9260672108398961j]
    d = [0.6401832727115853 + 0.31563448706783764j, 0.6465851054387011 + 0.31879083193851604j]
    system = ModalSystem(s, np.diag(b), np.diag(c), np.diag(d))
    thm = all_theorems()["reduction.bt_bound_chain"]
    assert thm.check((system, 1, "sr")) >= 0
