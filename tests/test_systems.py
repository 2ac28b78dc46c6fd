"""ModalSystem / StateSpace: conventions, conversions and python-control interop."""

import control
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mccc_theory import ModalSystem, NotRealError, StateSpace
from mccc_theory.testing.strategies import input_sequences, modal_systems

EPS = np.finfo(float).eps


def _io_tol(system, u):
    # A length-N recurrence accumulates N roundings on states of size sum|lambda|^k |B||u|:
    # relative error <= c N eps.
    return 64 * u.shape[0] * EPS * max(1.0, np.abs(system.simulate(u)).max())


@given(modal_systems(m=(1, 6), regime=("random", "fast", "conjugate_pairs"), with_feedthrough=True),
       st.data())
def test_impulse_response_matches_simulation_of_unit_impulse(system, data):
    N = data.draw(st.integers(1, 40))
    G = system.impulse_response(N)
    for j in range(system.n_inputs):
        u = np.zeros((N, system.n_inputs))
        u[0, j] = 1.0
        y = system.simulate(u)
        assert np.max(np.abs(y - G[:, :, j])) <= _io_tol(system, u)


@given(modal_systems(m=(1, 6), regime=("random", "fast"), with_feedthrough=True),
       input_sequences(length=(1, 30), n_inputs=(1, 3)))
def test_final_state_is_last_simulated_state(system, u):
    u = u[:, : system.n_inputs] if u.shape[1] >= system.n_inputs else np.resize(
        u, (u.shape[0], system.n_inputs))
    _, states = system.simulate(u, return_states=True)
    h0 = np.ones(system.m)
    _, states_h0 = system.simulate(u, h0=h0, return_states=True)
    scale = max(1.0, np.abs(states).max(), np.abs(states_h0).max())
    assert np.max(np.abs(system.final_state(u) - states[-1])) <= 64 * u.shape[0] * EPS * scale
    assert np.max(np.abs(system.final_state(u, h0) - states_h0[-1])) <= 64 * u.shape[0] * EPS * scale


@given(modal_systems(m=(2, 8), regime="conjugate_pairs", with_feedthrough=True),
       input_sequences(length=(2, 30)))  # python-control cannot simulate a single step
def test_textbook_and_python_control_reproduce_the_map(system, u):
    u = np.repeat(u, system.n_inputs, axis=1)
    y = system.simulate(u)
    real = system.real_realization()
    assert real.is_real
    assert np.max(np.abs(real.simulate(u) - y)) <= _io_tol(system, u)
    A, B, C, D = real.to_textbook()
    x = np.zeros(real.n)
    y_tb = []
    for ut in u:  # textbook recurrence: output before the state update
        y_tb.append(C @ x + D @ ut)
        x = A @ x + B @ ut
    assert np.max(np.abs(np.array(y_tb) - y)) <= _io_tol(system, u)
    sys_c = real.to_control()
    assert sys_c.dt is True or sys_c.dt > 0
    resp = control.forced_response(sys_c, T=np.arange(u.shape[0]), U=u.T)
    yc = np.atleast_2d(resp.outputs).T if resp.outputs.ndim == 1 else resp.outputs.T
    assert np.max(np.abs(yc.reshape(y.shape) - y)) <= _io_tol(system, u)
    back = StateSpace.from_control(sys_c)
    assert np.max(np.abs(back.simulate(u) - y)) <= _io_tol(system, u) * np.linalg.cond(real.A)


def test_modal_textbook_conversion_is_theory_convention():
    s = np.array([-0.1 + 0.5j, -0.7 - 0.2j])
    sys = ModalSystem(s, [[1.0], [2.0]], [[0.5, -1.0]], [[0.25]])
    A, B, C, D = sys.to_textbook()
    lam = np.exp(s)
    assert np.allclose(A, np.diag(lam), rtol=0, atol=1e-15)
    assert np.allclose(C, sys.C * lam, rtol=0, atol=1e-15)
    assert np.allclose(D, sys.C @ sys.B + sys.D, rtol=0, atol=1e-15)


def test_to_control_refuses_complex_system():
    sys = ModalSystem(np.array([-0.1 + 0.5j]), [[1.0]], [[1.0]])
    with pytest.raises(NotRealError, match="python-control drops imaginary parts"):
        sys.to_state_space().to_control()
    with pytest.raises(NotRealError, match="real_embedding"):
        sys.real_realization()


@given(modal_systems(m=(1, 4), regime=("random", "fast")), input_sequences(length=(1, 20),
                                                                          complex_values=True))
def test_real_embedding_maps_real_and_imaginary_parts(system, u):
    u = np.repeat(u, system.n_inputs, axis=1)
    y = system.simulate(u)
    emb = system.real_embedding()
    ye = emb.simulate(np.concatenate([u.real, u.imag], axis=1))
    q = system.n_outputs
    assert np.max(np.abs(ye[:, :q] + 1j * ye[:, q:] - y)) <= _io_tol(system, u)


def test_lambda_zero_mode_is_supported():
    sys = ModalSystem.from_eigenvalues([0.0, 0.5], [[1.0], [1.0]], [[1.0, 1.0]])
    G = sys.impulse_response(3)[:, 0, 0]
    assert np.array_equal(G, np.array([2.0, 0.5, 0.25], complex))
    assert np.all(np.isfinite(sys.lam))


@given(modal_systems(m=(2, 6), regime="conjugate_pairs", with_feedthrough=True),
       input_sequences(length=(2, 30)))
def test_textbook_state_space_runs_the_textbook_recurrence(system, u):
    """Defect 5 (issue 12): StateSpace.from_control keeps python-control's matrices and dt and
    reads them as the textbook system (output before the state update); to_mccc() is an MCCC
    realization of the same map and to_control() returns the same object."""
    u = np.repeat(u, system.n_inputs, axis=1)
    sys_c = control.ss(*system.real_realization().to_textbook(), dt=0.25)
    tb = StateSpace.from_control(sys_c)
    assert tb.convention == "textbook" and tb.dt == 0.25
    assert np.array_equal(tb.A, sys_c.A) and np.array_equal(tb.C, sys_c.C)
    resp = control.forced_response(sys_c, T=0.25 * np.arange(u.shape[0]), U=u.T)
    yc = np.atleast_2d(resp.outputs).T if resp.outputs.ndim == 1 else resp.outputs.T
    y = system.simulate(u)
    assert np.max(np.abs(tb.simulate(u) - y)) <= _io_tol(system, u)
    assert np.max(np.abs(yc.reshape(y.shape) - y)) <= _io_tol(system, u)
    assert np.max(np.abs(tb.to_mccc().simulate(u) - y)) <= _io_tol(system, u)
    G, Gm = tb.impulse_response(12), system.impulse_response(12)
    assert np.max(np.abs(G - Gm)) <= 64 * 12 * EPS * max(1.0, np.abs(Gm).max())
    back = tb.to_control()
    assert back.dt == 0.25 and np.array_equal(back.A, sys_c.A) and np.array_equal(back.D, sys_c.D)


def test_textbook_convention_bad_input():
    from mccc_theory.errors import MethodError, ShapeError

    with pytest.raises(NotRealError, match=r"dt: expected True or a sampling time > 0"):
        StateSpace([[0.5]], [[1.0]], [[1.0]], None, "textbook", 0)
    with pytest.raises(ShapeError, match=r"dt: a sampling time belongs to a textbook system"):
        StateSpace([[0.5]], [[1.0]], [[1.0]], None, "mccc", 0.1)
    with pytest.raises(MethodError, match=r"convention: expected one of"):
        StateSpace([[0.5]], [[1.0]], [[1.0]], None, "matlab")
    with pytest.raises(NotRealError, match=r"sys: expected a discrete-time system"):
        StateSpace.from_control(control.ss([[-1.0]], [[1.0]], [[1.0]], [[0.0]]))


def test_modal_spectral_radius_comes_from_the_log_eigenvalues():
    s = np.array([-1e-14 + 0.3j, -0.5 - 2.0j, -np.inf + 0j])
    sysm = ModalSystem(s, np.ones((3, 1)), np.ones((1, 3)))
    # exp(-1e-14) to one rounding, where |exp(s)| would round 1 - 1e-14 twice (exp, abs)
    assert abs(sysm.spectral_radius() - np.exp(-1e-14)) <= np.finfo(float).eps
    dense = sysm.to_state_space()
    assert abs(sysm.spectral_radius() - dense.spectral_radius()) <= 4 * np.finfo(float).eps
    zero = ModalSystem(np.array([-np.inf + 0j]), np.ones((1, 1)), np.ones((1, 1)))
    assert zero.spectral_radius() == 0.0
