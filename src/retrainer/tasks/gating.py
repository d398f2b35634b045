"""Tasks of the gate flow: resolve the models, load the holdout, score, judge, record.

IO and ``@task`` wrappers only: the policies (holdout freshness, gate status, the gate
document, the HTML report) live in :mod:`retrainer.gates`.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from retrainer.data import DataCatalog
from retrainer.gates import (
    GateInputs,
    GateReport,
    GateSetupError,
    GateSubject,
    ModelEvidence,
    evaluate_gates,
)
from retrainer.gates.approval import (
    TAG_GATE_CHAMPION,
    TAG_GATE_RUN_ID,
    decided_report,
    decision_document,
    decision_word,
)
from retrainer.gates.document import flatten_metrics, gate_document
from retrainer.gates.holdout import Holdout, champion_overlap_note, holdout_text, holdout_window
from retrainer.gates.html import gate_report_html, render_gate_html
from retrainer.gates.report import format_value
from retrainer.project import Project
from retrainer.registry.champion import load_champion, registry_for
from retrainer.registry.lineage import TAG_GATE, load_model
from retrainer.registry.models import (
    CHALLENGER,
    TAG_PREFIX,
    ModelRegistry,
    RegistryError,
    model_signature,
)
from retrainer.tasks.reporting import MetricLog, log_report_run
from retrainer.training.pipeline import predict_scores


def _subject(registry: ModelRegistry, version: Any, role: str) -> GateSubject:
    import skops.io as sio

    uri = registry.uri(version.version)
    model = load_model(uri)
    return GateSubject(
        version=str(version.version),
        uri=uri,
        tags=dict(version.tags or {}),
        model=model,
        signature=model_signature(uri),
        size_bytes=len(sio.dumps(model)),
        role=role,
    )


def _challenger_version(registry: ModelRegistry, project: Project, version: str | None) -> Any:
    if version is not None:
        try:
            return registry.get_version(version)
        except RegistryError as exc:
            raise GateSetupError(str(exc)) from None
    found = registry.version_by_alias(CHALLENGER)
    if found is None:
        raise GateSetupError(
            f"model {project.model_name!r} has no challenger; train one first "
            "(`retrainer train`) or pass --version"
        )
    return found


@task(name="resolve-gate-models", cache_policy=NO_CACHE)
def resolve_models(project: Project, version: str | None) -> tuple[GateSubject, GateSubject | None]:
    """The challenger (``version`` or the ``challenger`` alias) and the champion, if any.

    When the challenger IS the champion (the first version of a model), there is nothing to
    compare it with and it is judged on absolute bounds and sanity only.
    """
    registry = registry_for(project)
    challenger = _subject(registry, _challenger_version(registry, project, version), "challenger")
    current = load_champion(project, model=False)
    champion = None
    if current is not None and current.version != challenger.version:
        champion = _subject(registry, current.model_version, "champion")
    get_run_logger().info(
        "gate: challenger v%s vs %s",
        challenger.version,
        f"champion v{champion.version}" if champion else "no champion (absolute bounds only)",
    )
    return challenger, champion


@task(name="load-holdout", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=2)
def load_holdout(
    project: Project,
    challenger: GateSubject,
    champion: GateSubject | None,
    as_of: str | None = None,
) -> Holdout:
    """Labelled rows of the challenger's holdout days (recorded at training time).

    The holdout is the latest labelled window that was NOT used to train the challenger.
    Labels that arrived since training are included (``as_of`` defaults to the newest data).
    Which days, and whether they are fresh, is :func:`retrainer.gates.holdout.holdout_window`'s
    policy: a version without recorded holdout dates fails its ``holdout`` check unless
    ``gates.holdout.allow_unrecorded`` is true. A champion trained on any of these days would
    be favoured; that is noted in the report.
    """
    cfg = project.config
    catalog = DataCatalog.for_project(project)

    def labelled_days() -> list[Any]:
        latest = catalog.load_labelled(as_of=as_of, columns=[cfg.columns.timestamp])
        return list(pd.to_datetime(latest.frame[cfg.columns.timestamp], utc=True).dt.date)

    window = holdout_window(challenger.version, challenger.tags, cfg.gates.holdout, labelled_days)
    if window.not_fresh:
        get_run_logger().warning("%s", window.not_fresh)
    labelled = catalog.load_labelled(start=window.start, end=window.end, as_of=as_of)
    if labelled.frame.empty:
        raise GateSetupError(f"no labelled rows in the holdout window {window.start}..{window.end}")
    notes = list(window.notes)
    if champion is not None:
        overlap = champion_overlap_note(champion.version, champion.tags, window)
        notes += [overlap] if overlap else []
    get_run_logger().info(
        "holdout %s..%s: %d labelled rows (%d not labelled yet)",
        window.start,
        window.end,
        len(labelled.frame),
        labelled.unlabelled_rows,
    )
    return Holdout(
        labelled.frame, window.start, window.end, labelled.as_of, notes, window.not_fresh
    )


def _latency_ms_per_1k(model: Any, frame: pd.DataFrame, task_kind: str) -> float:
    """Median prediction time per 1,000 rows over three runs on (up to) 20,000 rows."""
    sample = frame.head(20_000)
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        predict_scores(model, sample, task_kind)
        timings.append(time.perf_counter() - started)
    return float(np.median(timings)) / max(len(sample), 1) * 1_000_000.0


@task(name="collect-evidence", cache_policy=NO_CACHE)
def collect_evidence(project: Project, subject: GateSubject, holdout: Holdout) -> ModelEvidence:
    """Score a model on the holdout and measure its latency, size and signature."""
    cfg = project.config
    features = holdout.frame[cfg.columns.features]
    scores, labels = predict_scores(subject.model, features, cfg.model.task)
    is_regression = cfg.model.task == "regression"
    return ModelEvidence(
        y_proba=None if is_regression else scores,
        y_pred=labels,
        latency_ms_per_1k=_latency_ms_per_1k(subject.model, features, cfg.model.task),
        size_bytes=subject.size_bytes,
        signature=subject.signature,
        classes=list(getattr(subject.model, "classes_", [])) or None,
        label=subject.label,
    )


@task(name="judge", cache_policy=NO_CACHE)
def judge(
    project: Project,
    holdout: Holdout,
    challenger: ModelEvidence,
    champion: ModelEvidence | None,
) -> GateReport:
    """Run every gate check (fail-closed); log one line per check in the run log."""
    cfg = project.config
    segments = [c for c in cfg.columns.segments if c in holdout.frame.columns]
    inputs = GateInputs(
        y_true=holdout.frame[cfg.columns.target].to_numpy(),
        segments=holdout.frame[segments].reset_index(drop=True) if segments else None,
        classes=challenger.classes,
    )
    report = evaluate_gates(
        cfg.gates,
        cfg.model.task,
        inputs,
        challenger,
        champion,
        rng_seed=cfg.training.random_state,
        holdout_not_fresh=holdout.not_fresh,
    )
    logger = get_run_logger()
    for check in report.checks:
        logger.log(
            logging.WARNING if check.blocking else logging.INFO,
            "check %s: observed %s; threshold %s; verdict %s%s — %s",
            check.name,
            format_value(check.observed),
            check.threshold or "—",
            check.verdict,
            "" if check.required else " (info)",
            check.message,
        )
    logger.info("gate: %s", report.summary)
    return report


_REPORT_FILES = ("gate_report.json", "gate_report.md", "gate_report.html")


def _write_report(directory: Path, document: dict[str, Any], markdown: str, html: str) -> list[str]:
    """The gate report files as the gate run logs them under ``gate/``; returns their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    contents = (json.dumps(document, indent=2, default=str), markdown, html)
    for name, text in zip(_REPORT_FILES, contents, strict=True):
        (directory / name).write_text(text, encoding="utf-8")
    return [str(directory / name) for name in _REPORT_FILES]


def _local_html(project: Project, version: str, html: str) -> Path:
    """The copy of the HTML report under the state directory's ``reports/gates``."""
    path = project.reports_dir("gates") / f"gate-v{version}.html"
    path.write_text(html, encoding="utf-8")
    return path


def _log_gate_run(
    report: GateReport, document: dict[str, Any], html: str, tags: dict[str, str]
) -> str:
    """One MLflow run holding the gate's metrics and report files; returns its id."""
    metrics = MetricLog()
    for name, value in flatten_metrics(report).items():
        metrics.add(name, value)
    with tempfile.TemporaryDirectory() as tmp:
        files = _write_report(Path(tmp), document, report.to_markdown(), html)
        run_name = f"gate-v{document['challenger_version']}"
        return log_report_run(run_name, tags, {}, metrics.rows, files, artifact_dir="gate")


@task(name="record-gate", cache_policy=NO_CACHE)
def record_gate(
    project: Project,
    report: GateReport,
    challenger: GateSubject,
    champion: GateSubject | None,
    holdout: Holdout,
    flow_run_id: str | None,
) -> dict[str, Any]:
    """Log the gate in MLflow (run + artifacts), tag the version, publish a Prefect artifact."""
    from retrainer.tasks.artifacts import publish_markdown

    champion_version = champion.version if champion else None
    document = gate_document(
        report,
        model=project.model_name,
        challenger_version=challenger.version,
        champion_version=champion_version,
        holdout=holdout.to_dict(),
    )
    status = document["status"]
    html = gate_report_html(project.model_name, report, challenger, champion, holdout)
    html_path = _local_html(project, challenger.version, html)
    run_tags = {
        f"{TAG_PREFIX}kind": "gate",
        f"{TAG_PREFIX}challenger_version": challenger.version,
        f"{TAG_PREFIX}champion_version": champion_version or "none",
        TAG_GATE: status,
        **({f"{TAG_PREFIX}flow_run_id": flow_run_id} if flow_run_id else {}),
    }
    run_id = _log_gate_run(report, document, html, run_tags)
    registry_for(project).set_tags(
        challenger.version,
        {
            TAG_GATE: status,
            f"{TAG_PREFIX}gate_summary": report.summary[:4000],
            TAG_GATE_RUN_ID: run_id,
            TAG_GATE_CHAMPION: champion_version or "none",
        },
    )
    publish_markdown(
        f"gate-{project.model_name}-v{challenger.version}",
        f"# Gate for {project.model_name} v{challenger.version}\n\n{report.to_markdown()}",
        description=report.summary[:500],
    )
    return {**document, "gate_run_id": run_id, "report_html": str(html_path)}


def _logged_document(client: Any, run_id: str, directory: str) -> dict[str, Any] | None:
    """The gate document a gate run logged, or None when it cannot be read."""
    import mlflow

    try:
        local = client.download_artifacts(run_id, "gate/gate_report.json", directory)
        return json.loads(Path(local).read_text())
    except (OSError, ValueError, mlflow.exceptions.MlflowException):
        return None


def _rewrite_report(
    project: Project, client: Any, run_id: str, report: GateReport, document: dict[str, Any]
) -> None:
    """Replace the gate run's report files (and the local HTML copy) and its metrics."""
    holdout = document.get("holdout") or {}
    champion = document.get("champion_version")
    version = str(document["challenger_version"])
    html = render_gate_html(
        project.model_name,
        report,
        f"v{version}",
        f"v{champion}" if champion else "none",
        holdout_text(holdout),
        list(holdout.get("notes") or []),
    )
    with tempfile.TemporaryDirectory() as tmp:
        _write_report(Path(tmp), document, report.to_markdown(), html)
        client.log_artifacts(run_id, tmp, artifact_path="gate")
    _local_html(project, version, html)
    for name, value in flatten_metrics(report).items():
        client.log_metric(run_id, name, value)


def record_human_decision(
    project: Project,
    version: str,
    version_tags: dict[str, str],
    approve: bool,
    reviewer: str,
    comment: str = "",
) -> dict[str, Any]:
    """Record a reviewer's decision on a gate that could not wait for it (a local run).

    The gate's MLflow run (``retrainer.gate_run_id`` on the version) gets the verdict tag
    (``retrainer.gate`` = passed|failed) and the decision, and its report (JSON, Markdown,
    HTML; the local HTML copy too) is rewritten with the ``human_approval`` check decided.
    The version's own tags are the caller's business.

    Args:
        project: The project (MLflow configured).
        version: The version decided on.
        version_tags: Its tags (they name the gate run).
        approve: The decision.
        reviewer: Who decided.
        comment: Their comment.

    Returns:
        The updated gate document (``status``, ``summary``, ``checks`` ...); with no gate run
        to update, a minimal one.
    """
    import mlflow

    document = decision_document(
        project.model_name, version, version_tags, approve, reviewer, comment
    )
    run_id = version_tags.get(TAG_GATE_RUN_ID)
    if not run_id:
        return document
    client = mlflow.MlflowClient()
    with tempfile.TemporaryDirectory() as tmp:
        logged = _logged_document(client, run_id, tmp)
    if logged is not None:
        timeout = project.config.gates.human_approval.timeout_seconds
        report, document = decided_report(logged, approve, reviewer, comment, timeout)
        _rewrite_report(project, client, run_id, report, document)
    client.set_tag(run_id, TAG_GATE, document["status"])
    client.set_tag(run_id, f"{TAG_PREFIX}approval", decision_word(approve))
    client.set_tag(run_id, f"{TAG_PREFIX}approved_by", reviewer)
    return {**document, "gate_run_id": run_id}
