"""Expectation suites from a reference profile and the ``validation`` rules.

A :class:`ValidationSuite` is a Great Expectations suite in its JSON form (the format
``ExpectationSuite.to_json_dict()`` writes and ``ExpectationSuite(**data)`` reads), plus the
reference profile it was derived from in ``meta["retrainer"]``. Building it needs neither GX
nor a data context, so it is fast and testable; :mod:`retrainer.validation.runner` turns it
into a GX suite when a batch is validated.

Batch-dependent bounds (rows for the number of days in the batch, the partition's time window,
the last validated partition) are GX suite parameters (``{"$PARAMETER": name}``) filled in per
run by :meth:`ValidationSuite.parameters_for`, so one saved suite validates every later batch.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from retrainer.config.validation import CATEGORY_KEYS, RANGE_KEYS
from retrainer.validation.profile import ColumnProfile, ReferenceProfile

if TYPE_CHECKING:
    from retrainer.config.core import ColumnsSection
    from retrainer.config.validation import ColumnOverride, ValidationSection

SUITE_FORMAT = 1

# GX expectation types used by the suites
COLUMNS_MATCH_SET = "expect_table_columns_to_match_set"
DTYPE_IN_LIST = "expect_column_values_to_be_in_dtype_list"  # see retrainer.validation.gx_ext
NOT_NULL = "expect_column_values_to_not_be_null"
BETWEEN = "expect_column_values_to_be_between"
IN_SET = "expect_column_values_to_be_in_set"
UNIQUE = "expect_column_values_to_be_unique"
ROW_COUNT_BETWEEN = "expect_table_row_count_to_be_between"

# GX suite parameters filled in per batch
PARAM_MIN_ROWS = "min_rows"
PARAM_MAX_ROWS = "max_rows"
PARAM_EARLIEST = "earliest_event_time"
PARAM_LATEST = "latest_event_time"
PARAM_NOT_BEFORE = "not_before"

GX_SEVERITY = {"error": "critical", "warning": "warning"}

NUMERIC_DTYPES = [
    *[f"int{b}" for b in (8, 16, 32, 64)],
    *[f"uint{b}" for b in (8, 16, 32, 64)],
    *[f"float{b}" for b in (16, 32, 64)],
    *[f"Int{b}" for b in (8, 16, 32, 64)],
    *[f"UInt{b}" for b in (8, 16, 32, 64)],
    "Float32",
    "Float64",
    "int64[pyarrow]",
    "double[pyarrow]",
    # element types, checked value by value when a column arrives as dtype object
    "int",
    "float",
]
STRING_DTYPES = [
    "str",
    "string",
    "category",
    "string[python]",
    "string[pyarrow]",
    "large_string[pyarrow]",
]
BOOL_DTYPES = ["bool", "boolean", "bool[pyarrow]"]
_TIME_UNITS = ("s", "ms", "us", "ns")


class SuiteError(ValueError):
    """A suite cannot be built, read or used (the message names the column, field or file)."""


def accepted_dtypes(profile: ColumnProfile) -> list[str]:
    """Dtype names a batch column may have, given the reference column's dtype family."""
    if profile.family == "numeric":
        return list(NUMERIC_DTYPES)
    if profile.family == "string":
        return list(STRING_DTYPES)
    if profile.family == "bool":
        return list(BOOL_DTYPES)
    if profile.family == "datetime":
        if profile.timezone:
            names = [f"datetime64[{u}, {profile.timezone}]" for u in _TIME_UNITS]
        else:
            names = [f"datetime64[{u}]" for u in _TIME_UNITS]
        return [*names, "Timestamp"]
    return [profile.dtype]


def _round(value: float) -> float:
    return float(f"{value:.6g}")


def _fingerprint(payload: Any) -> str:
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


SUITE_INDEPENDENT_RULES = {"enabled", "quarantine", "before_training"}
"""``validation`` settings that say what happens around a suite, not what it holds."""


def rules_fingerprint(columns: ColumnsSection, rules: ValidationSection) -> str:
    """Hash of what a suite is built from besides the data: column roles and rules."""
    return _fingerprint(
        {
            "columns": columns.model_dump(mode="json"),
            "validation": rules.model_dump(mode="json", exclude=SUITE_INDEPENDENT_RULES),
        }
    )


def _gx_version() -> str:
    try:
        return package_version("great_expectations")
    except PackageNotFoundError:  # pragma: no cover - GX is a hard dependency
        return "unknown"


@dataclass
class ValidationSuite:
    """A GX expectation suite (JSON form) derived from a reference profile.

    Attributes:
        name: Suite name.
        expectations: GX expectation configurations (``type``, ``kwargs``, ``meta``,
            ``severity``); ``meta["retrainer"]["kind"]`` names the expectation kind.
        meta: Suite meta; ``meta["retrainer"]`` holds the profile, the rules fingerprint, the
            source of the reference and the per-batch parameter settings.
    """

    name: str
    expectations: list[dict[str, Any]]
    meta: dict[str, Any] = field(default_factory=dict)

    # -- identity -------------------------------------------------------------------------
    @property
    def retrainer(self) -> dict[str, Any]:
        """The ``meta["retrainer"]`` block."""
        return self.meta.get("retrainer", {})

    @property
    def hash(self) -> str:
        """Hash of the expectations (same profile and rules give the same hash)."""
        return _fingerprint({"name": self.name, "expectations": self.expectations})

    @property
    def source(self) -> dict[str, Any]:
        """Where the reference came from (``kind``: champion/reference_window/frame ...)."""
        return dict(self.retrainer.get("source", {}))

    @property
    def profile(self) -> ReferenceProfile:
        """The reference profile the suite was built from."""
        try:
            return ReferenceProfile.from_dict(self.retrainer["profile"])
        except (KeyError, TypeError) as exc:
            raise SuiteError(f"suite {self.name!r} carries no reference profile: {exc}") from exc

    def describe(self) -> str:
        """One line: source and hash."""
        source = self.source
        text = source.get("description") or source.get("kind", "unknown source")
        return f"{text} (suite {self.hash})"

    def kinds(self) -> dict[str, int]:
        """Number of expectations per kind."""
        counts: dict[str, int] = {}
        for expectation in self.expectations:
            kind = expectation.get("meta", {}).get("retrainer", {}).get("kind", "other")
            counts[kind] = counts.get(kind, 0) + 1
        return counts

    # -- serialisation --------------------------------------------------------------------
    def to_json_dict(self) -> dict[str, Any]:
        """The GX suite JSON (``ExpectationSuite(**data)`` reads it)."""
        return {
            "name": self.name,
            "expectations": self.expectations,
            "suite_parameters": {},
            "meta": self.meta,
            "notes": None,
            "id": None,
        }

    def to_json(self) -> str:
        """Pretty JSON text."""
        return json.dumps(self.to_json_dict(), indent=2, default=str)

    @classmethod
    def from_json_dict(cls, data: dict[str, Any], where: str = "suite") -> ValidationSuite:
        """Read the GX suite JSON written by :meth:`to_json_dict`.

        Raises:
            SuiteError: When it is not such a suite (names ``where``).
        """
        if not isinstance(data, dict) or "expectations" not in data or "name" not in data:
            raise SuiteError(f"{where}: not a Great Expectations suite (no name/expectations)")
        meta = data.get("meta") or {}
        fmt = meta.get("retrainer", {}).get("format")
        if fmt != SUITE_FORMAT:
            raise SuiteError(
                f"{where}: suite format {fmt!r} is not {SUITE_FORMAT} (built by another version "
                "of retrainer?)"
            )
        expectations = [
            {k: v for k, v in e.items() if k not in ("id", "rendered_content")}
            for e in data["expectations"]
        ]
        return cls(name=data["name"], expectations=expectations, meta=meta)

    def save(self, path: Path | str) -> Path:
        """Write the suite JSON (atomically) and return the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(self.to_json(), encoding="utf-8")
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: Path | str) -> ValidationSuite:
        """Read a suite JSON file.

        Raises:
            SuiteError: When the file is missing or not a suite.
        """
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SuiteError(f"{path}: no such suite file") from None
        except (OSError, json.JSONDecodeError) as exc:
            raise SuiteError(f"{path}: cannot read the suite: {exc}") from None
        return cls.from_json_dict(data, where=str(path))

    # -- per-batch parameters ---------------------------------------------------------------
    def parameters_for(
        self, dates: list[date] | None, previous: date | None = None
    ) -> dict[str, Any]:
        """Suite parameter values for a batch.

        Args:
            dates: Partition dates the batch covers (None for an ad-hoc file without one:
                the time-window expectations are then not evaluated).
            previous: The last validated partition before the batch (None: none yet, the
                monotonic-dates expectation is not evaluated).

        Returns:
            ``{parameter: value}``; None values mean "not evaluated for this batch".
        """
        meta = self.retrainer
        days = len(dates) if dates else 1
        per_day = meta.get("rows_per_day") or [None, None]
        low, high = per_day
        params: dict[str, Any] = {
            PARAM_MIN_ROWS: None if low is None else math.floor(low * days),
            PARAM_MAX_ROWS: None if high is None else math.ceil(high * days),
            PARAM_EARLIEST: None,
            PARAM_LATEST: None,
            PARAM_NOT_BEFORE: None,
        }
        if low is not None and low > 0 and params[PARAM_MIN_ROWS] == 0:
            params[PARAM_MIN_ROWS] = 1
        tolerance = timedelta(hours=float(meta.get("timestamp_tolerance_hours", 0.0)))
        timezone = meta.get("timestamp_timezone")

        def stamp(day: date) -> pd.Timestamp:
            # partitions are UTC days; a naive timestamp column is taken to be UTC
            moment = pd.Timestamp(datetime(day.year, day.month, day.day))
            return moment.tz_localize("UTC").tz_convert(timezone) if timezone else moment

        if dates:
            first, last = min(dates), max(dates)
            params[PARAM_EARLIEST] = stamp(first) - tolerance
            params[PARAM_LATEST] = stamp(last + timedelta(days=1)) + tolerance
        if previous is not None:
            params[PARAM_NOT_BEFORE] = stamp(previous) - tolerance
        return params

    # -- rebuilding -------------------------------------------------------------------------
    def is_current(self, columns: ColumnsSection, rules: ValidationSection) -> bool:
        """Whether the suite was built with these column roles and rules."""
        return self.retrainer.get("rules_fingerprint") == rules_fingerprint(columns, rules)

    def rebuilt(self, columns: ColumnsSection, rules: ValidationSection) -> ValidationSuite:
        """The same reference profile with the current column roles and rules."""
        source = {**self.source, "rebuilt_from": self.hash}
        return build_suite(self.profile, columns, rules, name=self.name, source=source)


def _expectation(
    gx_type: str,
    kwargs: dict[str, Any],
    kind: str,
    severity: str,
    **details: Any,
) -> dict[str, Any]:
    return {
        "type": gx_type,
        "kwargs": kwargs,
        "meta": {"retrainer": {"kind": kind, **details}},
        "severity": GX_SEVERITY[severity],
    }


def required_columns(columns: ColumnsSection, rules: ValidationSection) -> list[str]:
    """Columns the config uses (id, timestamp, features, segments) that are not ignored."""
    return [
        c
        for c in columns.feature_table_columns
        if not (c in rules.columns and rules.columns[c].ignore)
    ]


def _check_overrides(
    profile: ReferenceProfile, columns: ColumnsSection, rules: ValidationSection
) -> None:
    known = set(profile.columns) | set(columns.feature_table_columns)
    for name in rules.columns:
        if name not in known:
            raise SuiteError(
                f"validation.columns.{name}: no such column in the config or the reference data "
                f"(known: {', '.join(sorted(known))})"
            )
    numeric = set(columns.numeric)
    categorical = set(columns.categorical) | set(columns.segments)
    for name, override in rules.columns.items():
        ranged = {"min_value", "max_value", "margin", "max_outside_share"} & (
            override.model_fields_set
        )
        if ranged and name not in numeric:
            raise SuiteError(
                f"validation.columns.{name}: {', '.join(sorted(ranged))} only apply to numeric "
                "columns (columns.numeric)"
            )
        valued = {"allowed_values", "extra_values", "max_unseen_share"} & override.model_fields_set
        if valued and name not in categorical:
            raise SuiteError(
                f"validation.columns.{name}: {', '.join(sorted(valued))} only apply to "
                "categorical or segment columns"
            )


def _not_null_expectation(
    column: str, allowed: float, rules: ValidationSection, **details: Any
) -> dict[str, Any] | None:
    """Nulls of ``column`` at most ``allowed`` (a share); None when any share is allowed."""
    allowed = min(1.0, round(allowed, 6))
    if allowed >= 1.0:
        return None
    kwargs: dict[str, Any] = {"column": column}
    if allowed > 0:
        kwargs["mostly"] = round(1.0 - allowed, 6)
    return _expectation(
        NOT_NULL,
        kwargs,
        "not_null",
        rules.severity_of("not_null", column),
        max_null_share=allowed,
        **details,
    )


def _range_expectation(
    column: str,
    low: float | None,
    high: float | None,
    override: ColumnOverride | None,
    rules: ValidationSection,
    **details: Any,
) -> dict[str, Any]:
    """Values of ``column`` within ``[low, high]``, up to the tolerated share outside."""
    share = (
        override.max_outside_share
        if override is not None and override.max_outside_share is not None
        else rules.numeric.max_outside_share
    )
    kwargs: dict[str, Any] = {"column": column, "min_value": low, "max_value": high}
    if share > 0:
        kwargs["mostly"] = round(1.0 - share, 6)
    return _expectation(
        BETWEEN,
        kwargs,
        "range",
        rules.severity_of("range", column),
        max_outside_share=share,
        **details,
    )


def _categories_expectation(
    column: str,
    values: list[Any],
    override: ColumnOverride | None,
    rules: ValidationSection,
    explicit: bool,
) -> dict[str, Any]:
    """Values of ``column`` in ``values``, up to the tolerated share of unseen ones."""
    share = (
        override.max_unseen_share
        if override is not None and override.max_unseen_share is not None
        else rules.categories.max_unseen_share
    )
    kwargs: dict[str, Any] = {"column": column, "value_set": sorted(values, key=str)}
    if share > 0:
        kwargs["mostly"] = round(1.0 - share, 6)
    return _expectation(
        IN_SET,
        kwargs,
        "categories",
        rules.severity_of("categories", column),
        max_unseen_share=share,
        explicit=explicit,
    )


def _explicit_expectations(
    column: str,
    override: ColumnOverride | None,
    columns: ColumnsSection,
    rules: ValidationSection,
) -> list[dict[str, Any]]:
    """Checks an override spells out in full, for a column the reference does not have.

    An explicit value set (``allowed_values``), explicit bounds (``min_value``/``max_value``)
    and an absolute null share (``max_null_share``) need no reference statistics.
    """
    if override is None:
        return []
    out: list[dict[str, Any] | None] = []
    if override.max_null_share is not None and not rules.is_dropped("not_null", column):
        out.append(_not_null_expectation(column, override.max_null_share, rules, explicit=True))
    bounded = override.min_value is not None or override.max_value is not None
    if column in columns.numeric and bounded and not rules.is_dropped("range", column):
        out.append(
            _range_expectation(
                column,
                override.min_value,
                override.max_value,
                override,
                rules,
                explicit_min=override.min_value is not None,
                explicit_max=override.max_value is not None,
            )
        )
    if override.allowed_values is not None and not rules.is_dropped("categories", column):
        values = list(override.allowed_values)
        out.append(_categories_expectation(column, values, override, rules, explicit=True))
    return [e for e in out if e is not None]


def _override_needs(override: ColumnOverride) -> dict[str, list[str]]:
    """Expectation kind → the override's settings that only take effect through it."""
    given = override.model_fields_set
    needs: dict[str, list[str]] = {}
    for kind, keys in (
        ("range", RANGE_KEYS),
        ("categories", CATEGORY_KEYS),
        ("not_null", ("max_null_share",)),
    ):
        named = [k for k in keys if k in given]
        if kind == "not_null" and (override.max_null_share or 0.0) >= 1.0:
            named = []  # "any share of nulls": no check is the intended outcome
        if named:
            needs[kind] = named
    for kind in override.severity:
        needs.setdefault(kind, []).append(f"severity.{kind}")
    return needs


def _check_overrides_applied(
    expectations: list[dict[str, Any]],
    notes: list[str],
    profile: ReferenceProfile,
    columns: ColumnsSection,
    rules: ValidationSection,
) -> None:
    """Every setting of a column override must shape an expectation of the suite.

    Raises:
        SuiteError: Naming the column, the settings and why they cannot apply.
    """
    built: dict[str, set[str]] = {}
    for expectation in expectations:
        kind = expectation["meta"]["retrainer"]["kind"]
        kwargs = expectation["kwargs"]
        names = [kwargs["column"]] if "column" in kwargs else []
        if kind == "columns":
            names = list(kwargs.get("column_set", []))
        for name in names:
            built.setdefault(name, set()).add(kind)
    required = set(required_columns(columns, rules))
    for name, override in rules.columns.items():
        if override.ignore:
            continue
        relative = [k for k in ("margin", "extra_values") if k in override.model_fields_set]
        if relative and name not in profile.profiles:
            raise SuiteError(
                f"validation.columns.{name}: {', '.join(relative)} cannot apply: the column is "
                "not in the reference data, so there is no reference range or value set to "
                "widen; spell it out (min_value/max_value, allowed_values)"
            )
        for kind, settings in _override_needs(override).items():
            if kind in built.get(name, set()):
                continue
            if rules.is_dropped(kind, name):
                why = f"{kind} is dropped for this column"
            elif name not in required:
                why = (
                    "the column is not one the config uses (columns.id, timestamp, numeric, "
                    "categorical, segments), so only its presence in the reference schema is "
                    "checked"
                )
            else:
                why = next(
                    (n.split(": ", 1)[1] for n in notes if n.startswith(f"{name}: ")),
                    f"the suite has no {kind} check for it",
                )
                if name not in profile.profiles:
                    why = (
                        "the column is not in the reference data, so there is no "
                        f"reference to derive a {kind} check from; spell it out "
                        "(allowed_values, min_value/max_value, max_null_share) or use "
                        "extra_expectations"
                    )
            raise SuiteError(
                f"validation.columns.{name}: {', '.join(settings)} cannot apply: {why}"
            )


def _numeric_range(
    name: str, column: ColumnProfile, rules: ValidationSection
) -> tuple[float | None, float | None, dict[str, Any]] | None:
    override = rules.columns.get(name)
    low_level, high_level = rules.numeric.quantiles
    q_low, q_high = column.quantile(low_level), column.quantile(high_level)
    explicit_low = override.min_value if override else None
    explicit_high = override.max_value if override else None
    if (q_low is None or q_high is None) and explicit_low is None and explicit_high is None:
        return None
    margin = override.margin if override and override.margin is not None else rules.numeric.margin
    low = high = None
    details: dict[str, Any] = {"quantiles": [low_level, high_level], "margin": margin}
    if q_low is not None and q_high is not None:
        span = q_high - q_low
        if span <= 0:  # a constant column: allow a relative wiggle
            span = abs(q_high) or 1.0
        low, high = q_low - margin * span, q_high + margin * span
        minimum = column.quantile(0.0)
        if minimum is not None and minimum >= 0 and low < 0:
            low = 0.0  # never negative in the reference: stays non-negative
        details["reference"] = [_round(q_low), _round(q_high)]
    if explicit_low is not None:
        low = explicit_low
        details["explicit_min"] = True
    if explicit_high is not None:
        high = explicit_high
        details["explicit_max"] = True
    if low is not None and high is not None and low >= high:
        raise SuiteError(
            f"validation.columns.{name}: the range [{low:g}, {high:g}] is empty (an explicit "
            "bound crosses the reference-derived one; set both min_value and max_value)"
        )
    return (
        None if low is None else _round(low),
        None if high is None else _round(high),
        details,
    )


def build_suite(
    profile: ReferenceProfile,
    columns: ColumnsSection,
    rules: ValidationSection,
    *,
    name: str,
    source: dict[str, Any] | None = None,
) -> ValidationSuite:
    """Derive the expectations for a reference profile under the ``validation`` rules.

    Args:
        profile: Statistics of the reference data.
        columns: The config's column roles.
        rules: The ``validation`` section.
        name: Suite name.
        source: Where the reference came from (kept in the suite's meta and reported).

    Returns:
        The suite.

    Raises:
        SuiteError: When an override names an unknown column or does not fit its column.
    """
    _check_overrides(profile, columns, rules)
    expectations: list[dict[str, Any]] = []
    notes: list[str] = []
    required = required_columns(columns, rules)
    ignored = {c for c, o in rules.columns.items() if o.ignore}

    # table: required columns (grouped by severity) and the whole column set
    if not rules.is_dropped("columns"):
        groups: dict[str, list[str]] = {}
        for column in required:
            if rules.is_dropped("columns", column):
                continue
            groups.setdefault(rules.severity_of("columns", column), []).append(column)
        for severity, names in sorted(groups.items()):
            expectations.append(
                _expectation(
                    COLUMNS_MATCH_SET,
                    {"column_set": names, "exact_match": False},
                    "columns",
                    severity,
                )
            )
    if not rules.is_dropped("column_set"):
        reference_set = [c for c in profile.columns if c not in ignored]
        expectations.append(
            _expectation(
                COLUMNS_MATCH_SET,
                {"column_set": reference_set, "exact_match": True},
                "column_set",
                rules.severity_of("column_set"),
                required=required,
            )
        )

    numeric = set(columns.numeric)
    categorical = [*columns.categorical, *[s for s in columns.segments if s not in numeric]]
    categorical = list(dict.fromkeys(c for c in categorical if c not in numeric))
    strict_nulls = {columns.id, columns.timestamp}

    for column in required:
        stats = profile.profiles.get(column)
        override = rules.columns.get(column)
        if stats is None:
            explicit = _explicit_expectations(column, override, columns, rules)
            expectations += explicit
            notes.append(
                f"{column}: not in the reference data; only its presence"
                + (" and the explicit overrides are checked" if explicit else " is checked")
            )
            continue

        if not rules.is_dropped("dtype", column):
            expectations.append(
                _expectation(
                    DTYPE_IN_LIST,
                    {"column": column, "type_list": accepted_dtypes(stats)},
                    "dtype",
                    rules.severity_of("dtype", column),
                    family=stats.family,
                    reference_dtype=stats.dtype,
                )
            )

        if not rules.is_dropped("not_null", column):
            if override is not None and override.max_null_share is not None:
                allowed = override.max_null_share
            elif column in strict_nulls:
                allowed = stats.null_share
            else:
                allowed = stats.null_share + rules.nulls.max_increase
            expectation = _not_null_expectation(
                column, allowed, rules, reference_null_share=stats.null_share
            )
            if expectation is not None:
                expectations.append(expectation)

        if column in numeric and not rules.is_dropped("range", column):
            bounds = _numeric_range(column, stats, rules)
            if bounds is None:
                notes.append(f"{column}: no numeric values in the reference; no range check")
            else:
                low, high, details = bounds
                expectations.append(
                    _range_expectation(column, low, high, override, rules, **details)
                )

        if column in categorical and not rules.is_dropped("categories", column):
            values: list[Any] | None = None
            if override is not None and override.allowed_values is not None:
                values = list(override.allowed_values)
            elif stats.categories is not None and (stats.distinct or 0) <= (
                rules.categories.max_categories
            ):
                values = [value for value, _share in stats.categories]
                if override is not None:
                    values += [v for v in override.extra_values if v not in values]
            if values is None:
                notes.append(
                    f"{column}: {stats.distinct} distinct values in the reference (more than "
                    f"categories.max_categories = {rules.categories.max_categories}); no "
                    "value-set check"
                )
            else:
                explicit = override is not None and override.allowed_values is not None
                expectations.append(
                    _categories_expectation(column, values, override, rules, explicit)
                )

    id_column = columns.id
    if (
        id_column in required
        and id_column in profile.profiles
        and not rules.is_dropped("unique_id")
    ):
        share = profile.id_duplicate_share
        if share is not None and share > 0.001:
            notes.append(
                f"{id_column}: {share:.1%} of the reference ids repeat within a day; no "
                "uniqueness check"
            )
        else:
            expectations.append(
                _expectation(
                    UNIQUE, {"column": id_column}, "unique_id", rules.severity_of("unique_id")
                )
            )

    rows_per_day: list[float] | None = None
    if not rules.is_dropped("row_count"):
        low = high = None
        if profile.daily_rows:
            q_low, q_high = profile.daily_row_quantiles(0.1, 0.9)
            low = (1 - rules.row_count.margin) * q_low
            high = (1 + rules.row_count.margin) * q_high
        if rules.row_count.min_rows is not None:
            low = float(rules.row_count.min_rows)
        if rules.row_count.max_rows is not None:
            high = float(rules.row_count.max_rows)
        if low is None and high is None:
            low = 1.0  # nothing known about volumes: at least not empty
            notes.append("no daily row counts in the reference: only an empty batch fails")
        rows_per_day = [
            None if low is None else round(low, 3),
            None if high is None else round(high, 3),
        ]
        expectations.append(
            _expectation(
                ROW_COUNT_BETWEEN,
                {
                    "min_value": {"$PARAMETER": PARAM_MIN_ROWS},
                    "max_value": {"$PARAMETER": PARAM_MAX_ROWS},
                },
                "row_count",
                rules.severity_of("row_count"),
                rows_per_day=rows_per_day,
            )
        )

    timestamp = columns.timestamp
    stamp_profile = profile.profiles.get(timestamp)
    timezone = stamp_profile.timezone if stamp_profile else None
    if stamp_profile is not None and stamp_profile.family == "datetime" and timestamp in required:
        if not rules.is_dropped("freshness"):
            share = rules.timestamps.max_outside_share
            kwargs = {
                "column": timestamp,
                "min_value": {"$PARAMETER": PARAM_EARLIEST},
                "max_value": {"$PARAMETER": PARAM_LATEST},
            }
            if share > 0:
                kwargs["mostly"] = round(1.0 - share, 6)
            expectations.append(
                _expectation(
                    BETWEEN,
                    kwargs,
                    "freshness",
                    rules.severity_of("freshness"),
                    tolerance_hours=rules.timestamps.tolerance_hours,
                    max_outside_share=share,
                )
            )
        if not rules.is_dropped("monotonic_dates"):
            # a share of late events is tolerated (one replayed row must not block a day);
            # a partition older than the newest accepted one fails as a whole
            share = rules.timestamps.max_late_share
            kwargs = {"column": timestamp, "min_value": {"$PARAMETER": PARAM_NOT_BEFORE}}
            if share > 0:
                kwargs["mostly"] = round(1.0 - share, 6)
            expectations.append(
                _expectation(
                    BETWEEN,
                    kwargs,
                    "monotonic_dates",
                    rules.severity_of("monotonic_dates"),
                    tolerance_hours=rules.timestamps.tolerance_hours,
                    max_late_share=share,
                )
            )
    elif timestamp in required:
        notes.append(
            f"{timestamp}: not a datetime column in the reference; no freshness or "
            "monotonic-dates check"
        )

    for column, override in rules.columns.items():
        if override.ignore:
            continue
        for extra in override.extra_expectations:
            expectations.append(
                _expectation(
                    extra.type,
                    {**extra.kwargs, "column": column},
                    "extra",
                    extra.severity,
                    explicit=True,
                )
            )
    _check_overrides_applied(expectations, notes, profile, columns, rules)

    meta = {
        "great_expectations_version": _gx_version(),
        "retrainer": {
            "format": SUITE_FORMAT,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "source": dict(source or {}),
            "rules_fingerprint": rules_fingerprint(columns, rules),
            "id_column": id_column,
            "timestamp_column": timestamp,
            "timestamp_timezone": timezone,
            "timestamp_tolerance_hours": rules.timestamps.tolerance_hours,
            "rows_per_day": rows_per_day,
            "notes": notes,
            "profile": profile.to_dict(),
        },
    }
    return ValidationSuite(name=name, expectations=expectations, meta=meta)
