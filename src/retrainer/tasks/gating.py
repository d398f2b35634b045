"""Tasks of the gate flow.

Resolve the models, load the fresh holdout, collect evidence, judge, record the verdict.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from retrainer.data import DataCatalog, as_date
from retrainer.gates import GateInputs, GateReport, ModelEvidence, evaluate_gates
from retrainer.gates.report import CheckResult, format_value
from retrainer.project import Project
from retrainer.registry.lineage import TAG_GATE, load_model, mlflow_metric_name
from retrainer.registry.models import (
    CHALLENGER,
    CHAMPION,
    TAG_PREFIX,
    ModelRegistry,
    RegistryError,
    model_signature,
)
from retrainer.training.pipeline import predict_scores


class GateSetupError(Exception):
    """The gate cannot run (no challenger, no holdout rows ...); the message says why."""


@dataclass
class GateSubject:
    """A registered version taking part in the gate."""

    version: str
    uri: str
    tags: dict[str, str]
    model: Any = None
    signature: list[tuple[str, str]] | None = None
    size_bytes: int | None = None
    role: str = "challenger"

    @property
    def label(self) -> str:
        """How reports name it."""
        return f"v{self.version}"


@dataclass
class Holdout:
    """The fresh holdout both models are scored on."""

    frame: pd.DataFrame
    start: date | None
    end: date | None
    as_of: date
    notes: list[str] = field(default_factory=list)
    not_fresh: str | None = None  # why the rows may have been used to train the challenger


def registry_for(project: Project) -> ModelRegistry:
    """The project's registered model."""
    return ModelRegistry(project.model_name, lock_dir=project.state_dir / "locks")


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


@task(name="resolve-gate-models", cache_policy=NO_CACHE)
def resolve_models(project: Project, version: str | None) -> tuple[GateSubject, GateSubject | None]:
    """The challenger (``version`` or the ``challenger`` alias) and the champion, if any.

    When the challenger IS the champion (the first version of a model), there is nothing to
    compare it with and it is judged on absolute bounds and sanity only.
    """
    registry = registry_for(project)
    if version is not None:
        try:
            challenger_version = registry.get_version(version)
        except RegistryError as exc:
            raise GateSetupError(str(exc)) from None
    else:
        challenger_version = registry.version_by_alias(CHALLENGER)
        if challenger_version is None:
            raise GateSetupError(
                f"model {project.model_name!r} has no challenger; train one first "
                "(`retrainer train`) or pass --version"
            )
    champion_version = registry.version_by_alias(CHAMPION)
    challenger = _subject(registry, challenger_version, "challenger")
    champion = None
    if champion_version is not None and str(champion_version.version) != challenger.version:
        champion = _subject(registry, champion_version, "champion")
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
    A champion trained on any of these days would be favoured; that is noted in the report.

    A version without recorded holdout dates (registered outside the train flow) is judged
    on the latest labelled days, which it may have been trained on: its ``holdout`` check
    fails (fail closed) unless ``gates.holdout.allow_unrecorded`` is true, which only notes it.
    """
    cfg = project.config
    catalog = DataCatalog.for_project(project)
    start_tag = challenger.tags.get(f"{TAG_PREFIX}holdout_start")
    end_tag = challenger.tags.get(f"{TAG_PREFIX}holdout_end")
    notes: list[str] = []
    not_fresh: str | None = None
    if start_tag and end_tag:
        start, end = as_date(start_tag), as_date(end_tag)
    else:
        # a version registered outside the train flow: the latest labelled days
        latest = catalog.load_labelled(as_of=as_of, columns=[cfg.columns.timestamp])
        days = sorted(set(pd.to_datetime(latest.frame[cfg.columns.timestamp], utc=True).dt.date))
        if not days:
            raise GateSetupError("no labelled data to build a holdout from")
        window = days[-cfg.gates.holdout.days :]
        start, end = window[0], window[-1]
        if cfg.gates.holdout.allow_unrecorded:
            notes.append(
                f"v{challenger.version} has no recorded holdout; using the latest labelled "
                f"days {start}..{end}, which it may have been trained on "
                "(gates.holdout.allow_unrecorded: true)"
            )
        else:
            not_fresh = (
                f"no recorded holdout dates: v{challenger.version} was not registered by the "
                f"train flow, so the latest labelled days {start}..{end} may be rows it was "
                "trained on; retrain it with `retrainer train`, or set "
                "gates.holdout.allow_unrecorded: true to judge it on them anyway"
            )
            get_run_logger().warning("%s", not_fresh)
    labelled = catalog.load_labelled(start=start, end=end, as_of=as_of)
    if labelled.frame.empty:
        raise GateSetupError(f"no labelled rows in the holdout window {start}..{end}")
    if champion is not None:
        champion_end = champion.tags.get(f"{TAG_PREFIX}window_end")
        if champion_end and as_date(champion_end) >= start:
            notes.append(
                f"champion v{champion.version} was trained on data up to {champion_end}, "
                f"overlapping the holdout ({start}..{end}): the comparison favours the champion"
            )
    get_run_logger().info(
        "holdout %s..%s: %d labelled rows (%d not labelled yet)",
        start,
        end,
        len(labelled.frame),
        labelled.unlabelled_rows,
    )
    return Holdout(labelled.frame, start, end, labelled.as_of, notes, not_fresh)


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


def gate_report_html(
    project: Project,
    report: GateReport,
    challenger: GateSubject,
    champion: GateSubject | None,
    holdout: Holdout,
) -> str:
    """The human-readable gate report."""
    return render_gate_html(
        project,
        report,
        challenger.label,
        champion.label if champion else "none",
        f"{holdout.start}..{holdout.end} ({len(holdout.frame)} rows)",
        holdout.notes,
    )


def render_gate_html(
    project: Project,
    report: GateReport,
    challenger_label: str,
    champion_label: str,
    holdout_text: str,
    notes: list[str],
) -> str:
    """The gate report as HTML, from the report and what it was run on.

    Args:
        project: The project.
        report: The gate report.
        challenger_label: How the challenger is named (``v3``).
        champion_label: How the champion is named (``v2``, or ``none``).
        holdout_text: The holdout window and row count.
        notes: Notes shown under the verdict.

    Returns:
        A self-contained HTML document.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from retrainer.reports import Section, figure_to_data_uri, render_report

    checks = pd.DataFrame(
        [
            {
                "check": c.name,
                "observed": c.observed
                if isinstance(c.observed, int | float)
                else (c.observed or ""),
                "threshold": c.threshold or "",
                "verdict": c.verdict,
                "required": "yes" if c.required else "info",
                "message": c.message,
            }
            for c in report.checks
        ]
    )
    sections = [
        Section("Verdict", paragraphs=[report.summary, *notes]),
        Section("Checks", tables=[checks]),
    ]
    if report.metrics:
        metrics = pd.DataFrame(report.metrics).reset_index(names="metric")
        sections.append(Section("Holdout metrics (same rows for both models)", tables=[metrics]))
    segment_checks = [c for c in report.by_kind("segment") if "improvement" in c.details]
    if segment_checks:
        figure, axis = plt.subplots(figsize=(7, 0.35 * len(segment_checks) + 1.2))
        names = [c.name.removeprefix("segment[").removesuffix("]") for c in segment_checks]
        values = [c.details["improvement"] for c in segment_checks]
        lows = [c.details["improvement"] - c.details["ci_low"] for c in segment_checks]
        highs = [c.details["ci_high"] - c.details["improvement"] for c in segment_checks]
        if not segment_checks[0].details.get("greater_is_better", True):
            lows, highs = highs, lows
        colours = ["#cf222e" if c.verdict == "failed" else "#2da44e" for c in segment_checks]
        axis.barh(names, values, xerr=[np.abs(lows), np.abs(highs)], color=colours)
        axis.axvline(0, color="black", linewidth=0.8)
        axis.set_xlabel(f"challenger − champion ({segment_checks[0].details.get('metric')})")
        axis.invert_yaxis()
        sections.append(
            Section(
                "Per-segment difference with 95% interval",
                images=[figure_to_data_uri(figure)],
            )
        )
    meta = {
        "model": project.model_name,
        "challenger": challenger_label,
        "champion": champion_label,
        "holdout": holdout_text,
    }
    return render_report(
        f"Gate: {project.model_name} {challenger_label}",
        sections,
        verdict="passed"
        if report.passed
        else ("pending" if report.awaiting_approval else "failed"),
        meta=meta,
    )


def _flatten_metrics(report: GateReport) -> dict[str, float]:
    out: dict[str, float] = {}
    for role, values in report.metrics.items():
        for name, value in values.items():
            if isinstance(value, int | float) and value is not None and np.isfinite(value):
                out[mlflow_metric_name(f"{role}_{name}")] = float(value)
    for check in report.checks:
        for key in ("difference", "p_better", "p_worse", "ci_low", "ci_high"):
            value = check.details.get(key)
            if isinstance(value, int | float) and np.isfinite(value):
                out[mlflow_metric_name(f"{check.name}.{key}")] = float(value)
    out["checks_failed"] = float(len(report.failed_checks))
    out["passed"] = 1.0 if report.passed else 0.0
    return out


def gate_status(report: GateReport) -> str:
    """The ``retrainer.gate`` tag value."""
    if report.passed:
        return "passed"
    if report.awaiting_approval and report.automatic_checks_passed:
        return "awaiting_approval"
    return "failed"


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
    import mlflow

    from retrainer.tasks.artifacts import publish_markdown

    status = gate_status(report)
    document = {
        **report.to_dict(),
        "status": status,
        "model": project.model_name,
        "challenger_version": challenger.version,
        "champion_version": champion.version if champion else None,
        "holdout": {
            "start": str(holdout.start),
            "end": str(holdout.end),
            "rows": len(holdout.frame),
            "as_of": str(holdout.as_of),
            "notes": holdout.notes,
        },
    }
    html = gate_report_html(project, report, challenger, champion, holdout)
    markdown = report.to_markdown()
    local_dir = project.reports_dir("gates")
    html_path = local_dir / f"gate-v{challenger.version}.html"
    html_path.write_text(html, encoding="utf-8")
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "gate_report.json").write_text(json.dumps(document, indent=2, default=str))
        (Path(tmp) / "gate_report.md").write_text(markdown)
        (Path(tmp) / "gate_report.html").write_text(html)
        with mlflow.start_run(
            run_name=f"gate-v{challenger.version}",
            tags={
                f"{TAG_PREFIX}kind": "gate",
                f"{TAG_PREFIX}challenger_version": challenger.version,
                f"{TAG_PREFIX}champion_version": champion.version if champion else "none",
                f"{TAG_PREFIX}gate": status,
                **({f"{TAG_PREFIX}flow_run_id": flow_run_id} if flow_run_id else {}),
            },
        ) as run:
            mlflow.log_metrics(_flatten_metrics(report))
            mlflow.log_artifacts(tmp, artifact_path="gate")
            run_id = run.info.run_id
    registry = registry_for(project)
    registry.set_tags(
        challenger.version,
        {
            TAG_GATE: status,
            f"{TAG_PREFIX}gate_summary": report.summary[:4000],
            f"{TAG_PREFIX}gate_run_id": run_id,
            f"{TAG_PREFIX}gate_champion": champion.version if champion else "none",
        },
    )
    publish_markdown(
        f"gate-{project.model_name}-v{challenger.version}",
        f"# Gate for {project.model_name} v{challenger.version}\n\n{markdown}",
        description=report.summary[:500],
    )
    return {
        **document,
        "gate_run_id": run_id,
        "report_html": str(html_path),
    }


def _report_from_document(document: dict[str, Any]) -> GateReport:
    """A :class:`GateReport` rebuilt from the ``gate_report.json`` the gate logged."""
    fields = set(CheckResult.__dataclass_fields__)
    checks = tuple(
        CheckResult(**{k: v for k, v in check.items() if k in fields})
        for check in document.get("checks", [])
    )
    return GateReport(
        task=document.get("task", ""),
        checks=checks,
        has_champion=bool(document.get("has_champion")),
        metrics=document.get("metrics") or {},
    )


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

    decision = "approved" if approve else "rejected"
    run_id = version_tags.get(f"{TAG_PREFIX}gate_run_id")
    champion = version_tags.get(f"{TAG_PREFIX}gate_champion")
    document: dict[str, Any] = {
        "status": "passed" if approve else "failed",
        "summary": f"{decision} by {reviewer}" + (f": {comment}" if comment else ""),
        "model": project.model_name,
        "challenger_version": version,
        "champion_version": None if champion in (None, "none") else champion,
        "failed_checks": [],
        "metrics": {},
    }
    if not run_id:
        return document
    client = mlflow.MlflowClient()
    with tempfile.TemporaryDirectory() as tmp:
        try:
            local = client.download_artifacts(run_id, "gate/gate_report.json", tmp)
            logged = json.loads(Path(local).read_text())
        except (OSError, ValueError, mlflow.exceptions.MlflowException):
            logged = None
        if logged is not None:
            report = _report_from_document(logged).with_human_approval(
                decision,
                reviewer=reviewer,
                comment=comment,
                timeout_seconds=project.config.gates.human_approval.timeout_seconds,
            )
            status = gate_status(report)
            document = {**logged, **report.to_dict(), "status": status}
            holdout = document.get("holdout") or {}
            html = render_gate_html(
                project,
                report,
                f"v{version}",
                f"v{document['champion_version']}" if document.get("champion_version") else "none",
                f"{holdout.get('start')}..{holdout.get('end')} ({holdout.get('rows')} rows)",
                list(holdout.get("notes") or []),
            )
            out = Path(tmp) / "gate"
            out.mkdir()
            (out / "gate_report.json").write_text(json.dumps(document, indent=2, default=str))
            (out / "gate_report.md").write_text(report.to_markdown())
            (out / "gate_report.html").write_text(html)
            (project.reports_dir("gates") / f"gate-v{version}.html").write_text(
                html, encoding="utf-8"
            )
            client.log_artifacts(run_id, str(out), artifact_path="gate")
            for name, value in _flatten_metrics(report).items():
                client.log_metric(run_id, name, value)
    client.set_tag(run_id, f"{TAG_PREFIX}gate", document["status"])
    client.set_tag(run_id, f"{TAG_PREFIX}approval", decision)
    client.set_tag(run_id, f"{TAG_PREFIX}approved_by", reviewer)
    return {**document, "gate_run_id": run_id}
