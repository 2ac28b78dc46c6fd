"""The MCCC memory (mccc_theory.attention.memory.ModalMemory)."""

import numpy as np
import pytest

from mccc_theory.attention import (
    ModalMemory,
    alibi_bias,
    alibi_slopes,
    cross_attention,
    smooth_window_bias,
)
from mccc_theory.errors import (
    DTypeError,
    EmptyInputError,
    MethodError,
    NonFiniteError,
    ShapeError,
    UnstableError,
)
from mccc_theory.systems import ModalSystem

EPS = np.finfo(float).eps


def _memory(rng, m=5, d_q=3, **kw):
    s = -rng.uniform(0.01, 1.0, m) + 1j * rng.uniform(-np.pi, np.pi, m)
    b = rng.standard_normal(m) + 1j * rng.standard_normal(m)
    W_c = rng.standard_normal((d_q, m)) + 1j * rng.standard_normal((d_q, m))
    return ModalMemory(s, b, W_c, **kw)


def test_encode_matches_modal_system_final_state_per_value_channel():
    rng = np.random.default_rng(0)
    mem = _memory(rng)
    v = rng.standard_normal((50, 3))
    H = mem.encode(v)
    sysm = ModalSystem(mem.s, mem.b[:, None], np.eye(mem.m))
    for j in range(3):
        ref = sysm.final_state(v[:, j])
        # Two implementations of the same closed form; sums of 50 terms: 64 N eps |terms|.
        assert np.max(np.abs(H[:, j] - ref)) < 64 * 50 * EPS * np.sum(np.abs(v[:, j])) \
            * np.max(np.abs(mem.b))


@pytest.mark.parametrize("normalize", [False, True])
def test_streaming_states_match_batch_at_every_prefix(normalize):
    rng = np.random.default_rng(1)
    mem = _memory(rng, normalize=normalize)
    v = rng.standard_normal((40, 2))
    h0 = rng.standard_normal(mem.state_shape(2)) + 0j
    H, states = mem.scan(v, h0, return_states=True)
    assert np.array_equal(H, states[-1])
    for n in (1, 7, 40):
        ref = mem.encode(v[:n], h0)
        # Error model of THEORY §6: ~n eps (1 + |s|) times the state's magnitude; factor 16.
        scale = np.max(np.abs(ref)) + np.max(np.abs(h0))
        assert np.max(np.abs(states[n - 1] - ref)) < 16 * n * 5 * EPS * scale


def test_step_is_one_streaming_update():
    rng = np.random.default_rng(2)
    mem = _memory(rng, normalize=True)
    v = rng.standard_normal((6, 2))
    H = mem.encode(v[:5])
    assert np.allclose(mem.step(H, v[5]), mem.encode(v), rtol=0, atol=1e-13)


@pytest.mark.parametrize("readout", ["linear", "softmax"])
@pytest.mark.parametrize("normalize", [False, True])
def test_readout_equals_lag_weights_applied_to_values(readout, normalize):
    rng = np.random.default_rng(3)
    kw = {"g": rng.standard_normal(5) + 1j * rng.standard_normal(5)} if readout == "softmax" \
        else {}
    mem = _memory(rng, readout=readout, normalize=normalize, **kw)
    q = rng.standard_normal((4, 3))
    v = rng.standard_normal((30, 2))
    y = mem.readout(mem.encode(v), q)
    A = mem.lag_weights(q, 30)
    ref = A @ v[::-1]  # lag tau is position N - 1 - tau
    # Same sums in two orders (modes then lags vs lags then modes): 64 N eps of the magnitudes.
    scale = np.abs(A) @ np.abs(v[::-1])
    assert np.all(np.abs(y - ref) <= 64 * 30 * EPS * (scale + 1e-300) * (1 + 10 * normalize))


def test_softmax_readout_coefficients():
    rng = np.random.default_rng(4)
    g = rng.standard_normal(5) + 1j * rng.standard_normal(5)
    mem = _memory(rng, readout="softmax", g=g)
    q = rng.standard_normal((3, 3))
    c = mem.coefficients(q)
    z = (q @ mem.W_c).real
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    assert np.allclose(c, p * g, rtol=8 * EPS, atol=0)
    # The mixing weights c / g are a probability vector per query.
    assert np.allclose((c / g).sum(1), 1, rtol=0, atol=8 * EPS)


def test_alibi_one_mode_plus_normaliser_is_softmax_attention_at_every_length():
    rng = np.random.default_rng(5)
    v = rng.standard_normal((64, 3))
    mem = ModalMemory([-0.2 + 0j], [1.0], [[1.0]], normalize=True)
    assert mem.state_shape(3) == (1, 4)  # one mode; the 4th column is the normaliser
    _, states = mem.scan(v, return_states=True)
    for n in (1, 2, 17, 64):
        ref, _ = cross_attention(np.zeros((1, 1)), np.zeros((n, 1)), v[:n],
                                 bias=alibi_bias([0.2]))
        # Ratio of two n-term sums: (n + 2) eps relative, factor 4.
        assert np.max(np.abs(mem.readout(states[n - 1], [[1.0]]) - ref)) \
            < 4 * (n + 2) * EPS * np.max(np.abs(v))


def test_multi_head_alibi_is_one_mode_per_head():
    rng = np.random.default_rng(6)
    slopes = alibi_slopes(6)
    mem = ModalMemory(-slopes + 0j, np.ones(6), np.eye(6), normalize=True)
    v = rng.standard_normal((50, 2))
    ref, _ = cross_attention(np.zeros((6, 1)), np.zeros((50, 1)), v, bias=alibi_bias(slopes))
    assert np.max(np.abs(mem.readout(mem.encode(v), np.eye(6)) - ref)) < 4 * 52 * EPS * 3


def test_content_free_window_is_not_one_mode():
    # A smooth window is not an exponential: the 1-mode memory with the best pole still misses.
    W = smooth_window_bias([10.0], 3.0).weights(40)[0]
    best = min(np.linalg.norm(W - (lam ** np.arange(40)) * (W @ lam ** np.arange(40))
                              / (lam ** np.arange(40) @ lam ** np.arange(40)))
               for lam in np.linspace(0.01, 0.99, 99))
    assert best > 0.1 * np.linalg.norm(W)


def test_system_round_trip_and_sizes():
    rng = np.random.default_rng(7)
    sysm = ModalSystem(-rng.uniform(0.1, 1, 4) + 0j, rng.standard_normal((4, 1)),
                       rng.standard_normal((3, 4)))
    mem = ModalMemory.from_system(sysm)
    assert np.allclose(mem.lag_weights(np.eye(3), 20),
                       sysm.impulse_response(20)[:, :, 0].T.real, rtol=0, atol=1e-14)
    back = mem.to_system(np.eye(3))
    assert np.array_equal(back.C, sysm.C) and np.array_equal(back.s, sysm.s)
    assert mem.state_bytes(64) == 4 * 64 * 16
    assert mem.state_bytes(64, np.complex64) == 4 * 64 * 8


BAD = [
    (lambda: ModalMemory([0.1 + 0j], [1.0], [[1.0]]), UnstableError, r"s: mode 0 has \|lambda\|"),
    (lambda: ModalMemory([-0.1 + 0j], [1.0, 2.0], [[1.0]]), ShapeError, r"b: expected shape"),
    (lambda: ModalMemory([-0.1 + 0j], [1.0], [[1.0, 2.0]]), ShapeError, r"W_c: expected shape"),
    (lambda: ModalMemory([-0.1 + 0j], [1.0], [[1.0]], readout="softmax"), ShapeError,
     r"g: the softmax readout needs"),
    (lambda: ModalMemory([-0.1 + 0j], [1.0], [[1.0]], [1.0]), ShapeError,
     r"g: the linear readout"),
    (lambda: ModalMemory([-0.1 + 0j], [1.0], [[1.0]], readout="max"), MethodError,
     r"readout: expected one of"),
    (lambda: ModalMemory([-0.1 + 0j], [np.nan], [[1.0]]), NonFiniteError, r"b: expected finite"),
    (lambda: ModalMemory([-0.1 + 0j], [1.0], [[1.0]]).encode(np.ones(5)), ShapeError,
     r"values: expected a 2-d array"),
    (lambda: ModalMemory([-0.1 + 0j], [1.0], [[1.0]]).encode(np.ones((0, 2))), EmptyInputError,
     r"values: expected a non-empty array"),
    (lambda: ModalMemory([-0.1 + 0j], [1.0], [[1.0]]).readout(np.ones((1, 2)), np.ones((1, 2))),
     ShapeError, r"queries: expected shape \(Q, 1\)"),
    (lambda: ModalMemory([-0.1 + 0j], [1.0], [[1.0]]).readout(np.ones((2, 2)), np.ones((1, 1))),
     ShapeError, r"H: expected state shape \(1, d_v\)"),
    (lambda: ModalMemory([-0.1 + 0j], [1.0], [[1.0]], normalize=True).readout(
        np.zeros((1, 3)), np.ones((1, 1))), NonFiniteError, r"normaliser Re\(c\(q\)\^T H_1\) = 0"),
    (lambda: ModalMemory([-0.1 + 0j], [1.0], [[1.0]]).encode(np.ones((3, 2)), np.ones((2, 2))),
     ShapeError, r"h0: expected state shape \(1, 2\)"),
    (lambda: ModalMemory([-0.1 + 0j], [1.0], [[1.0]], normalize=1), DTypeError,
     r"normalize: expected a bool"),
    (lambda: ModalMemory.from_system(ModalSystem([-0.1 + 0j], [[1.0, 1.0]], [[1.0]])),
     ShapeError, r"system: expected one input"),
]


@pytest.mark.parametrize("call, exc, match", BAD, ids=[m for _, _, m in BAD])
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
