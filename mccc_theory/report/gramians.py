"""Report section: eigenvalue parametrizations, Gramian accuracy near the unit circle, HSV decay."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import scipy.linalg as sla  # noqa: E402

from ..eigen import (  # noqa: E402
    discretize,
    fsr_classify,
    hippo_legs_normal,
    log_polar,
    lru_ring_init,
    s4d_lin,
    s4d_real,
)
from ..gramians import controllability_gramian, hankel_singular_values  # noqa: E402
from ..systems import ModalSystem  # noqa: E402
from ..testing.oracles import mp_controllability_gramian  # noqa: E402
from .document import ReportContext, Section, SummaryRow, figure_html, paragraph, table_html  # noqa: E402

_FSR_COLORS = {"F": "tab:blue", "S": "tab:orange", "R": "tab:green"}


def _eigenvalue_figure(horizon: int, seed: int):
    families = {
        "LRU ring (r in [0.9, 0.999])": log_polar(*lru_ring_init(64, r_min=0.9, r_max=0.999,
                                                                   theta_max=np.pi, rng=seed)),
        "S4D-Real, ZOH dt=0.002": discretize(s4d_real(64), 0.002),
        "HiPPO-LegS normal, bilinear dt=0.05": discretize(hippo_legs_normal(64), 0.05,
                                                          method="bilinear"),
    }
    fig, axes = plt.subplots(1, 3, figsize=(11, 4.2), sharey=True)
    counts = []
    for ax, (name, s) in zip(axes, families.items(), strict=True):
        labels = fsr_classify(s, horizon)
        lam = np.exp(s)
        t = np.linspace(0, 2 * np.pi, 400)
        ax.plot(np.cos(t), np.sin(t), color="0.7", lw=0.8)
        for lab, color in _FSR_COLORS.items():
            sel = labels == lab
            ax.scatter(lam.real[sel], lam.imag[sel], s=12, color=color,
                       label={"F": "fast", "S": "slow", "R": "repeating"}[lab])
        ax.set_aspect("equal")
        ax.set_title(name, fontsize=10)
        ax.set_xlabel(r"Re $\lambda$")
        ax.legend(fontsize=8, loc="lower left")
        counts.append([name, *(int(np.sum(labels == k)) for k in "FSR")])
    axes[0].set_ylabel(r"Im $\lambda$")
    fig.suptitle(f"Eigenvalues on the unit disk, FSR classes for horizon N = {horizon}")
    return fig, counts


def _accuracy_sweep(quick: bool, seed: int):
    deltas = np.logspace(-1, -12, 6 if quick else 12)
    rng = np.random.default_rng(seed)
    rows = []
    for d in deltas:
        # four modes at 1 - |lambda| ~ d: two at random angles, two straddling lambda = -1
        re = -d * np.array([1.0, 1.7, 1.3, 2.1])
        im = np.array([rng.uniform(-3, 3), rng.uniform(-3, 3), np.pi - 37 * d, -(np.pi - 11 * d)])
        s = re + 1j * im
        B = rng.standard_normal((4, 1)) + 1j * rng.standard_normal((4, 1))
        sys = ModalSystem(s, B, np.ones((1, 4)))
        ref = mp_controllability_gramian(sys)
        norm = np.linalg.norm(ref)
        modal = np.linalg.norm(controllability_gramian(sys, method="modal") - ref) / norm
        dense = np.linalg.norm(controllability_gramian(sys, method="dense") - ref) / norm
        A = np.diag(sys.lam)
        scipy_err = np.linalg.norm(sla.solve_discrete_lyapunov(A, B @ B.conj().T) - ref) / norm
        rows.append([d, modal, dense, scipy_err])
    return np.array(rows)


def _hsv_figure(seed: int):
    rng = np.random.default_rng(seed)
    systems = {
        "LRU ring m=64, p=1": ModalSystem(
            log_polar(*lru_ring_init(64, r_min=0.5, r_max=0.99, rng=rng)),
            rng.standard_normal((64, 1)), rng.standard_normal((1, 64))),
        "S4D-Lin m=64 (ZOH dt=0.01)": ModalSystem(
            discretize(s4d_lin(64), 0.01), np.ones((64, 1)), np.ones((1, 64))),
        "slow ring m=64 (|lambda| >= 0.999)": ModalSystem(
            log_polar(*lru_ring_init(64, r_min=0.999, r_max=0.99999, rng=rng)),
            rng.standard_normal((64, 1)), rng.standard_normal((1, 64))),
    }
    fig, ax = plt.subplots(figsize=(7, 4.2))
    rows = []
    for name, sys in systems.items():
        h = hankel_singular_values(sys)
        line, = ax.semilogy(np.arange(1, len(h.values) + 1), h.values / h.values[0], ".-",
                            label=name)
        ax.axhline(h.cut / h.values[0], color=line.get_color(), ls=":", lw=0.8)
        rows.append([name, h.order, h.rank, float(h.values[0]), float(h.cut)])
    ax.set_xlabel("index i")
    ax.set_ylabel(r"$\sigma_i / \sigma_1$")
    ax.set_ylim(bottom=1e-17)  # below the rank cut n eps sigma_1 there is only rounding
    ax.set_title(r"Hankel singular value decay (dotted: numerical-rank cut $n\,\epsilon\,\sigma_1$)")
    ax.legend(fontsize=8)
    return fig, rows


def build(ctx: ReportContext) -> Section:
    sec = Section("gramians", "Eigenvalues, Gramians and Hankel singular values")
    sec.add(paragraph(
        "Modes are stored as log-eigenvalues $s = \\log\\lambda$; the FSR reading labels each mode "
        "fast (forgets within the horizon), slow (timescale at least the horizon) or repeating "
        "(completes at least one period in its lifetime). $|\\lambda|$ alone does not rank a mode's "
        "importance: the Hankel singular values below do."))
    ctx.progress("eigenvalue plots")
    fig, counts = _eigenvalue_figure(256, ctx.seed)
    sec.add(figure_html(fig, alt="Eigenvalues of three initialisations coloured by FSR class",
                        caption="Eigenvalues of three standard initialisations on the unit disk, "
                        "coloured by FSR class for the horizon N = 256: the LRU ring and HiPPO "
                        "spread over angles (repeating modes), S4D-Real sits on the positive "
                        "real axis (fast or slow, never repeating)."))
    sec.add(table_html(["family", "fast", "slow", "repeating"], counts))
    ctx.progress("Gramian accuracy sweep against mpmath")
    rows = _accuracy_sweep(ctx.quick, ctx.seed)
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for k, name in enumerate(["modal closed form", "dense Bartels-Stewart (ours)",
                              "scipy solve_discrete_lyapunov"], start=1):
        ax.loglog(rows[:, 0], np.maximum(rows[:, k], 1e-17), "o-", label=name)
    ax.axhline(1e-14, color="k", ls="--", lw=0.8, label="1e-14 requirement")
    ax.invert_xaxis()
    ax.set_xlabel(r"$1 - |\lambda|$")
    ax.set_ylabel("relative error (Frobenius) vs 50-digit mpmath")
    ax.set_title("Controllability Gramian accuracy as modes approach the unit circle")
    ax.legend(fontsize=8)
    sec.add(figure_html(fig, alt="Gramian error against mpmath as 1-|lambda| goes to 0",
                        caption="Relative Frobenius error of the controllability Gramian against "
                        "50-digit mpmath as the modes approach the unit circle (right): the modal "
                        "closed form stays at rounding level, the dense Stein solvers lose digits "
                        "like $1/(1-|\\lambda|^2)$."))
    sec.add(table_html(["$1 - |\\lambda|$", "modal", "dense (ours)", "scipy"], rows.tolist()))
    worst_modal = float(rows[:, 1].max())
    sec.summary.append(SummaryRow("modal Gramian worst relative error vs mpmath",
                                  f"{worst_modal:.2g}", "<= 1e-14", worst_modal <= 1e-14))
    worst_dense = float(rows[:, 2:].max())
    sec.add(paragraph(
        f"Worst modal error {worst_modal:.2g}; the dense solvers reach {worst_dense:.2g} "
        "because the Stein operator's condition number grows like $1/(1 - |\\lambda|^2)$."))
    ctx.progress("HSV decay")
    fig, hsv_rows = _hsv_figure(ctx.seed)
    sec.add(figure_html(fig, alt="Hankel singular value decay with the numerical-rank cut",
                        caption="Hankel singular values relative to the largest: a random LRU "
                        "ring decays fast (few modes matter), a slow ring does not; dotted lines "
                        "are the numerical-rank cuts below which values are rounding."))
    sec.add(table_html(["system", "order", "numerical rank", "$\\sigma_1$", "cut"], hsv_rows))
    return sec
