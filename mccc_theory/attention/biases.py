"""Positional biases of softmax cross-attention, as functions of the lag ``tau = N - t``.

Convention (THEORY §0, §4): the source has positions ``t = 1..N``; the key at position ``t`` has
lag ``tau = N - t``, so the newest token has lag 0. A positional bias adds ``beta_q(tau)`` to the
score of query ``q`` on the key at lag ``tau`` before the softmax; ``-inf`` masks a lag. With no
content term the attention weights are the positional weights

    a_tau(q) = exp(beta_q(tau)) / sum_{tau' < N} exp(beta_q(tau')),     tau = 0..N-1,

which :meth:`LagBias.weights` returns (queries x lags). Lags are causal by construction: every
constructor refuses negative lags, centres or starts (a negative lag would be a future token).

Families (THEORY §4): ALiBi (``-slope * tau``, Press et al. 2022), smooth lag windows (Gaussian
in the lag), sharp lag windows (a box of lags), exact lookup at lag ``L``, and any callable of
the lag (:func:`lag_bias`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..errors import DTypeError, NonFiniteError, OrderError, ShapeError
from ..validation import as_array, check_positive_int

__all__ = [
    "LagBias",
    "lag_bias",
    "alibi_slopes",
    "alibi_bias",
    "smooth_window_bias",
    "sharp_window_bias",
    "lookup_bias",
]


@dataclass(frozen=True, eq=False)
class LagBias:
    """A positional bias ``beta_q(tau)``: ``bias(lags)`` returns shape ``(n_queries or 1, len(lags))``.

    Parameters
    ----------
    fn : callable
        Maps an integer array of lags ``(n,)`` (all ``>= 0``) to the bias, shape ``(n,)`` (the
        same for every query) or ``(Q, n)``. Values are real; ``-inf`` masks a lag; NaN and
        ``+inf`` are refused.
    name : str
        Shown in messages and reports.

    Notes
    -----
    Build instances with the constructors of this module (:func:`alibi_bias`,
    :func:`smooth_window_bias`, :func:`sharp_window_bias`, :func:`lookup_bias`,
    :func:`lag_bias`).
    """

    fn: Callable[[np.ndarray], np.ndarray]
    name: str = "bias"

    def __call__(self, lags) -> np.ndarray:
        """Bias at ``lags`` (integers ``>= 0``): a 2-d array ``(Q or 1, len(lags))``."""
        lags = np.asarray(lags)
        if lags.ndim != 1 or not np.issubdtype(lags.dtype, np.integer):
            raise ShapeError(f"lags: expected a 1-d integer array of lags, found shape "
                             f"{lags.shape} and dtype {lags.dtype}")
        if lags.size and lags.min() < 0:
            raise OrderError(f"lags: expected causal lags tau >= 0 (tau = N - t; a negative lag is "
                             f"a future token), found {int(lags.min())}")
        try:
            out = np.asarray(self.fn(lags))
        except (TypeError, ValueError) as exc:
            raise DTypeError(f"bias {self.name!r}: calling it on an integer array of lags failed "
                             f"({exc}); a bias must map lags (n,) to an array (n,) or (Q, n)") from exc
        if out.dtype == object or not np.issubdtype(out.dtype, np.number) \
                or np.iscomplexobj(out):
            raise DTypeError(f"bias {self.name!r}: expected real values, found dtype {out.dtype}")
        out = out.astype(np.float64)
        if out.ndim == 1:
            out = out[None, :]
        if out.ndim != 2 or out.shape[1] != lags.shape[0]:
            raise ShapeError(f"bias {self.name!r}: expected shape ({lags.shape[0]},) or "
                             f"(Q, {lags.shape[0]}) for {lags.shape[0]} lags, found {out.shape}")
        bad = np.isnan(out) | (out == np.inf)
        if np.any(bad):
            q, j = (int(i) for i in np.argwhere(bad)[0])
            raise NonFiniteError(f"bias {self.name!r}: expected finite values or -inf (masked), "
                                 f"found {out[q, j]} for query {q} at lag {int(lags[j])}")
        return out

    def weights(self, n: int) -> np.ndarray:
        """Positional attention weights ``a_tau(q)`` (Q, n): the softmax of the bias over lags ``0..n-1``.

        Raises
        ------
        OrderError
            If some query masks every lag below ``n`` (e.g. a lookup at lag ``L >= n``).
        """
        n = check_positive_int(n, "n")
        return softmax_rows(self(np.arange(n)), name=f"bias {self.name!r}", n=n)


def softmax_rows(scores: np.ndarray, *, name: str, n: int) -> np.ndarray:
    """Row softmax with max subtraction; a row that is entirely ``-inf`` raises OrderError."""
    top = scores.max(axis=1, keepdims=True)
    dead = ~np.isfinite(top[:, 0])
    if np.any(dead):
        q = int(np.argmax(dead))
        raise OrderError(f"{name}: query {q} masks every one of the {n} source positions (all "
                         "scores -inf), so its softmax is undefined; the source is too short for "
                         "this bias (e.g. a lookup at lag L needs N > L)")
    e = np.exp(scores - top)
    return e / e.sum(axis=1, keepdims=True)


def _nonneg_vector(x, name: str, *, integer: bool = False) -> np.ndarray:
    arr = as_array(np.atleast_1d(x), name, ndim=1, complex_ok=False)
    if np.any(arr < 0):
        i = int(np.argmax(arr < 0))
        raise OrderError(f"{name}: expected causal lags >= 0 (lag tau = N - t; a negative lag is a "
                         f"future token), found {arr[i]} at index {i}")
    if integer and np.any(arr != np.round(arr)):
        i = int(np.argmax(arr != np.round(arr)))
        raise DTypeError(f"{name}: expected integer lags, found {arr[i]} at index {i}")
    return arr


def _positive_scalar(x, name: str) -> float:
    arr = as_array(x, name, complex_ok=False)
    if arr.ndim != 0 or not arr > 0:
        raise OrderError(f"{name}: expected one positive number, found {x!r}")
    return float(arr)


def lag_bias(fn: Callable[[np.ndarray], np.ndarray], *, name: str = "custom") -> LagBias:
    """Wrap any callable of the lag as a :class:`LagBias` (output validated on every call)."""
    if not callable(fn):
        raise DTypeError(f"fn: expected a callable mapping lags to biases, found "
                         f"{type(fn).__name__}")
    return LagBias(fn, name)


def alibi_slopes(n_heads: int) -> np.ndarray:
    """ALiBi head slopes: the geometric sequence ``2^(-8 i / n)``, ``i = 1..n`` (Press et al. 2022).

    For ``n`` not a power of two the reference implementation's rule is used: the slopes of the
    closest smaller power of two ``P``, followed by every other slope of ``2P`` heads.

    References
    ----------
    O. Press, N. A. Smith, M. Lewis, "Train Short, Test Long: Attention with Linear Biases Enables
    Input Length Extrapolation", ICLR 2022, §3.
    """
    n_heads = check_positive_int(n_heads, "n_heads")

    def power_of_two(n):
        return 2.0 ** (-8.0 * np.arange(1, n + 1) / n)

    p = 2 ** int(np.floor(np.log2(n_heads)))
    if p == n_heads:
        return power_of_two(n_heads)
    return np.concatenate([power_of_two(p), power_of_two(2 * p)[0::2][: n_heads - p]])


def alibi_bias(slopes) -> LagBias:
    """ALiBi: ``beta_q(tau) = -slope_q * tau`` (one query/head per slope; slopes > 0).

    With no content term the weights are ``e^{-slope tau}`` normalised over the source: one
    mode ``lambda = e^{-slope}`` plus one for the softmax normaliser realises them exactly at
    every source length (THEORY §4, T1; :class:`~mccc_theory.attention.ModalMemory` with
    ``normalize=True``).
    """
    slopes = as_array(np.atleast_1d(slopes), "slopes", ndim=1, complex_ok=False)
    if np.any(slopes <= 0):
        i = int(np.argmax(slopes <= 0))
        raise OrderError(f"slopes: expected ALiBi slopes > 0 (decaying with the lag), found "
                         f"{slopes[i]} at index {i}")
    return LagBias(lambda lags: -slopes[:, None] * lags[None, :], "alibi")


def smooth_window_bias(centers, width) -> LagBias:
    """Smooth lag window: ``beta_q(tau) = -(tau - mu_q)^2 / (2 w^2)`` (Gaussian weights in the lag).

    Parameters
    ----------
    centers : (Q,) array of lags ``mu_q >= 0``
    width : float > 0
        Standard deviation ``w`` of the window, in steps.
    """
    mu = _nonneg_vector(centers, "centers")
    w = _positive_scalar(width, "width")
    return LagBias(lambda lags: -((lags[None, :] - mu[:, None]) ** 2) / (2 * w * w),
                   "smooth window")


def sharp_window_bias(starts, width) -> LagBias:
    """Sharp lag window: ``beta_q(tau) = 0`` for ``start_q <= tau < start_q + width``, ``-inf`` else.

    The weights are uniform over ``width`` consecutive lags (a box).
    """
    start = _nonneg_vector(starts, "starts", integer=True)
    w = check_positive_int(width, "width")

    def fn(lags):
        inside = (lags[None, :] >= start[:, None]) & (lags[None, :] < start[:, None] + w)
        return np.where(inside, 0.0, -np.inf)

    return LagBias(fn, "sharp window")


def lookup_bias(lag) -> LagBias:
    """Exact lookup: ``beta_q(tau) = 0`` at ``tau = L_q`` and ``-inf`` elsewhere (weight 1 on one token).

    Its weights have ``L + 1`` Hankel singular values equal to 1 (THEORY §4, T4).
    """
    L = _nonneg_vector(lag, "lag", integer=True).astype(np.int64)
    return LagBias(lambda lags: np.where(lags[None, :] == L[:, None], 0.0, -np.inf), "lookup")
