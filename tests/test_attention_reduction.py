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
