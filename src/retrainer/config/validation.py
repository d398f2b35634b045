"""The ``validation:`` section: how batches are checked before drift checks or training see them.

A suite of Great Expectations checks is derived from reference (training) data and these rules.
Every field has a default, so an empty section (or none at all) is valid. Expectations are
grouped by *kind*; each kind has a severity (``error`` blocks the batch and quarantines it,
``warning`` only reports) and can be dropped for all columns or per column.

The defaults follow one principle: validation blocks data that is *broken* (schema and type
changes, impossible values, unit changes, null bursts, duplicated ids, empty or stale batches)
and lets data that has *drifted* through to the drift monitor and to training. Numeric bounds
are plausibility bounds, far wider than the reference's spread; tolerated shares (nulls,
values outside the bounds, unseen categories, late events) are judged with the batch's size in
mind (``alpha``): one odd row in a 24-row day is not a burst, 30% is.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from retrainer.config.base import StrictModel

Severity = Literal["error", "warning"]

ExpectationKind = Literal[
    "columns",
    "column_set",
    "dtype",
    "not_null",
    "range",
    "categories",
    "row_count",
    "unique_id",
    "freshness",
    "monotonic_dates",
    "scale",
]
"""Kinds of expectations a suite holds (see :class:`SeverityLevels` for what each checks)."""

ColumnExpectationKind = Literal["columns", "dtype", "not_null", "range", "categories", "scale"]
"""Kinds that exist per column and can be dropped or re-graded for one column."""

EXPECTATION_KINDS: tuple[str, ...] = ExpectationKind.__args__  # type: ignore[attr-defined]
COLUMN_EXPECTATION_KINDS: tuple[str, ...] = ColumnExpectationKind.__args__  # type: ignore[attr-defined]

BeforeTraining = Literal["validate", "skip", "allow"]
"""What the train flow does with partitions of its window that were never validated."""

RANGE_KEYS = ("min_value", "max_value", "margin", "max_outside_share")
SCALE_KEYS = ("max_scale_ratio",)
CATEGORY_KEYS = ("allowed_values", "extra_values", "max_unseen_share")
RESERVED_EXPECTATION_KWARGS = (
    "column",
    "severity",
    "meta",
    "id",
    "notes",
    "rendered_content",
    "batch_id",
    "result_format",
    "catch_exceptions",
)
"""Keys of an expectation that Retrainer sets itself (not allowed in ``kwargs``)."""


class SeverityLevels(StrictModel):
    """Severity per expectation kind: ``error`` quarantines the batch, ``warning`` reports."""

    columns: Severity = Field(
        default="error",
        description="A column the config names (id, timestamp, features, "
        "segments) is missing from the batch.",
    )
    column_set: Severity = Field(
        default="warning",
        description="The batch's set of columns differs from the reference (extra columns, or "
        "reference columns the config does not use are missing). Order is ignored.",
    )
    dtype: Severity = Field(
        default="error",
        description="A column's dtype does not fit the reference (e.g. text in a numeric column).",
    )
    not_null: Severity = Field(
        default="error",
        description="A column has significantly more nulls than the reference share plus "
        "`nulls.max_increase` (a null burst).",
    )
    range: Severity = Field(
        default="error",
        description="Significantly more than `numeric.max_outside_share` of a numeric column's "
        "values lie outside its plausibility bounds (impossible values).",
    )
    categories: Severity = Field(
        default="warning",
        description="Significantly more than `categories.max_unseen_share` of a column's values "
        "are categories the reference never had (new codes are often drift: reported, not "
        "blocked). A flood beyond `categories.flood_share` is `category_flood`.",
    )
    category_flood: Severity = Field(
        default="error",
        description="At least `categories.flood_share` of a column's values are unseen "
        "categories (renamed codes, a shifted column): a broken feed.",
    )
    scale: Severity = Field(
        default="error",
        description="A numeric column's typical magnitude (median |value|) moved by more than "
        "`scale.max_ratio` from the reference: a unit change (x1000, x0.001), whatever the "
        "range bounds say.",
    )
    row_count: Severity = Field(
        default="error", description="The batch has too few or too many rows per day."
    )
    unique_id: Severity = Field(default="error", description="The id column has duplicates.")
    freshness: Severity = Field(
        default="error",
        description="Event timestamps fall outside the partition date (plus the tolerance).",
    )
    monotonic_dates: Severity = Field(
        default="error",
        description="More than `timestamps.max_late_share` of the batch's events are older "
        "than the newest partition accepted before it arrived: a partition arriving out of "
        "order, or stale or replayed data.",
    )

    def of(self, kind: str) -> Severity:
        """The severity of an expectation kind (or of the ``category_flood`` tier).

        Raises:
            KeyError: For an unknown kind.
        """
        if kind not in (*EXPECTATION_KINDS, "category_flood"):
            raise KeyError(f"unknown expectation kind {kind!r}")
        return getattr(self, kind)


MIN_REFERENCE_DAYS = 60
"""Fewer reference days than this cannot show a column's plausible range (weekly and monthly
patterns, a part of the seasons); ``config check`` warns below it."""


class ReferenceSection(StrictModel):
    """Which data builds the suite before any model exists.

    Once a champion exists, the suite logged with it (built from its training data) is used.
    Reference days that are broken themselves (a unit change, a null burst, a category flood,
    duplicated ids, another schema) are left out of the reference and reported.
    """

    days: int = Field(
        default=MIN_REFERENCE_DAYS,
        ge=1,
        description="Use the first N days of the features table (or N days from `start`); "
        f"statistics are pooled over their rows. Fewer than {MIN_REFERENCE_DAYS} days is "
        "allowed but warned about.",
    )
    start: date | None = Field(
        default=None, description="First reference date (YYYY-MM-DD); default: the first partition."
    )
    end: date | None = Field(
        default=None,
        description="Last reference date (inclusive); default: `start` + `days` - 1. Needs "
        "`start`.",
    )

    @model_validator(mode="after")
    def _window(self) -> ReferenceSection:
        if self.end is not None and self.start is None:
            raise ValueError("end needs start (a window is start..end)")
        if self.start is not None and self.end is not None and self.end < self.start:
            raise ValueError(f"end ({self.end}) is before start ({self.start})")
        return self


class NumericRules(StrictModel):
    """Plausibility bounds of numeric columns: pooled reference quantiles, widened a lot.

    The bounds catch impossible values (a negative amount, a sentinel 999999, a value orders
    of magnitude off), not drift: a seasonal movement, a population that moves, a drift that
    widens a distribution fit inside them. Positive columns spanning a factor of 10 or more
    (incomes, amounts, counts) get their bounds in log space.
    """

    quantiles: tuple[float, float] = Field(
        default=(0.001, 0.999),
        description="Lower and upper quantile of the pooled reference rows that the bounds "
        "start from.",
    )
    margin: float = Field(
        default=3.0,
        ge=0,
        description="Widen the quantile range on each side by this many robust spreads (the "
        "interquartile range; of log10 values for log-space columns).",
    )
    relative_margin: float = Field(
        default=2.0,
        ge=0,
        description="Linear columns: widen by at least this multiple of the column's magnitude "
        "(the larger |quantile|), so a narrow reference (a slice of the population, one "
        "season) still admits plausible values.",
    )
    min_decades: float = Field(
        default=1.0,
        ge=0,
        description="Log-space columns: widen by at least this many decades (factors of 10) "
        "on each side.",
    )
    log_space: Literal["auto", "always", "never"] = Field(
        default="auto",
        description="`auto`: log space for columns positive in the reference whose quantile "
        "range spans a factor of 10 or more; `always`: every positive column; `never`.",
    )
    keep_sign: bool = Field(
        default=True,
        description="A column never negative in the reference gets a lower bound of 0 (a "
        "negative age, amount or count is broken data). Turn off, or set the column's "
        "`min_value`, for quantities that may change sign later (temperatures in °C).",
    )
    max_outside_share: float = Field(
        default=0.01,
        ge=0,
        lt=1,
        description="Tolerated share of non-null values outside the bounds (heavy tails, "
        "isolated outliers); a batch fails when its share is significantly larger (`alpha`).",
    )

    @field_validator("quantiles")
    @classmethod
    def _ordered(cls, value: tuple[float, float]) -> tuple[float, float]:
        low, high = value
        if not (0 <= low < 0.5 < high <= 1):
            raise ValueError("quantiles must be [low, high] with 0 <= low < 0.5 < high <= 1")
        return value


class ScaleRules(StrictModel):
    """The unit-change check: a batch's typical magnitude against the reference's.

    Compares the median of log10|value| (non-zero values) of the batch with the range the
    reference days' medians span. A unit change moves it by whole decades (x1000: 3), drift
    rarely by more than a fraction of one; the batch's own sampling noise is allowed for.
    """

    max_ratio: float = Field(
        default=10.0,
        ge=1.5,
        description="Largest factor between the batch's median |value| and the range of the "
        "reference days' (beyond their own day-to-day range) that is still a change of the "
        "data, not of its unit: x100 and x1000 changes fail, a population whose amounts grow "
        "sevenfold does not.",
    )
    min_rows: int = Field(
        default=1,
        ge=1,
        description="Batches with fewer non-zero values are not checked (a batch of one row "
        "is: a unit change moves even a single value by decades, and the allowance for the "
        "batch's own noise grows as it shrinks).",
    )


class NullRules(StrictModel):
    """Non-null rates."""

    max_increase: float = Field(
        default=0.05,
        ge=0,
        le=1,
        description="Tolerated null share = the reference null share + this (id and timestamp "
        "columns: the reference share only); a batch fails when its null share is "
        "significantly larger (`alpha`).",
    )


class CategoryRules(StrictModel):
    """Categorical value sets."""

    max_unseen_share: float = Field(
        default=0.02,
        ge=0,
        lt=1,
        description="Tolerated share of non-null values outside the reference categories; "
        "significantly more is a `categories` finding (a warning by default).",
    )
    flood_share: float = Field(
        default=0.25,
        gt=0,
        le=1,
        description="A significant unseen share at or above this is a `category_flood` (an "
        "error by default): a renamed code or a shifted column, not a new customer segment.",
    )
    max_categories: int = Field(
        default=500,
        ge=1,
        description="A column with more distinct reference values than this gets no value-set "
        "expectation (it is not really categorical).",
    )


class RowCountRules(StrictModel):
    """Row-count bounds per day, from the reference's daily counts.

    The lower bound catches empty and truncated deliveries; the upper one a batch delivered
    several times over. Organic growth of the volume is drift, so the upper bound is loose.
    """

    margin: float = Field(
        default=0.5,
        ge=0,
        description="Lower bound = (1 - margin) × the low daily count of the reference (its "
        "5th percentile), lowered further to what Poisson noise allows on small days; never "
        "below 1 row (an empty batch fails).",
    )
    max_growth: float = Field(
        default=3.0,
        ge=1,
        description="Upper bound = this × the high daily count of the reference (its 95th "
        "percentile), raised to what Poisson noise allows on small days.",
    )
    min_rows: int | None = Field(
        default=None, ge=0, description="Explicit lower bound per day (replaces the derived one)."
    )
    max_rows: int | None = Field(
        default=None, ge=1, description="Explicit upper bound per day (replaces the derived one)."
    )

    @model_validator(mode="after")
    def _bounds(self) -> RowCountRules:
        if (
            self.min_rows is not None
            and self.max_rows is not None
            and self.min_rows > self.max_rows
        ):
            raise ValueError(
                f"min_rows ({self.min_rows}) is larger than max_rows ({self.max_rows})"
            )
        if self.margin >= 1 and self.min_rows is None:
            # a margin of 1 or more makes the derived lower bound 0: an empty batch passes
            raise ValueError(
                "margin must be below 1 (or set min_rows): otherwise an empty batch passes"
            )
        return self


class TimestampRules(StrictModel):
    """Timestamp freshness and monotonic partition dates."""

    tolerance_hours: float = Field(
        default=1.0,
        ge=0,
        description="Events may lie this many hours before/after their partition date (clock "
        "skew, late events).",
    )
    max_outside_share: float = Field(
        default=0.001,
        ge=0,
        lt=1,
        description="Share of events allowed outside the partition date plus tolerance.",
    )
    max_late_share: float = Field(
        default=0.001,
        ge=0,
        lt=1,
        description="Monotonic dates: share of events allowed to be older than the newest "
        "partition accepted before this one arrived (minus `tolerance_hours`): late events. "
        "A partition older than that one fails as a whole (it arrived out of order).",
    )


def _expectation_class(name: str) -> Any:
    """The GX expectation class registered under ``name`` (imports GX: a few seconds)."""
    from great_expectations.exceptions import ExpectationNotFoundError
    from great_expectations.expectations.registry import get_expectation_impl

    import retrainer.validation.gx_ext  # noqa: F401  (registers Retrainer's dtype expectation)

    try:
        return get_expectation_impl(name)
    except ExpectationNotFoundError:
        return None


def _snake_case(name: str) -> str:
    from great_expectations.util import camel_to_snake

    return camel_to_snake(name) if any(c.isupper() for c in name) else name


class ExtraExpectation(StrictModel):
    """A Great Expectations expectation added to one column, as GX names and configures it.

    Checked when the config is loaded (this imports Great Expectations): the type must be a
    single-column expectation GX knows, and GX must accept the kwargs.
    """

    type: str = Field(
        description="The GX expectation, snake_case (`expect_column_values_to_match_regex`) "
        "or CamelCase (`ExpectColumnValuesToMatchRegex`); it must take one `column`."
    )
    kwargs: dict[str, Any] = Field(
        default_factory=dict,
        description="Its arguments as GX names them (e.g. `regex`, `mostly`), without "
        "`column` (the key of the override) or `severity`.",
    )
    severity: Severity = Field(
        default="error",
        description="`error` blocks (quarantines) the batch when it fails, `warning` reports.",
    )

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        name = _snake_case(value.strip())
        expectation = _expectation_class(name)
        if expectation is None:
            raise ValueError(
                f"unknown Great Expectations expectation {value!r} (e.g. "
                "expect_column_values_to_match_regex or ExpectColumnValuesToMatchRegex)"
            )
        if "column" not in expectation.__fields__:
            raise ValueError(
                f"{name} does not check one column; only single-column expectations can be "
                "added per column"
            )
        return name

    @field_validator("kwargs")
    @classmethod
    def _no_reserved_keys(cls, value: dict[str, Any]) -> dict[str, Any]:
        reserved = sorted(set(value) & set(RESERVED_EXPECTATION_KWARGS))
        if reserved:
            raise ValueError(
                f"{', '.join(reserved)} is set by retrainer (the column is the key of the "
                "override; severity is a field of its own)"
            )
        return value

    @model_validator(mode="after")
    def _gx_accepts_the_kwargs(self) -> ExtraExpectation:
        from great_expectations.expectations.expectation_configuration import (
            ExpectationConfiguration,
        )

        try:
            ExpectationConfiguration(
                type=self.type, kwargs={"column": "column", **self.kwargs}
            ).to_domain_obj()
        except Exception as exc:  # GX raises pydantic and its own errors for bad kwargs
            problems = _gx_problems(exc)
            raise ValueError(f"kwargs: not valid for {self.type}: {problems}") from None
        return self


def _gx_problems(exc: Exception) -> str:
    """GX's (pydantic v1) validation errors as ``field: message; ...``."""
    errors = getattr(exc, "errors", None)
    if callable(errors):
        try:
            items = errors()
        except Exception:  # pragma: no cover - not a pydantic error after all
            items = None
        if items:
            parts: dict[str, list[str]] = {}
            for item in items:
                where = ".".join(str(p) for p in item.get("loc", ()) if p != "__root__")
                parts.setdefault(where, []).append(item.get("msg", "invalid"))
            described = []
            for where, messages in parts.items():
                # a value may also be a suite parameter ({"$PARAMETER": name}): GX then adds
                # "not a valid dict" for the same field, which says nothing to a user
                kept = [m for m in messages if m != "value is not a valid dict"] or messages
                described += [f"{where}: {m}" if where else m for m in dict.fromkeys(kept)]
            return "; ".join(described)
    return " ".join(str(exc).split())


class ColumnOverride(StrictModel):
    """Per-column changes to the derived expectations: add, loosen or drop."""

    ignore: bool = Field(
        default=False,
        description="Leave the column out of validation entirely (not required, no checks).",
    )
    drop: list[ColumnExpectationKind] = Field(
        default_factory=list,
        description="Expectation kinds disabled for this column (columns, dtype, not_null, "
        "range, categories, scale).",
    )
    severity: dict[ColumnExpectationKind | Literal["category_flood"], Severity] = Field(
        default_factory=dict,
        description="Severity per kind (or of the `category_flood` tier) for this column only.",
    )
    min_value: float | None = Field(
        default=None, description="Explicit lower bound (replaces the reference-derived one)."
    )
    max_value: float | None = Field(
        default=None, description="Explicit upper bound (replaces the reference-derived one)."
    )
    margin: float | None = Field(
        default=None, ge=0, description="Range margin for this column (see numeric.margin)."
    )
    max_outside_share: float | None = Field(
        default=None, ge=0, lt=1, description="Share allowed outside the range for this column."
    )
    max_null_share: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="Absolute tolerated null share (replaces reference share + increase).",
    )
    max_scale_ratio: float | None = Field(
        default=None, ge=1.5, description="Scale-check ratio for this column (see scale.max_ratio)."
    )
    allowed_values: list[str | int | float | bool] | None = Field(
        default=None,
        description="The complete set of allowed categories (replaces the "
        "reference set); also adds a value-set check to a column that has none.",
    )
    extra_values: list[str | int | float | bool] = Field(
        default_factory=list, description="Categories accepted in addition to the reference set."
    )
    max_unseen_share: float | None = Field(
        default=None,
        ge=0,
        lt=1,
        description="Share allowed outside the categories for this column.",
    )
    extra_expectations: list[ExtraExpectation] = Field(
        default_factory=list,
        description="Great Expectations expectations added to this column: "
        "`[{type: expect_column_values_to_match_regex, kwargs: {regex: '^L'}, severity: "
        "warning}]` (checked when the config is loaded).",
    )

    @model_validator(mode="after")
    def _consistent(self) -> ColumnOverride:
        if self.ignore:
            others = [
                name
                for name in type(self).model_fields
                if name != "ignore" and name in self.model_fields_set
            ]
            if others:
                raise ValueError(
                    f"ignore: true leaves the column out entirely; remove {', '.join(others)}"
                )
        if (
            self.min_value is not None
            and self.max_value is not None
            and self.min_value >= self.max_value
        ):
            raise ValueError(
                f"min_value ({self.min_value:g}) must be below max_value ({self.max_value:g})"
            )
        if self.allowed_values is not None and self.extra_values:
            raise ValueError(
                "allowed_values replaces the reference set and extra_values adds to it: use one"
            )
        if self.allowed_values is not None and not self.allowed_values:
            raise ValueError("allowed_values is empty: every value would be rejected")
        graded = {"categories" if k == "category_flood" else k for k in self.severity}
        both = sorted(set(self.drop) & graded)
        if both:
            raise ValueError(f"{', '.join(both)} is dropped and also given a severity")
        if len(set(self.drop)) != len(self.drop):
            raise ValueError("a kind is listed twice in drop")
        range_keys = set(RANGE_KEYS) & self.model_fields_set
        if "range" in self.drop and range_keys:
            raise ValueError(f"range is dropped but {', '.join(sorted(range_keys))} is set")
        category_keys = set(CATEGORY_KEYS) & self.model_fields_set
        if "categories" in self.drop and category_keys:
            raise ValueError(f"categories is dropped but {', '.join(sorted(category_keys))} is set")
        if "not_null" in self.drop and "max_null_share" in self.model_fields_set:
            raise ValueError("not_null is dropped but max_null_share is set")
        if "scale" in self.drop and "max_scale_ratio" in self.model_fields_set:
            raise ValueError("scale is dropped but max_scale_ratio is set")
        return self


class ValidationSection(StrictModel):
    """Data validation with Great Expectations: suite rules, severities and overrides."""

    enabled: bool = Field(default=True, description="Validate each batch before use.")
    quarantine: bool = Field(
        default=True,
        description="Move a partition with an `error` failure to the quarantine (never "
        "deleted); false only reports it (it stays in place, marked invalid, and is still "
        "never trained on).",
    )
    before_training: BeforeTraining = Field(
        default="validate",
        description="Partitions of the train flow's window that were never validated: "
        "`validate` validates them first (the champion's or the reference suite; failures "
        "are quarantined and left out), `skip` trains only on validated, accepted partitions "
        "and logs the others, `allow` reads them (validation runs elsewhere; also what happens "
        "with `enabled: false`). Partitions marked invalid are never read for training, "
        "whatever this says.",
    )
    reference: ReferenceSection = Field(
        default_factory=ReferenceSection,
        description="Reference data for the suite before a champion model exists.",
    )
    severity: SeverityLevels = Field(
        default_factory=SeverityLevels, description="Severity per expectation kind."
    )
    drop: list[ExpectationKind] = Field(
        default_factory=list, description="Expectation kinds disabled for every column."
    )
    alpha: float = Field(
        default=0.001,
        gt=0,
        lt=0.5,
        description="Significance of the tolerance tests: a batch's share of nulls, values "
        "outside the bounds, unseen categories or late events fails only when a one-sided "
        "binomial test says it is above the tolerated share at this level (so 1 odd row in 24 "
        "passes while 30% fails).",
    )
    numeric: NumericRules = Field(
        default_factory=NumericRules, description="Numeric plausibility bounds."
    )
    scale: ScaleRules = Field(default_factory=ScaleRules, description="The unit-change check.")
    nulls: NullRules = Field(default_factory=NullRules, description="Non-null rates.")
    categories: CategoryRules = Field(
        default_factory=CategoryRules, description="Categorical value sets."
    )
    row_count: RowCountRules = Field(
        default_factory=RowCountRules, description="Row-count bounds per day."
    )
    timestamps: TimestampRules = Field(
        default_factory=TimestampRules, description="Timestamp freshness and monotonic dates."
    )
    columns: dict[str, ColumnOverride] = Field(
        default_factory=dict, description="Per-column overrides, keyed by column name."
    )

    @model_validator(mode="after")
    def _consistent(self) -> ValidationSection:
        if len(set(self.drop)) != len(self.drop):
            raise ValueError("drop: a kind is listed twice")
        for name, override in self.columns.items():
            if not name.strip():
                raise ValueError("columns: a column name is empty")
            dropped = sorted(set(override.drop) & set(self.drop))
            if dropped:
                raise ValueError(
                    f"columns.{name}.drop: {', '.join(dropped)} is already dropped for every "
                    "column (drop)"
                )
            for kind, keys in (("range", RANGE_KEYS), ("categories", CATEGORY_KEYS)):
                given = sorted(set(keys) & override.model_fields_set)
                if kind in self.drop and given:
                    raise ValueError(
                        f"columns.{name}: {', '.join(given)} cannot apply: {kind} is dropped "
                        "for every column (drop)"
                    )
            if "not_null" in self.drop and "max_null_share" in override.model_fields_set:
                raise ValueError(
                    f"columns.{name}: max_null_share cannot apply: not_null is dropped for "
                    "every column (drop)"
                )
            graded = {"categories" if k == "category_flood" else k for k in override.severity}
            regraded = sorted(graded & set(self.drop))
            if regraded:
                raise ValueError(
                    f"columns.{name}.severity: {', '.join(regraded)} is dropped for every "
                    "column (drop)"
                )
        return self

    def fingerprint(self) -> str:
        """A short, stable hash of these rules (a suite built with other rules is rebuilt)."""
        payload = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    def severity_of(self, kind: str, column: str | None = None) -> Severity:
        """The severity of ``kind``, with the column's override applied."""
        if column is not None and column in self.columns:
            override = self.columns[column].severity.get(kind)  # type: ignore[call-overload]
            if override is not None:
                return override
        return self.severity.of(kind)

    def is_dropped(self, kind: str, column: str | None = None) -> bool:
        """Whether ``kind`` is disabled (globally or for ``column``)."""
        if kind in self.drop:
            return True
        override = self.columns.get(column) if column is not None else None
        return override is not None and (override.ignore or kind in override.drop)
