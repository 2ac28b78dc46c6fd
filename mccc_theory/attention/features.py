"""Feature maps ``phi`` of linear attention: the kernel ``phi(q) . phi(k)`` replacing ``exp(q . k)``.

* ``identity``: ``phi(x) = x`` (plain linear attention).
* ``elu+1``: ``phi(x) = elu(x) + 1 > 0`` (Katharopoulos et al. 2020).
* ``taylor2``: ``phi(x) = [1, x, vec(x x^T) / sqrt 2]``, so that
  ``phi(q) . phi(k) = 1 + q.k + (q.k)^2 / 2``, the second-order Taylor expansion of ``exp(q.k)``
  used by Based (Arora et al. 2024). Scale the inputs (e.g. by ``d^-1/4``) for a temperature.
* random features: ``phi(x) = exp(Omega x - |x|^2 / 2) / sqrt(M)`` with ``Omega`` (M, d) standard
  normal rows, the positive random features of Performer (Choromanski et al. 2021):
  ``E[phi(q) . phi(k)] = exp(q . k)``.

References
----------
A. Katharopoulos et al., "Transformers are RNNs", ICML 2020, eq. (7).
S. Arora et al., "Simple linear attention language models balance the recall-throughput
tradeoff" (Based), ICML 2024, §3.
K. Choromanski et al., "Rethinking Attention with Performers", ICLR 2021, Lemma 1.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..errors import ShapeError
from ..validation import as_array, check_choice, check_positive_int

__all__ = ["FeatureMap", "FEATURE_MAPS", "feature_map", "random_features"]


@dataclass(frozen=True, eq=False)
class FeatureMap:
    """A feature map ``phi``: rows ``(n, d) -> (n, dim(d))``."""

    name: str
    fn: Callable[[np.ndarray], np.ndarray]
    dim: Callable[[int], int]
    d_in: int | None = None  # fixed input dimension (random features), None for any

    def __call__(self, x) -> np.ndarray:
        x = as_array(x, "x", ndim=2, complex_ok=False)
        if self.d_in is not None and x.shape[1] != self.d_in:
            raise ShapeError(f"x: feature map {self.name!r} was drawn for inputs of dimension "
                             f"{self.d_in}, found shape {x.shape}")
        return self.fn(x)


def _elu_plus_one(x):
    return np.where(x > 0, x + 1.0, np.exp(np.minimum(x, 0.0)))


def _taylor2(x):
    n, d = x.shape
    outer = (x[:, :, None] * x[:, None, :]).reshape(n, d * d) / np.sqrt(2.0)
    return np.concatenate([np.ones((n, 1)), x, outer], axis=1)


FEATURE_MAPS = {
    "identity": FeatureMap("identity", lambda x: x, lambda d: d),
    "elu+1": FeatureMap("elu+1", _elu_plus_one, lambda d: d),
    "taylor2": FeatureMap("taylor2", _taylor2, lambda d: 1 + d + d * d),
}


def feature_map(spec) -> FeatureMap:
    """A :class:`FeatureMap` from its name (``"identity"``, ``"elu+1"``, ``"taylor2"``) or itself."""
    if isinstance(spec, FeatureMap):
        return spec
    return FEATURE_MAPS[check_choice(spec, "feature_map", FEATURE_MAPS)]


def random_features(d: int, n_features: int, *, seed: int = 0) -> FeatureMap:
    """Positive random features ``exp(Omega x - |x|^2/2) / sqrt(M)`` with ``E[phi(q).phi(k)] = e^{q.k}``.

    Parameters
    ----------
    d : int
        Input dimension.
    n_features : int
        Number ``M`` of random features (the estimator's variance falls as ``1/M``).
    seed : int
        Seed of the NumPy generator drawing ``Omega``.
    """
    d = check_positive_int(d, "d")
    M = check_positive_int(n_features, "n_features")
    omega = np.random.default_rng(seed).standard_normal((M, d))

    def fn(x):
        return np.exp(x @ omega.T - 0.5 * np.sum(x * x, axis=1, keepdims=True)) / np.sqrt(M)

    return FeatureMap(f"random({M})", fn, lambda _d: M, d_in=d)
