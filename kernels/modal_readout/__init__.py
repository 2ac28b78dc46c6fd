"""The query-dependent modal readout ``y(q) = Re(c(q)^T H)`` (THEORY §0, §4, §6).

``reference`` (NumPy float64 oracle with VJP and error model), ``jax``, ``triton`` and
``torch``; backend modules are imported on demand.
"""

from ._spec import MIXES, validate_readout

__all__ = ["validate_readout", "MIXES"]
