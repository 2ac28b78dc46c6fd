"""The final-state encode in JAX: chunked contractions with a ``jax.custom_vjp``.

Same formulas, planes and VJP as :mod:`.reference` and the same blocking as :mod:`.torch`
(powers from the log-eigenvalue, two matmuls per block of ``chunk`` tokens; the backward
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


def _exponents(N, mk, pd):
    if mk is None:
        return jnp.arange(N - 1, -1, -1, dtype=pd)[None], jnp.asarray([N], pd)
    n = mk.sum(1)
    return n[:, None] - jnp.cumsum(mk, 1), n


def _gains(b_re, b_im, t0, t1, pd):
    if b_re.ndim == 3:
        return b_re[:, t0:t1].astype(pd), b_im[:, t0:t1].astype(pd)
    return b_re.astype(pd), b_im.astype(pd)


def _block(e, rate, th, b_re, b_im, mk, t0, t1, pd):
    L_re, L_im = _power(e[:, t0:t1, None], rate, th)
    if mk is not None:
        L_re, L_im = L_re * mk[:, t0:t1, None], L_im * mk[:, t0:t1, None]
    br, bi = _gains(b_re, b_im, t0, t1, pd)
    return L_re, L_im, br * L_re - bi * L_im, br * L_im + bi * L_re


@partial(jax.custom_vjp, nondiff_argnums=(8, 9))
def _encode(v, nu, theta, b_re, b_im, h0_re, h0_im, mk, K, out):
    pd = _pd()
    batch, N, d_v = v.shape
    rate, th = jnp.exp(nu.astype(pd)), theta.astype(pd)
    e, n = _exponents(N, mk, pd)
    H_re = jnp.zeros((batch, nu.shape[0], d_v), pd)
    H_im = jnp.zeros_like(H_re)
    for t0 in range(0, N, K):
        _, _, P_re, P_im = _block(e, rate, th, b_re, b_im, mk, t0, t0 + K, pd)
        vc = v[:, t0:t0 + K].astype(pd)
        H_re = H_re + _mm(jnp.swapaxes(P_re, 1, 2), vc)
        H_im = H_im + _mm(jnp.swapaxes(P_im, 1, 2), vc)
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
    per_token = b_re.ndim == 3
    rate, th = jnp.exp(nu.astype(pd)), theta.astype(pd)
    e, n = _exponents(N, mk, pd)
    Gr, Gi = cot[0].astype(pd), cot[1].astype(pd)
    dv, db_re, db_im = [], [], []
    sig_re = sig_im = 0.0
    for t0 in range(0, N, K):
        L_re, L_im, P_re, P_im = _block(e, rate, th, b_re, b_im, mk, t0, t0 + K, pd)
        vc = v[:, t0:t0 + K].astype(pd)
        dv.append(_mm(P_re, Gr) + _mm(P_im, Gi))
        W_re = _mm(vc, jnp.swapaxes(Gr, 1, 2))  # gradient of P: W = V G^T, (b, K, m)
        W_im = _mm(vc, jnp.swapaxes(Gi, 1, 2))
        if not per_token and P_re.shape[0] == 1:  # P shared by the batch: sum W first
            W_re, W_im = W_re.sum(0, keepdims=True), W_im.sum(0, keepdims=True)
        t_re, t_im = L_re * W_re + L_im * W_im, L_re * W_im - L_im * W_re  # conj(lambda^e) W
        if per_token:
            db_re.append(t_re)
            db_im.append(t_im)
        else:
            db_re.append(t_re.sum((0, 1)))
            db_im.append(t_im.sum((0, 1)))
        ec = e[:, t0:t0 + K, None]
        sig_re = sig_re + (ec * (P_re * W_re + P_im * W_im)).sum((0, 1))
        sig_im = sig_im + (ec * (P_re * W_im - P_im * W_re)).sum((0, 1))
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
    if per_token:
        dbr, dbi = jnp.concatenate(db_re, 1), jnp.concatenate(db_im, 1)
    else:
        dbr, dbi = sum(db_re), sum(db_im)
    grads = (jnp.concatenate(dv, 1), dnu, sig_im, dbr, dbi, dh0_re, dh0_im)
    grads = tuple(g.astype(x.dtype) for g, x in zip(grads, res[:7], strict=True))
    return grads + (None if mk is None else jnp.zeros_like(mk),)


_encode.defvjp(_encode_fwd, _encode_bwd)
_encode_jit = jax.jit(_encode, static_argnums=(8, 9))


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
        v = v[0][index] * mk[..., None].astype(v.dtype)
        if spec.per_token:
            b_re = b_re[0][index] * mk[..., None].astype(b_re.dtype)
            b_im = b_im[0][index] * mk[..., None].astype(b_im.dtype)
    batch, N = v.shape[0], v.shape[1]
    out = jnp.float64 if spec.compute == "float64" else jnp.float32
    if h0_re is None:
        h0_re = jnp.zeros((batch, spec.m, spec.d_v), out)
        h0_im = jnp.zeros_like(h0_re)
    rows = batch if (spec.per_token or mk is not None) else 1
    K = chunk or auto_chunk(N, rows, spec.m)
    return _encode_jit(v, nu, theta, b_re, b_im, h0_re, h0_im, mk, int(K), np.dtype(out).name)
