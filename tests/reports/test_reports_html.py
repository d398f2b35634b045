"""The shared HTML report page: rendered from the package's Jinja2 templates, text escaped."""

from __future__ import annotations

from importlib import resources

import numpy as np
import pandas as pd

from retrainer.reports import Section, figure_to_data_uri, render_report, table_html, verdict_badge


def test_the_templates_ship_inside_the_package():
    # the wheel holds everything under src/retrainer, so the templates travel with the code
    folder = resources.files("retrainer.reports") / "templates"
    for name in ("report.html.j2", "macros.html.j2", "report.css"):
        assert (folder / name).is_file(), name


def test_text_from_data_is_escaped_everywhere_it_appears():
    # given values that look like markup (a column name, a category, a note)
    evil = "<script>alert('x')</script>"
    frame = pd.DataFrame({evil: ["a&b"], "note": [evil]})
    # when a report is rendered with them in the title, facts, paragraphs and a table
    page = render_report(
        f"Drift: {evil}", [Section(evil, paragraphs=[evil], tables=[frame])], meta={"m": evil}
    )
    # then no script tag survives, and the text is still there for the reader
    assert "<script>" not in page
    assert page.count("&lt;script&gt;") == 7  # <title>, <h1>, facts, <h2>, <p>, <th>, <td>
    assert "<td>a&amp;b</td>" in page


def test_table_cells_are_formatted_by_type():
    # given a verdict column, floats (one missing), integers and text
    frame = pd.DataFrame(
        {"verdict": ["drift", "ok"], "value": [0.123456, np.nan], "rows": [12, 7], "x": ["a", None]}
    )
    # when shown as a table
    html = table_html(frame)
    # then verdicts are badges, numbers right-aligned with 4 significant digits, gaps empty
    assert '<td><span class="verdict bad">drift</span></td>' in html
    assert '<td><span class="verdict ok">ok</span></td>' in html
    assert '<td class="num">0.1235</td>' in html
    assert '<td class="num"></td>' in html
    assert '<td class="num">12</td>' in html
    assert "<td>a</td>" in html
    assert "nan" not in html  # a missing value is an empty cell
    assert "None" not in html
    assert html.startswith("<table><thead><tr><th>verdict</th><th>value</th>")


def test_an_unknown_verdict_gets_the_neutral_badge():
    assert verdict_badge("Passed") == '<span class="verdict ok">Passed</span>'
    assert verdict_badge("pending") == '<span class="verdict info">pending</span>'


def test_a_report_page_has_verdict_facts_sections_and_embedded_figures():
    from matplotlib.figure import Figure

    figure = Figure(figsize=(2, 1))
    figure.add_subplot(1, 1, 1).plot([0, 1], [1, 0])
    page = render_report(
        "Monitoring: m",
        [Section("Plots", images=[figure_to_data_uri(figure)]), Section("Empty")],
        verdict="degraded",
        meta={"model": "m", "version": 3},
    )
    assert page.startswith("<!doctype html><html><head><meta charset='utf-8'>")
    assert "<title>Monitoring: m</title><style>body{" in page
    assert '<p><span class="verdict bad">degraded</span></p>' in page
    assert '<p class="meta">model: m · version: 3 · generated: ' in page
    assert '<div class="grid"><img src="data:image/png;base64,' in page
    assert 'alt="Plots"></div>' in page
    assert "<h2>Empty</h2>" in page
    assert page.endswith("</body></html>")
