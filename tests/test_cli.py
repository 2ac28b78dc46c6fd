"""The `mccc` command line: help, prove table, JSON output and exit codes."""

import json
import subprocess
import sys

import pytest
from hypothesis import strategies as st

import mccc_proofs.registry as reg_mod
from mccc_theory.cli import main

MCCC = [sys.executable, "-m", "mccc_theory"]


def test_help_lists_commands():
    out = subprocess.run(MCCC + ["--help"], capture_output=True, text=True, check=True).stdout
    for cmd in ("prove", "report", "bench"):
        assert cmd in out


def test_prove_only_one_theorem_writes_json(tmp_path, capsys):
    path = tmp_path / "prove.json"
    code = main(["prove", "--only", "gramian.stein_residual", "--json", str(path)])
    out = capsys.readouterr().out
    assert code == 0
    assert "gramian.stein_residual" in out and "holds" in out
    data = json.loads(path.read_text())
    assert data["results"][0]["status"] == "holds" and data["results"][0]["examples"] > 0


def test_prove_unknown_theorem_is_usage_error(capsys):
    assert main(["prove", "--only", "no.such.theorem"]) == 2
    assert "mccc prove --list" in capsys.readouterr().err


def test_prove_reports_failure_with_counterexample(monkeypatch, capsys):
    # A deliberately false statement registered temporarily: the runner must catch it, shrink the
    # counterexample and exit 1.
    fake = reg_mod.Theorem("test.false_statement", "x <= 10 for all x", "integers", "none",
                           lambda: st.integers(0, 1000), lambda x: 1 - x / 10, "test")
    monkeypatch.setitem(reg_mod._REGISTRY, fake.id, fake)
    assert main(["prove", "--only", "test.false_statement"]) == 1
    out = capsys.readouterr().out
    assert "FAILS" in out and "counterexample: 11" in out  # the shrunk minimal failure


def test_prove_list(capsys):
    assert main(["prove", "--list"]) == 0
    assert "reference:" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [["prove", "--profile", "fast"], ["nonsense"]])
def test_argparse_errors_exit_2(argv):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
