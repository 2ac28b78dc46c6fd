"""Modal truncation, mode scores, minimal realizations and re-diagonalisation (to_modal)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.optimize import linear_sum_assignment

from mccc_theory import ModalSystem, StateSpace
from mccc_theory.errors import DefectiveError, MethodError, OrderError, ShapeError, UnstableError
from mccc_theory.gramians import controllability_gramian, observability_gramian
from mccc_theory.norms import frequency_response, hinf_error, hinf_norm
from mccc_theory.reduction import (
    balanced_truncation,
    minimal_realization,
    modal_truncation,
    mode_scores,
    to_modal,
)
from mccc_theory.testing.strategies import dense_systems, modal_systems

EPS = np.finfo(float).eps


def modal_tol(ss, cond):
    """Diagonalising by V (cond(V) = cond) is a backward perturbation of A, B, C of about
    cond eps times their norms; a perturbation dA moves G by C R dA R B with the resolvent R of
    norm up to cond / (1 - rho), so ||dG||_inf <~ cond eps ||G||_inf / (1 - rho) (|A| <= 1).
    Allowed 1e3 times over."""
    g = hinf_norm(ss, rtol=1e-6).upper
    return 1e3 * cond * EPS * g / (1 - ss.spectral_radius())


@given(modal_systems(m=(1, 6), regime=("random", "slow", "fast")))
def test_mode_scores_match_their_definitions(system):
    Wc, Wo = controllability_gramian(system), observability_gramian(system)
    # "hsv" = sqrt(Wc_ii Wo_ii) (diagonal Gramian entries, each to a few ulps)
    ref = np.sqrt(np.diag(Wc).real * np.diag(Wo).real)
    assert np.allclose(mode_scores(system, "hsv"), ref, rtol=1e-13, atol=0)
    # "dominance" = ||c_i b_i^T / (1 - lambda_i / z)||_inf, certified per mode
    dom = mode_scores(system, "dominance")
    for i in range(system.m):
        br = hinf_norm(ModalSystem(system.s[i:i + 1], system.B[i:i + 1], system.C[:, i:i + 1]))
        assert br.lower * (1 - 1e-13) <= dom[i] <= br.upper * (1 + 1e-13)
    assert np.array_equal(mode_scores(system, "modulus"), np.exp(system.s.real))


@given(modal_systems(m=(2, 8), regime=("random", "fast", "clustered")), st.integers(1, 8),
       st.sampled_from(["modulus", "dominance", "hsv"]))
def test_modal_truncation_keeps_top_modes_and_meets_its_bound(system, r, rank_by):
    r = 1 + (r - 1) % system.m
    res = modal_truncation(system, r, rank_by)
    scores = mode_scores(system, rank_by)
    assert np.min(scores[res.kept]) >= np.max(np.delete(scores, res.kept), initial=-np.inf)
    assert np.array_equal(res.reduced.s, system.s[res.kept])
    # reduced map = the kept modes' terms: compare the responses on a few frequencies
    w = np.linspace(-3, 3, 5)
    kept_sum = sum(frequency_response(ModalSystem(system.s[i:i + 1], system.B[i:i + 1],
                                                  system.C[:, i:i + 1]), w) for i in res.kept)
    assert np.allclose(frequency_response(res.reduced, w), kept_sum, rtol=1e-12, atol=1e-12 *
                       np.max(np.abs(kept_sum)))
    if r < system.m:
        # Triangle inequality over the dropped modes. The bracket's lower end evaluates the
        # error as the difference of the two responses, so its rounding is relative to the
        # sum of every mode's peak gain |c_i| |b_i| / (1 - |lambda_i|), not to the error itself
        # (equality case: equal modes, the kept ones cancel): 4 eps per term of both sums.
        gains = (np.linalg.norm(system.C, axis=0) * np.linalg.norm(system.B, axis=1)
                 / -np.expm1(system.s.real))
        allowance = 4 * EPS * (system.m + r) * float(np.sum(gains))
        assert hinf_error(system, res.reduced).lower <= res.upper_bound + allowance


def test_modulus_ranking_is_worse_than_hsv_ranking():
    """THEORY §1: |lambda| does not rank importance. A slow mode with a tiny gain vs a fast mode
    with a large one: keeping the slow one (by modulus) loses far more than keeping the fast one."""
    s = np.array([-1e-3 + 0.5j, -0.7 + 1.5j])
    system = ModalSystem(s, [[1e-3], [3.0]], [[1e-3, 3.0]])
    by_modulus = modal_truncation(system, 1, "modulus")
    by_hsv = modal_truncation(system, 1, "hsv")
    assert list(by_modulus.kept) == [0] and list(by_hsv.kept) == [1]
    e_mod = hinf_error(system, by_modulus.reduced).lower
    e_hsv = hinf_error(system, by_hsv.reduced).upper
    assert e_mod > 5 * e_hsv


@given(dense_systems(m=(1, 6), regime=("random", "fast", "conjugate_pairs"), return_modal=True))
def test_to_modal_recovers_the_map_and_the_spectrum(example):
    dense, modal = example
    res = to_modal(dense)
    assert hinf_error(dense, res.system, rtol=1e-6).upper <= modal_tol(dense, res.condition)
    # eigenvalues matched one to one (optimal assignment): semisimple, so each moves by about
    # cond eps ||A||
    d = np.abs(res.system.lam[:, None] - modal.lam[None, :])
    rows, cols = linear_sum_assignment(d)
    assert np.max(d[rows, cols]) <= 1e3 * res.condition * EPS * np.linalg.norm(dense.A, 2)
    assert res.condition == pytest.approx(np.linalg.cond(res.V / np.linalg.norm(res.V, axis=0)),
                                          rel=1e-10)
    if dense.is_real:
        assert res.system.is_conjugate_closed(rtol=1e-10)


@given(modal_systems(m=(2, 8), regime=("random", "fast", "conjugate_pairs")), st.integers(1, 8))
def test_reduced_model_back_to_modal_form(system, r):
    full = balanced_truncation(system)
    r = 1 + (r - 1) % int(np.sum(full.hsv[: full.rank] > 1e-6 * full.hsv[0]))
    try:
        bt = balanced_truncation(system, r)
        res = to_modal(bt.reduced)
    except (OrderError, DefectiveError):
        return  # a split repeated value, or a reduced A too close to defective
    assert res.system.m == r
    assert hinf_error(bt.reduced, res.system, rtol=1e-6).upper <= modal_tol(bt.reduced,
                                                                             res.condition)


def test_to_modal_zero_eigenvalue():
    ss = StateSpace(np.diag([0.0, 0.5]), [[1.0], [1.0]], [[1.0, 1.0]])
    res = to_modal(ss)
    assert np.isneginf(res.system.s.real).sum() == 1
    assert hinf_error(ss, res.system).upper <= 1e-13


@given(modal_systems(m=(2, 8), regime="nonminimal"))
def test_minimal_realization_removes_dead_modes(system):
    live = int(np.sum((np.linalg.norm(system.B, axis=1) > 0)
                      & (np.linalg.norm(system.C, axis=0) > 0)))
    red = minimal_realization(system, tol=1e-9)
    assert red.n <= live
    g = hinf_norm(system, rtol=1e-6).upper
    # dropped: exactly zero values plus live ones below 1e-9 sigma_1 (at most n of them)
    assert hinf_error(system, red, rtol=1e-6).upper <= 2 * system.m * 1e-9 * g + 1e3 * \
        system.m * EPS * g


def test_minimal_realization_merges_repeated_modes():
    # two modes with one eigenvalue and one input: one state suffices (their sum)
    system = ModalSystem(np.array([-0.3 + 1j, -0.3 + 1j, -1.0 + 0j]), [[1.0], [2.0], [1.0]],
                         [[1.0, 1.0, 1.0]])
    red = minimal_realization(system)
    assert red.n == 2
    assert hinf_error(system, red).upper <= 1e-12 * hinf_norm(system).upper


_jordan = StateSpace(np.array([[0.5, 1.0], [0.0, 0.5]]), [[0.0], [1.0]], [[1.0, 0.0]])
_modal = ModalSystem(np.array([-0.5 + 0j, -1.0 + 1j]), [[1.0], [1.0]], [[1.0, 2.0]])

BAD = [
    (lambda: to_modal(_jordan), DefectiveError, r"state_space: A is defective or nearly so"),
    (lambda: to_modal(StateSpace([[1.0]], [[1.0]], [[1.0]])), UnstableError,
     r"state_space: eigenvalue 1 .* >= 1"),
    (lambda: to_modal(_modal), ShapeError, r"state_space: expected a StateSpace"),
    (lambda: to_modal(_jordan, max_condition=0.5), OrderError, r"max_condition: expected"),
    (lambda: modal_truncation(_modal, 3), OrderError, r"order: expected an integer >= 1 and <= 2"),
    (lambda: modal_truncation(_modal, 1, "energy"), MethodError, r"rank_by: expected one of"),
    (lambda: modal_truncation(_jordan, 1), DefectiveError, r"A is defective"),
    (lambda: mode_scores(_jordan), ShapeError, r"system: expected a ModalSystem"),
    (lambda: minimal_realization(_modal, tol=2.0), OrderError, r"tol: expected a relative"),
    (lambda: minimal_realization(ModalSystem(np.array([-1 + 0j]), [[0.0]], [[1.0]])),
     OrderError, r"every Hankel singular value is zero"),
]


@pytest.mark.parametrize("call, exc, match", BAD)
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
