"""mccc-theory: theory-checking numerical toolkit for Modal Compressed Cross-Conditioning."""

from .eigen import (
    FSRThresholds,
    discretize,
    fsr_classify,
    hippo_legs_normal,
    log_polar,
    log_polar_eigenvalues,
    log_polar_inverse,
    lru_ring_init,
    s4d_inv,
    s4d_lin,
    s4d_real,
    undiscretize,
)
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
    PathError,
    ShapeError,
    UnstableError,
)
from .gramians import (
    GramianFactor,
    HankelSingularValues,
    controllability_gramian,
    gramian_factor,
    hankel_singular_values,
    observability_gramian,
    readout_gramian,
    solve_stein,
    stein_factor,
)
from .systems import ModalSystem, StateSpace, modal_powers

__version__ = "0.1.0"

__all__ = [
    "ModalSystem", "StateSpace", "modal_powers",
    "log_polar", "log_polar_eigenvalues", "log_polar_inverse", "lru_ring_init", "s4d_lin",
    "s4d_inv", "s4d_real", "hippo_legs_normal", "discretize", "undiscretize", "FSRThresholds",
    "fsr_classify",
    "controllability_gramian", "observability_gramian", "readout_gramian", "gramian_factor",
    "GramianFactor", "hankel_singular_values", "HankelSingularValues", "solve_stein",
    "stein_factor",
    "MCCCError", "ShapeError", "DTypeError", "NonFiniteError", "UnstableError",
    "EmptyInputError", "OrderError", "MethodError", "NotRealError", "DefectiveError",
    "BackendUnavailableError",
    "PathError",
]
