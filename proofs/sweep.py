"""Theorem sweeps in shards: split each theorem's examples over seeds, run anywhere, merge.

A sweep of ``k`` shards checks theorem ``T`` as ``k`` independent Hypothesis runs, shard ``j``
with its own seed ``seed + 1_000_003 * j`` and ``ceil(max_examples / k)`` examples. Shards are
plain tuples (:func:`plan`), run by :func:`run_shard` in any process (a Dask worker imports this
module and the registry), and merged per theorem by :func:`merge`: examples added, the worst
slack kept, and a failure reported with the shard and seed that reproduce it alone::

    mccc prove --only ID --seed SEED --examples N        # SEED, N: the shard's, as printed

With ``k = 1`` and no seed, a shard is exactly the serial ``run_theorem`` (the ci profile's
derandomized examples).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["Shard", "plan", "run_shard", "merge", "shard_seed", "load_plugins"]


def shard_seed(seed: int, j: int) -> int:
    """The Hypothesis seed of shard ``j`` of a sweep seeded with ``seed`` (shard 0 draws from
    ``seed`` itself, so a one-shard run with a failing shard's seed reproduces that shard)."""
    return seed + 1_000_003 * j


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count`` of theorem ``theorem_id``: ``examples`` draws from ``seed``."""

    theorem_id: str
    index: int
    count: int
    seed: int | None
    examples: int | None
    profile: str
    example_db: str | None = None
    plugins: tuple[str, ...] = ()

    def reproduce(self) -> str:
        """The serial command that checks this shard alone."""
        cmd = f"mccc prove --only {self.theorem_id} --profile {self.profile}"
        cmd += "".join(f" --plugin {p}" for p in self.plugins)
        if self.seed is not None:
            cmd += f" --seed {self.seed}"
        if self.examples is not None:
            cmd += f" --examples {self.examples}"
        return cmd


def plan(theorems, *, shards: int, seed: int | None, examples: int | None, profile: str,
         example_db: str | None = None, plugins: tuple[str, ...] = ()) -> list[Shard]:
    """The shards of a sweep over ``theorems`` (registry :class:`Theorem` objects).

    ``examples``: the examples per theorem (``None``: the profile's ``max_examples``, capped by a
    theorem's own ``max_examples``), split evenly (rounded up) over the ``shards`` shards.
    ``seed=None`` is allowed only with one shard (the profile's own draws).
    """
    from hypothesis import settings

    from mccc_theory.errors import MethodError

    if shards > 1 and seed is None:
        raise MethodError("--shards: a sweep of several shards needs a --seed (each shard draws "
                          "from its own seed derived from it)")
    out = []
    for thm in theorems:
        total = examples or settings.get_profile(profile).max_examples
        if thm.max_examples is not None:
            total = min(total, thm.max_examples)
        k = min(shards, total)  # never a shard without an example
        per = math.ceil(total / k)
        for j in range(k):
            out.append(Shard(thm.id, j, k, None if seed is None else shard_seed(seed, j),
                             per if (k > 1 or examples) else None, profile, example_db,
                             tuple(plugins)))
    return out


def run_shard(shard: Shard) -> dict:
    """Check one shard (in this process); the registry result as JSON plus the shard."""
    from threadpoolctl import threadpool_limits

    from mccc_theory.testing.profiles import load_profile

    from . import all_theorems
    from .registry import run_theorem

    load_profile(shard.profile)
    load_plugins(shard.plugins)
    database = None
    if shard.example_db is not None:
        from hypothesis.database import DirectoryBasedExampleDatabase

        database = DirectoryBasedExampleDatabase(shard.example_db)
    # one BLAS thread everywhere (Dask's workers have one): a reduction's rounding, and so a
    # slack's last bits, must not depend on where the shard ran
    with threadpool_limits(limits=1):
        res = run_theorem(all_theorems()[shard.theorem_id], max_examples=shard.examples,
                          seed=shard.seed, database=database)
    return dict(res.to_json(), shard=shard.index, shards=shard.count, seed=shard.seed,
                shard_examples=shard.examples, reproduce=shard.reproduce())


def load_plugins(modules) -> None:
    """Import each module of ``modules`` (user theorems registering themselves); a module that
    cannot be imported is a usage error naming it."""
    import importlib

    from mccc_theory.errors import MethodError

    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise MethodError(f"--plugin: cannot import {name!r} ({exc}); put it on PYTHONPATH "
                              "(also for the workers of a cluster)") from None


def merge(results: list[dict]) -> list[dict]:
    """One result per theorem from its shards' results (order of first appearance).

    ``examples`` and ``seconds`` add up; ``worst_slack`` is the minimum; the theorem holds when
    every shard holds (an unavailable theorem is unavailable in every shard); the first failing
    shard (lowest index) gives the counterexample, its seed and the command reproducing it.
    """
    by_id: dict[str, list[dict]] = {}
    for r in results:
        by_id.setdefault(r["id"], []).append(r)
    merged = []
    for rs in by_id.values():
        rs = sorted(rs, key=lambda r: r["shard"])
        slacks = [r["worst_slack"] for r in rs if r["worst_slack"] is not None]
        failed = [r for r in rs if r["status"] == "FAILS"]
        out = dict(rs[0])
        out.update(examples=sum(r["examples"] for r in rs),
                   seconds=round(sum(r["seconds"] for r in rs), 3),
                   status="FAILS" if failed else rs[0]["status"], shards=len(rs))
        if failed:  # None: the check raised (no slack) in that shard
            fs = [r["worst_slack"] for r in failed if r["worst_slack"] is not None]
            out["worst_slack"] = min(fs) if fs else None
        else:
            out["worst_slack"] = min(slacks) if slacks else None
        for key in ("counterexample", "error", "seed", "reproduce", "shard"):
            out[key] = failed[0][key] if failed else None
        merged.append(out)
    return merged
