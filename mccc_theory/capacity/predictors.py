"""Predicted recall of a linear associative memory under argmax decoding over a codebook.

Setting (THEORY §5, the "codebook task" of :mod:`mccc_theory.recall.tasks`): a codebook of
``V`` value vectors drawn uniformly from the unit sphere of ``R^{d_v}``; ``N`` items store values
drawn from it (with replacement, or distinct); a query reads ``r = sum_i w_i v_i`` with retrieval
weights ``w`` (:mod:`mccc_theory.capacity.crosstalk`) and decodes ``argmax_c e_c . r``. Recall is
the probability that the argmax is the queried item's value.

Predictors
----------
:func:`conditional_recall` (the conditional predictor)
    Rival scores are *not* independent: every rival competes against the same target score, and
    the stored rivals are tied to the readout they helped to build. Conditioning on the readout
    ``r`` makes the cosines ``alpha_c = e_c . r / |r|`` of the codebook vectors conditionally
    independent: the ``c_0`` values not stored anywhere are exact uniform-sphere projections, and
    a stored rival with aggregated weight ``a_c`` has the exponentially tilted density
    ``p(alpha) ~ (1 - alpha^2)^((d_v - 3)/2) exp(lambda_1 a_c alpha + lambda_2 a_c^2 alpha^2)``
    with ``lambda_1 = (d_v - 1)/|r|`` and ``lambda_2 = (d_v - 1)/(2 B)``, ``B = sum_x a_x^2 (1 -
    alpha_x^2)`` (the mean-field form of the density of the readout's direction given the stored
    vectors). The target's cosine is ``alpha_* = t / |r|`` with ``t = a_* + |n| X``,
    ``|r|^2 = a_*^2 + 2 a_* |n| X + |n|^2``, ``X`` an exact sphere projection and ``n`` the
    crosstalk vector, ``|n|^2 = Q nu`` (``Q = sum_c a_c^2`` from the key side, ``nu`` the
    value-side overlap factor). Recall is ``E[ F(alpha_*)^c_0 prod_m E_a[P(alpha_a < alpha_*)]^c_m
    ]`` over ``(a_*, Q, nu, X)`` by product Gauss quadrature (Gauss-Hermite for Gaussian weights,
    generalised Gauss-Laguerre for the Gamma-approximated ``Q`` and ``nu``, Gauss-Jacobi for
    ``X``). The rivals' conditional independence given ``(a_*, Q, nu, X)`` is the only
    independence assumed.
:func:`independent_recall` (the naive predictor)
    The same per-rival marginal win probability ``p``, combined as if rivals were independent:
    ``(1 - p)^(V - 1)``. It ignores the shared target score and is far too pessimistic when rival
    errors are strongly correlated (THEORY: 0.48 against 0.78 measured at d = 32, N = 64, V = 64).

Memory-specific profiles (the key side)
---------------------------------------
:func:`linear_attention_profile` (random unit keys), :func:`least_squares_profile` (pseudo-inverse
memory), :func:`delta_rule_profile` (one-pass delta rule, mean-field recursion for the target
weight's decay ``(1 - beta/d)^tau`` and the crosstalk energy) and :func:`modal_profile` (MCCC
modal memory: every term weighted by ``Re lambda^tau``); :func:`predict_recall` combines a memory
name with the conditional predictor.

Domain: codebooks of ``V >= MIN_CODEBOOK = 8`` values (smaller ones are refused: the predictor
is off by up to 0.16 at V = 2..4), ``d_v >= 2``. Accuracy on THEORY's grid (d in {32, 64, 128},
N in {d/4, d/2, d, 2d}; the report's "capacity"
section lists every cell), worst ``|predicted - measured|`` for V in {64, 2d}:
linear attention 0.0071 (and 0.0018 at V = 1024; ``mccc recall --grid --trials 3000 --seed 1``),
delta rule 0.025, least squares 0.016, MCCC with m = d, d/2, d/4 modes 0.007, 0.012, 0.016
(1000 trials per cell, intervals about +-0.015; ``mccc recall --grid --memory delta --memory
least_squares --memory mccc --memory mccc/2 --memory mccc/4 --trials 1000`` measures them). The
naive predictor is off by up to 0.30 for V <= 2d and 0.62 at V = 1024.
"""

from __future__ import annotations

import numpy as np
from scipy import special, stats

from ..errors import OrderError, ShapeError
from ..validation import as_array, check_choice, check_log_eigenvalues, check_positive_int
from .crosstalk import CrosstalkProfile, empirical_profile

__all__ = [
    "conditional_recall",
    "independent_recall",
    "recall_predictions",
    "rival_win_probability",
    "linear_attention_profile",
    "least_squares_profile",
    "delta_rule_profile",
    "modal_profile",
    "weights_recall",
    "predict_recall",
    "PREDICTABLE_MEMORIES",
    "MIN_CODEBOOK",
]

PREDICTABLE_MEMORIES = ("linear", "least_squares", "delta", "modal")

#: Smallest codebook the predictors accept. Measured |predicted - Monte-Carlo| for linear
#: attention at d = 32/64, N = d/2..2d (4000 trials, intervals +-0.025): up to 0.16 at V = 2,
#: 0.06-0.15 at V = 3..4, 0.02 at V = 6, <= 0.01 from V = 8 on.
MIN_CODEBOOK = 8

# Quadrature sizes: doubling every size changes the predicted recall by < 2e-3 on THEORY §5's
# grid (checked in tests/test_capacity_predictors.py); states whose product weight is below
# 1e-9 of the total are dropped (they change the result by < 1e-6 in all).
_NODES = dict(n_target=5, n_q=6, n_nu=5, n_x=16, n_a=6, n_z=24, n_tail=20)


def _check_task(n_values, d_v, n_items, distinct):
    V = check_positive_int(n_values, "n_values", minimum=2)
    if V < MIN_CODEBOOK:
        raise OrderError(
            f"n_values: the predictors hold for codebooks of V >= {MIN_CODEBOOK} values, found "
            f"{V}; below, the mean-field tilted density of the few rivals fails (off by up to 0.16 "
            "at V = 2..4 against Monte-Carlo). Measure small codebooks instead: "
            "mccc_theory.recall.measure_recall or `mccc recall`")
    d_v = check_positive_int(d_v, "d_v", minimum=2)
    if distinct and V < n_items:
        raise OrderError(f"n_values: distinct values need a codebook of at least n_items = "
                         f"{n_items} vectors, found {V}; pass distinct=False or a larger codebook")
    return V, d_v


def _gamma_nodes(mean: float, var: float, n: int):
    """Nodes/weights for ``E f(G)``, ``G ~ Gamma`` with the given mean and variance."""
    if mean <= 0 or var <= 1e-14 * mean * mean:
        return np.array([max(mean, 0.0)]), np.array([1.0])
    shape = mean * mean / var
    if shape > 60:
        # generalised Laguerre weights overflow for large shapes, where the Gamma law is within
        # O(shape^-1/2) of the Gaussian with the same mean and variance
        x, w = _hermite_nodes(mean, var, n)
        return np.maximum(x, 0.0), w
    x, w = special.roots_genlaguerre(n, shape - 1.0)
    return x * (var / mean), w / w.sum()


def _hermite_nodes(mean, var, n: int):
    if var <= 0:
        return np.array([mean]), np.array([1.0])
    x, w = np.polynomial.hermite_e.hermegauss(n)
    return mean + np.sqrt(var) * x, w / w.sum()


def _rival_counts(n_items: int, V: int, distinct: bool):
    """Expected number of non-target codebook entries holding m stored items, m = 0, 1, ..."""
    if distinct:
        return np.array([V - n_items, n_items - 1], dtype=float)
    m = np.arange(n_items)
    return (V - 1) * stats.binom.pmf(m, n_items - 1, 1.0 / V)


def _aggregate_moments(p: CrosstalkProfile, m: np.ndarray):
    """``E a^2`` and ``E a^4`` of a sum of ``m`` independent cross weights."""
    mu, var = m * p.cross_mean, m * p.cross_var
    e2 = var + mu ** 2
    e4 = 3 * var ** 2 + 6 * var * mu ** 2 + mu ** 4
    # a single weight: use its own fourth moment instead of the Gaussian one
    e4 = np.where(m == 1, p.cross_fourth, e4)
    return e2, e4


def _sphere_logcdf(x, d_v: int):
    """``log P(e . u <= x)`` for ``e`` uniform on the unit sphere of ``R^{d_v}``, ``|u| = 1``."""
    a = 0.5 * (d_v - 1)
    with np.errstate(divide="ignore"):
        return np.log(special.betainc(a, a, 0.5 * (np.clip(x, -1.0, 1.0) + 1.0)))


def _tilted_win(alpha_star, r, B, a, d_v: int, nodes: dict):
    """``P(alpha > alpha_*)`` under the tilted sphere density of a stored rival of weight ``a``.

    Shapes: ``alpha_star, r, B`` are ``(S,)``; ``a`` is ``(n_a,)``; returns ``(S, n_a)``.
    Both the normaliser and the tail are Gauss-Legendre integrals of the same integrand
    ``(1 - x^2)^((d_v-3)/2) exp(l1 x + l2 x^2)`` (normalised at its maximum over the window, so
    nothing overflows): the normaliser over the bulk window ``mu +- 12 sd`` of the density's
    Gaussian approximation, the tail over ``[alpha_*, alpha_* + W]`` with ``W`` covering the bulk
    or 30 e-folds of the integrand's decay at ``alpha_*``, whichever is shorter.
    """
    al = 0.5 * (d_v - 3)
    l1 = ((d_v - 1) / r)[:, None] * a
    l2 = ((d_v - 1) / (2 * B))[:, None] * a * a
    prec = np.maximum(d_v - 2 * l2, 1.0)
    mu = np.clip(l1 / prec, -1.0, 1.0)
    sd = 1.0 / np.sqrt(prec)
    lo_b = np.maximum(mu - 12 * sd, -1.0)
    hi_b = np.minimum(mu + 12 * sd, 1.0)
    lo = np.broadcast_to(alpha_star[:, None], l1.shape)
    kappa = 2 * lo * al / np.maximum(1 - lo * lo, 1e-300) - l1 - 2 * l2 * lo
    with np.errstate(divide="ignore"):
        w_decay = np.where(kappa > 0, 30.0 / kappa, np.inf)
    W = np.minimum(np.minimum(1.0 - lo, np.maximum(hi_b - lo, 0.0)), w_decay)
    W = np.maximum(W, 0.0)

    def log_integrand(x):
        with np.errstate(divide="ignore"):
            return (al * np.log(np.maximum(1 - x * x, 0.0)) + l1[..., None] * x
                    + l2[..., None] * x * x)

    gx, gw = np.polynomial.legendre.leggauss(nodes["n_z"])
    xb = lo_b[..., None] + (hi_b - lo_b)[..., None] * (gx + 1) / 2
    lb = log_integrand(xb)
    tx, tw = np.polynomial.legendre.leggauss(nodes["n_tail"])
    xt = lo[..., None] + W[..., None] * (tx + 1) / 2
    lt = log_integrand(xt)
    ref = np.maximum(lb.max(axis=-1, keepdims=True), lt.max(axis=-1, keepdims=True))
    Z = np.sum(np.exp(lb - ref) * gw, axis=-1) * (hi_b - lo_b) / 2
    tail = np.sum(np.exp(lt - ref) * tw, axis=-1) * W / 2
    with np.errstate(over="ignore"):  # Z underflowing to tiny values: the ratio clips to 1
        out = np.divide(tail, Z, out=np.zeros_like(tail), where=Z > 0)
    return np.clip(out, 0.0, 1.0)


def _state_grid(p: CrosstalkProfile, V: int, d_v: int, distinct: bool, nodes: dict):
    """Quadrature states ``(a_*, Q, nu, X)`` with weights, and the rival counts."""
    N = p.n_items
    counts = _rival_counts(N, V, distinct)
    m = np.arange(counts.size)
    e2, e4 = _aggregate_moments(p, m)
    e2_var = np.maximum(e4 - e2 ** 2, 0.0)
    q_mean = float(np.sum(counts[1:] * e2[1:]))
    q_var = float(np.sum(counts[1:] * e2_var[1:]))
    s4 = float(np.sum(counts[1:] * e4[1:]))
    # target's aggregated weight: its own weight plus the weights of the k items that drew the
    # same value; k = 0 exactly, k >= 1 as one Gaussian with the mixture's mean and variance
    if distinct or N == 1:
        p0 = 1.0
    else:
        p0 = (1 - 1.0 / V) ** (N - 1)
    A0, A0w = _hermite_nodes(p.target_mean, p.target_var, nodes["n_target"])
    A, Aw = [A0], [p0 * A0w]
    if p0 < 1.0:
        k_mean = (N - 1) / V / (1 - p0)
        k_var = (N - 1) / V * (1 - 1.0 / V) / (1 - p0) - p0 * k_mean * k_mean
        k_var = max(k_var, 0.0)
        x, xw = _hermite_nodes(p.target_mean + k_mean * p.cross_mean,
                               p.target_var + k_mean * p.cross_var + k_var * p.cross_mean ** 2,
                               nodes["n_target"])
        A.append(x)
        Aw.append((1 - p0) * xw)
    A, Aw = np.concatenate(A), np.concatenate(Aw)
    Qn, Qw = _gamma_nodes(q_mean, q_var, nodes["n_q"])
    al = 0.5 * (d_v - 3)
    Xn, Xw = special.roots_jacobi(nodes["n_x"], al, al)
    Xw = Xw / Xw.sum()
    states = []
    for q, qw in zip(Qn, Qw, strict=True):
        if q > 0:
            # sum a^4 scales with Q^2 along the Q quadrature
            nu_var = 2.0 * max(1.0 - s4 / (q_mean * q_mean), 1e-3) / d_v
            nun, nuw = _gamma_nodes(1.0, nu_var, nodes["n_nu"])
        else:
            nun, nuw = np.array([1.0]), np.array([1.0])
        a_, q_, nu_, x_ = np.meshgrid(A, [q], nun, Xn, indexing="ij")
        w_ = (Aw[:, None, None, None] * qw * nuw[None, None, :, None] * Xw[None, None, None, :])
        states.append((a_.ravel(), q_.ravel(), nu_.ravel(), x_.ravel(), w_.ravel()))
    a, q, nu, x, w = (np.concatenate(c) for c in zip(*states, strict=True))
    keep = w > 1e-9 * w.sum()
    a, q, nu, x, w = a[keep], q[keep], nu[keep], x[keep], w[keep]
    return a, q, nu, x, w, counts, s4, q_mean


def _per_state(p: CrosstalkProfile, V: int, d_v: int, distinct: bool, nodes: dict):
    """Per quadrature state: weight, log P(all non-stored lose), and per-m rival win probability."""
    a, q, nu, x, w, counts, s4, q_mean = _state_grid(p, V, d_v, distinct, nodes)
    nn = np.sqrt(q * nu)
    t = a + nn * x
    r2 = a * a + 2 * a * nn * x + nn * nn
    r = np.sqrt(np.maximum(r2, 1e-300))
    alpha_star = np.where(r2 > 0, t / r, 1.0)
    log_nonstored = counts[0] * _sphere_logcdf(alpha_star, d_v) if counts[0] > 0 else 0.0 * t
    s4q = s4 * (q / q_mean) ** 2 if q_mean > 0 else 0.0 * q
    B = a * a * (1 - alpha_star ** 2) + q * (1 - 1.0 / d_v) - s4q / np.maximum(r2, 1e-300)
    B = np.maximum(B, 1e-3 * (a * a + q) + 1e-300)
    an, aw = np.polynomial.hermite_e.hermegauss(nodes["n_a"])
    aw = aw / aw.sum()
    wins = {}
    for m in range(1, counts.size):
        if counts[m] < 1e-5:  # changes log P by at most 1e-5
            continue
        ac = m * p.cross_mean + np.sqrt(m * p.cross_var) * an
        # chunks of states bound the (states, n_a, n_z) work arrays to a few tens of MB
        wins[m] = np.concatenate([
            _tilted_win(alpha_star[c], r[c], B[c], ac, d_v, nodes) @ aw
            for c in np.array_split(np.arange(t.size), max(1, t.size // 4096))])
    return w, log_nonstored, wins, counts, alpha_star


def conditional_recall(profile: CrosstalkProfile, n_values: int, d_v: int, *,
                       distinct: bool = False, nodes: dict | None = None) -> float:
    """Recall predicted by conditioning on the readout (module docstring), in ``[0, 1]``.

    Parameters
    ----------
    profile : CrosstalkProfile
        Moments of the retrieval weights (key side) for the query.
    n_values : int
        Codebook size ``V >= MIN_CODEBOOK`` (8; argmax over all ``V`` codebook vectors).
    d_v : int
        Value dimension ``>= 2``; codebook vectors are uniform on the unit sphere of ``R^{d_v}``.
    distinct : bool
        Stored values distinct (MQAR) instead of drawn with replacement.
    nodes : dict, optional
        Override quadrature sizes (keys of the module constant ``_NODES``).

    Returns
    -------
    float

    Raises
    ------
    OrderError, DTypeError
        For ``n_values < MIN_CODEBOOK`` (8, the predictors' domain), ``d_v < 2`` or
        ``distinct`` with ``n_values < n_items``.

    Notes
    -----
    Cost: ``O(S (n_z + n_tail) n_a M)`` with ``S`` quadrature states (a few thousand) and ``M``
    the number of distinct rival multiplicities; tens of milliseconds to a second, independent of
    the number of Monte-Carlo trials it replaces.
    """
    return _evaluate(profile, n_values, d_v, distinct, nodes)[0]


def _evaluate(profile, n_values, d_v, distinct, nodes):
    """``(conditional recall, mean per-rival win probability)`` from one quadrature pass."""
    V, d_v = _check_task(n_values, d_v, profile.n_items, distinct)
    nd = dict(_NODES, **(nodes or {}))
    w, log_ns, wins, counts, alpha_star = _per_state(profile, V, d_v, distinct, nd)
    logp = np.array(log_ns, dtype=float)
    rival = counts[0] * np.sum(w * -np.expm1(_sphere_logcdf(alpha_star, d_v)))
    for m, pw in wins.items():
        with np.errstate(divide="ignore"):
            logp = logp + counts[m] * np.log1p(-np.minimum(pw, 1.0))
        rival += counts[m] * np.sum(w * pw)
    return (float(np.clip(np.sum(w * np.exp(logp)), 0.0, 1.0)),
            float(np.clip(rival / (V - 1), 0.0, 1.0)))


def rival_win_probability(profile: CrosstalkProfile, n_values: int, d_v: int, *,
                          distinct: bool = False, nodes: dict | None = None) -> float:
    """Mean probability that one rival codebook vector outscores the target (marginal, per rival)."""
    return _evaluate(profile, n_values, d_v, distinct, nodes)[1]


def independent_recall(profile: CrosstalkProfile, n_values: int, d_v: int, *,
                       distinct: bool = False, nodes: dict | None = None) -> float:
    """The naive predictor ``(1 - p)^(V - 1)`` with ``p`` = :func:`rival_win_probability`.

    Treats the ``V - 1`` rival comparisons as independent events. Because every comparison
    involves the same target score, the win events are positively associated and this predictor
    is conservative (Harris' inequality for events increasing in the target score); THEORY §5
    reports it off by up to 0.15.
    """
    p = rival_win_probability(profile, n_values, d_v, distinct=distinct, nodes=nodes)
    return float((1.0 - p) ** (n_values - 1))


def recall_predictions(profile: CrosstalkProfile, n_values: int, d_v: int, *,
                       distinct: bool = False, nodes: dict | None = None
                       ) -> tuple[float, float]:
    """``(conditional_recall, independent_recall)`` from one quadrature pass (half the cost)."""
    c, p = _evaluate(profile, n_values, d_v, distinct, nodes)
    return c, float((1.0 - p) ** (n_values - 1))


# --- key-side profiles -------------------------------------------------------------------------


def _check_dn(d, n_items):
    return check_positive_int(d, "d"), check_positive_int(n_items, "n_items")


def linear_attention_profile(d: int, n_items: int) -> CrosstalkProfile:
    """Linear attention (identity features) with keys uniform on the unit sphere of ``R^d``.

    Exact moments: target weight ``k . k = 1``; cross weight ``c = k_i . k_j`` with mean 0,
    ``E c^2 = 1/d`` and ``E c^4 = 3/(d (d + 2))`` (THEORY §5).
    """
    d, N = _check_dn(d, n_items)
    return CrosstalkProfile(N, 1.0, 0.0, 0.0, 1.0 / d, 3.0 / (d * (d + 2)))


def least_squares_profile(d: int, n_items: int) -> CrosstalkProfile:
    """Least-squares (pseudo-inverse) memory ``S = V K^+`` with random unit keys.

    For ``N <= d`` independent keys the readout is exact (target 1, no crosstalk). For ``N > d``
    the weights are column ``j`` of the projector ``P = K^+ K`` (rank d): target ``P_jj`` with
    mean ``d/N`` (``trace P = d``) and, as for Gaussian keys, ``P_jj ~ Beta(d/2, (N - d)/2)``;
    the crosstalk energy is ``sum_{i != j} P_ij^2 = P_jj - P_jj^2`` (``P^2 = P``), shared evenly
    by the ``N - 1`` cross weights (Gaussian fourth moment).
    """
    d, N = _check_dn(d, n_items)
    if N <= d:
        return CrosstalkProfile(N, 1.0, 0.0, 0.0, 0.0, 0.0)
    mean = d / N
    var = mean * (1 - mean) / (N / 2 + 1)
    energy = mean - (var + mean * mean)
    cv = energy / (N - 1)
    return CrosstalkProfile(N, mean, var, 0.0, cv, 3 * cv * cv)


def delta_rule_profile(d: int, n_items: int, lag: int, *, beta: float = 1.0) -> CrosstalkProfile:
    """One-pass delta rule ``S_t = S_{t-1} + beta (v_t - S_{t-1} k_t) k_t^T`` (mean-field).

    For the item written ``lag`` steps before the last write, with unit random keys and unit
    random values, the recursions (expectations over each new key, exact given the previous
    state's second moments)::

        E[u.k_j]   <- (1 - beta/d) E[u.k_j]                           (target decays (1-beta/d)^tau)
        A = E(u.k_j)^2 <- A (1 - 2 beta/d + 2 beta^2/(d(d+2))) + beta^2... (see code)
        M = E|S|_F^2   <- M (1 - (2 beta - beta^2)/d) + beta^2
        R = E|S k_j|^2 <- R (1 - 2 beta/d + 2 beta^2/(d(d+2))) + beta^2 (1/d + M/(d(d+2)))

    give the target weight's mean ``beta (1 - beta/d)^tau`` (``~ e^{-tau/d}`` for ``beta = 1``,
    THEORY §5) and variance, and the crosstalk energy ``R - E w_jj^2`` shared by the ``N - 1``
    other items (mean-field: Gaussian, equal variances).
    """
    d, N = _check_dn(d, n_items)
    lag = check_positive_int(lag, "lag", minimum=0, maximum=N - 1)
    beta = float(beta)
    if not 0 < beta <= 2:
        raise OrderError(f"beta: expected 0 < beta <= 2 (a contracting delta rule), found {beta}")
    j = N - 1 - lag  # writes before the queried one
    M = 0.0
    for _ in range(j):
        M = M * (1 - (2 * beta - beta * beta) / d) + beta * beta
    R = (1 - beta) ** 2 * M / d + beta * beta
    M = M * (1 - (2 * beta - beta * beta) / d) + beta * beta
    mean, A, B = beta, 1.0, 1.0
    g = 1 - 2 * beta / d + 2 * beta * beta / (d * (d + 2))
    for _ in range(lag):
        A, B = A * g + beta * beta * B / (d * (d + 2)), B * (1 - (2 * beta - beta * beta) / d)
        R = R * g + beta * beta * (1.0 / d + M / (d * (d + 2)))
        M = M * (1 - (2 * beta - beta * beta) / d) + beta * beta
        mean *= 1 - beta / d
    second = beta * beta * A
    var = max(second - mean * mean, 0.0)
    energy = max(R - second, 0.0)
    cv = energy / (N - 1) if N > 1 else 0.0
    return CrosstalkProfile(N, mean, var, 0.0, cv, 3 * cv * cv)


def modal_profile(s, d: int, n_items: int, item_lags, query_lag: int, *,
                  b: float = 1.0) -> CrosstalkProfile:
    """MCCC modal memory with ``m`` modes and features ``phi(k) = sqrt(d/m) P k``.

    ``P`` (m, d) has orthonormal rows (``m <= d``; ``m = d`` with ``P = I`` is undecayed linear
    attention when ``lambda -> 1``); keys uniform on the unit sphere of ``R^d``. The query's
    features are ``x = sqrt(d b/m) u`` with ``b = |P k_j|^2 ~ Beta(m/2, (d-m)/2)`` (``b = 1`` for
    ``m = d``) and ``u`` uniform on the sphere of ``R^m``. Weights are reported divided by the
    common factor ``d b / m`` (argmax decoding does not see it); with ``rho_i(tau) = Re
    lambda_i^tau``:

    * target ``sum_i u_i^2 rho_i(tau_j)``: mean ``sum rho / m``, second moment
      ``(2 sum rho^2 + (sum rho)^2) / (m (m + 2))``;
    * cross weight of an item at lag tau: mean 0, ``E w^2 = sum_i rho_i(tau)^2 / (m d b)``
      (averaged over the items' lags; Gaussian fourth moment of the mixture).

    Parameters
    ----------
    s : (m,) array_like
        Log-eigenvalues of the modes.
    d : int
        Key dimension (``>= m``).
    n_items : int
    item_lags : (N - 1,) array_like of int
        Lags of the other items at the query.
    query_lag : int
        Lag of the queried item.
    b : float
        The query key's squared projection ``|P k_j|^2`` (:func:`predict_recall` integrates it
        over its Beta law).
    """
    s = check_log_eigenvalues(s, "s")
    d, N = _check_dn(d, n_items)
    m = s.shape[0]
    if m > d:
        raise OrderError(f"s: the features phi(k) = sqrt(d/m) P k need m <= d modes, found "
                         f"m = {m} > d = {d}")
    if not 0 < b <= 1:
        raise OrderError(f"b: expected a squared projection in (0, 1], found {b}")
    lags = np.asarray(item_lags)
    if lags.shape != (N - 1,):
        raise ShapeError(f"item_lags: expected shape ({N - 1},), found {lags.shape}")
    from ..systems import modal_powers

    rho_t = modal_powers(s, np.array([query_lag]))[0].real
    rho_c = modal_powers(s, lags).real  # (N-1, m)
    mean = float(np.sum(rho_t) / m)
    second = float((2 * np.sum(rho_t ** 2) + np.sum(rho_t) ** 2) / (m * (m + 2)))
    var_i = np.sum(rho_c ** 2, axis=1) / (m * d * b)
    cv = float(var_i.mean()) if N > 1 else 0.0
    c4 = float(3 * np.mean(var_i ** 2)) if N > 1 else 0.0
    return CrosstalkProfile(N, mean, max(second - mean * mean, 0.0), 0.0, cv, c4)


def weights_recall(weights, targets, n_values: int, d_v: int, *, groups: int = 4,
                   method: str = "conditional", distinct: bool = False) -> float:
    """Semi-empirical prediction from sampled retrieval weights (key side measured).

    Queries are sorted by their target weight into ``groups`` equal groups; within a group the
    weights are divided by each query's target weight (argmax decoding is invariant to a
    positive factor per query) and summarised by :func:`~.crosstalk.empirical_profile`; the
    group predictions are averaged. Grouping keeps the correlation between a query's own
    weight and its crosstalk (large for positive feature maps such as DPFP), which one pooled
    profile would lose.

    Parameters
    ----------
    weights : (..., Q, N) array_like
        Retrieval weights of independent trials (target weights must be positive).
    targets : (..., Q) array_like of int
    n_values, d_v : int
        Codebook size and value dimension.
    groups : int
    method : {"conditional", "independent", "both"}
    distinct : bool

    Returns
    -------
    float, or (float, float) for ``method="both"``
    """
    fn = _predictor(method)
    W = as_array(weights, "weights", complex_ok=False)
    t = np.asarray(targets)
    if W.ndim < 2 or t.shape != W.shape[:-1]:
        raise ShapeError(f"targets: expected shape {W.shape[:-1]}, found {t.shape}")
    G = check_positive_int(groups, "groups")
    tw = np.take_along_axis(W, t[..., None], axis=-1)[..., 0].ravel()
    if np.any(tw <= 0):
        raise ShapeError("weights: every query's own (target) weight must be positive to "
                         "normalise by it; use an analytic profile for this memory")
    Wf, tf = W.reshape(-1, W.shape[-1]), t.ravel()
    order = np.argsort(tw, kind="stable")
    total = 0.0
    for g in np.array_split(order, min(G, order.size)):
        prof = empirical_profile(Wf[g] / tw[g, None], tf[g])
        total = total + g.size * np.asarray(fn(prof, n_values, d_v, distinct=distinct))
    return _result(total / order.size)


def _predictor(method: str):
    check_choice(method, "method", ("conditional", "independent", "both"))
    return {"conditional": conditional_recall, "independent": independent_recall,
            "both": recall_predictions}[method]


def _result(x):
    x = np.asarray(x, dtype=float)
    return float(x) if x.ndim == 0 else (float(x[0]), float(x[1]))


def predict_recall(memory: str, d: int, n_items: int, n_values: int, *, d_v: int | None = None,
                   method: str = "conditional", distinct: bool = False, beta: float = 1.0,
                   s=None, lags=None, max_profiles: int = 5) -> float:
    """Predicted recall of ``memory`` on the codebook task, averaged over the queried item.

    Parameters
    ----------
    memory : {"linear", "least_squares", "delta", "modal"}
        Linear attention (identity features), pseudo-inverse memory, one-pass delta rule
        (``beta``), MCCC modal memory (log-eigenvalues ``s``).
    d, n_items, n_values : int
        Key dimension, number of stored items N, codebook size ``V >= MIN_CODEBOOK`` (8; the
        documented accuracy is for V in {64, 2d, 1024}, see the module docstring).
    d_v : int, optional
        Value dimension (default ``d``).
    method : {"conditional", "independent", "both"}
        ``"both"`` returns ``(conditional, independent)`` from one quadrature pass.
    distinct : bool
        Distinct stored values (MQAR) instead of draws with replacement.
    lags : (N,) array_like of int, optional
        Lag of every item at read time for ``memory="modal"`` (default ``N, ..., 1``: items
        written at times 0..N-1 and read at time N, as in
        :class:`~mccc_theory.recall.tasks.CodebookTask`).
    max_profiles : int
        For lag-dependent memories (delta, modal) the average over queried items uses at most
        this many lag groups (quantiles of the lags), each predicted once.

    Returns
    -------
    float, or (float, float) for ``method="both"``

    Raises
    ------
    OrderError
        ``n_values < MIN_CODEBOOK`` (outside the predictor's domain), ``d_v < 2``, or distinct
        values with ``n_values < n_items``.
    MethodError, ShapeError
        Unknown memory or method; ``memory="modal"`` without ``s`` or with malformed ``lags``.
    """
    check_choice(memory, "memory", PREDICTABLE_MEMORIES)
    fn = _predictor(method)
    d, N = _check_dn(d, n_items)
    d_v = d if d_v is None else d_v
    if memory == "linear":
        return _result(fn(linear_attention_profile(d, N), n_values, d_v, distinct=distinct))
    if memory == "least_squares":
        return _result(fn(least_squares_profile(d, N), n_values, d_v, distinct=distinct))
    if memory == "delta":
        groups = np.array_split(np.arange(N), min(N, max_profiles))
        return _result(sum(len(g) * np.asarray(fn(delta_rule_profile(
            d, N, int(round(np.median(g))), beta=beta), n_values, d_v, distinct=distinct))
            for g in groups) / N)
    if s is None:
        raise ShapeError("s: memory='modal' needs the log-eigenvalues s of its modes")
    lags = np.arange(N, 0, -1) if lags is None else as_array(lags, "lags", ndim=1)
    if lags.shape != (N,):
        raise ShapeError(f"lags: expected shape ({N},), found {lags.shape}")
    lags = lags.astype(np.int64)
    m = check_log_eigenvalues(s, "s").shape[0]
    if m < d:
        # b = |P k_j|^2 ~ Beta(m/2, (d-m)/2): Gauss-Jacobi nodes on b = (1 + x)/2
        x, bw = special.roots_jacobi(3, (d - m) / 2 - 1, m / 2 - 1)
        bs, bw = (1 + x) / 2, bw / bw.sum()
    else:
        bs, bw = np.array([1.0]), np.array([1.0])
    order = np.argsort(lags, kind="stable")
    total = 0.0
    for g in np.array_split(order, min(N, max_profiles)):
        j = int(g[len(g) // 2])
        for b, w in zip(bs, bw, strict=True):
            prof = modal_profile(s, d, N, np.delete(lags, j), int(lags[j]), b=float(b))
            total = total + len(g) * w * np.asarray(fn(prof, n_values, d_v, distinct=distinct))
    return _result(total / N)
