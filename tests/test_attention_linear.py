"""Feature maps and decayed linear attention (mccc_theory.attention.features / .linear)."""

import numpy as np
import pytest
import torch

from mccc_theory.attention import (
    LinearAttentionMemory,
    ModalMemory,
    decayed_linear_attention,
    feature_map,
    random_features,
)
from mccc_theory.errors import MethodError, OrderError, ShapeError

EPS = np.finfo(float).eps


def test_taylor2_kernel_is_second_order_taylor_of_exp():
    rng = np.random.default_rng(0)
    q, k = rng.standard_normal((5, 4)), rng.standard_normal((7, 4))
    phi = feature_map("taylor2")
    K = phi(q) @ phi(k).T
    dot = q @ k.T
    ref = 1 + dot + dot ** 2 / 2
    # Sums of 1 + d + d^2 products of O(|q||k|) terms: 64 (d^2) eps times the magnitudes.
    assert np.max(np.abs(K - ref)) < 64 * 21 * EPS * np.max(1 + np.abs(dot) + dot ** 2)
    assert phi(q).shape == (5, 1 + 4 + 16)


def test_elu_plus_one_matches_torch_and_is_positive():
    x = np.linspace(-30, 5, 301)[:, None]
    ours = feature_map("elu+1")(x)
    ref = torch.nn.functional.elu(torch.from_numpy(x)).numpy() + 1
    # expm1 (torch) vs exp - 1 + 1 (ours): a few ulps of 1.
    assert np.max(np.abs(ours - ref)) < 4 * EPS
    assert np.all(ours > 0)


def test_random_features_are_unbiased_for_exp_dot():
    rng = np.random.default_rng(1)
    q = 0.4 * rng.standard_normal((3, 4)) / 2
    k = 0.4 * rng.standard_normal((3, 4)) / 2
    M = 20000
    phi = random_features(4, M, seed=2)
    fq, fk = phi(q), phi(k)
    prods = M * fq[:, None, :] * fk[None, :, :]  # per-feature unbiased estimates
    est = prods.mean(-1)
    stderr = prods.std(-1) / np.sqrt(M)
    # Monte-Carlo estimate of E[phi(q).phi(k)] = exp(q.k): within 5 standard errors (fixed seed,
    # so the test is deterministic; a biased map misses by many standard errors).
    assert np.all(np.abs(est - np.exp(q @ k.T)) < 5 * stderr)
    assert np.all(stderr < 0.02)  # the check is not vacuous


@pytest.mark.parametrize("fmap", ["identity", "elu+1", "taylor2", "random"])
@pytest.mark.parametrize("decay", [1.0, 0.9, "vector"])
@pytest.mark.parametrize("normalize", [False, True])
def test_recurrent_equals_quadratic_form(fmap, decay, normalize):
    rng = np.random.default_rng(3)
    d, N = 3, 25
    q, k, v = rng.standard_normal((4, d)), rng.standard_normal((N, d)), rng.standard_normal((N, 2))
    phi = random_features(d, 16, seed=4) if fmap == "random" else feature_map(fmap)
    if normalize and fmap == "identity":
        # Identity kernels q.k can sum to ~0, making the normalised output ill-posed; the
        # normalised cell is exercised with the positive elu+1 kernel instead.
        phi = feature_map("elu+1")
    D = phi(q).shape[1]
    gamma = rng.uniform(0.5, 1.0, D) if decay == "vector" else decay
    out, W = decayed_linear_attention(q, k, v, feature_map=phi, decay=gamma, normalize=normalize)
    mem = LinearAttentionMemory(phi, gamma, normalize=normalize)
    S = mem.encode(k, v)
    S_stream = mem.scan(k, v)
    scale = np.max(np.abs(S))
    # Closed form vs recurrence: N terms with powers from exp(tau log gamma) vs products:
    # 16 N eps of the state's magnitude.
    assert np.max(np.abs(S - S_stream)) < 16 * N * EPS * scale
    y = mem.readout(S, q)
    # Both sides sum N D products; with normalize the kernels are positive (no cancellation in
    # the denominator), so the error is ~N D eps of sum |w||v| / sum w <= max|v|. Factor 64.
    ref_scale = np.abs(W) @ np.abs(v) if not normalize else np.max(np.abs(v))
    assert np.all(np.abs(y - out) < 64 * N * D * EPS * (ref_scale + 1e-300))


def test_identity_no_decay_is_plain_linear_attention():
    rng = np.random.default_rng(5)
    q, k, v = rng.standard_normal((2, 3)), rng.standard_normal((9, 3)), rng.standard_normal((9, 4))
    out, W = decayed_linear_attention(q, k, v, feature_map="identity", normalize=False)
    assert np.allclose(W, q @ k.T, rtol=0, atol=16 * EPS * 9)
    assert np.allclose(out, (q @ k.T) @ v, rtol=0, atol=64 * EPS * 9 * 3)


def test_fixed_key_linear_attention_is_the_modal_memory():
    # With the same key at every step, phi(k) is a constant input gain b: the linear-attention
    # state is the MCCC memory with one mode lambda_f = gamma_f per feature.
    rng = np.random.default_rng(6)
    D, N = 3, 30
    gamma = np.array([0.5, 0.8, 0.95])
    key = rng.standard_normal((1, D))
    v = rng.standard_normal((N, 2))
    lin = LinearAttentionMemory("elu+1", gamma, normalize=False)
    S = lin.encode(np.repeat(key, N, 0), v)
    b = feature_map("elu+1")(key)[0]
    mem = ModalMemory(np.log(gamma) + 0j, b, np.eye(D))
    H = mem.encode(v)
    assert np.max(np.abs(S - H)) < 16 * N * EPS * np.max(np.abs(H))


BAD = [
    (lambda: decayed_linear_attention(np.ones((2, 3)), np.ones((4, 2)), np.ones((4, 1))),
     ShapeError, r"k: expected key dimension d = 3"),
    (lambda: decayed_linear_attention(np.ones((2, 3)), np.ones((4, 3)), np.ones((5, 1))),
     ShapeError, r"v: expected one value per key"),
    (lambda: decayed_linear_attention(np.ones((1, 2)), np.ones((3, 2)), np.ones((3, 1)),
                                      decay=1.5), OrderError, r"decay: expected 0 < gamma <= 1"),
    (lambda: decayed_linear_attention(np.ones((1, 2)), np.ones((3, 2)), np.ones((3, 1)),
                                      decay=[0.5, 0.5, 0.5]), ShapeError,
     r"decay: expected a scalar or one decay per feature \(2,\)"),
    (lambda: decayed_linear_attention(np.ones((1, 2)), np.ones((3, 2)), np.ones((3, 1)),
                                      feature_map="relu"), MethodError,
     r"feature_map: expected one of"),
    (lambda: decayed_linear_attention(np.array([[1.0, -1.0]]), np.array([[1.0, 1.0]]),
                                      np.ones((1, 1)), feature_map="identity"), OrderError,
     r"normalize: query 0 has weights summing to zero"),
    (lambda: random_features(3, 8)(np.ones((2, 4))), ShapeError,
     r"x: feature map 'random\(8\)' was drawn for inputs of dimension 3"),
    (lambda: LinearAttentionMemory("elu+1").readout(np.ones((3, 2)), np.ones((1, 2))),
     ShapeError, r"S: expected 2 rows"),
]


@pytest.mark.parametrize("call, exc, match", BAD, ids=[m for _, _, m in BAD])
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
