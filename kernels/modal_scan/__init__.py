"""The modal scan ``h_t = lambda * h_{t-1} + B u_t`` (THEORY §0, §6), one module per backend.

``reference`` (NumPy complex128 loop, the oracle, with the VJP and the error model), ``jax``,
``triton`` (kernels on split planes) and ``torch`` (autograd Function and dispatch). Backend
modules are imported on demand so that the package imports without jax, torch or triton.
"""

from ._spec import METHODS, validate_scan

__all__ = ["validate_scan", "METHODS"]
