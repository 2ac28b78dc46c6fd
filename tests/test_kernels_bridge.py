"""The bridge: layer <-> ModalMemory, from_fit, certified reduction, and its refusals.

Error model (float64): the layer runs the production kernels, whose outputs carry
``~ N eps / (1 - |lambda|)`` relative to the weights' l1 size (THEORY §6); with N <= 40 and
|lambda| <= 0.95 that is below 1e-12 relative, so 1e-10 relative is allowed.
"""

import jax
import numpy as np
import pytest
import torch

from mccc_kernels import jax_nn
from mccc_kernels.bridge import (
    LayerMemory,
    from_fit,
    options_from_memory,
    params_from_memory,
    reduce_layer,
    to_memory,
)
from mccc_kernels.nn import MCCCCrossConditioning
from mccc_theory.attention import ModalMemory, fit_modal, standard_families
from mccc_theory.errors import MethodError, NonFiniteError, OrderError, ShapeError

jax.config.update("jax_enable_x64", True)


def _layer(mix="linear", m=10, dtype=torch.float64, seed=0):
    torch.manual_seed(seed)
    layer = MCCCCrossConditioning(12, n_modes=m, d_source=6, d_value=5, mix=mix, r_min=0.5,
                                  r_max=0.95)
    with torch.no_grad():  # a trained-looking layer: gains and phases off their initial values
        layer.b_im.normal_()
        if mix == "softmax":
            layer.g_im.normal_()
    return layer.to(dtype)


@pytest.mark.parametrize("mix", ["linear", "softmax"])
def test_to_memory_reproduces_the_layer_and_round_trips(mix):
    layer = _layer(mix)
    lm = layer.to_memory()
    assert lm.memory.d_q == 13 and lm.memory.readout_kind == mix
    x, u = torch.randn(4, 12, dtype=torch.float64), torch.randn(37, 6, dtype=torch.float64)
    y = layer(x[None], u[None])[0].detach().numpy()
    y_theory = lm.output(x.numpy(), u.numpy())
    assert np.abs(y - y_theory).max() <= 1e-10 * np.abs(y).max()
    back = MCCCCrossConditioning.from_memory(lm)
    assert torch.equal(back(x[None], u[None]), layer(x[None], u[None]))
    # the JAX twin from the same theory object, and to_memory of the JAX dict
    p = params_from_memory(lm)
    yj = np.asarray(jax_nn.mccc_cross_conditioning(p, x.numpy()[None], u.numpy()[None]))[0]
    assert np.abs(yj - y).max() <= 1e-10 * np.abs(y).max()
    lm2 = to_memory(p)
    assert np.array_equal(lm2.memory.W_c, lm.memory.W_c) and np.array_equal(lm2.memory.s,
                                                                             lm.memory.s)


@pytest.mark.parametrize("mix", ["linear", "softmax"])
def test_normalised_memory_round_trips_through_torch_and_jax(mix):
    """normalize=True travels as the JAX layer's keyword (options_from_memory), not a parameter."""
    torch.manual_seed(2)
    layer = MCCCCrossConditioning(12, n_modes=6, d_source=6, d_value=5, mix=mix,
                                  normalize=True).double()
    lm = layer.to_memory()
    assert lm.memory.normalize
    x, u = torch.randn(4, 12, dtype=torch.float64), torch.randn(23, 6, dtype=torch.float64)
    y = layer(x[None], u[None])[0].detach().numpy()
    assert np.abs(lm.output(x.numpy(), u.numpy()) - y).max() <= 1e-10 * np.abs(y).max()
    back = MCCCCrossConditioning.from_memory(lm)
    assert back.normalize and torch.equal(back(x[None], u[None]), layer(x[None], u[None]))
    p, opts = params_from_memory(lm), options_from_memory(lm)
    assert opts == {"normalize": True, "feature_map": "identity"}
    yj = np.asarray(jax_nn.mccc_cross_conditioning(p, x.numpy()[None], u.numpy()[None], **opts))
    assert np.abs(yj[0] - y).max() <= 1e-10 * np.abs(y).max()
    # without the keyword the JAX layer is the unnormalised one: the option is not decorative
    plain = np.asarray(jax_nn.mccc_cross_conditioning(p, x.numpy()[None], u.numpy()[None]))
    assert np.abs(plain[0] - y).max() > 1e-3 * np.abs(y).max()
    assert to_memory({**p, "normalize": True}).memory.normalize
    with pytest.raises(ShapeError, match=r"layer_memory: expected a LayerMemory, found dict"):
        options_from_memory(p)


def test_from_fit_reproduces_the_fitted_weights():
    W = standard_families()["smooth"].weights[:, :48]
    fit = fit_modal(W, order=6, method="bt")
    layer = from_fit(fit, d_value=1)
    Q, N = W.shape
    u = np.random.default_rng(0).standard_normal((N, 1))
    y = layer(torch.eye(Q, dtype=torch.float64)[None], torch.as_tensor(u)[None])[0, :, 0]
    want = fit.weights_hat @ u[::-1, 0]  # y(q) = sum_tau w_hat_tau(q) u_(N - tau)
    assert np.abs(y.detach().numpy() - want).max() <= 1e-10 * np.abs(want).max()


@pytest.mark.parametrize("method", ["bt", "spa", "read_once", "modal"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_reduction_certificate_holds(method, dtype):
    layer = _layer("linear", dtype=dtype)
    x = np.random.default_rng(1).standard_normal((5, 12))
    for order in (2, 5):
        red, cert = reduce_layer(layer, order, x, method, horizon=32, n_random=2)
        assert cert.holds, cert
        assert cert.achieved_worst > 0 or cert.bound == 0
        if method == "read_once" and cert.bound > 1e3 * cert.allowance:
            # Eckart-Young is attained: the worst-case source realises the bound
            assert cert.achieved_worst >= (1 - 1e-6) * cert.bound - cert.allowance
        if method in ("bt", "modal"):
            assert cert.n_modes == order
        if method == "spa":
            assert cert.n_modes == order + 1  # the lag-0 tap of the feedthrough


def test_softmax_layer_reduces_on_its_query_set():
    layer = _layer("softmax")
    x = np.random.default_rng(2).standard_normal((4, 12))
    red, cert = layer.reduce(4, x, "bt", horizon=32, n_random=1)
    assert cert.holds and red.mix == "linear"
    with pytest.raises(MethodError, match="queries: a softmax-mix layer"):
        layer.reduce(4, np.random.default_rng(2).standard_normal((20, 12)), "bt")


def test_hsv_ranking_is_reported():
    layer = _layer("linear")
    _, cert = reduce_layer(layer, 3, np.eye(12)[:4], "modal", horizon=16, n_random=1)
    assert sorted(cert.hsv_rank) == list(range(10)) == sorted(cert.modulus_rank)
    assert np.all(np.diff(cert.hsv) <= 0)
    lam = np.abs(layer.to_memory().memory.lam)
    assert np.all(np.diff(lam[cert.modulus_rank]) <= 0)


def _nan_layer():
    layer = _layer()
    with torch.no_grad():
        layer.nu[3] = float("nan")
    return layer


@pytest.mark.parametrize("call, exc, match", [
    (lambda: reduce_layer(_layer(), 0, np.ones((2, 12))), OrderError, "order"),
    (lambda: reduce_layer(_layer(), 11, np.ones((2, 12))), OrderError, "order"),
    (lambda: reduce_layer(_layer(), 2, np.ones((2, 7))), ShapeError, r"x: expected shape \(Q, 12\)"),
    (lambda: reduce_layer(_nan_layer(), 2, np.ones((2, 12))), NonFiniteError, "layer.nu"),
    (lambda: reduce_layer(_layer(), 2, np.ones((2, 12)), "pod"), MethodError, "method"),
    (lambda: to_memory({"nu": np.zeros(2), "write": "key"}), MethodError, "key-addressed"),
    (lambda: to_memory(object()), ShapeError, "layer"),
    (lambda: from_fit("fit"), ShapeError, "fit"),
    (lambda: MCCCCrossConditioning.from_memory(LayerMemory(
        ModalMemory([-np.inf + 0j], [1.0], [[1.0], [0.0]]), np.eye(1), np.eye(1), np.zeros(1))),
     OrderError, "lambda = 0"),
])
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
