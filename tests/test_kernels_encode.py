"""The final-state encode (``mccc_kernels.encode``): the oracle against the scan's definition
and finite differences, every backend against the oracle within its error model, and the
layout identities (packed = per sequence, mask = unpadded, streaming = one pass)."""

import contextlib

import numpy as np
import pytest
import torch
from finite_differences import assert_vjp_matches

from mccc_kernels import encode
from mccc_kernels.modal_encode import reference as RE
from mccc_kernels.modal_encode.torch import modal_encode
from mccc_kernels.modal_scan import reference as RS

NEAR_ONE = float(np.log(-np.log1p(-1e-6)))  # nu with 1 - |lambda| = 1e-6


def _modes(m, rng):
    """nu, theta over the awkward corners: 1 - |lambda| = 1e-6, lambda near -1, lambda = 0,
    random decays; cycled to m modes."""
    nu = np.array([NEAR_ONE, np.log(-np.log1p(-1e-3)), np.inf, rng.uniform(-3, 1)])
    theta = np.array([rng.uniform(-3, 3), np.pi - 1e-3, 0.7, rng.uniform(-3, 3)])
    idx = np.arange(m) % 4
    return nu[idx], theta[idx]


def _inputs(rng, b=2, N=7, d=3, m=4, per_token=False, h0=True):
    nu, theta = _modes(m, rng)
    bshape = (b, N, m) if per_token else (m,)
    return [rng.standard_normal((b, N, d)), nu, theta, rng.standard_normal(bshape),
            rng.standard_normal(bshape), rng.standard_normal((b, m, d)) if h0 else None,
            rng.standard_normal((b, m, d)) if h0 else None]


def _scan_final(v, nu, theta, b_re, b_im, h0_re, h0_im):
    """The scan's definition: channels (i, k) with x_t = b_i v_tk, one scan per channel."""
    b, N, d = v.shape
    m = len(nu)
    B = np.zeros((m * d, d), complex)
    for i in range(m):
        B[i * d:(i + 1) * d] = (b_re[i] + 1j * b_im[i]) * np.eye(d)
    h0 = [None, None] if h0_re is None else [h0_re.reshape(b, m * d), h0_im.reshape(b, m * d)]
    hr, hi = RS.modal_scan(v, np.repeat(nu, d), np.repeat(theta, d), B.real.copy(),
                           B.imag.copy(), *h0, return_all=False)
    return hr.reshape(b, m, d), hi.reshape(b, m, d)


def test_reference_equals_the_scans_final_state():
    rng = np.random.default_rng(0)
    args = _inputs(rng, N=9)
    H = RE.modal_encode(*args)
    S = _scan_final(*args)
    # two float64-or-better evaluations of the same sum: a few ulps of the state's magnitude
    # (|H| <= sum |b| |v| + |h0| ~ 30 here; the scan loses ~ N eps |H| near |lambda| = 1)
    np.testing.assert_allclose(H[0], S[0], rtol=0, atol=1e-13)
    np.testing.assert_allclose(H[1], S[1], rtol=0, atol=1e-13)


@pytest.mark.parametrize("per_token,masked", [(False, False), (True, True)])
def test_reference_vjp_matches_finite_differences(per_token, masked):
    rng = np.random.default_rng(1)
    args = _inputs(rng, b=2, N=4, d=2, m=4, per_token=per_token)
    args[1][2] = 0.5  # finite differences need finite nu (lambda = 0 is covered elsewhere)
    mask = rng.random((2, 4)) < 0.6 if masked else None
    H = RE.modal_encode(*args, mask=mask)
    g = (rng.standard_normal(H[0].shape), rng.standard_normal(H[1].shape))
    grads = RE.modal_encode_vjp(*args, *g, mask=mask)

    assert_vjp_matches(lambda *a: RE.modal_encode(*a, mask=mask), args, g, grads, RE.GRAD_NAMES)


def _ratio(obs, ref, tol):
    return float(np.max(np.abs(np.asarray(obs, np.float64) - ref) / tol))


def _torch_run(args, cot, dtype, mask=None, cu_seqlens=None, **kw):
    tens = [None if a is None else torch.tensor(a, dtype=dtype, requires_grad=True) for a in args]
    out = modal_encode(*tens, mask=None if mask is None else torch.as_tensor(mask),
                       cu_seqlens=cu_seqlens, **kw)
    loss = (out[0] * torch.tensor(cot[0], dtype=out[0].dtype)).sum() + \
        (out[1] * torch.tensor(cot[1], dtype=out[1].dtype)).sum()
    loss.backward()
    grads = {n: t.grad.double().numpy() for n, t in zip(RE.GRAD_NAMES, tens, strict=True)
             if t is not None}
    return [o.detach().double().numpy() for o in out], grads


CASES = [  # (b, N, d, m, per_token, masked, dtype, accumulate, chunk)
    (2, 7, 3, 4, False, False, torch.float32, "auto", 3),
    (1, 1, 1, 1, False, False, torch.float32, "auto", None),
    (2, 33, 1, 5, True, True, torch.float32, "float32", 8),
    (3, 17, 4, 4, False, True, torch.float64, "auto", 5),
    (2, 50, 2, 3, True, False, torch.float32, "auto", 16),
]


@pytest.mark.parametrize("case", CASES, ids=[f"b{c[0]}N{c[1]}d{c[2]}m{c[3]}-{c[6]}-{c[7]}"
                                             for c in CASES])
def test_torch_within_error_model(case):
    b, N, d, m, per_token, masked, dtype, acc, chunk = case
    rng = np.random.default_rng(N * 7 + m)
    args = _inputs(rng, b, N, d, m, per_token)
    args = [None if a is None else torch.tensor(a, dtype=dtype).double().numpy() for a in args]
    mask = rng.random((b, N)) < 0.7 if masked else None
    H = RE.modal_encode(*args, mask=mask)
    cot = (rng.standard_normal(H[0].shape), rng.standard_normal(H[1].shape))
    cot = tuple(torch.tensor(c, dtype=dtype).double().numpy() for c in cot)
    out, grads = _torch_run(args, cot, dtype, mask, chunk=chunk, accumulate=acc)
    name = "float64" if dtype == torch.float64 else "float32"
    acc_name = name if acc == "auto" else acc
    tol = RE.error_model(*args, *cot, mask=mask, power="float64", accumulate=acc_name, out=name)
    ref = RE.modal_encode_vjp(*args, *cot, mask=mask)
    worst = max(_ratio(out[0], H[0], tol["H_re"]), _ratio(out[1], H[1], tol["H_im"]),
                *(_ratio(grads[k], ref[k], tol[k]) for k in grads))
    assert worst <= 1.0


def test_contraction_beats_the_scan_near_the_unit_circle():
    """1 - |lambda| = 1e-4 over N = 1024 tokens in float32: the pure-torch float32 scan (the
    numba backend keeps a float64 state) accumulates the
    rounding of lambda (~ N u (4 + |theta|) |h|); the contraction with float64 powers and sum
    is limited by the output rounding u |H|. Both are measured against the oracle."""
    rng = np.random.default_rng(3)
    N, m, d = 1024, 4, 2
    nu = np.full(m, np.log(-np.log1p(-1e-4)))
    theta = rng.uniform(-3, 3, m)
    v = rng.standard_normal((1, N, d))
    br, bi = rng.standard_normal(m), rng.standard_normal(m)
    f32 = lambda x: torch.tensor(x, dtype=torch.float32)  # noqa: E731
    args64 = [f32(x).double().numpy() for x in (v, nu, theta, br, bi)]
    H = RE.modal_encode(*args64)
    Hc = modal_encode(*map(f32, (v, nu, theta, br, bi)))
    err_c = max(np.abs(Hc[0].double().numpy() - H[0]).max(),
                np.abs(Hc[1].double().numpy() - H[1]).max())
    from mccc_kernels.modal_scan.torch import modal_scan
    B = np.zeros((m * d, d), complex)
    for i in range(m):
        B[i * d:(i + 1) * d] = (args64[3][i] + 1j * args64[4][i]) * np.eye(d)
    hs = modal_scan(f32(v), f32(np.repeat(nu, d)), f32(np.repeat(theta, d)), f32(B.real),
                    f32(B.imag), return_all=False, method="chunked", chunk=64, backend="torch")
    err_s = max(np.abs(hs[0].double().numpy().reshape(1, m, d) - H[0]).max(),
                np.abs(hs[1].double().numpy().reshape(1, m, d) - H[1]).max())
    scale = np.abs(H[0]).max()
    print(f"contraction {err_c / scale:.2e}, scan {err_s / scale:.2e} (relative to max |H|)")
    assert err_c <= 2.0 ** -24 * 2 * scale  # output rounding of each plane (plus one ulp slack)
    assert err_c * 10 < err_s


@pytest.mark.parametrize("per_token", [False, True])
def test_gradcheck_float64(per_token):
    rng = np.random.default_rng(4)
    args = _inputs(rng, b=2, N=5, d=2, m=4, per_token=per_token)
    args[1][2] = 0.2  # gradcheck perturbs nu: keep it finite
    tens = [torch.tensor(a, requires_grad=True) for a in args]
    mask = torch.tensor(rng.random((2, 5)) < 0.7)
    for mk in (None, mask):
        def f(*a, mk=mk):
            return modal_encode(*a, mask=mk, chunk=2)
        assert torch.autograd.gradcheck(f, tens, eps=1e-6, atol=1e-7, rtol=1e-6, fast_mode=True)


def test_gradcheck_packed():
    rng = np.random.default_rng(5)
    cu = torch.tensor([0, 3, 3, 7])
    nu, theta = _modes(3, rng)
    nu[2] = 0.1
    args = [rng.standard_normal((1, 7, 2)), nu, theta, rng.standard_normal((1, 7, 3)),
            rng.standard_normal((1, 7, 3)), rng.standard_normal((3, 3, 2)),
            rng.standard_normal((3, 3, 2))]
    tens = [torch.tensor(a, requires_grad=True) for a in args]
    assert torch.autograd.gradcheck(lambda *a: modal_encode(*a, cu_seqlens=cu, chunk=2), tens,
                                    eps=1e-6, atol=1e-7, rtol=1e-6, fast_mode=True)


def _packed_example(rng, per_token):
    lengths = [5, 1, 0, 9, 3]
    cu = np.concatenate([[0], np.cumsum(lengths)])
    total, n_seq, m, d = int(cu[-1]), len(lengths), 4, 3
    nu, theta = _modes(m, rng)
    bshape = (1, total, m) if per_token else (m,)
    return cu, [rng.standard_normal((1, total, d)), nu, theta, rng.standard_normal(bshape),
                rng.standard_normal(bshape), rng.standard_normal((n_seq, m, d)),
                rng.standard_normal((n_seq, m, d))]


PACKED = [("numpy", False), ("numpy", True), ("torch", False), ("torch", True), ("jax", True)]


@pytest.mark.parametrize("kind,per_token", PACKED, ids=[f"{k}-{p}" for k, p in PACKED])
def test_packed_equals_per_sequence_and_mask_equals_unpadded(kind, per_token):
    with _backend(kind) as conv:
        # JAX compiles once per shape: its per-sequence side is the NumPy oracle
        _packed_check(conv, per_token, per_sequence=conv if kind != "jax" else np.asarray)


def _packed_check(conv, per_token, per_sequence):
    rng = np.random.default_rng(6)
    cu, args = _packed_example(rng, per_token)
    H = encode(*map(conv, args), cu_seqlens=cu)
    for s in range(len(cu) - 1):
        a, z = int(cu[s]), int(cu[s + 1])
        if z == a:  # an empty sequence keeps its initial state
            ref = (args[5][s], args[6][s])
        else:
            cut = lambda x, a=a, z=z: np.ascontiguousarray(x[:, a:z])  # noqa: E731
            one = [cut(args[0]), args[1], args[2], cut(args[3]) if per_token else args[3],
                   cut(args[4]) if per_token else args[4], args[5][s:s + 1], args[6][s:s + 1]]
            ref = [x[0] for x in encode(*map(per_sequence, one))]
        # float64 on every backend; the packed and the per-sequence evaluation sum the same
        # terms in another blocking: a few ulps of |H| (~ 10)
        np.testing.assert_allclose(np.asarray(H[0][s]), ref[0], rtol=0, atol=1e-13)
        np.testing.assert_allclose(np.asarray(H[1][s]), ref[1], rtol=0, atol=1e-13)
    # the same sequences right-, left- and randomly padded with a mask
    lengths = np.diff(cu)
    n_seq, width = len(lengths), int(lengths.max()) + 2
    v = rng.standard_normal((n_seq, width, args[0].shape[2])) * 1e3  # padding must not leak
    bm = [rng.standard_normal((n_seq, width, 4)) * 1e3 for _ in range(2)]
    mask = np.zeros((n_seq, width), bool)
    for s, n in enumerate(lengths):
        slots = np.sort(rng.choice(width, size=n, replace=False))
        mask[s, slots] = True
        v[s, slots] = args[0][0, cu[s]:cu[s + 1]]
        if per_token:
            for k in range(2):
                bm[k][s, slots] = args[3 + k][0, cu[s]:cu[s + 1]]
    b_args = bm if per_token else args[3:5]
    Hm = encode(*map(conv, [v, args[1], args[2], *b_args, args[5], args[6]]),
                mask=conv(mask))
    np.testing.assert_allclose(np.asarray(Hm[0]), np.asarray(H[0]), rtol=0, atol=1e-13)
    np.testing.assert_allclose(np.asarray(Hm[1]), np.asarray(H[1]), rtol=0, atol=1e-13)


@contextlib.contextmanager
def _backend(kind):
    """Array converter of a backend, in float64 (JAX: x64 for the duration only)."""
    if kind == "torch":
        yield lambda x: torch.as_tensor(x)
    elif kind == "jax":
        jax = pytest.importorskip("jax")
        with jax.enable_x64(True):
            yield lambda x: jax.numpy.asarray(x)
    else:
        yield lambda x: x


@pytest.mark.parametrize("kind", ["numpy", "torch", "jax"])
def test_streaming_in_chunks_equals_one_pass(kind):
    with _backend(kind) as conv:
        _streaming_check(conv, pieces=((0, 5), (5, 6), (6, 23)) if kind != "jax" else
                         ((0, 6), (6, 23)))  # JAX compiles once per shape: fewer pieces


def _streaming_check(conv, pieces):
    rng = np.random.default_rng(7)
    v, nu, theta, br, bi, h0r, h0i = _inputs(rng, b=2, N=23, d=3, m=4, per_token=True)
    one = encode(*map(conv, (v, nu, theta, br, bi, h0r, h0i)))
    state = (conv(h0r), conv(h0i))
    for a, z in pieces:
        piece = [np.ascontiguousarray(x[:, a:z]) for x in (v, br, bi)]
        state = encode(*map(conv, (piece[0], nu, theta, *piece[1:])), *state)
    # float64: the streamed state multiplies earlier contributions by lambda^k once more per
    # piece: a few ulps of |H|
    np.testing.assert_allclose(np.asarray(state[0]), np.asarray(one[0]), rtol=0, atol=1e-13)
    np.testing.assert_allclose(np.asarray(state[1]), np.asarray(one[1]), rtol=0, atol=1e-13)


SCAN_BACKENDS = [("torch", "torch"), ("torch", "numba"), ("torch", "triton"), ("jax", "xla")]


@pytest.mark.parametrize("kind,backend", SCAN_BACKENDS, ids=[f"{k}-{b}" for k, b in SCAN_BACKENDS])
def test_encode_equals_the_scans_final_state_on_each_backend(kind, backend):
    from mccc_kernels import scan
    from mccc_kernels.certify import available_backends
    if backend in ("numba", "triton") and available_backends()[backend].startswith("unavailable"):
        pytest.skip(available_backends()[backend])
    rng = np.random.default_rng(8)
    v, nu, theta, br, bi, h0r, h0i = _inputs(rng, b=2, N=6, d=2, m=3)
    b, N, d = v.shape
    m = len(nu)
    B = np.zeros((m * d, d), complex)
    for i in range(m):
        B[i * d:(i + 1) * d] = (br[i] + 1j * bi[i]) * np.eye(d)
    scan_args = [v, np.repeat(nu, d), np.repeat(theta, d), B.real.copy(), B.imag.copy(),
                 h0r.reshape(b, m * d), h0i.reshape(b, m * d)]
    with _backend(kind) as conv:
        H = encode(*map(conv, (v, nu, theta, br, bi, h0r, h0i)))
        S = scan(*map(conv, scan_args), return_all=False, backend=backend, chunk=4)
        for k in range(2):
            # float64 on both sides; the scan's float64 running error near 1 - |lambda| = 1e-6
            # is ~ N eps |h|: far below 1e-13 at N = 6
            np.testing.assert_allclose(np.asarray(S[k]).reshape(b, m, d), np.asarray(H[k]),
                                       rtol=0, atol=1e-13)
