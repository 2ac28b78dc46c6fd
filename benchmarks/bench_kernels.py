"""Kernel throughput on CPU and decoding cost of MCCCCrossConditioning against cross-attention.

Table 1 (modal scan, forward, all states, float32 state): the scan core on precomputed inputs
``x = B u`` in each implementation against a NumPy complex64 step loop (the oracle's algorithm
at the kernels' precision), and against this machine's measured memory bandwidth: the scan must
read x and write h (16 bytes per state), so ``GB/s = 16 * states / time``, and the fraction is
that over the bandwidth of a large ``np.copyto`` (read + write). Forward + backward rows count
the same 16 bytes per state (the backward moves about 4x that). Single thread throughout.

Table 2 (decoding, per generated token): ``MCCCCrossConditioning.decode`` on a precomputed
memory against single-head softmax cross-attention over a KV cache with the same projections
(q and output), d_model = d_v = 256, m = 64 modes, for growing source lengths N.

GPU rows are marked unmeasured unless the run has a CUDA device.

Run: ``python benchmarks/bench_kernels.py [--quick]`` or ``mccc bench --only kernels``.
"""

from __future__ import annotations

import sys

import numpy as np
from timing import Table, best_time, single_thread_blas


def _bandwidth() -> float:
    """Bytes/s of a large single-thread copy (read + write counted)."""
    a = np.ones(1 << 25, np.float32)  # 128 MiB, far beyond the caches
    b = np.empty_like(a)
    t = best_time(lambda: np.copyto(b, a), repeat=5)
    return 2 * a.nbytes / t


def _numpy_loop(x, lam):
    h = np.zeros(x.shape[::2], np.complex64)
    out = np.empty_like(x)
    for t in range(x.shape[1]):
        h = lam * h + x[:, t]
        out[:, t] = h
    return out


def scan_table(quick: bool) -> Table:
    import jax
    import jax.numpy as jnp
    import torch

    from mccc_kernels.modal_scan import jax as J
    from mccc_kernels.modal_scan.torch import TorchCore

    b, L, m = (2, 1024, 64) if quick else (4, 4096, 64)
    states = b * L * m
    rng = np.random.default_rng(0)
    nu = np.log(-np.log1p(-10 ** rng.uniform(-4, -0.5, m))).astype(np.float32)
    theta = rng.uniform(-np.pi, np.pi, m).astype(np.float32)
    x = (rng.standard_normal((b, L, m)) + 1j * rng.standard_normal((b, L, m))).astype(np.complex64)
    lam = (np.exp(-np.exp(nu.astype(np.float64))) * np.exp(1j * theta)).astype(np.complex64)
    bw = _bandwidth()
    table = Table(f"Modal scan on CPU, forward over all states (batch={b}, L={L}, m={m}, "
                  "float32 state, one thread)",
                  ["implementation", "ms", "Mstates/s", "vs NumPy loop", "GB/s",
                   "of bandwidth"])
    t_np = best_time(lambda: _numpy_loop(x, lam), repeat=3)

    def row(name, t):
        table.rows.append([name, t * 1e3, states / t / 1e6, t_np / t, 16 * states / t / 1e9,
                           f"{16 * states / t / bw:.1%}"])

    row("numpy step loop (complex64)", t_np)
    xr, xi = torch.tensor(x.real.copy()), torch.tensor(x.imag.copy())
    tn, tt = torch.tensor(nu), torch.tensor(theta)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for method, K in (("sequential", 16), ("chunked", 16), ("chunked", 64)):
            f = lambda method=method, K=K: TorchCore.forward(  # noqa: E731
                xr, xi, tn, tt, None, None, return_all=True, method=method, chunk=K)
            row(f"torch {method}" + (f" K={K}" if method == "chunked" else ""),
                best_time(f, repeat=3))
        u = torch.randn(b, L, 1)
        B = torch.ones(m, 1)
        for K in (16, 64):
            from mccc_kernels.modal_scan.torch import modal_scan
            params = [tn.clone().requires_grad_(), tt.clone().requires_grad_(),
                      B.clone().requires_grad_(), torch.zeros(m, 1).requires_grad_()]

            def fb(K=K, params=params):
                h_re, h_im = modal_scan(u, params[0], params[1], params[2], params[3], chunk=K)
                (h_re.sum() + h_im.sum()).backward()
            row(f"torch chunked K={K}, forward+backward", best_time(fb, repeat=3))
    finally:
        torch.set_num_threads(threads)
    xj = jnp.asarray(x)
    h0 = jnp.zeros((b, m), jnp.complex64)
    for method, K in (("sequential", 16), ("chunked", 16), ("chunked", 64)):
        f = jax.jit(lambda x, method=method, K=K: J._forward(x, jnp.asarray(nu), jnp.asarray(theta),
                                                             h0, True, method, K))
        row(f"jax {method}" + (f" K={K}" if method == "chunked" else ""),
            best_time(lambda f=f: f(xj).block_until_ready(), repeat=3))
    uj = jnp.asarray(np.asarray(u))
    for K in (16, 64):
        g = jax.jit(jax.grad(lambda p, K=K: sum(jnp.sum(h) for h in J.modal_scan(
            uj, p[0], p[1], p[2], p[3], chunk=K)), argnums=0))
        p = [jnp.asarray(nu), jnp.asarray(theta), jnp.ones((m, 1)), jnp.zeros((m, 1))]
        row(f"jax chunked K={K}, forward+backward",
            best_time(lambda g=g, p=p: jax.block_until_ready(g(p)), repeat=3))
    cuda = torch.cuda.is_available()
    for name in ("triton sequential (CUDA)", "triton chunked K=16 (CUDA)"):
        table.rows.append([name] + (["see GPU run"] if cuda else ["unmeasured"]) * 5)
    table.notes += [
        f"measured memory bandwidth (np.copyto, 128 MiB, read + write): {bw / 1e9:.1f} GB/s",
        "GB/s counts the 16 bytes per state a scan must move (read x, write h; complex64)",
        "GPU rows: unmeasured (no CUDA device in this run)" if not cuda else
        "GPU rows: run benchmarks/bench_kernels.py on the CUDA machine",
    ]
    best_cpu = max(r[3] for r in table.rows if isinstance(r[3], float) and r[0] != table.rows[0][0])
    table.check("fastest CPU kernel vs NumPy step loop", best_cpu, 1.0)
    return table


def decode_table(quick: bool) -> Table:
    import torch
    import torch.nn.functional as F

    from mccc_kernels.nn import MCCCCrossConditioning

    d, m = 256, 64
    sizes = (1024, 4096) if quick else (1024, 4096, 16384, 65536)
    table = Table(f"Decoding cost per token: MCCCCrossConditioning vs cross-attention "
                  f"(d_model = d_v = {d}, m = {m}, one query, torch CPU, one thread)",
                  ["N", "attention us/token", "MCCC us/token", "time ratio",
                   "KV cache bytes", "MCCC state bytes", "memory ratio"])
    torch.manual_seed(0)
    layer = MCCCCrossConditioning(d, n_modes=m, d_value=d).eval()
    wq, wo = torch.nn.Linear(d, d), torch.nn.Linear(d, d)
    x = torch.randn(1, 1, d)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.no_grad(), single_thread_blas():
            state = layer.encode(torch.randn(1, 64, d))
            t_mc = best_time(lambda: layer.decode(x, state), repeat=5, min_seconds=0.05)
            for n in sizes:
                k, v = torch.randn(1, n, d), torch.randn(1, n, d)

                def attend(k=k, v=v):
                    q = wq(x)
                    return wo(F.scaled_dot_product_attention(q, k, v))
                t_at = best_time(attend, repeat=5, min_seconds=0.05)
                kv_bytes = 2 * n * d * 4
                st_bytes = 2 * m * d * 4
                table.rows.append([n, t_at * 1e6, t_mc * 1e6, t_at / t_mc, kv_bytes, st_bytes,
                                   kv_bytes / st_bytes])
    finally:
        torch.set_num_threads(threads)
    table.notes += [
        "MCCC per token: score projection (d -> m), readout of the m x d_v state, output "
        "projection; attention: q projection, softmax over N cached keys, output projection",
        "the source is encoded once (not timed); MCCC cost and memory do not grow with N",
    ]
    table.check(f"attention / MCCC time per token at N = {sizes[-1]}", table.rows[-1][3], 1.0)
    return table


def run(quick: bool = False) -> list[Table]:
    with single_thread_blas():
        return [scan_table(quick), decode_table(quick)]


if __name__ == "__main__":
    for t in run(quick="--quick" in sys.argv):
        print(t.format(), end="\n\n")
