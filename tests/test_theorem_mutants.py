"""Theorems bite: each planted bug (a monkeypatched mutant of the core numerics) makes its theorem fail.

Issue 12, defects 2 and 11: a theorem whose slack cannot go negative under a realistic bug is a
defect. Each case patches one function, runs the theorem's own strategy (generation only, no
shrinking: the first failing example is enough) and requires a negative slack or an error. The
unmutated theorems hold on the same strategies in tests/test_proofs.py.
"""

import math

import numpy as np
import pytest
from hypothesis import Phase, given, settings

import mccc_theory.gramians as gramians
import mccc_theory.norms as norms
from mccc_proofs import all_theorems


def theorem_fails(theorem_id: str) -> bool:
    thm = all_theorems()[theorem_id]
    limit = min(settings().max_examples, thm.max_examples or math.inf)

    @settings(max_examples=int(limit), phases=[Phase.generate], database=None)
    @given(thm.strategy())
    def body(example):
        slack = float(thm.check(example))
        assert slack >= 0, slack

    try:
        body()
    except Exception:  # a negative slack, or a crash on the mutant: either way the theorem bites
        return True
    return False


def _angle_difference_wrong_low_sign(ti, tj):
    """gramians._angle_difference with the sign of the low part of 2 pi flipped."""
    d = ti - tj
    hi, lo = d > gramians._PI_HI, d < -gramians._PI_HI
    d = np.where(hi, (ti - gramians._PI_HI) - (tj + gramians._PI_HI) + 2 * gramians._PI_LO, d)
    return np.where(lo, (ti + gramians._PI_HI) - (tj - gramians._PI_HI) - 2 * gramians._PI_LO, d)


_certify = norms._certify


def _upper_is_lower(parts, rtol):
    """The H-infinity bracket collapsed onto its lower end."""
    br = _certify(parts, rtol)
    return norms.HinfBracket(br.lower, br.lower, br.frequency, br.tests)


def _proof_skipped(parts, gamma, lb, edges):
    """The cell proof of the upper bound accepts any gamma: upper = lower (1 + rtol) unverified."""
    return ("proved",)


MUTANTS = [
    ("gramian.matches_mpmath", gramians, "_angle_difference", _angle_difference_wrong_low_sign),
    ("norms.hinf_bracket_contains_sweep", norms, "_certify", _upper_is_lower),
    ("norms.hinf_bracket_contains_sweep", norms, "_prove_below", _proof_skipped),
]


@pytest.mark.parametrize("theorem_id, module, name, mutant", MUTANTS,
                         ids=[f"{m[0]}:{m[3].__name__}" for m in MUTANTS])
def test_theorem_kills_mutant(monkeypatch, theorem_id, module, name, mutant):
    monkeypatch.setattr(module, name, mutant)
    assert theorem_fails(theorem_id)

