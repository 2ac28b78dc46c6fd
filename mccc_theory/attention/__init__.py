"""Cross-attention and its modal approximation (THEORY §4).

* :mod:`.softmax` -- softmax cross-attention with positional biases (the reference).
* :mod:`.biases` -- positional biases as functions of the lag: ALiBi, smooth and sharp lag
  windows, exact lookup, any callable.
* :mod:`.families` -- attention-weight families over lags (the report's test set).
* :mod:`.memory` -- :class:`ModalMemory`, the MCCC layer (encode / stream / readout).
* :mod:`.features`, :mod:`.linear` -- feature maps and decayed linear attention (the
  content-dependent extension).
* :mod:`.hankel`, :mod:`.bounds` -- the Hankel operator of the weights and the T2/T3 bounds.
* :mod:`.fit` -- :func:`fit_modal`: exact realization (Ho-Kalman) or optimal approximation;
  :func:`hankel_error` brackets the streaming (Hankel-norm) error of a fit.
* :mod:`.decode` -- per-query decode cost: KV-cache attention vs the MCCC readout (benchmarks).
* :mod:`.strategies` -- Hypothesis strategies for weight families (imported explicitly).
"""

from .biases import (
    LagBias,
    alibi_bias,
    alibi_slopes,
    lag_bias,
    lookup_bias,
    sharp_window_bias,
    smooth_window_bias,
)
from .bounds import distinct_tail_sum, read_once_lower_bounds, streaming_bounds
from .families import WeightFamily, exponential_sum_weights, standard_families, window_starts
from .features import FEATURE_MAPS, FeatureMap, feature_map, random_features
from .fit import METHODS, ModalFit, error_system, fit_modal, hankel_error
from .hankel import (
    block_hankel,
    check_weights,
    fir_hankel_singular_values,
    fir_system,
    free_hankel_shape,
    weight_singular_values,
)
from .linear import LinearAttentionMemory, decayed_linear_attention
from .memory import READOUTS, ModalMemory
from .softmax import AttentionOutput, cross_attention, lags_of_positions

__all__ = [
    "LagBias", "alibi_bias", "alibi_slopes", "lag_bias", "lookup_bias", "sharp_window_bias",
    "smooth_window_bias",
    "distinct_tail_sum", "read_once_lower_bounds", "streaming_bounds",
    "WeightFamily", "exponential_sum_weights", "standard_families", "window_starts",
    "FEATURE_MAPS", "FeatureMap", "feature_map", "random_features",
    "METHODS", "ModalFit", "error_system", "fit_modal", "hankel_error",
    "block_hankel", "check_weights", "fir_hankel_singular_values", "fir_system",
    "free_hankel_shape", "weight_singular_values",
    "LinearAttentionMemory", "decayed_linear_attention",
    "READOUTS", "ModalMemory",
    "AttentionOutput", "cross_attention", "lags_of_positions",
]
