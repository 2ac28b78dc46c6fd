"""The final-state encode in JAX: chunked contractions with a ``jax.custom_vjp``.

Same formulas, planes and VJP as :mod:`.reference` and the same blocking as :mod:`.torch`
(powers from the log-eigenvalue, two matmuls per block of ``chunk`` tokens, the blocks walked
by one ``lax.scan`` so that the compiled program does not grow with N; the backward
recomputes each block's powers). The powers and the sums are float64 when x64 is enabled
(``jax.config.update("jax_enable_x64", True)``, or ``with jax.enable_x64(True)``), whatever the
input dtype; without x64 they are float32, and the error model's power terms
``u (8 + 2 e exp(nu) + e |theta|)`` then grow with the exponent like the scan's. Matmuls run at
``precision="highest"`` (no TF32/bf16 passes on accelerators).

jit-, vmap- and grad-compatible. ``cu_seqlens`` must be concrete (its values define the
layout); under ``jax.jit`` only shapes and dtypes of the other arguments are validated.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from .._common import packed_layout
from ._spec import auto_chunk, validate_encode

__all__ = ["modal_encode"]

_HI = jax.lax.Precision.HIGHEST


def _pd():
    return jnp.float64 if jax.config.read("jax_enable_x64") else jnp.float32


def _mm(a, b):
    return jnp.matmul(a, b, precision=_HI)


def _power(e, rate, theta):
    mag = jnp.where(e == 0, 1.0, jnp.exp(-e * rate))
    ang = e * theta
    return mag * jnp.cos(ang), mag * jnp.sin(ang)


def _layout(v, b_re, b_im, mk, K, pd):
    """Blocks of K tokens stacked on a leading axis (the padding has weight 0, exponent 0).

    Returns exponents ``e`` and weights ``w`` (C, rows, K), the token counts ``n`` (rows,),
    values (C, batch, K, d_v) and gains (C, batch, K, m) per token or (m,) per mode.
    """
    batch, N, _ = v.shape
    C = -(-N // K)
    pad = C * K - N
    if mk is None:
        e = jnp.arange(N - 1, -1, -1, dtype=pd)[None]
        w, n = jnp.ones((1, N), pd), jnp.asarray([N], pd)
    else:
        n = mk.sum(1)
        e, w = n[:, None] - jnp.cumsum(mk, 1), mk
    blocks = lambda x: jnp.moveaxis(  # noqa: E731
        jnp.pad(x, [(0, 0), (0, pad)] + [(0, 0)] * (x.ndim - 2)).reshape(
            (x.shape[0], C, K) + x.shape[2:]), 1, 0)
    gains = (blocks(b_re), blocks(b_im)) if b_re.ndim == 3 else (b_re, b_im)
    return blocks(e), blocks(w), n, blocks(v), gains


def _block(e, w, rate, th, br, bi, pd):
    """Weighted powers and P = w b lambda^e of one block, (rows, K, m)."""
    L_re, L_im = _power(e[:, :, None], rate, th)
    L_re, L_im = L_re * w[:, :, None], L_im * w[:, :, None]
    br, bi = br.astype(pd), bi.astype(pd)
    return L_re, L_im, br * L_re - bi * L_im, br * L_im + bi * L_re


@partial(jax.custom_vjp, nondiff_argnums=(8, 9))
def _encode(v, nu, theta, b_re, b_im, h0_re, h0_im, mk, K, out):
    pd = _pd()
    rate, th = jnp.exp(nu.astype(pd)), theta.astype(pd)
    e, w, n, vb, (gr, gi) = _layout(v, b_re, b_im, mk, K, pd)
    per_token = b_re.ndim == 3

    def body(H, xs):
        ec, wc, vc = xs[:3]
        br, bi = xs[3:] if per_token else (gr, gi)
        _, _, P_re, P_im = _block(ec, wc, rate, th, br, bi, pd)
        vc = vc.astype(pd)
        return (H[0] + _mm(jnp.swapaxes(P_re, 1, 2), vc),
                H[1] + _mm(jnp.swapaxes(P_im, 1, 2), vc)), None

    zero = jnp.zeros((v.shape[0], nu.shape[0], v.shape[2]), pd)
    xs = (e, w, vb) + ((gr, gi) if per_token else ())
    (H_re, H_im), _ = jax.lax.scan(body, (zero, zero), xs)
    Ln_re, Ln_im = _power(n[:, None], rate, th)
    Ln_re, Ln_im = Ln_re[:, :, None], Ln_im[:, :, None]
    hr, hi = h0_re.astype(pd), h0_im.astype(pd)
    H_re = H_re + Ln_re * hr - Ln_im * hi
    H_im = H_im + Ln_re * hi + Ln_im * hr
    return H_re.astype(out), H_im.astype(out)


def _encode_fwd(v, nu, theta, b_re, b_im, h0_re, h0_im, mk, K, out):
    return (_encode(v, nu, theta, b_re, b_im, h0_re, h0_im, mk, K, out),
            (v, nu, theta, b_re, b_im, h0_re, h0_im, mk))


def _encode_bwd(K, out, res, cot):
    v, nu, theta, b_re, b_im, h0_re, h0_im, mk = res
    pd = _pd()
    batch, N, d_v = v.shape
    m = nu.shape[0]
    per_token = b_re.ndim == 3
    rate, th = jnp.exp(nu.astype(pd)), theta.astype(pd)
    e, w, n, vb, (gr, gi) = _layout(v, b_re, b_im, mk, K, pd)
    Gr, Gi = cot[0].astype(pd), cot[1].astype(pd)

    def body(carry, xs):
        sig_re, sig_im, dbr_sum, dbi_sum = carry
        ec, wc, vc = xs[:3]
        br, bi = xs[3:] if per_token else (gr, gi)
        L_re, L_im, P_re, P_im = _block(ec, wc, rate, th, br, bi, pd)
        vc = vc.astype(pd)
        dv = _mm(P_re, Gr) + _mm(P_im, Gi)
        W_re = _mm(vc, jnp.swapaxes(Gr, 1, 2))  # gradient of P: W = V G^T, (b, K, m)
        W_im = _mm(vc, jnp.swapaxes(Gi, 1, 2))
        if not per_token and P_re.shape[0] == 1:  # P shared by the batch: sum W first
            W_re, W_im = W_re.sum(0, keepdims=True), W_im.sum(0, keepdims=True)
        t_re, t_im = L_re * W_re + L_im * W_im, L_re * W_im - L_im * W_re  # conj(lambda^e) W
        ee = ec[:, :, None]
        sig_re = sig_re + (ee * (P_re * W_re + P_im * W_im)).sum((0, 1))
        sig_im = sig_im + (ee * (P_re * W_im - P_im * W_re)).sum((0, 1))
        if per_token:
            return (sig_re, sig_im, dbr_sum, dbi_sum), (dv, t_re, t_im)
        return (sig_re, sig_im, dbr_sum + t_re.sum((0, 1)), dbi_sum + t_im.sum((0, 1))), (dv,)

    zm = jnp.zeros(m, pd)
    xs = (e, w, vb) + ((gr, gi) if per_token else ())
    (sig_re, sig_im, dbr, dbi), ys = jax.lax.scan(body, (zm, zm, zm, zm), xs)
    unblock = lambda y: jnp.moveaxis(y, 0, 1).reshape((y.shape[1], -1) + y.shape[3:])[:, :N]  # noqa: E731
    dv = unblock(ys[0])
    if per_token:
        dbr, dbi = unblock(ys[1]), unblock(ys[2])
    Ln_re, Ln_im = _power(n[:, None], rate, th)
    hr, hi = h0_re.astype(pd), h0_im.astype(pd)
    q_re = (Gr * hr + Gi * hi).sum(2)  # sum_d G conj(H0)
    q_im = (Gi * hr - Gr * hi).sum(2)
    cnt = n[:, None]
    sig_re = sig_re + (cnt * (Ln_re * q_re + Ln_im * q_im)).sum(0)
    sig_im = sig_im + (cnt * (Ln_re * q_im - Ln_im * q_re)).sum(0)
    Ln_re, Ln_im = Ln_re[:, :, None], Ln_im[:, :, None]
    dh0_re, dh0_im = Ln_re * Gr + Ln_im * Gi, Ln_re * Gi - Ln_im * Gr
    dnu = jnp.where(jnp.exp(-rate) == 0, 0.0, -rate * sig_re)
    grads = (dv, dnu, sig_im, dbr, dbi, dh0_re, dh0_im)
    grads = tuple(g.astype(x.dtype) for g, x in zip(grads, res[:7], strict=True))
    return grads + (None if mk is None else jnp.zeros_like(mk),)


_encode.defvjp(_encode_fwd, _encode_bwd)
_encode_jit = jax.jit(_encode, static_argnums=(8, 9))


@jax.jit
def _pack(x, index, weight):
    """Packed (1, total, k) -> right-padded (n_seq, max_len, k), zeros in the padding."""
    return x[0][index] * weight[..., None].astype(x.dtype)


def modal_encode(v, nu, theta, b_re, b_im, h0_re=None, h0_im=None, *, mask=None, cu_seqlens=None,
                 chunk=None):
    """Final-state encode on JAX arrays; arguments and results as in the torch version
    (:func:`mccc_kernels.modal_encode.torch.modal_encode`), without ``accumulate``.

    Returns ``(H_re, H_im)`` (batch, m, d_v), float64 if any input is float64 (x64 mode), else
    float32. Differentiable in ``v``, ``nu``, ``theta``, ``b_re``, ``b_im``, ``h0_re``,
    ``h0_im``.
    """
    spec = validate_encode(v, nu, theta, b_re, b_im, h0_re, h0_im, mask=mask,
                           cu_seqlens=cu_seqlens, chunk=chunk)
    pd = _pd()
    mk = None if mask is None else jnp.asarray(mask).astype(pd)
    if spec.cu is not None:
        index, valid, _ = packed_layout(spec.cu)
        mk = jnp.asarray(valid, pd)
        v = _pack(v, index, mk)
        if spec.per_token:
            b_re, b_im = _pack(b_re, index, mk), _pack(b_im, index, mk)
    batch, N = v.shape[0], v.shape[1]
    out = jnp.float64 if spec.compute == "float64" else jnp.float32
    if h0_re is None:
        h0_re = jnp.zeros((batch, spec.m, spec.d_v), out)
        h0_im = jnp.zeros_like(h0_re)
    rows = batch if (spec.per_token or mk is not None) else 1
    K = chunk or auto_chunk(N, rows, spec.m)
    return _encode_jit(v, nu, theta, b_re, b_im, h0_re, h0_im, mk, int(K), np.dtype(out).name)
