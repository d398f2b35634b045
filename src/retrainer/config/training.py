"""The ``training:`` section: data window strategies and preprocessing."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from retrainer.config.base import StrictModel


class FixedWindow(StrictModel):
    """Train on the last N days of labelled data (or on all history)."""

    kind: Literal["fixed"] = "fixed"
    days: int | None = Field(
        default=None, ge=1, description="Length of the window in days; null means all history."
    )


class DynamicWindow(StrictModel):
    """Choose the window length like a hyperparameter on a validation window."""

    kind: Literal["dynamic"] = "dynamic"
    candidates_days: list[int] = Field(
        default_factory=lambda: [7, 14, 30, 60, 90],
        min_length=1,
        description="Window lengths to try; the best on the validation window wins.",
    )
    validation_days: int = Field(
        default=7, ge=1, description="Most recent labelled days used to score the candidates."
    )
    metric: str | None = Field(
        default=None,
        description="Metric that picks the window; defaults to the gates' comparison metric.",
    )
    tolerance: float | None = Field(
        default=None,
        ge=0,
        description="Candidates whose validation metric is within this distance of the best "
        "count as tied with it (metric units); null = one standard error of the paired "
        "difference to the best, estimated by bootstrapping the validation rows.",
    )
    prefer: Literal["longest", "shortest"] = Field(
        default="longest",
        description="Which of the tied candidates wins: `longest` (more data, less variance; "
        "a short window is chosen only when it is clearly better) or `shortest` (most recent).",
    )

    @model_validator(mode="after")
    def _positive(self) -> DynamicWindow:
        if any(d < 1 for d in self.candidates_days):
            raise ValueError("candidates_days must all be >= 1")
        return self


class HistoryPlusRecentWindow(StrictModel):
    """A sample of all history plus every row of the most recent days."""

    kind: Literal["history_plus_recent"] = "history_plus_recent"
    recent_days: int = Field(default=14, ge=1, description="Days kept in full.")
    history_fraction: float = Field(
        default=0.2, gt=0, le=1, description="Fraction of older rows sampled (uniformly)."
    )
    history_weight: float = Field(
        default=1.0, gt=0, description="Sample weight of the historical rows."
    )
    recent_weight: float = Field(default=1.0, gt=0, description="Sample weight of recent rows.")


class SegmentUpsampleWindow(StrictModel):
    """Boost segments whose live metric is below a threshold."""

    kind: Literal["segment_upsample"] = "segment_upsample"
    days: int | None = Field(default=60, ge=1, description="Base window in days; null = all.")
    segment_columns: list[str] | None = Field(
        default=None, description="Segment columns to consider; defaults to columns.segments."
    )
    metric: str | None = Field(
        default=None, description="Live metric per segment; defaults to the comparison metric."
    )
    threshold: float | None = Field(
        default=None,
        description="Segments whose live metric is worse than this are boosted; null = worse "
        "than the overall metric by more than `min_gap`.",
    )
    min_gap: float = Field(
        default=0.02, ge=0, description="Gap to the overall metric that marks a weak segment."
    )
    factor: float = Field(default=3.0, gt=1, description="Weight multiplier for weak segments.")
    lookback_days: int = Field(
        default=14, ge=1, description="Recent labelled days used to measure segment metrics."
    )
    min_support: int = Field(
        default=100, ge=1, description="Minimum rows for a segment metric to count."
    )


class WarmStartWindow(StrictModel):
    """Continue training the champion on recent data (warm_start or partial_fit)."""

    kind: Literal["warm_start"] = "warm_start"
    days: int = Field(default=14, ge=1, description="Recent days used to continue training.")
    extra_iterations: int = Field(
        default=50,
        ge=1,
        description="Added boosting iterations/trees for estimators with warm_start "
        "(max_iter / n_estimators grows by this amount).",
    )
    method: Literal["auto", "warm_start", "partial_fit"] = Field(
        default="auto",
        description="How the champion is continued: `warm_start` refits with warm_start=True "
        "(ensembles grow by `extra_iterations`), `partial_fit` updates it with partial_fit; "
        "`auto` = warm_start for tree ensembles, else partial_fit when available, else "
        "warm_start.",
    )
    partial_fit_epochs: int = Field(
        default=1, ge=1, description="Passes of partial_fit over the recent rows."
    )
    fallback_days: int | None = Field(
        default=None,
        ge=1,
        description="Window for a cold start when there is no champion or it cannot be warm "
        "started; null = all history.",
    )


WindowStrategy = Annotated[
    FixedWindow | DynamicWindow | HistoryPlusRecentWindow | SegmentUpsampleWindow | WarmStartWindow,
    Field(discriminator="kind"),
]


class PreprocessingSection(StrictModel):
    """Preprocessing by column kind, inside the scikit-learn Pipeline."""

    numeric_impute: Literal["median", "mean", "zero"] = Field(
        default="median", description="How numeric nulls are filled."
    )
    scale_numeric: bool = Field(
        default=True, description="Standard-scale numeric features (harmless for trees)."
    )
    categorical_encoding: Literal["onehot", "ordinal"] = Field(
        default="onehot", description="One-hot for linear models; ordinal suits tree ensembles."
    )
    min_category_frequency: int | float | None = Field(
        default=None,
        description="Categories rarer than this (count or fraction) are grouped as infrequent.",
    )


class TrainingSection(StrictModel):
    """How a model is (re)trained."""

    window: WindowStrategy = Field(
        default_factory=FixedWindow, description="Which data a training run uses."
    )
    preprocessing: PreprocessingSection = Field(
        default_factory=PreprocessingSection, description="Feature preprocessing."
    )
    max_rows: int | None = Field(
        default=None, ge=1, description="Uniformly subsample the window to at most this many rows."
    )
    random_state: int = Field(default=0, description="Seed for sampling and the estimator.")
    cost_per_hour: float = Field(
        default=0.0,
        ge=0,
        description="Compute cost of one training hour (any currency); training time × this "
        "is recorded as the run's cost estimate.",
    )
