"""System norms in the MCCC convention: certified H-infinity bracket, H2 and Hankel norms.

Convention (:mod:`mccc_theory.systems`): ``h_t = A h_{t-1} + B u_t, y_t = C h_t + D u_t``, so the
transfer function on the unit circle is::

    G(z) = C (I - z^-1 A)^-1 B + D = z C (zI - A)^-1 B + D,      z = exp(i omega),

and ``||G||_inf = sup_omega sigma_max(G(exp(i omega)))``. The Markov parameters are ``C B + D``
(lag 0) and ``C A^tau B`` (lag ``tau >= 1``), so ``||G||_2^2 = sum_tau ||g_tau||_F^2``. The Hankel
operator is ``[C A^(i+j) B]_{i,j>=0}`` (it includes lag 0) and ``||G||_H = sigma_1``, the largest
Hankel singular value (:func:`mccc_theory.gramians.hankel_singular_values`). It is the textbook
Hankel operator of the strictly proper textbook system ``(A, B, C, 0)``, whose transfer function
differs from ``G - D`` only by the unimodular factor ``z``: H-infinity and Hankel norms of
differences of systems with equal ``D`` are the same in both forms.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Real

import numpy as np
import scipy.linalg as sla
from scipy.optimize import minimize_scalar

from .errors import DTypeError, OrderError, ShapeError
from .systems import ModalSystem, StateSpace, _conjugate_permutation
from .systems import check_stable_system as _check_system
from .validation import as_array, check_horizon

__all__ = [
    "HinfBracket",
    "hinf_norm",
    "hinf_error",
    "h2_norm",
    "hankel_norm",
    "frequency_response",
    "error_system",
]

# An eigenvalue mu of the Hamiltonian is a candidate crossing if |Re mu| <= _AXIS_RTOL (1 + |mu|).
# Backward-stable eig moves a simple imaginary eigenvalue off the axis by about eps ||H|| cond(mu)
# and a nearly tangent pair by about sqrt(eps ||H||) ~ 1e-8 ||H||^(1/2); 1e-6 catches both.
# Spurious candidates (lightly damped modes whose Hamiltonian eigenvalues hug the axis) only cost
# evaluations of sigma_max: they never lower the upper bound, see _certify.
_AXIS_RTOL = 1e-6
_MAX_LEVEL_SET_TESTS = 40  # tests at the requested width before the bracket is widened
# Dense blocks up to this order are evaluated by batched LU over frequencies (O(n^3) each but
# vectorised); larger ones by one triangular solve per frequency on the Schur form (O(n^2 p)).
_BATCHED_SOLVE_MAX = 48


def _check_rtol(rtol) -> float:
    if isinstance(rtol, bool) or not isinstance(rtol, Real):
        raise DTypeError(f"rtol: expected a float, found {type(rtol).__name__} {rtol!r}")
    rtol = float(rtol)
    if not (1e-12 <= rtol <= 0.5):
        raise OrderError(f"rtol: expected a relative bracket width in [1e-12, 0.5], found {rtol!r}; "
                         "below 1e-12 the level-set test cannot separate gamma from rounding")
    return rtol


class _Parts:
    """A sum ``sum_k sign_k G_k`` of systems, evaluated part by part on the unit circle.

    Modal parts are evaluated in closed form from the log-eigenvalues (``O(m p q)`` per
    frequency, :func:`_one_minus_exp`); dense parts through their complex Schur form.
    """

    def __init__(self, terms):
        self.modal, self.dense, self.terms = [], [], terms
        q, p = terms[0][0].n_outputs, terms[0][0].n_inputs
        self.D = np.zeros((q, p), complex)
        self.real = True
        poles = []
        for sys, sign in terms:
            if (sys.n_outputs, sys.n_inputs) != (q, p):
                raise ShapeError(f"approximation: expected {q} outputs and {p} inputs like the "
                                 f"system, found {sys.n_outputs} outputs and {sys.n_inputs} inputs")
            self.D += sign * sys.D_or_zero
            if isinstance(sys, ModalSystem):
                # G_k(z) = sum_i C[:, i] B[i, :] / (1 - lam_i / z): one GEMM over frequencies.
                K = np.einsum("qi,ip->iqp", sys.C, sys.B).reshape(sys.m, q * p)
                self.modal.append((sys.s, sign * K))
                self.real &= sys.is_conjugate_closed()
                poles.append(sys.lam)
            else:
                T, Z = sla.schur(sys.A.astype(complex), output="complex")
                self.dense.append((T, Z.conj().T @ sys.B, sign * (sys.C @ Z)))
                self.real &= sys.is_real
                poles.append(np.diag(T))
        self.q, self.p = q, p
        self.poles = np.concatenate(poles)
        self.order = self.poles.size

    def response(self, omega: np.ndarray) -> np.ndarray:
        """``G(exp(i omega))`` for each frequency: shape (F, q, p), complex."""
        omega = np.atleast_1d(np.asarray(omega, float))
        out = np.broadcast_to(self.D, (omega.size, self.q, self.p)).copy()
        zinv = np.exp(-1j * omega)
        for s, K in self.modal:
            for lo in range(0, omega.size, 512):  # bounded memory: 512 x m weights at a time
                w = 1.0 / _one_minus_exp(s, omega[lo:lo + 512])
                out[lo:lo + 512] += (w @ K).reshape(-1, self.q, self.p)
        for T, ZB, CZ in self.dense:
            n = T.shape[0]
            eye = np.eye(n)
            if n <= _BATCHED_SOLVE_MAX:
                # small blocks: batched LU over frequencies (per-call overhead dominates n^3)
                for lo in range(0, omega.size, 256):
                    M = eye[None] - zinv[lo:lo + 256, None, None] * T[None]
                    X = np.linalg.solve(M, np.broadcast_to(ZB, (M.shape[0], *ZB.shape)))
                    out[lo:lo + 256] += CZ @ X
            else:
                trtrs = sla.lapack.ztrtrs
                for f, zi in enumerate(zinv):
                    X, _ = trtrs(eye - zi * T, ZB)
                    out[f] += CZ @ X
        return out

    def smax(self, omega: np.ndarray) -> np.ndarray:
        G = self.response(omega)
        if min(self.q, self.p) == 1:
            return np.linalg.norm(G.reshape(G.shape[0], -1), axis=1)
        return np.linalg.svd(G, compute_uv=False)[:, 0]

    def d_infinity(self) -> float:
        """``sigma_max(G(inf))`` with ``G(inf) = sum sign (C B + D)`` (textbook feedthrough)."""
        Dt = sum(sign * (sys.C @ sys.B + sys.D_or_zero) for sys, sign in self.terms)
        return float(np.linalg.norm(Dt, 2))

    def continuous(self):
        """Bilinear image ``(Ac, Bc, Cc, Dc)`` of the sum (real when the map is real).

        ``z = (1 + s)/(1 - s)`` takes the textbook ``(A, B, C A, C B + D)`` of each term to
        ``Ac = I - 2 F^-1, Bc = sqrt2 F^-1 B, Cc = sqrt2 C A F^-1, Dc = D + C F^-1 B`` with
        ``F = A + I`` (invertible since ``|lambda| < 1``); blocks of a sum stack, ``Dc`` adds.
        Modal terms are mapped from ``s``: ``(lambda - 1)/(lambda + 1) = tanh(s/2)``, so slow
        modes keep their distance to the axis.
        """
        As, Bs, Cs = [], [], []
        Dc = np.array(self.D)
        r2 = np.sqrt(2)
        for sys, sign in self.terms:
            if isinstance(sys, ModalSystem):
                lam = sys.lam
                with np.errstate(invalid="ignore", divide="ignore"):
                    mu = np.where(np.isneginf(sys.s.real), -1.0 + 0j, np.tanh(sys.s / 2))
                inv = 1 / (1 + lam)
                Ac, Bc, Cc = np.diag(mu), r2 * inv[:, None] * sys.B, r2 * sys.C * (lam * inv)
                Dc += sign * (sys.C * inv) @ sys.B
                if self.real:
                    from .reduction.balanced import _realify_rows, _unrealify_rows

                    perm = _conjugate_permutation(sys, 1e-12)
                    Ac = _realify_rows(mu[:, None] * _unrealify_rows(np.eye(sys.m), perm), perm)
                    Bc = _realify_rows(Bc, perm)
                    Cc = _realify_rows(Cc.conj().T, perm).conj().T
            else:
                n = sys.n
                lu = sla.lu_factor(sys.A + np.eye(n))
                FB = sla.lu_solve(lu, sys.B)
                Ac = np.eye(n) - 2 * sla.lu_solve(lu, np.eye(n))
                Bc = r2 * FB
                Cc = r2 * sla.lu_solve(lu, (sys.C @ sys.A).conj().T, trans=2).conj().T
                Dc += sign * (sys.C @ FB)
            As.append(Ac)
            Bs.append(Bc)
            Cs.append(sign * Cc)
        Ac, Bc, Cc = sla.block_diag(*As), np.vstack(Bs), np.hstack(Cs)
        if self.real:
            return Ac.real, Bc.real, Cc.real, Dc.real
        return Ac, Bc, Cc, Dc


def _one_minus_exp(s: np.ndarray, omega: np.ndarray) -> np.ndarray:
    """``1 - exp(s - i omega)`` for frequencies (F,) and log-eigenvalues (m,): shape (F, m).

    ``= -expm1(x + iy)`` with ``x = Re s``, ``y = Im s - omega`` wrapped into [-pi, pi], using
    ``expm1(x + iy) = expm1(x) cos y - 2 sin^2(y/2) + i e^x sin y`` (no cancellation near the
    peak of a slow mode, where ``1 - |lambda|`` is tiny); ``Re s = -inf`` gives 1.
    """
    x = s.real[None, :]
    y = s.imag[None, :] - omega[:, None]
    y = y - 2 * np.pi * np.round(y / (2 * np.pi))
    with np.errstate(invalid="ignore"):
        re = np.expm1(x) * np.cos(y) - 2.0 * np.sin(0.5 * y) ** 2
        im = np.exp(x) * np.sin(y)
    return -(re + 1j * im)


class _LevelSet:
    """Imaginary-axis eigenvalues of the Hamiltonian of the bilinear image of a discrete system.

    ``z = (1 + s) / (1 - s)`` maps the unit circle onto the imaginary axis (``omega = 2 atan w``)
    and the stable discrete system onto a stable continuous ``(Ac, Bc, Cc, Dc)``
    (:meth:`_Parts.continuous`). For ``gamma`` above ``sigma_max(Dc) = sigma_max(G(-1))``,
    ``gamma`` is a singular value of ``G(exp(i omega))`` iff ``i tan(omega/2)`` is an eigenvalue
    of ``H(gamma) = blkdiag(Ac, -Ac^H) - [[Bc, 0], [0, -Cc^H]] M^-1 [[Cc, 0], [0, Bc^H]]`` with
    ``M = [[Dc, -gamma I], [-gamma I, Dc^H]]`` (eliminate ``u, v`` from ``G u = gamma v``,
    ``G^H v = gamma u``).
    """

    def __init__(self, Ac, Bc, Cc, Dc):
        self.Ac, self.Bc, self.Cc, self.Dc = Ac, Bc, Cc, Dc
        self.real = not np.iscomplexobj(Ac)

    def frequencies(self, gamma: float) -> np.ndarray:
        Ac, Bc, Cc, Dc = self.Ac, self.Bc, self.Cc, self.Dc
        n, (q, p) = Ac.shape[0], Dc.shape
        M = np.block([[Dc, -gamma * np.eye(q)], [-gamma * np.eye(p), Dc.conj().T]])
        R = np.block([[Cc, np.zeros((q, n))], [np.zeros((p, n)), Bc.conj().T]])
        L = np.block([[Bc, np.zeros((n, q))], [np.zeros((n, p)), -Cc.conj().T]])
        H = sla.block_diag(Ac, -Ac.conj().T) - L @ np.linalg.solve(M, R)
        mu = sla.eigvals(H, overwrite_a=True, check_finite=False)
        near = np.abs(mu.real) <= _AXIS_RTOL * (1 + np.abs(mu))
        omega = 2 * np.arctan(mu[near].imag)
        if self.real:
            omega = np.abs(omega)
        return np.unique(omega)


@dataclass(frozen=True)
class HinfBracket:
    """Certified bracket ``lower <= ||G||_inf <= upper``; unpacks as ``lower, upper = bracket``.

    ``lower`` is ``sigma_max(G(exp(i frequency)))`` (an attained value); ``upper`` passed the
    level-set test (no frequency where ``sigma_max`` reaches it). ``tests`` counts the Hamiltonian
    eigenvalue problems solved.
    """

    lower: float
    upper: float
    frequency: float
    tests: int

    def __iter__(self):
        yield self.lower
        yield self.upper

    @property
    def value(self) -> float:
        """Midpoint of the bracket."""
        return 0.5 * (self.lower + self.upper)

    @property
    def rel_width(self) -> float:
        return (self.upper - self.lower) / self.upper if self.upper > 0 else 0.0


def _grid(parts: _Parts) -> np.ndarray:
    """Uniform grid plus every pole angle and the half-power points ``arg lambda +- (1 - |lambda|)``.

    More than ``2 n + 1`` points, so a transfer function vanishing on it is identically zero.
    """
    n = parts.order
    uniform = np.linspace(0.0, np.pi, max(257, 4 * n + 1))
    ang, width = np.angle(parts.poles), 1.0 - np.abs(parts.poles)
    extra = np.concatenate([ang, ang - width, ang + width])
    if parts.real:
        grid = np.concatenate([uniform, np.abs(extra)])
        return np.unique(np.clip(grid, 0.0, np.pi))
    grid = np.concatenate([uniform, -uniform, extra])
    return np.unique(np.angle(np.exp(1j * grid)))


def _refine(parts: _Parts, grid: np.ndarray, vals: np.ndarray, k: int = 8):
    """Local maximisation (bounded Brent) around the ``k`` largest local maxima of the grid."""
    best_w, best_v = grid[np.argmax(vals)], float(np.max(vals))
    interior = np.r_[vals[0] >= vals[1], (vals[1:-1] >= vals[:-2]) & (vals[1:-1] >= vals[2:]),
                     vals[-1] >= vals[-2]]
    idx = np.flatnonzero(interior)
    idx = idx[np.argsort(vals[idx])[::-1][:k]]
    for j in idx:
        lo, hi = grid[max(j - 1, 0)], grid[min(j + 1, grid.size - 1)]
        if hi <= lo:
            continue
        res = minimize_scalar(lambda w: -parts.smax(np.array([w]))[0], bounds=(lo, hi),
                              method="bounded", options={"xatol": 1e-12 * max(1.0, abs(lo))})
        if -res.fun > best_v:
            best_w, best_v = float(res.x), float(-res.fun)
    return best_w, best_v


def _certify(parts: _Parts, rtol: float) -> HinfBracket:
    grid = _grid(parts)
    vals = parts.smax(grid)
    if not np.any(vals > 0):
        # A rational function of degree <= n vanishing at more than 2n+1 points is zero.
        return HinfBracket(0.0, 0.0, 0.0, 0)
    w_lb, lb = _refine(parts, grid, vals)
    # Maximum modulus: G is analytic outside the unit disc, so sigma_max(G(inf)) <= ||G||_inf.
    d_inf = parts.d_infinity()
    if d_inf > lb:
        lb = d_inf  # attained only in the limit; frequency left at the best grid point
    level = _LevelSet(*parts.continuous())
    tests, width = 0, rtol
    while True:
        if tests >= _MAX_LEVEL_SET_TESTS:
            # Rounding keeps producing crossings this close to the peak: widen the bracket
            # (it stays certified) rather than loop; the returned width shows it.
            width *= 2
        gamma = lb * (1 + width)
        omega = level.frequencies(gamma)
        tests += 1
        if omega.size == 0:
            return HinfBracket(lb, gamma, w_lb, tests)
        # Bruinsma-Steinbuch: sigma_max exceeds gamma between consecutive crossings; evaluate the
        # candidates and the midpoints (with the wrap-around arc on the full circle).
        pts = np.sort(omega)
        mids = 0.5 * (pts[1:] + pts[:-1])
        if not parts.real:
            mids = np.r_[mids, np.angle(np.exp(0.5j * (pts[0] + pts[-1] + 2 * np.pi)))]
        trial = np.r_[pts, mids]
        order = np.argsort(trial)
        trial, tv = trial[order], parts.smax(trial[order])
        j = int(np.argmax(tv))
        if tv[j] <= lb:
            # No candidate interval holds sigma_max above the current lower bound, hence none
            # above gamma: the candidates were near-axis eigenvalues, not crossings.
            return HinfBracket(lb, gamma, w_lb, tests)
        w_lb, lb = float(trial[j]), float(tv[j])
        if trial.size >= 3:
            w_ref, v_ref = _refine(parts, trial, tv, k=1)
            if v_ref > lb:
                w_lb, lb = w_ref, v_ref


def hinf_norm(system, rtol: float = 1e-8) -> HinfBracket:
    """Certified bracket on ``||G||_inf = sup_omega sigma_max(C (I - e^{-i omega} A)^-1 B + D)``.

    Parameters
    ----------
    system : ModalSystem or StateSpace
        Stable discrete-time system in the MCCC convention.
    rtol : float in [1e-12, 0.5]
        Target relative width: ``upper = lower (1 + rtol)`` unless rounding forces a wider one.

    Returns
    -------
    HinfBracket
        ``lower <= ||G||_inf <= upper``, the peak frequency and the number of level-set tests.

    Raises
    ------
    UnstableError
        If the system is unstable or marginally stable (the norm is infinite).
    ShapeError, DTypeError, OrderError
        For a wrong system type or an ``rtol`` outside its range.

    Notes
    -----
    *Lower bound:* ``sigma_max`` on a grid of ``max(257, 4n + 1)`` points in ``[0, pi]`` (the full
    circle for complex maps) plus every pole angle and the half-power points
    ``arg lambda +- (1 - |lambda|)``, refined by bounded Brent searches around the 8 largest
    local maxima, and ``sigma_max(G(inf))`` (maximum-modulus principle).
    Modal systems are evaluated and mapped from their log-eigenvalues ``s`` (never the rounded
    ``lambda``), so a mode with ``1 - |lambda| = 1e-12`` has its peak ``|c b| / (1 - |lambda|)``
    to full precision.
    *Upper bound:* the level-set test of Boyd-Balakrishnan / Bruinsma-Steinbuch on the
    Hamiltonian of the bilinear image (see :class:`_LevelSet`): ``gamma = lower (1 + rtol)`` is
    an upper bound iff ``H(gamma)`` has no imaginary eigenvalue. Eigenvalues within
    ``1e-6 (1 + |mu|)`` of the axis are candidates; ``sigma_max`` at the candidates and the
    midpoints between them either raises the lower bound (and the test repeats, converging
    quadratically) or shows that no interval lies above ``gamma``. The certificate is as good as
    the backward stability of the eigenvalue solver: a crossing is missed only if rounding moves
    its eigenvalue more than ``1e-6`` off the axis.
    Cost: the grid ``O(n^2 p q)`` for modal systems (``O(n^3 p)`` dense) plus one ``O((2n)^3)``
    eigenvalue problem per test (usually one or two; real arithmetic for real maps).

    References
    ----------
    S. Boyd, V. Balakrishnan, P. Kabamba, "A bisection method for computing the H-infinity norm
    of a transfer matrix", Math. Control Signals Systems 2 (1989).
    N. A. Bruinsma, M. Steinbuch, "A fast algorithm to compute the H-infinity norm of a transfer
    function matrix", Systems & Control Letters 14 (1990).
    """
    rtol = _check_rtol(rtol)
    system = _check_system(system)
    return _certify(_Parts([(system, 1.0)]), rtol)


def hinf_error(system, approximation, rtol: float = 1e-8) -> HinfBracket:
    """Certified bracket on ``||G - G_approx||_inf`` (see :func:`hinf_norm`).

    Each term is evaluated in its own realization (a modal system in closed form), so the error
    of a reduced model of a large modal system costs little more than the norm of the system.

    Parameters
    ----------
    system, approximation : ModalSystem or StateSpace
        Stable systems with the same numbers of inputs and outputs.
    rtol : float in [1e-12, 0.5]
    """
    rtol = _check_rtol(rtol)
    system = _check_system(system)
    approximation = _check_system(approximation, "approximation")
    return _certify(_Parts([(system, 1.0), (approximation, -1.0)]), rtol)


def frequency_response(system, omega) -> np.ndarray:
    """``G(exp(i omega)) = C (I - e^{-i omega} A)^-1 B + D`` for each frequency: (F, q, p) complex.

    Modal systems in closed form; dense ones through their complex Schur form.
    """
    system = _check_system(system)
    omega = as_array(omega, "omega", complex_ok=False)
    return _Parts([(system, 1.0)]).response(omega.ravel())


def error_system(system, approximation) -> StateSpace:
    """Dense :class:`StateSpace` of ``G - G_approx``: ``(blkdiag(A1, A2), [B1; B2], [C1, -C2], D1 - D2)``.

    Same MCCC convention as the inputs; its Gramians, Hankel and H2 norms are those of the error.
    """
    parts = []
    for name, sys in (("system", system), ("approximation", approximation)):
        sys = _check_system(sys, name)
        parts.append(sys.to_state_space() if isinstance(sys, ModalSystem) else sys)
    g, a = parts
    if (g.n_outputs, g.n_inputs) != (a.n_outputs, a.n_inputs):
        raise ShapeError(f"approximation: expected {g.n_outputs} outputs and {g.n_inputs} inputs "
                         f"like the system, found {a.n_outputs} and {a.n_inputs}")
    return StateSpace(sla.block_diag(g.A, a.A), np.vstack([g.B, a.B]), np.hstack([g.C, -a.C]),
                      g.D_or_zero - a.D_or_zero)


def h2_norm(system, horizon: int | None = None) -> float:
    """``||G||_2 = (sum_{tau < N} ||g_tau||_F^2)^(1/2)`` from the controllability Gramian.

    With ``g_0 = C B + D`` and ``g_tau = C A^tau B``: ``||G||_2^2 = tr(C Wc C^H) + ||D||_F^2 +
    2 Re tr(D^H C B)``, ``Wc = Wc(N)`` for a finite ``horizon`` (default: infinite).

    Raises
    ------
    UnstableError, OrderError (horizon <= 0), ShapeError.
    """
    from .gramians import controllability_gramian

    system = _check_system(system)
    horizon = check_horizon(horizon)
    Wc = controllability_gramian(system, horizon)
    C, B, D = system.C, system.B, system.D_or_zero
    val = (np.trace(C @ Wc @ C.conj().T).real + np.linalg.norm(D) ** 2
           + 2 * np.real(np.trace(D.conj().T @ C @ B)))
    return float(np.sqrt(max(val, 0.0)))


def hankel_norm(system) -> float:
    """``||G||_H = sigma_1``: the largest Hankel singular value of ``[C A^(i+j) B]_{i,j>=0}``."""
    from .gramians import hankel_singular_values

    system = _check_system(system)
    hsv = hankel_singular_values(system)
    return float(hsv.values[0]) if hsv.values.size else 0.0
