"""`mccc bench`: every benchmark script runs at its quick sizes and writes its tables; the exit
code follows the targets. Nothing here asserts a wall-clock time: the ratios are measured, the
test only checks that the exit code agrees with the recorded checks."""

import json
import re

import pytest

import mccc_theory.cli.bench as bench_cli
from mccc_theory.cli import main


def test_quick_benchmarks_run_and_exit_code_follows_checks(tmp_path, capsys):
    out = tmp_path / "bench.json"
    rc = main(["bench", "--quick", "--json", str(out)])
    data = json.loads(out.read_text())
    assert data["quick"] is True
    titles = [t["title"] for t in data["tables"]]
    assert len(titles) >= len(bench_cli.available())  # a script may print several tables
    for t in data["tables"]:
        assert t["header"] and t["rows"] and all(len(r) == len(t["header"]) for r in t["rows"])
    missed = [c for t in data["tables"] for c in t["checks"] if not c["ok"]]
    assert rc == (1 if missed else 0)
    assert len(re.findall(r"^MISSED: ", capsys.readouterr().err, flags=re.M)) == len(missed)


FAKE = '''
from timing import Table


def run(quick=False):
    t = Table("fake benchmark", ["size", "ratio"])
    t.rows.append([1, 0.5])
    t.check("fake speed-up", 0.5, 2.0)
    return t
'''


def test_missed_target_exits_1(tmp_path, monkeypatch, capsys):
    (tmp_path / "bench_fake.py").write_text(FAKE)
    (tmp_path / "timing.py").write_text((bench_cli.BENCH_DIR / "timing.py").read_text())
    monkeypatch.setattr(bench_cli, "BENCH_DIR", tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert main(["bench", "--quick"]) == 1
    assert "MISSED: fake benchmark: fake speed-up: 0.5x, target >= 2x" in capsys.readouterr().err


@pytest.mark.parametrize("argv, match", [(["--only", "nonsense"], r"--only: unknown benchmark")])
def test_usage_error_exits_2(argv, match, capsys):
    assert main(["bench", "--quick"] + argv) == 2
    assert re.search(match, capsys.readouterr().err)
