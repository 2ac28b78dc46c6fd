"""``mccc train``: train a memory on Schlag et al.'s settings or MQAR cross-conditioning, or run the
sweep of trained memories against the toolkit's bounds (``--sweep``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

HELP = "train memories (Schlag settings, MQAR cross-conditioning) and hold them against the bounds"
EPILOG = """examples:
  mccc train --task schlag1 --memory elu+1 --S 40 --out runs/la40     # published setting 1
  mccc train --task schlag1 --memory dpfp1 --S 120 --steps 8000 --json dpfp120.json
  mccc train --task schlag2 --memory delta --S 20 --steps 1500        # keys drawn with replacement
  mccc train --task recall --memory softmax --N 8 --vocab 64 --d-model 32
  mccc train --task recall --memory mccc --N 8 --modes 16 --resume runs/m8/checkpoint.pt
  mccc train --quick --memory softmax                                 # seconds
  mccc train --sweep --out reports/trained   # every cell; writes sweep.json and measured.csv
  mccc train --sweep --from reports/trained/sweep.json   # tabulate saved results, no training
  mccc train --sweep --prune --from reports/trained/sweep.json --out reports/trained

memories: softmax, linear (identity features), elu+1 (Schlag et al.'s linear attention),
dpfp1, dpfp2, dpfp3, taylor2, delta (Schlag et al.'s delta rule, DPFP-1 features),
mccc (MCCCCrossConditioning, write="gain"), mccc-key (write="key", where the layer has it).

--sweep table: measured (Schlag: best evaluation loss; recall: held-out accuracy) against the
rank bound 0.5 max(0, 1 - d_dot/S) (lower) or the Fano bound of the state's float32 bits
(upper), the conditional-Gaussian prediction where it applies, and measured/bound.
The sweep also writes measured.csv for `mccc compare --measured`.

exit status: 0 ok; 1 a trained point violates a bound (--sweep); 2 bad input (unknown task or
memory, S or N < 1, steps < 1, a checkpoint of another model).
"""


def add_arguments(p) -> None:
    p.add_argument("--task", default="schlag1", help="schlag1 | schlag2 | recall (default schlag1)")
    p.add_argument("--memory", default="elu+1", help="memory name (default elu+1; see below)")
    p.add_argument("--S", type=int, default=None, help="Schlag tasks: number of keys (default 40)")
    p.add_argument("--N", type=int, default=None, help="recall: key-value pairs (default 4)")
    p.add_argument("--steps", type=int, default=None,
                   help="most training steps (default: the published 100000; --quick 300)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--d-key", type=int, default=None, help="key width before phi (default 64)")
    p.add_argument("--modes", type=int, default=None, help="MCCC modes (default 32)")
    p.add_argument("--d-model", type=int, default=None, help="recall: embedding width (default 64)")
    p.add_argument("--d-value", type=int, default=None, help="recall: value width (default d-model)")
    p.add_argument("--vocab", type=int, default=None, help="recall: MQAR vocabulary V (default 256)")
    p.add_argument("--eval-every", type=int, default=None, help="steps between evaluations (100)")
    p.add_argument("--resume", metavar="CHECKPOINT", help="continue from a checkpoint of this model")
    p.add_argument("--out", metavar="DIR", help="write log.jsonl, checkpoint.pt and result.json "
                   "(with --sweep: sweep.json and measured.csv)")
    p.add_argument("--json", metavar="FILE", help="also write the result (or the sweep) as JSON")
    p.add_argument("--quick", action="store_true", help="small sizes and few steps")
    p.add_argument("--sweep", action="store_true", help="run the sweep of trained memories")
    p.add_argument("--from", dest="from_json", metavar="SWEEP.json",
                   help="with --sweep: tabulate saved results instead of training")
    p.add_argument("--workers", type=int, metavar="P",
                   help="with --sweep: train the cells on a local Dask cluster of P processes")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="with --sweep: train the cells on an existing Dask scheduler")
    p.add_argument("--prune", action="store_true",
                   help="with --sweep: also train the MCCC cells and prune them with layer.reduce "
                   "(bt, spa, read_once, modal); writes pruning.json")


def _spec(args):
    from ..errors import OrderError
    from ..training import TrainSpec
    from ..validation import check_choice

    check_choice(args.task, "--task", ("schlag1", "schlag2", "recall"))
    if args.task == "recall" and args.S is not None:
        raise OrderError("--S: the recall task takes --N (key-value pairs), not --S")
    if args.task != "recall" and args.N is not None:
        raise OrderError("--N: the Schlag tasks take --S (number of keys), not --N")
    size = args.N if args.task == "recall" else args.S
    if size is None:
        size = (4 if args.task == "recall" else 16 if args.quick else 40)
    name = "--N" if args.task == "recall" else "--S"
    if size < 1:
        raise OrderError(f"{name}: expected an integer >= 1, found {size}")
    if args.steps is not None and args.steps < 1:
        raise OrderError(f"--steps: expected an integer >= 1, found {args.steps}")
    kw = dict(task=args.task, memory=args.memory, size=size, seed=args.seed)
    steps = args.steps or (300 if args.quick else None)
    for key, value in (("max_steps", steps), ("d_key", args.d_key), ("n_modes", args.modes),
                       ("d_model", args.d_model), ("d_value", args.d_value),
                       ("vocab_size", args.vocab), ("eval_every", args.eval_every)):
        if value is not None:
            kw[key] = value
    if args.quick:
        kw.setdefault("eval_every", 50)
        if args.task == "recall":
            kw.setdefault("vocab_size", 32)
            kw.setdefault("d_model", 16)
            kw.setdefault("d_key", 16)
    try:
        return TrainSpec(**kw)
    except Exception as exc:
        from ..errors import MCCCError

        if isinstance(exc, MCCCError):
            msg = str(exc).replace("memory: ", "--memory: ", 1).replace("max_steps: ", "--steps: ", 1)
            raise type(exc)(msg) from None
        raise


def _single(args) -> int:
    from ..training import train

    spec = _spec(args)
    res = train(spec, args.out, resume=args.resume)
    metric = "accuracy" if spec.task == "recall" else "loss"
    print(f"{spec.label()}: best eval loss {res.best_eval_loss:.5g} (accuracy "
          f"{res.best_eval_accuracy:.4f}) at step {res.best_step}; held-out test loss "
          f"{res.test_loss:.5g}, accuracy {res.test_accuracy:.4f}; {res.steps} steps in "
          f"{res.seconds:.1f} s, stopped: {res.stopped} (measured {metric})")
    if args.out:
        print(f"log, checkpoint and result written to {args.out}")
    if args.json:
        Path(args.json).write_text(json.dumps(res.to_json(), indent=2))
    return 0


def _print_rows(rows) -> None:
    print(f"{'task':<8}{'memory':<9}{'size':>5}{'d_dot':>6}{'metric':>9}{'measured':>10}"
          f"{'bound':>9}{'kind':>6}{'ratio':>8}{'predicted':>10}{'steps':>7}{'s':>7}  status")
    for r in rows:
        ratio = "-" if r["ratio"] is None else f"{r['ratio']:.3f}"
        bound = "-" if r["bound"] is None else f"{r['bound']:.4g}"
        pred = "-" if r["prediction"] is None else f"{r['prediction']:.3f}"
        dd = "-" if r["d_dot"] is None else str(r["d_dot"])
        print(f"{r['task']:<8}{r['memory']:<9}{r['size']:>5}{dd:>6}{r['metric']:>9}"
              f"{r['measured']:>10.4g}{bound:>9}{r['bound_kind']:>6}{ratio:>8}{pred:>10}"
              f"{r['steps']:>7}{r['seconds']:>7.0f}  {'ok' if r['ok'] else 'VIOLATES BOUND'}")


def _sweep(args) -> int:
    from tqdm import tqdm

    from ..compare import compare_measurements
    from ..errors import EmptyInputError
    from ..training.sweep import bound_rows, compare_csv, run_sweep, sweep_cells

    if args.from_json:
        path = Path(args.from_json)
        if not path.is_file():
            raise EmptyInputError(f"--from: no such file {str(path)!r}; pass a sweep.json "
                                  "written by mccc train --sweep")
        try:
            results = json.loads(path.read_text())["results"]
        except (ValueError, KeyError, TypeError):
            raise EmptyInputError(f"--from: {path} is not a sweep.json written by mccc train "
                                  "--sweep") from None
    else:
        cells = sweep_cells(quick=args.quick, seed=args.seed)
        from ..parallel import executor

        with executor(args.workers, args.scheduler) as ex, \
                tqdm(total=len(cells), desc=f"train sweep ({ex.name})", file=sys.stderr,
                     disable=None) as bar:
            results = run_sweep(cells, executor=ex, progress=lambda r: bar.update(1))
    rows = bound_rows(results)
    _print_rows(rows)
    total = sum(r["seconds"] for r in results)
    print(f"{len(rows)} cells, {total / 60:.1f} min of training in all; "
          f"{sum(not r['ok'] for r in rows)} violate a bound")
    out = Path(args.out) if args.out else None
    payload = {"results": results, "rows": rows, "seconds": total}
    bad = [r for r in rows if not r["ok"]]
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        if not args.from_json:
            (out / "sweep.json").write_text(json.dumps(payload, indent=1))
        csv_path = out / "measured.csv"
        csv_path.write_text(compare_csv(rows))
        comp = compare_measurements(csv_path)
        bad += [r for r in comp.violations]
        print(f"{csv_path}: {len(comp.rows)} recall points for mccc compare, "
              f"{len(comp.violations)} above the Fano bound")
    if args.prune:
        payload["pruning"] = _prune(args, out)
    if args.json:
        Path(args.json).write_text(json.dumps(payload, indent=1))
    return 1 if bad else 0


def _prune(args, out) -> list[dict]:
    from ..training.pruning import prune_cell, prune_cells

    studies = []
    for cell in prune_cells(quick=args.quick, seed=args.seed):
        study = prune_cell(cell)
        studies.append(study)
        print(f"pruning {study['label']}: {study['n_modes']} modes, full loss "
              f"{study['full_loss']:.4g}; removable within 1% loss: "
              + ", ".join(f"{m} {k}" for m, k in study["removable"].items()))
    if out is not None:
        (out / "pruning.json").write_text(json.dumps({"studies": studies}, indent=1))
    return studies


def run(args) -> int:
    from ..errors import MethodError, OrderError
    from ..validation import check_positive_int

    if args.workers is not None:
        check_positive_int(args.workers, "--workers")
    if (args.workers is not None or args.scheduler is not None) and \
            (not args.sweep or args.from_json):
        # a single run is one job, and --from trains nothing: a cluster would only be ignored
        raise MethodError("--workers/--scheduler: only with --sweep (without --from); a single "
                          "run trains in this process")
    if args.sweep:
        return _sweep(args)
    if args.from_json:
        raise OrderError("--from: only with --sweep (tabulates a saved sweep)")
    return _single(args)
