"""Discrete-time linear systems in the MCCC convention, modal and dense.

Convention (THEORY §0, used everywhere in mccc-theory)::

    h_t = A h_{t-1} + B u_t,     h_0 given (default 0),
    y_t = C h_t + D u_t,

so the state after consuming ``u_t`` already contains it and lag 0 (the newest token) enters
undecayed: ``y_N = sum_{tau>=0} C A^tau B u_{N-tau} + D u_N``. The Markov parameters are
``C A^tau B`` for ``tau = 0, 1, ...`` (plus ``D`` at lag 0), and the Hankel operator of the system
is ``[C A^(i+j) B]_{i,j>=0}`` (it includes lag 0). The textbook form
``x_{t+1} = A x_t + B u_t, y_t = C x_t + D u_t`` realises the same input/output map with
``(A, B, C A, C B + D)``; :meth:`ModalSystem.to_textbook` and :meth:`StateSpace.to_textbook`
convert explicitly, and python-control objects are always textbook objects.

A :class:`StateSpace` carries its convention: ``convention="textbook"`` (what
:meth:`StateSpace.from_control` returns, and what every function taking a system makes of a
``control.StateSpace``) is ``x_{t+1} = A x_t + B u_t, y_t = C x_t + D u_t`` with the textbook
Hankel operator ``[C A^(i+j) B]`` of ``(A, B, C, D)``: the Hankel singular values, Gramians
and reduced models of MATLAB and SLICOT. Both conventions share the Gramian formulas of
``(A, B, C)``, so Hankel quantities need no conversion; the input/output map (impulse
response, simulation, frequency response) differs, and :meth:`StateSpace.to_mccc` gives an
MCCC realization of a textbook system's map.

:class:`ModalSystem` stores the log-eigenvalues ``s = log(lambda)`` of a diagonal ``A``; every
precision-critical computation (Gramians, long-horizon decay) uses ``s``, never rounded
``lambda``. :class:`StateSpace` is a dense system in the same convention.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import DefectiveError, NotRealError, ShapeError, UnstableError
from .validation import as_array, check_choice, check_log_eigenvalues, check_positive_int

__all__ = ["ModalSystem", "StateSpace", "modal_powers", "check_stable_system", "like_input",
           "CONVENTIONS"]

#: The two state-space conventions: ``"mccc"`` (``h_t = A h_{t-1} + B u_t, y_t = C h_t + D u_t``)
#: and ``"textbook"`` (``x_{t+1} = A x_t + B u_t, y_t = C x_t + D u_t``).
CONVENTIONS = ("mccc", "textbook")


def modal_powers(s: np.ndarray, lags: np.ndarray) -> np.ndarray:
    """``lambda_i ** tau`` as ``exp(tau * s_i)`` for integer lags (shape ``lags.shape + s.shape``).

    Lag 0 gives exactly 1, also for ``lambda = 0`` (``s = -inf``), where ``0 * -inf`` would be NaN.
    """
    lags = np.asarray(lags)
    tau = lags[..., None].astype(np.float64)
    with np.errstate(invalid="ignore"):
        out = np.exp(tau * s.real) * np.exp(1j * (tau * s.imag))
    return np.where(tau == 0, 1.0 + 0j, out)


def _is_control(system) -> bool:
    """True for a python-control ``StateSpace`` (without importing control when it is absent)."""
    mod = type(system).__module__ or ""
    if not mod.startswith("control"):
        return False
    import control

    return isinstance(system, control.StateSpace)


def check_stable_system(system, name: str = "system", *, convention: str | None = None):
    """Return a stable ModalSystem or StateSpace for ``system``.

    Parameters
    ----------
    system : ModalSystem, StateSpace or control.StateSpace
        A python-control object becomes a textbook-convention :class:`StateSpace`
        (:meth:`StateSpace.from_control`, ``dt`` kept).
    name : str
        The argument's name in error messages.
    convention : {None, "any", "mccc"}
        What the caller computes with. ``"any"``: Hankel quantities of ``(A, B, C)`` with ``D``
        kept (Gramians, Hankel singular values, balanced truncation), the same formulas in both
        conventions, so the system comes back in its own convention. ``"mccc"``: the MCCC
        input/output map (norms, responses), so a textbook system is replaced by
        :meth:`StateSpace.to_mccc`, a realization of the same map. ``None``: the caller reads
        the matrices in the MCCC convention and has not said which kind it computes, so a
        textbook system is refused (with how to convert it) rather than misread.

    Raises
    ------
    ShapeError
        For other types, or (``convention=None``) a textbook system. :class:`UnstableError`
        naming the eigenvalue of largest modulus for an unstable dense system;
        :class:`NotRealError` for a continuous-time control object.
    """
    if convention is not None:
        check_choice(convention, "convention", ("mccc", "any"))
    if _is_control(system):
        system = StateSpace.from_control(system, name=name)
    if isinstance(system, ModalSystem):
        return system
    if isinstance(system, StateSpace):
        system.check_stable(name)
        if system.convention == "textbook":
            if convention is None:
                raise ShapeError(
                    f"{name}: a textbook-convention system (x_(t+1) = A x_t + B u_t, e.g. from "
                    "python-control) where this function reads the MCCC convention; pass "
                    f"{name}.to_mccc() for its input/output map (norms, responses) or "
                    f"{name}.with_convention('mccc') for the Gramians and Hankel singular values "
                    "of (A, B, C), which are the textbook ones")
            if convention == "mccc":
                return system.to_mccc()
        return system
    raise ShapeError(f"{name}: expected a ModalSystem or StateSpace (or a discrete-time "
                     f"control.StateSpace), found {type(system).__name__}")


def like_input(original, result: StateSpace):
    """``result`` in the form of the user's ``original``: a ``control.StateSpace`` (``dt`` kept)
    for a python-control input, else ``result`` itself (its convention is the input's)."""
    if _is_control(original):
        return result.to_control()
    return result


def _check_input(u, p: int) -> np.ndarray:
    """Inputs ``u`` as an (N, p) array (a 1-d sequence is accepted for p = 1)."""
    u = as_array(u, "u")
    if u.ndim == 1 and p == 1:
        u = u[:, None]
    if u.ndim != 2 or u.shape[1] != p:
        raise ShapeError(f"u: expected shape (N, p) with p = {p}, found {u.shape}")
    return u


def _check_matrices(B, C, D, m: int, *, complex_ok: bool = True):
    B = as_array(B, "B", complex_ok=complex_ok)
    if B.ndim == 1:
        B = B[:, None]
    if B.ndim != 2 or B.shape[0] != m:
        raise ShapeError(f"B: expected shape (m, p) with m = {m} modes/states, found {B.shape}")
    C = as_array(C, "C", complex_ok=complex_ok)
    if C.ndim == 1:
        C = C[None, :]
    if C.ndim != 2 or C.shape[1] != m:
        raise ShapeError(f"C: expected shape (q, m) with m = {m} modes/states, found {C.shape}")
    if D is not None:
        D = as_array(D, "D", complex_ok=complex_ok, allow_empty=True)
        if D.shape != (C.shape[0], B.shape[1]):
            raise ShapeError(f"D: expected shape (q, p) = {(C.shape[0], B.shape[1])}, "
                             f"found {D.shape}")
    return B, C, D


@dataclass(frozen=True, eq=False)
class ModalSystem:
    """Diagonal discrete-time system ``h_t = diag(exp(s)) h_{t-1} + B u_t, y_t = C h_t + D u_t``.

    Parameters
    ----------
    s : (m,) complex
        Log-eigenvalues ``s_i = log(lambda_i)``, ``Re s_i < 0`` (``-inf`` allowed for
        ``lambda_i = 0``). This is the primary data; ``lam`` is derived.
    B : (m, p) complex
    C : (q, m) complex
    D : (q, p) complex, optional
        Feedthrough (defaults to none, i.e. zero).

    Raises
    ------
    UnstableError
        If some ``Re s_i >= 0``; the message names the mode and its modulus.
    ShapeError, NonFiniteError, EmptyInputError, DTypeError
        For malformed arrays.
    """

    s: np.ndarray
    B: np.ndarray
    C: np.ndarray
    D: np.ndarray | None = None

    def __post_init__(self):
        s = check_log_eigenvalues(self.s, "s")
        B, C, D = _check_matrices(self.B, self.C, self.D, s.shape[0])
        for name, val in (("s", s), ("B", B.astype(np.complex128)), ("C", C.astype(np.complex128)),
                          ("D", None if D is None else D.astype(np.complex128))):
            if val is not None:
                val.setflags(write=False)
            object.__setattr__(self, name, val)

    # -- constructors -------------------------------------------------------------------------
    @classmethod
    def from_params(cls, nu, theta, B, C, D=None) -> ModalSystem:
        """Build from the log-polar parameters ``lambda = exp(-exp(nu) + i theta)`` (THEORY §1).

        Every real ``nu`` gives a stable mode; ``exp(-nu)`` is the e-folding timescale in steps.
        """
        nu = as_array(nu, "nu", ndim=1, complex_ok=False)
        theta = as_array(theta, "theta", ndim=1, complex_ok=False)
        if nu.shape != theta.shape:
            raise ShapeError(f"theta: expected the shape of nu {nu.shape}, found {theta.shape}")
        return cls(-np.exp(nu) + 1j * theta, B, C, D)

    @classmethod
    def from_eigenvalues(cls, lam, B, C, D=None) -> ModalSystem:
        """Build from eigenvalues ``lambda`` (|lambda| < 1); stores ``s = log(lambda)``.

        Prefer :meth:`from_params` or the log-eigenvalues directly when ``1 - |lambda|`` is
        tiny: the rounding of ``lambda`` itself costs ``eps / (1 - |lambda|)`` relative accuracy
        in ``Re s``.
        """
        lam = as_array(lam, "lam", ndim=1).astype(np.complex128)
        mod = np.abs(lam)
        if np.any(mod >= 1):
            i = int(np.argmax(mod >= 1))
            raise UnstableError(f"lam: mode {i} has |lambda| = {mod[i]:.17g} >= 1; MCCC needs "
                                "|lambda| < 1 for every mode")
        with np.errstate(divide="ignore"):
            s = np.log(lam)
        s = np.where(lam == 0, complex(-np.inf, 0.0), s)
        return cls(s, B, C, D)

    # -- derived quantities -------------------------------------------------------------------
    @property
    def lam(self) -> np.ndarray:
        """Eigenvalues ``exp(s)`` (derived; do not use for precision-critical work)."""
        return modal_powers(self.s, np.ones(1))[0]

    @property
    def m(self) -> int:
        return self.s.shape[0]

    @property
    def n_inputs(self) -> int:
        return self.B.shape[1]

    @property
    def n_outputs(self) -> int:
        return self.C.shape[0]

    @property
    def D_or_zero(self) -> np.ndarray:
        return np.zeros((self.n_outputs, self.n_inputs), complex) if self.D is None else self.D

    def spectral_radius(self) -> float:
        """``max |lambda_i| = exp(max Re s_i)``, from the log-eigenvalues (exact to the rounding of
        one exp, also where ``1 - |lambda|`` is tiny); 0 for a system whose modes are all
        ``lambda = 0``."""
        return float(np.exp(np.max(self.s.real)))

    def impulse_response(self, n: int) -> np.ndarray:
        """Markov parameters ``G[tau] = C Lambda^tau B`` (+ ``D`` at ``tau = 0``), shape (n, q, p)."""
        n = check_positive_int(n, "n")
        P = modal_powers(self.s, np.arange(n))  # (n, m)
        G = np.einsum("qm,tm,mp->tqp", self.C, P, self.B)
        G[0] += self.D_or_zero
        return G

    def final_state(self, u, h0=None) -> np.ndarray:
        """``h_N = Lambda^N h_0 + sum_t Lambda^(N-t) B u_t`` for ``u`` of shape (N, p) -> (m,)."""
        u = _check_input(u, self.n_inputs)
        N = u.shape[0]
        P = modal_powers(self.s, np.arange(N)[::-1])  # lag N - t for t = 1..N
        h = np.einsum("tm,mp,tp->m", P, self.B, u)
        if h0 is not None:
            h = h + modal_powers(self.s, np.array([N]))[0] * self._check_h0(h0)
        return h

    def simulate(self, u, h0=None, *, return_states: bool = False):
        """Run the recurrence on ``u`` (N, p): outputs ``y`` (N, q) and optionally states (N, m).

        A sequential loop in complex128: the reference against which the kernels are checked.
        """
        u = _check_input(u, self.n_inputs)
        lam = self.lam
        h = np.zeros(self.m, complex) if h0 is None else self._check_h0(h0).copy()
        states = np.empty((u.shape[0], self.m), complex)
        Bu = u @ self.B.T
        for t in range(u.shape[0]):
            h = lam * h + Bu[t]
            states[t] = h
        y = states @ self.C.T + u @ self.D_or_zero.T
        return (y, states) if return_states else y

    # -- conversions --------------------------------------------------------------------------
    def to_state_space(self) -> StateSpace:
        """Dense :class:`StateSpace` with ``A = diag(lambda)`` in the same (MCCC) convention."""
        return StateSpace(np.diag(self.lam), self.B, self.C, self.D)

    def to_textbook(self):
        """``(A, B, C, D) = (Lambda, B, C Lambda, C B + D)``: the same map in textbook form."""
        return self.to_state_space().to_textbook()

    def is_conjugate_closed(self, *, rtol: float = 1e-12) -> bool:
        """True if modes come in conjugate pairs (or are real) with conjugate B rows / C columns.

        Then the input/output map is real and :meth:`real_realization` has order ``m``.
        ``rtol`` is relative to the largest entry of each array (a few ulps of rounding).
        """
        return _conjugate_permutation(self, rtol) is not None

    def real_realization(self, *, rtol: float = 1e-12) -> StateSpace:
        """Real block-diagonal :class:`StateSpace` of order ``m`` with the same input/output map.

        Each conjugate pair ``a +- ib`` becomes the block ``[[a, -b], [b, a]]`` through the unitary
        map ``[h, conj(h)] -> sqrt(2) [Re h, Im h]``, so Gramians transform unitarily and the Hankel
        singular values are unchanged. Raises :class:`NotRealError` if the system is not
        conjugate-closed; :meth:`real_embedding` handles the general complex case.
        """
        perm = _conjugate_permutation(self, rtol)
        if perm is None:
            raise NotRealError(
                "system: expected conjugate-closed modes (pairs lambda, conj(lambda) with conjugate "
                "B rows and C columns) for a real realization of the same order; this system's "
                "map is complex. Use real_embedding() for the order-2m real embedding")
        T = _realification(self.m, perm)  # unitary, h_real = T h
        A = (T @ np.diag(self.lam) @ T.conj().T).real
        B = (T @ self.B).real
        C = (self.C @ T.conj().T).real
        D = None if self.D is None else self.D.real
        return StateSpace(A, B, C, D)

    def realification(self, *, rtol: float = 1e-12) -> np.ndarray:
        """The unitary ``T`` of :meth:`real_realization`: real state ``= T h`` (conjugate-closed only).

        Gramians map as ``Wc_real = T Wc T^H`` and ``Wo_real = T Wo T^H``.
        """
        perm = _conjugate_permutation(self, rtol)
        if perm is None:
            raise NotRealError("system: expected conjugate-closed modes for a realification; "
                               "use real_embedding() for complex maps")
        return _realification(self.m, perm)

    def real_embedding(self) -> StateSpace:
        """Real system of order ``2m`` mapping ``[Re u; Im u]`` to ``[Re y; Im y]``.

        Its Hankel singular values are those of this system, each repeated twice.
        """
        return self.to_state_space().real_embedding()

    def _check_h0(self, h0) -> np.ndarray:
        h0 = as_array(h0, "h0", ndim=1).astype(complex)
        if h0.shape != (self.m,):
            raise ShapeError(f"h0: expected shape ({self.m},), found {h0.shape}")
        return h0

    def __repr__(self) -> str:
        # Small systems print every number (17 digits) so a Hypothesis counterexample can be
        # rebuilt from the report; large ones print a summary.
        if self.m * (1 + self.n_inputs + self.n_outputs) <= 96:
            def fmt(a):
                return np.array2string(a, precision=17, separator=", ", max_line_width=10**6)

            d = "" if self.D is None else f", D={fmt(self.D)}"
            return f"ModalSystem(s={fmt(self.s)}, B={fmt(self.B)}, C={fmt(self.C)}{d})"
        return (f"ModalSystem(m={self.m}, p={self.n_inputs}, q={self.n_outputs}, "
                f"max|lambda|={np.max(np.abs(self.lam)):.6g})")


def _conjugate_permutation(sys: ModalSystem, rtol: float):
    """Index ``j(i)`` of the conjugate partner of each mode, or None if there is none.

    Nearest-neighbour pairing of ``lambda`` with ``conj(lambda)`` (k-d tree, ``O(m log m)``),
    verified entry by entry against ``rtol`` (relative to each array's largest entry); ties
    (repeated eigenvalues) fall back to the exhaustive ``O(m^2)`` search.
    """
    from scipy.spatial import cKDTree

    lam, B, C = sys.lam, sys.B, sys.C
    tiny = np.finfo(float).tiny
    _, j = cKDTree(np.c_[lam.real, lam.imag]).query(np.c_[lam.real, -lam.imag])
    i = np.arange(lam.size)
    ok = (np.all(j[j] == i)
          and np.all(np.abs(lam[j] - lam.conj()) <= rtol * max(np.max(np.abs(lam)), tiny))
          and np.all(np.abs(B[j] - B.conj()) <= rtol * max(np.max(np.abs(B)), tiny))
          and np.all(np.abs(C[:, j] - C.conj()) <= rtol * max(np.max(np.abs(C)), tiny))
          and not np.any((j == i) & (np.abs(lam.imag) > rtol * max(np.max(np.abs(lam)), tiny)))
          and (sys.D is None
               or np.max(np.abs(sys.D.imag)) <= rtol * max(np.max(np.abs(sys.D)), 1e-300)))
    return j if ok else _conjugate_pairs_exhaustive(sys, rtol)


def _conjugate_pairs_exhaustive(sys: ModalSystem, rtol: float):
    """Exhaustive pairing (``O(m^2)``), robust to repeated eigenvalues."""
    lam, B, C = sys.lam, sys.B, sys.C
    scale_l = max(np.max(np.abs(lam)), np.finfo(float).tiny)
    scale_b = max(np.max(np.abs(B)), np.finfo(float).tiny)
    scale_c = max(np.max(np.abs(C)), np.finfo(float).tiny)
    if sys.D is not None and np.max(np.abs(sys.D.imag)) > rtol * max(np.max(np.abs(sys.D)), 1e-300):
        return None
    partner = -np.ones(sys.m, int)
    for i in range(sys.m):
        if partner[i] >= 0:
            continue
        for j in range(i, sys.m):
            if partner[j] >= 0 and j != i:
                continue
            if (abs(lam[j] - np.conj(lam[i])) <= rtol * scale_l
                    and np.max(np.abs(B[j] - np.conj(B[i]))) <= rtol * scale_b
                    and np.max(np.abs(C[:, j] - np.conj(C[:, i]))) <= rtol * scale_c):
                if j == i and abs(lam[i].imag) > rtol * scale_l:
                    continue
                partner[i], partner[j] = j, i
                break
        if partner[i] < 0:
            return None
    return partner


def _realification(m: int, partner: np.ndarray) -> np.ndarray:
    """Unitary T with ``T h`` real for conjugate-closed states (pairs -> sqrt2 [Re, Im])."""
    T = np.zeros((m, m), complex)
    done = np.zeros(m, bool)
    for i in range(m):
        if done[i]:
            continue
        j = partner[i]
        if j == i:
            T[i, i] = 1.0
        else:
            r = 1 / np.sqrt(2)
            # rows i, j: Re h_i * sqrt2 = (h_i + h_j)/sqrt2, Im h_i * sqrt2 = (h_i - h_j)/(i sqrt2)
            T[i, i], T[i, j] = r, r
            T[j, i], T[j, j] = -1j * r, 1j * r
        done[i] = done[j] = True
    return T


@dataclass(frozen=True, eq=False)
class StateSpace:
    """Dense discrete-time system in the MCCC (default) or the textbook convention.

    ``convention="mccc"``: ``h_t = A h_{t-1} + B u_t, y_t = C h_t + D u_t``.
    ``convention="textbook"``: ``x_{t+1} = A x_t + B u_t, y_t = C x_t + D u_t`` (MATLAB,
    SLICOT, python-control). In both the Hankel operator is ``[C A^(i+j) B]_{i,j>=0}`` and the
    Gramians are those of ``(A, B, C)``; the input/output maps differ (a textbook system's
    Markov parameters are ``D, C B, C A B, ...``).

    Real or complex. Shapes: ``A`` (n, n), ``B`` (n, p), ``C`` (q, n), ``D`` (q, p) or None.
    ``dt`` is the sampling time of a textbook system (``True`` or a positive float, kept for
    the round trip to python-control); MCCC systems have ``dt=None``. Stability is not
    required at construction (reduction results are checked where they are made); functions
    that need it (Gramians, norms) validate it.
    """

    A: np.ndarray
    B: np.ndarray
    C: np.ndarray
    D: np.ndarray | None = None
    convention: str = "mccc"
    dt: object = None

    def __post_init__(self):
        A = as_array(self.A, "A", ndim=2)
        if A.shape[0] != A.shape[1]:
            raise ShapeError(f"A: expected a square matrix, found shape {A.shape}")
        B, C, D = _check_matrices(self.B, self.C, self.D, A.shape[0])
        dtype = np.result_type(A, B, C, *(() if D is None else (D,)))
        for name, val in (("A", A), ("B", B), ("C", C), ("D", D)):
            if val is not None:
                val = val.astype(dtype)
                val.setflags(write=False)
            object.__setattr__(self, name, val)
        check_choice(self.convention, "convention", CONVENTIONS)
        dt = self.dt
        if self.convention == "textbook":
            dt = True if dt is None else dt
            if dt is not True and not (isinstance(dt, int | float) and not isinstance(dt, bool)
                                       and np.isfinite(dt) and dt > 0):
                raise NotRealError(f"dt: expected True or a sampling time > 0 (discrete time), "
                                   f"found {dt!r}; discretise a continuous system first "
                                   "(control.c2d)")
        elif dt is not None:
            raise ShapeError(f"dt: a sampling time belongs to a textbook system, found dt={dt!r} "
                             "with convention='mccc'; pass convention='textbook'")
        object.__setattr__(self, "dt", dt)

    def _like(self, A, B, C, D) -> StateSpace:
        """A system in this one's convention and sampling time."""
        return StateSpace(A, B, C, D, self.convention, self.dt)

    @property
    def n(self) -> int:
        return self.A.shape[0]

    @property
    def n_inputs(self) -> int:
        return self.B.shape[1]

    @property
    def n_outputs(self) -> int:
        return self.C.shape[0]

    @property
    def is_real(self) -> bool:
        return not np.iscomplexobj(self.A)

    @property
    def D_or_zero(self) -> np.ndarray:
        if self.D is None:
            return np.zeros((self.n_outputs, self.n_inputs), self.A.dtype)
        return self.D

    def spectral_radius(self) -> float:
        return float(np.max(np.abs(np.linalg.eigvals(self.A))))

    def check_stable(self, name: str = "system") -> None:
        """Raise :class:`UnstableError` naming the eigenvalue of largest modulus if it is >= 1."""
        ev = np.linalg.eigvals(self.A)
        i = int(np.argmax(np.abs(ev)))
        if abs(ev[i]) >= 1:
            raise UnstableError(f"{name}: eigenvalue {i} of A is {ev[i]:.6g} with |lambda| = "
                                f"{abs(ev[i]):.17g} >= 1; a stable system is required")

    def impulse_response(self, n: int) -> np.ndarray:
        """Markov parameters, shape (n, q, p): ``C A^tau B`` (+ ``D`` at lag 0) in the MCCC
        convention, ``D, C B, C A B, ...`` in the textbook one."""
        n = check_positive_int(n, "n")
        out = np.empty((n, self.n_outputs, self.n_inputs), np.result_type(self.A, complex)
                       if np.iscomplexobj(self.A) else float)
        k0 = 1 if self.convention == "textbook" else 0
        X = self.B
        for t in range(k0, n):
            out[t] = self.C @ X
            X = self.A @ X
        if k0:
            out[0] = self.D_or_zero
        else:
            out[0] += self.D_or_zero
        return out

    def simulate(self, u, h0=None):
        """Outputs ``y`` (N, q) of the recurrence (in this system's convention) on ``u`` (N, p)."""
        u = _check_input(u, self.n_inputs)
        h = np.zeros(self.n, np.result_type(self.A, u)) if h0 is None else np.asarray(h0)
        y = np.empty((u.shape[0], self.n_outputs), np.result_type(self.A, self.C, u))
        textbook = self.convention == "textbook"
        for t in range(u.shape[0]):
            if not textbook:
                h = self.A @ h + self.B @ u[t]
            y[t] = self.C @ h + self.D_or_zero @ u[t]
            if textbook:
                h = self.A @ h + self.B @ u[t]
        return y

    def transform(self, T) -> StateSpace:
        """Similar system with state ``T h``: ``(T A T^-1, T B, C T^-1, D)``, same convention."""
        T = as_array(T, "T", ndim=2)
        if T.shape != (self.n, self.n):
            raise ShapeError(f"T: expected shape {(self.n, self.n)}, found {T.shape}")
        Ti = np.linalg.inv(T)
        return self._like(T @ self.A @ Ti, T @ self.B, self.C @ Ti, self.D)

    def to_textbook(self):
        """Textbook matrices ``(A, B, C, D)`` of this map: ``(A, B, C A, C B + D)`` from the MCCC
        convention, copies of the matrices for a textbook system."""
        if self.convention == "textbook":
            return self.A.copy(), self.B.copy(), self.C.copy(), self.D_or_zero.copy()
        return self.A.copy(), self.B.copy(), self.C @ self.A, self.C @ self.B + self.D_or_zero

    def to_mccc(self) -> StateSpace:
        """An MCCC-convention system with this input/output map (itself if it is one).

        For a textbook ``(A, B, C, D)``: the order-``(n + p)`` realization
        ``h_t = [x_{t+1}; u_t]``, ``A' = [[A, B], [0, 0]]``, ``B' = [0; I]``, ``C' = [C, D]``,
        ``D' = 0`` (exact, no inversion; ``p`` extra modes at 0). Its own Hankel operator
        ``[D, C B, C A B, ...]`` is the MCCC one of the map, not the textbook one of ``(A, B,
        C, D)``: use it for norms and responses, the system itself for Hankel quantities.
        """
        if self.convention == "mccc":
            return self
        n, p = self.n, self.n_inputs
        dtype = np.result_type(self.A, self.B, self.C, self.D_or_zero)
        A = np.zeros((n + p, n + p), dtype)
        A[:n, :n], A[:n, n:] = self.A, self.B
        B = np.zeros((n + p, p), dtype)
        B[n:] = np.eye(p)
        return StateSpace(A, B, np.hstack([self.C, self.D_or_zero]))

    def with_convention(self, convention: str) -> StateSpace:
        """The same matrices read in ``convention``: the same Hankel operator and Gramians, a
        different input/output map (the delay of the strictly proper part)."""
        convention = check_choice(convention, "convention", CONVENTIONS)
        if convention == self.convention:
            return self
        return StateSpace(self.A, self.B, self.C, self.D, convention,
                          self.dt if convention == "textbook" else None)

    @classmethod
    def from_textbook(cls, A, B, C, D=None, *, rcond: float = 1e-12) -> StateSpace:
        """MCCC-convention system with the input/output map of a textbook ``(A, B, C, D)``.

        Uses ``C_mccc = C A^-1``, ``D_mccc = D - C A^-1 B``; needs ``A`` invertible (reciprocal
        condition number above ``rcond``), since an MCCC state already contains the newest input.
        """
        A = as_array(A, "A", ndim=2)
        B = as_array(B, "B")
        C = as_array(C, "C")
        if A.shape[0] != A.shape[1]:
            raise ShapeError(f"A: expected a square matrix, found shape {A.shape}")
        if 1 / np.linalg.cond(A) < rcond:
            raise DefectiveError(
                "A: the textbook A is singular (or nearly), so the map has no MCCC realization of "
                "the same order (an MCCC state already contains the newest input); remove the "
                "zero poles (minimal realization) first")
        Cm = np.linalg.solve(A.T, np.atleast_2d(C).T).T
        Bm = B if B.ndim == 2 else B[:, None]
        Dt = np.zeros((Cm.shape[0], Bm.shape[1])) if D is None else np.atleast_2d(D)
        return cls(A, Bm, Cm, Dt - Cm @ Bm)

    def to_control(self):
        """python-control ``StateSpace`` (textbook form) with the same map.

        A textbook system gives its own matrices and ``dt``; an MCCC one ``(A, B, C A,
        C B + D)`` with ``dt=True``. python-control's ``ss`` silently drops imaginary parts, so
        complex systems are refused: convert with :meth:`ModalSystem.real_realization` or
        :meth:`real_embedding` first.
        """
        if not self.is_real:
            raise NotRealError(
                "system: python-control drops imaginary parts of complex matrices; convert first "
                "with ModalSystem.real_realization() (conjugate-closed systems) or "
                "StateSpace.real_embedding()")
        import control

        return control.ss(*self.to_textbook(), dt=self.dt if self.convention == "textbook"
                          else True)

    @classmethod
    def from_control(cls, sys, *, convention: str = "textbook", name: str = "sys") -> StateSpace:
        """From a discrete-time python-control system (``StateSpace`` or anything ``control.ss``
        accepts).

        Parameters
        ----------
        sys : control.StateSpace, control.TransferFunction, ...
        convention : {"textbook", "mccc"}
            ``"textbook"`` (default): the same matrices and ``dt``, read as the textbook system
            they are; Hankel singular values, Gramians and reductions are then MATLAB's and
            SLICOT's (``1/(z - 0.5)`` has the single value 4/3). ``"mccc"``: an MCCC-convention
            system with the same input/output map (:meth:`from_textbook`, needs ``A``
            invertible), whose Hankel operator ``[C A^(i+j-1) B]`` is another one
            (``1/(z - 0.5)``: 8/3).
        name : str
            The argument's name in error messages.

        Raises
        ------
        NotRealError
            For a continuous-time system (``dt = 0`` or None).
        DefectiveError
            ``convention="mccc"`` with a singular ``A``.
        """
        import control

        convention = check_choice(convention, "convention", CONVENTIONS)
        if not isinstance(sys, control.StateSpace):
            sys = control.ss(sys)
        if sys.dt in (0, None) or sys.dt is False:
            raise NotRealError(f"{name}: expected a discrete-time system (dt=True or dt>0), "
                               f"found dt={sys.dt!r}; discretise it first (control.c2d)")
        if convention == "mccc":
            return cls.from_textbook(sys.A, sys.B, sys.C, sys.D)
        return cls(np.asarray(sys.A), np.asarray(sys.B), np.asarray(sys.C), np.asarray(sys.D),
                   "textbook", sys.dt)

    def real_embedding(self) -> StateSpace:
        """Real order-``2n`` system mapping ``[Re u; Im u]`` to ``[Re y; Im y]``."""
        def emb(M):
            return np.block([[M.real, -M.imag], [M.imag, M.real]])

        return self._like(emb(self.A.astype(complex)), emb(self.B.astype(complex)),
                          emb(self.C.astype(complex)), emb(self.D_or_zero.astype(complex)))

    def __repr__(self) -> str:
        kind = "real" if self.is_real else "complex"
        conv = "" if self.convention == "mccc" else f", textbook, dt={self.dt!r}"
        return f"StateSpace(n={self.n}, p={self.n_inputs}, q={self.n_outputs}, {kind}{conv})"
