"""Hypothesis strategies for attention weights over lags (THEORY §4 test families).

* :func:`exponential_sums`: ``a_tau(q) = sum_i G[q, i] lambda_i^tau`` with at most m shared,
  well-separated poles (conjugate-closed, so the weights are real): the exactly realizable class
  of T1.
* :func:`lag_windows`: random smooth (Gaussian) or sharp (box) lag windows.
* :func:`lookups`: the exact lookup at lag L.
* :func:`weight_families`: any of the three.

Structure (sizes, lags, widths) is drawn by Hypothesis and shrinks; poles and gains come from a
NumPy generator seeded by a drawn integer, so the example's ``repr`` rebuilds it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from hypothesis import strategies as st

from .biases import lookup_bias, sharp_window_bias, smooth_window_bias
from .families import exponential_sum_weights

__all__ = ["ExponentialSum", "exponential_sums", "lag_windows", "lookups", "weight_families"]


@dataclass(frozen=True)
class ExponentialSum:
    """A drawn sum of exponentials: log-poles ``s`` (conjugate-closed), gains (Q, k), N lags."""

    s: np.ndarray = field(repr=False)
    gains: np.ndarray = field(repr=False)
    n: int
    seed: int
    n_modes: int
    n_queries: int

    @property
    def weights(self) -> np.ndarray:
        """(Q, N) real weights."""
        return self.lags(self.n)

    def lags(self, n: int) -> np.ndarray:
        """The same sum evaluated at lags ``0..n-1`` (for extrapolation checks)."""
        return exponential_sum_weights(self.s, self.gains, n)


def _poles(rng, k: int, min_sep: float) -> np.ndarray:
    """k poles, conjugate-closed, |lambda| in [0.3, 0.95], pairwise distance >= min_sep."""
    while True:
        lam: list[complex] = []
        while len(lam) < k:
            r = rng.uniform(0.3, 0.95)
            if k - len(lam) >= 2 and rng.uniform() < 0.6:
                z = r * np.exp(1j * rng.uniform(0.25, np.pi - 0.25))
                new = [z, np.conj(z)]
            else:
                new = [r * (1.0 if rng.uniform() < 0.8 else -1.0) + 0j]
            lam += new
        lam_a = np.asarray(lam)
        d = np.abs(lam_a[:, None] - lam_a[None, :]) + np.eye(k) * 10
        if d.min() >= min_sep:
            return lam_a


@st.composite
def exponential_sums(draw, *, m=(1, 6), n_queries=(1, 3), extra_lags=(2, 40),
                     min_separation: float = 0.08):
    """Strategy for :class:`ExponentialSum` with ``k <= m`` modes and ``N >= 2k + 2`` lags."""
    k = draw(st.integers(*m)) if isinstance(m, tuple) else int(m)
    Q = draw(st.integers(*n_queries)) if isinstance(n_queries, tuple) else int(n_queries)
    n = 2 * k + 2 + draw(st.integers(*extra_lags))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    lam = _poles(rng, k, min_separation)
    G = rng.standard_normal((Q, k)) + 1j * rng.standard_normal((Q, k))
    for i in range(k):  # conjugate gains for conjugate poles: real weights
        j = int(np.argmin(np.abs(lam - np.conj(lam[i]))))
        if j > i:
            G[:, j] = np.conj(G[:, i])
        elif j == i:
            G[:, i] = G[:, i].real
    return ExponentialSum(np.log(lam), G, n, seed, k, Q)


@st.composite
def lag_windows(draw, *, kind=None, n=(16, 96), n_queries=(1, 4)):
    """Strategy for ``(name, weights (Q, N))`` of random smooth or sharp lag windows."""
    kind = draw(st.sampled_from(("smooth", "sharp"))) if kind is None else kind
    N = draw(st.integers(*n))
    Q = draw(st.integers(*n_queries))
    width = draw(st.integers(1, max(1, N // 4)))
    starts = [draw(st.integers(0, N - 1)) for _ in range(Q)]
    if kind == "smooth":
        bias = smooth_window_bias(np.asarray(starts, float), float(width))
    else:
        bias = sharp_window_bias(np.asarray(starts), width)
    return f"{kind}(N={N}, width={width}, starts={starts})", bias.weights(N)


@st.composite
def lookups(draw, *, min_lag: int = 0, max_lag: int = 30, extra=(1, 40)):
    """Strategy for ``(L, weights (1, N))`` of the exact lookup at lag L (``N > L``)."""
    L = draw(st.integers(min_lag, max_lag))
    N = L + draw(st.integers(*extra))
    return L, lookup_bias(L).weights(N)


def weight_families():
    """Strategy for ``(name, weights)``: exponential sums, smooth/sharp windows or lookups."""
    return st.one_of(
        exponential_sums().map(lambda e: (f"expsum({e!r})", e.weights)),
        lag_windows(),
        lookups().map(lambda x: (f"lookup(L={x[0]}, N={x[1].shape[1]})", x[1])),
    )
