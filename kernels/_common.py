"""Validation, dtype rules and the error model shared by every kernel and backend.

Also what the two layer twins (:mod:`mccc_kernels.nn`, :mod:`mccc_kernels.jax_nn`) share: their
option names (:data:`WRITES`, :data:`FEATURE_MAPS`), the rule that picks where the encode applies
``W_v`` (:func:`projects_memory`), and the error for a missing optional extra
(:func:`missing_extra`).

Conventions (THEORY §0, §6), used by every backend of :mod:`mccc_kernels`:

* Complex numbers travel as two real *planes* (``x_re``, ``x_im``) of the same shape and dtype.
  A complex array where a plane is expected is refused (:class:`~mccc_theory.DTypeError`).
* Eigenvalues are given by the log-polar parameters ``lambda = exp(-exp(nu) + i theta)``
  (``nu = +inf`` is allowed and means ``lambda = 0``). A ``nu`` so negative that ``|lambda|``
  rounds to 1 in the working precision is refused (:class:`~mccc_theory.UnstableError`).
* Compute dtype: float64 if any floating input is float64, else float32. The state is never
  narrower than float32; bf16/fp16 *inputs* are accepted and widened on load.
* Inputs must be C-contiguous: a strided view is refused instead of being copied silently.
* Value checks (no NaN/inf in any input, ``|lambda| < 1``) run once at each public entry point
  and cost one reduction and one host sync per array. They are skipped while tracing
  (``jax.jit``, ``torch.compile``) and can be switched off for training loops with
  :func:`checks` (``with mccc_kernels.checks(False): ...``) or ``MCCC_KERNEL_CHECKS=0`` in the
  environment; then no value of any array is read on the host. Shape, dtype and layout checks
  always run (they read only metadata).
* Packed sequences (``cu_seqlens``, the flash-attention varlen convention): offsets
  ``0 = c_0 <= c_1 <= ... <= c_n = total`` of ``n`` sequences laid end to end on axis 1 of a
  batch-1 array; the state restarts at every boundary.
"""

from __future__ import annotations

import contextlib
import math
import os

import numpy as np

from mccc_theory.errors import (
    BackendUnavailableError,
    DTypeError,
    EmptyInputError,
    MethodError,
    NonFiniteError,
    ShapeError,
    UnstableError,
)

__all__ = [
    "NonContiguousError", "Spec", "check_planes", "resolve_dtype", "check_params",
    "unit_roundoff", "to_float64", "INPUT_DTYPES", "PARAM_DTYPES", "checks", "checks_enabled",
    "check_values", "check_cu_seqlens", "check_packing_and_h0", "check_modes", "packed_layout",
    "scan_packed", "torch_all_finite", "missing_extra", "projects_memory", "WRITES",
    "FEATURE_MAPS",
]

#: the options of both layer twins (:mod:`mccc_kernels.nn`, :mod:`mccc_kernels.jax_nn`): how a
#: token is written into the modes, and the feature maps ``phi`` of ``write="key"`` (names as in
#: :mod:`mccc_theory.recall.features`)
WRITES = ("gain", "key")
FEATURE_MAPS = ("identity", "elu+1")


def projects_memory(N: int, m: int, d_source: int, d_value: int, normalize: bool) -> bool:
    """Whether a layer's encode applies ``W_v`` to the source's memory rather than to its tokens.

    ``sum_t p_t (W_v u_t)^T = (sum_t p_t u_t^T) W_v^T``: contracting the source first and
    projecting its (m, d_source) memory costs ``2 m N d_s`` float64 plus ``2 m d_s d_v``
    multiply-adds per sequence, against ``N d_s d_v`` (the projection of every token) plus
    ``2 m N d_v`` float64 (widths + 1 with ``normalize``). The rule picks the fewer, counting a
    float64 multiply-add as two float32 ones (measured 2.1-2.5x on one CPU core): for
    d_source = d_value it is True for N > 2m. Both layer twins follow it; a continued stream
    (``state=``) projects the tokens, because its state lives in value space. Measured at
    d = 256, m = 64, N = 256 .. 16384 (``mccc bench --only layer``): the encode costs 1.6x /
    0.85x / 0.71x cross-attention's K/V projections (2.3x / 1.7x / 1.9x projecting the tokens).
    """
    extra = int(normalize)
    tokens = N * d_source * d_value + 2 * 2 * m * N * (d_value + extra)
    memory = 2 * 2 * m * N * (d_source + extra) + 2 * m * d_source * d_value
    return memory < tokens


def missing_extra(module: str, needs: str, extra: str, hint: str = "") -> BackendUnavailableError:
    """The error for a module whose optional dependency is not installed, saying which extra
    installs it (raise it ``from`` the ModuleNotFoundError)."""
    return BackendUnavailableError(f"{module} needs {needs}, which is not installed: pip install "
                                   f"'mccc-theory[{extra}]'{hint}")


def _env_default(value: str) -> bool:
    """``MCCC_KERNEL_CHECKS``: 0/false/off/no switch the value checks off by default."""
    return value.strip().lower() not in ("0", "false", "off", "no")


_CHECKS = {"on": _env_default(os.environ.get("MCCC_KERNEL_CHECKS", "1"))}


def checks_enabled() -> bool:
    """Whether the kernels' value checks run (see :func:`checks`)."""
    return _CHECKS["on"]


@contextlib.contextmanager
def checks(enabled: bool = True):
    """Context manager switching the kernels' value checks on or off (restored on exit).

    With ``enabled=False`` no kernel reads an input's values on the host (no NaN/inf scan, no
    ``|lambda| < 1`` test, no device sync): for training loops whose inputs are known to be
    good. ``MCCC_KERNEL_CHECKS=0`` in the environment sets the default to off. Shape, dtype
    and layout checks are not affected. Example::

        with mccc_kernels.checks(False):
            for batch in loader:
                loss = step(batch)
    """
    if not isinstance(enabled, bool):
        raise TypeError(f"enabled: expected a bool, found {enabled!r}")
    saved = _CHECKS["on"]
    _CHECKS["on"] = enabled
    try:
        yield
    finally:
        _CHECKS["on"] = saved


def _traced(x) -> bool:
    """True while ``x`` is being traced (jax.jit/grad tracer, or inside torch.compile)."""
    mod = type(x).__module__
    if mod.startswith("torch"):
        import torch
        return bool(torch.compiler.is_compiling())
    if mod.startswith("jax"):
        import jax
        return isinstance(x, jax.core.Tracer)
    return False


def _values_checked(x) -> bool:
    return x is not None and _CHECKS["on"] and not _traced(x)


def torch_all_finite(x) -> bool:
    """Whether a torch tensor holds no NaN/inf, decided by one sum in most cases (one host sync).

    A NaN or inf entry makes the sum NaN or inf (``inf - inf`` is NaN), so a finite sum proves
    every entry finite. A non-finite sum of finite entries (overflow) is possible, so only then
    the entries are tested one by one. The sum is taken in float32 at least (a float16 sum of
    ordinary values overflows at 65504) and runs 4-17x faster than ``isfinite(x).all()``
    (measured on CPU, 32k-131k float32 entries), which builds a bool array of x's size.
    """
    import torch
    if not (x.is_floating_point() or x.is_complex()):
        return True
    if x.is_complex():
        x = torch.view_as_real(x)
    total = x.sum(dtype=torch.float32) if x.element_size() < 4 else x.sum()
    return bool(torch.isfinite(total)) or bool(torch.isfinite(x).all())


def check_values(x, name: str) -> None:
    """NaN/inf anywhere in ``x`` raises :class:`NonFiniteError` naming ``name`` and the index.

    One reduction and one host sync; nothing at all when the checks are off or ``x`` is traced.
    """
    if not _values_checked(x):
        return
    mod = type(x).__module__
    if mod.startswith("torch"):
        if torch_all_finite(x):
            return
    elif mod.startswith("jax"):
        import jax
        import jax.numpy as jnp
        try:
            if bool(jnp.isfinite(x).all()):
                return
        except jax.errors.ConcretizationTypeError:  # a concrete array inside a jax.jit trace
            return
    arr = _to_numpy(x)
    bad = ~np.isfinite(arr.astype(np.float64))
    if np.any(bad):
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise NonFiniteError(
            f"{name}: expected finite values, found {arr[idx]} at index {idx} "
            f"({int(bad.sum())} non-finite entries); NaN/inf in an input would propagate into "
            f"every state it reaches")


def check_cu_seqlens(cu_seqlens, total: int, *, packed: str) -> np.ndarray:
    """Host int64 offsets of packed sequences, checked against the packed length ``total``.

    ``cu_seqlens`` (n_seq + 1,) integer: starts at 0, non-decreasing, ends at ``total`` (the
    length of axis 1 of ``packed``, the name of the packed argument). A tensor on a device is
    copied to the host (its values define the layout).
    """
    if hasattr(cu_seqlens, "detach"):
        arr = cu_seqlens.detach().cpu().numpy()
    else:
        try:
            arr = np.asarray(cu_seqlens)
        except Exception as exc:  # a jax tracer: the layout must be known when tracing
            raise ShapeError("cu_seqlens: expected concrete offsets (a list, NumPy array or "
                             "tensor), found a traced value; pass it as a static argument") \
                from exc
    if arr.ndim != 1 or arr.shape[0] < 2:
        raise ShapeError(f"cu_seqlens: expected a 1-d array of n_seq + 1 >= 2 offsets, found "
                         f"shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.integer):
        raise DTypeError(f"cu_seqlens: expected integer offsets (int32/int64), found dtype "
                         f"{arr.dtype}")
    arr = arr.astype(np.int64)
    if np.any(arr < 0):
        i = int(np.argmax(arr < 0))
        raise ShapeError(f"cu_seqlens: expected non-negative offsets, found {arr[i]} at index {i}")
    if arr[0] != 0:
        raise ShapeError(f"cu_seqlens: expected the first offset to be 0, found {arr[0]}")
    steps = np.diff(arr)
    if np.any(steps < 0):
        i = int(np.argmax(steps < 0))
        raise ShapeError(f"cu_seqlens: expected non-decreasing offsets, found {arr[i]} then "
                         f"{arr[i + 1]} at index {i + 1}")
    if arr[-1] != total:
        raise ShapeError(f"cu_seqlens: expected the last offset to be the packed length "
                         f"{total} (axis 1 of {packed}), found {arr[-1]}")
    return arr


def check_packing_and_h0(x, name: str, features: str, cu_seqlens, h0_re, h0_im,
                         state: tuple) -> tuple[int, np.ndarray | None, str | None]:
    """Packed layout and initial state of a scan-like call: ``(n_out, cu, h0 dtype)``.

    ``x`` (batch, total, features) is the argument ``name`` whose axis 1 holds the tokens. With
    ``cu_seqlens`` it must be a batch of 1 and ``cu`` is its checked offsets
    (:func:`check_cu_seqlens`); ``n_out`` is the number of final states (sequences, else batch
    rows). ``h0_re``, ``h0_im`` are both ``None`` (dtype ``None``) or planes of shape
    ``(n_out, *state)``.
    """
    batch = int(x.shape[0])
    n_out, cu = batch, None
    if cu_seqlens is not None:
        if batch != 1:
            raise ShapeError(f"{name}: with cu_seqlens the sequences are packed on axis 1 of a "
                             f"batch of 1, shape (1, total, {features}); found {tuple(x.shape)}")
        cu = check_cu_seqlens(cu_seqlens, int(x.shape[1]), packed=name)
        n_out = len(cu) - 1
    if (h0_re is None) != (h0_im is None):
        raise ShapeError("h0_re, h0_im: give both planes of the initial state or neither")
    dh = None if h0_re is None else check_planes(h0_re, h0_im, "h0", (n_out, *state))
    return n_out, cu, dh


def check_modes(nu, theta, m: int, *dtypes: str, modes_of: str) -> str:
    """``nu``, ``theta`` checked (:func:`check_params`) for the ``m`` modes of the gain; returns
    the compute dtype of the call (:func:`resolve_dtype` of ``dtypes`` and the parameters';
    a ``None`` in ``dtypes``, an absent optional argument, counts for nothing).

    ``|lambda|`` rounding to 1 is checked in the compute dtype, which the parameters' own dtype
    may widen. ``modes_of`` says where ``m`` was read, for the message.
    """
    compute = resolve_dtype(*dtypes, check_params(nu, theta))
    check_params(nu, theta, compute=compute)
    if int(nu.shape[0]) != m:
        raise ShapeError(f"nu: expected m = {m} modes ({modes_of}), found {nu.shape[0]}")
    return compute


def packed_layout(cu: np.ndarray):
    """Gather plan from checked offsets: ``index`` (n_seq, max_len) into the packed axis
    (padding slots point at 0), ``valid`` (n_seq, max_len) bool (the real tokens, left-aligned)
    and ``lengths`` (n_seq,). ``packed[index][valid]`` is ``packed`` again, in order."""
    lengths = np.diff(cu)
    max_len = max(int(lengths.max()), 1)
    pos = np.arange(max_len)
    valid = pos[None, :] < lengths[:, None]
    index = np.where(valid, cu[:-1, None] + pos[None, :], 0)
    return index, valid, lengths


#: dtypes accepted for the source/query inputs (widened to the compute dtype on load)
INPUT_DTYPES = ("float32", "float64", "bfloat16", "float16")
#: dtypes accepted for parameters and states
PARAM_DTYPES = ("float32", "float64")


class NonContiguousError(ShapeError):
    """A tensor or array is not C-contiguous; the kernels refuse strided views."""


def _dtype_name(x) -> str:
    dt = x.dtype
    name = getattr(dt, "name", None)
    if name is None:  # torch.dtype
        name = str(dt).removeprefix("torch.")
    return str(name)


def _is_complex(x) -> bool:
    name = _dtype_name(x)
    return name.startswith("complex")


def _is_contiguous(x) -> bool:
    if hasattr(x, "is_contiguous"):  # torch
        return bool(x.is_contiguous())
    flags = getattr(x, "flags", None)
    if flags is not None and hasattr(flags, "c_contiguous"):  # numpy
        return bool(flags.c_contiguous)
    return True  # jax arrays are always dense


def check_tensor(x, name: str, *, ndim: int, allowed=PARAM_DTYPES):
    """Kind, rank, dtype and layout checks for one real array; returns its dtype name."""
    if x is None:
        raise ShapeError(f"{name}: expected an array, found None")
    if not hasattr(x, "shape") or not hasattr(x, "dtype"):
        raise DTypeError(f"{name}: expected an array or tensor, found {type(x).__name__}")
    if _is_complex(x):
        raise DTypeError(
            f"{name}: expected a real plane, found complex dtype {_dtype_name(x)}; the kernels "
            f"take complex numbers as separate real and imaginary planes: pass "
            f"{name.removesuffix('_re').removesuffix('_im')}_re = z.real and ..._im = z.imag")
    dname = _dtype_name(x)
    if dname not in allowed:
        raise DTypeError(f"{name}: expected dtype in {', '.join(allowed)}, found {dname}")
    if len(x.shape) != ndim:
        raise ShapeError(f"{name}: expected a {ndim}-d array, found shape {tuple(x.shape)}")
    if not _is_contiguous(x):
        raise NonContiguousError(
            f"{name}: expected a C-contiguous array, found a strided view of shape "
            f"{tuple(x.shape)}; call .contiguous() (torch) or np.ascontiguousarray first")
    return dname


def check_planes(re, im, name: str, shape: tuple, *, allowed=PARAM_DTYPES) -> str:
    """Both planes present, real, same dtype, expected ``shape`` (``None`` entries are free)."""
    d1 = check_tensor(re, f"{name}_re", ndim=len(shape), allowed=allowed)
    d2 = check_tensor(im, f"{name}_im", ndim=len(shape), allowed=allowed)
    if d1 != d2:
        raise DTypeError(f"{name}_im: expected the dtype of {name}_re ({d1}), found {d2}")
    for plane, pname in ((re, f"{name}_re"), (im, f"{name}_im")):
        got = tuple(plane.shape)
        if any(s is not None and s != g for s, g in zip(shape, got, strict=True)):
            want = "(" + ", ".join("*" if s is None else str(s) for s in shape) + \
                ("," if len(shape) == 1 else "") + ")"
            raise ShapeError(f"{pname}: expected shape {want}, found {got}")
    return d1


def resolve_dtype(*names: str) -> str:
    """Compute dtype: float64 if any input is float64, else float32."""
    return "float64" if "float64" in names else "float32"


def unit_roundoff(dtype: str) -> float:
    """Unit roundoff ``u = eps / 2`` of the *compute* dtype (float32 or float64)."""
    return {"float32": 2.0 ** -24, "float64": 2.0 ** -53}[dtype]


def check_params(nu, theta, *, compute: str | None = None) -> str:
    """``nu``, ``theta``: (m,) real, same dtype; finite ``theta``; ``nu`` finite or ``+inf``.

    ``nu = -inf`` gives ``|lambda| = 1``; a finite ``nu`` with ``exp(nu) < u`` (unit roundoff of
    the compute dtype) makes ``|lambda|`` round to 1. Both are refused with
    :class:`UnstableError`, naming the mode.
    """
    dn = check_tensor(nu, "nu", ndim=1)
    dt = check_tensor(theta, "theta", ndim=1)
    if dn != dt:
        raise DTypeError(f"theta: expected the dtype of nu ({dn}), found {dt}")
    if tuple(nu.shape) != tuple(theta.shape):
        raise ShapeError(f"theta: expected the shape of nu {tuple(nu.shape)}, "
                         f"found {tuple(theta.shape)}")
    if nu.shape[0] == 0:
        raise EmptyInputError("nu: expected at least one mode, found m = 0")
    if not (_values_checked(nu) and _values_checked(theta)):  # checks off, or traced
        return dn
    nu_np = _to_numpy(nu)
    th_np = _to_numpy(theta)
    if nu_np is None or th_np is None:  # traced (jax.jit / grad): values are not known yet
        return dn
    if np.any(np.isnan(nu_np)):
        i = int(np.argmax(np.isnan(nu_np)))
        raise NonFiniteError(f"nu: expected finite values or +inf (lambda = 0), found nan at {i}")
    if not np.all(np.isfinite(th_np)):
        i = int(np.argmax(~np.isfinite(th_np)))
        raise NonFiniteError(f"theta: expected finite values, found {th_np[i]} at index {i}")
    u = unit_roundoff(compute or resolve_dtype(dn))
    with np.errstate(over="ignore"):
        rate = np.exp(nu_np.astype(np.float64))
    bad = rate < u
    if np.any(bad):
        i = int(np.argmax(bad))
        raise UnstableError(
            f"nu: mode {i} has nu = {nu_np[i]:.6g}, so |lambda| = exp(-exp(nu)) rounds to "
            f"{1.0 if rate[i] == 0 else math.exp(-rate[i]):.17g} >= 1 - u in "
            f"{compute or resolve_dtype(dn)}; the kernels need |lambda| < 1 (1 - |lambda| >= "
            f"{u:.3g}): raise nu (nu >= {math.log(u):.2f}) or compute in float64")
    return dn


def to_float64(x) -> np.ndarray | None:
    """A NumPy float64 copy of a NumPy/JAX array or torch tensor (bf16/fp16 widened exactly);
    ``None`` stays ``None``. The references compute in float64 from these."""
    if x is None:
        return None
    if hasattr(x, "detach"):
        x = x.detach().cpu()
        if str(x.dtype) in ("torch.bfloat16", "torch.float16"):
            x = x.float()
        return x.double().numpy()
    return np.asarray(x, dtype=np.float64)


def _to_numpy(x) -> np.ndarray | None:
    """Concrete values as NumPy, or ``None`` for a traced JAX value (its values cannot be checked)."""
    if hasattr(x, "detach"):
        return x.detach().cpu().float().numpy() if _dtype_name(x) == "bfloat16" \
            else x.detach().cpu().numpy()
    try:
        return np.asarray(x)
    except Exception:  # jax tracer: no concrete value during tracing
        return None


def check_chunk(chunk) -> int:
    if isinstance(chunk, bool) or not isinstance(chunk, int | np.integer) or chunk < 1 \
            or (chunk & (chunk - 1)):
        raise MethodError(f"chunk: expected a power of two >= 1, found {chunk!r}")
    return int(chunk)


def scan_packed(inner, u, h0_re, h0_im, cu: np.ndarray, return_all: bool, to):
    """The scan of packed sequences through ``inner``, a batched all-states scan.

    The sequences of ``u`` (1, total, p) are gathered exactly into a right-padded batch
    (n_seq, max_len, p) with zeros after each end (states before a sequence's end do not depend
    on what follows it), ``inner(u_padded, h0_re, h0_im)`` returns every state, and the states
    of the real tokens are gathered back: (1, total, m) for ``return_all``, else each
    sequence's last state (n_seq, m), which is ``h0`` (or 0) for an empty sequence. ``to``
    turns a NumPy array into the backend's array; gradients flow through the gathers.
    """
    index, valid, lengths = packed_layout(cu)
    n, width = valid.shape
    h_re, h_im = inner(u[0][to(index)] * to(valid)[..., None], h0_re, h0_im)
    m = h_re.shape[-1]
    h_re, h_im = h_re.reshape(n * width, m), h_im.reshape(n * width, m)
    if return_all:
        flat = to(np.flatnonzero(valid.ravel()))
        return h_re[flat][None], h_im[flat][None]
    last = to(np.arange(n) * width + np.maximum(lengths - 1, 0))
    f_re, f_im = h_re[last], h_im[last]
    if np.any(lengths == 0):  # an empty sequence's final state is its initial state
        keep = to(lengths > 0)[:, None]
        f_re, f_im = f_re * keep, f_im * keep
        if h0_re is not None:
            drop = to(lengths == 0)[:, None]
            f_re, f_im = f_re + h0_re * drop, f_im + h0_im * drop
    return f_re, f_im


class Spec:
    """Checked sizes and dtypes of one call (filled by the ``validate_*`` functions)."""

    def __init__(self, **kw):
        self.__dict__.update(kw)

    def __repr__(self) -> str:
        return f"Spec({', '.join(f'{k}={v!r}' for k, v in self.__dict__.items())})"
