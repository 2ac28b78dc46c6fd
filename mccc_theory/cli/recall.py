"""``mccc recall``: predicted against measured recall (codebook task) and recall against state
size on zoology's MQAR (THEORY §5)."""

from __future__ import annotations

import json
import sys

HELP = "predicted vs measured recall of associative memories (codebook task, MQAR)"
EPILOG = """examples:
  mccc recall                                   # linear attention, d=64, N=64, V=64
  mccc recall --memory linear --memory delta --d 32 --N 16 --N 64 --V 64
  mccc recall --grid --check                    # THEORY grid; exit 1 if a gap exceeds 0.03
  mccc recall --grid --memory mccc --memory mccc/4 --json recall.json --plot recall.png
  mccc recall --grid --memory all --trials 1000 --workers 2   # every memory, local Dask cluster
  mccc recall --grid --memory all --scheduler tcp://10.0.0.5:8786 --json grid.json
  mccc recall --grid --memory all --json grid.json --resume   # finish a partial sweep
  mccc recall --task mqar --config zoology-fig2-L128 --d 64 --memory all
  mccc recall --list                            # memory and configuration names

Memories: softmax, linear, elu+1, dpfp1, dpfp2, dpfp3, taylor2, delta, least_squares,
mccc (m = d modes), mccc/2, mccc/4 (reduced), or "all". Predictions are analytic for linear,
delta, least_squares and mccc*, semi-empirical (key-side moments sampled) for the others.
"""

TOLERANCE = 0.03  # the target |predicted - measured| for V <= 2d


def add_arguments(p) -> None:
    p.add_argument("--task", choices=("codebook", "mqar"), default="codebook",
                   help="codebook task (predicted vs measured) or MQAR (recall vs state size)")
    p.add_argument("--memory", action="append", metavar="NAME",
                   help="memory name (repeatable; 'all' for every memory); default linear")
    p.add_argument("--d", action="append", type=int, metavar="D", help="key dimension(s)")
    p.add_argument("--N", action="append", type=int, metavar="N", help="stored items")
    p.add_argument("--V", action="append", type=int, metavar="V", help="codebook size(s)")
    p.add_argument("--grid", action="store_true",
                   help="THEORY grid: d in {32,64,128}, N in {d/4..2d}, V in {64, 2d, 1024}")
    p.add_argument("--quick", action="store_true", help="smaller grid and fewer trials")
    p.add_argument("--config", default="zoology-fig2-L64",
                   help="MQAR configuration name (with --task mqar)")
    p.add_argument("--trials", type=int, default=None, help="Monte-Carlo trials per cell")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=None, metavar="P",
                   help="run grid cells on a local Dask cluster of P processes (results do not "
                   "depend on it; default: serial)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="run grid cells on an existing Dask scheduler, e.g. tcp://host:8786")
    p.add_argument("--resume", action="store_true",
                   help="with --json FILE: keep the cells FILE already holds (same trials, seed "
                   "and alpha) and compute only the missing ones; FILE is rewritten as cells "
                   "finish")
    p.add_argument("--alpha", type=float, default=0.05,
                   help="false-alarm probability of the confidence intervals")
    p.add_argument("--check", action="store_true",
                   help=f"exit 1 if an analytic prediction misses by more than {TOLERANCE} "
                   "(beyond the interval) in a cell with V <= 2d")
    p.add_argument("--json", metavar="FILE", help="also write the rows as JSON")
    p.add_argument("--plot", metavar="FILE", help="write a PNG plot")
    p.add_argument("--list", action="store_true", help="list memories and MQAR configurations")


def _names(args):
    from ..errors import MethodError
    from ..recall.grid import MEMORY_NAMES

    names = args.memory or ["linear"]
    if "all" in names:
        return list(MEMORY_NAMES)
    bad = [n for n in names if n not in MEMORY_NAMES]
    if bad:
        raise MethodError(f"--memory: unknown {bad}; choose from {', '.join(MEMORY_NAMES)} "
                          "or 'all'")
    return names


def _run_codebook(args, names, bar):
    from ..errors import OrderError
    from ..parallel import executor
    from ..recall.grid import compare_grid, theory_grid

    if args.grid:
        cells = theory_grid(quick=args.quick)
    else:
        ds, Ns, Vs = args.d or [64], args.N or [64], args.V or [64]
        cells = [(d, N, V) for d in ds for N in Ns for V in Vs]
    for d, N, V in cells:
        if d < 2 or N < 1 or V < 2:
            raise OrderError(f"--d/--N/--V: expected d >= 2, N >= 1, V >= 2, found d={d}, "
                             f"N={N}, V={V}")
    trials = args.trials if args.trials is not None else (200 if args.quick else 2000)
    settings = {"task": "codebook", "trials": trials, "seed": args.seed, "alpha": args.alpha}
    previous = _previous_rows(args, settings)
    bar.reset(total=len(names) * len(cells))
    bar.update(sum((r.memory, r.d, r.N, r.V) in {(n, *c) for n in names for c in cells}
                   for r in previous))
    saved = list(previous)

    def save(row):  # the partial sweep on disk after every finished cell (--resume reads it)
        saved.append(row)
        if args.json:
            _write_json(args.json, dict(settings, rows=[r.to_json() for r in saved]))

    with executor(args.workers, args.scheduler) as ex:
        bar.set_description(f"recall ({ex.name})")
        rows = compare_grid(names, cells, trials=trials, seed=args.seed, alpha=args.alpha,
                            executor=ex, previous=previous, on_row=save,
                            progress=lambda m: bar.set_postfix_str(m) or bar.update(1))
    print(f"{'memory':<14}{'d':>5}{'N':>6}{'V':>6}{'state':>8}{'predicted':>11}{'naive':>8}"
          f"{'measured':>10}  {'interval':<17}{'gap':>8}  predictor")
    for r in rows:
        print(f"{r.memory:<14}{r.d:>5}{r.N:>6}{r.V:>6}{r.state_size:>8}{r.predicted:>11.4f}"
              f"{r.naive:>8.4f}{r.measured:>10.4f}  [{r.low:.4f}, {r.high:.4f}] "
              f"{r.gap:>+8.4f}  {r.predictor}")
    checked = [r for r in rows if r.predictor == "analytic" and r.V <= 2 * r.d]
    if checked:
        worst = max(checked, key=lambda r: abs(r.gap))
        print(f"worst |predicted - measured| (analytic, V <= 2d): {abs(worst.gap):.4f} "
              f"({worst.memory}, d={worst.d}, N={worst.N}, V={worst.V}); target {TOLERANCE}")
    failed = [r for r in checked if not r.within(TOLERANCE)]
    if args.plot:
        _plot_codebook(rows, args.plot)
    return [r.to_json() for r in rows], failed


def _previous_rows(args, settings):
    """The rows of a partial sweep saved in ``--json`` (``--resume``), checked against ``settings``."""
    from ..errors import MethodError
    from ..recall.grid import GridRow

    if not args.resume:
        return []
    if not args.json:
        raise MethodError("--resume: needs --json FILE (the partial sweep to continue)")
    try:
        with open(args.json) as fh:
            data = json.load(fh)
    except FileNotFoundError:
        return []  # nothing finished yet: start the sweep
    except (OSError, ValueError) as exc:
        raise MethodError(f"--resume: cannot read {args.json!r} as a sweep's JSON ({exc})") from None
    differ = {k: (data.get(k), v) for k, v in settings.items() if data.get(k) != v}
    if differ:
        raise MethodError(f"--resume: {args.json!r} was written with other settings "
                          f"(saved, now): {differ}; use the same --trials/--seed/--alpha or "
                          "another --json file")
    return [GridRow.from_json(r) for r in data.get("rows", [])]


def _write_json(path, data):
    """Write ``data`` to ``path`` atomically (a killed sweep never leaves half a file)."""
    import os

    tmp = f"{path}.partial"
    with open(tmp, "w") as fh:
        json.dump(data, fh, indent=2)
    os.replace(tmp, path)


def _run_mqar(args, names, bar):
    from ..recall.grid import make_memory
    from ..recall.measure import measure_recall
    from ..recall.tasks import MQARRecallTask

    out = []
    for d in args.d or [64]:
        task = MQARRecallTask(args.config, d, embed_seed=args.seed)
        for name in names:
            bar.set_postfix_str(f"{name} d={d}")
            bar.update(1)
            mem = make_memory(name, d, task.seq_len)
            trials = args.trials if args.trials is not None else (100 if args.quick else 1000)
            res = measure_recall(mem, task, trials=trials,
                                 seed=args.seed, alpha=args.alpha)
            out.append(dict(res.to_json(), name=name, d=d, config=task.config.name or
                            args.config))
    print(f"MQAR {args.config} (random unit embeddings, every key queried; interval: "
          "empirical Bernstein over examples)")
    print(f"{'memory':<14}{'d':>5}{'state size':>12}{'recall':>9}  interval")
    for r in out:
        print(f"{r['name']:<14}{r['d']:>5}{r['state_size']:>12}{r['recall']:>9.4f}  "
              f"[{r['low']:.4f}, {r['high']:.4f}]")
    if args.plot:
        _plot_mqar(out, args.plot)
    return out, []


def _plot_codebook(rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 5))
    for name in dict.fromkeys(r.memory for r in rows):
        sel = [r for r in rows if r.memory == name]
        ax.errorbar([r.predicted for r in sel], [r.measured for r in sel],
                    yerr=[[r.measured - r.low for r in sel], [r.high - r.measured for r in sel]],
                    fmt="o", ms=4, label=name)
    ax.plot([0, 1], [0, 1], "k--", lw=0.8)
    ax.set_xlabel("predicted recall")
    ax.set_ylabel("measured recall")
    ax.legend(fontsize=7)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def _plot_mqar(rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for name in dict.fromkeys(r["name"] for r in rows):
        sel = [r for r in rows if r["name"] == name]
        ax.plot([r["state_size"] for r in sel], [r["recall"] for r in sel], "o-", label=name)
    ax.set_xscale("log")
    ax.set_xlabel("state size (zoology accounting)")
    ax.set_ylabel("MQAR recall")
    ax.legend(fontsize=7)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def _check_options(args):
    """Every numeric option and output path, before any work starts."""
    from ..errors import MethodError, OrderError
    from ..recall.mqar import FIGURE2_CONFIGS
    from .paths import output_file

    for option, value in (("--trials", args.trials), ("--workers", args.workers)):
        if value is not None and value < 1:
            raise OrderError(f"{option}: expected an integer >= 1, found {value}")
    if not 0 < args.alpha < 1:
        raise OrderError(f"--alpha: expected a false-alarm probability in (0, 1), found "
                         f"{args.alpha:g}")
    if args.task == "mqar" and args.config not in FIGURE2_CONFIGS:
        raise MethodError(f"--config: unknown MQAR configuration {args.config!r}; choose from "
                          f"{', '.join(FIGURE2_CONFIGS)}")
    return (output_file(args.json, "--json") if args.json else None,
            output_file(args.plot, "--plot", suffixes=(".png", ".svg", ".pdf"))
            if args.plot else None)


def run(args) -> int:
    from tqdm import tqdm

    from ..recall.grid import MEMORY_NAMES
    from ..recall.mqar import FIGURE2_CONFIGS

    if args.list:
        print("memories:", ", ".join(MEMORY_NAMES))
        print("MQAR configurations:", ", ".join(FIGURE2_CONFIGS))
        return 0
    json_path, args.plot = _check_options(args)
    names = _names(args)
    with tqdm(desc="recall", file=sys.stderr, disable=None) as bar:
        if args.task == "mqar":
            rows, failed = _run_mqar(args, names, bar)
        else:
            rows, failed = _run_codebook(args, names, bar)
    if json_path:
        extra = {}
        if args.task == "codebook":
            extra = {"trials": args.trials if args.trials is not None else
                     (200 if args.quick else 2000), "seed": args.seed, "alpha": args.alpha}
        _write_json(json_path, dict({"task": args.task}, **extra, rows=rows))
    if args.check and failed:
        for r in failed:
            print(f"MISSED: {r.memory} d={r.d} N={r.N} V={r.V}: predicted {r.predicted:.4f}, "
                  f"measured {r.measured:.4f} [{r.low:.4f}, {r.high:.4f}]", file=sys.stderr)
        return 1
    return 0
