"""Public Hypothesis strategies for random modal and dense systems in named regimes.

Use them in your own property tests::

    from hypothesis import given
    from mccc_theory.testing.strategies import modal_systems

    @given(modal_systems(m=(1, 6), regime="slow"))
    def test_my_property(system): ...

Regimes (:data:`REGIMES`) for the log-eigenvalues ``s = -exp(nu) + i theta``:

``random``          ``-Re s`` log-uniform in [1e-3, 3], angle uniform.
``fast``            ``-Re s`` in [0.5, 5]: forgets within a few steps.
``slow``            ``1 - |lambda|`` log-uniform down to ``min_decay`` (default 1e-12).
``clustered``       all eigenvalues within a relative 1e-6 of one centre.
``near_plus_one``   ``lambda`` near +1: angle ``+-delta`` (``delta`` log-uniform in [1e-10, 1e-2]),
                    slow decay.
``near_minus_one``  ``lambda`` near -1: angle ``+-(pi - delta)``, slow decay; the signs alternate
                    from mode to mode, so every system with ``m >= 2`` has modes on both sides
                    of the branch cut (``theta_i - theta_j`` must be wrapped by ``2 pi``).
``mixed``           each mode from one of ``near_plus_one``, ``near_minus_one``, ``slow``,
                    ``random``: slow and fast, both branch-cut sides, in one system.
``conjugate_pairs`` conjugate-closed system (pairs with conjugate B rows, C columns): a real map.
``repeated``        some eigenvalues exactly repeated (distinct B rows).
``nonminimal``      some zero rows of B or zero columns of C (uncontrollable/unobservable modes).

Matrix entries come from a NumPy generator seeded by a drawn integer: Hypothesis shrinks the
regime parameters and the seed, and the example's ``repr`` shows every number needed to rebuild
it.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from ..errors import MethodError, OrderError
from ..systems import ModalSystem

__all__ = ["REGIMES", "log_eigenvalues", "modal_systems", "dense_systems", "branch_cut_pairs",
           "split_peak_pairs", "paired_hsv_systems", "input_sequences"]

REGIMES = ("random", "fast", "slow", "clustered", "near_plus_one", "near_minus_one", "mixed",
           "conjugate_pairs", "repeated", "nonminimal")
# the per-mode regimes a "mixed" system draws from
_MIXED = ("near_plus_one", "near_minus_one", "slow", "random")


def _size_range(value, name: str, minimum: int) -> tuple[int, int]:
    if isinstance(value, int) and not isinstance(value, bool):
        lo = hi = value
    elif (isinstance(value, tuple) and len(value) == 2
          and all(isinstance(v, int) and not isinstance(v, bool) for v in value)):
        lo, hi = value
    else:
        raise OrderError(f"{name}: expected an int or a (min, max) tuple of ints, found {value!r}")
    if lo < minimum or hi < lo:
        raise OrderError(f"{name}: expected {minimum} <= min <= max, found {value!r}")
    return lo, hi


def _check_regime(regime) -> tuple[str, ...]:
    if regime is None:
        return REGIMES
    regimes = (regime,) if isinstance(regime, str) else tuple(regime)
    for r in regimes:
        if r not in REGIMES:
            raise MethodError(f"regime: expected one of {', '.join(REGIMES)} (or None for any), "
                              f"found {r!r}")
    if not regimes:
        raise MethodError("regime: expected at least one regime, found an empty collection")
    return regimes


def _log_uniform(draw, lo: float, hi: float) -> float:
    return 10.0 ** draw(st.floats(np.log10(lo), np.log10(hi)))


@st.composite
def log_eigenvalues(draw, *, m=(1, 8), regime="random", min_decay: float = 1e-12):
    """Strategy for log-eigenvalues ``s`` (m,) with ``Re s < 0`` in one regime.

    Parameters
    ----------
    m : int or (min, max)
    regime : one of :data:`REGIMES` (``conjugate_pairs``, ``repeated`` and ``nonminimal`` draw
        ``random``-regime values here; their structure lives in :func:`modal_systems`).
    min_decay : float in (0, 1e-3]
        Smallest ``-Re s`` (about ``1 - |lambda|``) drawn by ``slow``, ``near_plus_one``,
        ``near_minus_one`` and ``mixed``.
    """
    lo, hi = _size_range(m, "m", 1)
    (regime,) = _check_regime(regime)
    if not (0 < min_decay <= 1e-3):
        raise OrderError(f"min_decay: expected a float in (0, 1e-3], found {min_decay!r}")
    n = draw(st.integers(lo, hi))
    return _draw_s(draw, n, regime, min_decay)


def _draw_s(draw, n: int, regime: str, min_decay: float) -> np.ndarray:
    angle = st.floats(-np.pi, np.pi)
    if regime == "fast":
        re = [-draw(st.floats(0.5, 5.0)) for _ in range(n)]
        im = [draw(angle) for _ in range(n)]
    elif regime == "slow":
        re = [-_log_uniform(draw, min_decay, 1e-3) for _ in range(n)]
        im = [draw(angle) for _ in range(n)]
    elif regime == "clustered":
        c_re, c_im = -_log_uniform(draw, 1e-3, 1.0), draw(st.floats(-3.0, 3.0))
        rel = 1e-6
        re = [c_re * (1 + rel * draw(st.floats(-1, 1))) for _ in range(n)]
        im = [c_im + rel * abs(c_re) * draw(st.floats(-1, 1)) for _ in range(n)]
    elif regime == "near_plus_one":
        re = [-_log_uniform(draw, min_decay, 1e-2) for _ in range(n)]
        im = [draw(st.sampled_from([1.0, -1.0])) * _log_uniform(draw, 1e-10, 1e-2)
              for _ in range(n)]
    elif regime == "near_minus_one":
        # alternating sides of the branch cut: a pair (pi - d1, -(pi - d2)) has the small wrapped
        # difference -(d1 + d2), which exercises the exact 2 pi reduction
        first = draw(st.sampled_from([1.0, -1.0]))
        re = [-_log_uniform(draw, min_decay, 1e-2) for _ in range(n)]
        im = [first * (-1) ** k * (np.pi - _log_uniform(draw, 1e-10, 1e-2)) for k in range(n)]
    elif regime == "mixed":
        parts = [_draw_s(draw, 1, draw(st.sampled_from(_MIXED)), min_decay) for _ in range(n)]
        return np.concatenate(parts)
    else:
        re = [-_log_uniform(draw, 1e-3, 3.0) for _ in range(n)]
        im = [draw(angle) for _ in range(n)]
    return np.asarray(re) + 1j * np.asarray(im)


def _complex_normal(rng, shape):
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)) / np.sqrt(2)


@st.composite
def modal_systems(draw, *, m=(1, 8), n_inputs=(1, 3), n_outputs=(1, 3), regime=None,
                  min_decay: float = 1e-12, with_feedthrough: bool = False):
    """Strategy for :class:`~mccc_theory.systems.ModalSystem` instances.

    Parameters
    ----------
    m, n_inputs, n_outputs : int or (min, max)
        Number of modes, inputs ``p`` and outputs ``q``.
    regime : str, collection of str, or None
        One or several of :data:`REGIMES`; ``None`` samples any.
    min_decay : float
        Smallest ``-Re s`` for the slow regimes (default ``1e-12``).
    with_feedthrough : bool
        Draw a feedthrough ``D`` as well.
    """
    m_lo, m_hi = _size_range(m, "m", 1)
    p_lo, p_hi = _size_range(n_inputs, "n_inputs", 1)
    q_lo, q_hi = _size_range(n_outputs, "n_outputs", 1)
    regimes = _check_regime(regime)
    if not (0 < min_decay <= 1e-3):
        raise OrderError(f"min_decay: expected a float in (0, 1e-3], found {min_decay!r}")
    reg = draw(st.sampled_from(regimes))
    p, q = draw(st.integers(p_lo, p_hi)), draw(st.integers(q_lo, q_hi))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if reg == "conjugate_pairs":
        half_lo = max(1, (m_lo + 1) // 2)
        half = draw(st.integers(half_lo, max(half_lo, m_hi // 2)))
        s_half = _draw_s(draw, half, "random", min_decay)
        s_half = s_half.real + 1j * np.where(np.abs(s_half.imag) < 1e-3, 0.5, s_half.imag)
        s = np.concatenate([s_half, s_half.conj()])
        Bh, Ch = _complex_normal(rng, (half, p)), _complex_normal(rng, (q, half))
        B, C = np.concatenate([Bh, Bh.conj()]), np.concatenate([Ch, Ch.conj()], axis=1)
        D = rng.standard_normal((q, p)) if with_feedthrough else None
        return ModalSystem(s, B, C, D)
    n = draw(st.integers(m_lo, m_hi))
    s = _draw_s(draw, n, "random" if reg in ("repeated", "nonminimal") else reg, min_decay)
    B, C = _complex_normal(rng, (n, p)), _complex_normal(rng, (q, n))
    if reg == "repeated" and n >= 2:
        s[1: 1 + draw(st.integers(1, n - 1))] = s[0]  # modes 1..k repeat mode 0 exactly
    if reg == "nonminimal" and n >= 2:
        dead = rng.permutation(n)[: draw(st.integers(1, n - 1))]
        split = (len(dead) + 1) // 2
        B[dead[:split]] = 0  # uncontrollable modes
        C[:, dead[split:]] = 0  # unobservable modes
    D = _complex_normal(rng, (q, p)) if with_feedthrough else None
    return ModalSystem(s, B, C, D)


@st.composite
def dense_systems(draw, *, m=(1, 8), n_inputs=(1, 3), n_outputs=(1, 3), regime=None,
                  condition_max: float = 100.0, real: bool = False, return_modal: bool = False):
    """Strategy for dense :class:`~mccc_theory.systems.StateSpace` systems similar to modal ones.

    A modal system from :func:`modal_systems` is transformed by ``T = U diag(d) V^H`` with random
    unitary ``U, V`` and ``d`` log-uniform in ``[1, condition_max]``, so ``cond(T) <=
    condition_max``. With ``real=True`` the modal system is conjugate-closed, its real
    realization is used and ``T`` is real orthogonal-times-diagonal.

    Returns a ``StateSpace``, or ``(StateSpace, ModalSystem)`` with ``return_modal=True``.
    """
    if not (np.isfinite(condition_max) and condition_max >= 1):
        raise OrderError(f"condition_max: expected a finite float >= 1, found {condition_max!r}")
    regime_arg = "conjugate_pairs" if real else regime
    modal = draw(modal_systems(m=m, n_inputs=n_inputs, n_outputs=n_outputs, regime=regime_arg))
    base = modal.real_realization() if real else modal.to_state_space()
    n = base.n
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))

    def unitary():
        Z = rng.standard_normal((n, n)) if real else _complex_normal(rng, (n, n))
        Qm, R = np.linalg.qr(Z)
        return Qm * (np.diag(R) / np.abs(np.diag(R)))

    d = condition_max ** rng.random(n)
    d[0], d[-1] = 1.0, condition_max if n > 1 else 1.0
    T = unitary() @ np.diag(d) @ unitary().conj().T
    dense = base.transform(T)
    return (dense, modal) if return_modal else dense


@st.composite
def branch_cut_pairs(draw, *, pairs=(1, 2), n_inputs=(1, 3), n_outputs=(1, 3),
                     min_decay: float = 1e-12):
    """Strategy for ModalSystems whose modes near ``lambda = -1`` resonate across the branch cut.

    Each pair has angles ``pi - delta_a`` and ``-(pi - delta_b)`` (which one is above the cut is
    drawn) and decays ``d_a, d_b`` of one scale ``d`` (log-uniform in [``min_decay``, 1e-4], each
    mode ``d`` times a factor in [0.5, 2]), with ``delta_a + delta_b = u d``, ``u`` log-uniform in
    [0.1, 3]: ``lambda_a conj(lambda_b)`` lies within a few ``d`` of 1, so the Gramian entry
    ``M_ab / (1 - lambda_a conj lambda_b)`` is as large as the diagonal ones and its denominator is
    only as accurate as the wrapped angle difference ``-(delta_a + delta_b)``, whose exact value
    needs the low part of ``2 pi``: an absolute error of one ulp of pi in it is a relative
    error of about ``1e-16 / d >= 1e-12`` in the Gramian. The ``near_minus_one`` regime has such
    pairs only by chance (its angles and decays are drawn independently). ``B``, ``C`` complex
    normal from a generator seeded by a drawn integer.

    Parameters
    ----------
    pairs : int or (min, max)
        Number of resonant pairs (the system has ``2 * pairs`` modes).
    n_inputs, n_outputs : int or (min, max)
    min_decay : float in (0, 1e-4]
    """
    k_lo, k_hi = _size_range(pairs, "pairs", 1)
    p_lo, p_hi = _size_range(n_inputs, "n_inputs", 1)
    q_lo, q_hi = _size_range(n_outputs, "n_outputs", 1)
    if not (0 < min_decay <= 1e-4):
        raise OrderError(f"min_decay: expected a float in (0, 1e-4], found {min_decay!r}")
    s = []
    for _ in range(draw(st.integers(k_lo, k_hi))):
        d = _log_uniform(draw, min_decay, 1e-4)
        gap = d * _log_uniform(draw, 0.1, 3.0)
        share = draw(st.floats(0.1, 0.9))
        side = draw(st.sampled_from([1.0, -1.0]))
        for delta, sign in ((share * gap, side), ((1 - share) * gap, -side)):
            s.append(-d * _log_uniform(draw, 0.5, 2.0) + 1j * sign * (np.pi - delta))
    p, q = draw(st.integers(p_lo, p_hi)), draw(st.integers(q_lo, q_hi))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n = len(s)
    return ModalSystem(np.asarray(s), _complex_normal(rng, (n, p)), _complex_normal(rng, (q, n)))


@st.composite
def split_peak_pairs(draw):
    """Strategy for two-mode SISO :class:`~mccc_theory.systems.ModalSystem` instances whose
    H-infinity peak lies between their pole angles.

    Both modes are slow, ``1 - |lambda| ~ d`` with ``d`` log-uniform in [1e-10, 1e-7] (the second
    mode's decay ``d`` times a factor in [0.5, 2]), and their angles are ``d`` to ``3 d`` apart
    (the first in [0.2, 3]): the two resonances overlap, so the peak sits off every pole angle
    and grid point, where a bound that trusted a frequency grid would miss it. Entries of ``B``,
    ``C`` complex normal, ``D`` real normal, from a generator seeded by a drawn integer.
    """
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    d = 10.0 ** rng.uniform(-10, -7)
    theta = rng.uniform(0.2, 3.0)
    s = np.array([-d + 1j * theta, -d * rng.uniform(0.5, 2) + 1j * (theta + d * rng.uniform(1, 3))])
    B = rng.standard_normal((2, 1)) + 1j * rng.standard_normal((2, 1))
    C = rng.standard_normal((1, 2)) + 1j * rng.standard_normal((1, 2))
    return ModalSystem(s, B, C, rng.standard_normal((1, 1)))


@st.composite
def paired_hsv_systems(draw, *, m=(1, 4), with_feedthrough: bool = False, repeated: bool = True):
    """Strategy for ModalSystems whose Hankel singular values come in close pairs.

    The direct sum ``G (+) (1 + delta) G`` of a drawn SISO system ``G`` (regime ``random``, so
    ``1 - |lambda| >= 1e-3``) with itself scaled: ``s`` twice, ``B = blkdiag(b, k b)``, ``C =
    blkdiag(c, k c)`` with ``k = sqrt(1 + delta)``, two inputs and two outputs. The Gramians are
    block diagonal, so the HSVs are those of ``G`` and ``(1 + delta)`` times them: every value has
    a partner ``delta`` away, relative. ``delta`` is 0 (exactly repeated values) or log-uniform
    in [1e-8, 5e-2] (distinct, but closer than any loose grouping tolerance would allow).

    Parameters
    ----------
    m : int or (min, max)
        Modes of ``G`` (the system has ``2 m``).
    with_feedthrough : bool
        Draw ``D = blkdiag(d, (1 + delta) d)`` as well.
    repeated : bool
        Whether ``delta = 0`` is among the draws. Hypothesis draws that branch of the choice
        often (it is the simplest), so ``repeated=False`` is the way to get distinct pairs in
        every example.
    """
    g = draw(modal_systems(m=m, n_inputs=1, n_outputs=1, regime="random",
                           with_feedthrough=with_feedthrough))
    distinct = st.floats(-8.0, np.log10(5e-2)).map(lambda e: 10.0**e)
    delta = draw(st.one_of(st.just(0.0), distinct) if repeated else distinct)
    k = np.sqrt(1.0 + delta)
    zb, zc = np.zeros_like(g.B), np.zeros_like(g.C)
    B = np.block([[g.B, zb], [zb, k * g.B]])
    C = np.block([[g.C, zc], [zc, k * g.C]])
    D = None if g.D is None else np.block([[g.D, np.zeros_like(g.D)],
                                           [np.zeros_like(g.D), (1.0 + delta) * g.D]])
    return ModalSystem(np.concatenate([g.s, g.s]), B, C, D)


@st.composite
def input_sequences(draw, *, length=(1, 64), n_inputs=1, complex_values: bool = False):
    """Strategy for input sequences ``u`` of shape (N, p) with standard normal entries."""
    n_lo, n_hi = _size_range(length, "length", 1)
    p_lo, p_hi = _size_range(n_inputs, "n_inputs", 1)
    N, p = draw(st.integers(n_lo, n_hi)), draw(st.integers(p_lo, p_hi))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return _complex_normal(rng, (N, p)) if complex_values else rng.standard_normal((N, p))
