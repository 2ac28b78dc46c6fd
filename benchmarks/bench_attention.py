"""Decode-time memory and time per query: MCCC readout vs softmax cross-attention over a KV cache.

Sizes: d = d_v = 64, m = 64 modes, source lengths N = 4k, 64k, 1M (quick: 4k, 64k), NumPy and
torch on CPU, one thread. KV: ``softmax(K q / sqrt d)^T V`` over an N x 64 float32 cache pair;
MCCC: ``c = W_c^T q, y = Re(c^T H_v) / Re(c^T H_1)`` on a 64 x 65 complex64 state. Encoding the
source is not part of the decode cost and is not timed.

Second table: :func:`mccc_theory.attention.hankel_error` (the error's Hankel norm from exact
Gramian factors, one SVD of a ``(Q T + 2m) x (N + 2m)`` matrix) against the anchor it replaced,
the explicit ``T x T`` block Hankel section of the error at ``T = N +`` the lags for ``rho^k`` to
reach ``1e-17`` (capped at 4096), on balanced-truncation fits of smooth lag windows (full: the
issue's 14 queries, 97 lags; quick: 4 queries, 40 lags).

Run: ``python benchmarks/bench_attention.py [--quick]`` or ``mccc bench --only attention``.
"""

from __future__ import annotations

import sys

import numpy as np
from timing import Table, best_time, single_thread_blas

from mccc_theory.attention.decode import DecodeSetup

D, M = 64, 64


def _section_norm(fit) -> float:
    """The anchor: norm of the explicit T x T block Hankel section of the fit's error."""
    W = fit.weights
    Q, N = W.shape
    rho = float(np.max(np.abs(fit.system.lam)))
    T = int(min(N + np.ceil(np.log(1e-17) / np.log(rho)), 4096))
    e = -fit.system.impulse_response(2 * T)[:, :, 0].T.real
    e[:, :N] += W
    idx = np.arange(T)[:, None] + np.arange(T)[None, :]
    return float(np.linalg.norm(e[:, idx].transpose(1, 0, 2).reshape(T * Q, T), 2))


def _hankel_error_table(quick: bool) -> Table:
    from mccc_theory.attention import fit_modal, hankel_error, standard_families

    n, q, width, m = (40, 4, 4, 4) if quick else (97, 14, 8, 4)
    fit = fit_modal(standard_families(n=n, n_queries=q, width=width)["smooth"].weights, m, "bt")
    table = Table(f"Hankel norm of a fit's error: exact Gramian factors vs explicit section "
                  f"(Q={q}, N={n}, BT order {m})",
                  ["method", "value", "CPU s", "ratio"])
    with single_thread_blas():
        lo, hi = hankel_error(fit)
        t_new = best_time(lambda: hankel_error(fit), repeat=3)
        ref = _section_norm(fit)
        t_old = best_time(lambda: _section_norm(fit), repeat=1)
    table.rows += [["hankel_error (bracket midpoint)", 0.5 * (lo + hi), t_new, 1.0],
                   ["explicit section (anchor)", ref, t_old, t_old / t_new]]
    table.check("explicit section time / hankel_error time", t_old / t_new, 10.0)
    table.notes += [f"bracket [{lo:.15g}, {hi:.15g}]; the section is a lower bound of the "
                    "same norm (rho^T = 1e-17 past its last lag)"]
    return table


def run(quick: bool = False) -> list[Table]:
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
    return [table, _hankel_error_table(quick)]


if __name__ == "__main__":
    for t in run(quick="--quick" in sys.argv):
        print(t.format())
