"""Fit an m-mode MCCC memory to attention weights over lags: exact realization or approximation.

``fit_modal(weights, order, method)`` returns a :class:`ModalFit`: a single-input
:class:`~mccc_theory.systems.ModalSystem` ``(s, B, C)`` whose Markov parameters
``C Lambda^tau B`` approximate the weights ``a_tau(q)`` (row q of ``C`` is the readout ``c(q)`` of
query q), the achieved errors on the N given lags, and the T2/T3 bounds (THEORY §4).

Methods
-------
``"exact"``
    Ho-Kalman / ERA on the free-tail block Hankel pair ``[a_{i+j}], [a_{i+j+1}]`` (only the N
    given lags; the split into block rows and columns chosen from Q and N). When its numerical
    rank n is at most ``order`` (and smaller than both of its dimensions, so the data determine
    it) and its poles are resolved from each other, the realization of order n reproduces the
    weights at every lag (T1, Kronecker) and extends them to every source length. Otherwise
    OrderError (rank) or DefectiveError (a repeated pole).
``"bt"``
    Balanced truncation of the FIR system of the weights (:func:`~.hankel.fir_system`); the
    guarantee is ``||W - W_hat||_2 <= ||G - G_BT||_inf <= 2 tail`` (T3). Its shift-register
    realization has ``Wc = I``, so square-root BT is one SVD of the Hankel matrix (Kung); the
    tests check it against :func:`mccc_theory.reduction.balanced_truncation`.
``"aak"``
    Hankel-norm approximation (Glover/AAK) of the FIR system, via
    :func:`mccc_theory.reduction.hankel_norm_approximation`: Hankel error ``sigma^H_{m+1}``.
``"read_once"``
    The read-once balanced coordinates of ``(Wc(N), Q_read)`` via
    :func:`mccc_theory.reduction.read_once_projection`: the projection of the final state
    attains ``sigma_{m+1}(W)`` (T2; ``details["projection_error_2"]``); the returned recurrence
    is the truncation in those coordinates, which is not optimal (THEORY §3).
``"auto"``
    ``"exact"`` when it succeeds (Hankel rank identified, ``<= order``, diagonalisable, stable),
    else ``"bt"``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from numbers import Real

import numpy as np

from ..errors import DefectiveError, DTypeError, MethodError, OrderError, UnstableError
from ..systems import ModalSystem, StateSpace, modal_powers
from ..validation import check_choice, check_positive_int
from .bounds import distinct_tail_sum
from .hankel import block_hankel, check_weights, fir_hankel_singular_values, fir_system
from .memory import ModalMemory

__all__ = ["ModalFit", "fit_modal", "METHODS", "error_system", "hankel_error"]

METHODS = ("auto", "exact", "bt", "aak", "read_once")

_EPS = np.finfo(float).eps


@dataclass(frozen=True, eq=False)
class ModalFit:
    """Result of :func:`fit_modal`.

    Attributes
    ----------
    system : ModalSystem
        ``(s, B (m, 1), C (Q, m))`` with ``m <= order`` modes.
    method : str
        The method used (``"auto"`` resolved).
    order : int
        The requested order.
    real_dimension : int
        Real dimension r of the memory per value channel: ``system.m`` for conjugate-closed
        modes (a real map), ``2 system.m`` otherwise. The bounds below are for dimension r.
    weights, weights_hat : (Q, N) arrays
        Target weights and the realised ``Re(C Lambda^tau B)``, lags ``0..N-1``.
    error_2, error_fro : float
        ``||W - W_hat||_2`` and ``||W - W_hat||_F`` over the N lags (read-once errors).
    lower_bound_2, lower_bound_fro : float
        T2: ``sigma_{r+1}(W)`` and ``(sum_{i>r} sigma_i(W)^2)^(1/2)``: no memory of real
        dimension r does better.
    hankel_lower_bound : float
        T3: ``sigma^H_{r+1}`` of the FIR system, for any order-r streaming memory (Hankel norm).
    upper_bound : float
        T3: ``2 sum_{i>r} sigma^H_i`` (distinct once), balanced truncation's guarantee on
        ``||G - G_BT||_inf >= ||W - W_hat||_2``.
    weight_sv, hsv : arrays
        Singular values of W and Hankel singular values of the FIR system.
    details : dict
        Method-specific extras (the exact method's Hankel rank and cut; the read-once
        projection's error; the reduction routine's own bounds).
    """

    system: ModalSystem
    method: str
    order: int
    real_dimension: int
    weights: np.ndarray
    weights_hat: np.ndarray
    error_2: float
    error_fro: float
    lower_bound_2: float
    lower_bound_fro: float
    hankel_lower_bound: float
    upper_bound: float
    weight_sv: np.ndarray
    hsv: np.ndarray
    details: dict = field(default_factory=dict)

    @property
    def readout(self) -> np.ndarray:
        """The per-query readout ``c(q)``: rows of ``system.C``, (Q, r) complex."""
        return self.system.C

    @property
    def relative_error(self) -> float:
        """``||W - W_hat||_2 / ||W||_2``."""
        return self.error_2 / self.weight_sv[0]

    def memory(self, *, normalize: bool = False) -> ModalMemory:
        """The fit as a :class:`ModalMemory` (query j is the one-hot ``e_j``)."""
        return ModalMemory.from_system(self.system, normalize=normalize)


def fit_modal(weights, order: int, method: str = "exact", *, rtol: float | None = None
              ) -> ModalFit:
    """Fit an ``order``-mode modal memory to attention weights over lags (THEORY §4, T1-T3).

    Parameters
    ----------
    weights : (Q, N) or (N,) real array
        ``a_tau(q)`` for lags ``tau = 0..N-1`` (row q: query q; lag 0 is the newest token).
    order : int, 1 <= order <= N
        Number of modes m.
    method : {"exact", "bt", "aak", "read_once", "auto"}
        See the module docstring.
    rtol : float in (0, 1), optional
        Numerical-rank cut of the exact method, relative to the largest Hankel singular value.
        Default ``max(Q r, c) eps`` (THEORY §2's ``n eps sigma_1``); raise it for noisy weights.

    Returns
    -------
    ModalFit

    Raises
    ------
    ShapeError, EmptyInputError, NonFiniteError, DTypeError
        Malformed weights (wrong rank, no lags, NaN/inf, complex); ``rtol`` not a number.
    OrderError
        ``order`` outside ``[1, N]``; ``rtol`` outside ``(0, 1)`` or NaN; for ``"exact"``:
        Hankel rank above ``order``, rank not determined by N lags, or all-zero weights.
    DefectiveError
        ``"exact"`` on weights whose minimal realization has a repeated pole (polynomial-times-
        exponential terms of T1, e.g. ``tau lambda^tau`` or an exact lookup ``delta_{tau L}``),
        decided by the test in the Notes; ``"read_once"`` when the recurrence truncated in the
        read-once coordinates has a repeated pole (the message names ``order``).
    UnstableError
        ``"exact"`` on weights that do not decay (a pole with ``|lambda| >= 1``).
    MethodError
        Unknown method, or a method whose reduction routine is not available.

    Notes
    -----
    ``"exact"``: the free-tail pair has ``r`` block rows and ``c = N - r`` columns with ``r``
    maximising ``min(Q r, c)`` (:func:`~.hankel.free_hankel_shape`), so Q queries identify
    orders up to about ``Q N / (Q + 1) - 1``. The numerical rank n (singular values above
    ``rtol sigma_1``) must be below both dimensions; the Ho-Kalman ``A`` then carries a
    perturbation ``eta ~ max(cut, rounding) / sigma_n``, and poles closer than the sum of their
    first-order perturbation bounds ``kappa_i eta ||A||`` (eigenvalue condition numbers from
    left and right eigenvectors) are one repeated pole: a Jordan block split by rounding always
    fails this test, distinct poles pass it when their gap exceeds about ``sqrt(eta)``.
    Finally the modal form must reproduce the weights (relative error ``<= sqrt(eps)``).

    Cost: exact ``O(Q N^3)`` (SVD of the free-tail Hankel); bounds need the SVD of W and of the
    (Q N) x N FIR Hankel, ``O(Q N^3)``.

    References
    ----------
    B. L. Ho, R. E. Kalman, "Effective construction of linear state-variable models from
    input/output functions", Regelungstechnik 14, 1966. S.-Y. Kung, "A new identification and
    model reduction algorithm via singular value decomposition", Asilomar 1978.
    """
    W = check_weights(weights)
    Q, N = W.shape
    order = check_positive_int(order, "order", maximum=N)
    method = check_choice(method, "method", METHODS)
    rtol = _check_rtol(rtol)
    if method in ("exact", "auto"):
        try:
            system, details = _exact(W, order, rtol)
            method = "exact"
        except (OrderError, DefectiveError, UnstableError):
            if method == "exact":
                raise
            method = "bt"
    if method == "bt":
        system, details = _bt(W, order)
    elif method == "aak":
        system, details = _aak(W, order)
    elif method == "read_once":
        system, details = _read_once(W, order)
    return _assemble(W, order, method, system, details)


def _check_rtol(rtol) -> float | None:
    """``None`` or a finite relative rank cut in ``(0, 1)``."""
    if rtol is None:
        return None
    if isinstance(rtol, bool) or not isinstance(rtol, Real):
        raise DTypeError(f"rtol: expected a float in (0, 1) or None, found "
                         f"{type(rtol).__name__} {rtol!r}")
    rtol = float(rtol)
    if not 0 < rtol < 1:
        raise OrderError(f"rtol: expected a relative rank cut in (0, 1) (a fraction of the largest "
                         f"Hankel singular value), found {rtol!r}; use e.g. 1e-8 for weights "
                         "known to 8 digits, or None for the rounding level")
    return rtol


def _assemble(W, order, method, system, details) -> ModalFit:
    N = W.shape[1]
    W_hat = system.impulse_response(N)[:, :, 0].T.real
    E = W - W_hat
    # The realised weights Re(C Lambda^tau B) span a real space of dimension m when the modes
    # are conjugate-closed (every fit of real weights), 2m otherwise: the bounds use that.
    # Pairs from eig of a real matrix match to rounding times the eigenvector condition; 1e-9
    # leaves orders of magnitude of margin on both sides.
    r = system.m if system.is_conjugate_closed(rtol=1e-9) else 2 * system.m
    sv = np.linalg.svd(W, compute_uv=False)
    hsv = details["hsv"] if "hsv" in details else fir_hankel_singular_values(W)
    tail = sv[r:]
    return ModalFit(
        system=system, method=method, order=order, real_dimension=r, weights=W,
        weights_hat=W_hat,
        error_2=float(np.linalg.norm(E, 2)), error_fro=float(np.linalg.norm(E)),
        lower_bound_2=float(tail[0]) if tail.size else 0.0,
        lower_bound_fro=float(np.sqrt(np.sum(tail ** 2))),
        hankel_lower_bound=float(hsv[r]) if r < hsv.size else 0.0,
        upper_bound=2.0 * distinct_tail_sum(hsv, r),
        weight_sv=sv, hsv=hsv, details=details)


def _exact(W: np.ndarray, order: int, rtol: float | None):
    """Ho-Kalman realization from the free-tail Hankel pair, diagonalised."""
    Q, N = W.shape
    if N < 3:
        raise OrderError(f"weights: the exact method needs at least 3 lags to identify a "
                         f"realization (a rank-1 Hankel pair), found N = {N}")
    H0 = block_hankel(W, tail="free")
    H1 = block_hankel(W, tail="free", shift=1)
    U, S, Vh = np.linalg.svd(H0, full_matrices=False)
    if S[0] == 0:
        raise OrderError("weights: all weights are zero; there is nothing to realise")
    rtol = max(H0.shape) * _EPS if rtol is None else rtol
    cut = rtol * S[0]
    n = int(np.sum(S > cut))
    if n > order:
        raise OrderError(
            f"weights: the block Hankel matrix [a_(i+j)] has numerical rank {n} > order = "
            f"{order} (cut {cut:.3g}); no {order}-mode memory reproduces these weights exactly "
            f"(THEORY §4, T1). Use order >= {n}, or method='bt', 'aak' or 'read_once' for the "
            "best approximations")
    if n >= min(H0.shape):
        raise OrderError(
            f"weights: the {H0.shape[0]} x {H0.shape[1]} Hankel matrix built from N = {N} lags has "
            f"full rank {n}, so N lags do not determine an exact realization; supply at least "
            f"{2 * n + 2} lags, or use an approximation method ('bt', 'aak', 'read_once')")
    sq = np.sqrt(S[:n])
    Un, Vn = U[:, :n], Vh[:n].conj().T
    A = (Un.conj().T @ H1 @ Vn) / sq[:, None] / sq[None, :]
    B = (sq[:, None] * Vn.conj().T)[:, :1]
    C = (Un * sq[None, :])[:Q, :]
    # A from data perturbed at the rank cut (or the SVD's rounding) is perturbed by about that
    # much divided by the smallest kept Hankel singular value.
    eta = max(cut, max(H0.shape) * _EPS * S[0]) / S[n - 1]
    _check_distinct_poles(A, eta, n)
    system, kappa = _diagonalise(A, B, C, f"the minimal realization (order {n})")
    W_hat = system.impulse_response(N)[:, :, 0].T.real
    rel = np.linalg.norm(W - W_hat) / np.linalg.norm(W)
    # An identified realization reproduces the data to O(kappa * cut); a rank read off too few
    # lags misses them at O(1). sqrt(eps) separates the two regimes by orders of magnitude.
    if rel > np.sqrt(_EPS):
        raise OrderError(
            f"weights: the order-{n} realization read off the Hankel matrix of N = {N} lags "
            f"misses the weights (relative error {rel:.3g}); the lags do not determine it. "
            "Supply more lags or use an approximation method")
    return system, {"hankel_rank": n, "rank_cut": cut, "hankel_sv": S,
                    "eigenvector_condition": kappa}


#: Poles closer than this many times the sum of their first-order perturbation bounds are one
#: repeated pole. A Jordan block of size k perturbed by E splits into poles ~||E||^(1/k) apart
#: with condition numbers ~||E||^(1/k - 1), so separation / bound ~ ||E|| / eta <= 1 whenever
#: eta bounds the actual perturbation (measured 1e-4..5e-2 for split double poles); distinct
#: poles a gap g apart have ratio ~g^2 / eta (measured 52 at g = 1e-5, 8e3 at g = 1e-4).
_SEPARATION = 1.0


def _check_distinct_poles(A, eta: float, n: int) -> None:
    """Refuse a realization whose poles are not resolved from each other (a Jordan block).

    Each eigenvalue of ``A + E`` with ``||E|| <= eta ||A||`` lies within ``kappa_i eta ||A||`` of
    an eigenvalue of ``A`` (first order; ``kappa_i = ||x_i|| ||y_i|| / |y_i^H x_i|`` from the
    left and right eigenvectors). Two computed poles whose separation is within the sum of
    their bounds (times ``_SEPARATION``) cannot be told apart from one repeated pole:
    the data's (nearly) confluent term ``p(tau) lambda^tau`` has no diagonal realization, and a
    modal fit of it, though close on the N lags, would carry gains ~1/separation.
    """
    import scipy.linalg as sla

    if n < 2:
        return
    lam, yl, xr = sla.eig(A, left=True, right=True)
    dots = np.abs(np.sum(yl.conj() * xr, axis=0))
    norms = np.linalg.norm(yl, axis=0) * np.linalg.norm(xr, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        kappa = np.where(dots > 0, norms / dots, np.inf)
    radius = kappa * eta * max(np.linalg.norm(A, 2), _EPS)
    gap = np.abs(lam[:, None] - lam[None, :])
    np.fill_diagonal(gap, np.inf)
    with np.errstate(invalid="ignore"):  # inf / inf for two infinitely ill-conditioned poles
        ratio = gap / (_SEPARATION * (radius[:, None] + radius[None, :]))
    ratio = np.where(np.isnan(ratio), 0.0, ratio)
    np.fill_diagonal(ratio, np.inf)
    i, j = np.unravel_index(int(np.argmin(ratio)), ratio.shape)
    if not ratio[i, j] > 1:
        raise DefectiveError(
            f"weights: the minimal realization (order {n}) has a repeated pole: lambda = "
            f"{lam[i]:.6g} and {lam[j]:.6g} are {gap[i, j]:.2g} apart, within "
            f"their perturbation bounds ({radius[i]:.2g}, {radius[j]:.2g}), so the weights contain "
            "polynomial-times-exponential terms p(tau) lambda^tau (e.g. tau lambda^tau, or an exact "
            "lookup at lag L whose L+1 poles all sit at 0). No modal memory reproduces them "
            "exactly: use method='bt' or 'aak' (or 'auto')")


def _diagonalise(A, B, C, what: str):
    """``(A, B, C)`` in modal form ``(log eig A, X^-1 B, C X)``; refuses defective or unstable A."""
    lam, X = np.linalg.eig(A)
    kappa = float(np.linalg.cond(X))
    # Eigenvector condition beyond 1/sqrt(eps): the diagonal form loses more than half the digits;
    # this is the signature of a (numerically) repeated pole, i.e. a Jordan block.
    if not np.isfinite(kappa) or kappa > 1 / np.sqrt(_EPS):
        raise DefectiveError(
            f"weights: {what} is not diagonalisable (eigenvector condition {kappa:.3g}): the "
            "weights contain polynomial-times-exponential terms p(tau) lambda^tau with repeated "
            "poles (e.g. an exact lookup at lag L, whose L+1 poles all sit at 0). A modal memory "
            "can only approximate them: use method='bt' or 'aak'")
    mod = np.abs(lam)
    if np.any(mod >= 1):
        i = int(np.argmax(mod))
        raise UnstableError(
            f"weights: {what} has a pole lambda = {lam[i]:.6g} with |lambda| = {mod[i]:.6g} >= 1; "
            "weights that do not decay with the lag have no stable modal memory. Use an "
            "approximation method on the N given lags")
    with np.errstate(divide="ignore"):
        s = np.where(lam == 0, complex(-np.inf, 0.0), np.log(lam.astype(complex)))
    return ModalSystem(s, np.linalg.solve(X, B), C @ X), kappa


def _reduction(name: str):
    try:
        from .. import reduction
    except ImportError as exc:
        raise MethodError(
            f"method: this method needs mccc_theory.reduction.{name} (THEORY §3, the reduction "
            "module), which is not available in this installation; use method='exact' or 'bt', "
            "or compute the bounds with mccc_theory.attention.bounds") from exc
    fn = getattr(reduction, name, None)
    if fn is None:
        raise MethodError(f"method: mccc_theory.reduction has no {name}(); this method needs it")
    return fn


def _to_modal(reduced, method: str) -> ModalSystem:
    if reduced.D is not None and np.any(reduced.D != 0):
        raise MethodError(f"method: the {method} model has a feedthrough D, which a modal memory "
                          "cannot hold (lag 0 enters through the modes)")
    return _reduction("to_modal")(StateSpace(reduced.A, reduced.B, reduced.C)).system


def _bt(W, order):
    """Square-root balanced truncation of the FIR system, specialised to its shift register.

    The shift-register realization has ``Wc = I`` and ``Wo = H^T H`` (H the zero-tail block
    Hankel matrix), so with ``H = U S V^T`` the square-root method's projections are
    ``T = V_r S_r^-1/2`` and ``W^T = S_r^1/2 V_r^T``: ``A_r = S^1/2 V_r^T A V_r S^-1/2``,
    ``B_r = S^1/2 V_r^T e_0``, ``C_r = W V_r S^-1/2`` (Kung's algorithm). One SVD, ``O(Q N^3)``,
    instead of two dense Stein solves per order; the tests check it against
    :func:`mccc_theory.reduction.balanced_truncation` on the same system.
    """
    _, S, Vt = np.linalg.svd(block_hankel(W, tail="zero"), full_matrices=False)
    rank = int(np.sum(S > S.size * _EPS * S[0]))
    if order > rank:
        raise OrderError(f"order: balanced truncation needs order <= {rank}, the numerical rank "
                         f"of the Hankel operator of these weights, found {order}; order {rank} "
                         "is already exact to rounding")
    # Same grouping rule as mccc_theory.reduction (relative 1e-9): truncating inside a repeated
    # Hankel singular value makes the reduced model depend on rounding.
    if order < S.size and S[order - 1] - S[order] <= 1e-9 * S[order - 1]:
        raise OrderError(
            f"order: {order} splits the repeated Hankel singular value sigma_{order} = "
            f"sigma_{order + 1} = {S[order]:.6g}; balanced truncation is not defined there (for an "
            "exact lookup at lag L every order <= L does, T4: no such memory gets below 100%)")
    V = Vt[:order].T
    sq = np.sqrt(S[:order])
    A = (sq[:, None] * (V[1:].T @ V[:-1])) / sq[None, :]  # V^T (lower shift) V
    B = (sq * V[0])[:, None]
    C = (W @ V) / sq[None, :]
    system, kappa = _diagonalise(A, B, C, f"the order-{order} balanced truncation")
    return system, {"eigenvector_condition": kappa, "hsv": S}


def _aak(W, order):
    # The FIR shift register has exactly known Gramian factors (identity for the reachability
    # side, the transposed block Hankel matrix for the observability side); passing them makes
    # Glover's construction exact to rounding instead of sqrt(eps) from computed Gramians.
    factors = (np.eye(W.shape[1]), block_hankel(W, tail="zero").T)
    res = _reduction("hankel_norm_approximation")(fir_system(W), order, factors=factors)
    return _to_modal(res.reduced, "aak"), {"reduction": res, "hankel_error": res.hankel_error}


def _read_once(W, order):
    res = _reduction("read_once_projection")(fir_system(W), W, W.shape[1], order)
    try:
        system = _to_modal(res.truncated_recurrence(), "read_once")
    except DefectiveError as exc:
        raise DefectiveError(
            f"order: the order-{order} recurrence truncated in the read-once coordinates has a "
            f"(numerically) repeated pole, so it has no modal form ({exc}). The projection of the "
            f"final state itself attains sigma_{order + 1}(W) = {res.error_2:.6g} "
            "(mccc_theory.reduction.read_once_projection); for a modal memory use another order "
            "or method='bt' or 'aak'") from exc
    return (system,
            {"reduction": res, "projection_error_2": res.error_2,
             "projection_error_fro": res.error_fro})


def _check_fit(fit, name: str = "fit") -> ModalFit:
    if not isinstance(fit, ModalFit):
        raise DTypeError(f"{name}: expected a ModalFit (the result of fit_modal), found "
                         f"{type(fit).__name__}; fit the weights first: fit_modal(weights, order)")
    return fit


def _real_part_system(sysm: ModalSystem) -> ModalSystem:
    """Modes ``[s, conj s]`` with ``B' = [B; conj B]``, ``C' = [C, conj C] / 2``: Markov
    parameters ``Re(C Lambda^tau B)`` exactly, the weights a fit realises."""
    return ModalSystem(np.r_[sysm.s, sysm.s.conj()], np.vstack([sysm.B, sysm.B.conj()]),
                       0.5 * np.hstack([sysm.C, sysm.C.conj()]))


def error_system(fit: ModalFit) -> StateSpace:
    """The streaming error ``G - G_hat`` (FIR system of the weights minus the fit) as a StateSpace.

    Order ``N + r``; both parts in the MCCC convention, so the error's Markov parameters are
    ``a_tau - C Lambda^tau B`` (and ``-C Lambda^tau B`` for ``tau >= N``). Feed it to
    :mod:`mccc_theory.norms` for the H-infinity and Hankel norms of T3.

    Raises
    ------
    DTypeError
        If ``fit`` is not a :class:`ModalFit`.
    """
    fit = _check_fit(fit)
    G = fir_system(fit.weights)
    sysm = fit.system
    n, r = G.n, sysm.m
    A = np.zeros((n + r, n + r), complex)
    A[:n, :n] = G.A
    A[n:, n:] = np.diag(sysm.lam)
    B = np.vstack([G.B.astype(complex), sysm.B])
    C = np.hstack([G.C.astype(complex), -sysm.C])
    return StateSpace(A, B, C)


def hankel_error(fit: ModalFit, *, max_lags: int = 4096) -> tuple[float, float]:
    """Bracket ``(lower, upper)`` on the Hankel norm ``||G - G_hat||_H`` of a fit's streaming error.

    ``G`` is the FIR system of the weights, ``G_hat`` the fit's modal memory with Markov
    parameters ``Re(C Lambda^tau B)``; the error's Hankel operator is ``[e_{i+j}]_{i,j>=0}``,
    ``e_tau = a_tau - Re(C Lambda^tau B)`` (``a_tau = 0`` for ``tau >= N``).

    Parameters
    ----------
    fit : ModalFit
    max_lags : int >= 1
        Most block rows ``T`` written out explicitly (``T >= N`` always); the rest of the
        operator enters exactly through a Gramian factor, so ``max_lags`` trades accuracy for
        cost, not correctness.

    Returns
    -------
    (lower, upper) : floats
        ``lower <= ||G - G_hat||_H <= upper``. The width is the rounding allowance (first-order
        effect of the Gramian factors' residuals plus the SVD's backward error), typically
        ``~1e-14`` relative to ``sigma_1``.

    Raises
    ------
    DTypeError
        ``fit`` is not a :class:`ModalFit`, or ``max_lags`` not an integer.
    OrderError
        ``max_lags < 1``.

    Notes
    -----
    The error system ``[x; h]`` (shift register of the last N inputs, modes of the fit) has
    exact Gramian factors apart from the modal tails: ``Wc = Lc Lc^H`` with
    ``Lc = [[I_N, 0], [K_N, Lambda^N L_h]]``, ``K_N = [b, lambda b, ..., lambda^(N-1) b]``, and
    ``Wo = Lo Lo^H`` with ``Lo^H`` the block rows ``[W S^i, -C Lambda^i]`` for ``i < T`` and
    ``-L_o^H Lambda^T`` below (``L_h``, ``L_o`` factors of the modal Gramians, closed form).
    ``M = Lo^H Lc`` is ``[[e_{i+j}] (i < T, j < N), ...]``: its largest singular value is the
    Hankel norm, exactly. Only the tail factors come from factoring a Gramian; they are damped
    by ``rho^N`` and ``rho^T`` (``rho = max |lambda|``), and ``T = N`` plus enough lags for
    ``rho^(T - N) <= 1e-4`` (at most ``max(max_lags, N)``). One SVD of a
    ``(Q T + 2m) x (N + 2m)`` matrix: ``O(Q T (N + m)^2)``, milliseconds where the explicit
    ``T x T`` section of a slowly decaying fit took minutes.
    """
    from ..gramians import controllability_gramian, observability_gramian

    fit = _check_fit(fit)
    max_lags = check_positive_int(max_lags, "max_lags")
    W = fit.weights
    Q, N = W.shape
    half = _real_part_system(fit.system)
    lam = half.lam
    rho = float(np.max(np.abs(lam)))
    Wc_h = controllability_gramian(half)
    Wo_h = observability_gramian(half)
    Lh, Lo = _scaled_factor(Wc_h), _scaled_factor(Wo_h)
    sigma, d_round, d_c, d_o = _hankel_error_at(W, half, Lh, Lo, Wc_h, Wo_h, N)
    cap = max(max_lags, N)
    if d_o > d_round + d_c and cap > N and 0 < rho:
        # the observability tail dominates the width: write out lags until rho^(T - N) <= 1e-4
        T = int(min(N + np.ceil(np.log(1e-4) / np.log(rho)), cap))
        sigma, d_round, d_c, d_o = _hankel_error_at(W, half, Lh, Lo, Wc_h, Wo_h, T)
    delta = d_round + d_c + d_o
    return max(sigma - delta, 0.0), sigma + delta


def _scaled_factor(G: np.ndarray) -> np.ndarray:
    """Factor ``L L^H = G`` of a modal Gramian computed on ``G / (d d^T)``, ``d = sqrt(diag G)``.

    The factor's residual is then ``~eps d_i d_j`` entry by entry (relative to each mode's own
    size) instead of ``eps ||G||`` everywhere: a weak, slow mode keeps its digits next to a
    strong, fast one.
    """
    from ..gramians import gramian_factor

    d = np.sqrt(np.maximum(np.diag(G).real, 0.0))
    d = np.where(d > 0, d, 1.0)
    return d[:, None] * gramian_factor(G / d[:, None] / d[None, :], method="eigh").L


def _hankel_error_at(W, half, Lh, Lo, Wc_h, Wo_h, T):
    """``(sigma, rounding allowance, Lh allowance, Lo allowance)`` for T block rows (T >= N)."""
    Q, N = W.shape
    b, C = half.B[:, 0], half.C
    m = b.size
    P = modal_powers(half.s, np.arange(T + N + 1))  # lambda^k, (T + N + 1, m)

    def blocks(C, P, b, W, Lh, Lo):
        """M = Lo^H Lc in blocks (see hankel_error's Notes)."""
        e = -(np.einsum("qm,km,m->kq", C, P[:T + N], b))  # (T + N, Q): -C Lambda^k b
        e[:N] += W.T
        idx = np.arange(T)[:, None] + np.arange(N)[None, :]
        top_left = e[idx].transpose(0, 2, 1).reshape(T * Q, N)  # e_{i+j}, rows (block i, query)
        top_right = -(np.einsum("qm,im->iqm", C, P[N:N + T]).reshape(T * Q, m) @ Lh)
        bottom_left = -(Lo.conj().T @ (P[T][:, None] * (P[:N].T * b[:, None])))
        bottom_right = -(Lo.conj().T @ ((P[T] * P[N])[:, None] * Lh))
        return np.block([[top_left, top_right], [bottom_left, bottom_right]])

    M = blocks(C, P, b, W, Lh, Lo)
    sigma = float(np.linalg.norm(M, 2))
    # Rounding allowance, first order. (1) Forming M: each entry is a sum of at most m + 1
    # products, so |fl(M) - M| <= 2 (m + 1) eps |M|_abs (the same blocks from absolute values).
    Mabs = -blocks(np.abs(C), np.abs(P), np.abs(b), -np.abs(W), np.abs(Lh), np.abs(Lo))
    d_form = 2 * (m + 1) * _EPS * float(np.linalg.norm(Mabs))
    # (2) The SVD: LAPACK's bound p(r, c) eps sigma_1 with p = sqrt(r c).
    d_svd = np.sqrt(M.shape[0] * M.shape[1]) * _EPS * sigma
    # (3) The tail factors. sigma^2 = lambda_max(Lo^H Lc Lc^H Lo) depends on Lc only through
    # Lc Lc^H; an error D in the modal tail block Lambda^N L_h L_h^H Lambda^N^H moves sigma^2 by
    # at most ||Wo_h|| ||D|| (the modal columns of Lo^H have Gram matrix Wo_h); likewise for Lo
    # with Wc_h. ||D||: the damped residual plus its own rounding and the closed-form Gramian's
    # (16 m eps, elementwise).
    def resid(L, G, k):
        D = np.abs(P[k])[:, None] * np.abs(P[k])[None, :]
        R = P[k][:, None] * (L @ L.conj().T - G) * P[k].conj()[None, :]
        return float(np.linalg.norm(R, 2) + 16 * m * _EPS * np.linalg.norm(
            D * (np.abs(L) @ np.abs(L).T + np.abs(G))))

    def shift(X):  # |sigma'^2 - sigma^2| <= X  =>  |sigma' - sigma| <= min(X / sigma, sqrt X)
        return float(min(X / sigma, np.sqrt(X)) if sigma > 0 else np.sqrt(X))

    d_c = shift(np.linalg.norm(Wo_h, 2) * resid(Lh, Wc_h, N))
    d_o = shift(np.linalg.norm(Wc_h, 2) * resid(Lo, Wo_h, T))
    return sigma, float(d_form + d_svd), d_c, d_o
