"""Score flow: batch inference of the champion into the ``predictions`` table.

Entrypoint for deployments: ``flows/score.py:score_batch``.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger

from retrainer.data import DataCatalog
from retrainer.tasks.monitoring import (
    MonitoringError,
    load_champion_model,
    partitions_to_score,
    score_partitions,
)
from retrainer.tasks.project import configure_tracking, load_project


@flow(name="score-batch", log_prints=True)
def score_batch(
    config: str = "retrainer.yaml",
    date: str | None = None,
    start: str | None = None,
    end: str | None = None,
    rescore: bool = False,
) -> dict[str, Any]:
    """Score feature partitions with the champion and write ``predictions`` partitions.

    Partitions are chosen by ``date``, by a ``start``/``end`` window, or (neither) all feature
    partitions; those that already have predictions are skipped unless ``rescore``. Each
    written row carries the id, event time, model version, score, predicted label and the
    segment columns (see :mod:`retrainer.monitoring.predictions`).

    Args:
        config: Path to ``retrainer.yaml``.
        date: One event date (YYYY-MM-DD).
        start: First event date of a window (inclusive).
        end: Last event date of a window (inclusive).
        rescore: Overwrite partitions that already have predictions.

    Returns:
        ``model``, ``version``, ``scored`` (rows per date), ``rows`` and ``skipped`` dates.

    Raises:
        MonitoringError: When there is no champion or the options conflict.
    """
    project = load_project(config)
    configure_tracking(project)
    catalog = DataCatalog.for_project(project)
    dates, skipped = partitions_to_score(catalog, date, start, end, rescore)
    logger = get_run_logger()
    if not dates and not skipped:
        raise MonitoringError("no feature partitions match; nothing to score")
    scored: dict[str, int] = {}
    version = None
    if dates:
        champion = load_champion_model(project)
        version = champion.version
        scored = score_partitions(project, champion, dates)
    if skipped:
        logger.info(
            "skipped %d partition(s) that already have predictions (rescore to overwrite)",
            len(skipped),
        )
    return {
        "model": project.model_name,
        "version": version,
        "scored": scored,
        "rows": sum(scored.values()),
        "skipped": [d.isoformat() for d in skipped],
    }
