"""Families of attention weights over lags: the test set of THEORY §4.

Each family is a (Q, N) array ``a_tau(q)`` (queries x lags ``tau = 0..N-1``) with the positional
bias that produces it:

* ``alibi``: one query per ALiBi head, ``a_tau ~ e^{-slope_q tau}`` (slopes
  :func:`~.biases.alibi_slopes`);
* ``smooth``: Gaussian lag windows of standard deviation ``width``;
* ``sharp``: box windows of ``width`` consecutive lags;
* ``lookup``: one query that picks the token exactly ``L`` steps back.

Window positions (:func:`window_starts`): Q positions evenly spaced over lags
``[0, N - 3 width]``, so that every window lies inside the source with a 3-width margin (a
window cut off at the oldest token acquires a sharp edge and a slow Hankel decay).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import OrderError, ShapeError
from ..systems import modal_powers
from ..validation import as_array, check_log_eigenvalues, check_positive_int
from .biases import (
    LagBias,
    alibi_bias,
    alibi_slopes,
    lookup_bias,
    sharp_window_bias,
    smooth_window_bias,
)

__all__ = ["WeightFamily", "window_starts", "exponential_sum_weights", "standard_families"]


@dataclass(frozen=True, eq=False)
class WeightFamily:
    """Named attention weights over lags with the bias that produced them."""

    name: str
    weights: np.ndarray
    bias: LagBias | None
    description: str


def window_starts(n: int, n_queries: int, width: float) -> np.ndarray:
    """Q lags evenly spaced over ``[0, n - 3 width]`` (float; round them for box windows)."""
    n = check_positive_int(n, "n")
    n_queries = check_positive_int(n_queries, "n_queries")
    hi = n - 3 * float(width)
    if hi < 0:
        raise OrderError(f"width: windows of width {width} do not fit a source of n = {n} lags "
                         f"with a 3-width margin; need n >= {3 * float(width):g}")
    return np.linspace(0.0, hi, n_queries)


def exponential_sum_weights(s, gains, n: int) -> np.ndarray:
    """``a_tau(q) = Re sum_i G[q, i] lambda_i^tau`` for ``tau = 0..n-1``: (Q, n).

    Poles ``lambda_i = exp(s_i)`` are shared by all queries (the T1 class). Conjugate-closed
    ``(s, G)`` (pairs ``s, conj(s)`` with conjugate gain columns) give real sums, so ``Re``
    drops only rounding; otherwise ``Re`` adds the conjugate poles.
    """
    s = check_log_eigenvalues(s, "s")
    G = as_array(gains, "gains", complex_ok=True)
    if G.ndim == 1:
        G = G[None, :]
    if G.ndim != 2 or G.shape[1] != s.shape[0]:
        raise ShapeError(f"gains: expected shape (Q, {s.shape[0]}) (one gain per query and pole), "
                         f"found {G.shape}")
    n = check_positive_int(n, "n")
    return (G @ modal_powers(s, np.arange(n)).T).real


def standard_families(n: int = 160, n_queries: int = 12, width: int = 12,
                      lookup_lag: int | None = None) -> dict[str, WeightFamily]:
    """The four families of the report (THEORY §4), defaults N = 160, 12 queries, width 12.

    ``lookup_lag`` defaults to ``width``; the lookup family has a single query.
    """
    n = check_positive_int(n, "n")
    width = check_positive_int(width, "width")
    pos = window_starts(n, n_queries, width)
    L = width if lookup_lag is None else check_positive_int(lookup_lag, "lookup_lag", minimum=0)
    slopes = alibi_slopes(n_queries)
    fams = {
        "alibi": (alibi_bias(slopes),
                  f"ALiBi, {n_queries} heads, slopes 2^(-8i/{n_queries}) rule of Press et al."),
        "smooth": (smooth_window_bias(pos, width),
                   f"Gaussian lag windows, std {width}, {n_queries} centres over [0, N - 3w]"),
        "sharp": (sharp_window_bias(np.round(pos), width),
                  f"box windows of {width} lags, {n_queries} starts over [0, N - 3w]"),
        "lookup": (lookup_bias(L), f"exact lookup at lag L = {L} (one query)"),
    }
    return {name: WeightFamily(name, bias.weights(n), bias, desc)
            for name, (bias, desc) in fams.items()}
