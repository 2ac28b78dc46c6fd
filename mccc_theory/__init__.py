"""mccc-theory: theory-checking numerical toolkit for Modal Compressed Cross-Conditioning."""

from .errors import (
    BackendUnavailableError,
    DefectiveError,
    DTypeError,
    EmptyInputError,
    MCCCError,
    MethodError,
    NonFiniteError,
    NotRealError,
    OrderError,
    ShapeError,
    UnstableError,
)
from .systems import ModalSystem, StateSpace

__version__ = "0.1.0"

__all__ = [
    "ModalSystem", "StateSpace",
    "MCCCError", "ShapeError", "DTypeError", "NonFiniteError", "UnstableError",
    "EmptyInputError", "OrderError", "MethodError", "NotRealError", "DefectiveError",
    "BackendUnavailableError",
]
