"""Confidence intervals for recall estimates, with a stated false-alarm probability ``alpha``.

* :func:`wilson_interval`: score interval for a binomial proportion (independent queries).
* :func:`clopper_pearson_interval`: exact (conservative) binomial interval.
* :func:`bernstein_interval`: empirical-Bernstein interval for the mean of independent
  ``[0, 1]``-valued variables (e.g. per-trial recall when the queries of one trial share keys
  and codebook and are therefore dependent); valid for any distribution on ``[0, 1]``.

References
----------
E. B. Wilson, "Probable inference, the law of succession, and statistical inference", JASA 22
(1927). C. J. Clopper, E. S. Pearson, Biometrika 26 (1934). A. Maurer, M. Pontil, "Empirical
Bernstein bounds and sample variance penalization", COLT 2009, Theorem 4.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from ..errors import EmptyInputError, OrderError
from ..validation import as_array, check_positive_int

__all__ = ["wilson_interval", "clopper_pearson_interval", "bernstein_interval"]


def _alpha(alpha: float) -> float:
    if not (isinstance(alpha, float | int) and 0 < alpha < 1):
        raise OrderError(f"alpha: expected a false-alarm probability in (0, 1), found {alpha!r}")
    return float(alpha)


def _counts(successes, n):
    n = check_positive_int(n, "n")
    k = check_positive_int(successes, "successes", minimum=0, maximum=n)
    return k, n


def wilson_interval(successes: int, n: int, alpha: float = 0.05) -> tuple[float, float]:
    """Wilson score interval ``(low, high)`` for ``successes`` out of ``n`` at level ``1 - alpha``.

    ``z = Phi^-1(1 - alpha/2)``; ``center = (p + z^2/2n) / (1 + z^2/n)``, half-width
    ``z sqrt(p(1-p)/n + z^2/4n^2) / (1 + z^2/n)``.
    """
    k, n = _counts(successes, n)
    z = float(stats.norm.isf(_alpha(alpha) / 2))
    p = k / n
    den = 1 + z * z / n
    center = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return max(0.0, center - half), min(1.0, center + half)


def clopper_pearson_interval(successes: int, n: int, alpha: float = 0.05
                             ) -> tuple[float, float]:
    """Exact binomial interval from Beta quantiles (coverage ``>= 1 - alpha``)."""
    k, n = _counts(successes, n)
    a = _alpha(alpha)
    low = 0.0 if k == 0 else float(stats.beta.ppf(a / 2, k, n - k + 1))
    high = 1.0 if k == n else float(stats.beta.isf(a / 2, k + 1, n - k))
    return low, high


def bernstein_interval(samples, alpha: float = 0.05) -> tuple[float, float]:
    """Empirical-Bernstein interval for the mean of independent samples in ``[0, 1]``.

    Each side holds with probability ``>= 1 - alpha/2`` (Maurer-Pontil Theorem 4 with
    ``delta = alpha/2``): ``mean +- (sqrt(2 V ln(2/delta) / n) + 7 ln(2/delta) / (3 (n - 1)))``,
    ``V`` the unbiased sample variance. Needs ``n >= 2``.
    """
    x = as_array(samples, "samples", ndim=1, complex_ok=False)
    if x.size < 2:
        raise EmptyInputError(f"samples: the empirical-Bernstein interval needs at least 2 "
                              f"samples, found {x.size}")
    if x.min() < 0 or x.max() > 1:
        raise OrderError(f"samples: expected values in [0, 1], found range [{x.min()}, "
                         f"{x.max()}]")
    n = x.size
    log_term = math.log(2.0 / (_alpha(alpha) / 2))
    half = math.sqrt(2 * float(np.var(x, ddof=1)) * log_term / n) + 7 * log_term / (3 * (n - 1))
    m = float(x.mean())
    return max(0.0, m - half), min(1.0, m + half)
