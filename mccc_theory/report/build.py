"""Assemble the HTML report from its sections (one module per section in this package)."""

from __future__ import annotations

import datetime as _dt
import html
import importlib
import os
import platform
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from ..validation import check_positive_int
from .document import FigureBlock, RawHTML, ReportContext, Section, report_style, table_html

__all__ = ["SECTIONS", "ReportResult", "build_sections", "write_report", "write_pdf",
           "browser_executable", "HEADLESS_FLAGS"]

# Section modules, in report order; each exposes ``build(ctx: ReportContext) -> Section``.
SECTIONS = ("theorems", "gramians", "reduction", "attention", "capacity", "kernels", "production",
            "benchmarks", "trained")

_CSS = """
:root{--ok:#0a6b0a;--bad:#b00020;--rule:#ccc}
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;max-width:60rem;margin:1.5rem auto;
padding:0 1rem;color:#1a1a1a;line-height:1.45}
h1{font-size:1.7rem;margin-bottom:.2rem}h2{margin-top:2.2rem;border-bottom:1px solid var(--rule)}
nav.toc ol{columns:2;column-gap:2rem;padding-left:1.4rem}nav.toc li{break-inside:avoid}
.table{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;margin:.8rem 0;font-size:.88rem}
td,th{border:1px solid var(--rule);padding:2px 7px;vertical-align:top;overflow-wrap:anywhere}
th{background:#f2f2f2;text-align:left}td.num{white-space:nowrap;text-align:right;
font-variant-numeric:tabular-nums;overflow-wrap:normal}
caption{caption-side:top;text-align:left;font-weight:600;padding:.2rem 0}
.ok{color:var(--ok)}.bad{color:var(--bad);font-weight:bold}
figure{margin:1.2rem 0}figure img{width:100%;max-width:46rem;height:auto;display:block}
figcaption{font-size:.9rem;color:#333;max-width:46rem}figcaption b{color:#000}
code{background:#f3f3f3;padding:0 .2em;border-radius:3px;font-size:.92em}
details{margin:.6rem 0}summary{cursor:pointer;color:#124}
math{font-size:1.05em}
@media print{
 body{max-width:none;margin:0;font-size:10pt}nav.toc ol{columns:2}
 h2,h3{break-after:avoid;page-break-after:avoid}
 h2{break-before:page}h2.first,section:first-of-type>h2{break-before:auto}
 figure,tr,caption{break-inside:avoid;page-break-inside:avoid}
 .table{overflow:visible}table{font-size:8pt}
 summary{display:none}a{color:inherit;text-decoration:none}
}
"""


def _versions() -> list[list[str]]:
    rows = [["python", platform.python_version()], ["machine", platform.platform()],
            ["processor", platform.machine()], ["cpu cores", str(os.cpu_count())]]
    for mod in ("numpy", "scipy", "control", "slycot", "mpmath", "jax", "torch", "triton"):
        try:
            rows.append([mod, importlib.import_module(mod).__version__])
        except Exception:
            rows.append([mod, "not installed"])
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, cwd=Path(__file__).parent, timeout=10).stdout.strip()
    except Exception:
        rev = ""
    rows.append(["git revision", rev or "unknown"])
    return rows


def build_sections(ctx: ReportContext, only: list[str] | None = None,
                   budget: float | None = None) -> list[Section]:
    """Build the sections in order; past ``budget`` seconds the rest are built at quick sizes."""
    sections = []
    for name in SECTIONS:
        if only and name not in only:
            continue
        over = (budget is not None and not ctx.quick
                and time.perf_counter() - ctx.started > budget)
        if over:
            ctx.progress(f"budget of {budget / 60:.0f} min spent: {name} and the sections after "
                         "it at quick sizes")
            ctx.quick = True
            ctx.budget_spent = True
        ctx.progress(f"section {name} ...")
        t0 = time.perf_counter()
        import matplotlib

        with matplotlib.rc_context(report_style()):
            sec = importlib.import_module(f"{__package__}.{name}").build(ctx)
        if ctx.budget_spent:
            sec.blocks.insert(0, '<p class="bad">Built at quick sizes: the full-size time '
                              "budget was spent before this section (see --budget).</p>")
        sections.append(sec)
        ctx.progress(f"section {name} done in {time.perf_counter() - t0:.1f} s")
    return sections


@dataclass(frozen=True)
class ReportResult:
    """What :func:`write_report` wrote and found: the HTML and preview paths, the summary rows
    (dicts with ``section, item, value, target, ok``), the versions table and the build time."""

    path: Path
    preview: Path | None
    summary: list[dict]
    versions: dict[str, str]
    seconds: float
    quick: bool

    @property
    def ok(self) -> bool:
        """Every summary row met its target."""
        return all(r["ok"] for r in self.summary)

    def to_json(self) -> dict:
        return {"path": str(self.path), "preview": str(self.preview) if self.preview else None,
                "quick": self.quick, "seconds": self.seconds, "ok": self.ok,
                "summary": self.summary, "versions": self.versions}


def write_report(out_dir: str | Path, *, quick: bool = False, only: list[str] | None = None,
                 seed: int = 0, workers: int | None = None,
                 budget: float | None = None) -> ReportResult:
    """Build the sections and write ``mccc-report.html`` (and its PNG preview) under ``out_dir``.

    Parameters
    ----------
    out_dir : str or Path
        Created if missing.
    quick : bool
        Reduced sizes (seconds per section instead of minutes).
    only : list of str, optional
        Section names (:data:`SECTIONS`) to build; default all.
    seed : int
        Seeds every random draw of every section.
    workers : int, optional
        Processes for independent Monte-Carlo cells (default: one per CPU core).
    budget : float, optional
        Seconds for a full-size run: the sections started after it is spent are built at quick
        sizes, and say so.

    Returns
    -------
    ReportResult
        The paths written, the summary rows (``ok`` false for a missed target; the report is
        written either way), the versions table and the build time.

    Raises
    ------
    DTypeError, OrderError
        ``workers`` not an integer >= 1.
    """
    t_start = time.perf_counter()
    ctx = ReportContext(quick=quick, seed=seed)
    if workers is not None:
        ctx.workers = check_positive_int(workers, "workers")
    sections = build_sections(ctx, only, budget)
    versions = _versions()
    doc = _assemble(sections, versions, quick=quick, seconds=time.perf_counter() - t_start)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "mccc-report.html"
    path.write_text(doc, encoding="utf-8")
    preview = _write_preview(sections, out / "mccc-report-preview.png")
    rows = [{"section": s.id, "item": r.item, "value": r.value, "target": r.target,
             "ok": bool(r.ok)} for s in sections for r in s.summary]
    return ReportResult(path, preview, rows, dict(versions), time.perf_counter() - t_start, quick)


_OK = RawHTML('<span class="ok">ok</span>')
_MISSED = RawHTML('<span class="bad">MISSED</span>')


def _summary_html(sections: list[Section]) -> str:
    """One row per section, then one row per missed item; every item folded underneath."""
    n_items = sum(len(s.summary) for s in sections)
    n_missed = sum(not r.ok for s in sections for r in s.summary)
    rows = []
    for s in sections:
        missed = sum(not r.ok for r in s.summary)
        link = RawHTML(f'<a href="#{s.id}">{html.escape(s.title)}</a>')
        rows.append([link, len(s.summary), missed, _MISSED if missed else _OK])
    out = (f"<p><b>{n_items} checked items, {n_missed} missed.</b> Each item is a theorem, a "
           "figure checked against the documented value, or a benchmark ratio against its "
           "target.</p>" + table_html(["section", "checked items", "missed", "status"], rows,
                                      fold_after=None))
    failed = [[s.title, r.item, r.value, r.target] for s in sections for r in s.summary
              if not r.ok]
    if failed:
        out += table_html(["section", "missed item", "seen", "target"], failed,
                          caption="Missed items", fold_after=None)
    details = "".join(
        f"<details><summary>{html.escape(s.title)}: {len(s.summary)} items</summary>"
        + table_html(["item", "seen", "target", "status"],
                     [[r.item, r.value, r.target, _OK if r.ok else _MISSED] for r in s.summary],
                     fold_after=None) + "</details>"
        for s in sections if s.summary)
    return out + details


def _number_figures(body: str) -> tuple[str, int]:
    """Prefix every figure caption with "Figure n." in document order."""
    count = 0

    def label(_m):
        nonlocal count
        count += 1
        return f'<figcaption id="figure-{count}"><b>Figure {count}.</b> '

    return re.sub(r"<figcaption>", label, body), count


def _assemble(sections: list[Section], versions, *, quick: bool, seconds: float) -> str:
    toc = "".join(f'<li><a href="#{s.id}">{html.escape(s.title)}</a></li>' for s in sections)
    body = "".join(f'<section id="{s.id}"><h2>{k}. {html.escape(s.title)}</h2>'
                   f'{"".join(s.blocks)}</section>' for k, s in enumerate(sections, 1))
    body, n_fig = _number_figures(body)
    stamp = _dt.datetime.now().isoformat(timespec="seconds")
    mode = " Quick mode: reduced sizes." if quick else ""
    return ("<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>mccc-theory report</title><style>{_CSS}</style></head><body>"
            "<h1>mccc-theory report</h1>"
            f"<p>Generated {stamp} in {seconds:.0f} s on {os.cpu_count()} CPU cores; "
            f"{len(sections)} sections, {n_fig} figures.{mode}</p>"
            f'<nav class="toc"><h2 class="first">Contents</h2><ol>{toc}'
            '<li><a href="#versions">Versions and machine</a></li></ol></nav>'
            f'<h2 class="first">Summary</h2>{_summary_html(sections)}{body}'
            '<section id="versions"><h2>Versions and machine</h2>'
            f"{table_html(['component', 'version'], versions, fold_after=None)}</section>"
            "</body></html>")


def write_pdf(html_path: str | Path, pdf_path: str | Path, *, timeout: float = 180.0) -> Path:
    """Print the report to PDF with headless Chromium (folded tables printed open).

    Raises
    ------
    BackendUnavailableError
        No Chromium/Chrome executable on PATH (``apt-get install chromium``).
    MCCCError
        Chromium failed or wrote no PDF.
    """
    import tempfile

    from ..errors import BackendUnavailableError, MCCCError

    exe = browser_executable()
    if exe is None:
        raise BackendUnavailableError("--pdf: needs Chromium or Chrome on PATH (Debian: apt-get "
                                      "install chromium); the HTML report was written")
    html_path, pdf_path = Path(html_path), Path(pdf_path)
    printable = html_path.read_text(encoding="utf-8").replace("<details>", "<details open>")
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "print.html"
        src.write_text(printable, encoding="utf-8")
        proc = subprocess.run([exe, *HEADLESS_FLAGS, "--no-pdf-header-footer",
                               f"--print-to-pdf={pdf_path.resolve()}", src.as_uri()],
                              capture_output=True, text=True, timeout=timeout,
                              cwd=tmp, env=dict(os.environ, HOME=tmp))
    if proc.returncode != 0 or not pdf_path.exists():
        raise MCCCError(f"--pdf: Chromium did not write {pdf_path} (exit {proc.returncode}): "
                        f"{proc.stderr.strip()[-300:]}")
    return pdf_path


# Flags for a headless Chromium that runs as root in CI containers (no sandbox, no GPU).
HEADLESS_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--no-first-run", "--hide-scrollbars")


def browser_executable() -> str | None:
    """The first of chromium, chromium-browser, google-chrome on PATH (``None``: none)."""
    import shutil

    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        exe = shutil.which(name)
        if exe:
            return exe
    return None


def _write_preview(sections: list[Section], path: Path) -> Path | None:
    """A PNG contact sheet: the first figure of each section, for the README."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.image as mpimg
    import matplotlib.pyplot as plt

    images = []
    for s in sections:
        first = next((b for b in s.blocks if isinstance(b, FigureBlock)), None)
        if first is not None:
            images.append((s.title, mpimg.imread(io.BytesIO(first.preview_png))))
    if not images:
        return None
    cols = min(2, len(images))
    rows = (len(images) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(8 * cols, 4.6 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, (title, img) in zip(axes.ravel(), images, strict=False):
        ax.imshow(img)
        ax.set_title(title, fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path
