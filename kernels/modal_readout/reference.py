"""The oracle: the query-dependent modal readout in NumPy float64, its VJP and error model.

The MCCC memory state is ``H = sum_t Lambda^(N-t) b v_t^T`` (m, d_v) complex; a query reads a
mix of modes ``c(q)`` (CONTRIBUTING's shared definitions, THEORY §0/§4)::

    y(q) = Re(c(q)^T H)                               (batch, Q, d_v)
    linear:  c = C = C_re + i C_im                    (batch, Q, m), e.g. C = W_c^T q
    softmax: c = softmax_i(S) * g,  S = C_re real     (batch, Q, m), g (m,) complex (default 1)
             so y = softmax(S) @ Z with Z = Re(g * H) = g_re H_re - g_im H_im

VJP with cotangent ``gy`` (batch, Q, d_v)::

    linear:  dC_re = gy H_re^T,  dC_im = -gy H_im^T,  dH_re = C_re^T gy,  dH_im = -C_im^T gy
    softmax: a = softmax(S), ga = gy Z^T, dS = a (ga - sum_i a ga), gZ = a^T gy,
             dH_re = g_re gZ, dH_im = -g_im gZ, dg_re = sum_{b,v} gZ H_re, dg_im = -sum gZ H_im

Error model: first-order bounds from the magnitudes of the factors, the relative error of the
softmax weights ``(2 |S_i - max S| + m + 6) u`` and the lengths of the sums (m for y, d_v for
ga, Q for gZ and dH, batch * d_v for dg), plus an underflow floor.
"""

from __future__ import annotations

import numpy as np

from .._common import to_float64, unit_roundoff
from ._spec import validate_readout

__all__ = ["modal_readout", "modal_readout_vjp", "error_model", "grad_names"]


def grad_names(mix: str) -> tuple[str, ...]:
    """The differentiable arguments of a readout call, in order."""
    return ("H_re", "H_im", "C_re", "C_im") if mix == "linear" else \
        ("H_re", "H_im", "C_re", "g_re", "g_im")


def _softmax(S):
    e = np.exp(S - S.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _load(H_re, H_im, C_re, C_im, g_re, g_im):
    Hr, Hi, Cr, Ci = to_float64(H_re), to_float64(H_im), to_float64(C_re), to_float64(C_im)
    m = Hr.shape[1]
    gr = np.ones(m) if g_re is None else to_float64(g_re)
    gi = np.zeros(m) if g_im is None else to_float64(g_im)
    return Hr, Hi, Cr, Ci, gr, gi


def modal_readout(H_re, H_im, C_re, C_im=None, *, mix="linear", g_re=None, g_im=None):
    """Reference readout ``y = Re(c(q)^T H)``, (batch, Q, d_v) float64."""
    validate_readout(H_re, H_im, C_re, C_im, mix=mix, g_re=g_re, g_im=g_im)
    Hr, Hi, Cr, Ci, gr, gi = _load(H_re, H_im, C_re, C_im, g_re, g_im)
    if mix == "linear":
        return Cr @ Hr - Ci @ Hi
    return _softmax(Cr) @ (gr[:, None] * Hr - gi[:, None] * Hi)


def modal_readout_vjp(H_re, H_im, C_re, C_im, gy, *, mix="linear", g_re=None, g_im=None):
    """Reference VJP of ``sum(gy * y)``: dict keyed by :func:`grad_names`."""
    validate_readout(H_re, H_im, C_re, C_im, mix=mix, g_re=g_re, g_im=g_im)
    Hr, Hi, Cr, Ci, gr, gi = _load(H_re, H_im, C_re, C_im, g_re, g_im)
    gy = to_float64(gy)
    T = lambda X: np.swapaxes(X, 1, 2)  # noqa: E731
    if mix == "linear":
        return {"H_re": T(Cr) @ gy, "H_im": -T(Ci) @ gy, "C_re": gy @ T(Hr), "C_im": -gy @ T(Hi)}
    a = _softmax(Cr)
    Z = gr[:, None] * Hr - gi[:, None] * Hi
    ga = gy @ T(Z)
    gZ = T(a) @ gy
    return {"H_re": gr[:, None] * gZ, "H_im": -gi[:, None] * gZ,
            "C_re": a * (ga - np.sum(a * ga, -1, keepdims=True)),
            "g_re": np.einsum("bmv,bmv->m", gZ, Hr), "g_im": -np.einsum("bmv,bmv->m", gZ, Hi)}


def error_model(H_re, H_im, C_re, C_im=None, gy=None, *, mix="linear", g_re=None, g_im=None,
                compute="float32"):
    """Per-element tolerances: ``y`` and, with a cotangent ``gy``, each of :func:`grad_names`."""
    Hr, Hi, Cr, Ci, gr, gi = _load(H_re, H_im, C_re, C_im, g_re, g_im)
    eps = unit_roundoff(compute)
    tiny = float(np.finfo(np.float32 if compute == "float32" else np.float64).tiny)
    batch, m, d_v = Hr.shape
    Q = Cr.shape[1]
    floor = (m + Q + d_v + batch + 8) * tiny
    T = lambda X: np.swapaxes(X, 1, 2)  # noqa: E731
    aHr, aHi, aCr = np.abs(Hr), np.abs(Hi), np.abs(Cr)
    if mix == "linear":
        aCi = np.abs(Ci)
        mag = aCr @ aHr + aCi @ aHi
        out = {"y": eps * (m + 3) * mag + floor}
        if gy is None:
            return out
        G = np.abs(to_float64(gy))
        out.update({"H_re": eps * (Q + 2) * (T(aCr) @ G) + floor,
                    "H_im": eps * (Q + 2) * (T(aCi) @ G) + floor,
                    "C_re": eps * (d_v + 2) * (G @ T(aHr)) + floor,
                    "C_im": eps * (d_v + 2) * (G @ T(aHi)) + floor})
        return out
    a = _softmax(Cr)
    rel_a = eps * (2 * np.abs(Cr - Cr.max(-1, keepdims=True)) + m + 6)
    Zm = np.abs(gr)[:, None] * aHr + np.abs(gi)[:, None] * aHi
    out = {"y": (a * (rel_a + eps * (m + 4))) @ Zm + floor}
    if gy is None:
        return out
    G = np.abs(to_float64(gy))
    GA = G @ T(Zm)
    tol_ga = eps * (d_v + 4) * GA
    dot = np.sum(a * GA, -1, keepdims=True)
    tol_dot = np.sum(a * (tol_ga + rel_a * GA), -1, keepdims=True) + eps * (m + 2) * dot
    tol_S = a * (tol_ga + tol_dot + (rel_a + 4 * eps) * (GA + dot)) + floor
    GZ = T(a) @ G
    tol_gZ = T(a * rel_a) @ G + eps * (Q + 2) * GZ
    out.update({
        "C_re": tol_S,
        "H_re": np.abs(gr)[:, None] * (tol_gZ + eps * GZ) + floor,
        "H_im": np.abs(gi)[:, None] * (tol_gZ + eps * GZ) + floor,
        "g_re": np.einsum("bmv,bmv->m", tol_gZ + eps * (batch * d_v + 2) * GZ, aHr) + floor,
        "g_im": np.einsum("bmv,bmv->m", tol_gZ + eps * (batch * d_v + 2) * GZ, aHi) + floor,
    })
    return out
