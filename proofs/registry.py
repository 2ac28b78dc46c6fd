"""The theorem registry behind ``mccc prove`` and the proof tests.

A :class:`Theorem` couples a mathematical statement with a Hypothesis strategy that generates
instances satisfying its assumptions and a ``check`` that returns a *scaled slack*: a float that is
``>= 0`` when the statement holds on that instance (typically ``1 - error / allowed`` or
``(bound - value) / scale``), negative when it fails. :func:`run_theorem` drives the strategy,
records the worst slack and, on failure, the shrunk counterexample.

A theorem whose check needs an optional dependency names it in ``requires`` (import names, e.g.
``("slycot",)``); without it the theorem is reported *unavailable* with the pip command that
installs it, which is neither a pass nor a failure.
"""

from __future__ import annotations

import importlib.util
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

__all__ = ["Theorem", "TheoremResult", "theorem", "all_theorems", "run_theorem", "SlackViolation"]


@dataclass(frozen=True)
class Theorem:
    """A checkable statement: ``check(example) >= 0`` for every ``example`` drawn from ``strategy()``."""

    id: str
    statement: str
    assumptions: str
    reference: str
    strategy: Callable[[], st.SearchStrategy]
    check: Callable[[object], float]
    group: str = "misc"
    max_examples: int | None = None  # cap for expensive checks (applies in every profile)
    requires: tuple[str, ...] = ()  # optional modules the check imports (e.g. "slycot")

    def missing(self) -> tuple[str, ...]:
        """The modules of ``requires`` that are not installed here."""
        return tuple(m for m in self.requires if importlib.util.find_spec(m) is None)


@dataclass
class TheoremResult:
    theorem: Theorem
    examples: int = 0
    worst_slack: float = math.inf
    holds: bool = True
    counterexample: str | None = None
    error: str | None = None
    unavailable: str | None = None  # "pip install ..." when a required module is missing
    seconds: float = 0.0
    slacks: list[float] = field(default_factory=list, repr=False)

    @property
    def status(self) -> str:
        if self.unavailable:
            return f"unavailable ({self.unavailable})"
        return "holds" if self.holds else "FAILS"

    def to_json(self) -> dict:
        return {"id": self.theorem.id, "group": self.theorem.group,
                "statement": self.theorem.statement, "assumptions": self.theorem.assumptions,
                "reference": self.theorem.reference, "examples": self.examples,
                "worst_slack": None if math.isinf(self.worst_slack) else self.worst_slack,
                "status": self.status, "unavailable": self.unavailable,
                "counterexample": self.counterexample,
                "error": self.error, "seconds": round(self.seconds, 3)}


class SlackViolation(AssertionError):
    """Raised inside the Hypothesis loop when a check returns a negative (or NaN) slack."""


_REGISTRY: dict[str, Theorem] = {}


def theorem(*, id: str, statement: str, assumptions: str, reference: str,
            strategy: Callable[[], st.SearchStrategy], group: str = "misc",
            max_examples: int | None = None, requires: tuple[str, ...] = ()):
    """Decorator registering ``check`` as the check of a new :class:`Theorem`.

    ``requires`` names the optional modules the check imports; they must be imported inside the
    check (not at module level) so that the registry loads without them.
    """

    def deco(check):
        if id in _REGISTRY:
            raise ValueError(f"theorem id {id!r} registered twice")
        _REGISTRY[id] = Theorem(id, statement, assumptions, reference, strategy, check, group,
                                max_examples, tuple(requires))
        return check

    return deco


def all_theorems() -> dict[str, Theorem]:
    """All registered theorems (importing :mod:`mccc_proofs` registers them), in order."""
    return dict(_REGISTRY)


def run_theorem(thm: Theorem, *, max_examples: int | None = None, seed: int | None = None,
                database=None) -> TheoremResult:
    """Check ``thm`` under the active Hypothesis profile; never raises for a failing theorem.

    A theorem whose ``requires`` are not all installed is not run: the result has no examples,
    ``holds`` stays true (nothing contradicts it) and ``unavailable`` says what to install.
    ``seed`` fixes Hypothesis' random draws (a shard of a sweep: the same seed draws the same
    examples on any machine); ``database`` (a Hypothesis ``ExampleDatabase``) replays the
    counterexamples an earlier run saved for this theorem first and saves new ones.
    """
    result = TheoremResult(thm)
    missing = thm.missing()
    if missing:
        result.unavailable = "pip install " + " ".join(missing)
        return result
    failure: dict = {}  # the last failing example; Hypothesis replays the shrunk one last

    def body(example):
        result.examples += 1
        try:
            slack = float(thm.check(example))
        except Exception:
            failure.update(example=repr(example), slack=-math.inf)
            raise
        if math.isnan(slack) or slack < 0:
            failure.update(example=repr(example), slack=slack)
            raise SlackViolation(f"{thm.id}: slack {slack:.3g} < 0")
        result.worst_slack = min(result.worst_slack, slack)
        result.slacks.append(slack)

    limit = max_examples or settings().max_examples
    if thm.max_examples is not None:
        limit = min(limit, thm.max_examples)
    extra = {}
    if database is not None:
        # Every theorem's check runs through the one closure ``body``: a per-theorem digest keys
        # the example database (it is added only here, so that the ci profile's derandomized
        # draws, seeded by the same digest, stay what they always were).
        body._hypothesis_internal_add_digest = thm.id.encode()
        extra = {"database": database, "derandomize": False}
    if seed is not None:
        # set directly rather than through ``hypothesis.seed``, which also drops the database
        body._hypothesis_internal_use_seed = seed
    test = settings(max_examples=limit, **extra)(given(thm.strategy())(body))
    start = time.perf_counter()
    try:
        test()
    except Exception as exc:  # a failing or crashing check is reported, not raised
        result.holds = False
        if not isinstance(exc, SlackViolation):
            result.error = f"{type(exc).__name__}: {exc}"
        result.counterexample = failure.get("example")
        result.worst_slack = failure.get("slack", -math.inf)
    result.seconds = time.perf_counter() - start
    return result
