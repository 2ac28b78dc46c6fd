"""The Hankel operator of attention weights over lags, and the FIR system they define.

Attention over a source of length N applies weights ``a_tau(q)``, ``tau = 0..N-1`` (queries x
lags, THEORY §4). As a streaming system with one input (a value channel) and Q outputs, this is
the finite-impulse-response system ``G`` with Markov parameters ``a_tau`` for ``tau < N`` and 0
beyond: nothing older than the source exists. Its MCCC-convention shift-register realization is

    h_t = S h_{t-1} + e_0 u_t,   y = W h_N,    S = lower shift (N x N),  so  W S^tau e_0 = a_tau,

with ``Wc = I``, ``Wo = H^T H`` and Hankel singular values the singular values of the
zero-padded block Hankel matrix ``H = [a_{i+j}]`` (``a_k = 0`` for ``k >= N``, Q x 1 blocks).

The *free-tail* Hankel matrix ``[a_{i+j}]_{i < r, j < c}`` with ``r + c = N`` uses only the N given
lags, with no assumption about lags beyond; its rank is what Ho-Kalman realization (T1) needs.
"""

from __future__ import annotations

import numpy as np

from ..errors import DTypeError, ShapeError
from ..systems import StateSpace
from ..validation import as_array, check_choice, check_positive_int

__all__ = [
    "check_weights",
    "block_hankel",
    "free_hankel_shape",
    "fir_system",
    "fir_hankel_singular_values",
    "weight_singular_values",
]


def check_weights(weights, name: str = "weights") -> np.ndarray:
    """Attention weights over lags as a real (Q, N) float array (1-d input is one query).

    Raises ShapeError (not 1-d/2-d), EmptyInputError (no lags or no queries), NonFiniteError
    (NaN/inf) and DTypeError (complex: attention weights are real).
    """
    arr = as_array(weights, name, complex_ok=False)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2:
        raise ShapeError(f"{name}: expected shape (N,) or (Q, N) (queries x lags tau = 0..N-1), "
                         f"found shape {arr.shape}")
    return arr


def block_hankel(weights, *, tail: str = "zero", shift: int = 0) -> np.ndarray:
    """Block Hankel matrix ``[a_{i+j+shift}]`` of the weights (row blocks of Q queries).

    Parameters
    ----------
    weights : (Q, N) or (N,) array, lags ``tau = 0..N-1``
    tail : {"zero", "free"}
        ``"zero"``: the (Q N) x N Hankel matrix of the FIR system, ``a_k = 0`` for ``k >= N``.
        ``"free"``: the (Q r) x c matrix of :func:`free_hankel_shape`, built from the given lags
        only.
    shift : {0, 1}
        ``1`` gives Ho-Kalman's shifted matrix ``[a_{i+j+1}]`` (same shape).

    Returns
    -------
    H : 2-d float array, rows ordered (block i, query q).
    """
    W = check_weights(weights)
    check_choice(tail, "tail", ("zero", "free"))
    if shift not in (0, 1):
        raise DTypeError(f"shift: expected 0 or 1, found {shift!r}")
    Q, N = W.shape
    if tail == "zero":
        rows, cols = N, N
    else:
        rows, cols = free_hankel_shape(N, Q)
    Wp = np.zeros((Q, rows + cols + 1))
    Wp[:, :N] = W
    idx = np.arange(rows)[:, None] + np.arange(cols)[None, :] + shift  # (rows, cols)
    return Wp[:, idx].transpose(1, 0, 2).reshape(rows * Q, cols)


def free_hankel_shape(n: int, n_queries: int = 1) -> tuple[int, int]:
    """Block rows ``r`` and columns ``c = n - r`` of the free-tail Hankel pair for Q queries.

    The shifted matrix ``[a_{i+j+1}]`` (``i < r``, ``j < c``) reaches lag ``r + c - 1 = n - 1``,
    the oldest lag given, so both matrices of the pair use only the data. ``r`` is the smallest
    value maximising ``min(Q r, c)``, the largest rank the (Q r) x c matrix can identify:
    ``floor(n / 2)`` for one query, about ``n / (Q + 1)`` for Q queries (Q = 3, n = 12: 3 block
    rows, a 9 x 9 matrix, where 6 block rows would give 18 x 6).
    """
    n = check_positive_int(n, "n")
    q = check_positive_int(n_queries, "n_queries")
    if n == 1:
        return 0, 1
    r = max(range(1, n), key=lambda r: (min(q * r, n - r), -r))
    return r, n - r


def fir_system(weights) -> StateSpace:
    """Shift-register realization (N states) of the FIR system with Markov parameters ``a_tau``.

    ``A`` is the lower shift (``A e_j = e_{j+1}``, nilpotent), ``B = e_0``, ``C = W`` (Q, N):
    ``C A^tau B = W[:, tau]`` for ``tau < N`` and 0 beyond. ``Wc = I``; the Hankel singular
    values are :func:`fir_hankel_singular_values`.
    """
    W = check_weights(weights)
    N = W.shape[1]
    A = np.eye(N, k=-1)
    B = np.zeros((N, 1))
    B[0, 0] = 1.0
    return StateSpace(A, B, W)


def fir_hankel_singular_values(weights) -> np.ndarray:
    """Hankel singular values of the FIR system of the weights, descending (N values).

    Notes
    -----
    Singular values of the zero-padded (Q N) x N block Hankel matrix (``Wc = I`` in the
    shift-register realization, so ``sigma_i = sqrt(eig(Wo)) = sv(H)``); backward-stable SVD,
    absolute accuracy about ``N eps sigma_1``. Cost ``O(Q N^3)``.
    """
    return np.linalg.svd(block_hankel(weights, tail="zero"), compute_uv=False)


def weight_singular_values(weights) -> np.ndarray:
    """Singular values of the Q x N weight matrix (the read-once spectrum of T2), descending."""
    return np.linalg.svd(check_weights(weights), compute_uv=False)
