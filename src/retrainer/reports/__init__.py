"""HTML/PNG reports shared by validation, drift, monitoring, gates and rollouts."""

from retrainer.reports.html import (
    Section,
    figure_to_data_uri,
    markdown_table,
    render_report,
    table_html,
    verdict_badge,
)

__all__ = [
    "Section",
    "figure_to_data_uri",
    "markdown_table",
    "render_report",
    "table_html",
    "verdict_badge",
]
