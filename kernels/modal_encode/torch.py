"""The final-state encode for torch: an autograd Function of chunked contractions (any device).

Same formulas, planes and VJP as :mod:`.reference`. For each block of ``chunk`` tokens the
powers ``lambda^(e_t) = exp(-e_t exp(nu)) e^{i e_t theta}`` are formed in float64 from the
log-eigenvalue (exact integer exponents, never repeated multiplication), multiplied by the gain
and mask, and contracted with the values::

    H_re += P_re^T V,    H_im += P_im^T V          (two GEMMs per block)

The backward recomputes each block's powers (nothing of size N is saved besides the inputs)
and is contractions too: ``dV = P_re G_re + P_im G_im``, ``W = V G^T`` (the gradient of P),
then ``db = conj(lambda^e) W`` and ``sigma = sum e conj(P) W`` for ``dnu``, ``dtheta``.

Precision (``accumulate``): ``"auto"`` sums in float64 on the CPU (issue 16: float32 in and
out with a float64 state costs 1.3-1.7x pure float32 and is 100-4000x more accurate) and for
float64 inputs, and in float32 on CUDA with float32 inputs (the powers are float64 there too).
The float32 sum assumes TF32 matmuls are off (torch's default,
``torch.backends.cuda.matmul.allow_tf32 = False``); the error model is in :mod:`.reference`.
Packed sequences (``cu_seqlens``) are gathered exactly into a right-padded batch with a mask
(memory ``n_seq * max_len * d_v``) and encoded by the masked path.
"""

from __future__ import annotations

import torch

from mccc_theory.errors import ShapeError

from ._spec import auto_chunk, validate_encode

__all__ = ["modal_encode", "ModalEncodeFunction", "SHARED_BLOCK"]

#: tokens per block of the shared-power forward (powers shared by the batch), at most
SHARED_BLOCK = 512


def _exponents(N, mask, device):
    """(e, n): exponents (rows, N) float64 and token counts (batch,) or scalar N."""
    if mask is None:
        e = torch.arange(N - 1, -1, -1, device=device, dtype=torch.float64)[None]
        return e, None
    mk = mask.to(torch.float64)
    n = mk.sum(1)
    return n[:, None] - torch.cumsum(mk, 1), n


def _power(e, rate, theta):
    """lambda^e planes (float64) for exponents e against modes, broadcast ((..., 1) against
    (m,), or (1, k) against (m, 1)); 1 where e = 0, also for lambda = 0 (rate = inf). Built in
    place: two fresh planes, no other temporaries of their size."""
    mag = (e * rate).neg_().exp_()
    mag.masked_fill_(e == 0, 1.0)
    ang = e * theta
    return torch.cos(ang).mul_(mag), ang.sin_().mul_(mag)


def _gain_powers(e, rate, theta, br, bi):
    """``[Re; Im](b * lambda^e)`` stacked, (2m, k) float64, for exponents e (1, k) against modes
    and gains (m, 1): the planes of :func:`_power` times the gain, written in the GEMM's layout."""
    m = rate.shape[0]
    L_re, L_im = _power(e, rate, theta)
    P = torch.empty((2 * m, e.shape[1]), dtype=torch.float64, device=e.device)
    torch.mul(L_re, br, out=P[:m]).addcmul_(L_im, bi, value=-1.0)
    torch.mul(L_im, br, out=P[m:]).addcmul_(L_re, bi)
    return P


class ModalEncodeFunction(torch.autograd.Function):
    """Autograd Function of the encode; use :func:`modal_encode` (it validates)."""

    @staticmethod
    def forward(ctx, v, nu, theta, b_re, b_im, h0_re, h0_im, mask, chunk, acc_name, out_name):
        acc = getattr(torch, acc_name)
        out = getattr(torch, out_name)
        batch, N, d_v = v.shape
        m = nu.shape[0]
        per_token = b_re.dim() == 3
        rows = batch if (per_token or mask is not None) else 1
        rate, th = torch.exp(nu.double()), theta.double()
        e, n = _exponents(N, mask, v.device)
        K = chunk or auto_chunk(N, rows, m)
        if not per_token and mask is None:  # one set of powers for the whole batch
            H_re, H_im = ModalEncodeFunction._shared(v, e, rate, th, b_re, b_im, K, acc)
        else:
            H_re = v.new_zeros((batch, m, d_v), dtype=acc)
            H_im = v.new_zeros((batch, m, d_v), dtype=acc)
            for t0 in range(0, N, K):
                P_re, P_im = ModalEncodeFunction._block(e, rate, th, b_re, b_im, mask, t0, t0 + K)
                vc = v[:, t0:t0 + K].to(acc)
                H_re += torch.matmul(P_re.to(acc).transpose(1, 2), vc)
                H_im += torch.matmul(P_im.to(acc).transpose(1, 2), vc)
        if h0_re is not None:
            Ln_re, Ln_im = ModalEncodeFunction._final_power(n, N, rate, th, acc)
            H_re += Ln_re * h0_re.to(acc) - Ln_im * h0_im.to(acc)
            H_im += Ln_re * h0_im.to(acc) + Ln_im * h0_re.to(acc)
        ctx.save_for_backward(v, nu, theta, b_re, b_im, h0_re, h0_im, mask)
        ctx.cfg = (K, acc, out)
        # dense rows (the shared path's planes are views): the state is read by every decode
        return tuple(torch.empty(H.shape, dtype=out, device=H.device).copy_(H) for H in (H_re, H_im))

    @staticmethod
    def _shared(v, e, rate, th, b_re, b_im, K, acc):
        """Powers shared by the batch (per-mode gain, no mask): one GEMM per block.

        ``S = [P_re; P_im] [V_1 ... V_batch]``: the block's (2m, k) powers against its values of
        every sequence side by side (k, batch d_v), accumulated in place; the planes are the two
        halves of ``S`` (views, (batch, m, d_v)). The same sums as the batched path, in one BLAS
        call per block, with the powers built in place in the GEMM's layout and one value
        buffer reused by every block (at most ``SHARED_BLOCK`` tokens: it stays in cache, and
        its pages are touched once per call).
        """
        batch, N, d_v = v.shape
        m = rate.shape[0]
        K = min(K, SHARED_BLOCK)
        br, bi = b_re.double()[:, None], b_im.double()[:, None]
        rate, th = rate[:, None], th[:, None]
        S = torch.empty((2 * m, batch, d_v), dtype=acc, device=v.device)  # the first block sets it
        flat = S.view(2 * m, batch * d_v)
        buf = torch.empty((min(K, N), batch, d_v), dtype=acc, device=v.device)
        for t0 in range(0, N, K):
            t1 = min(t0 + K, N)
            P = _gain_powers(e[:, t0:t1], rate, th, br, bi)
            vc = buf[:t1 - t0]
            vc.copy_(v[:, t0:t1].transpose(0, 1))  # transpose and widen in one pass
            flat.addmm_(P.to(acc), vc.view(t1 - t0, batch * d_v), beta=1.0 if t0 else 0.0)
        return S[:m].transpose(0, 1), S[m:].transpose(0, 1)

    @staticmethod
    def _block(e, rate, th, b_re, b_im, mask, t0, t1):
        """P = mask * b * lambda^e for tokens t0..t1, float64 planes (rows, K, m)."""
        L_re, L_im = _power(e[:, t0:t1, None], rate, th)
        br = b_re[:, t0:t1] if b_re.dim() == 3 else b_re
        bi = b_im[:, t0:t1] if b_im.dim() == 3 else b_im
        br, bi = br.double(), bi.double()
        P_re, P_im = br * L_re - bi * L_im, br * L_im + bi * L_re
        if mask is not None:
            mk = mask[:, t0:t1, None]
            P_re, P_im = P_re * mk, P_im * mk
        return P_re, P_im

    @staticmethod
    def _final_power(n, N, rate, th, acc):
        """lambda^n planes (batch or 1, m, 1) in the accumulation dtype."""
        e = torch.full((1, 1), float(N), dtype=torch.float64, device=rate.device) if n is None \
            else n[:, None]
        Ln_re, Ln_im = _power(e, rate, th)
        return Ln_re.to(acc)[:, :, None], Ln_im.to(acc)[:, :, None]

    @staticmethod
    def backward(ctx, g_re, g_im):
        v, nu, theta, b_re, b_im, h0_re, h0_im, mask = ctx.saved_tensors
        K, acc, out = ctx.cfg
        batch, N, d_v = v.shape
        m = nu.shape[0]
        per_token = b_re.dim() == 3
        rate, th = torch.exp(nu.double()), theta.double()
        e, n = _exponents(N, mask, v.device)
        Gr = torch.zeros((batch, m, d_v), dtype=acc, device=v.device) if g_re is None \
            else g_re.to(acc)
        Gi = torch.zeros_like(Gr) if g_im is None else g_im.to(acc)
        need_v, need_nu, need_th, need_br, need_bi = ctx.needs_input_grad[:5]
        need_lam = need_nu or need_th
        dv = torch.empty((batch, N, d_v), dtype=acc, device=v.device) if need_v else None
        db_re = db_im = None
        if per_token:
            db_re = torch.empty((batch, N, m), dtype=acc, device=v.device)
            db_im = torch.empty_like(db_re)
        else:
            db_re = torch.zeros(m, dtype=acc, device=v.device)
            db_im = torch.zeros_like(db_re)
        sig_re = torch.zeros(m, dtype=acc, device=v.device)
        sig_im = torch.zeros_like(sig_re)
        for t0 in range(0, N, K):
            t1 = t0 + K
            L_re, L_im = _power(e[:, t0:t1, None], rate, th)
            if mask is not None:
                mk = mask[:, t0:t1, None]
                L_re, L_im = L_re * mk, L_im * mk
            br = (b_re[:, t0:t1] if per_token else b_re).double()
            bi = (b_im[:, t0:t1] if per_token else b_im).double()
            P_re = (br * L_re - bi * L_im).to(acc)
            P_im = (br * L_im + bi * L_re).to(acc)
            vc = v[:, t0:t1].to(acc)
            if need_v:
                dv[:, t0:t1] = torch.matmul(P_re, Gr) + torch.matmul(P_im, Gi)
            W_re = torch.matmul(vc, Gr.transpose(1, 2))  # gradient of P: W = V G^T, (b, K, m)
            W_im = torch.matmul(vc, Gi.transpose(1, 2))
            if not per_token and P_re.shape[0] == 1:  # P shared by the batch: sum W first
                W_re, W_im = W_re.sum(0, keepdim=True), W_im.sum(0, keepdim=True)
            Lr, Li = L_re.to(acc), L_im.to(acc)
            t_re = Lr * W_re + Li * W_im  # conj(lambda^e) W
            t_im = Lr * W_im - Li * W_re
            if per_token:
                db_re[:, t0:t1] = t_re
                db_im[:, t0:t1] = t_im
            else:
                db_re += t_re.sum((0, 1))
                db_im += t_im.sum((0, 1))
            if need_lam:
                ec = e[:, t0:t1, None].to(acc)
                sig_re += (ec * (P_re * W_re + P_im * W_im)).sum((0, 1))
                sig_im += (ec * (P_re * W_im - P_im * W_re)).sum((0, 1))
        dh0_re = dh0_im = None
        if h0_re is not None:
            Ln_re, Ln_im = ModalEncodeFunction._final_power(n, N, rate, th, acc)
            dh0_re = Ln_re * Gr + Ln_im * Gi
            dh0_im = Ln_re * Gi - Ln_im * Gr
            if need_lam:
                hr, hi = h0_re.to(acc), h0_im.to(acc)
                # n conj(lambda^n) sum_d G conj(H0)
                q_re = (Gr * hr + Gi * hi).sum(2)
                q_im = (Gi * hr - Gr * hi).sum(2)
                cnt = (torch.full((1, 1), float(N), dtype=acc, device=v.device) if n is None
                       else n[:, None].to(acc))
                Lr, Li = Ln_re[:, :, 0], Ln_im[:, :, 0]
                sig_re += (cnt * (Lr * q_re + Li * q_im)).sum(0)
                sig_im += (cnt * (Lr * q_im - Li * q_re)).sum(0)
            dh0_re, dh0_im = dh0_re.to(h0_re.dtype), dh0_im.to(h0_im.dtype)
        dnu = dtheta = None
        if need_lam:
            r = torch.exp(-rate)
            dnu = torch.where(r == 0, torch.zeros_like(rate), -rate * sig_re.double()).to(nu.dtype)
            dtheta = sig_im.to(theta.dtype)
        return (None if dv is None else dv.to(v.dtype), dnu, dtheta,
                db_re.to(b_re.dtype) if need_br else None,
                db_im.to(b_im.dtype) if need_bi else None,
                dh0_re, dh0_im, None, None, None, None)


def _pack(x, index, valid):
    """Packed (1, total, k) -> right-padded (n_seq, max_len, k), zeros in the padding."""
    return x[0][index] * valid[..., None].to(x.dtype)


def modal_encode(v, nu, theta, b_re, b_im, h0_re=None, h0_im=None, *, mask=None, cu_seqlens=None,
                 chunk=None, accumulate="auto"):
    """Final-state encode ``H = Lambda^n H0 + sum_t mask_t (b_t * lambda^(e_t)) v_t^T``.

    Parameters
    ----------
    v : (batch, N, d_v) float32/float64/bfloat16/float16 tensor, the values
    nu, theta : (m,) float32/float64, ``lambda = exp(-exp(nu) + i theta)``
    b_re, b_im : (m,) per-mode gain, or (batch, N, m) per-token gain (key-addressed write)
    h0_re, h0_im : (batch, m, d_v), optional initial state (both or neither)
    mask : (batch, N) bool, True where a token is present; masked tokens neither write nor
        decay the state (``e_t`` counts the present tokens after t), so any padding is exact
    cu_seqlens : (n_seq + 1,) int offsets of packed sequences in ``v`` (1, total, d_v) (and a
        per-token gain (1, total, m)); the state restarts at each boundary; ``h0`` then
        (n_seq, m, d_v)
    chunk : tokens per block (default: :func:`~mccc_kernels.modal_encode.auto_chunk`, which
        bounds a block's powers to ``BLOCK_ELEMENTS`` entries)
    accumulate : ``"auto"``, ``"float32"`` or ``"float64"``: the dtype of the contraction (the
        powers are always float64); ``"auto"`` is float64 on the CPU or for float64 inputs,
        float32 on CUDA with float32 inputs

    Returns
    -------
    H_re, H_im : (batch, m, d_v) (``n_seq`` rows with ``cu_seqlens``), float64 if any input is
        float64, else float32; differentiable in ``v``, ``nu``, ``theta``, ``b``, ``h0``.

    Raises
    ------
    ShapeError, DTypeError, NonFiniteError, UnstableError, EmptyInputError, MethodError
        Before any work, naming the argument (values are checked unless
        ``mccc_kernels.checks(False)``).

    Notes
    -----
    Cost: ``2 N m d_v`` multiply-adds per batch row (two GEMMs per block) plus ``N m`` float64
    powers (shared by the batch for a per-mode gain without mask); backward about twice that.
    Error model: :func:`mccc_kernels.modal_encode.reference.error_model`.

    Examples
    --------
    >>> import torch
    >>> from mccc_kernels.modal_encode.torch import modal_encode
    >>> v = torch.randn(2, 100, 8)
    >>> nu, theta = torch.full((4,), -2.0), torch.linspace(-1, 1, 4)
    >>> H_re, H_im = modal_encode(v, nu, theta, torch.ones(4), torch.zeros(4))
    >>> tuple(H_re.shape)
    (2, 4, 8)
    """
    spec = validate_encode(v, nu, theta, b_re, b_im, h0_re, h0_im, mask=mask,
                           cu_seqlens=cu_seqlens, chunk=chunk, accumulate=accumulate)
    tensors = [t for t in (v, nu, theta, b_re, b_im, h0_re, h0_im, mask) if t is not None]
    devices = {t.device for t in tensors}
    if len(devices) != 1:
        raise ShapeError(f"expected every tensor on one device, found {sorted(map(str, devices))}")
    if accumulate == "auto":
        accumulate = "float64" if spec.compute == "float64" or v.device.type != "cuda" \
            else "float32"
    if spec.cu is not None:
        from .._common import packed_layout
        index, valid, _ = packed_layout(spec.cu)
        index = torch.as_tensor(index, device=v.device)
        mask = torch.as_tensor(valid, device=v.device)
        v = _pack(v, index, mask)
        if spec.per_token:
            b_re, b_im = _pack(b_re, index, mask), _pack(b_im, index, mask)
    return ModalEncodeFunction.apply(v, nu, theta, b_re, b_im, h0_re, h0_im, mask, chunk,
                                     accumulate, spec.compute)
