"""The crosstalk decomposition of an associative-memory readout ("Eqn E", THEORY §5).

Every memory measured by :mod:`mccc_theory.recall` is linear in the stored values: the readout
for query ``j`` is ``r_j = sum_i W[j, i] v_i`` with retrieval weights ``W`` that depend only on the
keys (and, for decaying memories, on the lags). Splitting off the weight of the queried item,

    r_j = W[j, t_j] v_{t_j}  +  sum_{i != t_j} W[j, i] v_i
          (target term)         (cross terms, "crosstalk")

For linear attention ``W[j, i] = phi(q_j) . phi(k_i)``; with stored keys as queries and unit keys
this is ``S k_j = v_j (k_j . k_j) + sum_{i != j} v_i (k_i . k_j)``. For the MCCC modal memory
``S = sum_t diag(lambda^(T - t)) phi(k_t) v_t^T`` read at time ``T'`` as ``Re(phi(q)^T S)``, every
term is additionally weighted by the modes' decay over its lag ``tau = T' - t``:
``W[j, i] = sum_m phi_m(q_j) phi_m(k_i) Re(lambda_m^tau_ji)`` (:func:`modal_weights`).

:class:`CrosstalkProfile` summarises the weights by the moments the recall predictors of
:mod:`mccc_theory.capacity.predictors` use; :func:`empirical_profile` estimates them from sampled
weights (for memories without a closed-form profile, e.g. softmax attention or DPFP features).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import EmptyInputError, ShapeError
from ..systems import modal_powers
from ..validation import as_array, check_log_eigenvalues

__all__ = [
    "CrosstalkDecomposition",
    "CrosstalkProfile",
    "crosstalk",
    "linear_weights",
    "modal_weights",
    "empirical_profile",
]


@dataclass(frozen=True, eq=False)
class CrosstalkDecomposition:
    """Readouts split into target and cross terms: ``readout = target + cross``.

    Attributes
    ----------
    readout : (..., Q, d_v) float
        ``r_j = sum_i W[j, i] v_i``.
    target : (..., Q, d_v) float
        ``W[j, t_j] v_{t_j}``.
    cross : (..., Q, d_v) float
        ``sum_{i != t_j} W[j, i] v_i``.
    target_weight : (..., Q) float
        ``W[j, t_j]``.
    cross_weights : (..., Q, N) float
        ``W`` with the target entries set to zero.
    """

    readout: np.ndarray
    target: np.ndarray
    cross: np.ndarray
    target_weight: np.ndarray
    cross_weights: np.ndarray

    @property
    def crosstalk_energy(self) -> np.ndarray:
        """``|cross_j|^2`` per query, shape ``(..., Q)``."""
        return np.sum(self.cross ** 2, axis=-1)

    @property
    def snr(self) -> np.ndarray:
        """``|target_j| / |cross_j|`` per query (``inf`` where the crosstalk vanishes)."""
        with np.errstate(divide="ignore"):
            return np.linalg.norm(self.target, axis=-1) / np.sqrt(self.crosstalk_energy)


def crosstalk(weights, values, targets) -> CrosstalkDecomposition:
    """Split ``r = W v`` into the target term and the cross terms (Eqn E).

    Parameters
    ----------
    weights : (..., Q, N) array_like
        Retrieval weights ``W[j, i]`` of stored item ``i`` in the readout for query ``j``.
    values : (..., N, d_v) array_like
        Stored values.
    targets : (..., Q) array_like of int
        Index ``t_j`` in ``[0, N)`` of the item that query ``j`` asks for.

    Returns
    -------
    CrosstalkDecomposition

    Raises
    ------
    ShapeError
        If the shapes do not match or a target index is outside ``[0, N)``.
    """
    W = as_array(weights, "weights")
    Vv = as_array(values, "values")
    if W.ndim < 2 or Vv.ndim < 2:
        raise ShapeError(f"weights, values: expected (..., Q, N) and (..., N, d_v), found "
                         f"{W.shape} and {Vv.shape}")
    if W.shape[-1] != Vv.shape[-2] or W.shape[:-2] != Vv.shape[:-2]:
        raise ShapeError(f"values: expected shape {W.shape[:-2] + (W.shape[-1],)} + (d_v,) to "
                         f"match weights {W.shape}, found {Vv.shape}")
    t = np.asarray(targets)
    if t.shape != W.shape[:-1] or not np.issubdtype(t.dtype, np.integer):
        raise ShapeError(f"targets: expected integers of shape {W.shape[:-1]}, found "
                         f"{t.dtype} {t.shape}")
    N = W.shape[-1]
    if t.size and (t.min() < 0 or t.max() >= N):
        raise ShapeError(f"targets: expected indices in [0, {N}), found range "
                         f"[{t.min()}, {t.max()}]")
    readout = W @ Vv
    tw = np.take_along_axis(W, t[..., None], axis=-1)[..., 0]
    tv = np.take_along_axis(Vv, np.broadcast_to(t[..., None], t.shape + (Vv.shape[-1],)),
                            axis=-2)
    target = tw[..., None] * tv
    cross_w = W.copy()
    np.put_along_axis(cross_w, t[..., None], 0.0, axis=-1)
    return CrosstalkDecomposition(readout, target, readout - target, tw, cross_w)


def linear_weights(keys, queries=None, *, feature_map=None) -> np.ndarray:
    """Linear-attention retrieval weights ``W[j, i] = phi(q_j) . phi(k_i)``.

    Parameters
    ----------
    keys : (..., N, d) array_like
    queries : (..., Q, d) array_like, optional
        Defaults to the keys themselves (every stored item queried once).
    feature_map : callable, optional
        ``phi`` applied to the last axis (e.g. a map from :mod:`mccc_theory.recall.features`);
        default identity.

    Returns
    -------
    (..., Q, N) ndarray
    """
    K = as_array(keys, "keys", complex_ok=False)
    Qr = K if queries is None else as_array(queries, "queries", complex_ok=False)
    if K.ndim < 2 or Qr.shape[-1] != K.shape[-1]:
        raise ShapeError(f"queries: expected (..., Q, {K.shape[-1]}) to match keys {K.shape}, "
                         f"found {Qr.shape}")
    if feature_map is not None:
        K, Qr = feature_map(K), feature_map(Qr)
    return Qr @ np.swapaxes(K, -1, -2)


def modal_weights(phi_keys, phi_queries, s, lags) -> np.ndarray:
    """MCCC modal-memory retrieval weights ``W[j, i] = Re(sum_m phi_m(q_j) phi_m(k_i) lambda_m^tau_ji)``.

    The memory writes ``phi(k_t) v_t^T`` into ``S = sum_t diag(lambda^(T - t)) phi(k_t) v_t^T``
    (one mode per feature) and reads ``Re(phi(q)^T diag(lambda^(T' - T)) S)``; the cross term of
    item ``i`` is weighted by the modes' decay ``lambda^tau`` over its lag ``tau = T' - t_i``
    (lag 0 undecayed).

    Parameters
    ----------
    phi_keys : (..., N, m) array_like
        Features of the stored keys (real).
    phi_queries : (..., Q, m) array_like
        Features of the queries (real).
    s : (m,) array_like
        Log-eigenvalues ``s_m = log(lambda_m)``, ``Re s < 0``.
    lags : (..., Q, N) array_like of int
        Lag ``tau >= 0`` of item ``i`` at query ``j``.

    Returns
    -------
    (..., Q, N) ndarray

    Notes
    -----
    Cost ``O(Q N m)`` per batch element; :class:`mccc_theory.recall.memories.KeyedModalMemory` reads
    through the state instead (``O((N + Q) m d_v)``) and the two are cross-checked in the tests.
    """
    s = check_log_eigenvalues(s, "s")
    Pk = as_array(phi_keys, "phi_keys", complex_ok=False)
    Pq = as_array(phi_queries, "phi_queries", complex_ok=False)
    if Pk.shape[-1] != s.shape[0] or Pq.shape[-1] != s.shape[0]:
        raise ShapeError(f"phi_keys, phi_queries: expected last axis m = {s.shape[0]} (one "
                         f"feature per mode), found {Pk.shape} and {Pq.shape}")
    lags = np.asarray(lags)
    if lags.shape[-2:] != (Pq.shape[-2], Pk.shape[-2]):
        raise ShapeError(f"lags: expected (..., Q, N) = (..., {Pq.shape[-2]}, {Pk.shape[-2]}), "
                         f"found {lags.shape}")
    if lags.size and lags.min() < 0:
        raise ShapeError(f"lags: expected lags >= 0 (items are written before they are read), "
                         f"found {lags.min()}")
    decay = modal_powers(s, lags).real  # (..., Q, N, m)
    return np.einsum("...qm,...qnm,...nm->...qn", Pq, decay, Pk)


@dataclass(frozen=True)
class CrosstalkProfile:
    """Moments of the retrieval weights seen by one query, the input of the recall predictors.

    The predictors model the queried item's weight as Gaussian ``N(target_mean, target_var)`` and
    the ``N - 1`` cross weights as independent with mean ``cross_mean``, variance ``cross_var``
    and raw fourth moment ``cross_fourth``.

    Attributes
    ----------
    n_items : int
        Number ``N`` of stored items (target included).
    target_mean, target_var : float
    cross_mean, cross_var, cross_fourth : float
        ``E w``, ``Var w`` and ``E w^4`` of one cross weight ``w``.
    """

    n_items: int
    target_mean: float
    target_var: float
    cross_mean: float
    cross_var: float
    cross_fourth: float

    def __post_init__(self):
        if self.n_items < 1:
            raise EmptyInputError(f"n_items: expected at least one stored item, found "
                                  f"{self.n_items}")
        for name in ("target_mean", "target_var", "cross_mean", "cross_var", "cross_fourth"):
            v = getattr(self, name)
            if not np.isfinite(v):
                raise ShapeError(f"{name}: expected a finite moment, found {v}")
        if self.target_var < 0 or self.cross_var < 0 or self.cross_fourth < 0:
            raise ShapeError("target_var, cross_var, cross_fourth: expected non-negative "
                             f"moments, found {self.target_var}, {self.cross_var}, "
                             f"{self.cross_fourth}")

    @property
    def crosstalk_energy(self) -> float:
        """Expected ``sum_{i != t} w_i^2`` (equals ``|cross|^2`` for orthonormal values)."""
        return (self.n_items - 1) * (self.cross_var + self.cross_mean ** 2)


def empirical_profile(weights, targets) -> CrosstalkProfile:
    """Estimate a :class:`CrosstalkProfile` from sampled retrieval weights.

    Parameters
    ----------
    weights : (..., Q, N) array_like
        Retrieval weights of independent trials (e.g. from :func:`linear_weights`).
    targets : (..., Q) array_like of int
        Index of the queried item for every row.

    Returns
    -------
    CrosstalkProfile
        Sample moments (pooled over trials, queries and cross items).

    Notes
    -----
    Weights are used up to a positive factor per query: argmax decoding does not change when a
    readout is divided by a normaliser (``sum_i W[j, i]`` of normalised linear attention or the
    softmax denominator), so pass unnormalised weights.
    """
    W = as_array(weights, "weights", complex_ok=False)
    if W.ndim < 2 or W.shape[-1] < 2:
        raise ShapeError(f"weights: expected (..., Q, N) with N >= 2, found {W.shape}")
    t = np.asarray(targets)
    if t.shape != W.shape[:-1]:
        raise ShapeError(f"targets: expected shape {W.shape[:-1]}, found {t.shape}")
    tw = np.take_along_axis(W, t[..., None], axis=-1)[..., 0].ravel()
    mask = np.ones(W.shape, bool)
    np.put_along_axis(mask, t[..., None], False, axis=-1)
    cw = W[mask]
    return CrosstalkProfile(n_items=W.shape[-1], target_mean=float(tw.mean()),
                            target_var=float(tw.var()), cross_mean=float(cw.mean()),
                            cross_var=float(cw.var()), cross_fourth=float(np.mean(cw ** 4)))
