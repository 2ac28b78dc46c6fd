"""The one dispatch rule, and the top-level functions' routing by array type."""

import numpy as np
import pytest
import torch

import mccc_kernels
from mccc_kernels import last_backend, select_backend


def test_rule():
    assert select_backend("cpu", "auto") == "numba"  # numba is a dependency of the project
    assert select_backend("cpu", "auto", kernel="modal_readout") == "torch"  # no numba readout
    assert select_backend("cpu", "numba") == "numba"
    assert select_backend("cpu", "numba", kernel="modal_readout") == "torch"
    assert select_backend("cuda", "auto", kernel="modal_readout") == "triton"
    assert select_backend("cpu", "torch") == "torch"
    assert select_backend("cuda", "auto") == "triton"  # the rule itself needs no device
    assert select_backend("cuda", "torch") == "torch"
    assert select_backend("cpu", "triton") == "triton"  # conftest sets TRITON_INTERPRET=1


def test_last_backend_says_which_ran():
    u = torch.randn(1, 4, 2)
    nu, th, B = torch.zeros(3), torch.zeros(3), torch.randn(3, 2)
    mccc_kernels.scan(u, nu, th, B, B)
    assert last_backend() == "numba"
    mccc_kernels.scan(u, nu, th, B, B, backend="torch")
    assert last_backend() == "torch"
    mccc_kernels.scan(u, nu, th, B, B, backend="triton")
    assert last_backend() == "triton"


def test_top_level_routes_numpy_jax_torch_to_the_same_answer():
    rng = np.random.default_rng(0)
    a = [rng.standard_normal((2, 6, 2)), np.array([-1.0, 0.5]), np.array([0.3, -2.0]),
         rng.standard_normal((2, 2)), rng.standard_normal((2, 2))]
    ref = mccc_kernels.scan(*a, return_all=False)
    tt = mccc_kernels.scan(*[torch.tensor(x) for x in a], return_all=False)
    np.testing.assert_allclose(tt[0].numpy(), ref[0], rtol=1e-12, atol=1e-12)  # float64
    jnp = pytest.importorskip("jax.numpy")
    jj = mccc_kernels.scan(*[jnp.asarray(x, jnp.float32) for x in a], return_all=False)
    np.testing.assert_allclose(np.asarray(jj[0]), ref[0], rtol=1e-5, atol=1e-5)  # float32
