"""CI lane: every Triton kernel runs under TRITON_INTERPRET=1 on small shapes and agrees with
the pure-torch core in float64 (same formulas, different arithmetic order: agreement to a few
hundred ulps of the magnitudes involved)."""

import os

import pytest
import torch

pytest.importorskip("triton")
if os.environ.get("TRITON_INTERPRET") != "1" and not torch.cuda.is_available():
    pytest.skip("Triton needs CUDA or TRITON_INTERPRET=1 (set by conftest)", allow_module_level=True)

from mccc_kernels.modal_readout import torch as RT  # noqa: E402
from mccc_kernels.modal_readout import triton as RK  # noqa: E402
from mccc_kernels.modal_scan import torch as ST  # noqa: E402
from mccc_kernels.modal_scan import triton as SK  # noqa: E402

D = torch.float64
TOL = dict(rtol=1e-11, atol=1e-11)  # float64, O(L + m) roundings of O(1..10) quantities


def _scan_data(b=2, L=11, m=19, seed=0):
    g = torch.Generator().manual_seed(seed)
    r = lambda *s: torch.randn(*s, generator=g, dtype=D)  # noqa: E731
    nu = torch.log(-torch.log1p(-torch.logspace(-4, -0.1, m, dtype=D)))
    nu[3] = float("inf")  # lambda = 0
    return r(b, L, m), r(b, L, m), nu, torch.rand(m, generator=g, dtype=D) * 6 - 3, r(b, m), r(b, m)


@pytest.mark.parametrize("method", ["sequential", "chunked"])
@pytest.mark.parametrize("return_all", [True, False])
@pytest.mark.parametrize("h0", [True, False])
def test_scan_kernels_match_torch_core(method, return_all, h0):
    x_re, x_im, nu, theta, h0r, h0i = _scan_data()
    h0r, h0i = (h0r, h0i) if h0 else (None, None)
    kw = dict(return_all=return_all, method=method, chunk=4)
    want = ST.TorchCore.forward(x_re, x_im, nu, theta, h0r, h0i, **kw)
    got = SK.forward(x_re, x_im, nu, theta, h0r, h0i, **kw)
    for w, g in zip(want, got, strict=True):
        torch.testing.assert_close(g, w, **TOL)
    g_re, g_im = want  # any cotangent of the right shape
    L = x_re.shape[1]
    want = ST.TorchCore.reverse(g_re, g_im, nu, theta, L=L, **kw)
    got = SK.reverse(g_re.contiguous(), g_im.contiguous(), nu, theta, L=L, **kw)
    for w, g in zip(want, got, strict=True):
        torch.testing.assert_close(g, w, **TOL)
    G_re, G_im = want
    want = ST.TorchCore.dlam(x_re, x_im, G_re, G_im, nu, theta, h0r, h0i, method=method, chunk=4)
    got = SK.dlam(x_re, x_im, G_re, G_im, nu, theta, h0r, h0i, method=method, chunk=4)
    for w, g in zip(want, got, strict=True):
        torch.testing.assert_close(g, w, **TOL)


@pytest.mark.parametrize("mix,gain", [("linear", False), ("softmax", False), ("softmax", True)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_readout_kernels_match_torch_core(mix, gain, dtype):
    g = torch.Generator().manual_seed(1)
    r = lambda *s: torch.randn(*s, generator=g, dtype=dtype)  # noqa: E731
    b, Q, m, d_v = 2, 17, 19, 5  # none a multiple of the 16-wide blocks
    H_re, H_im, W = r(b, m, d_v), r(b, m, d_v), 4 * r(b, Q, m)
    gr, gi = (r(m), r(m)) if gain else (None, None)
    zb = H_im if gain else None
    want, _ = RT.TorchCore.mix_forward(W, H_re, zb, gr, gi, mix=mix)
    got, lse = RK.mix_forward(W, H_re, zb, gr, gi, mix=mix)
    # float32: the two orders of summation differ by O(m eps) of the O(10) magnitudes
    tol = TOL if dtype == torch.float64 else dict(rtol=2e-5, atol=2e-5)
    torch.testing.assert_close(got, want, **tol)
    gy = r(b, Q, d_v)
    torch.testing.assert_close(RK.mix_backward_w(W, H_re, zb, gr, gi, gy, lse, mix=mix),
                               RT.TorchCore.mix_backward_w(W, H_re, zb, gr, gi, gy, None, mix=mix),
                               **tol)
    torch.testing.assert_close(RK.mix_backward_z(W, gy, lse, mix=mix),
                               RT.TorchCore.mix_backward_z(W, gy, None, mix=mix), **tol)


def test_bf16_inputs_run_with_a_float32_state():
    x = torch.randn(1, 9, 3).bfloat16()
    nu, theta = torch.zeros(5), torch.zeros(5)
    B = torch.randn(5, 3)
    for backend in ("torch", "triton"):
        h_re, _ = ST.modal_scan(x, nu, theta, B, B, backend=backend)
        assert h_re.dtype == torch.float32
