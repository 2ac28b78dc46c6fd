"""Report section "theory through production": kernels.* theorems per backend, and a trained layer
analysed, reduced and certified by the theory (issue 11)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .document import ReportContext, Section, SummaryRow, figure_html, paragraph, table_html  # noqa: E402

METHODS = ("bt", "spa", "read_once", "modal")


def _theorem_table(ctx: ReportContext, sec: Section) -> None:
    from mccc_proofs import all_theorems, run_theorem
    from mccc_proofs.kernels import available_backends

    from ..testing.profiles import load_profile

    load_profile("ci")
    # quick: the oracle and the torch path, one example each (JAX compiles per shape and the
    # Triton interpreter is slow; the full run and `mccc prove` cover every backend)
    backends = ("numpy", "torch") if ctx.quick else available_backends()
    rows = []
    for t in all_theorems().values():
        if t.group != "kernels":
            continue
        parts = ["kernels", *t.id[8:].split("_", 1)]  # kernels.<backend>_<name>
        if parts[1] not in backends:
            continue
        ctx.progress(f"theorem {t.id}")
        r = run_theorem(t, max_examples=1 if ctx.quick else None)
        ratio = "-" if r.examples == 0 else f"{1 - r.worst_slack:.3g}"
        rows.append([parts[2], parts[1], r.examples, ratio, r.status])
        sec.summary.append(SummaryRow(f"theorem {t.id}", r.status, "holds", r.holds))
    sec.add(table_html(["theorem", "backend", "examples", "worst error / allowed", "status"],
                       sorted(rows), caption="`kernels.*` theorems through the production "
                       r"kernels (worst ratio of the observed error to its allowance; $\le 1$ "
                       "holds)"))


def _train(ctx: ReportContext):
    """The README's example (decayed summary, per-query gate), with a linear mix, on CPU."""
    import torch

    from mccc_kernels.nn import MCCCCrossConditioning

    torch.manual_seed(ctx.seed)
    d_model, d_src, N, Q, m = 16, 8, 48, 4, 16
    layer = MCCCCrossConditioning(d_model, n_modes=m, d_source=d_src, d_value=8, mix="linear")
    target_map = torch.randn(d_src, d_model) / d_src ** 0.5
    opt = torch.optim.Adam(layer.parameters(), lr=1e-2)
    decay = torch.exp(-torch.arange(N - 1, -1, -1) / 8.0)
    steps = 150 if ctx.quick else 400
    losses = []
    for _ in range(steps):
        src, x = torch.randn(16, N, d_src), torch.randn(16, Q, d_model)
        target = torch.sigmoid(2 * x[..., :1]) * (((decay[:, None] * src).sum(1) / decay.sum())
                                                   @ target_map)[:, None]
        loss = torch.nn.functional.mse_loss(layer(x, src), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return layer.double(), losses, N


def build(ctx: ReportContext) -> Section:
    from mccc_kernels.bridge import layer_hsv, reduce_layer, to_memory

    from ..reduction import mode_scores

    sec = Section("production", "Theory through production")
    sec.add(paragraph(
        "Each `kernels.<backend>_*` theorem (`proofs/kernels.py`) runs the production kernels of "
        "one backend on Hypothesis-generated systems and compares what they return with the "
        "theory module: finite-horizon Gramians from the kernel's impulse states, the readout "
        "Gramian from the readout kernel, reduced layers within their certified bound on random "
        "and worst-case sources, `fit_modal` → `from_fit`, ALiBi against torch's "
        "`scaled_dot_product_attention`, chunked streaming, and the bytes of the state."))
    _theorem_table(ctx, sec)

    ctx.progress("training the README's layer (linear mix) on CPU")
    layer, losses, N = _train(ctx)
    rng = np.random.default_rng(ctx.seed)
    x = rng.standard_normal((8, layer.d_model))
    m = layer.n_modes
    sec.add(paragraph(
        f"A layer (${m}$ modes, linear mix) trained for {len(losses)} Adam steps on the "
        f"README's task: MSE {losses[0]:.4f} → {np.mean(losses[-10:]):.4f}. Its operator for "
        "8 random decoder positions is $(s, b, c(Q))$; it is reduced by each method and both "
        f"layers run through the kernels on sources of length $N = {N}$ (random and the worst-case "
        "rank-one source)."))
    orders = [1, 2, 4, 8] if ctx.quick else list(range(1, m))
    res = {k: [] for k in (*METHODS, "modulus")}
    for method in (*METHODS, "modulus"):
        for r in orders:
            ctx.progress(f"reduce {method} order {r}")
            kw = {"rank_by": "modulus"} if method == "modulus" else {}
            _, cert = reduce_layer(layer, r, x, "modal" if method == "modulus" else method,
                                   horizon=N, n_random=1, seed=ctx.seed, **kw)
            res[method].append(cert)

    # HSV spectrum against |lambda|
    lm = to_memory(layer)
    hsv = layer_hsv(lm, x)
    system = lm.memory.to_system(lm.queries(x))
    score = mode_scores(system, "hsv")
    lam = np.abs(lm.memory.lam)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    axes[0].semilogy(np.arange(1, hsv.size + 1), hsv / hsv[0], "o-")
    axes[0].set_xlabel("$i$")
    axes[0].set_ylabel(r"$\sigma_i / \sigma_1$")
    axes[0].set_title("Hankel singular values of the trained layer's operator")
    axes[1].scatter(lam, score / score.max())
    axes[1].set_yscale("log")
    axes[1].set_xlabel(r"$|\lambda_i|$")
    axes[1].set_ylabel(r"modal HSV $|c_i|\,|b_i| / (1 - |\lambda_i|^2)$ (relative)")
    axes[1].set_title(r"mode importance against $|\lambda|$")
    sec.add(figure_html(fig, alt="HSV spectrum and modal HSV against |lambda|",
                        caption="The trained layer's Hankel singular values (left) and each "
                        r"mode's modal HSV against its modulus $|\lambda_i|$ (right): the "
                        "modulus alone does not say which modes the operator needs."))

    fig, ax = plt.subplots(figsize=(8, 4.5))
    for i, method in enumerate((*METHODS, "modulus")):
        c = f"C{i}"
        label = r"modal ($|\lambda|$ ranking)" if method == "modulus" else method
        ax.semilogy(orders, [k.achieved for k in res[method]], "o-", color=c,
                    label=f"{label} achieved")
        if method != "modulus":
            ax.semilogy(orders, [max(k.bound, 1e-17) for k in res[method]], "--", color=c,
                        label=f"{label} bound")
    ax.set_xlabel("order $r$ (complex modes; read_once: $2r$ reals)")
    ax.set_ylabel(r"$\|y_\mathrm{full} - y_r\|_F / \|u\|_F$")
    ax.legend(fontsize=7, ncol=2)
    ax.set_title("reduced layer: achieved error (kernels) and certified bound")
    sec.add(figure_html(fig, alt="error against order with the bounds",
                        caption="The reduced layer's error through the kernels (solid) against "
                        "the order $r$, with the certified bound (dashed) of each method that has one."))

    rows = []
    for method in METHODS:
        for r, k in zip(orders, res[method], strict=True):
            rows.append([method, r, k.n_modes, k.bound, k.achieved, k.allowance,
                         "yes" if k.holds else "NO"])
    sec.add(table_html(["method", "order", "modes", "bound", "achieved", "allowance",
                        r"bound $\ge$ achieved"], rows))
    holds = all(k.holds for mth in METHODS for k in res[mth])
    sec.summary.append(SummaryRow("trained layer: bound >= achieved (every order and method)",
                                  "yes" if holds else "no", "every one", holds))
    ro = [k.bound / k.achieved_worst for k in res["read_once"] if k.bound > 1e3 * k.allowance]
    worst_ro = max(ro) if ro else 1.0
    sec.summary.append(SummaryRow("trained layer: read_once bound / achieved", f"{worst_ro:.4g}",
                                  "<= 2", worst_ro <= 2))
    ratios = [a.achieved / h.achieved for a, h in zip(res["modulus"], res["modal"], strict=True)
              if h.achieved > 0]
    sec.add(paragraph(
        r"Modal truncation at equal order, $|\lambda|$ ranking over HSV ranking (achieved error "
        "ratio): " + ", ".join(f"$r = {r}$: {q:.3g}" for r, q in zip(orders, ratios, strict=False))))
    beat = float(np.exp(np.mean(np.log(ratios)))) if ratios else 0.0
    sec.summary.append(SummaryRow("trained layer: |lambda|-ranked / HSV-ranked error (geometric "
                                  "mean over orders)", f"{beat:.3g}", "> 1", beat > 1))
    return sec
