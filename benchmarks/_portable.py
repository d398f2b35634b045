"""Results files that hold no path of the machine that wrote them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def portable(value: Any, root: Path = REPO) -> Any:
    """``value`` with every absolute path under ``root`` made relative to it (recursively)."""
    prefix = str(root).rstrip("/") + "/"
    if isinstance(value, dict):
        return {k: portable(v, root) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [portable(v, root) for v in value]
    if isinstance(value, Path):
        value = str(value)
    if isinstance(value, str):
        return value.replace(prefix, "")
    return value


def write_json(path: Path, document: Any) -> None:
    """Write ``document`` as indented JSON with repository-relative paths."""
    path.write_text(json.dumps(portable(document), indent=1, default=str) + "\n", encoding="utf-8")
