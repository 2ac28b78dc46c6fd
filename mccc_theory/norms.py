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
from .systems import ModalSystem, StateSpace
from .systems import check_stable_system as _check_system
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
_MAX_TESTS = 40  # proofs at the requested width before the bracket is widened
_CELL_BUDGET = 1 << 17  # cells allowed per proof of an upper bound (_prove_below)
# Taylor coefficients per cell (_Parts.cell_bounds): with cells at most half their Cauchy radius
# the neglected tail is below (k+1) k 2^-(k+1) ~ 4e-3 of the disk's bound and falls 2^17-fold
# per halving, so it never decides a cell that the computed coefficients do not.
_TAYLOR_ORDER = 16
# Dense parts whose eigenvector matrix has a condition number up to this are evaluated through a
# modal surrogate (closed form, accurate peaks); others through their Schur form.
_KAPPA_MODAL = 1e8
# Dense blocks up to this order are evaluated by batched LU over frequencies (O(n^3) each but
# vectorised); larger ones by one triangular solve per frequency on the Schur form (O(n^2 p)).
_BATCHED_SOLVE_MAX = 48
#: smaller Cauchy disks tried per cell (radius rho / 2^j, j <= this): down to about 1/n of the
#: first radius for the n <= 1000 states of a dense non-normal part
_CAUCHY_HALVINGS = 10


def _check_rtol(rtol) -> float:
    if isinstance(rtol, bool) or not isinstance(rtol, Real):
        raise DTypeError(f"rtol: expected a float, found {type(rtol).__name__} {rtol!r}")
    rtol = float(rtol)
    if not (1e-12 <= rtol <= 0.5):
        raise OrderError(f"rtol: expected a relative bracket width in [1e-12, 0.5], found {rtol!r}; "
                         "below 1e-12 the proof cannot separate gamma from rounding")
    return rtol


def _near_circle(name: str, what: str) -> UnstableError:
    return UnstableError(f"{name}: {what} lies within rounding of the unit circle, so the system "
                         "cannot be told apart from a marginally stable one (|lambda| = 1, infinite "
                         "H-infinity norm); the bracket cannot be certified")


def _modal_surrogate(sys: StateSpace, name: str):
    """``(ModalSystem, bound)``: a modal system within ``bound`` of ``sys`` on the unit circle.

    ``A V = V Lambda`` from LAPACK; the surrogate is ``(s = log lambda, V^-1 B, C V, D)``, whose
    poles are ``Lambda^ = exp(s)`` exactly. With the residual ``Res = A V - V Lambda^`` computed in
    extended precision, the resolvent identity applied twice gives, on ``|z| = 1``, ``||G -
    G_surr|| <= sum_ij ||c_i|| |(V^-1 Res)_ij| ||b_j|| / (d_i d_j)`` plus the rounding of ``V^-1
    B`` and ``C V`` and a second-order term in ``||Res||^2`` with ``K >= sup ||(I - A/z)^-1||``
    (``d_i = 1 - |lambda_i|``): first order, the modal coordinates' own gains, not ``K``.
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
    # G - G_surr = res_c R Bt + C R_A Res R Bt / z + C R_A res_b (R = (I - Lambda^/z)^-1,
    # R_A = (I - A/z)^-1); C R_A = (C V R + C R_A Res R V^-1 / z) V^-1 once more, so the first
    # order terms carry C V R = (Ct + res_c) R and W = V^-1 Res, U = V^-1 res_b (solved here, to
    # n eps cond(V) of their size), and only second-order terms the full resolvent bound K.
    cond = sv[0] * v_inv
    Res, Rb = res.astype(complex), res_b.astype(complex)
    W, U = np.linalg.solve(V, Res), np.linalg.solve(V, Rb)
    dW = 8 * n * EPS * cond * v_inv * (np.linalg.norm(Res) + 4 * n * u * (nA + 1))
    dU = 8 * n * EPS * cond * v_inv * rb
    ct = (np.linalg.norm(Ct, axis=0) + rc) / d  # ||(C V)_i|| / d_i
    bt = np.linalg.norm(Bt, axis=1) / d
    first = (ct @ ((np.abs(W) + dW) @ bt) + ct @ (np.linalg.norm(U, axis=1) + dU)
             + np.sum(rc * bt))
    second = (np.linalg.norm(C, 2) * K / (1 - delta * K) * np.linalg.norm(rn) * v_inv / d.min()
              * (np.sum(rn * bt) + rb))
    bound = (first + second) * (1 + 1e-10)
    return ModalSystem(s, Bt, Ct, sys.D), float(bound)


def _neumann(r, nN: float, n: int):
    """``sum_{k<n} nN^k / r^(k+1)``: a bound on ``||(D - N)^-1||`` for diagonal ``D`` with
    ``min |D_jj| >= r`` and strictly upper triangular ``N`` with ``||N|| <= nN`` (the Neumann
    series of the nilpotent ``D^-1 N`` stops after ``n`` terms). ``r`` may be an array."""
    r, nN = np.asarray(r, float), np.asarray(nN, float)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        u = nN / r
        out = np.where(np.abs(u - 1) < 1e-9, n / r, (u**n - 1) / ((u - 1) * r))
        out = np.where(nN == 0, 1.0 / r, out)
    return np.where(r > 0, out, np.inf) * (1 + 4 * n * EPS)


def _pole_distance(theta, log_abs, d, L, R):
    """``min_{omega in [L, R]} |1 - lambda e^{-i omega}|`` for each cell and pole: (F, m), a lower
    bound (relative rounding covered). ``|e^{i omega} - lambda|`` grows with the angular distance
    to ``arg lambda``, so it is ``1 - |lambda| = d`` when the angle lies in the cell and the value
    at the nearer end otherwise (cells shorter than pi)."""
    inside = ((_angle_difference(theta[None, :], _reduce_angle(L)[:, None]) >= 0)
              & (_angle_difference(theta[None, :], _reduce_angle(R)[:, None]) <= 0))
    ends = [np.abs(_one_minus_exp(log_abs + 1j * theta, w)) for w in (L, R)]
    r = np.where(inside, d[None, :], np.minimum(*ends))
    return r * (1 - 64 * EPS)


class _Parts:
    """A sum ``sum_k sign_k G_k`` of systems, as an accurate surrogate plus a transfer bound.

    Modal terms (and dense terms with a well-conditioned eigenvector matrix, through
    :func:`_modal_surrogate`) are merged into one modal system evaluated in closed form from its
    log-eigenvalues; other dense terms are kept in their complex Schur form. ``transfer`` bounds
    ``sup_|z|=1 ||G(z) - G_surrogate(z)||``; :meth:`evaluate` gives ``sigma_max(G_surrogate)``
    and a bound on its rounding; :meth:`cell_bounds` bounds ``sigma_max`` over frequency cells.
    """

    def __init__(self, terms, names):
        q, p = terms[0][0].n_outputs, terms[0][0].n_inputs
        self.q, self.p = q, p
        self.terms = terms
        self.D = np.zeros((q, p), complex)
        self.transfer = 0.0
        self.real = True
        self.dense = []  # (T, Z^H B, sign C Z, ||T||, ||N||, K): Schur-form parts
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
            self._d = -np.expm1(m.s.real)
        self._dn = float(np.linalg.norm(self.D, 2))

    def _add_schur(self, sys, sign, name):
        """A dense part kept in Schur form ``A = Z T Z^H`` (with its transfer bound)."""
        A = sys.A.astype(complex)
        n = A.shape[0]
        T, Z = sla.schur(A, output="complex")
        tau = np.diag(T)
        N = np.triu(T, 1)
        nN, nT = float(np.linalg.norm(N, 2)), float(np.linalg.norm(T, 2))
        # sup over the circle of ||(I - e^{-i w} T)^-1||: |1 - e^{-i w} tau_j| >= 1 - |tau_j|
        K = float(_neumann(np.min(1.0 - np.abs(tau)) * (1 - 4 * EPS), nN, n))
        ld, u = np.clongdouble, float(np.finfo(np.longdouble).eps)
        ZB, CZ = Z.conj().T @ sys.B, sign * (sys.C @ Z)
        Zl = Z.astype(ld)
        # residuals of the factorization and of the products, in extended precision (plus its
        # own rounding, n u |X| |Y|): A = Z T Z^H + E_A, Z^H Z = I + F, Z^H B, C Z
        e_A = float(np.linalg.norm((A.astype(ld) - Zl @ T.astype(ld) @ Zl.conj().T).astype(complex)))
        e_A += 8 * n * u * (np.linalg.norm(A) + nT)
        e_Z = float(np.linalg.norm((Zl.conj().T @ Zl - np.eye(n)).astype(complex))) + 8 * n * u
        d_B = float(np.linalg.norm((Zl.conj().T @ sys.B.astype(ld) - ZB).astype(complex)))
        d_C = float(np.linalg.norm((sign * sys.C.astype(ld) @ Zl - CZ).astype(complex)))
        d_B += 8 * n * u * np.linalg.norm(sys.B)
        d_C += 8 * n * u * np.linalg.norm(sys.C)
        if not np.isfinite(K) or K * e_A >= 0.5 or e_Z >= 0.5:
            raise _near_circle(name, "an eigenvalue of A")
        nB, nC = np.linalg.norm(sys.B, 2), np.linalg.norm(sys.C, 2)
        # resolvent identity for A vs Z T Z^{-1} (Z^{-1} = (I + F)^-1 Z^H), then Z^H B, C Z
        self.transfer += (nC * nB * K * K * (e_A + 2 * e_Z * (1 + nT)) / ((1 - K * e_A) * (1 - e_Z))
                          + K * (nC * d_B + np.linalg.norm(ZB) * d_C))
        self.dense.append((T, ZB, CZ, nT, nN, K))

    def _evaluate(self, omega):
        """``(G, err)``: the surrogate's response (F, q, p) and a bound on its rounding (F,).

        Each closed-form term ``c_i b_i / (1 - exp(s_i - i omega))`` has a few ulps of relative
        error (exactly wrapped angle, complex expm1); the sum and the GEMM add ``(m + 2) eps``
        of the sum of magnitudes. A Schur part ``CZ X``, ``(I - e^{-i omega} T) X = ZB``: the
        solve of a triangular system has a componentwise backward error ``n eps |M|``, so
        ``|X~ - X| <= n eps <M>^-1 |M| |X~|`` with the comparison matrix ``<M>`` (an M-matrix:
        ``|M^-1| <= <M>^-1``), evaluated by one more triangular solve.
        """
        out = np.broadcast_to(self.D, (omega.size, self.q, self.p)).copy()
        mag = np.full(omega.size, self._dn)
        size = 0
        if self.modal is not None:
            size = self.modal.m
            for lo in range(0, omega.size, 512):  # bounded memory: 512 x m weights at a time
                w = 1.0 / _one_minus_exp(self._s, omega[lo:lo + 512])
                out[lo:lo + 512] += (w @ self._K).reshape(-1, self.q, self.p)
                mag[lo:lo + 512] += np.abs(w) @ self._rn
        # each term a few ulps (exact angle wrap, complex expm1, one division), the sum of m
        # terms (m + 2) eps of the magnitudes: 2 (m + 8) eps covers both
        err = 2 * (size + 8) * EPS * mag
        for T, ZB, CZ, *_ in self.dense:
            n = T.shape[0]
            X = _schur_solve(T, ZB, omega)
            out += CZ @ X
            aT = np.abs(T)
            zinv = np.exp(-1j * omega)
            diag = np.abs(1 - zinv[:, None] * np.diag(T)[None, :])  # (F, n)
            off = np.triu(aT, 1)
            absX = np.abs(X)
            rhs = diag[:, :, None] * absX + off[None] @ absX  # |M| |X~|
            comp = np.broadcast_to(-off, (omega.size, n, n)).copy()
            comp[:, np.arange(n), np.arange(n)] = diag
            Y = _upper_solve(comp, rhs) * (1 + 8 * n * EPS)  # <M>^-1 |M| |X~| >= 0
            aC = np.abs(CZ)
            err += (4 * (n + 2) * EPS * np.linalg.norm(aC @ Y, axis=(1, 2))
                    + 4 * (n + size) * EPS * np.linalg.norm(aC @ absX, axis=(1, 2)))
        return out, err

    def evaluate(self, omega):
        """``(sigma_max(G_surrogate(e^{i omega})), bound on its rounding)``, each (F,)."""
        omega = np.atleast_1d(np.asarray(omega, float))
        G, err = self._evaluate(omega)
        if min(self.q, self.p) == 1:
            sv = np.linalg.norm(G.reshape(G.shape[0], -1), axis=1)
        else:
            sv = np.linalg.svd(G, compute_uv=False)[:, 0]
        # the SVD (norm) is backward stable: 8 (p + q) eps ||G||
        return sv, err + 8 * (self.p + self.q) * EPS * sv

    def smax(self, omega):
        return self.evaluate(omega)[0]

    def cell_bounds(self, L, R):
        """Upper bounds on ``sup ||G''||`` times ``h^2 / 8`` over the cells ``[L, R]`` (F,).

        With ``eta = (R - L) / 2`` and the cell's centre ``c``, ``G(c + t) = sum_j G_j t^j``;
        ``||G''(c + t)|| <= sum_{2 <= j <= k} j (j - 1) ||G_j|| eta^(j-2) + tail`` for ``|t| <=
        eta``. The coefficients ``G_j`` are computed from the error system itself (a mode's
        ``1 / (1 - x e^{-i t})`` as the reciprocal of a power series, a Schur part's resolvent
        likewise), so cancelling terms of ``G - G_r`` cancel here too; their rounding is bounded
        by majorant recurrences. The tail by Cauchy's estimate on the disk ``|t| <= rho``,
        ``rho = min_i r_i / 4`` (``r_i`` the cell's distance to pole ``i``), where ``|1 - lambda_i
        e^{-i zeta}| >= 0.4 r_i``: ``|G_j| <= C / rho^j`` and the tail is at most ``C S(q) /
        eta^2``, ``q = eta / rho``, ``S(q) = sum_{j > k} j (j - 1) q^j``. Returns ``inf`` for
        cells with ``q > 1/2`` (to be split).

        A Schur part's ``C`` is its resolvent's Neumann bound on the disk, which for a strongly
        non-normal ``T`` grows like ``(e^rho ||N|| / l)^n`` (``l`` a lower bound of ``|1 -
        lambda_i e^{-i zeta}|`` there): for a shift register (an FIR filter, ``T`` nilpotent) with
        ``rho = 1/4`` that is ``~e^(n/4)``, and cells would have to shrink until the tail beat
        it (an FIR of 160 taps did not finish in 10 minutes). So the tail is also bounded on
        smaller disks, ``rho / 2^j``, with ``l = max(0.4 r_i, |1 - lambda_i e^{-i c}| - |lambda_i|
        (e^rho - 1))`` (exactly 1 for ``lambda_i = 0``), and the smallest bound is used: every
        candidate is a valid bound, so the minimum is one.
        """
        k = _TAYLOR_ORDER
        F = L.size
        c, eta = 0.5 * (L + R), 0.5 * (R - L)
        coef = np.zeros((F, k + 1, self.q * self.p), complex)  # G_j, j = 0..k
        rnd = np.zeros((F, k + 1))  # bounds on the rounding of ||G_j||
        rmin = np.full(F, 2.0)
        bigC = np.zeros(F)  # sup of the parts on the Cauchy disk (before fixing rho)
        fact = np.array([float(np.prod(np.arange(1, j + 1))) for j in range(k + 1)])
        ipow = (-1j) ** np.arange(k + 1) / fact  # Taylor coefficients of e^{-i t}
        gam = 8 * (k + 4) * EPS
        if self.modal is not None:
            r = _pole_distance(self._theta, self._s.real, self._d, L, R)  # (F, m)
            rmin = np.minimum(rmin, r.min(axis=1))
            bigC += (2.5 / r) @ self._rn
            a0 = _one_minus_exp(self._s, c)  # (F, m), accurate near the peaks
            x = np.exp(self._s[None, :] - 1j * c[:, None])  # a_l = -x (-i)^l / l!, l >= 1
            ax, aa0 = np.abs(x), np.abs(a0)
            b = np.zeros((k + 1, F, x.shape[1]), complex)
            Bm = np.zeros((k + 1, F, x.shape[1]))
            Em = np.zeros((k + 1, F, x.shape[1]))
            b[0], Bm[0] = 1 / a0, 1 / aa0
            Em[0] = 2 * gam * Bm[0]
            for j in range(1, k + 1):
                acc = np.zeros_like(b[0])
                accB, accE = np.zeros_like(Bm[0]), np.zeros_like(Bm[0])
                for l in range(1, j + 1):
                    acc += ipow[l] * b[j - l]
                    accB += Bm[j - l] / fact[l]
                    accE += Em[j - l] / fact[l]
                b[j] = x * acc / a0  # b_j = -(1/a0) sum a_l b_{j-l}, a_l = -x (-i)^l / l!
                Bm[j] = ax * accB / aa0
                Em[j] = 2 * gam * Bm[j] + ax * accE / aa0
            Em *= 1 + 10 * k * gam
            coef += np.einsum("jfm,mq->fjq", b, self._K)
            m = x.shape[1]
            rnd += np.einsum("jfm,m->fj", Em + (m + 2) * EPS * Bm, self._rn)
        # per Schur part, for its Neumann bound on each disk: distances r (F, n) on the real
        # line, |1 - lambda e^{-ic}| (F, n) at the centres, |lambda| (n,), ||ZB|| ||CZ||, ||N||, n
        dense_C = []
        for T, ZB, CZ, nT, nN, _ in self.dense:
            n = T.shape[0]
            tau = np.diag(T)
            lam_abs = np.abs(tau)
            with np.errstate(divide="ignore"):
                th = _reduce_angle(np.angle(tau))
            d = 1.0 - lam_abs
            r = _pole_distance(th, np.log(np.maximum(lam_abs, 1e-300)), d, L, R)
            r = np.where(lam_abs[None, :] == 0, 1.0, r)
            rmin = np.minimum(rmin, r.min(axis=1))
            xc = np.exp(-1j * c)
            at_c = np.abs(1 - xc[:, None] * tau[None, :]) * (1 - 8 * EPS)
            dense_C.append((r, at_c, lam_abs, np.linalg.norm(ZB, 2) * np.linalg.norm(CZ, 2), nN, n))
            A0 = np.eye(n)[None] - xc[:, None, None] * T[None]
            Kc = _neumann(np.min(at_c, axis=1), nN, n)
            V = [_upper_solve(A0, np.broadcast_to(ZB, (F, *ZB.shape)))]
            nV = [np.linalg.norm(V[0], axis=(1, 2))]
            ev = [Kc * 4 * n * EPS * (1 + nT) * nV[0]]
            for j in range(1, k + 1):
                rhs = sum(ipow[l] * V[j - l] for l in range(1, j + 1))
                V.append(_upper_solve(A0, xc[:, None, None] * (T[None] @ rhs)))
                nV.append(np.linalg.norm(V[j], axis=(1, 2)))
                s_prev = sum(nV[j - l] / fact[l] for l in range(1, j + 1))
                e_prev = sum(ev[j - l] / fact[l] for l in range(1, j + 1))
                ev.append(Kc * (4 * n * EPS * (1 + nT) * nV[j] + 4 * (n + j) * EPS * nT * s_prev
                                + nT * e_prev))
            nCZ = np.linalg.norm(CZ, 2)
            for j in range(k + 1):
                coef[:, j] += (CZ[None] @ V[j]).reshape(F, -1)
                rnd[:, j] += (1 + 10 * k * gam) * nCZ * ev[j] + (n + 2) * EPS * nCZ * nV[j]
        rho0 = np.minimum(rmin / 4, 0.5)
        jj = np.arange(2, k + 1)
        w = jj * (jj - 1)
        # sum_j j (j - 1) ||G_j|| eta^(j-2) * eta^2 / 2, scaled before the norm (no overflow of
        # ||G_j|| ~ 1 / r^(j+1) near a slow pole)
        scale = eta[:, None] ** jj[None, :]
        norms = np.linalg.norm(coef[:, 2:] * scale[:, :, None], axis=2) + rnd[:, 2:] * scale
        best = np.full(F, np.inf)
        for j in range(_CAUCHY_HALVINGS + 1):
            rho = rho0 / 2 ** j  # <= rmin / 4: the modal parts' 0.4 r_i and 2.5 / r_i still hold
            q = eta / rho
            if not np.any(q <= 0.5):
                break
            grow = np.expm1(rho) * (1 + 4 * EPS)  # |e^{-i(c + t)} - e^{-ic}| <= e^rho - 1
            C = bigC + sum(sc * _neumann(np.maximum(0.4 * r, at_c - lam_abs * grow[:, None])
                                         .min(axis=1), (1 + grow) * nN, n)
                           for r, at_c, lam_abs, sc, nN, n in dense_C)
            with np.errstate(over="ignore", invalid="ignore"):
                tail = (k + 1) * k * q ** (k + 1) / (1 - (k + 2) / k * q)
                out = norms @ w / 2 + C * tail / 2
            best = np.minimum(best, np.where(q <= 0.5, out * (1 + 1e-12), np.inf))
        return best

    def trivial_bound(self) -> float:
        """``sup ||G_surrogate||`` bounded by the sum of moduli: ``||D|| + sum ||c_i b_i|| / d_i``."""
        out = self._dn
        if self.modal is not None:
            out += float(np.sum(self._rn / self._d))
        for _, ZB, CZ, _, _, K in self.dense:
            out += np.linalg.norm(ZB, 2) * np.linalg.norm(CZ, 2) * K
        return out * (1 + 64 * EPS * (1 + self.order))

    def d_infinity(self) -> float:
        """A lower bound on ``sigma_max(G(inf))``, ``G(inf) = sum sign (C B + D)`` (textbook D)."""
        Dt = sum(sign * (sys.C @ sys.B + sys.D_or_zero) for sys, sign in self.terms)
        slack = sum(16 * (sys.B.shape[0] + 1) * EPS * (np.linalg.norm(sys.C) * np.linalg.norm(sys.B)
                                                       + np.linalg.norm(sys.D_or_zero))
                    for sys, _ in self.terms)
        return max(float(np.linalg.norm(Dt, 2)) - slack, 0.0)


def _upper_solve(M, rhs):
    """``X = M^-1 rhs`` for upper-triangular ``M`` (F, n, n) and ``rhs`` (F, n, p), by
    substitution: componentwise backward error ``|dM| <= n eps |M|`` (Higham, Thm 8.5).

    Small blocks: one batched LU over F (per-call overhead dominates ``n^3``; LU of a triangular
    matrix pivots nowhere, so it is the triangular solve); larger ones: LAPACK ``?trtrs`` per
    frequency, ``O(n^2 p)`` instead of the LU's ``O(n^3)`` (at n = 120 it took 90% of a
    certified H-infinity bracket before).
    """
    n = M.shape[-1]
    if n <= _BATCHED_SOLVE_MAX:
        return np.linalg.solve(M, rhs)
    rhs = np.broadcast_to(rhs, (M.shape[0], *rhs.shape[-2:]))
    out = np.empty(rhs.shape, np.result_type(M, rhs))
    trtrs = sla.lapack.ztrtrs if np.iscomplexobj(out) else sla.lapack.dtrtrs
    for f in range(M.shape[0]):
        out[f], info = trtrs(M[f].astype(out.dtype, copy=False), rhs[f].astype(out.dtype))
        if info != 0:  # a zero diagonal entry: the caller's bounds exclude it (|1 - x lambda| > 0)
            raise np.linalg.LinAlgError(f"?trtrs: singular triangular factor (info {info})")
    return out


def _schur_solve(T, ZB, omega):
    """``X = (I - e^{-i omega} T)^-1 ZB`` for upper-triangular ``T``: (F, n, p)."""
    n = T.shape[0]
    zinv = np.exp(-1j * omega)
    out = np.empty((omega.size, n, ZB.shape[1]), complex)
    for lo in range(0, omega.size, 256):
        M = np.eye(n)[None] - zinv[lo:lo + 256, None, None] * T[None]
        out[lo:lo + 256] = _upper_solve(M, np.broadcast_to(ZB, (M.shape[0], *ZB.shape)))
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


@dataclass(frozen=True)
class HinfBracket:
    """Certified bracket ``lower <= ||G||_inf <= upper``; unpacks as ``lower, upper = bracket``.

    ``lower`` is a value of ``sigma_max(G(exp(i frequency)))`` (or of ``G(inf)``) less its
    rounding bound; ``upper`` is a level proved by adaptive cells to lie above ``sigma_max`` at
    every frequency, plus the bound between the system and the surrogate it was evaluated on.
    ``tests`` counts the proofs run.
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


def _prove_below(parts: _Parts, gamma: float, lb: float, edges: np.ndarray):
    """Prove ``sigma_max(G_surrogate) < gamma`` on the whole frequency domain.

    Adaptive cells, starting from ``edges``: on ``[a, b]`` every ``Re(u^H G v)`` (unit ``u, v``)
    lies below its chord plus ``sup ||G''|| (b - a)^2 / 8`` (:meth:`_Parts.cell_bounds`), so
    ``sup sigma_max <= max(sigma(a), sigma(b)) + err + that``; cells where this is not below
    ``gamma`` are halved. Returns ``("proved",)``; ``("higher", w, value)`` when a point above
    the lower bound ``lb`` shows that ``gamma`` may be too low; ``("rounding", v)`` when a value
    at most ``lb`` is within its rounding bound ``v`` of ``gamma``; or ``("stuck",)`` when cells
    reach the resolution of doubles or :data:`_CELL_BUDGET`.
    """
    L, R = edges[:-1], edges[1:]
    spent = 0
    while L.size:
        spent += L.size
        if spent > _CELL_BUDGET:
            return ("stuck",)
        pts, inv = np.unique(np.r_[L, R], return_inverse=True)
        sv, er = parts.evaluate(pts)
        if np.any(sv + er >= gamma):
            j = int(np.argmax(sv))
            if sv[j] > lb:
                return ("higher", float(pts[j]), float(sv[j]))
            return ("rounding", float(np.max(sv + er)))
        top = np.maximum(*(sv + er)[inv].reshape(2, -1))
        extra = np.concatenate([parts.cell_bounds(L[a:a + 256], R[a:a + 256])
                                for a in range(0, L.size, 256)])
        open_ = top + extra >= gamma
        L, R = L[open_], R[open_]
        mid = 0.5 * (L + R)
        if np.any((mid <= L) | (mid >= R)):
            return ("stuck",)
        L, R = np.r_[L, mid], np.r_[mid, R]
    return ("proved",)


def _certify(parts: _Parts, rtol: float) -> HinfBracket:
    grid = _grid(parts)
    edges = np.unique(np.r_[grid, 0.0, np.pi] if parts.real else np.r_[grid, -np.pi, np.pi])
    sv, er = parts.evaluate(grid)
    w_lb, lb = _refine(parts, grid, sv)
    trivial = parts.trivial_bound()
    d_inf = parts.d_infinity()
    # no upper bound can be proved below the rounding of the values already seen
    floor = float(np.max(sv + er)) * (1 + 4 * EPS)
    tests, width, extra = 0, rtol, 0.0
    while True:
        if tests >= _MAX_TESTS:
            # each test raised the lower bound by a little: widen (the bracket stays certified)
            width *= 2
        e_lb = float(parts.evaluate(np.array([w_lb]))[1][0])
        # the final bracket is [lb - e_lb - transfer, gamma + transfer]: aim gamma at the
        # requested width of that, but never below the rounding of sigma_surrogate(w_lb)
        low = max(lb - e_lb - parts.transfer, d_inf)
        gamma = max((1 + width) * low - parts.transfer, (lb + e_lb) * (1 + 4 * EPS), floor,
                    d_inf * (1 + width), np.finfo(float).tiny) + extra
        if gamma >= trivial:
            # undecided under rounding up to the sum of moduli, itself an upper bound
            gamma = trivial
            break
        got = _prove_below(parts, gamma, lb, edges)
        tests += 1
        if got[0] == "proved":
            break
        if got[0] == "rounding":
            # a value within its rounding bound of gamma: no level below that can be proved
            floor = max(floor, got[1] * (1 + 4 * EPS))
            continue
        if got[0] == "higher":
            w = got[1]
            h = float(np.min(np.abs(edges - w)[np.abs(edges - w) > 0], initial=1e-3))
            local = w + h * np.linspace(-1, 1, 9)
            w_ref, v_ref = _refine(parts, local, parts.smax(local), k=1)
            w_lb, lb = (w_ref, v_ref) if v_ref > got[2] else (w, got[2])
            continue
        # undecided at this level (rounding of the values, or of the frequencies): widen, also
        # in absolute terms (a nearly zero error system has low = 0)
        width *= 4
        extra = max(4 * extra, e_lb + float(np.max(er)))
    # low and e_lb belong to the final w_lb: it changes only on "higher", which loops again
    lower = max(low, 0.0)
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
        ``lower <= ||G||_inf <= upper``, the peak frequency and the number of cell proofs run.

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
    maxima and by the cell proof, less a bound on its rounding; ``sigma_max(G(inf))``
    (maximum-modulus principle).
    *Upper bound:* a proof over the whole circle by adaptive cells (:func:`_prove_below`): on a
    cell ``[a, b]`` every ``Re(u^H G v)`` lies below its chord plus ``M (b - a)^2 / 8`` with ``M
    >= sup ||G''||``, so ``sigma_max < gamma`` on the cell once ``max(sigma(a), sigma(b))`` plus
    their rounding bounds plus that term is below ``gamma``. ``M`` comes from the Taylor
    coefficients of the surrogate at the cell's centre, computed from the system being bracketed
    itself (for ``hinf_error`` the error system: the terms of ``G`` and ``G_r`` cancel there as
    they do in ``G - G_r``, so the margins scale with the error, not with ``||G||``), with their
    rounding bounded by majorant recurrences and the neglected tail by Cauchy's estimate on a
    disk a quarter of the cell's distance to the poles. Cells that fail are halved; a point whose
    value exceeds the lower bound raises it (local Brent search) and the proof restarts. When
    rounding leaves a level undecided (values within their rounding of ``gamma``, cells below
    the resolution of doubles, or :data:`_CELL_BUDGET` cells) ``gamma`` is raised fourfold in
    width, at worst to the sum of moduli ``||D|| + sum_i ||c_i b_i|| / (1 - |lambda_i|)``
    (always an upper bound). The pole angles in the starting grid only save cells: correctness
    does not depend on the grid. An eigenvalue of a dense ``A`` within rounding of the unit
    circle raises :class:`UnstableError`. ``rtol`` is the target width; the bracket is wider
    when the surrogate bound or rounding require it (``rel_width`` shows it): for a dense system
    with ``1 - |lambda| = d`` about ``cond(V)^2 eps / d`` relative; for an error system about
    ``(n + m) eps ||G||`` absolute.
    Cost: the grid ``O(n^2 p q)`` for modal systems (``O(n^3)`` once for a dense one) plus, per
    proof (usually one), ``O(k^2 n)`` per cell (``k = 16`` Taylor terms; a Schur part ``O(k
    n^3)``) over a few hundred to a few thousand cells.

    References
    ----------
    R. E. Moore, R. B. Kearfott, M. J. Cloud, "Introduction to Interval Analysis", SIAM (2009)
    (verified bounds from Taylor expansions with a bounded remainder).
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
        G = (system.C @ Z) @ _schur_solve(T, Z.conj().T @ system.B, omega)
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
