"""Exact facts of capacity.exact and capacity.crosstalk, checked against independent oracles."""

import numpy as np
import pytest
from scipy import integrate, special

from mccc_theory.capacity import (
    crosstalk,
    delta_rule_memory,
    empirical_profile,
    frame_potential,
    frame_potential_bound,
    least_squares_memory,
    linear_attention_profile,
    linear_weights,
    mean_crosstalk_mass,
    modal_weights,
    outer_product_memory,
    overlap_moments,
    random_unit_vectors,
    tight_frame,
    welch_bound,
)
from mccc_theory.errors import DTypeError, OrderError, ShapeError, UnstableError
from mccc_theory.recall.intervals import bernstein_interval
from mccc_theory.systems import modal_powers

EPS = np.finfo(float).eps


@pytest.mark.parametrize("d", [2, 3, 7, 64])
def test_overlap_moments_match_sphere_density_quadrature(d):
    # Independent oracle: c = first coordinate of a uniform unit vector has density
    # (1 - c^2)^((d-3)/2) / B(1/2, (d-1)/2) on [-1, 1]; integrate its moments numerically.
    def dens(c):
        return (1 - c * c) ** ((d - 3) / 2) / special.beta(0.5, (d - 1) / 2)

    m = [integrate.quad(lambda c, k=k: c ** k * dens(c), -1, 1, limit=200)[0] for k in (1, 2, 4)]
    got = overlap_moments(d)
    # quad's default tolerance 1.5e-8 relative; the d = 2 density has endpoint singularities
    np.testing.assert_allclose(got, m, rtol=1e-6, atol=1e-9)


def test_tight_frame_is_unit_norm_and_tight():
    rng = np.random.default_rng(0)
    for N, d in [(5, 8), (8, 8), (9, 8), (50, 7), (160, 64)]:
        F = tight_frame(N, d, rng)
        # norms and the frame operator are sums of d (resp. N) products: N d eps rounding
        np.testing.assert_allclose(np.linalg.norm(F, axis=1), 1.0, atol=8 * d * EPS)
        S = F.T @ F
        target = np.eye(d) * (N / d) if N >= d else F.T @ F
        np.testing.assert_allclose(S, target, atol=16 * N * d * EPS)
        assert abs(frame_potential(F) - frame_potential_bound(N, d)) <= 16 * N * N * d * EPS


def test_frame_potential_bound_and_mean_crosstalk_mass_on_random_keys():
    rng = np.random.default_rng(1)
    for N, d in [(10, 20), (40, 20), (200, 16)]:
        K = random_unit_vectors(N, d, rng)
        assert frame_potential(K) >= frame_potential_bound(N, d) * (1 - 1e-12)
        assert mean_crosstalk_mass(K) >= N / d - 1 - 1e-12
        # identity: mean crosstalk mass = FP/N - 1 for unit vectors
        assert mean_crosstalk_mass(K) == pytest.approx(frame_potential(K) / N - 1, rel=1e-12)


def test_welch_bound_values_and_attainment_by_simplex():
    assert welch_bound(5, 8) == 0.0
    assert welch_bound(9, 8) == pytest.approx(1 / (8 * 8))
    # N = d + 1 harmonic frame is equiangular (regular simplex directions) for these sizes:
    F = tight_frame(4, 3, 0)
    G = F @ F.T
    np.fill_diagonal(G, 0)
    np.testing.assert_allclose(np.max(G ** 2), welch_bound(4, 3), rtol=1e-12)


def test_outer_product_and_least_squares_memories():
    rng = np.random.default_rng(2)
    K = tight_frame(6, 10, rng)
    Vv = rng.standard_normal((6, 3))
    # orthonormal keys: exact; two products of length <= 10: 40 eps |v|
    np.testing.assert_allclose(outer_product_memory(K, Vv) @ K.T, Vv.T,
                               atol=40 * EPS * np.abs(Vv).max())
    Kr = random_unit_vectors(10, 10, rng)
    Vr = rng.standard_normal((10, 4))
    err = np.abs(least_squares_memory(Kr, Vr) @ Kr.T - Vr.T).max()
    assert err <= 8 * 10 * np.linalg.cond(Kr) * EPS * np.abs(Vr).max()
    # N > d: the readout weights are the orthogonal projector K (K^T K)^+ K^T (rank d)
    Kb = random_unit_vectors(30, 8, rng)
    P = Kb @ np.linalg.pinv(Kb)
    Wls = (least_squares_memory(Kb, np.eye(30)) @ Kb.T).T
    np.testing.assert_allclose(Wls, P, atol=1e-12)
    assert np.trace(P) == pytest.approx(8, abs=1e-10)


def test_delta_rule_identities_and_reference_recursion():
    rng = np.random.default_rng(3)
    K = random_unit_vectors(40, 12, rng)
    Vv = rng.standard_normal((40, 5))
    S, norms, res = delta_rule_memory(K, Vv, return_trace=True)
    assert np.abs(S @ K[-1] - Vv[-1]).max() <= 64 * 12 * EPS * (np.linalg.norm(S) + 1)
    prev = np.r_[0.0, norms[:-1]]
    np.testing.assert_allclose(norms, prev - res + np.sum(Vv ** 2, axis=1),
                               rtol=0, atol=64 * 60 * EPS * norms.max())
    # reference: S_t = S_{t-1}(I - beta k k^T) + beta v k^T with beta = 0.5, dense products
    S_ref = np.zeros((5, 12))
    for k, v in zip(K, Vv, strict=True):
        S_ref = S_ref @ (np.eye(12) - 0.5 * np.outer(k, k)) + 0.5 * np.outer(v, k)
    np.testing.assert_allclose(delta_rule_memory(K, Vv, beta=0.5), S_ref, atol=1e-12)


def test_crosstalk_decomposition_sums_to_readout_and_matches_eqn_e():
    rng = np.random.default_rng(4)
    K = random_unit_vectors((3, 20), 16, rng)
    Vv = rng.standard_normal((3, 20, 4))
    W = linear_weights(K)
    dec = crosstalk(W, Vv, np.broadcast_to(np.arange(20), (3, 20)))
    np.testing.assert_allclose(dec.target + dec.cross, dec.readout, atol=1e-13)
    # Eqn E: target = v_j (k_j . k_j) = v_j for unit keys; cross = sum_{i != j} v_i (k_i . k_j)
    np.testing.assert_allclose(dec.target, Vv, atol=1e-14)
    j = 7
    cross_j = sum(Vv[0, i] * (K[0, i] @ K[0, j]) for i in range(20) if i != j)
    np.testing.assert_allclose(dec.cross[0, j], cross_j, atol=1e-13)
    assert dec.snr.shape == (3, 20)


def test_linear_weights_with_features_and_modal_weights_reference():
    rng = np.random.default_rng(5)
    K = rng.standard_normal((2, 9, 5))
    Q = rng.standard_normal((2, 4, 5))
    W = linear_weights(K, Q, feature_map=np.exp)
    np.testing.assert_allclose(W, np.exp(Q) @ np.swapaxes(np.exp(K), 1, 2))
    s = np.array([-0.1 + 0.3j, -0.01 - 0.2j, -2.0 + 0j])
    Pk, Pq = rng.standard_normal((9, 3)), rng.standard_normal((4, 3))
    lags = rng.integers(0, 30, (4, 9))
    Wm = modal_weights(Pk, Pq, s, lags)
    lam = np.exp(s)
    ref = np.array([[np.sum(Pq[j] * Pk[i] * (lam ** lags[j, i]).real) for i in range(9)]
                    for j in range(4)])
    np.testing.assert_allclose(Wm, ref, rtol=1e-12, atol=1e-14)
    # lag 0 undecayed: weights equal the plain feature inner products
    np.testing.assert_allclose(modal_weights(Pk, Pq, s, np.zeros((4, 9), int)), Pq @ Pk.T,
                               atol=1e-14)
    assert modal_powers(s, np.array([0]))[0][0] == 1


def test_empirical_profile_recovers_linear_attention_moments():
    rng = np.random.default_rng(6)
    d, N = 16, 24
    K = random_unit_vectors((400, N), d, rng)
    W = linear_weights(K)
    prof = empirical_profile(W, np.broadcast_to(np.arange(N), (400, N)))
    ref = linear_attention_profile(d, N)
    assert prof.target_mean == pytest.approx(1.0, abs=1e-12)
    assert prof.target_var == pytest.approx(0.0, abs=1e-12)
    # cross weights c^2 in [0, 1]: empirical-Bernstein interval at 1e-6 for E c^2 = 1/d
    c = W[:, 0, 1:].ravel()  # one query per trial: independent samples
    lo, hi = bernstein_interval(c * c, 1e-6)
    assert lo <= ref.cross_var <= hi
    assert prof.crosstalk_energy == pytest.approx((N - 1) * (prof.cross_var + prof.cross_mean ** 2))


@pytest.mark.parametrize("call, exc, match", [
    (lambda: crosstalk(np.ones((2, 3)), np.ones((4, 2)), np.zeros(2, int)), ShapeError,
     "values: expected shape"),
    (lambda: crosstalk(np.ones((2, 3)), np.ones((3, 2)), np.array([0, 3])), ShapeError,
     r"targets: expected indices in \[0, 3\)"),
    (lambda: crosstalk(np.ones((2, 3)), np.ones((3, 2)), np.array([0.0, 1.0])), ShapeError,
     "targets: expected integers"),
    (lambda: modal_weights(np.ones((3, 2)), np.ones((1, 2)), [-0.1, 0.2], np.zeros((1, 3), int)),
     UnstableError, "mode 1"),
    (lambda: modal_weights(np.ones((3, 2)), np.ones((1, 2)), [-0.1, -0.2], -np.ones((1, 3), int)),
     ShapeError, "lags >= 0"),
    (lambda: modal_weights(np.ones((3, 3)), np.ones((1, 3)), [-0.1, -0.2], np.zeros((1, 3), int)),
     ShapeError, "one feature per mode"),
    (lambda: least_squares_memory(np.ones((3, 2)), np.ones((4, 2))), ShapeError, "one per key"),
    (lambda: outer_product_memory(np.ones((3, 2)) + 1j, np.ones((3, 2))), DTypeError, "real"),
    (lambda: tight_frame(0, 3), OrderError, "n: expected an integer >= 1"),
    (lambda: random_unit_vectors(3, 0), OrderError, "d: expected an integer >= 1"),
])
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
