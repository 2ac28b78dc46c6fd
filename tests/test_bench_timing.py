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


def test_gpu_check_dry_run_writes_every_section_and_the_report_shows_it(tmp_path, monkeypatch):
    # the GPU script cannot run here; its dry run (tiny sizes, CPU, Triton interpreter) proves
    # that every section runs and that the report and bench_kernels read what it writes
    import gpu_check

    import mccc_theory.report.benchmarks as rb
    out = tmp_path / "gpu.json"
    assert gpu_check.main(["--dry-run", "--out", str(out)]) == 0
    import json
    data = json.loads(out.read_text())
    for section in ("scan", "layer"):
        assert data[section] and not any("error" in r for r in data[section]), data[section]
    assert {r["name"] for r in data["scan"]} >= {"triton chunked K=16 fwd b=1 L=20 m=17"}
    monkeypatch.setattr(rb, "GPU_JSON", tmp_path / "missing.json")
    assert rb._gpu_rows()[0][1] == "not measured"
    monkeypatch.setattr(rb, "GPU_JSON", out)
    assert any(r[0] == "scan: triton chunked K=16 fwd b=1 L=20 m=17" for r in rb._gpu_rows())
