"""``mccc certify``: certify the kernels against the NumPy oracle and write certificates."""

from __future__ import annotations

import json
import sys

HELP = "certify the kernels (modal scan, encode, readout) on every available backend"
EPILOG = """examples:
  mccc certify                                  # every kernel on every backend available here
  mccc certify --kernel modal_scan --backend triton
  mccc certify --kernel modal_encode --backend torch
  mccc certify --profile thorough               # 300 random cases per kernel/backend
  mccc certify --list                           # the certificates on file and whether current

Without a CUDA device the Triton kernels run in the CPU interpreter (TRITON_INTERPRET=1 is set
for this process). A kernel/backend with any case beyond its error model is not certified: its
certificate is removed, the failing case is printed and the exit status is 1.
"""


def add_arguments(p) -> None:
    p.add_argument("--kernel", action="append",
                   choices=("modal_scan", "modal_readout", "modal_encode"),
                   help="certify only this kernel (repeatable)")
    p.add_argument("--backend", action="append", choices=("jax", "torch", "triton", "numba"),
                   help="certify only this backend (repeatable)")
    p.add_argument("--profile", choices=("ci", "thorough"), default="ci",
                   help="ci: 40 derandomized cases (default); thorough: 300 random cases")
    p.add_argument("--examples", type=int, metavar="N",
                   help="generated cases per kernel/backend (overrides the profile)")
    p.add_argument("--out", metavar="DIR", help="certificate directory (default: "
                   "$MCCC_CERTIFICATE_DIR or ~/.cache/mccc-theory/certificates)")
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    p.add_argument("--list", action="store_true", help="list the certificates on file and exit")


def run(args) -> int:
    import warnings

    from mccc_kernels.certify import use_interpreter_without_cuda

    use_interpreter_without_cuda()
    from tqdm import tqdm

    from mccc_kernels.certify import (
        BACKENDS,
        KERNEL_BACKENDS,
        KERNELS,
        CertificationError,
        available_backends,
        certificate_dir,
        certificates,
        certify,
    )

    from ..errors import BackendUnavailableError, MethodError, OrderError
    from .paths import output_dir, output_file

    if args.list:
        certs = certificates(args.out)
        if not certs:
            print(f"no certificates in {certificate_dir(args.out)}")
        for c in certs:
            print(f"{c['kernel']:<14} {c['backend']:<7} {c['device']:<28} cases={c['cases']:<4} "
                  f"worst={c['worst_ratio']:.3g} current={c['current']} rev={c['git_revision']}")
        return 0
    examples = args.examples if args.examples is not None else \
        (300 if args.profile == "thorough" else 40)
    if examples < 1:
        raise OrderError(f"--examples: expected an integer >= 1, found {examples}")
    if args.out is not None:
        output_dir(args.out, "--out")
    json_path = output_file(args.json, "--json") if args.json else None
    avail = available_backends()
    backends = args.backend or list(BACKENDS)
    for b in args.backend or ():
        if avail[b].startswith("unavailable"):
            raise BackendUnavailableError(f"--backend {b}: {avail[b]}")
    jobs = [(k, b) for k in (args.kernel or KERNELS) for b in backends if b in KERNEL_BACKENDS[k]]
    if not jobs:
        raise MethodError(f"--kernel, --backend: no backend of {', '.join(backends)} implements "
                          f"{', '.join(args.kernel or KERNELS)}")
    if all(avail[b].startswith("unavailable") for _, b in jobs):
        # nothing can be certified: saying so is a usage error, not a success
        raise BackendUnavailableError("no kernel backend can run here (" + "; ".join(
            f"{b}: {avail[b]}" for b in dict.fromkeys(b for _, b in jobs)) + "); install one, "
            "e.g. pip install 'mccc-theory[jax]'")
    rows, failed = [], 0
    bar = tqdm(jobs, desc="certifying", unit="kernel", file=sys.stderr, disable=None)
    for kernel, backend in bar:
        bar.set_postfix_str(f"{kernel}/{backend}")
        if avail[backend].startswith("unavailable"):
            rows.append({"kernel": kernel, "backend": backend, "device": avail[backend],
                         "status": "skipped"})
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # interpreter: 0 * inf in masked lanes
            try:
                r = certify(kernel, backend, max_examples=examples,
                            derandomize=args.profile == "ci", directory=args.out)
                rows.append({"kernel": kernel, "backend": backend, "device": r.device,
                             "cases": r.cases, "worst_ratio": r.worst_ratio,
                             "worst_where": r.worst_where, "by_dtype": r.by_dtype,
                             "gradcheck": r.gradcheck, "status": "certified"})
            except CertificationError as exc:
                failed += 1
                rows.append({"kernel": kernel, "backend": backend, "device": avail[backend],
                             "status": "FAILED", "error": str(exc)})
    print(f"{'kernel':<14} {'backend':<7} {'device':<26} {'cases':>5} {'worst':>8}  "
          f"{'at':<14} status")
    for r in rows:
        if r["status"] == "certified":
            print(f"{r['kernel']:<14} {r['backend']:<7} {r['device'][:26]:<26} {r['cases']:>5} "
                  f"{r['worst_ratio']:>8.3g}  {r['worst_where']:<14} certified; gradcheck "
                  f"{r['gradcheck']}")
            print(" " * 16 + "worst by input dtype: " + ", ".join(
                f"{k} {v:.3g}" for k, v in sorted(r["by_dtype"].items())))
        else:
            print(f"{r['kernel']:<14} {r['backend']:<7} {r['device'][:26]:<26} {'-':>5} "
                  f"{'-':>8}  {'-':<14} {r['status']}")
            if "error" in r:
                print(f"    {r['error']}")
    print(f"certificates in {certificate_dir(args.out)}; worst = max |observed - oracle| / "
          "error model over outputs and gradients (<= 1 required)")
    if json_path:
        with json_path.open("w") as fh:
            json.dump(rows, fh, indent=2)
    return 1 if failed else 0
