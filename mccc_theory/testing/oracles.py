"""Independent high-precision oracles (mpmath) for checking the double-precision routines.

They use different formulas from the code under test (geometric series in multiprecision
arithmetic with exact pi, instead of ``expm1`` with double-double angle wrapping), starting from
the same double-precision log-eigenvalues, which are exact binary numbers.
"""

from __future__ import annotations

import numpy as np

__all__ = ["mp_gramian", "mp_controllability_gramian", "mp_observability_gramian"]


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
