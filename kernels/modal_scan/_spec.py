"""Argument checks of the modal scan, shared by every backend (run before any kernel launch)."""

from __future__ import annotations

from mccc_theory.errors import EmptyInputError, ShapeError
from mccc_theory.validation import check_choice

from .._common import (
    INPUT_DTYPES,
    Spec,
    check_chunk,
    check_modes,
    check_packing_and_h0,
    check_planes,
    check_tensor,
    check_values,
)

METHODS = ("sequential", "chunked")


def validate_scan(u, nu, theta, B_re, B_im, h0_re=None, h0_im=None, *, return_all=True,
                  method="sequential", chunk=16, cu_seqlens=None) -> Spec:
    """Check one modal-scan call; return its sizes and compute dtype.

    Shapes: ``u`` (batch, L, p); ``nu``, ``theta`` (m,); ``B_re``, ``B_im`` (m, p);
    ``h0_re``, ``h0_im`` (batch, m) or both ``None``. With ``cu_seqlens`` (n_seq + 1,) offsets:
    ``u`` (1, total, p) holds the sequences end to end and ``h0`` is (n_seq, m).
    """
    du = check_tensor(u, "u", ndim=3, allowed=INPUT_DTYPES)
    batch, L, p = (int(s) for s in u.shape)
    if batch == 0 or L == 0 or p == 0:
        raise EmptyInputError(f"u: expected non-empty (batch, L, p), found {tuple(u.shape)}")
    dB = check_planes(B_re, B_im, "B", (None, p))
    m = int(B_re.shape[0])
    n_out, cu, dh0 = check_packing_and_h0(u, "u", "p", cu_seqlens, h0_re, h0_im, (m,))
    compute = check_modes(nu, theta, m, du, dB, dh0, modes_of="the rows of B_re")
    if not isinstance(return_all, bool):
        raise ShapeError(f"return_all: expected a bool, found {return_all!r}")
    check_choice(method, "method", METHODS)
    chunk = check_chunk(chunk)
    for x, name in ((u, "u"), (B_re, "B_re"), (B_im, "B_im"), (h0_re, "h0_re"), (h0_im, "h0_im")):
        check_values(x, name)
    return Spec(batch=batch, L=L, p=p, m=m, compute=compute, input_dtype=du, has_h0=h0_re is
                not None, return_all=return_all, method=method, chunk=chunk, cu=cu, n_out=n_out)
