"""The individual gate checks.

Each returns :class:`CheckResult` objects and fails closed: a metric, prediction or figure
that is missing or cannot be computed is a failed check, never an exception and never a
silent pass.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from retrainer.config.gates import (
    ComparisonConfig,
    HoldoutConfig,
    MetricBounds,
    SanityConfig,
    SegmentsConfig,
    resolve_test,
)
from retrainer.gates.inputs import ModelEvidence, Signature
from retrainer.gates.report import CheckResult
from retrainer.gates.stats import (
    PairedTestResult,
    adjust_p_values,
    decide_result,
    delong_test,
    mcnemar_test,
    mode_threshold,
    paired_bootstrap_prepared,
)
from retrainer.metrics import MetricInputError, PreparedInputs, get_metric

_MB = 1024 * 1024

# --------------------------------------------------------------------------------------------
# Signatures
# --------------------------------------------------------------------------------------------

_TYPE_ALIASES = {
    "bool": "boolean",
    "boolean": "boolean",
    "int8": "integer",
    "int16": "integer",
    "int32": "integer",
    "uint8": "integer",
    "uint16": "integer",
    "integer": "integer",
    "int": "long",
    "int64": "long",
    "uint32": "long",
    "uint64": "long",
    "long": "long",
    "float16": "float",
    "float32": "float",
    "float": "float",
    "float64": "double",
    "double": "double",
    "str": "string",
    "string": "string",
    "object": "string",
    "category": "string",
    "unicode": "string",
    "bytes": "binary",
    "binary": "binary",
    "datetime": "datetime",
    "timestamp": "datetime",
    "date": "datetime",
}

# (type the champion's callers send, type the challenger expects) pairs that convert losslessly.
_WIDENING = {("integer", "long"), ("integer", "double"), ("float", "double")}


def normalize_type(dtype: str) -> str:
    """MLflow / numpy / pandas type names mapped onto MLflow's column types.

    Args:
        dtype: A type name such as ``float64``, ``Int64``, ``double``, ``category``.

    Returns:
        ``boolean``, ``integer``, ``long``, ``float``, ``double``, ``string``, ``binary``,
        ``datetime``, or the lower-cased name when unknown.
    """
    name = str(dtype).strip().lower()
    if name.startswith("datetime64") or name.startswith("timestamp"):
        return "datetime"
    if name.startswith("string"):
        return "string"
    return _TYPE_ALIASES.get(name, name)


def signature_problems(challenger: Signature, champion: Signature) -> list[str]:
    """Why the challenger cannot take the champion's inputs (empty list: compatible).

    Callers send what the champion's signature describes, so every champion column must be
    an input of the challenger (same names) and its type must equal the challenger's or
    widen losslessly to it (integer → long/double, float → double).

    Args:
        challenger: Challenger input columns as ``(name, type)`` pairs.
        champion: Champion input columns.

    Returns:
        One message per problem.
    """
    wanted = {str(name): normalize_type(kind) for name, kind in challenger}
    sent = {str(name): normalize_type(kind) for name, kind in champion}
    problems: list[str] = []
    missing = [name for name in wanted if name not in sent]
    if missing:
        problems.append(f"challenger needs column(s) the champion's callers do not send: {missing}")
    extra = [name for name in sent if name not in wanted]
    if extra:
        problems.append(f"challenger does not take the champion's column(s): {extra}")
    for name, kind in sent.items():
        expected = wanted.get(name)
        if expected is None or expected == kind or (kind, expected) in _WIDENING:
            continue
        problems.append(f"column {name!r}: champion takes {kind}, challenger expects {expected}")
    return problems


# --------------------------------------------------------------------------------------------
# Holdout and predictions
# --------------------------------------------------------------------------------------------


def holdout_check(
    config: HoldoutConfig,
    task: str,
    labels: PreparedInputs | None,
    problem: str | None = None,
    *,
    not_fresh: str | None = None,
) -> CheckResult:
    """Enough fresh labelled rows (and, for binary tasks, of the rarer class) to judge.

    Args:
        config: ``gates.holdout``.
        task: The task.
        labels: The encoded holdout labels, or None when they are unusable.
        problem: Why the labels are unusable.
        not_fresh: Why the rows may not be fresh for the challenger (e.g. "no recorded
            holdout dates"); the check then fails with this message first.

    Returns:
        The ``holdout`` check.
    """
    threshold = f"rows ≥ {config.min_rows:,}"
    if task == "binary":
        threshold += f", rarer class ≥ {config.min_minority:,}"
    if labels is None:
        message = f"holdout labels unusable: {problem}"
        if not_fresh:
            message = f"{not_fresh}; {message}"
        return CheckResult("holdout", "holdout", "failed", message, None, threshold)
    n = labels.n
    details: dict[str, Any] = {"rows": n}
    observed: Any = n
    failures = []
    if n < config.min_rows:
        failures.append(f"{n:,} rows < {config.min_rows:,}")
    if task == "binary":
        positives = int((labels.y == 1).sum())
        minority = min(positives, n - positives)
        details.update(positives=positives, negatives=n - positives)
        observed = f"{n:,} rows, rarer class {minority:,}"
        if minority < config.min_minority:
            failures.append(f"rarer class has {minority:,} rows < {config.min_minority:,}")
    if failures or not_fresh:
        parts = [not_fresh] if not_fresh else []
        if failures:
            parts.append("holdout too small to judge: " + "; ".join(failures))
        message = "; ".join(parts)
        return CheckResult(
            "holdout", "holdout", "failed", message, observed, threshold, True, details
        )
    return CheckResult(
        "holdout",
        "holdout",
        "passed",
        f"{n:,} fresh labelled rows",
        observed,
        threshold,
        True,
        details,
    )


def prediction_problems(
    task: str, evidence: ModelEvidence, n_rows: int, n_classes: int | None
) -> list[str]:
    """What is wrong with a model's holdout predictions (empty list: sane).

    Checks: some prediction is given; one per row; no NaN/inf; probabilities within [0, 1];
    multiclass probabilities have one column per class and rows summing to 1 (± 1e-3).

    Args:
        task: The task.
        evidence: The model's evidence.
        n_rows: Holdout rows.
        n_classes: Number of classes (multiclass), if known.

    Returns:
        One message per problem.
    """
    if evidence.y_proba is None and evidence.y_pred is None:
        return ["no predictions given (y_proba and y_pred are both missing)"]
    problems: list[str] = []
    for key in ("y_proba", "y_pred"):
        raw = getattr(evidence, key)
        if raw is None:
            continue
        values = np.asarray(raw)
        if values.shape[:1] != (n_rows,):
            problems.append(f"{key} has shape {values.shape} for {n_rows} holdout rows")
            continue
        numeric = values.dtype.kind in "biuf"
        if (key == "y_proba" or task == "regression") and not numeric:
            problems.append(f"{key} is not numeric (dtype {values.dtype})")
            continue
        if numeric:
            bad = int((~np.isfinite(values.astype(float))).sum())
            if bad:
                problems.append(f"{key} has {bad:,} NaN/inf value(s) of {values.size:,}")
                continue
        elif pd.isna(values).any():
            problems.append(f"{key} has {int(pd.isna(values).sum()):,} missing value(s)")
        if key == "y_proba" and task != "regression":
            low, high = float(values.min(initial=0.0)), float(values.max(initial=0.0))
            if low < 0 or high > 1:
                problems.append(f"y_proba outside [0, 1] (min {low:.4g}, max {high:.4g})")
            if task == "multiclass":
                if values.ndim != 2 or (n_classes is not None and values.shape[1] != n_classes):
                    problems.append(
                        f"multiclass y_proba has shape {values.shape}, expected "
                        f"({n_rows}, {n_classes})"
                    )
                elif values.size and np.abs(values.sum(axis=1) - 1).max() > 1e-3:
                    problems.append("multiclass y_proba rows do not sum to 1")
            elif values.ndim == 2 and values.shape[1] != 2:
                problems.append(f"binary y_proba has shape {values.shape}")
    return problems


def predictions_check(problems: Sequence[str]) -> CheckResult:
    """``sanity.predictions`` from :func:`prediction_problems`."""
    if problems:
        return CheckResult(
            "sanity.predictions",
            "sanity",
            "failed",
            "; ".join(problems),
            f"{len(problems)} problem(s)",
            "finite, one per row, probabilities in [0, 1]",
        )
    return CheckResult(
        "sanity.predictions",
        "sanity",
        "passed",
        "predictions finite and in range",
        "ok",
        "finite, one per row, probabilities in [0, 1]",
    )


# --------------------------------------------------------------------------------------------
# Sanity: signature, latency, size
# --------------------------------------------------------------------------------------------


def sanity_checks(
    config: SanityConfig, challenger: ModelEvidence, champion: ModelEvidence | None
) -> list[CheckResult]:
    """Signature compatibility with the champion, latency and size budgets.

    Args:
        config: ``gates.sanity``.
        challenger: The challenger's evidence.
        champion: The champion's evidence, if there is a champion.

    Returns:
        ``sanity.signature``, ``sanity.latency`` and ``sanity.model_size`` checks.
    """
    return [
        _signature_check(config, challenger, champion),
        _budget_check(
            "sanity.latency",
            challenger.latency_ms_per_1k,
            config.max_latency_ms_per_1k_rows,
            "ms per 1,000 rows",
            "gates.sanity.max_latency_ms_per_1k_rows",
        ),
        _budget_check(
            "sanity.model_size",
            None if challenger.size_bytes is None else challenger.size_bytes / _MB,
            config.max_model_size_mb,
            "MB",
            "gates.sanity.max_model_size_mb",
        ),
    ]


def _signature_check(
    config: SanityConfig, challenger: ModelEvidence, champion: ModelEvidence | None
) -> CheckResult:
    name, threshold = "sanity.signature", "same columns, compatible types"
    if not config.require_signature_compatible:
        return CheckResult(name, "sanity", "skipped", "not required by config", None, threshold)
    if champion is None:
        return CheckResult(
            name, "sanity", "skipped", "no champion to compare with", None, threshold
        )
    missing = [
        who
        for who, ev in (("challenger", challenger), ("champion", champion))
        if ev.signature is None
    ]
    if missing:
        return CheckResult(
            name,
            "sanity",
            "failed",
            f"signature unknown for the {' and '.join(missing)}",
            None,
            threshold,
        )
    assert challenger.signature is not None
    assert champion.signature is not None
    problems = signature_problems(challenger.signature, champion.signature)
    observed = f"{len(challenger.signature)} input column(s)"
    if problems:
        return CheckResult(
            name,
            "sanity",
            "failed",
            "; ".join(problems),
            observed,
            threshold,
            True,
            {"problems": problems},
        )
    return CheckResult(
        name, "sanity", "passed", "compatible with the champion", observed, threshold
    )


def _budget_check(
    name: str, observed: float | None, budget: float | None, unit: str, field: str
) -> CheckResult:
    if budget is None:
        shown = "not measured" if observed is None else f"{observed:.4g} {unit}"
        return CheckResult(
            name, "sanity", "skipped", f"{shown}; no budget configured ({field})", observed, None
        )
    threshold = f"≤ {budget:.4g} {unit}"
    if observed is None or not math.isfinite(observed):
        return CheckResult(name, "sanity", "failed", "not measured", None, threshold)
    if observed > budget:
        return CheckResult(
            name,
            "sanity",
            "failed",
            f"{observed:.4g} {unit} exceeds {budget:.4g}",
            observed,
            threshold,
        )
    return CheckResult(name, "sanity", "passed", f"{observed:.4g} {unit}", observed, threshold)


# --------------------------------------------------------------------------------------------
# Absolute bounds
# --------------------------------------------------------------------------------------------


def bounds_text(bounds: MetricBounds | None) -> str:
    """``≥ 0.75``, ``≤ 0.6``, ``in [0.7, 0.9]`` or ``computable``."""
    if bounds is None:
        return "computable"
    if bounds.min is not None and bounds.max is not None:
        return f"in [{bounds.min:.4g}, {bounds.max:.4g}]"
    if bounds.min is not None:
        return f"≥ {bounds.min:.4g}"
    return f"≤ {bounds.max:.4g}"


def bound_check(
    name: str,
    kind: Any,
    metric: str,
    inputs: PreparedInputs | None,
    bounds: MetricBounds | None,
    unusable: str | None = None,
) -> CheckResult:
    """One metric held against its bounds; missing or uncomputable fails.

    Args:
        name: Check name.
        kind: Check kind (``absolute`` or ``segment``).
        metric: Metric name.
        inputs: The model's prepared outputs, or None when unusable.
        bounds: The bounds, or None for "must be computable".
        unusable: Why ``inputs`` is None.

    Returns:
        The check.
    """
    threshold = bounds_text(bounds)
    if inputs is None:
        return CheckResult(
            name, kind, "failed", f"metric {metric} missing: {unusable}", None, threshold
        )
    result = get_metric(metric).compute(inputs)
    if result.value is None:
        return CheckResult(
            name, kind, "failed", f"metric {metric} missing: {result.reason}", None, threshold
        )
    value = result.value
    if bounds is not None and bounds.min is not None and value < bounds.min:
        message = f"{metric} {value:.4g} is below the minimum {bounds.min:.4g}"
        return CheckResult(name, kind, "failed", message, value, threshold)
    if bounds is not None and bounds.max is not None and value > bounds.max:
        message = f"{metric} {value:.4g} is above the maximum {bounds.max:.4g}"
        return CheckResult(name, kind, "failed", message, value, threshold)
    message = f"{metric} {value:.4g}" + ("" if bounds is None else f" {threshold}")
    return CheckResult(name, kind, "passed", message, value, threshold)


def absolute_checks(
    bounds: Mapping[str, MetricBounds],
    primary: str,
    challenger: PreparedInputs | None,
    unusable: str | None = None,
) -> list[CheckResult]:
    """The challenger's holdout metrics against ``gates.absolute``.

    Args:
        bounds: Configured bounds per metric; when empty, ``primary`` must be computable.
        primary: The task's comparison metric.
        challenger: The challenger's prepared outputs, or None when unusable.
        unusable: Why ``challenger`` is None.

    Returns:
        One ``absolute[<metric>]`` check per metric.
    """
    wanted: Mapping[str, MetricBounds | None] = bounds or {primary: None}
    return [
        bound_check(f"absolute[{metric}]", "absolute", metric, challenger, bound, unusable)
        for metric, bound in wanted.items()
    ]


# --------------------------------------------------------------------------------------------
# Paired comparison
# --------------------------------------------------------------------------------------------


def run_paired_test(
    test: str,
    metric: str,
    challenger: PreparedInputs,
    champion: PreparedInputs,
    *,
    alpha: float,
    threshold: float,
    n_bootstrap: int,
    stratify: bool,
    seed: int | np.random.Generator | None,
) -> PairedTestResult:
    """Run a concrete paired test (``delong``, ``mcnemar`` or ``bootstrap``) on prepared rows.

    Raises:
        ValueError: When the test cannot run (metric undefined, too few rows of a class,
            missing outputs) or does not fit the metric.
    """
    if test == "delong":
        if metric != "roc_auc" or challenger.task != "binary":
            raise ValueError("DeLong compares binary roc_auc only")
        if challenger.proba is None or champion.proba is None:
            raise ValueError("DeLong needs probabilities (y_proba) of both models")
        return delong_test(
            challenger.y == 1, challenger.proba, champion.proba, alpha=alpha, threshold=threshold
        )
    if test == "mcnemar":
        if metric != "accuracy":
            raise ValueError("McNemar compares accuracy only")
        if challenger.pred is None or champion.pred is None:
            raise ValueError("McNemar needs hard predictions (or probabilities) of both models")
        return mcnemar_test(
            challenger.y, challenger.pred, champion.pred, alpha=alpha, threshold=threshold
        )
    try:
        return paired_bootstrap_prepared(
            metric,
            challenger,
            champion,
            n_resamples=n_bootstrap,
            alpha=alpha,
            threshold=threshold,
            stratify=stratify and challenger.task != "regression",
            seed=seed,
        )
    except MetricInputError as exc:
        raise ValueError(str(exc)) from None


def _comparison_observed(result: PairedTestResult) -> str:
    return (
        f"{result.challenger:.4g} vs {result.champion:.4g} (Δ {result.difference:+.4g}, "
        f"{1 - result.alpha:.0%} CI {result.ci_low:+.4g} to {result.ci_high:+.4g})"
    )


def comparison_check(
    config: ComparisonConfig,
    metric: str,
    challenger: PreparedInputs | None,
    champion: PreparedInputs | None,
    *,
    seed: int | np.random.Generator | None = 0,
    unusable: str | None = None,
) -> CheckResult:
    """Challenger vs champion on the same holdout rows with a paired test.

    The improvement (positive = challenger better) and its interval decide: superiority
    needs the lower bound above ``margin``, non-inferiority above ``-margin``. A refuted claim
    fails; an inconclusive one (interval contains the threshold) follows
    ``on_inconclusive``.

    Args:
        config: ``gates.comparison``.
        metric: The metric compared.
        challenger: Challenger's prepared outputs (None when unusable).
        champion: Champion's prepared outputs (None when unusable).
        seed: Seed for the bootstrap.
        unusable: Why an input is None.

    Returns:
        The ``comparison[<metric>]`` check.
    """
    name = f"comparison[{metric}]"
    test = resolve_test(config.test, metric)
    threshold = mode_threshold(config.mode, config.margin)
    spec = get_metric(metric)
    direction = "" if spec.greater_is_better else " (lower is better)"
    threshold_text = (
        f"improvement CI lower bound > {threshold:+.4g} ({config.mode.replace('_', '-')}, "
        f"{test}){direction}"
    )
    if challenger is None or champion is None:
        return CheckResult(
            name, "comparison", "failed", f"cannot compare: {unusable}", None, threshold_text
        )
    try:
        result = run_paired_test(
            test,
            metric,
            challenger,
            champion,
            alpha=config.alpha,
            threshold=threshold,
            n_bootstrap=config.n_bootstrap,
            stratify=config.stratify,
            seed=seed,
        )
    except ValueError as exc:
        return CheckResult(
            name, "comparison", "failed", f"cannot compare: {exc}", None, threshold_text
        )
    decision = decide_result(result, margin=config.margin, mode=config.mode)
    details = {
        **result.to_dict(),
        "verdict": decision.verdict,
        "significant": decision.significant,
        "mode": config.mode,
        "margin": config.margin,
        "on_inconclusive": config.on_inconclusive,
    }
    observed = _comparison_observed(result)
    p_text = f" (one-sided p = {result.p_better:.3g})"
    if decision.passed is True:
        return CheckResult(
            name,
            "comparison",
            "passed",
            decision.explanation + p_text,
            observed,
            threshold_text,
            True,
            details,
        )
    if decision.passed is False:
        return CheckResult(
            name,
            "comparison",
            "failed",
            decision.explanation + p_text,
            observed,
            threshold_text,
            True,
            details,
        )
    if config.on_inconclusive == "accept":
        message = f"{decision.explanation}; accepted (on_inconclusive: accept)"
        verdict = "passed"
    else:
        message = f"{decision.explanation}; the champion stays (on_inconclusive: reject)"
        verdict = "failed"
    return CheckResult(
        name, "comparison", verdict, message + p_text, observed, threshold_text, True, details
    )


def no_champion_check(metric: str) -> CheckResult:
    """The comparison check when there is no champion: skipped."""
    return CheckResult(
        f"comparison[{metric}]",
        "comparison",
        "skipped",
        "no champion: judged on absolute bounds and sanity only",
    )


# --------------------------------------------------------------------------------------------
# Segments
# --------------------------------------------------------------------------------------------

MISSING_SEGMENT = "<missing>"


@dataclass(frozen=True)
class _Tested:
    name: str
    column: str
    value: str
    rows: int
    result: PairedTestResult


def _segment_values(series: pd.Series) -> np.ndarray:
    values = series.astype(object).to_numpy(copy=True)
    values[pd.isna(series).to_numpy()] = MISSING_SEGMENT
    return np.array([str(v) for v in values], dtype=object)


def segment_checks(
    config: SegmentsConfig,
    task: str,
    metric: str,
    frame: pd.DataFrame | None,
    challenger: PreparedInputs | None,
    champion: PreparedInputs | None,
    *,
    seed: int = 0,
    unusable: str | None = None,
    champion_unusable: str | None = None,
) -> list[CheckResult]:
    """Per-segment non-regression of the challenger against the champion.

    For every configured column and value (missing values form their own segment):

    * fewer than ``min_support`` rows, or (binary) fewer than ``min_minority`` rows of the
      rarer class, or a metric / test that cannot be computed on the segment →
      ``insufficient_data`` (fails the gate only with ``insufficient_data: fail``);
    * otherwise a paired test of the segment (DeLong / McNemar / stratified bootstrap, as for
      the comparison) gives the improvement, its interval and ``p_worse``, the one-sided
      p-value of "the challenger is worse on this segment than the tolerance allows", i.e.
      of the null hypothesis ``improvement ≥ -max_regression``. The p-values of all tested
      segments are adjusted together (Holm by default) because many segments give many
      chances of a false alarm;
    * the segment FAILS when it is significantly worse than the allowed regression: the
      regression (−improvement) exceeds ``max_regression`` AND the adjusted ``p_worse`` is
      ≤ ``alpha / 2`` (a two-sided ``1 - alpha`` interval entirely below
      ``-max_regression``, after adjustment). A regression beyond the tolerance that is
      significant on its own but not after the adjustment is a non-blocking ``warning``;
      anything else passes (the message still states a regression the data cannot tell
      from the tolerance).

    This fails a clear segment regression even when the overall metric improves, while a
    regression that noise explains does not block (it is reported). ``floors`` add absolute
    bounds per segment, with or without a champion.

    Args:
        config: ``gates.segments``.
        task: The task.
        metric: The segment metric.
        frame: Segment columns of the holdout rows, or None.
        challenger: Challenger's prepared outputs (None when unusable).
        champion: Champion's prepared outputs; None without a champion (or when unusable).
        seed: Seed for the bootstrap.
        unusable: Why the challenger's outputs are unusable.
        champion_unusable: Why a champion's outputs are unusable (it exists but cannot be
            compared); segment comparisons then fail.

    Returns:
        One check per segment (plus per-segment floors), or a single skipped ``segments``
        check when there is nothing to do.
    """
    columns = (
        config.columns
        if config.columns is not None
        else (list(frame.columns) if frame is not None else [])
    )
    if not columns:
        return [CheckResult("segments", "segment", "skipped", "no segment columns")]
    if frame is None:
        return [
            CheckResult(
                "segments",
                "segment",
                "failed",
                f"segment columns {columns} configured but the holdout has no segment data",
            )
        ]
    if champion_unusable is not None:
        return [
            CheckResult(
                "segments", "segment", "failed", f"cannot compare segments: {champion_unusable}"
            )
        ]
    if champion is None and not config.floors:
        return [
            CheckResult("segments", "segment", "skipped", "no champion: segment comparison skipped")
        ]
    if challenger is None:
        return [CheckResult("segments", "segment", "failed", f"cannot judge segments: {unusable}")]
    checks: list[CheckResult | _Tested] = []
    thin_required = config.insufficient_data == "fail"
    test = resolve_test(config.test, metric)
    support_text = f"rows ≥ {config.min_support:,}"
    if task == "binary":
        support_text += f", rarer class ≥ {config.min_minority:,}"
    for col_index, column in enumerate(columns):
        if column not in frame.columns:
            checks.append(
                CheckResult(
                    f"segment[{column}]",
                    "segment",
                    "failed",
                    f"segment column {column!r} missing from the holdout "
                    f"(has {list(frame.columns)})",
                )
            )
            continue
        values = _segment_values(frame[column])
        counts = pd.Series(values).value_counts(sort=True)
        if len(counts) > config.max_values_per_column:
            checks.append(
                CheckResult(
                    f"segment[{column}]",
                    "segment",
                    "failed",
                    f"{len(counts)} distinct values > max_values_per_column "
                    f"{config.max_values_per_column}: use a coarser column",
                    len(counts),
                    f"≤ {config.max_values_per_column} values",
                )
            )
            continue
        for value_index, (value, _) in enumerate(counts.items()):
            name = f"segment[{column}={value}]"
            mask = values == value
            seg_a = challenger.subset(mask)
            rows = seg_a.n
            observed = f"n={rows:,}"
            reasons = []
            if rows < config.min_support:
                reasons.append(f"{rows:,} rows < min_support {config.min_support:,}")
            if task == "binary":
                positives = int((seg_a.y == 1).sum())
                minority = min(positives, rows - positives)
                observed += f", rarer class {minority:,}"
                if minority < config.min_minority:
                    reasons.append(
                        f"rarer class has {minority:,} rows < min_minority {config.min_minority:,}"
                    )
            if reasons:
                checks.append(
                    CheckResult(
                        name,
                        "segment",
                        "insufficient_data",
                        "; ".join(reasons),
                        observed,
                        support_text,
                        thin_required,
                        {"column": column, "value": value, "rows": rows},
                    )
                )
                continue
            for floor_metric, bounds in config.floors.items():
                checks.append(
                    bound_check(f"{name}.{floor_metric}", "segment", floor_metric, seg_a, bounds)
                )
            if champion is None:
                continue
            rng = np.random.default_rng([seed, 1, col_index, value_index])
            try:
                result = run_paired_test(
                    test,
                    metric,
                    seg_a,
                    champion.subset(mask),
                    alpha=config.alpha,
                    threshold=-config.max_regression,
                    n_bootstrap=config.n_bootstrap,
                    stratify=True,
                    seed=rng,
                )
            except ValueError as exc:
                checks.append(
                    CheckResult(
                        name,
                        "segment",
                        "insufficient_data",
                        f"cannot compare: {exc}",
                        observed,
                        support_text,
                        thin_required,
                        {"column": column, "value": value, "rows": rows},
                    )
                )
                continue
            checks.append(_Tested(name, column, value, rows, result))
    # Judge the tested segments together: their p-values are adjusted as one family.
    tested = [c for c in checks if isinstance(c, _Tested)]
    adjusted = iter(adjust_p_values([t.result.p_worse for t in tested], config.adjust))
    return [
        _judge_segment(config, metric, c, float(next(adjusted)), len(tested))
        if isinstance(c, _Tested)
        else c
        for c in checks
    ]


def _judge_segment(
    config: SegmentsConfig, metric: str, tested: _Tested, p_adjusted: float, family: int
) -> CheckResult:
    result = tested.result
    improvement = result.improvement
    low, high = result.improvement_ci
    regression = -improvement
    significant = p_adjusted <= config.alpha / 2
    threshold = (
        f"not significantly worse than the tolerated regression {config.max_regression:.4g} "
        f"(α={config.alpha:g}, {config.adjust} over {family})"
    )
    interval = f"{1 - result.alpha:.0%} CI {low:+.4g} to {high:+.4g}"
    stats = f"adjusted p = {p_adjusted:.3g}, n = {tested.rows:,}"
    details = {
        **result.to_dict(),
        "column": tested.column,
        "value": tested.value,
        "rows": tested.rows,
        "max_regression": config.max_regression,
        "p_worse_adjusted": p_adjusted,
        "significant_regression": significant,
    }
    observed = _comparison_observed(result)
    if regression > config.max_regression and significant:
        verdict = "failed"
        message = (
            f"challenger worse on {metric} by {regression:.4g} (improvement {interval}; "
            f"{stats}) > tolerance {config.max_regression:.4g}"
        )
    elif regression > config.max_regression and result.p_worse <= config.alpha / 2:
        verdict = "warning"
        message = (
            f"challenger worse on {metric} by {regression:.4g}: significantly beyond the "
            f"tolerance {config.max_regression:.4g} on its own (p = {result.p_worse:.3g}) but "
            f"not after the {config.adjust} adjustment (improvement {interval}; {stats})"
        )
    elif regression > config.max_regression:
        verdict = "passed"
        message = (
            f"challenger worse on {metric} by {regression:.4g}, not significantly beyond the "
            f"tolerance {config.max_regression:.4g} (improvement {interval}; {stats})"
        )
    else:
        verdict = "passed"
        message = f"improvement {improvement:+.4g} ({interval}; {stats})"
    return CheckResult(tested.name, "segment", verdict, message, observed, threshold, True, details)
