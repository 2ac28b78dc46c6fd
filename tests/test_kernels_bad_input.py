"""Bad input gets a clear error before any kernel launches (table-driven, messages by regex)."""

import numpy as np
import pytest
import torch

from mccc_kernels import readout, scan
from mccc_kernels._common import NonContiguousError
from mccc_theory.errors import (
    BackendUnavailableError,
    DTypeError,
    EmptyInputError,
    MethodError,
    NonFiniteError,
    ShapeError,
    UnstableError,
)


def _scan_args(b=2, L=5, p=3, m=4, dtype=torch.float32):
    g = torch.Generator().manual_seed(0)
    r = lambda *s: torch.randn(*s, generator=g, dtype=dtype)  # noqa: E731
    return dict(u=r(b, L, p), nu=r(m), theta=r(m), B_re=r(m, p), B_im=r(m, p),
                h0_re=r(b, m), h0_im=r(b, m))


def _with(**changes):
    a = _scan_args()
    a.update(changes)
    return a


SCAN_CASES = [
    ("complex u", lambda: _with(u=torch.randn(2, 5, 3, dtype=torch.complex64)), DTypeError,
     r"u: expected a real plane, found complex dtype complex64"),
    ("complex B", lambda: _with(B_re=torch.randn(4, 3, dtype=torch.complex64)), DTypeError,
     r"B_re: expected a real plane.*separate real and imaginary planes"),
    ("int u", lambda: _with(u=torch.ones(2, 5, 3, dtype=torch.int64)), DTypeError,
     r"u: expected dtype in float32, float64, bfloat16, float16, found int64"),
    ("bf16 parameter", lambda: _with(nu=torch.randn(4).bfloat16()), DTypeError,
     r"nu: expected dtype in float32, float64, found bfloat16"),
    ("u rank", lambda: _with(u=torch.randn(5, 3)), ShapeError, r"u: expected a 3-d array"),
    ("B wrong p", lambda: _with(B_re=torch.randn(4, 2), B_im=torch.randn(4, 2)), ShapeError,
     r"B_re: expected shape \(\*, 3\), found \(4, 2\)"),
    ("B planes differ", lambda: _with(B_im=torch.randn(4, 3, dtype=torch.float64)), DTypeError,
     r"B_im: expected the dtype of B_re \(float32\), found float64"),
    ("nu wrong m", lambda: _with(nu=torch.randn(5), theta=torch.randn(5)), ShapeError,
     r"nu: expected m = 4 modes"),
    ("h0 batch", lambda: _with(h0_re=torch.randn(3, 4), h0_im=torch.randn(3, 4)), ShapeError,
     r"h0_re: expected shape \(2, 4\), found \(3, 4\)"),
    ("one h0 plane", lambda: _with(h0_im=None), ShapeError, r"give both planes"),
    ("non-contiguous u", lambda: _with(u=torch.randn(2, 3, 5).transpose(1, 2)),
     NonContiguousError, r"u: expected a C-contiguous array.*\.contiguous\(\)"),
    ("|lambda| = 1", lambda: _with(nu=torch.tensor([0.0, -np.inf, 0.0, 0.0])), UnstableError,
     r"nu: mode 1 has nu = -inf, so \|lambda\| = exp\(-exp\(nu\)\) rounds to 1"),
    ("|lambda| rounds to 1 in float32", lambda: _with(nu=torch.tensor([0.0, 0.0, -20.0, 0.0])),
     UnstableError, r"nu: mode 2 .* float32.*compute in float64"),
    ("nan nu", lambda: _with(nu=torch.tensor([0.0, float("nan"), 0.0, 0.0])), NonFiniteError,
     r"nu: expected finite values or \+inf \(lambda = 0\), found nan at 1"),
    ("inf theta", lambda: _with(theta=torch.tensor([0.0, 0.0, float("inf"), 0.0])),
     NonFiniteError, r"theta: expected finite values, found inf at index 2"),
    ("empty L", lambda: _with(u=torch.randn(2, 0, 3)), EmptyInputError,
     r"u: expected non-empty \(batch, L, p\)"),
    ("zero modes", lambda: _with(nu=torch.randn(0), theta=torch.randn(0), B_re=torch.randn(0, 3),
                                 B_im=torch.randn(0, 3), h0_re=None, h0_im=None),
     EmptyInputError, r"nu: expected at least one mode"),
]


@pytest.mark.parametrize("name,make,exc,pattern", SCAN_CASES, ids=[c[0] for c in SCAN_CASES])
def test_scan_bad_input(name, make, exc, pattern):
    with pytest.raises(exc, match=pattern):
        scan(**make())


@pytest.mark.parametrize("kw,exc,pattern", [
    ({"method": "tree"}, MethodError, r"method: expected one of 'sequential', 'chunked'"),
    ({"chunk": 12}, MethodError, r"chunk: expected a power of two"),
    ({"backend": "cuda"}, MethodError, r"backend: expected one of 'auto', 'torch', 'triton'"),
])
def test_scan_bad_options(kw, exc, pattern):
    with pytest.raises(exc, match=pattern):
        scan(**_scan_args(), **kw)


def test_scan_bad_input_numpy_and_jax_share_the_checks():
    a = {k: v.numpy() for k, v in _scan_args().items()}
    a["u"] = a["u"].astype(np.complex128)
    with pytest.raises(DTypeError, match=r"u: expected a real plane"):
        scan(**a)
    jnp = pytest.importorskip("jax.numpy")
    a = {k: jnp.asarray(v.numpy()) for k, v in _scan_args().items()}
    a["nu"] = jnp.asarray([0.0, -np.inf, 0.0, 0.0], dtype=jnp.float32)
    with pytest.raises(UnstableError, match=r"nu: mode 1"):
        scan(**a)


def test_triton_on_cpu_without_interpreter_is_refused(monkeypatch):
    from mccc_kernels import select_backend
    # triton reads TRITON_INTERPRET once, at import: import it under the session's setting
    # first, or every later Triton test in this process would run without the interpreter
    pytest.importorskip("triton")
    monkeypatch.setenv("TRITON_INTERPRET", "0")
    with pytest.raises(BackendUnavailableError, match=r"backend='triton' on device 'cpu'"):
        select_backend("cpu", "triton")


def _readout_args(mix="linear"):
    g = torch.Generator().manual_seed(1)
    r = lambda *s: torch.randn(*s, generator=g)  # noqa: E731
    return dict(H_re=r(2, 4, 3), H_im=r(2, 4, 3), C_re=r(2, 5, 4),
                C_im=r(2, 5, 4) if mix == "linear" else None)


READOUT_CASES = [
    ("complex H", dict(H_re=torch.randn(2, 4, 3, dtype=torch.complex64)), "linear", DTypeError,
     r"H_re: expected a real plane"),
    ("C batch", dict(C_re=torch.randn(3, 5, 4), C_im=torch.randn(3, 5, 4)), "linear", ShapeError,
     r"C_re: expected shape \(2, \*, 4\), found \(3, 5, 4\)"),
    ("C modes", dict(C_re=torch.randn(2, 5, 3), C_im=torch.randn(2, 5, 3)), "linear", ShapeError,
     r"C_re: expected shape \(2, \*, 4\)"),
    ("linear without C_im", dict(C_im=None), "linear", ShapeError, r"C_im: mix='linear' needs"),
    ("softmax with C_im", dict(C_im=torch.randn(2, 5, 4)), "softmax", ShapeError,
     r"C_im: mix='softmax' takes real scores"),
    ("non-contiguous H", dict(H_re=torch.randn(2, 3, 4).transpose(1, 2)), "linear",
     NonContiguousError, r"H_re: expected a C-contiguous array"),
    ("empty queries", dict(C_re=torch.randn(2, 0, 4), C_im=torch.randn(2, 0, 4)), "linear",
     EmptyInputError, r"expected non-empty .* Q=0"),
]


@pytest.mark.parametrize("name,changes,mix,exc,pattern", READOUT_CASES,
                         ids=[c[0] for c in READOUT_CASES])
def test_readout_bad_input(name, changes, mix, exc, pattern):
    a = _readout_args(mix)
    a.update(changes)
    with pytest.raises(exc, match=pattern):
        readout(**a, mix=mix)


def test_readout_bad_mix_and_gain():
    with pytest.raises(MethodError, match=r"mix: expected one of 'linear', 'softmax'"):
        readout(**_readout_args(), mix="max")
    with pytest.raises(ShapeError, match=r"g_re, g_im: a per-mode gain applies to mix='softmax'"):
        readout(**_readout_args(), g_re=torch.ones(4), g_im=torch.zeros(4))
    with pytest.raises(ShapeError, match=r"g_re: expected shape \(4,\), found \(3,\)"):
        readout(**_readout_args("softmax"), mix="softmax", g_re=torch.ones(3), g_im=torch.ones(3))
