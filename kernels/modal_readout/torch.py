"""The modal readout for torch: an autograd Function over a Triton core (CUDA) or pure torch.

Same formulas, planes and VJP as :mod:`.reference`; the backend is chosen by the one dispatch
rule, :func:`mccc_kernels.modal_scan.torch.select_backend`, and recorded
(:func:`~mccc_kernels.modal_scan.torch.last_backend`).
"""

from __future__ import annotations

import torch

from mccc_theory.errors import ShapeError

from ..modal_scan.torch import _LAST, select_backend
from ._spec import validate_readout

__all__ = ["modal_readout", "ModalReadoutFunction", "TorchCore"]


class TorchCore:
    """Pure-torch implementation of the three mix primitives of :mod:`.triton`."""

    @staticmethod
    def _w(w, mix):
        return torch.softmax(w, -1) if mix == "softmax" else w

    @staticmethod
    def _zz(za, zb, g_re, g_im):
        return za if g_re is None else g_re[:, None] * za - g_im[:, None] * zb

    @staticmethod
    def mix_forward(w, za, zb=None, g_re=None, g_im=None, *, mix):
        return torch.matmul(TorchCore._w(w, mix), TorchCore._zz(za, zb, g_re, g_im)), None

    @staticmethod
    def mix_backward_w(w, za, zb, g_re, g_im, gy, lse, *, mix):
        ga = torch.matmul(gy, TorchCore._zz(za, zb, g_re, g_im).transpose(1, 2))
        if mix == "linear":
            return ga
        a = torch.softmax(w, -1)
        return a * (ga - (a * ga).sum(-1, keepdim=True))

    @staticmethod
    def mix_backward_z(w, gy, lse, *, mix):
        return torch.matmul(TorchCore._w(w, mix).transpose(1, 2), gy)


def _core(name):
    if name == "triton":
        from . import triton as core
        return core
    return TorchCore


class ModalReadoutFunction(torch.autograd.Function):
    """Autograd Function of the readout; use :func:`modal_readout` (it validates)."""

    @staticmethod
    def forward(ctx, H_re, H_im, C_re, C_im, g_re, g_im, mix, backend):
        inputs = (H_re, H_im, C_re, C_im, g_re, g_im)
        cd = torch.float64 if any(x is not None and x.dtype == torch.float64 for x in inputs) \
            else torch.float32
        Hr, Hi, Cr, Ci, gr, gi = (None if x is None else x.to(cd).contiguous() for x in inputs)
        core = _core(backend)
        if mix == "linear":
            y, lse = core.mix_forward(Cr, Hr, mix=mix)
            y = y - core.mix_forward(Ci, Hi, mix=mix)[0]
        else:
            y, lse = core.mix_forward(Cr, Hr, Hi, gr, gi, mix=mix)
        ctx.save_for_backward(Hr, Hi, Cr, Ci, gr, gi, lse)
        ctx.cfg = (mix, backend, [None if x is None else x.dtype for x in inputs])
        return y

    @staticmethod
    def backward(ctx, gy):
        mix, backend, dtypes = ctx.cfg
        Hr, Hi, Cr, Ci, gr, gi, lse = ctx.saved_tensors
        core = _core(backend)
        gy = gy.to(Hr.dtype).contiguous()
        dgr = dgi = dCi = None
        if mix == "linear":
            dCr = core.mix_backward_w(Cr, Hr, None, None, None, gy, lse, mix=mix)
            dCi = -core.mix_backward_w(Ci, Hi, None, None, None, gy, lse, mix=mix)
            dHr = core.mix_backward_z(Cr, gy, lse, mix=mix)
            dHi = -core.mix_backward_z(Ci, gy, lse, mix=mix)
        else:
            dCr = core.mix_backward_w(Cr, Hr, Hi, gr, gi, gy, lse, mix=mix)
            gZ = core.mix_backward_z(Cr, gy, lse, mix=mix)
            if gr is None:
                dHr, dHi = gZ, torch.zeros_like(gZ)
            else:
                dHr, dHi = gr[:, None] * gZ, -gi[:, None] * gZ
                dgr = torch.einsum("bmv,bmv->m", gZ, Hr)
                dgi = -torch.einsum("bmv,bmv->m", gZ, Hi)
        grads = (dHr, dHi, dCr, dCi, dgr, dgi)
        return (*(None if g is None else g.to(d) for g, d in zip(grads, dtypes, strict=True)),
                None, None)


def modal_readout(H_re, H_im, C_re, C_im=None, *, mix="linear", g_re=None, g_im=None,
                  backend="auto"):
    """Query-dependent readout of the MCCC memory, ``y(q) = Re(c(q)^T H)``.

    Parameters
    ----------
    H_re, H_im : (batch, m, d_v) float32/float64, the memory state (final modal states)
    C_re, C_im : (batch, Q, m). ``mix="linear"``: the complex mix ``c = C``.
        ``mix="softmax"``: ``C_re`` the real mode scores S (``C_im=None``), ``c = softmax(S) g``
    g_re, g_im : (m,), the per-mode gain of the softmax mix (default 1)
    backend : ``"auto"``, ``"torch"`` or ``"triton"`` (the rule of ``select_backend``)

    Returns ``y`` (batch, Q, d_v) in the compute dtype; differentiable in every tensor
    argument. Every check runs before any kernel launches.
    """
    validate_readout(H_re, H_im, C_re, C_im, mix=mix, g_re=g_re, g_im=g_im)
    tensors = [t for t in (H_re, H_im, C_re, C_im, g_re, g_im) if t is not None]
    devices = {t.device for t in tensors}
    if len(devices) != 1:
        raise ShapeError(f"expected every tensor on one device, found {sorted(map(str, devices))}")
    name = select_backend(H_re.device, backend, kernel="modal_readout")
    _LAST["backend"] = name
    return ModalReadoutFunction.apply(H_re, H_im, C_re, C_im, g_re, g_im, mix, name)
