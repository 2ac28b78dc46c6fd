"""Decayed linear attention: the content-dependent extension of the MCCC memory.

Writing ``phi(k_t) v_t^T`` into the state instead of ``b v_t^T`` (THEORY §4, T1) gives

    S = sum_{t=1}^{N} Gamma^{N-t} phi(k_t) [v_t; 1]^T,      Gamma = diag(gamma),  0 < gamma <= 1,
    y(q) = phi(q)^T S_v / phi(q)^T S_1     (normalize=True)   or   phi(q)^T S_v,

i.e. attention with weights ``w_t(q) = sum_f phi_f(q) gamma_f^{N-t} phi_f(k_t)`` over positions,
recurrent with state ``(D, d_v + 1)`` independent of ``N``. It is the modal scan with one mode
``lambda_f = gamma_f`` per feature and a content-dependent input gain ``phi(k_t)``; content-
dependent *softmax* (``exp(q . k)``) is outside this class and only approximated through the
feature map (:mod:`mccc_theory.attention.features`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import DTypeError, OrderError, ShapeError
from ..validation import as_array
from .features import FeatureMap
from .features import feature_map as _get_feature_map
from .softmax import AttentionOutput, lags_of_positions

__all__ = ["decayed_linear_attention", "LinearAttentionMemory"]


def _decay_vector(decay, D: int) -> np.ndarray:
    g = as_array(np.atleast_1d(decay), "decay", ndim=1, complex_ok=False)
    if g.shape[0] not in (1, D):
        raise ShapeError(f"decay: expected a scalar or one decay per feature ({D},), found "
                         f"shape {g.shape}")
    if np.any((g <= 0) | (g > 1)):
        i = int(np.argmax((g <= 0) | (g > 1)))
        raise OrderError(f"decay: expected 0 < gamma <= 1 (1 = no decay), found {g[i]} at "
                         f"index {i}")
    return np.broadcast_to(g, (D,)).copy()


def _check_kv(k, v):
    k = as_array(k, "k", ndim=2, complex_ok=False)
    v = as_array(v, "v", ndim=2, complex_ok=False)
    if v.shape[0] != k.shape[0]:
        raise ShapeError(f"v: expected one value per key, N = {k.shape[0]} rows, found v of shape "
                         f"{v.shape}")
    return k, v


def _check_qkv(q, k, v):
    q = as_array(q, "q", ndim=2, complex_ok=False)
    k, v = _check_kv(k, v)
    if q.shape[1] != k.shape[1]:
        raise ShapeError(f"k: expected key dimension d = {q.shape[1]} (that of q {q.shape}), "
                         f"found k of shape {k.shape}")
    return q, k, v


def decayed_linear_attention(q, k, v, *, feature_map="elu+1", decay=1.0,
                             normalize: bool = True) -> AttentionOutput:
    """Quadratic (reference) form of decayed linear attention: explicit weights, then ``W v``.

    Parameters
    ----------
    q : (Q, d), k : (N, d), v : (N, d_v) real arrays (position order, last row newest)
    feature_map : str or FeatureMap
        ``"identity"``, ``"elu+1"``, ``"taylor2"`` or a :class:`FeatureMap` (random features).
    decay : float or (D,) array in (0, 1]
        Per-step decay ``gamma`` (one per feature allowed).
    normalize : bool
        Divide by the row sums of the weights.

    Returns
    -------
    AttentionOutput(out (Q, d_v), weights (Q, N))
        ``weights[q, j] = sum_f phi_f(q) gamma_f^{tau_j} phi_f(k_j)`` (normalised if asked).

    Raises
    ------
    ShapeError, EmptyInputError, NonFiniteError, MethodError (unknown feature map),
    OrderError (decay outside (0, 1], or a zero row sum with ``normalize=True``).

    Notes
    -----
    ``O(Q N D)`` time; :class:`LinearAttentionMemory` computes the same outputs in ``O(N D d_v)``
    with an ``O(D d_v)`` state.
    """
    q, k, v = _check_qkv(q, k, v)
    phi = _get_feature_map(feature_map)
    fq, fk = phi(q), phi(k)
    gamma = _decay_vector(decay, fk.shape[1])
    decay_pow = np.exp(lags_of_positions(k.shape[0])[:, None] * np.log(gamma)[None, :])
    W = fq @ (fk * decay_pow).T
    if normalize:
        W = W / _row_sums(W)
    return AttentionOutput(W @ v, W)


def _row_sums(W: np.ndarray) -> np.ndarray:
    s = W.sum(axis=1, keepdims=True)
    if np.any(s == 0):
        q = int(np.argmax(s[:, 0] == 0))
        raise OrderError(f"normalize: query {q} has weights summing to zero, so the normalised "
                         "output is undefined; use a positive feature map (elu+1, random "
                         "features) or normalize=False")
    return s


@dataclass(frozen=True, eq=False)
class LinearAttentionMemory:
    """Recurrent decayed linear attention with state ``S = sum_t Gamma^{N-t} phi(k_t) [v_t; 1]^T``.

    Parameters
    ----------
    feature_map : str or FeatureMap
    decay : float or (D,) array in (0, 1]
    normalize : bool
        Keep the normaliser column (``+1`` column in the state) and divide by it.
    """

    feature_map: FeatureMap
    decay: np.ndarray
    normalize: bool = True

    def __init__(self, feature_map="elu+1", decay=1.0, *, normalize: bool = True):
        object.__setattr__(self, "feature_map", _get_feature_map(feature_map))
        object.__setattr__(self, "decay", as_array(np.atleast_1d(decay), "decay", ndim=1,
                                                   complex_ok=False))
        if not isinstance(normalize, bool | np.bool_):
            raise DTypeError(f"normalize: expected a bool, found {type(normalize).__name__}")
        object.__setattr__(self, "normalize", bool(normalize))

    def _aug(self, v: np.ndarray) -> np.ndarray:
        return np.concatenate([v, np.ones((v.shape[0], 1))], axis=1) if self.normalize else v

    def encode(self, k, v) -> np.ndarray:
        """Final state (D, d_v[+1]) by the closed form ``sum_t gamma^{N-t} phi(k_t) v_t^T``."""
        k, v = _check_kv(k, v)
        fk = self.feature_map(k)
        gamma = _decay_vector(self.decay, fk.shape[1])
        decay_pow = np.exp(lags_of_positions(k.shape[0])[:, None] * np.log(gamma)[None, :])
        return (fk * decay_pow).T @ self._aug(v)

    def step(self, S, k_t, v_t) -> np.ndarray:
        """One streaming step ``S <- Gamma S + phi(k_t) [v_t; 1]^T``."""
        k_t = as_array(k_t, "k_t", ndim=1, complex_ok=False)
        v_t = as_array(v_t, "v_t", ndim=1, complex_ok=False)
        fk = self.feature_map(k_t[None, :])[0]
        va = self._aug(v_t[None, :])[0]
        S = as_array(S, "S", ndim=2, complex_ok=False)
        if S.shape != (fk.shape[0], va.shape[0]):
            raise ShapeError(f"S: expected state shape {(fk.shape[0], va.shape[0])}, found "
                             f"{S.shape}")
        gamma = _decay_vector(self.decay, fk.shape[0])
        return gamma[:, None] * S + fk[:, None] * va[None, :]

    def scan(self, k, v) -> np.ndarray:
        """Final state by running :meth:`step` token by token (streaming path)."""
        k, v = _check_kv(k, v)
        fk = self.feature_map(k)
        gamma = _decay_vector(self.decay, fk.shape[1])[:, None]
        va = self._aug(v)
        S = np.zeros((fk.shape[1], va.shape[1]))
        for t in range(k.shape[0]):
            S = gamma * S + fk[t][:, None] * va[t][None, :]
        return S

    def readout(self, S, q) -> np.ndarray:
        """``y(q) = phi(q)^T S_v [/ phi(q)^T S_1]``: (Q, d_v)."""
        fq = self.feature_map(as_array(q, "q", ndim=2, complex_ok=False))
        S = as_array(S, "S", ndim=2, complex_ok=False)
        if S.shape[0] != fq.shape[1]:
            raise ShapeError(f"S: expected {fq.shape[1]} rows (features of q), found {S.shape}")
        Y = fq @ S
        if not self.normalize:
            return Y
        return Y[:, :-1] / _row_sums(Y[:, -1:])
