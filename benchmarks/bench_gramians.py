"""Modal closed-form Gramian against scipy's and SLICOT's dense Stein solvers (issue 2, THEORY §2).

One run times the controllability Gramian of a conjugate-closed modal system (LRU ring, |lambda|
in [0.9, 0.999]) by the modal closed form, ``scipy.linalg.solve_discrete_lyapunov``, SLICOT
SB03MD (Bartels-Stewart) and SLICOT SB03OD (Hammarling's method: the Cholesky factor U, then
``W = U U^T``) through slycot on its real block-diagonal realization, for m = 64, 256, 1024
states and p = 1 and 16 inputs, with BLAS pinned to one thread; the four are timed interleaved
(process CPU time, minimum over rounds, ``timing.compare``). Accuracy is the worst relative error of
200 sampled entries against a 50-digit mpmath oracle (dense results are mapped back to modal
coordinates by the unitary realification). Targets: >= 15x faster than the fastest dense route at
m = 256 and >= 100x at m = 1024.

Run: ``python benchmarks/bench_gramians.py [--quick]`` or ``mccc bench --only gramians``.
"""

from __future__ import annotations

import sys

import numpy as np
import scipy.linalg as sla
import slycot  # loads its own OpenBLAS: import before limiting BLAS threads
from timing import Table, compare, ratio_str, single_thread_blas

from mccc_theory import ModalSystem
from mccc_theory.eigen import log_polar, lru_ring_init
from mccc_theory.gramians import _slycot_stein, controllability_gramian

TARGETS = {256: 15.0, 1024: 100.0}


def _system(m: int, p: int, seed: int = 0) -> ModalSystem:
    rng = np.random.default_rng(seed)
    nu, theta = lru_ring_init(m // 2, r_min=0.9, r_max=0.999, theta_max=np.pi, rng=rng)
    s = log_polar(nu, theta)
    Bh = rng.standard_normal((m // 2, p)) + 1j * rng.standard_normal((m // 2, p))
    return ModalSystem(np.concatenate([s, s.conj()]), np.concatenate([Bh, Bh.conj()]),
                       np.ones((1, m)))


def _sb03od(A, B):
    """SB03OD, discrete, trans='T': ``A X A^T - X = -scale^2 B B^T`` with ``X = U U^T``."""
    n, p = B.shape
    Bp = np.zeros((n, max(n, p)))  # the routine returns the n x n factor in B's array
    Bp[:, :p] = B
    U, scale, _ = slycot.sb03od(n, p, A.copy(), np.zeros((n, n)), Bp, dico="D", trans="T")
    return (U @ U.T) / scale ** 2


def _sampled_error(W_modal, system, idx):
    import mpmath

    errs = []
    with mpmath.workdps(50):
        lam = [mpmath.exp(mpmath.mpc(v.real, v.imag)) for v in system.s]
        for i, j in idx:
            bb = mpmath.fsum(mpmath.mpc(b.real, b.imag) * mpmath.conj(mpmath.mpc(c.real, c.imag))
                             for b, c in zip(system.B[i], system.B[j], strict=True))
            exact = complex(bb / (1 - lam[i] * mpmath.conj(lam[j])))
            errs.append(abs(W_modal[i, j] - exact) / abs(exact))
    return max(errs)


def run(quick: bool = False) -> Table:
    sizes = (32, 64) if quick else (64, 256, 1024)
    table = Table("Controllability Gramian: modal closed form vs dense Stein solvers",
                  ["m", "p", "modal s", "scipy s", "SB03MD s", "SB03OD s",
                   "speed-up vs fastest dense", "target", "err modal", "err scipy",
                   "err SB03MD", "err SB03OD"])
    with single_thread_blas():
        for m in sizes:
            for p in (1, 16):
                system = _system(m, p)
                real = system.real_realization()
                T = system.realification()
                Q = real.B @ real.B.T
                dense = {
                    "scipy": lambda a=real.A, q=Q: sla.solve_discrete_lyapunov(a, q),
                    "SB03MD": lambda a=real.A, q=Q: _slycot_stein(a, q, trans=True),
                    "SB03OD": lambda a=real.A, b=real.B: _sb03od(a, b),
                }
                t = compare({"modal": lambda s=system: controllability_gramian(s), **dense},
                            repeat=1 if m >= 1024 else 3, min_seconds=0.05)
                rng = np.random.default_rng(1)
                idx = rng.integers(0, m, size=(200, 2))
                to_modal = lambda W, T=T: T.conj().T @ W @ T  # noqa: E731
                errs = [_sampled_error(controllability_gramian(system), system, idx)] + \
                    [_sampled_error(to_modal(f()), system, idx) for f in dense.values()]
                fastest = min(dense, key=t.get)
                ratio = t[fastest] / t["modal"]
                target = TARGETS.get(m)
                table.rows.append([m, p, t["modal"], t["scipy"], t["SB03MD"], t["SB03OD"],
                                   f"{ratio_str(ratio)} ({fastest})",
                                   f">= {target:.0f}x" if target else "-", *errs])
                if target:
                    table.check(f"modal Gramian speed-up vs fastest dense ({fastest}), m={m}, "
                                f"p={p}", ratio, target)
                table.check(f"modal Gramian accuracy, m={m}, p={p}", errs[0], 1e-14,
                            at_least=False, unit="")
                print(f"  m={m} p={p}: {ratio_str(ratio)} vs {fastest}", file=sys.stderr,
                      flush=True)
    table.notes.append("times: process CPU time, minimum over interleaved rounds (1 round at "
                       "m = 1024), BLAS limited to 1 thread; errors: worst relative error of 200 "
                       "sampled entries against mpmath (50 digits)")
    return table


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv).format())
