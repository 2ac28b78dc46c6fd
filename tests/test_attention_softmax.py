"""Softmax cross-attention and positional biases (mccc_theory.attention.softmax / .biases)."""

import mpmath
import numpy as np
import pytest

from mccc_theory.attention import (
    alibi_bias,
    alibi_slopes,
    cross_attention,
    lag_bias,
    lookup_bias,
    sharp_window_bias,
    smooth_window_bias,
)
from mccc_theory.errors import (
    DTypeError,
    EmptyInputError,
    NonFiniteError,
    OrderError,
    ShapeError,
)

EPS = np.finfo(float).eps


def _qkv(rng, Q=3, N=17, d=4, d_v=2):
    return (rng.standard_normal((Q, d)), rng.standard_normal((N, d)),
            rng.standard_normal((N, d_v)))


def test_matches_high_precision_oracle():
    rng = np.random.default_rng(0)
    q, k, v = _qkv(rng)
    bias = smooth_window_bias([0.0, 3.0, 9.0], 2.5)
    out, W = cross_attention(q, k, v, bias=bias, scale=0.7)
    mpmath.mp.dps = 40
    N = k.shape[0]
    for i in range(q.shape[0]):
        mu = [0.0, 3.0, 9.0][i]
        scores = [mpmath.mpf(0.7) * mpmath.fsum(mpmath.mpf(float(a)) * float(b)
                                                for a, b in zip(q[i], k[j], strict=True))
                  - (mpmath.mpf(N - 1 - j) - mu) ** 2 / (2 * mpmath.mpf(2.5) ** 2)
                  for j in range(N)]
        e = [mpmath.exp(s) for s in scores]
        Z = mpmath.fsum(e)
        w = np.array([float(x / Z) for x in e])
        # Softmax of O(1) scores: each weight to a few eps relative (exp, sum of N terms).
        assert np.max(np.abs(W[i] - w) / w) < 4 * N * EPS
        ref = np.array([float(mpmath.fsum(mpmath.mpf(float(w[j])) * float(v[j, c])
                                          for j in range(N))) for c in range(v.shape[1])])
        assert np.max(np.abs(out[i] - ref)) < 4 * N * EPS * np.max(np.abs(v))


def test_rows_are_probabilities_and_output_is_W_v():
    rng = np.random.default_rng(1)
    q, k, v = _qkv(rng, Q=5, N=40)
    out, W = cross_attention(q, k, v, bias=alibi_bias(alibi_slopes(5)))
    assert np.all(W >= 0)
    # Row sums of N positive terms normalised by their own sum: N eps.
    assert np.max(np.abs(W.sum(1) - 1)) < 40 * EPS
    assert np.array_equal(out, W @ v)


def test_bias_forms_agree_and_use_position_order():
    rng = np.random.default_rng(2)
    q, k, v = _qkv(rng, Q=2, N=9)
    lagb = smooth_window_bias([1.0, 4.0], 1.5)
    lags = np.arange(8, -1, -1)  # position j has lag N - 1 - j
    as_array = lagb(lags)
    a = cross_attention(q, k, v, bias=lagb).weights
    b = cross_attention(q, k, v, bias=as_array).weights
    c = cross_attention(q, k, v, bias=lambda t: -((t[None, :] - np.array([[1.0], [4.0]])) ** 2)
                        / (2 * 1.5 ** 2)).weights
    assert np.array_equal(a, b)
    assert np.array_equal(a, c)


def test_softmax_is_invariant_to_a_constant_bias_shift():
    rng = np.random.default_rng(3)
    q, k, v = _qkv(rng)
    W1 = cross_attention(q, k, v, bias=np.zeros(k.shape[0])).weights
    W2 = cross_attention(q, k, v, bias=np.full(k.shape[0], 123.25)).weights
    # Max subtraction removes the shift up to rounding of scores of size ~123: 256 eps.
    assert np.max(np.abs(W1 - W2)) < 256 * EPS


def test_default_scale_is_inverse_sqrt_d():
    rng = np.random.default_rng(4)
    q, k, v = _qkv(rng, d=9)
    assert np.array_equal(cross_attention(q, k, v).weights,
                          cross_attention(q, k, v, scale=1 / 3).weights)


def test_lookup_picks_the_token_L_back():
    rng = np.random.default_rng(5)
    q, k, v = _qkv(rng, Q=1, N=12)
    out, W = cross_attention(np.zeros_like(q), k, v, bias=lookup_bias(4))
    assert np.array_equal(W[0], np.eye(12)[12 - 1 - 4])
    assert np.array_equal(out[0], v[12 - 1 - 4])


def test_alibi_weight_ratio_is_exp_minus_slope():
    N = 30
    W = alibi_bias([0.3]).weights(N)[0]
    # Ratio of two exps of exactly representable arguments: a few eps.
    assert np.max(np.abs(W[1:] / W[:-1] - np.exp(-0.3))) < 8 * EPS


def test_sharp_window_is_uniform_on_its_lags():
    W = sharp_window_bias([3], 5).weights(20)[0]
    assert np.array_equal(W[3:8], np.full(5, 0.2))
    assert np.all(W[:3] == 0) and np.all(W[8:] == 0)


def test_alibi_slopes_follow_press_et_al():
    # Paper §3: 8 heads -> 1/2, 1/4, ..., 1/256.
    assert np.array_equal(alibi_slopes(8), 2.0 ** -np.arange(1, 9))
    # Non-power-of-two rule: the 8-head slopes, then every other slope of 16 heads.
    s12 = alibi_slopes(12)
    assert np.array_equal(s12[:8], 2.0 ** -np.arange(1, 9))
    assert np.array_equal(s12[8:], 2.0 ** -(np.arange(4) + 0.5))


BAD = [
    (lambda: cross_attention(np.ones((2, 3)), np.ones((5, 4)), np.ones((5, 2))), ShapeError,
     r"k: expected key dimension d = 3"),
    (lambda: cross_attention(np.ones((2, 3)), np.ones((5, 3)), np.ones((4, 2))), ShapeError,
     r"v: expected one value per key"),
    (lambda: cross_attention(np.ones((2, 3)), np.ones((0, 3)), np.ones((0, 2))),
     EmptyInputError, r"k: expected a non-empty array"),
    (lambda: cross_attention(np.full((2, 3), np.nan), np.ones((5, 3)), np.ones((5, 2))),
     NonFiniteError, r"q: expected finite values"),
    (lambda: cross_attention(np.ones((2, 3)) * 1j, np.ones((5, 3)), np.ones((5, 2))),
     DTypeError, r"q: expected a real array"),
    (lambda: cross_attention(np.ones((1, 3)), np.ones((5, 3)), np.ones((5, 2)),
                             bias=lookup_bias(5)), OrderError, r"masks every one of the 5"),
    (lambda: cross_attention(np.ones((2, 3)), np.ones((5, 3)), np.ones((5, 2)),
                             bias=np.ones((3, 5))), ShapeError, r"bias: expected shape \(5,\)"),
    (lambda: cross_attention(np.ones((2, 3)), np.ones((5, 3)), np.ones((5, 2)),
                             bias=lambda t: np.full(t.shape, np.nan)), NonFiniteError,
     r"bias 'custom': expected finite values or -inf"),
    (lambda: cross_attention(np.ones((2, 3)), np.ones((5, 3)), np.ones((5, 2)),
                             bias=np.array([0, 0, np.nan, 0, 0])), NonFiniteError,
     r"bias: expected finite values or -inf"),
    (lambda: lookup_bias(-1), OrderError, r"lag: expected causal lags >= 0"),
    (lambda: smooth_window_bias([-2.0], 3.0), OrderError, r"centers: expected causal lags"),
    (lambda: sharp_window_bias([1.5], 3), DTypeError, r"starts: expected integer lags"),
    (lambda: smooth_window_bias([2.0], 0.0), OrderError, r"width: expected one positive"),
    (lambda: alibi_bias([0.5, -0.1]), OrderError, r"slopes: expected ALiBi slopes > 0"),
    (lambda: alibi_bias([0.5])(np.array([-1, 0])), OrderError, r"lags: expected causal lags"),
    (lambda: lag_bias(3.0), DTypeError, r"fn: expected a callable"),
    (lambda: alibi_slopes(0), OrderError, r"n_heads: expected an integer >= 1"),
    # defect 10 (issue 12): a list scale reached float() as a bare TypeError
    (lambda: cross_attention(np.ones((2, 3)), np.ones((5, 3)), np.ones((5, 2)), scale=[1.0, 2.0]),
     ShapeError, r"scale: expected one real number"),
]


@pytest.mark.parametrize("call, exc, match", BAD, ids=[m for _, _, m in BAD])
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
