"""Eigenvalue parametrizations, initialisations, discretisation and the FSR reading (THEORY §1).

Log-polar map (the LRU parametrization, Orvieto et al. 2023)::

    s = log(lambda) = -exp(nu) + i theta,      lambda = exp(s),

stable (|lambda| < 1) for every real ``nu``; ``T = exp(-nu)`` is the e-folding timescale in steps
and ``2 pi / |theta|`` the period. The map and its inverse accept NumPy arrays, JAX arrays and
torch tensors and return the same kind; gradients with respect to ``nu`` and ``theta`` are finite
everywhere, including ``1 - |lambda| -> 1e-12`` (``d lambda / d nu = -exp(nu) lambda``).

Continuous-time initialisations return ``lambda_c`` with ``Re lambda_c < 0``; :func:`discretize`
turns them into log-eigenvalues ``s`` with step ``dt`` by ZOH (``s = dt lambda_c`` exactly) or the
bilinear map, and :func:`undiscretize` inverts both.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import OrderError, UnstableError
from .validation import as_array, check_choice, check_positive_int

__all__ = [
    "log_polar",
    "log_polar_eigenvalues",
    "log_polar_inverse",
    "lru_ring_init",
    "s4d_lin",
    "s4d_inv",
    "s4d_real",
    "hippo_legs_normal",
    "discretize",
    "undiscretize",
    "FSRThresholds",
    "fsr_classify",
]


def _namespace(x):
    """The array module of ``x``: numpy, jax.numpy or torch (chosen by the argument's type)."""
    mod = type(x).__module__
    if mod.startswith("torch"):
        import torch

        return torch
    if mod.startswith("jax") or mod.startswith("jaxlib"):
        import jax.numpy as jnp

        return jnp
    return np


def log_polar(nu, theta):
    """``s = -exp(nu) + i theta``: log-eigenvalues from log-polar parameters (NumPy/JAX/torch).

    Parameters
    ----------
    nu, theta : real arrays of the same shape
        ``exp(-nu)`` is the timescale (steps); ``theta`` the phase advance per step.

    Returns
    -------
    s : complex array, ``Re s < 0`` for every finite ``nu``.
    """
    xp = _namespace(nu)
    if xp is np:
        nu = as_array(nu, "nu", complex_ok=False)
        theta = as_array(theta, "theta", complex_ok=False)
        return -np.exp(nu) + 1j * theta
    return xp.complex(-xp.exp(nu), theta) if xp.__name__ == "torch" else -xp.exp(nu) + 1j * theta


def log_polar_eigenvalues(nu, theta):
    """``lambda = exp(-exp(nu) + i theta)`` (NumPy/JAX/torch), written as modulus times phase.

    The modulus ``exp(-exp(nu))`` and the phase are computed separately so that the gradient stays
    finite and accurate for ``1 - |lambda|`` down to the smallest normal numbers.

    Examples
    --------
    >>> import numpy as np
    >>> lam = log_polar_eigenvalues(np.array([-27.6]), np.array([0.3]))
    >>> bool(np.abs(lam)[0] < 1)
    True
    """
    xp = _namespace(nu)
    if xp is np:
        nu = as_array(nu, "nu", complex_ok=False)
        theta = as_array(theta, "theta", complex_ok=False)
        return np.exp(-np.exp(nu)) * np.exp(1j * theta)
    r = xp.exp(-xp.exp(nu))
    if xp.__name__ == "torch":
        return xp.polar(r, theta)
    return r * (xp.cos(theta) + 1j * xp.sin(theta))


def log_polar_inverse(s):
    """``(nu, theta) = (log(-Re s), Im s)``: inverse of :func:`log_polar` (NumPy/JAX/torch).

    Takes log-eigenvalues ``s``, not ``lambda``: from rounded ``lambda`` the map loses
    ``eps / (1 - |lambda|)`` relative accuracy in ``nu``. Use ``np.log(lam)`` first if only
    ``lambda`` is available, accepting that loss.

    Raises
    ------
    UnstableError
        If some ``Re s >= 0`` (NumPy inputs; traced JAX/torch inputs are not inspected).
    """
    xp = _namespace(s)
    if xp is np:
        s = as_array(s, "s").astype(complex)
        bad = s.real >= 0
        if np.any(bad):
            i = int(np.argmax(bad.ravel()))
            raise UnstableError(f"s: entry {i} has Re s = {s.ravel()[i].real:.3g} >= 0 "
                                "(|lambda| >= 1); only stable modes have log-polar parameters")
        return np.log(-s.real), s.imag
    return xp.log(-xp.real(s)), xp.imag(s)


def lru_ring_init(m: int, *, r_min: float = 0.0, r_max: float = 1.0, theta_max: float = 2 * np.pi,
                  rng=None):
    """LRU initialisation: ``lambda`` uniform on the ring ``r_min <= |lambda| <= r_max``, angle < theta_max.

    Returns log-polar parameters ``(nu, theta)``, each (m,). Sampling is uniform in area:
    ``|lambda|^2 ~ U[r_min^2, r_max^2]``; ``nu = log(-log|lambda|)``.

    Raises
    ------
    OrderError
        If ``m < 1`` or the radii are not ``0 <= r_min < r_max <= 1``.
    """
    m = check_positive_int(m, "m")
    if not (0 <= r_min < r_max <= 1):
        raise OrderError(f"r_min, r_max: expected 0 <= r_min < r_max <= 1, found "
                         f"r_min={r_min}, r_max={r_max}")
    rng = np.random.default_rng(rng)
    u1, u2 = rng.random(m), rng.random(m)
    # -log|lambda| = -0.5 log(|lambda|^2); log1p keeps precision for |lambda| near 1
    r2 = u1 * (r_max**2 - r_min**2) + r_min**2
    neg_log_r = -0.5 * np.log1p(r2 - 1.0)
    neg_log_r = np.maximum(neg_log_r, np.finfo(float).tiny)
    return np.log(neg_log_r), theta_max * u2


def s4d_lin(m: int) -> np.ndarray:
    """S4D-Lin continuous-time eigenvalues ``-1/2 + i pi n``, n = 0..m-1 (Gu et al. 2022)."""
    m = check_positive_int(m, "m")
    return -0.5 + 1j * np.pi * np.arange(m)


def s4d_inv(m: int) -> np.ndarray:
    """S4D-Inv continuous-time eigenvalues ``-1/2 + i (m/pi)(m/(2n+1) - 1)``, n = 0..m-1."""
    m = check_positive_int(m, "m")
    n = np.arange(m)
    # m / (2n + 1) - 1 as (m - 2n - 1) / (2n + 1): the integer numerator is exact, so no
    # cancellation near 2n + 1 = m (the published form loses log10(m) digits there)
    return -0.5 + 1j * (m / np.pi) * ((m - 2 * n - 1) / (2 * n + 1))


def s4d_real(m: int) -> np.ndarray:
    """S4D-Real continuous-time eigenvalues ``-(n + 1)``, n = 0..m-1."""
    m = check_positive_int(m, "m")
    return -(np.arange(m) + 1.0) + 0j


def hippo_legs_normal(m: int) -> np.ndarray:
    """Eigenvalues of the normal part of HiPPO-LegS (as initialised in S5), sorted by frequency.

    LegS: ``A_nk = -sqrt((2n+1)(2k+1))`` for n > k, ``-(n+1)`` for n = k, 0 above the diagonal.
    With ``P_n = sqrt(n + 1/2)``, ``A + P P^T = -I/2 + S`` with S skew-symmetric, so the normal part
    has eigenvalues ``-1/2 + i omega`` where ``i omega`` are the eigenvalues of S (computed with
    ``eigh`` of the Hermitian ``-i S`` for accuracy).
    """
    m = check_positive_int(m, "m")
    n = np.arange(m)
    q = np.sqrt(2 * n + 1.0)
    A = -np.tril(np.outer(q, q), -1) - np.diag(n + 1.0)
    P = np.sqrt(n + 0.5)
    S = A + np.outer(P, P) + 0.5 * np.eye(m)
    S = 0.5 * (S - S.T)  # exactly skew: remove rounding in the symmetric part
    omega = np.linalg.eigvalsh(-1j * S)
    return -0.5 + 1j * np.sort(omega)


def discretize(lam_c, dt, *, method: str = "zoh") -> np.ndarray:
    """Log-eigenvalues ``s`` of the discretisation of ``x' = lambda_c x`` with step ``dt``.

    * ``"zoh"``: ``lambda = exp(dt lambda_c)``, so ``s = dt lambda_c`` exactly.
    * ``"bilinear"``: ``lambda = (1 + dt lambda_c / 2) / (1 - dt lambda_c / 2)``, returned as
      ``s = log1p(z) - log1p(-z)`` with ``z = dt lambda_c / 2`` (no cancellation for small ``z``).

    Parameters
    ----------
    lam_c : (m,) complex, ``Re lambda_c < 0``
    dt : positive float or (m,) array of positive floats

    Raises
    ------
    UnstableError
        If some ``Re lambda_c >= 0`` (the discretisation would not be stable).
    """
    check_choice(method, "method", ("zoh", "bilinear"))
    lam_c = as_array(lam_c, "lam_c").astype(complex)
    dt = as_array(dt, "dt", complex_ok=False)
    if np.any(dt <= 0):
        raise OrderError(f"dt: expected positive step sizes, found min {dt.min():.3g}")
    if np.any(lam_c.real >= 0):
        i = int(np.argmax(lam_c.ravel().real >= 0))
        raise UnstableError(f"lam_c: entry {i} has Re lambda_c = {lam_c.ravel()[i].real:.3g} >= 0; "
                            "continuous-time modes must have negative real part")
    z = dt * lam_c
    if method == "zoh":
        return z
    return _complex_log1p(z / 2) - _complex_log1p(-z / 2)


def undiscretize(s, dt, *, method: str = "zoh") -> np.ndarray:
    """Inverse of :func:`discretize`: ``lambda_c`` from log-eigenvalues ``s`` and step ``dt``.

    ZOH: ``lambda_c = s / dt``. Bilinear: ``lambda_c = (2/dt) (lambda - 1)/(lambda + 1)
    = (2/dt) tanh(s/2)``, evaluated from ``s`` without forming ``lambda``. Both are branch-exact
    for ``|Im s| < pi``; ZOH cannot recover frequencies aliased beyond the Nyquist angle.
    """
    check_choice(method, "method", ("zoh", "bilinear"))
    s = as_array(s, "s").astype(complex)
    dt = as_array(dt, "dt", complex_ok=False)
    if np.any(dt <= 0):
        raise OrderError(f"dt: expected positive step sizes, found min {dt.min():.3g}")
    if method == "zoh":
        return s / dt
    return (2 / dt) * np.tanh(s / 2)


def _complex_log1p(z: np.ndarray) -> np.ndarray:
    """``log(1 + z)`` for complex ``z`` accurate for small ``|z|`` (NumPy has no complex log1p).

    Real part ``0.5 log1p(2x + x^2 + y^2)`` (no cancellation near ``z = 0``), imaginary part
    ``atan2(y, 1 + x)``.
    """
    x, y = z.real, z.imag
    return 0.5 * np.log1p(2 * x + x * x + y * y) + 1j * np.arctan2(y, 1 + x)


@dataclass(frozen=True)
class FSRThresholds:
    """Thresholds of the FSR reading, relative to a horizon ``N`` (steps).

    slow_fraction
        A mode is *slow* when its timescale ``T = 1/(-Re s)`` is at least ``slow_fraction * N``
        (default 1.0: it remembers across the whole horizon).
    min_periods
        A complex mode is *repeating* when it completes at least ``min_periods`` periods
        ``2 pi / |Im s|`` within its lifetime ``min(T, N)`` (default 1.0).
    """

    slow_fraction: float = 1.0
    min_periods: float = 1.0

    def __post_init__(self):
        for name in ("slow_fraction", "min_periods"):
            v = getattr(self, name)
            if not (np.isfinite(v) and v > 0):
                raise OrderError(f"{name}: expected a positive finite number, found {v!r}")


def fsr_classify(s, horizon: int, thresholds: FSRThresholds | None = None) -> np.ndarray:
    """Label each mode 'F' (fast), 'S' (slow) or 'R' (repeating) relative to ``horizon`` N.

    Rule (precedence R, then S, then F): with ``T = 1/(-Re s)`` and lifetime ``min(T, N)``,

    * 'R' if ``Im s != 0`` and ``min(T, N) * |Im s| / (2 pi) >= min_periods``;
    * 'S' if ``T >= slow_fraction * N``;
    * 'F' otherwise (the mode forgets within the horizon).

    |lambda| alone does not rank a mode's importance (THEORY §1, Forgione et al. 2024): use Hankel
    singular values for that; FSR only describes the mode's dynamics.

    Returns
    -------
    labels : (m,) array of single-character strings.
    """
    th = thresholds or FSRThresholds()
    s = as_array(s, "s", ndim=1, finite=False).astype(complex)
    if np.any(np.isnan(s.real) | np.isnan(s.imag)):
        raise OrderError("s: expected log-eigenvalues without NaN")
    if np.any(s.real >= 0):
        i = int(np.argmax(s.real >= 0))
        raise UnstableError(f"s: mode {i} has Re s = {s[i].real:.3g} >= 0 (|lambda| >= 1)")
    N = check_positive_int(horizon, "horizon")
    with np.errstate(divide="ignore"):
        T = -1.0 / s.real  # Re s = -inf (lambda = 0) gives T = 0: fast
    life = np.minimum(T, N)
    periods = life * np.abs(s.imag) / (2 * np.pi)
    labels = np.full(s.shape, "F")
    labels[T >= th.slow_fraction * N] = "S"
    labels[(s.imag != 0) & (periods >= th.min_periods)] = "R"
    return labels
