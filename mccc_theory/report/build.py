"""Assemble the HTML report from its sections (one module per section in this package)."""

from __future__ import annotations

import datetime as _dt
import html
import importlib
import platform
import subprocess
import time
from pathlib import Path

from .document import RawHTML, ReportContext, Section, table_html

__all__ = ["SECTIONS", "build_sections", "write_report"]

# Section modules, in report order; each exposes ``build(ctx: ReportContext) -> Section``.
SECTIONS = ("theorems", "gramians", "reduction", "attention", "capacity", "kernels", "benchmarks")

_CSS = """body{font-family:system-ui,sans-serif;max-width:980px;margin:2em auto;padding:0 1em;
color:#222}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;
font-size:90%}th{background:#f2f2f2}.ok{color:#070}.bad{color:#b00;font-weight:bold}
figure{margin:1em 0}figcaption{font-size:85%;color:#555}code{background:#f5f5f5}"""


def _versions() -> list[list[str]]:
    rows = [["python", platform.python_version()], ["machine", platform.platform()],
            ["processor", platform.machine()]]
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


def write_report(out_dir: str | Path, *, quick: bool = False, only: list[str] | None = None,
                 seed: int = 0) -> Path:
    """Build every section and write ``mccc-report.html`` under ``out_dir``; return its path."""
    ctx = ReportContext(quick=quick, seed=seed)
    sections = build_sections(ctx, only)
    ok, missed = RawHTML('<span class="ok">ok</span>'), RawHTML('<span class="bad">MISSED</span>')
    summary = [[s.title, r.item, r.value, r.target, ok if r.ok else missed]
               for s in sections for r in s.summary]
    summary_html = table_html(["section", "item", "seen", "target", "status"], summary)
    toc = "".join(f'<li><a href="#{s.id}">{html.escape(s.title)}</a></li>' for s in sections)
    body = "".join(f'<section id="{s.id}"><h2>{html.escape(s.title)}</h2>{"".join(s.blocks)}'
                   "</section>" for s in sections)
    stamp = _dt.datetime.now().isoformat(timespec="seconds")
    doc = (f"<!doctype html><html><head><meta charset='utf-8'><title>mccc-theory report</title>"
           f"<style>{_CSS}</style></head><body><h1>mccc-theory report</h1>"
           f"<p>Generated {stamp}{' (quick mode: reduced sizes)' if quick else ''}.</p>"
           f"<h2>Summary</h2>{summary_html}<ol>{toc}</ol>{body}"
           f"<h2>Versions and machine</h2>{table_html(['component', 'version'], _versions())}"
           "</body></html>")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "mccc-report.html"
    path.write_text(doc, encoding="utf-8")
    _write_preview(sections, out / "mccc-report-preview.png")
    return path


def _write_preview(sections: list[Section], path: Path) -> None:
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
        return
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
