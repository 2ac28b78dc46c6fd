"""Capacity bounds and cited constants (capacity.bounds)."""

import math

import numpy as np
import pytest

from mccc_theory.capacity import (
    counting_bound,
    dense_associative_memory_capacity,
    hopfield_capacity,
    linear_memory_mse_bound,
    modern_hopfield_capacity,
    retrieval_relative_mse,
)
from mccc_theory.errors import MethodError, OrderError, ShapeError


def test_rank_bound_is_eckart_young_optimum():
    rng = np.random.default_rng(0)
    N = 20
    for m in (1, 5, 19, 20):
        bound = linear_memory_mse_bound(m, N)
        assert bound == pytest.approx(max(0, 1 - m / N))
        # a random rotation of the projector onto m items attains it exactly
        Q, _ = np.linalg.qr(rng.standard_normal((N, N)))
        P = Q[:, :m] @ Q[:, :m].T
        assert retrieval_relative_mse(P) == pytest.approx(bound, abs=1e-12)
        # no rank-m matrix does better: compare with the best rank-m approximation of a
        # random perturbation of I (its own relative error is >= the bound)
        A = np.eye(N) + 0.3 * rng.standard_normal((N, N))
        U, s, Vt = np.linalg.svd(A)
        W = (U[:, :m] * s[:m]) @ Vt[:m]
        assert retrieval_relative_mse(W) >= bound - 1e-12
    assert linear_memory_mse_bound(30, 20) == 0.0


def test_counting_bound_log_domain():
    assert counting_bound(0, 2, 1) == 0.5
    assert counting_bound(10, 2, 10) == 1.0
    assert counting_bound(10, 2, 11) == 0.5
    # 2^(8 * 4096) / 8192^4096: far below the smallest double, returned as 0 without overflow
    assert counting_bound(8 * 4096, 8192, 4096) == 0.0
    assert counting_bound(1000.5, 2, 1000) == 1.0
    assert counting_bound(3, 4, 2) == pytest.approx(2 ** 3 / 4 ** 2)


def test_hopfield_constants_are_consistent():
    n = 1000
    assert hopfield_capacity(n) == pytest.approx(138.0)
    assert hopfield_capacity(n, "typical") == pytest.approx(2 * hopfield_capacity(n, "all"))
    # dense associative memory with n = 2 is the Hopfield network: N / (2 ln N)
    assert dense_associative_memory_capacity(n, 2) == pytest.approx(
        hopfield_capacity(n, "typical"))
    # order 3: N^2 / (2 * 3!! * ln N), 3!! = 3
    assert dense_associative_memory_capacity(n, 3) == pytest.approx(n ** 2 / (6 * math.log(n)))
    assert dense_associative_memory_capacity(n, 4) == pytest.approx(n ** 3 / (30 * math.log(n)))


def test_modern_hopfield_capacity_grows_exponentially():
    caps = [modern_hopfield_capacity(d) for d in (64, 128, 256)]
    assert caps[0] < caps[1] < caps[2]
    # the theorem's form: log N is affine in (d - 1)/4 with slope log c, c depending on d only
    # through a = O(log d / d) -> the per-dimension growth rate converges
    r1 = math.log(caps[1] / caps[0]) / 64
    r2 = math.log(caps[2] / caps[1]) / 128
    assert r2 == pytest.approx(r1, rel=0.1)


@pytest.mark.parametrize("call, exc, match", [
    (lambda: retrieval_relative_mse(np.ones((2, 3))), ShapeError, "square"),
    (lambda: counting_bound(-1, 2, 3), ShapeError, "state_bits"),
    (lambda: counting_bound(1, 1, 3), OrderError, "vocab_size: expected an integer >= 2"),
    (lambda: hopfield_capacity(100, "perfect"), MethodError, "criterion"),
    (lambda: dense_associative_memory_capacity(100, 1), OrderError, "order"),
    (lambda: modern_hopfield_capacity(64, p=0.0), ShapeError, "failure probability"),
    (lambda: modern_hopfield_capacity(3, K=0.5), ShapeError, "Theorem 3 needs"),
    (lambda: linear_memory_mse_bound(2, 0), OrderError, "n_items"),
])
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
