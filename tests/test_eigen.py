"""Eigenvalue parametrizations: initialisations, discretisation, FSR, JAX/torch gradients."""

import numpy as np
import pytest

from mccc_theory.eigen import (
    FSRThresholds,
    discretize,
    fsr_classify,
    hippo_legs_normal,
    log_polar,
    log_polar_eigenvalues,
    log_polar_inverse,
    lru_ring_init,
    s4d_inv,
    s4d_lin,
    s4d_real,
    undiscretize,
)

EPS = np.finfo(float).eps


def test_lru_ring_respects_radii_and_angles():
    nu, theta = lru_ring_init(4000, r_min=0.4, r_max=0.99, theta_max=np.pi / 10, rng=1)
    r = np.abs(log_polar_eigenvalues(nu, theta))
    assert r.min() >= 0.4 - 1e-12 and r.max() <= 0.99 + 1e-12
    assert theta.min() >= 0 and theta.max() < np.pi / 10
    # uniform in area: the median of |lambda|^2 is the mid-point of [r_min^2, r_max^2]; the
    # sample median's standard error is ~ 0.5 (r_max^2 - r_min^2)/sqrt(n) ~ 0.007; allow 5 sigma.
    assert abs(np.median(r**2) - 0.5 * (0.4**2 + 0.99**2)) < 0.04


def test_s4d_families_have_their_closed_forms():
    m = 7
    n = np.arange(m)
    assert np.array_equal(s4d_lin(m), -0.5 + 1j * np.pi * n)
    assert np.array_equal(s4d_real(m), -(n + 1.0) + 0j)
    inv = s4d_inv(m)
    assert np.all(inv.real == -0.5)
    assert np.all(np.diff(inv.imag) < 0)  # frequencies decrease like 1/(2n+1)


@pytest.mark.parametrize("m", [1, 7, 64, 257])
def test_s4d_inv_is_the_published_formula(m):
    """Issue 12, defect 11: S4D-Inv of Gu, Gupta, Goel, Re (NeurIPS 2022, "On the
    parameterization and initialization of diagonal state space models", Sec. 4):
    A_n = -1/2 + i (N/pi) (N/(2n+1) - 1), n = 0..N-1, written here term by term in exact
    rational arithmetic for N/(2n+1) - 1 and one rounding for the factor N/pi."""
    from fractions import Fraction
    from math import pi

    inv = s4d_inv(m)
    want = np.array([float(Fraction(m, 2 * n + 1) - 1) * (m / pi) for n in range(m)])
    # two roundings (the rational, the product) and the code's own three: 8 eps relative
    assert np.all(np.abs(inv.imag - want) <= 8 * EPS * np.abs(want))
    assert np.all(inv.real == -0.5)
    if m % 2:  # 2n + 1 = N: the middle mode is real
        assert inv[(m - 1) // 2].imag == 0
    assert inv[0].imag == pytest.approx(m * (m - 1) / pi, rel=4 * EPS)


def test_hippo_legs_normal_part_matches_dense_eigenvalues():
    m = 12
    n = np.arange(m)
    q = np.sqrt(2 * n + 1.0)
    A = -np.tril(np.outer(q, q), -1) - np.diag(n + 1.0)
    P = np.sqrt(n + 0.5)
    dense = np.linalg.eigvals(A + np.outer(P, P))
    ours = hippo_legs_normal(m)
    assert np.allclose(ours.real, -0.5, atol=1e-12)
    # eigenvalues of a normal matrix are perfectly conditioned: error <= c m eps ||A||
    tol = 16 * m * EPS * np.linalg.norm(A)
    # sort by frequency (real parts all equal -1/2 up to rounding, so sort_complex is unstable)
    dense = dense[np.argsort(dense.imag)]
    assert np.max(np.abs(dense - ours[np.argsort(ours.imag)])) <= tol


@pytest.mark.parametrize("method", ["zoh", "bilinear"])
def test_discretized_s4d_modes_are_stable_and_invert(method):
    lam_c = s4d_lin(16)
    s = discretize(lam_c, 0.01, method=method)
    assert np.all(s.real < 0)
    back = undiscretize(s, 0.01, method=method)
    # |dt lambda_c| <= 0.5 here: inverse maps are well conditioned (cond < 2).
    assert np.max(np.abs(back - lam_c) / np.abs(lam_c)) <= 64 * EPS


def test_bilinear_matches_definition():
    lam_c = np.array([-0.3 + 2j, -1.0 + 0j])
    dt = 0.1
    lam = (1 + dt * lam_c / 2) / (1 - dt * lam_c / 2)
    assert np.max(np.abs(np.exp(discretize(lam_c, dt, method="bilinear")) - lam)) <= 8 * EPS


def test_fsr_classification_rule():
    N = 100
    s = np.array([
        -1.0,                        # T = 1 << N: fast
        -1e-3,                       # T = 1000 >= N: slow
        -1e-3 + 0.5j,                # slow and repeats ~8 times within N: repeating
        -0.5 + 0.1j,                 # T = 2: lifetime 2 * 0.1/(2pi) << 1 period: fast
        -0.05 + 1.0j,                # T = 20, 20/(2pi/1) = 3.2 periods: repeating
    ])
    assert "".join(fsr_classify(s, N)) == "FSRFR"
    # a stricter repeating threshold demotes the last mode to fast
    assert fsr_classify(s, N, FSRThresholds(min_periods=5.0))[4] == "F"
    assert fsr_classify(s, N, FSRThresholds(slow_fraction=20.0))[1] == "F"


def test_fsr_boundary_at_exactly_the_horizon():
    """Issue 12, defect 11: a mode with T = N exactly is slow (the rule is T >= slow_fraction N);
    one ulp faster it is fast. N = 64 and s = -1/64 make T = N exact in binary."""
    N = 64
    s = np.array([-1.0 / N, np.nextafter(-1.0 / N, -1.0), np.nextafter(-1.0 / N, 0.0)])
    assert -1.0 / s[0] == N and -1.0 / s[1] < N < -1.0 / s[2]
    assert "".join(fsr_classify(s, N)) == "SFS"
    assert "".join(fsr_classify(s, 2 * N, FSRThresholds(slow_fraction=0.5))) == "SFS"


#: Error model of the analytic gradient check (issue 12, defect 11: it was 1e-6): the expected
#: value is evaluated at the float nu itself (not at log(1e-12) rounded differently), its three
#: terms share one sign (no cancellation), and each side takes ~10 correctly rounded operations
#: (exp, expm1-type products): 32 eps relative leaves 3x margin over 10 eps.
GRAD_RTOL = 32 * EPS


def _grad_nu_expected(nu: float, theta: float) -> float:
    e = np.exp(nu)
    return -2 * e * np.exp(-2 * e) - e - e * np.exp(-e) * np.sin(theta)


def test_jax_gradients_finite_near_unit_circle():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    # 1 - |lambda| = exp(nu): nu = log(1e-12) puts the mode 1e-12 from the circle.
    nu = jnp.array([np.log(1e-12), 0.0, 3.0])
    theta = jnp.array([0.3, -2.0, np.pi])

    def loss(nu, theta):
        lam = log_polar_eigenvalues(nu, theta)
        s = log_polar(nu, theta)
        return jnp.sum(jnp.abs(lam) ** 2) + jnp.sum(jnp.real(s)) + jnp.sum(jnp.imag(lam))

    g_nu, g_th = jax.grad(loss, argnums=(0, 1))(nu, theta)
    assert np.all(np.isfinite(g_nu)) and np.all(np.isfinite(g_th))
    # d/dnu of |lambda|^2 + Re s + Im lambda = -2 e^nu |lambda|^2 - e^nu - e^nu |lambda| sin(theta):
    # at nu = log(1e-12) about -3.3e-12, neither 0 nor NaN.
    expected = _grad_nu_expected(float(nu[0]), 0.3)
    assert abs(float(g_nu[0]) - expected) <= GRAD_RTOL * abs(expected)
    nu2, th2 = log_polar_inverse(log_polar(nu, theta))
    assert np.allclose(np.asarray(nu2), np.asarray(nu), rtol=0, atol=1e-13)


def test_torch_gradients_finite_near_unit_circle():
    torch = pytest.importorskip("torch")
    nu = torch.tensor([np.log(1e-12), 0.0, 3.0], dtype=torch.float64, requires_grad=True)
    theta = torch.tensor([0.3, -2.0, np.pi], dtype=torch.float64, requires_grad=True)
    lam = log_polar_eigenvalues(nu, theta)
    s = log_polar(nu, theta)
    (lam.abs() ** 2).sum().add(s.real.sum()).add(lam.imag.sum()).backward()
    assert torch.isfinite(nu.grad).all() and torch.isfinite(theta.grad).all()
    expected = _grad_nu_expected(float(nu[0]), 0.3)
    assert abs(float(nu.grad[0]) - expected) <= GRAD_RTOL * abs(expected)
    assert torch.autograd.gradcheck(
        lambda a, b: torch.view_as_real(log_polar_eigenvalues(a, b)),
        (nu.detach().requires_grad_(), theta.detach().requires_grad_()))
