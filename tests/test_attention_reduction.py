"""fit_modal's reduction-based methods against mccc_theory.reduction and mccc_theory.norms."""

import numpy as np
import pytest

from mccc_theory.attention import (
    error_system,
    fir_system,
    fit_modal,
    hankel_error,
    standard_families,
)
from mccc_theory.norms import hankel_norm, hinf_error
from mccc_theory.reduction import balanced_truncation, to_modal

EPS = np.finfo(float).eps


pytestmark = pytest.mark.usefixtures("one_blas_thread")


@pytest.fixture(scope="module")
def families():
    return standard_families(n=40, n_queries=3, width=4)


@pytest.mark.parametrize("name", ["alibi", "smooth", "sharp"])
def test_kung_bt_equals_square_root_bt(families, name):
    W = families[name].weights
    for m in (1, 3, 6):
        ours = fit_modal(W, m, "bt").system
        ref = to_modal(balanced_truncation(fir_system(W), m).reduced).system
        a = ours.impulse_response(120)[:, :, 0].real
        b = ref.impulse_response(120)[:, :, 0].real
        # Same projection computed two ways (SVD of H vs Stein solves + factors): the models
        # agree to ~N^2 eps sigma_1 / sigma_m (rounding of the balancing directions).
        hsv = fit_modal(W, m, "bt").hsv
        assert np.max(np.abs(a - b)) < 16 * 40 ** 2 * EPS * hsv[0] / hsv[m - 1]


def test_bt_streaming_chain_with_certified_hinf(families):
    W = families["smooth"].weights
    for m in (2, 4):
        fit = fit_modal(W, m, "bt")
        he = hinf_error(fir_system(W), fit.system)
        tol = 64 * 40 * EPS * fit.hsv[0]
        assert fit.lower_bound_2 - tol <= fit.error_2 <= he.lower + tol
        assert he.upper <= fit.upper_bound + tol


def test_hankel_error_bracket_agrees_with_gramian_hankel_norm(families):
    fit = fit_modal(families["smooth"].weights, 3, "bt")
    lo, hi = hankel_error(fit)
    assert lo <= hi
    ref = hankel_norm(error_system(fit))
    # The Gramian-based norm of an error system whose parts cancel is accurate to about
    # sqrt(eps) sigma_1 (the Gramians are O(sigma_1) and the error's values are square roots).
    assert abs(ref - lo) < 64 * np.sqrt(EPS) * fit.hsv[0] + (hi - lo)
    assert lo >= fit.hankel_lower_bound * (1 - 64 * 40 * EPS)  # AAK lower bound on BT


def test_read_once_projection_attains_eckart_young(families):
    W = families["smooth"].weights
    for m in (1, 2, 3):
        fit = fit_modal(W, m, "read_once")
        # Gramian factors and one SVD: 64 N eps sigma_1.
        assert abs(fit.details["projection_error_2"] - fit.lower_bound_2) \
            < 64 * 40 * EPS * fit.weight_sv[0]
        assert fit.error_2 >= fit.lower_bound_2 * (1 - 64 * 40 * EPS)


def test_aak_never_beats_the_hankel_bound(families):
    for name in ("alibi", "smooth"):
        fit = fit_modal(families[name].weights, 2, "aak")
        lo, _ = hankel_error(fit)
        assert lo >= fit.hankel_lower_bound * (1 - 64 * 40 * EPS)


def test_aak_attains_sigma_to_rounding_on_a_truncated_exponential_sum():
    W = np.array([[-3.30340913, -2.0445247, 1.39446518, 2.45497617, 0.13816641,
                   -2.18994282, -1.58024033, 0.84736986, 1.82746346, 0.32468933]])
    fit = fit_modal(W, 2, "aak")
    lo, hi = hankel_error(fit)
    # sigma_3 = 2.18, simple (neighbours 6.54 and 2.06): Glover's construction is exact, so the
    # attained Hankel error should match to rounding, 1e3 N eps sigma_1.
    tol = 1e3 * 10 * EPS * fit.hsv[0]
    assert lo - tol <= fit.hankel_lower_bound <= hi + tol
    assert lo <= fit.hankel_lower_bound + tol


def _section_bracket(fit, K):
    """Independent oracle: the K x K block section of [e_{i+j}] from the impulse response
    (a lower bound) plus the tail bound |e_tau| <= S rho^tau beyond lag K (the old method)."""
    W = fit.weights
    Q, N = W.shape
    sysm = fit.system
    e = -sysm.impulse_response(2 * K)[:, :, 0].T.real
    e[:, :N] += W
    idx = np.arange(K)[:, None] + np.arange(K)[None, :]
    lower = np.linalg.norm(e[:, idx].transpose(1, 0, 2).reshape(K * Q, K), 2)
    rho = np.max(np.abs(sysm.lam))
    S = np.sum(np.linalg.norm(sysm.C, axis=0) * np.abs(sysm.B[:, 0]))
    x = rho ** 2
    return lower, lower + S * rho ** K * np.sqrt((K + 1) / (1 - x) + x / (1 - x) ** 2)


@pytest.mark.parametrize("name, m", [("smooth", 3), ("alibi", 2), ("sharp", 4)])
def test_hankel_error_is_exact(families, name, m):
    """Defect 8 (issue 12): the Hankel norm of the error from exact Gramian factors (no lag cap)
    against a long explicit section (the fits' slowest poles have rho ~0.96, so the tail beyond
    N = 40 lags matters; K = 700 lags leave rho^K ~ 1e-13). Both are brackets of the same
    number: they must intersect, up to the section's rounding K eps sigma_1."""
    K = 700
    fit = fit_modal(families[name].weights, m, "bt")
    lo, hi = hankel_error(fit)
    s_lo, s_hi = _section_bracket(fit, K)
    assert s_hi - s_lo < 1e-10 * s_lo  # K long enough for a sharp oracle
    tol = K * EPS * fit.hsv[0]
    assert lo <= s_hi + tol and s_lo <= hi + tol
    assert hi - lo <= 1e-9 * hi  # and the new bracket is sharp (rounding only)
    # a short explicit block (max_lags = N) changes only the allowance, not the value
    lo1, hi1 = hankel_error(fit, max_lags=1)
    assert lo1 <= hi and lo <= hi1


def test_hankel_error_validates_its_inputs(families):
    """Defect 8: a plain array raised AttributeError, a negative max_lags returned silently."""
    from mccc_theory.errors import DTypeError, OrderError

    fit = fit_modal(families["smooth"].weights, 2, "bt")
    with pytest.raises(DTypeError, match=r"fit: expected a ModalFit"):
        hankel_error(families["smooth"].weights)
    with pytest.raises(DTypeError, match=r"fit: expected a ModalFit"):
        error_system(families["smooth"].weights)
    with pytest.raises(OrderError, match=r"max_lags: expected an integer >= 1"):
        hankel_error(fit, max_lags=-5)
