"""Training the toolkit's memories as models (torch), to hold trained recall against the bounds.

* :mod:`~mccc_theory.training.memories`: softmax attention, linear attention with the recall
  module's feature maps, the delta rule and the production MCCC layer as trainable memories.
* :mod:`~mccc_theory.training.tasks`: Schlag et al.'s synthetic settings 1 and 2, and MQAR
  (zoology's semantics) as cross-conditioning.
* :mod:`~mccc_theory.training.models`: embeddings and readouts around a memory.
* :mod:`~mccc_theory.training.trainer`: the seeded training loop, early stopping, JSON logs,
  checkpoints.
"""

from .memories import MEMORY_NAMES, make_memory, rank_cap, state_scalars
from .trainer import TASKS, TrainResult, TrainSpec, build, evaluate, load_checkpoint, save_checkpoint, train

__all__ = ["MEMORY_NAMES", "make_memory", "rank_cap", "state_scalars", "TASKS", "TrainResult",
           "TrainSpec", "build", "evaluate", "load_checkpoint", "save_checkpoint", "train"]
