"""Controllability, observability and readout Gramians; rank-revealing factors; Hankel singular values.

Conventions (THEORY §2, MCCC convention of :mod:`mccc_theory.systems`)::

    Wc(N) = sum_{k=0}^{N-1} A^k B B^H (A^H)^k,      Wc = Wc(inf),
    Wo(N) = sum_{k=0}^{N-1} (A^H)^k C^H C A^k,      Wo = Wo(inf),

so ``Wc`` solves the Stein equation ``A W A^H - W + B B^H = 0`` and ``Wo`` solves
``A^H W A - W + C^H C = 0``. ``C`` is the system's own readout (the MCCC ``C``, which reads the
state after the newest input): the Hankel operator is ``[C A^(i+j) B]_{i,j>=0}`` and the Hankel
singular values are ``sqrt(eig(Wc Wo))`` (never computed that way).

For a :class:`~mccc_theory.systems.ModalSystem` (``A = diag(exp(s))``) the closed form is, with
``s_ij = s_i + conj(s_j)``::

    Wc(N)_ij = (B B^H)_ij * expm1(N s_ij) / expm1(s_ij),     Wc_ij = -(B B^H)_ij / expm1(s_ij),

evaluated from the log-eigenvalues with a complex ``expm1`` and with the angle sum
``Im s_ij = theta_i - theta_j`` wrapped into (-pi, pi] exactly (against a double-double pi), so
modes near ``lambda = -1`` keep their digits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla

from .errors import BackendUnavailableError, MethodError, NotRealError, ShapeError, UnstableError
from .systems import ModalSystem, check_stable_system
from .validation import as_array, check_choice, check_horizon

__all__ = [
    "controllability_gramian",
    "observability_gramian",
    "readout_gramian",
    "GramianFactor",
    "gramian_factor",
    "HankelSingularValues",
    "hankel_singular_values",
    "solve_stein",
    "stein_factor",
    "METHODS",
    "FACTORS",
]

METHODS = ("auto", "modal", "dense", "slycot")
FACTORS = ("auto", "hammarling", "eigh", "pivoted_cholesky")

# pi = _PI_HI + _PI_LO to about 32 digits (Cody-Waite split); _PI_HI is the double nearest pi.
_PI_HI = np.pi
_PI_LO = 1.2246467991473532e-16
# floor(pi * 2^256) (the leading hex digits of pi), for exact reduction of N * theta mod 2 pi.
_FRAC_BITS = 256
_PI_FIXED = int("3243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89", 16)


def _reduce_angle(theta: np.ndarray) -> np.ndarray:
    """``theta`` reduced into [-pi, pi] against the double-double 2 pi (exact for |theta| <= pi)."""
    k = np.round(theta / (2 * _PI_HI))
    out = theta.copy()
    big = k != 0
    out[big] = (theta[big] - k[big] * (2 * _PI_HI)) - k[big] * (2 * _PI_LO)
    return out


def _angle_difference(ti: np.ndarray, tj: np.ndarray) -> np.ndarray:
    """``ti - tj`` (elementwise) wrapped into (-pi, pi], with full relative accuracy near 0.

    For angles in [-pi, pi] the raw difference lies in [-2 pi, 2 pi]; where it is past +-pi, the
    wrapped value is ``(ti - pi) - (tj + pi)`` (or the mirror). Each bracket is exact by Sterbenz's
    lemma when the result is small (ti near pi, tj near -pi), and the low part of 2 pi is then
    applied, so ``lambda_i conj(lambda_j)`` near 1 is resolved to a few ulps of its distance to 1.
    """
    d = ti - tj
    hi = d > _PI_HI
    lo = d < -_PI_HI
    d = np.where(hi, (ti - _PI_HI) - (tj + _PI_HI) - 2 * _PI_LO, d)
    return np.where(lo, (ti + _PI_HI) - (tj - _PI_HI) + 2 * _PI_LO, d)


def _expm1_complex(a_i, r_i, a_j, r_j, y):
    """``exp(x_i + x_j + iy) - 1`` accurate near 0, from ``a = expm1(x)``, ``r = exp(x)`` per mode.

    ``expm1(x_i + x_j) = a_i + r_i a_j`` and, with ``h = sin(y/2)``, ``c = cos(y/2)``,
    ``exp(x + iy) - 1 = expm1(x) (1 - 2 h^2) - 2 h^2 + i exp(x) 2 h c``. For ``x <= 0`` and
    ``|y| < pi/2`` every sum has terms of one sign, so there is no cancellation where the result
    is small: a few ulps relative, with two transcendentals per entry (the exponentials are per
    mode). ``x = -inf`` (``a = -1``, ``r = 0``) gives exactly ``-1``.
    """
    A = a_i + r_i * a_j
    h = np.sin(0.5 * y)
    c = np.cos(0.5 * y)
    h2 = 2.0 * h * h
    out = np.empty(A.shape, complex)
    out.real = A * (1.0 - h2) - h2
    out.imag = (r_i * r_j) * (2.0 * h * c)
    return out


def _scaled_angles(theta: np.ndarray, scale: int) -> np.ndarray:
    """``scale * theta_i`` reduced into [-pi, pi], exact up to the final rounding.

    A double ``theta = a / 2^b`` times an integer is an exact rational; it is reduced modulo
    ``2 pi`` in 256-bit fixed point (Python integers), so the angle of ``lambda^N`` keeps full
    absolute accuracy even for ``N = 10^12``, where the rounded product ``N * theta`` would be off
    by ``N |theta| eps``. ``O(m)`` big-integer operations.
    """
    out = np.empty_like(theta)
    two_pi = 2 * _PI_FIXED
    for i, t in enumerate(theta.tolist()):
        num, den = t.as_integer_ratio()
        r = ((scale * num) << _FRAC_BITS) // den % two_pi
        if r > _PI_FIXED:
            r -= two_pi
        out[i] = r / (1 << _FRAC_BITS)
    return out


def _one_minus_outer(s: np.ndarray, scale: int) -> np.ndarray:
    """``1 - exp(scale (s_i + conj s_j))`` for all i, j, accurate to a few ulps of its modulus.

    Fast path: 1 minus the outer product of ``mu = exp(scale s)``, whose absolute error of a few
    ulps is also a few ulps relative wherever the modulus is >= 1/2. The remaining entries
    (products near 1: slow modes with close angles) are recomputed from the log-eigenvalues with
    :func:`_expm1_complex` and exactly wrapped angle differences.

    Cost: one m x m complex outer product written in place, one modulus pass for the near mask,
    and two sines per near entry of the upper triangle (mirrored: the result is Hermitian); no
    other m x m temporaries.
    """
    m = s.shape[0]
    theta = _reduce_angle(s.imag)
    phi = theta if scale == 1 else _scaled_angles(theta, scale)
    x = scale * s.real
    with np.errstate(invalid="ignore"):
        mu = np.exp(x) * np.exp(1j * phi)
    mu = np.where(np.isneginf(s.real), 0.0, mu)
    out = np.multiply.outer(-mu, mu.conj())
    out += 1.0
    k = np.flatnonzero(np.abs(out) < 0.5)
    i, j = np.divmod(k, m)
    upper = i <= j
    k, i, j = k[upper], i[upper], j[upper]
    if k.size:
        a, r = np.expm1(x), np.exp(x)
        # scale * (wrapped difference) is relatively accurate while it needs no reduction;
        # beyond pi the exactly reduced per-mode angles are used.
        y = scale * _angle_difference(theta[i], theta[j])
        big = np.abs(y) > _PI_HI
        if big.any():
            y[big] = _angle_difference(phi[i[big]], phi[j[big]])
        near = -_expm1_complex(a[i], r[i], a[j], r[j], y)
        flat = out.reshape(-1)
        flat[k] = near
        flat[j * m + i] = near.conj()
    return out


def solve_stein(A, Q, *, horizon: int | None = None) -> np.ndarray:
    """Solve ``A X A^H - X + Q = 0`` (or sum its first ``horizon`` terms) densely.

    ``X = sum_{k=0}^{N-1} A^k Q (A^H)^k`` with ``N = horizon`` (``None``: infinite, ``A`` stable).

    Parameters
    ----------
    A : (n, n) array, spectral radius < 1 for the infinite horizon
    Q : (n, n) array
        Any square matrix: the general Stein equation is solved. When ``Q`` is exactly
        Hermitian, so is the returned ``X`` (its Hermitian part is returned, removing rounding).

    Returns
    -------
    X : (n, n) array, real if ``A`` and ``Q`` are real.

    Notes
    -----
    Infinite horizon: Bartels-Stewart on the complex Schur form ``A = U T U^H``; the columns of
    ``X~ = U^H X U`` are found from the last one backwards, each by one triangular solve with
    ``conj(T_jj) T - I``: ``O(n^3)`` flops. Finite horizon: doubling on the binary expansion of
    ``N``, ``X(a + b) = X(a) + A^a X(b) (A^a)^H``, ``O(n^3 log N)`` flops.

    References
    ----------
    R. H. Bartels and G. W. Stewart, "Solution of the matrix equation AX + XB = C", CACM 15 (1972).

    Examples
    --------
    >>> import numpy as np
    >>> A = np.array([[0.5, 0.2], [0.0, -0.3]]); Q = np.eye(2)
    >>> X = solve_stein(A, Q)
    >>> bool(np.allclose(A @ X @ A.T - X + Q, 0, atol=1e-14))
    True
    """
    A = as_array(A, "A", ndim=2)
    Q = as_array(Q, "Q", ndim=2)
    n = A.shape[0]
    if A.shape != (n, n) or Q.shape != (n, n):
        raise ShapeError(f"A, Q: expected square matrices of one size, found {A.shape}, {Q.shape}")
    real = not (np.iscomplexobj(A) or np.iscomplexobj(Q))
    if horizon is not None:
        X = _stein_doubling(A, Q, horizon)
    else:
        T, U = sla.schur(A.astype(complex), output="complex")
        Qt = U.conj().T @ Q @ U
        Xt = np.zeros((n, n), complex)
        eye = np.eye(n)
        for j in range(n - 1, -1, -1):
            rhs = -Qt[:, j]
            if j < n - 1:
                rhs = rhs - T @ (Xt[:, j + 1:] @ T[j, j + 1:].conj())
            Xt[:, j] = sla.solve_triangular(T.conj()[j, j] * T - eye, rhs)
        X = U @ Xt @ U.conj().T
    if np.array_equal(Q, Q.conj().T):
        X = 0.5 * (X + X.conj().T)  # the exact solution is Hermitian: drop rounding's skew part
    return X.real if real else X


def _stein_doubling(A, Q, N):
    P, S = A.copy(), Q.copy()  # A^(2^k), X(2^k)
    Pacc, R = np.eye(A.shape[0], dtype=np.result_type(A, Q)), np.zeros_like(S)
    first = True
    while N:
        if N & 1:
            R = S.copy() if first else R + Pacc @ S @ Pacc.conj().T
            Pacc = P.copy() if first else Pacc @ P
            first = False
        N >>= 1
        if N:
            S = S + P @ S @ P.conj().T
            P = P @ P
    return R


def stein_factor(A, B) -> np.ndarray:
    """Cholesky-type factor ``L`` of the solution ``X = L L^H`` of ``A X A^H - X + B B^H = 0``.

    ``X`` is never formed: Hammarling's method works on the factor, so ``L`` is accurate where
    ``X`` has tiny eigenvalues (they are resolved relative to themselves, not to ``||X||``), which
    is what Hankel singular values far below ``sigma_1`` need.

    Parameters
    ----------
    A : (n, n) array, spectral radius < 1
    B : (n, p) array

    Returns
    -------
    L : (n, n) complex array, ``L = Z U`` with ``A = Z T Z^H`` the complex Schur form and ``U``
        upper triangular (``U U^H`` solves the Schur-form equation).

    Raises
    ------
    ShapeError, NonFiniteError
        For malformed ``A`` or ``B``.
    UnstableError
        If the Schur form has an eigenvalue with ``|lambda| >= 1`` (no PSD solution).

    Notes
    -----
    Hammarling (1982, discrete form): with ``T = Z^H A Z`` and ``B~ = Z^H B`` compressed to at most
    ``n`` columns, the last row and column of ``U`` follow from the last diagonal entry ``tau``:
    ``upsilon = ||beta|| / sqrt(1 - |tau|^2)`` and ``(I - conj(tau) T_1) u = conj(tau) upsilon t +
    B_1 g`` with ``g = beta^H / upsilon``; the leading block solves the same equation with
    ``B_1`` replaced by ``[B_1, T_1 u + upsilon t] Y``, ``Y`` an orthonormal basis of the
    complement of the unit vector ``[g; conj(tau)]``. No subtraction of Gramian-sized terms
    occurs. Cost ``O(n^3)`` (one triangular solve per column) plus the Schur form.

    References
    ----------
    S. J. Hammarling, "Numerical solution of the stable, non-negative definite Lyapunov
    equation", IMA J. Numer. Anal. 2 (1982); SLICOT SB03OD.

    Examples
    --------
    >>> import numpy as np
    >>> A = np.array([[0.9, 0.5], [0.0, -0.3]]); B = np.array([[1.0], [1.0]])
    >>> L = stein_factor(A, B)
    >>> X = L @ L.conj().T
    >>> bool(np.linalg.norm(A @ X @ A.T - X + B @ B.T) < 1e-13)
    True
    """
    A = as_array(A, "A", ndim=2)
    B = as_array(B, "B", ndim=2)
    n = A.shape[0]
    if A.shape != (n, n) or B.shape[0] != n:
        raise ShapeError(f"A, B: expected A (n, n) and B (n, p), found {A.shape}, {B.shape}")
    T, Z = sla.schur(A.astype(complex), output="complex")
    tau = np.diag(T)
    rho = np.abs(tau)
    if n and rho.max() >= 1:
        i = int(np.argmax(rho))
        raise UnstableError(f"A: eigenvalue {tau[i]:.6g} of the Schur form has |lambda| = "
                            f"{rho[i]:.17g} >= 1; the Stein equation needs a stable A")
    with np.errstate(divide="ignore"):  # lambda = 0 gives log 0 = -inf and 1 - 0 = 1 exactly
        d = -np.expm1(2 * np.log(rho))
    U = _hammarling(T, Z.conj().T @ B, d, None)
    return Z @ U


def _hammarling(T, B, d, near):
    """Upper-triangular ``U`` with ``T U U^H T^H - U U^H + B B^H = 0`` (``T`` upper triangular).

    ``d[j] = 1 - |T_jj|^2``. ``near`` is None for a general triangular ``T``; for a diagonal
    ``T`` it is the matrix ``1 - conj(T_jj) T_ii`` computed to full relative accuracy (from
    log-eigenvalues), which replaces the triangular solves.
    """
    n = T.shape[0]
    if B.shape[1] > n:  # same B B^H with n columns: B = R^H Q^H
        B = np.linalg.qr(B.conj().T, mode="r").conj().T
    B = B.astype(complex)
    U = np.zeros((n, n), complex)
    for j in range(n - 1, -1, -1):
        beta = B[j]
        nb = np.linalg.norm(beta)
        B1 = B[:j]
        if nb == 0:  # mode j is not excited: zero row and column of U, B_1 unchanged
            B = B1
            continue
        tau = T[j, j]
        ups = nb / np.sqrt(d[j])
        g = beta.conj() / ups
        if near is None:
            t = T[:j, j]
            rhs = np.conj(tau) * ups * t + B1 @ g
            u = sla.solve_triangular(np.eye(j) - np.conj(tau) * T[:j, :j], rhs) if j else rhs
            w = T[:j, :j] @ u + ups * t
        else:
            u = (B1 @ g) / near[:j, j]
            w = np.diag(T)[:j] * u
        U[:j, j], U[j, j] = u, ups
        v = np.r_[g, np.conj(tau)]
        v = v / np.linalg.norm(v)  # unit in exact arithmetic (|g|^2 + |tau|^2 = 1)
        Q = np.linalg.qr(v[:, None], mode="complete")[0]
        B = np.c_[B1, w] @ Q[:, 1:]  # B_1 B_1^H + w w^H - u u^H, without cancellation
    return U


def _resolve_method(system, method, horizon):
    check_choice(method, "method", METHODS)
    if method == "auto":
        return "modal" if isinstance(system, ModalSystem) else "dense"
    if method == "modal" and not isinstance(system, ModalSystem):
        raise MethodError("method: 'modal' needs a ModalSystem, found a dense StateSpace; use "
                          "method='dense' (or convert with mccc_theory.reduction.to_modal)")
    if method == "slycot" and horizon is not None:
        raise MethodError(f"method: 'slycot' (SB03MD) solves the infinite-horizon equation only, "
                          f"found horizon={horizon}; use method='modal' or 'dense'")
    return method


def _slycot_stein(A, Q, trans: bool) -> np.ndarray:
    """SB03MD: ``A X A^T - X + Q = 0`` (trans) or ``A^T X A - X + Q = 0``; real data only."""
    try:
        import slycot
    except ImportError as exc:
        raise BackendUnavailableError("method='slycot' needs slycot: pip install slycot") from exc
    _, _, X, scale, *_ = slycot.sb03md57(A.copy(), C=-Q.copy(), dico="D", job="X", fact="N",
                                         trana="T" if trans else "N")
    return X / scale


def _gramian(system, horizon, method, kind):
    system = check_stable_system(system, convention="any")  # Gramian formulas: both conventions
    horizon = check_horizon(horizon)
    method = _resolve_method(system, method, horizon)
    ctrl = kind == "controllability"
    if method == "modal":
        # Wc_ij = (B B^H)_ij K(s)_ij and Wo_ij = (C^H C)_ij K(conj s)_ij, where
        # K(s)_ij = sum_{k<N} exp(k (s_i + conj s_j)) = (1 - mu_ij^N) / (1 - mu_ij),
        # mu_ij = exp(s_i + conj s_j): one zgemm, then the kernel applied in place.
        s, M = (system.s, system.B) if ctrl else (system.s.conj(), system.C.conj().T)
        W = (M @ M.conj().T).astype(complex, copy=False)
        if horizon is not None:
            W *= _one_minus_outer(s, horizon)
        W /= _one_minus_outer(s, 1)
        return W
    if method == "dense":
        ss = system.to_state_space() if isinstance(system, ModalSystem) else system
        A, M = (ss.A, ss.B) if ctrl else (ss.A.conj().T, ss.C.conj().T)
        if horizon is not None:
            return solve_stein(A, M @ M.conj().T, horizon=horizon)
        # Hammarling's factor: W = L L^H is PSD by construction and keeps its digits where a
        # Bartels-Stewart solve of the same equation loses 1/(1 - rho^2) (SLICOT DTLEX 4.1)
        L = stein_factor(A, M)
        W = L @ L.conj().T
        W = 0.5 * (W + W.conj().T)
        return W if np.iscomplexobj(A) or np.iscomplexobj(M) else W.real
    # slycot: real data only; conjugate-closed modal systems go through their real realization
    if isinstance(system, ModalSystem):
        if not system.is_conjugate_closed():
            raise NotRealError("system: method='slycot' needs a real system; this modal system is "
                               "not conjugate-closed. Use method='modal' or 'dense'")
        T = system.realification()
        ss = system.real_realization()
    else:
        if not system.is_real:
            raise NotRealError("system: method='slycot' needs real matrices; use method='dense'")
        T, ss = None, system
    if ctrl:
        W = _slycot_stein(ss.A, ss.B @ ss.B.T, trans=True)
    else:
        W = _slycot_stein(ss.A, ss.C.T @ ss.C, trans=False)
    W = 0.5 * (W + W.T)
    if T is None:
        return W
    # h_real = T h: Wc_real = T Wc T^H, Wo_real = T^-H Wo T^-1 = T Wo T^H (T unitary)
    return T.conj().T @ W @ T




def _factor(system, method, kind):
    """Hammarling factor ``L`` (``W = L L^H``) of the infinite-horizon Gramian of ``kind``."""
    ctrl = kind == "controllability"
    if method == "modal":
        s = system.s if ctrl else system.s.conj()
        M = system.B if ctrl else system.C.conj().T
        # diagonal T = diag(exp(s)): 1 - |lambda_j|^2 and 1 - lambda_i conj(lambda_j) from s
        d = -np.expm1(2 * s.real)
        return _hammarling(np.diag(np.exp(s)), M, d, _one_minus_outer(s, 1))
    ss = system.to_state_space() if isinstance(system, ModalSystem) else system
    return stein_factor(ss.A, ss.B) if ctrl else stein_factor(ss.A.conj().T, ss.C.conj().T)


def controllability_gramian(system, horizon: int | None = None, method: str = "auto"):
    """``Wc(N) = sum_{k=0}^{N-1} A^k B B^H (A^H)^k``, or ``Wc`` solving ``A W A^H - W + B B^H = 0``.

    Parameters
    ----------
    system : ModalSystem or StateSpace (stable)
    horizon : int >= 1 or None
        ``None`` is the infinite horizon.
    method : {"auto", "modal", "dense", "slycot"}
        ``"auto"`` picks ``"modal"`` for a :class:`ModalSystem` and ``"dense"`` for a
        :class:`StateSpace`. ``"modal"``: closed form from log-eigenvalues (``O(m^2)`` after
        forming ``B B^H``; accurate to a few ulps as ``1 - |lambda| -> 0``). ``"dense"``:
        :func:`solve_stein` (Bartels-Stewart, or doubling for a finite horizon). ``"slycot"``:
        SLICOT SB03MD, real data and infinite horizon only (conjugate-closed modal systems go
        through their real realization and are mapped back).

    Returns
    -------
    W : (m, m) Hermitian positive semidefinite array in the system's coordinates.

    Raises
    ------
    UnstableError, OrderError (horizon <= 0), MethodError (unknown or inapplicable method),
    NotRealError (slycot on complex data), BackendUnavailableError (slycot missing).

    Examples
    --------
    >>> import numpy as np
    >>> from mccc_theory import ModalSystem
    >>> sys = ModalSystem.from_eigenvalues([0.9, -0.5 + 0.1j], [[1.0], [2.0]], [[1.0, 1.0]])
    >>> W = controllability_gramian(sys)
    >>> A, B = np.diag(sys.lam), sys.B
    >>> bool(np.linalg.norm(A @ W @ A.conj().T - W + B @ B.conj().T) < 1e-13)
    True
    """
    return _gramian(system, horizon, method, "controllability")


def observability_gramian(system, horizon: int | None = None, method: str = "auto"):
    """``Wo(N) = sum_{k=0}^{N-1} (A^H)^k C^H C A^k``, or ``Wo`` solving ``A^H W A - W + C^H C = 0``.

    ``C`` is the system's own (MCCC) readout; see the module docstring. Parameters, returns and
    errors as :func:`controllability_gramian`.
    """
    return _gramian(system, horizon, method, "observability")


def readout_gramian(C_family) -> np.ndarray:
    """``Q_read = sum_q C(q)^H C(q)``: the read-once replacement of the observability Gramian.

    Parameters
    ----------
    C_family : (Q, m) or (Q, k, m) array
        The readout of each query (one row, or a ``k x m`` block per query).

    Returns
    -------
    Q_read : (m, m) Hermitian positive semidefinite array.
    """
    C = as_array(C_family, "C_family")
    if C.ndim == 2:
        C = C[:, None, :]
    if C.ndim != 3:
        raise ShapeError(f"C_family: expected shape (Q, m) or (Q, k, m), found {C.shape}")
    Cf = C.reshape(-1, C.shape[-1])
    return Cf.conj().T @ Cf


@dataclass(frozen=True)
class GramianFactor:
    """``W ~= L L^H`` with ``L`` of full column rank ``rank``; eigen-directions below ``cut`` dropped."""

    L: np.ndarray
    rank: int
    cut: float


def gramian_factor(W, *, method: str = "eigh", rtol: float | None = None) -> GramianFactor:
    """Rank-revealing factor ``W ~= L L^H`` of a Hermitian positive semidefinite matrix.

    Parameters
    ----------
    W : (n, n) Hermitian PSD array
    method : {"eigh", "pivoted_cholesky"}
        ``"eigh"``: ``W = U diag(w) U^H``, ``L = U_k sqrt(w_k)`` for ``w_k > cut`` (``O(n^3)``,
        the most robust). ``"pivoted_cholesky"``: LAPACK ``?pstrf`` stopped at ``cut`` (cheaper
        for low numerical rank: ``O(n^2 r)``).
    rtol : float, optional
        Relative cut; default ``n * eps``. Directions with eigenvalue (or pivot) below
        ``rtol * lambda_max(W)`` are treated as numerically zero.

    Returns
    -------
    GramianFactor(L (n, r), rank r, cut)
    """
    W = as_array(W, "W", ndim=2)
    n = W.shape[0]
    if W.shape != (n, n):
        raise ShapeError(f"W: expected a square matrix, found {W.shape}")
    check_choice(method, "method", ("eigh", "pivoted_cholesky"))
    rtol = n * np.finfo(float).eps if rtol is None else float(rtol)
    W = 0.5 * (W + W.conj().T)
    if method == "eigh":
        w, U = np.linalg.eigh(W)
        cut = rtol * max(w[-1], 0.0)
        keep = w > cut
        keep &= w > 0
        L = U[:, keep][:, ::-1] * np.sqrt(w[keep][::-1])
        return GramianFactor(L, int(keep.sum()), cut)
    scale = float(np.max(np.abs(np.diag(W)))) if n else 0.0
    cut = rtol * scale
    pstrf = sla.lapack.zpstrf if np.iscomplexobj(W) else sla.lapack.dpstrf
    R, piv, rank, info = pstrf(W.copy(), lower=1, tol=cut if cut > 0 else -1.0)
    if info < 0:  # info = 1 only says W is rank deficient; < 0 is a bad LAPACK argument
        raise RuntimeError(f"LAPACK ?pstrf rejected argument {-info}")
    L = np.tril(R)[:, :rank]
    P = np.zeros_like(L)
    P[piv - 1] = L
    return GramianFactor(P, int(rank), cut)


@dataclass(frozen=True)
class HankelSingularValues:
    """Hankel singular values ``sigma_1 >= sigma_2 >= ...`` with their numerical-rank cut.

    ``values`` holds ``min(rank Wc, rank Wo)`` values (directions the factors dropped are below
    the resolution of the Gramians); ``cut = n eps sigma_1`` is the level below which values are
    not significant, and ``rank`` counts the values above it.
    """

    values: np.ndarray
    cut: float
    rank: int
    order: int

    @property
    def significant(self) -> np.ndarray:
        return self.values[: self.rank]

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self.values, dtype=dtype)


def hankel_singular_values(system, horizon: int | None = None, method: str = "auto",
                           *, factor: str = "auto") -> HankelSingularValues:
    """``sigma_i = sqrt(eig(Wc Wo))`` computed as the singular values of ``Lo^H Lc``.

    Parameters
    ----------
    system : ModalSystem or StateSpace (stable)
    horizon : int or None
        Finite horizon ``N`` uses ``Wc(N), Wo(N)``; ``None`` the infinite-horizon Gramians.
    method : Gramian method, see :func:`controllability_gramian`
    factor : {"auto", "hammarling", "eigh", "pivoted_cholesky"}
        How ``Lc, Lo`` are obtained. ``"hammarling"``: directly from the Stein equations
        (:func:`stein_factor`; for a modal system on ``diag(exp(s))`` with every
        ``1 - lambda_i conj(lambda_j)`` taken from ``s``), never forming the Gramians, so small
        values are accurate to about ``n eps sigma_1`` absolute like SLICOT AB09AD (infinite
        horizon, methods ``modal`` and ``dense`` only). ``"eigh"``, ``"pivoted_cholesky"``:
        rank-revealing factors of the computed Gramians (:func:`gramian_factor`); a value
        ``sigma_i`` then carries an absolute error of about ``sqrt(n eps) sigma_1``.
        ``"auto"``: ``"hammarling"`` where it applies, else ``"eigh"``.

    Returns
    -------
    HankelSingularValues

    Notes
    -----
    Square-root method: factors ``Wc = Lc Lc^H``, ``Wo = Lo Lo^H`` and one SVD;
    the eigenvalues of ``Wc Wo`` are never formed (they come out complex or negative on
    ill-conditioned systems). Similarity transforms ``(T A T^-1, T B, C T^-1)`` leave the values
    unchanged. Cost ``O(n^3)``.
    """
    check_choice(factor, "factor", FACTORS)  # named as the caller knows it
    system = check_stable_system(system, convention="any")  # Gramian formulas: both conventions
    horizon = check_horizon(horizon)
    resolved = _resolve_method(system, method, horizon)
    direct = horizon is None and resolved != "slycot"
    if factor == "hammarling" and not direct:
        raise MethodError(f"factor: 'hammarling' factors the infinite-horizon Stein equations with "
                          f"method 'modal' or 'dense', found horizon={horizon}, method="
                          f"{resolved!r}; use factor='eigh'")
    if factor == "hammarling" or (factor == "auto" and direct):
        Lc = _factor(system, resolved, "controllability")
        Lo = _factor(system, resolved, "observability")
    else:
        fac = "eigh" if factor == "auto" else factor
        Lc = gramian_factor(controllability_gramian(system, horizon, resolved), method=fac).L
        Lo = gramian_factor(observability_gramian(system, horizon, resolved), method=fac).L
    n = Lc.shape[0]
    if Lc.shape[1] == 0 or Lo.shape[1] == 0:
        return HankelSingularValues(np.zeros(0), 0.0, 0, n)
    sv = np.linalg.svd(Lo.conj().T @ Lc, compute_uv=False)
    cut = n * np.finfo(float).eps * sv[0]
    return HankelSingularValues(sv, cut, int(np.sum(sv > cut)), n)
