"""System norms in the MCCC convention: certified H-infinity bracket, H2 and Hankel norms.

Convention (:mod:`mccc_theory.systems`): ``h_t = A h_{t-1} + B u_t, y_t = C h_t + D u_t``, so the
transfer function on the unit circle is::

    G(z) = C (I - z^-1 A)^-1 B + D = z C (zI - A)^-1 B + D,      z = exp(i omega),

and ``||G||_inf = sup_omega sigma_max(G(exp(i omega)))``. The Markov parameters are ``C B + D``
(lag 0) and ``C A^tau B`` (lag ``tau >= 1``), so ``||G||_2^2 = sum_tau ||g_tau||_F^2``. The Hankel
operator is ``[C A^(i+j) B]_{i,j>=0}`` (it includes lag 0) and ``||G||_H = sigma_1``, the largest
Hankel singular value (:func:`mccc_theory.gramians.hankel_singular_values`). It is the textbook
Hankel operator of the strictly proper textbook system ``(A, B, C, 0)``, whose transfer function
differs from ``G - D`` only by the unimodular factor ``z``: H-infinity and Hankel norms of
differences of systems with equal ``D`` are the same in both forms.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Real

import numpy as np
import scipy.linalg as sla
from scipy.optimize import minimize_scalar

from .errors import DTypeError, OrderError, ShapeError, UnstableError
from .gramians import _angle_difference, _reduce_angle
from .systems import ModalSystem, StateSpace, _conjugate_permutation, check_stable_system
from .validation import as_array, check_horizon

__all__ = [
    "HinfBracket",
    "hinf_norm",
    "hinf_error",
    "h2_norm",
    "hankel_norm",
    "frequency_response",
    "error_system",
]

EPS = np.finfo(float).eps
# Level-set decision (see _LevelSet.candidates): first-order eigenvalue perturbation bounds are
# taken 10 times over.
_SAFETY = 10.0
_MAX_LEVEL_SET_TESTS = 40  # tests at the requested width before the bracket is widened
_MAX_WIDTH = 1.0  # a bracket that cannot be certified within upper <= 2 lower is refused
_CELL_BUDGET = 1 << 16  # sigma_max evaluations allowed per local proof (_below)
# Dense parts whose eigenvector matrix has a condition number up to this are evaluated through a
# modal surrogate (closed form, accurate peaks); others through their Schur form.
_KAPPA_MODAL = 1e8
# Dense blocks up to this order are evaluated by batched LU over frequencies (O(n^3) each but
# vectorised); larger ones by one triangular solve per frequency on the Schur form (O(n^2 p)).
_BATCHED_SOLVE_MAX = 48


def _check_rtol(rtol) -> float:
    if isinstance(rtol, bool) or not isinstance(rtol, Real):
        raise DTypeError(f"rtol: expected a float, found {type(rtol).__name__} {rtol!r}")
    rtol = float(rtol)
    if not (1e-12 <= rtol <= 0.5):
        raise OrderError(f"rtol: expected a relative bracket width in [1e-12, 0.5], found {rtol!r}; "
                         "below 1e-12 the level-set test cannot separate gamma from rounding")
    return rtol


def _check_system(system, name: str = "system"):
    """A stable system whose matrices are read in the MCCC convention (textbook ones converted)."""
    return check_stable_system(system, name, convention="mccc")


def _near_circle(name: str, what: str) -> UnstableError:
    return UnstableError(f"{name}: {what} lies within rounding of the unit circle, so the system "
                         "cannot be told apart from a marginally stable one (|lambda| = 1, infinite "
                         "H-infinity norm); the bracket cannot be certified")


def _modal_surrogate(sys: StateSpace, name: str):
    """``(ModalSystem, bound)``: a modal system within ``bound`` of ``sys`` on the unit circle.

    ``A V = V Lambda`` from LAPACK; the surrogate is ``(s = log lambda, V^-1 B, C V, D)``, whose
    poles are ``Lambda^ = exp(s)`` exactly. With the residual ``Res = A V - V Lambda^`` computed in
    extended precision, ``A = V Lambda^ V^-1 + Res V^-1`` and the resolvent identity give, on
    ``|z| = 1``, ``||G - G_surr|| <= ||C|| K Sum_i ||Res_i|| ||b_i|| / d_i`` (+ the rounding of
    ``V^-1 B`` and ``C V``) with ``d_i = 1 - |lambda_i|`` and ``K >= sup ||(I - A/z)^-1||``.
    Returns None when ``V`` is too ill-conditioned (defective or nearly defective ``A``).
    """
    A, B, C = sys.A, sys.B, sys.C
    n = sys.n
    lam, V = sla.eig(A)
    sv = np.linalg.svd(V, compute_uv=False)
    if not (sv[-1] > 0 and sv[0] / sv[-1] <= _KAPPA_MODAL):
        return None
    v_inv = (1 + 1e-8) / sv[-1]  # ||V^-1||, with the SVD's relative error covered
    with np.errstate(divide="ignore"):
        s = np.log(lam)
    s = np.where(lam == 0, complex(-np.inf, 0.0), s)
    if np.any(s.real >= 0):
        raise _near_circle(name, "an eigenvalue of A")
    Bt = np.linalg.solve(V, B)
    Ct = C @ V
    ld = np.clongdouble
    u = float(np.finfo(np.longdouble).eps)
    Vl = V.astype(ld)
    res = A.astype(ld) @ Vl - Vl * np.exp(s.astype(ld))[None, :]
    res_b = B.astype(ld) - Vl @ Bt.astype(ld)
    res_c = C.astype(ld) @ Vl - Ct.astype(ld)
    # extended-precision rounding of those products: n u |X| |Y| entrywise (columns of V unit)
    nA, nB, nC = (np.linalg.norm(M) for M in (A, B, C))
    rn = np.linalg.norm(res.astype(complex), axis=0) + 4 * n * u * (nA + 1)
    rb = np.linalg.norm(res_b.astype(complex)) + 4 * n * u * (nB + np.linalg.norm(Bt))
    rc = np.linalg.norm(res_c.astype(complex), axis=0) + 4 * n * u * nC
    d = -np.expm1(s.real)
    delta = np.linalg.norm(rn) * v_inv  # >= ||A - V Lambda^ V^-1||_2
    K = sv[0] * v_inv / d.min()  # >= sup_|z|=1 ||(I - Lambda^/z)^-1 ... V^-1|| products
    if delta * K >= 0.5:
        raise _near_circle(name, f"an eigenvalue of A (1 - |lambda| = {d.min():.3g}, uncertain by "
                                 f"{delta * sv[0] * v_inv:.3g})")
    b_norm = np.linalg.norm(Bt, axis=1) + v_inv * rb
    bound = (np.linalg.norm(C, 2) * K / (1 - delta * K) * np.sum(rn * b_norm / d)
             + np.sum((rc * b_norm + np.linalg.norm(Ct, axis=0) * v_inv * rb) / d))
    return ModalSystem(s, Bt, Ct, sys.D), float(bound)


class _Parts:
    """A sum ``sum_k sign_k G_k`` of systems, as an accurate surrogate plus a transfer bound.

    Modal terms (and dense terms with a well-conditioned eigenvector matrix, through
    :func:`_modal_surrogate`) are merged into one modal system evaluated in closed form from its
    log-eigenvalues; other dense terms are kept in their complex Schur form. ``transfer`` bounds
    ``sup_|z|=1 ||G(z) - G_surrogate(z)||``; ``err(omega)`` bounds the rounding of one
    evaluation of ``sigma_max(G_surrogate)``.
    """

    def __init__(self, terms, names):
        q, p = terms[0][0].n_outputs, terms[0][0].n_inputs
        self.q, self.p = q, p
        self.terms = terms
        self.D = np.zeros((q, p), complex)
        self.transfer = 0.0
        self.real = True
        self.dense = []  # (T, Z^H B, sign C Z, K, ||T||): Schur-form parts and resolvent bounds
        s_all, B_all, C_all = [], [], []
        for (sys, sign), name in zip(terms, names, strict=True):
            if (sys.n_outputs, sys.n_inputs) != (q, p):
                raise ShapeError(f"approximation: expected {q} outputs and {p} inputs like the "
                                 f"system, found {sys.n_outputs} outputs and {sys.n_inputs} inputs")
            self.D += sign * sys.D_or_zero
            if isinstance(sys, ModalSystem):
                self.real &= sys.is_conjugate_closed()
                modal = sys
            else:
                self.real &= sys.is_real
                got = _modal_surrogate(sys, name)
                if got is None:
                    self._add_schur(sys, sign, name)
                    continue
                modal, bound = got
                self.transfer += bound
            s_all.append(modal.s)
            B_all.append(modal.B)
            C_all.append(sign * modal.C)
        if s_all:
            self.modal = ModalSystem(np.concatenate(s_all), np.vstack(B_all), np.hstack(C_all),
                                     self.D)
            self.real &= self.modal.is_conjugate_closed()
        else:
            self.modal = None
        poles = [self.modal.lam] if self.modal is not None else []
        poles += [np.diag(T) for T, *_ in self.dense]
        self.poles = np.concatenate(poles)
        self.order = self.poles.size
        if self.modal is not None:
            m = self.modal
            self._s = m.s
            self._K = np.einsum("qi,ip->iqp", m.C, m.B).reshape(m.m, q * p)
            self._rn = np.linalg.norm(m.C, axis=0) * np.linalg.norm(m.B, axis=1)  # ||c_i b_i||
            self._theta = _reduce_angle(m.s.imag)
        self._dn = float(np.linalg.norm(self.D, 2))

    def _add_schur(self, sys, sign, name):
        """A dense part kept in Schur form ``A = Z T Z^H`` (with its transfer bound)."""
        A = sys.A.astype(complex)
        n = A.shape[0]
        T, Z = sla.schur(A, output="complex")
        tau = np.diag(T)
        dmin = float(np.min(-np.expm1(np.log(np.maximum(np.abs(tau), 1e-300)))))
        N = np.triu(T, 1)
        nN = float(np.linalg.norm(N, 2))
        # (I - T/z)^-1 = sum_k ((D - I)... ) : for triangular T = Lambda + N, the inverse of
        # I - Lambda/z - N/z is a finite Neumann sum, so ||.|| <= sum_{k<n} ||N||^k / dmin^(k+1)
        K = float(sum(nN**k / dmin ** (k + 1) for k in range(n))) if dmin > 0 else np.inf
        ld = np.clongdouble
        e = float(np.linalg.norm((A.astype(ld) - Z.astype(ld) @ T.astype(ld)
                                  @ Z.conj().T.astype(ld)).astype(complex), 2))
        e += 8 * n * float(np.finfo(np.longdouble).eps) * np.linalg.norm(A)
        if not np.isfinite(K) or K * e >= 0.5:
            raise _near_circle(name, "an eigenvalue of A")
        ZB, CZ = Z.conj().T @ sys.B, sign * (sys.C @ Z)
        nB, nC = np.linalg.norm(sys.B, 2), np.linalg.norm(sys.C, 2)
        # resolvent identity for A vs Z T Z^H, plus the rounding of Z^H B and C Z
        self.transfer += nC * nB * K * K * e / (1 - K * e) + 4 * n * EPS * nC * nB * K
        self.dense.append((T, ZB, CZ, K, float(np.linalg.norm(T, 2))))

    def response(self, omega: np.ndarray) -> np.ndarray:
        """``G_surrogate(exp(i omega))`` for each frequency: shape (F, q, p), complex."""
        omega = np.atleast_1d(np.asarray(omega, float))
        out = np.broadcast_to(self.D, (omega.size, self.q, self.p)).copy()
        if self.modal is not None:
            for lo in range(0, omega.size, 512):  # bounded memory: 512 x m weights at a time
                w = 1.0 / _one_minus_exp(self._s, omega[lo:lo + 512])
                out[lo:lo + 512] += (w @ self._K).reshape(-1, self.q, self.p)
        for T, ZB, CZ, *_ in self.dense:
            out += _schur_response(T, ZB, CZ, omega)
        return out

    def smax(self, omega: np.ndarray) -> np.ndarray:
        G = self.response(omega)
        if min(self.q, self.p) == 1:
            return np.linalg.norm(G.reshape(G.shape[0], -1), axis=1)
        return np.linalg.svd(G, compute_uv=False)[:, 0]

    def err(self, omega: np.ndarray) -> np.ndarray:
        """Bound on the rounding of ``smax(omega)`` (against the surrogate's exact value).

        Each closed-form term ``c_i b_i / (1 - exp(s_i - i omega))`` has a few ulps of relative
        error (exactly wrapped angle, complex expm1); the sum, the GEMM and the SVD add
        ``(m + p + q) eps`` of the sum of magnitudes. A Schur part: a backward error of
        ``c n eps (1 + ||T||)`` in ``I - T/z``, amplified by ``K^2 ||B|| ||C||``.
        """
        omega = np.atleast_1d(np.asarray(omega, float))
        mag = np.full(omega.size, self._dn)
        size = self.p + self.q
        if self.modal is not None:
            size += self.modal.m
            for lo in range(0, omega.size, 512):
                mag[lo:lo + 512] += np.abs(1.0 / _one_minus_exp(self._s, omega[lo:lo + 512])) @ self._rn
        out = 16 * size * EPS * mag
        for T, ZB, CZ, K, nT in self.dense:
            n = T.shape[0]
            out += (16 * n * EPS * (1 + nT) * K * K + 16 * n * EPS * K) * (
                np.linalg.norm(ZB, 2) * np.linalg.norm(CZ, 2))
        return out

    def curvature(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Bound on ``||G''(omega)||`` over each cell ``[lo, hi]`` (cells shorter than pi).

        ``d^2/domega^2 (1 - lambda e^{-i omega})^-1`` has modulus at most ``|lambda| / r^2 +
        2 |lambda|^2 / r^3`` with ``r = |e^{i omega} - lambda|``, whose minimum over the cell is
        ``1 - |lambda|`` if ``arg lambda`` lies in it and the nearer endpoint's value otherwise.
        A Schur part: ``||C|| ||B|| (||T|| K^2 + 2 ||T||^2 K^3)``.
        """
        out = np.zeros(lo.size)
        if self.modal is not None:
            s, th, rn = self._s, self._theta, self._rn
            lam = np.exp(s.real)
            d = -np.expm1(s.real)
            for a in range(0, lo.size, 256):
                L, R = lo[a:a + 256], hi[a:a + 256]
                rl, rr = np.abs(_one_minus_exp(s, L)), np.abs(_one_minus_exp(s, R))
                inside = ((_angle_difference(th[None, :], _reduce_angle(L)[:, None]) >= 0)
                          & (_angle_difference(th[None, :], _reduce_angle(R)[:, None]) <= 0))
                r = np.where(inside, d[None, :], np.minimum(rl, rr))
                with np.errstate(divide="ignore"):
                    out[a:a + 256] = (lam / r**2 + 2 * lam**2 / r**3) @ rn
        for _, ZB, CZ, K, nT in self.dense:
            out += np.linalg.norm(ZB, 2) * np.linalg.norm(CZ, 2) * (nT * K**2 + 2 * nT**2 * K**3)
        return out * (1 + 1e-12)

    def d_infinity(self) -> float:
        """A lower bound on ``sigma_max(G(inf))``, ``G(inf) = sum sign (C B + D)`` (textbook D)."""
        Dt = sum(sign * (sys.C @ sys.B + sys.D_or_zero) for sys, sign in self.terms)
        slack = sum(16 * (sys.B.shape[0] + 1) * EPS * (np.linalg.norm(sys.C) * np.linalg.norm(sys.B)
                                                       + np.linalg.norm(sys.D_or_zero))
                    for sys, _ in self.terms)
        return max(float(np.linalg.norm(Dt, 2)) - slack, 0.0)

    def continuous(self):
        """Bilinear image ``(Ac, Bc, Cc, Dc)`` of the surrogate and a bound on the rounding of Dc.

        ``z = (1 + s)/(1 - s)`` takes the textbook ``(A, B, C A, C B + D)`` of each term to
        ``Ac = I - 2 F^-1, Bc = sqrt2 F^-1 B, Cc = sqrt2 C A F^-1, Dc = D + C F^-1 B`` with
        ``F = A + I`` (invertible since ``|lambda| < 1``); blocks of a sum stack, ``Dc`` adds.
        Modal terms are mapped from ``s``: ``(lambda - 1)/(lambda + 1) = tanh(s/2)``, so slow
        modes keep their distance to the axis. Schur parts (upper triangular ``T``) by
        triangular solves.
        """
        As, Bs, Cs = [], [], []
        Dc = np.array(self.D)
        dDc = 4 * EPS * self._dn
        r2 = np.sqrt(2)
        if self.modal is not None:
            sys = self.modal
            lam = sys.lam
            with np.errstate(invalid="ignore", divide="ignore"):
                mu = np.where(np.isneginf(sys.s.real), -1.0 + 0j, np.tanh(sys.s / 2))
            inv = 1 / (1 + lam)
            Ac, Bc, Cc = np.diag(mu), r2 * inv[:, None] * sys.B, r2 * sys.C * (lam * inv)
            Dc += (sys.C * inv) @ sys.B
            dDc += 8 * sys.m * EPS * float(np.sum(self._rn * np.abs(inv)))
            if self.real:
                from .reduction.balanced import _realify_rows, _unrealify_rows

                perm = _conjugate_permutation(sys, 1e-12)
                Ac = _realify_rows(mu[:, None] * _unrealify_rows(np.eye(sys.m), perm), perm)
                Bc = _realify_rows(Bc, perm)
                Cc = _realify_rows(Cc.conj().T, perm).conj().T
            As.append(Ac)
            Bs.append(Bc)
            Cs.append(Cc)
        for T, ZB, CZ, *_ in self.dense:
            n = T.shape[0]
            F = T + np.eye(n)
            Finv = sla.solve_triangular(F, np.eye(n))
            FB = Finv @ ZB
            As.append(np.eye(n) - 2 * Finv)
            Bs.append(r2 * FB)
            Cs.append(r2 * (CZ @ T) @ Finv)
            Dc += CZ @ FB
            dDc += 8 * n * EPS * np.linalg.norm(CZ, 2) * np.linalg.norm(Finv, 2) ** 2 * (
                np.linalg.norm(F, 2) * np.linalg.norm(ZB, 2))
        Ac, Bc, Cc = sla.block_diag(*As), np.vstack(Bs), np.hstack(Cs)
        if self.real:
            return Ac.real, Bc.real, Cc.real, Dc.real, dDc
        return Ac, Bc, Cc, Dc, dDc


def _schur_response(T, ZB, CZ, omega):
    """``CZ (I - e^{-i omega} T)^-1 ZB`` for upper-triangular ``T``: (F, q, p)."""
    n = T.shape[0]
    eye = np.eye(n)
    zinv = np.exp(-1j * omega)
    out = np.empty((omega.size, CZ.shape[0], ZB.shape[1]), complex)
    if n <= _BATCHED_SOLVE_MAX:
        # small blocks: batched LU over frequencies (per-call overhead dominates n^3)
        for lo in range(0, omega.size, 256):
            M = eye[None] - zinv[lo:lo + 256, None, None] * T[None]
            X = np.linalg.solve(M, np.broadcast_to(ZB, (M.shape[0], *ZB.shape)))
            out[lo:lo + 256] = CZ @ X
    else:
        trtrs = sla.lapack.ztrtrs
        for f, zi in enumerate(zinv):
            X, _ = trtrs(eye - zi * T, ZB)
            out[f] = CZ @ X
    return out


def _one_minus_exp(s: np.ndarray, omega: np.ndarray) -> np.ndarray:
    """``1 - exp(s - i omega)`` for frequencies (F,) and log-eigenvalues (m,): shape (F, m).

    ``= -expm1(x + iy)`` with ``x = Re s``, ``y = Im s - omega`` wrapped into [-pi, pi] exactly
    (Sterbenz subtractions against a double-double pi, so ``y`` keeps its relative accuracy also
    across the branch cut near ``lambda = -1``), using ``expm1(x + iy) = expm1(x) cos y -
    2 sin^2(y/2) + i e^x sin y`` (no cancellation near the peak of a slow mode, where
    ``1 - |lambda|`` is tiny); ``Re s = -inf`` gives 1.
    """
    x = s.real[None, :]
    y = _angle_difference(_reduce_angle(s.imag)[None, :], _reduce_angle(np.asarray(omega, float))[:, None])
    with np.errstate(invalid="ignore"):
        re = np.expm1(x) * np.cos(y) - 2.0 * np.sin(0.5 * y) ** 2
        im = np.exp(x) * np.sin(y)
    return -(re + 1j * im)


class _LevelSet:
    """Imaginary-axis eigenvalues of the Hamiltonian of the bilinear image of a discrete system.

    ``z = (1 + s) / (1 - s)`` maps the unit circle onto the imaginary axis (``omega = 2 atan w``)
    and the stable discrete system onto a stable continuous ``(Ac, Bc, Cc, Dc)``
    (:meth:`_Parts.continuous`). For ``gamma`` above ``sigma_max(Dc) = sigma_max(G(-1))``,
    ``gamma`` is a singular value of ``G(exp(i omega))`` iff ``i tan(omega/2)`` is an eigenvalue
    of ``H(gamma) = blkdiag(Ac, -Ac^H) - [[Bc, 0], [0, -Cc^H]] M^-1 [[Cc, 0], [0, Bc^H]]`` with
    ``M = [[Dc, -gamma I], [-gamma I, Dc^H]]`` (eliminate ``u, v`` from ``G u = gamma v``,
    ``G^H v = gamma u``).
    """

    def __init__(self, Ac, Bc, Cc, Dc, dDc, real):
        self.Ac, self.Bc, self.Cc, self.Dc, self.dDc = Ac, Bc, Cc, Dc, dDc
        self.real = real
        self.nD = float(np.linalg.norm(Dc, 2))

    def candidates(self, gamma: float):
        """Frequency intervals ``(lo, hi)`` outside which ``sigma_max(G) != gamma`` (proved).

        Every eigenvalue ``mu`` of the computed ``H`` is within ``kappa(mu) ||E||`` (first order)
        of one of the exact ``H(gamma)``, where ``kappa`` is the eigenvalue condition number
        (from the left and right eigenvectors) and ``||E||`` bounds the rounding of forming
        ``H`` and of the QR algorithm: ``c (2n + p + q) eps (||H|| + ||L|| ||R|| ||M^-1|| cond M)``
        plus the effect of the rounding of ``Dc``. Eigenvalues whose distance to the axis is
        below 10 times that are candidates; their frequency interval is returned. Outside the
        intervals the exact ``H(gamma)`` has no imaginary eigenvalue. None if ``gamma`` does not
        exceed ``sigma_max(Dc)`` by more than its rounding (``M`` is then not safely invertible).
        """
        Ac, Bc, Cc, Dc = self.Ac, self.Bc, self.Cc, self.Dc
        n, (q, p) = Ac.shape[0], Dc.shape
        gap = gamma - self.nD
        if gap <= 4 * (self.dDc + EPS * gamma):
            return None
        M = np.block([[Dc, -gamma * np.eye(q)], [-gamma * np.eye(p), Dc.conj().T]])
        R = np.block([[Cc, np.zeros((q, n))], [np.zeros((p, n)), Bc.conj().T]])
        L = np.block([[Bc, np.zeros((n, q))], [np.zeros((n, p)), -Cc.conj().T]])
        H = sla.block_diag(Ac, -Ac.conj().T) - L @ np.linalg.solve(M, R)
        minv = 1.0 / gap  # ||M^-1|| = 1 / (gamma - sigma_max(Dc))
        nLR = np.linalg.norm(L, 2) * np.linalg.norm(R, 2)
        size = 2 * n + p + q
        E = (8 * size * EPS * (np.linalg.norm(H) + np.linalg.norm(Ac) + nLR * minv
                               * (1 + (gamma + self.nD) * minv))
             + nLR * minv**2 * self.dDc / (1 - self.dDc * minv))
        mu, VL, VR = sla.eig(H, left=True, right=True)
        with np.errstate(divide="ignore"):
            kappa = 1.0 / np.abs(np.sum(VL.conj() * VR, axis=0))  # unit-norm eigenvectors
        margin = _SAFETY * kappa * E + 4 * size * EPS * np.abs(mu)
        near = np.abs(mu.real) <= margin
        w, r = mu.imag[near], margin[near]
        lo, hi = 2 * np.arctan(w - r), 2 * np.arctan(w + r)
        lo = np.where(np.isfinite(lo), lo, -np.pi)
        hi = np.where(np.isfinite(hi), hi, np.pi)
        if self.real:  # sigma_max(G(e^{-i w})) = sigma_max(G(e^{i w})): fold onto [0, pi]
            a, b = np.abs(lo), np.abs(hi)
            straddle = (lo < 0) & (hi > 0)
            lo, hi = np.where(straddle, 0.0, np.minimum(a, b)), np.maximum(a, b)
        return _merge(lo, hi)


def _merge(lo, hi):
    """Union of intervals, as sorted disjoint ``(lo, hi)`` arrays."""
    if lo.size == 0:
        return lo, hi
    order = np.argsort(lo)
    lo, hi = lo[order], hi[order]
    out_lo, out_hi = [lo[0]], [hi[0]]
    for a, b in zip(lo[1:], hi[1:], strict=True):
        if a <= out_hi[-1]:
            out_hi[-1] = max(out_hi[-1], b)
        else:
            out_lo.append(a)
            out_hi.append(b)
    return np.array(out_lo), np.array(out_hi)


@dataclass(frozen=True)
class HinfBracket:
    """Certified bracket ``lower <= ||G||_inf <= upper``; unpacks as ``lower, upper = bracket``.

    ``lower`` is a value of ``sigma_max(G(exp(i frequency)))`` (or of ``G(inf)``) less its
    rounding bound; ``upper`` passed the level-set test with rounding margins (no frequency
    where ``sigma_max`` reaches it), plus the bound between the system and the surrogate it was
    evaluated on. ``tests`` counts the Hamiltonian eigenvalue problems solved.
    """

    lower: float
    upper: float
    frequency: float
    tests: int

    def __iter__(self):
        yield self.lower
        yield self.upper

    @property
    def value(self) -> float:
        """Midpoint of the bracket."""
        return 0.5 * (self.lower + self.upper)

    @property
    def rel_width(self) -> float:
        return (self.upper - self.lower) / self.upper if self.upper > 0 else 0.0


def _grid(parts: _Parts) -> np.ndarray:
    """Uniform grid plus every pole angle and the half-power points ``arg lambda +- (1 - |lambda|)``.

    More than ``2 n + 1`` points, so a transfer function vanishing on it is identically zero.
    """
    n = parts.order
    uniform = np.linspace(0.0, np.pi, max(257, 4 * n + 1))
    ang, width = np.angle(parts.poles), 1.0 - np.abs(parts.poles)
    extra = np.concatenate([ang, ang - width, ang + width])
    if parts.real:
        grid = np.concatenate([uniform, np.abs(extra)])
        return np.unique(np.clip(grid, 0.0, np.pi))
    grid = np.concatenate([uniform, -uniform, extra])
    return np.unique(np.angle(np.exp(1j * grid)))


def _refine(parts: _Parts, grid: np.ndarray, vals: np.ndarray, k: int = 8):
    """Local maximisation (bounded Brent) around the ``k`` largest local maxima of the grid."""
    best_w, best_v = grid[np.argmax(vals)], float(np.max(vals))
    if vals.size < 2:
        return best_w, best_v
    interior = np.r_[vals[0] >= vals[1], (vals[1:-1] >= vals[:-2]) & (vals[1:-1] >= vals[2:]),
                     vals[-1] >= vals[-2]]
    idx = np.flatnonzero(interior)
    idx = idx[np.argsort(vals[idx])[::-1][:k]]
    for j in idx:
        lo, hi = grid[max(j - 1, 0)], grid[min(j + 1, grid.size - 1)]
        if hi <= lo:
            continue
        res = minimize_scalar(lambda w: -parts.smax(np.array([w]))[0], bounds=(lo, hi),
                              method="bounded", options={"xatol": 1e-12 * max(1.0, abs(lo))})
        if -res.fun > best_v:
            best_w, best_v = float(res.x), float(-res.fun)
    return best_w, best_v


def _below(parts: _Parts, lo: float, hi: float, gamma: float) -> bool:
    """Prove ``sigma_max(G_surrogate) < gamma`` on ``[lo, hi]`` (True) or give up (False).

    Adaptive cells: on ``[a, b]`` every ``Re(u^H G v)`` (unit ``u, v``) lies below its chord
    plus ``M (b - a)^2 / 8`` with ``M >= ||G''||`` on the cell (:meth:`_Parts.curvature`), so
    ``sup sigma_max <= max(sigma(a), sigma(b)) + err + M h^2 / 8``; cells where that is not
    below ``gamma`` are halved, within :data:`_CELL_BUDGET` evaluations and the resolution of
    doubles.
    """
    edges = np.linspace(lo, hi, max(2, int(np.ceil((hi - lo) / 0.25)) + 1))
    L, R = edges[:-1], edges[1:]
    spent = 0
    while L.size:
        spent += 2 * L.size
        if spent > _CELL_BUDGET:
            return False
        top = np.maximum(parts.smax(L) + parts.err(L), parts.smax(R) + parts.err(R))
        if np.any(top >= gamma):
            return False
        open_ = top + parts.curvature(L, R) * (R - L) ** 2 / 8 >= gamma
        L, R = L[open_], R[open_]
        mid = 0.5 * (L + R)
        if np.any((mid <= L) | (mid >= R)):
            return False
        L, R = np.r_[L, mid], np.r_[mid, R]
    return True


def _arcs(lo, hi, real):
    """Midpoints of the arcs of the frequency domain outside the intervals ``[lo_k, hi_k]``."""
    if real:
        bounds = np.r_[0.0, np.ravel(np.c_[lo, hi]), np.pi].reshape(-1, 2)
        keep = bounds[:, 1] > bounds[:, 0]
        return 0.5 * (bounds[keep, 0] + bounds[keep, 1])
    if lo.size == 0:
        return np.array([0.0])
    starts, ends = hi, np.r_[lo[1:], lo[0] + 2 * np.pi]
    keep = ends > starts
    return np.angle(np.exp(0.5j * (starts[keep] + ends[keep])))


def _certify(parts: _Parts, rtol: float) -> HinfBracket:
    grid = _grid(parts)
    vals = parts.smax(grid)
    w_lb, lb = _refine(parts, grid, vals)
    level = _LevelSet(*parts.continuous(), parts.real)
    tests, width = 0, rtol
    while True:
        if tests >= _MAX_LEVEL_SET_TESTS:
            # Rounding keeps producing crossings this close to the peak: widen the bracket
            # (it stays certified) rather than loop; the returned width shows it.
            width *= 2
        if width > _MAX_WIDTH:
            raise UnstableError(
                "system: the H-infinity bracket cannot be certified within upper <= 2 lower: "
                "the level set stays undecided under rounding, as for a pole within rounding of "
                "the unit circle")
        e_lb = float(parts.err(np.array([w_lb]))[0])
        # the final bracket is [lb - e_lb - transfer, gamma + transfer]: aim gamma at the
        # requested width of that, but never below the rounding of sigma_surrogate(w_lb)
        low = max(lb - e_lb - parts.transfer, parts.d_infinity())
        gamma = max((1 + width) * low - parts.transfer, (lb + e_lb) * (1 + 4 * EPS),
                    parts.d_infinity() * (1 + width))
        if gamma == 0.0:
            gamma = np.finfo(float).tiny
        got = level.candidates(gamma)
        tests += 1
        if got is None:
            width *= 4  # gamma too close to sigma_max(G(-1)) to form H(gamma) safely
            continue
        lo, hi = got
        if lo.size == 0:
            break
        # Bruinsma-Steinbuch step: sigma_max at the candidates and between them
        arcs = _arcs(lo, hi, parts.real)
        trial = np.r_[0.5 * (lo + hi), arcs]
        tv = parts.smax(trial)
        j = int(np.argmax(tv))
        if tv[j] > lb and tests < _MAX_LEVEL_SET_TESTS:
            w_lb, lb = float(trial[j]), float(tv[j])
            order = np.argsort(trial)
            if trial.size >= 3:
                w_ref, v_ref = _refine(parts, trial[order], tv[order], k=1)
                if v_ref > lb:
                    w_lb, lb = w_ref, v_ref
            continue
        # No higher value found: prove that no crossing hides in the candidate intervals, and
        # that each arc between them (free of crossings) lies below gamma at one point.
        arc_vals = tv[lo.size:] + parts.err(arcs)
        if np.all(arc_vals < gamma) and all(_below(parts, a, b, gamma) for a, b in zip(lo, hi, strict=True)):
            break
        width *= 4
    lower = max(lb - float(parts.err(np.array([w_lb]))[0]) - parts.transfer,
                parts.d_infinity(), 0.0)
    upper = gamma + parts.transfer
    return HinfBracket(float(min(lower, upper)), float(upper), float(w_lb), tests)


def hinf_norm(system, rtol: float = 1e-8) -> HinfBracket:
    """Certified bracket on ``||G||_inf = sup_omega sigma_max(C (I - e^{-i omega} A)^-1 B + D)``.

    Parameters
    ----------
    system : ModalSystem or StateSpace
        Stable discrete-time system in the MCCC convention.
    rtol : float in [1e-12, 0.5]
        Target relative width: ``upper = lower (1 + rtol)`` unless certification needs a wider
        one (see Notes).

    Returns
    -------
    HinfBracket
        ``lower <= ||G||_inf <= upper``, the peak frequency and the number of level-set tests.

    Raises
    ------
    UnstableError
        If the system is unstable, marginally stable (the norm is infinite) or has an
        eigenvalue within rounding of the unit circle, so that no finite bracket is certified.
    ShapeError, DTypeError, OrderError
        For a wrong system type or an ``rtol`` outside its range.

    Notes
    -----
    *Surrogate.* The system is evaluated on an accurate surrogate: a :class:`ModalSystem` in
    closed form from its log-eigenvalues ``s`` (never the rounded ``lambda``, so a mode with
    ``1 - |lambda| = 1e-12`` has its peak ``|c b| / (1 - |lambda|)`` to full precision). A dense
    system becomes the modal system ``(log lambda, V^-1 B, C V, D)`` of its eigendecomposition
    when ``cond(V) <= 1e8`` (the ``auto`` rule), otherwise it stays in complex Schur form; a
    bound on ``sup ||G - G_surrogate||`` on the circle, from the eigen-residual ``A V - V
    Lambda`` computed in extended precision and the resolvent identity, widens both ends.
    *Lower bound:* ``sigma_max`` on a grid of ``max(257, 4n + 1)`` points in ``[0, pi]`` (the
    full circle for complex maps) plus every pole angle and the half-power points
    ``arg lambda +- (1 - |lambda|)``, refined by bounded Brent searches around the 8 largest local
    maxima and by the level-set iteration, less a bound on its rounding; ``sigma_max(G(inf))``
    (maximum-modulus principle).
    *Upper bound:* the level-set test of Boyd-Balakrishnan / Bruinsma-Steinbuch on the
    Hamiltonian ``H(gamma)`` of the bilinear image (:class:`_LevelSet`): ``gamma`` is an upper
    bound iff ``H(gamma)`` has no imaginary eigenvalue. Rounding is accounted for: an eigenvalue
    is a candidate crossing when its distance to the axis is below 10 times its condition number
    times a bound on the rounding of forming ``H`` and of the QR algorithm (first-order
    perturbation theory). Candidates either raise the lower bound (``sigma_max`` at them and
    between them; the test repeats, converging quadratically) or are proved spurious: ``sigma_max
    < gamma`` over each candidate's frequency interval by adaptive cells with a bound on
    ``||G''||`` (chord plus ``M h^2 / 8``), and at one point of each arc between intervals.
    Otherwise the width is multiplied by 4 and the test repeated; a bracket that cannot be
    certified within ``upper <= 2 lower`` raises :class:`UnstableError`, as does an eigenvalue
    within rounding of the unit circle. ``rtol`` is the target width; the bracket is wider when
    the surrogate bound or the level set require it (``rel_width`` shows it): for a dense system
    with ``1 - |lambda| = d`` about ``cond(V)^2 eps / d`` relative.
    Cost: the grid ``O(n^2 p q)`` for modal systems (``O(n^3)`` once for a dense one) plus one
    ``O((2n)^3)`` eigenvalue problem (with eigenvectors) per test, usually one or two.

    References
    ----------
    S. Boyd, V. Balakrishnan, P. Kabamba, "A bisection method for computing the H-infinity norm
    of a transfer matrix", Math. Control Signals Systems 2 (1989).
    N. A. Bruinsma, M. Steinbuch, "A fast algorithm to compute the H-infinity norm of a transfer
    function matrix", Systems & Control Letters 14 (1990).
    """
    rtol = _check_rtol(rtol)
    system = _check_system(system)
    return _certify(_Parts([(system, 1.0)], ["system"]), rtol)


def hinf_error(system, approximation, rtol: float = 1e-8) -> HinfBracket:
    """Certified bracket on ``||G - G_approx||_inf`` (see :func:`hinf_norm`).

    Each term is evaluated in its own realization (a modal system in closed form), so the error
    of a reduced model of a large modal system costs little more than the norm of the system.

    Parameters
    ----------
    system, approximation : ModalSystem or StateSpace
        Stable systems with the same numbers of inputs and outputs.
    rtol : float in [1e-12, 0.5]
    """
    rtol = _check_rtol(rtol)
    system = _check_system(system)
    approximation = _check_system(approximation, "approximation")
    return _certify(_Parts([(system, 1.0), (approximation, -1.0)], ["system", "approximation"]),
                    rtol)


def frequency_response(system, omega) -> np.ndarray:
    """``G(exp(i omega)) = C (I - e^{-i omega} A)^-1 B + D`` for each frequency: (F, q, p) complex.

    Modal systems in closed form; dense ones through their complex Schur form.
    """
    system = _check_system(system)
    omega = as_array(omega, "omega", complex_ok=False)
    omega = omega.ravel()
    if isinstance(system, ModalSystem):
        w = 1.0 / _one_minus_exp(system.s, omega)
        G = np.einsum("fi,qi,ip->fqp", w, system.C, system.B)
    else:
        T, Z = sla.schur(system.A.astype(complex), output="complex")
        G = _schur_response(T, Z.conj().T @ system.B, system.C @ Z, omega)
    return G + system.D_or_zero


def error_system(system, approximation) -> StateSpace:
    """Dense :class:`StateSpace` of ``G - G_approx``: ``(blkdiag(A1, A2), [B1; B2], [C1, -C2], D1 - D2)``.

    Same MCCC convention as the inputs; its Gramians, Hankel and H2 norms are those of the error.
    """
    parts = []
    for name, sys in (("system", system), ("approximation", approximation)):
        sys = _check_system(sys, name)
        parts.append(sys.to_state_space() if isinstance(sys, ModalSystem) else sys)
    g, a = parts
    if (g.n_outputs, g.n_inputs) != (a.n_outputs, a.n_inputs):
        raise ShapeError(f"approximation: expected {g.n_outputs} outputs and {g.n_inputs} inputs "
                         f"like the system, found {a.n_outputs} and {a.n_inputs}")
    return StateSpace(sla.block_diag(g.A, a.A), np.vstack([g.B, a.B]), np.hstack([g.C, -a.C]),
                      g.D_or_zero - a.D_or_zero)


def h2_norm(system, horizon: int | None = None) -> float:
    """``||G||_2 = (sum_{tau < N} ||g_tau||_F^2)^(1/2)`` from the controllability Gramian.

    With ``g_0 = C B + D`` and ``g_tau = C A^tau B``: ``||G||_2^2 = tr(C Wc C^H) + ||D||_F^2 +
    2 Re tr(D^H C B)``, ``Wc = Wc(N)`` for a finite ``horizon`` (default: infinite).

    Raises
    ------
    UnstableError, OrderError (horizon <= 0), ShapeError.
    """
    from .gramians import controllability_gramian

    system = _check_system(system)
    horizon = check_horizon(horizon)
    Wc = controllability_gramian(system, horizon)
    C, B, D = system.C, system.B, system.D_or_zero
    val = (np.trace(C @ Wc @ C.conj().T).real + np.linalg.norm(D) ** 2
           + 2 * np.real(np.trace(D.conj().T @ C @ B)))
    return float(np.sqrt(max(val, 0.0)))


def hankel_norm(system) -> float:
    """``||G||_H = sigma_1``: the largest Hankel singular value of ``[C A^(i+j) B]_{i,j>=0}``."""
    from .gramians import hankel_singular_values

    system = _check_system(system)
    hsv = hankel_singular_values(system)
    return float(hsv.values[0]) if hsv.values.size else 0.0
