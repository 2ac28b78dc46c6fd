"""Feature maps ``phi`` of linear attention, batched over leading axes: ``(..., d) -> (..., D)``.

* ``identity``: ``phi(x) = x`` (D = d).
* ``elu+1``: ``phi(x) = elu(x) + 1`` (D = d; Katharopoulos et al. 2020).
* ``dpfp``: deterministic parameter-free projection of order nu (D = 2 d nu; Schlag et al. 2021):
  ``x' = [relu(x), relu(-x)]`` and ``phi(x) = [x' * roll(x', 1), ..., x' * roll(x', nu)]`` where
  ``roll(x', j)_i = x'_{i-j}`` (cyclic), as in the authors' ``dpfp`` function.
* ``taylor2``: ``phi(x) = [1, x, vec(x x^T)/sqrt 2]`` (D = 1 + d + d^2), so that
  ``phi(q) . phi(k) = 1 + q.k + (q.k)^2/2`` (second-order Taylor expansion of ``exp(q.k)``, Based,
  Arora et al. 2024). :func:`kernel` evaluates this without forming the d^2 features.

The 2-D versions of ``identity``, ``elu+1`` and ``taylor2`` agree with
:mod:`mccc_theory.attention.features` (cross-checked in the tests).

References
----------
A. Katharopoulos et al., "Transformers are RNNs", ICML 2020.
I. Schlag, K. Irie, J. Schmidhuber, "Linear transformers are secretly fast weight programmers",
ICML 2021, §5.4 (DPFP).
S. Arora et al., "Simple linear attention language models balance the recall-throughput
tradeoff", ICML 2024.
"""

from __future__ import annotations

import numpy as np

from ..validation import as_array, check_choice, check_positive_int

__all__ = ["FEATURE_MAPS", "features", "feature_dim", "kernel"]

FEATURE_MAPS = ("identity", "elu+1", "dpfp", "taylor2")


def feature_dim(name: str, d: int, nu: int = 1) -> int:
    """Dimension D of ``phi`` for input dimension d."""
    check_choice(name, "feature_map", FEATURE_MAPS)
    d = check_positive_int(d, "d")
    if name == "dpfp":
        return 2 * d * check_positive_int(nu, "nu")
    if name == "taylor2":
        return 1 + d + d * d
    return d


def features(x, name: str, nu: int = 1) -> np.ndarray:
    """``phi(x)`` on the last axis (see the module docstring for the maps)."""
    check_choice(name, "feature_map", FEATURE_MAPS)
    x = as_array(x, "x", complex_ok=False)
    if name == "identity":
        return x
    if name == "elu+1":
        return np.where(x > 0, x + 1.0, np.exp(np.minimum(x, 0.0)))
    if name == "dpfp":
        nu = check_positive_int(nu, "nu")
        xp = np.concatenate([np.maximum(x, 0.0), np.maximum(-x, 0.0)], axis=-1)
        return np.concatenate([xp * np.roll(xp, j, axis=-1) for j in range(1, nu + 1)], axis=-1)
    outer = (x[..., :, None] * x[..., None, :]).reshape(x.shape[:-1] + (-1,)) / np.sqrt(2.0)
    return np.concatenate([np.ones(x.shape[:-1] + (1,)), x, outer], axis=-1)


def kernel(queries, keys, name: str, nu: int = 1) -> np.ndarray:
    """``phi(q_j) . phi(k_i)`` for ``queries (..., Q, d)`` and ``keys (..., N, d)`` -> (..., Q, N)."""
    check_choice(name, "feature_map", FEATURE_MAPS)
    Qr = as_array(queries, "queries", complex_ok=False)
    K = as_array(keys, "keys", complex_ok=False)
    if name == "taylor2":
        c = Qr @ np.swapaxes(K, -1, -2)
        return 1.0 + c + 0.5 * c * c
    return features(Qr, name, nu) @ np.swapaxes(features(K, name, nu), -1, -2)
