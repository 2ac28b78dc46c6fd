"""Modal truncation: keep ``r`` modes of a diagonal system, ranked by a per-mode score.

The baseline that shows why the eigenvalue modulus ``|lambda|`` is a poor importance ranking
(THEORY §1, §3): a slow mode with tiny input or output gain matters less than a fast mode with a
large one. Convention as in :mod:`mccc_theory.systems`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ShapeError
from ..systems import ModalSystem, StateSpace
from ..validation import check_choice, check_positive_int

__all__ = ["ModalTruncation", "modal_truncation", "mode_scores", "RANKINGS"]

RANKINGS = ("modulus", "dominance", "hsv")


def mode_scores(system: ModalSystem, rank_by: str = "dominance") -> np.ndarray:
    """Importance score of each mode of ``system`` (larger is more important).

    ``"modulus"``: ``|lambda_i|`` (the naive ranking by timescale).
    ``"dominance"``: ``||c_i|| ||b_i|| / (1 - |lambda_i|)``, the H-infinity norm of the mode's own
    transfer function ``c_i b_i^T / (1 - lambda_i / z)`` (its peak gain).
    ``"hsv"``: ``||c_i|| ||b_i|| / (1 - |lambda_i|^2) = sqrt(Wc_ii Wo_ii)``, the Hankel norm of the
    mode alone (the diagonal "modal Hankel singular value").
    """
    if not isinstance(system, ModalSystem):
        raise ShapeError(f"system: expected a ModalSystem, found {type(system).__name__}; "
                         "convert a StateSpace with mccc_theory.reduction.to_modal")
    check_choice(rank_by, "rank_by", RANKINGS)
    mod = np.exp(system.s.real)
    if rank_by == "modulus":
        return mod
    gain = np.linalg.norm(system.C, axis=0) * np.linalg.norm(system.B, axis=1)
    # 1 - |lambda| = -expm1(Re s) and 1 - |lambda|^2 = -expm1(2 Re s): no cancellation near 1.
    if rank_by == "dominance":
        return gain / -np.expm1(system.s.real)
    return gain / -np.expm1(2 * system.s.real)


@dataclass(frozen=True, eq=False)
class ModalTruncation:
    """Result of :func:`modal_truncation`.

    Attributes
    ----------
    reduced : ModalSystem
        The kept modes (with their ``B`` rows, ``C`` columns and the system's ``D``).
    kept : (r,) int array
        Indices of the kept modes, most important first.
    scores : (m,) array
        The score of every mode under ``rank_by``.
    upper_bound : float
        ``sum of the dominance of the dropped modes``: ``||G - G_r||_inf <= upper_bound``
        (triangle inequality over the dropped modes, whatever the ranking).
    rank_by : str
    """

    reduced: ModalSystem
    kept: np.ndarray
    scores: np.ndarray
    upper_bound: float
    rank_by: str


def modal_truncation(system, order: int, rank_by: str = "modulus") -> ModalTruncation:
    """Keep the ``order`` highest-scoring modes: ``G_r(z) = sum_{i kept} c_i b_i^T / (1 - lambda_i/z) + D``.

    Parameters
    ----------
    system : ModalSystem, or StateSpace (diagonalised with :func:`to_modal` first)
    order : int in [1, m]
    rank_by : {"modulus", "dominance", "hsv"}
        See :func:`mode_scores`. Ties keep the original mode order.

    Returns
    -------
    ModalTruncation

    Raises
    ------
    OrderError
        For ``order`` outside ``[1, m]``.
    MethodError
        For an unknown ``rank_by``.
    DefectiveError, UnstableError
        From :func:`to_modal` for a dense system that cannot be diagonalised reliably.

    Notes
    -----
    Cost ``O(m (p + q) + m log m)``. Conjugate pairs have equal scores under every ranking, so they
    are kept together unless ``order`` cuts between the two members of a pair; the reduced map is
    then complex.
    """
    if isinstance(system, StateSpace):
        from .minimal import to_modal

        system = to_modal(system).system
    if not isinstance(system, ModalSystem):
        raise ShapeError(f"system: expected a ModalSystem or StateSpace, found "
                         f"{type(system).__name__}")
    check_choice(rank_by, "rank_by", RANKINGS)
    r = check_positive_int(order, "order", minimum=1, maximum=system.m)
    scores = mode_scores(system, rank_by)
    order_idx = np.argsort(-scores, kind="stable")
    kept, dropped = order_idx[:r], order_idx[r:]
    reduced = ModalSystem(system.s[kept], system.B[kept], system.C[:, kept], system.D)
    bound = float(np.sum(mode_scores(system, "dominance")[dropped]))
    return ModalTruncation(reduced, kept, scores, bound, rank_by)
