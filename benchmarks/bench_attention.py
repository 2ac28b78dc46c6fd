"""Decode-time memory and time per query: MCCC readout vs softmax cross-attention over a KV cache.

Sizes: d = d_v = 64, m = 64 modes, source lengths N = 4k, 64k, 1M (quick: 4k, 64k), NumPy and
torch on CPU, one thread. KV: ``softmax(K q / sqrt d)^T V`` over an N x 64 float32 cache pair;
MCCC: ``c = W_c^T q, y = Re(c^T H_v) / Re(c^T H_1)`` on a 64 x 65 complex64 state. Encoding the
source is not part of the decode cost and is not timed.

Run: ``python benchmarks/bench_attention.py [--quick]`` or ``mccc bench --only attention``.
"""

from __future__ import annotations

import sys

from timing import Table, best_time, single_thread_blas

from mccc_theory.attention.decode import DecodeSetup

D, M = 64, 64


def run(quick: bool = False) -> Table:
    sizes = (4096, 65536) if quick else (4096, 65536, 1_000_000)
    table = Table(
        "Decode per query: MCCC readout vs KV-cache softmax cross-attention (d=64, m=64)",
        ["backend", "N", "KV bytes", "MCCC bytes", "memory ratio", "KV us/query",
         "MCCC us/query", "time ratio"])
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with single_thread_blas():
            for backend in ("numpy", "torch"):
                for n in sizes:
                    setup = DecodeSetup(n, d=D, m=M, backend=backend)
                    t_kv = best_time(setup.kv_read, repeat=5, min_seconds=0.05)
                    t_mc = best_time(setup.mccc_read, repeat=5, min_seconds=0.05)
                    table.rows.append([backend, n, setup.kv_bytes, setup.mccc_bytes,
                                       setup.kv_bytes / setup.mccc_bytes, t_kv * 1e6,
                                       t_mc * 1e6, t_kv / t_mc])
                    del setup
    finally:
        torch.set_num_threads(threads)
    for backend in ("numpy", "torch"):
        t = [r[6] for r in table.rows if r[0] == backend]
        table.check(f"MCCC {backend} time per query, max/min over N = {sizes[0]}..{sizes[-1]} "
                    "(constant in N)", max(t) / min(t), 2.0, at_least=False)
    table.notes += [
        "memory ratio = KV cache bytes / MCCC state bytes (per source; parameters excluded)",
        "time ratio = KV time per query / MCCC time per query (best of 5, single thread)",
        "MCCC cost is independent of N; KV cost and memory grow linearly in N",
    ]
    return table


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv).format())
