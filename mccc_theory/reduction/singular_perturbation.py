"""Balanced singular perturbation approximation (SPA) in discrete time, with its error bounds.

Convention (:mod:`mccc_theory.systems`): ``h_t = A h_{t-1} + B u_t, y_t = C h_t + D u_t``, so the
transfer function is ``G(z) = D + C (I - A / z)^-1 B`` (lag 0 enters through ``C B``). As a
textbook system ``x_{t+1} = A x_t + B u_t, y_t = C' x_t + D' u_t`` (``x_t = h_{t-1}``) the same map
is ``(A, B, C' = C A, D' = D + C B)``; SPA is defined on that realization (the MCCC one has no
causal SPA: reducing ``(A, B, C, 0)`` gives a feedthrough that would act one step early).
Balance ``(A, B, C A)``, partition the balanced states into the kept ``1`` and the discarded
``2`` and set the discarded states to their steady state ``x_2 = (I - A_22)^-1 (A_21 x_1 +
B_2 u)`` (Liu & Anderson 1989)::

    A_r = A_11 + A_12 M A_21,  B_r = B_1 + A_12 M B_2,  C'_r = C'_1 + C'_2 M A_21,
    D'_r = D' + C'_2 M B_2,    M = (I - A_22)^-1,

and back in the MCCC convention ``C_r = C'_r A_r^-1``, ``D_r = D'_r - C_r B_r``. The reduced
model is stable, matches the DC gain ``G_r(1) = G(1)`` exactly, and for ``sigma_r > sigma_{r+1}``
(Hankel singular values of ``(A, B, C A)``)::

    sigma_{r+1} <= ||G - G_r||_inf <= 2 * (sum of the distinct sigma_i, i > r).

Balanced truncation matches ``G`` at ``z = infinity`` instead; SPA is the better fit at low
frequencies (long lags), BT at high ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import DefectiveError, OrderError
from ..systems import ModalSystem, StateSpace
from ..validation import check_choice, check_positive_int
from .balanced import _balance, _check_reduced_stable, _check_split, _check_system, error_bounds

__all__ = ["SingularPerturbation", "singular_perturbation"]

_EPS = np.finfo(float).eps


@dataclass(frozen=True, eq=False)
class SingularPerturbation:
    """Result of :func:`singular_perturbation`.

    Attributes
    ----------
    reduced : StateSpace
        ``(A_r, B_r, C_r, D_r)`` of order ``order``, MCCC convention (``D_r`` is in general
        nonzero even when ``D = 0``); real for real maps.
    order : int
    hsv : (k,) array
        Hankel singular values of the textbook realization ``(A, B, C A)`` of ``G``, descending.
    rank : int
        Number of values above ``cut = n eps sigma_1``.
    cut : float
    lower_bound, upper_bound : float
        ``sigma_{r+1}`` and ``2 * sum of the distinct sigma_i, i > r``: the bracket on
        ``||G - G_r||_inf``.
    readout_map : (n, r) array
        ``C_r = C @ readout_map`` (in the system's own state coordinates): the reduced readout is
        a fixed linear map of the full one, which is how a query-dependent readout is reduced.
    feedthrough_map : (n, p) array
        ``D_r = D + C @ feedthrough_map``.
    """

    reduced: StateSpace
    order: int
    hsv: np.ndarray
    rank: int
    cut: float
    lower_bound: float
    upper_bound: float
    readout_map: np.ndarray
    feedthrough_map: np.ndarray


def _textbook(system):
    """``(A, B, C A, D)`` of the same map, in the same state coordinates (see module docstring)."""
    if isinstance(system, ModalSystem):
        return ModalSystem(system.s, system.B, system.C * system.lam[None, :], system.D)
    return StateSpace(system.A, system.B, system.C @ system.A, system.D)


def singular_perturbation(system, order: int, *, factor: str = "pivoted_cholesky"
                          ) -> SingularPerturbation:
    """Balanced singular perturbation approximation ``G_r`` of order ``r`` (discrete time).

    Parameters
    ----------
    system : ModalSystem or StateSpace
        Stable, real or complex, MCCC convention.
    order : int
        ``r`` in ``[1, rank]`` (rank: the numerical rank of the Hankel operator of ``(A, B, C A)``),
        not splitting a repeated Hankel singular value.
    factor : {"pivoted_cholesky", "eigh"}
        Rank-revealing Gramian factorisation.

    Returns
    -------
    SingularPerturbation

    Raises
    ------
    OrderError
        ``order`` outside ``[1, rank]``, splitting a repeated value, or a zero map.
    DefectiveError
        If ``A_r`` is singular to working precision (a reduced pole at 0: the MCCC form
        ``C_r = C'_r A_r^-1`` does not exist), or if the reduced model comes out unstable
        (only at the rounding level of the Gramians).
    UnstableError, ShapeError, MethodError
        For an unstable system, malformed input or an unknown ``factor``.

    Notes
    -----
    The balanced minimal realization from the square-root method (Gramian factors and one SVD,
    as in :func:`~mccc_theory.reduction.balanced_truncation`), then the formulas of the module
    docstring: one ``(k - r)``-square solve and one ``r``-square solve. Cost as balanced
    truncation plus ``O(k^3)``.

    References
    ----------
    Y. Liu, B. D. O. Anderson, "Singular perturbation approximation of balanced systems",
    Int. J. Control 50 (1989). K. Fernando, H. Nicholson, "Singular perturbational model
    reduction of balanced systems", IEEE TAC 27 (1982). A. Varga, "Balancing free square-root
    algorithm for computing singular perturbation approximations", Proc. 30th IEEE CDC (1991)
    (SLICOT AB09BD, the tests' oracle).
    """
    check_choice(factor, "factor", ("pivoted_cholesky", "eigh"))
    system = _check_system(system)
    bal = _balance(_textbook(system), factor)
    k = bal.rank
    if k == 0:
        raise OrderError("system: every Hankel singular value is zero (B = 0 or C A = 0): the "
                         "map is a constant and has no reduced state space")
    sig = bal.hsv[:k]
    r = check_positive_int(order, "order", minimum=1)
    if r > k:
        raise OrderError(f"order: expected an integer in [1, {k}] (the numerical rank of the "
                         f"Hankel operator of (A, B, C A)), found {r}")
    _check_split(sig, r)
    bal_red, T, _ = bal.reduce(k, "sr")  # the balanced minimal realization, T in user coords
    Ab, Bb = bal_red.A, bal_red.B
    # readout map of the textbook C' = C A in the user coordinates: C'_b = C (A T)
    AT = system.lam[:, None] * T if isinstance(system, ModalSystem) else system.A @ T
    A11, A12, A21, A22 = Ab[:r, :r], Ab[:r, r:], Ab[r:, :r], Ab[r:, r:]
    MA, MB = (np.linalg.solve(np.eye(k - r) - A22, X) for X in (A21, Bb[r:]))
    Ar, Br = A11 + A12 @ MA, Bb[:r] + A12 @ MB
    Kp = AT[:, :r] + AT[:, r:] @ MA  # C'_r = C Kp
    cond = np.linalg.cond(Ar)
    # Beyond 1/sqrt(eps) the inverse loses more than half the digits: a (numerically) zero pole.
    if not np.isfinite(cond) or cond > 1 / np.sqrt(_EPS):
        raise DefectiveError(
            f"order: the order-{r} SPA model has a pole at (numerically) 0 (cond(A_r) = "
            f"{cond:.3g}), so it has no MCCC form C_r = C'_r A_r^-1 (its lag-0 output would need a "
            "state read before the input). Use another order or balanced_truncation")
    K = np.linalg.solve(Ar.T, Kp.T).T  # Kp Ar^-1
    F = system.B + AT[:, r:] @ MB - K @ Br
    Cr, Dr = system.C @ K, system.D_or_zero + system.C @ F
    if bal.coords.real:
        Cr, Dr, Ar, Br = Cr.real, Dr.real, Ar.real, Br.real
    reduced = StateSpace(Ar, Br, Cr, Dr)
    _check_reduced_stable(reduced, sig, r, "order")
    lower, upper = error_bounds(sig, r)
    return SingularPerturbation(reduced, r, bal.hsv, k, bal.cut, lower, upper, K, F)
