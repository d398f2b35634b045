"""Self-contained HTML reports (inline CSS, PNG plots embedded as data URIs).

Every report (validation, drift, monitoring, gate, rollout) is built from :class:`Section`
blocks and rendered with :func:`render_report`, so they share one look and open offline.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pandas as pd

_CSS = "".join(
    [
        "body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;",
        "color:#1f2328;max-width:1200px}",
        "h1{font-size:1.6rem;margin-bottom:.2rem}",
        "h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #d0d7de}",
        ".meta{color:#59636e;font-size:.9rem}",
        ".verdict{display:inline-block;padding:.2rem .6rem;border-radius:1rem;font-weight:600}",
        ".ok{background:#dafbe1;color:#116329}",
        ".bad{background:#ffebe9;color:#a40e26}",
        ".warn{background:#fff8c5;color:#7d4e00}",
        ".info{background:#ddf4ff;color:#0550ae}",
        "table{border-collapse:collapse;margin:.5rem 0;font-size:.9rem}",
        "th,td{border:1px solid #d0d7de;padding:.3rem .6rem;text-align:left}",
        "th{background:#f6f8fa}",
        "td.num{text-align:right;font-variant-numeric:tabular-nums}",
        "img{max-width:100%;height:auto}",
        ".grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(360px,1fr));gap:1rem}",
        "pre{background:#f6f8fa;padding:.6rem;overflow:auto}",
    ]
)

VERDICT_CLASSES = {
    "passed": "ok",
    "ok": "ok",
    "valid": "ok",
    "no drift": "ok",
    "failed": "bad",
    "invalid": "bad",
    "drift": "bad",
    "degraded": "bad",
    "warning": "warn",
    "insufficient_data": "warn",
    "skipped": "info",
}


@dataclass
class Section:
    """One block of a report: a heading with paragraphs, tables and images."""

    title: str
    paragraphs: list[str] = field(default_factory=list)
    tables: list[pd.DataFrame] = field(default_factory=list)
    images: list[str] = field(default_factory=list)  # data URIs
    raw_html: str = ""


def verdict_badge(verdict: str) -> str:
    """A coloured badge for a verdict word (passed, failed, drift, warning ...)."""
    css = VERDICT_CLASSES.get(verdict.lower(), "info")
    return f'<span class="verdict {css}">{html.escape(verdict)}</span>'


def figure_to_data_uri(figure: Any, dpi: int = 90) -> str:
    """Render a matplotlib figure to a PNG data URI and close it."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def table_html(frame: pd.DataFrame, float_format: str = "{:.4g}") -> str:
    """An HTML table; a column named ``verdict`` is shown as badges."""
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    rows = []
    for _, row in frame.iterrows():
        cells = []
        for column, value in row.items():
            if column == "verdict" and isinstance(value, str):
                cells.append(f"<td>{verdict_badge(value)}</td>")
            elif isinstance(value, float):
                text = "" if pd.isna(value) else float_format.format(value)
                cells.append(f'<td class="num">{text}</td>')
            elif isinstance(value, int) and not isinstance(value, bool):
                cells.append(f'<td class="num">{value}</td>')
            else:
                cells.append(f"<td>{html.escape('' if value is None else str(value))}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def render_report(
    title: str,
    sections: Sequence[Section],
    verdict: str | None = None,
    meta: dict[str, Any] | None = None,
) -> str:
    """A complete HTML document.

    Args:
        title: Page title.
        sections: Blocks in order.
        verdict: Overall verdict shown as a badge under the title.
        meta: Key/value facts shown under the title (model, window, version ...).
    """
    parts = [f"<h1>{html.escape(title)}</h1>"]
    if verdict:
        parts.append(f"<p>{verdict_badge(verdict)}</p>")
    facts = dict(meta or {})
    facts.setdefault("generated", datetime.now(UTC).isoformat(timespec="seconds"))
    parts.append(
        '<p class="meta">'
        + " · ".join(f"{html.escape(str(k))}: {html.escape(str(v))}" for k, v in facts.items())
        + "</p>"
    )
    for section in sections:
        parts.append(f"<h2>{html.escape(section.title)}</h2>")
        parts.extend(f"<p>{html.escape(p)}</p>" for p in section.paragraphs)
        parts.extend(table_html(t) for t in section.tables)
        if section.images:
            parts.append(
                '<div class="grid">'
                + "".join(
                    f'<img src="{uri}" alt="{html.escape(section.title)}">'
                    for uri in section.images
                )
                + "</div>"
            )
        if section.raw_html:
            parts.append(section.raw_html)
    body = "\n".join(parts)
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head>"
        f"<body>{body}</body></html>"
    )


def markdown_table(frame: pd.DataFrame, float_format: str = "{:.4g}") -> str:
    """A GitHub-flavoured markdown table (for Prefect artifacts)."""
    if frame.empty:
        return "_(none)_"

    def fmt(value: Any) -> str:
        if isinstance(value, float):
            return "" if pd.isna(value) else float_format.format(value)
        return str(value).replace("|", "\\|").replace("\n", " ")

    header = "| " + " | ".join(str(c) for c in frame.columns) + " |"
    rule = "| " + " | ".join("---" for _ in frame.columns) + " |"
    rows = ["| " + " | ".join(fmt(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *rows])
