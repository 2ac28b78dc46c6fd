"""Modal closed-form Gramian against scipy's and SLICOT's dense Stein solvers (issue 2, THEORY §2).

One run times the controllability Gramian of a conjugate-closed modal system (LRU ring, |lambda|
in [0.9, 0.999]) by the modal closed form, ``scipy.linalg.solve_discrete_lyapunov`` and SLICOT
SB03MD (through slycot) on its real block-diagonal realization, for m = 64, 256, 1024 states and
p = 1 and 16 inputs, with BLAS pinned to one thread. Accuracy is the worst relative error of
200 sampled entries against a 50-digit mpmath oracle (dense results are mapped back to modal
coordinates by the unitary realification). Targets: >= 15x faster than the fastest dense route at
m = 256 and >= 100x at m = 1024.

Run: ``python benchmarks/bench_gramians.py [--quick]`` or ``mccc bench --only gramians``.
"""

from __future__ import annotations

import sys

import numpy as np
import scipy.linalg as sla
import slycot  # noqa: F401  (loads its own OpenBLAS: import before limiting BLAS threads)
from timing import Table, best_time, single_thread_blas

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
                  ["m", "p", "modal s", "scipy s", "slycot s", "speed-up vs fastest dense",
                   "target", "err modal", "err scipy", "err slycot"])
    with single_thread_blas():
        for m in sizes:
            for p in (1, 16):
                system = _system(m, p)
                real = system.real_realization()
                T = system.realification()
                Q = real.B @ real.B.T
                reps = 1 if m >= 1024 else 3
                t_modal = best_time(lambda s=system: controllability_gramian(s), repeat=5,
                                    min_seconds=0.05)
                t_scipy = best_time(lambda a=real.A, q=Q: sla.solve_discrete_lyapunov(a, q),
                                    repeat=reps)
                t_sly = best_time(lambda a=real.A, q=Q: _slycot_stein(a, q, trans=True),
                                  repeat=reps)
                rng = np.random.default_rng(1)
                idx = rng.integers(0, m, size=(200, 2))
                to_modal = lambda W, T=T: T.conj().T @ W @ T  # noqa: E731
                errs = [_sampled_error(W, system, idx) for W in (
                    controllability_gramian(system),
                    to_modal(sla.solve_discrete_lyapunov(real.A, Q)),
                    to_modal(_slycot_stein(real.A, Q, trans=True)))]
                ratio = min(t_scipy, t_sly) / t_modal
                target = TARGETS.get(m)
                table.rows.append([m, p, t_modal, t_scipy, t_sly, f"{ratio:.0f}x",
                                   f">= {target:.0f}x" if target else "-", *errs])
                if target:
                    table.check(f"modal Gramian speed-up, m={m}, p={p}", ratio, target)
                table.check(f"modal Gramian accuracy, m={m}, p={p}", errs[0], 1e-14,
                            at_least=False, unit="")
                print(f"  m={m} p={p}: {ratio:.0f}x", file=sys.stderr, flush=True)
    table.notes.append("times: best of repeats, BLAS limited to 1 thread; errors: worst relative "
                       "error of 200 sampled entries against mpmath (50 digits)")
    return table


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv).format())
