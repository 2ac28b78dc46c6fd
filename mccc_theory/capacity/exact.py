"""Exact facts about linear associative memories (THEORY §5, "exact or deterministic facts").

Conventions: keys ``K`` (N, d) (row ``i`` is ``k_i``), values ``Vv`` (N, d_v); a memory is a
matrix ``S`` (d_v, d) read as ``S q``.

* Outer-product memory ``S = sum_i v_i k_i^T``: exact readout for orthonormal keys (N <= d).
* Least-squares memory ``S = Vv^T (K^T)^+``: exact for N <= d linearly independent keys.
* Delta rule ``S_t = S_{t-1} + beta (v_t - S_{t-1} k_t) k_t^T``: with ``beta = 1`` and unit keys
  the newest item is recalled exactly and ``|S_t|_F^2 = |S_{t-1}|_F^2 - |S_{t-1} k_t|^2 +
  |v_t|^2`` (:func:`delta_rule_memory`).
* Random unit keys: the overlap ``c = k_i . k_j`` has mean 0, ``E c^2 = 1/d`` and
  ``E c^4 = 3/(d(d+2))`` exactly (:func:`overlap_moments`).
* Frame potential ``FP = sum_{i,j} c_ij^2 >= max(N, N^2/d)`` for unit vectors, equality for
  tight frames, hence mean crosstalk mass ``(1/N) sum_{i != j} c_ij^2 >= N/d - 1``; Welch:
  ``max_{i != j} c_ij^2 >= (N - d)/(d (N - 1))`` for ``N > d`` unit vectors.
"""

from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from ..validation import as_array, check_positive_int

__all__ = [
    "random_unit_vectors",
    "overlap_moments",
    "outer_product_memory",
    "least_squares_memory",
    "delta_rule_memory",
    "frame_potential",
    "frame_potential_bound",
    "mean_crosstalk_mass",
    "welch_bound",
    "tight_frame",
]


def random_unit_vectors(shape, d: int, rng=None) -> np.ndarray:
    """Vectors uniform on the unit sphere of ``R^d`` (normalised Gaussians), ``shape + (d,)``."""
    d = check_positive_int(d, "d")
    rng = np.random.default_rng(rng)
    x = rng.standard_normal(tuple(np.atleast_1d(shape)) + (d,))
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def overlap_moments(d: int) -> tuple[float, float, float]:
    """``(E c, E c^2, E c^4) = (0, 1/d, 3/(d(d+2)))`` for ``c = k . q``, k, q uniform unit in R^d.

    ``c`` is the first coordinate of a uniform unit vector, ``(c + 1)/2 ~ Beta((d-1)/2, (d-1)/2)``.
    """
    d = check_positive_int(d, "d")
    return 0.0, 1.0 / d, 3.0 / (d * (d + 2))


def _kv(keys, values):
    K = as_array(keys, "keys", ndim=2, complex_ok=False)
    Vv = as_array(values, "values", ndim=2, complex_ok=False)
    if Vv.shape[0] != K.shape[0]:
        raise ShapeError(f"values: expected {K.shape[0]} rows (one per key), found {Vv.shape}")
    return K, Vv


def outer_product_memory(keys, values) -> np.ndarray:
    """``S = sum_i v_i k_i^T`` (d_v, d): linear attention with identity features."""
    K, Vv = _kv(keys, values)
    return Vv.T @ K


def least_squares_memory(keys, values, *, rcond: float | None = None) -> np.ndarray:
    """``S = Vv^T (K^T)^+`` (d_v, d): the minimum-norm least-squares solution of ``S k_i = v_i``.

    Exact (``S k_i = v_i``) when the N keys are linearly independent (N <= d); for N > d it is
    the least-squares fit, read as ``S k_j = sum_i P_ij v_i`` with the rank-d orthogonal
    projector ``P = K (K^T K)^+ K^T`` (N, N).

    Notes
    -----
    SVD-based pseudo-inverse (``numpy.linalg.pinv``); ``rcond`` defaults to
    ``max(N, d) * eps`` relative to the largest singular value.
    """
    K, Vv = _kv(keys, values)
    if rcond is None:
        rcond = max(K.shape) * np.finfo(float).eps
    return Vv.T @ np.linalg.pinv(K.T, rcond=rcond)


def delta_rule_memory(keys, values, *, beta: float = 1.0, return_trace: bool = False):
    """One-pass delta rule ``S_t = S_{t-1} + beta (v_t - S_{t-1} k_t) k_t^T``, ``S_0 = 0``.

    Parameters
    ----------
    keys : (N, d) array_like
    values : (N, d_v) array_like
    beta : float
        Write strength.
    return_trace : bool
        Also return ``(|S_t|_F^2, |S_{t-1} k_t|^2)`` for t = 1..N.

    Returns
    -------
    S : (d_v, d) ndarray
    norms, residual_norms : (N,) ndarrays, only with ``return_trace``

    Notes
    -----
    With ``beta = 1`` and ``|k_t| = 1`` the update replaces the old association of ``k_t``:
    ``S_t k_t = v_t`` (newest item exact) and ``S_t = S_{t-1} (I - k_t k_t^T) + v_t k_t^T``, so
    ``|S_t|_F^2 = |S_{t-1}|_F^2 - |S_{t-1} k_t|^2 + |v_t|^2`` (the two terms are orthogonal in the
    Frobenius inner product because ``(I - k k^T) k = 0``). Cost ``O(N d d_v)``.
    """
    K, Vv = _kv(keys, values)
    beta = float(beta)
    S = np.zeros((Vv.shape[1], K.shape[1]))
    norms, res = np.empty(K.shape[0]), np.empty(K.shape[0])
    for t in range(K.shape[0]):
        pred = S @ K[t]
        res[t] = pred @ pred
        S = S + beta * np.outer(Vv[t] - pred, K[t])
        norms[t] = np.sum(S * S)
    return (S, norms, res) if return_trace else S


def frame_potential(keys) -> float:
    """``FP = sum_{i,j} (k_i . k_j)^2 = |K K^T|_F^2`` (computed as ``|K^T K|_F^2``, O(N d^2))."""
    K = as_array(keys, "keys", ndim=2, complex_ok=False)
    G = K.T @ K if K.shape[0] > K.shape[1] else K @ K.T
    return float(np.sum(G * G))


def frame_potential_bound(n: int, d: int) -> float:
    """``max(N, N^2/d)``: the minimum frame potential of N unit vectors in R^d (Benedetto-Fickus).

    Attained exactly by orthonormal sets (N <= d) and unit-norm tight frames (N >= d).

    References
    ----------
    J. J. Benedetto, M. Fickus, "Finite normalized tight frames", Adv. Comput. Math. 18 (2003).
    """
    n, d = check_positive_int(n, "n"), check_positive_int(d, "d")
    return float(max(n, n * n / d))


def mean_crosstalk_mass(keys) -> float:
    """``(1/N) sum_{i != j} c_ij^2`` for unit keys (``= FP/N - 1 >= N/d - 1``)."""
    K = as_array(keys, "keys", ndim=2, complex_ok=False)
    G = K @ K.T
    np.fill_diagonal(G, 0.0)
    return float(np.sum(G * G) / K.shape[0])


def welch_bound(n: int, d: int) -> float:
    """``(N - d)/(d (N - 1))``: lower bound on ``max_{i != j} c_ij^2`` for N > d unit vectors.

    Returns 0 for ``N <= d`` (orthonormal sets exist).

    References
    ----------
    L. R. Welch, "Lower bounds on the maximum cross correlation of signals", IEEE Trans. Inf.
    Theory 20 (1974).
    """
    n, d = check_positive_int(n, "n"), check_positive_int(d, "d")
    if n <= d or n == 1:
        return 0.0
    return (n - d) / (d * (n - 1))


def tight_frame(n: int, d: int, rng=None) -> np.ndarray:
    """A unit-norm tight frame of N vectors in R^d (orthonormal set if N <= d), randomly rotated.

    For ``N > d`` the real harmonic frame: coordinates ``sqrt(2/d) (cos, sin)(2 pi k j / N)`` for
    ``k = 1..floor(d/2)`` plus ``1/sqrt(d)`` when d is odd; unit norm and ``K^T K = (N/d) I``
    because ``2k`` and ``k +- l`` are non-zero mod N when ``d < N``.

    Returns
    -------
    (N, d) ndarray
    """
    n, d = check_positive_int(n, "n"), check_positive_int(d, "d")
    rng = np.random.default_rng(rng)
    Q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    if n <= d:
        return Q[:n]
    j = np.arange(n)[:, None]
    k = np.arange(1, d // 2 + 1)[None, :]
    cols = [np.sqrt(2.0 / d) * np.cos(2 * np.pi * k * j / n),
            np.sqrt(2.0 / d) * np.sin(2 * np.pi * k * j / n)]
    if d % 2:
        cols.append(np.full((n, 1), 1.0 / np.sqrt(d)))
    F = np.concatenate(cols, axis=1)
    return F @ Q
