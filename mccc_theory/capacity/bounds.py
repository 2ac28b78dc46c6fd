"""Capacity bounds and the cited capacity constants (THEORY §5).

* :func:`linear_memory_mse_bound`: any m-dimensional linear memory recalling N pairs has
  relative MSE ``>= 1 - m/N`` (averaged over isotropic values). A linear memory's readouts are
  ``R = W Vv`` with an N x N retrieval matrix ``W`` of rank ``<= m`` (the state has m slots per
  value coordinate), and ``E|W Vv - Vv|_F^2 / E|Vv|_F^2 = |W - I|_F^2 / N >= (N - m)/N`` by
  Eckart-Young (the best rank-m approximation of ``I_N`` leaves ``N - m`` unit singular values).
* :func:`counting_bound`: a memory of ``b`` bits can distinguish at most ``2^b`` inputs, so the
  probability of recalling (copying) a uniformly random string of L symbols from an alphabet of
  size V exactly is at most ``2^b / V^L``.
* Cited constants: :func:`hopfield_capacity`, :func:`dense_associative_memory_capacity`,
  :func:`modern_hopfield_capacity`, with their sources.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special

from ..errors import ShapeError
from ..validation import as_array, check_choice, check_positive_int

__all__ = [
    "linear_memory_mse_bound",
    "retrieval_relative_mse",
    "counting_bound",
    "hopfield_capacity",
    "dense_associative_memory_capacity",
    "modern_hopfield_capacity",
]


def linear_memory_mse_bound(m: int, n_items: int) -> float:
    """``max(0, 1 - m/N)``: the least relative MSE of an m-dimensional linear memory of N pairs.

    Attained by projecting onto any m of the N (orthonormal) items. See the module docstring.
    """
    m = check_positive_int(m, "m", minimum=0)
    n = check_positive_int(n_items, "n_items")
    return max(0.0, 1.0 - m / n)


def retrieval_relative_mse(weights) -> float:
    """``|W - I|_F^2 / N``: the relative MSE of readouts ``W Vv`` averaged over isotropic values.

    Parameters
    ----------
    weights : (N, N) array_like
        Retrieval matrix, ``W[j, i]`` = weight of item i in the readout for query j.
    """
    W = as_array(weights, "weights", ndim=2, complex_ok=False)
    if W.shape[0] != W.shape[1]:
        raise ShapeError(f"weights: expected a square (N, N) retrieval matrix (each stored item "
                         f"queried once), found {W.shape}")
    E = W - np.eye(W.shape[0])
    return float(np.sum(E * E) / W.shape[0])


def counting_bound(state_bits: float, vocab_size: int, length: int) -> float:
    """``min(1, 2^bits / V^L)``: best success probability of exact recall of L random symbols.

    Computed in the log domain (no overflow for large states or long strings).

    Parameters
    ----------
    state_bits : float
        Size of the memory in bits (e.g. ``32 * number of float32 state entries``).
    vocab_size : int
        Alphabet size V of every symbol.
    length : int
        Number L of symbols that must be recalled exactly.
    """
    bits = float(state_bits)
    if not math.isfinite(bits) or bits < 0:
        raise ShapeError(f"state_bits: expected a finite number >= 0, found {state_bits}")
    V = check_positive_int(vocab_size, "vocab_size", minimum=2)
    L = check_positive_int(length, "length", minimum=0)
    log2p = bits - L * math.log2(V)
    return 1.0 if log2p >= 0 else float(2.0 ** log2p)


def hopfield_capacity(n: int, criterion: str = "tolerant") -> float:
    """Number of random +-1 patterns a Hebbian Hopfield network of n neurons stores.

    Parameters
    ----------
    n : int
        Number of neurons.
    criterion : {"tolerant", "typical", "all"}
        * ``"tolerant"``: ``0.138 n``, retrieval with a small fraction of wrong bits
          (Amit, Gutfreund, Sompolinsky 1985, replica-symmetric critical load).
        * ``"typical"``: ``n / (2 ln n)``, a given pattern is a fixed point with probability -> 1
          (McEliece, Posner, Rodemich, Venkatesh 1987).
        * ``"all"``: ``n / (4 ln n)``, every pattern is recalled exactly with probability -> 1
          (same reference).

    References
    ----------
    D. J. Amit, H. Gutfreund, H. Sompolinsky, "Storing infinite numbers of patterns in a
    spin-glass model of neural networks", Phys. Rev. Lett. 55 (1985) 1530.
    R. J. McEliece, E. C. Posner, E. R. Rodemich, S. S. Venkatesh, "The capacity of the Hopfield
    associative memory", IEEE Trans. Inf. Theory 33 (1987) 461-482.
    """
    n = check_positive_int(n, "n", minimum=2)
    check_choice(criterion, "criterion", ("tolerant", "typical", "all"))
    if criterion == "tolerant":
        return 0.138 * n
    return n / ((2 if criterion == "typical" else 4) * math.log(n))


def dense_associative_memory_capacity(n_neurons: int, order: int) -> float:
    """``N^(n-1) / (2 (2n - 3)!! ln N)``: patterns stored without errors with energy ``F(x) = x^n``.

    Krotov and Hopfield's dense associative memory with interaction order ``n >= 2`` (``n = 2``
    gives the Hopfield ``N / (2 ln N)``).

    References
    ----------
    D. Krotov, J. J. Hopfield, "Dense associative memory for pattern recognition", NeurIPS 2016,
    eq. (5) and §2.
    """
    N = check_positive_int(n_neurons, "n_neurons", minimum=2)
    n = check_positive_int(order, "order", minimum=2)
    dfact = float(np.prod(np.arange(2 * n - 3, 0, -2, dtype=float))) if n > 1 else 1.0
    return float(N ** (n - 1) / (2 * dfact * math.log(N)))


def modern_hopfield_capacity(d: int, *, beta: float = 1.0, K: float = 3.0,
                             p: float = 0.001) -> float:
    """Exponential storage capacity of the continuous modern Hopfield network.

    With patterns drawn uniformly on the sphere of radius ``M = K sqrt(d - 1)`` and failure
    probability ``p``, Theorem 3 of Ramsauer et al. states that with probability ``1 - p`` the
    number of patterns that can be stored (well separated, retrieved in one update) is at least
    ``N = sqrt(p) c^((d - 1)/4)`` with ``c = b / W_0(exp(a + ln b))``,
    ``a = 2/(d - 1) (1 + ln(2 beta K^2 p (d - 1)))``, ``b = 2 K^2 beta / 5`` (``W_0`` the principal
    branch of Lambert's W), provided ``c >= (2/sqrt p)^(4/(d-1))``; this function returns ``N``
    and raises when that proviso fails.

    References
    ----------
    H. Ramsauer et al., "Hopfield networks is all you need", ICLR 2021, Theorem 3.

    Notes
    -----
    The constants are transcribed from the theorem's statement; what is reproduced here is the
    theorem's exponential scaling ``c^((d-1)/4)``, not an independent derivation.
    """
    d = check_positive_int(d, "d", minimum=2)
    for name, v in (("beta", beta), ("K", K)):
        if not (math.isfinite(v) and v > 0):
            raise ShapeError(f"{name}: expected a positive finite number, found {v}")
    if not 0 < p <= 1:
        raise ShapeError(f"p: expected a failure probability in (0, 1], found {p}")
    a = 2.0 / (d - 1) * (1.0 + math.log(2.0 * beta * K * K * p * (d - 1)))
    b = 2.0 * K * K * beta / 5.0
    c = b / float(special.lambertw(math.exp(a + math.log(b)), 0).real)
    if c < (2.0 / math.sqrt(p)) ** (4.0 / (d - 1)):
        raise ShapeError(f"d, K, beta, p: Theorem 3 needs c >= (2/sqrt p)^(4/(d-1)) = "
                         f"{(2.0 / math.sqrt(p)) ** (4.0 / (d - 1)):.4g}, found c = {c:.4g}; "
                         "increase d, K or beta")
    return math.sqrt(p) * c ** ((d - 1) / 4.0)
