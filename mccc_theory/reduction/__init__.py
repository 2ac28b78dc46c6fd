"""Model reduction of the encoder's induced operator (THEORY §3).

Conventions as in :mod:`mccc_theory.systems`: the Hankel operator ``[C A^(i+j) B]_{i,j>=0}``
of ``(A, B, C, D)`` in the MCCC convention (``h_t = A h_{t-1} + B u_t, y_t = C h_t + D u_t``)
or the textbook one (``x_{t+1} = A x_t + B u_t``; every ``control.StateSpace`` is read so, and
reduced to a ``control.StateSpace`` with the same ``dt``); reduced models keep ``D``. Bounds
for an order-``r`` model, ``sigma_r > sigma_{r+1}``::

    sigma_{r+1} <= ||G - G_hat||_H          every order-r model G_hat,
    ||G - G_hat||_H <= ||G - G_hat||_inf     textbook: any G_hat; MCCC: G_hat with the same D,
    ||G - G_BT||_inf <= 2 * (distinct sigma_i, i > r, summed)    balanced truncation.

In the MCCC convention lag 0 is part of the Hankel operator and ``D`` splits it, so a model with
another ``D`` can have H-infinity error below ``sigma_{r+1}``
(:func:`~.balanced.error_bounds`).

* :func:`balanced_truncation` -- square-root / balancing-free square-root, with both bounds.
* :func:`singular_perturbation` -- balanced singular perturbation (SPA): matches the DC gain,
  ``||G - G_r||_inf <= 2 tail`` (Hankel singular values of the textbook ``(A, B, C A)``).
* :func:`hankel_norm_approximation` -- Glover/AAK: Hankel error exactly ``sigma_{r+1}``.
* :func:`modal_truncation` -- keep modes ranked by ``|lambda|``, dominance or modal HSV.
* :func:`read_once_projection` -- Eckart-Young-optimal compression of the final state.
* :func:`minimal_realization`, :func:`to_modal` -- remove dead states; re-diagonalise.
"""

from .balanced import GROUP_RTOL, BalancedTruncation, balanced_truncation, error_bounds
from .hankel_norm import SIMPLE_GAP, HankelNormApproximation, hankel_norm_approximation
from .minimal import MAX_CONDITION, ModalRealization, minimal_realization, to_modal
from .modal_truncation import RANKINGS, ModalTruncation, modal_truncation, mode_scores
from .read_once import ReadOnceProjection, read_once_projection
from .singular_perturbation import SingularPerturbation, singular_perturbation

__all__ = [
    "BalancedTruncation", "balanced_truncation", "error_bounds", "GROUP_RTOL",
    "HankelNormApproximation", "hankel_norm_approximation", "SIMPLE_GAP",
    "ModalTruncation", "modal_truncation", "mode_scores", "RANKINGS",
    "ReadOnceProjection", "read_once_projection",
    "SingularPerturbation", "singular_perturbation",
    "ModalRealization", "minimal_realization", "to_modal", "MAX_CONDITION",
]
