"""Theorems on Gramians, Hankel singular values and eigenvalue parametrizations (THEORY §1-§2).

Each check returns a scaled slack ``1 - observed / allowed`` where ``allowed`` comes from an error
model stated next to it (``eps`` is the double-precision unit roundoff ``2^-52``).
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from mccc_theory.eigen import discretize, log_polar, log_polar_eigenvalues, log_polar_inverse, undiscretize
from mccc_theory.gramians import (
    controllability_gramian,
    hankel_singular_values,
    observability_gramian,
)
from mccc_theory.systems import modal_powers
from mccc_theory.testing.oracles import mp_controllability_gramian, mp_observability_gramian
from mccc_theory.testing.strategies import branch_cut_pairs, dense_systems, modal_systems

from .registry import theorem

EPS = np.finfo(float).eps

# Regimes whose Stein operator is moderately conditioned (1 - |lambda| >= ~1e-3): the dense
# solvers' error scales with 1/(1 - rho^2), which makes the slow regimes' bounds vacuous.
WELL_CONDITIONED = ("random", "fast", "clustered", "conjugate_pairs", "repeated", "nonminimal")

# The regimes of gramian.matches_mpmath, each drawn on purpose (a plain "any regime" draw can go
# many examples without a pair of modes across the branch cut near lambda = -1).
MPMATH_REGIMES = ("near_plus_one", "near_minus_one", "random", "mixed")
# Every example also checks a planted system of resonant pairs across the branch cut: there the
# Gramian is only right if the angle difference is wrapped with the full 2 pi, and the
# near_minus_one regime draws such a pair only by chance (25 draws of the regimes alone, or with
# the planted systems as one more branch, missed it at some Hypothesis seeds).
_MPMATH_EXAMPLES = st.tuples(modal_systems(m=(1, 4), regime=MPMATH_REGIMES),
                             branch_cut_pairs(pairs=(1, 2)), st.integers(1, 10**6))

_systems_with_horizon = st.tuples(modal_systems(m=(1, 6), regime=None), st.integers(1, 64))


def _series(system, N, kind):
    """``sum_{k<N}`` term by term (independent of the closed form); also sum of |terms|."""
    lamk = modal_powers(system.s, np.arange(N))  # (N, m)
    M = system.B @ system.B.conj().T if kind == "c" else system.C.conj().T @ system.C
    if kind == "c":
        terms = lamk[:, :, None] * M[None] * lamk[:, None, :].conj()
    else:
        terms = lamk[:, :, None].conj() * M[None] * lamk[:, None, :]
    return terms.sum(0), np.abs(terms).sum(0)


@theorem(
    id="gramian.closed_form_equals_series",
    statement="The modal closed form M_ij expm1(N s_ij)/expm1(s_ij) equals the series "
              "sum_{k<N} Lambda^k M Lambda^kH (controllability and observability)",
    assumptions="|lambda_i| < 1, horizon 1 <= N <= 64, every regime",
    reference="THEORY §2 (modal closed form)",
    strategy=lambda: _systems_with_horizon, group="gramians")
def _closed_form_equals_series(example):
    system, N = example
    worst = -np.inf
    for kind, fn in (("c", controllability_gramian), ("o", observability_gramian)):
        W = fn(system, N, "modal")
        S, abs_sum = _series(system, N, kind)
        # Summing N terms in floating point: |error| <= (N + 4) eps sum|terms| entrywise (plus
        # a few ulps from forming the powers and M); factor 8 for the complex products.
        allowed = 8 * (N + 8) * EPS * np.linalg.norm(abs_sum)
        worst = max(worst, np.linalg.norm(W - S) / allowed)
    return 1 - worst


@theorem(
    id="gramian.stein_residual",
    statement="The infinite-horizon Gramians solve A W A^H - W + B B^H = 0 and "
              "A^H W A - W + C^H C = 0 (modal and dense routes)",
    assumptions="stable modal systems in every regime, dense systems similar to them "
                "(cond(T) <= 100)",
    reference="THEORY §2; Bartels & Stewart 1972",
    strategy=lambda: st.one_of(modal_systems(m=(1, 8)), dense_systems(m=(1, 8),
                                                                       regime=WELL_CONDITIONED)),
    group="gramians")
def _stein_residual(system):
    ss = system.to_state_space() if hasattr(system, "s") else system
    A, B, C = ss.A, ss.B, ss.C
    worst = -np.inf
    methods = ("modal", "dense") if hasattr(system, "s") else ("dense",)
    for method in methods:
        Wc = controllability_gramian(system, None, method)
        Wo = observability_gramian(system, None, method)
        for W, Ak, M in ((Wc, A, B @ B.conj().T), (Wo, A.conj().T, C.conj().T @ C)):
            R = Ak @ W @ Ak.conj().T - W + M
            # Backward-stable solvers: residual <= c n eps (||A||^2 ||W|| + ||W|| + ||M||); the
            # closed form has entrywise relative error of a few ulps, giving the same bound.
            n = A.shape[0]
            allowed = 32 * (n + 1) * EPS * (
                (np.linalg.norm(Ak, 2) ** 2 + 1) * np.linalg.norm(W) + np.linalg.norm(M))
            worst = max(worst, np.linalg.norm(R) / allowed)
    return 1 - worst


@theorem(
    id="gramian.monotone_convergence",
    statement="Wc(N) <= Wc(N+1) <= Wc in the Loewner order, and Wc - Wc(N) = "
              "Lambda^N Wc Lambda^NH exactly (geometric convergence)",
    assumptions="stable modal systems, every regime, 1 <= N <= 200",
    reference="THEORY §2",
    strategy=lambda: st.tuples(modal_systems(m=(1, 6)), st.integers(1, 200)), group="gramians")
def _monotone_convergence(example):
    system, N = example
    W_N = controllability_gramian(system, N)
    W_N1 = controllability_gramian(system, N + 1)
    W = controllability_gramian(system)
    m = system.m
    # Each Gramian has entrywise relative error of a few ulps: eigenvalues of differences are
    # resolved to about 16 m eps ||W||.
    allowed = 16 * (m + 1) * EPS * np.linalg.norm(W)
    dips = [-np.linalg.eigvalsh(W_N1 - W_N)[0], -np.linalg.eigvalsh(W - W_N1)[0]]
    PN = modal_powers(system.s, np.array([N]))[0]
    tail = PN[:, None] * W * PN[None, :].conj()
    gap = np.linalg.norm(W - W_N - tail)
    return 1 - max(max(dips), gap) / allowed


@theorem(
    id="gramian.positive_semidefinite",
    statement="Wc(N), Wc, Wo(N), Wo are Hermitian positive semidefinite",
    assumptions="stable modal systems in every regime, N in {1..500, inf}",
    reference="THEORY §2",
    strategy=lambda: st.tuples(modal_systems(m=(1, 8)),
                               st.one_of(st.none(), st.integers(1, 500))),
    group="gramians")
def _psd(example):
    system, N = example
    worst = -np.inf
    for fn in (controllability_gramian, observability_gramian):
        W = fn(system, N)
        herm = np.linalg.norm(W - W.conj().T)
        lo = -np.linalg.eigvalsh(0.5 * (W + W.conj().T))[0]
        # eigenvalues of a Hermitian matrix with entrywise relative error c eps move by at most
        # c m eps ||W||_F (Weyl); the closed form is Hermitian up to rounding of each entry.
        allowed = 16 * (system.m + 1) * EPS * np.linalg.norm(W)
        worst = max(worst, herm / allowed, lo / allowed)
    return 1 - worst


@theorem(
    id="gramian.matches_mpmath",
    statement="Modal Gramians agree with a 50-digit mpmath oracle to 1e-14 relative "
              "(Frobenius), including 1 - |lambda| down to 1e-12 near lambda = 1 and lambda = -1",
    assumptions="m <= 4, each system at N = inf and at a drawn N in 1..10^6; regimes drawn "
                "explicitly: near lambda = 1, near lambda = -1 (modes on both sides of the branch "
                "cut), generic, mixed; with each, 1-2 planted resonant pairs across the cut",
    reference="THEORY §2; issue 2 item 7; issue 12 defect 11",
    strategy=lambda: _MPMATH_EXAMPLES,
    group="gramians", max_examples=40, requires=("mpmath",))
def _matches_mpmath(example):
    *systems, N = example
    worst = 0.0
    # both horizons on every system: a short finite horizon hides an error in 1 - lambda_i
    # conj(lambda_j) (numerator and denominator carry it alike), the infinite one does not
    for system in systems:
        for horizon in (None, N):
            for fn, oracle in ((controllability_gramian, mp_controllability_gramian),
                               (observability_gramian, mp_observability_gramian)):
                W, Wm = fn(system, horizon), oracle(system, horizon)
                worst = max(worst, np.linalg.norm(W - Wm) / np.linalg.norm(Wm))
    return 1 - worst / 1e-14  # the accuracy requirement


def _padded(values, n):
    out = np.zeros(n)
    out[: len(values)] = values
    return out


@theorem(
    id="hsv.similarity_invariant",
    statement="Hankel singular values are invariant under similarity (T A T^-1, T B, C T^-1)",
    assumptions="modal systems with 1 - |lambda| >= 1e-3 (well-conditioned regimes), "
                "cond(T) <= 100; dense route on the transformed system vs modal closed form",
    reference="THEORY §2",
    strategy=lambda: dense_systems(m=(1, 6), regime=WELL_CONDITIONED, return_modal=True),
    group="hsv")
def _hsv_similarity(example):
    dense, modal = example
    a = hankel_singular_values(modal)
    b = hankel_singular_values(dense)
    n = modal.m
    rho = np.max(np.abs(modal.lam))
    # Square-root method: Gramians with relative error ~ c n eps / (1 - rho^2) (Stein operator
    # conditioning) perturb sigma_i^2 = eig(Wc Wo) by at most that fraction of
    # ||Wc||_2 ||Wo||_2, which for the transformed system includes the cond(T)^2 imbalance.
    # Squares are compared: a zero HSV legitimately comes out near sqrt(eps) sigma_1.
    return 1 - _hsv_square_gap(a.values, b.values, n) / _hsv_allowed(dense, rho, n)


def _hsv_allowed(system, rho, n):
    scale = max(np.linalg.norm(controllability_gramian(system), 2)
                * np.linalg.norm(observability_gramian(system), 2), np.finfo(float).tiny)
    return 64 * (n + 1) * EPS / (1 - rho**2) * scale


def _hsv_square_gap(a, b, n):
    return np.max(np.abs(_padded(a, n) ** 2 - _padded(b, n) ** 2))


@theorem(
    id="hsv.modal_equals_real_realization",
    statement="A conjugate-closed modal system and its real block-diagonal realization have "
              "the same Hankel singular values (dense and slycot routes); the real embedding of "
              "a complex system has each value twice",
    assumptions="conjugate-pair regime (real map) for the realization; any well-conditioned "
                "regime for the embedding",
    reference="THEORY §2",
    strategy=lambda: st.one_of(modal_systems(m=(2, 8), regime="conjugate_pairs"),
                               modal_systems(m=(1, 4), regime=WELL_CONDITIONED)),
    group="hsv", requires=("slycot",))
def _hsv_real(system):
    a = hankel_singular_values(system).values
    n = system.m
    rho = np.max(np.abs(system.lam))
    # Unitary change of coordinates: same error model as hsv.similarity_invariant with T unitary.
    if system.is_conjugate_closed():
        real = system.real_realization()
        allowed = _hsv_allowed(real, rho, n)
        gaps = [_hsv_square_gap(a, hankel_singular_values(real, method=meth).values, n)
                for meth in ("dense", "slycot")]
        return 1 - max(gaps) / allowed
    emb = system.real_embedding()
    gap = _hsv_square_gap(np.repeat(a, 2), hankel_singular_values(emb).values, 2 * n)
    return 1 - gap / _hsv_allowed(emb, rho, 2 * n)


@theorem(
    id="eigen.log_polar_roundtrip_stable",
    statement="s = -exp(nu) + i theta has Re s < 0 for every real nu (stable), and "
              "log_polar_inverse recovers (nu, theta), and log_polar_eigenvalues equals exp(s)",
    assumptions="nu in [-700, 700] (exp(nu) neither overflows nor underflows), theta in [-pi, pi]",
    reference="THEORY §1; Orvieto et al. 2023 (LRU)",
    strategy=lambda: st.tuples(st.floats(-700, 700), st.floats(-np.pi, np.pi)), group="eigen")
def _log_polar_roundtrip(example):
    nu, theta = example
    s = log_polar(np.array([nu]), np.array([theta]))
    if not s.real[0] < 0:
        return -1.0
    nu2, theta2 = log_polar_inverse(s)
    # exp then log: relative error eps in exp(nu), absolute eps(1 + |nu|) in nu after log.
    allowed = 4 * EPS * (1 + abs(nu))
    err = max(abs(nu2[0] - nu) / allowed, 0.0 if theta2[0] == theta else np.inf)
    # lambda = exp(-exp(nu)) e^{i theta} two ways (the dedicated map and exp of s): each is a few
    # correctly rounded operations, relative 4 eps apiece; once the modulus is subnormal only
    # absolute accuracy of a few subnormal spacings is left (and both underflow to 0 together).
    lam = log_polar_eigenvalues(np.array([nu]), np.array([theta]))[0]
    tiny = np.finfo(float).smallest_subnormal
    err_lam = abs(lam - np.exp(s[0])) / (8 * EPS * abs(lam) + 8 * tiny)
    return 1 - max(err, err_lam)


@theorem(
    id="eigen.discretization_inverse",
    statement="undiscretize(discretize(lambda_c)) = lambda_c for ZOH and bilinear, and the "
              "discrete modes are stable",
    assumptions="Re lambda_c < 0, |dt lambda_c| in [1e-6, 100], |Im(dt lambda_c)| < pi for ZOH",
    reference="THEORY §1",
    strategy=lambda: st.tuples(st.floats(-6, 2), st.floats(0.01, np.pi - 0.01),
                               st.floats(0.01, 1.0), st.sampled_from(["zoh", "bilinear"])),
    group="eigen")
def _discretization_inverse(example):
    log_mag, ang, dt, method = example
    # lambda_c = r e^{i phi} with phi in (pi/2, 3pi/2) mapped from ang: left half-plane
    z = 10.0**log_mag * np.exp(1j * (np.pi / 2 + ang))
    if method == "zoh" and abs(z.imag) >= np.pi:
        z = z.real + 1j * np.sign(z.imag) * 3.0
    lam_c = np.array([z / dt])
    s = discretize(lam_c, dt, method=method)
    if not s.real[0] < 0:
        return -1.0
    back = undiscretize(s, dt, method=method)
    zz = z / 2
    # ZOH is a scaling (2 roundings). Bilinear: s has relative error ~eps; tanh(s/2) amplifies
    # it by |1 - z^2| |s| / (2 |z|) (derivative of the inverse map), z = dt lambda_c / 2.
    cond = 1.0 if method == "zoh" else 1 + abs(1 - zz**2) * abs(s[0]) / (2 * abs(zz))
    allowed = 16 * EPS * cond * abs(lam_c[0])
    return 1 - abs(back[0] - lam_c[0]) / allowed

