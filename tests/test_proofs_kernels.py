"""The kernels.* theorems: `mccc prove --backend` selection, and deliberately wrong kernels fail them.

tests/test_proofs.py runs every kernels.<backend>_* theorem (TRITON_INTERPRET=1 is set by
conftest, so the Triton ones run in the interpreter); here the command line and the mutants.
"""

import json

import pytest

from mccc_kernels.certify import swap_modules
from mccc_kernels.mutants import MUTANTS, load_mutant
from mccc_proofs import all_theorems
from mccc_proofs.kernels import BACKENDS, KEYED_BACKENDS, available_backends
from mccc_theory.cli import main

NAMES = sorted({t.id[8:].split("_", 1)[1] for t in all_theorems().values()
                if t.id.startswith("kernels.")})
#: the one theorem registered on a subset of the backends (proofs/kernels.py says why)
LANES = {"keyed_layer_recall": KEYED_BACKENDS}


def _names(backend):
    return [n for n in NAMES if backend in LANES.get(n, BACKENDS)]


def test_every_backend_has_every_theorem():
    ids = {t.id for t in all_theorems().values() if t.id.startswith("kernels.")}
    assert ids == {f"kernels.{b}_{n}" for b in BACKENDS for n in _names(b)}
    assert len(NAMES) >= 9 and set(KEYED_BACKENDS) < set(BACKENDS)
    # CI: jax, torch, triton (interpreter), numba
    assert set(available_backends()) == set(BACKENDS)


@pytest.mark.parametrize("backend", ["torch", "jax", "triton", "numba"])
def test_prove_lists_and_runs_one_backend(backend, capsys, tmp_path):
    assert main(["prove", "--only", "kernels", "--backend", backend, "--list"]) == 0
    listed = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("kernels.")]
    assert sorted(listed) == [f"kernels.{backend}_{n}" for n in _names(backend)]
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
    # every token decayed once too often: the key-addressed layer no longer reads as
    # KeyedModalMemory (a relative change 1 - |lambda| >= 2.4e-4 against ~1e-12 of rounding)
    ("encode.torch.power_off_by_one", "kernels.torch_keyed_layer_recall", (0, "float64")),
])
def test_a_wrong_kernel_fails_a_kernels_theorem(mutant_id, theorem_id, example, monkeypatch):
    import mccc_kernels.nn as layer_module

    mutant = next(m for m in MUTANTS if m.id == mutant_id)
    thm = all_theorems()[theorem_id]
    wrong = load_mutant(mutant)
    if mutant.kernel == "modal_encode":
        # the torch layer binds its encode when mccc_kernels.nn is imported: bind the mutant there
        monkeypatch.setattr(layer_module, "modal_encode", wrong.modal_encode)
    with swap_modules({mutant.fullname: wrong}):
        bad = thm.check(example)
    monkeypatch.undo()
    # a negative or NaN slack fails (run_theorem treats NaN as a violation)
    assert not bad >= 0, f"{theorem_id} did not notice {mutant_id} (slack {bad})"
    assert thm.check(example) >= 0  # and the production kernel passes on the same example


def _leaky_scan_packed(inner, u, h0_re, h0_im, cu, return_all, to):
    """A packed scan that forgets to restart: one pass over the whole packed source from the
    first sequence's h0, states read at each sequence's end (the bug the theorem is about)."""
    import numpy as np

    first = (None, None) if h0_re is None else (h0_re[:1], h0_im[:1])
    h_re, h_im = inner(u, *first)
    if return_all:
        return h_re, h_im
    last = to(np.maximum(np.asarray(cu[1:]) - 1, 0))
    return h_re[0][last], h_im[0][last]


@pytest.mark.parametrize("return_all", [True, False])
def test_a_leaking_packed_scan_fails_the_packed_theorem(monkeypatch, return_all):
    import mccc_kernels._common as common

    thm = all_theorems()["kernels.torch_packed_equals_per_sequence"]
    # two sequences crossing a chunk boundary, slow modes (a leak decays slowly)
    example = (_system(), [7, 12], 5, return_all, "float64")
    assert thm.check(example) >= 0
    monkeypatch.setattr(common, "scan_packed", _leaky_scan_packed)
    bad = thm.check(example)
    assert not bad >= 0, f"the packed theorem did not notice a leak across boundaries ({bad})"


def test_a_wrong_numba_scan_fails_a_numba_lane_theorem(monkeypatch):
    """The numba lane runs the compiled scan: rotate the wrong way (theta -> -theta) in it."""
    import mccc_kernels.modal_scan.numba as core

    thm = all_theorems()["kernels.numba_gramian_from_impulse_states"]
    example = (_system(), 37, "float64")
    assert thm.check(example) >= 0
    # theta's position in (x_re, x_im, nu, theta, ...) and (u, B_re, B_im, nu, theta, ...)
    for name, i in (("forward", 3), ("forward_u", 4)):
        real = getattr(core, name)

        def wrong(*args, _real=real, _i=i, **kw):
            args = list(args)
            args[_i] = -args[_i]
            return _real(*args, **kw)

        monkeypatch.setattr(core, name, wrong)
    bad = thm.check(example)
    assert not bad >= 0, f"the numba lane did not notice a wrong compiled scan ({bad})"
