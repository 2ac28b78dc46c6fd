"""Independent high-precision oracles (mpmath) for checking the double-precision routines.

They use different formulas from the code under test (geometric series in multiprecision
arithmetic with exact pi, instead of ``expm1`` with double-double angle wrapping), starting from
the same double-precision log-eigenvalues, which are exact binary numbers.
"""

from __future__ import annotations

import numpy as np

__all__ = ["mp_gramian", "mp_controllability_gramian", "mp_observability_gramian", "mp_golden_max",
           "mp_modal_sigma_max"]


def mp_gramian(s, M, horizon: int | None = None, *, dps: int = 50) -> np.ndarray:
    """``W_ij = M_ij sum_{k<N} (exp(s_i) conj(exp(s_j)))^k`` in ``dps``-digit arithmetic, rounded.

    ``sum_{k<N} z^k = (1 - z^N)/(1 - z)`` and ``1/(1 - z)`` for ``N = inf``; ``M`` is used as given
    (its double entries are exact inputs). Cost ``O(m^2)`` multiprecision operations.
    """
    import mpmath

    s = np.asarray(s, complex)
    M = np.asarray(M, complex)
    m = s.shape[0]
    out = np.empty((m, m), complex)
    with mpmath.workdps(dps):
        lam = [mpmath.exp(mpmath.mpc(float(v.real), float(v.imag))) for v in s]
        for i in range(m):
            for j in range(m):
                z = lam[i] * mpmath.conj(lam[j])
                geo = 1 / (1 - z) if horizon is None else (1 - z**horizon) / (1 - z)
                val = mpmath.mpc(M[i, j].real, M[i, j].imag) * geo
                out[i, j] = complex(val)
    return out


def mp_controllability_gramian(system, horizon: int | None = None, *, dps: int = 50):
    """Oracle for ``Wc(N)`` of a ModalSystem; ``B B^H`` is formed in ``dps`` digits too."""
    return mp_gramian(system.s, _mp_outer(system.B, dps), horizon, dps=dps)


def mp_observability_gramian(system, horizon: int | None = None, *, dps: int = 50):
    """Oracle for ``Wo(N)`` of a ModalSystem (``conj(s)`` and ``C^H C``)."""
    return mp_gramian(system.s.conj(), _mp_outer(system.C.conj().T, dps), horizon, dps=dps)


def _mp_outer(X, dps):
    """``X X^H`` accumulated in ``dps`` digits (the oracle should not inherit rounding of ``X X^H``)."""
    import mpmath

    X = np.asarray(X, complex)
    m, p = X.shape
    out = np.empty((m, m), complex)
    with mpmath.workdps(dps):
        xs = [[mpmath.mpc(X[i, k].real, X[i, k].imag) for k in range(p)] for i in range(m)]
        for i in range(m):
            for j in range(m):
                out[i, j] = complex(mpmath.fsum(xs[i][k] * mpmath.conj(xs[j][k]) for k in range(p)))
    return out


def mp_golden_max(f, lo, hi, iters: int):
    """``max f`` on ``[lo, hi]`` by golden-section search, in the working mpmath precision.

    ``f`` must be unimodal on the window (one peak); each iteration shrinks it by 0.618, so
    ``iters`` iterations locate the peak to ``0.618^iters (hi - lo)`` and, the peak being
    quadratic, the value to the square of that. Cost: ``iters + 2`` evaluations of ``f``.
    """
    import mpmath

    g = (mpmath.sqrt(5) - 1) / 2
    lo, hi = mpmath.mpf(lo), mpmath.mpf(hi)
    a, b = hi - g * (hi - lo), lo + g * (hi - lo)
    fa, fb = f(a), f(b)
    for _ in range(iters):
        if fa < fb:
            lo, a, fa = a, b, fb
            b = lo + g * (hi - lo)
            fb = f(b)
        else:
            hi, b, fb = b, a, fa
            a = hi - g * (hi - lo)
            fa = f(a)
    return max(fa, fb)


def mp_modal_sigma_max(system, w):
    """``sigma_max(G(e^{i w}))`` of a ModalSystem in the working mpmath precision.

    ``G = sum_i c_i b_i / (1 - exp(s_i - i w)) + D`` directly from the log-eigenvalues ``s``
    (exact binary inputs), not from the closed form of the code under test.
    """
    import mpmath

    z = mpmath.exp(mpmath.mpc(0, -w))
    q, p = system.C.shape[0], system.B.shape[1]
    G = mpmath.matrix(q, p)
    for i in range(system.m):
        f = 1 / (1 - mpmath.exp(mpmath.mpc(system.s[i].real, system.s[i].imag)) * z)
        for a in range(q):
            for b in range(p):
                G[a, b] += mpmath.mpc(system.C[a, i]) * mpmath.mpc(system.B[i, b]) * f
    D = system.D_or_zero
    for a in range(q):
        for b in range(p):
            G[a, b] += mpmath.mpc(D[a, b])
    if q == 1 or p == 1:
        return mpmath.sqrt(sum(abs(G[a, b]) ** 2 for a in range(q) for b in range(p)))
    return max(mpmath.svd_c(G, compute_uv=False))
