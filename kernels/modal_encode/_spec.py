"""Argument checks of the final-state encode, shared by every backend (run before any work)."""

from __future__ import annotations

from mccc_theory.errors import EmptyInputError, MethodError, ShapeError
from mccc_theory.validation import check_choice

from .._common import (
    INPUT_DTYPES,
    Spec,
    check_modes,
    check_packing_and_h0,
    check_planes,
    check_tensor,
    check_values,
)

ACCUMULATE = ("auto", "float32", "float64")
#: entries of one block's power planes (rows x chunk x m) that ``chunk=None`` aims at
BLOCK_ELEMENTS = 1 << 21


def auto_chunk(N: int, rows: int, m: int) -> int:
    """Tokens per block for ``chunk=None``: at most ``BLOCK_ELEMENTS`` power entries per block
    (``rows`` is the batch, or 1 when the powers are shared by the batch)."""
    return max(1, min(N, BLOCK_ELEMENTS // max(1, rows * m)))


def validate_encode(v, nu, theta, b_re, b_im, h0_re=None, h0_im=None, *, mask=None,
                    cu_seqlens=None, chunk=None, accumulate="auto") -> Spec:
    """Check one encode call; return its sizes, layout and output dtype.

    Shapes: ``v`` (batch, N, d_v); ``nu``, ``theta`` (m,); ``b_re``, ``b_im`` (m,) per mode or
    (batch, N, m) per token; ``h0_re``, ``h0_im`` (batch, m, d_v) or both ``None``; ``mask``
    (batch, N) bool or ``None``. With ``cu_seqlens`` (n_seq + 1,): ``v`` (1, total, d_v),
    per-token ``b`` (1, total, m), ``h0`` (n_seq, m, d_v), no ``mask``.
    """
    dv = check_tensor(v, "v", ndim=3, allowed=INPUT_DTYPES)
    batch, N, d_v = (int(s) for s in v.shape)
    if batch == 0 or N == 0 or d_v == 0:
        raise EmptyInputError(f"v: expected non-empty (batch, N, d_v), found {tuple(v.shape)}")
    if b_re is None or b_im is None or not hasattr(b_re, "shape"):
        raise ShapeError("b_re, b_im: expected both planes of the input gain, (m,) per mode or "
                         "(batch, N, m) per token")
    per_token = len(b_re.shape) == 3
    if per_token:
        db = check_planes(b_re, b_im, "b", (batch, N, None), allowed=INPUT_DTYPES)
    elif len(b_re.shape) == 1:
        db = check_planes(b_re, b_im, "b", (None,))
    else:
        raise ShapeError(f"b_re: expected shape (m,) (per mode) or ({batch}, {N}, m) (per "
                         f"token), found {tuple(b_re.shape)}")
    m = int(b_re.shape[-1])
    if cu_seqlens is not None and mask is not None:
        raise ShapeError("mask: give either mask (padded batch) or cu_seqlens (packed "
                         "sequences), not both")
    n_out, cu, dh0 = check_packing_and_h0(v, "v", "d_v", cu_seqlens, h0_re, h0_im, (m, d_v))
    if mask is not None:
        check_tensor(mask, "mask", ndim=2, allowed=("bool",))
        if tuple(int(s) for s in mask.shape) != (batch, N):
            raise ShapeError(f"mask: expected shape ({batch}, {N}) (batch and tokens of v), "
                             f"found {tuple(mask.shape)}")
    compute = check_modes(nu, theta, m, dv, db, dh0, modes_of="the last axis of b_re")
    if chunk is not None and (isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1):
        raise MethodError(f"chunk: expected a positive int (tokens per block) or None (auto), "
                          f"found {chunk!r}")
    check_choice(accumulate, "accumulate", ACCUMULATE)
    for x, name in ((v, "v"), (b_re, "b_re"), (b_im, "b_im"), (h0_re, "h0_re"), (h0_im, "h0_im")):
        check_values(x, name)
    return Spec(batch=batch, N=N, d_v=d_v, m=m, n_out=n_out, per_token=per_token,
                compute=compute, input_dtype=dv, has_h0=h0_re is not None,
                has_mask=mask is not None, cu=cu, chunk=chunk, accumulate=accumulate)
