"""Triton kernels of the modal scan on split real/imaginary planes (CUDA, or CPU interpreter).

Same recurrence, VJP and plane conventions as :mod:`.reference`; the autograd wrapper is
:mod:`.torch` (it computes ``x = B u`` and the B/u gradients with torch matmuls and calls the
three entry points below). Modes come in blocks of ``BLOCK_M`` (masked, so any mode count
works). The state is float32 (float64 if the inputs are float64).

The rule (``method``):

* ``"sequential"``: one program per (batch row, mode block) walks the L steps one at a time
  (the most accurate near ``|lambda| = 1``; ``batch * ceil(m / BLOCK_M)`` programs, so on a GPU
  it is latency-bound unless the batch is large).
* ``"chunked"``: **chunk-parallel** over a (batch row, mode block, chunk) grid, in three
  launches: (1) every chunk of K steps computes its zero-carry final state (a K x BLOCK
  product-sum with exact powers ``lambda^k = exp(-k exp(nu)) e^{i k theta}`` from the
  log-eigenvalue, no tree of products); (2) one program per (batch row, mode block) carries the
  state across the ``ceil(L / K)`` chunk summaries, ``c_{j+1} = lambda^K c_j + s_j`` (the final
  state is its last carry); (3) every chunk recomputes its rows with the incoming carry,
  ``h = T x + lambda^(j+1) c`` (a K x K x BLOCK product-sum), and stores them. The reverse scan
  is the same three launches on time-reversed rows with ``conj(lambda)``; ``dlambda`` reuses (1)
  and (2) for the carries and (3), on the previous states ``h_{t-1}``, to sum
  ``G_t conj(h_{t-1})`` per chunk in parallel.

The sequential ``dlambda`` is the sequential forward kernel recomputing the states (flag
``DLAM``), so each kernel is one of: ``_fwd_seq``, ``_rev_seq``, and the three chunk launches.

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
def _mul_add(w_re, w_im, a_re, a_im, x_re, x_im):
    """``w a + x`` on split planes: one step of the recurrence ``h_t = lambda h_{t-1} + x_t``."""
    return w_re * a_re - w_im * a_im + x_re, w_re * a_im + w_im * a_re + x_im


@triton.jit
def _chunk_rows(T_re, T_im, V_re, V_im, u_re, u_im, c_re, c_im):
    """One chunk's rows ``T u + V c``: causal block T (K, K, BLOCK), inputs u (1, K, BLOCK),
    carry powers V (K, BLOCK) and carry c (BLOCK,); complex products on split planes."""
    return _mul_add(V_re, V_im, c_re[None, :], c_im[None, :],
                    tl.sum(T_re * u_re - T_im * u_im, axis=1), tl.sum(T_re * u_im + T_im * u_re, axis=1))


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
def _fwd_seq(x_re, x_im, G_re, G_im, nu_ptr, th_ptr, h0_re, h0_im, o_re, o_im, L, M,
             HAS_H0: tl.constexpr, ALL: tl.constexpr, DLAM: tl.constexpr, BLOCK: tl.constexpr):
    """The states ``h_t = lambda h_{t-1} + x_t`` one step at a time, stored at every t (ALL) or
    the last. DLAM: the states are only recomputed for ``sum_t G_t conj(h_{t-1})`` (G read,
    the per-row sum stored in ``o``; ALL must be off); otherwise G is not read."""
    b = tl.program_id(0).to(tl.int64)
    offs = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < M
    rate, th, lr, li = _lam(nu_ptr, th_ptr, offs, mask)
    h_re, h_im = _initial_state(h0_re, h0_im, b, M, offs, mask, rate, HAS_H0)
    acc_re = tl.zeros([BLOCK], dtype=rate.dtype)
    acc_im = tl.zeros([BLOCK], dtype=rate.dtype)
    base = b * L * M
    for t in range(0, L):
        if DLAM:
            gr = tl.load(G_re + base + t * M + offs, mask=mask, other=0.0)
            gi = tl.load(G_im + base + t * M + offs, mask=mask, other=0.0)
            acc_re += gr * h_re + gi * h_im
            acc_im += gi * h_re - gr * h_im
        xr = tl.load(x_re + base + t * M + offs, mask=mask, other=0.0)
        xi = tl.load(x_im + base + t * M + offs, mask=mask, other=0.0)
        h_re, h_im = _mul_add(lr, li, h_re, h_im, xr, xi)
        if ALL:
            tl.store(o_re + base + t * M + offs, h_re, mask=mask)
            tl.store(o_im + base + t * M + offs, h_im, mask=mask)
    if DLAM:
        tl.store(o_re + b * M + offs, acc_re, mask=mask)
        tl.store(o_im + b * M + offs, acc_im, mask=mask)
    elif not ALL:
        tl.store(o_re + b * M + offs, h_re, mask=mask)
        tl.store(o_im + b * M + offs, h_im, mask=mask)


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
        a_re, a_im = _mul_add(lr, -li, a_re, a_im, gr, gi)  # conj(lambda) G_{t+1} + g_t
        tl.store(G_re + base + t * M + offs, a_re, mask=mask)
        tl.store(G_im + base + t * M + offs, a_im, mask=mask)


@triton.jit
def _params(nu_ptr, th_ptr, offs, mask, CONJ: tl.constexpr):
    """``exp(nu)`` and the angle of one mode block; ``conj(lambda)`` (angle -theta) if CONJ."""
    nu = tl.load(nu_ptr + offs, mask=mask, other=0.0)
    th = tl.load(th_ptr + offs, mask=mask, other=0.0)
    if CONJ:
        th = -th
    return tl.exp(nu), th


@triton.jit
def _chunk_tile(x_re, x_im, b, c, L, M, offs, mask, REV: tl.constexpr, INJECT: tl.constexpr,
                K: tl.constexpr):
    """Rows ``tau = c K + j`` (processing order; memory row ``L - 1 - tau`` if REV) of one
    chunk: the tile planes (K, BLOCK), their pointers and mask. INJECT: the rows are zero
    except ``tau = 0``, which is row ``b`` of the (batch, M) planes (a final-state cotangent)."""
    jj = tl.arange(0, K)
    tau = c * K + jj
    tmask = (tau < L)[:, None] & mask[None, :]
    if REV:
        t = L - 1 - tau
    else:
        t = tau
    ptrs = b * L * M + t[:, None] * M + offs[None, :]
    if INJECT:
        first = (tau == 0)[:, None] & mask[None, :]
        v_re = tl.load(x_re + b * M + offs[None, :] + 0 * tau[:, None], mask=first, other=0.0)
        v_im = tl.load(x_im + b * M + offs[None, :] + 0 * tau[:, None], mask=first, other=0.0)
    else:
        v_re = tl.load(x_re + ptrs, mask=tmask, other=0.0)
        v_im = tl.load(x_im + ptrs, mask=tmask, other=0.0)
    return v_re, v_im, ptrs, tmask


@triton.jit
def _par_summary(x_re, x_im, nu_ptr, th_ptr, S_re, S_im, L, M, n_chunks,
                 REV: tl.constexpr, INJECT: tl.constexpr, CONJ: tl.constexpr,
                 BLOCK: tl.constexpr, K: tl.constexpr):
    """Launch (1): zero-carry final state of chunk c, ``s_c = sum_j lambda^(last - j) x_j``."""
    b = tl.program_id(0).to(tl.int64)
    offs = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
    c = tl.program_id(2)
    mask = offs < M
    rate, th = _params(nu_ptr, th_ptr, offs, mask, CONJ)
    v_re, v_im, _, _ = _chunk_tile(x_re, x_im, b, c, L, M, offs, mask, REV, INJECT, K)
    jj = tl.arange(0, K)
    last = tl.minimum(L - 1 - c * K, K - 1)  # the chunk's last row (the last chunk may be short)
    P_re, P_im = _causal_pow((last - jj)[:, None], rate[None, :], th[None, :])
    s_re = tl.sum(P_re * v_re - P_im * v_im, axis=0)
    s_im = tl.sum(P_re * v_im + P_im * v_re, axis=0)
    out = (b * n_chunks + c) * M + offs
    tl.store(S_re + out, s_re, mask=mask)
    tl.store(S_im + out, s_im, mask=mask)


@triton.jit
def _par_carry(S_re, S_im, nu_ptr, th_ptr, h0_re, h0_im, C_re, C_im, F_re, F_im, L, M, n_chunks,
               HAS_H0: tl.constexpr, CONJ: tl.constexpr, BLOCK: tl.constexpr, K: tl.constexpr):
    """Launch (2): the carry into every chunk, ``c_{j+1} = lambda^(steps_j) c_j + s_j``
    (``c_0 = h_0``), and the final state ``F``; one program per (batch row, mode block)."""
    b = tl.program_id(0).to(tl.int64)
    offs = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < M
    rate, th = _params(nu_ptr, th_ptr, offs, mask, CONJ)
    c_re, c_im = _initial_state(h0_re, h0_im, b, M, offs, mask, rate, HAS_H0)
    for c in range(0, n_chunks):
        at = (b * n_chunks + c) * M + offs
        tl.store(C_re + at, c_re, mask=mask)
        tl.store(C_im + at, c_im, mask=mask)
        steps = tl.minimum(L - c * K, K)
        w_re, w_im = _pow(steps + 0 * offs, rate, th)
        s_re = tl.load(S_re + at, mask=mask, other=0.0)
        s_im = tl.load(S_im + at, mask=mask, other=0.0)
        c_re, c_im = _mul_add(w_re, w_im, c_re, c_im, s_re, s_im)
    tl.store(F_re + b * M + offs, c_re, mask=mask)
    tl.store(F_im + b * M + offs, c_im, mask=mask)


@triton.jit
def _par_rows(x_re, x_im, G_re, G_im, nu_ptr, th_ptr, C_re, C_im, o_re, o_im, L, M, n_chunks,
              REV: tl.constexpr, INJECT: tl.constexpr, CONJ: tl.constexpr, DLAM: tl.constexpr,
              BLOCK: tl.constexpr, K: tl.constexpr):
    """Launch (3): the rows of chunk c with its carry, ``h_j = sum_i lambda^(j-i) x_i +
    lambda^(j+1) c``, stored at their memory rows. DLAM: the previous states ``h_{j-1}``
    instead (``h_{-1} = c``), only for the chunk's ``sum_j G_j conj(h_{j-1})``, stored at the
    chunk's carry slot of ``o``; otherwise G is not read."""
    b = tl.program_id(0).to(tl.int64)
    offs = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
    c = tl.program_id(2)
    mask = offs < M
    rate, th = _params(nu_ptr, th_ptr, offs, mask, CONJ)
    v_re, v_im, ptrs, tmask = _chunk_tile(x_re, x_im, b, c, L, M, offs, mask, REV, INJECT, K)
    jj = tl.arange(0, K)
    if DLAM:
        row = jj - 1  # dlambda pairs G_j with the state before step j
    else:
        row = jj
    lag = row[:, None, None] - jj[None, :, None]  # (K, K, 1): output row, input column i
    T_re, T_im = _causal_pow(lag, rate[None, None, :], th[None, None, :])
    W_re, W_im = _pow((row + 1)[:, None], rate[None, :], th[None, :])  # lambda^(row+1), (K, BLOCK)
    at = (b * n_chunks + c) * M + offs
    c_re = tl.load(C_re + at, mask=mask, other=0.0)
    c_im = tl.load(C_im + at, mask=mask, other=0.0)
    h_re, h_im = _chunk_rows(T_re, T_im, W_re, W_im, v_re[None, :, :], v_im[None, :, :], c_re,
                             c_im)
    if DLAM:
        gr = tl.load(G_re + ptrs, mask=tmask, other=0.0)
        gi = tl.load(G_im + ptrs, mask=tmask, other=0.0)
        tl.store(o_re + at, tl.sum(gr * h_re + gi * h_im, axis=0), mask=mask)
        tl.store(o_im + at, tl.sum(gi * h_re - gr * h_im, axis=0), mask=mask)
    else:
        tl.store(o_re + ptrs, h_re, mask=tmask)
        tl.store(o_im + ptrs, h_im, mask=tmask)


def _grid(batch, m, n_chunks=None):
    g = (batch, triton.cdiv(m, BLOCK_M))
    return g if n_chunks is None else g + (n_chunks,)


def _carries(x_re, x_im, nu, theta, h0_re, h0_im, *, L, K, rev=False, inject=False,
             conj=False):
    """Launches (1) and (2): carries (batch, n_chunks, m) and final state (batch, m) planes."""
    batch, m = x_re.shape[0], x_re.shape[-1]
    n_chunks = triton.cdiv(L, K)
    new = lambda *shape: torch.empty(shape, dtype=x_re.dtype, device=x_re.device)  # noqa: E731
    S_re, S_im = new(batch, n_chunks, m), new(batch, n_chunks, m)
    _par_summary[_grid(batch, m, n_chunks)](x_re, x_im, nu, theta, S_re, S_im, L, m, n_chunks,
                                            REV=rev, INJECT=inject, CONJ=conj, BLOCK=BLOCK_M,
                                            K=K)
    C_re, C_im = new(batch, n_chunks, m), new(batch, n_chunks, m)
    F_re, F_im = new(batch, m), new(batch, m)
    has_h0 = h0_re is not None
    _par_carry[_grid(batch, m)](S_re, S_im, nu, theta, h0_re if has_h0 else F_re,
                                h0_im if has_h0 else F_im, C_re, C_im, F_re, F_im, L, m,
                                n_chunks, HAS_H0=has_h0, CONJ=conj, BLOCK=BLOCK_M, K=K)
    return (C_re, C_im), (F_re, F_im)


def forward(x_re, x_im, nu, theta, h0_re, h0_im, *, return_all, method, chunk):
    """States from planes ``x = B u`` (batch, L, m), compute dtype; see :mod:`.reference`."""
    batch, L, m = x_re.shape
    if method == "chunked":
        (C_re, C_im), final = _carries(x_re, x_im, nu, theta, h0_re, h0_im, L=L, K=chunk)
        if not return_all:
            return final
        o_re, o_im = torch.empty_like(x_re), torch.empty_like(x_im)
        _par_rows[_grid(batch, m, C_re.shape[1])](x_re, x_im, x_re, x_im, nu, theta, C_re, C_im,
                                                  o_re, o_im, L, m, C_re.shape[1], REV=False,
                                                  INJECT=False, CONJ=False, DLAM=False,
                                                  BLOCK=BLOCK_M, K=chunk)
        return o_re, o_im
    shape = (batch, L, m) if return_all else (batch, m)
    o_re = torch.empty(shape, dtype=x_re.dtype, device=x_re.device)
    o_im = torch.empty(shape, dtype=x_re.dtype, device=x_re.device)
    has_h0 = h0_re is not None
    h0r = h0_re if has_h0 else o_re
    h0i = h0_im if has_h0 else o_im
    _fwd_seq[_grid(batch, m)](x_re, x_im, x_re, x_im, nu, theta, h0r, h0i, o_re, o_im, L, m,
                              HAS_H0=has_h0, ALL=return_all, DLAM=False, BLOCK=BLOCK_M)
    return o_re, o_im


def reverse(g_re, g_im, nu, theta, *, L, return_all, method, chunk):
    """Adjoint states ``G_t = g_t + conj(lambda) G_{t+1}``, (batch, L, m)."""
    batch, m = g_re.shape[0], g_re.shape[-1]
    G_re = torch.empty((batch, L, m), dtype=g_re.dtype, device=g_re.device)
    G_im = torch.empty_like(G_re)
    if method == "chunked":
        inject = not return_all
        (C_re, C_im), _ = _carries(g_re, g_im, nu, theta, None, None, L=L, K=chunk, rev=True,
                                   inject=inject, conj=True)
        _par_rows[_grid(batch, m, C_re.shape[1])](g_re, g_im, g_re, g_im, nu, theta, C_re, C_im,
                                                  G_re, G_im, L, m, C_re.shape[1], REV=True,
                                                  INJECT=inject, CONJ=True, DLAM=False,
                                                  BLOCK=BLOCK_M, K=chunk)
    else:
        _rev_seq[_grid(batch, m)](g_re, g_im, nu, theta, G_re, G_im, L, m,
                                  ALL=return_all, BLOCK=BLOCK_M)
    return G_re, G_im


def dlam(x_re, x_im, G_re, G_im, nu, theta, h0_re, h0_im, *, method, chunk):
    """``sum_{batch, t} G_t conj(h_{t-1})`` as planes (m,), recomputing the states."""
    batch, L, m = x_re.shape
    if method == "chunked":
        (C_re, C_im), _ = _carries(x_re, x_im, nu, theta, h0_re, h0_im, L=L, K=chunk)
        D_re, D_im = torch.empty_like(C_re), torch.empty_like(C_im)
        _par_rows[_grid(batch, m, C_re.shape[1])](x_re, x_im, G_re, G_im, nu, theta, C_re, C_im,
                                                  D_re, D_im, L, m, C_re.shape[1], REV=False,
                                                  INJECT=False, CONJ=False, DLAM=True,
                                                  BLOCK=BLOCK_M, K=chunk)
        return D_re.sum((0, 1)), D_im.sum((0, 1))
    d_re = torch.empty((batch, m), dtype=x_re.dtype, device=x_re.device)
    d_im = torch.empty_like(d_re)
    has_h0 = h0_re is not None
    h0r = h0_re if has_h0 else d_re
    h0i = h0_im if has_h0 else d_im
    _fwd_seq[_grid(batch, m)](x_re, x_im, G_re, G_im, nu, theta, h0r, h0i, d_re, d_im, L, m,
                              HAS_H0=has_h0, ALL=False, DLAM=True, BLOCK=BLOCK_M)
    return d_re.sum(0), d_im.sum(0)
