"""Confidence intervals, measure_recall, tasks and the Schlag setting."""

import numpy as np
import pytest
from scipy import stats

from mccc_theory.errors import EmptyInputError, OrderError, ShapeError
from mccc_theory.recall import (
    CodebookTask,
    LeastSquares,
    LinearAttention,
    MQARRecallTask,
    SoftmaxAttention,
    bernstein_interval,
    clopper_pearson_interval,
    loss_crossing,
    measure_recall,
    mqar,
    retrieval_loss,
    wilson_interval,
)


def test_wilson_matches_closed_form_and_contains_cp_center():
    lo, hi = wilson_interval(30, 100, 0.05)
    z = stats.norm.isf(0.025)
    p, n = 0.3, 100
    c = (p + z * z / (2 * n)) / (1 + z * z / n)
    h = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    assert (lo, hi) == pytest.approx((c - h, c + h))
    assert wilson_interval(100, 100)[1] == 1.0 and wilson_interval(0, 100)[0] == 0.0
    # Clopper-Pearson is conservative: wider than Wilson at the same level here
    cl, ch = clopper_pearson_interval(30, 100, 0.05)
    assert cl < lo and ch > hi
    # smaller alpha, wider interval
    l6, h6 = wilson_interval(30, 100, 1e-6)
    assert l6 < lo and h6 > hi


def test_interval_coverage_by_simulation():
    # 2000 binomial experiments at alpha = 0.05: the number of misses is Binomial(2000, <= 0.05);
    # its 1e-6 upper quantile bounds an honest interval's misses.
    rng = np.random.default_rng(0)
    p, n, reps = 0.9, 200, 2000
    k = rng.binomial(n, p, reps)
    misses_cp = sum(not (a <= p <= b) for a, b in (clopper_pearson_interval(int(x), n) for x in k))
    samples = rng.random((reps, 50)) ** 3  # mean 1/4, values in [0, 1]
    misses_b = sum(not (a <= 0.25 <= b) for a, b in (bernstein_interval(s) for s in samples))
    limit = stats.binom.isf(1e-6, reps, 0.05)
    assert misses_cp <= limit and misses_b <= limit


def test_measure_recall_is_seeded_and_uses_the_right_interval():
    task = CodebookTask(16, 8, 32)
    a = measure_recall(LinearAttention(), task, trials=300, seed=5)
    b = measure_recall(LinearAttention(), task, trials=300, seed=5)
    assert a == b
    assert a.interval == "bernstein" and a.n_queries == 300 * 8
    c = measure_recall(LinearAttention(), task, trials=300, seed=5, queries_per_trial=1)
    assert c.interval == "wilson" and c.n_queries == 300
    assert 0 <= a.low <= a.recall <= a.high <= 1
    assert a.state_size == 16 * 16


def test_least_squares_and_attention_recall_exactly_below_capacity():
    task = CodebookTask(16, 12, 64)
    for mem in (LeastSquares(), SoftmaxAttention(scale=200.0)):
        res = measure_recall(mem, task, trials=100, seed=1)
        assert res.recall == 1.0


def test_codebook_task_sampling():
    b = CodebookTask(8, 6, 10, d_v=5, distinct=True).sample(4, 0, queries_per_trial=3)
    assert b.keys.shape == (4, 6, 8) and b.values.shape == (4, 6, 5)
    assert b.candidates.shape == (4, 10, 5) and b.queries.shape == (4, 3, 8)
    assert all(len(set(row)) == 3 for row in b.targets)
    ids = np.argmax(np.einsum("bnd,bcd->bnc", b.values, b.candidates), axis=2)
    assert all(len(set(r)) == 6 for r in ids)  # distinct codebook entries
    np.testing.assert_array_equal(np.take_along_axis(ids, b.targets, 1), b.answers)
    np.testing.assert_allclose(np.linalg.norm(b.keys, axis=-1), 1.0)
    # decoding the true values recovers the answers
    true = np.take_along_axis(b.values, b.targets[..., None], 1)
    assert b.correct(true).all()


def test_mqar_recall_task():
    task = MQARRecallTask("zoology-fig2-L64", 32, embed_seed=1)
    b = task.batch_from_mqar(mqar(task.config, 5, seed=2))
    assert b.candidates.shape == (4096, 32)
    true = np.take_along_axis(b.values, b.targets[..., None], 1)
    assert b.correct(true).all()
    assert np.all(b.query_times > b.write_times[:, -1:])
    res = measure_recall(SoftmaxAttention(), task, trials=20, seed=0)
    assert res.state_size == 2 * 32 * 64
    with pytest.raises(OrderError, match="vocabulary"):
        task.embed(np.array([8192]))
    with pytest.raises(OrderError, match="queries every key"):
        task.sample(2, 0, queries_per_trial=1)


def test_schlag_loss():
    # S = 1: exact up to the 1e-6 regulariser; loss grows with S for positive feature maps
    assert retrieval_loss("dpfp", 1, trials=4) < 1e-10
    losses = [retrieval_loss("dpfp", S, trials=16, seed=S) for S in (2, 8, 32)]
    assert losses[0] < losses[1] < losses[2]
    # one-hot values: loss = 0.5 (1 - a_jj)^2 + 0.5 sum_{i != j} a_ji^2 <= 0.5 (1 + 1) = 1
    assert max(losses) <= 1.0
    r = loss_crossing("dpfp", grid=[1, 2, 4], trials=4)
    assert r["bracket"] == (1, 2) and 1 < r["crossing"] <= 2


@pytest.mark.parametrize("call, exc, match", [
    (lambda: wilson_interval(5, 4), OrderError, "successes"),
    (lambda: wilson_interval(1, 4, 1.5), OrderError, "alpha"),
    (lambda: bernstein_interval([0.5]), EmptyInputError, "at least 2"),
    (lambda: bernstein_interval([0.5, 1.5]), OrderError, r"\[0, 1\]"),
    (lambda: CodebookTask(8, 10, 4, distinct=True), OrderError, "distinct values"),
    (lambda: CodebookTask(8, 4, 1), OrderError, "n_values"),
    (lambda: CodebookTask(8, 4, 8).sample(2, 0, queries_per_trial=5), OrderError,
     "queries_per_trial"),
    (lambda: MQARRecallTask(object(), 8), ShapeError, "config"),
    (lambda: measure_recall(LinearAttention(), CodebookTask(8, 4, 8), trials=0), OrderError,
     "trials"),
])
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
