"""The kernels.* theorems: `mccc prove --backend` selection, and deliberately wrong kernels fail them.

tests/test_proofs.py runs every kernels.<backend>_* theorem (TRITON_INTERPRET=1 is set by
conftest, so the Triton ones run in the interpreter); here the command line and the mutants.
"""

import json

import pytest

from mccc_kernels.certify import swap_modules
from mccc_kernels.mutants import MUTANTS, load_mutant
from mccc_proofs import all_theorems
from mccc_proofs.kernels import BACKENDS, available_backends
from mccc_theory.cli import main

NAMES = sorted({t.id[8:].split("_", 1)[1] for t in all_theorems().values()
                if t.id.startswith("kernels.")})


def test_every_backend_has_every_theorem():
    ids = {t.id for t in all_theorems().values() if t.id.startswith("kernels.")}
    assert ids == {f"kernels.{b}_{n}" for b in BACKENDS for n in NAMES}
    assert len(NAMES) >= 7
    assert set(available_backends()) == set(BACKENDS)  # CI: jax, torch, triton (interpreter)


@pytest.mark.parametrize("backend", ["torch", "jax", "triton"])
def test_prove_lists_and_runs_one_backend(backend, capsys, tmp_path):
    assert main(["prove", "--only", "kernels", "--backend", backend, "--list"]) == 0
    listed = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("kernels.")]
    assert sorted(listed) == [f"kernels.{backend}_{n}" for n in NAMES]
    if backend == "jax":
        return  # JAX compiles per shape: tests/test_proofs.py already runs every jax theorem
    out = tmp_path / "prove.json"
    # one theorem through the command line (tests/test_proofs.py runs every one of them)
    assert main(["prove", "--only", f"kernels.{backend}_state_bytes", "--backend", backend,
                 "--json", str(out)]) == 0
    res = json.loads(out.read_text())["results"]
    assert [r["id"] for r in res] == [f"kernels.{backend}_state_bytes_match_kernel_state"]
    assert res[0]["status"] == "holds" and res[0]["examples"] > 0


def test_backend_selection_keeps_other_theorems(capsys):
    assert main(["prove", "--only", "kernels.numpy_state", "--only", "reduction.spa",
                 "--backend", "numpy", "--list"]) == 0
    out = capsys.readouterr().out
    assert "kernels.numpy_state_bytes_match_kernel_state" in out and "reduction.spa" in out


def test_unavailable_backend_is_a_usage_error(monkeypatch, capsys):
    monkeypatch.delenv("TRITON_INTERPRET")
    import torch
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert main(["prove", "--only", "kernels", "--backend", "triton"]) == 2
    assert "TRITON_INTERPRET=1" in capsys.readouterr().err


def _system():
    import numpy as np

    from mccc_theory import ModalSystem

    rng = np.random.default_rng(0)
    s = -rng.uniform(0.05, 0.5, 5) + 1j * rng.uniform(-3, 3, 5)
    return ModalSystem(s, rng.standard_normal((5, 2)) + 1j * rng.standard_normal((5, 2)),
                       rng.standard_normal((1, 5)))


# (mutant, theorem, example): fixed examples that cross a chunk boundary (N > 16), so the check
# is called directly (a failing Hypothesis run would shrink, which costs minutes on JAX/Triton)
@pytest.mark.parametrize("mutant_id, theorem_id, example", [
    ("scan.torch.wrong_chunk_carry", "kernels.torch_gramian_from_impulse_states",
     (_system(), 37, "float64")),
    ("scan.jax.wrong_chunk_carry", "kernels.jax_streaming_chunks_equal_one_pass",
     (_system(), 37, 3, "float64")),
    ("scan.triton.off_by_one_time_mask", "kernels.triton_gramian_from_impulse_states",
     (_system(), 37, "float64")),
])
def test_a_wrong_kernel_fails_a_kernels_theorem(mutant_id, theorem_id, example):
    mutant = next(m for m in MUTANTS if m.id == mutant_id)
    thm = all_theorems()[theorem_id]
    with swap_modules({mutant.fullname: load_mutant(mutant)}):
        bad = thm.check(example)
    # a negative or NaN slack fails (run_theorem treats NaN as a violation)
    assert not bad >= 0, f"{theorem_id} did not notice {mutant_id} (slack {bad})"
    assert thm.check(example) >= 0  # and the production kernel passes on the same example
