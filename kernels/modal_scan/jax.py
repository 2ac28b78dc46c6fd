"""The modal scan in JAX: ``lax.scan`` and a chunked associative scan with a sequential carry.

Same recurrence, planes and VJP as :mod:`.reference`. :func:`modal_scan` is jit-, vmap- and
grad-compatible and carries a ``jax.custom_vjp`` whose backward is the reverse scan with
``conj(lambda)`` plus one forward recompute of the states (nothing but the inputs is saved).

* ``sequential``: ``lax.scan`` over time.
* ``chunked``: ``lax.associative_scan`` inside chunks of K steps (a tree of at most log2 K
  levels, so the tree's loss of accuracy near ``|lambda| = 1`` stays bounded), then the state is
  carried from chunk to chunk by ``lax.scan`` with exact powers ``lambda^(j+1)`` computed from
  the log-eigenvalue.

``backend="numba"`` runs the compiled CPU scan of :mod:`.numba` instead, through
``jax.pure_callback`` (host arrays; jit- and vmap-compatible, sequential under vmap) with a
``jax.custom_vjp`` whose backward is that module's VJP: the same results, certified with the
numba backend (``mccc certify --backend numba``). The default ``"xla"`` keeps everything in XLA
(any device).

Complex arithmetic runs in complex64 (float32 inputs) or complex128 (float64 inputs, which needs
``jax.config.update("jax_enable_x64", True)``). Under ``jax.jit`` tracing only shapes and dtypes
are validated; call once eagerly to have the values (``|lambda| < 1``, NaN) checked.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from mccc_theory.validation import check_choice

from ._spec import validate_scan

__all__ = ["modal_scan", "BACKENDS"]

#: ``"xla"``: lax.scan / associative scan; ``"numba"``: the compiled CPU scan by callback
BACKENDS = ("xla", "numba")


def _cdtype(*arrays):
    f64 = any(a.dtype == jnp.float64 for a in arrays if a is not None)
    return (jnp.float64, jnp.complex128) if f64 else (jnp.float32, jnp.complex64)


def _lam(nu, theta):
    rate = jnp.exp(nu)
    r = jnp.exp(-rate)
    return rate, r, r * jnp.exp(1j * theta.astype(nu.dtype))


def _powers(k, rate, theta):
    """lambda^k for integer k (broadcast against modes); exactly 1 at k = 0 (also lambda = 0)."""
    kf = k.astype(rate.dtype)
    mag = jnp.where(k == 0, 1.0, jnp.exp(-kf * rate))
    return mag * jnp.exp(1j * (kf * theta))


def _forward(x, nu, theta, h0, return_all, method, K):
    """States from complex x (batch, L, m) and h0 (batch, m)."""
    rate, _, lam = _lam(nu, theta)
    batch, L, m = x.shape
    if method == "sequential":
        def step(h, xt):
            h = lam * h + xt
            return h, h
        hT, hs = lax.scan(step, h0, jnp.swapaxes(x, 0, 1))
        return jnp.swapaxes(hs, 0, 1) if return_all else hT
    n_chunks = -(-L // K)
    pad = n_chunks * K - L
    xp = jnp.pad(x, ((0, 0), (0, pad), (0, 0)))
    xc = jnp.moveaxis(xp.reshape(batch, n_chunks, K, m), (1, 2), (0, 1))  # (C, K, b, m)
    lam_b = jnp.broadcast_to(lam, xc.shape)

    def combine(left, right):
        a1, b1 = left
        a2, b2 = right
        return a1 * a2, a2 * b1 + b2

    _, local = lax.associative_scan(combine, (lam_b, xc), axis=1)  # zero-carry states per chunk
    W = _powers(jnp.arange(1, K + 1)[:, None], rate, theta)[:, None, :]  # (K, 1, m)

    def carry_step(c, loc):
        H = loc + W * c[None]
        return H[K - 1], H

    _, H = lax.scan(carry_step, h0, local)  # (C, K, b, m)
    H = jnp.moveaxis(H, (0, 1), (1, 2)).reshape(batch, n_chunks * K, m)[:, :L]
    return H if return_all else H[:, L - 1]


def _reverse(g, nu, theta, L, return_all, method, K):
    """Adjoint states G_t = g_t + conj(lambda) G_{t+1}, (batch, L, m)."""
    rate = jnp.exp(nu)
    if not return_all:
        P = _powers(jnp.arange(L - 1, -1, -1)[:, None], rate, -theta)  # conj(lambda)^(L-1-t)
        return P[None] * g[:, None]
    zero = jnp.zeros_like(g[:, 0])
    return _forward(g[:, ::-1], nu, -theta, zero, True, method, K)[:, ::-1]


@partial(jax.custom_vjp, nondiff_argnums=(7, 8, 9))
def _scan(u, nu, theta, B_re, B_im, h0_re, h0_im, return_all, method, K):
    fd, cd = _cdtype(u, nu, B_re, h0_re)
    uc = u.astype(fd)
    x = (uc @ B_re.astype(fd).T + 1j * (uc @ B_im.astype(fd).T)).astype(cd)
    h0 = (h0_re.astype(fd) + 1j * h0_im.astype(fd)).astype(cd)
    h = _forward(x, nu.astype(fd), theta.astype(fd), h0, return_all, method, K)
    return h.real, h.imag


def _scan_fwd(u, nu, theta, B_re, B_im, h0_re, h0_im, return_all, method, K):
    out = _scan(u, nu, theta, B_re, B_im, h0_re, h0_im, return_all, method, K)
    return out, (u, nu, theta, B_re, B_im, h0_re, h0_im)


def _scan_bwd(return_all, method, K, res, cot):
    u, nu, theta, B_re, B_im, h0_re, h0_im = res
    fd, cd = _cdtype(u, nu, B_re, h0_re)
    uc = u.astype(fd)
    nuc, thc = nu.astype(fd), theta.astype(fd)
    Br, Bi = B_re.astype(fd), B_im.astype(fd)
    g = (cot[0].astype(fd) + 1j * cot[1].astype(fd)).astype(cd)
    L = u.shape[1]
    G = _reverse(g, nuc, thc, L, return_all, method, K)
    rate, r, lam = _lam(nuc, thc)
    x = (uc @ Br.T + 1j * (uc @ Bi.T)).astype(cd)
    h0 = (h0_re.astype(fd) + 1j * h0_im.astype(fd)).astype(cd)
    H = _forward(x, nuc, thc, h0, True, method, K)
    Hprev = jnp.concatenate([h0[:, None], H[:, :-1]], axis=1)
    dlam = jnp.sum(G * jnp.conj(Hprev), axis=(0, 1))
    proj = jnp.real(jnp.conj(dlam) * lam)
    dnu = jnp.where(r == 0, 0.0, -rate * proj)
    dtheta = jnp.real(jnp.conj(dlam) * 1j * lam)
    du = G.real @ Br + G.imag @ Bi
    dB_re = jnp.einsum("btm,btp->mp", G.real, uc)
    dB_im = jnp.einsum("btm,btp->mp", G.imag, uc)
    dh0 = jnp.conj(lam) * G[:, 0]
    return (du.astype(u.dtype), dnu.astype(nu.dtype), dtheta.astype(theta.dtype),
            dB_re.astype(B_re.dtype), dB_im.astype(B_im.dtype), dh0.real.astype(h0_re.dtype),
            dh0.imag.astype(h0_im.dtype))


_scan.defvjp(_scan_fwd, _scan_bwd)
# compiled once per shape and configuration (eager dispatch of the scan's many small ops would
# cost more than the compilation)
_scan_jit = jax.jit(_scan, static_argnums=(7, 8, 9))


def _host(fn):
    """A host function of NumPy arrays (ml_dtypes bf16 widened by the callee)."""
    return lambda *arrays: fn(*(np.asarray(a) for a in arrays))


@partial(jax.custom_vjp, nondiff_argnums=(7,))
def _scan_numba(u, nu, theta, B_re, B_im, h0_re, h0_im, return_all):
    from . import numba as N

    fd, _ = _cdtype(u, nu, B_re, h0_re)
    shape = (u.shape[0], u.shape[1], nu.shape[0]) if return_all else (u.shape[0], nu.shape[0])
    out = jax.ShapeDtypeStruct(shape, fd)
    fwd = _host(lambda *a: tuple(h.astype(fd) for h in N.modal_scan(*a, return_all=return_all)))
    return jax.pure_callback(fwd, (out, out), u, nu, theta, B_re, B_im, h0_re, h0_im,
                             vmap_method="sequential")


def _scan_numba_fwd(u, nu, theta, B_re, B_im, h0_re, h0_im, return_all):
    out = _scan_numba(u, nu, theta, B_re, B_im, h0_re, h0_im, return_all)
    return out, (u, nu, theta, B_re, B_im, h0_re, h0_im)


def _scan_numba_bwd(return_all, res, cot):
    from . import numba as N
    from .reference import GRAD_NAMES

    fd, _ = _cdtype(*res[:4], res[5])
    shapes = tuple(jax.ShapeDtypeStruct(a.shape, fd) for a in res)

    def vjp(*a):
        g = N.modal_scan_vjp(*a, return_all=return_all)
        return tuple(np.asarray(g[k], fd) for k in GRAD_NAMES)
    grads = jax.pure_callback(_host(vjp), shapes, *res, *cot, vmap_method="sequential")
    return tuple(g.astype(a.dtype) for g, a in zip(grads, res, strict=True))


_scan_numba.defvjp(_scan_numba_fwd, _scan_numba_bwd)


def modal_scan(u, nu, theta, B_re, B_im, h0_re=None, h0_im=None, *, return_all=True,
               method="chunked", chunk=16, backend="xla", cu_seqlens=None):
    """Modal scan on JAX arrays; same arguments and results as the torch version (packed
    sequences: ``cu_seqlens`` must be concrete, its values define the layout).

    ``backend``: ``"xla"`` (default, any device) or ``"numba"`` (the compiled CPU scan through
    ``jax.pure_callback``; ``method`` and ``chunk`` then only validated, module docstring).

    Returns ``(h_re, h_im)``: every state (batch, L, m) or the final one (batch, m), in float64
    if any input is float64 (x64 mode), else float32. Differentiable in every array argument.
    """
    spec = validate_scan(u, nu, theta, B_re, B_im, h0_re, h0_im, return_all=return_all,
                         method=method, chunk=chunk, cu_seqlens=cu_seqlens)
    check_choice(backend, "backend", BACKENDS)
    if h0_re is None:
        fd = jnp.float64 if spec.compute == "float64" else jnp.float32
        h0_re = jnp.zeros((spec.n_out, spec.m), fd)
        h0_im = jnp.zeros((spec.n_out, spec.m), fd)

    def run(u, h0_re, h0_im, return_all):
        if backend == "numba":
            return _scan_numba(u, nu, theta, B_re, B_im, h0_re, h0_im, return_all)
        return _scan_jit(u, nu, theta, B_re, B_im, h0_re, h0_im, return_all, method, chunk)

    if spec.cu is not None:
        from .._common import scan_packed
        return scan_packed(lambda up, a, b: run(up, a, b, True), u, h0_re, h0_im, spec.cu,
                           return_all, jnp.asarray)
    return run(u, h0_re, h0_im, return_all)
