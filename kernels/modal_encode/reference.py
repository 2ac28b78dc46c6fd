"""The oracle: the final-state encode in NumPy extended precision, its VJP and error model.

For one sequence of N tokens (values ``v_t`` real (d_v,), gains ``b_t`` complex (m,), per token
or one per mode), eigenvalues ``lambda = exp(s)``, ``s = -exp(nu) + i theta``::

    H = Lambda^n H0 + sum_t mask_t (b_t * lambda^(e_t)) v_t^T,    e_t = sum_{t' > t} mask_t'
    n = sum_t mask_t                                              (no mask: e_t = N - t)

i.e. the modal scan's final state with ``x_t = b_t v_t^T`` (masked tokens neither write nor
decay the state). Packed sequences (``cu_seqlens``) restart the state at each boundary. The
oracle evaluates the definition one sequence at a time (masked tokens removed, packed
sequences sliced), with the powers ``exp(e s)`` and the sums in ``np.longdouble`` (64-bit
significand on x86-64; float64 elsewhere), and returns float64.

VJP (real loss; the gradient of a complex ``z`` is ``dl/dRe z + i dl/dIm z``), with ``G`` the
cotangent of H (m, d_v), ``P_t = b_t lambda^(e_t)`` and ``W_t = G v_t`` (m,)::

    dv_t = Re(conj(G)^T P_t),   db_t = conj(lambda^(e_t)) W_t  (summed over t and the batch
    for a per-mode gain),       dH0 = conj(lambda^n) G,
    sigma = sum_t e_t conj(P_t) W_t + n conj(lambda^n) sum_d G conj(H0),
    dnu = -exp(nu) Re(sigma) (0 where lambda = 0),   dtheta = Im(sigma)

Error model (:func:`error_model`): a first-order bound for a kernel that forms the powers in a
dtype with unit roundoff ``u_p``, the contraction in ``u_a`` and returns results in ``u_o``.
Each power ``lambda^e = exp(-e exp(nu)) (cos e theta + i sin e theta)`` is off by at most
``delta_e = u_p (8 + 2 e exp(nu) + e |theta|)`` relative (the rounding of ``exp(nu)`` and of
the angle ``e theta`` grow with ``e``; plus ``u_a`` when the powers are narrowed to the
accumulation dtype). With ``A_t = (|b_re| + |b_im|) |lambda|^(e_t)`` and the magnitude
``S = sum_t A_t |v_t| + |lambda|^n |H0|``::

    |error of H| <= sum_t delta_(e_t) A_t |v_t| + (N + 4) u_a S + delta_n |lambda|^n |H0|
                    + u_o |H|                         (the final rounding)

Compared with the scan's running bound ``~ u min(N, 1/(1 - |lambda|)) (4 + exp(nu) + |theta|) S``
the contraction with float64 powers and a float64 sum is limited by the float32 output
rounding ``u_o |H|`` alone: near ``|lambda| = 1`` it does not accumulate error with N. With a
float32 sum it is ``~ N u S``, which is the scan's bound without its power terms. Gradients get
the same treatment term by term. An absolute floor ``(N + m + d_v + 8) * tiny`` covers
underflow of fast modes.
"""

from __future__ import annotations

import numpy as np

from .._common import to_float64, unit_roundoff
from ._spec import validate_encode

__all__ = ["modal_encode", "modal_encode_vjp", "error_model", "GRAD_NAMES"]

GRAD_NAMES = ("v", "nu", "theta", "b_re", "b_im", "h0_re", "h0_im")
_X = np.longdouble


def _ext(x):
    return None if x is None else to_float64(x).astype(_X)


def _mask_np(mask):
    if mask is None:
        return None
    if hasattr(mask, "detach"):
        return mask.detach().cpu().numpy().astype(bool)
    return np.asarray(mask, dtype=bool)


def _sequences(v, b_re, b_im, h0_re, h0_im, mask, cu_seqlens, spec):
    """Yield (row, positions, v_s, b_s, h0_s) per output row: the present tokens in order."""
    vv = _ext(v)
    b = _ext(b_re) + 1j * _ext(b_im)
    m, d_v = spec.m, spec.d_v
    h0 = None if h0_re is None else _ext(h0_re) + 1j * _ext(h0_im)
    mk = _mask_np(mask)
    for row in range(spec.n_out):
        if spec.cu is not None:
            a, z = int(spec.cu[row]), int(spec.cu[row + 1])
            pos, batch_row = np.arange(a, z), 0
        else:
            batch_row = row
            pos = np.arange(spec.N) if mk is None else np.flatnonzero(mk[row])
        v_s = vv[batch_row, pos]
        b_s = b[batch_row, pos] if spec.per_token else b
        h0_s = np.zeros((m, d_v), _X) if h0 is None else h0[row]
        yield row, batch_row, pos, v_s, b_s, h0_s


def _rates(nu, theta):
    nu = _ext(nu)
    with np.errstate(over="ignore"):
        rate = np.exp(nu)
    return rate, _ext(theta)


def _pow(e, rate, theta):
    """lambda^e in extended precision for integer exponents ``e`` (broadcast against modes)."""
    e = np.asarray(e, dtype=_X)
    with np.errstate(invalid="ignore", over="ignore"):
        mag = np.where(e == 0, _X(1), np.exp(-e * rate))
    ang = e * theta
    return mag * (np.cos(ang) + 1j * np.sin(ang))


def modal_encode(v, nu, theta, b_re, b_im, h0_re=None, h0_im=None, *, mask=None, cu_seqlens=None):
    """Reference encode; returns float64 planes ``(H_re, H_im)`` of shape (batch, m, d_v).

    Arguments as in :func:`mccc_kernels.modal_encode.validate_encode` (``batch`` = the number
    of sequences with ``cu_seqlens``).
    """
    spec = validate_encode(v, nu, theta, b_re, b_im, h0_re, h0_im, mask=mask,
                           cu_seqlens=cu_seqlens)
    rate, th = _rates(nu, theta)
    H = np.zeros((spec.n_out, spec.m, spec.d_v), np.clongdouble)
    for row, _, _, v_s, b_s, h0_s in _sequences(v, b_re, b_im, h0_re, h0_im, mask, cu_seqlens,
                                                spec):
        n = v_s.shape[0]
        e = np.arange(n - 1, -1, -1)[:, None]
        P = b_s * _pow(e, rate, th)  # (n, m)
        H[row] = P.T @ v_s + _pow(n, rate, th)[:, None] * h0_s
    return H.real.astype(np.float64), H.imag.astype(np.float64)


def modal_encode_vjp(v, nu, theta, b_re, b_im, h0_re, h0_im, g_re, g_im, *, mask=None,
                     cu_seqlens=None):
    """Reference VJP: gradients (float64) of ``sum(g_re * H_re + g_im * H_im)``, a dict keyed
    by :data:`GRAD_NAMES` (``h0_*`` also when no initial state was given)."""
    spec = validate_encode(v, nu, theta, b_re, b_im, h0_re, h0_im, mask=mask,
                           cu_seqlens=cu_seqlens)
    rate, th = _rates(nu, theta)
    G = _ext(g_re) + 1j * _ext(g_im)
    dv = np.zeros((spec.batch, spec.N, spec.d_v), _X)
    db = np.zeros((spec.batch, spec.N, spec.m) if spec.per_token else (spec.m,), np.clongdouble)
    dh0 = np.zeros((spec.n_out, spec.m, spec.d_v), np.clongdouble)
    sigma = np.zeros(spec.m, np.clongdouble)
    for row, brow, pos, v_s, b_s, h0_s in _sequences(v, b_re, b_im, h0_re, h0_im, mask,
                                                     cu_seqlens, spec):
        n = v_s.shape[0]
        e = np.arange(n - 1, -1, -1)[:, None]
        pw = _pow(e, rate, th)
        P = b_s * pw
        Gs = G[row]
        W = v_s @ Gs.T  # (n, m)
        dv[brow, pos] = np.real(P @ np.conj(Gs))
        if spec.per_token:
            db[brow, pos] = np.conj(pw) * W
        else:
            db += np.sum(np.conj(pw) * W, axis=0)
        pn = _pow(n, rate, th)
        dh0[row] = np.conj(pn)[:, None] * Gs
        sigma += np.sum(e * np.conj(P) * W, axis=0) + n * np.conj(pn) * np.sum(Gs * np.conj(h0_s),
                                                                               axis=1)
    with np.errstate(invalid="ignore"):
        dnu = np.where(np.isinf(rate), 0.0, -rate * sigma.real)
    f = lambda x: np.ascontiguousarray(x.astype(np.float64))  # noqa: E731
    return {"v": f(dv), "nu": f(dnu), "theta": f(sigma.imag), "b_re": f(db.real),
            "b_im": f(db.imag), "h0_re": f(dh0.real), "h0_im": f(dh0.imag)}


def error_model(v, nu, theta, b_re, b_im, h0_re=None, h0_im=None, g_re=None, g_im=None, *,
                mask=None, cu_seqlens=None, power="float64", accumulate="float64",
                out="float32"):
    """Per-element tolerances of the outputs and (with a cotangent) of every gradient.

    ``power``, ``accumulate``, ``out``: the dtypes a kernel uses for the powers, for the
    contraction and for its results (float32 or float64). Returns a dict with ``H_re``,
    ``H_im`` and, when ``g_re`` is given, one entry per name in :data:`GRAD_NAMES`.
    """
    spec = validate_encode(v, nu, theta, b_re, b_im, h0_re, h0_im, mask=mask,
                           cu_seqlens=cu_seqlens)
    up, ua, uo = unit_roundoff(power), unit_roundoff(accumulate), unit_roundoff(out)
    ucast = ua if accumulate != power else 0.0
    tiny = sum(float(np.finfo(d).tiny) for d in {accumulate, out})
    floor = (spec.N + spec.m + spec.d_v + 8) * tiny
    H_ref = modal_encode(v, nu, theta, b_re, b_im, h0_re, h0_im, mask=mask,
                         cu_seqlens=cu_seqlens)
    nu64, th64 = to_float64(nu), np.abs(to_float64(theta))
    with np.errstate(over="ignore"):
        rate = np.exp(nu64)
    r = np.exp(-rate)
    rate_eff = np.where(r == 0, 0.0, rate)  # lambda = 0: every power with e > 0 is exactly 0

    def mag_and_delta(e):
        e = np.asarray(e, dtype=np.float64)
        with np.errstate(invalid="ignore", over="ignore", under="ignore"):
            mag = np.where(e == 0, 1.0, np.exp(-e * rate))
        return mag, up * (8 + 2 * e * rate_eff + e * th64) + ucast

    babs = np.abs(to_float64(b_re)) + np.abs(to_float64(b_im))
    h0abs = None if h0_re is None else np.abs(to_float64(h0_re)) + np.abs(to_float64(h0_im))
    absv = np.abs(to_float64(v))
    mk = _mask_np(mask)
    rows = []
    for row in range(spec.n_out):
        if spec.cu is not None:
            pos, brow = np.arange(int(spec.cu[row]), int(spec.cu[row + 1])), 0
        else:
            brow = row
            pos = np.arange(spec.N) if mk is None else np.flatnonzero(mk[row])
        n = len(pos)
        mag, dl = mag_and_delta(np.arange(n - 1, -1, -1)[:, None])
        A = (babs[brow, pos] if spec.per_token else babs) * mag
        magn, dln = mag_and_delta(n)
        h0a = np.zeros((spec.m, spec.d_v)) if h0abs is None else h0abs[row]
        rows.append((row, brow, pos, n, mag, dl, A, magn, dln, h0a))
    total = spec.batch * spec.N

    def finish(E, ref):
        return E + uo * (np.abs(ref) + E) + floor

    S = np.zeros((spec.n_out, spec.m, spec.d_v))
    E = np.zeros_like(S)
    for row, brow, pos, _, _, dl, A, magn, dln, h0a in rows:
        S[row] = A.T @ absv[brow, pos] + magn[:, None] * h0a
        E[row] = (dl * A).T @ absv[brow, pos] + (dln + 4 * ua)[:, None] * magn[:, None] * h0a
    E += (spec.N + 4) * ua * S
    out = {"H_re": finish(E, H_ref[0]), "H_im": finish(E, H_ref[1])}
    if g_re is None:
        return out
    ref = modal_encode_vjp(v, nu, theta, b_re, b_im, h0_re, h0_im, g_re, g_im, mask=mask,
                           cu_seqlens=cu_seqlens)
    Gm = np.abs(to_float64(g_re)) + np.abs(to_float64(g_im))
    Ev = np.zeros((spec.batch, spec.N, spec.d_v))
    Eb = np.zeros((spec.batch, spec.N, spec.m) if spec.per_token else (spec.m,))
    Mb = np.zeros(spec.m)
    Eh0 = np.zeros((spec.n_out, spec.m, spec.d_v))
    Esig, Msig = np.zeros(spec.m), np.zeros(spec.m)
    for row, brow, pos, n, mag, dl, A, magn, dln, h0a in rows:
        av, G = absv[brow, pos], Gm[row]
        e = np.arange(n - 1, -1, -1)[:, None]
        MW = av @ G.T  # (n, m): magnitude of W_t = G v_t
        EW = (spec.d_v + 2) * ua * MW
        Mv = A @ G
        Ev[brow, pos] = (dl * A) @ G + (2 * spec.m + 2) * ua * Mv
        Etok = dl * mag * MW + mag * EW + 4 * ua * mag * MW
        if spec.per_token:
            Eb[brow, pos] = Etok
        else:
            Eb += Etok.sum(0)
            Mb += (mag * MW).sum(0)
        Eh0[row] = (dln + 4 * ua)[:, None] * magn[:, None] * G
        GH = np.sum(G * h0a, axis=1)
        Msig += np.sum(e * A * MW, axis=0) + n * magn * GH
        Esig += np.sum(e * (dl * A * MW + A * EW + 4 * ua * A * MW), axis=0) + \
            n * (dln * magn * GH + (spec.d_v + 4) * ua * magn * GH)
    if not spec.per_token:
        Eb = Eb + (total + 2) * ua * Mb
    Esig = Esig + (total + 4) * ua * Msig
    E_nu = np.where(r == 0, 0.0, rate_eff * (Esig + (up + 2 * ua) * Msig))
    out.update({"v": finish(Ev, ref["v"]), "nu": finish(E_nu, ref["nu"]),
                "theta": finish(Esig, ref["theta"]), "b_re": finish(Eb, ref["b_re"]),
                "b_im": finish(Eb, ref["b_im"]), "h0_re": finish(Eh0, ref["h0_re"]),
                "h0_im": finish(Eh0, ref["h0_im"])})
    return out
