"""The modal scan for torch: an autograd Function over a Triton core (CUDA), a compiled numba
core (CPU) or a pure-torch core.

Same recurrence, planes and VJP as :mod:`.reference`. :func:`modal_scan` validates, picks the
backend by :func:`select_backend` (the one dispatch rule) and records it (:func:`last_backend`).

Gradients flow to ``u``, ``nu``, ``theta``, ``B_re``, ``B_im``, ``h0_re``, ``h0_im``, from the
cotangent of every returned state or of the final state alone. The backward is the reverse scan
with ``conj(lambda)`` plus one forward recompute of the states for ``dlambda`` (no state is kept
for the final-state variant, so memory stays O(batch * m) there besides ``du``).

Pure-torch core (CPU, and any device without Triton): ``sequential`` is a step loop over t;
``chunked`` runs the K steps of every chunk at once (vectorised over chunks, zero carry), then
carries the state from chunk to chunk and adds it with exact powers ``lambda^(j+1) =
exp(-(j+1) exp(nu)) e^{i (j+1) theta}`` (from the log-eigenvalue, never by repeated
multiplication): K + L/K Python steps instead of L.
"""

from __future__ import annotations

import importlib
import os

import torch

from mccc_theory.errors import BackendUnavailableError
from mccc_theory.validation import check_choice

from ._spec import validate_scan

__all__ = ["modal_scan", "select_backend", "last_backend", "TorchCore", "ModalScanFunction"]

BACKENDS = ("auto", "torch", "triton", "numba")
_LAST = {"backend": None}

_DTYPES = {"float32": torch.float32, "float64": torch.float64}


def select_backend(device, backend: str = "auto", *, kernel: str = "modal_scan") -> str:
    """The dispatch rule, shared by the scan, the readout and the module.

    * ``"auto"``: ``"triton"`` when the tensors are on a CUDA device and Triton imports; on the
      CPU ``"numba"`` for the scan when numba imports (the compiled core, :mod:`.numba`);
      otherwise ``"torch"`` (the pure-torch path, every device).
    * ``"triton"``: on CUDA, or on CPU when ``TRITON_INTERPRET=1`` was set before Triton was
      imported (the interpreter: correct, slow, meant for tests); otherwise
      :class:`~mccc_theory.BackendUnavailableError`.
    * ``"numba"``: the scan on CPU tensors when numba imports; otherwise
      :class:`~mccc_theory.BackendUnavailableError`.
    * ``"torch"``: always.

    The readout (``kernel="modal_readout"``) is a pair of batched GEMMs that torch already runs
    compiled, so it has no numba core: on the CPU both ``"auto"`` and ``"numba"`` give
    ``"torch"`` for it (so one ``backend`` option serves a whole layer).
    """
    check_choice(backend, "backend", BACKENDS)
    device = torch.device(device)
    if backend == "torch":
        return "torch"
    if backend == "numba" or (backend == "auto" and device.type == "cpu"):
        if device.type != "cpu":
            raise BackendUnavailableError(
                f"backend='numba' on device {device.type!r}: the numba core runs on CPU "
                "tensors; use backend='auto' (Triton on CUDA) or 'torch'")
        if kernel != "modal_scan":
            return "torch"
        if _importable("numba"):
            return "numba"
        if backend == "auto":
            return "torch"
        raise BackendUnavailableError("backend='numba': numba is not installed (pip install "
                                      "'mccc-theory[numba]'); use backend='auto' or 'torch'")
    has_triton = _importable("triton")
    if backend == "auto":
        return "triton" if device.type == "cuda" and has_triton else "torch"
    if not has_triton:
        raise BackendUnavailableError("backend='triton': triton is not installed "
                                      "(pip install 'mccc-theory[triton]')")
    if device.type == "cuda" or os.environ.get("TRITON_INTERPRET") == "1":
        return "triton"
    raise BackendUnavailableError(
        f"backend='triton' on device {device.type!r}: Triton kernels need a CUDA device, or "
        "TRITON_INTERPRET=1 set before triton is imported (CPU interpreter); use "
        "backend='torch' or 'auto' for the pure-torch path")


def last_backend() -> str | None:
    """Name of the backend that ran the most recent torch call (``"torch"``, ``"triton"`` or
    ``"numba"``)."""
    return _LAST["backend"]


def _importable(module: str) -> bool:
    """Whether ``module`` (an optional backend: ``"triton"``, ``"numba"``) imports here."""
    try:
        importlib.import_module(module)
    except Exception:
        return False
    return True


def _core(name: str):
    if name == "triton":
        from . import triton as core
        return core
    if name == "numba":
        from .numba import torch_core
        return torch_core
    return TorchCore


def _lam(nu, theta):
    """(rate, r, lam_re, lam_im) with rate = exp(nu), r = |lambda| (0 where nu = +inf)."""
    rate = torch.exp(nu)
    r = torch.exp(-rate)
    return rate, r, r * torch.cos(theta), r * torch.sin(theta)


def _powers(k, rate, theta):
    """``lambda^k`` planes for integer tensor ``k`` (broadcast against modes); exactly 1 at k=0."""
    kf = k.to(rate.dtype)
    mag = torch.where(k == 0, torch.ones((), dtype=rate.dtype, device=rate.device),
                      torch.exp(-kf * rate))
    ang = kf * theta
    return mag * torch.cos(ang), mag * torch.sin(ang)


class TorchCore:
    """Pure-torch scan core on planes in the compute dtype (any device)."""

    @staticmethod
    def forward(x_re, x_im, nu, theta, h0_re, h0_im, *, return_all, method, chunk):
        if method == "chunked":
            return TorchCore._chunked(x_re, x_im, nu, theta, h0_re, h0_im, return_all, chunk)
        _, _, lr, li = _lam(nu, theta)
        batch, L, m = x_re.shape
        h_re = x_re.new_zeros(batch, m) if h0_re is None else h0_re
        h_im = x_re.new_zeros(batch, m) if h0_im is None else h0_im
        outs_re, outs_im = [], []
        for t in range(L):
            h_re, h_im = lr * h_re - li * h_im + x_re[:, t], lr * h_im + li * h_re + x_im[:, t]
            if return_all:
                outs_re.append(h_re)
                outs_im.append(h_im)
        if return_all:
            return torch.stack(outs_re, 1), torch.stack(outs_im, 1)
        return h_re, h_im

    @staticmethod
    def _chunked(x_re, x_im, nu, theta, h0_re, h0_im, return_all, K):
        batch, L, m = x_re.shape
        rate = torch.exp(nu)
        n_chunks = -(-L // K)
        pad = n_chunks * K - L
        if pad:
            x_re = torch.nn.functional.pad(x_re, (0, 0, 0, pad))
            x_im = torch.nn.functional.pad(x_im, (0, 0, 0, pad))
        xr = x_re.reshape(batch, n_chunks, K, m)
        xi = x_im.reshape(batch, n_chunks, K, m)
        # zero-carry states of every chunk at once: K steps of the recurrence, vectorised over
        # the chunks (O(L m) work; the powers of the carry below are exact)
        _, _, lr, li = _lam(nu, theta)
        h_re = x_re.new_zeros(batch, n_chunks, m)
        h_im = x_re.new_zeros(batch, n_chunks, m)
        rows_re, rows_im = [], []
        for k in range(K):
            h_re, h_im = lr * h_re - li * h_im + xr[:, :, k], lr * h_im + li * h_re + xi[:, :, k]
            rows_re.append(h_re)
            rows_im.append(h_im)
        loc_re = torch.stack(rows_re, 2)
        loc_im = torch.stack(rows_im, 2)
        j = torch.arange(K, device=x_re.device)
        W_re, W_im = _powers((j + 1)[:, None], rate, theta)  # lambda^(j+1), (K, m)
        c_re = x_re.new_zeros(batch, m) if h0_re is None else h0_re
        c_im = x_re.new_zeros(batch, m) if h0_im is None else h0_im
        carries_re, carries_im = [], []
        for c in range(n_chunks):
            carries_re.append(c_re)
            carries_im.append(c_im)
            c_re, c_im = (loc_re[:, c, K - 1] + W_re[K - 1] * c_re - W_im[K - 1] * c_im,
                          loc_im[:, c, K - 1] + W_re[K - 1] * c_im + W_im[K - 1] * c_re)
        Cr = torch.stack(carries_re, 1)[:, :, None, :]
        Ci = torch.stack(carries_im, 1)[:, :, None, :]
        H_re = (loc_re + W_re * Cr - W_im * Ci).reshape(batch, n_chunks * K, m)[:, :L]
        H_im = (loc_im + W_re * Ci + W_im * Cr).reshape(batch, n_chunks * K, m)[:, :L]
        if return_all:
            return H_re.contiguous(), H_im.contiguous()
        return H_re[:, L - 1].contiguous(), H_im[:, L - 1].contiguous()

    @staticmethod
    def reverse(g_re, g_im, nu, theta, *, L, return_all, method, chunk):
        """Adjoint states G_t = g_t + conj(lambda) G_{t+1}, shape (batch, L, m)."""
        if not return_all:  # G_t = conj(lambda)^(L-1-t) g_L: exact powers, no recurrence
            k = torch.arange(L - 1, -1, -1, device=g_re.device)[:, None]
            P_re, P_im = _powers(k, torch.exp(nu), -theta)
            G_re = P_re * g_re[:, None] - P_im * g_im[:, None]
            G_im = P_re * g_im[:, None] + P_im * g_re[:, None]
            return G_re, G_im
        G_re, G_im = TorchCore.forward(g_re.flip(1), g_im.flip(1), nu, -theta, None, None,
                                       return_all=True, method=method, chunk=chunk)
        return G_re.flip(1), G_im.flip(1)

    @staticmethod
    def dlam(x_re, x_im, G_re, G_im, nu, theta, h0_re, h0_im, *, method, chunk, states=None):
        """dlambda = sum over batch and t of G_t conj(h_{t-1}); planes of shape (m,)."""
        if states is None:
            states = TorchCore.forward(x_re, x_im, nu, theta, h0_re, h0_im, return_all=True,
                                       method=method, chunk=chunk)
        H_re, H_im = states
        batch, _, m = H_re.shape
        z = H_re.new_zeros(batch, 1, m)
        p_re = torch.cat([z if h0_re is None else h0_re[:, None], H_re[:, :-1]], 1)
        p_im = torch.cat([z if h0_im is None else h0_im[:, None], H_im[:, :-1]], 1)
        d_re = (G_re * p_re + G_im * p_im).sum((0, 1))
        d_im = (G_im * p_re - G_re * p_im).sum((0, 1))
        return d_re, d_im


class ModalScanFunction(torch.autograd.Function):
    """``torch.autograd.Function`` of the modal scan; use :func:`modal_scan` (it validates)."""

    @staticmethod
    def forward(ctx, u, nu, theta, B_re, B_im, h0_re, h0_im, return_all, method, chunk, backend):
        cd = _DTYPES["float64" if torch.float64 in (u.dtype, B_re.dtype, nu.dtype) or (
            h0_re is not None and h0_re.dtype == torch.float64) else "float32"]
        core = _core(backend)
        uc = u.to(cd)
        nuc, thc = nu.to(cd), theta.to(cd)
        h0r = None if h0_re is None else h0_re.to(cd).contiguous()
        h0i = None if h0_im is None else h0_im.to(cd).contiguous()
        if u.shape[-1] <= getattr(core, "FUSE_MAX_P", 0):  # the core forms x = B u itself
            h_re, h_im = core.forward_u(uc.contiguous(), B_re.to(cd).contiguous(),
                                        B_im.to(cd).contiguous(), nuc, thc, h0r, h0i,
                                        return_all=return_all)
        else:
            x_re = torch.matmul(uc, B_re.to(cd).t()).contiguous()
            x_im = torch.matmul(uc, B_im.to(cd).t()).contiguous()
            h_re, h_im = core.forward(x_re, x_im, nuc, thc, h0r, h0i, return_all=return_all,
                                      method=method, chunk=chunk)
        keep_states = return_all and backend == "torch"
        saved = (u, nu, theta, B_re, B_im, h0r, h0i) + ((h_re, h_im) if keep_states else ())
        ctx.save_for_backward(*saved)
        ctx.cfg = (return_all, method, chunk, backend, cd, keep_states,
                   None if h0_re is None else (h0_re.dtype, h0_im.dtype))
        return h_re, h_im

    @staticmethod
    def backward(ctx, g_re, g_im):
        return_all, method, chunk, backend, cd, keep_states, h0_dtypes = ctx.cfg
        u, nu, theta, B_re, B_im, h0r, h0i, *states = ctx.saved_tensors
        core = _core(backend)
        uc = u.to(cd)
        nuc, thc = nu.to(cd), theta.to(cd)
        Br, Bi = B_re.to(cd), B_im.to(cd)
        batch, L, _ = u.shape
        m = nu.shape[0]
        shape = (batch, L, m) if return_all else (batch, m)
        g_re = u.new_zeros(shape, dtype=cd) if g_re is None else g_re.to(cd).contiguous()
        g_im = u.new_zeros(shape, dtype=cd) if g_im is None else g_im.to(cd).contiguous()
        G_re, G_im = core.reverse(g_re, g_im, nuc, thc, L=L, return_all=return_all,
                                  method=method, chunk=chunk)
        rate, r, lr, li = _lam(nuc, thc)
        need_lam = ctx.needs_input_grad[1] or ctx.needs_input_grad[2]
        dnu = dtheta = None
        if need_lam:
            x_re = x_im = None
            if not keep_states:
                x_re = torch.matmul(uc, Br.t()).contiguous()
                x_im = torch.matmul(uc, Bi.t()).contiguous()
            dl_re, dl_im = core.dlam(x_re, x_im, G_re, G_im, nuc, thc, h0r, h0i, method=method,
                                     chunk=chunk, **({"states": tuple(states)} if keep_states
                                                     else {}))
            proj = dl_re * lr + dl_im * li  # Re(conj(dlambda) lambda)
            dnu = torch.where(r == 0, torch.zeros_like(rate), -rate * proj).to(nu.dtype)
            dtheta = (dl_im * lr - dl_re * li).to(theta.dtype)
        du = (torch.matmul(G_re, Br) + torch.matmul(G_im, Bi)).to(u.dtype)
        dB_re = torch.einsum("btm,btp->mp", G_re, uc).to(B_re.dtype)
        dB_im = torch.einsum("btm,btp->mp", G_im, uc).to(B_im.dtype)
        dh0_re = dh0_im = None
        if h0_dtypes is not None:
            dh0_re = (lr * G_re[:, 0] + li * G_im[:, 0]).to(h0_dtypes[0])
            dh0_im = (lr * G_im[:, 0] - li * G_re[:, 0]).to(h0_dtypes[1])
        return du, dnu, dtheta, dB_re, dB_im, dh0_re, dh0_im, None, None, None, None


def modal_scan(u, nu, theta, B_re, B_im, h0_re=None, h0_im=None, *, return_all=True,
               method="chunked", chunk=16, backend="auto", cu_seqlens=None):
    """Modal scan on torch tensors; differentiable in every tensor argument.

    Parameters
    ----------
    u : (batch, L, p) float32/float64/bfloat16/float16 tensor, C-contiguous
    nu, theta : (m,) float32/float64, ``lambda = exp(-exp(nu) + i theta)``
    B_re, B_im : (m, p) float32/float64
    h0_re, h0_im : (batch, m), optional initial state (both or neither)
    return_all : every state (batch, L, m) or only the final one (batch, m)
    method : ``"chunked"`` (default) or ``"sequential"``; chunk : power of two (the numba
        backend always runs the sequential recurrence, see :mod:`.numba`)
    backend : ``"auto"``, ``"torch"``, ``"triton"`` or ``"numba"`` (see :func:`select_backend`)
    cu_seqlens : (n_seq + 1,) int offsets of packed sequences in ``u`` (1, total, p), the
        flash-attention varlen convention; the state restarts (from its ``h0`` row, shape
        (n_seq, m), or 0) at each boundary. Returns (1, total, m) or (n_seq, m). The sequences
        are gathered exactly into a right-padded batch and back (memory n_seq * max_len).

    Returns ``(h_re, h_im)`` in the compute dtype (float64 if any input is, else float32).
    Every check runs before any kernel launches.
    """
    spec = validate_scan(u, nu, theta, B_re, B_im, h0_re, h0_im, return_all=return_all,
                         method=method, chunk=chunk, cu_seqlens=cu_seqlens)
    tensors = [t for t in (u, nu, theta, B_re, B_im, h0_re, h0_im) if t is not None]
    devices = {t.device for t in tensors}
    if len(devices) != 1:
        from mccc_theory.errors import ShapeError
        raise ShapeError(f"expected every tensor on one device, found {sorted(map(str, devices))}")
    name = select_backend(u.device, backend)
    _LAST["backend"] = name
    if spec.cu is not None:
        from .._common import scan_packed
        return scan_packed(
            lambda up, a, b: ModalScanFunction.apply(up, nu, theta, B_re, B_im, a, b, True,
                                                     method, chunk, name),
            u, h0_re, h0_im, spec.cu, return_all, lambda x: torch.as_tensor(x, device=u.device))
    return ModalScanFunction.apply(u, nu, theta, B_re, B_im, h0_re, h0_im, return_all, method,
                                   chunk, name)
