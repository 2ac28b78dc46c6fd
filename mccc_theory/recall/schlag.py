"""Schlag, Irie and Schmidhuber's synthetic capacity setting ("setting 1") with random keys.

Setting (Schlag et al. 2021, §6.1; their ``synthetic/`` code): S distinct keys, each paired with
a distinct one-hot value in ``R^S`` (a random permutation), every key queried once; the memory
is linear attention with feature map ``phi`` and the "sum" update, read with normalisation,
``y = sum_i v_i phi(k_i).phi(q) / (sum_i phi(k_i).phi(q) + 1e-6)``; the loss is
``0.5 |v_q - y|^2`` averaged over queries. They train the key projection (d = 64 before
``phi``) and report the S at which the evaluation loss crosses 0.001.

Here the keys are *random* (standard Gaussian in ``R^d``, untrained); :func:`retrieval_loss`
computes the same loss and :func:`loss_crossing` the S where it crosses a threshold. The
published crossing points (:data:`SCHLAG_CROSSINGS`) are for trained models and are shown beside
the random-key ones for orientation only. With one-hot values the loss of query j is
``0.5 ((1 - a_jj)^2 + sum_{i != j} a_ji^2)`` with the normalised weights ``a``.
"""

from __future__ import annotations

import numpy as np

from ..validation import check_positive_int
from .features import feature_dim, kernel

__all__ = ["SCHLAG_CROSSINGS", "retrieval_loss", "loss_crossing"]

# Published (trained models, d = 64 before phi): name -> (feature map, nu, d_dot, S bracket of
# the 0.001 crossing). Linear attention = elu+1 features: loss 0.0009 at S = 40, 0.025 at 60,
# 0.11 at 80 (THEORY §5).
SCHLAG_CROSSINGS = {
    "linear (elu+1)": ("elu+1", 1, 64, (40, 60)),
    "DPFP nu=1": ("dpfp", 1, 128, (100, 120)),
    "DPFP nu=2": ("dpfp", 2, 256, (240, 260)),
    "DPFP nu=3": ("dpfp", 3, 384, (340, 360)),
}


def retrieval_loss(feature_map: str, n_keys: int, *, nu: int = 1, d: int = 64,
                   trials: int = 64, seed=0) -> float:
    """Mean loss ``0.5 |v - y|^2`` of the normalised readout with S random Gaussian keys."""
    S = check_positive_int(n_keys, "n_keys")
    T = check_positive_int(trials, "trials")
    feature_dim(feature_map, d, nu)  # validates the map, d and nu
    rng = np.random.default_rng(seed)
    K = rng.standard_normal((T, S, d))
    W = kernel(K, K, feature_map, nu)  # (T, S, S): row j = query j
    A = W / (W.sum(axis=-1, keepdims=True) + 1e-6)
    diag = np.diagonal(A, axis1=1, axis2=2)
    loss = 0.5 * ((1 - diag) ** 2 + np.sum(A * A, axis=-1) - diag ** 2)
    return float(loss.mean())


def loss_crossing(feature_map: str, *, nu: int = 1, d: int = 64, threshold: float = 1e-3,
                  grid=None, trials: int = 32, seed=0) -> dict:
    """Smallest S of ``grid`` whose mean loss reaches ``threshold``, and the loss curve.

    Returns
    -------
    dict
        ``{"grid": [...], "loss": [...], "bracket": (S_below, S_at_or_above) or None,
        "crossing": float or None}`` where ``crossing`` interpolates ``log(loss)`` linearly in S
        inside the bracket; ``S_below`` is None when the first grid point already reaches it.
    """
    grid = [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128] if grid is None else list(grid)
    losses = [retrieval_loss(feature_map, S, nu=nu, d=d, trials=trials, seed=seed + S)
              for S in grid]
    out = {"grid": grid, "loss": losses, "bracket": None, "crossing": None}
    for i, (S, L) in enumerate(zip(grid, losses, strict=True)):
        if L >= threshold:
            if i == 0:
                out["bracket"] = (None, S)
            else:
                S0, L0 = grid[i - 1], max(losses[i - 1], 1e-300)
                out["bracket"] = (S0, S)
                f = (np.log(threshold) - np.log(L0)) / (np.log(L) - np.log(L0))
                out["crossing"] = float(S0 + f * (S - S0))
            break
    return out
