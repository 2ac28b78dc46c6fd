"""Balanced truncation: the modal route against SLICOT AB09AD (issue 3, THEORY §3).

One run reduces a conjugate-closed modal system (LRU ring, |lambda| in [0.9, 0.999], p inputs
and p outputs with complex Gaussian gains) to order r = 24 with
:func:`mccc_theory.reduction.balanced_truncation` (closed-form modal Gramians, pivoted Cholesky
factors, one SVD, real coordinates) and with AB09AD (dico='D', job='B', square-root balancing)
on the real block-diagonal realization of the same system, for n = 256 and 1024 states and
p = 1 and 16, BLAS pinned to one thread. Both reduced models' H-infinity errors are certified
brackets (:func:`mccc_theory.norms.hinf_error`, rtol 1e-9), so the time ratio is at equal error;
the bound columns give sigma_{r+1} <= error <= 2 * tail. Target: >= 10x faster at n = 1024.

Run: ``python benchmarks/bench_reduction.py [--quick]`` or ``mccc bench --only reduction``.
"""

from __future__ import annotations

import sys
import warnings

import numpy as np
import slycot
from timing import Table, best_time, single_thread_blas

from mccc_theory import ModalSystem, StateSpace
from mccc_theory.eigen import log_polar, lru_ring_init
from mccc_theory.norms import hinf_error
from mccc_theory.reduction import balanced_truncation

ORDER = 24
TARGETS = {1024: 10.0}


def system(n: int, p: int, seed: int = 0) -> ModalSystem:
    """Conjugate-closed LRU-ring system with n states (n/2 pairs), p inputs and p outputs."""
    rng = np.random.default_rng(seed)
    nu, theta = lru_ring_init(n // 2, r_min=0.9, r_max=0.999, theta_max=np.pi, rng=rng)
    s = log_polar(nu, theta)
    Bh = (rng.standard_normal((n // 2, p)) + 1j * rng.standard_normal((n // 2, p))) / np.sqrt(2)
    Ch = (rng.standard_normal((p, n // 2)) + 1j * rng.standard_normal((p, n // 2))) / np.sqrt(2)
    return ModalSystem(np.concatenate([s, s.conj()]), np.concatenate([Bh, Bh.conj()]),
                       np.concatenate([Ch, Ch.conj()], axis=1))


def ab09ad(ss: StateSpace, order: int) -> StateSpace:
    """AB09AD on the textbook (A, B, C, 0) (its Hankel operator is the MCCC one); keeps D.

    job='B' only: slycot 0.7.1's wrapper corrupts the heap with job='N' (see the tests).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        nr, Ar, Br, Cr, _ = slycot.ab09ad("D", "B", "N", ss.n, ss.n_inputs, ss.n_outputs,
                                          ss.A.copy(), ss.B.copy(), ss.C.copy(), nr=order,
                                          tol=0.0)
    if nr != order:  # AB09AD lowers the order when the Hankel values run out; not comparable
        raise RuntimeError(f"AB09AD returned order {nr}, asked for {order}")
    return StateSpace(Ar[:nr, :nr], Br[:nr], Cr[:, :nr], ss.D)


def run(quick: bool = False) -> Table:
    sizes = (64, 128) if quick else (256, 1024)
    table = Table(f"Balanced truncation to order {ORDER}: modal route vs SLICOT AB09AD",
                  ["n", "p", "ours s", "AB09AD s", "speed-up", "target", "H-inf err ours",
                   "H-inf err AB09AD", "rel. diff", "sigma_r+1", "2 tail", "err / 2 tail"])
    worst_diff, worst_ratio = 0.0, 0.0
    # slycot is imported at module level on purpose: importing it loads a second OpenBLAS, which
    # a single_thread_blas() limit entered before the import misses (AB09AD then ran 10x slower
    # here, two threads thrashing on two cores).
    with single_thread_blas():
        for n in sizes:
            for p in (1, 16):
                modal = system(n, p)
                real = modal.real_realization()
                reps = 1 if n >= 1024 else 3
                t_ours = best_time(lambda m=modal: balanced_truncation(m, ORDER), repeat=3)
                t_ref = best_time(lambda ss=real: ab09ad(ss, ORDER), repeat=reps)
                ours = balanced_truncation(modal, ORDER)
                ref = ab09ad(real, ORDER)
                print(f"  n={n} p={p}: timed, certifying errors ...", file=sys.stderr, flush=True)
                e_ours = hinf_error(modal, ours.reduced, rtol=1e-9)
                e_ref = hinf_error(modal, ref, rtol=1e-9)
                diff = abs(e_ours.value - e_ref.value) / e_ref.value
                ratio = t_ref / t_ours
                slack = e_ours.upper / ours.upper_bound
                worst_diff, worst_ratio = max(worst_diff, diff), max(worst_ratio, slack)
                target = TARGETS.get(n)
                table.rows.append([n, p, t_ours, t_ref, f"{ratio:.1f}x",
                                   f">= {target:.0f}x" if target else "-", e_ours.value,
                                   e_ref.value, diff, ours.lower_bound, ours.upper_bound, slack])
                if target:
                    table.check(f"BT speed-up vs AB09AD, n={n}, p={p}", ratio, target)
                print(f"  n={n} p={p}: {ratio:.1f}x, error diff {diff:.2g}", file=sys.stderr,
                      flush=True)
    table.check("BT H-inf error, ours vs AB09AD (relative difference)", worst_diff, 1e-8,
                at_least=False, unit="")
    table.check("BT H-inf error / (2 tail) (worst)", worst_ratio, 1.0, at_least=False, unit="")
    table.notes.append("times: best of repeats (1 at n = 1024 for AB09AD), BLAS limited to 1 "
                       "thread; ours includes the Gramians, factors, SVD and projection")
    table.notes.append("H-inf errors: midpoints of certified brackets of relative width 1e-9 "
                       "(level-set test on the (n + r)-state error system)")
    return table


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv).format())
