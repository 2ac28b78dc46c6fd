"""The oracle: the modal scan as a NumPy complex128 loop, its VJP, and its error model.

Recurrence (THEORY §0), for each batch row and mode ``i``::

    x_t = B u_t,            h_t = lambda_i h_{t-1} + x_t,     t = 1..L,   h_0 given (default 0)
    lambda = exp(-exp(nu) + i theta)

The scan returns every state ``h_1..h_L`` (``return_all=True``) or the final one ``h_L``.

VJP (real loss ``l``; the gradient of a complex quantity ``z`` is ``dl/dRe z + i dl/dIm z``,
which is what each plane's gradient holds): the adjoint is the *reverse* scan with
``conj(lambda)``::

    G_t = g_t + conj(lambda) G_{t+1}        (G_{L+1} = 0; g_t the cotangent of h_t)
    dx_t = G_t,   dh_0 = conj(lambda) G_1,  dlambda = sum_t G_t conj(h_{t-1})
    dnu = Re(conj(dlambda) * (-exp(nu) lambda)),   dtheta = Re(conj(dlambda) * i lambda)

with ``dnu = 0`` where ``lambda = 0`` (``nu = +inf``), the limit of ``exp(nu) exp(-exp(nu))``.

Error model (:func:`error_model`): a first-order *running error bound* for the recurrence
evaluated in a compute dtype with unit roundoff ``u``. With ``r = |lambda|``,
``a_t = sum_j (|B_re|+|B_im|)_ij |u_tj|`` and the magnitude ``S_t = r S_{t-1} + a_t``::

    E_t = r E_{t-1} + u [ c_lam r S_{t-1} + (p + 2) a_t + (2 + K) S_t ]
    c_lam = 4 + exp(nu) + |theta|    (rounding of lambda from (nu, theta) and of powers k theta)

``K`` is 0 for the sequential scan and the chunk length for chunked scans (a K-term sum per
state). Summed over the horizon this is ``u min(L, 1/(1 - r)) S`` up to the constants: the
``L eps / (1 - |lambda|)`` of THEORY §6 in its sharper form. Gradients get the same treatment
(reverse scan of the cotangents, then the sums that form ``du``, ``dB``, ``dlambda``).
An absolute floor ``(L + m + p + 8) * tiny`` covers underflow of fast modes.
"""

from __future__ import annotations

import numpy as np

from .._common import to_float64, unit_roundoff
from ._spec import validate_scan

__all__ = ["modal_scan", "modal_scan_vjp", "error_model", "eigenvalues"]

GRAD_NAMES = ("u", "nu", "theta", "B_re", "B_im", "h0_re", "h0_im")


def eigenvalues(nu, theta):
    """``lambda = exp(-exp(nu) + i theta)`` in complex128 (``nu = +inf`` gives exactly 0)."""
    nu = to_float64(nu)
    theta = to_float64(theta)
    with np.errstate(over="ignore"):
        r = np.exp(-np.exp(nu))
    return r * np.exp(1j * theta)


def _inputs(u, nu, theta, B_re, B_im, h0_re, h0_im):
    u = to_float64(u)
    lam = eigenvalues(nu, theta)
    B = to_float64(B_re) + 1j * to_float64(B_im)
    batch, _, _ = u.shape
    h0 = np.zeros((batch, B.shape[0]), np.complex128) if h0_re is None \
        else to_float64(h0_re) + 1j * to_float64(h0_im)
    return u, lam, B, h0


def _states(u, lam, B, h0):
    """All states h_0..h_L, shape (batch, L + 1, m), complex128."""
    x = np.einsum("ij,btj->bti", B, u)
    batch, L, m = x.shape
    H = np.empty((batch, L + 1, m), np.complex128)
    H[:, 0] = h0
    for t in range(L):
        H[:, t + 1] = lam * H[:, t] + x[:, t]
    return H


def modal_scan(u, nu, theta, B_re, B_im, h0_re=None, h0_im=None, *, return_all=True,
               cu_seqlens=None):
    """Reference modal scan; returns float64 planes ``(h_re, h_im)``.

    Shapes as in :func:`mccc_kernels.modal_scan.validate_scan`: all states (batch, L, m) or the
    final state (batch, m). With ``cu_seqlens`` (packed sequences in ``u`` (1, total, p)) each
    sequence is scanned on its own from its ``h0`` row: all states (1, total, m) or the final
    states (n_seq, m).
    """
    spec = validate_scan(u, nu, theta, B_re, B_im, h0_re, h0_im, return_all=return_all,
                         cu_seqlens=cu_seqlens)
    if spec.cu is not None:
        uu, lam, B, _ = _inputs(u, nu, theta, B_re, B_im, None, None)
        h0 = np.zeros((spec.n_out, spec.m), np.complex128) if h0_re is None \
            else to_float64(h0_re) + 1j * to_float64(h0_im)
        seqs = [_states(uu[:, a:z], lam, B, h0[s:s + 1])[0]
                for s, (a, z) in enumerate(zip(spec.cu[:-1], spec.cu[1:], strict=True))]
        out = np.concatenate([H[1:] for H in seqs])[None] if return_all \
            else np.stack([H[-1] for H in seqs])
        return np.ascontiguousarray(out.real), np.ascontiguousarray(out.imag)
    u, lam, B, h0 = _inputs(u, nu, theta, B_re, B_im, h0_re, h0_im)
    H = _states(u, lam, B, h0)
    out = H[:, 1:] if return_all else H[:, -1]
    return np.ascontiguousarray(out.real), np.ascontiguousarray(out.imag)


def modal_scan_vjp(u, nu, theta, B_re, B_im, h0_re, h0_im, g_re, g_im, *, return_all=True):
    """Reference VJP: gradients (float64) of ``sum(g_re * h_re + g_im * h_im)``.

    Returns a dict with keys ``u, nu, theta, B_re, B_im, h0_re, h0_im`` (the last two are the
    gradient of the initial state, also when it was not given, i.e. zero).
    """
    validate_scan(u, nu, theta, B_re, B_im, h0_re, h0_im, return_all=return_all)
    uu, lam, B, h0 = _inputs(u, nu, theta, B_re, B_im, h0_re, h0_im)
    H = _states(uu, lam, B, h0)
    batch, L, _ = uu.shape
    g = to_float64(g_re) + 1j * to_float64(g_im)
    if not return_all:
        gg = np.zeros(H[:, 1:].shape, np.complex128)
        gg[:, -1] = g
        g = gg
    G = np.empty_like(g)
    acc = np.zeros_like(g[:, 0])
    for t in range(L - 1, -1, -1):
        acc = g[:, t] + np.conj(lam) * acc
        G[:, t] = acc
    dh0 = np.conj(lam) * G[:, 0]
    dlam = np.sum(G * np.conj(H[:, :-1]), axis=(0, 1))
    nu64 = to_float64(nu)
    with np.errstate(over="ignore", invalid="ignore"):
        dnu = np.where(lam == 0, 0.0, np.real(np.conj(dlam) * (-np.exp(nu64) * lam)))
    dtheta = np.real(np.conj(dlam) * 1j * lam)
    du = np.einsum("ij,bti->btj", B.real, G.real) + np.einsum("ij,bti->btj", B.imag, G.imag)
    dB_re = np.einsum("bti,btj->ij", G.real, uu)
    dB_im = np.einsum("bti,btj->ij", G.imag, uu)
    return {"u": du, "nu": dnu, "theta": dtheta, "B_re": dB_re, "B_im": dB_im,
            "h0_re": dh0.real.copy(), "h0_im": dh0.imag.copy()}


def error_model(u, nu, theta, B_re, B_im, h0_re, h0_im, g_re=None, g_im=None, *,
                return_all=True, compute="float32", K=0):
    """Per-element tolerances for the outputs and (with a cotangent) the gradients.

    ``compute`` is the kernel's compute dtype, ``K`` the chunk length of a chunked scan (0 for
    the sequential one). Returns a dict: ``h_re``, ``h_im`` (shape of the output) and, when
    ``g_re`` is given, one entry per name in :data:`GRAD_NAMES`.
    """
    uu, lam, B, h0 = _inputs(u, nu, theta, B_re, B_im, h0_re, h0_im)
    eps = unit_roundoff(compute)
    tiny = float(np.finfo(np.float32 if compute == "float32" else np.float64).tiny)
    batch, L, p = uu.shape
    m = lam.shape[0]
    r = np.abs(lam)
    nu64 = to_float64(nu)
    with np.errstate(over="ignore"):
        rate = np.where(r == 0, 0.0, np.exp(nu64))
    c_lam = 4.0 + rate + np.abs(to_float64(theta))
    absB = np.abs(B.real) + np.abs(B.imag)
    a = np.einsum("ij,btj->bti", absB, np.abs(uu))
    floor = (L + m + p + 8) * tiny
    S = np.empty((batch, L + 1, m))
    E = np.zeros((batch, L + 1, m))
    S[:, 0] = np.abs(h0.real) + np.abs(h0.imag)
    for t in range(L):
        S[:, t + 1] = r * S[:, t] + a[:, t]
        E[:, t + 1] = r * E[:, t] + eps * (c_lam * r * S[:, t] + (p + 2) * a[:, t]
                                           + (2 + K) * S[:, t + 1]) + tiny
    E += floor
    tol_h = E[:, 1:] if return_all else E[:, -1]
    out = {"h_re": tol_h, "h_im": tol_h}
    if g_re is None:
        return out
    g = to_float64(g_re) + 1j * to_float64(g_im)
    ag = np.abs(g.real) + np.abs(g.imag)
    if not return_all:
        agg = np.zeros((batch, L, m))
        agg[:, -1] = ag
        ag = agg
    SG = np.empty((batch, L, m))
    EG = np.empty((batch, L, m))
    s_acc = np.zeros((batch, m))
    e_acc = np.zeros((batch, m))
    for t in range(L - 1, -1, -1):
        s_new = r * s_acc + ag[:, t]
        e_acc = r * e_acc + eps * (c_lam * r * s_acc + 2 * ag[:, t] + (2 + K) * s_new) + tiny
        s_acc = s_new
        SG[:, t] = s_acc
        EG[:, t] = e_acc + floor
    n_sum = batch * L
    tol_du = np.einsum("ij,bti->btj", absB, EG + eps * (m + 2) * SG) + floor
    tol_B = np.einsum("bti,btj->ij", EG + eps * (n_sum + 2) * SG, np.abs(uu)) + floor
    Sprev, Eprev = S[:, :-1], E[:, :-1]
    tol_lam = np.sum(EG * Sprev + SG * Eprev + eps * (n_sum + 4) * SG * Sprev, axis=(0, 1)) + floor
    mag_lam = np.sum(SG * Sprev, axis=(0, 1))
    tol_nu = np.where(r == 0, floor, rate * r * (tol_lam + (rate + 6) * eps * mag_lam)
                      + floor * (1 + rate))
    tol_theta = r * (tol_lam + (np.abs(to_float64(theta)) + 6) * eps * mag_lam) + floor
    tol_h0 = r * (EG[:, 0] + c_lam * eps * SG[:, 0]) + floor
    out.update({"u": tol_du, "nu": tol_nu, "theta": tol_theta, "B_re": tol_B, "B_im": tol_B,
                "h0_re": tol_h0, "h0_im": tol_h0})
    return out
