"""The oracles themselves: the reference scan against the foundation's ModalSystem, and the
reference VJPs against central finite differences in float64 (independent of the adjoint
derivation the kernels share)."""

import numpy as np
import pytest
from finite_differences import assert_vjp_matches

from mccc_kernels.modal_readout import reference as RR
from mccc_kernels.modal_scan import reference as RS
from mccc_theory.systems import ModalSystem


def _scan_inputs(rng, b=2, L=6, p=2, m=3, h0=True):
    nu = np.log(-np.log1p(-np.array([1e-2, 0.3, 0.8])[:m]))
    return [rng.standard_normal((b, L, p)), nu, rng.uniform(-3, 3, m),
            rng.standard_normal((m, p)), rng.standard_normal((m, p)),
            rng.standard_normal((b, m)) if h0 else None,
            rng.standard_normal((b, m)) if h0 else None]


def test_reference_scan_equals_modal_system_simulate():
    rng = np.random.default_rng(0)
    u, nu, theta, Br, Bi, h0r, h0i = _scan_inputs(rng)
    h_re, h_im = RS.modal_scan(u, nu, theta, Br, Bi, h0r, h0i)
    for k in range(u.shape[0]):
        sys = ModalSystem.from_params(nu, theta, Br + 1j * Bi, np.eye(3))
        _, states = sys.simulate(u[k], h0r[k] + 1j * h0i[k], return_states=True)
        # both are complex128 loops over the same recurrence: agreement to a few ulps of |h|
        np.testing.assert_allclose(h_re[k] + 1j * h_im[k], states, rtol=0, atol=1e-13)


@pytest.mark.parametrize("return_all", [True, False])
def test_reference_scan_vjp_matches_finite_differences(return_all):
    rng = np.random.default_rng(1)
    args = _scan_inputs(rng)
    out = RS.modal_scan(*args, return_all=return_all)
    g = (rng.standard_normal(out[0].shape), rng.standard_normal(out[1].shape))
    grads = RS.modal_scan_vjp(*args, *g, return_all=return_all)

    assert_vjp_matches(lambda *a: RS.modal_scan(*a, return_all=return_all), args, g, grads,
                       RS.GRAD_NAMES)


def test_reference_lambda_zero_gives_zero_dnu_and_no_memory():
    rng = np.random.default_rng(2)
    u, nu, theta, Br, Bi, h0r, h0i = _scan_inputs(rng)
    nu[1] = np.inf  # lambda_1 = 0: the state is just the latest input
    h_re, h_im = RS.modal_scan(u, nu, theta, Br, Bi, h0r, h0i)
    x = np.einsum("ij,btj->bti", Br + 1j * Bi, u)
    np.testing.assert_array_equal(h_re[:, :, 1] + 1j * h_im[:, :, 1], x[:, :, 1])
    grads = RS.modal_scan_vjp(u, nu, theta, Br, Bi, h0r, h0i, h_re, h_im)
    assert grads["nu"][1] == 0.0 and np.all(np.isfinite(grads["nu"]))


@pytest.mark.parametrize("mix,gain", [("linear", False), ("softmax", False), ("softmax", True)])
def test_reference_readout_vjp_matches_finite_differences(mix, gain):
    rng = np.random.default_rng(3)
    b, Q, m, d_v = 2, 3, 4, 2
    H = [rng.standard_normal((b, m, d_v)) for _ in range(2)]
    C = [rng.standard_normal((b, Q, m)), rng.standard_normal((b, Q, m)) if mix == "linear"
         else None]
    g = [rng.standard_normal(m), rng.standard_normal(m)] if gain else [None, None]
    args = H + C + g
    y = RR.modal_readout(*args[:4], mix=mix, g_re=g[0], g_im=g[1])
    gy = rng.standard_normal(y.shape)
    grads = RR.modal_readout_vjp(*args[:4], gy, mix=mix, g_re=g[0], g_im=g[1])
    names = ["H_re", "H_im", "C_re", "C_im", "g_re", "g_im"]

    assert_vjp_matches(lambda *a: (RR.modal_readout(*a[:4], mix=mix, g_re=a[4], g_im=a[5]),),
                       args, (gy,), grads, names)


def test_error_model_bounds_a_float32_sequential_loop():
    """The model is an upper bound for the plain float32 recurrence it was derived for
    (here the worst case near |lambda| = 1 - 1e-5 over a long horizon)."""
    rng = np.random.default_rng(4)
    b, L, p, m = 2, 400, 3, 4
    u = rng.standard_normal((b, L, p)).astype(np.float32)
    nu = np.log(-np.log1p(-np.array([1e-5, 1e-3, 0.1, 0.9]))).astype(np.float32)
    theta = rng.uniform(-3, 3, m).astype(np.float32)
    Br, Bi = (rng.standard_normal((m, p)).astype(np.float32) for _ in range(2))
    ref = RS.modal_scan(u, nu, theta, Br, Bi)
    tol = RS.error_model(u, nu, theta, Br, Bi, None, None, compute="float32")
    lam = (np.exp(-np.exp(nu)) * np.exp(1j * theta)).astype(np.complex64)
    x = np.einsum("ij,btj->bti", (Br + 1j * Bi).astype(np.complex64), u.astype(np.complex64))
    h = np.zeros((b, m), np.complex64)
    worst = 0.0
    for t in range(L):
        h = (lam * h + x[:, t]).astype(np.complex64)
        err = np.abs(h.real - ref[0][:, t])
        worst = max(worst, float(np.max(err / tol["h_re"][:, t])))
    assert 0 < worst <= 1.0
