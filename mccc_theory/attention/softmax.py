"""Softmax cross-attention with positional biases: the reference the MCCC memory approximates.

    W = softmax_rows(scale * q k^T + beta),     y = W v,

with the source in position order ``t = 1..N`` (row ``j`` of ``k`` and ``v`` is position
``t = j + 1``, lag ``tau = N - t = N - 1 - j``; THEORY §0). ``beta`` is a positional bias
(:mod:`mccc_theory.attention.biases`) evaluated at each key's lag, or an explicit array.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..errors import NonFiniteError, ShapeError
from ..validation import as_array
from .biases import LagBias, lag_bias, softmax_rows

__all__ = ["AttentionOutput", "cross_attention", "lags_of_positions"]


class AttentionOutput(NamedTuple):
    """``(out, weights)``: outputs (Q, d_v) and attention weights (Q, N) in position order."""

    out: np.ndarray
    weights: np.ndarray


def lags_of_positions(n: int) -> np.ndarray:
    """Lag of each source position in storage order: ``tau_j = N - 1 - j`` for ``j = 0..N-1``."""
    return np.arange(n - 1, -1, -1)


def cross_attention(q, k, v, *, bias=None, scale=None) -> AttentionOutput:
    """Softmax cross-attention ``y = softmax(scale q k^T + beta) v`` over a source of length N.

    Parameters
    ----------
    q : (Q, d) real array
        Queries.
    k : (N, d) real array
        Keys, in source (position) order; the last row is the newest token (lag 0).
    v : (N, d_v) real array
        Values, in the same order.
    bias : LagBias, callable, array or None
        Positional bias. A :class:`~mccc_theory.attention.biases.LagBias` or any callable is
        evaluated at the lags ``tau_j = N - 1 - j`` of the positions and must return ``(N,)`` or
        ``(Q, N)``; an array is used as given, shape ``(N,)`` or ``(Q, N)`` in *position* order.
        ``-inf`` masks a position.
    scale : float, optional
        Score scale; default ``1 / sqrt(d)``.

    Returns
    -------
    AttentionOutput(out (Q, d_v), weights (Q, N))
        Rows of ``weights`` sum to 1 and are indexed by position (reverse them for lags).

    Raises
    ------
    ShapeError
        Query and key dimensions differ, keys and values have different lengths, the bias
        has the wrong shape, or ``scale`` is not a scalar.
    EmptyInputError
        Empty source or no queries.
    NonFiniteError
        NaN or infinite entries in ``q``, ``k``, ``v`` (or NaN/+inf in the bias).
    OrderError
        A query masks every position (all scores ``-inf``), e.g. a lookup at lag ``L >= N``.

    Notes
    -----
    Scores are shifted by their row maximum before exponentiating (no overflow). Cost
    ``O(Q N (d + d_v))`` time and the ``O(N (d + d_v))`` KV cache: the linear-in-N memory that
    MCCC replaces by an ``O(m d_v)`` state.
    """
    q = as_array(q, "q", ndim=2, complex_ok=False)
    k = as_array(k, "k", ndim=2, complex_ok=False)
    v = as_array(v, "v", ndim=2, complex_ok=False)
    if q.shape[1] != k.shape[1]:
        raise ShapeError(f"k: expected key dimension d = {q.shape[1]} (the query dimension of q "
                         f"{q.shape}), found k of shape {k.shape}; queries and keys must share d")
    if v.shape[0] != k.shape[0]:
        raise ShapeError(f"v: expected one value per key, N = {k.shape[0]} rows, found v of shape "
                         f"{v.shape}")
    n_q, d = q.shape
    n = k.shape[0]
    if scale is None:
        scale = 1.0 / np.sqrt(d)
    scale_arr = as_array(scale, "scale", complex_ok=False)
    if scale_arr.ndim != 0:
        raise ShapeError(f"scale: expected one real number (the score scale), found an array of "
                         f"shape {scale_arr.shape}; per-query scales belong in q")
    scale = float(scale_arr)
    scores = scale * (q @ k.T)
    if bias is not None:
        scores = scores + _bias_matrix(bias, n_q, n)
    w = softmax_rows(scores, name="cross_attention", n=n)
    return AttentionOutput(w @ v, w)


def _bias_matrix(bias, n_q: int, n: int) -> np.ndarray:
    """The bias as a (Q or 1, N) array in position order."""
    if callable(bias) and not isinstance(bias, LagBias):
        bias = lag_bias(bias)
    if isinstance(bias, LagBias):
        out = bias(lags_of_positions(n))
    else:
        out = as_array(bias, "bias", complex_ok=False, finite=False)
        if np.any(np.isnan(out) | (out == np.inf)):
            raise NonFiniteError("bias: expected finite values or -inf (masked), found NaN or "
                                 "+inf; mask positions with -inf only")
        if out.ndim == 1:
            out = out[None, :]
    if out.ndim != 2 or out.shape[1] != n or out.shape[0] not in (1, n_q):
        raise ShapeError(f"bias: expected shape ({n},) or ({n_q}, {n}) (queries x positions), "
                         f"found {out.shape}")
    return out
