"""Decode-time read functions (mccc_theory.attention.decode) against the reference layers."""

import numpy as np
import pytest

from mccc_theory.attention import ModalMemory, cross_attention
from mccc_theory.attention.decode import DecodeSetup
from mccc_theory.errors import MethodError, OrderError

EPS32 = np.finfo(np.float32).eps


def _rebuild(setup):
    """The setup's arrays again (same seed and draw order), in float64."""
    rng = np.random.default_rng(setup.seed)
    n, d, m = setup.n, setup.d, setup.m
    K = rng.standard_normal((n, d), dtype=np.float32).astype(float)
    V = rng.standard_normal((n, d), dtype=np.float32).astype(float)
    q = rng.standard_normal(d, dtype=np.float32).astype(float)
    H = (rng.standard_normal((m, d + 1)) + 1j * rng.standard_normal((m, d + 1))
         ).astype(np.complex64)
    H[:, -1] = np.abs(H[:, -1]) + 1
    W_c = (rng.standard_normal((d, m)) + 1j * rng.standard_normal((d, m))).astype(np.complex64)
    return K, V, q, H.astype(complex), W_c.astype(complex)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_reads_match_reference_layers(backend):
    setup = DecodeSetup(300, d=8, m=5, backend=backend, seed=3)
    K, V, q, H, W_c = _rebuild(setup)
    ref, _ = cross_attention(q[None, :], K, V)
    # float32 scores of size ~sqrt(d): softmax weights to ~N eps32 relative; output a convex
    # combination of values, so the error is ~N eps32 max|v| (factor 4).
    assert np.max(np.abs(np.asarray(setup.kv_read()) - ref[0])) < 4 * 300 * EPS32 * np.abs(V).max()
    mem = ModalMemory(np.full(5, -0.1 + 0j), np.ones(5), W_c, normalize=True)
    y = mem.readout(H, q[None, :])[0]
    got = np.asarray(setup.mccc_read())
    # complex64 products over m (d + 1) terms, divided by the normaliser column: ~m d eps32
    # relative to the magnitudes |c| |H| / |den|.
    c = np.abs(q @ W_c)
    scale = (c @ np.abs(H[:, :-1])) / abs((q @ W_c) @ H[:, -1]).real
    assert np.all(np.abs(got - y) < 16 * 5 * 9 * EPS32 * scale)


def test_bytes_are_constant_for_mccc_and_linear_for_kv():
    a, b = DecodeSetup(1000, d=16, m=8), DecodeSetup(4000, d=16, m=8)
    assert a.mccc_bytes == b.mccc_bytes == 8 * 17 * 8  # m (d + 1) complex64
    assert (a.kv_bytes, b.kv_bytes) == (2 * 1000 * 16 * 4, 2 * 4000 * 16 * 4)


def test_bad_input():
    with pytest.raises(MethodError, match=r"backend: expected one of"):
        DecodeSetup(10, backend="cuda")
    with pytest.raises(OrderError, match=r"n: expected an integer >= 1"):
        DecodeSetup(0)
