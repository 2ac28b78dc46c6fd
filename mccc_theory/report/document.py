"""Building blocks of the self-contained HTML report: sections, embedded figures, tables."""

from __future__ import annotations

import base64
import html
import io
import os
import re
import time
from dataclasses import dataclass, field

__all__ = ["RawHTML", "Section", "SummaryRow", "ReportContext", "FigureBlock", "figure_html", "table_html",
           "paragraph", "math_html", "report_style"]


class RawHTML(str):
    """A string that :func:`table_html` inserts without escaping (trusted markup)."""


@dataclass
class SummaryRow:
    """One line of the report's summary table: a checked item, what was seen, its target."""

    item: str
    value: str
    target: str
    ok: bool


@dataclass
class Section:
    """A report section: an anchor id, a title, HTML body blocks and summary rows."""

    id: str
    title: str
    blocks: list[str] = field(default_factory=list)
    summary: list[SummaryRow] = field(default_factory=list)

    def add(self, block: str) -> None:
        self.blocks.append(block)


@dataclass
class ReportContext:
    """What every section builder receives: the size of the run and a progress callback.

    ``workers``: processes a section may use for independent Monte-Carlo cells (default: one
    per CPU core).
    """

    quick: bool = False
    seed: int = 0
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    started: float = field(default_factory=time.perf_counter)
    budget_spent: bool = False  # a full-size run switched to quick sizes (write_report's budget)

    def progress(self, message: str) -> None:
        """One stderr line, stamped with the minutes and seconds since the run started."""
        import sys

        m, s = divmod(int(time.perf_counter() - self.started), 60)
        print(f"  [report {m:02d}:{s:02d}] {message}", file=sys.stderr, flush=True)


# One look for every figure of the report: readable fonts, and each series told apart by colour
# AND marker (13 distinct combinations before any repeats; a series never relies on colour alone).
_COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
            "#7f7f7f", "#bcbd22", "#17becf", "#000000", "#1f77b4", "#d62728"]
_MARKERS = ["o", "s", "^", "D", "v", "P", "X", "<", ">", "*", "h", "d", "p"]
_STYLES = ["-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "--", "--"]


def report_style() -> dict:
    """The matplotlib rcParams of the report's figures (vector output, consistent series)."""
    from cycler import cycler

    return {"font.size": 11, "axes.titlesize": 11, "axes.labelsize": 11, "legend.fontsize": 9,
            "xtick.labelsize": 10, "ytick.labelsize": 10, "lines.markersize": 5,
            "axes.grid": True, "grid.alpha": 0.3, "svg.fonttype": "none",
            "axes.prop_cycle": cycler(color=_COLOURS) + cycler(marker=_MARKERS)
            + cycler(linestyle=_STYLES)}


class FigureBlock(str):
    """A figure's HTML (an embedded SVG) that also carries a small PNG for the report's preview."""

    preview_png: bytes = b""


def figure_html(fig, *, alt: str, caption: str | None = None) -> FigureBlock:
    """Embed a matplotlib figure as a vector image (SVG, base64: the report stays one file).

    ``alt`` describes the picture for screen readers; ``caption`` (default ``alt``) says what
    to see in it. The report numbers the figures ("Figure n.") in the order they appear.
    """
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=60, bbox_inches="tight")
    plt.close(fig)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    block = FigureBlock(
        f'<figure><img alt="{html.escape(alt)}" src="data:image/svg+xml;base64,{data}">'
        f"<figcaption>{_inline(caption or alt)}</figcaption></figure>")
    block.preview_png = png.getvalue()
    return block


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def table_html(header: list[str], rows: list[list], *, caption: str | None = None,
               fold_after: int | None = 25) -> str:
    """An HTML table; floats are shown with 4 significant digits, numbers never wrap.

    A table longer than ``fold_after`` rows is folded (``<details>``), its first line saying
    how many rows it holds; ``None`` never folds.
    """
    def cell(v):
        if isinstance(v, RawHTML):
            return f"<td>{v}</td>"
        if _is_number(v):
            text = f"{v:.4g}" if isinstance(v, float) else str(v)
            return f'<td class="num">{html.escape(text)}</td>'
        return f"<td>{_inline(str(v))}</td>"

    head = "".join(f"<th>{_inline(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(cell(v) for v in r) + "</tr>" for r in rows)
    cap = f"<caption>{_inline(caption)}</caption>" if caption else ""
    table = (f'<div class="table"><table>{cap}<thead><tr>{head}</tr></thead>'
             f"<tbody>{body}</tbody></table></div>")
    if fold_after is not None and len(rows) > fold_after:
        what = caption or "the full table"
        return f"<details><summary>{_inline(what)} ({len(rows)} rows)</summary>{table}</details>"
    return table


_MATH = re.compile(r"\$(.+?)\$")
_CODE = re.compile(r"`([^`]+)`")


def math_html(tex: str, *, display: bool = False) -> str:
    """LaTeX maths as MathML (rendered by every current browser, no script, no font files)."""
    from latex2mathml.converter import convert

    return convert(tex, display="block" if display else "inline")


def _inline(text: str) -> str:
    """Escape ``text``; ``$...$`` becomes MathML and ```...``` becomes ``<code>``."""
    out, pos = [], 0
    for m in _MATH.finditer(text):
        out.append(_code(text[pos:m.start()]))
        out.append(math_html(m.group(1)))
        pos = m.end()
    out.append(_code(text[pos:]))
    return "".join(out)


def _code(text: str) -> str:
    parts = _CODE.split(text)
    return "".join(f"<code>{html.escape(p)}</code>" if i % 2 else html.escape(p)
                   for i, p in enumerate(parts))


def paragraph(text: str) -> str:
    """A paragraph: ``$...$`` is typeset as MathML, ```...``` as code; the rest is escaped."""
    return f"<p>{_inline(text)}</p>"
