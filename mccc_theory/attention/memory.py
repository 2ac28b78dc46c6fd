"""The MCCC memory: a modal state that replaces cross-attention's KV cache.

Shared definitions (CONTRIBUTING "Shared definitions of the MCCC memory"; THEORY §0, §4)::

    encode:   H = sum_{t=1}^{N} Lambda^{N-t} b v_t^T  (+ Lambda^N H_0),    H: (m, d_v) complex
    stream:   H_t = lambda (.) H_{t-1} + b v_t^T,                          H_0 given (default 0)
    readout:  y(q) = Re(c(q)^T H),                                         y: (d_v,)
              linear   c(q) = W_c^T q                        (W_c: (d_q, m) complex)
              softmax  c(q) = softmax_i(Re (W_c^T q)_i) (.) g (g: (m,) complex gain)

with ``lambda_i = exp(s_i)`` (log-eigenvalues ``s`` stored), ``b`` the per-mode input gain and
the lag ``tau = N - t`` (the newest value enters undecayed). The memory therefore realises the
attention weights over lags ``a_hat_tau(q) = Re(sum_i c_i(q) b_i lambda_i^tau)`` for real values
(:meth:`ModalMemory.lag_weights`).

``normalize=True`` appends a constant 1 to every value, so the state carries the normaliser
``sum_t Lambda^{N-t} b`` in an extra column and the readout divides by it:
``y(q) = Re(c^T H_v) / Re(c^T H_1)``. This is the "one more for the softmax normaliser" of T1: a
single mode ``lambda = e^{-slope}`` with it reproduces ALiBi softmax attention exactly at every
source length.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import DTypeError, NonFiniteError, ShapeError
from ..systems import ModalSystem, modal_powers
from ..validation import as_array, check_choice, check_log_eigenvalues, check_positive_int

__all__ = ["ModalMemory", "READOUTS"]

READOUTS = ("linear", "softmax")


@dataclass(frozen=True, eq=False)
class ModalMemory:
    """An m-mode MCCC memory ``(s, b, W_c, g)`` with a linear or softmax-over-modes readout.

    Parameters
    ----------
    s : (m,) complex
        Log-eigenvalues, ``Re s < 0`` (``lambda = exp(s)``, ``|lambda| < 1``).
    b : (m,) complex
        Per-mode input gain.
    W_c : (d_q, m) complex
        Readout projection: ``c(q) = W_c^T q`` (linear) or the logits of the softmax readout.
    g : (m,) complex, optional
        Per-mode gain of the softmax readout (required for ``readout="softmax"``, refused for
        ``"linear"``).
    readout : {"linear", "softmax"}
    normalize : bool
        Carry the normaliser column and divide by it (see the module docstring).

    Raises
    ------
    UnstableError, ShapeError, NonFiniteError, MethodError
        For unstable modes, mismatched shapes, non-finite parameters or an unknown readout.

    Examples
    --------
    ALiBi with slope 0.1 is one mode plus the normaliser:

    >>> import numpy as np
    >>> mem = ModalMemory([-0.1 + 0j], [1.0], [[1.0]], normalize=True)
    >>> v = np.arange(6.0)[:, None]
    >>> w = np.exp(-0.1 * np.arange(6)[::-1]); w /= w.sum()
    >>> bool(np.allclose(mem.readout(mem.encode(v), [[1.0]]), w @ v))
    True
    """

    s: np.ndarray
    b: np.ndarray
    W_c: np.ndarray
    g: np.ndarray | None = None
    readout_kind: str = "linear"
    normalize: bool = False

    def __init__(self, s, b, W_c, g=None, *, readout: str = "linear", normalize: bool = False):
        s = check_log_eigenvalues(s, "s")
        m = s.shape[0]
        b = as_array(b, "b", ndim=1).astype(np.complex128)
        if b.shape != (m,):
            raise ShapeError(f"b: expected shape ({m},) (one gain per mode), found {b.shape}")
        W_c = as_array(W_c, "W_c", ndim=2).astype(np.complex128)
        if W_c.shape[1] != m:
            raise ShapeError(f"W_c: expected shape (d_q, {m}) (query dim x modes), found "
                             f"{W_c.shape}")
        check_choice(readout, "readout", READOUTS)
        if readout == "softmax":
            if g is None:
                raise ShapeError("g: the softmax readout needs the per-mode gain g of shape "
                                 f"({m},); pass g=np.ones({m}) for plain softmax mixing")
            g = as_array(g, "g", ndim=1).astype(np.complex128)
            if g.shape != (m,):
                raise ShapeError(f"g: expected shape ({m},), found {g.shape}")
        elif g is not None:
            raise ShapeError("g: the linear readout c(q) = W_c^T q has no gain; pass g only with "
                             "readout='softmax'")
        if not isinstance(normalize, bool | np.bool_):
            raise DTypeError(f"normalize: expected a bool, found {type(normalize).__name__}")
        for name, val in (("s", s), ("b", b), ("W_c", W_c), ("g", g)):
            if val is not None:
                val.setflags(write=False)
            object.__setattr__(self, name, val)
        object.__setattr__(self, "readout_kind", readout)
        object.__setattr__(self, "normalize", bool(normalize))

    # -- constructors -------------------------------------------------------------------------
    @classmethod
    def from_system(cls, system: ModalSystem, *, normalize: bool = False) -> ModalMemory:
        """Memory realising a single-input :class:`ModalSystem` ``(s, B, C)`` for its Q outputs.

        Query ``j`` is the one-hot vector ``e_j`` (``d_q = Q``): ``c(e_j) = C[j]``, ``b = B[:, 0]``,
        so ``lag_weights(eye(Q), n)`` is the real part of ``system.impulse_response(n)``.
        """
        if not isinstance(system, ModalSystem):
            raise DTypeError(f"system: expected a ModalSystem, found {type(system).__name__}")
        if system.n_inputs != 1:
            raise ShapeError(f"system: expected one input (B of shape (m, 1)), found B of shape "
                             f"{system.B.shape}")
        if system.D is not None and np.any(system.D != 0):
            raise ShapeError("system: a feedthrough D has no place in the memory (lag 0 enters "
                             "through Lambda^0 b); fold it into the modes first")
        return cls(system.s, system.B[:, 0], system.C, normalize=normalize)

    # -- sizes --------------------------------------------------------------------------------
    @property
    def m(self) -> int:
        """Number of modes."""
        return self.s.shape[0]

    @property
    def d_q(self) -> int:
        """Query dimension."""
        return self.W_c.shape[0]

    @property
    def lam(self) -> np.ndarray:
        """Eigenvalues ``exp(s)`` (derived)."""
        return modal_powers(self.s, np.ones(1, np.int64))[0]

    def state_shape(self, d_v: int) -> tuple[int, int]:
        """Shape of the state for values of dimension ``d_v``: ``(m, d_v + normalize)``."""
        return (self.m, check_positive_int(d_v, "d_v") + int(self.normalize))

    def state_bytes(self, d_v: int, dtype=np.complex128) -> int:
        """Bytes of the state (independent of the source length N)."""
        rows, cols = self.state_shape(d_v)
        return rows * cols * np.dtype(dtype).itemsize

    # -- encoder ------------------------------------------------------------------------------
    def _values(self, values) -> np.ndarray:
        v = as_array(values, "values", ndim=2)
        if self.normalize:
            v = np.concatenate([v, np.ones((v.shape[0], 1), v.dtype)], axis=1)
        return v

    def _check_state(self, H, d_v_aug: int | None = None, name: str = "H") -> np.ndarray:
        H = as_array(H, name, ndim=2).astype(np.complex128)
        if H.shape[0] != self.m or (d_v_aug is not None and H.shape[1] != d_v_aug):
            want = f"({self.m}, {d_v_aug})" if d_v_aug is not None else f"({self.m}, d_v)"
            extra = " (d_v + 1 with normalize=True)" if self.normalize else ""
            raise ShapeError(f"{name}: expected state shape {want}{extra}, found {H.shape}")
        return H

    def encode(self, values, h0=None) -> np.ndarray:
        """Final state ``H = sum_t Lambda^{N-t} b v_t^T + Lambda^N H_0`` (batch path).

        Parameters
        ----------
        values : (N, d_v) array, position order (last row newest, lag 0)
        h0 : (m, d_v[+1]) array, optional
            Initial state (default 0).

        Returns
        -------
        H : (m, d_v) complex, or (m, d_v + 1) with ``normalize=True``

        Notes
        -----
        Closed form with ``lambda^tau = exp(tau s)`` evaluated from ``s`` (no repeated products),
        ``O(N m d_v)``.
        """
        v = self._values(values)
        n = v.shape[0]
        P = modal_powers(self.s, np.arange(n - 1, -1, -1))  # (N, m): lambda^(N - t)
        H = (P * self.b).T @ v
        if h0 is not None:
            H = H + modal_powers(self.s, np.array([n]))[0][:, None] * self._check_state(
                h0, v.shape[1], "h0")
        return H

    def step(self, H, value) -> np.ndarray:
        """One streaming step ``H <- lambda (.) H + b v^T`` for one value ``(d_v,)``."""
        v = as_array(value, "value", ndim=1)
        if self.normalize:
            v = np.append(v, 1.0)
        H = self._check_state(H, v.shape[0])
        return self.lam[:, None] * H + self.b[:, None] * v[None, :]

    def scan(self, values, h0=None, *, return_states: bool = False):
        """Streaming path: the recurrence run token by token (complex128 sequential loop).

        Returns the final state, and with ``return_states=True`` also every state ``H_t``
        (N, m, d_v[+1]). Agrees with :meth:`encode` to about ``N eps / (1 - |lambda|)`` relative
        to the state's magnitude (THEORY §6 error model).
        """
        v = self._values(values)
        lam = self.lam[:, None]
        H = (np.zeros((self.m, v.shape[1]), np.complex128) if h0 is None
             else self._check_state(h0, v.shape[1], "h0"))
        states = np.empty((v.shape[0], self.m, v.shape[1]), np.complex128) if return_states \
            else None
        bv = self.b[:, None]
        for t in range(v.shape[0]):
            H = lam * H + bv * v[t][None, :]
            if return_states:
                states[t] = H
        return (H, states) if return_states else H

    # -- decoder ------------------------------------------------------------------------------
    def coefficients(self, queries) -> np.ndarray:
        """Mode mixing ``c(q)`` for each query: (Q, m) complex."""
        Qm = as_array(queries, "queries", ndim=2)
        if Qm.shape[1] != self.d_q:
            raise ShapeError(f"queries: expected shape (Q, {self.d_q}) (query dim of W_c), found "
                             f"{Qm.shape}")
        logits = Qm @ self.W_c
        if self.readout_kind == "linear":
            return logits
        z = logits.real
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return (e / e.sum(axis=1, keepdims=True)) * self.g

    def readout(self, H, queries) -> np.ndarray:
        """``y(q) = Re(c(q)^T H)`` for each query: (Q, d_v) real.

        With ``normalize=True`` the value columns are divided by the normaliser column.

        Raises
        ------
        NonFiniteError
            If a query's normaliser ``Re(c^T H_1)`` is zero (the weights sum to zero).
        """
        c = self.coefficients(queries)
        H = self._check_state(H)
        Y = (c @ H).real
        if not self.normalize:
            return Y
        den = Y[:, -1:]
        if np.any(den == 0):
            q = int(np.argmax(den[:, 0] == 0))
            raise NonFiniteError(f"queries: query {q} has normaliser Re(c(q)^T H_1) = 0; its "
                                 "realised weights sum to zero, so the normalised readout is "
                                 "undefined")
        return Y[:, :-1] / den

    def lag_weights(self, queries, n: int) -> np.ndarray:
        """Realised attention weights over lags ``a_hat_tau(q) = Re(sum_i c_i(q) b_i lambda_i^tau)``.

        Shape (Q, n), ``tau = 0..n-1``; with ``normalize=True`` each row is divided by its sum
        over ``tau < n`` (the weights the normalised readout applies to a source of length n).
        For real values, ``readout(encode(v), q) == lag_weights(q, N) @ v[::-1]``.
        """
        n = check_positive_int(n, "n")
        c = self.coefficients(queries)
        P = modal_powers(self.s, np.arange(n))  # (n, m)
        A = ((c * self.b) @ P.T).real
        if not self.normalize:
            return A
        return A / A.sum(axis=1, keepdims=True)

    def to_system(self, queries) -> ModalSystem:
        """The LTI system ``(s, b, C = c(q))`` for a fixed query set (one output per query)."""
        return ModalSystem(self.s, self.b[:, None], self.coefficients(queries))

    def __repr__(self) -> str:
        return (f"ModalMemory(m={self.m}, d_q={self.d_q}, readout={self.readout_kind!r}, "
                f"normalize={self.normalize}, max|lambda|={np.max(np.abs(self.lam)):.6g})")
