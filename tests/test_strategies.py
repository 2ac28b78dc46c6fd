"""The public Hypothesis strategies produce what their regimes promise, and validate arguments."""

import numpy as np
import pytest
from hypothesis import Phase, find, given, settings

from mccc_theory import MethodError, ModalSystem, OrderError, StateSpace
from mccc_theory.testing.strategies import (
    REGIMES,
    branch_cut_pairs,
    dense_systems,
    input_sequences,
    log_eigenvalues,
    modal_systems,
    paired_hsv_systems,
    split_peak_pairs,
)


@given(paired_hsv_systems(m=(1, 4)))
def test_paired_hsv_systems_have_close_pairs(system):
    _check_close_pairs(system, repeated=True)


@given(paired_hsv_systems(m=(1, 4), repeated=False))
def test_paired_hsv_systems_without_repeats_have_distinct_pairs(system):
    _check_close_pairs(system, repeated=False)


def _check_close_pairs(system, repeated):
    from mccc_theory import hankel_singular_values

    m = system.m // 2
    assert system.m == 2 * m and system.n_inputs == 2 and system.n_outputs == 2
    # delta recovered as (k b / b)^2 - 1: k b and the ratio are rounded, 4 eps absolute
    delta = ((system.B[m, 1] / system.B[0, 0]) ** 2 - 1).real
    tol = 4 * np.finfo(float).eps
    assert (repeated and abs(delta) <= tol) or 1e-8 - tol <= delta <= 5e-2 + tol
    one = hankel_singular_values(ModalSystem(system.s[:m], system.B[:m, :1], system.C[:1, :m]))
    both = hankel_singular_values(system)
    want = np.sort(np.r_[one.values, (1 + delta) * one.values])[::-1]
    # HSVs are accurate to about n eps sigma_1 absolute (n = 2m <= 8 modes; closed-form modal
    # Gramians, entrywise a few ulps): 1e-12 sigma_1 is over 500 n eps sigma_1
    assert np.allclose(both.values, want, rtol=0, atol=1e-12 * want[0])


@given(branch_cut_pairs(pairs=(1, 2), n_inputs=2, n_outputs=(1, 3)))
def test_branch_cut_pairs_resonate_across_the_cut(system):
    s = system.s
    assert system.m in (2, 4) and system.n_inputs == 2 and system.B.shape == (system.m, 2)
    for a, b in zip(s[0::2], s[1::2], strict=True):
        assert a.imag * b.imag < 0  # one above the cut, one below
        decays = np.array([-a.real, -b.real])
        # decay scale d in [1e-12, 1e-4], each mode d times [0.5, 2]
        assert np.all(decays >= 0.5e-12 * (1 - 1e-9)) and np.all(decays <= 2e-4 * (1 + 1e-9))
        assert decays.max() <= 4 * decays.min() * (1 + 1e-9)
        # delta_a + delta_b (minus the wrapped angle difference) is u d, u in [0.1, 3]: in units
        # of the decays, [0.1 max / 2, 3 min * 2]. pi - |theta| is exact (Sterbenz) but theta
        # itself is pi - delta rounded, 2.2e-16 absolute per mode: <= 0.5% of gap >= 1e-13.
        gap = (np.pi - abs(a.imag)) + (np.pi - abs(b.imag))
        assert 0.05 * decays.max() * 0.99 <= gap <= 6 * decays.min() * 1.01
        # hence lambda_a conj(lambda_b) within a few decays of 1: the resonance the wrap decides
        assert abs(1 - np.exp(a + b.conjugate())) <= 8 * decays.max()


@pytest.mark.parametrize("kwargs, pattern", [
    (dict(pairs=0), r"pairs: expected 1 <= min <= max"),
    (dict(min_decay=1e-3), r"min_decay: expected a float in \(0, 1e-4\]"),
])
def test_branch_cut_pairs_validates_arguments(kwargs, pattern):
    with pytest.raises(OrderError, match=pattern):
        _draw_once(branch_cut_pairs(**kwargs))


@given(split_peak_pairs())
def test_split_peak_pairs_overlap(system):
    # two slow SISO modes with feedthrough, angles 1 to 3 decays apart: overlapping resonances
    assert system.m == 2 and system.n_inputs == 1 and system.n_outputs == 1
    assert system.D is not None
    d = -system.s.real
    assert 1e-10 <= d[0] <= 1e-7 and 0.5 * d[0] <= d[1] <= 2 * d[0]
    gap = system.s.imag[1] - system.s.imag[0]
    # the second angle theta + d u is rounded to eps |theta| <= 7e-16, relative to d >= 1e-10
    # at most 7e-6: 1e-5 of the gap covers it
    assert d[0] * (1 - 1e-5) <= gap <= 3 * d[0] * (1 + 1e-5) and 0.2 <= system.s.imag[0] <= 3.0


@given(modal_systems(m=(1, 5), n_inputs=2, n_outputs=(1, 3)))
def test_sizes_and_stability(system):
    assert isinstance(system, ModalSystem)
    assert system.m in range(1, 6) and system.n_inputs == 2 and system.n_outputs in range(1, 4)
    assert np.all(system.s.real < 0)


@given(modal_systems(regime="slow", min_decay=1e-12))
def test_slow_regime_is_slow(system):
    assert np.all(-system.s.real <= 1e-3) and np.all(-system.s.real >= 1e-12 * (1 - 1e-9))


@given(modal_systems(regime="fast"))
def test_fast_regime_is_fast(system):
    assert np.all(-system.s.real >= 0.5)


@given(modal_systems(regime="near_minus_one"))
def test_near_minus_one_regime(system):
    assert np.all(np.abs(system.lam + 1) < 0.02)


@given(modal_systems(m=(2, 6), regime="near_minus_one", min_decay=1e-12))
def test_near_minus_one_regime_straddles_the_branch_cut(system):
    # every system with two or more modes has angles on both sides of +-pi, whose difference
    # must be wrapped by 2 pi (the case an angle-wrap bug corrupts)
    th = system.s.imag
    assert np.any(th > np.pi - 0.02) and np.any(th < -np.pi + 0.02)
    assert np.all(-system.s.real <= 1e-2)


@given(modal_systems(regime="near_plus_one", min_decay=1e-12))
def test_near_plus_one_regime(system):
    assert np.all(np.abs(system.s.imag) <= 1e-2) and np.all(-system.s.real <= 1e-2)
    assert np.all(np.abs(system.lam - 1) < 0.02)


@given(modal_systems(m=(1, 8), regime="mixed", min_decay=1e-12))
def test_mixed_regime_modes_come_from_the_mixed_regimes(system):
    s = system.s
    near_plus = (np.abs(s.imag) <= 1e-2) & (-s.real <= 1e-2)
    near_minus = (np.abs(s.imag) >= np.pi - 1e-2) & (-s.real <= 1e-2)
    slow_or_random = (-s.real >= 1e-12 * (1 - 1e-9)) & (-s.real <= 3.0)
    assert np.all(near_plus | near_minus | slow_or_random)


def test_mixed_regime_can_hold_every_kind_in_one_system():
    # one system with a mode near +1, a mode near -1 and a fast/generic mode
    def every_kind(system):
        s = system.s
        return (np.any((np.abs(s.imag) <= 1e-2) & (-s.real <= 1e-2))
                and np.any((np.abs(s.imag) >= np.pi - 1e-2) & (-s.real <= 1e-2))
                and np.any(-s.real > 1e-2))

    found = find(modal_systems(m=(4, 8), regime="mixed"), every_kind,
                 settings=settings(max_examples=200, database=None, phases=[Phase.generate]))
    assert every_kind(found)


@given(modal_systems(m=(2, 8), regime="conjugate_pairs"))
def test_conjugate_pairs_regime_is_real(system):
    assert system.is_conjugate_closed()
    assert system.m % 2 == 0


@given(modal_systems(m=(2, 6), regime="repeated"))
def test_repeated_regime_repeats(system):
    assert len(np.unique(system.s)) < system.m


@given(modal_systems(m=(2, 6), regime="nonminimal"))
def test_nonminimal_regime_has_dead_modes(system):
    zero_b = np.all(system.B == 0, axis=1)
    zero_c = np.all(system.C == 0, axis=0)
    assert zero_b.any()
    assert (zero_b | zero_c).sum() < system.m


@given(modal_systems(m=(2, 6), regime="clustered"))
def test_clustered_regime_is_clustered(system):
    s = system.s
    assert np.max(np.abs(s - s[0])) <= 4e-6 * np.max(np.abs(s))


@given(dense_systems(m=(1, 6), condition_max=50.0, return_modal=True))
def test_dense_systems_are_similar_to_their_modal_source(pair):
    dense, modal = pair
    assert isinstance(dense, StateSpace)
    # similar matrices share eigenvalues; eigenvalue error <= cond(T) eps ||A|| (Bauer-Fike with
    # the modal eigenvectors, whose condition is cond(T) <= 50)
    ev = np.linalg.eigvals(dense.A)
    for lam in modal.lam:
        assert np.min(np.abs(ev - lam)) <= 1e-10


@given(dense_systems(real=True))
def test_real_dense_systems_are_real(system):
    assert system.is_real


@given(log_eigenvalues(m=3, regime="slow", min_decay=1e-6))
def test_log_eigenvalues_strategy(s):
    assert s.shape == (3,) and np.all((-s.real >= 1e-6 * (1 - 1e-9)) & (-s.real <= 1e-3))


@given(input_sequences(length=(1, 5), n_inputs=2, complex_values=True))
def test_input_sequences(u):
    assert u.shape[0] in range(1, 6) and u.shape[1] == 2 and np.iscomplexobj(u)


@pytest.mark.parametrize("kwargs, exc, pattern", [
    (dict(m=0), OrderError, r"m: expected 1 <= min <= max"),
    (dict(m=(4, 2)), OrderError, r"m: expected 1 <= min <= max, found \(4, 2\)"),
    (dict(m=2.5), OrderError, r"m: expected an int or a \(min, max\) tuple"),
    (dict(regime="wobbly"), MethodError, r"regime: expected one of random, fast"),
    (dict(regime=()), MethodError, r"regime: expected at least one regime"),
    (dict(min_decay=0.1), OrderError, r"min_decay: expected a float in \(0, 1e-3\]"),
    (dict(n_inputs=0), OrderError, r"n_inputs: expected 1 <= min <= max"),
])
def test_modal_systems_validates_arguments(kwargs, exc, pattern):
    with pytest.raises(exc, match=pattern):
        _draw_once(modal_systems(**kwargs))


def test_dense_systems_validates_condition():
    with pytest.raises(OrderError, match=r"condition_max: expected a finite float >= 1"):
        _draw_once(dense_systems(condition_max=0.5))


def _draw_once(strategy):
    # Composite strategies validate their arguments when drawn.
    @given(strategy)
    @settings(max_examples=1)
    def draw(_):
        pass

    draw()


@pytest.mark.parametrize("regime", REGIMES)
def test_every_regime_draws_valid_systems(regime):
    _draw_once(modal_systems(regime=regime))
