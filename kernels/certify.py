"""Certification: Hypothesis parity of each kernel/backend against the NumPy oracle.

:func:`certify` draws cases with Hypothesis over the awkward corners (L = 1, lengths that are not
a multiple of the chunk, mode counts that are not a multiple of the block, ``|lambda|`` from 0 up
to ``1 - 1e-5``, float32, float64 and bf16 inputs with a float32 state, with and without an
initial state, all states or the final one), runs the forward pass and the VJP with a random
cotangent, and divides every error by the error model of the oracle (``reference.error_model``).
A case passes when every ratio is at most 1 and every value is finite. The numba backend (the
compiled CPU scan) is run through both entry points that reach it on every case: the torch
autograd Function and JAX's ``backend="numba"`` callback (which calls the NumPy
``modal_scan``/``modal_scan_vjp``). For the torch, Triton and numba backends it also runs
``torch.autograd.gradcheck`` in float64.

Only when every case passes is a certificate written (JSON: kernel, backend, device, versions,
git revision, source hash, cases, worst ratio and where it occurred); on any failure the old
certificate of that kernel/backend is removed and :class:`CertificationError` carries the
shrunk failing case. :func:`certificates` reads them back.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import importlib
import json
import os
import platform
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mccc_theory.errors import BackendUnavailableError, MCCCError, MethodError

__all__ = ["KERNELS", "BACKENDS", "KERNEL_BACKENDS", "available_backends", "certify",
           "certificates", "certificate_dir", "CertificationError", "Report", "swap_modules"]

KERNELS = ("modal_scan", "modal_readout", "modal_encode")
BACKENDS = ("jax", "torch", "triton", "numba")
#: the backends each kernel has (numba: the compiled CPU scan, run through the torch autograd
#: Function; the readout is two GEMMs that torch already runs compiled)
KERNEL_BACKENDS = {"modal_scan": BACKENDS, "modal_readout": ("jax", "torch", "triton"),
                   "modal_encode": ("jax", "torch")}
PKG = Path(__file__).resolve().parent


class CertificationError(MCCCError, AssertionError):
    """A kernel/backend failed certification; the message holds the failing case."""


# --------------------------------------------------------------------------------------------
# environment
def certificate_dir(directory=None) -> Path:
    """``directory``, else ``$MCCC_CERTIFICATE_DIR``, else ``~/.cache/mccc-theory/certificates``."""
    if directory is not None:
        return Path(directory)
    env = os.environ.get("MCCC_CERTIFICATE_DIR")
    if env:
        return Path(env)
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "mccc-theory" / "certificates"


def use_interpreter_without_cuda() -> None:
    """Set ``TRITON_INTERPRET=1`` when no CUDA device exists, so Triton kernels run on the CPU.

    Must run before :mod:`triton` is first imported (it reads the variable at import); a no-op
    when CUDA is available, when the variable is already set, or when triton is imported.
    """
    try:
        import torch
    except ImportError:
        return
    if not torch.cuda.is_available() and "triton" not in sys.modules:
        os.environ.setdefault("TRITON_INTERPRET", "1")


def available_backends() -> dict[str, str]:
    """Backends that can run here, each with the device it runs on (or why it cannot)."""
    out = {}
    try:
        import jax
        out["jax"] = f"jax:{jax.default_backend()}"
    except Exception as exc:  # optional dependency
        out["jax"] = f"unavailable ({type(exc).__name__}: {exc})"
    try:
        import torch
        out["torch"] = "torch:cpu"
    except Exception as exc:
        out["torch"] = f"unavailable ({type(exc).__name__}: {exc})"
        out["triton"] = "unavailable (needs torch)"
        out["numba"] = "unavailable (needs torch)"  # every backend has an entry
        return out
    try:
        import numba
        out["numba"] = f"numba:cpu ({numba.__version__})"
    except Exception as exc:
        out["numba"] = f"unavailable ({type(exc).__name__}: {exc})"
    try:
        import triton  # noqa: F401
        if torch.cuda.is_available():
            out["triton"] = f"triton:cuda ({torch.cuda.get_device_name()})"
        elif os.environ.get("TRITON_INTERPRET") == "1":
            out["triton"] = "triton:cpu-interpreter"
        else:
            out["triton"] = "unavailable (no CUDA device and TRITON_INTERPRET is not 1)"
    except Exception as exc:
        out["triton"] = f"unavailable ({type(exc).__name__}: {exc})"
    return out


def _versions() -> dict:
    v = {"python": platform.python_version(), "numpy": np.__version__}
    for name in ("jax", "torch", "triton", "numba", "hypothesis"):
        try:
            v[name] = importlib.import_module(name).__version__
        except Exception:
            v[name] = None
    return v


def _git_revision() -> str | None:
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=PKG, capture_output=True,
                             text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", str(PKG)], cwd=PKG,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return rev + ("+dirty" if dirty else "")
    except Exception:
        return None


def source_hash(kernel: str) -> str:
    """SHA-256 over the kernel's sources and the shared helpers (a certificate's identity)."""
    h = hashlib.sha256()
    for path in sorted((PKG / kernel).glob("*.py")) + [PKG / "_common.py", PKG / "certify.py"]:
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()


@contextlib.contextmanager
def swap_modules(replacements: dict):
    """Temporarily install modules (``{"mccc_kernels.modal_scan.triton": module}``).

    Used by the mutant tests: certification resolves every implementation through
    ``sys.modules`` and the package attributes, so a swapped module is what runs.
    """
    saved = {}
    for name, mod in replacements.items():
        parent_name, _, attr = name.rpartition(".")
        importlib.import_module(name)
        parent = sys.modules[parent_name]
        saved[name] = (sys.modules[name], getattr(parent, attr))
        sys.modules[name] = mod
        setattr(parent, attr, mod)
    try:
        yield
    finally:
        for name, (mod, attr_mod) in saved.items():
            parent_name, _, attr = name.rpartition(".")
            sys.modules[name] = mod
            setattr(sys.modules[parent_name], attr, attr_mod)


# --------------------------------------------------------------------------------------------
# cases
@dataclass
class Report:
    """What one certification run found."""

    kernel: str
    backend: str
    device: str
    cases: int = 0
    worst_ratio: float = 0.0
    worst_where: str = ""
    by_dtype: dict = field(default_factory=dict)
    gradcheck: str = "not run"
    failure: str | None = None

    def record(self, ratio: float, where: str, dtype: str):
        self.cases += 1
        self.by_dtype[dtype] = max(self.by_dtype.get(dtype, 0.0), ratio)
        if ratio > self.worst_ratio or self.cases == 1:
            self.worst_ratio, self.worst_where = ratio, where


#: explicit cases run first by every certification: together they reach every corner (all
#: dtypes, both methods, final and all states, with and without h0, lambda = 0 and
#: |lambda| = 1 - 1e-5, L = 1, L and m not multiples of the chunk or block)
SCAN_EXAMPLES = (
    dict(batch=2, L=33, p=3, m=17, dtype="float32", method="chunked", chunk=4, return_all=True,
         h0=True, kinds=["random", "edge", "zero", "fast"], seed=1),
    dict(batch=2, L=17, p=2, m=5, dtype="float64", method="sequential", chunk=16,
         return_all=False, h0=True, kinds=["edge", "random", "zero"], seed=2),
    dict(batch=2, L=33, p=2, m=17, dtype="float64", method="chunked", chunk=16,
         return_all=False, h0=True, kinds=["random", "fast", "edge"], seed=3),
    dict(batch=1, L=1, p=1, m=3, dtype="bfloat16", method="chunked", chunk=16,
         return_all=False, h0=False, kinds=["random", "fast"], seed=4),
    dict(batch=2, L=7, p=2, m=3, dtype="float32", method="sequential", chunk=4,
         return_all=True, h0=False, kinds=["edge"], seed=5),
    dict(batch=1, L=16, p=2, m=16, dtype="bfloat16", method="sequential", chunk=4,
         return_all=True, h0=True, kinds=["random", "zero"], seed=6),
)
READOUT_EXAMPLES = (
    dict(batch=2, Q=5, m=17, d_v=19, dtype="float32", mix="linear", gain=False,
         score_scale=1.0, seed=1),
    dict(batch=2, Q=2, m=33, d_v=4, dtype="float64", mix="softmax", gain=True,
         score_scale=10.0, seed=2),
    dict(batch=1, Q=17, m=3, d_v=1, dtype="bfloat16", mix="softmax", gain=False,
         score_scale=1.0, seed=3),
    dict(batch=3, Q=1, m=16, d_v=16, dtype="float64", mix="linear", gain=False,
         score_scale=0.1, seed=4),
    dict(batch=2, Q=5, m=17, d_v=19, dtype="float32", mix="softmax", gain=True,
         score_scale=1.0, seed=5),
    dict(batch=2, Q=3, m=5, d_v=2, dtype="bfloat16", mix="linear", gain=False,
         score_scale=1.0, seed=6),
)


def _scan_strategy(backend):
    from hypothesis import strategies as st

    methods = ("sequential", "chunked")
    mode_kind = st.sampled_from(("random", "edge", "zero", "fast"))
    small = backend == "triton"  # the CPU interpreter runs every program step in Python
    return st.fixed_dictionaries({
        "batch": st.integers(1, 2 if small else 3),
        "L": st.sampled_from((1, 2, 3, 5, 7, 16, 17, 33) + (() if small else (31, 50))),
        "p": st.integers(1, 4),
        "m": st.sampled_from((1, 3, 5, 16, 17) + (() if small else (33,))),
        "dtype": st.sampled_from(("float32", "float64", "bfloat16")),
        "method": st.sampled_from(methods),
        "chunk": st.sampled_from((4, 16)),
        "return_all": st.booleans(),
        "h0": st.booleans(),
        "kinds": st.lists(mode_kind, min_size=1, max_size=4),
        "seed": st.integers(0, 2**32 - 1),
    })


def _readout_strategy(backend):
    from hypothesis import strategies as st

    return st.fixed_dictionaries({
        "batch": st.integers(1, 3),
        "Q": st.sampled_from((1, 2, 5, 17)),
        "m": st.sampled_from((1, 3, 16, 17, 33)),
        "d_v": st.sampled_from((1, 4, 16, 19)),
        "dtype": st.sampled_from(("float32", "float64", "bfloat16")),
        "mix": st.sampled_from(("linear", "softmax")),
        "gain": st.booleans(),
        "score_scale": st.sampled_from((0.1, 1.0, 10.0)),
        "seed": st.integers(0, 2**32 - 1),
    })


def _scan_data(case):
    """NumPy float64 data of one scan case (rounded to the case's dtypes by the runner)."""
    rng = np.random.default_rng(case["seed"])
    b, L, p, m = case["batch"], case["L"], case["p"], case["m"]
    kinds = [case["kinds"][i % len(case["kinds"])] for i in range(m)]
    nu = np.empty(m)
    for i, k in enumerate(kinds):
        if k == "zero":
            nu[i] = np.inf  # lambda = 0
        elif k == "edge":
            nu[i] = np.log(-np.log1p(-1e-5))  # |lambda| = 1 - 1e-5
        elif k == "fast":
            nu[i] = rng.uniform(0.0, 3.0)
        else:
            nu[i] = np.log(-np.log1p(-10.0 ** rng.uniform(-5, 0)))  # 1-|lambda| in [1e-5, 1)
    theta = rng.uniform(-np.pi, np.pi, m)
    data = {"u": rng.standard_normal((b, L, p)), "nu": nu, "theta": theta,
            "B_re": rng.standard_normal((m, p)) / np.sqrt(p),
            "B_im": rng.standard_normal((m, p)) / np.sqrt(p),
            "h0_re": rng.standard_normal((b, m)) if case["h0"] else None,
            "h0_im": rng.standard_normal((b, m)) if case["h0"] else None}
    gshape = (b, L, m) if case["return_all"] else (b, m)
    cot = (rng.standard_normal(gshape), rng.standard_normal(gshape))
    return data, cot


def _readout_data(case):
    rng = np.random.default_rng(case["seed"])
    b, Q, m, d_v = case["batch"], case["Q"], case["m"], case["d_v"]
    linear = case["mix"] == "linear"
    data = {"H_re": rng.standard_normal((b, m, d_v)), "H_im": rng.standard_normal((b, m, d_v)),
            "C_re": case["score_scale"] * rng.standard_normal((b, Q, m)),
            "C_im": rng.standard_normal((b, Q, m)) if linear else None,
            "g_re": None if linear or not case["gain"] else rng.standard_normal(m),
            "g_im": None if linear or not case["gain"] else rng.standard_normal(m)}
    return data, rng.standard_normal((b, Q, d_v))


#: the arguments whose dtype follows the case's input dtype (the rest are parameters/states)
_INPUT_ARGS = {"modal_scan": ("u",), "modal_readout": ("C_re", "C_im"), "modal_encode": ("v",)}


def _dtypes(kernel, case):
    """dtype per argument: bf16 cases keep parameters in float32 (state float32)."""
    d = case["dtype"]
    par = "float32" if d == "bfloat16" else d
    return lambda name: d if name in _INPUT_ARGS[kernel] else par


def _round(x, dtype):
    """The value a tensor of ``dtype`` holds, as float64 (what the oracle must see)."""
    import torch
    if x is None:
        return None
    t = torch.tensor(x, dtype=torch.float64).to(getattr(torch, dtype))
    return t.double().numpy()


# --------------------------------------------------------------------------------------------
# runners: each returns (outputs dict, grads dict) as float64 NumPy
def _run_torch(kernel, backend, data, cot, dtype_of, opts):
    import torch

    mod = importlib.import_module(f"mccc_kernels.{kernel}.torch")
    tens = {k: None if v is None else torch.tensor(v, dtype=getattr(torch, dtype_of(k)),
                                                    requires_grad=True) for k, v in data.items()}
    fn = mod.modal_scan if kernel == "modal_scan" else mod.modal_readout
    out = fn(**tens, **opts, backend=backend)
    if kernel == "modal_scan":
        loss = (out[0] * torch.tensor(cot[0], dtype=out[0].dtype)).sum() + \
            (out[1] * torch.tensor(cot[1], dtype=out[1].dtype)).sum()
        outs = {"h_re": out[0], "h_im": out[1]}
    else:
        loss = (out * torch.tensor(cot, dtype=out.dtype)).sum()
        outs = {"y": out}
    loss.backward()
    grads = {k: t.grad for k, t in tens.items() if t is not None}
    as_np = lambda t: None if t is None else t.detach().double().numpy()  # noqa: E731
    return {k: as_np(v) for k, v in outs.items()}, {k: as_np(v) for k, v in grads.items()}


def _run_jax(kernel, data, cot, dtype_of, opts):
    import jax
    import jax.numpy as jnp

    mod = importlib.import_module(f"mccc_kernels.{kernel}.jax")
    names = [k for k, v in data.items() if v is not None]
    arrays = [jnp.asarray(data[k], dtype=getattr(jnp, dtype_of(k))) for k in names]
    fn = mod.modal_scan if kernel == "modal_scan" else mod.modal_readout

    def f(*xs):
        return fn(**dict(zip(names, xs, strict=True)), **opts)

    out, vjp = jax.vjp(f, *arrays)
    if kernel == "modal_scan":
        g = (jnp.asarray(cot[0], out[0].dtype), jnp.asarray(cot[1], out[1].dtype))
        outs = {"h_re": out[0], "h_im": out[1]}
    else:
        g = jnp.asarray(cot, out.dtype)
        outs = {"y": out}
    grads = dict(zip(names, vjp(g), strict=True))
    to64 = lambda x: np.asarray(jnp.asarray(x, jnp.float32) if x.dtype == jnp.bfloat16 else x,  # noqa: E731
                                dtype=np.float64)
    return {k: to64(v) for k, v in outs.items()}, {k: to64(v) for k, v in grads.items()}


def _run_case(kernel, backend, case):
    """Max over every output and gradient of |observed - oracle| / model; and where."""
    from .modal_readout import reference as R_read
    from .modal_scan import reference as R_scan

    dtype_of = _dtypes(kernel, case)
    out_dtype = "float64" if case["dtype"] == "float64" else "float32"
    if kernel == "modal_encode":
        from .modal_encode import _cases
        data, cot, layout = _cases.data(case)
        data = {k: _round(v, dtype_of(k)) for k, v in data.items()}
        cot = tuple(_round(c, out_dtype) for c in cot)
        return _compare(*_cases.run(backend, case, data, cot, layout, dtype_of, out_dtype),
                        dtype_of, out_dtype)
    if kernel == "modal_scan":
        data, cot = _scan_data(case)
        opts = {"return_all": case["return_all"], "method": case["method"],
                "chunk": case["chunk"]}
    else:
        data, cot = _readout_data(case)
        opts = {"mix": case["mix"]}
    data = {k: _round(v, dtype_of(k)) for k, v in data.items()}
    cot = tuple(_round(c, out_dtype) for c in cot) if isinstance(cot, tuple) \
        else _round(cot, out_dtype)
    compute = out_dtype
    if kernel == "modal_scan":
        ref_args = [data[k] for k in ("u", "nu", "theta", "B_re", "B_im", "h0_re", "h0_im")]
        h = R_scan.modal_scan(*ref_args, return_all=case["return_all"])
        ref_out = {"h_re": h[0], "h_im": h[1]}
        ref_grad = R_scan.modal_scan_vjp(*ref_args, *cot, return_all=case["return_all"])
        K = case["chunk"] if case["method"] == "chunked" else 0
        tol = R_scan.error_model(*ref_args, *cot, return_all=case["return_all"],
                                 compute=compute, K=K)
    else:
        kw = {"mix": case["mix"], "g_re": data["g_re"], "g_im": data["g_im"]}
        args = [data[k] for k in ("H_re", "H_im", "C_re", "C_im")]
        ref_out = {"y": R_read.modal_readout(*args, **kw)}
        ref_grad = R_read.modal_readout_vjp(*args, cot, **kw)
        tol = R_read.error_model(*args, cot, compute=compute, **kw)
    def run_jax(**extra):
        import jax
        with jax.enable_x64(case["dtype"] == "float64"):
            return _run_jax(kernel, data, cot, dtype_of, {**opts, **extra})

    if backend == "jax":
        runs = {"": run_jax()}
    elif backend == "numba":  # the compiled scan behind its torch and its JAX (NumPy) entry points
        runs = {"torch: ": _run_torch(kernel, backend, data, cot, dtype_of, opts),
                "jax: ": run_jax(backend="numba")}
    else:
        runs = {"": _run_torch(kernel, backend, data, cot, dtype_of, opts)}
    worst, where = 0.0, ""
    for entry, (obs_out, obs_grad) in runs.items():
        r, at = _compare(obs_out, obs_grad, ref_out, ref_grad, tol, dtype_of, out_dtype)
        if r > worst or not where:
            worst, where = r, entry + at
    return worst, where


def _compare(obs_out, obs_grad, ref_out, ref_grad, tol, dtype_of, out_dtype):
    """Max over every output and gradient of |observed - oracle| / model, and where."""
    worst, where = 0.0, ""
    for group, obs, ref in (("out", obs_out, ref_out), ("grad", obs_grad, ref_grad)):
        for name, val in obs.items():
            if val is None or name not in ref:
                continue
            t = tol[name]
            narrow = dtype_of(name) if group == "grad" else out_dtype
            if narrow in ("bfloat16", "float16"):  # the gradient is returned in the input dtype
                u_in = 2.0 ** -8 if narrow == "bfloat16" else 2.0 ** -11
                t = t * (1 + u_in) + u_in * np.abs(ref[name])  # one rounding to that dtype
            if val.shape != np.shape(ref[name]):
                return float("inf"), f"{group} {name}: shape {val.shape} != {np.shape(ref[name])}"
            if not np.all(np.isfinite(val)):
                return float("inf"), f"{group} {name}: non-finite values"
            r = float(np.max(np.abs(val - ref[name]) / t))
            if r > worst or not where:
                worst, where = r, f"{group} {name}"
    return worst, where


# --------------------------------------------------------------------------------------------
def _gradcheck(kernel, backend):
    """torch.autograd.gradcheck in float64 on small cases (Jacobians, not just one VJP)."""
    import torch

    mod = importlib.import_module(f"mccc_kernels.{kernel}.torch")
    rng = np.random.default_rng(7)
    t = lambda x: torch.tensor(x, dtype=torch.float64, requires_grad=True)  # noqa: E731
    runs = 0
    if kernel == "modal_encode":
        from .modal_encode import _cases
        return _cases.gradcheck(CertificationError)
    if kernel == "modal_scan":
        b, L, p, m = 1, 3, 1, 2
        for method in ("sequential", "chunked"):
            for return_all in (True, False):
                nu = np.log(-np.log1p(-np.array([1e-3, 0.5])))  # 1 - |lambda| = 1e-3 and 0.5
                args = [t(rng.standard_normal((b, L, p))), t(nu), t(rng.uniform(-3, 3, m)),
                        t(rng.standard_normal((m, p))), t(rng.standard_normal((m, p))),
                        t(rng.standard_normal((b, m))), t(rng.standard_normal((b, m)))]

                def f(*a, method=method, return_all=return_all):
                    return mod.modal_scan(*a, return_all=return_all, method=method, chunk=2,
                                          backend=backend)
                if not torch.autograd.gradcheck(f, args, eps=1e-6, atol=1e-7, rtol=1e-6):
                    raise CertificationError(f"gradcheck failed: {method}, all={return_all}")
                runs += 1
    else:
        b, Q, m, d_v = 1, 2, 3, 2
        for mix in ("linear", "softmax"):
            H = [t(rng.standard_normal((b, m, d_v))) for _ in range(2)]
            C = [t(rng.standard_normal((b, Q, m)))]
            extra = [t(rng.standard_normal((b, Q, m)))] if mix == "linear" else \
                [t(rng.standard_normal(m)), t(rng.standard_normal(m))]

            def f(*a, mix=mix):
                if mix == "linear":
                    return mod.modal_readout(*a, mix=mix, backend=backend)
                return mod.modal_readout(a[0], a[1], a[2], None, mix=mix, g_re=a[3], g_im=a[4],
                                         backend=backend)
            if not torch.autograd.gradcheck(f, H + C + extra, eps=1e-6, atol=1e-7, rtol=1e-6):
                raise CertificationError(f"gradcheck failed: mix={mix}")
            runs += 1
    return f"passed ({runs} configurations, float64)"


def certify(kernel: str, backend: str, *, max_examples: int = 40, derandomize: bool = True,
            gradcheck: bool = True, write: bool = True, directory=None,
            shrink: bool = True, examples_only: bool = False) -> Report:
    """Certify one kernel on one backend; return the :class:`Report` and write a certificate.

    ``max_examples`` generated cases run after the explicit corner cases (``SCAN_EXAMPLES``,
    ``READOUT_EXAMPLES``, ``modal_encode._cases.EXAMPLES``); ``examples_only`` runs only the
    latter, ``shrink=False`` reports the first failure as found (the mutant tests use both to stay fast).

    Raises :class:`CertificationError` (with the shrunk failing case) when any case exceeds
    its error model, produces a non-finite value or raises, and then writes nothing and
    removes that kernel/backend's previous certificate.
    """
    from hypothesis import HealthCheck, Phase, example, given, settings

    if kernel not in KERNELS:
        raise MethodError(f"kernel: expected one of {', '.join(KERNELS)}, found {kernel!r}")
    if backend not in KERNEL_BACKENDS[kernel]:
        raise MethodError(f"backend: expected one of {', '.join(KERNEL_BACKENDS[kernel])} for "
                          f"{kernel}, found {backend!r}")
    device = available_backends()[backend]
    if device.startswith("unavailable"):
        raise BackendUnavailableError(f"backend {backend!r} cannot run here: {device}")
    importlib.import_module(f"mccc_kernels.{kernel}.{'jax' if backend == 'jax' else 'torch'}")
    report = Report(kernel, backend, device)
    if kernel == "modal_encode":
        from .modal_encode import _cases
        strategy, examples = _cases.strategy(backend), _cases.EXAMPLES
    else:
        strategy = (_scan_strategy if kernel == "modal_scan" else _readout_strategy)(backend)
        examples = SCAN_EXAMPLES if kernel == "modal_scan" else READOUT_EXAMPLES

    phases = [Phase.explicit] + ([] if examples_only else [Phase.generate]) + \
        ([Phase.shrink] if shrink else [])

    def check(case):
        ratio, where = _run_case(kernel, backend, case)
        if not ratio <= 1.0:
            raise CertificationError(f"observed/model = {ratio:.3g} at {where}; case {case}")
        report.record(ratio, where, case["dtype"])

    check = given(case=strategy)(check)
    for ex in examples:
        check = example(case=dict(ex))(check)
    check = settings(max_examples=max_examples, derandomize=derandomize, deadline=None,
                     database=None, phases=phases, suppress_health_check=list(HealthCheck),
                     print_blob=False, report_multiple_bugs=False)(check)

    path = certificate_dir(directory) / f"{kernel}--{backend}.json"
    try:
        check()
        if gradcheck and backend in ("torch", "triton", "numba"):
            report.gradcheck = _gradcheck(kernel, backend)
    except Exception as exc:
        report.failure = f"{type(exc).__name__}: {exc}"
        if write and path.exists():
            path.unlink()
        raise CertificationError(f"{kernel} on {backend} is not certified: {report.failure}") \
            from exc
    if write:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(_certificate(report), indent=2))
    return report


def _certificate(report: Report) -> dict:
    return {
        "kernel": report.kernel, "backend": report.backend, "device": report.device,
        "versions": _versions(), "git_revision": _git_revision(),
        "source_sha256": source_hash(report.kernel),
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "cases": report.cases, "worst_ratio": report.worst_ratio,
        "worst_where": report.worst_where, "worst_ratio_by_dtype": report.by_dtype,
        "gradcheck": report.gradcheck,
        "error_model": "first-order running error bound of the oracle "
                       "(reference.error_model); a case passes when |observed - oracle| <= "
                       "model elementwise for the forward pass and the VJP",
    }


def certificates(directory=None) -> list[dict]:
    """The certificates written by ``mccc certify`` (or :func:`certify`), newest data each.

    Each dict is the certificate's JSON plus ``"current"``: whether the kernel's sources still
    hash to what was certified (a certificate for code that has since changed is stale).
    """
    d = certificate_dir(directory)
    out = []
    for path in sorted(d.glob("*--*.json")) if d.is_dir() else []:
        cert = json.loads(path.read_text())
        cert["current"] = cert.get("kernel") in KERNELS and \
            cert.get("source_sha256") == source_hash(cert["kernel"])
        cert["path"] = str(path)
        out.append(cert)
    return out
