"""Score flow: batch inference of the champion (or another version) into ``predictions``.

Entrypoint for deployments: ``flows/score.py:score_batch``.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger

from retrainer.data import DataCatalog
from retrainer.monitoring.errors import MonitoringError
from retrainer.monitoring.scoring import (
    parse_version_option,
    partitions_to_score,
    request_span,
    requested_partitions,
)
from retrainer.tasks.monitoring import load_monitored_model, score_partitions, screen_reads
from retrainer.tasks.project import configure_tracking, load_project


@flow(name="score-batch", log_prints=True)
def score_batch(
    config: str = "retrainer.yaml",
    date: str | None = None,
    start: str | None = None,
    end: str | None = None,
    rescore: bool = False,
    version: str | None = None,
) -> dict[str, Any]:
    """Score feature partitions with the champion (or ``version``) into ``predictions``.

    Partitions are chosen by ``date``, by a ``start``/``end`` window, or (neither) all feature
    partitions. Partitions that failed validation are never scored, and those never validated
    follow ``validation.before_training`` (validate first, skip, or allow), as for training.
    Those that already have predictions (of any version) are skipped unless ``rescore``,
    which replaces the scoring version's rows and keeps the other versions'. Each written row
    carries the id, event time, model version, score, predicted label and the segment
    columns (see :mod:`retrainer.monitoring.predictions`).

    Args:
        config: Path to ``retrainer.yaml``.
        date: One event date (YYYY-MM-DD).
        start: First event date of a window (inclusive).
        end: Last event date of a window (inclusive).
        rescore: Score partitions that already have predictions again.
        version: The registered version that scores; default: the champion.

    Returns:
        ``model``, ``version``, ``scored`` (rows per date), ``rows``, ``skipped`` (dates
        already scored), ``partitions`` (the validation screen: ``excluded`` date → why,
        ``validated``, ``unvalidated_read``) and ``notes``.

    Raises:
        MonitoringError: When there is no champion (or no such version), the options
            conflict or nothing matches.
    """
    version = parse_version_option(version)
    project = load_project(config)
    configure_tracking(project)
    catalog = DataCatalog.for_project(project)
    requested = requested_partitions(catalog.features.dates(), date, start, end)
    first, last = request_span(date, start, end)
    screen = screen_reads(project, first, last, present=requested, verb="scored")
    if not requested and not screen.excluded:
        what = (
            f"{catalog.features.name} has no partition for {first}"
            if date
            else ("no feature partitions match")
        )
        raise MonitoringError(f"{what}; nothing to score")
    selection = partitions_to_score(screen.read, catalog.predictions.dates(), rescore)
    scored: dict[str, int] = {}
    used = version
    if selection.to_score:
        model = load_monitored_model(project, version)
        used = model.version
        scored = score_partitions(project, model, selection.to_score)
    if selection.already_scored:
        get_run_logger().info(
            "skipped %d partition(s) that already have predictions (rescore to score again)",
            len(selection.already_scored),
        )
    return {
        "model": project.model_name,
        "version": used,
        "scored": scored,
        "rows": sum(scored.values()),
        "skipped": [d.isoformat() for d in selection.already_scored],
        "partitions": screen.to_dict(),
        "notes": screen.notes("scored", span="the request"),
    }
