"""The benchmark helpers: ratio formatting (two significant digits, never '0x'), the crossover
interpolation of bench_layer and the interleaved timer's bookkeeping (no timing asserted)."""

import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from bench_layer import crossover  # noqa: E402
from timing import compare, ratio_str  # noqa: E402


@pytest.mark.parametrize("r, text", [(0.234, "0.23x"), (0.0496, "0.05x"), (4.12, "4.1x"),
                                     (23.4, "23x"), (149.3, "150x"), (1234.0, "1200x")])
def test_ratio_str_two_significant_digits(r, text):
    assert ratio_str(r) == text


def test_crossover_exact_for_a_power_law_and_outside_the_range():
    ns = [256, 2048, 16384]
    # ratio = (N / 1000)^0.7 crosses 1 at N = 1000; log-log interpolation is exact for it
    n, text = crossover(ns, [(x / 1000) ** 0.7 for x in ns])
    assert math.isclose(n, 1000.0, rel_tol=1e-12) and "between N = 256 and 2048" in text
    assert crossover(ns, [0.1, 0.2, 0.5]) == (None, "not reached up to N = 16384 (ratio there 0.5)")
    assert crossover(ns, [1.5, 2.0, 3.0])[0] is None


def test_compare_times_every_candidate_and_calls_them_interleaved():
    calls = []
    t = compare({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, repeat=3,
                min_seconds=0.0)
    assert set(t) == {"a", "b"} and all(v >= 0 for v in t.values())
    # warm-up and calibration call each once per doubling, then the rounds alternate a, b
    assert calls[-6:] == ["a", "b"] * 3
