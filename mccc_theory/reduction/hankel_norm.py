"""Optimal Hankel-norm approximation (Glover / Adamjan-Arov-Krein) in discrete time.

Convention (:mod:`mccc_theory.systems`): the Hankel operator of ``h_t = A h_{t-1} + B u_t,
y_t = C h_t + D u_t`` is ``[C A^(i+j) B]_{i,j>=0}``, the textbook Hankel operator of
``(A, B, C, 0)``. Among all stable models of order ``r`` the Hankel-norm error is at least
``sigma_{r+1}`` (AAK); this module constructs a model attaining it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla

from ..errors import DefectiveError, OrderError
from ..systems import StateSpace
from ..validation import check_positive_int
from .balanced import _balance, _check_factors, _for_user, _hankel_view, _stable_default

__all__ = ["HankelNormApproximation", "hankel_norm_approximation", "SIMPLE_GAP"]

#: ``sigma_{r+1}`` must be separated from its neighbours by this relative gap: the construction
#: divides by ``sigma_i^2 - sigma_{r+1}^2`` and loses about ``log10(1 / gap)`` digits.
SIMPLE_GAP = 1e-6


@dataclass(frozen=True, eq=False)
class HankelNormApproximation:
    """Result of :func:`hankel_norm_approximation`.

    Attributes
    ----------
    reduced : StateSpace or control.StateSpace
        Stable order-``r`` model ``(Ar, Br, Cr, D)`` (the system's ``D`` and convention; a
        ``control.StateSpace`` with the system's ``dt`` for a python-control input).
    order : int
    hsv : (k,) array
        Hankel singular values of the system (descending).
    hankel_error : float
        ``sigma_{r+1}``, the Hankel norm of ``G - G_r`` (optimal: every order-``r`` model has
        Hankel-norm error ``>= sigma_{r+1}``, whatever its ``D``).
    rank : int
        Numerical rank of the Hankel operator (values above ``n eps sigma_1``).
    """

    reduced: StateSpace
    order: int
    hsv: np.ndarray
    hankel_error: float
    rank: int


def _bilinear_to_continuous(A, B, C):
    """``z = (1 + s)/(1 - s)``: discrete ``(A, B, C)`` -> continuous, Gramians unchanged."""
    n = A.shape[0]
    lu = sla.lu_factor(A + np.eye(n))
    Ac = np.eye(n) - 2 * sla.lu_solve(lu, np.eye(n))
    Bc = np.sqrt(2) * sla.lu_solve(lu, B)
    Cc = np.sqrt(2) * sla.lu_solve(lu, C.conj().T, trans=2).conj().T
    return Ac, Bc, Cc


def _bilinear_to_discrete(Ac, Bc, Cc):
    """Inverse of :func:`_bilinear_to_continuous`: ``A = (I + Ac)(I - Ac)^-1``."""
    n = Ac.shape[0]
    lu = sla.lu_factor(np.eye(n) - Ac)
    Minv = sla.lu_solve(lu, np.eye(n))
    return (np.eye(n) + Ac) @ Minv, np.sqrt(2) * (Minv @ Bc), np.sqrt(2) * (Cc @ Minv)


def hankel_norm_approximation(system, order: int, *, factors=None) -> HankelNormApproximation:
    """Order-``r`` model with Hankel-norm error exactly ``sigma_{r+1}`` (Glover's construction).

    Parameters
    ----------
    system : ModalSystem, StateSpace or control.StateSpace
        A python-control system is approximated as the textbook system it is.
        Stable, real or complex, MCCC convention.
    order : int
        ``r`` in ``[1, rank]``; ``r = rank`` returns the balanced minimal realization (as do
        orders whose ``sigma_r`` is at the rounding level, where the construction is void).
    factors : (Lc, Lo), optional
        Known Gramian factors of a :class:`StateSpace`, as in
        :func:`~mccc_theory.reduction.balanced_truncation` (resolves Hankel singular values
        below ``sqrt(n eps) sigma_1`` that factoring computed Gramians loses).

    Returns
    -------
    HankelNormApproximation

    Raises
    ------
    UnstableError
        Unstable or marginally stable system.
    OrderError
        ``order`` outside ``[1, rank]``, or ``sigma_{r+1}`` not simple (within a relative
        :data:`SIMPLE_GAP` of ``sigma_r`` or ``sigma_{r+2}``).
    DefectiveError
        If rounding leaves the all-pass dilation with a number of stable poles other than ``r``
        (the Hankel singular values are too close to resolve), or if ``factors`` do not solve
        the Stein equations.
    MethodError, ShapeError
        ``factors`` for a :class:`ModalSystem`, or of the wrong shape.

    Notes
    -----
    1. Square-root balancing of the numerically minimal part (:mod:`.balanced`).
    2. The bilinear map ``z = (1 + s)/(1 - s)`` with ``sqrt2`` scaling takes the discrete balanced
       ``(A, B, C)`` to a continuous balanced system with the same Gramians, hence the same
       Hankel singular values; it maps the unit disc onto the left half-plane and preserves
       Hankel norms of stable systems.
    3. With ``sigma = sigma_{r+1}`` moved last, ``Sigma = diag(Sigma_1, sigma)``,
       ``Gamma = Sigma_1^2 - sigma^2 I`` and ``U = -C_2 B_2 / (C_2^H C_2)`` (so ``B_2 = -C_2^H U``;
       ``U`` has norm 1): ``A^ = Gamma^-1 (sigma^2 A_11^H + Sigma_1 A_11 Sigma_1 - sigma C_1^H U
       B_1^H)``, ``B^ = Gamma^-1 (Sigma_1 B_1 + sigma C_1^H U)``, ``C^ = C_1 Sigma_1 + sigma U
       B_1^H``. Then ``G - G^`` is ``sigma`` times an all-pass and ``A^`` has exactly ``r``
       stable eigenvalues.
    4. The stable part of ``G^`` (ordered Schur form and one Sylvester equation) mapped back by
       the inverse bilinear map is the model; its Hankel error is ``sigma`` because the
       anti-stable part does not enter the Hankel operator. Cost ``O(n^3)``.

    References
    ----------
    K. Glover, "All optimal Hankel-norm approximations of linear multivariable systems and their
    L-infinity error bounds", Int. J. Control 39 (1984), Theorem 6.3.
    V. M. Adamjan, D. Z. Arov, M. G. Krein, Math. USSR Sbornik 15 (1971).
    """
    original = system
    checked, system = _hankel_view(system)
    r = check_positive_int(order, "order", minimum=1)
    bal = _balance(system, "eigh", factors=_check_factors(factors, system))
    rank = bal.rank
    if r > rank:
        raise OrderError(f"order: expected an integer in [1, {rank}] (the numerical rank of the "
                         f"Hankel operator), found {r}")
    hsv = bal.hsv
    # Balanced minimal realization (Wc = Wo = diag(hsv[:n1]) up to rounding), without trailing
    # rounding-level states that would make it unstable.
    bal_sys, _, _, n1 = _stable_default(bal, rank, "sr")
    if r >= n1:
        return HankelNormApproximation(_for_user(original, checked, bal_sys), r, hsv,
                                       float(hsv[r]) if r < hsv.size else 0.0, rank)
    sigma = hsv[r]
    for nb, name in ((r - 1, f"sigma_{r}"), (r + 1, f"sigma_{r + 2}")):
        if 0 <= nb < n1 and abs(hsv[nb] - sigma) <= SIMPLE_GAP * sigma:
            raise OrderError(
                f"order: sigma_{r + 1} = {sigma:.10g} is not simple ({name} = {hsv[nb]:.10g}, "
                f"relative gap below {SIMPLE_GAP:g}); the construction needs a simple "
                f"sigma_(order+1). Choose an order where the Hankel singular values are separated, "
                f"or use balanced_truncation")
    Ac, Bc, Cc = _bilinear_to_continuous(bal_sys.A, bal_sys.B, bal_sys.C)
    # sigma_{r+1} moved last
    perm = np.r_[np.arange(r), np.arange(r + 1, n1), r]
    Ac, Bc, Cc = Ac[np.ix_(perm, perm)], Bc[perm], Cc[:, perm]
    S1 = hsv[perm[:-1]]
    A11, B1, C1 = Ac[:-1, :-1], Bc[:-1], Cc[:, :-1]
    B2, C2 = Bc[-1:], Cc[:, -1:]
    U = -(C2 @ B2) / np.vdot(C2, C2).real
    gam = S1**2 - sigma**2
    Ah = (sigma**2 * A11.conj().T + S1[:, None] * A11 * S1[None, :]
          - sigma * (C1.conj().T @ U @ B1.conj().T)) / gam[:, None]
    Bh = (S1[:, None] * B1 + sigma * (C1.conj().T @ U)) / gam[:, None]
    Ch = C1 * S1[None, :] + sigma * (U @ B1.conj().T)
    real = not np.iscomplexobj(Ah)
    T, Z, sdim = sla.schur(Ah, output="real" if real else "complex", sort="lhp")
    if sdim != r:
        raise DefectiveError(
            f"system: the all-pass dilation has {sdim} stable poles where order = {r} were "
            f"expected; sigma_{r} = {hsv[r - 1]:.6g}, sigma_{r + 1} = {sigma:.6g}, "
            f"sigma_{r + 2} = {hsv[r + 1] if r + 1 < hsv.size else 0.0:.6g} are too close to "
            "resolve in double precision. Use balanced_truncation for this order")
    # Decouple the stable block: [[I, -X], [0, I]] T [[I, X], [0, I]] = blkdiag(T11, T22).
    T11, T12, T22 = T[:r, :r], T[:r, r:], T[r:, r:]
    X = sla.solve_sylvester(T11, -T22, -T12)
    ZB, CZ = Z.conj().T @ Bh, Ch @ Z
    Bs = ZB[:r] - X @ ZB[r:]
    Ad, Bd, Cd = _bilinear_to_discrete(T11, Bs, CZ[:, :r])
    red = StateSpace(Ad, Bd, Cd, bal.coords.D)
    return HankelNormApproximation(_for_user(original, checked, red), r, hsv, float(sigma), rank)
