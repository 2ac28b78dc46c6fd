"""mccc_kernels: certified production kernels of the MCCC memory.

Three operations, each in ``reference`` (NumPy, the oracle), ``jax`` and ``torch`` (the scan
and the readout also in ``triton``):

* :func:`scan` -- the modal scan ``h_t = lambda h_{t-1} + B u_t`` with
  ``lambda = exp(-exp(nu) + i theta)``, all states or the final one, optional initial state,
  packed sequences (``cu_seqlens``);
* :func:`encode` -- the MCCC memory's final state ``H = Lambda^n H0 + sum_t (b_t *
  lambda^(e_t)) v_t^T`` as one contraction over the source (mask, packed sequences);
* :func:`readout` -- the query-dependent mix of modes ``y(q) = Re(c(q)^T H)`` (linear, or
  softmax over modes with a per-mode gain).

Every entry point checks its inputs once (shapes, dtypes, and values: NaN/inf, ``|lambda| <
1``); :func:`checks` switches the value checks off for training loops.

Complex values travel as real/imaginary planes. :func:`scan` and :func:`readout` dispatch on the
array type: NumPy arrays run the compiled numba scan (or the reference), JAX arrays the JAX
version, torch tensors the torch autograd Function whose backend follows :func:`select_backend`
(Triton on CUDA, the compiled numba scan on the CPU, pure torch otherwise; :func:`last_backend`
says which ran). ``mccc certify`` checks each kernel/backend against the reference and
:func:`certificates` returns what it certified.
:mod:`mccc_kernels.nn` has the drop-in replacement for cross-attention.
"""

from __future__ import annotations

import sys

from mccc_theory.errors import BackendUnavailableError
from mccc_theory.validation import check_choice

from ._common import checks
from .certify import certificates

__all__ = ["scan", "encode", "readout", "checks", "certificates", "select_backend",
           "last_backend"]


def _kind(x) -> str:
    mod = type(x).__module__
    if mod.startswith("torch"):
        return "torch"
    if mod.startswith("jax") or mod.startswith("jaxlib"):
        return "jax"
    return "numpy"


def scan(u, nu, theta, B_re, B_im, h0_re=None, h0_im=None, *, return_all=True,
         method="chunked", chunk=16, backend="auto", cu_seqlens=None):
    """Modal scan on NumPy, JAX or torch inputs; see ``modal_scan.reference``.

    Returns ``(h_re, h_im)``: all states (batch, L, m) or the final state (batch, m). Packed
    sequences (``cu_seqlens`` (n_seq + 1,) offsets into ``u`` (1, total, p)): the state
    restarts at each boundary; all states (1, total, m) or the final ones (n_seq, m).
    ``backend`` for torch tensors: ``"auto"``, ``"torch"``, ``"triton"``, ``"numba"`` (the rule
    of :func:`select_backend`). For NumPy arrays: ``"auto"`` runs the compiled numba scan when
    numba imports (results in the compute dtype), else the reference; ``"numba"`` insists on
    the compiled scan; ``"reference"`` runs the oracle (float64 results). For JAX arrays:
    ``"auto"``/``"xla"`` the XLA scan, ``"numba"`` the compiled scan by callback.
    """
    kind = _kind(u)
    if kind == "torch":
        from .modal_scan.torch import modal_scan
        return modal_scan(u, nu, theta, B_re, B_im, h0_re, h0_im, return_all=return_all,
                          method=method, chunk=chunk, backend=backend, cu_seqlens=cu_seqlens)
    if kind == "jax":
        from .modal_scan.jax import modal_scan
        check_choice(backend, "backend", ("auto", "xla", "numba"))
        return modal_scan(u, nu, theta, B_re, B_im, h0_re, h0_im, return_all=return_all,
                          method=method, chunk=chunk, cu_seqlens=cu_seqlens,
                          backend="xla" if backend == "auto" else backend)
    check_choice(backend, "backend", ("auto", "numba", "reference"))
    if cu_seqlens is not None and backend != "reference":
        from ._common import scan_packed
        from .modal_scan import validate_scan
        spec = validate_scan(u, nu, theta, B_re, B_im, h0_re, h0_im, return_all=return_all,
                             method=method, chunk=chunk, cu_seqlens=cu_seqlens)
        return scan_packed(
            lambda up, a, b: scan(up, nu, theta, B_re, B_im, a, b, method=method, chunk=chunk,
                                  backend=backend),
            u, h0_re, h0_im, spec.cu, return_all, lambda x: x)
    if backend != "reference":
        try:
            from .modal_scan.numba import modal_scan
        except ImportError as exc:
            if backend == "numba":
                raise BackendUnavailableError(
                    f"backend='numba': numba does not import ({exc}); pip install numba, or "
                    "use backend='reference'") from exc
        else:
            return modal_scan(u, nu, theta, B_re, B_im, h0_re, h0_im, return_all=return_all,
                              method=method, chunk=chunk)
    from .modal_scan.reference import modal_scan
    return modal_scan(u, nu, theta, B_re, B_im, h0_re, h0_im, return_all=return_all,
                      cu_seqlens=cu_seqlens)


def encode(v, nu, theta, b_re, b_im, h0_re=None, h0_im=None, *, mask=None, cu_seqlens=None,
           chunk=None, accumulate="auto"):
    """Final-state encode on NumPy (reference), JAX or torch inputs; see
    ``modal_encode.torch.modal_encode`` for the arguments.

    Returns ``(H_re, H_im)`` (batch, m, d_v). ``accumulate`` applies to torch tensors (the JAX
    version sums in float64 when x64 is enabled, else float32; the reference is exact to
    float64).
    """
    kind = _kind(v)
    kw = {"mask": mask, "cu_seqlens": cu_seqlens}
    if kind == "torch":
        from .modal_encode.torch import modal_encode
        return modal_encode(v, nu, theta, b_re, b_im, h0_re, h0_im, chunk=chunk,
                            accumulate=accumulate, **kw)
    if kind == "jax":
        from .modal_encode.jax import modal_encode
        return modal_encode(v, nu, theta, b_re, b_im, h0_re, h0_im, chunk=chunk, **kw)
    from .modal_encode.reference import modal_encode
    return modal_encode(v, nu, theta, b_re, b_im, h0_re, h0_im, **kw)


def readout(H_re, H_im, C_re, C_im=None, *, mix="linear", g_re=None, g_im=None,
            backend="auto"):
    """Readout ``y(q) = Re(c(q)^T H)`` on NumPy, JAX or torch inputs; see
    ``modal_readout.reference``. Returns ``y`` (batch, Q, d_v)."""
    kind = _kind(H_re)
    kw = {"mix": mix, "g_re": g_re, "g_im": g_im}
    if kind == "torch":
        from .modal_readout.torch import modal_readout
        return modal_readout(H_re, H_im, C_re, C_im, backend=backend, **kw)
    if kind == "jax":
        from .modal_readout.jax import modal_readout
        return modal_readout(H_re, H_im, C_re, C_im, **kw)
    from .modal_readout.reference import modal_readout
    return modal_readout(H_re, H_im, C_re, C_im, **kw)


def select_backend(device, backend: str = "auto", *, kernel: str = "modal_scan") -> str:
    """The one dispatch rule for torch tensors (``modal_scan.torch.select_backend``): ``"auto"``
    is Triton on CUDA, numba for the scan on the CPU when numba imports, pure torch otherwise."""
    from .modal_scan.torch import select_backend as rule
    return rule(device, backend, kernel=kernel)


def last_backend() -> str | None:
    """The backend that ran the most recent torch call, or ``None`` before any."""
    mod = sys.modules.get("mccc_kernels.modal_scan.torch")
    return None if mod is None else mod.last_backend()
