from pathlib import Path

from retrainer.config.reference import render

DOCS = Path(__file__).resolve().parents[2] / "docs" / "config.md"


def test_committed_config_reference_matches_the_code():
    # regenerate with: python -m retrainer.config.reference > docs/config.md
    assert DOCS.read_text() == render()


def test_reference_lists_every_section_and_window_kind():
    text = render()
    for heading in ("`model`", "`gates.comparison`", "training.window (kind: dynamic)"):
        assert heading in text
