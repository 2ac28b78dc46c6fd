"""Report section "capacity": interference, capacity bounds and recall (THEORY §5).

1. Exact facts checked numerically (orthonormal keys, least squares, delta-rule identities,
   overlap moments, crosstalk energy, frame potential, Welch).
2. Predicted against measured recall on the codebook task over THEORY's grid: the conditional
   predictor and the naive independent-rivals one for linear attention (target
   ``|predicted - measured| <= 0.03`` for ``V <= 2d``), then every other memory on the cells
   with ``V = 2d``, ``d <= 64`` (``mccc recall --grid --memory all`` runs the whole grid).
3. MQAR (zoology Figure-2 configurations, random embeddings): recall against state size.
4. Schlag et al.'s capacity setting with random keys: where the retrieval loss crosses 0.001,
   beside their published (trained-model) crossing points.
5. Bounds: relative MSE against ``1 - m/N``; the counting bound; cited capacity constants.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from .document import ReportContext, Section, SummaryRow, figure_html, paragraph, table_html

__all__ = ["build"]

TOL = 0.03
EPS = np.finfo(float).eps


def _exact_facts(ctx: ReportContext, sec: Section) -> None:
    from ..capacity import exact
    from ..recall.intervals import bernstein_interval

    rng = np.random.default_rng(ctx.seed)
    rows = []
    d, N = 64, 48
    K = exact.tight_frame(N, d, rng)
    Vv = rng.standard_normal((N, 16))
    err = np.abs(exact.outer_product_memory(K, Vv) @ K.T - Vv.T).max() / np.abs(Vv).max()
    rows.append(["orthonormal keys, N = 48 <= d = 64: |S k_i - v_i| / |v|", err,
                 "<= 4 N eps", err <= 4 * N * EPS])
    Kr = exact.random_unit_vectors(N, d, rng)
    S = exact.least_squares_memory(Kr, Vv)
    cond = np.linalg.cond(Kr)
    err = np.abs(S @ Kr.T - Vv.T).max() / np.abs(Vv).max()
    rows.append(["least squares, N = 48 independent keys", err, "<= 10 d cond(K) eps",
                 err <= 10 * d * cond * EPS])
    Kd = exact.random_unit_vectors(96, d, rng)
    Vd = exact.random_unit_vectors(96, 16, rng)
    Sd, norms, res = exact.delta_rule_memory(Kd, Vd, return_trace=True)
    err = np.abs(Sd @ Kd[-1] - Vd[-1]).max()
    prev = np.concatenate([[0.0], norms[:-1]])
    ident = np.abs(norms - (prev - res + 1.0)).max() / norms.max()
    rows.append(["delta rule (beta = 1): newest item |S_N k_N - v_N|", err, "<= 100 eps",
                 err <= 100 * EPS])
    rows.append(["delta rule: |S_t|^2 = |S_{t-1}|^2 - |S_{t-1} k_t|^2 + |v_t|^2 (rel.)", ident,
                 "<= 100 N eps", ident <= 100 * 96 * EPS])
    # overlap variance and crosstalk energy: empirical-Bernstein intervals at alpha = 1e-6
    trials = 400 if ctx.quick else 4000
    keys = exact.random_unit_vectors((trials, 2), d, rng)
    c2 = np.sum(keys[:, 0] * keys[:, 1], axis=1) ** 2
    lo, hi = bernstein_interval(c2, 1e-6)
    rows.append([f"E (k_i . k_j)^2, d = {d} (interval, alpha = 1e-6)", f"[{lo:.4g}, {hi:.4g}]",
                 f"contains 1/d = {1 / d:.4g}", lo <= 1 / d <= hi])
    Nn = 32
    Kt = exact.random_unit_vectors((trials, Nn), d, rng)
    Vt = exact.random_unit_vectors((trials, Nn), d, rng)
    G = Kt @ np.swapaxes(Kt, 1, 2)
    cross = (G[:, 0, 1:, None] * Vt[:, 1:]).sum(axis=1)
    e = np.sum(cross ** 2, axis=1)
    scale = float(e.max())
    lo, hi = bernstein_interval(e / scale, 1e-6)
    rows.append([f"E |S k_j - v_j|^2, N = {Nn}, d = {d}", f"[{lo * scale:.4g}, {hi * scale:.4g}]",
                 f"contains (N-1)/d = {(Nn - 1) / d:.4g}", lo * scale <= (Nn - 1) / d <= hi * scale])
    Nf = 160
    F = exact.tight_frame(Nf, d, rng)
    fp, bound = exact.frame_potential(F), exact.frame_potential_bound(Nf, d)
    rows.append([f"frame potential of a tight frame, N = {Nf}", fp, f"= N^2/d = {bound:.6g}",
                 abs(fp - bound) <= 1e-10 * bound])
    Kr = exact.random_unit_vectors(Nf, d, rng)
    mass = exact.mean_crosstalk_mass(Kr)
    rows.append(["mean crosstalk mass of random keys", mass, f">= N/d - 1 = {Nf / d - 1:.4g}",
                 mass >= Nf / d - 1 - 1e-12])
    G = Kr @ Kr.T
    np.fill_diagonal(G, 0)
    mx = float(np.max(G ** 2))
    rows.append(["max overlap^2 of random keys", mx,
                 f">= Welch {exact.welch_bound(Nf, d):.4g}", mx >= exact.welch_bound(Nf, d)])
    sec.add("<h3>Exact facts</h3>")
    sec.add(table_html(["statement", "seen", "target", "ok"],
                       [[a, b, c, "yes" if ok else "NO"] for a, b, c, ok in rows]))
    for a, b, c, ok in rows:
        sec.summary.append(SummaryRow(a, b if isinstance(b, str) else f"{b:.3g}", c, bool(ok)))


def _counter(ctx: ReportContext, total: int):
    """A progress callback numbering the finished cells."""
    finished = itertools.count(1)
    return lambda message: ctx.progress(f"capacity: {next(finished)}/{total} {message}")


def _predicted_vs_measured(ctx: ReportContext, sec: Section) -> list:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..parallel import executor
    from ..recall.grid import compare_grid, theory_grid

    cells = theory_grid(quick=ctx.quick)
    trials = 150 if ctx.quick else 1000
    ctx.progress(f"capacity: linear attention on {len(cells)} cells, {trials} trials each")
    with executor(ctx.workers) as ex:
        rows = compare_grid(["linear"], cells, trials=trials, seed=ctx.seed, executor=ex,
                            progress=_counter(ctx, len(cells)))
    others = (["delta", "least_squares", "mccc", "mccc/4", "dpfp1", "softmax"] if ctx.quick
              else ["delta", "least_squares", "mccc", "mccc/2", "mccc/4", "elu+1", "dpfp1",
                    "dpfp2", "dpfp3", "taylor2", "softmax"])
    # The other memories on the cells with V = 2d and d <= 64 (the report's ten-minute budget:
    # a reduced-MCCC prediction integrates over lag groups and projections, ~6 s per cell);
    # `mccc recall --grid --memory all --trials 1000` runs THEORY's whole grid (~30 min).
    ocells = ([(32, 16, 64), (32, 64, 64)] if ctx.quick
              else [c for c in cells if c[0] <= 64 and c[2] == 2 * c[0]])
    otrials = 150 if ctx.quick else 500
    ctx.progress(f"capacity: {len(others)} more memories on {len(ocells)} cells, {otrials} "
                 "trials each")
    with executor(ctx.workers) as ex:
        orows = compare_grid(others, ocells, trials=otrials, seed=ctx.seed + 1, naive=False,
                             executor=ex, progress=_counter(ctx, len(others) * len(ocells)))
    sec.add("<h3>Predicted against measured recall (codebook task)</h3>")
    sec.add(paragraph(
        r"Keys uniform on the unit sphere of $\mathbb{R}^d$, a fresh codebook of $V$ unit vectors "
        r"in $\mathbb{R}^d$ per trial, values drawn with replacement, every stored item queried, "
        "argmax decoding. Measured: fraction correct with a 95% empirical-Bernstein interval over "
        "trials. Predicted: the conditional predictor (rival cosines conditionally independent "
        "given the readout; `capacity.predictors`) and the naive independent-rivals formula "
        "$(1 - p)^{V-1}$ with the same per-rival win rate $p$."))
    table = [[r.d, r.N, r.V, r.predicted, r.naive, r.measured, f"[{r.low:.3f}, {r.high:.3f}]",
              f"{r.gap:+.4f}", f"{r.naive - r.measured:+.4f}"] for r in rows]
    sec.add(table_html(["$d$", "$N$", "$V$", "conditional", "naive", "measured", "interval",
                        "gap (cond.)", "gap (naive)"], table,
                       caption="linear attention (identity features)"))
    small = [r for r in rows if r.V <= 2 * r.d]
    worst = max(small, key=lambda r: abs(r.gap))
    ok = all(r.within(TOL) for r in small)
    sec.summary.append(SummaryRow(
        "linear attention: worst |predicted - measured|, V <= 2d",
        f"{abs(worst.gap):.4f} (d={worst.d}, N={worst.N}, V={worst.V})",
        f"<= {TOL} (up to the interval)", ok))
    big = [r for r in rows if r.V > 2 * r.d]
    if big:
        wb = max(big, key=lambda r: abs(r.gap))
        sec.summary.append(SummaryRow("linear attention: worst gap, V > 2d (reported)",
                                      f"{abs(wb.gap):.4f} (d={wb.d}, N={wb.N}, V={wb.V})",
                                      "THEORY: 0.064 at V = 1024", True))
    wn = max(small, key=lambda r: abs(r.naive - r.measured))
    sec.summary.append(SummaryRow("naive independent-rivals predictor: worst gap, V <= 2d",
                                  f"{abs(wn.naive - wn.measured):.4f}",
                                  "reported (THEORY's own example: 0.48 vs 0.78 measured)",
                                  True))
    table = [[r.memory, r.d, r.N, r.V, r.state_size, r.predicted, r.measured,
              f"[{r.low:.3f}, {r.high:.3f}]", f"{r.gap:+.4f}", r.predictor] for r in orows]
    sec.add(table_html(["memory", "$d$", "$N$", "$V$", "state", "predicted", "measured", "interval",
                        "gap", "predictor"], table,
                       caption="other memories (THEORY's whole grid: `mccc recall --grid "
                       "--memory all --trials 1000 --workers 2`)"))
    for name in dict.fromkeys(r.memory for r in orows):
        sel = [r for r in orows if r.memory == name]
        w = max(sel, key=lambda r: abs(r.gap))
        analytic = sel[0].predictor == "analytic"
        sec.summary.append(SummaryRow(
            f"{name}: worst |predicted - measured| ({sel[0].predictor})",
            f"{abs(w.gap):.4f} (d={w.d}, N={w.N}, V={w.V})",
            f"<= {TOL}" if analytic else "reported",
            all(r.within(TOL) for r in sel) if analytic else True))
    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.errorbar([r.predicted for r in rows], [r.measured for r in rows],
                yerr=[[r.measured - r.low for r in rows], [r.high - r.measured for r in rows]],
                fmt="o", ms=4, label="linear: conditional")
    ax.plot([r.naive for r in rows], [r.measured for r in rows], "x", label="linear: naive")
    for name in dict.fromkeys(r.memory for r in orows):
        sel = [r for r in orows if r.memory == name]
        ax.plot([r.predicted for r in sel], [r.measured for r in sel], ".", label=name)
    ax.plot([0, 1], [0, 1], "k--", lw=0.8)
    ax.set_xlabel("predicted recall")
    ax.set_ylabel("measured recall")
    ax.legend(fontsize=7)
    sec.add(figure_html(fig, alt="Predicted against measured recall on the codebook task; the "
                        "dashed line is equality."))
    return rows + orows


def _mqar(ctx: ReportContext, sec: Section) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..recall.grid import MEMORY_NAMES, make_memory
    from ..recall.measure import measure_recall
    from ..recall.mqar import FIGURE2_CONFIGS
    from ..recall.tasks import MQARRecallTask

    configs = ["zoology-fig2-L64"] if ctx.quick else list(FIGURE2_CONFIGS)
    ds = [64] if ctx.quick else [64, 128, 256, 512]
    names = ([n for n in MEMORY_NAMES if n not in ("taylor2",)] if ctx.quick
             else list(MEMORY_NAMES))
    trials = 30 if ctx.quick else 100
    rows = []
    for cfg in configs:
        for d in ds:
            ctx.progress(f"capacity: MQAR {cfg}, d = {d}")
            task = MQARRecallTask(cfg, d, embed_seed=ctx.seed)
            for name in names:
                if name == "taylor2" and d > 128:
                    continue  # state 1 + d + d^2 per value column: skipped at d > 128 (cost)
                res = measure_recall(make_memory(name, d, task.seq_len), task, trials=trials,
                                     seed=ctx.seed)
                rows.append([cfg, d, name, res.state_size, res.recall,
                             f"[{res.low:.3f}, {res.high:.3f}]"])
    sec.add("<h3>MQAR: recall against state size</h3>")
    sec.add(paragraph(
        "zoology's MQAR generator ($V = 8192$, Figure-2 $(L, N)$), random unit token embeddings "
        "(untrained), the memory stores the $N$ key-value pairs at their positions and is read at "
        "every query; argmax over the 4096 value tokens. State sizes as zoology counts them. "
        "zoology's trained attention reaches 0.97-1.0 in every Figure-2 cell."))
    sec.add(table_html(["config", "$d$", "memory", "state size", "recall", "interval"], rows))
    att = [r for r in rows if r[2] == "softmax"]
    sec.summary.append(SummaryRow("MQAR softmax attention recall (random embeddings), worst cell",
                                  f"{min(r[4] for r in att):.3f}",
                                  "zoology (trained): 0.97-1.0", min(r[4] for r in att) >= 0.97))
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for name in names:
        sel = [r for r in rows if r[2] == name]
        ax.plot([r[3] for r in sel], [r[4] for r in sel], "o", ms=4, label=name)
    ax.set_xscale("log")
    ax.set_xlabel("state size (zoology accounting)")
    ax.set_ylabel("MQAR recall")
    ax.legend(fontsize=6, ncol=2)
    sec.add(figure_html(fig, alt="MQAR recall against state size for every memory."))


def _schlag(ctx: ReportContext, sec: Section) -> None:
    from ..recall.schlag import SCHLAG_CROSSINGS, loss_crossing

    rows = []
    for label, (fm, nu, d_dot, (lo, hi)) in SCHLAG_CROSSINGS.items():
        ctx.progress(f"capacity: Schlag setting 1, {label}")
        r = loss_crossing(fm, nu=nu, d=64, grid=[1, 2, 3, 4, 8, 16, 32, 64, 128],
                          trials=8 if ctx.quick else 64, seed=ctx.seed)
        br = r["bracket"]
        where = ("never below 0.001 on the grid" if br is None and r["loss"][-1] < 1e-3
                 else (f"S between {br[0]} and {br[1]}" if br and br[0] else
                       f"already at S = {br[1]}" if br else "below 0.001 up to S = 128"))
        loss2 = r["loss"][r["grid"].index(2)]
        rows.append([label, d_dot, where, f"{loss2:.3g}", f"S = {lo}-{hi}"])
    sec.add("<h3>Schlag et al. setting 1: where the retrieval loss crosses 0.001 (d = 64)</h3>")
    sec.add(paragraph(
        "Random Gaussian keys (untrained), distinct one-hot values, normalised 'sum' readout, "
        r"loss $\frac{1}{2}\|v - y\|^2$ averaged over queries. Schlag et al.'s crossing points "
        "are for TRAINED "
        "models (the key projection is learned); they are shown for orientation, not as a "
        "target. Positive feature maps of random keys overlap by about 10% of a key's own "
        "weight, so the normalised readout already misses 0.001 with two keys; training is what "
        r"makes the features near-orthogonal and lets the capacity approach $d_\mathrm{dot}$."))
    sec.add(table_html(["feature map", r"$d_\mathrm{dot}$", "random keys: crossing", "loss at $S = 2$",
                        "Schlag et al. (trained)"], rows))
    sec.summary.append(SummaryRow("DPFP random-key loss crossing (Schlag setting 1)",
                                  rows[1][2], "reported beside trained S = 100-120", True))


def _bounds(ctx: ReportContext, sec: Section) -> None:
    from ..capacity import bounds, exact
    from ..recall.memories import DeltaRule, KeyedModalMemory, LeastSquares, LinearAttention

    rng = np.random.default_rng(ctx.seed + 5)
    d = 32
    rows, ok_all = [], True
    for N in (16, 32, 64, 128):
        K = exact.random_unit_vectors((1, N), d, rng)
        for mem, m in ((LinearAttention(), d), (LeastSquares(), d), (DeltaRule(), d),
                       (KeyedModalMemory.default(d // 4, d, N), d // 4)):
            W = mem.weights(K, K)[0]
            mse = bounds.retrieval_relative_mse(W)
            bound = bounds.linear_memory_mse_bound(m, N)
            ok = mse >= bound - 1e-9
            ok_all &= ok
            rows.append([mem.name, N, m, mse, bound, "yes" if ok else "NO"])
    sec.add("<h3>Bounds</h3>")
    sec.add(paragraph(r"Relative MSE $\|W - I\|_F^2 / N$ of each memory's retrieval matrix "
                      "(isotropic values) against $1 - m/N$ for its $m$-dimensional state (per "
                      r"value coordinate); least squares attains it for $N \ge d$."))
    sec.add(table_html(["memory", "$N$", "$m$", "relative MSE", "$1 - m/N$", "above bound"], rows))
    sec.summary.append(SummaryRow("relative MSE >= 1 - m/N for every memory and N",
                                  "all above" if ok_all else "violated", "holds", ok_all))
    crow = []
    for bits, V, L in ((64 * 32, 8192, 16), (2 * 64 * 64 * 32, 8192, 512), (1024, 2, 1000)):
        crow.append([bits, V, L, bounds.counting_bound(bits, V, L)])
    sec.add(table_html(["state bits", "alphabet $V$", "length $L$",
                        r"success $\le 2^\mathrm{bits} / V^L$"],
                       crow, caption="counting bound for exact copying/recall"))
    n = 1000
    consts = [["Hopfield, tolerant retrieval (Amit et al. 1985)", r"$0.138\,n$",
               bounds.hopfield_capacity(n, "tolerant")],
              ["Hopfield, a given pattern exact (McEliece et al. 1987)", r"$n / (2 \ln n)$",
               bounds.hopfield_capacity(n, "typical")],
              ["Hopfield, all patterns exact (McEliece et al. 1987)", r"$n / (4 \ln n)$",
               bounds.hopfield_capacity(n, "all")],
              ["dense associative memory, order 3 (Krotov-Hopfield 2016)",
               r"$N^{n-1} / (2\,(2n-3)!!\,\ln N)$", bounds.dense_associative_memory_capacity(n, 3)],
              [r"modern Hopfield, $d = 64$, $\beta = 1$, $K = 3$, $p = 0.001$ (Ramsauer et al. "
               "2021, Thm 3)", r"$\sqrt{p}\, c^{(d-1)/4}$", bounds.modern_hopfield_capacity(64)]]
    sec.add(table_html(["memory", "capacity", f"value ($n = N = {n}$)"],
                       [[a, b, f"{c:.4g}" if math.isfinite(c) else str(c)] for a, b, c in consts],
                       caption="cited capacity constants"))


def build(ctx: ReportContext) -> Section:
    sec = Section("capacity", "Interference, capacity and recall (THEORY §5)")
    sec.add(paragraph(
        r"Linear-attention memory $S = \sum_i v_i k_i^\top$ read with a stored key: "
        r"$S k_j = v_j (k_j^\top k_j) + \sum_{i \ne j} v_i (k_i^\top k_j)$, target plus cross "
        "terms (Eqn E); the MCCC modal memory weights every term by the modes' decay "
        r"$\operatorname{Re}(\lambda^\tau)$ over its lag."))
    _exact_facts(ctx, sec)
    _predicted_vs_measured(ctx, sec)
    _mqar(ctx, sec)
    _schlag(ctx, sec)
    _bounds(ctx, sec)
    return sec
