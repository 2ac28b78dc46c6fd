"""Read-once projection: compress the final state optimally for a decoder that reads it once.

THEORY §3 and §4-T2. The encoder ``h_t = A h_{t-1} + B u_t`` (``h_0 = 0``) runs for ``N`` steps;
a decoder reads ``h_N`` once through a query family ``{C(q)}``. The map from the source to all
readouts is the matrix::

    W = C_all R,    R = [A^(N-1) B, ..., A B, B],    C_all = [C(q_1); C(q_2); ...],

with singular values ``sigma_i(W) = sqrt(eig(Wc(N) Q_read))``, ``Wc(N) = R R^H`` and
``Q_read = C_all^H C_all``. Keeping ``r`` numbers of ``h_N``, ``z = P h_N``, and reading
``C(q) T z`` gives ``W_r = C_all T P R``; balancing ``(Wc(N), Q_read)`` chooses ``P, T`` so that
``W_r`` is the truncated SVD of ``W``: errors ``sigma_{r+1}(W)`` (2-norm) and
``(sum_{i>r} sigma_i^2)^(1/2)`` (Frobenius), the Eckart-Young optimum. Running the recurrence in
the same ``r`` coordinates (:meth:`ReadOnceProjection.truncated_recurrence`) is not optimal.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import OrderError, ShapeError
from ..gramians import controllability_gramian, gramian_factor
from ..systems import ModalSystem, StateSpace
from ..validation import as_array, check_horizon, check_positive_int
from .balanced import _check_system

__all__ = ["ReadOnceProjection", "read_once_projection"]


@dataclass(frozen=True, eq=False)
class ReadOnceProjection:
    """Result of :func:`read_once_projection`.

    Attributes
    ----------
    P : (r, m) array
        Compression of the final state, ``z = P h_N``.
    T : (m, r) array
        Reconstruction, ``h_N ~= T z``; ``P T = I_r``.
    readout : (Q, r) or (Q, k, r) array
        Reduced query family ``C(q) T``.
    sigma : (k,) array
        Singular values of ``W`` (descending, those resolved by the Gramian factors).
    rank : int
        Number of ``sigma`` above ``cut = n eps sigma_1``.
    cut : float
    order : int
    error_2, error_fro : float
        ``||W - W_r||_2 = sigma_{r+1}`` and ``||W - W_r||_F = (sum_{i>r} sigma_i^2)^(1/2)``.
    """

    P: np.ndarray
    T: np.ndarray
    readout: np.ndarray
    sigma: np.ndarray
    rank: int
    cut: float
    order: int
    error_2: float
    error_fro: float
    _A: np.ndarray = field(repr=False)
    _B: np.ndarray = field(repr=False)

    def project(self, h) -> np.ndarray:
        """``z = P h`` for final states ``h`` of shape (..., m): shape (..., r)."""
        h = as_array(h, "h")
        if h.shape[-1] != self.P.shape[1]:
            raise ShapeError(f"h: expected last dimension m = {self.P.shape[1]}, found {h.shape}")
        return h @ self.P.T

    def truncated_recurrence(self) -> StateSpace:
        """``z_t = (P A T) z_{t-1} + P B u_t``, read by the stacked ``C_all T``: the recurrence
        truncated in the read-once coordinates (not optimal; kept for comparison)."""
        C = self.readout.reshape(-1, self.readout.shape[-1])
        return StateSpace(self.P @ self._A @ self.T, self.P @ self._B, C)


def read_once_projection(system, readout, horizon: int | None, order: int) -> ReadOnceProjection:
    """Optimal rank-``r`` compression of ``h_N`` for a read-once query family (Eckart-Young).

    Parameters
    ----------
    system : ModalSystem or StateSpace
        Stable encoder; its ``A`` (``diag(lambda)``) and ``B`` are used, its ``C`` and ``D``
        are replaced by ``readout``.
    readout : (Q, m) or (Q, k, m) array
        ``C(q)`` for each query (one row, or a ``k x m`` block).
    horizon : int >= 1 or None
        Source length ``N`` (``None``: an infinitely long source, ``Wc(inf)``).
    order : int
        ``r`` in ``[1, rank]``.

    Returns
    -------
    ReadOnceProjection

    Raises
    ------
    UnstableError, ShapeError (readout width not m), OrderError (order or horizon out of range),
    NonFiniteError, DTypeError.

    Notes
    -----
    A rank-revealing factor ``Wc(N) = Lc Lc^H`` (eigendecomposition) and the stacked readout
    ``C_all`` itself as the factor of ``Q_read = C_all^H C_all`` (never formed: that would square
    its condition number and resolve ``sigma_i(W)`` only down to ``sqrt(eps) sigma_1``); the SVD
    ``C_all Lc = U S V^H``, ``T = Lc V_r S_r^-1/2`` and ``P = S_r^-1/2 U_r^H C_all``. Then
    ``C_all T P R = U_r S_r V_r^H Omega`` where ``R = Lc Omega`` has orthonormal ``Omega^H``: the
    truncated SVD of ``W``. Cost ``O(m^3 + Q k m^2)`` (the ``W`` matrix, ``Q k x N p``, is never
    formed).
    """
    system = _check_system(system)
    horizon = check_horizon(horizon)
    m = system.m if isinstance(system, ModalSystem) else system.n
    Cq = as_array(readout, "readout")
    if Cq.ndim not in (2, 3) or Cq.shape[-1] != m:
        raise ShapeError(f"readout: expected shape (Q, m) or (Q, k, m) with m = {m} states, "
                         f"found {Cq.shape}")
    Wc = controllability_gramian(system, horizon)
    Lc = gramian_factor(Wc, method="eigh").L
    # The stacked readout is itself a factor of Q_read = C_all^H C_all (Lo^H = C_all): forming
    # and factoring Q_read would square its conditioning and resolve sigma_i(W) only down to
    # sqrt(eps) sigma_1.
    Loh = Cq.reshape(-1, m)
    if Lc.shape[1] == 0 or not np.any(Loh):
        raise OrderError("system, readout: the source-to-readout map W is zero (B = 0 or the "
                         "readout is blind to every reachable state); there is nothing to compress")
    U, sig, Vh = np.linalg.svd(Loh @ Lc, full_matrices=False)
    if sig[0] == 0:
        raise OrderError("system, readout: the source-to-readout map W is zero (B = 0 or the "
                         "readout is blind to every reachable state); there is nothing to compress")
    cut = m * np.finfo(float).eps * sig[0]
    rank = int(np.sum(sig > cut))
    r = check_positive_int(order, "order", minimum=1)
    if r > rank:
        raise OrderError(f"order: expected an integer in [1, {rank}] (the numerical rank of the "
                         f"source-to-readout map), found {r}; order {rank} is already exact")
    S = 1 / np.sqrt(sig[:r])
    T = Lc @ (Vh[:r].conj().T * S)
    P = (U[:, :r] * S).conj().T @ Loh
    tail = sig[r:rank]
    A = np.diag(system.lam) if isinstance(system, ModalSystem) else system.A
    return ReadOnceProjection(P, T, Cq @ T, sig, rank, cut, r,
                              float(tail[0]) if tail.size else 0.0,
                              float(np.sqrt(np.sum(tail**2))), A, system.B)
