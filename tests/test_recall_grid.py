"""`compare_grid`: the THEORY grid's shape, worker processes giving the same rows as one process,
argument validation."""

import math

import pytest

from mccc_theory.errors import MCCCError
from mccc_theory.recall.grid import compare_grid, theory_grid


def test_theory_grid_cells():
    cells = theory_grid()
    # d in {32, 64, 128} x N in {d/4, d/2, d, 2d} x V in {64, 2d, 1024} (2d = 64 at d = 32)
    assert len(cells) == 4 * 2 + 4 * 3 + 4 * 3
    assert {d for d, _, _ in cells} == {32, 64, 128}
    assert all(N in (d // 4, d // 2, d, 2 * d) and V in (64, 2 * d, 1024) for d, N, V in cells)
    quick = theory_grid(quick=True)
    assert set(quick) <= set(cells) and len(quick) < len(cells)


def test_workers_give_the_same_rows():
    # Every cell draws from its own seed, so running cells in spawned processes must reproduce
    # the in-process rows: predictions bit for bit (same elementwise quadrature), measurements
    # exactly (argmax decisions; a flip would need a score tie within rounding).
    cells = [(8, 4, 16), (8, 16, 16), (16, 8, 32)]
    names = ["linear", "mccc/2"]
    seen = []
    one = compare_grid(names, cells, trials=40, seed=3, progress=seen.append)
    two = compare_grid(names, cells, trials=40, seed=3, workers=2)
    assert len(seen) == len(one) == len(names) * len(cells)
    assert [(r.memory, r.d, r.N, r.V) for r in two] == [(r.memory, r.d, r.N, r.V) for r in one]
    for a, b in zip(one, two, strict=True):
        assert a.predicted == b.predicted and a.measured == b.measured
        assert (a.low, a.high) == (b.low, b.high)
        assert math.isnan(a.naive) == math.isnan(b.naive)


@pytest.mark.parametrize("kwargs, match", [
    (dict(workers=0), r"workers"),
    (dict(trials=0), r"trials"),
    (dict(names=["hopfield"]), r"memory.*hopfield"),
])
def test_bad_arguments(kwargs, match):
    args = dict(names=["linear"], cells=[(8, 4, 16)], trials=10)
    args.update(kwargs)
    with pytest.raises(MCCCError, match=match):
        compare_grid(args.pop("names"), args.pop("cells"), **args)
