"""The ``drift:`` section of ``retrainer.yaml``: which statistics decide drift, and how.

Every field has a default, so an empty ``drift:`` section (or none at all) is valid. The
statistics themselves are defined in :mod:`retrainer.drift.stats`.

Defaults follow the large-sample policy of the drift notes: decisions are taken on effect
sizes (distances) with thresholds, never on raw p-values, because at 10^6 rows every test
rejects. p-value tests (KS, chi-square) can be made deciding per column kind or per column;
they are corrected for multiple testing. By default a distance only counts as drift when the
column's test also rejects (``tests.guard_distances``), which removes the noise-level
exceedances distances show on small samples (a 50-level column at n=2,000 has a null JS
distance of about 0.094 in base 2).

Missing data: distances and KS only see the present (finite) values, so a numeric column's
rise in missing values is measured on its own (``missing_share``, guarded by its own test),
and a column with no values in the current window gets status ``no_data`` (counted as set
by ``no_data``).
"""

from __future__ import annotations

import math
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from retrainer.config.base import StrictModel

NumericMetric = Literal["psi", "ks", "wasserstein", "wasserstein_norm", "js", "kl", "missing_share"]
CategoricalMetric = Literal["psi", "chi2", "js", "kl"]
EmbeddingMetric = Literal["mmd", "classifier_auc"]
MetricName = Literal[
    "psi",
    "ks",
    "wasserstein",
    "wasserstein_norm",
    "js",
    "kl",
    "missing_share",
    "chi2",
    "mmd",
    "classifier_auc",
]
NoDataPolicy = Literal["drift", "warning", "ignore"]

#: Metrics that are hypothesis tests: they decide on the (corrected) p-value against
#: ``tests.alpha`` and need no threshold.
TEST_METRICS: frozenset[str] = frozenset({"ks", "chi2"})
#: Metrics of how many values are missing rather than how the present ones are distributed:
#: each is guarded by its own one-sided test (corrected across the columns that have it, not
#: by the column's test) and flags a column on its own, whatever ``column_rule``.
MISSING_METRICS: frozenset[str] = frozenset({"missing_share"})
#: Which metrics are valid for which column kind.
METRICS_BY_KIND: dict[str, frozenset[str]] = {
    "numeric": frozenset(
        {"psi", "ks", "wasserstein", "wasserstein_norm", "js", "kl", "missing_share"}
    ),
    "categorical": frozenset({"psi", "chi2", "js", "kl"}),
    "embedding": frozenset({"mmd", "classifier_auc"}),
}

_JS_MAX_BASE_E = math.sqrt(math.log(2.0))  # 0.8326: largest JS distance in natural log

PositiveFloat = Annotated[float, Field(gt=0)]


# ---------------------------------------------------------------------------------------------
# Thresholds
# ---------------------------------------------------------------------------------------------


class _Threshold(StrictModel):
    """Drift and warning thresholds of one distance; a value >= the threshold crosses it."""

    @model_validator(mode="after")
    def _warning_not_above_drift(self) -> _Threshold:
        # Only when both are written here: a partial override ({drift: 0.3}) is merged with
        # the section's values first and checked by DriftSection.
        if {"drift", "warning"} <= self.model_fields_set:
            check_threshold_order(self)
        return self


def check_threshold_order(threshold: _Threshold) -> None:
    """Raise when a threshold's warning level exceeds its drift level.

    Args:
        threshold: Any metric threshold model.

    Raises:
        ValueError: ``warning > drift``.
    """
    drift, warning = getattr(threshold, "drift", None), getattr(threshold, "warning", None)
    if drift is not None and warning is not None and warning > drift:
        raise ValueError(f"warning ({warning}) must not exceed drift ({drift})")


class PsiThreshold(_Threshold):
    """PSI thresholds (the industry rule of thumb: 0.1 moderate, 0.25 significant shift)."""

    drift: PositiveFloat | None = Field(default=0.25, description="PSI at or above: drift.")
    warning: PositiveFloat | None = Field(default=0.1, description="PSI at or above: warning.")


class WassersteinNormThreshold(_Threshold):
    """Thresholds of the Wasserstein-1 distance divided by the reference standard deviation."""

    drift: PositiveFloat | None = Field(
        default=0.1, description="Normed W1 at or above: drift (Evidently's default 0.1)."
    )
    warning: PositiveFloat | None = Field(default=None, description="Optional warning level.")


class WassersteinThreshold(_Threshold):
    """Thresholds of the raw Wasserstein-1 distance, in the column's own units."""

    drift: PositiveFloat | None = Field(
        default=None,
        description="Raw W1 at or above: drift. No default (it has units): set it per column "
        "before making `wasserstein` a deciding metric.",
    )
    warning: PositiveFloat | None = Field(default=None, description="Optional warning level.")


class JsThreshold(_Threshold):
    """Thresholds of the Jensen-Shannon distance (square root of the divergence)."""

    drift: float | None = Field(
        default=0.1,
        gt=0,
        le=1,
        description="JS distance at or above: drift. At most 1 in base 2, 0.8326 in base e.",
    )
    warning: float | None = Field(default=None, gt=0, le=1, description="Optional warning.")


class KlThreshold(_Threshold):
    """Thresholds of the Kullback-Leibler divergence KL(reference || current), in nats."""

    drift: PositiveFloat | None = Field(default=0.1, description="KL at or above: drift.")
    warning: PositiveFloat | None = Field(default=None, description="Optional warning level.")


class MmdThreshold(_Threshold):
    """Thresholds of the unbiased MMD² estimate (Gaussian kernel, median-heuristic bandwidth)."""

    drift: PositiveFloat | None = Field(
        default=0.0005,
        description="MMD² at or above: drift. Measured at 2,000 rows per side, dimension 64: "
        "null noise about ±5e-5 (±3e-4 at 500 rows); 50% of rows shifted by 0.3 on 8 "
        "dimensions gives 6.5e-4 to 8e-4. The scale depends on dimension and bandwidth: "
        "calibrate per embedding.",
    )
    warning: PositiveFloat | None = Field(default=None, description="Optional warning level.")


class ClassifierAucThreshold(_Threshold):
    """Thresholds of the cross-validated ROC AUC of a reference-vs-current classifier."""

    drift: float | None = Field(
        default=0.55,
        gt=0.5,
        le=1,
        description="AUC at or above: drift (Evidently's default 0.55; 0.5 = indistinguishable).",
    )
    warning: float | None = Field(default=None, gt=0.5, le=1, description="Optional warning.")


class MissingShareThreshold(_Threshold):
    """Thresholds of the rise of a numeric column's missing share (current minus reference).

    In share points: 0.05 is five percentage points more missing (null, NaN or inf) values
    than in the reference. A fall is negative and never crosses a threshold.
    """

    drift: float | None = Field(
        default=0.05,
        gt=0,
        le=1,
        description="Rise at or above: drift. 0.05 (e.g. 5% -> 10% missing): a feed that fills "
        "a column steadily varies far less from day to day (a 5% rate at 1,000 rows varies by "
        "about 0.7 points), while one of several sources dropping the field moves it by more, "
        "and a twentieth of the rows then reach the model without that value. A convention "
        "like PSI's 0.25: calibrate per column.",
    )
    warning: float | None = Field(
        default=0.02,
        gt=0,
        le=1,
        description="Rise at or above: warning (two points: a slow creep, seen before it "
        "reaches the drift level).",
    )


_THRESHOLD_TYPES: dict[str, type[_Threshold]] = {
    "psi": PsiThreshold,
    "wasserstein_norm": WassersteinNormThreshold,
    "wasserstein": WassersteinThreshold,
    "js": JsThreshold,
    "kl": KlThreshold,
    "mmd": MmdThreshold,
    "classifier_auc": ClassifierAucThreshold,
    "missing_share": MissingShareThreshold,
}


class ThresholdsSection(StrictModel):
    """Thresholds per distance metric (tests use ``tests.alpha`` instead)."""

    psi: PsiThreshold = Field(default_factory=PsiThreshold, description="PSI.")
    wasserstein_norm: WassersteinNormThreshold = Field(
        default_factory=WassersteinNormThreshold, description="W1 / reference std."
    )
    wasserstein: WassersteinThreshold = Field(
        default_factory=WassersteinThreshold, description="Raw W1 (column units)."
    )
    js: JsThreshold = Field(default_factory=JsThreshold, description="Jensen-Shannon distance.")
    kl: KlThreshold = Field(default_factory=KlThreshold, description="KL divergence.")
    mmd: MmdThreshold = Field(default_factory=MmdThreshold, description="Embedding MMD².")
    classifier_auc: ClassifierAucThreshold = Field(
        default_factory=ClassifierAucThreshold, description="Embedding domain-classifier AUC."
    )
    missing_share: MissingShareThreshold = Field(
        default_factory=MissingShareThreshold,
        description="Rise of the missing share of numeric columns.",
    )


class ThresholdOverrides(StrictModel):
    """Per-column threshold overrides; keys left out keep the section-level value."""

    psi: PsiThreshold | None = Field(default=None, description="PSI override.")
    wasserstein_norm: WassersteinNormThreshold | None = Field(
        default=None, description="Normed W1 override."
    )
    wasserstein: WassersteinThreshold | None = Field(default=None, description="Raw W1 override.")
    js: JsThreshold | None = Field(default=None, description="JS override.")
    kl: KlThreshold | None = Field(default=None, description="KL override.")
    mmd: MmdThreshold | None = Field(default=None, description="MMD² override.")
    classifier_auc: ClassifierAucThreshold | None = Field(
        default=None, description="Classifier AUC override."
    )
    missing_share: MissingShareThreshold | None = Field(
        default=None, description="Missing-share rise override."
    )


# ---------------------------------------------------------------------------------------------
# Other subsections
# ---------------------------------------------------------------------------------------------


class DecisionMetrics(StrictModel):
    """Which metrics decide drift, per column kind.

    All metrics are always computed; the others are reported as informational
    (``drifted: null``).
    """

    numeric: list[NumericMetric] = Field(
        default_factory=lambda: ["psi", "wasserstein_norm", "missing_share"],
        description="Deciding metrics for numeric (and score) columns. `missing_share` (the "
        "rise of the share of missing values, which the other metrics do not see) flags a "
        "column on its own, whatever `column_rule`; leave it out of the list and it is only "
        "reported.",
    )
    categorical: list[CategoricalMetric] = Field(
        default_factory=lambda: ["psi", "js"],
        description="Deciding metrics for categorical (and predicted-label) columns.",
    )
    embedding: list[EmbeddingMetric] = Field(
        default_factory=lambda: ["classifier_auc", "mmd"],
        description="Deciding metrics for embedding (vector) columns.",
    )


class TestsSection(StrictModel):
    """p-value tests: significance level, multiple-testing correction, sample-size cap."""

    __test__ = False  # not a pytest test class despite the name

    alpha: float = Field(
        default=0.05, gt=0, lt=1, description="Significance level for corrected p-values."
    )
    correction: Literal["bonferroni", "fdr_bh", "none"] = Field(
        default="bonferroni",
        description="Multiple-testing correction across the columns of one check: one test per "
        "column (KS numeric, chi-square categorical, classifier Mann-Whitney for embeddings). "
        "The missing-share tests of the numeric columns are a second family, corrected the "
        "same way on their own.",
    )
    sample_size: int | None = Field(
        default=None,
        ge=10,
        description="Compute p-values as if each side had at most this many rows: the statistic "
        "is measured on all rows, the sample size in its null distribution is capped. This is "
        "the expected outcome of subsampling without its randomness, and keeps tests usable at "
        "10^6 rows. Null: use the real sizes.",
    )
    guard_distances: bool = Field(
        default=True,
        description="A distance counts as drift (or warning) only when the column's test also "
        "rejects at `alpha` after correction. At large n every real effect passes, so the "
        "distance decides; on small samples this removes noise-level exceedances. "
        "`missing_share` is guarded by its own test instead: a one-sided Fisher exact test "
        "of the current against the reference missing count.",
    )


class DatasetRule(StrictModel):
    """How column verdicts combine into the dataset verdict."""

    rule: Literal["any", "share"] = Field(
        default="any",
        description="`any`: drift when any column drifted; `share`: when the share of drifted "
        "columns is at least `drift_share`.",
    )
    drift_share: float = Field(
        default=0.5, gt=0, le=1, description="Share of drifted columns for rule `share`."
    )


class BinningSection(StrictModel):
    """How distributions are summarised. Fixed when the baseline profile is built."""

    psi_bins: int = Field(
        default=10,
        ge=2,
        le=1000,
        description="Quantile bins fixed on the reference for numeric PSI, JS and KL.",
    )
    epsilon: float = Field(
        default=1e-4,
        gt=0,
        lt=0.01,
        description="Proportion given to a bin empty on one side, for PSI and KL.",
    )
    js_base: Literal[2, "e"] = Field(
        default=2,
        description="Log base of the JS distance: 2 (range 0..1, NannyML) or e (0..0.8326, "
        "Evidently compatible).",
    )
    sketch_size: int = Field(
        default=2048,
        ge=64,
        le=100_000,
        description="Quantile knots in the numeric sketch used for KS and Wasserstein when the "
        "reference data is not at hand.",
    )
    histogram_bins: int = Field(
        default=30, ge=2, le=500, description="Equal-width bins for plotting histograms."
    )
    precision: Literal["exact", "sketch"] = Field(
        default="exact",
        description="`exact`: KS and Wasserstein from the reference data when the detector was "
        "fitted on it (a saved profile or batches always use the sketch); `sketch`: always from "
        "the sketch.",
    )
    max_categories: int = Field(
        default=10_000,
        ge=2,
        description="A categorical column with more distinct reference values is rejected "
        "(identifiers do not belong in drift checks).",
    )


class EmbeddingSection(StrictModel):
    """Embedding (vector column) drift: random-feature MMD² and a domain classifier."""

    sample_size: int = Field(
        default=2000,
        ge=50,
        le=100_000,
        description="Rows per side (uniform sample; the reference sample is stored in the "
        "profile).",
    )
    rff_features: int = Field(
        default=1024, ge=16, le=16384, description="Random Fourier features (even number)."
    )
    permutations: int = Field(default=200, ge=10, le=10_000, description="MMD permutations.")
    cv_folds: int = Field(default=5, ge=2, le=20, description="Classifier cross-validation folds.")
    seed: int = Field(default=0, ge=0, description="Seed for sampling, features, permutations.")

    @model_validator(mode="after")
    def _even_features(self) -> EmbeddingSection:
        if self.rff_features % 2:
            raise ValueError(f"rff_features must be even (cos/sin pairs), got {self.rff_features}")
        return self


class TrainingBaseline(StrictModel):
    """Compare against the data the model was trained on (profile saved with the model)."""

    kind: Literal["training"] = Field(default="training", description="Baseline kind.")


class WindowBaseline(StrictModel):
    """Compare against a fixed production window (resolved by the drift flow)."""

    kind: Literal["window"] = Field(default="window", description="Baseline kind.")
    start: date = Field(description="First day of the window (inclusive, YYYY-MM-DD).")
    end: date = Field(description="Last day of the window (inclusive, YYYY-MM-DD).")

    @model_validator(mode="after")
    def _ordered(self) -> WindowBaseline:
        if self.end < self.start:
            raise ValueError(f"end ({self.end}) is before start ({self.start})")
        return self


Baseline = Annotated[TrainingBaseline | WindowBaseline, Field(discriminator="kind")]


class ColumnOverride(StrictModel):
    """Per-column settings that replace the kind-level ones."""

    ignore: bool = Field(default=False, description="Leave this column out of drift checks.")
    metrics: list[MetricName] | None = Field(
        default=None, description="Deciding metrics for this column (replaces the kind's list)."
    )
    thresholds: ThresholdOverrides = Field(
        default_factory=ThresholdOverrides,
        description="Thresholds for this column; keys left out keep the section's values.",
    )


# ---------------------------------------------------------------------------------------------
# Segments
# ---------------------------------------------------------------------------------------------


class SegmentDriftSection(StrictModel):
    """Drift within segments: each combination of the segment columns' values on its own."""

    columns: list[str] = Field(
        default_factory=list,
        description="Columns whose value combinations are the segments (usually some of "
        "`columns.segments`); each segment's window is compared with the same segment of the "
        "baseline data, feature by feature (predictions are checked overall only). Empty "
        "(default): no segment check.",
    )
    min_rows: int = Field(
        default=200,
        ge=10,
        description="A segment with fewer rows in the baseline or in the window is reported "
        "as `too_few_rows` and not checked.",
    )
    max_segments: int = Field(
        default=5_000,
        ge=1,
        description="More value combinations than this fail the check with an error naming "
        "the columns (choose coarser columns).",
    )
    shard_size: int = Field(
        default=100,
        ge=1,
        description="Segments per task: each task streams the baseline and the window once "
        "for its shard (tasks run on `compute.task_runner`).",
    )
    decides: bool = Field(
        default=True,
        description="A drifted segment makes the window verdict drift (the event, the "
        "triggers); false: segments are reported only.",
    )

    @field_validator("columns")
    @classmethod
    def _unique(cls, values: list[str]) -> list[str]:
        if len(set(values)) != len(values):
            raise ValueError("a segment column is listed twice")
        return values


# ---------------------------------------------------------------------------------------------
# The section
# ---------------------------------------------------------------------------------------------


class DriftSection(StrictModel):
    """Drift checks: deciding metrics, thresholds, tests, overrides and the baseline."""

    enabled: bool = Field(default=True, description="Run drift checks.")
    html_report: Literal["always", "on_drift", "never"] = Field(
        default="always",
        description="When a check renders its HTML report (a figure per column; the JSON "
        "report, the MLflow run and the event are always written): always, only when it "
        "finds drift, or never. An explicit --html / html= renders it regardless.",
    )
    window_days: int = Field(
        default=7,
        ge=1,
        description="Days of feature data checked by default, ending at the newest feature "
        "partition. Cover a whole seasonal cycle (a week for weekly patterns), or expected "
        "variation reads as drift.",
    )
    check_predictions: bool = Field(
        default=True,
        description="Also check the champion's predictions (score, and the predicted label "
        "for multiclass) for drift against its scores on its fresh holdout.",
    )
    baseline: Baseline = Field(
        default_factory=TrainingBaseline,
        description="`training` (default) or a production window `{kind: window, start, end}`.",
    )
    metrics: DecisionMetrics = Field(
        default_factory=DecisionMetrics, description="Deciding metrics per column kind."
    )
    thresholds: ThresholdsSection = Field(
        default_factory=ThresholdsSection, description="Thresholds per distance metric."
    )
    tests: TestsSection = Field(default_factory=TestsSection, description="p-value tests.")
    column_rule: Literal["any", "all"] = Field(
        default="any",
        description="Column verdict: `any` deciding metric flags drift (default), or `all` of "
        "them must (warning likewise: all at warning level or beyond). `all` applies to the "
        "distribution metrics; a deciding `missing_share` flags the column on its own.",
    )
    no_data: NoDataPolicy = Field(
        default="drift",
        description="A column with values in the baseline but none in the current window "
        "(numeric: no finite value; categorical: all missing; embedding: no complete vector) "
        "has status `no_data` and counts as `drift` (default: in the verdict, "
        "`drifted_columns` and the event), as a `warning` (in `warning_columns`), or not at "
        "all (`ignore`: status and note only). A baseline without values is a note, never a "
        "finding: rebuild the baseline.",
    )
    dataset: DatasetRule = Field(default_factory=DatasetRule, description="Dataset verdict.")
    binning: BinningSection = Field(default_factory=BinningSection, description="Binning.")
    embedding: EmbeddingSection = Field(
        default_factory=EmbeddingSection, description="Embedding drift settings."
    )
    columns: dict[str, ColumnOverride] = Field(
        default_factory=dict, description="Per-column overrides, keyed by column name."
    )
    segments: SegmentDriftSection = Field(
        default_factory=SegmentDriftSection, description="Drift within segments."
    )

    @model_validator(mode="before")
    @classmethod
    def _baseline_shorthand(cls, data: Any) -> Any:
        # `baseline: training` is accepted for `baseline: {kind: training}`.
        if isinstance(data, dict) and data.get("baseline") == "training":
            data = {**data, "baseline": {"kind": "training"}}
        return data

    @model_validator(mode="after")
    def _check_consistency(self) -> DriftSection:
        problems: list[str] = []
        js_limit = 1.0 if self.binning.js_base == 2 else _JS_MAX_BASE_E
        for where, js in [("thresholds.js", self.thresholds.js)] + [
            (f"columns.{name}.thresholds.js", o.thresholds.js)
            for name, o in self.columns.items()
            if o.thresholds.js is not None
        ]:
            for key in ("drift", "warning"):
                value = getattr(js, key)
                if value is not None and value > js_limit:
                    problems.append(
                        f"{where}.{key}: {value} exceeds the largest JS distance in base "
                        f"{self.binning.js_base} ({js_limit:.4f})"
                    )
        for kind in ("numeric", "categorical", "embedding"):
            for metric in getattr(self.metrics, kind):
                if metric not in TEST_METRICS and self.threshold_for(metric).drift is None:
                    problems.append(
                        f"metrics.{kind}: {metric!r} decides drift but "
                        f"thresholds.{metric}.drift is not set"
                    )
        for metric in _THRESHOLD_TYPES:
            try:
                check_threshold_order(self.threshold_for(metric))
            except ValueError as exc:
                problems.append(f"thresholds.{metric}: {exc}")
        for name, override in self.columns.items():
            for metric in _THRESHOLD_TYPES:
                try:
                    resolved = self.threshold_for(metric, name)
                except ValueError as exc:
                    problems.append(f"columns.{name}.thresholds.{metric}: {exc}")
                    continue
                if (
                    override.metrics is not None
                    and metric in override.metrics
                    and resolved.drift is None
                ):
                    problems.append(
                        f"columns.{name}.metrics: {metric!r} decides drift but no drift "
                        f"threshold is set for it"
                    )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def threshold_for(self, metric: str, column: str | None = None) -> _Threshold:
        """The thresholds that apply to ``metric`` on ``column`` (overrides merged in).

        Args:
            metric: A distance metric name (``psi``, ``js`` ...).
            column: The column, or None for the section-level value.

        Returns:
            The merged threshold model (fields ``drift`` and ``warning``).

        Raises:
            KeyError: ``metric`` has no thresholds (a test or an unknown name).
            ValueError: The merged warning exceeds the merged drift threshold.
        """
        if metric not in _THRESHOLD_TYPES:
            raise KeyError(f"metric {metric!r} has no thresholds")
        base: _Threshold = getattr(self.thresholds, metric)
        override = self.columns.get(column) if column is not None else None
        if override is None:
            return base
        patch: _Threshold | None = getattr(override.thresholds, metric)
        if patch is None:
            return base
        merged = base.model_dump()
        merged.update(patch.model_dump(exclude_unset=True))
        # Each part was validated on its own; only the order of the merged pair can be wrong.
        resolved = _THRESHOLD_TYPES[metric].model_construct(**merged)
        check_threshold_order(resolved)
        return resolved

    def decision_metrics_for(self, kind: str, column: str) -> list[str]:
        """The deciding metrics for ``column`` of ``kind`` (a column override wins).

        Args:
            kind: ``numeric``, ``categorical`` or ``embedding``.
            column: The column name.

        Returns:
            Metric names, in configured order.

        Raises:
            ValueError: The override lists a metric that does not apply to ``kind``.
        """
        override = self.columns.get(column)
        metrics = (
            list(override.metrics)
            if override is not None and override.metrics is not None
            else list(getattr(self.metrics, kind))
        )
        invalid = [m for m in metrics if m not in METRICS_BY_KIND[kind]]
        if invalid:
            raise ValueError(
                f"drift.columns.{column}.metrics: {invalid} do not apply to a {kind} column "
                f"(valid: {sorted(METRICS_BY_KIND[kind])})"
            )
        return metrics

    def is_ignored(self, column: str) -> bool:
        """Whether ``column`` is left out of drift checks."""
        override = self.columns.get(column)
        return override is not None and override.ignore
