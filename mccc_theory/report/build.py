"""Assemble the HTML report from its sections (one module per section in this package)."""

from __future__ import annotations

import datetime as _dt
import html
import importlib
import os
import platform
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from ..validation import check_positive_int
from .document import RawHTML, ReportContext, Section, table_html

__all__ = ["SECTIONS", "ReportResult", "build_sections", "write_report"]

# Section modules, in report order; each exposes ``build(ctx: ReportContext) -> Section``.
SECTIONS = ("theorems", "gramians", "reduction", "attention", "capacity", "kernels", "production",
            "benchmarks", "trained")

_CSS = """body{font-family:system-ui,sans-serif;max-width:980px;margin:2em auto;padding:0 1em;
color:#222}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;
font-size:90%}th{background:#f2f2f2}.ok{color:#070}.bad{color:#b00;font-weight:bold}
figure{margin:1em 0}figcaption{font-size:85%;color:#555}code{background:#f5f5f5}"""


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


def build_sections(ctx: ReportContext, only: list[str] | None = None) -> list[Section]:
    sections = []
    for name in SECTIONS:
        if only and name not in only:
            continue
        ctx.progress(f"section {name} ...")
        t0 = time.perf_counter()
        sections.append(importlib.import_module(f"{__package__}.{name}").build(ctx))
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
                 seed: int = 0, workers: int | None = None) -> ReportResult:
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
    sections = build_sections(ctx, only)
    ok, missed = RawHTML('<span class="ok">ok</span>'), RawHTML('<span class="bad">MISSED</span>')
    summary = [[s.title, r.item, r.value, r.target, ok if r.ok else missed]
               for s in sections for r in s.summary]
    n_missed = sum(not r.ok for s in sections for r in s.summary)
    summary_html = (f"<p>{len(summary)} checked items, {n_missed} missed.</p>"
                    + table_html(["section", "item", "seen", "target", "status"], summary))
    toc = "".join(f'<li><a href="#{s.id}">{html.escape(s.title)}</a></li>' for s in sections)
    body = "".join(f'<section id="{s.id}"><h2>{html.escape(s.title)}</h2>{"".join(s.blocks)}'
                   "</section>" for s in sections)
    stamp = _dt.datetime.now().isoformat(timespec="seconds")
    versions = _versions()
    doc = (f"<!doctype html><html><head><meta charset='utf-8'><title>mccc-theory report</title>"
           f"<style>{_CSS}</style></head><body><h1>mccc-theory report</h1>"
           f"<p>Generated {stamp} in {time.perf_counter() - t_start:.0f} s"
           f"{' (quick mode: reduced sizes)' if quick else ''}.</p>"
           f"<h2>Summary</h2>{summary_html}<ol>{toc}</ol>{body}"
           f"<h2>Versions and machine</h2>{table_html(['component', 'version'], versions)}"
           "</body></html>")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "mccc-report.html"
    path.write_text(doc, encoding="utf-8")
    preview = _write_preview(sections, out / "mccc-report-preview.png")
    rows = [{"section": s.id, "item": r.item, "value": r.value, "target": r.target,
             "ok": bool(r.ok)} for s in sections for r in s.summary]
    return ReportResult(path, preview, rows, dict(versions), time.perf_counter() - t_start, quick)


def _write_preview(sections: list[Section], path: Path) -> Path | None:
    """A PNG contact sheet: the first figure of each section, for the README."""
    import base64
    import io
    import re

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.image as mpimg
    import matplotlib.pyplot as plt

    images = []
    for s in sections:
        match = re.search(r'src="data:image/png;base64,([^"]+)"', "".join(s.blocks))
        if match:
            images.append((s.title, mpimg.imread(io.BytesIO(base64.b64decode(match.group(1))))))
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
