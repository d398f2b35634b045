"""Self-contained HTML reports (inline CSS, PNG plots embedded as data URIs).

Every report (validation, drift, monitoring, gate, rollout) is built from :class:`Section`
blocks and rendered with :func:`render_report` from the Jinja2 templates in ``templates/``
(``report.html.j2``, ``macros.html.j2``, ``report.css``), so they share one look and open
offline. Autoescaping is on: titles, paragraphs, facts and table cells are text, never markup.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any

import jinja2
import pandas as pd
from markupsafe import Markup

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
    "successful": "ok",
    "promoted": "ok",
    "aborted": "bad",
    "error": "bad",
    "inconclusive": "warn",
    "paused": "warn",
}


@dataclass
class Section:
    """One block of a report: a heading with paragraphs, tables and images.

    Attributes:
        title: The heading (also the images' alt text).
        paragraphs: Plain-text paragraphs (escaped).
        tables: Frames shown as tables (see :func:`table_html` for the cell formats).
        images: PNG data URIs, e.g. from :func:`figure_to_data_uri`, shown in a grid.
        raw_html: Trusted markup inserted as is after the images (empty by default).
    """

    title: str
    paragraphs: list[str] = field(default_factory=list)
    tables: list[pd.DataFrame] = field(default_factory=list)
    images: list[str] = field(default_factory=list)  # data URIs
    raw_html: str = ""


@dataclass(frozen=True)
class _Cell:
    """A table cell ready for the template: ``kind`` is verdict, num or text."""

    kind: str
    text: str


@dataclass(frozen=True)
class _Table:
    columns: list[str]
    rows: list[list[_Cell]]


def _verdict_class(verdict: str) -> str:
    return VERDICT_CLASSES.get(str(verdict).lower(), "info")


@cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("retrainer.reports", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.globals["verdict_class"] = _verdict_class
    return env


def _macros() -> Any:
    return _environment().get_template("macros.html.j2").module


def _cell(column: Any, value: Any, float_format: str) -> _Cell:
    if column == "verdict" and isinstance(value, str):
        return _Cell("verdict", value)
    if isinstance(value, float):
        return _Cell("num", "" if pd.isna(value) else float_format.format(value))
    if isinstance(value, int) and not isinstance(value, bool):
        return _Cell("num", str(value))
    return _Cell("text", "" if value is None else str(value))


def _table(frame: pd.DataFrame, float_format: str = "{:.4g}") -> _Table:
    rows = [
        [_cell(column, value, float_format) for column, value in row.items()]
        for _, row in frame.iterrows()
    ]
    return _Table([str(c) for c in frame.columns], rows)


def verdict_badge(verdict: str) -> str:
    """A coloured badge for a verdict word (passed, failed, drift, warning ...)."""
    return str(_macros().badge(verdict))


def figure_to_data_uri(figure: Any, dpi: int = 90) -> str:
    """Render a matplotlib figure to a PNG data URI and close it."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def table_html(frame: pd.DataFrame, float_format: str = "{:.4g}") -> str:
    """An HTML table of a frame.

    Floats are shown with ``float_format`` (NaN empty) and right-aligned like integers, a
    column named ``verdict`` as badges, anything else as escaped text.
    """
    table = _table(frame, float_format)
    return str(_macros().table(table.columns, table.rows))


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
        meta: Key/value facts shown under the title (model, window, version ...); a
            ``generated`` timestamp (UTC) is added unless given.

    Returns:
        The page, with inline CSS and embedded images.
    """
    facts = dict(meta or {})
    facts.setdefault("generated", datetime.now(UTC).isoformat(timespec="seconds"))
    blocks = [
        {
            "title": section.title,
            "paragraphs": section.paragraphs,
            "tables": [_table(t) for t in section.tables],
            "images": section.images,
            "raw_html": Markup(section.raw_html),  # trusted markup, by contract
        }
        for section in sections
    ]
    template = _environment().get_template("report.html.j2")
    return template.render(
        title=title,
        verdict=verdict,
        facts=[(str(k), str(v)) for k, v in facts.items()],
        sections=blocks,
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
