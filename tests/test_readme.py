"""The README as a new user meets it: its code blocks run, its commands exist, its theorem table
covers every registered theorem."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from mccc_proofs import all_theorems

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", README, flags=re.S)


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_python_blocks_run(code):
    exec(compile(code, "README.md", "exec"), {"__name__": "__readme__"})


def test_readme_names_the_two_setup_commands():
    assert "make report" in README and "make test" in README


@pytest.mark.parametrize("command", sorted(set(re.findall(r"`mccc (\w+)", README))))
def test_every_command_in_readme_has_help(command):
    out = subprocess.run([sys.executable, "-m", "mccc_theory", command, "--help"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "examples:" in out.stdout


def test_theorem_table_covers_every_theorem():
    rows = re.findall(r"^\| ([\w.*]+) \|", README, flags=re.M)
    patterns = [re.compile(re.escape(r).replace(r"\*", ".*") + "$") for r in rows if r != "id"]
    missing = [t for t in all_theorems() if not any(p.match(t) for p in patterns)]
    assert not missing, f"README theorem table misses {missing}"
