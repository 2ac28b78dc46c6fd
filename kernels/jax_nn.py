"""The pure-JAX equivalent of :class:`mccc_kernels.nn.MCCCCrossConditioning`.

Same formulas (see :mod:`mccc_kernels.nn`), parameters in a dict of arrays, every step through
the JAX kernels (:mod:`mccc_kernels.modal_scan.jax`, :mod:`mccc_kernels.modal_readout.jax`), so
it is jit-, vmap- and grad-compatible. :func:`params_from_torch` copies a torch module's
weights, which makes the two implementations checkable against each other.
"""

from __future__ import annotations

import math

from mccc_theory.errors import BackendUnavailableError, MethodError, ShapeError

try:
    import jax
    import jax.numpy as jnp
except ModuleNotFoundError as exc:  # an optional extra: say which one
    raise BackendUnavailableError("mccc_kernels.jax_nn needs JAX, which is not installed: "
                                  "pip install 'mccc-theory[jax]'") from exc

from .modal_readout.jax import modal_readout
from .modal_scan.jax import modal_scan

__all__ = ["init_params", "params_from_torch", "encode", "decode", "mccc_cross_conditioning"]


def init_params(key, d_model: int, n_modes: int = 64, d_source: int | None = None,
                d_value: int | None = None, *, mix: str = "softmax", r_min: float = 0.9,
                r_max: float = 0.999, theta_max: float = math.pi) -> dict:
    """Parameters with the torch module's initialisation (LRU ring, sqrt(1-|lambda|^2) gain)."""
    if mix not in ("softmax", "linear"):
        raise MethodError(f"mix: expected 'softmax' or 'linear', found {mix!r}")
    d_source = d_model if d_source is None else d_source
    d_value = d_model if d_value is None else d_value
    k = jax.random.split(key, 8)
    r = jnp.sqrt(jax.random.uniform(k[0], (n_modes,)) * (r_max ** 2 - r_min ** 2) + r_min ** 2)
    nu = jnp.log(-jnp.log(r))
    lin = lambda kk, i, o: jax.random.uniform(kk, (o, i), minval=-1, maxval=1) / math.sqrt(i)  # noqa: E731
    p = {"nu": nu, "theta": theta_max * jax.random.uniform(k[1], (n_modes,)),
         "b_re": jnp.sqrt(1 - r ** 2), "b_im": jnp.zeros(n_modes),
         "value_w": lin(k[2], d_source, d_value), "score_w": lin(k[3], d_model, n_modes),
         "score_b": jnp.zeros(n_modes), "out_w": lin(k[4], d_value, d_model),
         "out_b": jnp.zeros(d_model)}
    if mix == "softmax":
        p.update(g_re=jnp.ones(n_modes), g_im=jnp.zeros(n_modes))
    else:
        p["score_w"] = p["score_w"] / math.sqrt(n_modes)
        p.update(score_im_w=lin(k[5], d_model, n_modes) / math.sqrt(n_modes),
                 score_im_b=jnp.zeros(n_modes))
    return p


def params_from_torch(module) -> dict:
    """The parameters of a torch ``MCCCCrossConditioning`` as JAX arrays (same names)."""
    t = lambda x: jnp.asarray(x.detach().cpu().numpy())  # noqa: E731
    p = {"nu": t(module.nu), "theta": t(module.theta), "b_re": t(module.b_re),
         "b_im": t(module.b_im), "value_w": t(module.value.weight),
         "score_w": t(module.score.weight), "score_b": t(module.score.bias),
         "out_w": t(module.out.weight), "out_b": t(module.out.bias)}
    if module.mix == "softmax":
        p.update(g_re=t(module.g_re), g_im=t(module.g_im))
    else:
        p.update(score_im_w=t(module.score_im.weight), score_im_b=t(module.score_im.bias))
    return p


def encode(params, source, state=None, *, method="chunked", chunk=16):
    """Memory planes ``(H_re, H_im)`` (batch, m, d_v) after ``source`` (batch, N, d_source)."""
    if source.ndim != 3 or source.shape[-1] != params["value_w"].shape[1]:
        raise ShapeError(f"source: expected (batch, N, {params['value_w'].shape[1]}), found "
                         f"{tuple(source.shape)}")
    v = source @ params["value_w"].T
    b, N, d_v = v.shape
    m = params["nu"].shape[0]
    u = jnp.swapaxes(v, 1, 2).reshape(b * d_v, N, 1)
    h0 = (None, None) if state is None else \
        tuple(jnp.swapaxes(s, 1, 2).reshape(b * d_v, m) for s in state)
    h_re, h_im = modal_scan(u, params["nu"], params["theta"], params["b_re"][:, None],
                            params["b_im"][:, None], *h0, return_all=False, method=method,
                            chunk=chunk)
    to_H = lambda h: jnp.swapaxes(h.reshape(b, d_v, m), 1, 2)  # noqa: E731
    return to_H(h_re), to_H(h_im)


def decode(params, x, state):
    """Read the memory for decoder positions ``x`` (batch, Q, d_model)."""
    H_re, H_im = state
    scores = x @ params["score_w"].T + params["score_b"]
    if "g_re" in params:
        y = modal_readout(H_re, H_im, scores, None, mix="softmax", g_re=params["g_re"],
                          g_im=params["g_im"])
    else:
        y = modal_readout(H_re, H_im, scores, x @ params["score_im_w"].T + params["score_im_b"],
                          mix="linear")
    return y @ params["out_w"].T + params["out_b"]


def mccc_cross_conditioning(params, x, source, state=None, *, method="chunked", chunk=16):
    """``decode(params, x, encode(params, source, state))``: (batch, Q, d_model)."""
    return decode(params, x, encode(params, source, state, method=method, chunk=chunk))
