"""Balanced truncation: cross-checks with SLICOT AB09AD, projections, invariances, orders, errors.

Error models (eps = 2^-52):
* Hankel singular values from Gramian factors are accurate to an absolute ~ c n eps sigma_1
  (the factorisation of a Gramian of norm ||W|| perturbs its small eigenvalues by ~ eps ||W||);
  observed against AB09AD: c <= 300 over 200 random systems (n <= 24), so c = 1e3 is allowed.
* Transfer functions of reduced models built by square-root projections carry ~ n eps ||G||_inf
  times the projection's condition number sqrt(sigma_1 / sigma_r); allowed 1e3 times over.
"""

import warnings

import control
import numpy as np
import pytest
import slycot
from hypothesis import given
from hypothesis import strategies as st

from mccc_theory import ModalSystem, StateSpace
from mccc_theory.errors import (
    DTypeError,
    MethodError,
    OrderError,
    ShapeError,
    UnstableError,
)
from mccc_theory.gramians import hankel_singular_values
from mccc_theory.norms import hinf_error, hinf_norm
from mccc_theory.reduction import balanced_truncation, error_bounds
from mccc_theory.testing.strategies import dense_systems, modal_systems

EPS = np.finfo(float).eps


def ab09ad(ss: StateSpace, order: int):
    """SLICOT AB09AD (dico='D', job='B') on the textbook (A, B, C, 0), whose Hankel operator is ours.

    job='N' (balancing-free) is not used: slycot 0.7.1's wrapper corrupts the heap with it (glibc
    aborts with "munmap_chunk(): invalid pointer" at random later points, reproducibly under
    MALLOC_CHECK_=3), presumably an undersized hidden IWORK. Our "bfsr" gives the same reduced
    map as "sr", so both are compared with job='B'.
    """
    job = "B"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # AB09AD warns when it lowers nr to the minimal order
        nr, Ar, Br, Cr, hsv = slycot.ab09ad("D", job, "N", ss.n, ss.n_inputs, ss.n_outputs,
                                            ss.A.copy(), ss.B.copy(), ss.C.copy(), nr=order,
                                            tol=0.0)
    return nr, StateSpace(Ar, Br, Cr, ss.D), hsv


def tf_tol(system, hsv, r):
    g = hinf_norm(system, rtol=1e-6).upper
    return 1e3 * len(hsv) * EPS * g * np.sqrt(hsv[0] / hsv[r - 1])


@given(modal_systems(m=(2, 12), regime="conjugate_pairs", with_feedthrough=True),
       st.integers(1, 12), st.sampled_from(["sr", "bfsr"]))
def test_matches_slycot_ab09ad_on_real_realizations(system, r, method):
    ss = system.real_realization()
    full = balanced_truncation(system, method=method)
    n = ss.n
    _, _, hsv_ref = ab09ad(ss, n)
    k = full.rank
    # Hankel singular values: 1e-10 relative, down to the absolute rounding floor 1e3 n eps s_1
    allowed = np.maximum(1e-10 * hsv_ref[:k], 1e3 * n * EPS * hsv_ref[0])
    assert np.all(np.abs(full.hsv[:k] - hsv_ref[:k]) <= allowed)
    # an order whose sigma_r is well resolved (> 1e-8 sigma_1) and splits no repeated value
    resolved = int(np.sum(full.hsv[:k] > 1e-8 * full.hsv[0]))
    r = 1 + (r - 1) % resolved
    ours = balanced_truncation(system, r, method=method)
    assert ours.reduced.is_real
    nr, theirs, _ = ab09ad(ss, r)
    assert nr == r
    e_ours = hinf_error(system, ours.reduced, rtol=1e-10)
    e_theirs = hinf_error(ss, theirs, rtol=1e-10)
    # The two models are the same truncation up to similarity: their H-infinity errors agree
    # to 1e-8 relative, or to the rounding floor of the projections for tiny errors.
    tol = max(1e-8 * e_ours.upper, 2 * tf_tol(system, full.hsv, r))
    assert abs(e_ours.value - e_theirs.value) <= tol


@given(dense_systems(m=(2, 8), regime=("random", "fast", "conjugate_pairs"), return_modal=True,
                     condition_max=10.0),
       st.integers(1, 8))
def test_dense_route_matches_modal_route(example, r):
    dense, modal = example
    a, b = balanced_truncation(modal), balanced_truncation(dense)
    k = min(a.rank, b.rank)
    # dense Gramians in coordinates of condition <= 10 lose up to cond^2 = 1e2 more
    assert np.all(np.abs(a.hsv[:k] - b.hsv[:k]) <= np.maximum(1e-8 * a.hsv[:k],
                                                               1e5 * k * EPS * a.hsv[0]))
    resolved = int(np.sum(a.hsv[:k] > 1e-6 * a.hsv[0]))
    r = 1 + (r - 1) % resolved
    ra, rb = balanced_truncation(modal, r).reduced, balanced_truncation(dense, r).reduced
    assert hinf_error(ra, rb, rtol=1e-6).upper <= 1e2 * tf_tol(modal, a.hsv, r) + 1e-8 * \
        hinf_norm(modal).upper


@given(st.one_of(modal_systems(m=(2, 8), regime=("random", "fast", "conjugate_pairs")),
                 dense_systems(m=(2, 8), regime=("random", "fast"))),
       st.integers(1, 8), st.sampled_from(["sr", "bfsr"]))
def test_projections_define_the_reduced_model(system, r, method):
    full = balanced_truncation(system)
    r = 1 + (r - 1) % full.rank
    try:
        bt = balanced_truncation(system, r, method=method)
    except OrderError:  # r splits a repeated value; covered by test_bad_input
        return
    T, W = bt.T, bt.W
    scale = np.linalg.norm(T, 2) * np.linalg.norm(W, 2)
    tol = 100 * T.shape[0] * EPS * scale  # a product of n-term sums of size ||W|| ||T||
    assert np.linalg.norm(W.conj().T @ T - np.eye(r), 2) <= tol
    A = np.diag(system.lam) if isinstance(system, ModalSystem) else system.A
    red = bt.reduced
    assert np.linalg.norm(W.conj().T @ A @ T - red.A, 2) <= tol * np.linalg.norm(A, 2)
    assert np.linalg.norm(W.conj().T @ system.B - red.B, 2) <= tol * np.linalg.norm(system.B, 2)
    assert np.linalg.norm(system.C @ T - red.C, 2) <= tol * np.linalg.norm(system.C, 2)


@given(modal_systems(m=(2, 8), regime=("random", "fast", "conjugate_pairs")), st.integers(1, 8))
def test_sr_and_bfsr_give_the_same_map(system, r):
    full = balanced_truncation(system)
    r = 1 + (r - 1) % int(np.sum(full.hsv[: full.rank] > 1e-8 * full.hsv[0]))
    try:
        a = balanced_truncation(system, r, method="sr").reduced
        b = balanced_truncation(system, r, method="bfsr").reduced
    except OrderError:
        return
    assert hinf_error(a, b, rtol=1e-6).upper <= tf_tol(system, full.hsv, r)


def test_similarity_invariance():
    rng = np.random.default_rng(7)
    s = -np.array([0.05, 0.2, 0.5, 1.0, 2.0]) + 1j * np.array([0.3, -1.0, 2.0, 0.0, 2.5])
    modal = ModalSystem(s, rng.standard_normal((5, 2)), rng.standard_normal((2, 5)))
    ss = modal.to_state_space()
    Tm = rng.standard_normal((5, 5)) + 1j * rng.standard_normal((5, 5))  # cond ~ 10
    other = ss.transform(Tm)
    a, b = balanced_truncation(ss, 3), balanced_truncation(other, 3)
    # HSVs and the reduced map do not depend on the coordinates (dense Gramians in both)
    assert np.allclose(a.hsv, b.hsv, rtol=1e-10, atol=1e3 * 5 * EPS * a.hsv[0]
                       * np.linalg.cond(Tm) ** 2)
    assert hinf_error(a.reduced, b.reduced).upper <= 1e-9 * hinf_norm(ss).upper


def test_tol_selects_the_smallest_order_meeting_the_bound():
    rng = np.random.default_rng(2)
    s = -np.geomspace(0.01, 3, 10) + 1j * rng.uniform(-3, 3, 10)
    system = ModalSystem(s, rng.standard_normal((10, 1)), rng.standard_normal((1, 10)))
    sig = hankel_singular_values(system).significant
    for tol in (1.0, 1e-2, 1e-4):
        bt = balanced_truncation(system, tol=tol)
        assert bt.upper_bound <= tol
        assert error_bounds(sig, bt.order - 1)[1] > tol if bt.order > 1 else True
        assert hinf_error(system, bt.reduced).lower <= bt.upper_bound + tf_tol(system, sig,
                                                                               bt.order)


def test_default_order_and_bounds():
    rng = np.random.default_rng(4)
    s = -np.geomspace(0.05, 2, 6) + 1j * rng.uniform(-3, 3, 6)
    system = ModalSystem(s, rng.standard_normal((6, 2)) + 1j * rng.standard_normal((6, 2)),
                         rng.standard_normal((2, 6)))
    bt = balanced_truncation(system)
    assert bt.order == bt.rank == 6 and not bt.reduced.is_real
    assert (bt.lower_bound, bt.upper_bound) == (0.0, 0.0)
    bt3 = balanced_truncation(system, 3)
    assert bt3.lower_bound == bt3.hsv[3]
    assert bt3.upper_bound == pytest.approx(2 * np.sum(bt3.hsv[3:]), rel=1e-15)


def test_error_bounds_count_repeated_values_once():
    hsv = np.array([3.0, 2.0, 2.0 * (1 + 1e-12), 1.0, 1.0])[[0, 2, 1, 3, 4]]
    assert error_bounds(hsv, 1) == (hsv[1], 2 * (hsv[1] + 1.0))
    assert error_bounds(hsv, 5) == (0.0, 0.0)


def _discrete_test_system():
    rng = np.random.default_rng(0)
    s = -10 ** rng.uniform(-2, 0, 8) + 1j * rng.uniform(0.2, 3, 8)
    B = rng.standard_normal((8, 1)) + 1j * rng.standard_normal((8, 1))
    C = rng.standard_normal((1, 8)) + 1j * rng.standard_normal((1, 8))
    return ModalSystem(np.r_[s, s.conj()], np.r_[B, B.conj()], np.c_[C, C.conj()])


def test_python_control_balred_mishandles_discrete_time():
    """python-control 0.10.2 ``balred`` calls AB09AD with dico='C' whatever ``sys.dt`` is.

    THEORY §3 anchor defect: the result comes back continuous (dt = 0), at a different order
    (stable discrete poles with Re lambda > 0 count as unstable and are kept), and its error as a
    discrete system breaks the balanced-truncation bound; ours is discrete, has the requested
    order and meets the bound.
    """
    system = _discrete_test_system()
    ss = system.real_realization()
    textbook = control.ss(ss.A, ss.B, ss.C, np.zeros((1, 1)), dt=True)  # Hankel operator = ours
    r = 4
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = control.balred(textbook, r)
    their_err = hinf_error(ss, StateSpace(theirs.A, theirs.B, theirs.C, ss.D)) \
        if np.max(np.abs(np.linalg.eigvals(theirs.A))) < 1 else None
    ours = balanced_truncation(system, r)
    broken = (theirs.dt in (0, None) or theirs.nstates != r or their_err is None
              or their_err.lower > ours.upper_bound)
    if not broken:
        pytest.skip(f"python-control {control.__version__} balred now handles discrete time "
                    "(dt kept, requested order, bound met): the regression is fixed upstream")
    assert ours.order == r and ours.reduced.spectral_radius() < 1
    assert hinf_error(system, ours.reduced).upper <= ours.upper_bound


def _two_identical_channels():
    # two decoupled copies of one channel: every Hankel singular value appears twice
    s = np.array([-0.1 + 0.5j, -0.1 + 0.5j, -1.0 + 0j, -1.0 + 0j])
    B = np.array([[1.0, 0], [0, 1.0], [0.5, 0], [0, 0.5]])
    C = B.T.copy()
    return ModalSystem(s, B, C)


_stable = ModalSystem(np.array([-0.5 + 0j, -1.0 + 1j]), [[1.0], [1.0]], [[1.0, 2.0]])

BAD = [
    (lambda: balanced_truncation(_stable, 0), OrderError, r"order: expected an integer >= 1"),
    (lambda: balanced_truncation(_stable, 3), OrderError, r"order: expected an integer in \[1, 2\]"),
    (lambda: balanced_truncation(_stable, 1.5), DTypeError, r"order: expected an integer"),
    (lambda: balanced_truncation(_stable, 1, tol=0.1), OrderError, r"order, tol: pass one"),
    (lambda: balanced_truncation(_stable, tol=-1.0), OrderError, r"tol: expected a finite error"),
    (lambda: balanced_truncation(_stable, tol=np.nan), OrderError, r"tol: expected a finite"),
    (lambda: balanced_truncation(_stable, 1, method="svd"), MethodError,
     r"method: expected one of 'sr', 'bfsr'"),
    (lambda: balanced_truncation(_stable, 1, factor="qr"), MethodError, r"factor: expected"),
    (lambda: balanced_truncation(StateSpace([[1.5]], [[1.0]], [[1.0]]), 1), UnstableError,
     r"system: eigenvalue 0 of A is 1\.5"),
    (lambda: balanced_truncation(StateSpace([[0.0, 1.0], [-1.0, 0.0]], [[1.0], [0.0]],
                                            [[1.0, 0.0]]), 1),
     UnstableError, r"\|lambda\| = 1"),
    (lambda: balanced_truncation([[0.5]], 1), ShapeError, r"system: expected a ModalSystem"),
    (lambda: balanced_truncation(_two_identical_channels(), 1), OrderError,
     r"order: 1 splits the repeated Hankel singular value .* Use order=2$"),
    (lambda: balanced_truncation(ModalSystem(np.array([-1 + 0j]), [[0.0]], [[1.0]])),
     OrderError, r"every Hankel singular value is zero"),
]


@pytest.mark.parametrize("call, exc, match", BAD)
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


# ---- defect 5 (issue 12): a python-control user gets the textbook answer -----------------------

def _control_system(n=6, p=2, q=2, seed=0, dt=0.1):
    """A real textbook system with poles |lambda| <= 0.9 in coordinates of condition ~10 (so the
    dense Gramians are accurate to ~1e3 n eps sigma_1), as a control.StateSpace with dt."""
    rng = np.random.default_rng(seed)
    lam = 0.9 * rng.uniform(0.1, 1, n // 2) * np.exp(1j * rng.uniform(0.2, 3, n // 2))
    blocks = [np.array([[z.real, -z.imag], [z.imag, z.real]]) for z in lam]
    A = np.zeros((n, n))
    for i, blk in enumerate(blocks):
        A[2 * i:2 * i + 2, 2 * i:2 * i + 2] = blk
    U = np.linalg.qr(rng.standard_normal((n, n)))[0]
    T = U @ np.diag(np.geomspace(1, 10, n)) @ U.T
    Ti = np.linalg.inv(T)
    return control.ss(T @ A @ Ti, T @ rng.standard_normal((n, p)), rng.standard_normal((q, n)) @ Ti,
                      rng.standard_normal((q, p)), dt=dt)


def test_control_system_gets_textbook_hankel_singular_values():
    """G = 1/(z - 1/2): textbook Hankel [2^-(i+j)] of rank one, sigma = 1/(1 - 1/4) = 4/3 (MATLAB,
    AB09AD). StateSpace.from_control used to give the MCCC realization C A^-1, sigma = 8/3."""
    G = control.ss(control.tf([1.0], [1.0, -0.5], dt=True))
    bt = balanced_truncation(G)
    assert bt.hsv[0] == pytest.approx(4 / 3, rel=16 * EPS)  # a 1 x 1 Stein solve
    _, _, hsv = ab09ad(StateSpace(G.A, G.B, G.C), 1)
    assert bt.hsv[0] == pytest.approx(hsv[0], rel=16 * EPS)
    assert isinstance(bt.reduced, control.StateSpace) and bt.reduced.dt is True
    tb = StateSpace.from_control(G)
    assert tb.convention == "textbook" and tb.dt is True
    assert balanced_truncation(tb).hsv[0] == pytest.approx(4 / 3, rel=16 * EPS)
    # the explicit MCCC route keeps its own (different) Hankel operator
    mccc = StateSpace.from_control(G, convention="mccc")
    assert balanced_truncation(mccc).hsv[0] == pytest.approx(8 / 3, rel=16 * EPS)


@pytest.mark.parametrize("seed", range(3))
def test_control_route_matches_ab09ad(seed):
    """HSVs, the reduced map and its H-infinity error against SLICOT AB09AD on the same textbook
    matrices; the result is a control.StateSpace with the input's dt. (Through the old MCCC route
    the HSVs were up to 29x off and the H-infinity error 1.8x AB09AD's.)"""
    sys = _control_system(seed=seed)
    n = sys.nstates
    _, _, hsv_ref = ab09ad(StateSpace(sys.A, sys.B, sys.C), n)
    full = balanced_truncation(sys)
    k = full.rank
    # error model of the module docstring: 1e-10 relative down to 1e3 n eps sigma_1 absolute,
    # times cond(T)^2 = 1e2 for the dense Gramians in the conditioned coordinates
    allowed = np.maximum(1e-10 * hsv_ref[:k], 1e5 * n * EPS * hsv_ref[0])
    assert np.all(np.abs(full.hsv[:k] - hsv_ref[:k]) <= allowed)
    r = 3
    ours = balanced_truncation(sys, r)
    assert isinstance(ours.reduced, control.StateSpace)
    assert ours.reduced.dt == 0.1 and ours.reduced.nstates == r
    assert np.array_equal(ours.reduced.D, sys.D)
    nr, theirs, _ = ab09ad(StateSpace(sys.A, sys.B, sys.C), r)
    assert nr == r
    # same truncation up to similarity: equal textbook frequency responses
    w = np.linspace(0, np.pi, 64)
    ours_fr = control.frequency_response(ours.reduced, w).complex
    th = control.ss(theirs.A, theirs.B, theirs.C, sys.D, dt=0.1)
    theirs_fr = control.frequency_response(th, w).complex
    g = np.max(np.abs(control.frequency_response(sys, w).complex))
    assert np.max(np.abs(ours_fr - theirs_fr)) <= 1e3 * n * EPS * g * np.sqrt(
        full.hsv[0] / full.hsv[r - 1]) * 1e2
    # and the bound chain of the textbook theory holds for the textbook error
    e = hinf_error(StateSpace.from_control(sys).to_mccc(),
                   StateSpace.from_control(ours.reduced).to_mccc(), rtol=1e-10)
    tol = 1e-8 * e.upper
    assert ours.lower_bound - tol <= e.upper and e.lower <= ours.upper_bound + tol


def test_mccc_lower_bound_covers_models_with_the_same_feedthrough_only():
    """The MCCC Hankel operator contains lag 0, which D splits: h_t = diag(0, 1/2) h_{t-1} + u_t,
    y = h_1 + h_2 has sigma_2 > 0, yet the order-1 model y = u_t + (1/2-mode) with D = 1 is the
    same map (H-infinity error 0). The textbook Hankel operator of the map (lag 0 excluded) has
    rank one, so its sigma_2 = 0 bounds every order-1 model, whatever its D."""
    sys = StateSpace(np.diag([0.0, 0.5]), np.ones((2, 1)), np.ones((1, 2)))
    bt = balanced_truncation(sys, 1)
    assert bt.lower_bound > 0.1
    other_d = StateSpace([[0.5]], [[1.0]], [[1.0]], [[1.0]])
    assert hinf_error(sys, other_d).upper <= 1e3 * EPS  # the same map
    tb = balanced_truncation(sys.to_control())  # textbook (A, B, C A, C B + D)
    assert tb.hsv.size == 1 or tb.hsv[1] <= 1e3 * EPS * tb.hsv[0]


def test_textbook_systems_are_refused_where_the_convention_would_be_misread():
    from mccc_theory.norms import hinf_norm as _hinf

    G = control.ss([[0.5]], [[1.0]], [[1.0]], [[2.0]], dt=True)
    with pytest.raises(ShapeError, match=r"system: a textbook-convention system .*to_mccc\(\)"):
        _hinf(G)
    # the same map through to_mccc(): |1/(z - 1/2) + 2| peaks at z = 1, value 4
    assert _hinf(StateSpace.from_control(G).to_mccc()).value == pytest.approx(4.0, rel=1e-8)
