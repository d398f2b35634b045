"""Shared outputs of the checking flows (drift, monitoring): report files and MLflow runs."""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

_MLFLOW_KEY = re.compile(r"[^A-Za-z0-9_\-. /]")
_BATCH = 900  # MLflow accepts at most 1,000 metrics per log_batch call


def metric_key(*parts: str) -> str:
    """An MLflow metric key from parts joined by dots (invalid characters become ``_``)."""
    return ".".join(_MLFLOW_KEY.sub("_", str(p)) for p in parts)[:250]


class MetricLog:
    """Collects MLflow metrics ``(key, value, step, timestamp_ms)``; skips None, NaN and inf."""

    def __init__(self) -> None:
        self.now = int(datetime.now(UTC).timestamp() * 1000)
        self.rows: list[tuple[str, float, int, int]] = []

    def add(self, key: str, value: Any, step: int = 0, day: date | None = None) -> None:
        """Record ``value`` under ``key``; ``day`` timestamps a per-day series point."""
        if value is None:
            return
        value = float(value)
        if not math.isfinite(value):
            return
        stamp = (
            int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)
            if day is not None
            else self.now
        )
        self.rows.append((key, value, step, stamp))


def html_wanted(setting: str, finding: bool, asked: bool) -> bool:
    """Whether a check renders its HTML report (``html_report``: always, on_*, never)."""
    return asked or setting == "always" or (finding and setting != "never")


def report_line(html_path: str | None, setting: str) -> str:
    """The markdown artifact's last line: where the HTML report is, or why there is none."""
    if html_path is None:
        return f"\n\nNo HTML report this time (`{setting}`).\n"
    return f"\n\nHTML report: `{html_path}`\n"


def write_report_files(
    directory: Path,
    name: str,
    page: str | None,
    document: dict[str, Any],
    copy_html_to: str | None,
) -> tuple[str | None, str]:
    """Write ``<name>-<UTC stamp>.html`` and ``.json`` in ``directory`` (and a copy of the page).

    Returns:
        Paths of the HTML (None when there is no page) and JSON files in ``directory``.
    """
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    base = directory / f"{name}-{stamp}"
    json_path = base.with_suffix(".json")
    json_path.write_text(json.dumps(document, indent=2), encoding="utf-8")
    if page is None:
        return None, str(json_path)
    html_path = base.with_suffix(".html")
    html_path.write_text(page, encoding="utf-8")
    if copy_html_to:
        target = Path(copy_html_to)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(page, encoding="utf-8")
    return str(html_path), str(json_path)


def log_report_run(
    run_name: str,
    tags: dict[str, str],
    params: dict[str, str],
    metrics: list[tuple[str, float, int, int]],
    files: list[str],
    artifact_dir: str,
) -> str:
    """Log a check as one MLflow run: tags, params, metrics (batched) and report files.

    Returns:
        The run id.
    """
    import mlflow
    from mlflow.entities import Metric, Param, RunTag

    client = mlflow.MlflowClient()
    with mlflow.start_run(run_name=run_name, tags=tags) as run:
        run_id = run.info.run_id
        entries = [Metric(k, v, ts, step) for k, v, step, ts in metrics]
        for i in range(0, len(entries), _BATCH):
            client.log_batch(run_id, metrics=entries[i : i + _BATCH])
        client.log_batch(
            run_id,
            params=[Param(k, str(v)[:6000]) for k, v in params.items()],
            tags=[RunTag(k, v) for k, v in tags.items()],
        )
        for path in files:
            mlflow.log_artifact(path, artifact_path=artifact_dir)
    return run_id
