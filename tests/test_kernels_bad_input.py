"""Bad input gets a clear error before any kernel launches (table-driven, messages by regex)."""

import numpy as np
import pytest
import torch

from mccc_kernels import encode, readout, scan
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


# --- values at the public boundary: NaN/inf named by argument, on every backend ---------------
def _nan_at(x, idx, value=float("nan")):
    x = np.array(x, dtype=np.float64 if np.asarray(x).dtype == np.float64 else np.float32)
    x[idx] = value
    return x


def _np_scan_args():
    return {k: v.numpy() for k, v in _scan_args().items()}


def _encode_args(per_token=False):
    rng = np.random.default_rng(2)
    bshape = (2, 5, 4) if per_token else (4,)
    return dict(v=rng.standard_normal((2, 5, 3)), nu=np.full(4, -1.0), theta=np.zeros(4),
                b_re=rng.standard_normal(bshape), b_im=rng.standard_normal(bshape),
                h0_re=rng.standard_normal((2, 4, 3)), h0_im=rng.standard_normal((2, 4, 3)))


def _as(kind, d):
    if kind == "torch":
        return {k: None if v is None else torch.as_tensor(v) for k, v in d.items()}
    if kind == "jax":
        jnp = pytest.importorskip("jax.numpy")
        return {k: None if v is None else jnp.asarray(v) for k, v in d.items()}
    return d


def _with_value(make, name, idx, value=float("nan")):
    def build():
        d = make()
        d[name] = _nan_at(d[name], idx, value)
        return d
    return build


VALUE_CASES = [  # (id, kind, op, build args, extra kwargs, pattern)
    ("numpy scan u", "numpy", scan, _with_value(_np_scan_args, "u", (0, 1, 2)), {},
     r"u: expected finite values, found nan at index \(0, 1, 2\) \(1 non-finite"),
    ("torch scan B_im", "torch", scan, _with_value(_np_scan_args, "B_im", (3, 0)), {},
     r"B_im: expected finite values, found nan at index \(3, 0\)"),
    ("jax scan h0_re", "jax", scan, _with_value(_np_scan_args, "h0_re", (1, 2), float("inf")), {},
     r"h0_re: expected finite values, found inf at index \(1, 2\)"),
    ("torch packed scan h0_im", "torch", scan,
     _with_value(lambda: {**_np_scan_args(), "u": np.ones((1, 5, 3), np.float32)}, "h0_im",
                 (0, 0)), {"cu_seqlens": [0, 2, 5]}, r"h0_im: expected finite values"),
    ("torch softmax scores", "torch", readout,
     _with_value(lambda: {k: None if v is None else v.numpy()
                          for k, v in _readout_args("softmax").items()}, "C_re", (1, 4, 0)),
     {"mix": "softmax"}, r"C_re: expected finite values, found nan at index \(1, 4, 0\)"),
    ("numpy readout C_im", "numpy", readout,
     _with_value(lambda: {k: v.numpy() for k, v in _readout_args().items()}, "C_im", (0, 0, 0),
                 float("-inf")), {}, r"C_im: expected finite values, found -inf"),
    ("jax readout H_im", "jax", readout,
     _with_value(lambda: {k: v.numpy() for k, v in _readout_args().items()}, "H_im", (1, 3, 2)),
     {}, r"H_im: expected finite values, found nan at index \(1, 3, 2\)"),
    ("numpy encode v", "numpy", encode, _with_value(_encode_args, "v", (1, 4, 0)), {},
     r"v: expected finite values, found nan at index \(1, 4, 0\)"),
    ("torch encode per-token b_im", "torch", encode,
     _with_value(lambda: _encode_args(True), "b_im", (0, 2, 3), float("inf")), {},
     r"b_im: expected finite values, found inf at index \(0, 2, 3\)"),
    ("jax encode h0_re", "jax", encode, _with_value(_encode_args, "h0_re", (1, 0, 2)), {},
     r"h0_re: expected finite values, found nan at index \(1, 0, 2\)"),
]


@pytest.mark.parametrize("name,kind,op,make,kw,pattern", VALUE_CASES,
                         ids=[c[0] for c in VALUE_CASES])
def test_nonfinite_values_are_named_on_every_backend(name, kind, op, make, kw, pattern):
    with pytest.raises(NonFiniteError, match=pattern):
        op(**_as(kind, make()), **kw)


def test_value_checks_switch_off_and_do_no_host_work(monkeypatch):
    import mccc_kernels
    from mccc_kernels import _common

    calls = []
    real = torch.isfinite

    def spy(x):
        calls.append(x.shape)
        return real(x)
    monkeypatch.setattr(torch, "isfinite", spy)
    a = _scan_args()
    a["u"] = a["u"].clone()
    a["u"][0, 0, 0] = float("nan")
    with pytest.raises(NonFiniteError, match=r"u: expected finite"):
        scan(**a, backend="torch")
    assert calls  # the check is the isfinite reduction
    calls.clear()

    def no_host(x):
        raise AssertionError("a value was read on the host with the checks off")
    monkeypatch.setattr(_common, "_to_numpy", no_host)
    with mccc_kernels.checks(False):
        assert not _common.checks_enabled()
        h = scan(**a, backend="torch")  # NaN in, NaN out: the caller switched the checks off
        e = encode(**_as("torch", _encode_args()))
        y = readout(**_readout_args())
    assert calls == [] and _common.checks_enabled()  # restored on exit
    assert torch.isnan(h[0]).any() and torch.isfinite(e[0]).all() and torch.isfinite(y).all()
    with pytest.raises(TypeError, match=r"enabled: expected a bool"):
        with mccc_kernels.checks("off"):
            pass


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64,
                                   torch.complex64])
def test_fast_finite_test_equals_isfinite_all(dtype, monkeypatch):
    """The one-sum test decides exactly what ``isfinite(x).all()`` decides, including finite
    entries whose sum overflows (+max twice, or max and -max making no NaN), NaN next to inf,
    inf - inf (a NaN sum from two infinities), and a single bad entry anywhere."""
    from mccc_kernels._common import torch_all_finite
    big = torch.finfo(dtype).max if dtype.is_floating_point else torch.finfo(torch.float32).max
    g = torch.Generator().manual_seed(3)
    cases = [torch.randn(64, generator=g).to(dtype), torch.full((8,), big, dtype=dtype),
             torch.tensor([big, -big, big], dtype=dtype)]
    for bad in (float("nan"), float("inf"), float("-inf")):
        for i in (0, 37, 63):
            x = torch.randn(64, generator=g).to(dtype)
            x[i] = bad
            cases.append(x)
    cases.append(torch.tensor([float("inf"), float("-inf"), 1.0], dtype=dtype))
    cases.append(torch.tensor([float("nan"), float("inf")], dtype=dtype))
    for x in cases:
        assert torch_all_finite(x) == bool(torch.isfinite(x).all()), x
    # ordinary values decide with the one sum, also in half precision (10 x 6e4 overflows a
    # float16 sum): a single isfinite call, on the scalar total
    calls = []
    real = torch.isfinite
    monkeypatch.setattr(torch, "isfinite", lambda t: calls.append(t.numel()) or real(t))
    assert torch_all_finite(torch.full((10,), 6e4, dtype=dtype))
    assert calls == [1]


def test_environment_switches_the_default_off():
    import os
    import subprocess
    import sys

    from mccc_kernels._common import _env_default
    assert [_env_default(v) for v in ("0", " Off", "false", "no", "1", "yes", "")] == \
        [False] * 4 + [True] * 3
    code = "from mccc_kernels import _common; print(_common.checks_enabled())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "MCCC_KERNEL_CHECKS": "0"}, check=True)
    assert out.stdout.strip() == "False"


def test_traced_calls_skip_value_checks():
    """Under jax.jit and torch.compile the values are unknown: no check, no graph break."""
    jax = pytest.importorskip("jax")
    a = _as("jax", _with_value(_np_scan_args, "h0_re", (0, 0))())
    h = jax.jit(lambda h0: scan(**{**a, "h0_re": h0}, return_all=False)[0])(a["h0_re"])
    assert np.isnan(np.asarray(h)).any()
    v = torch.randn(2, 9, 3)
    f = torch.compile(lambda v: encode(v, torch.full((4,), -1.0), torch.linspace(-1, 1, 4),
                                       torch.ones(4), torch.zeros(4), chunk=4),
                      fullgraph=True, backend="eager")
    H = f(v)
    ref = encode(v, torch.full((4,), -1.0), torch.linspace(-1, 1, 4), torch.ones(4),
                 torch.zeros(4))
    # the same float64 sums in blocks of 4 and in one block, rounded to float32
    torch.testing.assert_close(H[0], ref[0], rtol=1e-6, atol=1e-6)


# --- packed sequences: the offsets -----------------------------------------------------------
CU_CASES = [
    ("not from 0", [1, 3, 5], r"cu_seqlens: expected the first offset to be 0, found 1"),
    ("decreasing", [0, 4, 2, 5], r"cu_seqlens: expected non-decreasing offsets, found 4 then 2"),
    ("short", [0, 2, 4], r"cu_seqlens: expected the last offset to be the packed length 5"),
    ("negative", [0, -1, 5], r"cu_seqlens: expected non-negative offsets, found -1 at index 1"),
    ("one offset", [0], r"cu_seqlens: expected a 1-d array of n_seq \+ 1 >= 2 offsets"),
    ("float", np.array([0.0, 5.0]), r"cu_seqlens: expected integer offsets"),
]


@pytest.mark.parametrize("name,cu,pattern", CU_CASES, ids=[c[0] for c in CU_CASES])
@pytest.mark.parametrize("op", ["scan", "encode"])
def test_bad_cu_seqlens(name, cu, pattern, op):
    exc = DTypeError if name == "float" else ShapeError
    with pytest.raises(exc, match=pattern):
        if op == "scan":
            a = _scan_args(b=1)
            scan(**{**a, "h0_re": None, "h0_im": None}, cu_seqlens=cu)
        else:
            a = _as("torch", {**_encode_args(), "h0_re": None, "h0_im": None})
            encode(**{**a, "v": a["v"][:1]}, cu_seqlens=cu)


def test_packed_layout_errors():
    with pytest.raises(ShapeError, match=r"u: with cu_seqlens the sequences are packed on axis 1"):
        scan(**_scan_args(), cu_seqlens=[0, 5])
    with pytest.raises(ShapeError, match=r"h0_re: expected shape \(2, 4\), found \(1, 4\)"):
        a = _scan_args(b=1)
        scan(**a, cu_seqlens=[0, 2, 5])
    a = _as("torch", _encode_args())
    with pytest.raises(ShapeError, match=r"mask: give either mask .* or cu_seqlens"):
        encode(**{**a, "v": a["v"][:1]}, mask=torch.ones(1, 5, dtype=torch.bool),
               cu_seqlens=[0, 5])


ENCODE_CASES = [
    ("b rank 2", dict(b_re=np.ones((4, 1)), b_im=np.ones((4, 1))), {}, ShapeError,
     r"b_re: expected shape \(m,\) \(per mode\) or \(2, 5, m\) \(per token\), found \(4, 1\)"),
    ("per-token b length", dict(b_re=np.ones((2, 4, 4)), b_im=np.ones((2, 4, 4))), {}, ShapeError,
     r"b_re: expected shape \(2, 5, \*\), found \(2, 4, 4\)"),
    ("nu modes", dict(nu=np.zeros(3), theta=np.zeros(3)), {}, ShapeError,
     r"nu: expected m = 4 modes"),
    ("h0 shape", dict(h0_re=np.ones((2, 4, 2)), h0_im=np.ones((2, 4, 2))), {}, ShapeError,
     r"h0_re: expected shape \(2, 4, 3\), found \(2, 4, 2\)"),
    ("mask shape", {}, dict(mask=np.ones((2, 4), bool)), ShapeError,
     r"mask: expected shape \(2, 5\)"),
    ("mask dtype", {}, dict(mask=np.ones((2, 5))), DTypeError,
     r"mask: expected dtype in bool, found float64"),
    ("complex v", dict(v=np.ones((2, 5, 3), complex)), {}, DTypeError, r"v: expected a real plane"),
    ("empty source", dict(v=np.ones((2, 0, 3))), {}, EmptyInputError,
     r"v: expected non-empty \(batch, N, d_v\)"),
    ("|lambda| = 1", dict(nu=np.array([0.0, -np.inf, 0.0, 0.0])), {}, UnstableError,
     r"nu: mode 1 has nu = -inf"),
    ("chunk", {}, dict(chunk=0), MethodError, r"chunk: expected a positive int"),
    ("accumulate", {}, dict(accumulate="float16"), MethodError,
     r"accumulate: expected one of 'auto', 'float32', 'float64'"),
]


@pytest.mark.parametrize("name,changes,kw,exc,pattern", ENCODE_CASES,
                         ids=[c[0] for c in ENCODE_CASES])
def test_encode_bad_input(name, changes, kw, exc, pattern):
    a = {**_encode_args(), **changes}
    with pytest.raises(exc, match=pattern):
        encode(**_as("torch", a), **{k: torch.as_tensor(v) if k == "mask" else v
                                     for k, v in kw.items()})
