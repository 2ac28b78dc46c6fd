"""Bad command lines: each is one line on stderr naming the option, exit status 2, no traceback.

Also: optional dependencies are reported as unavailable (never as failures), ``--version``, and
the import-time behaviour of the optional-extra modules.
"""

import importlib
import re
import subprocess
import sys

import pytest
from hypothesis import strategies as st

import mccc_proofs.registry as reg_mod
from mccc_theory import __version__
from mccc_theory.cli import main

CSV = "model,state_size,d,N,V,recall\nx,4096,64,32,64,0.9\n"


def _files(tmp):
    """The inputs the table refers to, by name."""
    (tmp / "dir").mkdir()
    (tmp / "plain.txt").write_text("a file, not a folder")
    (tmp / "ok.csv").write_text(CSV)
    (tmp / "utf16.csv").write_text(CSV, encoding="utf-16")  # Excel's "Unicode text"
    (tmp / "binary.csv").write_bytes(bytes(range(256)) * 4)
    (tmp / "nul.csv").write_bytes(CSV.encode().replace(b"x", b"\x00"))


# argv with {t} for the temporary folder, and the regex the single stderr line must match
CASES = [
    (["compare", "--measured", "{t}/utf16.csv", "--out", "{t}/c.png"],
     r"--measured: '.*utf16\.csv' is UTF-16/32 text; save it as UTF-8"),
    (["compare", "--measured", "{t}/binary.csv", "--out", "{t}/c.png"],
     r"--measured: '.*binary\.csv' is not UTF-8 text \(byte \d+ is 0x[0-9a-f]{2}\)"),
    (["compare", "--measured", "{t}/nul.csv", "--out", "{t}/c.png"],
     r"--measured: .* contains NUL bytes"),
    (["compare", "--measured", "{t}/dir", "--out", "{t}/c.png"],
     r"--measured: expected a CSV file, found a folder"),
    (["compare", "--measured", "{t}/ok.csv", "--out", "{t}/dir"],
     r"--out: expected a file name, found the folder"),
    (["compare", "--measured", "{t}/ok.csv", "--out", "{t}/c.txt"],
     r"--out: expected a file name ending in \.png, \.svg, \.pdf"),
    (["compare", "--measured", "{t}/ok.csv", "--out", "{t}/c.png", "--json", "{t}/plain.txt/c.json"],
     r"--json: cannot write .*: '.*plain\.txt' is a file, not a folder"),
    (["prove", "--only", "eigen", "--json", "{t}/dir"], r"--json: expected a file name"),
    (["bench", "--only", "gramians", "--json", "{t}/plain.txt/b.json"],
     r"--json: cannot write .* is a file, not a folder"),
    (["report", "--quick", "--only", "gramians", "--out", "{t}/plain.txt"],
     r"--out: expected a folder, found the file"),
    (["report", "--quick", "--only", "gramians", "--out", "{t}/r", "--json", "{t}/dir"],
     r"--json: expected a file name"),
    (["report", "--quick", "--only", "gramians", "--out", "{t}/r", "--workers", "0"],
     r"--workers: expected an integer >= 1, found 0"),
    (["certify", "--examples", "0"], r"--examples: expected an integer >= 1, found 0"),
    (["certify", "--kernel", "modal_readout", "--out", "{t}/plain.txt"],
     r"--out: expected a folder, found the file"),
    (["certify", "--kernel", "modal_readout", "--json", "{t}/dir"], r"--json: expected a file name"),
    (["recall", "--trials", "0"], r"--trials: expected an integer >= 1, found 0"),
    (["recall", "--workers", "0"], r"--workers: expected an integer >= 1, found 0"),
    (["recall", "--alpha", "1.5"], r"--alpha: expected a false-alarm probability in \(0, 1\)"),
    (["recall", "--task", "mqar", "--config", "nosuch"],
     r"--config: unknown MQAR configuration 'nosuch'; choose from zoology-fig2-L64"),
    (["recall", "--plot", "{t}/r.txt"], r"--plot: expected a file name ending in \.png"),
    (["recall", "--json", "{t}/dir"], r"--json: expected a file name"),
]


@pytest.mark.parametrize("argv, pattern", CASES, ids=[" ".join(a[:2]) + f"-{i}"
                                                       for i, (a, _) in enumerate(CASES)])
def test_bad_command_line_is_one_line_and_exit_2(tmp_path, capsys, argv, pattern):
    _files(tmp_path)
    code = main([a.format(t=tmp_path) for a in argv])
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert re.fullmatch(rf"mccc {argv[0]}: error: .*", lines[0]), lines[0]
    assert re.search(pattern, lines[0]), lines[0]


def test_bad_command_line_leaves_no_file_behind(tmp_path, capsys):
    # probing an output path must not leave an empty file when the command then stops
    assert main(["recall", "--trials", "0", "--json", str(tmp_path / "r.json")]) == 2
    assert not (tmp_path / "r.json").exists()


def test_certify_without_any_backend_is_not_a_success(monkeypatch, capsys):
    import mccc_kernels.certify as cert

    monkeypatch.setattr(cert, "available_backends", lambda: {
        b: "unavailable (ModuleNotFoundError: test)" for b in cert.BACKENDS})
    assert main(["certify", "--kernel", "modal_readout"]) == 2
    err = capsys.readouterr().err
    assert re.search(r"no kernel backend can run here \(jax: unavailable", err), err


def _register(monkeypatch, requires, check):
    fake = reg_mod.Theorem("test.needs_optional", "x >= 0", "integers", "none",
                           lambda: st.integers(0, 10), check, "test", None, requires)
    monkeypatch.setitem(reg_mod._REGISTRY, fake.id, fake)


def test_missing_optional_dependency_is_unavailable_not_failed(monkeypatch, capsys, tmp_path):
    def check(x):  # must never run: its module is missing
        raise AssertionError("the check of an unavailable theorem ran")

    _register(monkeypatch, ("mccc_no_such_module",), check)
    path = tmp_path / "p.json"
    assert main(["prove", "--only", "test.needs_optional", "--json", str(path)]) == 0
    out = capsys.readouterr().out
    assert "unavailable (pip install mccc_no_such_module)" in out
    assert "0 hold, 0 fail, 1 unavailable" in out
    assert '"unavailable": "pip install mccc_no_such_module"' in path.read_text()


def test_installed_optional_dependency_is_run(monkeypatch, capsys):
    # the same theorem with a module that is installed runs and can fail
    _register(monkeypatch, ("numpy",), lambda x: -1.0)
    assert main(["prove", "--only", "test.needs_optional"]) == 1
    assert "FAILS" in capsys.readouterr().out


def test_version():
    out = subprocess.run([sys.executable, "-m", "mccc_theory", "--version"], capture_output=True,
                         text=True, check=True).stdout
    assert out.strip() == f"mccc-theory {__version__}"
    from importlib.metadata import version
    assert version("mccc-theory") == __version__  # the package metadata agrees


@pytest.mark.parametrize("module, dependency, extra", [
    ("mccc_kernels.jax_nn", "jax", "jax"), ("mccc_kernels.nn", "torch", "torch")])
def test_layer_without_its_extra_names_the_extra(monkeypatch, module, dependency, extra):
    monkeypatch.setitem(sys.modules, dependency, None)  # makes `import jax` fail as if absent
    monkeypatch.delitem(sys.modules, module, raising=False)
    with pytest.raises(ImportError, match=re.escape(f"pip install 'mccc-theory[{extra}]'")):
        importlib.import_module(module)


def test_importing_the_mutants_makes_no_folder():
    code = ("import os, tempfile; before = set(os.listdir(tempfile.gettempdir())); "
            "import mccc_kernels.mutants; "
            "new = [n for n in set(os.listdir(tempfile.gettempdir())) - before "
            "if n.startswith('mccc-mutants-')]; print(len(new))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "0"
