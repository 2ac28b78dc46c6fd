"""Mutation score of the core numerics: every listed mutant is killed by a theorem it names.

Issue 12, defect 11. The mutants (``mccc_theory.testing.mutants.CORE_MUTANTS``) are realistic
edits of the Gramian closed form, angle wraps, eigenvalue maps, reduction bounds, capacity facts
and the H-infinity Cayley map. Each must (a) still match the current source exactly once, so code
drift is detected loudly, and (b) make at least one of its named theorems fail: a negative slack,
or a numerical error raised inside the check. A loader symptom (NameError, AttributeError,
ImportError) is not a kill. Generation only, no shrinking: the first failing example is enough.
"""

import math
import os

import pytest
from hypothesis import Phase, given, seed, settings

from mccc_proofs import all_theorems
from mccc_theory.testing.mutants import CORE_MUTANTS, applied, mutated_source

#: draws per theorem under a mutant; a theorem's own ``max_examples`` caps it further
EXAMPLES = 25
_NOT_A_KILL = (NameError, AttributeError, ImportError)
#: Hypothesis seeds every mutant must die at. An explicit seed: the draws must not depend on what
#: ran earlier in the process (under the derandomized profile alone a wrap mutant died when run
#: alone and survived in the full suite). Measured with 25 draws: before the planted strategies
#: seeds 2, 3, 5 and 6 let 1-3 mutants survive (the two angle-wrap mutants, the loose HSV
#: grouping, the Frobenius-as-sum T2 bound); now seeds 1-10 kill every mutant that is not
#: provably equivalent. The ci profile runs seed 1 for every mutant and all of SEEDS for those
#: that used to depend on it; HYPOTHESIS_PROFILE=thorough runs all of SEEDS for every mutant.
SEEDS = (1, 2, 3, 4, 5)
#: the mutants whose kill depended on the seed before the strategies were strengthened
_SEED_SENSITIVE = ("gramians.angle_low_sign", "gramians.no_wrap", "balanced.group_rtol_loose",
                   "attention_bounds.frobenius_as_sum")
_THOROUGH = os.environ.get("HYPOTHESIS_PROFILE", "ci") == "thorough"  # as tests/conftest.py


def theorem_fails(theorem_id: str, examples: int = EXAMPLES, seed_value: int = 1) -> bool:
    thm = all_theorems()[theorem_id]
    limit = min(examples, thm.max_examples or math.inf)

    @seed(seed_value)
    @settings(max_examples=int(limit), phases=[Phase.generate], database=None, deadline=None)
    @given(thm.strategy())
    def body(example):
        slack = float(thm.check(example))
        assert slack >= 0, slack  # also false for NaN

    try:
        body()
    except _NOT_A_KILL:
        raise
    except Exception:
        return True
    return False


def test_mutant_list_is_sound():
    assert len(CORE_MUTANTS) >= 30
    assert set(_SEED_SENSITIVE) <= {m.id for m in CORE_MUTANTS}
    ids = [m.id for m in CORE_MUTANTS]
    assert len(set(ids)) == len(ids)
    theorems = all_theorems()
    for m in CORE_MUTANTS:
        assert m.killers and all(k in theorems for k in m.killers), m.id
        assert not m.module.startswith("kernels")
        assert not (m.equivalent and m.survives), m.id


def _cases():
    # A known survivor is a gap in the checks, listed with its reason: strict xfail, so that
    # strengthening a theorem until it dies turns this red until the entry is updated.
    for m in CORE_MUTANTS:
        marks = [pytest.mark.xfail(strict=True, reason=m.survives)] if m.survives else []
        seeds = SEEDS if _THOROUGH or m.id in _SEED_SENSITIVE else SEEDS[:1]
        for s in seeds:
            yield pytest.param(m, s, id=f"{m.id}-seed{s}", marks=marks)


@pytest.mark.parametrize("mutant, seed_value", list(_cases()))
def test_core_mutant_is_killed(mutant, seed_value):
    mutated_source(mutant)  # raises LookupError unless each old text occurs exactly once
    with applied(mutant):
        killed = [k for k in mutant.killers if theorem_fails(k, seed_value=seed_value)]
    if mutant.equivalent:
        return  # provably equivalent (reason in the list); not required to die
    assert killed, f"{mutant.id} ({mutant.description}) survives {mutant.killers}"


def test_applied_restores_the_original():
    """After a mutant the original functions are back: the first killer holds again."""
    mutant = next(m for m in CORE_MUTANTS if m.id == "gramians.kernel_sign")
    with applied(mutant):
        assert theorem_fails(mutant.killers[0], examples=5)
    assert not theorem_fails(mutant.killers[0], examples=5)
