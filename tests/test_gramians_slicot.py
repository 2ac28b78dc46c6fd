"""Dense Gramians and Hankel singular values on SLICOT's benchmark collections and examples.

The systems are generated here from their published definitions: DTLEX (D. Kressner,
V. Mehrmann, T. Penzl, "DTLEX - a collection of benchmark examples for discrete-time Lyapunov
equations", SLICOT Working Note 1999-7) and DTDSX ("... state-space realizations of discrete-time
dynamical systems", SLICOT Working Note 1998-10). References: the closed-form solutions the
collections state, a 50-digit mpmath oracle, and SLICOT itself (SB03OD, SB03MD, AB09AD via
slycot). Issue 12, defect 3.
"""

import mpmath
import numpy as np
import pytest
import slycot

from mccc_theory import StateSpace
from mccc_theory.gramians import (
    hankel_singular_values,
    observability_gramian,
    solve_stein,
    stein_factor,
)

EPS = np.finfo(float).eps


def dtlex_4_1(n, r=1.5, s=1.5):
    """DTLEX example 4.1: ``A^T X A - X = -B^T B`` with the exact solution ``X = B^T B``.

    ``A = H2 S H1 diag(a) H1 S^-1 H2`` with ``a_i = (r^(i-1) - 1)/(r^(i-1) + 1)`` (so ``a_1 = 0``
    and ``a_n -> 1``), ``S = diag(s^(i-1))``, Householder-type ``H1 = I - (2/n) 1 1^T``,
    ``H2 = I - (2/n) f f^T`` with ``f_i = (-1)^(i-1)``; ``B = e_1^T H1 S^-1 H2`` is a left null
    vector of ``A``, hence ``X = B^T B``.
    """
    i = np.arange(n)
    a = (r**i - 1) / (r**i + 1)
    f = (-1.0) ** i
    H1 = np.eye(n) - 2 / n * np.ones((n, n))
    H2 = np.eye(n) - 2 / n * np.outer(f, f)
    A = H2 @ np.diag(s**i) @ H1 @ np.diag(a) @ H1 @ np.diag(s**-i) @ H2
    B = (H1 @ np.diag(s**-i) @ H2)[:1]
    return A, B


def dtdsx_2_1(tau=1e8, delta=1.0, K=1.0):
    """DTDSX example 2.1 (Pappas et al. 1980, paper machine): one pole at ``1 - delta/tau``."""
    A = np.diag(np.ones(3), -1)
    A[0, 0] = 1 - delta / tau
    B = np.array([[K * delta / tau], [0.0], [0.0], [0.0]])
    C = np.array([[0.0, 0.0, 0.0, 1.0]])
    return A, B, C


def mp_hsv(A, B, C, dps=50):
    """Hankel singular values from Gramians solved exactly (Kronecker form) in ``dps`` digits.

    ``A`` real: a double array, or a 1-d array of real log-eigenvalues ``s`` for
    ``A = diag(exp(s))`` with ``exp`` taken in ``dps`` digits.
    """
    with mpmath.workdps(dps):
        n = B.shape[0]
        if A.ndim == 1:
            Am = mpmath.diag([mpmath.exp(mpmath.mpf(float(v))) for v in A])
        else:
            Am = mpmath.matrix(A.tolist())
        K = mpmath.eye(n * n)
        for i in range(n):
            for j in range(n):
                for k in range(n):
                    for m in range(n):
                        K[i * n + j, k * n + m] -= Am[i, k] * Am[j, m]

        def stein(M):  # X - A X A^T = M, vec row-major
            x = mpmath.lu_solve(K, mpmath.matrix([M[i, j] for i in range(n) for j in range(n)]))
            return mpmath.matrix([[x[i * n + j] for j in range(n)] for i in range(n)])

        Bm, Cm = mpmath.matrix(B.tolist()), mpmath.matrix(C.tolist())
        Wc = stein(Bm * Bm.T)
        K = mpmath.eye(n * n)  # observability: X - A^T X A = C^T C
        for i in range(n):
            for j in range(n):
                for k in range(n):
                    for m in range(n):
                        K[i * n + j, k * n + m] -= Am[k, i] * Am[m, j]
        Wo = stein(Cm.T * Cm)
        ev = mpmath.eig(Wc * Wo, left=False, right=False)
        return np.sort(np.array([float(mpmath.sqrt(mpmath.re(e))) for e in ev]))[::-1]


@pytest.mark.parametrize("n, s", [(30, 1.5), (60, 1.1)])
def test_dtlex_4_1_gramian_matches_closed_form_and_sb03od(n, s):
    A, B = dtlex_4_1(n, 1.5, s)
    X = B.T @ B
    W = observability_gramian(StateSpace(A, np.zeros((n, 1)), B))  # A^T W A - W + B^T B = 0
    G = np.zeros((n, n))
    G[0] = B[0]
    U, scale, _ = slycot.sb03od(n, 1, A.copy(), np.zeros((n, n)), G, dico="D", fact="N",
                                trans="N")
    U = np.triu(U[:n, :n]) / scale
    ref = np.linalg.norm(U.T @ U - X) / np.linalg.norm(X)  # SB03OD: 1.4e-14 / 8e-15 measured
    err = np.linalg.norm(W - X) / np.linalg.norm(X)
    # A Hammarling factor is backward stable in the factor; X = B^T B is a single term of the
    # series (B A = 0), so the forward error stays at c n eps like SB03OD's (the Bartels-Stewart
    # solve of the same equation lost 6-9 digits here). Allowed: 100 n eps, >= 40x SB03OD's.
    assert err <= 100 * n * EPS
    assert ref <= 100 * n * EPS  # the reference itself meets the same bound


@pytest.mark.parametrize("tau", [1e4, 1e6, 1e8])
def test_dtdsx_2_1_hsv_match_mpmath_and_ab09ad(tau):
    A, B, C = dtdsx_2_1(tau)
    exact = mp_hsv(A, B, C)
    hsv = hankel_singular_values(StateSpace(A, B, C)).values
    ab09ad = slycot.ab09ad("D", "B", "N", 4, 1, 1, A.copy(), B.copy(), C.copy(), nr=4,
                           tol=0.0)[-1]
    n = 4
    # AB09AD's accuracy: Hammarling factors and one SVD give each value to about n eps sigma_1
    # absolute; 16 n eps sigma_1 allows the constant. The bar: values >= 1e-8 sigma_1
    # agree to 1e-8 relative (here every value is >= 1e-8 sigma_1).
    for vals in (hsv, ab09ad):
        assert np.max(np.abs(vals - exact)) <= 16 * n * EPS * exact[0]
        big = exact >= 1e-8 * exact[0]
        assert np.all(np.abs(vals - exact)[big] <= 1e-8 * exact[big])


def test_sb03md_discrete_example_general_stein():
    # SB03MD's discrete-time example data (A^T X A - X = C): the Stein equation for an unstable
    # A (|lambda_i lambda_j| != 1 keeps it uniquely solvable); solve_stein(A^T, -C) is the same.
    A = np.array([[3.0, 1.0, 1.0], [1.0, 3.0, 0.0], [0.0, 0.0, 3.0]])
    Cm = np.array([[25.0, 24.0, 15.0], [24.0, 32.0, 8.0], [15.0, 8.0, 40.0]])
    X = solve_stein(A.T, -Cm)
    _, _, Xs, scale, *_ = slycot.sb03md57(A.copy(), C=Cm.copy(), dico="D", job="X", fact="N",
                                          trana="N")
    Xs = Xs / scale
    # ||S^-1|| = 1 / min |lambda_i lambda_j - 1| ~ 1/3 here: both solutions carry c n eps ||X||.
    assert np.linalg.norm(X - Xs) <= 64 * 3 * EPS * np.linalg.norm(Xs)
    assert np.linalg.norm(A.T @ X @ A - X - Cm) <= 64 * 3 * EPS * 10 * np.linalg.norm(X)


def test_stein_factor_small_eigenvalues_keep_relative_accuracy():
    # A Gramian with eigenvalues spanning 1e-20..1: the factor resolves the small ones relative
    # to themselves (eigh of the formed Gramian would put them at the eps ||W|| noise floor).
    lam = np.array([0.5, 0.1, 0.01])
    B = np.array([[1.0], [1e-5], [1e-10]])
    L = stein_factor(np.diag(lam), B)
    W = L @ L.conj().T
    exact = B @ B.T / (1 - np.outer(lam, lam))
    # entrywise relative: every operation on the diagonal form is a few roundings
    assert np.max(np.abs(W - exact) / np.abs(exact)) <= 32 * EPS


def test_modal_hammarling_small_hsv_on_slow_modes():
    # Modal route: the Hammarling recursion on diag(exp(s)) with 1 - lambda_i conj(lambda_j)
    # taken from s (1 - lambda = 1e-9 resolved to full precision); oracle: the same s in 50 digits.
    from mccc_theory import ModalSystem

    s = np.array([-1e-9, -1e-3, -0.5, -2.0])
    B = np.array([[1e-4], [1.0], [1.0], [1e-3]])
    C = np.array([[1e-4, 1.0, -1.0, 1e-3]])
    exact = mp_hsv(s, B, C)
    hsv = hankel_singular_values(ModalSystem(s + 0j, B, C)).values
    n = 4
    # AB09AD-type accuracy, as for DTDSX 2.1 (values span 1e-7 sigma_1 ... sigma_1)
    assert np.max(np.abs(hsv - exact)) <= 16 * n * EPS * exact[0]
    big = exact >= 1e-8 * exact[0]
    assert np.all(np.abs(hsv - exact)[big] <= 1e-8 * exact[big])
