"""Building blocks of the self-contained HTML report: sections, embedded figures, tables."""

from __future__ import annotations

import base64
import html
import io
import os
import time
from dataclasses import dataclass, field

__all__ = ["RawHTML", "Section", "SummaryRow", "ReportContext", "figure_html", "table_html", "paragraph"]


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

    def progress(self, message: str) -> None:
        """One stderr line, stamped with the minutes and seconds since the run started."""
        import sys

        m, s = divmod(int(time.perf_counter() - self.started), 60)
        print(f"  [report {m:02d}:{s:02d}] {message}", file=sys.stderr, flush=True)


def figure_html(fig, *, alt: str, width: int = 720) -> str:
    """Embed a matplotlib figure as a base64 PNG (the report stays one self-contained file)."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return (f'<figure><img width="{width}" alt="{html.escape(alt)}" '
            f'src="data:image/png;base64,{data}"><figcaption>{html.escape(alt)}</figcaption>'
            "</figure>")


def table_html(header: list[str], rows: list[list], *, caption: str | None = None) -> str:
    """An HTML table; floats are shown with 4 significant digits."""
    def cell(v):
        if isinstance(v, RawHTML):
            return v
        if isinstance(v, float):
            return f"{v:.4g}"
        return html.escape(str(v))

    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in r) + "</tr>" for r in rows)
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def paragraph(text: str) -> str:
    return f"<p>{html.escape(text)}</p>"
