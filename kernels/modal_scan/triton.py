"""Triton kernels of the modal scan on split real/imaginary planes (CUDA, or CPU interpreter).

Same recurrence, VJP and plane conventions as :mod:`.reference`; the autograd wrapper is
:mod:`.torch` (it computes ``x = B u`` and the B/u gradients with torch matmuls and calls the
three entry points below). One program handles one batch row and a block of ``BLOCK_M`` modes
(masked, so any mode count works). The state is float32 (float64 if the inputs are float64).

* ``sequential``: one step at a time over t (the most accurate near ``|lambda| = 1``).
* ``chunked``: K steps at once from exact powers ``lambda^k = exp(-k exp(nu)) e^{i k theta}``
  (a K x K x BLOCK_M product-sum, no tree of products) with the state carried sequentially
  from chunk to chunk.

Kept inside the subset that runs under ``TRITON_INTERPRET=1`` (THEORY §6): no complex dtypes,
no ``tl.dot``, no libdevice, no autotune, no ``device_assert`` (every check is done in Python
before launch).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

__all__ = ["forward", "reverse", "dlam", "BLOCK_M"]

BLOCK_M = 16


@triton.jit
def _lam(nu_ptr, th_ptr, offs, mask):
    nu = tl.load(nu_ptr + offs, mask=mask, other=0.0)
    th = tl.load(th_ptr + offs, mask=mask, other=0.0)
    rate = tl.exp(nu)
    r = tl.exp(-rate)
    return rate, th, r * tl.cos(th), r * tl.sin(th)


@triton.jit
def _pow(k, rate, th):
    """lambda^k planes for a non-negative integer tensor k (broadcast against rate, th).

    ``rate`` is capped at 1e30 (``exp(-1e30)`` is 0 in any precision) so that lambda = 0
    (rate = inf) gives lambda^0 = 1 without forming 0 * inf.
    """
    kf = k.to(rate.dtype)
    mag = tl.exp(-kf * tl.minimum(rate, 1e30))
    ang = kf * th
    return mag * tl.cos(ang), mag * tl.sin(ang)


@triton.jit
def _causal_pow(lag, rate, th):
    """lambda^lag where lag >= 0, zero where lag < 0 (one chunk's causal transfer block)."""
    p_re, p_im = _pow(tl.maximum(lag, 0), rate, th)
    return tl.where(lag >= 0, p_re, 0.0), tl.where(lag >= 0, p_im, 0.0)


@triton.jit
def _chunk_rows(T_re, T_im, V_re, V_im, u_re, u_im, c_re, c_im):
    """One chunk's rows ``T u + V c``: causal block T (K, K, BLOCK), inputs u (1, K, BLOCK),
    carry powers V (K, BLOCK) and carry c (BLOCK,); complex products on split planes."""
    y_re = tl.sum(T_re * u_re - T_im * u_im, axis=1) + V_re * c_re[None, :] - V_im * c_im[None, :]
    y_im = tl.sum(T_re * u_im + T_im * u_re, axis=1) + V_re * c_im[None, :] + V_im * c_re[None, :]
    return y_re, y_im


@triton.jit
def _initial_state(h0_re, h0_im, b, M, offs, mask, like, HAS_H0: tl.constexpr):
    """Row ``b`` of the initial state planes, or zeros shaped and typed like ``like``."""
    if HAS_H0:
        h_re = tl.load(h0_re + b * M + offs, mask=mask, other=0.0)
        h_im = tl.load(h0_im + b * M + offs, mask=mask, other=0.0)
    else:
        h_re = tl.zeros_like(like)
        h_im = tl.zeros_like(like)
    return h_re, h_im


@triton.jit
def _fwd_seq(x_re, x_im, nu_ptr, th_ptr, h0_re, h0_im, o_re, o_im, L, M,
             HAS_H0: tl.constexpr, ALL: tl.constexpr, BLOCK: tl.constexpr):
    b = tl.program_id(0).to(tl.int64)
    offs = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < M
    rate, th, lr, li = _lam(nu_ptr, th_ptr, offs, mask)
    h_re, h_im = _initial_state(h0_re, h0_im, b, M, offs, mask, rate, HAS_H0)
    base = b * L * M
    for t in range(0, L):
        xr = tl.load(x_re + base + t * M + offs, mask=mask, other=0.0)
        xi = tl.load(x_im + base + t * M + offs, mask=mask, other=0.0)
        n_re = lr * h_re - li * h_im + xr
        n_im = lr * h_im + li * h_re + xi
        h_re = n_re
        h_im = n_im
        if ALL:
            tl.store(o_re + base + t * M + offs, h_re, mask=mask)
            tl.store(o_im + base + t * M + offs, h_im, mask=mask)
    if not ALL:
        tl.store(o_re + b * M + offs, h_re, mask=mask)
        tl.store(o_im + b * M + offs, h_im, mask=mask)


@triton.jit
def _fwd_chunk(x_re, x_im, nu_ptr, th_ptr, h0_re, h0_im, o_re, o_im, L, M,
               HAS_H0: tl.constexpr, ALL: tl.constexpr, BLOCK: tl.constexpr, K: tl.constexpr):
    b = tl.program_id(0).to(tl.int64)
    offs = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < M
    rate, th, lr, li = _lam(nu_ptr, th_ptr, offs, mask)
    jj = tl.arange(0, K)
    lag = jj[:, None, None] - jj[None, :, None]  # (K, K, 1): output row j, input column i
    P_re, P_im = _causal_pow(lag, rate[None, None, :], th[None, None, :])
    W_re, W_im = _pow((jj + 1)[:, None], rate[None, :], th[None, :])  # lambda^(j+1), (K, BLOCK)
    c_re, c_im = _initial_state(h0_re, h0_im, b, M, offs, mask, rate, HAS_H0)
    base = b * L * M
    for c in range(0, (L + K - 1) // K):
        t = c * K + jj
        tmask = (t < L)[:, None] & mask[None, :]
        ptrs = base + t[:, None] * M + offs[None, :]
        xr = tl.load(x_re + ptrs, mask=tmask, other=0.0)[None, :, :]
        xi = tl.load(x_im + ptrs, mask=tmask, other=0.0)[None, :, :]
        h_re, h_im = _chunk_rows(P_re, P_im, W_re, W_im, xr, xi, c_re, c_im)
        if ALL:
            tl.store(o_re + ptrs, h_re, mask=tmask)
            tl.store(o_im + ptrs, h_im, mask=tmask)
        last = tl.minimum(L - 1 - c * K, K - 1)
        sel = (jj == last)[:, None]
        c_re = tl.sum(tl.where(sel, h_re, 0.0), axis=0)
        c_im = tl.sum(tl.where(sel, h_im, 0.0), axis=0)
    if not ALL:
        tl.store(o_re + b * M + offs, c_re, mask=mask)
        tl.store(o_im + b * M + offs, c_im, mask=mask)


@triton.jit
def _rev_seq(g_re, g_im, nu_ptr, th_ptr, G_re, G_im, L, M,
             ALL: tl.constexpr, BLOCK: tl.constexpr):
    """G_t = g_t + conj(lambda) G_{t+1}; final mode: g_t = g_L at t = L - 1, else 0."""
    b = tl.program_id(0).to(tl.int64)
    offs = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < M
    rate, th, lr, li = _lam(nu_ptr, th_ptr, offs, mask)
    a_re = tl.zeros([BLOCK], dtype=rate.dtype)
    a_im = tl.zeros([BLOCK], dtype=rate.dtype)
    if not ALL:
        gT_re = tl.load(g_re + b * M + offs, mask=mask, other=0.0)
        gT_im = tl.load(g_im + b * M + offs, mask=mask, other=0.0)
    base = b * L * M
    for i in range(0, L):
        t = L - 1 - i
        if ALL:
            gr = tl.load(g_re + base + t * M + offs, mask=mask, other=0.0)
            gi = tl.load(g_im + base + t * M + offs, mask=mask, other=0.0)
        else:
            gr = tl.where(i == 0, gT_re, 0.0)
            gi = tl.where(i == 0, gT_im, 0.0)
        n_re = lr * a_re + li * a_im + gr
        n_im = lr * a_im - li * a_re + gi
        a_re = n_re
        a_im = n_im
        tl.store(G_re + base + t * M + offs, a_re, mask=mask)
        tl.store(G_im + base + t * M + offs, a_im, mask=mask)


@triton.jit
def _rev_chunk(g_re, g_im, nu_ptr, th_ptr, G_re, G_im, L, M,
               ALL: tl.constexpr, BLOCK: tl.constexpr, K: tl.constexpr):
    b = tl.program_id(0).to(tl.int64)
    offs = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < M
    rate, th, lr, li = _lam(nu_ptr, th_ptr, offs, mask)
    nth = -th
    jj = tl.arange(0, K)
    lag = jj[None, :, None] - jj[:, None, None]  # (K, K, 1): row j, column i, lag i - j
    Q_re, Q_im = _causal_pow(lag, rate[None, None, :], nth[None, None, :])
    V_re, V_im = _pow((K - jj)[:, None], rate[None, :], nth[None, :])  # conj(lambda)^(K-j)
    c_re = tl.zeros([BLOCK], dtype=rate.dtype)
    c_im = tl.zeros([BLOCK], dtype=rate.dtype)
    if not ALL:
        gT_re = tl.load(g_re + b * M + offs, mask=mask, other=0.0)
        gT_im = tl.load(g_im + b * M + offs, mask=mask, other=0.0)
    base = b * L * M
    n_chunks = (L + K - 1) // K
    for cc in range(0, n_chunks):
        c = n_chunks - 1 - cc
        t = c * K + jj
        tmask = (t < L)[:, None] & mask[None, :]
        ptrs = base + t[:, None] * M + offs[None, :]
        if ALL:
            gr = tl.load(g_re + ptrs, mask=tmask, other=0.0)
            gi = tl.load(g_im + ptrs, mask=tmask, other=0.0)
        else:
            last = (t == L - 1)[:, None]
            gr = tl.where(last, gT_re[None, :], 0.0)
            gi = tl.where(last, gT_im[None, :], 0.0)
        gr = gr[None, :, :]
        gi = gi[None, :, :]
        a_re, a_im = _chunk_rows(Q_re, Q_im, V_re, V_im, gr, gi, c_re, c_im)
        tl.store(G_re + ptrs, a_re, mask=tmask)
        tl.store(G_im + ptrs, a_im, mask=tmask)
        first = (jj == 0)[:, None]
        c_re = tl.sum(tl.where(first, a_re, 0.0), axis=0)
        c_im = tl.sum(tl.where(first, a_im, 0.0), axis=0)


@triton.jit
def _dlam_seq(x_re, x_im, G_re, G_im, nu_ptr, th_ptr, h0_re, h0_im, d_re, d_im, L, M,
              HAS_H0: tl.constexpr, BLOCK: tl.constexpr):
    """Per batch row: sum_t G_t conj(h_{t-1}), recomputing h on the fly."""
    b = tl.program_id(0).to(tl.int64)
    offs = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < M
    rate, th, lr, li = _lam(nu_ptr, th_ptr, offs, mask)
    h_re, h_im = _initial_state(h0_re, h0_im, b, M, offs, mask, rate, HAS_H0)
    acc_re = tl.zeros([BLOCK], dtype=rate.dtype)
    acc_im = tl.zeros([BLOCK], dtype=rate.dtype)
    base = b * L * M
    for t in range(0, L):
        gr = tl.load(G_re + base + t * M + offs, mask=mask, other=0.0)
        gi = tl.load(G_im + base + t * M + offs, mask=mask, other=0.0)
        acc_re += gr * h_re + gi * h_im
        acc_im += gi * h_re - gr * h_im
        xr = tl.load(x_re + base + t * M + offs, mask=mask, other=0.0)
        xi = tl.load(x_im + base + t * M + offs, mask=mask, other=0.0)
        n_re = lr * h_re - li * h_im + xr
        n_im = lr * h_im + li * h_re + xi
        h_re = n_re
        h_im = n_im
    tl.store(d_re + b * M + offs, acc_re, mask=mask)
    tl.store(d_im + b * M + offs, acc_im, mask=mask)


@triton.jit
def _dlam_chunk(x_re, x_im, G_re, G_im, nu_ptr, th_ptr, h0_re, h0_im, d_re, d_im, L, M,
                HAS_H0: tl.constexpr, BLOCK: tl.constexpr, K: tl.constexpr):
    b = tl.program_id(0).to(tl.int64)
    offs = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < M
    rate, th, lr, li = _lam(nu_ptr, th_ptr, offs, mask)
    jj = tl.arange(0, K)
    lag = jj[:, None, None] - jj[None, :, None]
    P_re, P_im = _causal_pow(lag, rate[None, None, :], th[None, None, :])
    # previous state h_{t-1} of row j: sum_{i<j} lambda^(j-1-i) x_i + lambda^j carry
    P2_re, P2_im = _pow(tl.maximum(lag - 1, 0), rate[None, None, :], th[None, None, :])
    P2_re = tl.where(lag >= 1, P2_re, 0.0)
    P2_im = tl.where(lag >= 1, P2_im, 0.0)
    W_re, W_im = _pow((jj + 1)[:, None], rate[None, :], th[None, :])
    W2_re, W2_im = _pow(jj[:, None], rate[None, :], th[None, :])
    c_re, c_im = _initial_state(h0_re, h0_im, b, M, offs, mask, rate, HAS_H0)
    acc_re = tl.zeros([BLOCK], dtype=rate.dtype)
    acc_im = tl.zeros([BLOCK], dtype=rate.dtype)
    base = b * L * M
    for c in range(0, (L + K - 1) // K):
        t = c * K + jj
        tmask = (t < L)[:, None] & mask[None, :]
        ptrs = base + t[:, None] * M + offs[None, :]
        xr = tl.load(x_re + ptrs, mask=tmask, other=0.0)[None, :, :]
        xi = tl.load(x_im + ptrs, mask=tmask, other=0.0)[None, :, :]
        gr = tl.load(G_re + ptrs, mask=tmask, other=0.0)
        gi = tl.load(G_im + ptrs, mask=tmask, other=0.0)
        p_re, p_im = _chunk_rows(P2_re, P2_im, W2_re, W2_im, xr, xi, c_re, c_im)
        acc_re += tl.sum(gr * p_re + gi * p_im, axis=0)
        acc_im += tl.sum(gi * p_re - gr * p_im, axis=0)
        h_re, h_im = _chunk_rows(P_re, P_im, W_re, W_im, xr, xi, c_re, c_im)
        last = tl.minimum(L - 1 - c * K, K - 1)
        sel = (jj == last)[:, None]
        c_re = tl.sum(tl.where(sel, h_re, 0.0), axis=0)
        c_im = tl.sum(tl.where(sel, h_im, 0.0), axis=0)
    tl.store(d_re + b * M + offs, acc_re, mask=mask)
    tl.store(d_im + b * M + offs, acc_im, mask=mask)


def _grid(batch, m):
    return (batch, triton.cdiv(m, BLOCK_M))


def forward(x_re, x_im, nu, theta, h0_re, h0_im, *, return_all, method, chunk):
    """States from planes ``x = B u`` (batch, L, m), compute dtype; see :mod:`.reference`."""
    batch, L, m = x_re.shape
    shape = (batch, L, m) if return_all else (batch, m)
    o_re = torch.empty(shape, dtype=x_re.dtype, device=x_re.device)
    o_im = torch.empty(shape, dtype=x_re.dtype, device=x_re.device)
    has_h0 = h0_re is not None
    h0r = h0_re if has_h0 else o_re
    h0i = h0_im if has_h0 else o_im
    if method == "chunked":
        _fwd_chunk[_grid(batch, m)](x_re, x_im, nu, theta, h0r, h0i, o_re, o_im, L, m,
                                    HAS_H0=has_h0, ALL=return_all, BLOCK=BLOCK_M, K=chunk)
    else:
        _fwd_seq[_grid(batch, m)](x_re, x_im, nu, theta, h0r, h0i, o_re, o_im, L, m,
                                  HAS_H0=has_h0, ALL=return_all, BLOCK=BLOCK_M)
    return o_re, o_im


def reverse(g_re, g_im, nu, theta, *, L, return_all, method, chunk):
    """Adjoint states ``G_t = g_t + conj(lambda) G_{t+1}``, (batch, L, m)."""
    batch, m = g_re.shape[0], g_re.shape[-1]
    G_re = torch.empty((batch, L, m), dtype=g_re.dtype, device=g_re.device)
    G_im = torch.empty_like(G_re)
    if method == "chunked":
        _rev_chunk[_grid(batch, m)](g_re, g_im, nu, theta, G_re, G_im, L, m,
                                    ALL=return_all, BLOCK=BLOCK_M, K=chunk)
    else:
        _rev_seq[_grid(batch, m)](g_re, g_im, nu, theta, G_re, G_im, L, m,
                                  ALL=return_all, BLOCK=BLOCK_M)
    return G_re, G_im


def dlam(x_re, x_im, G_re, G_im, nu, theta, h0_re, h0_im, *, method, chunk):
    """``sum_{batch, t} G_t conj(h_{t-1})`` as planes (m,), recomputing the states."""
    batch, L, m = x_re.shape
    d_re = torch.empty((batch, m), dtype=x_re.dtype, device=x_re.device)
    d_im = torch.empty_like(d_re)
    has_h0 = h0_re is not None
    h0r = h0_re if has_h0 else d_re
    h0i = h0_im if has_h0 else d_im
    if method == "chunked":
        _dlam_chunk[_grid(batch, m)](x_re, x_im, G_re, G_im, nu, theta, h0r, h0i, d_re, d_im,
                                     L, m, HAS_H0=has_h0, BLOCK=BLOCK_M, K=chunk)
    else:
        _dlam_seq[_grid(batch, m)](x_re, x_im, G_re, G_im, nu, theta, h0r, h0i, d_re, d_im,
                                   L, m, HAS_H0=has_h0, BLOCK=BLOCK_M)
    return d_re.sum(0), d_im.sum(0)
