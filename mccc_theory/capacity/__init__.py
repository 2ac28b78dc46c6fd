"""Interference and capacity of associative memories (THEORY §5).

* :mod:`~mccc_theory.capacity.crosstalk`: the crosstalk decomposition ``readout = target +
  cross terms`` for linear-attention and MCCC modal memories, and its moment profile.
* :mod:`~mccc_theory.capacity.exact`: exact facts (orthonormal keys, least squares, delta-rule
  identities, key-overlap moments, frame potential, Welch bound).
* :mod:`~mccc_theory.capacity.bounds`: ``1 - m/N`` for m-dimensional linear memories, the
  counting bound, and the cited capacity constants.
* :mod:`~mccc_theory.capacity.predictors`: predicted recall under argmax decoding (conditional
  and naive independent-rivals predictors; linear attention, least squares, delta rule, MCCC).
"""

from .bounds import (
    counting_bound,
    dense_associative_memory_capacity,
    hopfield_capacity,
    linear_memory_mse_bound,
    modern_hopfield_capacity,
    retrieval_relative_mse,
)
from .crosstalk import (
    CrosstalkDecomposition,
    CrosstalkProfile,
    crosstalk,
    empirical_profile,
    linear_weights,
    modal_weights,
)
from .exact import (
    delta_rule_memory,
    frame_potential,
    frame_potential_bound,
    least_squares_memory,
    mean_crosstalk_mass,
    outer_product_memory,
    overlap_moments,
    random_unit_vectors,
    tight_frame,
    welch_bound,
)
from .predictors import (
    PREDICTABLE_MEMORIES,
    conditional_recall,
    delta_rule_profile,
    independent_recall,
    least_squares_profile,
    linear_attention_profile,
    modal_profile,
    predict_recall,
    recall_predictions,
    rival_win_probability,
    weights_recall,
)

__all__ = [
    "CrosstalkDecomposition", "CrosstalkProfile", "crosstalk", "empirical_profile",
    "linear_weights", "modal_weights",
    "delta_rule_memory", "frame_potential", "frame_potential_bound", "least_squares_memory",
    "mean_crosstalk_mass", "outer_product_memory", "overlap_moments", "random_unit_vectors",
    "tight_frame", "welch_bound",
    "counting_bound", "dense_associative_memory_capacity", "hopfield_capacity",
    "linear_memory_mse_bound", "modern_hopfield_capacity", "retrieval_relative_mse",
    "PREDICTABLE_MEMORIES", "conditional_recall", "delta_rule_profile", "independent_recall",
    "least_squares_profile", "linear_attention_profile", "modal_profile", "predict_recall",
    "recall_predictions", "rival_win_probability", "weights_recall",
]
