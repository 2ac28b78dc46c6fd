"""The modal scan compiled for the CPU with numba: fused loops on real/imaginary planes.

Same recurrence, planes and VJP as :mod:`.reference`::

    h_t = lambda h_{t-1} + x_t          (x_t = B u_t, h_0 given)
    G_t = g_t + conj(lambda) G_{t+1}    (the adjoint, G_{L+1} = 0)
    dlambda = sum_{batch, t} G_t conj(h_{t-1})

Each loop is one pass over the data: for every batch row and step it updates all m modes
(the inner loop, contiguous in memory, so LLVM vectorizes it) and, for all states, stores them.
Nothing but the inputs and outputs touches memory, so the forward over all states moves the
bytes of ``x`` in and ``h`` out, the least any scan can (``benchmarks/bench_kernels.py`` reports
the fraction of the measured copy bandwidth).

State precision: float64 inputs run a float64 state; float32 inputs and outputs run a
**float64 state** by default (:data:`STATE_DTYPE`, measured in ``bench_kernels.py``: it costs
little over a float32 state on a bandwidth-bound loop and removes the recurrence's
accumulated rounding near ``|lambda| = 1``). ``lambda`` comes from ``(nu, theta)`` in float64
(``nu = +inf`` gives exactly 0). The ``method`` and ``chunk`` options of the public functions
select pure-torch/Triton algorithms; here every method is the sequential recurrence, the most
accurate (its error model is the ``K = 0`` one, inside every chunked model).

Entry points:

* :func:`modal_scan`, :func:`modal_scan_vjp`: NumPy in, NumPy out (the arguments and results of
  :mod:`.reference`, in the compute dtype), used by :func:`mccc_kernels.scan` on NumPy arrays;
* :func:`forward`, :func:`reverse`, :func:`dlam`: the cores on planes ``x = B u`` (NumPy), and
  :data:`torch_core`, the same three on CPU torch tensors (zero-copy), for the torch autograd
  Function (:mod:`.torch`, backend ``"numba"``).

Compiled once per dtype signature and cached on disk (``cache=True``).
"""

from __future__ import annotations

import numba as nb
import numpy as np

from ._spec import validate_scan

__all__ = ["modal_scan", "modal_scan_vjp", "forward", "forward_u", "reverse", "dlam",
           "torch_core", "STATE_DTYPE", "FUSE_MAX_P"]

#: state dtype for each compute dtype (float32 in/out keeps a float64 state)
STATE_DTYPE = {"float32": np.float64, "float64": np.float64}
#: up to this many inputs p the forward forms ``x = B u`` inside the loop (:func:`forward_u`)
FUSE_MAX_P = 8


@nb.njit(cache=True, nogil=True, inline="always")
def _mul_add(wr, wi, ar, ai, xr, xi):  # pragma: no cover
    """``w a + x`` on split planes: one step of the recurrence ``h_t = lambda h_{t-1} + x_t``."""
    return wr * ar - wi * ai + xr, wr * ai + wi * ar + xi


@nb.njit(cache=True, nogil=True)
def _forward_kernel(x_re, x_im, lr, li, h_re, h_im, o_re, o_im, store_all):  # pragma: no cover
    """h (batch, m) holds h_0 on entry and h_L on exit; o (batch, L, m) gets every state."""
    batch, L, m = x_re.shape
    for b in range(batch):
        for t in range(L):
            for i in range(m):
                nr, ni = _mul_add(lr[i], li[i], h_re[b, i], h_im[b, i], x_re[b, t, i], x_im[b, t, i])
                h_re[b, i] = nr
                h_im[b, i] = ni
                if store_all:
                    o_re[b, t, i] = nr
                    o_im[b, t, i] = ni


@nb.njit(cache=True, nogil=True)
def _forward_u_kernel(u, Bt_re, Bt_im, lr, li, h_re, h_im, o_re, o_im, store_all):  # pragma: no cover
    """:func:`_forward_kernel` with ``x_t = B u_t`` formed per step in a row buffer (``Bt`` is
    B transposed, (p, m); float64 sums), for few inputs: the states are the only large array
    that moves. The state lives in a local copy per batch row (no aliasing with the outputs,
    so the mode loop vectorizes)."""
    batch, L, p = u.shape
    m = Bt_re.shape[1]
    xr = np.empty(m)
    xi = np.empty(m)
    for b in range(batch):
        hr = h_re[b].copy()
        hi = h_im[b].copy()
        for t in range(L):
            u0 = np.float64(u[b, t, 0])
            for i in range(m):
                xr[i] = Bt_re[0, i] * u0
                xi[i] = Bt_im[0, i] * u0
            for j in range(1, p):
                uj = np.float64(u[b, t, j])
                for i in range(m):
                    xr[i] += Bt_re[j, i] * uj
                    xi[i] += Bt_im[j, i] * uj
            for i in range(m):
                hr[i], hi[i] = _mul_add(lr[i], li[i], hr[i], hi[i], xr[i], xi[i])
            if store_all:
                orow = o_re[b, t]
                oirow = o_im[b, t]
                for i in range(m):
                    orow[i] = hr[i]
                    oirow[i] = hi[i]
        h_re[b] = hr
        h_im[b] = hi


@nb.njit(cache=True, nogil=True)
def _reverse_kernel(g_re, g_im, lr, li, a_re, a_im, G_re, G_im):  # pragma: no cover
    """G_t = g_t + conj(lambda) G_{t+1} into G (batch, L, m); g (batch, Lg, m) with Lg = L
    (every state's cotangent) or Lg = 1 (the final state's, injected at t = L - 1).
    a (batch, m) is the zeroed accumulator, in the state dtype."""
    batch, L, m = G_re.shape
    off = L - g_re.shape[1]
    for b in range(batch):
        for t in range(L - 1, -1, -1):
            injected = t >= off  # a final-state cotangent enters at t = L - 1 only
            for i in range(m):
                gr = g_re[b, t - off, i] if injected else 0.0
                gi = g_im[b, t - off, i] if injected else 0.0
                # conj(lambda) G_{t+1} + g_t
                nr, ni = _mul_add(lr[i], -li[i], a_re[b, i], a_im[b, i], gr, gi)
                a_re[b, i] = nr
                a_im[b, i] = ni
                G_re[b, t, i] = nr
                G_im[b, t, i] = ni


@nb.njit(cache=True, nogil=True)
def _dlam_kernel(x_re, x_im, G_re, G_im, lr, li, h_re, h_im, d_re, d_im):  # pragma: no cover
    """d (m,) += sum_{b, t} G_t conj(h_{t-1}), recomputing h from h (batch, m) = h_0."""
    batch, L, m = x_re.shape
    for b in range(batch):
        for t in range(L):
            for i in range(m):
                hr = h_re[b, i]
                hi = h_im[b, i]
                gr = G_re[b, t, i]
                gi = G_im[b, t, i]
                d_re[i] += gr * hr + gi * hi
                d_im[i] += gi * hr - gr * hi
                h_re[b, i], h_im[b, i] = _mul_add(lr[i], li[i], hr, hi, x_re[b, t, i], x_im[b, t, i])


def _lam(nu, theta, dtype):
    """lambda planes in float64 (rounded to ``dtype``); ``nu = +inf`` gives exactly 0."""
    nu = np.asarray(nu, np.float64)
    theta = np.asarray(theta, np.float64)
    with np.errstate(over="ignore"):
        r = np.exp(-np.exp(nu))
    return (r * np.cos(theta)).astype(dtype), (r * np.sin(theta)).astype(dtype)


def _state(h0_re, h0_im, batch, m, dtype):
    if h0_re is None:
        return np.zeros((batch, m), dtype), np.zeros((batch, m), dtype)
    return np.array(h0_re, dtype=dtype), np.array(h0_im, dtype=dtype)


def forward(x_re, x_im, nu, theta, h0_re, h0_im, *, return_all, method=None, chunk=None,
            state_dtype=None, out=None):
    """States from planes ``x = B u`` (batch, L, m) in their dtype (float32 or float64).

    Returns every state (batch, L, m) or the final one (batch, m). ``method`` and ``chunk`` are
    accepted for the common core signature and ignored (module docstring); ``state_dtype``
    overrides :data:`STATE_DTYPE` (the benchmark measures a float32 state with it); ``out``, a
    pair of C-contiguous (batch, L, m) planes of the dtype of ``x``, receives every state
    (``return_all=True`` only; the benchmark writes into the same buffers each call).
    """
    io = x_re.dtype
    sd = state_dtype or STATE_DTYPE[io.name]
    batch, L, m = x_re.shape
    lr, li = _lam(nu, theta, sd)
    h_re, h_im = _state(h0_re, h0_im, batch, m, sd)
    if return_all:
        o_re, o_im = out if out is not None else (np.empty((batch, L, m), io),
                                                  np.empty((batch, L, m), io))
    else:  # never written: a 1-element stand-in keeps one compiled signature per dtype
        o_re = o_im = np.empty((1, 1, 1), io)
    _forward_kernel(x_re, x_im, lr, li, h_re, h_im, o_re, o_im, return_all)
    if return_all:
        return o_re, o_im
    return h_re.astype(io, copy=False), h_im.astype(io, copy=False)


def forward_u(u, B_re, B_im, nu, theta, h0_re, h0_im, *, return_all, state_dtype=None,
              out=None):
    """States straight from ``u`` (batch, L, p) and ``B`` (m, p), ``x = B u`` formed in the loop
    (no (batch, L, m) intermediate); the results of :func:`forward` on ``x``. Used for
    ``p <= FUSE_MAX_P`` (beyond that one BLAS product and :func:`forward` are faster); ``out``
    as in :func:`forward`."""
    io = np.result_type(u.dtype, B_re.dtype)
    sd = state_dtype or STATE_DTYPE[io.name]
    batch, L, _ = u.shape
    m = B_re.shape[0]
    lr, li = _lam(nu, theta, sd)
    h_re, h_im = _state(h0_re, h0_im, batch, m, sd)
    if return_all:
        o_re, o_im = out if out is not None else (np.empty((batch, L, m), io),
                                                  np.empty((batch, L, m), io))
    else:
        o_re = o_im = np.empty((1, 1, 1), io)
    Bt_re = np.ascontiguousarray(np.asarray(B_re, np.float64).T)
    Bt_im = np.ascontiguousarray(np.asarray(B_im, np.float64).T)
    _forward_u_kernel(u, Bt_re, Bt_im, lr, li, h_re, h_im, o_re, o_im, return_all)
    if return_all:
        return o_re, o_im
    return h_re.astype(io, copy=False), h_im.astype(io, copy=False)


def reverse(g_re, g_im, nu, theta, *, L, return_all, method=None, chunk=None, state_dtype=None):
    """Adjoint states ``G_t = g_t + conj(lambda) G_{t+1}`` (batch, L, m), dtype of ``g``."""
    io = g_re.dtype
    sd = state_dtype or STATE_DTYPE[io.name]
    batch, m = g_re.shape[0], g_re.shape[-1]
    if not return_all:
        g_re, g_im = g_re[:, None], g_im[:, None]
    lr, li = _lam(nu, theta, sd)
    a_re, a_im = np.zeros((batch, m), sd), np.zeros((batch, m), sd)
    G_re = np.empty((batch, L, m), io)
    G_im = np.empty((batch, L, m), io)
    _reverse_kernel(g_re, g_im, lr, li, a_re, a_im, G_re, G_im)
    return G_re, G_im


def dlam(x_re, x_im, G_re, G_im, nu, theta, h0_re, h0_im, *, method=None, chunk=None,
         state_dtype=None):
    """``sum_{batch, t} G_t conj(h_{t-1})`` as planes (m,) in the dtype of ``x``; the states are
    recomputed on the fly (float64 state and float64 sums)."""
    io = x_re.dtype
    batch, _, m = x_re.shape
    lr, li = _lam(nu, theta, np.float64)
    h_re, h_im = _state(h0_re, h0_im, batch, m, np.float64)
    d_re, d_im = np.zeros(m), np.zeros(m)
    _dlam_kernel(x_re, x_im, G_re, G_im, lr, li, h_re, h_im, d_re, d_im)
    return d_re.astype(io), d_im.astype(io)


class _TorchCore:
    """:func:`forward`, :func:`reverse`, :func:`dlam` on CPU torch tensors (zero-copy views)."""

    @staticmethod
    def _np(x):
        return None if x is None else x.detach().numpy()

    @staticmethod
    def forward(x_re, x_im, nu, theta, h0_re, h0_im, *, return_all, method, chunk):
        import torch
        n = _TorchCore._np
        out = forward(n(x_re), n(x_im), n(nu), n(theta), n(h0_re), n(h0_im),
                      return_all=return_all)
        return tuple(torch.from_numpy(o) for o in out)

    FUSE_MAX_P = FUSE_MAX_P

    @staticmethod
    def forward_u(u, B_re, B_im, nu, theta, h0_re, h0_im, *, return_all):
        import torch
        n = _TorchCore._np
        out = forward_u(n(u), n(B_re), n(B_im), n(nu), n(theta), n(h0_re), n(h0_im),
                        return_all=return_all)
        return tuple(torch.from_numpy(o) for o in out)

    @staticmethod
    def reverse(g_re, g_im, nu, theta, *, L, return_all, method, chunk):
        import torch
        n = _TorchCore._np
        out = reverse(n(g_re), n(g_im), n(nu), n(theta), L=L, return_all=return_all)
        return tuple(torch.from_numpy(o) for o in out)

    @staticmethod
    def dlam(x_re, x_im, G_re, G_im, nu, theta, h0_re, h0_im, *, method, chunk):
        import torch
        n = _TorchCore._np
        out = dlam(n(x_re), n(x_im), n(G_re), n(G_im), n(nu), n(theta), n(h0_re), n(h0_im))
        return tuple(torch.from_numpy(o) for o in out)


#: the cores on CPU torch tensors (the torch autograd Function's ``"numba"`` backend)
torch_core = _TorchCore


def _inputs(u, nu, theta, B_re, B_im, h0_re, h0_im, spec):
    cd = np.dtype(spec.compute)
    uc = np.asarray(u, dtype=cd)  # float16 inputs are widened exactly
    Br, Bi = np.asarray(B_re, cd), np.asarray(B_im, cd)
    x_re = np.ascontiguousarray(uc @ Br.T)
    x_im = np.ascontiguousarray(uc @ Bi.T)
    h0 = (None, None) if h0_re is None else (np.asarray(h0_re, cd), np.asarray(h0_im, cd))
    return uc, Br, Bi, x_re, x_im, h0


def modal_scan(u, nu, theta, B_re, B_im, h0_re=None, h0_im=None, *, return_all=True,
               method="chunked", chunk=16):
    """Modal scan ``h_t = lambda h_{t-1} + B u_t`` on NumPy arrays, compiled.

    Arguments as :func:`mccc_kernels.modal_scan.reference.modal_scan` (``method`` and ``chunk``
    are validated and otherwise ignored: the sequential recurrence always runs).

    Returns
    -------
    h_re, h_im : ndarray
        Every state (batch, L, m) or the final one (batch, m), in the compute dtype (float64 if
        any input is float64, else float32; the state is float64 either way).

    Notes
    -----
    One fused pass over time, ``O(batch L m p)`` flops: for ``p <= FUSE_MAX_P`` inputs ``x = B u``
    is formed inside the loop, so only ``u`` is read and ``h`` written; for more inputs one BLAS
    product per plane forms ``x`` first, which the loop then reads.
    """
    spec = validate_scan(u, nu, theta, B_re, B_im, h0_re, h0_im, return_all=return_all,
                         method=method, chunk=chunk)
    if spec.p <= FUSE_MAX_P:
        cd = np.dtype(spec.compute)
        h0 = (None, None) if h0_re is None else (np.asarray(h0_re, cd), np.asarray(h0_im, cd))
        return forward_u(np.asarray(u, cd), np.asarray(B_re, cd), np.asarray(B_im, cd), nu, theta,
                         *h0, return_all=return_all)
    _, _, _, x_re, x_im, h0 = _inputs(u, nu, theta, B_re, B_im, h0_re, h0_im, spec)
    return forward(x_re, x_im, nu, theta, *h0, return_all=return_all)


def modal_scan_vjp(u, nu, theta, B_re, B_im, h0_re, h0_im, g_re, g_im, *, return_all=True,
                   method="chunked", chunk=16):
    """Gradients of ``sum(g_re * h_re + g_im * h_im)``, compiled; the dict of
    :func:`mccc_kernels.modal_scan.reference.modal_scan_vjp` in the compute dtype."""
    spec = validate_scan(u, nu, theta, B_re, B_im, h0_re, h0_im, return_all=return_all,
                         method=method, chunk=chunk)
    cd = np.dtype(spec.compute)
    uc, Br, Bi, x_re, x_im, h0 = _inputs(u, nu, theta, B_re, B_im, h0_re, h0_im, spec)
    g_re = np.ascontiguousarray(g_re, dtype=cd)
    g_im = np.ascontiguousarray(g_im, dtype=cd)
    G_re, G_im = reverse(g_re, g_im, nu, theta, L=spec.L, return_all=return_all)
    d_re, d_im = dlam(x_re, x_im, G_re, G_im, nu, theta, *h0)
    nu64 = np.asarray(nu, np.float64)
    with np.errstate(over="ignore"):
        rate = np.exp(nu64)
        r = np.exp(-rate)
    lr, li = r * np.cos(np.asarray(theta, np.float64)), r * np.sin(np.asarray(theta, np.float64))
    proj = d_re * lr + d_im * li  # Re(conj(dlambda) lambda)
    with np.errstate(invalid="ignore"):
        dnu = np.where(r == 0, 0.0, -rate * proj)
    dtheta = d_im * lr - d_re * li
    G0r, G0i = G_re[:, 0].astype(np.float64), G_im[:, 0].astype(np.float64)
    return {"u": G_re @ Br + G_im @ Bi, "nu": dnu.astype(cd), "theta": dtheta.astype(cd),
            "B_re": np.einsum("btm,btp->mp", G_re, uc), "B_im": np.einsum("btm,btp->mp", G_im, uc),
            "h0_re": (lr * G0r + li * G0i).astype(cd), "h0_im": (lr * G0i - li * G0r).astype(cd)}
