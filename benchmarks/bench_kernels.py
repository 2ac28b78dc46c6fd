"""Kernel throughput on CPU and decoding cost of MCCCCrossConditioning against cross-attention.

Table 1 (modal scan over all states, float32 and float64): every path against a compiled
(numba) complex loop, the anchor, and against the bandwidth limit measured in the same run with
buffers of the same bytes (``timing.copy_limit``): the scan on planes ``x`` must read ``x`` and
write ``h`` (the copy limit); the public API on ``u`` with p = 1 input must write ``h`` (the
write limit, reading ``u`` is 1/m of that). ``% of limit`` = limit time / path time. The public
API rows allocate their outputs (as a caller's loop does); the core and anchor rows write into
preallocated buffers, like the limits. Forward + backward rows are compared with the pure-torch
path they replace. All times: process CPU time, minimum over interleaved rounds, one thread.

Table 2 (decoding, per generated token): the layer's no-grad decode on a memory encoded from a
source of N tokens, against single-head softmax cross-attention over a KV cache of the N tokens
with the same q and output projections (SDPA), d_model = d_v = 256, m = 64 modes.

GPU rows are "not measured" unless ``reports/gpu.json`` exists (``benchmarks/gpu_check.sh``).

Run: ``python benchmarks/bench_kernels.py [--quick]`` or ``mccc bench --only kernels``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numba as nb
import numpy as np
from timing import Table, compare, copy_limit, ratio_str, single_thread_blas

GPU_JSON = Path(__file__).resolve().parents[1] / "reports" / "gpu.json"


@nb.njit(cache=True)
def _anchor_loop(x, lam, out):  # pragma: no cover
    """The anchor: the plainest compiled scan, complex arrays, into a preallocated ``out``."""
    batch, L, m = x.shape
    for b in range(batch):
        h = np.zeros(m, x.dtype)
        for t in range(L):
            for i in range(m):
                h[i] = lam[i] * h[i] + x[b, t, i]
                out[b, t, i] = h[i]


def _scan_rows(table, dtype, b, L, m, rng, repeat):
    import jax
    import jax.numpy as jnp
    import torch

    import mccc_kernels
    from mccc_kernels.modal_scan import jax as J
    from mccc_kernels.modal_scan import numba as N
    from mccc_kernels.modal_scan.torch import TorchCore

    fd = np.dtype(dtype)
    cd = np.complex64 if fd == np.float32 else np.complex128
    states = b * L * m
    plane_bytes = states * fd.itemsize
    nu = np.log(-np.log1p(-10 ** rng.uniform(-4, -0.5, m))).astype(fd)
    theta = rng.uniform(-np.pi, np.pi, m).astype(fd)
    lam = (np.exp(-np.exp(nu.astype(np.float64))) * np.exp(1j * theta)).astype(cd)
    x = [rng.standard_normal((b, L, m)).astype(fd) for _ in range(2)]
    xc = (x[0] + 1j * x[1]).astype(cd)
    u = rng.standard_normal((b, L, 1)).astype(fd)
    B = [rng.standard_normal((m, 1)).astype(fd) for _ in range(2)]
    out = [np.empty((b, L, m), fd) for _ in range(2)]
    out_c = np.empty((b, L, m), cd)
    t_np = [torch.from_numpy(a) for a in (u, nu, theta, *B)]
    tx = [torch.from_numpy(a) for a in x]
    tn, tt = torch.from_numpy(nu), torch.from_numpy(theta)
    ju = [jnp.asarray(a) for a in (u, nu, theta, *B)]
    jscan = jax.jit(lambda *a: J.modal_scan(*a, chunk=64))
    jgrad = jax.jit(jax.grad(lambda p: sum(jnp.sum(h) for h in J.modal_scan(
        ju[0], p[0], p[1], p[2], p[3], chunk=64))))
    jscan_nb = jax.jit(lambda *a: J.modal_scan(*a, backend="numba"))
    jgrad_nb = jax.jit(jax.grad(lambda p: sum(jnp.sum(h) for h in J.modal_scan(
        ju[0], p[0], p[1], p[2], p[3], backend="numba"))))

    def fb(backend, method="chunked", chunk=64):
        params = [a.clone().requires_grad_() for a in t_np[1:]]

        def step():
            h_re, h_im = mccc_kernels.scan(t_np[0], *params, method=method, chunk=chunk,
                                           backend=backend)
            (h_re.sum() + h_im.sum()).backward()
        return step

    fns = {
        "limit: copy x -> h": copy_limit(2 * plane_bytes, 2 * plane_bytes),
        "limit: write h": copy_limit(0, 2 * plane_bytes),
        "anchor: compiled complex loop (numba)": lambda: _anchor_loop(xc, lam, out_c),
        "numba core on x": lambda: N.forward(*x, nu, theta, None, None, return_all=True,
                                             out=out),
        "numba scan on u (fused B u, p = 1)": lambda: N.forward_u(
            u, *B, nu, theta, None, None, return_all=True, out=out),
        "public API, NumPy (numba, fused B u)": lambda: mccc_kernels.scan(u, nu, theta, *B),
        "public API, torch CPU (numba)": lambda: mccc_kernels.scan(*t_np),
        "public API, torch CPU (pure torch, chunked K=64)": lambda: mccc_kernels.scan(
            *t_np, chunk=64, backend="torch"),
        "public API, JAX (chunked K=64)": lambda: jax.block_until_ready(jscan(*ju)),
        "public API, JAX (numba by callback)": lambda: jax.block_until_ready(jscan_nb(*ju)),
        "torch core on x (pure torch, chunked K=64)": lambda: TorchCore.forward(
            *tx, tn, tt, None, None, return_all=True, method="chunked", chunk=64),
        "fwd+bwd, torch CPU (numba)": fb("numba"),
        "fwd+bwd, torch CPU (pure torch, chunked K=64)": fb("torch"),
        "fwd+bwd, JAX (chunked K=64)": lambda: jax.block_until_ready(jgrad(ju[1:])),
        "fwd+bwd, JAX (numba by callback)": lambda: jax.block_until_ready(jgrad_nb(ju[1:])),
    }
    if fd == np.float32:
        fns["numba core on x, float32 state"] = lambda: N.forward(
            *x, nu, theta, None, None, return_all=True, out=out, state_dtype=np.float32)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        t = compare(fns, repeat=repeat, min_seconds=0.02)
    finally:
        torch.set_num_threads(threads)
    anchor = t["anchor: compiled complex loop (numba)"]
    copy_t, write_t = t["limit: copy x -> h"], t["limit: write h"]
    torch_fb = t["fwd+bwd, torch CPU (pure torch, chunked K=64)"]
    for name, sec in t.items():
        if name.startswith("limit"):
            limit, vs = sec, "-"
        elif name.startswith("fwd+bwd"):
            limit, vs = None, f"{ratio_str(torch_fb / sec)} vs pure torch"
        else:
            limit = write_t if "public" in name or "on u" in name else copy_t
            vs = ratio_str(anchor / sec)
        moved = 2 * plane_bytes * (2 if limit is copy_t else 1)
        table.rows.append([fd.name, name, sec * 1e3, vs, moved / sec / 1e9 if limit else "-",
                           f"{limit / sec:.0%}" if limit else "-"])
    return t, copy_t, write_t


def scan_table(quick: bool) -> Table:
    b, L, m = (2, 256, 16) if quick else (4, 4096, 64)
    rng = np.random.default_rng(0)
    table = Table(f"Modal scan on CPU over all states (batch={b}, L={L}, m={m}, one thread)",
                  ["dtype", "path", "ms", "vs anchor", "GB/s", "% of limit"])
    for dtype in ("float32",) if quick else ("float32", "float64"):  # quick: seconds in CI
        t, copy_t, write_t = _scan_rows(table, dtype, b, L, m, rng, repeat=3 if quick else 5)
        table.check(f"numba scan on x, {dtype}: fraction of the copy limit (x in, h out)",
                    copy_t / t["numba core on x"], 0.5, unit="")
        table.check(f"numba scan on u (p = 1), {dtype}: fraction of the write limit (h out)",
                    write_t / t["numba scan on u (fused B u, p = 1)"], 0.5, unit="")
    gpu = _gpu_rows()
    table.rows += [["-", name, *vals] for name, vals in gpu]
    table.notes += [
        "limits: np.copyto / fill of buffers of the same bytes, timed interleaved with the paths",
        "% of limit: copy limit for the anchor and the cores on x, write limit for the scans on u "
        "(p = 1 input: reading u is 1/m of writing h); the core, anchor and 'on u' rows write "
        "into preallocated buffers, the public API rows allocate their outputs each call (with "
        "glibc's default malloc, buffers of these sizes often come back from the OS as fresh "
        "pages that the kernel zeroes on first touch: that, not the scan, is most of their "
        "extra time)",
        "float32 in/out keeps a float64 state in the numba scan (the 'float32 state' row is the "
        "alternative it was measured against)",
        "JAX rows: XLA may run worker threads, all charged to the process CPU time",
    ]
    return table


def _gpu_rows():
    """GPU results from ``reports/gpu.json`` when ``benchmarks/gpu_check.sh`` has run."""
    if not GPU_JSON.is_file():
        return [("GPU (Triton, H200 or other): not measured (no reports/gpu.json)",
                 ["not measured"] * 4)]
    data = json.loads(GPU_JSON.read_text())
    return [(f"GPU {r['name']} ({data.get('device', '?')})",
             [r.get("ms", r.get("error", "-")), "-", r.get("GB/s", "-"), r.get("of_limit", "-")])
            for r in data.get("scan", [])]


def decode_table(quick: bool) -> Table:
    import torch
    import torch.nn.functional as F

    from mccc_kernels.nn import MCCCCrossConditioning

    d, m = 256, 64
    sizes = (64, 4096) if quick else (16, 64, 256, 1024, 4096, 16384, 65536)
    table = Table(f"Decoding cost per token: MCCCCrossConditioning vs cross-attention over a KV "
                  f"cache (d_model = d_v = {d}, m = {m}, one query, torch CPU, one thread)",
                  ["N", "attention us/token", "MCCC us/token", "time ratio",
                   "MCCC us/token, all N interleaved", "KV cache bytes", "MCCC state bytes",
                   "memory ratio"])
    torch.manual_seed(0)
    layer = MCCCCrossConditioning(d, n_modes=m, d_value=d).eval()
    wq, wo = torch.nn.Linear(d, d), torch.nn.Linear(d, d)
    x = torch.randn(1, 1, d)  # the token, (batch, Q, d_model), given to both as it is
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    # Short timed runs, many rounds: a run of 2 ms fits in a scheduler time slice, so the
    # minimum is an undisturbed run even while other processes share the two cores (runs of
    # 20 ms were each interrupted: their minimum moved 2x with the machine's load).
    timing = {"repeat": 5 if quick else 25, "min_seconds": 0.002}
    decoders = {}
    try:
        with torch.no_grad(), single_thread_blas():
            for n in sizes:
                src = torch.randn(1, n, d)
                dec = layer.decoder(layer.encode(src))  # the per-source no-grad decode cache
                decoders[n] = mccc = lambda dec=dec: dec(x)  # noqa: E731
                k, v = torch.randn(1, n, d), torch.randn(1, n, d)  # the cache of the n tokens

                def attend(k=k, v=v):
                    return wo(F.scaled_dot_product_attention(wq(x), k, v))
                t = compare({"attention": attend, "mccc": mccc}, **timing)
                kv_bytes = 2 * n * d * 4
                st_bytes = 2 * m * d * 4
                table.rows.append([n, t["attention"] * 1e6, t["mccc"] * 1e6,
                                   ratio_str(t["attention"] / t["mccc"]), None, kv_bytes, st_bytes,
                                   ratio_str(kv_bytes / st_bytes)])
            # the decoders of every N in the same rounds: constancy in N without the drift of
            # the machine's load between the rows
            together = compare(decoders, **timing)
    finally:
        torch.set_num_threads(threads)
    for row in table.rows:
        row[4] = together[row[0]] * 1e6
    per_token = [r[4] for r in table.rows]
    table.notes += [
        "MCCC per token: layer.decoder(state)(x), the layer's public no-grad decode (here its "
        f"compiled one-token step, backend {dec.backend!r}), on a memory encoded from the N source "
        "tokens (the per-source cache is built once, not timed); attention: q projection, SDPA "
        "over the N cached keys and values, output projection; both get the same (1, 1, d) token",
        f"times: process CPU time, minimum over {timing['repeat']} interleaved rounds of runs of "
        f">= {timing['min_seconds'] * 1e3:g} ms; the ratio columns pair each N with its attention, "
        "the 'all N interleaved' column times the decoders of every N in the same rounds (the "
        "targets use it); MCCC cost and memory do not grow with N",
    ]
    table.check(f"MCCC decode per token, worst over N = {sizes[0]}..{sizes[-1]} (us)",
                max(per_token), 15.0, at_least=False, unit="")
    table.check("MCCC decode per token, max/min over N (constant in N)",
                max(per_token) / min(per_token), 2.0, at_least=False)
    table.check(f"attention / MCCC time per token at N = {sizes[-1]}",
                float(table.rows[-1][1] / table.rows[-1][2]), 1.0)
    crossover = next((r[0] for r in table.rows if r[1] > r[2]), None)
    table.notes.append("decode crossover (first measured N where MCCC is cheaper per token): " + (
        f"none up to N = {sizes[-1]}" if crossover is None else
        f"N <= {crossover} (cheaper already at the smallest measured N)"
        if crossover == sizes[0] else f"N = {crossover}"))
    return table


def run(quick: bool = False) -> list[Table]:
    with single_thread_blas():
        return [scan_table(quick), decode_table(quick)]


if __name__ == "__main__":
    for t in run(quick="--quick" in sys.argv):
        print(t.format(), end="\n\n")
