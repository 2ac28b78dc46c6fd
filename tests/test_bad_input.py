"""Table of bad calls to the foundation's public functions: each raises the project's exception
with a message that names the argument (matched by regex)."""

import numpy as np
import pytest

from mccc_theory import (
    DTypeError,
    EmptyInputError,
    MethodError,
    ModalSystem,
    NonFiniteError,
    OrderError,
    ShapeError,
    StateSpace,
    UnstableError,
)
from mccc_theory.eigen import (
    FSRThresholds,
    discretize,
    fsr_classify,
    log_polar_inverse,
    lru_ring_init,
    s4d_lin,
)
from mccc_theory.gramians import (
    controllability_gramian,
    gramian_factor,
    hankel_singular_values,
    observability_gramian,
    readout_gramian,
)

GOOD = ModalSystem(np.array([-0.1 + 0.3j, -0.5]), [[1.0], [1.0]], [[1.0, 2.0]])
UNSTABLE_DENSE = StateSpace(np.array([[1.2, 0.0], [0.0, 0.5]]), np.ones((2, 1)), np.ones((1, 2)))

CASES = [
    # (description, call, exception, message regex)
    ("unstable modulus", lambda: ModalSystem.from_eigenvalues([0.5, 1.0 + 0j], [[1], [1]], [[1, 1]]),
     UnstableError, r"lam: mode 1 has \|lambda\| = 1 >= 1"),
    ("unstable log-eigenvalue", lambda: ModalSystem(np.array([-0.1, 0.2]), [[1], [1]], [[1, 1]]),
     UnstableError, r"s: mode 1 has \|lambda\| = exp\(Re s\) = 1\.22.* >= 1"),
    ("NaN in s", lambda: ModalSystem(np.array([np.nan, -1]), [[1], [1]], [[1, 1]]),
     NonFiniteError, r"s: expected finite log-eigenvalues"),
    ("inf in B", lambda: ModalSystem(np.array([-1.0]), [[np.inf]], [[1]]),
     NonFiniteError, r"B: expected finite values, found inf at index \(0, 0\)"),
    ("B rows mismatch", lambda: ModalSystem(np.array([-1.0, -2.0]), [[1.0]], [[1, 1]]),
     ShapeError, r"B: expected shape \(m, p\) with m = 2"),
    ("C columns mismatch", lambda: ModalSystem(np.array([-1.0]), [[1.0]], [[1, 1]]),
     ShapeError, r"C: expected shape \(q, m\) with m = 1"),
    ("D shape", lambda: ModalSystem(np.array([-1.0]), [[1.0]], [[1.0]], np.ones((2, 2))),
     ShapeError, r"D: expected shape \(q, p\) = \(1, 1\)"),
    ("zero modes", lambda: ModalSystem(np.array([]), np.zeros((0, 1)), np.zeros((1, 0))),
     EmptyInputError, r"s: expected a non-empty array"),
    ("string dtype", lambda: ModalSystem(np.array(["a"]), [[1.0]], [[1.0]]),
     DTypeError, r"s: expected a numeric array, found dtype <U1"),
    ("from_params complex nu", lambda: ModalSystem.from_params([1j], [0.0], [[1]], [[1]]),
     DTypeError, r"nu: expected a real array, found complex"),
    ("from_params shape", lambda: ModalSystem.from_params([0.0, 1.0], [0.0], [[1], [1]], [[1, 1]]),
     ShapeError, r"theta: expected the shape of nu \(2,\), found \(1,\)"),
    ("simulate input width", lambda: GOOD.simulate(np.ones((3, 2))),
     ShapeError, r"u: expected shape \(N, p\) with p = 1, found \(3, 2\)"),
    ("impulse response length", lambda: GOOD.impulse_response(0),
     OrderError, r"n: expected an integer >= 1, found 0"),
    ("horizon zero", lambda: controllability_gramian(GOOD, 0),
     OrderError, r"horizon: expected an integer >= 1, found 0"),
    ("horizon negative", lambda: observability_gramian(GOOD, -3),
     OrderError, r"horizon: expected an integer >= 1, found -3"),
    ("horizon float", lambda: controllability_gramian(GOOD, 2.5),
     DTypeError, r"horizon: expected an integer, found float 2\.5"),
    ("unknown method", lambda: controllability_gramian(GOOD, method="magic"),
     MethodError, r"method: expected one of 'auto', 'modal', 'dense', 'slycot', found 'magic'"),
    ("modal on dense", lambda: controllability_gramian(GOOD.to_state_space(), method="modal"),
     MethodError, r"method: 'modal' needs a ModalSystem"),
    ("slycot finite horizon", lambda: controllability_gramian(GOOD, 5, method="slycot"),
     MethodError, r"'slycot' \(SB03MD\) solves the infinite-horizon equation only"),
    ("slycot complex", lambda: controllability_gramian(GOOD, method="slycot"),
     ValueError, r"method='slycot' needs a real system"),
    ("unstable dense", lambda: hankel_singular_values(UNSTABLE_DENSE),
     UnstableError, r"system: eigenvalue 0 of A is 1\.2.* >= 1"),
    ("not a system", lambda: controllability_gramian(np.eye(2)),
     ShapeError, r"system: expected a ModalSystem or StateSpace .*found ndarray"),
    ("readout family rank", lambda: readout_gramian(np.ones((2, 2, 2, 2))),
     ShapeError, r"C_family: expected shape \(Q, m\) or \(Q, k, m\)"),
    ("factor non-square", lambda: gramian_factor(np.ones((2, 3))),
     ShapeError, r"W: expected a square matrix, found \(2, 3\)"),
    ("factor method", lambda: gramian_factor(np.eye(2), method="qr"),
     MethodError, r"method: expected one of 'eigh', 'pivoted_cholesky', found 'qr'"),
    ("log-polar inverse unstable", lambda: log_polar_inverse(np.array([0.1 + 1j])),
     UnstableError, r"s: entry 0 has Re s = 0\.1 >= 0"),
    ("ring radii", lambda: lru_ring_init(4, r_min=0.9, r_max=0.5),
     OrderError, r"r_min, r_max: expected 0 <= r_min < r_max <= 1"),
    ("ring size", lambda: lru_ring_init(0), OrderError, r"m: expected an integer >= 1, found 0"),
    ("discretize unstable", lambda: discretize(np.array([0.1 + 1j]), 0.1),
     UnstableError, r"lam_c: entry 0 has Re lambda_c = 0\.1 >= 0"),
    ("discretize dt", lambda: discretize(s4d_lin(2), -0.1),
     OrderError, r"dt: expected positive step sizes"),
    ("discretize method", lambda: discretize(s4d_lin(2), 0.1, method="euler"),
     MethodError, r"method: expected one of 'zoh', 'bilinear', found 'euler'"),
    ("fsr horizon", lambda: fsr_classify(np.array([-0.1]), 0),
     OrderError, r"horizon: expected an integer >= 1, found 0"),
    ("fsr threshold", lambda: FSRThresholds(min_periods=-1.0),
     OrderError, r"min_periods: expected a positive finite number"),
    ("textbook singular A", lambda: StateSpace.from_textbook(np.zeros((2, 2)), np.ones((2, 1)),
                                                             np.ones((1, 2))),
     ValueError, r"A: the textbook A is singular"),
    ("non-square A", lambda: StateSpace(np.ones((2, 3)), np.ones((2, 1)), np.ones((1, 2))),
     ShapeError, r"A: expected a square matrix, found shape \(2, 3\)"),
]


@pytest.mark.parametrize("call, exc, pattern", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_call_raises_clear_error(call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call()


def test_exceptions_subclass_builtin_types():
    assert issubclass(UnstableError, ValueError) and issubclass(DTypeError, TypeError)
