"""The pure-JAX equivalent of :class:`mccc_kernels.nn.MCCCCrossConditioning`.

Same formulas (see :mod:`mccc_kernels.nn`): the encode is the final-state contraction
:func:`mccc_kernels.modal_encode.jax.modal_encode`, the readout
:func:`mccc_kernels.modal_readout.jax.modal_readout`, so every function is jit-, vmap- and
grad-compatible. Parameters live in a dict of arrays (the torch module's names); the choices that
are not arrays travel as keyword arguments (``normalize``, ``feature_map``), and the write and
the mix are read from the keys present (``"key_w"`` means ``write="key"``, ``"g_re"`` the softmax
mix). :func:`params_from_torch` and :func:`options_from_torch` copy a torch module, which makes
the two implementations checkable against each other.

Validation: sizes and choices in :func:`init_params`; shapes and dtypes of the user's inputs at
every call (free, also under ``jax.jit``); NaN/inf in ``source``/``x``/``keys``/``state`` when
the values are concrete and the kernels' checks are on (:func:`mccc_kernels.checks`), never
while tracing. The parameters are not re-checked by value per call (the kernels run with their
value checks off).
"""

from __future__ import annotations

import math

from mccc_theory.errors import (
    DTypeError,
    EmptyInputError,
    MethodError,
    NonFiniteError,
    OrderError,
    ShapeError,
)
from mccc_theory.validation import check_choice, check_positive_int

from ._common import missing_extra

try:
    import jax
    import jax.numpy as jnp
except ModuleNotFoundError as exc:  # an optional extra: say which one
    raise missing_extra("mccc_kernels.jax_nn", "JAX", "jax") from exc

from ._common import FEATURE_MAPS, WRITES, check_values, checks, checks_enabled, projects_memory
from .modal_encode.jax import modal_encode
from .modal_readout.jax import modal_readout

__all__ = ["init_params", "params_from_torch", "options_from_torch", "encode", "decode",
           "mccc_cross_conditioning"]



def init_params(key, d_model: int, n_modes: int = 64, d_source: int | None = None,
                d_value: int | None = None, *, mix: str = "softmax", write: str = "gain",
                r_min: float = 0.9, r_max: float = 0.999, theta_max: float = math.pi) -> dict:
    """Parameters with the torch module's initialisation (LRU ring, sqrt(1-|lambda|^2) power).

    Raises
    ------
    OrderError
        A size below 1 (naming ``d_model``, ``n_modes``, ...) or radii outside
        ``0 <= r_min < r_max < 1``.
    MethodError
        An unknown ``mix`` or ``write``.
    NonFiniteError
        A non-finite ``theta_max``.
    """
    d_model = check_positive_int(d_model, "d_model")
    n_modes = check_positive_int(n_modes, "n_modes")
    d_source = d_model if d_source is None else check_positive_int(d_source, "d_source")
    d_value = d_model if d_value is None else check_positive_int(d_value, "d_value")
    check_choice(mix, "mix", ("softmax", "linear"))
    check_choice(write, "write", WRITES)
    radii_ok = all(isinstance(r, int | float) and not isinstance(r, bool) for r in (r_min, r_max))
    if not radii_ok or not (0 <= r_min < r_max < 1):
        raise OrderError(f"r_min, r_max: expected 0 <= r_min < r_max < 1 (stable modes), found "
                         f"r_min={r_min!r}, r_max={r_max!r}")
    if not isinstance(theta_max, int | float) or not math.isfinite(theta_max):
        raise NonFiniteError(f"theta_max: expected a finite angle, found {theta_max!r}")
    k = jax.random.split(key, 8)
    r = jnp.sqrt(jax.random.uniform(k[0], (n_modes,)) * (r_max ** 2 - r_min ** 2) + r_min ** 2)
    nu = jnp.log(-jnp.log(r))
    gamma = jnp.sqrt(1 - r ** 2)
    lin = lambda kk, i, o: jax.random.uniform(kk, (o, i), minval=-1, maxval=1) / math.sqrt(i)  # noqa: E731
    p = {"nu": nu, "theta": theta_max * jax.random.uniform(k[1], (n_modes,)),
         "value_w": lin(k[2], d_source, d_value), "score_w": lin(k[3], d_model, n_modes),
         "score_b": jnp.zeros(n_modes), "out_w": lin(k[4], d_value, d_model),
         "out_b": jnp.zeros(d_model)}
    if write == "gain":
        p.update(b_re=gamma, b_im=jnp.zeros(n_modes))
    else:
        p["key_w"] = jax.random.normal(k[6], (n_modes, d_source)) * gamma[:, None] / math.sqrt(
            d_source)
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
    p = {"nu": t(module.nu), "theta": t(module.theta), "value_w": t(module.value.weight),
         "score_w": t(module.score.weight), "score_b": t(module.score.bias),
         "out_w": t(module.out.weight), "out_b": t(module.out.bias)}
    if module.write == "gain":
        p.update(b_re=t(module.b_re), b_im=t(module.b_im))
    else:
        p["key_w"] = t(module.key.weight)
    if module.mix == "softmax":
        p.update(g_re=t(module.g_re), g_im=t(module.g_im))
    else:
        p.update(score_im_w=t(module.score_im.weight), score_im_b=t(module.score_im.bias))
    return p


def options_from_torch(module) -> dict:
    """The non-array choices of a torch module, as keyword arguments of :func:`encode` /
    :func:`mccc_cross_conditioning`: ``{"normalize": ..., "feature_map": ...}``."""
    return {"normalize": module.normalize, "feature_map": module.feature_map or "identity"}


def _check_input(x, name: str, width: int, width_name: str, axis: str):
    if not hasattr(x, "shape") or not hasattr(x, "dtype"):
        raise DTypeError(f"{name}: expected an array, found {type(x).__name__}")
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise DTypeError(f"{name}: expected a floating dtype, found {x.dtype}; convert with "
                         f"{name}.astype(jnp.float32)")
    if x.ndim != 3 or x.shape[-1] != width:
        raise ShapeError(f"{name}: expected (batch, {axis}, {width}) with {width_name} = {width}, "
                         f"found {tuple(x.shape)}")
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise EmptyInputError(f"{name}: expected at least one sequence and one position, found "
                              f"shape {tuple(x.shape)}")
    check_values(x, name)


def _check_state(state, batch: int, m: int, width: int, normalize: bool):
    want = (batch, m, width)
    if not isinstance(state, tuple | list) or len(state) != 2 or not all(
            hasattr(s, "shape") and tuple(s.shape) == want for s in state):
        extra = " (d_value + 1 with normalize=True)" if normalize else ""
        shapes = [tuple(getattr(s, "shape", ())) for s in (state if isinstance(state, tuple | list)
                                                         else [state])]
        raise ShapeError(f"state: expected planes (H_re, H_im) of shape {want}{extra}, found "
                         f"{shapes}")
    check_values(state[0], "state[0]")
    check_values(state[1], "state[1]")
    return tuple(state)


def encode(params, source, state=None, *, normalize: bool = False,
           feature_map: str = "identity", key_padding_mask=None, lengths=None, cu_seqlens=None,
           keys=None):
    """Memory planes ``(H_re, H_im)`` (batch, m, d_v [+1]) after ``source`` (batch, N, d_source).

    The arguments are those of :meth:`mccc_kernels.nn.MCCCCrossConditioning.encode`
    (``key_padding_mask`` True = padded; ``lengths``/``cu_seqlens`` concrete, for packed
    sources of shape (1, total, d_source)), and so is the route: ``W_v`` goes after the
    contraction when :func:`mccc_kernels._common.projects_memory` says it is cheaper (no
    ``state``), before it otherwise.
    """
    d_source = params["value_w"].shape[1]
    m = params["nu"].shape[0]
    _check_input(source, "source", d_source, "d_source", "N")
    if not isinstance(normalize, bool):
        raise DTypeError(f"normalize: expected a bool, found {normalize!r}")
    key_write = "key_w" in params
    if key_write:
        check_choice(feature_map, "feature_map", FEATURE_MAPS)
    batch, N = source.shape[:2]
    if keys is not None:
        if not key_write:
            raise MethodError("keys: only write='key' (params with 'key_w') reads key features")
        _check_input(keys, "keys", d_source, "d_source", "N")
        if keys.shape[:2] != source.shape[:2]:
            raise ShapeError(f"keys: expected the (batch, N) of source {tuple(source.shape[:2])}, "
                             f"found {tuple(keys.shape[:2])}")
    if lengths is not None:
        if cu_seqlens is not None:
            raise ShapeError("lengths, cu_seqlens: give one description of the packed sequences, "
                             "not both")
        try:
            import numpy as np
            ln = np.asarray(lengths)
        except Exception as exc:
            raise ShapeError("lengths: expected concrete lengths (a list or array), found a traced "
                             "value") from exc
        if ln.ndim != 1 or ln.size == 0 or not np.issubdtype(ln.dtype, np.integer) \
                or np.any(ln < 0) or int(ln.sum()) != N:
            raise ShapeError(f"lengths: expected non-negative integer lengths summing to the packed "
                             f"length {N} (source.shape[1]), found {ln.tolist()}")
        cu_seqlens = np.concatenate([[0], np.cumsum(ln)])
    if cu_seqlens is not None and key_padding_mask is not None:
        raise ShapeError("key_padding_mask: give either a padding mask or packed sequences "
                         "(cu_seqlens/lengths), not both")
    mask = None
    if key_padding_mask is not None:
        if getattr(key_padding_mask, "dtype", None) != jnp.bool_ or \
                tuple(key_padding_mask.shape) != (batch, N):
            raise ShapeError(f"key_padding_mask: expected a bool array of shape (batch, N) = "
                             f"{(batch, N)} (True = padded), found "
                             f"{getattr(key_padding_mask, 'dtype', None)} "
                             f"{tuple(getattr(key_padding_mask, 'shape', ()))}")
        mask = ~key_padding_mask
    n_out = batch if cu_seqlens is None else len(cu_seqlens) - 1
    d_v = params["value_w"].shape[0]
    h0 = (None, None) if state is None else _check_state(state, n_out, m, d_v + int(normalize),
                                                         normalize)
    first = state is None and projects_memory(N, m, d_source, d_v, normalize)
    v = source if first else source @ params["value_w"].T
    if normalize:
        v = jnp.concatenate([v, jnp.ones(v.shape[:2] + (1,), v.dtype)], -1)
    if key_write:
        k = (source if keys is None else keys) @ params["key_w"].T
        w_re = k if feature_map == "identity" else jax.nn.elu(k) + 1
        w_im = jnp.zeros_like(w_re)
    else:
        w_re, w_im = params["b_re"], params["b_im"]
    with checks(False):  # the user's inputs are checked above; parameters are not re-read
        H = modal_encode(v, params["nu"], params["theta"], w_re, w_im, *h0, mask=mask,
                         cu_seqlens=cu_seqlens)
    if not first:
        return H
    W = params["value_w"].T
    if normalize:  # the normaliser column is not projected
        return tuple(jnp.concatenate([h[..., :-1] @ W, h[..., -1:]], -1) for h in H)
    return tuple(h @ W for h in H)


def decode(params, x, state, *, normalize: bool = False):
    """Read the memory for decoder positions ``x`` (batch, Q, d_model)."""
    d_model = params["score_w"].shape[1]
    _check_input(x, "x", d_model, "d_model", "Q")
    m, d_v = params["nu"].shape[0], params["value_w"].shape[0]
    H_re, H_im = _check_state(state, x.shape[0], m, d_v + int(normalize), normalize)
    scores = x @ params["score_w"].T + params["score_b"]
    with checks(False):
        if "g_re" in params:
            y = modal_readout(H_re, H_im, scores, None, mix="softmax", g_re=params["g_re"],
                              g_im=params["g_im"])
        else:
            y = modal_readout(H_re, H_im, scores,
                              x @ params["score_im_w"].T + params["score_im_b"], mix="linear")
    if normalize:
        den = y[..., -1:]
        if checks_enabled() and not isinstance(den, jax.core.Tracer) and not bool((den != 0).all()):
            raise NonFiniteError("state: the normaliser Re(c(q)^T H_1) is 0 for a query (no token "
                                 "written: a fully padded source?); the normalised readout is "
                                 "undefined there")
        y = y[..., :-1] / den
    return y @ params["out_w"].T + params["out_b"]


def mccc_cross_conditioning(params, x, source, state=None, *, normalize: bool = False,
                            feature_map: str = "identity", key_padding_mask=None, lengths=None,
                            cu_seqlens=None, keys=None):
    """``decode(params, x, encode(params, source, state, ...))``: (batch, Q, d_model)."""
    H = encode(params, source, state, normalize=normalize, feature_map=feature_map,
               key_padding_mask=key_padding_mask, lengths=lengths, cu_seqlens=cu_seqlens, keys=keys)
    return decode(params, x, H, normalize=normalize)
