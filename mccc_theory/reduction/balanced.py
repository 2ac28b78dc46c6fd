"""Balanced truncation (square-root and balancing-free square-root) with its error bounds.

Conventions (:mod:`mccc_theory.systems`): the Hankel operator of ``(A, B, C, D)`` is
``[C A^(i+j) B]_{i,j>=0}`` with Gramians ``Wc = sum A^k B B^H A^Hk`` and
``Wo = sum A^Hk C^H C A^k`` in both the MCCC convention (``h_t = A h_{t-1} + B u_t,
y_t = C h_t + D u_t``) and the textbook one (``x_{t+1} = A x_t + B u_t, y_t = C x_t + D u_t``,
python-control, MATLAB, SLICOT). A ``control.StateSpace`` is reduced as the textbook system it is
(the result is a ``control.StateSpace`` with the same ``dt``: AB09AD's answer). The reduced
model ``(Ar, Br, Cr, D)`` keeps ``D``, is stable, and for ``sigma_r > sigma_{r+1}``::

    ||G - G_r||_inf <= 2 * sum of the distinct sigma_i, i > r          (this model),
    ||G - G_hat||_H >= sigma_{r+1}                                      (every order-r G_hat),

and ``||G - G_hat||_inf >= ||G - G_hat||_H`` for every ``G_hat`` whose error's Hankel operator
is a section of its multiplication operator: in the textbook convention any order-``r`` model,
whatever its ``D``; in the MCCC convention (where lag 0 enters the Hankel operator and ``D``
splits it) only order-``r`` models with the same ``D``: a model with another feedthrough can get
below ``sigma_{r+1}`` in H-infinity norm. In discrete time the reduced model is not itself
balanced (its Gramians are not ``diag(sigma_1..sigma_r)``); nothing here assumes that.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Real

import numpy as np

from ..errors import DefectiveError, DTypeError, MethodError, OrderError, ShapeError
from ..gramians import controllability_gramian, gramian_factor, observability_gramian
from ..systems import ModalSystem, StateSpace, _conjugate_permutation, like_input
from ..systems import check_stable_system as _check_system
from ..validation import as_array, check_choice, check_positive_int

__all__ = ["BalancedTruncation", "balanced_truncation", "error_bounds", "GROUP_RTOL"]

#: Hankel singular values within this relative distance are one repeated value: the bound counts
#: them once and an order may not split them. Rounding separates exactly repeated values by about
#: ``eps sigma_1 / sigma``; values not merged only make the bound more conservative.
GROUP_RTOL = 1e-9


def _groups(hsv: np.ndarray) -> np.ndarray:
    """Group label of each (descending) value: consecutive values within GROUP_RTOL share one."""
    if hsv.size == 0:
        return np.zeros(0, int)
    new = np.r_[True, hsv[:-1] - hsv[1:] > GROUP_RTOL * hsv[:-1]]
    return np.cumsum(new) - 1


def error_bounds(hsv, order: int) -> tuple[float, float]:
    """``(sigma_{r+1}, 2 * sum of distinct sigma_i for i > r)`` for a reduced order ``r``.

    Parameters
    ----------
    hsv : (k,) array
        Hankel singular values in descending order (the significant ones; values below the
        rank cut are taken as zero).
    order : int >= 0

    Returns
    -------
    (lower, upper) : floats
        Any order-``r`` model has Hankel-norm error ``>= lower``, hence H-infinity error
        ``>= lower`` (textbook convention: any ``D``; MCCC convention: models with the system's
        ``D``, see the module docstring); balanced truncation at ``r`` (not splitting a repeated
        value) has H-infinity error ``<= upper``.
    """
    hsv = np.asarray(hsv, float)
    order = check_positive_int(order, "order", minimum=0)
    tail = hsv[order:]
    if tail.size == 0:
        return 0.0, 0.0
    g = _groups(hsv)[order:]
    first = np.r_[True, g[1:] != g[:-1]]
    return float(tail[0]), float(2 * np.sum(tail[first]))


def _realify_rows(X, perm: np.ndarray) -> np.ndarray:
    """``R X`` with ``R`` the unitary of :meth:`ModalSystem.real_realization` (``h_real = R h``).

    Rows ``i < j = perm[i]`` of a conjugate pair become ``(x_i + x_j)/sqrt2`` and
    ``i (x_j - x_i)/sqrt2``; rows of real modes stay. ``O(n k)`` instead of a dense product.
    """
    X = np.asarray(X, complex)
    Y = X.copy()
    i = np.flatnonzero(perm > np.arange(X.shape[0]))
    j = perm[i]
    r = 1 / np.sqrt(2)
    Y[i] = r * (X[i] + X[j])
    Y[j] = 1j * r * (X[j] - X[i])
    return Y


def _unrealify_rows(Y, perm: np.ndarray) -> np.ndarray:
    """``R^H Y``, the inverse of :func:`_realify_rows`."""
    Y = np.asarray(Y, complex)
    X = Y.copy()
    i = np.flatnonzero(perm > np.arange(Y.shape[0]))
    j = perm[i]
    r = 1 / np.sqrt(2)
    X[i] = r * (Y[i] + 1j * Y[j])
    X[j] = r * (Y[i] - 1j * Y[j])
    return X


class _Coordinates:
    """A system seen in the coordinates where balancing is done (real ones for real maps).

    A conjugate-closed :class:`ModalSystem` is balanced in the real coordinates
    ``h_real = R h`` of :meth:`ModalSystem.real_realization` (``R`` unitary, two nonzeros per
    row, applied by row operations in ``O(n k)``), so its reduced model is real; projections are
    mapped back to the modal coordinates.
    """

    def __init__(self, system):
        self.system = system
        self.modal = isinstance(system, ModalSystem)
        self.perm = None
        if self.modal:
            self.lam = system.lam
            self.perm = _conjugate_permutation(system, 1e-12)
        self.real = self.perm is not None if self.modal else system.is_real
        if self.modal and self.real:
            self.B = self._R(system.B).real
            self.C = self._R(system.C.conj().T).real.T
            self.D = system.D_or_zero.real
        else:
            self.B, self.C, self.D = system.B, system.C, system.D_or_zero
        self.n = self.B.shape[0]

    def _R(self, X):
        return _realify_rows(X, self.perm)

    def _Rh(self, Y):
        return _unrealify_rows(Y, self.perm)

    def gramians(self):
        Wc = controllability_gramian(self.system)
        Wo = observability_gramian(self.system)
        if self.modal and self.real:
            # R W R^H for Hermitian W: apply R to the rows, then to the rows of the adjoint.
            Wc = self._R(self._R(Wc).conj().T).real
            Wo = self._R(self._R(Wo).conj().T).real
            Wc, Wo = 0.5 * (Wc + Wc.T), 0.5 * (Wo + Wo.T)
        return Wc, Wo

    def apply_A(self, X):
        if not self.modal:
            return self.system.A @ X
        if self.real:
            return self._R(self.lam[:, None] * self._Rh(X)).real
        return self.lam[:, None] * X

    def to_user(self, X):
        """Projection columns in the system's own state coordinates."""
        return self._Rh(X) if (self.modal and self.real) else X


@dataclass(frozen=True)
class _Balancing:
    coords: _Coordinates
    Lc: np.ndarray
    Lo: np.ndarray
    U: np.ndarray
    hsv: np.ndarray
    V: np.ndarray  # rows of V^H
    cut: float
    rank: int

    def projections(self, r: int, method: str):
        """``(T, W)`` with ``W^H T = I_r``, in the balancing coordinates."""
        if method == "sr":
            S = 1 / np.sqrt(self.hsv[:r])
            return self.Lc @ (self.V[:r].conj().T * S), self.Lo @ (self.U[:, :r] * S)
        # Balancing-free square root (Varga): orthonormal bases of the same two subspaces.
        X = np.linalg.qr(self.Lc @ self.V[:r].conj().T)[0]
        Y = np.linalg.qr(self.Lo @ self.U[:, :r])[0]
        return X, Y @ np.linalg.inv(Y.conj().T @ X).conj().T

    def reduce(self, r: int, method: str):
        T, W = self.projections(r, method)
        c = self.coords
        Wh = W.conj().T
        red = StateSpace(Wh @ c.apply_A(T), Wh @ c.B, c.C @ T, c.D)
        return red, c.to_user(T), c.to_user(W)


def _check_factors(factors, system):
    """Validate user-supplied Gramian factors ``(Lc, Lo)`` of a dense system (or None)."""
    if factors is None:
        return None
    if not isinstance(system, StateSpace):
        raise MethodError("factors: supported for a StateSpace only; a ModalSystem's Gramians "
                          "come from the closed form and are factored accurately already")
    try:
        Lc, Lo = factors
    except (TypeError, ValueError) as exc:
        raise ShapeError(f"factors: expected a pair (Lc, Lo), found {type(factors).__name__}"
                         ) from exc
    Lc, Lo = as_array(Lc, "factors[0] (Lc)", ndim=2), as_array(Lo, "factors[1] (Lo)", ndim=2)
    A, B, C = system.A, system.B, system.C
    for name, L, M, X in (("factors[0] (Lc)", Lc, A, B), ("factors[1] (Lo)", Lo, A.conj().T,
                                                          C.conj().T)):
        if L.shape[0] != system.n:
            raise ShapeError(f"{name}: expected {system.n} rows (one per state), found {L.shape}")
        # Stein residual M L L^H M^H - L L^H + X X^H relative to its terms; exact factors leave
        # rounding (~n eps), a wrong factor leaves O(1).
        ML = M @ L
        res = np.linalg.norm(ML @ ML.conj().T - L @ L.conj().T + X @ X.conj().T)
        scale = np.linalg.norm(ML) ** 2 + np.linalg.norm(L) ** 2 + np.linalg.norm(X) ** 2
        if not res <= _FACTOR_RTOL * scale:
            raise DefectiveError(
                f"{name}: L L^H does not solve the Stein equation of this system (relative "
                f"residual {res / scale:.2g} > {_FACTOR_RTOL:g}); pass Lc with Lc Lc^H = Wc and "
                "Lo with Lo Lo^H = Wo in the system's coordinates (MCCC convention)")
    return Lc, Lo


#: Relative Stein residual accepted for user-supplied factors (rounding leaves ~n eps).
_FACTOR_RTOL = 1e-10


def _balance(system, factor: str, rtol: float | None = None, factors=None) -> _Balancing:
    """Gramian factors and the SVD ``Lo^H Lc = U diag(hsv) V^H``; ``cut = rtol sigma_1``."""
    coords = _Coordinates(system)
    if factors is None:
        Wc, Wo = coords.gramians()
        Lc = gramian_factor(Wc, method=factor).L
        Lo = gramian_factor(Wo, method=factor).L
    else:
        Lc, Lo = factors
    n = coords.n
    if Lc.shape[1] == 0 or Lo.shape[1] == 0:
        return _Balancing(coords, Lc, Lo, np.zeros((Lo.shape[1], 0)), np.zeros(0),
                          np.zeros((0, Lc.shape[1])), 0.0, 0)
    U, hsv, Vh = np.linalg.svd(Lo.conj().T @ Lc, full_matrices=False)
    cut = (n * np.finfo(float).eps if rtol is None else rtol) * hsv[0]
    return _Balancing(coords, Lc, Lo, U, hsv, Vh, cut, int(np.sum(hsv > cut)))


@dataclass(frozen=True, eq=False)
class BalancedTruncation:
    """Result of :func:`balanced_truncation`.

    Attributes
    ----------
    reduced : StateSpace or control.StateSpace
        ``(W^H A T, W^H B, C T, D)``, order ``order``, in the system's convention (a
        ``control.StateSpace`` with the system's ``dt`` for a python-control input); real for
        real maps.
    order : int
    hsv : (k,) array
        Hankel singular values of the system, descending (those resolved by the Gramian
        factors; values at or below ``cut`` are numerically zero).
    rank : int
        Number of values above ``cut = n eps sigma_1``: the numerically minimal order.
    cut : float
    lower_bound : float
        ``sigma_{r+1}``: every order-``r`` model has Hankel-norm error ``>= sigma_{r+1}``; so has
        its H-infinity error, for any ``D`` in the textbook convention and for models with the
        system's ``D`` in the MCCC convention (another ``D`` can do better there).
    upper_bound : float
        ``2 * sum of the distinct sigma_i, i > r``: bounds ``||G - G_r||_inf`` (values below the
        cut excluded).
    T, W : (n, r) arrays
        Projections in the system's own state coordinates: ``h ~= T h_r``, ``h_r = W^H h``,
        ``W^H T = I``.
    method : {"sr", "bfsr"}
    """

    reduced: StateSpace
    order: int
    hsv: np.ndarray
    rank: int
    cut: float
    lower_bound: float
    upper_bound: float
    T: np.ndarray
    W: np.ndarray
    method: str


def _check_tol(tol) -> float:
    if isinstance(tol, bool) or not isinstance(tol, Real):
        raise DTypeError(f"tol: expected a float, found {type(tol).__name__} {tol!r}")
    tol = float(tol)
    if not (np.isfinite(tol) and tol > 0):
        raise OrderError(f"tol: expected a finite error bound > 0, found {tol!r}")
    return tol


def _check_split(hsv: np.ndarray, r: int, name: str = "order") -> None:
    if 0 < r < hsv.size:
        g = _groups(hsv)
        if g[r - 1] == g[r]:
            lo = int(np.flatnonzero(g == g[r])[0])
            hi = int(np.flatnonzero(g == g[r])[-1]) + 1
            options = " or ".join(f"{name}={k}" for k in (lo, hi) if 1 <= k <= hsv.size)
            raise OrderError(
                f"{name}: {r} splits the repeated Hankel singular value sigma_{r} = sigma_{r + 1} "
                f"= {hsv[r]:.6g} (equal within {GROUP_RTOL:g} relative; it spans orders "
                f"{lo + 1}..{hi}); the reduced model would depend on rounding. Use {options}")


def balanced_truncation(system, order: int | None = None, *, tol: float | None = None,
                        method: str = "sr", factor: str = "pivoted_cholesky",
                        factors=None) -> BalancedTruncation:
    """Balanced truncation ``G_r = (W^H A T, W^H B, C T, D)`` of a stable discrete-time system.

    Parameters
    ----------
    system : ModalSystem, StateSpace or control.StateSpace
        Stable, real or complex; a ``StateSpace`` in either convention, a python-control system
        as the textbook system it is (the result is then a ``control.StateSpace``, same ``dt``).
    order : int, optional
        Reduced order ``r`` in ``[1, rank]``. Default: the numerical rank (a minimal
        realization), lowered past trailing states at the Gramians' rounding level if keeping
        them makes the model unstable.
    tol : float, optional
        Instead of ``order``: the smallest order whose ``upper_bound`` is ``<= tol``.
    method : {"sr", "bfsr"}
        ``"sr"``: square root, ``T = Lc V_r S^-1/2``, ``W = Lo U_r S^-1/2`` (balanced
        coordinates). ``"bfsr"``: balancing-free square root, orthonormal bases of the same
        subspaces (better conditioned projections when ``sigma_1 / sigma_r`` is large; the reduced
        model is similar to the ``"sr"`` one).
    factor : {"pivoted_cholesky", "eigh"}
        Rank-revealing Gramian factorisation (:func:`mccc_theory.gramians.gramian_factor`).
    factors : (Lc, Lo), optional
        Known factors ``Wc = Lc Lc^H``, ``Wo = Lo Lo^H`` of a :class:`StateSpace` (from a
        Hammarling-type solver, or a structure such as a FIR shift register where ``Lc = I``
        and ``Lo^H`` is the block Hankel matrix). Factoring computed Gramians squares their
        condition: values below about ``sqrt(n eps) sigma_1`` may be lost when one Gramian is
        much better conditioned than the other; exact factors resolve down to ``n eps sigma_1``.
        Checked against the Stein equations (relative residual ``<= 1e-10``).

    Returns
    -------
    BalancedTruncation

    Raises
    ------
    UnstableError
        For an unstable or marginally stable system.
    OrderError
        For an order outside ``[1, rank]``, an order that splits a repeated Hankel singular
        value, ``order`` together with ``tol``, or ``tol <= 0``.
    DefectiveError
        If the model at the requested order is unstable, which happens only when ``sigma_r`` is
        at the rounding level of the Gramians (the message says so), or if ``factors`` do not
        solve the Stein equations.
    MethodError, ShapeError, DTypeError
        For unknown methods or malformed arguments.

    Notes
    -----
    Gramians from :mod:`mccc_theory.gramians` (the closed form from log-eigenvalues for modal
    systems), rank-revealing factors ``Wc = Lc Lc^H``, ``Wo = Lo Lo^H`` and one SVD
    ``Lo^H Lc = U S V^H`` (the Hankel singular values; ``Wc Wo`` is never formed). A
    conjugate-closed modal system is balanced in real coordinates and gives a real model. Cost
    for a modal system: ``O(n^2 p)`` Gramians, ``O(n^2 k)`` factors of rank ``k``, ``O(n k r)``
    projection; dense systems add ``O(n^3)`` Stein solves.

    References
    ----------
    B. C. Moore, "Principal component analysis in linear systems", IEEE TAC 26 (1981).
    A. Varga, "Balancing free square-root algorithm for computing singular perturbation
    approximations", Proc. 30th IEEE CDC (1991).
    U. Al-Saggaf, G. Franklin, "An error bound for a discrete reduced order model of a linear
    multivariable system", IEEE TAC 32 (1987).
    """
    method = check_choice(method, "method", ("sr", "bfsr"))
    check_choice(factor, "factor", ("pivoted_cholesky", "eigh"))
    if order is not None and tol is not None:
        raise OrderError(f"order, tol: pass one of them, found order={order!r} and tol={tol!r}")
    original = system
    checked, system = _hankel_view(system)
    if tol is not None:
        tol = _check_tol(tol)
    bal = _balance(system, factor, factors=_check_factors(factors, system))
    n, rank = bal.coords.n, bal.rank
    if rank == 0:
        raise OrderError("system: every Hankel singular value is zero (B = 0 or C = 0): the "
                         "input/output map is the constant D and has no reduced state space")
    sig = bal.hsv[:rank]
    if order is None and tol is None:
        r = rank
    elif tol is not None:
        # smallest admissible (non-splitting) order whose bound is <= tol; r = rank always is.
        g = _groups(sig)
        r = next(r for r in range(1, rank + 1)
                 if (r == rank or g[r - 1] != g[r]) and error_bounds(sig, r)[1] <= tol)
    else:
        r = check_positive_int(order, "order", minimum=1)
        if r > rank:
            raise OrderError(
                f"order: expected an integer in [1, {rank}] (the numerical rank of the Hankel "
                f"operator of this order-{n} system: sigma_{rank + 1} <= cut = {bal.cut:.3g}), "
                f"found {r}. Order {rank} is already exact to rounding; use order=None")
        _check_split(sig, r)
    if order is None and tol is None:
        reduced, T, W, r = _stable_default(bal, r, method)
    else:
        reduced, T, W = bal.reduce(r, method)
        _check_reduced_stable(reduced, sig, r, "order" if tol is None else "tol")
    lower, upper = error_bounds(sig, r)
    return BalancedTruncation(_for_user(original, checked, reduced), r, bal.hsv, rank, bal.cut,
                              lower, upper, T, W, method)


def _hankel_view(system):
    """``(checked, view)``: the validated system and the MCCC-tagged view Gramians are taken of.

    Hankel quantities of ``(A, B, C)`` are the same formulas in both conventions, so a textbook
    system (a python-control input) is balanced through the same matrices read as MCCC.
    """
    checked = _check_system(system, convention="any")
    if isinstance(checked, StateSpace) and checked.convention == "textbook":
        return checked, checked.with_convention("mccc")
    return checked, checked


def _for_user(original, checked, reduced: StateSpace):
    """The reduced model in the user's form: the system's convention and ``dt``, and a
    ``control.StateSpace`` for a python-control input."""
    if isinstance(checked, StateSpace) and checked.convention == "textbook":
        reduced = StateSpace(reduced.A, reduced.B, reduced.C, reduced.D, "textbook", checked.dt)
    return like_input(original, reduced)


def _check_reduced_stable(reduced: StateSpace, sig: np.ndarray, r: int, name: str) -> None:
    """Balanced truncation is stable in exact arithmetic; rounding-level states can break it."""
    rho = reduced.spectral_radius()
    if rho >= 1:
        raise DefectiveError(
            f"{name}: the order-{r} model has an eigenvalue of modulus {rho:.6g} >= 1. In exact "
            f"arithmetic it is stable; here sigma_{r} = {sig[r - 1]:.3g} ({sig[r - 1] / sig[0]:.2g} "
            f"sigma_1) is at the rounding level of the Gramians (dense Gramians of an "
            f"ill-conditioned realization resolve Hankel singular values only down to about "
            f"sqrt(n eps) sigma_1). Use a lower order, or order=None")


def _stable_default(bal: _Balancing, r: int, method: str):
    """The model at the numerical rank, or at the largest lower order that is stable.

    States whose Hankel singular values sit at the Gramians' rounding level carry no
    input/output information but may come out unstable; dropping them changes the error by at
    most twice their (tiny) sum, which ``upper_bound`` includes.
    """
    g = _groups(bal.hsv[: bal.rank])
    while True:
        reduced, T, W = bal.reduce(r, method)
        if reduced.spectral_radius() < 1 or r == 1:
            break
        r -= 1
        while r > 1 and g[r - 1] == g[r]:
            r -= 1
    _check_reduced_stable(reduced, bal.hsv, r, "order")
    return reduced, T, W, r
