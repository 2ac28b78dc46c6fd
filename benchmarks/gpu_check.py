"""GPU benchmarks for ``benchmarks/gpu_check.sh`` (one CUDA device): writes ``reports/gpu.json``.

Not a ``bench_*.py`` (``mccc bench`` runs on the CPU); run by the shell script after the CUDA
certification. Every section is timed with CUDA events (minimum over repeats after a warm-up)
and records its error instead of stopping the run, so one missing optional package (flash-linear-
attention) costs only its rows.

* scan: the Triton modal scan, ``sequential`` (one program per batch row and mode block) and
  ``chunked`` (the chunk-parallel grid), forward over all states and forward + backward, against
  the device's copy bandwidth measured on buffers of the same bytes (``x`` in, ``h`` out);
* fla: flash-linear-attention's HGRN and simple-GLA chunk kernels on the same (batch, length,
  channels) when ``fla`` imports;
* layer: ``MCCCCrossConditioning`` training step against cross-attention with q/k/v/o
  projections and SDPA (flash attention where torch picks it), batch 2, Q = 256, d = 256, m = 64.

Usage: ``python benchmarks/gpu_check.py [--out reports/gpu.json] [--quick]``. ``--dry-run`` runs
every section on the CPU at tiny sizes (Triton in the interpreter, wall-clock timer) so that the
script itself is tested without a GPU; its numbers mean nothing.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import traceback
from pathlib import Path

#: where the sections run and at which sizes (``--dry-run``: the CPU, tiny)
RUN = {"device": "cuda", "dry": False}


def _time(fn, repeat=10):
    import torch

    if RUN["dry"]:
        import time
        fn()
        t0 = time.perf_counter()
        fn()
        return time.perf_counter() - t0
    fn()
    torch.cuda.synchronize()
    best = float("inf")
    for _ in range(repeat):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        best = min(best, start.elapsed_time(end) / 1e3)
    return best


def _section(out, name, fn):
    try:
        out[name] = fn()
    except Exception as exc:  # one section failing must not lose the others
        out[name] = [{"name": name, "error": f"{type(exc).__name__}: {exc}",
                      "trace": traceback.format_exc(limit=3)}]
        print(f"[gpu] {name}: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)


def scan_rows(quick):
    import torch

    from mccc_kernels.modal_scan import triton as SK
    from mccc_kernels.modal_scan.torch import modal_scan

    rows = []
    dev = RUN["device"]
    shapes = [(1, 20, 17)] if RUN["dry"] else [(4, 4096, 64)] if quick else \
        [(4, 4096, 64), (8, 16384, 256)]
    for b, L, m in shapes:
        g = torch.Generator(device=dev).manual_seed(0)
        x = [torch.randn(b, L, m, device=dev, generator=g) for _ in range(2)]
        nu = torch.log(-torch.log1p(-torch.logspace(-4, -0.5, m, device=dev)))
        th = torch.rand(m, device=dev, generator=g) * 6 - 3
        dst = [torch.empty_like(x[0]) for _ in range(2)]
        t_copy = _time(lambda x=x, dst=dst: [d.copy_(s) for d, s in zip(dst, x, strict=True)])
        moved = 4 * x[0].numel() * 4  # two planes in, two out, float32
        rows.append({"name": f"copy limit b={b} L={L} m={m}", "ms": t_copy * 1e3,
                     "GB/s": moved / t_copy / 1e9, "of_limit": "100%"})
        for method, K in (("sequential", 16), ("chunked", 16), ("chunked", 64)):
            t = _time(lambda method=method, K=K, x=x, nu=nu, th=th: SK.forward(
                *x, nu, th, None, None, return_all=True, method=method, chunk=K))
            rows.append({"name": f"triton {method} K={K} fwd b={b} L={L} m={m}", "ms": t * 1e3,
                         "GB/s": moved / t / 1e9, "of_limit": f"{t_copy / t:.0%}"})
        u = torch.randn(b, L, 1, device=dev, generator=g)
        params = [nu.clone().requires_grad_(), th.clone().requires_grad_(),
                  torch.ones(m, 1, device=dev, requires_grad=True),
                  torch.zeros(m, 1, device=dev, requires_grad=True)]
        for method in ("sequential", "chunked"):
            def fb(method=method, u=u, params=params):
                h_re, h_im = modal_scan(u, *params, method=method, chunk=16, backend="triton")
                (h_re.sum() + h_im.sum()).backward()
            t = _time(fb)
            rows.append({"name": f"triton {method} fwd+bwd b={b} L={L} m={m}", "ms": t * 1e3})
    return rows


def fla_rows(quick):
    import torch

    rows = []
    dev = RUN["device"]
    b, L, m = (1, 64, 8) if RUN["dry"] else (4, 4096, 64) if quick else (8, 16384, 256)
    try:
        from fla.ops.hgrn import chunk_hgrn
    except Exception as exc:
        rows.append({"name": "fla HGRN chunk", "error": f"not importable: {exc}"})
    else:
        x = torch.randn(b, L, 2 * m, device=dev)  # 2m real channels = m complex modes
        gl = torch.nn.functional.logsigmoid(torch.randn(b, L, 2 * m, device=dev))
        t = _time(lambda: chunk_hgrn(x, gl))
        rows.append({"name": f"fla chunk_hgrn fwd b={b} L={L} channels={2 * m}", "ms": t * 1e3})
    try:
        from fla.ops.simple_gla import chunk_simple_gla
    except Exception as exc:
        rows.append({"name": "fla simple-GLA chunk", "error": f"not importable: {exc}"})
    else:
        H, D = 4, 64
        q, k, v = (torch.randn(b, L, H, D, device=dev, dtype=torch.bfloat16) for _ in range(3))
        gl = torch.nn.functional.logsigmoid(torch.randn(b, L, H, device=dev))
        t = _time(lambda: chunk_simple_gla(q, k, v, gl))
        rows.append({"name": f"fla chunk_simple_gla fwd b={b} L={L} H={H} D={D}", "ms": t * 1e3})
    return rows


def layer_rows(quick):
    import torch
    import torch.nn.functional as F
    from torch import nn

    from mccc_kernels.nn import MCCCCrossConditioning

    dev = RUN["device"]
    b, Q, d, m = (1, 3, 8, 4) if RUN["dry"] else (2, 256, 256, 64)
    rows = []
    torch.manual_seed(0)
    layer = MCCCCrossConditioning(d, n_modes=m, d_value=d).to(dev)
    proj = nn.ModuleList(nn.Linear(d, d) for _ in range(4)).to(dev)

    def attention(x, src):
        split = lambda t: t.reshape(b, t.shape[1], 4, d // 4).transpose(1, 2)  # noqa: E731
        y = F.scaled_dot_product_attention(split(proj[0](x)), split(proj[1](src)),
                                           split(proj[2](src)))
        return proj[3](y.transpose(1, 2).reshape(b, Q, d))

    for n in (5,) if RUN["dry"] else (2048,) if quick else (256, 2048, 16384, 131072):
        src = torch.randn(b, n, d, device=dev, requires_grad=True)
        x = torch.randn(b, Q, d, device=dev, requires_grad=True)
        t_a = _time(lambda x=x, src=src: attention(x, src).square().mean().backward())
        t_m = _time(lambda x=x, src=src: layer(x, src).square().mean().backward())
        rows.append({"name": f"training step N={n}", "attention_ms": t_a * 1e3,
                     "mccc_ms": t_m * 1e3, "attention/mccc": t_a / t_m})
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "reports" /
                                         "gpu.json"))
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--certify-json", help="the JSON written by `mccc certify --json` to embed")
    ap.add_argument("--dry-run", action="store_true", help="tiny sizes on the CPU (tests)")
    args = ap.parse_args(argv)
    import torch

    if args.dry_run:
        RUN.update(device="cpu", dry=True)
    elif not torch.cuda.is_available():
        print("gpu_check.py: no CUDA device; nothing measured", file=sys.stderr)
        return 2
    out = {"device": "cpu (dry run)" if args.dry_run else torch.cuda.get_device_name(),
           "torch": torch.__version__, "python": platform.python_version(),
           "quick": args.quick, "dry_run": args.dry_run}
    try:
        import triton
        out["triton"] = triton.__version__
    except Exception as exc:
        out["triton"] = f"unavailable: {exc}"
    if args.certify_json and Path(args.certify_json).is_file():
        out["certify"] = json.loads(Path(args.certify_json).read_text())
    _section(out, "scan", lambda: scan_rows(args.quick))
    _section(out, "fla", lambda: fla_rows(args.quick))
    _section(out, "layer", lambda: layer_rows(args.quick))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2))
    print(f"[gpu] wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
