"""The compiled CPU scan (numba) against the float64 oracle: forward and VJP on awkward shapes
(L = 1, m = 1, lengths and mode counts that are not powers of two, lambda = 0 and |lambda| near
1), NumPy and torch entry points, its dispatch and its refusals. Tolerances are the oracle's
error model in the compute dtype (``reference.error_model``), the same ratio <= 1 that
certification requires."""

import numpy as np
import pytest
import torch

import mccc_kernels
from mccc_kernels.modal_scan import numba as N
from mccc_kernels.modal_scan import reference as R
from mccc_theory.errors import BackendUnavailableError, MethodError

SHAPES = [(1, 1, 1, 1), (2, 37, 3, 5), (3, 16, 2, 17), (1, 5, 1, 33), (2, 11, 9, 5)]  # (b, L, p, m);
# p = 9 > FUSE_MAX_P takes the BLAS product and the core on x, the others the fused loop


def _case(batch, L, p, m, dtype, h0, seed=0):
    rng = np.random.default_rng(seed)
    nu = np.log(-np.log1p(-10.0 ** rng.uniform(-5, 0, m)))  # 1 - |lambda| in [1e-5, 1)
    if m > 2:
        nu[1] = np.inf  # lambda = 0
    a = {"u": rng.standard_normal((batch, L, p)), "nu": nu, "theta": rng.uniform(-3, 3, m),
         "B_re": rng.standard_normal((m, p)), "B_im": rng.standard_normal((m, p)),
         "h0_re": rng.standard_normal((batch, m)) if h0 else None,
         "h0_im": rng.standard_normal((batch, m)) if h0 else None}
    # the oracle sees exactly the values the kernel gets (rounded to the dtype)
    return {k: None if v is None else v.astype(dtype).astype(np.float64).astype(dtype)
            for k, v in a.items()}


def _ratio(got, want, tol):
    return float(np.max(np.abs(np.asarray(got, np.float64) - want) / tol))


@pytest.mark.parametrize("shape", SHAPES, ids=[str(s) for s in SHAPES])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("return_all", [True, False])
def test_forward_and_vjp_within_the_error_model(shape, dtype, return_all):
    a = _case(*shape, dtype, h0=shape[1] > 1)
    args = [a[k] for k in ("u", "nu", "theta", "B_re", "B_im", "h0_re", "h0_im")]
    got = N.modal_scan(*args, return_all=return_all)
    want = R.modal_scan(*args, return_all=return_all)
    assert got[0].dtype == dtype and got[0].shape == want[0].shape
    rng = np.random.default_rng(1)
    g = [rng.standard_normal(want[0].shape).astype(dtype) for _ in range(2)]
    compute = np.dtype(dtype).name
    tol = R.error_model(*args, *g, return_all=return_all, compute=compute)
    for i, name in enumerate(("h_re", "h_im")):
        assert _ratio(got[i], want[i], tol[name]) <= 1.0, name
    vjp = N.modal_scan_vjp(*args, *g, return_all=return_all)
    ref = R.modal_scan_vjp(*args, *g, return_all=return_all)
    for name in R.GRAD_NAMES:
        assert vjp[name].shape == ref[name].shape, name
        assert _ratio(vjp[name], ref[name], tol[name]) <= 1.0, name


def test_float64_state_is_more_accurate_than_a_float32_state():
    # |lambda| = 1 - 1e-4 over L = 4096: a float32 state accumulates ~ L eps relative error,
    # the float64 state only the final rounding to float32 (~ eps), so at least 10x smaller
    rng = np.random.default_rng(2)
    m, L = 8, 4096
    nu = np.full(m, np.log(-np.log1p(-1e-4)))
    theta = rng.uniform(-0.1, 0.1, m)
    x = [rng.standard_normal((1, L, m)).astype(np.float32) for _ in range(2)]
    lam = np.exp(-np.exp(nu) + 1j * theta)
    h = np.zeros(m, complex)
    ref = np.empty((L, m), complex)
    for t in range(L):
        h = lam * h + (x[0][0, t].astype(np.float64) + 1j * x[1][0, t].astype(np.float64))
        ref[t] = h
    err = {}
    for sd in (np.float32, np.float64):
        o = N.forward(*x, nu, theta, None, None, return_all=True, state_dtype=sd)
        err[sd] = np.max(np.abs(o[0][0] + 1j * o[1][0] - ref)) / np.max(np.abs(ref))
    assert err[np.float64] * 10 <= err[np.float32]
    assert N.STATE_DTYPE["float32"] is np.float64


def test_torch_backend_matches_the_numpy_entry_point_and_its_gradients():
    a = _case(2, 19, 2, 7, np.float64, h0=True, seed=3)
    t = {k: None if v is None else torch.tensor(v, requires_grad=True) for k, v in a.items()}
    h_re, h_im = mccc_kernels.scan(**t, backend="numba")
    assert mccc_kernels.last_backend() == "numba"
    rng = np.random.default_rng(4)
    g = [rng.standard_normal(h_re.shape) for _ in range(2)]
    ((h_re * torch.tensor(g[0])).sum() + (h_im * torch.tensor(g[1])).sum()).backward()
    ref = N.modal_scan_vjp(**a, g_re=g[0], g_im=g[1])
    # same kernels, same float64 arithmetic; only the BLAS products for x, du, dB may differ in
    # summation order: a few ulps of O(10) quantities
    for name, ten in t.items():
        np.testing.assert_allclose(ten.grad.numpy(), ref[name], rtol=1e-12, atol=1e-12)


def test_numpy_dispatch_and_reference_option():
    a = _case(2, 9, 2, 3, np.float32, h0=False)
    fast = mccc_kernels.scan(**a)
    oracle = mccc_kernels.scan(**a, backend="reference")
    assert fast[0].dtype == np.float32 and oracle[0].dtype == np.float64
    tol = R.error_model(*a.values(), compute="float32")["h_re"]
    assert _ratio(fast[0], oracle[0], tol) <= 1.0
    with pytest.raises(MethodError, match=r"backend: expected one of 'auto', 'numba', "):
        mccc_kernels.scan(**a, backend="triton")


def test_numba_backend_refused_off_the_cpu_and_the_readout_runs_torch():
    with pytest.raises(BackendUnavailableError, match=r"backend='numba' on device 'cuda'"):
        mccc_kernels.select_backend("cuda", "numba")
    assert mccc_kernels.select_backend("cpu", "numba", kernel="modal_readout") == "torch"


def test_jax_callback_backend_jit_vmap_and_grad_match_the_numpy_entry_point():
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    a = _case(2, 13, 2, 5, np.float32, h0=True, seed=5)
    args = [a[k] for k in ("u", "nu", "theta", "B_re", "B_im", "h0_re", "h0_im")]
    ja = [jnp.asarray(x) for x in args]
    want = N.modal_scan(*args)
    got = jax.jit(lambda *x: mccc_kernels.scan(*x, backend="numba"))(*ja)
    # the callback runs the same NumPy function on the same float32 values: identical results
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(np.asarray(g), w)
    per_row = jax.vmap(lambda u, hr, hi: mccc_kernels.scan(u[None], *ja[1:5], hr[None], hi[None],
                                                          backend="numba")[0][0])(ja[0], *ja[5:])
    np.testing.assert_array_equal(np.asarray(per_row), want[0])
    rng = np.random.default_rng(6)
    g = [rng.standard_normal(want[0].shape).astype(np.float32) for _ in range(2)]
    _, vjp = jax.vjp(lambda *x: mccc_kernels.scan(*x, backend="numba"), *ja)
    grads = vjp((jnp.asarray(g[0]), jnp.asarray(g[1])))
    ref = N.modal_scan_vjp(*args, *g)
    for name, val in zip(R.GRAD_NAMES, grads, strict=True):
        np.testing.assert_array_equal(np.asarray(val), ref[name].astype(np.float32))
