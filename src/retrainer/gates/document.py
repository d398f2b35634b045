"""The gate document: the JSON the gate logs (``gate/gate_report.json``), and what is read off it.

One document per gate run: the report (:meth:`GateReport.to_dict`), the status, the versions
and the holdout. ``retrainer approve`` rebuilds the report from it to record a reviewer's
decision; the ``retrainer.gate.*`` event payload and the MLflow metrics come from it too.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from retrainer.gates.report import CheckResult, GateReport, gate_status
from retrainer.registry.lineage import mlflow_metric_name

_CHECK_FIGURES = ("difference", "p_better", "p_worse", "ci_low", "ci_high")


def gate_document(
    report: GateReport,
    *,
    model: str,
    challenger_version: str,
    champion_version: str | None,
    holdout: Mapping[str, Any],
) -> dict[str, Any]:
    """The document the gate logs and returns.

    Args:
        report: The gate report.
        model: The registered model's name.
        challenger_version: The judged version.
        champion_version: The champion it was compared with, or None.
        holdout: The holdout (``start``, ``end``, ``rows``, ``as_of``, ``notes``).

    Returns:
        The report's dictionary plus ``status``, ``model``, both versions and ``holdout``.
    """
    return {
        **report.to_dict(),
        "status": gate_status(report),
        "model": model,
        "challenger_version": challenger_version,
        "champion_version": champion_version,
        "holdout": dict(holdout),
    }


def report_from_document(document: Mapping[str, Any]) -> GateReport:
    """A :class:`GateReport` rebuilt from a gate document (unknown check keys are ignored)."""
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


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def flatten_metrics(report: GateReport) -> dict[str, float]:
    """The gate's MLflow metrics: each model's holdout metrics, each check's figures.

    Keys: ``<role>_<metric>`` (``challenger_roc_auc``), ``<check>.<figure>``
    (``comparison_roc_auc_.ci_low``), ``checks_failed`` and ``passed`` (1 or 0); None, NaN
    and infinite values are left out.
    """
    out: dict[str, float] = {}
    for role, values in report.metrics.items():
        for name, value in values.items():
            if _finite(value):
                out[mlflow_metric_name(f"{role}_{name}")] = float(value)
    for check in report.checks:
        for key in _CHECK_FIGURES:
            value = check.details.get(key)
            if _finite(value):
                out[mlflow_metric_name(f"{check.name}.{key}")] = float(value)
    out["checks_failed"] = float(len(report.failed_checks))
    out["passed"] = 1.0 if report.passed else 0.0
    return out


def gate_event_payload(document: Mapping[str, Any]) -> dict[str, Any]:
    """The payload of ``retrainer.gate.passed`` / ``retrainer.gate.failed``.

    Args:
        document: A gate document (:func:`gate_document`).

    Returns:
        ``version``, ``champion_version``, ``summary``, ``failed_checks`` (each as its full
        check), ``metrics`` and ``holdout``.
    """
    checks = {c.get("name"): c for c in document.get("checks", [])}
    return {
        "version": document.get("challenger_version"),
        "champion_version": document.get("champion_version"),
        "summary": document.get("summary"),
        "failed_checks": [checks.get(n, {"name": n}) for n in document.get("failed_checks", [])],
        "metrics": document.get("metrics"),
        "holdout": document.get("holdout"),
    }


def promotion_evidence(document: Mapping[str, Any]) -> dict[str, Any]:
    """What a promotion after this gate keeps in the ledger as its evidence.

    Args:
        document: A gate document, with ``gate_run_id`` / ``report_html`` when recorded.

    Returns:
        The gate's status, summary, metrics, failed checks, the champion it was judged
        against, and links to its MLflow run and HTML report.
    """
    evidence = {
        "gate": document.get("status"),
        "gate_summary": document.get("summary"),
        "gate_champion": document.get("champion_version"),
        "metrics": document.get("metrics"),
        "failed_checks": list(document.get("failed_checks", [])),
        "gate_run_id": document.get("gate_run_id"),
        "report_html": document.get("report_html"),
    }
    return {k: v for k, v in evidence.items() if v is not None}
