"""mccc_proofs: the theorem registry checked by ``mccc prove`` and by the test suite.

Importing this package registers every theorem; one module per area of docs/theory.md.
"""

from . import (  # importing a module registers its theorems
    attention,  # noqa: F401
    capacity,  # noqa: F401
    gramians,  # noqa: F401
    kernels,  # noqa: F401
    reduction,  # noqa: F401
)
from .registry import SlackViolation, Theorem, TheoremResult, all_theorems, run_theorem, theorem

__all__ = ["Theorem", "TheoremResult", "SlackViolation", "all_theorems", "run_theorem", "theorem"]
