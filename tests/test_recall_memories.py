"""Memories of mccc_theory.recall: state readout = weights @ values, reference updates,
exactness limits, feature maps, zoology state sizes, bad input."""

import numpy as np
import pytest

from mccc_theory.attention.features import feature_map as attention_feature_map
from mccc_theory.capacity import delta_rule_memory, random_unit_vectors
from mccc_theory.errors import MethodError, OrderError, ShapeError
from mccc_theory.recall import (
    DeltaRule,
    KeyedModalMemory,
    LeastSquares,
    LinearAttention,
    SoftmaxAttention,
    feature_dim,
    features,
    kernel,
    standard_memories,
)

EPS = np.finfo(float).eps


def _batch(B=3, N=10, d=8, dv=4, Q=5, seed=0):
    rng = np.random.default_rng(seed)
    K = random_unit_vectors((B, N), d, rng)
    V = rng.standard_normal((B, N, dv))
    Qr = random_unit_vectors((B, Q), d, rng)
    wt = np.cumsum(rng.integers(1, 4, (B, N)), axis=1)
    qt = wt[:, -1:] + rng.integers(1, 6, (B, Q))
    return K, V, Qr, wt, qt


@pytest.mark.parametrize("mem", standard_memories(8, 16) + [LinearAttention("dpfp", 2, True)],
                         ids=lambda m: m.name)
def test_read_equals_weights_times_values(mem):
    K, V, Qr, wt, qt = _batch()
    W = mem.weights(K, Qr, write_times=wt, query_times=qt)
    r = mem.read(K, V, Qr, write_times=wt, query_times=qt)
    # two summation orders of N terms (state vs weights): (N + D) eps relative to sum |w||v|
    scale = np.abs(W).sum(-1).max() * np.abs(V).max() + 1
    np.testing.assert_allclose(r, W @ V, atol=64 * (10 + 100) * EPS * scale)


def test_causal_masking_for_attention_and_linear_attention():
    K, V, Qr, wt, _ = _batch()
    qt = np.broadcast_to(wt[:, 4:5], (3, 5))  # sees writes 0..3 only (written before)
    for mem in (SoftmaxAttention(), LinearAttention("elu+1")):
        W = mem.weights(K, Qr, write_times=wt, query_times=qt)
        assert np.all(W[:, :, 4:] == 0)
        np.testing.assert_allclose(mem.read(K, V, Qr, write_times=wt, query_times=qt), W @ V,
                                   atol=1e-12)
    W = SoftmaxAttention().weights(K, Qr, write_times=wt, query_times=qt)
    np.testing.assert_allclose(W.sum(-1), 1.0, atol=1e-14)


def test_delta_rule_weights_match_reference_update():
    K, V, Qr, wt, qt = _batch(B=2, N=12, d=6)
    for beta in (1.0, 0.3):
        mem = DeltaRule(beta)
        W = mem.weights(K, Qr, write_times=wt, query_times=qt)
        for b in range(2):
            S = delta_rule_memory(K[b], V[b], beta=beta)
            np.testing.assert_allclose(W[b] @ V[b], (S @ Qr[b].T).T, atol=1e-12)


def test_least_squares_exact_below_d_and_linear_attention_is_outer_product():
    K, V, _, wt, qt = _batch(N=6, d=8, Q=6)
    r = LeastSquares().read(K, V, K, write_times=wt, query_times=qt[:, :6])
    np.testing.assert_allclose(r, V, atol=1e-12)
    S = np.swapaxes(V, 1, 2) @ K
    np.testing.assert_allclose(LinearAttention().read(K, V, K), np.swapaxes(S @ np.swapaxes(
        K, 1, 2), 1, 2), atol=1e-13)


def test_modal_memory_reduces_to_linear_attention_without_decay():
    K, V, Qr, wt, qt = _batch()
    slow = KeyedModalMemory(tuple(np.full(8, -40.0)), tuple(np.zeros(8)), 8)  # 1 - |lambda| ~ 4e-18
    np.testing.assert_allclose(slow.read(K, V, Qr, write_times=wt, query_times=qt),
                               LinearAttention().read(K, V, Qr), atol=1e-12)
    red = KeyedModalMemory.default(3, 8, 20, seed=4)
    P = red.projection
    np.testing.assert_allclose(P @ P.T, (8 / 3) * np.eye(3), atol=1e-12)
    assert red.m == 3 and red.state_size(8, 4, 100) == 2 * 3 * 4
    # default phases: at most an eighth of a turn over the horizon
    assert np.max(np.abs(red.theta)) * 20 <= np.pi / 4 + 1e-15


def test_feature_maps_match_definitions_and_attention_module():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 5))
    for name in ("identity", "elu+1", "taylor2"):
        np.testing.assert_allclose(features(x, name), attention_feature_map(name)(x), atol=1e-15)
    # DPFP nu = 2 by its definition: x' = [relu x, relu -x], phi = [x' * x'_{i-1}, x' * x'_{i-2}]
    xp = np.concatenate([np.maximum(x, 0), np.maximum(-x, 0)], axis=1)
    ref = np.concatenate([xp * xp[:, (np.arange(10) - j) % 10] for j in (1, 2)], axis=1)
    np.testing.assert_allclose(features(x, "dpfp", 2), ref)
    assert [feature_dim("dpfp", 64, nu) for nu in (1, 2, 3)] == [128, 256, 384]
    assert feature_dim("taylor2", 5) == 31
    y = rng.standard_normal((3, 5))
    np.testing.assert_allclose(kernel(x, y, "taylor2"), features(x, "taylor2") @
                               features(y, "taylor2").T, atol=1e-12)


def test_zoology_state_sizes():
    d, dv, L = 64, 64, 512
    assert SoftmaxAttention().state_size(d, dv, L) == 2 * d * L
    assert LinearAttention().state_size(d, dv, L) == d * dv
    assert LinearAttention("dpfp", 3).state_size(d, dv, L) == 384 * dv
    assert LinearAttention("taylor2").state_size(d, dv, L) == (1 + d + d * d) * dv
    assert DeltaRule().state_size(d, dv, L) == d * dv
    assert KeyedModalMemory.default(16, d, L).state_size(d, dv, L) == 2 * 16 * dv


@pytest.mark.parametrize("call, exc, match", [
    (lambda: LinearAttention().read(np.ones((2, 3, 4)), np.ones((2, 2, 4)), np.ones((2, 1, 4))),
     ShapeError, "values: expected shape"),
    (lambda: LinearAttention().weights(np.ones((2, 3, 4)), np.ones((2, 1, 5))), ShapeError,
     "queries"),
    (lambda: LinearAttention().weights(np.ones((1, 3, 4)), np.ones((1, 1, 4)),
                                       write_times=[0, 2, 2]), OrderError, "strictly increasing"),
    (lambda: DeltaRule().weights(np.ones((1, 3, 4)), np.ones((1, 1, 4)), write_times=[0, 1, 2],
                                 query_times=[2]), OrderError, "after the last write"),
    (lambda: LeastSquares().weights(np.ones((1, 3, 4)), np.ones((1, 1, 4)), query_times=[1]),
     OrderError, "after the last write"),
    (lambda: KeyedModalMemory.default(2, 4, 8).weights(np.ones((1, 3, 5)), np.ones((1, 1, 5))),
     ShapeError, "built for d = 4"),
    (lambda: KeyedModalMemory((0.0, 0.0, 0.0), (0.0, 0.0, 0.0), 2), OrderError, "m <= d"),
    (lambda: KeyedModalMemory((0.0,), (0.0, 1.0), 2), ShapeError, "theta"),
    (lambda: LinearAttention("relu"), MethodError, "feature_map"),
    (lambda: DeltaRule(2.5), OrderError, "beta"),
    (lambda: LinearAttention().weights(np.ones((1, 3, 4)), np.ones((1, 1, 4)),
                                       query_times=[1.5]), ShapeError, "query_times"),
])
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
