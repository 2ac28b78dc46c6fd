"""``mccc prove``: run the theorem registry under a Hypothesis profile."""

from __future__ import annotations

import json
import sys

HELP = "check every registered theorem on Hypothesis-generated instances"
EPILOG = """examples:
  mccc prove                          # ci profile: derandomized, bounded examples
  mccc prove --profile thorough       # many random examples
  mccc prove --only gramian.closed_form_equals_series --json prove.json
  mccc prove --list                   # the theorems, their statements and references
  mccc prove --only kernels --backend torch   # theorems through the torch kernels only
  TRITON_INTERPRET=1 mccc prove --only kernels --backend triton

The kernels.<backend>_* theorems run through the production kernels of that backend;
--backend (repeatable: numpy, jax, torch, triton, numba) selects them, by default every backend
available here (Triton on CUDA, or on the CPU under TRITON_INTERPRET=1; numba: the compiled CPU
scan of torch tensors, what backend="auto" runs on the CPU).

A theorem whose optional dependency (slycot, mpmath) is not installed is reported
"unavailable (pip install ...)"; it is not run and does not fail the command.
  mccc prove --profile thorough --workers 2 --shards 8 --seed 1   # local Dask cluster
  mccc prove --profile thorough --scheduler tcp://10.0.0.5:8786 --shards 64 --seed 1 \
             --example-db .mccc-examples       # a cluster; later runs replay counterexamples

A failing shard is printed with the command that reproduces it serially
(`mccc prove --only ID --profile P --seed S --examples N`).
"""


def add_arguments(p) -> None:
    p.add_argument("--profile", choices=("ci", "thorough"), default="ci",
                   help="Hypothesis profile (default: ci)")
    p.add_argument("--only", action="append", metavar="ID",
                   help="check only this theorem id or id prefix (repeatable)")
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON to FILE")
    p.add_argument("--list", action="store_true", help="list the theorems and exit")
    p.add_argument("--examples", type=int, metavar="N",
                   help="examples per theorem (default: the profile's, capped per theorem)")
    p.add_argument("--shards", type=int, default=1, metavar="K",
                   help="split each theorem's examples over K seeded shards (needs --seed)")
    p.add_argument("--seed", type=int, metavar="S",
                   help="seed of the sweep (shard j draws from S + 1000003 j)")
    p.add_argument("--workers", type=int, metavar="P",
                   help="run the shards on a local Dask cluster of P processes")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="run the shards on an existing Dask scheduler (tcp://host:port)")
    p.add_argument("--plugin", action="append", metavar="MODULE",
                   help="import MODULE first (here and on every worker): it registers more "
                   "theorems with mccc_proofs.theorem (repeatable)")
    p.add_argument("--example-db", metavar="DIR",
                   help="Hypothesis example database shared by the shards: counterexamples "
                   "found are saved there and replayed first by later runs")
    p.add_argument("--backend", action="append", metavar="B",
                   choices=("numpy", "jax", "torch", "triton", "numba"),
                   help="run the kernels.* theorems on this backend (repeatable; default: "
                        "every backend available here)")


def run(args) -> int:
    from tqdm import tqdm

    from mccc_proofs import all_theorems
    from mccc_proofs.sweep import load_plugins, merge, plan, run_shard

    from ..errors import MethodError
    from ..parallel import executor
    from ..testing.profiles import load_profile
    from .paths import output_file

    json_path = output_file(args.json, "--json") if args.json else None
    from ..validation import check_positive_int

    load_profile(args.profile)
    plugins = tuple(args.plugin or ())
    load_plugins(plugins)
    theorems = _select_backends(list(all_theorems().values()), args.backend)
    if args.only:
        theorems = [t for t in theorems if any(t.id == o or t.id.startswith(o) for o in args.only)]
        if not theorems:
            raise MethodError(f"--only: no theorem id matches {args.only}; "
                              "see `mccc prove --list` for the ids")
    if args.list:
        for t in theorems:
            print(f"{t.id}\n    {t.statement}\n    assumes: {t.assumptions}\n"
                  f"    reference: {t.reference}")
            if t.requires:
                print(f"    requires: {', '.join(t.requires)}")
        return 0
    if args.workers is not None:
        check_positive_int(args.workers, "--workers")
    shards = check_positive_int(args.shards, "--shards")
    examples = None if args.examples is None else check_positive_int(args.examples, "--examples")
    jobs = plan(theorems, shards=shards, seed=args.seed, examples=examples,
                profile=args.profile, example_db=args.example_db, plugins=plugins)
    raw: list = [None] * len(jobs)
    with executor(args.workers, args.scheduler) as ex:
        bar = tqdm(total=len(jobs), desc=f"proving ({ex.name})", unit="shard", file=sys.stderr,
                   disable=None)
        for i, res in ex.map(run_shard, [(j,) for j in jobs]):
            raw[i] = res
            bar.set_postfix_str(res["id"])
            bar.update(1)
        bar.close()
    results = merge(raw)
    width = max(len(r["id"]) for r in results)
    print(f"{'theorem':<{width}}  {'examples':>8}  {'worst slack':>11}  status")
    for r in results:
        slack = "-" if r["worst_slack"] is None else f"{r['worst_slack']:11.3g}"
        print(f"{r['id']:<{width}}  {r['examples']:>8}  {slack:>11}  {r['status']}")
        if r["status"] == "FAILS":
            print(f"    counterexample: {r['counterexample']}")
            if r["error"]:
                print(f"    error: {r['error']}")
            if r["shards"] > 1 or r["seed"] is not None:
                print(f"    shard {r['shard']} of {r['shards']}, seed {r['seed']}; reproduce "
                      f"alone: {r['reproduce']}")
    failed = sum(r["status"] == "FAILS" for r in results)
    unavailable = sum(bool(r["unavailable"]) for r in results)
    print(f"{len(results) - failed - unavailable} hold, {failed} fail, {unavailable} unavailable "
          f"({args.profile} profile)")
    if json_path:
        with json_path.open("w") as fh:
            json.dump({"profile": args.profile, "shards": shards, "seed": args.seed,
                       "results": results}, fh, indent=2)
    return 1 if failed else 0


def _select_backends(theorems, backends):
    """Keep the ``kernels.<backend>_*`` theorems of the chosen (default: available) backends."""
    from mccc_proofs.kernels import available_backends

    from ..errors import BackendUnavailableError

    have = available_backends()
    if backends:
        missing = [b for b in backends if b not in have]
        if missing:
            hint = (" (Triton on the CPU needs TRITON_INTERPRET=1 set before the command)"
                    if "triton" in missing else "")
            if "numba" in missing:
                hint += " (numba: pip install 'mccc-theory[numba]')"
            raise BackendUnavailableError(
                f"--backend: {', '.join(missing)} not available here{hint}; available: "
                f"{', '.join(have)}")
    chosen = set(backends or have)
    return [t for t in theorems
            if not t.id.startswith("kernels.") or t.id[8:].split("_")[0] in chosen]
