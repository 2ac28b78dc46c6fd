"""Error bounds for m-mode approximations of attention weights (THEORY §4, T2-T3).

* T2 (read-once, Eckart-Young): any m-dimensional memory read once realises a weight matrix
  ``W_hat = C(q) E`` of rank <= m, so ``||W - W_hat||_2 >= sigma_{m+1}(W)`` and
  ``||W - W_hat||_F >= (sum_{i>m} sigma_i(W)^2)^(1/2)``; the truncated SVD attains both.
* T3 (streaming): any order-m LTI memory has Hankel-norm (hence H-infinity) error
  ``>= sigma^H_{m+1}``; balanced truncation has ``||G - G_BT||_inf <= 2 sum_{i>m} sigma^H_i``,
  distinct values counted once. Since ``W`` is one block row of the Hankel matrix and one output
  time of the convolution operator,
  ``sigma_{m+1}(W) <= sigma^H_{m+1}`` and ``sigma_{m+1}(W) <= ||W - W_hat_BT||_2 <=
  ||G - G_BT||_inf <= 2 tail``.
"""

from __future__ import annotations

import numpy as np

from ..validation import as_array, check_positive_int
from .hankel import weight_singular_values

__all__ = ["read_once_lower_bounds", "streaming_bounds", "distinct_tail_sum"]

_EPS = np.finfo(float).eps


def read_once_lower_bounds(weights, order: int) -> tuple[float, float]:
    """``(sigma_{m+1}(W), (sum_{i>m} sigma_i(W)^2)^(1/2))``: the T2 lower bounds (0 past the rank)."""
    order = check_positive_int(order, "order", minimum=0)
    sv = weight_singular_values(weights)
    tail = sv[order:]
    return (float(tail[0]) if tail.size else 0.0, float(np.sqrt(np.sum(tail ** 2))))


def distinct_tail_sum(values, order: int, *, rtol: float | None = None) -> float:
    """``sum_{i > m} sigma_i`` with equal values counted once (the BT bound's tail).

    Parameters
    ----------
    values : descending singular values
    order : m
    rtol : float, optional
        Values closer than ``rtol * sigma_1`` are treated as one. Default ``64 n eps``: a
        backward-stable SVD gives each value to about ``n eps sigma_1``, so only values equal to
        rounding are merged (merging distinct values would understate the bound).
    """
    v = as_array(values, "values", ndim=1, complex_ok=False, allow_empty=True)
    order = check_positive_int(order, "order", minimum=0)
    if v.size == 0 or order >= v.size:
        return 0.0
    rtol = 64 * v.size * _EPS if rtol is None else float(rtol)
    tol = rtol * float(v[0])
    tail = v[order:]
    total, last = 0.0, None
    for x in tail:
        if last is None or abs(x - last) > tol:
            total += float(x)
            last = x
    return total


def streaming_bounds(hsv, order: int) -> tuple[float, float]:
    """``(sigma^H_{m+1}, 2 sum_{i>m} sigma^H_i)`` (distinct values once): the T3 bracket.

    The upper bound is balanced truncation's guarantee and assumes a truncation between
    distinct values (``sigma_m > sigma_{m+1}``); the lower bound holds for every order-m LTI
    memory.
    """
    v = as_array(hsv, "hsv", ndim=1, complex_ok=False, allow_empty=True)
    order = check_positive_int(order, "order", minimum=0)
    lower = float(v[order]) if order < v.size else 0.0
    return lower, 2.0 * distinct_tail_sum(v, order)
