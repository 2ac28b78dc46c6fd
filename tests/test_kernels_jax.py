"""JAX kernels: jit, vmap and grad compatibility, and the custom VJPs against JAX's own
autodiff of a plain implementation (an independent derivation of the same gradients)."""

import numpy as np
import pytest

jax = pytest.importorskip("jax")
jnp = jax.numpy

from mccc_kernels.modal_readout.jax import modal_readout  # noqa: E402
from mccc_kernels.modal_scan.jax import modal_scan  # noqa: E402


def _data(b=2, L=13, p=3, m=5, seed=0):
    rng = np.random.default_rng(seed)
    nu = np.log(-np.log1p(-np.array([1e-4, 1e-2, 0.3, 0.9, 0.5])[:m]))
    arrs = [rng.standard_normal((b, L, p)), nu, rng.uniform(-3, 3, m),
            rng.standard_normal((m, p)), rng.standard_normal((m, p)),
            rng.standard_normal((b, m)), rng.standard_normal((b, m))]
    return [jnp.asarray(a, jnp.float32) for a in arrs]


def _plain_scan(u, nu, theta, B_re, B_im, h0_re, h0_im, return_all):
    lam = jnp.exp(-jnp.exp(nu) + 1j * theta)
    x = jnp.einsum("mp,btp->btm", B_re + 1j * B_im, u)

    def step(h, xt):
        h = lam * h + xt
        return h, h
    hT, hs = jax.lax.scan(step, h0_re + 1j * h0_im, jnp.swapaxes(x, 0, 1))
    h = jnp.swapaxes(hs, 0, 1) if return_all else hT
    return h.real, h.imag


@pytest.mark.parametrize("method", ["sequential", "chunked"])
@pytest.mark.parametrize("return_all", [True, False])
def test_custom_vjp_equals_autodiff_of_plain_scan(method, return_all):
    args = _data()

    def loss(f):
        def inner(*a):
            h_re, h_im = f(*a)
            w = jnp.arange(h_re.size, dtype=jnp.float32).reshape(h_re.shape) / h_re.size
            return jnp.sum(w * h_re - (1 - w) * h_im)
        return inner

    ours = jax.grad(loss(lambda *a: modal_scan(*a, return_all=return_all, method=method,
                                               chunk=4)), argnums=tuple(range(7)))(*args)
    plain = jax.grad(loss(lambda *a: _plain_scan(*a, return_all)),
                     argnums=tuple(range(7)))(*args)
    for o, p in zip(ours, plain, strict=True):
        # float32, |lambda| up to 1 - 1e-4 over 13 steps: both within ~1e-5 of the truth
        np.testing.assert_allclose(o, p, rtol=2e-4, atol=2e-4)


def test_jit_and_vmap_agree_with_eager():
    args = _data()
    eager = modal_scan(*args, return_all=False)
    jitted = jax.jit(lambda *a: modal_scan(*a, return_all=False))(*args)
    np.testing.assert_array_equal(eager[0], jitted[0])
    stacked = [jnp.stack([a, 2 * a]) for a in args[:1]] + args[1:]
    vm = jax.vmap(lambda u: modal_scan(u, *args[1:], return_all=False)[0])(stacked[0])
    # the map is linear in (u, h0) jointly, not in u alone: compare against a per-item loop
    loop = jnp.stack([modal_scan(u, *args[1:], return_all=False)[0] for u in stacked[0]])
    np.testing.assert_allclose(vm, loop, rtol=1e-6, atol=1e-6)


def test_readout_grad_matches_autodiff_of_plain_formula():
    rng = np.random.default_rng(3)
    f = lambda *s: jnp.asarray(rng.standard_normal(s), jnp.float32)  # noqa: E731
    H_re, H_im, S, g_re, g_im = f(2, 7, 3), f(2, 7, 3), f(2, 4, 7), f(7), f(7)

    def plain(H_re, H_im, S, g_re, g_im):
        a = jax.nn.softmax(S, -1) * (g_re + 1j * g_im)
        return jnp.real(a @ (H_re + 1j * H_im))

    ours = jax.grad(lambda *a: jnp.sum(jnp.sin(modal_readout(a[0], a[1], a[2], None,
                                                             mix="softmax", g_re=a[3],
                                                             g_im=a[4]))),
                    argnums=tuple(range(5)))(H_re, H_im, S, g_re, g_im)
    ref = jax.grad(lambda *a: jnp.sum(jnp.sin(plain(*a))), argnums=tuple(range(5)))(
        H_re, H_im, S, g_re, g_im)
    for o, p in zip(ours, ref, strict=True):
        np.testing.assert_allclose(o, p, rtol=1e-5, atol=1e-5)  # float32, sums of <= 7 terms
