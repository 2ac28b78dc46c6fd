"""The modal readout in JAX, with a ``jax.custom_vjp`` (formulas of :mod:`.reference`).

jit-, vmap- and grad-compatible; float64 needs ``jax_enable_x64``. For ``mix="softmax"``
without a gain, pass ``g_re=None`` (the gain is then 1 and has no gradient).
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp

from ._spec import validate_readout

__all__ = ["modal_readout"]


@partial(jax.custom_vjp, nondiff_argnums=(4,))
def _linear(H_re, H_im, C_re, C_im, fd):
    return C_re.astype(fd) @ H_re.astype(fd) - C_im.astype(fd) @ H_im.astype(fd)


def _linear_fwd(H_re, H_im, C_re, C_im, fd):
    return _linear_jit(H_re, H_im, C_re, C_im, fd), (H_re, H_im, C_re, C_im)


def _linear_bwd(fd, res, gy):
    H_re, H_im, C_re, C_im = res
    T = lambda X: jnp.swapaxes(X, 1, 2).astype(fd)  # noqa: E731
    gy = gy.astype(fd)
    grads = (T(C_re) @ gy, -T(C_im) @ gy, gy @ T(H_re), -gy @ T(H_im))
    return tuple(g.astype(x.dtype) for g, x in zip(grads, res, strict=True))


_linear.defvjp(_linear_fwd, _linear_bwd)


@partial(jax.custom_vjp, nondiff_argnums=(5,))
def _softmax(H_re, H_im, S, g_re, g_im, fd):
    Z = g_re.astype(fd)[:, None] * H_re.astype(fd) - g_im.astype(fd)[:, None] * H_im.astype(fd)
    return jax.nn.softmax(S.astype(fd), axis=-1) @ Z


def _softmax_fwd(H_re, H_im, S, g_re, g_im, fd):
    return _softmax(H_re, H_im, S, g_re, g_im, fd), (H_re, H_im, S, g_re, g_im)


def _softmax_bwd(fd, res, gy):
    H_re, H_im, S, g_re, g_im = (x.astype(fd) for x in res)
    gy = gy.astype(fd)
    a = jax.nn.softmax(S, axis=-1)
    Z = g_re[:, None] * H_re - g_im[:, None] * H_im
    ga = gy @ jnp.swapaxes(Z, 1, 2)
    gZ = jnp.swapaxes(a, 1, 2) @ gy
    grads = (g_re[:, None] * gZ, -g_im[:, None] * gZ,
             a * (ga - jnp.sum(a * ga, -1, keepdims=True)),
             jnp.einsum("bmv,bmv->m", gZ, H_re), -jnp.einsum("bmv,bmv->m", gZ, H_im))
    return tuple(g.astype(x.dtype) for g, x in zip(grads, res, strict=True))


_softmax.defvjp(_softmax_fwd, _softmax_bwd)
_linear_jit = jax.jit(_linear, static_argnums=(4,))
_softmax_jit = jax.jit(_softmax, static_argnums=(5,))


def modal_readout(H_re, H_im, C_re, C_im=None, *, mix="linear", g_re=None, g_im=None):
    """``y(q) = Re(c(q)^T H)`` on JAX arrays; arguments as in :mod:`.reference`."""
    spec = validate_readout(H_re, H_im, C_re, C_im, mix=mix, g_re=g_re, g_im=g_im)
    fd = jnp.float64 if spec.compute == "float64" else jnp.float32
    if mix == "linear":
        return _linear_jit(H_re, H_im, C_re, C_im, fd)
    if g_re is None:
        g_re, g_im = jnp.ones(spec.m, fd), jnp.zeros(spec.m, fd)
    return _softmax_jit(H_re, H_im, C_re, g_re, g_im, fd)
