"""The wheel as `pip install mccc-theory` (no extras) delivers it, in a clean virtualenv: the
command runs, and what needs a missing extra is reported unavailable, never as a failure."""

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from mccc_theory import __version__

ROOT = Path(__file__).resolve().parents[1]


def _run(argv, **kw):
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, **kw)


@pytest.fixture(scope="module")
def clean_install(tmp_path_factory):
    """(wheel, venv): the working tree's wheel installed without extras into a fresh venv."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    files = _run(["git", "ls-files"], cwd=ROOT, check=True).stdout.split()
    for name in files:  # build from the tracked files only, not from local build leftovers
        if (ROOT / name).is_file():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, src / name)
    out = _run([sys.executable, "-m", "pip", "wheel", src, "--no-deps", "--no-build-isolation",
                "-q", "-w", tmp / "dist"])
    assert out.returncode == 0, out.stderr[-3000:]
    wheel = next((tmp / "dist").glob("mccc_theory-*.whl"))
    venv = tmp / "venv"
    # no pip and no system site-packages in the venv: only what the wheel's metadata pulls in
    _run([sys.executable, "-m", "venv", "--without-pip", venv], check=True)
    out = _run([sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install",
                "-q", "--no-compile", wheel])
    assert out.returncode == 0, out.stderr[-3000:]
    return wheel, venv


@pytest.mark.slow
def test_clean_install_has_no_extras(clean_install):
    _, venv = clean_install
    for extra in ("slycot", "mpmath", "jax", "torch", "triton", "numba"):
        out = _run([venv / "bin" / "python", "-c", f"import {extra}"])
        assert out.returncode != 0, f"{extra} is installed: the test would not test its absence"


@pytest.mark.slow
def test_version(clean_install):
    _, venv = clean_install
    out = _run([venv / "bin" / "mccc", "--version"])
    assert out.returncode == 0 and out.stdout.strip() == f"mccc-theory {__version__}", out


@pytest.mark.slow
def test_theorems_needing_missing_extras_are_unavailable(clean_install):
    _, venv = clean_install
    out = _run([venv / "bin" / "mccc", "prove", "--only", "hsv.modal_equals_real_realization",
                "--only", "gramian.matches_mpmath", "--only", "eigen.log_polar_roundtrip_stable"])
    assert out.returncode == 0, out.stdout + out.stderr
    assert re.search(r"hsv\.modal_equals_real_realization .* unavailable \(pip install slycot\)",
                     out.stdout), out.stdout
    assert re.search(r"gramian\.matches_mpmath .* unavailable \(pip install mpmath\)", out.stdout)
    assert "1 hold, 0 fail, 2 unavailable" in out.stdout  # the core theorem still runs


@pytest.mark.slow
def test_layers_and_certify_without_their_extras(clean_install):
    _, venv = clean_install
    for module, extra in (("jax_nn", "jax"), ("nn", "torch")):
        out = _run([venv / "bin" / "python", "-c", f"import mccc_kernels.{module}"])
        assert out.returncode == 1, out.stderr
        assert re.search(rf"BackendUnavailableError: mccc_kernels\.{module} needs \w+, which is "
                         rf"not installed: pip install 'mccc-theory\[{extra}\]'", out.stderr), \
            out.stderr
    out = _run([venv / "bin" / "mccc", "certify"])
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert "no kernel backend can run here" in out.stderr


def test_pypi_description_has_no_repository_relative_links(clean_install):
    wheel, _ = clean_install
    with zipfile.ZipFile(wheel) as zf:
        meta = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        text = zf.read(meta).decode()
    description = text.split("\n\n", 1)[1]
    assert "mccc-theory" in description
    # images and links must be absolute on PyPI; relative ones break there
    targets = re.findall(r"\]\(([^)]+)\)", description)
    assert all(re.match(r"https?://", t) for t in targets), targets
