"""The final-state encode ``H = Lambda^n H0 + P^T V`` as a contraction (THEORY §0, §6).

``reference`` (NumPy oracle in extended precision, with the VJP and the error model), ``torch``
(autograd Function, CPU and CUDA) and ``jax`` (``custom_vjp``). Backend modules are imported on
demand so that the package imports without jax or torch.
"""

from ._spec import ACCUMULATE, BLOCK_ELEMENTS, auto_chunk, validate_encode

__all__ = ["validate_encode", "auto_chunk", "ACCUMULATE", "BLOCK_ELEMENTS"]
