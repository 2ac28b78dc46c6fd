"""Decode-time cost of cross-attention over a KV cache and of the MCCC readout, per query.

At decode time a query ``q`` (d,) reads the source. Softmax cross-attention needs the KV cache
(``K, V``: N x d each) and ``O(N d)`` work per query; the MCCC memory needs its state ``H``
(m x (d_v + 1) complex, with the normaliser column) and ``O(m (d + d_v))`` work:

    KV:   y = softmax(K q / sqrt(d))^T V                         memory 2 N d reals
    MCCC: c = W_c^T q,  y = Re(c^T H_v) / Re(c^T H_1)            memory m (d_v + 1) complex

:class:`DecodeSetup` builds both for one source length and backend (``"numpy"`` or ``"torch"``
on CPU) and exposes the two per-query read functions and their resident bytes; benchmarks and
the report time them (encoding the source is not part of the decode cost and is not timed).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..errors import BackendUnavailableError
from ..validation import check_choice, check_positive_int

__all__ = ["DecodeSetup", "BACKENDS"]

BACKENDS = ("numpy", "torch")


@dataclass
class DecodeSetup:
    """KV cache and MCCC state for one source length, with per-query read functions.

    Parameters
    ----------
    n : int
        Source length N.
    d : int
        Query/key/value dimension (``d_v = d``).
    m : int
        MCCC modes.
    backend : {"numpy", "torch"}
    seed : int

    Attributes
    ----------
    kv_bytes, mccc_bytes : int
        Per-source resident bytes: the KV cache (float32) and the MCCC state (complex64, with
        the normaliser column). Parameters (projections, ``W_c``) are excluded on both sides.
    kv_read, mccc_read : callable () -> array
        One decode step for the stored query.

    Notes
    -----
    Values are random (the cost does not depend on them). The MCCC state is built directly at
    its final value (a random complex array of the right shape); its cost per query does not
    depend on N, which is the point being measured.
    """

    n: int
    d: int = 64
    m: int = 64
    backend: str = "numpy"
    seed: int = 0

    def __post_init__(self):
        self.n = check_positive_int(self.n, "n")
        self.d = check_positive_int(self.d, "d")
        self.m = check_positive_int(self.m, "m")
        check_choice(self.backend, "backend", BACKENDS)
        rng = np.random.default_rng(self.seed)
        d, m, n = self.d, self.m, self.n
        K = rng.standard_normal((n, d), dtype=np.float32)
        V = rng.standard_normal((n, d), dtype=np.float32)
        q = rng.standard_normal(d, dtype=np.float32)
        H = (rng.standard_normal((m, d + 1)) + 1j * rng.standard_normal((m, d + 1))
             ).astype(np.complex64)
        H[:, -1] = np.abs(H[:, -1]) + 1  # keep the normaliser away from zero
        W_c = (rng.standard_normal((d, m)) + 1j * rng.standard_normal((d, m))).astype(np.complex64)
        self.kv_bytes = K.nbytes + V.nbytes
        self.mccc_bytes = H.nbytes
        scale = np.float32(1 / np.sqrt(d))
        if self.backend == "numpy":
            self.kv_read, self.mccc_read = _numpy_reads(K, V, q, H, W_c, scale)
        else:
            self.kv_read, self.mccc_read = _torch_reads(K, V, q, H, W_c, scale)


def _numpy_reads(K, V, q, H, W_c, scale) -> tuple[Callable, Callable]:
    def kv_read():
        s = (K @ q) * scale
        e = np.exp(s - s.max())
        return (e @ V) / e.sum()

    def mccc_read():
        c = q @ W_c
        y = (c @ H).real
        return y[:-1] / y[-1]

    return kv_read, mccc_read


def _torch_reads(K, V, q, H, W_c, scale) -> tuple[Callable, Callable]:
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - torch is a declared optional dependency
        raise BackendUnavailableError("backend: 'torch' needs PyTorch (pip install "
                                      "mccc-theory[torch])") from exc
    Kt, Vt, qt = torch.from_numpy(K), torch.from_numpy(V), torch.from_numpy(q)
    Ht, Wt = torch.from_numpy(H), torch.from_numpy(W_c)
    qc = qt.to(torch.complex64)
    sc = float(scale)

    def kv_read():
        with torch.no_grad():
            return torch.softmax((Kt @ qt) * sc, dim=0) @ Vt

    def mccc_read():
        with torch.no_grad():
            y = ((qc @ Wt) @ Ht).real
            return y[:-1] / y[-1]

    return kv_read, mccc_read
