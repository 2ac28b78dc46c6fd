"""`compare_grid`: the THEORY grid's shape and argument validation (the Dask executor against
the serial run: tests/test_parallel.py)."""

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


@pytest.mark.parametrize("kwargs, match", [
    (dict(trials=0), r"trials"),
    (dict(names=["hopfield"]), r"memory.*hopfield"),
])
def test_bad_arguments(kwargs, match):
    args = dict(names=["linear"], cells=[(8, 4, 16)], trials=10)
    args.update(kwargs)
    with pytest.raises(MCCCError, match=match):
        compare_grid(args.pop("names"), args.pop("cells"), **args)
