"""Prefect artifacts: markdown/table summaries shown in the Prefect UI."""

from __future__ import annotations

import re


def artifact_key(*parts: str) -> str:
    """A valid Prefect artifact key (lowercase letters, digits and dashes)."""
    key = "-".join(parts).lower()
    key = re.sub(r"[^a-z0-9-]+", "-", key).strip("-")
    return re.sub(r"-{2,}", "-", key)[:100]


def publish_markdown(key: str, markdown: str, description: str | None = None) -> None:
    """Create a markdown artifact in the current flow run (no-op outside Prefect)."""
    from prefect.artifacts import create_markdown_artifact
    from prefect.context import get_run_context
    from prefect.exceptions import MissingContextError

    try:
        get_run_context()
    except MissingContextError:
        return
    create_markdown_artifact(markdown=markdown, key=artifact_key(key), description=description)
