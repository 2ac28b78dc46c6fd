"""Argument checks of the modal readout, shared by every backend (run before any launch)."""

from __future__ import annotations

from mccc_theory.errors import EmptyInputError, ShapeError
from mccc_theory.validation import check_choice

from .._common import INPUT_DTYPES, Spec, check_planes, check_tensor, check_values, resolve_dtype

MIXES = ("linear", "softmax")


def validate_readout(H_re, H_im, C_re, C_im=None, *, mix="linear", g_re=None, g_im=None) -> Spec:
    """Check one readout call.

    Shapes: ``H_re``, ``H_im`` (batch, m, d_v); ``C_re`` (batch, Q, m). ``mix="linear"``:
    ``C_im`` (batch, Q, m), no gain. ``mix="softmax"``: ``C_re`` holds the real mode scores,
    ``C_im`` is ``None``; ``g_re``, ``g_im`` (m,) optional per-mode gain (both or neither).
    """
    check_choice(mix, "mix", MIXES)
    dh = check_planes(H_re, H_im, "H", (None, None, None))
    batch, m, d_v = (int(s) for s in H_re.shape)
    if mix == "linear":
        if C_im is None:
            raise ShapeError("C_im: mix='linear' needs both planes of the mix C (batch, Q, m); "
                             "for softmax over real scores pass mix='softmax' and C_im=None")
        if g_re is not None or g_im is not None:
            raise ShapeError("g_re, g_im: a per-mode gain applies to mix='softmax' only; for "
                             "mix='linear' fold it into C")
        dc = check_planes(C_re, C_im, "C", (batch, None, m), allowed=INPUT_DTYPES)
        names = [dh, dc]
    else:
        if C_im is not None:
            raise ShapeError("C_im: mix='softmax' takes real scores in C_re and C_im=None "
                             "(the complex per-mode gain goes in g_re, g_im)")
        dc = check_tensor(C_re, "C_re", ndim=3, allowed=INPUT_DTYPES)
        if tuple(int(s) for s in C_re.shape)[::2] != (batch, m):
            raise ShapeError(f"C_re: expected shape ({batch}, Q, {m}) (batch and modes of H_re), "
                             f"found {tuple(C_re.shape)}")
        names = [dh, dc]
        if (g_re is None) != (g_im is None):
            raise ShapeError("g_re, g_im: give both planes of the per-mode gain or neither")
        if g_re is not None:
            names.append(check_planes(g_re, g_im, "g", (m,)))
    Q = int(C_re.shape[1])
    if 0 in (batch, m, d_v, Q):
        raise EmptyInputError(f"expected non-empty batch, modes, values and queries, found "
                              f"batch={batch}, m={m}, d_v={d_v}, Q={Q}")
    for x, name in ((H_re, "H_re"), (H_im, "H_im"), (C_re, "C_re"), (C_im, "C_im"),
                    (g_re, "g_re"), (g_im, "g_im")):
        check_values(x, name)
    return Spec(batch=batch, m=m, d_v=d_v, Q=Q, mix=mix, compute=resolve_dtype(*names),
                has_gain=g_re is not None)
