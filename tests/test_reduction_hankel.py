"""Glover/AAK Hankel-norm approximation: attained error, optimality against BT, bilinear map.

The Hankel error is checked two ways: from the error system's Gramians and, independently of
any Gramian, as the largest singular value of an explicit block Hankel matrix of the error's
Markov parameters (fast systems, truncated where the tail is below e^-30).
"""

import numpy as np
import pytest
import scipy.linalg as sla
from hypothesis import given
from hypothesis import strategies as st

from mccc_theory import ModalSystem, StateSpace
from mccc_theory.errors import (
    DefectiveError,
    DTypeError,
    MethodError,
    OrderError,
    ShapeError,
    UnstableError,
)
from mccc_theory.gramians import controllability_gramian, observability_gramian
from mccc_theory.norms import error_system, hankel_norm
from mccc_theory.reduction import balanced_truncation, hankel_norm_approximation
from mccc_theory.reduction.hankel_norm import (
    SIMPLE_GAP,
    _bilinear_to_continuous,
    _bilinear_to_discrete,
)
from mccc_theory.testing.strategies import modal_systems

EPS = np.finfo(float).eps


def explicit_hankel_norm(system, K=60):
    g = system.impulse_response(2 * K)
    g[0] -= system.D_or_zero  # the Hankel operator [C A^(i+j) B] has no feedthrough
    idx = np.add.outer(np.arange(K), np.arange(K))
    q, p = g.shape[1:]
    return np.linalg.svd(g[idx].transpose(0, 2, 1, 3).reshape(K * q, K * p),
                         compute_uv=False)[0]


def simple_orders(hsv, rank):
    sig = hsv[:rank]
    return [r for r in range(1, rank)
            if all(abs(sig[j] - sig[r]) > 1e3 * SIMPLE_GAP * sig[r]
                   for j in (r - 1, r + 1) if j < rank)]


@given(modal_systems(m=(1, 4), regime="fast", with_feedthrough=True), st.booleans(),
       st.integers(0, 10))
def test_aak_error_equals_sigma_next_against_explicit_hankel(system, real, k):
    if real:  # conjugate-closed copy: a real map, reduced in real arithmetic
        system = ModalSystem(np.r_[system.s, system.s.conj()],
                             np.r_[system.B, system.B.conj()],
                             np.c_[system.C, system.C.conj()], system.D_or_zero.real)
    full = balanced_truncation(system)
    orders = simple_orders(full.hsv, full.rank)
    if not orders:
        return  # a single resolved value: nothing to approximate
    r = orders[k % len(orders)]
    res = hankel_norm_approximation(system, r)
    E = error_system(system, res.reduced)
    # |lambda| <= e^-0.5 for the system; the AAK model's poles are checked stable below, and its
    # Markov parameters decay with its spectral radius, so K grows to keep the tail below e^-30.
    rho = max(np.exp(-0.5), res.reduced.spectral_radius())
    K = int(np.ceil(30 / -np.log(rho))) + 1
    # both are singular values computed to ~ K eps ||H||: allow 1e3 K eps sigma_1
    tol = 1e3 * K * EPS * full.hsv[0]
    assert abs(explicit_hankel_norm(E, K) - res.hankel_error) <= tol
    assert res.hankel_error == res.hsv[r]
    assert res.reduced.spectral_radius() < 1
    assert res.reduced.is_real == system.is_conjugate_closed()


def test_aak_beats_balanced_truncation_in_hankel_norm():
    rng = np.random.default_rng(5)
    s = -np.geomspace(0.02, 2, 7) + 1j * rng.uniform(-3, 3, 7)
    system = ModalSystem(s, rng.standard_normal((7, 2)) + 1j * rng.standard_normal((7, 2)),
                         rng.standard_normal((2, 7)))
    for r in range(1, 6):
        aak = hankel_norm_approximation(system, r)
        bt = balanced_truncation(system, r)
        e_aak = hankel_norm(error_system(system, aak.reduced))
        e_bt = hankel_norm(error_system(system, bt.reduced))
        # AAK attains the lower bound sigma_{r+1}; BT is at or above it. Gramian-based
        # Hankel norms: absolute error ~ n eps sigma_1 (x1e3 allowed).
        tol = 1e3 * 14 * EPS * aak.hsv[0]
        assert abs(e_aak - aak.hsv[r]) <= tol
        assert e_bt >= e_aak - tol


def test_bilinear_map_preserves_gramians_and_inverts():
    rng = np.random.default_rng(0)
    A = np.diag(rng.uniform(-0.9, 0.9, 5)) + 0.05 * rng.standard_normal((5, 5))
    B, C = rng.standard_normal((5, 2)), rng.standard_normal((3, 5))
    system = StateSpace(A, B, C)
    Wc, Wo = controllability_gramian(system), observability_gramian(system)
    Ac, Bc, Cc = _bilinear_to_continuous(A, B, C)
    # continuous Lyapunov equations with the discrete Gramians: residual ~ eps ||Ac|| ||W||
    res_c = Ac @ Wc + Wc @ Ac.T + Bc @ Bc.T
    res_o = Ac.T @ Wo + Wo @ Ac + Cc.T @ Cc
    assert np.linalg.norm(res_c) <= 1e3 * EPS * np.linalg.norm(Ac) * np.linalg.norm(Wc)
    assert np.linalg.norm(res_o) <= 1e3 * EPS * np.linalg.norm(Ac) * np.linalg.norm(Wo)
    assert np.all(np.linalg.eigvals(Ac).real < 0)
    A2, B2, C2 = _bilinear_to_discrete(Ac, Bc, Cc)
    for X, Y in ((A2, A), (B2, B), (C2, C)):
        assert np.linalg.norm(X - Y) <= 1e3 * EPS * np.linalg.cond(A + np.eye(5)) * \
            np.linalg.norm(Y)
    assert np.allclose(sla.eigvals(A2), sla.eigvals(A), atol=1e-12)


def test_known_factors_resolve_what_squared_gramians_lose():
    """FIR shift register (A the lower shift, B = e_0, C = w): Wc = I and Wo = H^T H with H the
    zero-tail Hankel matrix of w, so (Lc, Lo) = (I, H^T). Its smallest Hankel singular value,
    1.5e-7 = 1.7e-8 sigma_1, is below sqrt(n eps) sigma_1: factoring the computed Wo (whose
    eigenvalues are sigma_i^2) cannot resolve it, and AAK then misses sigma_3 by ~1e-8 sigma_1;
    with the exact factors it attains sigma_3 to rounding."""
    w = np.array([-3.30340913, -2.0445247, 1.39446518, 2.45497617, 0.13816641, -2.18994282,
                  -1.58024033, 0.84736986, 1.82746346, 0.32468933])
    N = w.size
    fir = StateSpace(np.eye(N, k=-1), np.eye(N, 1), w[None, :])
    H = np.array([[w[i + j] if i + j < N else 0.0 for j in range(N)] for i in range(N)])
    sig = np.linalg.svd(H, compute_uv=False)  # the HSVs, backward stable from H itself
    assert sig[-1] < np.sqrt(N * EPS) * sig[0]
    assert hankel_norm_approximation(fir, 2).rank == N - 1  # lost through the squaring
    res = hankel_norm_approximation(fir, 2, factors=(np.eye(N), H.T))
    assert res.rank == N
    # error Markov parameters vanish beyond the AAK model's decay: K lags to e^-30
    K = int(np.ceil(30 / -np.log(res.reduced.spectral_radius()))) + N
    e = explicit_hankel_norm(error_system(fir, res.reduced), K)
    assert abs(e - sig[2]) <= 1e3 * K * EPS * sig[0]  # SVDs of K x K sections: K eps sigma_1
    bt = balanced_truncation(fir, 9, factors=(np.eye(N), H.T))
    assert bt.lower_bound == pytest.approx(sig[9], rel=1e-6)


def _two_identical_channels():
    s = np.array([-0.1 + 0.5j, -0.1 + 0.5j, -1.0 + 0j, -1.0 + 0j])
    B = np.array([[1.0, 0], [0, 1.0], [0.5, 0], [0, 0.5]])
    return ModalSystem(s, B, B.T.copy())


_stable = ModalSystem(np.array([-0.5 + 0j, -1.0 + 1j, -0.1 - 2j]), [[1.0], [1.0], [0.5]],
                      [[1.0, 2.0, 1.0]])

BAD = [
    (lambda: hankel_norm_approximation(_stable, 0), OrderError, r"order: expected an integer >= 1"),
    (lambda: hankel_norm_approximation(_stable, 4), OrderError,
     r"order: expected an integer in \[1, 3\]"),
    (lambda: hankel_norm_approximation(_stable, 2.0), DTypeError, r"order: expected an integer"),
    (lambda: hankel_norm_approximation(_two_identical_channels(), 2), OrderError,
     r"order: sigma_3 = .* is not simple \(sigma_4 = "),
    (lambda: hankel_norm_approximation(_two_identical_channels(), 1), OrderError,
     r"order: sigma_2 = .* is not simple \(sigma_1 = "),
    (lambda: hankel_norm_approximation(StateSpace([[1.2]], [[1.0]], [[1.0]]), 1),
     UnstableError, r"system: eigenvalue 0 of A is 1\.2"),
    (lambda: hankel_norm_approximation(_stable, 1, factors=(np.eye(3), np.eye(3))),
     MethodError, r"factors: supported for a StateSpace only"),
    (lambda: hankel_norm_approximation(_stable.to_state_space(), 1, factors=np.eye(3)),
     ShapeError, r"factors: expected a pair \(Lc, Lo\)"),
    (lambda: hankel_norm_approximation(_stable.to_state_space(), 1,
                                       factors=(np.eye(2), np.eye(3))),
     ShapeError, r"factors\[0\] \(Lc\): expected 3 rows"),
    (lambda: hankel_norm_approximation(_stable.to_state_space(), 1,
                                       factors=(np.eye(3), np.eye(3))),
     DefectiveError, r"factors\[0\] \(Lc\): L L\^H does not solve the Stein equation"),
]


@pytest.mark.parametrize("call, exc, match", BAD)
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
