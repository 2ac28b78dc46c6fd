"""The README as a new user meets it: its code blocks run, its commands exist, its theorem table
covers every registered theorem."""

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from mccc_proofs import all_theorems

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", README, flags=re.S)
SHELL = [line for block in re.findall(r"```sh\n(.*?)```", README, flags=re.S)
         for line in block.splitlines() if line.strip()]


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_python_blocks_run(code):
    exec(compile(code, "README.md", "exec"), {"__name__": "__readme__"})


def test_readme_names_the_two_setup_commands():
    assert "make report" in README and "make test" in README


def test_every_make_target_in_readme_exists():
    targets = set(re.findall(r"^([\w-]+):", (ROOT / "Makefile").read_text(), flags=re.M))
    named = set(re.findall(r"`make (\w+)", README)) | set(re.findall(r"^make (\w+)", README,
                                                                     flags=re.M))
    assert named and named <= targets, named - targets


@pytest.mark.parametrize("line", SHELL)
def test_shell_commands_run_as_written(line):
    # Run exactly as a user would from the repository root, with `mccc` as this interpreter's
    # module so the test does not depend on PATH.
    argv = shlex.split(line)
    assert argv[0] == "mccc", f"README shell blocks hold mccc commands only, found {line!r}"
    out = subprocess.run([sys.executable, "-m", "mccc_theory", *argv[1:]], cwd=ROOT,
                         capture_output=True, text=True)
    assert out.returncode == 0, f"{line}\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}"


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


def test_readme_shows_every_command_in_a_runnable_block():
    shown = {shlex.split(line)[1] for line in SHELL}
    assert shown == {"prove", "recall", "compare", "certify", "bench", "report"}
