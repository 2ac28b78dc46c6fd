"""The README as a new user meets it: its code blocks run, its commands exist and run exactly as
typed in a fresh clone after the set-up commands, its theorem table covers every registered
theorem."""

import os
import re
import shlex
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from mccc_proofs import all_theorems

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", README, flags=re.S)
SHELL = [line for block in re.findall(r"```sh\n(.*?)```", README, flags=re.S)
         for line in block.splitlines() if line.strip()]
# the set-up block: the commands a user types in a fresh clone before any `mccc` command
SETUP = [line.split("#")[0].strip() for line in re.search(
    r"## Set-up\n.*?```bash\n(.*?)```", README, flags=re.S).group(1).splitlines()
    if line.split("#")[0].strip()]


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_python_blocks_run(code):
    exec(compile(code, "README.md", "exec"), {"__name__": "__readme__"})


def test_setup_installs_then_activates():
    # `make install` creates .venv; activating it is what puts `mccc` on PATH
    assert SETUP == ["make install", "source .venv/bin/activate"], SETUP
    assert "make report" in README and "make test" in README


def test_every_make_target_in_readme_exists():
    targets = set(re.findall(r"^([\w-]+):", (ROOT / "Makefile").read_text(), flags=re.M))
    named = set(re.findall(r"`make ([\w-]+)", README)) | set(re.findall(r"^make ([\w-]+)", README,
                                                                     flags=re.M))
    assert named and named <= targets, named - targets


def _user_env() -> dict:
    """The environment of a shell that has not activated any virtualenv: no `mccc` on PATH."""
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONHOME")}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                  if p and not (Path(p) / "mccc").exists())
    return env


@pytest.fixture(scope="module")
def clone(tmp_path_factory):
    """A fresh clone of this repository in which `make install` has run.

    `make install` would spend minutes installing the dependencies into a new .venv. The clone
    gets a real .venv of its own (its own `activate`, its own `mccc` script, an editable install
    of the clone) whose dependencies come from the environment this test runs in, so that
    everything after `make install` runs exactly as typed.
    """
    dest = tmp_path_factory.mktemp("readme") / "mccc-theory"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(dest)], check=True)
    venv = dest / ".venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site_dir = Path(sysconfig.get_path("purelib", vars={"base": str(venv),
                                                        "platbase": str(venv)}))
    deps = sysconfig.get_path("purelib")  # this environment's packages, .pth files included
    (site_dir / "zz_mccc_test_dependencies.pth").write_text(
        f"import site; site.addsitedir({deps!r})\n")
    out = subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"),
                          "install", "-q", "--no-deps", "--no-build-isolation", "-e", str(dest)],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    return dest


def _typed(clone: Path, lines: list[str]) -> subprocess.CompletedProcess:
    """Run ``lines`` in one bash session in the clone, as a user types them."""
    setup = [line for line in SETUP if line != "make install"]  # done by the fixture
    return subprocess.run(["bash", "-e", "-c", "\n".join(setup + lines)], cwd=clone,
                          env=_user_env(), capture_output=True, text=True)


def test_mccc_is_not_on_path_before_the_setup(clone):
    # the check below would pass vacuously if `mccc` were already on the user's PATH
    out = subprocess.run(["bash", "-c", "command -v mccc"], cwd=clone, env=_user_env(),
                         capture_output=True, text=True)
    assert out.returncode != 0, out.stdout
    out = _typed(clone, ["command -v mccc", "python -c 'import mccc_theory; print(mccc_theory.__file__)'"])
    assert out.returncode == 0, out
    script, module = out.stdout.split()
    assert Path(script) == clone / ".venv" / "bin" / "mccc"  # the clone's own command
    assert Path(module).is_relative_to(clone)  # running the clone's code


@pytest.mark.parametrize("line", SHELL)
def test_shell_commands_run_as_written(clone, line):
    assert shlex.split(line)[0] == "mccc", f"README shell blocks hold mccc commands only: {line!r}"
    out = _typed(clone, [line])
    assert out.returncode == 0, f"{line}\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}"
    # nothing a README command does may dirty the clone (reports go to build/ or /tmp)
    status = subprocess.run(["git", "status", "--porcelain"], cwd=clone, capture_output=True,
                            text=True, check=True).stdout
    assert status.strip() in ("", "?? .venv"), status


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
    from mccc_theory.cli import COMMANDS

    shown = {shlex.split(line)[1] for line in SHELL}
    assert shown == set(COMMANDS)  # every sub-command, run as typed by test_readme_commands
