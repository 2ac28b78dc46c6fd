"""H-infinity brackets, H2 and Hankel norms against independent references.

References: python-control's linfnorm (SLICOT AB13DD), dense frequency sweeps with direct solves,
closed-form peaks of single modes, explicit Markov-parameter sums and explicit Hankel matrices.
"""

import control
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mccc_theory import ModalSystem, StateSpace
from mccc_theory.errors import (
    DTypeError,
    NonFiniteError,
    OrderError,
    ShapeError,
    UnstableError,
)
from mccc_theory.norms import (
    error_system,
    frequency_response,
    h2_norm,
    hankel_norm,
    hinf_error,
    hinf_norm,
)
from mccc_theory.testing.strategies import dense_systems, modal_systems

EPS = np.finfo(float).eps


def sweep(system, n=20001):
    """max_w sigma_max(G(e^{iw})) on a uniform grid, by dense solves (not the modal closed form)."""
    ss = system.to_state_space() if isinstance(system, ModalSystem) else system
    w = np.linspace(-np.pi, np.pi, n)
    out = 0.0
    for chunk in np.array_split(w, 20):
        M = np.eye(ss.n)[None] - np.exp(-1j * chunk)[:, None, None] * ss.A[None]
        G = ss.C @ np.linalg.solve(M, np.broadcast_to(ss.B, (chunk.size, *ss.B.shape)))
        G = G + ss.D_or_zero
        out = max(out, float(np.max(np.linalg.svd(G, compute_uv=False)[:, 0])))
    return out


@given(dense_systems(m=(1, 8), real=True))
def test_hinf_matches_slycot_ab13dd(system):
    br = hinf_norm(system, rtol=1e-8)
    ref, _ = control.linfnorm(system.to_control(), tol=1e-10)
    # AB13DD returns a value attained near its peak frequency (a lower estimate: seen up to
    # 6e-10 relative below sigma_max at our frequency, confirmed in mpmath); it can never exceed
    # a certified upper bound by more than rounding (16 eps), and agrees to our width 1e-8.
    assert ref <= br.upper * (1 + 16 * EPS)
    assert ref >= br.lower * (1 - 1e-8)
    # The width is rtol unless certification widens it: a dense system is evaluated on a modal
    # surrogate whose distance bound is about ||C|| ||B|| kappa(V)^2 eps ||A|| / (1 - rho)^2
    # (resolvent identity); with cond(T) <= 100 and 1 - rho >= ~1e-3 that is below 1e-6.
    assert br.upper <= br.lower * (1 + 1e-6)


@given(st.one_of(modal_systems(m=(1, 6), regime=("random", "fast", "clustered", "repeated"),
                               with_feedthrough=True),
                 dense_systems(m=(1, 6), regime=("random", "fast"))))
def test_hinf_bracket_contains_dense_sweep_and_lower_is_attained(system):
    br = hinf_norm(system)
    # the sweep's values are sigma_max computed to a few ulps: 8 eps relative
    assert sweep(system) <= br.upper * (1 + 8 * EPS)
    G = frequency_response(system, [br.frequency])[0]
    d_inf = np.linalg.norm((system.C @ system.B + system.D_or_zero), 2)
    attained = max(np.linalg.norm(G, 2), d_inf)  # lower is a value of sigma_max (or G(inf))
    # ... less its certified rounding allowance (evaluation error; for dense systems also the
    # modal surrogate's distance, <= 1e-6 relative here, see test_hinf_matches_slycot_ab13dd)
    assert br.lower <= attained * (1 + 8 * EPS)
    assert br.lower >= attained * (1 - 1e-6)


@pytest.mark.parametrize("decay", [1e-3, 1e-8, 1e-12])
@pytest.mark.parametrize("angle", [0.0, 0.3, -2.0, np.pi - 1e-3])
def test_hinf_single_slow_mode_exact_peak(decay, angle):
    # G(z) = c b / (1 - lambda/z) peaks at |cb| / (1 - |lambda|) at omega = arg lambda; the
    # bracket is computed from s, so it resolves 1 - |lambda| = 1e-12 to full precision.
    b, c = 0.7 + 0.2j, 1.1 - 0.5j
    system = ModalSystem(np.array([-decay + 1j * angle]), [[b]], [[c]])
    exact = abs(b * c) / -np.expm1(-decay)
    br = hinf_norm(system)
    assert br.lower <= exact * (1 + 4 * EPS)
    assert exact <= br.upper * (1 + 4 * EPS)
    assert br.lower >= exact * (1 - 1e-13)  # grid contains the pole angle: attained exactly


def test_hinf_real_and_complex_forms_agree():
    # A conjugate-closed modal system (real map, real Hamiltonian) and its real realization.
    rng = np.random.default_rng(3)
    s = np.array([-0.01 + 0.8j, -0.2 + 2.5j, -0.05 + 0.1j])
    B = rng.standard_normal((3, 2)) + 1j * rng.standard_normal((3, 2))
    C = rng.standard_normal((2, 3)) + 1j * rng.standard_normal((2, 3))
    system = ModalSystem(np.r_[s, s.conj()], np.r_[B, B.conj()], np.c_[C, C.conj()])
    a, b = hinf_norm(system), hinf_norm(system.real_realization())
    assert a.lower <= b.upper * (1 + 1e-12) and b.lower <= a.upper * (1 + 1e-12)


def test_frequency_response_matches_python_control():
    rng = np.random.default_rng(0)
    s = np.array([-0.1 + 0.5j, -1.0 + 2.0j])
    B = rng.standard_normal((2, 2)) + 1j * rng.standard_normal((2, 2))
    C = rng.standard_normal((3, 2)) + 1j * rng.standard_normal((3, 2))
    system = ModalSystem(np.r_[s, s.conj()], np.r_[B, B.conj()], np.c_[C, C.conj()],
                         rng.standard_normal((3, 2)))
    w = np.array([0.0, 0.4, 2.0, np.pi])
    G = frequency_response(system, w)
    sys_c = system.real_realization().to_control()  # textbook (A, B, CA, CB + D)
    for k, wk in enumerate(w):
        ref = sys_c(np.exp(1j * wk))
        # one resolvent solve of a 4-state system: a few ulps times its norm
        assert np.max(np.abs(G[k] - ref)) <= 1e-13 * np.max(np.abs(ref))


def test_error_system_response_is_difference():
    rng = np.random.default_rng(1)
    g = ModalSystem(np.array([-0.3 + 1j, -0.1 - 0.5j]), rng.standard_normal((2, 1)),
                    rng.standard_normal((1, 2)), [[0.5]])
    a = StateSpace(np.array([[0.2]]), [[1.0]], [[0.3]], [[0.1]])
    w = np.linspace(-3, 3, 7)
    E = frequency_response(error_system(g, a), w)
    assert np.allclose(E, frequency_response(g, w) - frequency_response(a, w), rtol=0,
                       atol=1e-14)
    assert hinf_error(g, a).lower == pytest.approx(hinf_norm(error_system(g, a)).lower, rel=1e-8)


@given(modal_systems(m=(1, 6), with_feedthrough=True), st.integers(1, 80))
def test_h2_finite_horizon_equals_markov_sum(system, N):
    g = system.impulse_response(N)
    ref = np.sqrt(np.sum(np.abs(g) ** 2))
    # trace of the Gramian sum vs the direct sum: N terms, each to a few ulps of the total
    assert h2_norm(system, horizon=N) == pytest.approx(ref, rel=(N + 10) * 16 * EPS)


@given(modal_systems(m=(1, 6), regime="fast", with_feedthrough=True))
def test_h2_infinite_horizon_equals_long_markov_sum(system):
    # |lambda| <= e^-0.5: the tail beyond 120 lags is below e^-120 relative
    g = system.impulse_response(120)
    assert h2_norm(system) == pytest.approx(np.sqrt(np.sum(np.abs(g) ** 2)), rel=1e-12)


@given(modal_systems(m=(1, 5), regime="fast"))
def test_hankel_norm_equals_explicit_hankel_matrix(system):
    K = 60  # tail |lambda|^60 <= e^-30
    g = system.impulse_response(2 * K)  # no D: these are C A^tau B
    idx = np.add.outer(np.arange(K), np.arange(K))
    q, p = g.shape[1:]
    H = g[idx].transpose(0, 2, 1, 3).reshape(K * q, K * p)  # block (i, j) = g[i + j]
    ref = np.linalg.svd(H, compute_uv=False)[0]
    assert hankel_norm(system) == pytest.approx(ref, rel=1e-12)


def _unstable():
    return StateSpace(np.array([[1.01]]), [[1.0]], [[1.0]])


def _marginal():
    return StateSpace(np.array([[0.0, -1.0], [1.0, 0.0]]), [[1.0], [0.0]], [[1.0, 0.0]])


_stable = ModalSystem(np.array([-0.5 + 0j]), [[1.0]], [[1.0]])

BAD = [
    (lambda: hinf_norm("G"), ShapeError, r"system: expected a ModalSystem or StateSpace"),
    (lambda: hinf_norm(_stable, rtol=0.0), OrderError, r"rtol: expected .* \[1e-12, 0.5\]"),
    (lambda: hinf_norm(_stable, rtol="1e-8"), DTypeError, r"rtol: expected a float"),
    (lambda: hinf_norm(_unstable()), UnstableError, r"system: eigenvalue .* >= 1"),
    (lambda: hinf_norm(_marginal()), UnstableError, r"\|lambda\| = 1"),
    (lambda: hinf_error(_stable, _unstable()), UnstableError, r"approximation: eigenvalue"),
    (lambda: hinf_error(_stable, ModalSystem(np.array([-1 + 0j]), [[1.0, 1.0]], [[1.0]])),
     ShapeError, r"approximation: expected 1 outputs and 1 inputs"),
    (lambda: frequency_response(_stable, [0.0, np.nan]), NonFiniteError, r"omega: expected finite"),
    (lambda: h2_norm(_stable, horizon=0), OrderError, r"horizon: expected an integer >= 1"),
    (lambda: hankel_norm(_unstable()), UnstableError, r"system: eigenvalue"),
    (lambda: error_system(_stable, ModalSystem(np.array([-1 + 0j]), [[1.0]], [[1.0], [2.0]])),
     ShapeError, r"approximation: expected 1 outputs"),
]


@pytest.mark.parametrize("call, exc, match", BAD)
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
