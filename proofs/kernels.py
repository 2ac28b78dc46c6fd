"""Theorems checked THROUGH the production kernels (family ``kernels.<backend>_<name>``).

Every check runs the kernels of one backend -- ``numpy`` (the float64 oracle,
:mod:`mccc_kernels.modal_scan.reference`), ``jax``, ``torch`` (the pure-torch path), ``triton``
(torch tensors on the Triton kernels; on the CPU only under ``TRITON_INTERPRET=1``) or ``numba``
(torch tensors on the compiled CPU scan, :mod:`mccc_kernels.modal_scan.numba`: what
``backend="auto"`` runs for CPU tensors when numba imports; the readout has no numba core, so
its readout is the torch one) -- on Hypothesis-generated systems and compares what the kernels
return with the theory module. The kernels are looked up in ``sys.modules`` at every call, so a
module swapped by :func:`mccc_kernels.certify.swap_modules` (a mutant) is what runs.

Error models (``eps`` the unit roundoff of the precision the kernel computes in; THEORY §6): a
scan state ``h_t`` is accurate to about ``t eps |h|_max`` (chunked powers and one product per
step), a readout to about ``m eps`` relative to ``sum_i |c_i| |h_i|``. Each check allows 64 times
its model. ``mccc prove --backend B`` selects the backends. ``keyed_layer_recall`` runs the
layer's own path (the encode contraction and readout of ``MCCCCrossConditioning`` /
:mod:`mccc_kernels.jax_nn`), registered on :data:`KEYED_BACKENDS` only (see there).
"""

from __future__ import annotations

import functools
import importlib
import os
import sys

import numpy as np
from hypothesis import strategies as st

from mccc_theory.gramians import controllability_gramian, readout_gramian
from mccc_theory.testing.strategies import modal_systems

from .registry import theorem

__all__ = ["BACKENDS", "KEYED_BACKENDS", "available_backends", "scan", "scan_planes", "readout",
           "layer_output", "keyed_layer_read"]

BACKENDS = ("numpy", "jax", "torch", "triton", "numba")
#: the lanes of ``kernels.*_keyed_layer_recall``: the layer has no numba path (its encode is the
#: modal_encode contraction, not a scan, and its readout has no numba core), and its 64,000
#: Triton readouts took 575 s in the CPU interpreter (one Python program instance each);
#: the Triton readout kernel is checked by ``kernels.triton_readout_gramian_through_readout``
KEYED_BACKENDS = ("numpy", "jax", "torch")
_EPS = {"float64": np.finfo(np.float64).eps, "float32": float(np.finfo(np.float32).eps)}


def available_backends() -> tuple[str, ...]:
    """The backends that run here: numpy always; jax and torch when installed; triton when it
    imports and either CUDA is present or ``TRITON_INTERPRET=1`` (the CPU interpreter); numba
    when it and torch are installed."""
    have = ["numpy"]
    for name in ("jax", "torch"):
        if importlib.util.find_spec(name) is not None:
            have.append(name)
    if "torch" in have and importlib.util.find_spec("triton") is not None:
        import torch
        if torch.cuda.is_available() or os.environ.get("TRITON_INTERPRET") == "1":
            have.append("triton")
    if "torch" in have and importlib.util.find_spec("numba") is not None:
        have.append("numba")
    return tuple(have)


def _module(name: str):
    full = f"mccc_kernels.{name}"
    if full not in sys.modules:
        importlib.import_module(full)
    return sys.modules[full]


def _dtypes(backend: str, precision: str) -> str:
    # the NumPy oracle computes in float64 whatever it is given
    return "float64" if backend == "numpy" else precision


def scan_planes(backend, u, s, B, h0=None, *, return_all=True, precision="float64", chunk=16,
                cu_seqlens=None):
    """The modal scan ``h_t = lambda h_{t-1} + B u_t`` on ``backend``: the planes it returns.

    ``u`` (batch, L, p) real, ``s`` (m,) log-eigenvalues (``nu = log(-Re s)``, ``theta = Im s``),
    ``B`` (m, p) complex, ``h0`` (batch, m) complex or None; ``cu_seqlens`` (n_seq + 1,) offsets
    of packed sequences in ``u`` (1, total, p) (``h0`` then (n_seq, m)). Returns the backend's own
    arrays (NumPy, JAX or torch) ``(h_re, h_im)``.
    """
    precision = _dtypes(backend, precision)
    c = np.ascontiguousarray  # the kernels refuse strided views
    args = [c(u), c(np.log(-s.real)), c(s.imag), c(B.real), c(B.imag)]
    h0s = (None, None) if h0 is None else (c(h0.real), c(h0.imag))
    if backend == "numpy":
        return _module("modal_scan.reference").modal_scan(*args, *h0s, return_all=return_all,
                                                          cu_seqlens=cu_seqlens)
    if backend == "jax":
        import jax
        import jax.numpy as jnp
        with jax.enable_x64(precision == "float64"):
            conv = [None if a is None else jnp.asarray(a, precision) for a in args + list(h0s)]
            h = _module("modal_scan.jax").modal_scan(*conv, return_all=return_all,
                                                     method="chunked", chunk=chunk,
                                                     cu_seqlens=cu_seqlens)
            return tuple(jax.block_until_ready(x) for x in h)
    import torch
    dt = getattr(torch, precision)
    conv = [None if a is None else torch.as_tensor(np.require(a, requirements="CW"), dtype=dt)
            for a in args + list(h0s)]
    return _module("modal_scan.torch").modal_scan(*conv, return_all=return_all, method="chunked",
                                                  chunk=chunk, backend=backend,
                                                  cu_seqlens=cu_seqlens)


def _to_numpy(x) -> np.ndarray:
    return x.detach().double().numpy() if hasattr(x, "detach") else np.asarray(x, np.float64)


def _nbytes(x) -> int:
    return x.element_size() * x.numel() if hasattr(x, "element_size") else int(x.nbytes)


def scan(backend, u, s, B, h0=None, *, return_all=True, precision="float64", chunk=16,
         cu_seqlens=None):
    """:func:`scan_planes` as one complex128 NumPy array."""
    h = scan_planes(backend, u, s, B, h0, return_all=return_all, precision=precision, chunk=chunk,
                    cu_seqlens=cu_seqlens)
    return _to_numpy(h[0]) + 1j * _to_numpy(h[1])


def readout(backend, H, C, *, mix="linear", g=None, precision="float64"):
    """``y = Re(c^T H)`` on ``backend``: ``H`` (batch, m, d_v) complex, ``C`` (batch, Q, m)
    complex (linear) or real logits (softmax, with the gain ``g`` (m,) complex)."""
    precision = _dtypes(backend, precision)
    c = np.ascontiguousarray
    args = [c(H.real), c(H.imag), c(np.real(C)), None if mix == "softmax" else c(np.imag(C))]
    kw = {} if g is None else {"g_re": c(g.real), "g_im": c(g.imag)}
    if backend == "numpy":
        return _module("modal_readout.reference").modal_readout(*args, mix=mix, **kw)
    if backend == "jax":
        import jax
        import jax.numpy as jnp
        with jax.enable_x64(precision == "float64"):
            a = [None if x is None else jnp.asarray(x, precision) for x in args]
            k = {n: jnp.asarray(v, precision) for n, v in kw.items()}
            return np.asarray(_module("modal_readout.jax").modal_readout(*a, mix=mix, **k),
                              np.float64)
    import torch
    dt = getattr(torch, precision)
    t = lambda x: None if x is None else torch.as_tensor(np.ascontiguousarray(x), dtype=dt)  # noqa: E731
    y = _module("modal_readout.torch").modal_readout(*map(t, args), mix=mix, backend=backend,
                                                     **{n: t(v) for n, v in kw.items()})
    return y.detach().double().numpy()


def layer_output(backend, lm, x, u, *, precision="float64"):
    """``W_o Re(c([x, 1])^T H) + b_o`` of a :class:`~mccc_kernels.bridge.LayerMemory` through the
    kernels: the scan of the values ``W_v u`` (one channel per value dimension, ``B = b``) and
    the readout. ``x`` (Q, d_model), ``u`` (batch, N, d_source); with ``normalize`` the
    normaliser column (the scan of a constant 1) divides the value columns, as in the layer."""
    mem = lm.memory
    v = u @ lm.W_v.T  # (batch, N, d_v)
    if mem.normalize:
        v = np.concatenate([v, np.ones(v.shape[:2] + (1,))], -1)
    batch, N, dv = v.shape
    uu = np.ascontiguousarray(v.transpose(0, 2, 1).reshape(batch * dv, N, 1))
    h = scan(backend, uu, mem.s, mem.b[:, None], return_all=False, precision=precision)
    H = h.reshape(batch, dv, mem.m).transpose(0, 2, 1)
    q = lm.queries(x)
    logits = q @ mem.W_c
    if mem.readout_kind == "softmax":
        y = readout(backend, H, np.broadcast_to(logits.real, (batch,) + logits.shape), mix="softmax",
                    g=mem.g, precision=precision)
    else:
        y = readout(backend, H, np.broadcast_to(logits, (batch,) + logits.shape),
                    precision=precision)
    if mem.normalize:
        y = y[..., :-1] / y[..., -1:]
    return y @ lm.W_o.T + lm.b_o


def _register(name, *, statement, assumptions, reference, strategy, max_examples=None,
              torch_layer=False, backends=BACKENDS):
    """Register ``check(example, backend)`` once per backend of ``backends`` as
    ``kernels.<backend>_<name>`` (``torch_layer``: the check builds a torch layer or reference
    whatever the backend)."""

    def deco(check):
        for backend in backends:
            req = _REQUIRES[backend] + (("torch",) if torch_layer and backend in ("numpy", "jax")
                                        else ())
            cap = min(max_examples or 8, _CAP[backend])
            theorem(id=f"kernels.{backend}_{name}", statement=statement,
                    assumptions=f"{assumptions}; backend {backend}", reference=reference,
                    strategy=strategy, group="kernels", max_examples=cap,
                    requires=req)(lambda ex, _b=backend: check(ex, _b))
        return check

    return deco


#: examples per theorem: JAX compiles once per new shape and the Triton interpreter runs every
#: program instance in Python, so both draw fewer (every profile; the NumPy oracle and the torch
#: path the most)
_CAP = {"numpy": 8, "torch": 8, "jax": 2, "triton": 3, "numba": 8}
_REQUIRES = {"numpy": (), "jax": ("jax",), "torch": ("torch",), "triton": ("torch", "triton"),
             "numba": ("torch", "numba")}
_PRECISIONS = st.sampled_from(["float64", "float32"])
_SMALL = modal_systems(m=(1, 6), n_inputs=(1, 2), regime=("random", "fast", "conjugate_pairs"))


@_register(
    "gramian_from_impulse_states",
    statement="The finite-horizon Gramian Wc(N) = sum_{k<N} Lambda^k B B^H Lambda^Hk equals the sum "
              "of outer products h_t h_t^H of the kernel's states for impulse inputs (one per "
              "input channel)",
    assumptions="modal systems m <= 6, p <= 2, 1 - |lambda| >= 1e-3, N <= 40 (crosses chunk "
                "boundaries of 16); float64 and float32",
    reference="THEORY §2, §6",
    strategy=lambda: st.tuples(_SMALL, st.integers(1, 40), _PRECISIONS), max_examples=8)
def _gramian_impulse(example, backend):
    system, N, precision = example
    p = system.n_inputs
    u = np.zeros((p, N, p))
    u[np.arange(p), 0, np.arange(p)] = 1.0  # batch j: impulse on input j at t = 1
    h = scan(backend, u, system.s, system.B, precision=precision)  # (p, N, m)
    W_k = np.einsum("btm,btn->mn", h, h.conj())
    W = controllability_gramian(system, N)
    # |delta h_t| <= N eps max|h| per state; the sum of outer products moves by at most
    # 2 N eps (sum_t |h_t|^2)-ish = 2 N eps tr(Wc(N)); the closed form is exact to ~m eps.
    eps = _EPS[_dtypes(backend, precision)]
    tol = 64 * (N + system.m) * eps * max(float(np.trace(W).real), np.finfo(float).tiny)
    return 1 - np.linalg.norm(W_k - W) / tol


@_register(
    "readout_gramian_through_readout",
    statement="The readout Gramian Q_read = sum_q C(q)^H C(q) equals the one built from the "
              "readout kernel applied to the unit states e_i and i e_i (which return Re c_i(q) "
              "and -Im c_i(q)); linear and softmax-over-modes mixes",
    assumptions="m <= 9 modes (not a multiple of the block), Q <= 5 queries; float64 and float32",
    reference="THEORY §2 (read-once decoder), §6",
    strategy=lambda: st.tuples(st.integers(1, 9), st.integers(1, 5), st.integers(0, 2**31),
                               st.sampled_from(["linear", "softmax"]), _PRECISIONS),
    max_examples=8)
def _readout_gramian(example, backend):
    m, Q, seed, mix, precision = example
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal((Q, m)) + (1j * rng.standard_normal((Q, m)) if mix == "linear"
                                            else 0)
    g = rng.standard_normal(m) + 1j * rng.standard_normal(m) if mix == "softmax" else None
    if mix == "softmax":
        z = np.exp(logits.real - logits.real.max(1, keepdims=True))
        C = z / z.sum(1, keepdims=True) * g
    else:
        C = logits
    H = np.concatenate([np.eye(m), 1j * np.eye(m)], 1)[None]  # (1, m, 2m): e_i, then i e_i
    y = readout(backend, H, logits[None], mix=mix, g=g, precision=precision)[0]  # (Q, 2m)
    C_k = y[:, :m] - 1j * y[:, m:]  # y(e_i) = Re c_i, y(i e_i) = -Im c_i
    Qk = readout_gramian(C_k)
    Qt = readout_gramian(C)
    eps = _EPS[_dtypes(backend, precision)]
    scale = float(np.sum(np.abs(C) ** 2))
    # each recovered c_i(q) carries ~m eps |c(q)|_1 (softmax: the normaliser's sum)
    tol = 64 * m * eps * max(scale, np.finfo(float).tiny) * (1 + m)
    return 1 - np.linalg.norm(Qk - Qt) / tol


@_register(
    "streaming_chunks_equal_one_pass",
    statement="Encoding a source in chunks, each continuing from the previous final state (h0), "
              "gives the final state of one pass over the whole source",
    assumptions="modal systems m <= 6, p <= 2, N <= 40 split at two random points; float64, "
                "float32",
    reference="THEORY §0 (streaming), §6",
    strategy=lambda: st.tuples(_SMALL, st.integers(2, 40), st.integers(0, 2**31), _PRECISIONS),
    max_examples=8)
def _streaming(example, backend):
    system, N, seed, precision = example
    rng = np.random.default_rng(seed)
    u = rng.standard_normal((2, N, system.n_inputs))
    cuts = np.sort(rng.integers(1, N, 2)) if N > 2 else np.array([1, 1])
    whole = scan(backend, u, system.s, system.B, return_all=False, precision=precision)
    h = None
    for a, b in ((0, cuts[0]), (cuts[0], cuts[1]), (cuts[1], N)):
        if b > a:
            h = scan(backend, np.ascontiguousarray(u[:, a:b]), system.s, system.B, h0=h,
                     return_all=False, precision=precision)
    eps = _EPS[_dtypes(backend, precision)]
    # both are the same sum in two association orders: N eps relative to sum_t |B u_t|
    mag = float(np.sum(np.abs(system.B) @ np.abs(u).sum(1).T))
    return 1 - np.abs(h - whole).max() / (64 * N * eps * mag)


def _layer(seed: int, m: int, precision: str):
    import torch

    from mccc_kernels.nn import MCCCCrossConditioning

    g = torch.Generator().manual_seed(seed)
    layer = MCCCCrossConditioning(6, n_modes=m, d_source=4, d_value=3, mix="linear", r_min=0.3,
                                  r_max=0.95, generator=g)
    with torch.no_grad():  # gains and phases as training leaves them, not as initialised
        layer.b_im.normal_(generator=g)
        layer.b_re.normal_(generator=g)
    return layer.to(getattr(torch, precision))


def _read_once_output(backend, full_lm, reduced, x, u, precision):
    """The read-once layer through the kernels: full scan, projection, reduced readout."""
    mem = full_lm.memory
    v = u @ full_lm.W_v.T
    batch, N, dv = v.shape
    h = scan(backend, np.ascontiguousarray(v.transpose(0, 2, 1).reshape(batch * dv, N, 1)),
             mem.s, mem.b[:, None], return_all=False, precision=precision)
    H = h.reshape(batch, dv, mem.m).transpose(0, 2, 1)
    z = _to_numpy(reduced.P) @ np.concatenate([H.real, H.imag], 1)
    C = full_lm.queries(x) @ _to_numpy(reduced.R)
    y = readout(backend, z + 0j, np.broadcast_to(C + 0j, (batch,) + C.shape), precision=precision)
    return y @ full_lm.W_o.T + full_lm.b_o


@_register(
    "reduction_certificate",
    statement="reduce_layer(order, queries, method) for bt / spa / read_once / modal: the reduced "
              "layer's output differs from the full layer's by at most (certified bound + "
              "rounding allowance) x ||source||_F, both run through the kernels, on random and "
              "on worst-case (top singular vector) sources",
    assumptions="gain-written linear-mix layers, m in [3, 8], 1 - |lambda| >= 0.05, 3 queries, "
                "source length 24; float64 and float32 (allowance of reduce_layer's error model)",
    reference="THEORY §3 (BT/SPA 2 tail, read-once Eckart-Young), §4-T2/T3, §6",
    strategy=lambda: st.tuples(st.integers(0, 2**31), st.integers(3, 8), st.integers(1, 8),
                               st.sampled_from(["bt", "spa", "read_once", "modal"]), _PRECISIONS),
    max_examples=8, torch_layer=True)
def _reduction_certificate(example, backend):
    from mccc_kernels.bridge import reduce_layer, to_memory, worst_case_source
    from mccc_theory.errors import DefectiveError, OrderError

    seed, m, order, method, precision = example
    precision = _dtypes(backend, precision)
    layer = _layer(seed, m, precision)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((3, 6))
    order = 1 + (order - 1) % m
    try:
        reduced, cert = reduce_layer(layer, order, x, method, horizon=24, n_random=0)
    except (OrderError, DefectiveError):
        # an order above the operator's rank or splitting a repeated value: refused, not
        # certified (the refusal is checked in tests/test_kernels_bridge.py)
        return 1.0
    full = to_memory(layer)
    if method == "read_once":
        def out(u):
            return _read_once_output(backend, full, reduced, x, u, precision)
    else:
        red = to_memory(reduced)

        def out(u):
            return layer_output(backend, red, x, u, precision=precision)
    # the worst case of the error's lag weights, and two random sources
    E = full.memory.lag_weights(full.queries(x), 24) - _weights_of(reduced, method, full, x)
    M = (full.W_o @ full.W_v).T
    sources = [worst_case_source(E, M), *rng.standard_normal((2, 24, 4))]
    worst = 0.0
    for u in sources:
        d = layer_output(backend, full, x, u[None], precision=precision) - out(u[None])
        worst = max(worst, float(np.linalg.norm(d) / np.linalg.norm(u)))
    allowed = cert.bound + cert.allowance
    return 1 - worst / allowed


def _weights_of(reduced, method, full, x):
    """Lag weights (Q, 24) the reduced layer realises (for the worst-case source)."""
    from mccc_kernels.bridge import to_memory

    if method != "read_once":
        red = to_memory(reduced)
        return red.memory.lag_weights(red.queries(x), 24)
    mem = full.memory
    Pl = (mem.lam[:, None] ** np.arange(24)[None, :]) * mem.b[:, None]
    return full.queries(x) @ _to_numpy(reduced.R) @ _to_numpy(reduced.P) @ np.vstack(
        [Pl.real, Pl.imag])


@_register(
    "from_fit_reproduces_fitted_weights",
    statement="fit_modal(weights, order, 'bt') -> from_fit -> the layer through the kernels gives, "
              "for query e_j, sum_tau w_hat_tau(j) u_(N - tau) with w_hat the fit's realised "
              "weights",
    assumptions="weights: 3 queries of a random conjugate-closed 4-mode exponential sum over "
                "N <= 32 lags (1 - |lambda| >= 0.05); orders 1..4; float64 and float32",
    reference="THEORY §4 (T1-T3)",
    strategy=lambda: st.tuples(st.integers(0, 2**31), st.integers(8, 32), st.integers(1, 4),
                               _PRECISIONS),
    max_examples=6, torch_layer=True)
def _from_fit(example, backend):
    from mccc_kernels.bridge import from_fit, to_memory
    from mccc_theory.attention import exponential_sum_weights, fit_modal
    from mccc_theory.errors import DefectiveError, OrderError

    seed, N, order, precision = example
    rng = np.random.default_rng(seed)
    s = -rng.uniform(0.05, 1.0, 2) + 1j * rng.uniform(0.1, 3.0, 2)
    G = rng.standard_normal((3, 2)) + 1j * rng.standard_normal((3, 2))
    W = exponential_sum_weights(np.r_[s, s.conj()], np.c_[G, G.conj()], N)
    try:
        fit = fit_modal(W, order, "bt")
    except (OrderError, DefectiveError):
        return 1.0  # the fit itself refuses (order above the Hankel rank): nothing to initialise
    lm = to_memory(from_fit(fit))
    u = rng.standard_normal((1, N, 1))
    y = layer_output(backend, lm, np.eye(3), u, precision=precision)[0, :, 0]
    want = fit.weights_hat @ u[0, ::-1, 0]
    eps = _EPS[_dtypes(backend, precision)]
    # kernels: N eps relative to sum_tau |w_hat_tau| |u|; float32 parameters: lambda^tau off by
    # tau eps (1 + |s|) relative
    mem = lm.memory
    S = float(np.max(np.abs(mem.W_c[:-1] * mem.b) @ (1 / (1 - np.abs(mem.lam))))) * np.abs(u).max()
    k = float(np.max(1 + np.abs(mem.s))) * N if precision == "float32" else 0.0
    return 1 - np.abs(y - want).max() / (64 * (N + k) * eps * S)


@_register(
    "alibi_equals_sdpa",
    statement="ALiBi softmax attention (bias -slope * lag) equals one mode lambda = e^-slope plus "
              "the normaliser through the kernels, against torch's scaled_dot_product_attention "
              "with the ALiBi bias, at every source length 1..40",
    assumptions="slopes in [2^-8, 1], values of width 3; float64 and float32 kernels against a "
                "float64 reference",
    reference="THEORY §4-T1 (ALiBi = one mode + normaliser)",
    strategy=lambda: st.tuples(st.floats(-8, 0), st.integers(0, 2**31), _PRECISIONS),
    max_examples=5, torch_layer=True)
def _alibi(example, backend):
    import torch

    from mccc_theory.attention import ModalMemory

    log2_slope, seed, precision = example
    slope = 2.0 ** log2_slope
    mem = ModalMemory([-slope + 0j], [1.0], [[1.0], [0.0]], normalize=True)
    rng = np.random.default_rng(seed)
    eps = _EPS[_dtypes(backend, precision)]
    L = 40
    v = rng.standard_normal((L, 3))
    # one scan gives the state after every prefix: source length t is the state h_t (values and
    # the normaliser column), read out by the kernel for all t at once (one compiled shape)
    vv = np.concatenate([v, np.ones((L, 1))], 1)
    h = scan(backend, np.ascontiguousarray(vv.T[:, :, None]), mem.s, mem.b[:, None],
             precision=precision)  # (4, L, 1): channel, prefix length, mode
    H = h.transpose(1, 2, 0)  # (L, 1, 4)
    y = readout(backend, H, np.ones((L, 1, 1)) + 0j, precision=precision)[:, 0]  # (L, 4)
    y = y[:, :3] / y[:, 3:]
    worst = 1.0
    for N in range(1, L + 1):
        lag = torch.arange(N - 1, -1, -1, dtype=torch.float64)
        bias = (-slope * lag)[None, None, :]  # (1, Q = 1, N)
        ref = torch.nn.functional.scaled_dot_product_attention(
            torch.zeros(1, 1, 4, dtype=torch.float64), torch.zeros(1, N, 4, dtype=torch.float64),
            torch.as_tensor(v[None, :N]), attn_mask=bias)[0, 0].numpy()
        # a ratio of two N-term sums, each N eps relative; float32 slope: lambda^tau off by
        # tau eps slope (1 + |log slope|) relative
        tol = 64 * eps * (N + N * slope * (1 + abs(np.log(slope)))) * np.abs(v[:N]).max()
        worst = min(worst, 1 - np.abs(y[N - 1] - ref).max() / tol)
    return worst


@_register(
    "state_bytes_match_kernel_state",
    statement="ModalMemory.state_bytes(d_v, dtype) and KeyedModalMemory.state_size (real numbers "
              "x itemsize) equal the bytes of the final-state planes the scan kernel returns and "
              "keeps (m x d_v complex: two planes)",
    assumptions="m in [1, 16], d_v in [1, 8], source length in [1, 20]; float64 and float32",
    reference="THEORY §0 (memory O(m d_v)); flash-linear-attention PR #1192 (state_size)",
    strategy=lambda: st.tuples(st.integers(1, 16), st.integers(1, 8), st.integers(1, 20),
                               _PRECISIONS),
    max_examples=6)
def _state_bytes(example, backend):
    from mccc_theory.attention import ModalMemory
    from mccc_theory.recall import KeyedModalMemory

    m, dv, N, precision = example
    precision = _dtypes(backend, precision)
    s = -np.linspace(0.05, 1.0, m) + 0.3j
    mem = ModalMemory(s, np.ones(m), np.ones((2, m)))
    u = np.ones((dv, N, 1))  # one channel per value dimension, as the layer runs it
    h = scan_planes(backend, u, s, np.ones((m, 1)) + 0j, return_all=False, precision=precision)
    kept = sum(_nbytes(x) for x in h)
    cdt = np.complex128 if precision == "float64" else np.complex64
    keyed = KeyedModalMemory(tuple(np.log(-s.real)), tuple(s.imag), m)
    claims = (mem.state_bytes(dv, cdt),
              keyed.state_size(m, dv, N) * np.dtype(cdt).itemsize // 2)
    return 1.0 if all(c == kept for c in claims) else -1.0


@_register(
    "packed_equals_per_sequence",
    statement="Packed sequences (cu_seqlens) through the scan kernel give each sequence's states "
              "as if it were scanned alone: the state restarts (from that sequence's h0, or 0) "
              "at every boundary, nothing leaks across, an empty sequence keeps its h0",
    assumptions="modal systems m <= 6, p <= 2; 1 to 4 sequences of lengths 0..20 (crossing chunk "
                "boundaries of 16); all states, or final states from random h0; float64 and "
                "float32",
    reference="THEORY §0 (streaming), §6; flash-attention's varlen convention",
    strategy=lambda: st.tuples(_SMALL, st.lists(st.integers(0, 20), min_size=1, max_size=4),
                               st.integers(0, 2**31), st.booleans(), _PRECISIONS),
    max_examples=8)
def _packed(example, backend):
    system, lengths, seed, return_all, precision = example
    if sum(lengths) == 0:
        lengths = [*lengths[:-1], 1]  # the packed source needs one token
    rng = np.random.default_rng(seed)
    cu = np.concatenate([[0], np.cumsum(lengths)])
    m, p, n = system.m, system.n_inputs, len(lengths)
    u = rng.standard_normal((1, int(cu[-1]), p))
    # final states continue from a random h0 per sequence; all states start from 0
    h0 = None if return_all else rng.standard_normal((n, m)) + 1j * rng.standard_normal((n, m))
    packed = scan(backend, u, system.s, system.B, h0, return_all=return_all, precision=precision,
                  cu_seqlens=cu)
    parts = []
    for k, (a, z) in enumerate(zip(cu[:-1], cu[1:], strict=True)):
        start = None if h0 is None else h0[k:k + 1]
        if z == a:
            if not return_all:
                parts.append(np.zeros(m) if start is None else start[0])
            continue
        alone = scan(backend, np.ascontiguousarray(u[:, a:z]), system.s, system.B, start,
                     return_all=return_all, precision=precision)
        parts.append(alone[0])
    want = np.concatenate(parts)[None] if return_all else np.stack(parts)
    eps = _EPS[_dtypes(backend, precision)]
    # the same recurrence on the same numbers (the packed batch is padded with zeros after
    # each end): rounding of one scan of at most max(lengths) steps, L eps relative to
    # sum_t |B| |u_t| + |h0|; a leak across a boundary is of the size of the state itself
    mag = float(np.abs(system.B).sum() * np.abs(u).max()) * max(lengths) \
        + (0.0 if h0 is None else float(np.abs(h0).max()))
    return 1 - np.abs(packed - want).max() / (64 * max(lengths) * eps * mag)


def keyed_layer_read(backend, memory, keys, values, queries, *, precision="float64"):
    """The key-addressed layer (``write="key"``, identity features, linear mix) that realises
    ``memory`` (a :class:`~mccc_theory.recall.KeyedModalMemory`), run on ``backend``.

    The layer's parameters: ``W_k = sqrt(d/m) P`` (the memory's projection), ``W_v = W_o = I``,
    the readout ``c(q) = lambda (.) (W_k q)`` (the memory reads one step after its last write),
    zero biases; ``keys`` (batch, N, d) address the writes of ``values`` (batch, N, d) and
    ``queries`` (batch, Q, d) are the decoder positions. ``numpy``: the float64 reference
    encode and readout; ``jax``: :func:`mccc_kernels.jax_nn.mccc_cross_conditioning`;
    ``torch``/``triton``: :class:`mccc_kernels.nn.MCCCCrossConditioning` with that backend.
    Returns (batch, Q, d) float64. The layers bind their kernels when their module is imported,
    so a swapped kernel module reaches them only if it is also bound there (as the mutant test
    in ``tests/test_proofs_kernels.py`` does).
    """
    precision = _dtypes(backend, precision)
    P = memory.projection  # (m, d)
    lam = np.exp(memory.s)
    C = lam[:, None] * P  # c(q) = C q
    d = P.shape[1]
    p = {"nu": np.asarray(memory.nu), "theta": np.asarray(memory.theta), "key_w": P,
         "value_w": np.eye(d), "score_w": C.real, "score_b": np.zeros(memory.m),
         "score_im_w": C.imag, "score_im_b": np.zeros(memory.m), "out_w": np.eye(d),
         "out_b": np.zeros(d)}
    if backend == "numpy":
        c = np.ascontiguousarray  # the kernels refuse strided views
        w = c(keys @ P.T)
        H = _module("modal_encode.reference").modal_encode(c(values), p["nu"], p["theta"], w,
                                                           np.zeros_like(w))
        q = queries @ C.T
        return _module("modal_readout.reference").modal_readout(*H, c(q.real), c(q.imag))
    if backend == "jax":
        import jax
        import jax.numpy as jnp
        with jax.enable_x64(precision == "float64"):
            a = lambda x: jnp.asarray(x, precision)  # noqa: E731
            y = _module("jax_nn").mccc_cross_conditioning({k: a(v) for k, v in p.items()},
                                                          a(queries), a(values), keys=a(keys))
            return np.asarray(y, np.float64)
    import torch

    layer = _module("nn").MCCCCrossConditioning(d, n_modes=memory.m, d_source=d, d_value=d,
                                                mix="linear", write="key", backend=backend)
    layer = layer.to(getattr(torch, precision))
    names = {"nu": layer.nu, "theta": layer.theta, "key_w": layer.key.weight,
             "value_w": layer.value.weight, "score_w": layer.score.weight,
             "score_b": layer.score.bias, "score_im_w": layer.score_im.weight,
             "score_im_b": layer.score_im.bias, "out_w": layer.out.weight, "out_b": layer.out.bias}
    t = lambda x: torch.as_tensor(np.ascontiguousarray(x), dtype=getattr(torch, precision))  # noqa: E731
    with torch.no_grad():
        for k, v in names.items():
            v.copy_(t(p[k]))
        return layer(t(queries), t(values), keys=t(keys)).double().numpy()


#: the keyed cell: on THEORY §5's grid (d = 32, N = 2d, V = 2d = 64) with m = d modes, where the
#: predictor's documented accuracy is 0.007 (mccc_theory.capacity.predictors) and recall is
#: mid-range (about 0.77), so a wrong memory cannot pass by saturating at 1
_KEYED_CELL = (32, 64, 64)  # d, N, V
#: the documented accuracy for m = d, and the Monte-Carlo interval (+-0.015) of the run that
#: documented it (1000 trials a cell): the predictor is known to that sum
_KEYED_ACCURACY = 0.007 + 0.015
_KEYED_TRIALS = 1000
_KEYED_ALPHA = 1e-3


@functools.cache
def _keyed_prediction(d: int, N: int, V: int) -> float:
    """The conditional predictor for the cell (seconds of quadrature: computed once a process)."""
    from mccc_theory.capacity import predict_recall
    from mccc_theory.recall import KeyedModalMemory

    return float(predict_recall("modal", d, N, V, s=KeyedModalMemory.default(d, d, N).s))


@_register(
    "keyed_layer_recall",
    statement="The key-addressed layer (write='key') realising KeyedModalMemory reads what "
              "KeyedModalMemory.read computes (to the kernels' rounding), and its recall on the "
              "codebook task with random keys lies within predict_recall's documented accuracy "
              "plus the empirical-Bernstein interval of the measurement",
    assumptions="KeyedModalMemory.default(m = d = 32, horizon N = 64), V = 64 values drawn with "
                "replacement, 1000 trials of 64 queries, interval at alpha = 1e-3; float64 and "
                "float32 layers",
    reference="THEORY §5 (capacity of the modal memory), §6",
    # one seed a lane: each example is already 64,000 Monte-Carlo reads (seconds)
    strategy=lambda: st.tuples(st.integers(0, 2**31), _PRECISIONS),
    max_examples=1, backends=KEYED_BACKENDS)
def _keyed_recall(example, backend):
    from mccc_theory.recall import CodebookTask, KeyedModalMemory
    from mccc_theory.recall.intervals import bernstein_interval

    seed, precision = example
    d, N, V = _KEYED_CELL
    mem = KeyedModalMemory.default(d, d, N)
    batch = CodebookTask(d, N, V).sample(_KEYED_TRIALS, np.random.default_rng(seed))
    y = keyed_layer_read(backend, mem, batch.keys, batch.values, batch.queries,
                         precision=precision)
    ref = mem.read(batch.keys, batch.values, batch.queries, write_times=batch.write_times,
                   query_times=batch.query_times)
    # rounding: the encode sums N terms, the readout m: (N + m) eps relative to the sum of the
    # terms' magnitudes S = sum_i |c_i(q)| sum_t |phi_i(k_t)| |v_t|; float32 adds the rounding
    # of the inputs (a few eps per term) and of (nu, theta), which moves lambda^tau by
    # tau eps |s| (1 + |nu|) relative, tau <= N
    P = mem.projection
    lam = np.exp(mem.s)
    S = np.abs(batch.queries @ (lam[:, None] * P).T) @ (
        np.abs(batch.keys @ P.T).transpose(0, 2, 1) @ np.abs(batch.values))
    eps = _EPS[_dtypes(backend, precision)]
    k = 0.0 if _dtypes(backend, precision) == "float64" else \
        4 + N * float(np.max(np.abs(mem.s) * (1 + np.abs(np.asarray(mem.nu)))))
    read_slack = 1 - float(np.max(np.abs(y - ref) / (64 * (N + mem.m + k) * eps * S)))
    # recall of the layer's reads, one per-trial fraction per trial (its queries share keys and
    # codebook: dependent, so the interval is empirical-Bernstein over trials)
    per_trial = batch.correct(y).mean(axis=1)
    low, high = bernstein_interval(per_trial, _KEYED_ALPHA)
    measured = float(per_trial.mean())
    half = max(measured - low, high - measured)
    gap = abs(measured - _keyed_prediction(d, N, V))
    return min(read_slack, 1 - gap / (_KEYED_ACCURACY + half))
