"""Tasks of the train flow: load labelled data, choose the window, fit, evaluate, register.

The registry client and the champion come from :mod:`retrainer.registry.champion`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import pandas as pd
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from retrainer.config.training import WindowStrategy
from retrainer.data import DataCatalog, LabelledWindow
from retrainer.project import Project
from retrainer.registry.champion import Champion, load_champion, registry_for
from retrainer.registry.lineage import (
    TAG_GATE,
    Lineage,
    code_version,
    log_model_version,
    mlflow_metric_name,
)
from retrainer.registry.models import CHALLENGER, CHAMPION
from retrainer.training.trainer import (
    FittedModel,
    TrainingSet,
    fit_model,
    holdout_metrics,
    score_frame,
    split_holdout,
)
from retrainer.training.windows import WindowContext, build_training_set


@dataclass
class PreparedData:
    """Training set and fresh holdout of one training run."""

    training: TrainingSet
    holdout: pd.DataFrame
    holdout_dates: list[date]
    labelled: LabelledWindow


@task(name="load-champion", cache_policy=NO_CACHE)
def fetch_champion(project: Project) -> Champion | None:
    """The champion (version, fitted pipeline, tags), or None before the first one.

    A task around :func:`retrainer.registry.champion.load_champion`, so the flow run shows
    it; a warm start and the lineage tag ``parent_version`` come from it.
    """
    return load_champion(project)


@task(name="load-labelled-data", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=2)
def load_labelled_data(
    project: Project, as_of: str | None = None, exclude: Mapping[str, str] | None = None
) -> LabelledWindow:
    """Every feature row joined with the labels known by ``as_of``, bad batches left out.

    Quarantined partitions are not in the table; ``exclude`` (from
    :func:`retrainer.tasks.validation.screen_training_partitions`) names the partitions that are but
    must not be read (invalid, or never validated), each with the reason, kept as lineage in
    :attr:`LabelledWindow.excluded`.
    """
    catalog = DataCatalog.for_project(project)
    labelled = catalog.load_labelled(as_of=as_of, exclude=exclude)
    logger = get_run_logger()
    logger.info(
        "read %d labelled rows (%d still unlabelled) from %d feature partitions up to %s%s",
        len(labelled.frame),
        labelled.unlabelled_rows,
        len(labelled.feature_files),
        labelled.as_of,
        f"; {len(labelled.excluded)} partition(s) left out: {', '.join(labelled.excluded)}"
        if labelled.excluded
        else "",
    )
    return labelled


@task(name="prepare-training-set", cache_policy=NO_CACHE)
def prepare_training_set(
    project: Project,
    labelled: LabelledWindow,
    strategy: WindowStrategy,
    champion: Any | None,
) -> PreparedData:
    """Keep the latest labelled days as holdout, apply the window strategy to the rest."""
    cfg = project.config
    history, holdout, holdout_dates = split_holdout(
        labelled.frame, cfg.columns.timestamp, cfg.gates.holdout.days
    )
    training = build_training_set(strategy, WindowContext(cfg, history, champion))
    get_run_logger().info(
        "window %s: %d rows from %s to %s; holdout %d rows (%s .. %s)",
        training.strategy,
        len(training.frame),
        training.start,
        training.end,
        len(holdout),
        holdout_dates[0] if holdout_dates else None,
        holdout_dates[-1] if holdout_dates else None,
    )
    return PreparedData(training, holdout, holdout_dates, labelled)


@task(name="fit-model", cache_policy=NO_CACHE)
def fit(project: Project, training: TrainingSet) -> FittedModel:
    """Fit the configured pipeline."""
    fitted = fit_model(training, project.config)
    get_run_logger().info(
        "fitted %s on %d rows in %.2f s",
        project.config.estimator.class_path,
        fitted.train_rows,
        fitted.training_seconds,
    )
    return fitted


@task(name="evaluate-holdout", cache_policy=NO_CACHE)
def evaluate_holdout(
    project: Project, model: Any, holdout: pd.DataFrame
) -> dict[str, float | None]:
    """Metrics of ``model`` on the holdout rows (None for a metric that cannot be computed)."""
    return holdout_metrics(model, holdout, project.config)


@task(name="register-model", cache_policy=NO_CACHE)
def register_model(
    project: Project,
    fitted: FittedModel,
    prepared: PreparedData,
    metrics: dict[str, float | None],
    reason: str,
    event_id: str | None,
    parent_version: str | None,
    flow_run_id: str | None,
    detail: str | None = None,
) -> dict[str, Any]:
    """Log the model with lineage, register a version, point ``challenger`` at it.

    The version waits for the gate (``retrainer.gate = pending``); only the gate moves
    ``champion``.
    """
    cfg = project.config
    training = prepared.training
    example = training.frame[cfg.columns.features].head(5)
    scores, _ = score_frame(fitted.pipeline, example, cfg)
    lineage = Lineage(
        window_start=str(training.start) if training.start else None,
        window_end=str(training.end) if training.end else None,
        as_of=str(prepared.labelled.as_of),
        rows=fitted.train_rows,
        data_fingerprint=prepared.labelled.fingerprint,
        code_version=code_version(project.root),
        config_hash=cfg.fingerprint(),
        trigger_reason=reason,
        trigger_event_id=event_id,
        parent_version=parent_version,
        training_seconds=fitted.training_seconds,
        cost_estimate=fitted.training_seconds / 3600.0 * cfg.training.cost_per_hour,
        window_strategy=training.strategy,
        holdout_start=str(prepared.holdout_dates[0]) if prepared.holdout_dates else None,
        holdout_end=str(prepared.holdout_dates[-1]) if prepared.holdout_dates else None,
        flow_run_id=flow_run_id,
        trigger_detail=detail,
    )
    details = dict(training.details)
    curve = details.pop("curve", None) or {}
    segment_metrics = details.pop("segment_metrics", None) or {}
    params: dict[str, Any] = {
        "estimator": cfg.estimator.class_path,
        **{f"estimator.{k}": v for k, v in cfg.estimator.params.items()},
        "window": training.strategy,
        **{f"window.{k}": v for k, v in details.items() if not isinstance(v, dict | list)},
        "train_rows": fitted.train_rows,
        "holdout_rows": len(prepared.holdout),
    }
    logged_metrics = {f"holdout_{k}": v for k, v in metrics.items()}
    logged_metrics["training_seconds"] = fitted.training_seconds
    n_iter = getattr(fitted.pipeline[-1], "n_iter_", None)
    if isinstance(n_iter, int | float):
        logged_metrics["model_iterations"] = float(n_iter)
    for segment, value in segment_metrics.items():
        logged_metrics[mlflow_metric_name(f"window_segment_{segment}")] = value
    series = {}
    if curve:
        metric = details.get("metric", "metric")
        series[mlflow_metric_name(f"window_curve_{metric}")] = {
            int(days): value for days, value in curve.items()
        }
    version, run_id, uri = log_model_version(
        fitted.pipeline,
        project.model_name,
        input_example=example,
        output_example=scores,
        params=params,
        metrics=logged_metrics,
        lineage=lineage,
        run_name=f"train-{reason}",
        metric_series=series,
    )
    registry = registry_for(project)
    registry.set_alias(CHALLENGER, version)
    registry.set_tags(version, {TAG_GATE: "pending"})
    get_run_logger().info("registered %s version %s as challenger", project.model_name, version)
    return {
        "model": project.model_name,
        "version": version,
        "run_id": run_id,
        "model_uri": uri,
        "champion_uri": registry.uri(CHAMPION),
        "challenger_uri": registry.uri(CHALLENGER),
        "parent_version": parent_version,
        "metrics": metrics,
        "lineage": lineage.to_tags(),
    }
