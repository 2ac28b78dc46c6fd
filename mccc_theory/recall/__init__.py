"""Recall experiments: tasks (MQAR, codebook), memories, and measured recall (THEORY §5).

* :mod:`~mccc_theory.recall.mqar`: zoology's MQAR generator, Figure-2 configurations by name.
* :mod:`~mccc_theory.recall.features`: linear-attention feature maps (identity, elu+1, DPFP,
  Taylor-2).
* :mod:`~mccc_theory.recall.memories`: softmax attention, linear attention, delta rule, least
  squares, MCCC modal memory (and reduced versions).
* :mod:`~mccc_theory.recall.tasks`: the codebook task and MQAR with random embeddings.
* :mod:`~mccc_theory.recall.measure`: :func:`measure_recall` with confidence intervals.
* :mod:`~mccc_theory.recall.intervals`: Wilson, Clopper-Pearson, empirical-Bernstein intervals.
* :mod:`~mccc_theory.recall.schlag`: Schlag et al.'s synthetic capacity setting (retrieval loss).
"""

from .features import FEATURE_MAPS, feature_dim, features, kernel
from .intervals import bernstein_interval, clopper_pearson_interval, wilson_interval
from .measure import RecallResult, measure_recall
from .memories import (
    DeltaRule,
    KeyedModalMemory,
    LeastSquares,
    LinearAttention,
    Memory,
    SoftmaxAttention,
    standard_memories,
)
from .mqar import FIGURE2_CONFIGS, MQARBatch, MQARConfig, get_config, mqar, power_law_gaps
from .schlag import SCHLAG_CROSSINGS, loss_crossing, retrieval_loss
from .tasks import CodebookTask, MQARRecallTask, RecallBatch

__all__ = [
    "FEATURE_MAPS", "feature_dim", "features", "kernel",
    "bernstein_interval", "clopper_pearson_interval", "wilson_interval",
    "RecallResult", "measure_recall",
    "DeltaRule", "LeastSquares", "LinearAttention", "Memory", "KeyedModalMemory",
    "SoftmaxAttention", "standard_memories",
    "FIGURE2_CONFIGS", "MQARBatch", "MQARConfig", "get_config", "mqar", "power_law_gaps",
    "SCHLAG_CROSSINGS", "loss_crossing", "retrieval_loss",
    "CodebookTask", "MQARRecallTask", "RecallBatch",
]
