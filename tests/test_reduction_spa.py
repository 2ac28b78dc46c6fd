"""Singular perturbation approximation: SLICOT AB09ND oracle, DC gain, bounds, bad input.

Error models (eps = 2^-52), as in tests/test_reduction_balanced.py:
* Hankel singular values from Gramian factors: absolute ~ c n eps sigma_1, c = 1e3 allowed.
* Transfer functions of square-root projections: ~ n eps ||G||_inf sqrt(sigma_1 / sigma_r),
  allowed 1e3 times over; SPA adds two solves with (I - A_22) and A_r, whose condition numbers
  multiply that allowance.
"""

import warnings

import numpy as np
import pytest
import slycot
from hypothesis import given
from hypothesis import strategies as st

from mccc_theory import ModalSystem, StateSpace
from mccc_theory.errors import DefectiveError, MethodError, OrderError
from mccc_theory.norms import hinf_error, hinf_norm
from mccc_theory.reduction import balanced_truncation, singular_perturbation
from mccc_theory.testing.strategies import dense_systems, modal_systems

EPS = np.finfo(float).eps


def ab09nd(ss: StateSpace, order: int):
    """SLICOT AB09ND (dico='D', job='N': balancing-free square-root SPA, alpha=1: no unstable
    part) on the textbook realization ``(A, B, C A, D + C B)`` of the MCCC system.

    job='B' is not used: with slycot 0.7.1, AB09BD and AB09ND with job='B' return models that do
    not match the DC gain G(1) (observed: 0.82 off on an order-8 system, where job='N' and ours
    agree to 1e-14), i.e. not the SPA of the balanced realization. An explicit LDWORK keeps the
    wrapper's workspace large enough.
    """
    A, B, C, D = ss.to_textbook()
    n, p, q = ss.n, ss.n_inputs, ss.n_outputs
    ldwork = 2 * n * (2 * n + max(n, p, q) + 5) + n * (n + 1) // 2 + 1000
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        nr, Ar, Br, Cr, Dr, _, hsv = slycot.ab09nd("D", "N", "N", n, p, q, A.copy(), B.copy(),
                                                   C.copy(), D.copy(), alpha=1.0, nr=order,
                                                   tol1=0.0, tol2=0.0, ldwork=ldwork)
    return nr, StateSpace.from_textbook(Ar[:nr, :nr], Br[:nr], Cr[:, :nr], Dr), hsv[:n]


def tf_tol(system, res):
    g = hinf_norm(system, rtol=1e-6).upper
    r = res.order
    k = res.rank
    cond = np.sqrt(res.hsv[0] / res.hsv[r - 1]) * np.linalg.cond(res.reduced.A)
    return 1e3 * k * EPS * g * cond


def dc_gain(system):
    A = np.diag(system.lam) if isinstance(system, ModalSystem) else system.A
    return system.D_or_zero + system.C @ np.linalg.solve(np.eye(A.shape[0]) - A, system.B)


@given(modal_systems(m=(2, 12), regime="conjugate_pairs", with_feedthrough=True),
       st.integers(1, 12))
def test_matches_slycot_ab09nd(system, r):
    ss = system.real_realization()
    full = singular_perturbation(system, 1)
    _, _, hsv_ref = ab09nd(ss, ss.n)
    k = full.rank
    allowed = np.maximum(1e-10 * hsv_ref[:k], 1e3 * ss.n * EPS * hsv_ref[0])
    assert np.all(np.abs(full.hsv[:k] - hsv_ref[:k]) <= allowed)
    resolved = int(np.sum(full.hsv[:k] > 1e-8 * full.hsv[0]))
    r = 1 + (r - 1) % resolved
    try:
        ours = singular_perturbation(system, r)
    except (OrderError, DefectiveError):  # repeated value or a zero reduced pole: test_bad_input
        return
    assert ours.reduced.is_real
    nr, theirs, _ = ab09nd(ss, r)
    assert nr == r
    # the same map: Markov parameters over 200 lags (the rest decays below the tolerance or is
    # covered by the H-infinity bound below) and the H-infinity distance between the two models
    tol = max(1e-8 * hinf_norm(system, rtol=1e-6).upper, 2 * tf_tol(system, ours))
    assert hinf_error(ours.reduced, theirs, rtol=1e-6).upper <= tol


@given(st.one_of(modal_systems(m=(2, 8), regime=("random", "fast", "conjugate_pairs"),
                               with_feedthrough=True),
                 dense_systems(m=(2, 8), regime=("random", "fast"))),
       st.integers(1, 8))
def test_dc_gain_matched_and_bound_chain(system, r):
    full = singular_perturbation(system, 1)
    resolved = int(np.sum(full.hsv[: full.rank] > 1e-8 * full.hsv[0]))
    r = 1 + (r - 1) % resolved
    try:
        res = singular_perturbation(system, r)
    except (OrderError, DefectiveError):
        return
    tol = tf_tol(system, res)
    # DC gain: exact in exact arithmetic (the steady state of the discarded states is exact);
    # the perturbation of A_r is amplified by ||(I - A_r)^-1|| at z = 1
    amp = np.linalg.norm(np.linalg.inv(np.eye(r) - res.reduced.A), 2)
    assert np.linalg.norm(dc_gain(res.reduced) - dc_gain(system), 2) <= tol * max(1.0, amp)
    assert res.reduced.spectral_radius() < 1
    e = hinf_error(system, res.reduced, rtol=1e-6)
    # sigma_{r+1} <= ||G - G_r||_inf <= 2 tail (the Hankel norm of (A, B, C A) is below H-inf);
    # the bound sums up to k computed values, each off by ~1e3 n eps sigma_1 (module docstring),
    # and the bound is attained when one value is discarded
    tau_sv = 1e3 * res.rank * EPS * res.hsv[0]
    assert res.lower_bound <= e.upper + tol + tau_sv
    assert e.lower <= res.upper_bound + tol + 2 * res.rank * tau_sv
    # the reduced readout and feedthrough are the stated linear maps of the full ones
    assert np.allclose(system.C @ res.readout_map, res.reduced.C, atol=tol)
    assert np.allclose(system.D_or_zero + system.C @ res.feedthrough_map, res.reduced.D, atol=tol)


def test_spa_beats_bt_at_dc_and_order_n_is_exact():
    rng = np.random.default_rng(3)
    s = -np.geomspace(0.02, 2, 6) + 1j * rng.uniform(-3, 3, 6)
    system = ModalSystem(s, rng.standard_normal((6, 1)), rng.standard_normal((2, 6)))
    spa = singular_perturbation(system, 2)
    bt = balanced_truncation(system, 2)
    g = dc_gain(system)
    assert np.linalg.norm(dc_gain(spa.reduced) - g) <= 1e-10 * np.linalg.norm(g)
    assert np.linalg.norm(dc_gain(bt.reduced) - g) > 1e-3 * np.linalg.norm(g)
    full = singular_perturbation(system, 6)
    assert (full.lower_bound, full.upper_bound) == (0.0, 0.0)
    assert hinf_error(system, full.reduced).upper <= 1e-9 * hinf_norm(system).upper


@pytest.mark.parametrize("call, exc, match", [
    (lambda s: singular_perturbation(s, 0), OrderError, "order"),
    (lambda s: singular_perturbation(s, 7), OrderError, r"order: expected an integer in \[1, 6\]"),
    (lambda s: singular_perturbation(s, 2, factor="qr"), MethodError, "factor"),
    (lambda s: singular_perturbation(ModalSystem(s.s, 0 * s.B, s.C), 1), OrderError, "zero"),
])
def test_bad_input(call, exc, match):
    rng = np.random.default_rng(5)
    s = -np.geomspace(0.05, 2, 6) + 1j * rng.uniform(-3, 3, 6)
    system = ModalSystem(s, rng.standard_normal((6, 1)), rng.standard_normal((1, 6)))
    with pytest.raises(exc, match=match):
        call(system)


def test_repeated_value_is_not_split():
    # two identical decoupled channels: sigma_1 = sigma_2, order 1 would depend on rounding
    two = ModalSystem(np.log([0.5, 0.5]) + 0j, np.eye(2), np.eye(2))
    with pytest.raises(OrderError, match="splits the repeated"):
        singular_perturbation(two, 1)
