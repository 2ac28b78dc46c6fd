"""Minimal realizations and re-diagonalisation of reduced models into modal form.

A reduced model from :func:`~mccc_theory.reduction.balanced_truncation` is a dense
:class:`~mccc_theory.systems.StateSpace`; :func:`to_modal` turns it back into a (smaller)
:class:`~mccc_theory.systems.ModalSystem` so the reduced encoder runs on the same diagonal
kernels. Convention as in :mod:`mccc_theory.systems`.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Real

import numpy as np

from ..errors import DefectiveError, DTypeError, OrderError, ShapeError, UnstableError
from ..systems import ModalSystem, StateSpace
from .balanced import _balance, _for_user, _hankel_view, _stable_default

__all__ = ["minimal_realization", "ModalRealization", "to_modal", "MAX_CONDITION"]

#: Default limit on the eigenvector condition number in :func:`to_modal`. The modal form's
#: input/output map is accurate to about ``cond * eps`` relative (2e-9 at the limit); a Jordan
#: block of size 2 perturbed by rounding has ``cond ~ 1 / sqrt(eps) ~ 7e7``, above it.
MAX_CONDITION = 1e7


def minimal_realization(system, tol: float | None = None) -> StateSpace:
    """Balanced realization of the part of ``system`` with Hankel singular values ``> tol sigma_1``.

    Parameters
    ----------
    system : ModalSystem, StateSpace or control.StateSpace (stable)
        A python-control system is reduced as the textbook system it is.
    tol : float in (0, 1), optional
        Relative threshold; default ``n eps`` (the numerical rank cut). Uncontrollable or
        unobservable modes (zero Hankel singular values) are always removed.

    Returns
    -------
    StateSpace or control.StateSpace
        In the system's convention (a ``control.StateSpace``, same ``dt``, for a python-control
        input). Square-root balanced truncation at the kept order: its H-infinity error is at most
        twice the sum of the distinct removed values (zero for an exactly non-minimal system,
        up to rounding). Real for real maps.

    Raises
    ------
    UnstableError, OrderError (tol out of range, or nothing above it: the map is the constant D),
    ShapeError, DTypeError.
    """
    original = system
    checked, system = _hankel_view(system)
    if tol is not None:
        if isinstance(tol, bool) or not isinstance(tol, Real):
            raise DTypeError(f"tol: expected a float, found {type(tol).__name__} {tol!r}")
        if not (0 < float(tol) < 1):
            raise OrderError(f"tol: expected a relative threshold in (0, 1), found {tol!r}")
        tol = float(tol)
    bal = _balance(system, "eigh", rtol=tol)
    if bal.rank == 0:
        raise OrderError("system: every Hankel singular value is zero (B = 0 or C = 0): the "
                         "input/output map is the constant D and has no state-space realization")
    red, _, _, _ = _stable_default(bal, bal.rank, "sr")
    return _for_user(original, checked, red)


@dataclass(frozen=True, eq=False)
class ModalRealization:
    """Result of :func:`to_modal`.

    Attributes
    ----------
    system : ModalSystem
        ``(log lambda, V^-1 B, C V, D)`` with ``A = V diag(lambda) V^-1``.
    condition : float
        2-norm condition number of the eigenvector matrix with unit columns (before the per-mode
        scaling that equalises ``||b_i||`` and ``||c_i||``): the amplification of rounding errors
        by the change of coordinates.
    V : (n, n) array
        The eigenvector matrix actually used (``h = V h_modal``).
    """

    system: ModalSystem
    condition: float
    V: np.ndarray


def to_modal(state_space, *, max_condition: float = MAX_CONDITION) -> ModalRealization:
    """Diagonalise ``A = V diag(lambda) V^-1`` of a stable dense system into a :class:`ModalSystem`.

    Parameters
    ----------
    state_space : StateSpace
        Stable (``|lambda| < 1``), diagonalisable.
    max_condition : float
        Refuse eigenvector matrices with ``cond(V) > max_condition`` (default :data:`MAX_CONDITION`).

    Returns
    -------
    ModalRealization
        The modal system (same input/output map; conjugate-closed when ``state_space`` is real),
        the eigenvector condition number and ``V``.

    Raises
    ------
    UnstableError
        If some ``|lambda| >= 1``.
    DefectiveError
        If ``A`` is defective or too close to it (``cond(V) > max_condition``).
    ShapeError, DTypeError, NonFiniteError
        For a wrong type or malformed matrices.

    Notes
    -----
    ``numpy.linalg.eig`` (LAPACK ``geev``), ``O(n^3)``. Each eigenvector is rescaled by a positive
    factor so that ``||b_i|| = ||c_i||`` (keeps both factors of the mode's gain on one scale and
    preserves conjugate symmetry). The log-eigenvalues are ``log(lambda)``: modes that decay in one
    step (``lambda = 0``) get ``s = -inf``.
    """
    if not isinstance(state_space, StateSpace):
        raise ShapeError(f"state_space: expected a StateSpace, found {type(state_space).__name__}"
                         "; a ModalSystem is already diagonal")
    if isinstance(max_condition, bool) or not isinstance(max_condition, Real) \
            or not max_condition >= 1:
        raise OrderError(f"max_condition: expected a number >= 1, found {max_condition!r}")
    lam, V = np.linalg.eig(state_space.A)
    mod = np.abs(lam)
    if np.any(mod >= 1):
        i = int(np.argmax(mod))
        raise UnstableError(f"state_space: eigenvalue {lam[i]:.6g} of A has |lambda| = "
                            f"{mod[i]:.17g} >= 1; a modal (MCCC) realization needs |lambda| < 1")
    V = V / np.linalg.norm(V, axis=0)
    cond = float(np.linalg.cond(V))
    if not cond <= max_condition:
        raise DefectiveError(
            f"state_space: A is defective or nearly so: its eigenvector matrix has condition "
            f"number {cond:.3g} > max_condition = {max_condition:.3g} (eigenvalues "
            f"{_closest_pair(lam)}). A diagonal realization would lose about "
            f"{np.log10(cond):.0f} digits; keep the dense StateSpace or reduce to a lower order")
    Bm = np.linalg.solve(V, state_space.B.astype(complex))
    Cm = state_space.C @ V
    nb, nc = np.linalg.norm(Bm, axis=1), np.linalg.norm(Cm, axis=0)
    scale = np.where((nb > 0) & (nc > 0), np.sqrt(nb / np.where(nc > 0, nc, 1.0)), 1.0)
    V = V * scale
    Bm, Cm = Bm / scale[:, None], Cm * scale
    with np.errstate(divide="ignore"):
        s = np.log(lam.astype(complex))
    s = np.where(lam == 0, complex(-np.inf, 0.0), s)
    return ModalRealization(ModalSystem(s, Bm, Cm, state_space.D), cond, V)


def _closest_pair(lam: np.ndarray) -> str:
    if lam.size < 2:
        return f"{lam}"
    d = np.abs(lam[:, None] - lam[None, :]) + np.diag(np.full(lam.size, np.inf))
    i, j = np.unravel_index(np.argmin(d), d.shape)
    return f"closest pair {lam[i]:.6g} and {lam[j]:.6g}, {d[i, j]:.2g} apart"
