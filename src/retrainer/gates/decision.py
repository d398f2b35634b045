"""The gate decision: every check on the fresh holdout, one report out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from retrainer.config.gates import GatesSection
from retrainer.gates.checks import (
    absolute_checks,
    comparison_check,
    holdout_check,
    no_champion_check,
    prediction_problems,
    predictions_check,
    sanity_checks,
    segment_checks,
)
from retrainer.gates.inputs import GateInputs, ModelEvidence
from retrainer.gates.report import CheckResult, GateReport, human_approval_check
from retrainer.metrics import (
    MetricInputError,
    PreparedInputs,
    default_metrics,
    get_metric,
    prepare_inputs,
)


class GateConfigError(ValueError):
    """A ``gates:`` section that does not fit the task; ``problems`` names each field."""

    def __init__(self, problems: Sequence[tuple[str, str]]):
        self.problems = list(problems)
        super().__init__("; ".join(f"{field}: {message}" for field, message in self.problems))


class GateSetupError(Exception):
    """The gate cannot run (no challenger, no holdout rows ...); the message says why."""


def _declared_classes(
    task: str, holdout: GateInputs, models: Sequence[ModelEvidence | None]
) -> tuple[Any, ...] | None:
    if task == "regression":
        return None
    classes = list(holdout.classes) if holdout.classes is not None else []
    if task == "binary" and classes:
        return tuple(classes)
    for model in models:
        if model is not None and model.classes is not None:
            classes += [c for c in model.classes if c not in classes]
    return tuple(classes) if classes else None


def _aligned_proba(
    task: str, evidence: ModelEvidence, classes: tuple[Any, ...] | None
) -> np.ndarray | None:
    """The model's probabilities in the column order of ``classes``."""
    if evidence.y_proba is None:
        return None
    proba = np.asarray(evidence.y_proba)
    own = None if evidence.classes is None else list(evidence.classes)
    if task == "regression" or classes is None or own is None or own == list(classes):
        return proba
    if task == "binary":
        if own[-1] == classes[-1]:
            return proba
        return 1.0 - proba if proba.ndim == 1 else proba[:, ::-1]
    if proba.ndim != 2 or proba.shape[1] != len(own):
        raise MetricInputError(
            f"y_proba has shape {proba.shape} but the model lists {len(own)} classes"
        )
    aligned = np.zeros((proba.shape[0], len(classes)), dtype=float)
    index = {c: i for i, c in enumerate(classes)}
    for j, label in enumerate(own):
        aligned[:, index[label]] = proba[:, j]
    return aligned


def _prepare_model(
    task: str, holdout: GateInputs, evidence: ModelEvidence, classes: tuple[Any, ...] | None
) -> PreparedInputs:
    return prepare_inputs(
        task,
        holdout.y_true,
        _aligned_proba(task, evidence, classes),
        evidence.y_pred,
        classes=classes,
    )


def _resolve_classes(
    task: str, holdout: GateInputs, challenger: ModelEvidence, champion: ModelEvidence | None
) -> tuple[Any, ...] | None:
    declared = _declared_classes(task, holdout, [challenger, champion])
    if declared is not None or task == "regression":
        return declared
    for model in (challenger, champion):
        if model is None:
            continue
        try:
            return prepare_inputs(task, holdout.y_true, model.y_proba, model.y_pred).classes
        except (MetricInputError, ValueError, TypeError):
            continue
    return None


def _usable(
    who: str,
    task: str,
    holdout: GateInputs,
    evidence: ModelEvidence,
    classes: tuple[Any, ...] | None,
) -> tuple[PreparedInputs | None, list[str], str | None]:
    n_classes = len(classes) if task == "multiclass" and classes is not None else None
    if evidence.classes is not None and task == "multiclass":
        n_classes = len(evidence.classes)
    problems = prediction_problems(task, evidence, holdout.n, n_classes)
    if problems:
        return None, problems, f"{who} predictions unusable ({'; '.join(problems)})"
    try:
        return _prepare_model(task, holdout, evidence, classes), [], None
    except (MetricInputError, ValueError, TypeError, KeyError) as exc:
        message = str(exc)
        return None, [message], f"{who} predictions unusable ({message})"


def _metric_table(task: str, inputs: PreparedInputs | None) -> dict[str, float | None]:
    names = default_metrics(task)
    if inputs is None:
        return dict.fromkeys(names)
    return {name: get_metric(name).compute(inputs).value for name in names}


def evaluate_gates(
    config: GatesSection,
    task: str,
    holdout: GateInputs,
    challenger: ModelEvidence,
    champion: ModelEvidence | None = None,
    *,
    rng_seed: int = 0,
    holdout_not_fresh: str | None = None,
    metric_tables: bool = True,
) -> GateReport:
    """Judge a challenger on the fresh holdout; fail closed.

    Checks, in order: ``holdout`` (enough rows), ``sanity.predictions`` (finite, in range),
    ``sanity.signature`` / ``sanity.latency`` / ``sanity.model_size``, ``absolute[...]``
    (bounds from ``gates.absolute``; by default the primary metric must be computable),
    ``comparison[...]`` (paired test against the champion; skipped without one),
    ``segment[...]`` (per-segment non-regression and floors) and, when configured, a pending
    ``human_approval`` that the flow resolves with :meth:`GateReport.with_human_approval`.
    The gate passes only when every required check passes.

    Args:
        config: The ``gates:`` section.
        task: binary, multiclass or regression.
        holdout: Holdout labels, segment columns and class order.
        challenger: The challenger's predictions and measurements on the holdout rows.
        champion: The champion's, on the same rows; None when there is no champion.
        rng_seed: Seed of every bootstrap, for reproducible reports.
        holdout_not_fresh: Why the holdout rows may not be fresh for the challenger (e.g.
            "no recorded holdout dates: ..."). The ``holdout`` check then fails: a gate on
            rows the challenger may have been trained on proves nothing (fail closed).
        metric_tables: Also measure every default metric of both models for the report
            (``GateReport.metrics``); the checks and the verdict do not read them.

    Returns:
        The report.

    Raises:
        GateConfigError: When the section does not fit the task (e.g. roc_auc bounds for a
            regression), naming each field.
    """
    problems = config.problems_for_task(task)
    if problems:
        raise GateConfigError(problems)
    metric = config.comparison_metric(task)
    segment_metric = config.segment_metric(task)
    classes = _resolve_classes(task, holdout, challenger, champion)

    checks: list[CheckResult] = []
    try:
        labels: PreparedInputs | None = prepare_inputs(task, holdout.y_true, classes=classes)
        label_problem = None
    except (MetricInputError, ValueError, TypeError) as exc:
        labels, label_problem = None, str(exc)
    checks.append(
        holdout_check(config.holdout, task, labels, label_problem, not_fresh=holdout_not_fresh)
    )

    if labels is None:
        chal, chal_problems = None, [f"holdout labels unusable: {label_problem}"]
        chal_unusable = chal_problems[0]
    else:
        chal, chal_problems, chal_unusable = _usable(
            "challenger", task, holdout, challenger, classes
        )
    checks.append(predictions_check(chal_problems))
    checks.extend(sanity_checks(config.sanity, challenger, champion))
    checks.extend(absolute_checks(config.absolute, metric, chal, chal_unusable))

    champ: PreparedInputs | None = None
    champ_unusable: str | None = None
    if champion is None:
        checks.append(no_champion_check(metric))
    else:
        if labels is not None:
            champ, _, champ_unusable = _usable("champion", task, holdout, champion, classes)
        else:
            champ_unusable = f"holdout labels unusable: {label_problem}"
        checks.append(
            comparison_check(
                config.comparison,
                metric,
                chal,
                champ,
                seed=np.random.default_rng([rng_seed, 0]),
                unusable=chal_unusable or champ_unusable,
            )
        )
    checks.extend(
        segment_checks(
            config.segments,
            task,
            segment_metric,
            holdout.segments,
            chal,
            champ,
            seed=rng_seed,
            unusable=chal_unusable,
            champion_unusable=champ_unusable,
        )
    )
    if config.human_approval.required:
        checks.append(
            human_approval_check("pending", timeout_seconds=config.human_approval.timeout_seconds)
        )
    metrics: dict[str, dict[str, float | None]] = {}
    if metric_tables:
        metrics["challenger"] = _metric_table(task, chal)
        if champion is not None:
            metrics["champion"] = _metric_table(task, champ)
    return GateReport(
        task=task, checks=tuple(checks), has_champion=champion is not None, metrics=metrics
    )
