"""Trainable memories in torch: ``y_j = read(q_j; write(k_1, v_1), ..., write(k_N, v_N))``.

Every memory maps write inputs ``k_in`` (B, N, a), values ``v`` (B, N, d_v) and query inputs
``q_in`` (B, Q, c) to readouts (B, Q, d_v); keys and queries are learned projections of their
inputs (``K = W_k k_in``, ``Q = W_q q_in``, with bias, width ``d_key``), as in Schlag, Irie &
Schmidhuber 2021 (their ``synthetic/`` code). By name (:data:`MEMORY_NAMES`, the spelling of
:data:`mccc_theory.recall.grid.MEMORY_NAMES`):

* ``softmax``: ``y_j = sum_i softmax_i(Q_j . K_i / sqrt(d_key)) v_i`` (state: the KV cache).
* ``linear`` (identity features), ``elu+1`` (Katharopoulos et al.; Schlag et al.'s "linear
  attention"), ``dpfp1``/``dpfp2``/``dpfp3`` (DPFP of order nu), ``taylor2``: the sum rule
  ``S = sum_i v_i phi(K_i)^T`` read as ``S phi(Q_j)``, divided by ``z . phi(Q_j) + 1e-6``
  (``z = sum_i phi(K_i)``, Schlag et al.'s normalised read) for the positive feature maps
  (elu+1, dpfp, taylor2); identity features are read unnormalised (their denominator can vanish).
  The maps are those of :mod:`mccc_theory.recall.features` (cross-checked in the tests).
* ``delta``: Schlag et al.'s delta rule ("ours") with DPFP-1 features:
  ``kbar = phi(K_t) / sum phi(K_t)``, ``vbar = S kbar``,
  ``S <- S + (beta_t v_t + (1 - beta_t) vbar - vbar) kbar^T``, ``beta_t = sigmoid(w_b . k_in_t)``,
  read ``S phi(Q) / (sum phi(Q) + 1e-6)``.
* ``mccc`` / ``mccc-key``: the production :class:`mccc_kernels.nn.MCCCCrossConditioning` with
  ``n_modes`` modes, source ``[k_in, v]`` and queries ``W_q q_in``; ``mccc`` is its input-gain
  write (``write="gain"``), ``mccc-key`` the key-addressed write (``write="key"``, issue 11).

:func:`rank_cap` is the largest rank of the Q x N-query readout matrix a memory can realise for
one written sequence (``d_dot``: the feature dimension for the linear memories, m for the
modal layer with its softmax mix over m modes; none for softmax attention);
:func:`state_scalars` counts the scalars a memory hands from the writes to the reads.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass

import torch
from torch import nn

from ..errors import MethodError
from ..validation import check_choice, check_positive_int

__all__ = ["MEMORY_NAMES", "OneHotConcat", "make_memory", "feature_map", "feature_size", "rank_cap",
           "state_scalars", "layer_supports_key_write"]

MEMORY_NAMES = ("softmax", "linear", "elu+1", "dpfp1", "dpfp2", "dpfp3", "taylor2", "delta",
                "mccc", "mccc-key")
_FEATURES = {"linear": ("identity", 1), "elu+1": ("elu+1", 1), "dpfp1": ("dpfp", 1),
             "dpfp2": ("dpfp", 2), "dpfp3": ("dpfp", 3), "taylor2": ("taylor2", 1),
             "delta": ("dpfp", 1)}


def feature_map(x: torch.Tensor, name: str, nu: int = 1) -> torch.Tensor:
    """``phi(x)`` on the last axis, the maps of :mod:`mccc_theory.recall.features` in torch."""
    if name == "identity":
        return x
    if name == "elu+1":
        return nn.functional.elu(x) + 1.0
    if name == "dpfp":
        xp = torch.cat([torch.relu(x), torch.relu(-x)], dim=-1)
        return torch.cat([xp * torch.roll(xp, j, dims=-1) for j in range(1, nu + 1)], dim=-1)
    if name == "taylor2":
        outer = (x[..., :, None] * x[..., None, :]).flatten(-2) / math.sqrt(2.0)
        return torch.cat([torch.ones_like(x[..., :1]), x, outer], dim=-1)
    raise MethodError(f"feature_map: expected identity, elu+1, dpfp or taylor2, found {name!r}")


def feature_size(name: str, d_key: int, nu: int = 1) -> int:
    """Width D of ``phi`` for keys of width ``d_key``."""
    return {"dpfp": 2 * d_key * nu, "taylor2": 1 + d_key + d_key * d_key}.get(name, d_key)


def rank_cap(memory: str, d_key: int, n_modes: int) -> int | None:
    """Largest rank ``d_dot`` of the readout matrix ``[y_1 ... y_Q]`` for one written sequence.

    Linear memories: ``y_j = S phi(Q_j) / n_j`` with ``S`` (d_v, D), so rank <= D (for taylor2 the
    features span only ``1 + d + d (d + 1)/2`` dimensions: ``vec(x x^T)`` is symmetric). The modal
    layer with its (default) softmax mix ``c_j = p_j * g``, ``p_j`` a probability vector:
    ``y_j = W_o Re(c_j^T H) + b_o = sum_i p_ji (W_o Re(g_i H_i) + b_o)``, rank <= m (the bias is
    absorbed because ``sum_i p_ji = 1``). Softmax attention: None (no cap below the writes).
    """
    check_choice(memory, "memory", MEMORY_NAMES)
    if memory == "softmax":
        return None
    if memory.startswith("mccc"):
        return n_modes
    fm, nu = _FEATURES[memory]
    if fm == "taylor2":
        return 1 + d_key + d_key * (d_key + 1) // 2
    return feature_size(fm, d_key, nu)


def state_scalars(memory: str, d_key: int, d_v: int, n_modes: int, n_writes: int) -> int:
    """Real scalars the writes hand to the reads (float32 each in training).

    softmax: keys and values of every write, ``N (d_key + d_v)``; linear memories: ``S`` (D d_v)
    plus ``z`` (D) when normalised; delta: ``S``; modal layer: ``m`` complex rows of ``d_v``,
    ``2 m d_v``.
    """
    check_choice(memory, "memory", MEMORY_NAMES)
    if memory == "softmax":
        return n_writes * (d_key + d_v)
    if memory.startswith("mccc"):
        return 2 * n_modes * d_v
    fm, nu = _FEATURES[memory]
    D = feature_size(fm, d_key, nu)
    return D * d_v + (D if (memory != "delta" and fm != "identity") else 0)


@dataclass(frozen=True)
class OneHotConcat:
    """Write inputs ``[onehot(ids), dense]`` (B, N, n_classes + e), the one-hot part kept as ids.

    A linear map of it is a column gather plus a dense product (:func:`project`), identical in
    value and gradient to the map of the concatenation and ``n_classes / e`` times cheaper than
    multiplying the one-hot block (Schlag et al.'s write input is ``[onehot(v), emb(k)]``).
    """

    ids: torch.Tensor
    n_classes: int
    dense: torch.Tensor

    @property
    def width(self) -> int:
        return self.n_classes + self.dense.shape[-1]

    def materialize(self) -> torch.Tensor:
        onehot = nn.functional.one_hot(self.ids, self.n_classes).to(self.dense.dtype)
        return torch.cat([onehot, self.dense], dim=-1)


def project(lin: nn.Linear, x) -> torch.Tensor:
    """``lin(x)`` for a tensor or a :class:`OneHotConcat`."""
    if isinstance(x, OneHotConcat):
        W = lin.weight
        return (nn.functional.embedding(x.ids, W[:, :x.n_classes].t())
                + nn.functional.linear(x.dense, W[:, x.n_classes:], lin.bias))
    return lin(x)


class _Projected(nn.Module):
    def __init__(self, d_write: int, d_query: int, d_key: int):
        super().__init__()
        self.W_k = nn.Linear(d_write, d_key)
        self.W_q = nn.Linear(d_query, d_key)
        # Schlag et al.'s initialisation of the key/query maps: uniform(+-1/sqrt(d_key))
        for lin in (self.W_k, self.W_q):
            nn.init.uniform_(lin.weight, -1 / math.sqrt(d_key), 1 / math.sqrt(d_key))


class SoftmaxMemory(_Projected):
    """Softmax attention over the writes (module docstring)."""

    def forward(self, k_in, v, q_in):
        K, Q = project(self.W_k, k_in), self.W_q(q_in)
        a = torch.softmax(Q @ K.transpose(1, 2) / math.sqrt(K.shape[-1]), dim=-1)
        return a @ v


class LinearMemory(_Projected):
    """Linear attention with the sum rule and a feature map (module docstring)."""

    def __init__(self, d_write, d_query, d_key, fm: str, nu: int):
        super().__init__(d_write, d_query, d_key)
        self.fm, self.nu = fm, nu
        self.normalize = fm != "identity"

    def forward(self, k_in, v, q_in):
        K = feature_map(project(self.W_k, k_in), self.fm, self.nu)
        Q = feature_map(self.W_q(q_in), self.fm, self.nu)
        N, D = K.shape[1:]
        n_q, d_v = Q.shape[1], v.shape[2]
        if n_q * N * (D + d_v) < N * D * d_v + n_q * D * d_v:
            # few queries: (Q K^T) v equals Q (K^T v) and costs less (training reads one key)
            A = Q @ K.transpose(1, 2)
            y, z = A @ v, A.sum(dim=-1, keepdim=True)
        else:
            y = Q @ (K.transpose(1, 2) @ v)  # through the state S = K^T v (B, D, d_v)
            z = Q @ K.sum(dim=1)[:, :, None]
        return y / (z + 1e-6) if self.normalize else y


class DeltaMemory(_Projected):
    """Schlag et al.'s delta rule with DPFP-1 features (module docstring)."""

    def __init__(self, d_write, d_query, d_key):
        super().__init__(d_write, d_query, d_key)
        self.W_b = nn.Linear(d_write, 1)

    def forward(self, k_in, v, q_in):
        K = feature_map(project(self.W_k, k_in), "dpfp", 1)
        K = K / (K.sum(dim=-1, keepdim=True) + 1e-6)
        beta = torch.sigmoid(project(self.W_b, k_in))
        S = v.new_zeros(v.shape[0], v.shape[2], K.shape[2])
        for t in range(K.shape[1]):
            k = K[:, t]
            vbar = torch.einsum("bvd,bd->bv", S, k)
            new = beta[:, t] * v[:, t] + (1 - beta[:, t]) * vbar
            S = S + torch.einsum("bv,bd->bvd", new - vbar, k)
        Q = feature_map(self.W_q(q_in), "dpfp", 1)
        Q = Q / (Q.sum(dim=-1, keepdim=True) + 1e-6)
        return torch.einsum("bvd,bqd->bqv", S, Q)


def layer_supports_key_write() -> bool:
    """Whether this installation's :class:`MCCCCrossConditioning` has ``write="key"``."""
    from mccc_kernels.nn import MCCCCrossConditioning

    return "write" in inspect.signature(MCCCCrossConditioning.__init__).parameters


class ModalLayerMemory(nn.Module):
    """The production MCCC layer between writes and reads (module docstring)."""

    def __init__(self, d_write, d_query, d_v, n_modes: int, write: str):
        super().__init__()
        from mccc_kernels.nn import MCCCCrossConditioning

        kwargs = {}
        if write != "gain":
            if not layer_supports_key_write():
                raise MethodError("memory: 'mccc-key' needs MCCCCrossConditioning(write='key') "
                                  "(the key-addressed write of issue 11), which this installation "
                                  "lacks; use --memory mccc (write='gain')")
            kwargs["write"] = write
        self.query = nn.Linear(d_query, d_v)
        self.layer = MCCCCrossConditioning(d_v, n_modes, d_source=d_write + d_v, d_value=d_v,
                                           **kwargs)

    def forward(self, k_in, v, q_in):
        if isinstance(k_in, OneHotConcat):
            k_in = k_in.materialize()
        return self.layer(self.query(q_in), torch.cat([k_in, v], dim=-1))


def make_memory(name: str, d_write: int, d_query: int, d_v: int, *, d_key: int = 64,
                n_modes: int = 32) -> nn.Module:
    """The memory ``name`` (:data:`MEMORY_NAMES`) for the given input widths.

    Raises
    ------
    MethodError
        Unknown name, or ``mccc-key`` where the layer has no key-addressed write.
    DTypeError, OrderError
        Widths that are not positive integers.
    """
    check_choice(name, "memory", MEMORY_NAMES)
    for value, label in ((d_write, "d_write"), (d_query, "d_query"), (d_v, "d_v"),
                         (d_key, "d_key"), (n_modes, "n_modes")):
        check_positive_int(value, label)
    if name == "softmax":
        return SoftmaxMemory(d_write, d_query, d_key)
    if name == "delta":
        return DeltaMemory(d_write, d_query, d_key)
    if name.startswith("mccc"):
        return ModalLayerMemory(d_write, d_query, d_v, n_modes, "key" if name == "mccc-key"
                                else "gain")
    fm, nu = _FEATURES[name]
    return LinearMemory(d_write, d_query, d_key, fm, nu)
