"""The project's exceptions.

Every public function validates its arguments at the boundary and raises one of these. Each
subclasses the built-in exception a caller would already catch (``ValueError`` or ``TypeError``),
and each message names the argument, what was expected, what was found and, where there is one,
how to fix the call.
"""

from __future__ import annotations

__all__ = [
    "MCCCError",
    "ShapeError",
    "DTypeError",
    "NonFiniteError",
    "UnstableError",
    "EmptyInputError",
    "OrderError",
    "MethodError",
    "NotRealError",
    "DefectiveError",
    "BackendUnavailableError",
    "PathError",
]


class MCCCError(Exception):
    """Base class of every exception raised by mccc-theory."""


class ShapeError(MCCCError, ValueError):
    """An array has the wrong number of dimensions or sizes that do not match."""


class DTypeError(MCCCError, TypeError):
    """An array has a dtype the function does not accept (e.g. complex where planes are expected)."""


class NonFiniteError(MCCCError, ValueError):
    """An input contains NaN or infinity where finite numbers are required."""


class UnstableError(MCCCError, ValueError):
    """An eigenvalue lies on or outside the unit circle (|lambda| >= 1)."""


class EmptyInputError(MCCCError, ValueError):
    """An input that must be non-empty (modes, source length, queries) is empty."""


class OrderError(MCCCError, ValueError):
    """A requested order, horizon or size is out of its admissible range."""


class MethodError(MCCCError, ValueError):
    """An unknown ``method`` (or backend) was requested, or one that does not apply to the input."""


class NotRealError(MCCCError, ValueError):
    """A complex system was given where a real one is required (e.g. python-control)."""


class DefectiveError(MCCCError, ValueError):
    """A matrix is defective or too ill-conditioned to diagonalise reliably."""


class BackendUnavailableError(MCCCError, ImportError):
    """An optional dependency (slycot, jax, torch, triton) needed for the call is not installed."""


class PathError(MCCCError, ValueError):
    """A file or folder argument cannot be used: missing, of the wrong kind, not writable, or
    not text in a supported encoding."""
