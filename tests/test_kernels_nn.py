"""MCCCCrossConditioning: the README example trains, streaming equals batch encoding, the JAX
function equals the torch module, left padding is exact, and the state does not grow with N."""

import re
from pathlib import Path

import numpy as np
import pytest
import torch

from mccc_kernels.nn import MCCCCrossConditioning
from mccc_theory.errors import ShapeError

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_example_trains(capsys):
    section = README.read_text().split("## Kernels (`mccc_kernels`)", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    exec(compile(code, "README.md", "exec"), {})
    mse = [float(v) for v in re.findall(r"mse ([0-9.]+)", capsys.readouterr().out)]
    assert len(mse) == 5 and mse[-1] < 0.05 * mse[0]  # the layer learns the decayed summary


@pytest.mark.parametrize("mix", ["softmax", "linear"])
def test_streaming_equals_batch_and_left_padding_is_exact(mix):
    torch.manual_seed(1)
    layer = MCCCCrossConditioning(12, n_modes=10, d_source=6, d_value=5, mix=mix).double()
    src = torch.randn(3, 29, 6, dtype=torch.float64)
    full = layer.encode(src)
    part = layer.encode(src[:, 11:], layer.encode(src[:, :11]))
    padded = layer.encode(torch.cat([torch.zeros(3, 7, 6, dtype=torch.float64), src], 1))
    for a, b, c in zip(full, part, padded, strict=True):
        # float64 scans of 29 steps with |lambda| <= 0.999: a few ulps of the O(1) states
        torch.testing.assert_close(b, a, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(c, a, rtol=1e-12, atol=1e-12)
    assert full[0].shape == (3, 10, 5)
    assert layer.encode(torch.randn(3, 500, 6, dtype=torch.float64))[0].shape == (3, 10, 5)


@pytest.mark.parametrize("mix", ["softmax", "linear"])
def test_jax_function_equals_torch_module(mix):
    jax = pytest.importorskip("jax")
    from mccc_kernels import jax_nn
    torch.manual_seed(2)
    layer = MCCCCrossConditioning(8, n_modes=7, d_source=5, d_value=6, mix=mix)
    x, src = torch.randn(2, 3, 8), torch.randn(2, 19, 5)
    y = layer(x, src)
    p = jax_nn.params_from_torch(layer)
    yj = jax_nn.mccc_cross_conditioning(p, jax.numpy.asarray(x.numpy()),
                                        jax.numpy.asarray(src.numpy()))
    # float32 on both sides, different summation orders: ~1e-6 of the O(1) outputs
    np.testing.assert_allclose(np.asarray(yj), y.detach().numpy(), rtol=1e-5, atol=1e-5)
    y.square().sum().backward()
    g = jax.grad(lambda q: jax_nn.mccc_cross_conditioning(
        q, jax.numpy.asarray(x.numpy()), jax.numpy.asarray(src.numpy())).__pow__(2).sum())(p)
    for name in ("nu", "theta", "b_re", "b_im"):
        np.testing.assert_allclose(np.asarray(g[name]), getattr(layer, name).grad.numpy(),
                                   rtol=1e-4, atol=1e-5)  # float32 gradients through 19 steps


def test_bad_shapes():
    layer = MCCCCrossConditioning(8, n_modes=4, d_source=5)
    with pytest.raises(ShapeError, match=r"source: expected \(batch, N, 5\)"):
        layer(torch.randn(2, 3, 8), torch.randn(2, 9, 6))
    with pytest.raises(ShapeError, match=r"x: expected \(batch, Q, 8\)"):
        layer(torch.randn(2, 3, 7), torch.randn(2, 9, 5))
