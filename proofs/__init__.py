"""mccc_proofs: the theorem registry checked by ``mccc prove`` and by the test suite.

Importing this package registers every theorem; one module per area of THEORY.md.
"""

from . import gramians  # noqa: F401  (registers theorems)
from .registry import SlackViolation, Theorem, TheoremResult, registry, run_theorem, theorem

__all__ = ["Theorem", "TheoremResult", "SlackViolation", "registry", "run_theorem", "theorem"]
