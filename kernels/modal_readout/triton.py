"""Triton kernels of the modal readout on split planes (CUDA, or the CPU interpreter).

Formulas as in :mod:`.reference`. Three kernels serve both mixes: ``_fwd`` (``y = w Z``),
``_bwd_w`` (the gradient of the mix weights, through the softmax when there is one) and
``_bwd_z`` (``gZ = w^T gy``), with ``w`` the raw mix (linear) or ``softmax(S)`` and ``Z`` one
plane of H, or ``Re(g H)`` when a per-mode gain is given. The softmax over modes is computed
in blocks of ``BLOCK_M`` modes (masked, so any mode count works): a first pass finds each
query's log-sum-exp (saved for the backward), a second pass mixes. No ``tl.dot``
(broadcast-and-sum instead), so the kernels stay inside the interpreter's subset (THEORY §6).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

__all__ = ["mix_forward", "mix_backward_w", "mix_backward_z", "BLOCK_N", "BLOCK_M", "BLOCK_O"]

BLOCK_N = 16
BLOCK_M = 16
BLOCK_O = 16


@triton.jit
def _lse(l_ptr, row_base, rn, nmask, M, F64: tl.constexpr, BLOCK_N: tl.constexpr,
         BLOCK_M: tl.constexpr):
    """Per query row: max and log-sum-exp of the logits over all M modes (two passes), in
    float64 for float64 logits, else in float32."""
    if F64:
        mx = tl.full([BLOCK_N], float("-inf"), dtype=tl.float64)
    else:
        mx = tl.full([BLOCK_N], float("-inf"), dtype=tl.float32)
    for m0 in range(0, M, BLOCK_M):
        rm = m0 + tl.arange(0, BLOCK_M)
        msk = nmask[:, None] & (rm < M)[None, :]
        lg = tl.load(l_ptr + row_base + rn[:, None] * M + rm[None, :], mask=msk,
                     other=float("-inf")).to(mx.dtype)
        mx = tl.maximum(mx, tl.max(lg, axis=1))
    mx = tl.where(nmask, mx, 0.0)
    s = tl.zeros_like(mx)
    for m0 in range(0, M, BLOCK_M):
        rm = m0 + tl.arange(0, BLOCK_M)
        msk = nmask[:, None] & (rm < M)[None, :]
        lg = tl.load(l_ptr + row_base + rn[:, None] * M + rm[None, :], mask=msk,
                     other=float("-inf")).to(mx.dtype)
        s += tl.sum(tl.exp(lg - mx[:, None]), axis=1)
    return mx + tl.log(tl.where(nmask, s, 1.0))


@triton.jit
def _weights(l_ptr, row_base, rn, rm, msk, lse, M, SOFTMAX: tl.constexpr, F64: tl.constexpr):
    if SOFTMAX:
        if F64:
            lg = tl.load(l_ptr + row_base + rn[:, None] * M + rm[None, :], mask=msk,
                         other=float("-inf"))
            a = tl.exp(lg - lse[:, None].to(tl.float64))
        else:
            lg = tl.load(l_ptr + row_base + rn[:, None] * M + rm[None, :], mask=msk,
                         other=float("-inf")).to(tl.float32)
            a = tl.exp(lg - lse[:, None])
        a = tl.where(msk, a, 0.0)
    else:
        a = tl.load(l_ptr + row_base + rn[:, None] * M + rm[None, :], mask=msk, other=0.0)
    return a


@triton.jit
def _z(za, zb, g_re, g_im, b, rm, ro, M, O, HAS_G: tl.constexpr):
    """Z tile (BLOCK_M, BLOCK_O): ``za`` (a plane of H), or g_re za - g_im zb with a gain."""
    mm = rm < M
    msk = mm[:, None] & (ro < O)[None, :]
    ptrs = b * M * O + rm[:, None] * O + ro[None, :]
    z = tl.load(za + ptrs, mask=msk, other=0.0)
    if HAS_G:
        zi = tl.load(zb + ptrs, mask=msk, other=0.0)
        gr = tl.load(g_re + rm, mask=mm, other=0.0)
        gi = tl.load(g_im + rm, mask=mm, other=0.0)
        z = gr[:, None] * z - gi[:, None] * zi
    return z


@triton.jit
def _fwd(za, zb, g_re, g_im, l_ptr, y_ptr, lse_ptr, N, M, O,
         SOFTMAX: tl.constexpr, HAS_G: tl.constexpr, F64: tl.constexpr, BLOCK_N: tl.constexpr,
         BLOCK_M: tl.constexpr, BLOCK_O: tl.constexpr):
    b = tl.program_id(0).to(tl.int64)
    rn = tl.program_id(1) * BLOCK_N + tl.arange(0, BLOCK_N)
    ro = tl.program_id(2) * BLOCK_O + tl.arange(0, BLOCK_O)
    nmask = rn < N
    row_base = b * N * M
    if SOFTMAX:
        lse = _lse(l_ptr, row_base, rn, nmask, M, F64, BLOCK_N, BLOCK_M)
        if tl.program_id(2) == 0:
            tl.store(lse_ptr + b * N + rn, lse, mask=nmask)
    else:
        lse = tl.zeros([BLOCK_N], dtype=tl.float32)
    if F64:
        acc = tl.zeros([BLOCK_N, BLOCK_O], dtype=tl.float64)
    else:
        acc = tl.zeros([BLOCK_N, BLOCK_O], dtype=tl.float32)
    for m0 in range(0, M, BLOCK_M):
        rm = m0 + tl.arange(0, BLOCK_M)
        msk = nmask[:, None] & (rm < M)[None, :]
        a = _weights(l_ptr, row_base, rn, rm, msk, lse, M, SOFTMAX, F64)
        z = _z(za, zb, g_re, g_im, b, rm, ro, M, O, HAS_G)
        acc += tl.sum(a[:, :, None] * z[None, :, :], axis=1)
    tl.store(y_ptr + b * N * O + rn[:, None] * O + ro[None, :], acc,
             mask=nmask[:, None] & (ro < O)[None, :])


@triton.jit
def _weights_and_grad(za, zb, g_re, g_im, l_ptr, gy_ptr, b, row_base, rn, rm, nmask, msk, lse,
                      N, M, O, SOFTMAX: tl.constexpr, HAS_G: tl.constexpr, F64: tl.constexpr,
                      BLOCK_O: tl.constexpr):
    """Weight tile ``a`` (BLOCK_N, BLOCK_M) and its cotangent ``ga = gy Z^T`` over all outputs."""
    a = _weights(l_ptr, row_base, rn, rm, msk, lse, M, SOFTMAX, F64)
    ga = tl.zeros_like(a)
    for o0 in range(0, O, BLOCK_O):
        ro = o0 + tl.arange(0, BLOCK_O)
        z = _z(za, zb, g_re, g_im, b, rm, ro, M, O, HAS_G)
        gy = tl.load(gy_ptr + b * N * O + rn[:, None] * O + ro[None, :],
                     mask=nmask[:, None] & (ro < O)[None, :], other=0.0)
        ga += tl.sum(gy[:, None, :] * z[None, :, :], axis=2)
    return a, ga


@triton.jit
def _bwd_w(za, zb, g_re, g_im, l_ptr, gy_ptr, lse_ptr, dl_ptr, N, M, O,
           SOFTMAX: tl.constexpr, HAS_G: tl.constexpr, F64: tl.constexpr, BLOCK_N: tl.constexpr,
           BLOCK_M: tl.constexpr, BLOCK_O: tl.constexpr):
    """dw = a (ga - sum_i a ga) (softmax) or ga (linear), with ga = gy Z^T."""
    b = tl.program_id(0).to(tl.int64)
    rn = tl.program_id(1) * BLOCK_N + tl.arange(0, BLOCK_N)
    nmask = rn < N
    row_base = b * N * M
    if SOFTMAX:
        lse = tl.load(lse_ptr + b * N + rn, mask=nmask, other=0.0)
    else:
        lse = tl.zeros([BLOCK_N], dtype=tl.float32)
    if F64:
        dot = tl.zeros([BLOCK_N], dtype=tl.float64)
    else:
        dot = tl.zeros([BLOCK_N], dtype=tl.float32)
    if SOFTMAX:
        for m0 in range(0, M, BLOCK_M):
            rm = m0 + tl.arange(0, BLOCK_M)
            msk = nmask[:, None] & (rm < M)[None, :]
            a, ga = _weights_and_grad(za, zb, g_re, g_im, l_ptr, gy_ptr, b, row_base, rn, rm,
                                      nmask, msk, lse, N, M, O, SOFTMAX, HAS_G, F64, BLOCK_O)
            dot += tl.sum(a * ga, axis=1)
    for m0 in range(0, M, BLOCK_M):
        rm = m0 + tl.arange(0, BLOCK_M)
        msk = nmask[:, None] & (rm < M)[None, :]
        a, ga = _weights_and_grad(za, zb, g_re, g_im, l_ptr, gy_ptr, b, row_base, rn, rm, nmask,
                                  msk, lse, N, M, O, SOFTMAX, HAS_G, F64, BLOCK_O)
        if SOFTMAX:
            dl = a * (ga - dot[:, None])
        else:
            dl = ga
        tl.store(dl_ptr + row_base + rn[:, None] * M + rm[None, :], dl, mask=msk)


@triton.jit
def _bwd_z(l_ptr, gy_ptr, lse_ptr, gz_ptr, N, M, O,
           SOFTMAX: tl.constexpr, F64: tl.constexpr, BLOCK_N: tl.constexpr,
           BLOCK_M: tl.constexpr, BLOCK_O: tl.constexpr):
    """gZ[b, i, o] = sum_n w[b, n, i] gy[b, n, o]."""
    b = tl.program_id(0).to(tl.int64)
    rm = tl.program_id(1) * BLOCK_M + tl.arange(0, BLOCK_M)
    ro = tl.program_id(2) * BLOCK_O + tl.arange(0, BLOCK_O)
    if F64:
        acc = tl.zeros([BLOCK_M, BLOCK_O], dtype=tl.float64)
    else:
        acc = tl.zeros([BLOCK_M, BLOCK_O], dtype=tl.float32)
    for n0 in range(0, N, BLOCK_N):
        rn = n0 + tl.arange(0, BLOCK_N)
        nmask = rn < N
        if SOFTMAX:
            lse = tl.load(lse_ptr + b * N + rn, mask=nmask, other=0.0)
        else:
            lse = tl.zeros([BLOCK_N], dtype=tl.float32)
        msk = nmask[:, None] & (rm < M)[None, :]
        a = _weights(l_ptr, b * N * M, rn, rm, msk, lse, M, SOFTMAX, F64)  # (BN, BM)
        gy = tl.load(gy_ptr + b * N * O + rn[:, None] * O + ro[None, :],
                     mask=nmask[:, None] & (ro < O)[None, :], other=0.0)  # (BN, BO)
        acc += tl.sum(a[:, :, None] * gy[:, None, :], axis=0)
    tl.store(gz_ptr + b * M * O + rm[:, None] * O + ro[None, :], acc,
             mask=(rm < M)[:, None] & (ro < O)[None, :])


def _kw(dtype, mix, has_g):
    return dict(SOFTMAX=mix == "softmax", F64=dtype == torch.float64, BLOCK_N=BLOCK_N,
                BLOCK_M=BLOCK_M, BLOCK_O=BLOCK_O, HAS_G=has_g)


def mix_forward(w, za, zb=None, g_re=None, g_im=None, *, mix):
    """``y = w' Z`` (batch, Q, d_v) with w' = w or softmax(w), and the log-sum-exp (batch, Q)."""
    batch, n, m = w.shape
    d_v = za.shape[2]
    y = torch.empty((batch, n, d_v), dtype=za.dtype, device=za.device)
    lse = torch.zeros((batch, n), dtype=za.dtype, device=za.device)
    has_g = g_re is not None
    grid = (batch, triton.cdiv(n, BLOCK_N), triton.cdiv(d_v, BLOCK_O))
    _fwd[grid](za, zb if has_g else za, g_re if has_g else za, g_im if has_g else za, w, y, lse,
               n, m, d_v, **_kw(za.dtype, mix, has_g))
    return y, lse


def mix_backward_w(w, za, zb, g_re, g_im, gy, lse, *, mix):
    """Gradient of the mix weights (through the softmax for ``mix="softmax"``), (batch, Q, m)."""
    batch, n, m = w.shape
    d_v = za.shape[2]
    has_g = g_re is not None
    dw = torch.empty_like(w)
    _bwd_w[(batch, triton.cdiv(n, BLOCK_N))](
        za, zb if has_g else za, g_re if has_g else za, g_im if has_g else za, w, gy, lse, dw,
        n, m, d_v, **_kw(za.dtype, mix, has_g))
    return dw


def mix_backward_z(w, gy, lse, *, mix):
    """``gZ = w'^T gy`` (batch, m, d_v)."""
    batch, n, m = w.shape
    d_v = gy.shape[2]
    gz = torch.empty((batch, m, d_v), dtype=gy.dtype, device=gy.device)
    kw = _kw(gy.dtype, mix, False)
    kw.pop("HAS_G")
    _bwd_z[(batch, triton.cdiv(m, BLOCK_M), triton.cdiv(d_v, BLOCK_O))](w, gy, lse, gz, n, m, d_v,
                                                                         **kw)
    return gz
