"""Certification runs against the oracle on every backend available here, and refuses to
certify on failure; every deliberate bug in kernels/mutants.py is caught."""

import json

import pytest

from mccc_kernels import certificates
from mccc_kernels.certify import (
    KERNEL_BACKENDS,
    CertificationError,
    available_backends,
    certify,
    source_hash,
    swap_modules,
)
from mccc_kernels.mutants import MUTANTS, load_mutant, mutated_source

# generated cases on top of the explicit corner cases; the JAX lane compiles once per shape
# and the Triton lane runs in the interpreter, so they draw fewer (``mccc certify`` draws 40)
BUDGET = {"torch": 10, "jax": 2, "triton": 3, "numba": 10}
JOBS = [(k, b) for k in ("modal_scan", "modal_readout", "modal_encode") for b in KERNEL_BACKENDS[k]]


@pytest.mark.parametrize("kernel,backend", JOBS, ids=[f"{k}-{b}" for k, b in JOBS])
def test_certify_writes_a_current_certificate(kernel, backend, tmp_path):
    if available_backends()[backend].startswith("unavailable"):
        pytest.skip(available_backends()[backend])
    # the encode's JAX lane compiles forward and backward per case: its corner cases only
    only = (kernel, backend) == ("modal_encode", "jax")
    report = certify(kernel, backend, max_examples=BUDGET[backend], directory=tmp_path,
                     examples_only=only)
    assert report.cases >= 5 and 0 < report.worst_ratio <= 1.0
    (cert,) = certificates(tmp_path)
    assert cert["kernel"] == kernel and cert["backend"] == backend and cert["current"]
    assert cert["cases"] == report.cases and cert["worst_ratio"] == report.worst_ratio
    assert cert["source_sha256"] == source_hash(kernel)
    assert {"python", "numpy", "torch", "jax", "triton", "numba"} <= set(cert["versions"])
    if backend != "jax":
        assert cert["gradcheck"].startswith("passed")


def test_certificates_mark_changed_sources_stale(tmp_path):
    certify("modal_readout", "torch", max_examples=1, gradcheck=False, directory=tmp_path)
    path = tmp_path / "modal_readout--torch.json"
    cert = json.loads(path.read_text())
    cert["source_sha256"] = "0" * 64
    path.write_text(json.dumps(cert))
    assert certificates(tmp_path)[0]["current"] is False


def test_failed_certification_writes_nothing_and_removes_the_old_certificate(tmp_path):
    certify("modal_scan", "torch", max_examples=1, gradcheck=False, directory=tmp_path)
    assert len(certificates(tmp_path)) == 1
    mutant = next(m for m in MUTANTS if m.id == "scan.torch.adjoint_no_conj")
    with swap_modules({mutant.fullname: load_mutant(mutant)}):
        with pytest.raises(CertificationError, match=r"observed/model = .* at grad"):
            certify("modal_scan", "torch", max_examples=1, directory=tmp_path, shrink=False)
    assert certificates(tmp_path) == []


def test_every_mutant_changes_its_module():
    from mccc_kernels.mutants import PKG
    for mutant in MUTANTS:  # each edit must still match the code (LookupError otherwise)
        original = (PKG / (mutant.module.replace(".", "/") + ".py")).read_text()
        assert mutated_source(mutant) != original, mutant.id


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.id for m in MUTANTS])
def test_certification_catches_mutant(mutant, tmp_path):
    if available_backends()[mutant.backend].startswith("unavailable"):
        pytest.skip(available_backends()[mutant.backend])
    module = load_mutant(mutant)
    with swap_modules({mutant.fullname: module}):
        with pytest.raises(CertificationError):
            certify(mutant.kernel, mutant.backend, examples_only=True, shrink=False,
                    directory=tmp_path)
    assert not list(tmp_path.iterdir())
