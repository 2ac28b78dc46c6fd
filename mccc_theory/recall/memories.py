"""Associative memories to measure recall on: all are linear in the stored values.

Every memory stores N items ``(k_i, v_i)`` written at times ``t_i`` (strictly increasing) and
answers queries ``q_j`` at times ``T_j``; its readout is ``r_j = sum_i W[j, i] v_i`` with retrieval
weights :meth:`Memory.weights` (the crosstalk decomposition of
:mod:`mccc_theory.capacity.crosstalk`). :meth:`Memory.read` computes the readout the way the
memory itself would (through its state where it has one); the tests check it against
``weights @ values``.

Shapes: keys (B, N, d), values (B, N, d_v), queries (B, Q, d); times (N,) or (B, N) and (Q,) or
(B, Q), integers. Memories that need every write before a read (delta rule, least squares,
MCCC) raise :class:`~mccc_theory.errors.OrderError` for a query at or before a write; attention
and linear attention mask later writes (causal reads).

``state_size(d, d_v, seq_len)`` counts state entries as zoology does (Arora et al. 2023, Fig. 2):
attention keeps keys and values of every token (``2 d L``), linear attention a ``D x d_v``
matrix (``D`` the feature dimension), the delta rule and least squares a ``d x d_v`` matrix, the
MCCC memory ``m x d_v`` complex entries (``2 m d_v`` real numbers).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..capacity.crosstalk import modal_weights
from ..errors import OrderError, ShapeError
from ..systems import modal_powers
from ..validation import as_array, check_choice, check_positive_int
from .features import FEATURE_MAPS, feature_dim, features, kernel

__all__ = [
    "Memory",
    "SoftmaxAttention",
    "LinearAttention",
    "DeltaRule",
    "LeastSquares",
    "KeyedModalMemory",
    "standard_memories",
]


def _inputs(keys, values, queries, write_times, query_times):
    K = as_array(keys, "keys", ndim=3, complex_ok=False)
    Qr = as_array(queries, "queries", ndim=3, complex_ok=False)
    B, N, d = K.shape
    if Qr.shape[0] != B or Qr.shape[2] != d:
        raise ShapeError(f"queries: expected shape ({B}, Q, {d}) to match keys {K.shape}, "
                         f"found {Qr.shape}")
    Vv = None
    if values is not None:
        Vv = as_array(values, "values", ndim=3, complex_ok=False)
        if Vv.shape[:2] != (B, N):
            raise ShapeError(f"values: expected shape ({B}, {N}, d_v) to match keys {K.shape}, "
                             f"found {Vv.shape}")
    wt = np.arange(N) if write_times is None else np.asarray(write_times)
    wt = np.broadcast_to(wt, (B, N)) if wt.ndim == 1 else wt
    if wt.shape != (B, N) or not np.issubdtype(wt.dtype, np.integer):
        raise ShapeError(f"write_times: expected integers of shape ({N},) or ({B}, {N}), "
                         f"found {wt.dtype} {np.shape(write_times)}")
    if N > 1 and np.any(np.diff(wt, axis=1) <= 0):
        raise OrderError("write_times: expected strictly increasing write times (items are "
                         "written in order)")
    if query_times is None:  # read right after the last write
        qt = np.broadcast_to(wt[:, -1:] + 1, (B, Qr.shape[1]))
    else:
        qt = np.asarray(query_times)
        qt = np.broadcast_to(qt, (B, Qr.shape[1])) if qt.ndim <= 1 else qt
    if qt.shape != (B, Qr.shape[1]) or not np.issubdtype(qt.dtype, np.integer):
        raise ShapeError(f"query_times: expected integers of shape ({Qr.shape[1]},) or "
                         f"({B}, {Qr.shape[1]}), found {np.shape(query_times)}")
    return K, Vv, Qr, wt, qt


def _require_after_writes(name, wt, qt):
    if np.any(qt <= wt[:, -1:]):
        raise OrderError(f"query_times: {name} reads its final state; every query must come "
                         "after the last write (query_time > max(write_times))")


@dataclass(frozen=True)
class Memory:
    """Base class: ``weights``, ``read`` and ``state_size`` (see the module docstring)."""

    name: str = field(default="memory", init=False)

    def weights(self, keys, queries, *, write_times=None, query_times=None) -> np.ndarray:
        """Retrieval weights ``W`` (B, Q, N): ``r_j = sum_i W[j, i] v_i``."""
        K, _, Qr, wt, qt = _inputs(keys, None, queries, write_times, query_times)
        return self._weights(K, Qr, wt, qt)

    def read(self, keys, values, queries, *, write_times=None, query_times=None) -> np.ndarray:
        """Readouts ``r_j`` (B, Q, d_v)."""
        K, Vv, Qr, wt, qt = _inputs(keys, values, queries, write_times, query_times)
        return self._read(K, Vv, Qr, wt, qt)

    def _read(self, K, Vv, Qr, wt, qt):
        return self._weights(K, Qr, wt, qt) @ Vv

    def state_size(self, d: int, d_v: int, seq_len: int) -> int:  # pragma: no cover - abstract
        raise NotImplementedError


def _causal(W, wt, qt):
    return np.where(wt[:, None, :] < qt[:, :, None], W, 0.0)


@dataclass(frozen=True)
class SoftmaxAttention(Memory):
    """Softmax attention ``W[j, i] = softmax_i(scale q_j . k_i)`` over the writes before ``T_j``.

    ``scale`` defaults to ``sqrt(d)``: unit vectors scaled to norm ``sqrt(d)`` and the usual
    ``1/sqrt(d)`` temperature. State: the KV cache, ``2 d L``.
    """

    scale: float | None = None
    name: str = field(default="softmax attention", init=False)

    def _weights(self, K, Qr, wt, qt):
        scale = np.sqrt(K.shape[-1]) if self.scale is None else float(self.scale)
        logits = scale * (Qr @ np.swapaxes(K, -1, -2))
        mask = wt[:, None, :] < qt[:, :, None]
        logits = np.where(mask, logits, -np.inf)
        mx = np.max(logits, axis=-1, keepdims=True)
        e = np.where(mask, np.exp(logits - np.where(np.isfinite(mx), mx, 0.0)), 0.0)
        z = e.sum(axis=-1, keepdims=True)
        return np.divide(e, z, out=np.zeros_like(e), where=z > 0)

    def state_size(self, d, d_v, seq_len):
        return 2 * d * seq_len


@dataclass(frozen=True)
class LinearAttention(Memory):
    """Linear attention ``S = sum_i v_i phi(k_i)^T``, ``r = S phi(q)`` (optionally normalised).

    Parameters
    ----------
    feature_map : {"identity", "elu+1", "dpfp", "taylor2"}
    nu : int
        DPFP order (1, 2, 3 in Schlag et al.).
    normalize : bool
        Divide by ``sum_i phi(q) . phi(k_i)`` (+1e-6), Schlag et al.'s "sum" rule; argmax recall
        is unchanged for positive feature maps.
    """

    feature_map: str = "identity"
    nu: int = 1
    normalize: bool = False
    name: str = field(default="", init=False)

    def __post_init__(self):
        check_choice(self.feature_map, "feature_map", FEATURE_MAPS)
        check_positive_int(self.nu, "nu")
        label = f"dpfp-{self.nu}" if self.feature_map == "dpfp" else self.feature_map
        object.__setattr__(self, "name", f"linear attention ({label})")

    def _weights(self, K, Qr, wt, qt):
        W = _causal(kernel(Qr, K, self.feature_map, self.nu), wt, qt)
        if self.normalize:
            W = W / (W.sum(axis=-1, keepdims=True) + 1e-6)
        return W

    def _read(self, K, Vv, Qr, wt, qt):
        if self.feature_map == "taylor2" or np.any(wt[:, None, :] >= qt[:, :, None]):
            return super()._read(K, Vv, Qr, wt, qt)
        # through the state S = sum_i v_i phi(k_i)^T (D x d_v per batch element)
        phik, phiq = features(K, self.feature_map, self.nu), features(Qr, self.feature_map, self.nu)
        S = np.swapaxes(phik, -1, -2) @ Vv
        out = phiq @ S
        if self.normalize:
            out = out / (phiq @ phik.sum(axis=1)[:, :, None] + 1e-6)
        return out

    def state_size(self, d, d_v, seq_len):
        D = feature_dim(self.feature_map, d, self.nu)
        return D * d_v + (D if self.normalize else 0)


@dataclass(frozen=True)
class DeltaRule(Memory):
    """One-pass delta rule ``S_t = S_{t-1} + beta (v_t - S_{t-1} k_t) k_t^T`` (DeltaNet's update).

    Weights by the backward recursion ``g <- (I - beta k_t k_t^T) g`` from ``g = q``:
    ``W[j, t] = beta k_t . g_t`` (O(N d) per query); :meth:`read` runs the forward update.
    """

    beta: float = 1.0
    name: str = field(default="delta rule", init=False)

    def __post_init__(self):
        if not (np.isfinite(self.beta) and 0 < self.beta <= 2):
            raise OrderError(f"beta: expected 0 < beta <= 2, found {self.beta}")

    def _weights(self, K, Qr, wt, qt):
        _require_after_writes("the delta rule", wt, qt)
        B, N, _ = K.shape
        W = np.empty((B, Qr.shape[1], N))
        g = Qr.copy()
        for t in range(N - 1, -1, -1):
            kt = K[:, t, None, :]
            c = np.sum(g * kt, axis=-1)
            W[:, :, t] = self.beta * c
            g = g - self.beta * c[..., None] * kt
        return W

    def _read(self, K, Vv, Qr, wt, qt):
        _require_after_writes("the delta rule", wt, qt)
        B, N, d = K.shape
        S = np.zeros((B, Vv.shape[2], d))
        for t in range(N):
            k = K[:, t]
            pred = np.einsum("bvd,bd->bv", S, k)
            S = S + self.beta * (Vv[:, t] - pred)[:, :, None] * k[:, None, :]
        return np.einsum("bvd,bqd->bqv", S, Qr)

    def state_size(self, d, d_v, seq_len):
        return d * d_v


@dataclass(frozen=True)
class LeastSquares(Memory):
    """Least-squares memory ``S = Vv^T (K^T)^+``: ``W[j, :] = (K^T)^+ q_j`` (exact for N <= d)."""

    name: str = field(default="least squares", init=False)

    def _weights(self, K, Qr, wt, qt):
        _require_after_writes("the least-squares memory", wt, qt)
        rcond = max(K.shape[1:]) * np.finfo(float).eps
        P = np.linalg.pinv(np.swapaxes(K, -1, -2), rcond=rcond)  # (B, N, d)
        return Qr @ np.swapaxes(P, -1, -2)

    def state_size(self, d, d_v, seq_len):
        return d * d_v


@dataclass(frozen=True)
class KeyedModalMemory(Memory):
    """Key-addressed MCCC memory: m fixed stable modes ``lambda_i = exp(-exp(nu_i) + i theta_i)``.

    Not :class:`mccc_theory.attention.ModalMemory` (the layer's memory, which writes every value
    through a fixed per-mode gain ``b``): here the input into mode i is the key feature
    ``phi_i(k_t)`` times the value, as in the capacity theory (THEORY §5).

    Writes ``phi(k_t) v_t^T`` decayed per mode: ``S = sum_t diag(lambda^(T - t)) phi(k_t) v_t^T``
    (m x d_v complex, ``T`` the last write time, lag 0 undecayed) and reads
    ``Re(phi(q)^T diag(lambda^(T_q - T)) S)``. Features ``phi(k) = sqrt(d/m) P k`` with ``P``
    (m, d) orthonormal rows: ``P = I`` when ``m = d`` (then, as ``lambda -> 1``, undecayed linear
    attention), a seeded random orthonormal projection for the reduced memories ``m < d``.

    Parameters
    ----------
    nu, theta : (m,) array_like
        Log-polar parameters; ``exp(-nu)`` is a mode's e-folding time in steps.
    d : int
        Key dimension (``>= m``).
    seed : int
        Seed of the projection ``P`` (m < d).

    See :meth:`default` for the documented default modes.
    """

    nu: tuple = ()
    theta: tuple = ()
    d: int = 0
    seed: int = 0
    name: str = field(default="", init=False)

    def __post_init__(self):
        nu = as_array(self.nu, "nu", ndim=1, complex_ok=False)
        theta = as_array(self.theta, "theta", ndim=1, complex_ok=False)
        if nu.shape != theta.shape:
            raise ShapeError(f"theta: expected the shape of nu {nu.shape}, found {theta.shape}")
        d = check_positive_int(self.d, "d")
        if nu.shape[0] > d:
            raise OrderError(f"nu: the memory maps keys of dimension d = {d} to m features, "
                             f"needs m <= d, found m = {nu.shape[0]}")
        object.__setattr__(self, "nu", tuple(nu))
        object.__setattr__(self, "theta", tuple(theta))
        object.__setattr__(self, "name", f"MCCC modal (m={nu.shape[0]})")

    @classmethod
    def default(cls, m: int, d: int, horizon: int, *, seed: int = 0) -> KeyedModalMemory:
        """m modes with e-folding times log-spaced in ``[4 horizon, 64 horizon]`` and phases
        ``theta`` evenly in ``[-pi/(4 horizon), pi/(4 horizon)]`` (at most an eighth of a turn over
        the horizon, so ``Re lambda^tau > 0.7 |lambda|^tau`` for every stored item)."""
        m = check_positive_int(m, "m")
        horizon = check_positive_int(horizon, "horizon")
        T = horizon * np.geomspace(4.0, 64.0, m)
        theta = np.linspace(-np.pi / (4 * horizon), np.pi / (4 * horizon), m)
        return cls(tuple(-np.log(T)), tuple(theta), d, seed)

    @property
    def m(self) -> int:
        return len(self.nu)

    @property
    def s(self) -> np.ndarray:
        """Log-eigenvalues ``-exp(nu) + i theta``."""
        return -np.exp(np.asarray(self.nu)) + 1j * np.asarray(self.theta)

    @property
    def projection(self) -> np.ndarray:
        """``sqrt(d/m) P`` (m, d)."""
        if self.m == self.d:
            return np.eye(self.d)
        rng = np.random.default_rng(self.seed)
        Qm, _ = np.linalg.qr(rng.standard_normal((self.d, self.m)))
        return np.sqrt(self.d / self.m) * Qm.T

    def _check_d(self, K):
        if K.shape[-1] != self.d:
            raise ShapeError(f"keys: this memory was built for d = {self.d}, found keys of "
                             f"dimension {K.shape[-1]}")

    def _weights(self, K, Qr, wt, qt):
        self._check_d(K)
        _require_after_writes("the MCCC memory", wt, qt)
        P = self.projection
        lags = qt[:, :, None] - wt[:, None, :]
        return modal_weights(K @ P.T, Qr @ P.T, self.s, lags)

    def _read(self, K, Vv, Qr, wt, qt):
        self._check_d(K)
        _require_after_writes("the MCCC memory", wt, qt)
        P = self.projection
        s = self.s
        T = wt[:, -1]
        decay = modal_powers(s, T[:, None] - wt)  # (B, N, m): lambda^(T - t)
        H = np.einsum("bnm,bnv->bmv", (K @ P.T) * decay, Vv)  # state (B, m, d_v) complex
        C = (Qr @ P.T) * modal_powers(s, qt - T[:, None])  # (B, Q, m)
        return np.real(C @ H)

    def state_size(self, d, d_v, seq_len):
        return 2 * self.m * d_v


def standard_memories(d: int, horizon: int) -> list[Memory]:
    """The memories of the report: softmax attention, linear attention (identity, elu+1, DPFP
    nu = 1, 2, 3, Taylor-2), delta rule, least squares, MCCC with m = d, d/2, d/4 modes."""
    d = check_positive_int(d, "d")
    mems: list[Memory] = [SoftmaxAttention(), LinearAttention("identity"),
                          LinearAttention("elu+1")]
    mems += [LinearAttention("dpfp", nu) for nu in (1, 2, 3)]
    mems += [LinearAttention("taylor2"), DeltaRule(), LeastSquares()]
    mems += [KeyedModalMemory.default(m, d, horizon) for m in sorted({d, max(d // 2, 1),
                                                                 max(d // 4, 1)}, reverse=True)]
    return mems
