"""The layer as a theory object and back: ``MCCCCrossConditioning`` <-> ``ModalMemory``, and certified
reduction of a trained layer.

A gain-written layer (CONTRIBUTING's shared definitions, :mod:`mccc_kernels.nn`) computes, for
decoder positions ``x`` (Q, d_model) and a source ``u`` (N, d_source)::

    v_t = W_v u_t,   H = sum_t Lambda^(N-t) b v_t^T,   y(x) = W_o Re(c(x)^T H) + b_o,

with ``c(x) = (W^re + i W^im) x + (beta^re + i beta^im)`` (linear mix) or
``c(x) = softmax(W x + beta) (.) g`` (softmax mix). The score bias ``beta`` is folded into the
memory by augmenting each query with a constant 1: ``q = [x, 1]`` (d_model + 1) and
``W_c = [W^T; beta]``, so ``c(x) = W_c^T q`` (linear) or the softmax of ``Re(W_c^T q)``. Then
:class:`LayerMemory` holds ``(ModalMemory(s, b, W_c, g), W_v, W_o, b_o)`` in float64 and
``y(x) = W_o (lag_weights(q, N) @ v[::-1]).T + b_o`` (:meth:`LayerMemory.output`).

For a fixed query set the layer is the LTI map ``(s, b, C = c(Q))`` applied to every value
channel, followed by ``W_o``; :func:`reduce_layer` reduces that map and certifies the result:
``||y_full - y_reduced||_F <= bound ||u||_F`` for every source ``u`` of that query set, with
``bound = (memory-level bound) ||W_o W_v||_2`` (the value/output projections act on the other
side of the lag map, so their norm multiplies the bound and worst-case inputs are rank one).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from mccc_theory.attention import ModalMemory
from mccc_theory.errors import MethodError, OrderError, ShapeError
from mccc_theory.reduction import (
    balanced_truncation,
    modal_truncation,
    read_once_projection,
    singular_perturbation,
)
from mccc_theory.systems import ModalSystem, StateSpace
from mccc_theory.validation import as_array, check_choice, check_finite, check_positive_int

from .modal_readout.torch import modal_readout

__all__ = ["LayerMemory", "ReductionCertificate", "ReadOnceLayer", "REDUCTIONS", "to_memory",
           "from_memory", "from_fit", "params_from_memory", "options_from_memory", "reduce_layer",
           "layer_hsv", "worst_case_source"]

REDUCTIONS = ("bt", "spa", "read_once", "modal")

_EPS = np.finfo(float).eps
#: log-eigenvalue of the lag-0 tap that holds a feedthrough (SPA): ``exp(-exp(7))`` is exactly 0
#: in float32 and float64, so the mode acts at lag 0 only (``lambda^0 = 1``) in every kernel.
TAP_NU = 7.0


@dataclass(frozen=True, eq=False)
class LayerMemory:
    """A gain-written layer as ``(memory, W_v, W_o, b_o)`` in float64 (module docstring).

    Attributes
    ----------
    memory : ModalMemory
        ``(s, b, W_c, g)`` with ``W_c`` of shape (d_model + 1, m): the last row is the score bias.
    W_v : (d_v, d_source) array
    W_o : (d_model_out, d_v) array
    b_o : (d_model_out,) array
    """

    memory: ModalMemory
    W_v: np.ndarray
    W_o: np.ndarray
    b_o: np.ndarray

    @property
    def d_model(self) -> int:
        """Width of the decoder positions (the memory's query width minus the constant 1)."""
        return self.memory.d_q - 1

    def queries(self, x) -> np.ndarray:
        """``[x, 1]`` (Q, d_model + 1): decoder positions as the memory's queries."""
        x = as_array(x, "x", ndim=2, complex_ok=False)
        if x.shape[1] != self.d_model:
            raise ShapeError(f"x: expected shape (Q, {self.d_model}) (decoder positions of width "
                             f"d_model), found {x.shape}")
        return np.hstack([x, np.ones((x.shape[0], 1))])

    def output(self, x, source) -> np.ndarray:
        """``y(x) = W_o (lag_weights([x, 1], N) @ v[::-1]).T + b_o`` for one source (N, d_source)."""
        u = as_array(source, "source", ndim=2, complex_ok=False)
        if u.shape[1] != self.W_v.shape[1]:
            raise ShapeError(f"source: expected shape (N, {self.W_v.shape[1]}), found {u.shape}")
        A = self.memory.lag_weights(self.queries(x), u.shape[0])
        return (A @ (u @ self.W_v.T)[::-1]) @ self.W_o.T + self.b_o


def _np(t) -> np.ndarray:
    if hasattr(t, "detach"):
        t = t.detach().cpu().double().numpy()
    return np.asarray(t, dtype=np.float64)


def _params(layer) -> tuple[dict, dict]:
    """The parameters as float64 arrays, and the layer's options, for torch modules and JAX dicts."""
    if isinstance(layer, dict):
        p = {k: _np(v) for k, v in layer.items() if k not in ("normalize", "write")}
        opts = {"mix": "softmax" if "g_re" in p else "linear",
                "write": layer.get("write", "key" if "key_w" in p else "gain"),
                "normalize": bool(layer.get("normalize", False))}
        return p, opts
    if not hasattr(layer, "nu") or not hasattr(layer, "score"):
        raise ShapeError(f"layer: expected an MCCCCrossConditioning or a JAX parameter dict, found "
                         f"{type(layer).__name__}")
    p = {"nu": layer.nu, "theta": layer.theta, "value_w": layer.value.weight,
         "score_w": layer.score.weight, "score_b": layer.score.bias,
         "out_w": layer.out.weight, "out_b": layer.out.bias}
    for name in ("b_re", "b_im", "g_re", "g_im"):
        if hasattr(layer, name):
            p[name] = getattr(layer, name)
    if hasattr(layer, "score_im"):
        p.update(score_im_w=layer.score_im.weight, score_im_b=layer.score_im.bias)
    opts = {"mix": layer.mix, "write": getattr(layer, "write", "gain"),
            "normalize": bool(getattr(layer, "normalize", False))}
    return {k: _np(v) for k, v in p.items()}, opts


def to_memory(layer) -> LayerMemory:
    """The :class:`LayerMemory` ``(ModalMemory(s, b, W_c, g), W_v, W_o, b_o)`` a layer realises.

    Parameters
    ----------
    layer : MCCCCrossConditioning or dict
        A torch module, or the JAX parameter dict of :mod:`mccc_kernels.jax_nn` (optionally with
        ``"normalize"``).

    Returns
    -------
    LayerMemory
        float64; ``s = -exp(nu) + i theta``, ``b = b_re + i b_im``, ``W_c = [W^T; beta]`` (the
        score bias folded by the constant-1 query coordinate, module docstring).

    Raises
    ------
    NonFiniteError
        A NaN/inf parameter (named ``layer.<name>``).
    MethodError
        A key-addressed layer (``write="key"``): its input into mode i is ``phi_i(W_k u_t)``,
        which depends on the source, so no fixed ``(s, b)`` realises it (see
        :class:`mccc_theory.recall.KeyedModalMemory` for that memory).
    ShapeError
        Not a layer.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from mccc_kernels.nn import MCCCCrossConditioning
    >>> layer = MCCCCrossConditioning(8, n_modes=4, mix="linear").double()
    >>> lm = to_memory(layer)
    >>> x, u = torch.randn(3, 8, dtype=torch.float64), torch.randn(20, 8, dtype=torch.float64)
    >>> y = layer(x[None], u[None])[0].detach().numpy()
    >>> bool(np.allclose(lm.output(x.numpy(), u.numpy()), y, atol=1e-10))
    True
    """
    p, opts = _params(layer)
    if opts["write"] != "gain":
        raise MethodError("layer: a key-addressed layer (write='key') writes phi(W_k u_t) v_t^T, "
                          "whose per-mode input depends on the source; it is not a fixed modal "
                          "memory (s, b). Use mccc_theory.recall.KeyedModalMemory for its theory")
    for name, val in p.items():
        check_finite(val, f"layer.{name}")
    s = -np.exp(p["nu"]) + 1j * p["theta"]
    b = p["b_re"] + 1j * p["b_im"]
    W = p["score_w"].T.astype(complex)
    beta = p["score_b"].astype(complex)
    g = None
    if opts["mix"] == "linear":
        W = W + 1j * p["score_im_w"].T
        beta = beta + 1j * p["score_im_b"]
        readout = "linear"
    else:
        g = p["g_re"] + 1j * p["g_im"]
        readout = "softmax"
    mem = ModalMemory(s, b, np.vstack([W, beta[None, :]]), g, readout=readout,
                      normalize=opts["normalize"])
    return LayerMemory(mem, p["value_w"], p["out_w"], p["out_b"])


def _memory_params(lm: LayerMemory) -> dict:
    """The layer's parameter arrays (float64, JAX-dict names) of a LayerMemory."""
    if not isinstance(lm, LayerMemory):
        raise ShapeError(f"layer_memory: expected a LayerMemory, found {type(lm).__name__}")
    mem = lm.memory
    if np.any(np.isinf(mem.s.real)):
        raise OrderError("layer_memory: a mode with lambda = 0 (s = -inf) has no finite nu; "
                         f"use s = -exp({TAP_NU}) (exactly 0 after exp in float32 and float64)")
    W, beta = mem.W_c[:-1], mem.W_c[-1]
    p = {"nu": np.log(-mem.s.real), "theta": mem.s.imag, "b_re": mem.b.real, "b_im": mem.b.imag,
         "value_w": lm.W_v, "score_w": W.real.T.copy(), "score_b": beta.real.copy(),
         "out_w": lm.W_o, "out_b": lm.b_o}
    if mem.readout_kind == "softmax":
        p.update(g_re=mem.g.real, g_im=mem.g.imag)
    else:
        p.update(score_im_w=W.imag.T.copy(), score_im_b=beta.imag.copy())
    return p


def from_memory(layer_memory: LayerMemory, *, dtype=None, backend: str = "auto"):
    """A torch ``MCCCCrossConditioning`` realising ``layer_memory`` (the inverse of :func:`to_memory`).

    ``dtype`` defaults to float64 (the theory object's precision); ``backend`` is the layer's
    dispatch rule; the memory's ``normalize`` becomes the layer's. Raises :class:`OrderError`
    for a mode with ``lambda = 0``.
    """
    from .nn import MCCCCrossConditioning

    p = _memory_params(layer_memory)
    mem = layer_memory.memory
    kw = {"mix": mem.readout_kind, "backend": backend, "normalize": bool(mem.normalize)}
    d_v, d_s = layer_memory.W_v.shape
    layer = MCCCCrossConditioning(layer_memory.d_model, mem.m, d_s, d_v, **kw)
    d_out = layer_memory.W_o.shape[0]
    if d_out != layer_memory.d_model:
        raise ShapeError(f"layer_memory: W_o must map d_v to d_model = {layer_memory.d_model} "
                         f"outputs, found W_o of shape {layer_memory.W_o.shape}")
    layer = layer.to(torch.float64 if dtype is None else dtype)
    names = {"value_w": ("value", "weight"), "score_w": ("score", "weight"),
             "score_b": ("score", "bias"), "out_w": ("out", "weight"), "out_b": ("out", "bias"),
             "score_im_w": ("score_im", "weight"), "score_im_b": ("score_im", "bias")}
    with torch.no_grad():
        for k, v in p.items():
            obj, attr = (layer, k) if k not in names else (getattr(layer, names[k][0]),
                                                          names[k][1])
            t = getattr(obj, attr)
            t.copy_(torch.as_tensor(np.array(v, copy=True), dtype=t.dtype))
    return layer


def params_from_memory(layer_memory: LayerMemory, dtype=None) -> dict:
    """The JAX parameter dict (:mod:`mccc_kernels.jax_nn` names) realising ``layer_memory``.

    Arrays only: the JAX layer takes its choices as keywords, :func:`options_from_memory`
    (``jax_nn.mccc_cross_conditioning(params, x, u, **options_from_memory(lm))``).
    """
    import jax.numpy as jnp

    return {k: jnp.asarray(v, dtype=dtype) for k, v in _memory_params(layer_memory).items()}


def options_from_memory(layer_memory: LayerMemory) -> dict:
    """The JAX layer's keyword choices realising ``layer_memory``: ``{"normalize": ...,
    "feature_map": "identity"}`` (the keys of :func:`mccc_kernels.jax_nn.options_from_torch`;
    a LayerMemory writes through its gains, so the feature map is never used)."""
    if not isinstance(layer_memory, LayerMemory):
        raise ShapeError(f"layer_memory: expected a LayerMemory, found "
                         f"{type(layer_memory).__name__}")
    return {"normalize": bool(layer_memory.memory.normalize), "feature_map": "identity"}


def from_fit(fit, *, d_value: int = 1, normalize: bool = False, dtype=None, backend="auto"):
    """A layer initialised from a :func:`~mccc_theory.attention.fit_modal` result.

    Query j of the fit is the decoder position ``x = e_j`` (d_model = Q), the linear mix holds the
    fitted readout ``c(e_j) = C[j]`` (zero score bias), values are the source itself
    (``W_v = I``, ``d_source = d_value``) and ``W_o`` copies the ``d_value`` outputs into the first
    coordinates (``d_value <= Q``). So ``layer(e_j, u)[:d_value] = sum_tau w_hat_tau(j)
    u_(N-tau)`` with ``w_hat = fit.weights_hat``; with ``normalize=True`` the weights are divided by
    their sum over the source (ALiBi softmax attention is one mode + the normaliser, T1).
    """
    from mccc_theory.attention import ModalFit

    if not isinstance(fit, ModalFit):
        raise ShapeError(f"fit: expected a ModalFit from fit_modal, found {type(fit).__name__}")
    d_value = check_positive_int(d_value, "d_value")
    sysm = fit.system
    Q = sysm.n_outputs
    if d_value > Q:
        raise ShapeError(f"d_value: at most the fit's {Q} queries (outputs copy into the first "
                         f"d_value of d_model = {Q} coordinates), found {d_value}")
    W_c = np.vstack([sysm.C, np.zeros((1, sysm.m))])  # row j: c(e_j) = C[j]
    mem = ModalMemory(sysm.s, sysm.B[:, 0], W_c, normalize=normalize)
    W_o = np.zeros((Q, d_value))
    W_o[:d_value] = np.eye(d_value)
    lm = LayerMemory(mem, np.eye(d_value), W_o, np.zeros(Q))
    return from_memory(lm, dtype=dtype, backend=backend)


# -- reduction -----------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class ReductionCertificate:
    """What :func:`reduce_layer` guarantees and what it measured, for one query set.

    Attributes
    ----------
    method : str
    order : int
        Complex modes kept (read_once: ``2 order`` real numbers per value channel, the same
        storage).
    n_modes : int
        Modes of the reduced layer (SPA adds a lag-0 tap for its feedthrough: ``order + 1``).
    bound : float
        The theory's guarantee, ``||y_full - y_red||_F <= bound ||u||_F`` for every source of the
        query set: the memory-level bound times ``||W_o W_v||_2``.
    memory_bound : float
        read_once: ``sigma_(2r+1)`` of the real source-to-readout map (Eckart-Young, attained);
        bt / spa: ``2 * tail`` of the Hankel singular values (H-infinity of the complex
        operator, which bounds its real part at every source length); modal: the sum of the
        dropped modes' peak gains.
    allowance : float
        Rounding of the kernels (float64 or float32) and of the bound's own computation, per
        unit input norm (see :func:`reduce_layer`, Notes).
    achieved : float
        ``max ||y_full - y_red||_F / ||u||_F`` over the test sources, both layers run through
        the production kernels (random sources and the worst-case rank-one source).
    achieved_worst : float
        The same on the worst-case source alone.
    hsv : (k,) array
        Hankel singular values of the layer's operator ``(s, b, c(Q))`` (descending).
    hsv_rank, modulus_rank : (m,) int arrays
        Modes ordered by their modal Hankel singular value ``|c_i| |b_i| / (1 - |lambda_i|^2)``
        and by ``|lambda_i|`` (most important first).
    horizon : int
        Source length of the test inputs (and of read_once's Gramian).
    dtype : str
    """

    method: str
    order: int
    n_modes: int
    bound: float
    memory_bound: float
    allowance: float
    achieved: float
    achieved_worst: float
    hsv: np.ndarray
    hsv_rank: np.ndarray
    modulus_rank: np.ndarray
    horizon: int
    dtype: str
    details: dict = field(default_factory=dict, repr=False)

    @property
    def holds(self) -> bool:
        """``achieved <= bound + allowance``."""
        return bool(self.achieved <= self.bound + self.allowance)

    @property
    def ratio(self) -> float:
        """``bound / achieved_worst`` (1 when the bound is attained)."""
        return float(self.bound / self.achieved_worst) if self.achieved_worst > 0 else np.inf


def _operator(lm: LayerMemory, x) -> ModalSystem:
    q = lm.queries(x)
    return ModalSystem(lm.memory.s, lm.memory.b[:, None], lm.memory.coefficients(q))


def layer_hsv(layer, queries) -> np.ndarray:
    """Hankel singular values of the layer's operator ``(s, b, c(queries))`` (descending)."""
    from mccc_theory.gramians import hankel_singular_values

    lm = layer if isinstance(layer, LayerMemory) else to_memory(layer)
    return hankel_singular_values(_operator(lm, queries)).significant


def _readout_weights(lm: LayerMemory, q: np.ndarray, C_r: np.ndarray) -> np.ndarray:
    """``W (d_model + 1, r)`` with ``q W = C_r``: the reduced readout as a linear mix.

    Linear mixes reduce exactly for every query (``C_r = q W_c K``, so the caller passes
    ``W_c K`` directly). A softmax mix is not a linear function of the query: the reduced
    readout is solved on the query set and refused unless it is exact there (``Q <= d_model +
    1`` independent queries).
    """
    Qn, d = q.shape
    if np.linalg.matrix_rank(q) < Qn:
        raise MethodError(
            f"queries: a softmax-mix layer reduces to a linear-mix one that reproduces the reduced "
            f"readout on the query set only, which needs independent queries [x, 1] (at most "
            f"d_model + 1 = {d}); found {Qn} queries of rank {np.linalg.matrix_rank(q)}. Pass "
            "fewer queries or use a linear-mix layer")
    W, *_ = np.linalg.lstsq(q, C_r, rcond=None)
    return W


def _reduced_memory(lm, system, method, r, q, rank_by="hsv"):
    """``(ModalMemory, memory_bound, bound_sv_error)`` of the reduced layer (bt, spa, modal)."""
    linear = lm.memory.readout_kind == "linear"
    tap = None
    if method == "modal":
        res = modal_truncation(system, r, rank_by=rank_by)
        K = np.eye(system.m)[:, res.kept]
        s_r, b_r = res.reduced.s, res.reduced.B[:, 0]
        bound, sv_err = res.upper_bound, 0.0
    else:
        if method == "bt":
            res = balanced_truncation(system, r)
            K, F = res.T, None
        else:
            res = singular_perturbation(system, r)
            K, F = res.readout_map, res.feedthrough_map
        red = res.reduced
        lam, V = np.linalg.eig(red.A)
        s_r = np.log(lam.astype(complex))
        b_r = np.linalg.solve(V, red.B)[:, 0]
        K = K @ V
        bound = res.upper_bound
        # each summed value carries ~1e3 k eps sigma_1 (tests/test_reduction_balanced.py)
        sv_err = 2 * res.rank * 1e3 * res.rank * _EPS * res.hsv[0]
        if F is not None:
            tap = F[:, 0]
    Wc = lm.memory.W_c @ K if linear else _readout_weights(lm, q, system.C @ K)
    if tap is not None:  # the feedthrough as a lag-0 mode (b = 1, lambda = exp(-exp(TAP_NU)) = 0)
        wt = lm.memory.W_c @ tap if linear else _readout_weights(lm, q, system.C @ tap[:, None])
        s_r = np.r_[s_r, -np.exp(TAP_NU)]
        b_r = np.r_[b_r, 1.0]
        Wc = np.hstack([Wc, np.reshape(wt, (-1, 1))])
    mem = ModalMemory(s_r, b_r, Wc, readout="linear")
    return mem, float(bound), float(sv_err)


def _real_embedding(system: ModalSystem) -> StateSpace:
    """``h = [Re h; Im h]``: the real 2m-state system whose output is ``Re(C h)``."""
    lr, li = system.lam.real, system.lam.imag
    A = np.block([[np.diag(lr), -np.diag(li)], [np.diag(li), np.diag(lr)]])
    B = np.vstack([system.B.real, system.B.imag])
    C = np.hstack([system.C.real, -system.C.imag])
    return StateSpace(A, B, C)


class ReadOnceLayer(nn.Module):
    """A layer whose stored memory is the read-once compression ``z = P [Re H; Im H]``.

    The encoder is the full layer's (production scan); the memory kept per sequence is ``z``
    (batch, 2r, d_v) real, ``2r`` numbers per value channel instead of ``2m``; the readout is
    ``y = W_o Re(c_r(x)^T z) + b_o`` through the production readout kernel with
    ``c_r(x) = [x, 1] R``. Certified for the query set it was built for (Eckart-Young, T2).
    """

    def __init__(self, full, P, R, W_o, b_o):
        super().__init__()
        self.full = full
        dt = full.nu.dtype
        for name, val in (("P", P), ("R", R), ("W_o", W_o), ("b_o", b_o)):
            self.register_buffer(name, torch.as_tensor(np.ascontiguousarray(val), dtype=dt))

    def encode(self, source):
        """``z = P [Re H; Im H]`` (batch, 2r, d_v) from the full layer's memory."""
        H_re, H_im = self.full.encode(source)
        return torch.matmul(self.P, torch.cat([H_re, H_im], 1))

    def decode(self, x, z):
        """``W_o (([x, 1] R) z) + b_o`` through the readout kernel (linear mix, real planes)."""
        q = torch.cat([x, torch.ones_like(x[..., :1])], -1)
        C = torch.matmul(q, self.R).contiguous()
        y = modal_readout(z.contiguous(), torch.zeros_like(z), C, torch.zeros_like(C),
                          mix="linear", backend=self.full.backend)
        return torch.matmul(y, self.W_o.T) + self.b_o

    def forward(self, x, source):
        return self.decode(x, self.encode(source))


def worst_case_source(error_weights, M) -> np.ndarray:
    """The rank-one source ``u`` (N, d_source) maximising ``||E u_lag M||_F / ||u||_F``.

    ``error_weights`` (Q, N): the error's lag weights; ``M = (W_o W_v)^T``. The maximiser is the
    top right singular vector of ``E`` (in position order: lag ``tau`` is position ``N-1-tau``)
    times the top left singular vector of ``M``; the ratio is ``sigma_1(E) sigma_1(M)``.
    """
    _, _, Vh = np.linalg.svd(error_weights)
    U_m, _, _ = np.linalg.svd(M)
    return np.outer(Vh[0][::-1], U_m[:, 0])


def reduce_layer(layer, order: int, queries, method: str = "bt", *, horizon: int = 64,
                 n_random: int = 4, seed: int = 0, rank_by: str = "hsv"):
    """Reduce a gain-written linear-mix (or softmax-mix) layer to ``order`` modes, certified.

    Parameters
    ----------
    layer : MCCCCrossConditioning
        Gain-written (``write="gain"``), unnormalised; float32 or float64 (the measurement runs
        in the layer's dtype and the allowance follows it).
    order : int in [1, m]
        Complex modes of the reduced memory (read_once: the same storage, ``2 order`` reals).
    queries : (Q, d_model) array
        The decoder positions the certificate covers.
    method : {"bt", "spa", "read_once", "modal"}
        Balanced truncation, singular perturbation (adds a lag-0 tap mode for its feedthrough),
        the read-once projection of the final state (returns a :func:`ReadOnceLayer`), or modal
        truncation by the modal Hankel singular value.
    horizon : int
        Source length of the test inputs and of read_once's finite-horizon Gramian.
    n_random, seed : int
        Random test sources (besides the worst-case one).
    rank_by : {"hsv", "modulus", "dominance"}
        The mode ranking of ``method="modal"`` (:func:`mccc_theory.reduction.mode_scores`).

    Returns
    -------
    (reduced_layer, ReductionCertificate)

    Raises
    ------
    OrderError
        ``order`` outside ``[1, m]`` (or above the operator's numerical rank, or splitting a
        repeated Hankel singular value).
    ShapeError
        ``queries`` not (Q, d_model).
    NonFiniteError
        NaN/inf parameters.
    MethodError
        Unknown method; key-addressed (``write="key"``) or normalised layers (the operator
        depends on the keys / the normaliser is not a linear map of the values); a softmax-mix
        layer with more queries than ``d_model + 1``.

    Notes
    -----
    Error model of ``allowance`` (per unit ``||u||_F``): both layers' outputs carry the kernels'
    rounding, ``~ N eps / (1 - |lambda|)`` relative to the weights' l1 size ``S = max_q sum_i
    |c_i b_i| / (1 - |lambda_i|)`` (THEORY §6), plus (float32) the rounding of the parameters
    themselves, ``eps (1 + |s_i|) / (1 - |lambda_i|)`` relative; allowed 64 times over, times
    ``||W_o W_v||_2``. The bound's Hankel singular values carry ``~1e3 k eps sigma_1`` each.
    Cost: the reduction (``O(m^3)``) plus ``n_random + 1`` forward passes of both layers.
    """
    method = check_choice(method, "method", REDUCTIONS)
    lm = to_memory(layer)
    mem = lm.memory
    if mem.normalize:
        raise MethodError("layer: a normalised layer divides by its realised weight sum, which is "
                          "not a linear map of the values; reduce_layer certifies unnormalised "
                          "layers only")
    m = mem.m
    order = check_positive_int(order, "order", minimum=1, maximum=m)
    horizon = check_positive_int(horizon, "horizon")
    x = lm.queries(queries)[:, :-1]
    q = lm.queries(x)
    system = _operator(lm, x)
    M = (lm.W_o @ lm.W_v).T
    m_norm = float(np.linalg.norm(M, 2))
    from mccc_theory.gramians import hankel_singular_values
    from mccc_theory.reduction import mode_scores

    hsv = hankel_singular_values(system).significant
    hsv_rank = np.argsort(-mode_scores(system, "hsv"), kind="stable")
    modulus_rank = np.argsort(-np.abs(system.lam), kind="stable")
    dtype = layer.nu.dtype
    W_full = mem.lag_weights(q, horizon)
    if method == "read_once":
        real = _real_embedding(system)
        # 2 order reals (the storage of order complex modes); at or past the map's rank the
        # projection is exact, so it stops there
        rank = read_once_projection(real, real.C, horizon, 1).rank
        ro = read_once_projection(real, real.C, horizon, min(2 * order, rank))
        Cm = np.hstack([mem.W_c.real, -mem.W_c.imag])  # q -> [Re c, -Im c] (linear mix)
        R = Cm @ ro.T if mem.readout_kind == "linear" else _readout_weights(lm, q, ro.readout)
        reduced = ReadOnceLayer(layer, ro.P, R, lm.W_o, lm.b_o)
        Pl = (system.lam[:, None] ** np.arange(horizon)[None, :]) * mem.b[:, None]  # lambda^tau b
        W_red = q @ R @ ro.P @ np.vstack([Pl.real, Pl.imag])  # (Q, N), lag order
        memory_bound = ro.error_2
        # sigma from the Gramians: |d sigma| <= d / (sigma + sqrt d), d = 2 n eps ||Wc|| ||Q||
        d = 2 * 2 * m * _EPS * float(np.linalg.norm(W_full, 2)) ** 2
        sv_err = 10 * d / (memory_bound + np.sqrt(d))
        s_red = None
        n_modes = m
    else:
        red_mem, memory_bound, sv_err = _reduced_memory(lm, system, method, order, q, rank_by)
        reduced = from_memory(LayerMemory(red_mem, lm.W_v, lm.W_o, lm.b_o), dtype=dtype,
                              backend=layer.backend)
        W_red = red_mem.lag_weights(q, horizon)
        s_red = red_mem
        n_modes = red_mem.m
    E = W_full - W_red
    rng = np.random.default_rng(seed)
    sources = [rng.standard_normal((horizon, lm.W_v.shape[1])) for _ in range(n_random)]
    worst = worst_case_source(E, M)
    sources.append(worst)
    xs = torch.as_tensor(x, dtype=dtype)[None]
    ratios = []
    with torch.no_grad():
        for u in sources:
            ut = torch.as_tensor(u, dtype=dtype)[None]
            diff = (layer(xs, ut) - reduced(xs, ut))[0].double().numpy()
            ratios.append(float(np.linalg.norm(diff) / np.linalg.norm(u)))
    eps = float(torch.finfo(dtype).eps)

    def scale(mm):
        lam = np.abs(mm.lam)
        c = np.abs(mm.coefficients(q) * mm.b)
        live = lam > 0  # a lag-0 tap (lambda = 0 exactly) stays 0 under parameter rounding
        k = (1 + np.abs(mm.s[live])) / (1 - lam[live])
        return float(np.max(c @ (1 / (1 - lam)))), float(np.max(k, initial=0.0))

    S_f, k_f = scale(mem)
    if s_red is not None:
        S_r, k_r = scale(s_red)
    else:  # read_once: the full encoder, then a 2r x 2m projection and the reduced readout
        S_r, k_r = S_f * float(np.linalg.norm(ro.T, 2) * np.linalg.norm(ro.P, 2)), k_f
    param = max(k_f, k_r) if eps > _EPS else 0.0
    allowance = 64 * eps * (horizon + param) * (S_f + S_r) * m_norm + sv_err * m_norm
    cert = ReductionCertificate(
        method=method, order=order, n_modes=n_modes, bound=memory_bound * m_norm,
        memory_bound=memory_bound, allowance=float(allowance), achieved=max(ratios),
        achieved_worst=ratios[-1], hsv=hsv, hsv_rank=hsv_rank, modulus_rank=modulus_rank,
        horizon=horizon, dtype=str(dtype).replace("torch.", ""),
        details={"error_weights_2": float(np.linalg.norm(E, 2)), "projection_norm": m_norm})
    return reduced, cert
