"""Hankel operator of attention weights, bounds and fit_modal (mccc_theory.attention)."""

import numpy as np
import pytest

from mccc_theory.attention import (
    alibi_slopes,
    block_hankel,
    distinct_tail_sum,
    exponential_sum_weights,
    fir_hankel_singular_values,
    fir_system,
    fit_modal,
    read_once_lower_bounds,
    standard_families,
    streaming_bounds,
    weight_singular_values,
)
from mccc_theory.errors import (
    DefectiveError,
    DTypeError,
    EmptyInputError,
    MethodError,
    NonFiniteError,
    OrderError,
    ShapeError,
    UnstableError,
)
from mccc_theory.gramians import hankel_singular_values

EPS = np.finfo(float).eps


pytestmark = pytest.mark.usefixtures("one_blas_thread")


@pytest.fixture(scope="module")
def families():
    return standard_families(n=80, n_queries=6, width=6)


def _expsum(rng, lam, Q=2, n=40):
    G = rng.standard_normal((Q, len(lam))) + 1j * rng.standard_normal((Q, len(lam)))
    for i, z in enumerate(lam):  # conjugate gains for conjugate poles: real weights
        j = int(np.argmin(np.abs(np.asarray(lam) - np.conj(z))))
        if j > i:
            G[:, j] = np.conj(G[:, i])
        elif j == i:
            G[:, i] = G[:, i].real
    s = np.log(np.asarray(lam, complex))
    return s, G, exponential_sum_weights(s, G, n)


def test_block_hankel_structure():
    W = np.arange(1.0, 13.0).reshape(2, 6)
    H = block_hankel(W)
    assert H.shape == (12, 6)
    for i in range(6):
        for j in range(6):
            expect = W[:, i + j] if i + j < 6 else np.zeros(2)
            assert np.array_equal(H[2 * i:2 * i + 2, j], expect)
    H0, H1 = block_hankel(W, tail="free"), block_hankel(W, tail="free", shift=1)
    # Q = 2, N = 6: r = 2 block rows maximise min(Q r, N - r) = 4 (free_hankel_shape)
    assert H0.shape == H1.shape == (4, 4)
    assert np.array_equal(H1[:2, :], W[:, 1:5]) and np.array_equal(H1[-2:, -1], W[:, 5])
    assert np.array_equal(H0[-2:, :], W[:, 1:5])


def test_fir_hsv_match_gramian_hsv_of_the_shift_realization():
    # Two independent computations: SVD of the Hankel matrix vs the lead's square-root
    # Gramian method on the N-state shift register (dense Stein solves; N = 40 keeps it fast).
    for fam in standard_families(n=40, n_queries=3, width=4).values():
        ours = fir_hankel_singular_values(fam.weights)
        theirs = hankel_singular_values(fir_system(fam.weights)).values
        k = min(ours.size, theirs.size)
        # Dense Stein solve + factor + SVD: ~N^2 eps sigma_1 absolute; factor 4.
        tol = 4 * fam.weights.shape[1] ** 2 * EPS * ours[0]
        assert np.max(np.abs(ours[:k] - theirs[:k])) < tol
        assert np.all(ours[k:] < tol)


def test_lookup_has_L_plus_one_unit_hsv(families):
    hsv = fir_hankel_singular_values(families["lookup"].weights)
    L = 6
    assert np.max(np.abs(hsv[:L + 1] - 1)) < 8 * 80 * EPS  # backward-stable SVD: N eps
    assert np.max(hsv[L + 1:]) < 8 * 80 * EPS


def test_read_once_bound_is_below_streaming_bound(families):
    # W is the first block row of the Hankel matrix: sigma_k(W) <= sigma^H_k (interlacing).
    for fam in families.values():
        sv = weight_singular_values(fam.weights)
        hsv = fir_hankel_singular_values(fam.weights)
        assert np.all(sv <= hsv[:sv.size] * (1 + 16 * 80 * EPS))


def test_distinct_tail_counts_repeated_values_once():
    assert distinct_tail_sum([3.0, 1.0, 1.0, 1.0, 0.5], 1) == 1.5
    assert distinct_tail_sum([3.0, 2.0, 1.0], 0) == 6.0
    assert distinct_tail_sum([3.0, 2.0], 2) == 0.0
    lo, up = streaming_bounds([3.0, 1.0, 1.0, 0.25], 1)
    assert (lo, up) == (1.0, 2.5)
    lo2, loF = read_once_lower_bounds(np.diag([3.0, 2.0, 1.0]), 1)
    assert lo2 == 2.0 and abs(loF - np.sqrt(5.0)) < 4 * EPS


@pytest.mark.parametrize("seed", range(4))
def test_exact_recovers_poles_and_extrapolates(seed):
    rng = np.random.default_rng(seed)
    lam = [0.9 * np.exp(0.4j), 0.9 * np.exp(-0.4j), 0.6, -0.5]
    s, G, W = _expsum(rng, lam, n=30)
    fit = fit_modal(W, 6, "exact")
    assert fit.method == "exact" and fit.system.m == 4
    assert fit.real_dimension == 4  # conjugate-closed: 4 real dimensions
    got = np.sort_complex(fit.system.lam)
    # Poles of a well-separated, well-conditioned sum (Hankel condition ~1e2): 1e4 N eps.
    assert np.max(np.abs(got - np.sort_complex(np.asarray(lam)))) < 1e4 * 30 * EPS
    far = exponential_sum_weights(s, G, 200)
    far_hat = fit.system.impulse_response(200)[:, :, 0].T.real
    assert np.max(np.abs(far - far_hat)) < 1e4 * 30 * EPS * np.max(np.abs(far))
    # T2 lower bound with r = 4 real dimensions: W has rank <= 4, so it is ~0.
    assert fit.lower_bound_2 <= 64 * 30 * EPS * fit.weight_sv[0]
    assert fit.error_2 <= fit.upper_bound + 64 * 30 * EPS * fit.weight_sv[0]


def test_exact_refuses_rank_above_order_and_defective_and_growing(families):
    rng = np.random.default_rng(7)
    _, _, W = _expsum(rng, [0.9, 0.5, -0.3], n=30)
    with pytest.raises(OrderError, match=r"numerical rank 3 > order = 2"):
        fit_modal(W, 2, "exact")
    with pytest.raises(DefectiveError, match=r"repeated pole"):
        fit_modal(families["lookup"].weights, 20, "exact")
    with pytest.raises(UnstableError, match=r"\|lambda\| = 1.1"):
        fit_modal(1.1 ** np.arange(20), 3, "exact")
    with pytest.raises(OrderError, match=r"full rank"):
        fit_modal(np.random.default_rng(0).standard_normal(10), 10, "exact")


def test_alibi_heads_need_one_mode_each(families):
    W = families["alibi"].weights  # 6 heads
    fit = fit_modal(W, 6, "exact")
    assert fit.system.m == 6
    # The 6 poles e^{-slope} cluster towards 1 (condition ~1e6): 1e-9 relative.
    assert fit.relative_error < 1e-9
    # Poles are e^{-slope}; clustered near 1, they carry ~sqrt(cond) eps: 1e-6.
    assert np.max(np.abs(np.sort(fit.system.lam.real) - np.sort(np.exp(-alibi_slopes(6))))) < 1e-6
    assert np.max(np.abs(fit.system.lam.imag)) < 1e-6
    with pytest.raises(OrderError, match=r"> order = 5"):
        fit_modal(W, 5, "exact")


def test_memory_of_a_fit_realises_its_weights(families):
    fit = fit_modal(families["alibi"].weights, 6, "exact")
    mem = fit.memory()
    A = mem.lag_weights(np.eye(6), 80)
    assert np.max(np.abs(A - fit.weights_hat)) < 64 * 80 * EPS * np.max(np.abs(A))


BAD = [
    (lambda: fit_modal(np.array([0.5, np.nan, 0.1]), 1), NonFiniteError,
     r"weights: expected finite values"),
    (lambda: fit_modal(np.zeros((2, 0)), 1), EmptyInputError, r"weights: expected a non-empty"),
    (lambda: fit_modal(np.ones((2, 3, 4)), 1), ShapeError, r"weights: expected shape \(N,\)"),
    (lambda: fit_modal(np.ones(5) * 1j, 1), DTypeError, r"weights: expected a real array"),
    (lambda: fit_modal(0.5 ** np.arange(5), 6), OrderError,
     r"order: expected an integer >= 1 and <= 5"),
    (lambda: fit_modal(0.5 ** np.arange(5), 0), OrderError, r"order: expected an integer >= 1"),
    (lambda: fit_modal(0.5 ** np.arange(5), 1, "svd"), MethodError, r"method: expected one of"),
    (lambda: fit_modal(0.5 ** np.arange(2), 1, "exact"), OrderError,
     r"needs at least 3 lags"),
    (lambda: fit_modal(np.zeros(6), 1, "exact"), OrderError, r"all weights are zero"),
    # defect 10 (issue 12): these reached numpy as LinAlgError
    (lambda: fit_modal(0.5 ** np.arange(8), 2, rtol=float("nan")), OrderError,
     r"rtol: expected a relative rank cut in \(0, 1\)"),
    (lambda: fit_modal(0.5 ** np.arange(8), 2, rtol=2.0), OrderError,
     r"rtol: expected a relative rank cut in \(0, 1\)"),
    (lambda: fit_modal(0.5 ** np.arange(8), 2, rtol="1e-8"), DTypeError, r"rtol: expected a float"),
]


@pytest.mark.parametrize("call, exc, match", BAD, ids=[m for _, _, m in BAD])
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


@pytest.mark.parametrize("name", ["alibi", "smooth", "sharp"])
def test_bt_satisfies_the_bound_chain(families, name):
    W = families[name].weights
    for m in (1, 2, 3, 5, 8):
        fit = fit_modal(W, m, "bt")
        assert fit.system.m == m and fit.real_dimension == m  # real model: conjugate-closed
        # Computed norms and singular values: rounding ~64 N eps sigma_1.
        tol = 64 * 80 * EPS * fit.weight_sv[0]
        assert fit.lower_bound_2 - tol <= fit.error_2 <= fit.upper_bound + tol
        assert fit.lower_bound_fro - tol <= fit.error_fro
        assert fit.lower_bound_2 <= fit.hankel_lower_bound + tol
        assert np.all(np.abs(fit.system.lam) < 1)


def test_bt_refuses_to_split_the_lookups_repeated_hsv(families):
    with pytest.raises(OrderError, match=r"splits the repeated Hankel singular value"):
        fit_modal(families["lookup"].weights, 3, "bt")


def test_auto_prefers_exact_then_bt(families):
    rng = np.random.default_rng(8)
    _, _, W = _expsum(rng, [0.8, 0.3], n=20)
    assert fit_modal(W, 4, "auto").method == "exact"
    assert fit_modal(families["smooth"].weights, 4, "auto").method == "bt"


def _confluent(lam, c1, n=40):
    """Two queries with a double pole at lam: (1 + c1 tau) lam^tau is not a sum of exponentials."""
    t = np.arange(n)
    return np.vstack([(1 + c1 * t) * lam ** t, (0.3 - 0.5 * c1 * t) * lam ** t + 0.5 ** t])


@pytest.mark.parametrize("lam, c1", [(0.8, 1.0), (0.8, 0.1), (0.95, 0.1), (-0.7, 3.0)])
def test_exact_refuses_a_split_double_pole(lam, c1):
    """Defect 6 (issue 12): a double pole came back "exact" as two poles ~1e-8 apart (error
    1e-9, eigenvector condition ~2e7, below the old 1/sqrt(eps) cut). No diagonal realization
    exists, so "exact" must refuse."""
    with pytest.raises(DefectiveError, match=r"weights: .*repeated pole"):
        fit_modal(_confluent(lam, c1), 4, "exact")
    assert fit_modal(_confluent(lam, c1), 4, "auto").method == "bt"


@pytest.mark.parametrize("gap", [1e-2, 1e-4, 1e-5])
def test_exact_accepts_close_but_distinct_poles(gap):
    """The other side of the same test: poles gap apart are resolved from data at rounding level
    (their separation is far above the eigenvalues' perturbation, ~eps / gap)."""
    rng = np.random.default_rng(1)
    lam = np.array([0.8, 0.8 + gap, 0.3])
    W = exponential_sum_weights(np.log(lam + 0j), rng.standard_normal((2, 3)), 40)
    fit = fit_modal(W, 4, "exact")
    assert fit.system.m == 3
    # poles of a sum with eigenvector condition ~3/gap: ~1e4 N eps / gap
    assert np.max(np.abs(np.sort(fit.system.lam.real) - np.sort(lam))) <= 1e4 * 40 * EPS / gap


def test_exact_chooses_the_hankel_split_from_queries_and_lags():
    """Defect 6: Q = 3 queries, N = 12 lags, 7 poles determine a realization (a 9 x 9 free-tail
    Hankel matrix of rank 7 with 3 block rows), but a split fixed at floor(N/2) = 6 block rows
    gives 18 x 6 (full rank 6) and was refused."""
    rng = np.random.default_rng(2)
    lam = [0.9, 0.7, -0.6, 0.5, 0.3, -0.2, 0.1]
    s, G, W = _expsum(rng, lam, Q=3, n=12)
    fit = fit_modal(W, 7, "exact")
    assert fit.system.m == 7
    far = exponential_sum_weights(s, G, 60)
    far_hat = fit.system.impulse_response(60)[:, :, 0].T.real
    # seven real poles down to 0.1 (Hankel condition ~1e6 at N = 12): 1e7 N eps relative
    assert np.max(np.abs(far - far_hat)) <= 1e7 * 12 * EPS * np.max(np.abs(far))


def test_read_once_on_a_defective_truncation_names_the_order():
    """Defect 7 (issue 12): the sharp windows at m = 8 give a truncated recurrence with a double
    pole; the error named the internal ``state_space`` and was not documented."""
    W = standard_families()["sharp"].weights
    with pytest.raises(DefectiveError, match=r"order: the order-8 recurrence truncated in the "
                                             r"read-once coordinates has a .*repeated pole"):
        fit_modal(W, 8, "read_once")
