"""Gramians and HSVs against independent references: scipy, slycot, mpmath, explicit Hankel matrices."""

import numpy as np
import pytest
import scipy.linalg as sla
from hypothesis import given, settings
from hypothesis import strategies as st

from mccc_theory import ModalSystem, StateSpace
from mccc_theory.gramians import (
    controllability_gramian,
    gramian_factor,
    hankel_singular_values,
    observability_gramian,
    readout_gramian,
    solve_stein,
)
from mccc_theory.testing.oracles import mp_controllability_gramian, mp_observability_gramian
from mccc_theory.testing.strategies import REGIMES, dense_systems, modal_systems

EPS = np.finfo(float).eps


def rel(a, b):
    return np.linalg.norm(a - b) / np.linalg.norm(b)


@pytest.mark.parametrize("regime", REGIMES)
@given(data=st.data())
@settings(max_examples=8)
def test_modal_gramians_match_mpmath_in_every_regime(regime, data):
    system = data.draw(modal_systems(m=(1, 4), regime=regime))
    N = data.draw(st.one_of(st.none(), st.integers(1, 10**7)))
    # Issue 2, item 7: <= 1e-14 relative (Frobenius) against a 50-digit oracle in every regime.
    assert rel(controllability_gramian(system, N), mp_controllability_gramian(system, N)) <= 1e-14
    assert rel(observability_gramian(system, N), mp_observability_gramian(system, N)) <= 1e-14


def test_mpmath_at_extreme_decay_and_minus_one():
    # 1 - |lambda| = 1e-12 near +1, near -1 (angle pi - 1e-9) and a pair straddling the branch cut
    s = np.array([-1e-12 + 0.3j, -1e-12 + (np.pi - 1e-9) * 1j, -2e-12 - (np.pi - 3e-9) * 1j])
    system = ModalSystem(s, np.ones((3, 1)), np.ones((1, 3)))
    for N in (None, 1, 10**6, 10**12):
        assert rel(controllability_gramian(system, N), mp_controllability_gramian(system, N)) <= 1e-14
        assert rel(observability_gramian(system, N), mp_observability_gramian(system, N)) <= 1e-14


@given(dense_systems(m=(1, 8), regime=("random", "fast", "conjugate_pairs"), real=True))
def test_dense_and_slycot_agree_with_scipy(system):
    A, B, C = system.A, system.B, system.C
    Wc_ref = sla.solve_discrete_lyapunov(A, B @ B.T)
    Wo_ref = sla.solve_discrete_lyapunov(A.T, C.T @ C)
    rho = system.spectral_radius()
    # Both sides solve the same Stein equation backward-stably (residual <= c n eps (1 + ||A||^2)
    # ||X||); forward error <= that times ||S^-1|| <= kappa(V)^2 / (1 - rho^2) (V: eigenvectors of
    # A). The dense systems are non-normal (||A|| >> rho), so the ||A||^2 factor matters.
    kappa = np.linalg.cond(np.linalg.eig(A)[1])
    tol = 64 * system.n * EPS * kappa**2 * (1 + np.linalg.norm(A, 2) ** 2) / (1 - rho**2)
    for method in ("dense", "slycot"):
        assert rel(controllability_gramian(system, method=method), Wc_ref) <= tol
        assert rel(observability_gramian(system, method=method), Wo_ref) <= tol


@given(modal_systems(m=(2, 8), regime="conjugate_pairs"))
def test_slycot_hammarling_factor_matches_modal(system):
    import slycot

    real = system.real_realization()
    n, p = real.n, real.n_inputs
    # SB03OD (Hammarling), trans='N': F^T X F - X = -scale^2 G^T G with X = U^T U. With F = A^T
    # and G = B^T this is A X A^T - X = -B B^T. slycot's wrapper wants G with n rows: for p > n
    # use the triangular R of B^T = Q R (same G^T G = B B^T), else zero-pad B^T.
    G = np.zeros((n, n))
    if p > n:
        G[:] = np.linalg.qr(real.B.T, mode="r")
    else:
        G[:p] = real.B.T
    U, scale, _ = slycot.sb03od(n, min(n, p), real.A.T.copy(), np.zeros((n, n)), G, dico="D",
                                fact="N", trans="N")
    U = np.triu(U[:n, :n]).T / scale  # lower factor: X = U U^T
    # Both routes are backward stable; forward errors carry the Stein condition number
    # 1/(1 - rho^2). The HSVs from slycot's factor must match the modal closed form's.
    rho = np.max(np.abs(system.lam))
    tol = 64 * n * EPS / (1 - rho**2)
    assert rel(U @ U.T, controllability_gramian(real, method="dense")) <= tol
    hsv_factor = np.linalg.svd(
        gramian_factor(observability_gramian(real, method="dense")).L.T @ U, compute_uv=False)
    hsv_modal = hankel_singular_values(system).values
    k = min(len(hsv_factor), len(hsv_modal))
    assert np.max(np.abs(hsv_factor[:k] ** 2 - hsv_modal[:k] ** 2)) <= tol * hsv_modal[0] ** 2 * n


@given(modal_systems(m=(1, 6), n_inputs=1, n_outputs=1, regime="fast"))
def test_hsv_equal_singular_values_of_hankel_matrix(system):
    # Independent route: the Hankel operator [C A^(i+j) B] truncated to K x K (K large enough
    # that the tail rho^K is negligible) has the HSVs as singular values.
    rho = np.max(np.abs(system.lam))
    K = int(np.ceil(np.log(1e-18) / np.log(rho)) + 2)  # fast regime: rho <= e^-0.5, K <= 85
    g = system.impulse_response(2 * K)[:, 0, 0]
    H = sla.hankel(g[:K], g[K - 1: 2 * K - 1])
    sv = np.linalg.svd(H, compute_uv=False)
    hsv = hankel_singular_values(system)
    k = len(hsv.values)
    # Truncation leaves a tail of norm <= sum_{i} |c_i b_i| rho^K / (1 - rho) <= 1e-18 scale; the
    # SVD of H has absolute error K eps ||H||; the square-root route ~ sqrt(n eps) sigma_1 on
    # numerically zero values (they are compared in squares).
    tol = 64 * K * EPS * sv[0] ** 2
    assert np.max(np.abs(hsv.values**2 - sv[:k] ** 2)) <= tol
    assert np.all(sv[k:] ** 2 <= tol)


@given(st.integers(1, 300), modal_systems(m=(1, 6), regime=("random", "fast", "conjugate_pairs")))
def test_finite_horizon_doubling_matches_modal(N, system):
    Wd = controllability_gramian(system, N, "dense")
    Wm = controllability_gramian(system, N, "modal")
    # Doubling: log2(N) levels of products, each adding c n eps relative error.
    tol = 32 * system.m * EPS * (np.log2(N) + 2)
    assert rel(Wd, Wm) <= tol


def test_solve_stein_matches_series_for_non_normal_matrix():
    rng = np.random.default_rng(3)
    A = np.triu(rng.standard_normal((6, 6))) * 0.4
    np.fill_diagonal(A, [0.5, -0.4, 0.3, 0.2, -0.1, 0.6])
    Q = rng.standard_normal((6, 3))
    Q = Q @ Q.T
    X = solve_stein(A, Q)
    series = sum(np.linalg.matrix_power(A, k) @ Q @ np.linalg.matrix_power(A, k).T
                 for k in range(400))
    # rho = 0.6 so the series tail after 400 terms is ~0.6^800 * ||...||: negligible.
    assert rel(X, series) <= 1e-13
    assert np.isrealobj(X)


@pytest.mark.parametrize("method", ["eigh", "pivoted_cholesky"])
@given(system=modal_systems(m=(1, 8), regime=("random", "nonminimal")))
def test_gramian_factor_reproduces_gramian(method, system):
    W = controllability_gramian(system)
    f = gramian_factor(W, method=method)
    # Dropped directions have eigenvalues (or pivots) below the cut n eps ||W||, so
    # ||W - L L^H|| <= n * cut plus the factorization's own c n eps ||W||.
    tol = 8 * system.m * (f.cut + system.m * EPS * np.linalg.norm(W, 2))
    assert np.linalg.norm(W - f.L @ f.L.conj().T, 2) <= tol
    assert f.rank == f.L.shape[1] <= system.m


def test_readout_gramian_is_sum_of_query_gramians():
    rng = np.random.default_rng(0)
    Cq = rng.standard_normal((5, 2, 4)) + 1j * rng.standard_normal((5, 2, 4))
    Q = readout_gramian(Cq)
    ref = sum(c.conj().T @ c for c in Cq)
    assert rel(Q, ref) <= 8 * EPS * 10
    # one row per query
    assert rel(readout_gramian(Cq[:, 0, :]), sum(np.outer(c.conj(), c) for c in Cq[:, 0, :])) <= 1e-15


def test_hsv_rank_cut_reports_nonminimal_modes():
    s = np.array([-0.1 + 0.2j, -0.3 - 1j, -0.05 + 2j])
    B = np.array([[1.0], [0.0], [1.0]])  # mode 1 uncontrollable
    C = np.array([[1.0, 1.0, 0.0]])  # mode 2 unobservable
    hsv = hankel_singular_values(ModalSystem(s, B, C))
    assert hsv.rank == 1
    assert hsv.significant.shape == (1,)


def test_dense_route_on_state_space_input():
    sys = StateSpace(np.array([[0.5, 1.0], [0.0, -0.2]]), np.array([[0.0], [1.0]]),
                     np.array([[1.0, 0.0]]))
    W = controllability_gramian(sys)
    A, B = sys.A, sys.B
    assert np.linalg.norm(A @ W @ A.T - W + B @ B.T) <= 1e-14


@pytest.mark.parametrize("horizon", [None, 7])
@pytest.mark.parametrize("complex_q", [False, True])
def test_solve_stein_general_non_hermitian_q(horizon, complex_q):
    # Issue 12 defect 4: a non-Hermitian Q used to be symmetrised away (residual 0.5-2).
    rng = np.random.default_rng(12)
    A = np.triu(rng.standard_normal((5, 5))) * 0.3
    np.fill_diagonal(A, [0.6, -0.5, 0.2 + 0.0, 0.9, -0.1])
    Q = rng.standard_normal((5, 5)) + (1j * rng.standard_normal((5, 5)) if complex_q else 0)
    X = solve_stein(A, Q, horizon=horizon)
    N = 2000 if horizon is None else horizon  # rho = 0.9: 0.9^4000 tail is below 1e-180
    series = np.zeros_like(X)
    P = np.eye(5)
    for _ in range(N):
        series = series + P @ Q @ P.conj().T
        P = A @ P
    # Backward-stable solve of a Stein operator with ||S^-1|| <= kappa(V)^2 / (1 - rho^2)
    # (rho = 0.9, kappa(V) <= ~10 here): 1e-12 relative leaves a 10x margin over 64 n eps * that.
    assert rel(X, series) <= 1e-12
    assert np.iscomplexobj(X) == complex_q
