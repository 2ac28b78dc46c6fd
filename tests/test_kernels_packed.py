"""Packed sequences (``cu_seqlens``) in the modal scan: on every backend the packed call equals
one call per sequence (states restart at each boundary, nothing leaks across), with gradients."""

import numpy as np
import pytest
import torch

from mccc_kernels import scan
from mccc_kernels.certify import available_backends

LENGTHS = (4, 1, 0, 6)  # an empty sequence, a single token, lengths across a chunk of 4


def _data(rng, dtype=np.float64, h0=True):
    cu = np.concatenate([[0], np.cumsum(LENGTHS)])
    n, m, p = len(LENGTHS), 5, 2
    nu = np.log(-np.log1p(-np.array([1e-5, 1e-2, 0.5, 0.9, 0.3])))
    return cu, [rng.standard_normal((1, int(cu[-1]), p)).astype(dtype), nu.astype(dtype),
                rng.uniform(-3, 3, m).astype(dtype), rng.standard_normal((m, p)).astype(dtype),
                rng.standard_normal((m, p)).astype(dtype),
                rng.standard_normal((n, m)).astype(dtype) if h0 else None,
                rng.standard_normal((n, m)).astype(dtype) if h0 else None]


def _per_sequence(conv, cu, args, return_all, **kw):
    """One call per sequence (an empty one contributes no state; its final state is h0)."""
    states, finals = [[], []], [[], []]
    for s, (a, z) in enumerate(zip(cu[:-1], cu[1:], strict=True)):
        h0 = (None, None) if args[5] is None else (args[5][s:s + 1], args[6][s:s + 1])
        if z == a:
            for k in range(2):
                finals[k].append(np.zeros(args[3].shape[0]) if h0[0] is None else h0[k][0])
            continue
        u = np.ascontiguousarray(args[0][:, a:z])
        out = scan(*map(conv, [u, *args[1:5]]), *(None if x is None else conv(x) for x in h0),
                   return_all=True, **kw)
        for k in range(2):
            o = np.asarray(out[k].detach() if hasattr(out[k], "detach") else out[k])
            states[k].append(o[0])
            finals[k].append(o[0, -1])
    if return_all:
        return [np.concatenate(states[k])[None] for k in range(2)]
    return [np.stack(finals[k]) for k in range(2)]


def _to_np(x):
    return np.asarray(x.detach() if hasattr(x, "detach") else x, dtype=np.float64)


BACKENDS = [("numpy", "reference"), ("numpy", "numba"), ("torch", "torch"), ("torch", "numba"),
            ("torch", "triton"), ("jax", "xla"), ("jax", "numba")]


@pytest.mark.parametrize("kind,backend", BACKENDS, ids=[f"{k}-{b}" for k, b in BACKENDS])
@pytest.mark.parametrize("return_all", [True, False])
def test_packed_equals_per_sequence(kind, backend, return_all):
    if backend in ("numba", "triton") and available_backends()[backend].startswith("unavailable"):
        pytest.skip(available_backends()[backend])
    rng = np.random.default_rng(0)
    cu, args = _data(rng, h0=return_all)  # all states without h0, final states with it
    kw = {"method": "chunked", "chunk": 4, "backend": backend}
    if kind == "jax":
        jax = pytest.importorskip("jax")
        ctx, conv = jax.enable_x64(True), jax.numpy.asarray
    else:
        import contextlib
        ctx, conv = contextlib.nullcontext(), (torch.as_tensor if kind == "torch" else np.asarray)
    with ctx:
        packed = scan(*(None if a is None else conv(a) for a in args), return_all=return_all,
                      cu_seqlens=cu, **kw)
        if kind == "jax":  # JAX compiles once per shape: its per-sequence side is the oracle
            ref = _per_sequence(np.asarray, cu, args, return_all, **{**kw, "backend": "reference"})
        else:
            ref = _per_sequence(conv, cu, args, return_all, **kw)
    for k in range(2):
        # float64 throughout: the packed call runs the same recurrence on the same numbers
        # (zeros after each sequence's end do not touch its states): equal to rounding
        np.testing.assert_allclose(_to_np(packed[k]), ref[k], rtol=0, atol=1e-13)


@pytest.mark.parametrize("backend", ["torch", "numba"])
def test_packed_gradients_equal_per_sequence_gradients(backend):
    if available_backends()[backend].startswith("unavailable"):
        pytest.skip(available_backends()[backend])
    rng = np.random.default_rng(1)
    cu, args = _data(rng)
    tens = [torch.tensor(a, requires_grad=True) for a in args]
    out = scan(*tens, return_all=True, cu_seqlens=cu, backend=backend, chunk=4)
    g = [torch.tensor(rng.standard_normal(o.shape)) for o in out]
    fin = scan(*tens, return_all=False, cu_seqlens=cu, backend=backend, chunk=4)
    gf = [torch.tensor(rng.standard_normal(o.shape)) for o in fin]
    loss = sum((o * w).sum() for o, w in zip(out + fin, g + gf, strict=True))
    packed = torch.autograd.grad(loss, tens)
    # the same loss, one sequence at a time
    tens2 = [torch.tensor(a, requires_grad=True) for a in args]
    loss2 = 0
    for s, (a, z) in enumerate(zip(cu[:-1], cu[1:], strict=True)):
        if z == a:
            loss2 = loss2 + (tens2[5][s] * gf[0][s]).sum() + (tens2[6][s] * gf[1][s]).sum()
            continue
        h = scan(tens2[0][:, a:z].contiguous(), *tens2[1:5], tens2[5][s:s + 1],
                 tens2[6][s:s + 1], return_all=True, backend=backend, chunk=4)
        for k in range(2):
            loss2 = loss2 + (h[k] * g[k][:, a:z]).sum() + (h[k][0, -1] * gf[k][s]).sum()
    per_seq = torch.autograd.grad(loss2, tens2)
    for name, x, y in zip(("u", "nu", "theta", "B_re", "B_im", "h0_re", "h0_im"), packed,
                          per_seq, strict=True):
        # float64 sums of the same terms in another order: a few ulps of the gradient's size
        np.testing.assert_allclose(x.numpy(), y.numpy(), rtol=1e-12, atol=1e-12, err_msg=name)
