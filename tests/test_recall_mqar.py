"""MQAR generator: zoology's semantics (structure, label placement, distributions)."""

import numpy as np
import pytest
from scipy import stats

from mccc_theory.errors import MethodError, OrderError
from mccc_theory.recall import FIGURE2_CONFIGS, MQARConfig, get_config, mqar, power_law_gaps

ALPHA = 1e-6


def _check_structure(b, cfg):
    B, L = b.inputs.shape
    N, V, P = cfg.num_kv_pairs, cfg.vocab_size, cfg.num_passes
    half = V // 2
    assert L == cfg.seq_len and b.labels.shape == (B, L)
    assert np.all((b.keys >= 1) & (b.keys < half)) and np.all((b.values >= half) & (b.values < V))
    for row in (b.keys, b.values):
        assert all(len(set(r)) == N for r in row)  # without replacement
    ctx = np.zeros((B, 2 * N), int)
    ctx[:, 0::2], ctx[:, 1::2] = b.keys, b.values
    np.testing.assert_array_equal(b.inputs[:, :2 * N * P], np.tile(ctx, (1, P)))
    # each key queried once, at an even offset of the query region, labelled with its value
    qp = b.query_positions
    assert np.all((qp - 2 * N * P) % 2 == 0) and np.all(qp < L)
    assert all(len(set(r)) == N for r in qp)
    np.testing.assert_array_equal(np.take_along_axis(b.inputs, qp, 1), b.keys)
    np.testing.assert_array_equal(np.take_along_axis(b.labels, qp, 1), b.values)
    mask = np.zeros((B, L), bool)
    np.put_along_axis(mask, qp, True, 1)
    assert np.all(b.labels[~mask] == -100)
    # value positions of the last pass hold the values
    np.testing.assert_array_equal(np.take_along_axis(b.inputs, b.value_positions, 1), b.values)
    rest = b.inputs[:, 2 * N * P:][~mask[:, 2 * N * P:]]
    if cfg.random_non_queries:
        assert rest.min() >= 0 and rest.max() < V
    else:
        assert np.all(rest == 0)


@pytest.mark.parametrize("method", ["vectorised", "zoology"])
@pytest.mark.parametrize("cfg", [
    MQARConfig(vocab_size=64, seq_len=32, num_kv_pairs=8),
    MQARConfig(vocab_size=40, seq_len=36, num_kv_pairs=6, num_passes=2,
               random_non_queries=False, power_a=1.0),
    get_config("zoology-fig2-L64"),
])
def test_structure(cfg, method):
    _check_structure(mqar(cfg, 50, seed=3, method=method), cfg)


def test_seeded_and_named_configs():
    a = mqar("zoology-fig2-L128", 4, seed=7)
    b = mqar("zoology-fig2-L128", 4, seed=7)
    np.testing.assert_array_equal(a.inputs, b.inputs)
    assert set(FIGURE2_CONFIGS) == {"zoology-fig2-L64", "zoology-fig2-L128", "zoology-fig2-L256"}
    assert [(c.seq_len, c.num_kv_pairs, c.vocab_size) for c in FIGURE2_CONFIGS.values()] == [
        (64, 4, 8192), (128, 8, 8192), (256, 16, 8192)]
    assert get_config("zoology-fig2-L64", num_kv_pairs=8).num_kv_pairs == 8


def _zoology_reference(cfg, B, seed):
    """Zoology's numpy draws: the legacy global generator (which zoology seeds with
    np.random.seed), one np.random.choice call per row, in zoology's order. The global state is
    restored afterwards so that other tests are unaffected."""
    saved = np.random.get_state()  # noqa: NPY002 - the legacy global generator is the point
    try:
        np.random.seed(seed)  # noqa: NPY002
        half = cfg.vocab_size // 2
        draw = np.random.choice  # noqa: NPY002
        keys = np.stack([draw(np.arange(1, half), replace=False, size=cfg.num_kv_pairs)
                         for _ in range(B)])
        values = np.stack([draw(np.arange(half, cfg.vocab_size), replace=False,
                                size=cfg.num_kv_pairs) for _ in range(B)])
        p = power_law_gaps(cfg.space, cfg.power_a)
        gaps = np.stack([draw(np.arange(cfg.space), replace=False, p=p, size=cfg.num_kv_pairs)
                         for _ in range(B)])
    finally:
        np.random.set_state(saved)  # noqa: NPY002
    return keys, values, gaps


def test_zoology_method_reproduces_zoology_draws():
    cfg = MQARConfig(vocab_size=128, seq_len=64, num_kv_pairs=8)
    b = mqar(cfg, 20, seed=5, method="zoology")
    keys, values, gaps = _zoology_reference(cfg, 20, 5)
    np.testing.assert_array_equal(b.keys, keys)
    np.testing.assert_array_equal(b.values, values)
    np.testing.assert_array_equal(b.query_positions, cfg.context_size + 2 * gaps)


def test_gap_law_of_vectorised_sampler():
    # Weighted sampling without replacement: the first gap has law p exactly; the second has
    # law sum_i p_i p_j / (1 - p_i) (j != i). Chi-square goodness of fit at alpha = 1e-6.
    cfg = MQARConfig(vocab_size=64, seq_len=24, num_kv_pairs=2, power_a=0.3)
    b = mqar(cfg, 40000, seed=9)
    g = (b.query_positions - cfg.context_size) // 2
    p = power_law_gaps(cfg.space, cfg.power_a)
    second = np.array([sum(p[i] * p[j] / (1 - p[i]) for i in range(p.size) if i != j)
                       for j in range(p.size)])
    for col, law in ((0, p), (1, second)):
        counts = np.bincount(g[:, col], minlength=p.size)
        assert stats.chisquare(counts, law * counts.sum()).pvalue > ALPHA


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(vocab_size=64, seq_len=64, num_kv_pairs=4), OrderError, "V > L"),
    (dict(vocab_size=64, seq_len=33, num_kv_pairs=4), OrderError, "even"),
    (dict(vocab_size=128, seq_len=64, num_kv_pairs=17), OrderError, "at most 16 pairs"),
    (dict(vocab_size=20, seq_len=18, num_kv_pairs=4, num_passes=2), OrderError, "2 N num_passes"),
    (dict(vocab_size=12, seq_len=10, num_kv_pairs=2), None, None),
    (dict(vocab_size=8, seq_len=6, num_kv_pairs=1), None, None),
    (dict(vocab_size=64, seq_len=32, num_kv_pairs=4, power_a=0.0), OrderError, "power_a"),
    (dict(vocab_size=64, seq_len=32, num_kv_pairs=0), OrderError, "num_kv_pairs"),
])
def test_bad_config(kwargs, exc, match):
    if exc is None:
        MQARConfig(**kwargs)
    else:
        with pytest.raises(exc, match=match):
            MQARConfig(**kwargs)


def test_key_pool_and_bad_calls():
    # the key pool [1, V/2) of V = 26 holds 12 keys: 13 pairs are refused with that reason
    with pytest.raises(OrderError, match="key pool"):
        MQARConfig(vocab_size=26, seq_len=24, num_kv_pairs=13)
    with pytest.raises(MethodError, match="name"):
        mqar("zoology-fig3", 2)
    with pytest.raises(MethodError, match="method"):
        mqar("zoology-fig2-L64", 2, method="torch")
    with pytest.raises(OrderError, match="num_examples"):
        mqar("zoology-fig2-L64", 0)
