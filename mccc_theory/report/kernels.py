"""Report section: certification of the production kernels against the float64 oracle."""

from __future__ import annotations

import tempfile

from .document import ReportContext, Section, SummaryRow, paragraph, table_html


def build(ctx: ReportContext) -> Section:
    from mccc_kernels.certify import (
        KERNEL_BACKENDS,
        KERNELS,
        CertificationError,
        available_backends,
        certify,
        use_interpreter_without_cuda,
    )

    use_interpreter_without_cuda()

    sec = Section("kernels", "Certified kernels (modal scan and readout)")
    sec.add(paragraph(
        "Each kernel/backend is run on Hypothesis cases at the awkward corners ($L = 1$, "
        r"non-power-of-two lengths, mode counts not a multiple of the block, $|\lambda|$ up to "
        r"$1 - 10^{-5}$ and $\lambda = 0$, float32/float64 and bf16 inputs), forward and VJP with "
        "random cotangents, and compared with the NumPy complex128 oracle. The ratio is the "
        r"observed error over the oracle's error model ($\le 1$ passes); torch gradcheck runs in "
        "float64. "
        "Triton runs in the CPU interpreter here (no GPU lent); GPU timings are unmeasured."))
    devices = available_backends()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for kernel in KERNELS:
            for backend in KERNEL_BACKENDS[kernel]:
                if devices.get(backend, "").startswith("unavailable"):
                    rows.append([kernel, backend, devices[backend], 0, "-", "-", "not run"])
                    continue
                ctx.progress(f"certify {kernel} on {backend}")
                try:  # quick: the fixed corner cases only (they reach every dtype and corner)
                    r = certify(kernel, backend, max_examples=40, examples_only=ctx.quick,
                                gradcheck=not ctx.quick, directory=tmp)
                except CertificationError as exc:  # reported in the table and summary
                    rows.append([kernel, backend, devices[backend], "-", "-", "-",
                                 f"FAILED: {exc}"])
                    sec.summary.append(SummaryRow(f"kernel {kernel} on {backend}", "failed",
                                                  "certified", False))
                    continue
                by_dtype = ", ".join(f"{k} {v:.3g}" for k, v in sorted(r.by_dtype.items()))
                rows.append([kernel, backend, r.device, r.cases, r.worst_ratio, by_dtype,
                             r.gradcheck])
                sec.summary.append(SummaryRow(
                    f"kernel {kernel} on {backend}: worst error / model", f"{r.worst_ratio:.3g}",
                    "<= 1", r.worst_ratio <= 1))
    sec.add(table_html(["kernel", "backend", "device", "cases", "worst ratio",
                        "worst ratio by dtype", "gradcheck / status"], rows))
    return sec
