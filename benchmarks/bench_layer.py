"""The MCCC layer against cross-attention on CPU: a training step and the source encode (issue 16).

Sizes (the issue's table): batch 2, Q = 256 decoder positions, d_model = d_source = d_v = 256,
m = 64 modes, source lengths N = 256, 2048, 16384 (quick: d = 32, m = 16, Q = 16, N = 64, 256).

* Training step: forward and backward of ``MCCCCrossConditioning(x, source)`` against
  cross-attention with q/k/v/o projections and ``scaled_dot_product_attention`` (4 heads), the
  same loss (mean square of the output), gradients for every parameter and both inputs. No
  optimizer step (the same for both).
* Encode: the layer's ``encode(source)`` (the memory, final state only) against the K and V
  projections of cross-attention for the same source (what a KV cache stores), no grad.

Times: process CPU time, minimum over interleaved rounds (``timing.compare``), torch and BLAS on
one thread. The crossover N (where the layer's training step becomes cheaper) is interpolated
between the measured N on a log-log scale, or reported as outside the measured range.

Run: ``python benchmarks/bench_layer.py [--quick]`` or ``mccc bench --only layer``.
"""

from __future__ import annotations

import math
import sys

from timing import Table, compare, ratio_str, single_thread_blas

HEADS = 4


def _cross_attention(d: int):
    import torch.nn.functional as F
    from torch import nn

    class CrossAttention(nn.Module):
        """q/k/v/o projections and SDPA over the source (the anchor)."""

        def __init__(self):
            super().__init__()
            self.q, self.k, self.v, self.o = (nn.Linear(d, d) for _ in range(4))

        def kv(self, source):
            return self.k(source), self.v(source)

        def forward(self, x, source):
            b, Q, _ = x.shape
            split = lambda t: t.reshape(b, t.shape[1], HEADS, d // HEADS).transpose(1, 2)  # noqa: E731
            k, v = self.kv(source)
            y = F.scaled_dot_product_attention(split(self.q(x)), split(k), split(v))
            return self.o(y.transpose(1, 2).reshape(b, Q, d))

    return CrossAttention()


def crossover(ns, ratios):
    """N where ``ratio = t_attention / t_layer`` reaches 1, interpolated in log-log between the
    measured N; ``(None, text)`` when every ratio is on one side."""
    pts = list(zip(ns, ratios, strict=True))
    if pts[0][1] >= 1:
        return None, f"layer cheaper already at N = {ns[0]} (the smallest measured)"
    for (n0, r0), (n1, r1) in zip(pts, pts[1:], strict=False):
        if r0 < 1 <= r1:
            f = -math.log(r0) / (math.log(r1) - math.log(r0))
            n = math.exp(math.log(n0) + f * (math.log(n1) - math.log(n0)))
            return n, f"N ~ {n:,.0f} (interpolated between N = {n0} and {n1})"
    return None, f"not reached up to N = {ns[-1]} (ratio there {ratios[-1]:.2g})"


def run(quick: bool = False) -> list[Table]:
    import torch

    from mccc_kernels.nn import MCCCCrossConditioning

    b, Q, d, m = (2, 16, 32, 16) if quick else (2, 256, 256, 64)
    sizes = (64, 256) if quick else (256, 2048, 16384)
    step = Table(f"Training step (forward + backward) on CPU: MCCC layer vs cross-attention "
                 f"(batch {b}, Q = {Q}, d = {d}, m = {m}, one thread)",
                 ["N", "cross-attention ms", "MCCC ms", "attention / MCCC"])
    enc = Table(f"Encode a source: MCCC memory vs cross-attention's K/V projections (batch {b}, "
                f"d = {d}, m = {m}, no grad, one thread)",
                ["N", "K/V projections ms", "MCCC encode ms", "MCCC / K,V"])
    torch.manual_seed(0)
    layer = MCCCCrossConditioning(d, n_modes=m, d_value=d)
    attn = _cross_attention(d)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with single_thread_blas():
            for n in sizes:
                src = torch.randn(b, n, d, requires_grad=True)
                x = torch.randn(b, Q, d, requires_grad=True)

                def train(mod, x=x, src=src):
                    def go():
                        mod.zero_grad(set_to_none=True)
                        x.grad = src.grad = None
                        mod(x, src).square().mean().backward()
                    return go
                t = compare({"attention": train(attn), "mccc": train(layer)},
                            repeat=3, min_seconds=0.05)
                step.rows.append([n, t["attention"] * 1e3, t["mccc"] * 1e3,
                                  ratio_str(t["attention"] / t["mccc"])])
                src0 = src.detach()
                with torch.no_grad():
                    te = compare({"kv": lambda s=src0: attn.kv(s), "mccc": lambda s=src0:
                                  layer.encode(s)}, repeat=3, min_seconds=0.05)
                enc.rows.append([n, te["kv"] * 1e3, te["mccc"] * 1e3,
                                 ratio_str(te["mccc"] / te["kv"])])
                print(f"  N={n}: step {step.rows[-1][3]}, encode {enc.rows[-1][3]}",
                      file=sys.stderr, flush=True)
    finally:
        torch.set_num_threads(threads)
    ratios = [r[1] / r[2] for r in step.rows]
    _, text = crossover(list(sizes), ratios)
    step.notes += [
        f"cross-attention: q/k/v/o nn.Linear({d}, {d}) + scaled_dot_product_attention, {HEADS} "
        "heads; MCCC: MCCCCrossConditioning(d, n_modes=m, d_value=d), default options",
        "loss: mean square of the output; gradients for every parameter, x and the source",
        "times: process CPU time, minimum over 3 interleaved rounds",
        f"crossover (training step cheaper than cross-attention): {text}",
    ]
    enc.notes.append("MCCC encode: the final memory H (batch, m, d_v) from the source; K/V: the "
                     "two projections a KV cache stores")
    if not quick:
        at = dict(zip(sizes, ratios, strict=True))
        step.check("MCCC / cross-attention training step cost at N = 2048", 1 / at[2048], 1.5,
                   at_least=False)
        step.check("cross-attention / MCCC training step at N = 16384 (layer cheaper)",
                   at[16384], 1.0)
        worst = max(r[2] / r[1] for r in enc.rows)
        enc.check("MCCC encode / K,V projections, worst over N", worst, 2.0, at_least=False)
    return [step, enc]


if __name__ == "__main__":
    for t in run(quick="--quick" in sys.argv):
        print(t.format(), end="\n\n")
