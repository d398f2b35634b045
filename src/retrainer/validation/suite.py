"""Expectation suites from a reference profile and the ``validation`` rules.

A :class:`ValidationSuite` is a Great Expectations suite in its JSON form (the format
``ExpectationSuite.to_json_dict()`` writes and ``ExpectationSuite(**data)`` reads), plus the
reference profile it was derived from in ``meta["retrainer"]``. Building it needs neither GX
nor a data context, so it is fast and testable; :mod:`retrainer.validation.runner` turns it
into a GX suite when a batch is validated.

Two things GX cannot express live beside the expectations, in ``meta["retrainer"]``:

* **tolerances judged with the batch size** — row-wise expectations (nulls, ranges, categories,
  event times) carry no GX ``mostly``: GX counts the unexpected values and
  :mod:`retrainer.validation.tolerance` decides with a binomial test whether the share is
  significantly above the tolerated one (``meta.retrainer.kind`` and the tolerated share sit in
  each expectation's meta);
* **Retrainer's own checks** (``checks``): the unit-change check on the typical magnitude of
  numeric columns (:mod:`retrainer.validation.scale`).

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

from retrainer.config.validation import CATEGORY_KEYS, RANGE_KEYS, SCALE_KEYS
from retrainer.validation.profile import ColumnProfile, ReferenceProfile

if TYPE_CHECKING:
    from retrainer.config.core import ColumnsSection
    from retrainer.config.validation import ColumnOverride, ValidationSection

SUITE_FORMAT = 2

# GX expectation types used by the suites
COLUMNS_MATCH_SET = "expect_table_columns_to_match_set"
DTYPE_IN_LIST = "expect_column_values_to_be_in_dtype_list"  # see retrainer.validation.gx_ext
NOT_NULL = "expect_column_values_to_not_be_null"
BETWEEN = "expect_column_values_to_be_between"
IN_SET = "expect_column_values_to_be_in_set"
UNIQUE = "expect_column_values_to_be_unique"
ROW_COUNT_BETWEEN = "expect_table_row_count_to_be_between"
SCALE_CHECK = "retrainer_column_scale_matches_reference"  # Retrainer's own (not GX)

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

    @property
    def checks(self) -> list[dict[str, Any]]:
        """Retrainer's own checks (run beside GX; see the module docstring)."""
        return list(self.retrainer.get("checks", []))

    @property
    def alpha(self) -> float:
        """Significance of the tolerance tests."""
        return float(self.retrainer.get("alpha", 0.001))

    def kinds(self) -> dict[str, int]:
        """Number of expectations (and Retrainer checks) per kind."""
        counts: dict[str, int] = {}
        for expectation in [*self.expectations, *self.checks]:
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

    @property
    def hash(self) -> str:
        """Hash of the expectations and checks (same profile and rules give the same hash)."""
        return _fingerprint(
            {"name": self.name, "expectations": self.expectations, "checks": self.checks}
        )

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
        ranged = ({*RANGE_KEYS, *SCALE_KEYS}) & override.model_fields_set
        if ranged and name not in numeric:
            raise SuiteError(
                f"validation.columns.{name}: {', '.join(sorted(ranged))} only apply to numeric "
                "columns (columns.numeric)"
            )
        valued = set(CATEGORY_KEYS) & override.model_fields_set
        if valued and name not in categorical:
            raise SuiteError(
                f"validation.columns.{name}: {', '.join(sorted(valued))} only apply to "
                "categorical or segment columns"
            )


# -- expectation builders --------------------------------------------------------------------
def _not_null_expectation(
    column: str, allowed: float, rules: ValidationSection, **details: Any
) -> dict[str, Any] | None:
    """Nulls of ``column`` within the tolerated share; None when any share is allowed."""
    allowed = min(1.0, round(allowed, 6))
    if allowed >= 1.0:
        return None
    return _expectation(
        NOT_NULL,
        {"column": column},
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
    return _expectation(
        BETWEEN,
        {"column": column, "min_value": low, "max_value": high},
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
    return _expectation(
        IN_SET,
        {"column": column, "value_set": sorted(values, key=str)},
        "categories",
        rules.severity_of("categories", column),
        max_unseen_share=share,
        flood_share=max(share, rules.categories.flood_share),
        flood_severity=rules.severity_of("category_flood", column),
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
        ("scale", SCALE_KEYS),
    ):
        named = [k for k in keys if k in given]
        if kind == "not_null" and (override.max_null_share or 0.0) >= 1.0:
            named = []  # "any share of nulls": no check is the intended outcome
        if named:
            needs[kind] = named
    for kind in override.severity:
        target = "categories" if kind == "category_flood" else kind
        needs.setdefault(target, []).append(f"severity.{kind}")
    return needs


def _built_kinds(expectations: list[dict[str, Any]]) -> dict[str, set[str]]:
    """Column → kinds of the expectations (and checks) built for it."""
    built: dict[str, set[str]] = {}
    for expectation in expectations:
        kind = expectation["meta"]["retrainer"]["kind"]
        kwargs = expectation["kwargs"]
        names = [kwargs["column"]] if "column" in kwargs else []
        if kind == "columns":
            names = list(kwargs.get("column_set", []))
        for name in names:
            built.setdefault(name, set()).add(kind)
    return built


def _check_overrides_applied(
    expectations: list[dict[str, Any]],
    notes: list[str],
    profile: ReferenceProfile,
    columns: ColumnsSection,
    rules: ValidationSection,
) -> None:
    """Every setting of a column override must shape an expectation (or check) of the suite.

    Raises:
        SuiteError: Naming the column, the settings and why they cannot apply.
    """
    built = _built_kinds(expectations)
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
            why = _why_not_built(name, kind, notes, profile, required, rules)
            raise SuiteError(
                f"validation.columns.{name}: {', '.join(settings)} cannot apply: {why}"
            )


def _why_not_built(
    name: str,
    kind: str,
    notes: list[str],
    profile: ReferenceProfile,
    required: set[str],
    rules: ValidationSection,
) -> str:
    if rules.is_dropped(kind, name):
        return f"{kind} is dropped for this column"
    if name not in required:
        return (
            "the column is not one the config uses (columns.id, timestamp, numeric, "
            "categorical, segments), so only its presence in the reference schema is checked"
        )
    if name not in profile.profiles:
        return (
            "the column is not in the reference data, so there is no reference to derive a "
            f"{kind} check from; spell it out (allowed_values, min_value/max_value, "
            "max_null_share) or use extra_expectations"
        )
    return next(
        (n.split(": ", 1)[1] for n in notes if n.startswith(f"{name}: ")),
        f"the suite has no {kind} check for it",
    )


# -- numeric plausibility bounds -------------------------------------------------------------
def _uses_log_space(column: ColumnProfile, low: float, high: float, mode: str) -> bool:
    minimum = column.quantile(0.0)
    if mode == "never" or minimum is None or minimum <= 0 or low <= 0:
        return False
    return mode == "always" or high / low >= 10


def _plausible_bounds(
    column: ColumnProfile, rules: ValidationSection, margin: float
) -> tuple[float, float, dict[str, Any]] | None:
    """Pooled extreme quantiles widened by ``margin`` spreads (and a magnitude floor).

    Linear columns widen by ``max(margin × IQR, relative_margin × magnitude)``; a column that
    starts at (or near) zero in the reference stays non-negative. Log-space columns widen
    ``log10`` values by ``max(margin × IQR of log10, min_decades)``.
    """
    numeric = rules.numeric
    low_level, high_level = numeric.quantiles
    a, b = column.quantile(low_level), column.quantile(high_level)
    q25, q75 = column.quantile(0.25), column.quantile(0.75)
    if a is None or b is None or q25 is None or q75 is None:
        return None
    details: dict[str, Any] = {
        "quantiles": [low_level, high_level],
        "reference": [_round(a), _round(b)],
        "margin": margin,
    }
    if _uses_log_space(column, a, b, numeric.log_space):
        spread = math.log10(q75 / q25) if q25 > 0 else 0.0
        widen = max(margin * spread, numeric.min_decades)
        details |= {"space": "log10", "widen_decades": _round(widen)}
        return 10 ** (math.log10(a) - widen), 10 ** (math.log10(b) + widen), details
    magnitude = max(abs(a), abs(b))
    widen = max(margin * (q75 - q25), numeric.relative_margin * magnitude) or 1.0
    low, high = a - widen, b + widen
    minimum = column.quantile(0.0)
    if numeric.keep_sign and minimum is not None and minimum >= 0 and low < 0:
        low = 0.0  # never negative in the reference: a sign change is not drift
        details["non_negative"] = True
    details |= {"space": "linear", "widen": _round(widen)}
    return low, high, details


def _numeric_range(
    name: str, column: ColumnProfile, rules: ValidationSection
) -> tuple[float | None, float | None, dict[str, Any]] | None:
    override = rules.columns.get(name)
    explicit_low = override.min_value if override else None
    explicit_high = override.max_value if override else None
    margin = override.margin if override and override.margin is not None else rules.numeric.margin
    derived = _plausible_bounds(column, rules, margin)
    if derived is None and explicit_low is None and explicit_high is None:
        return None
    low, high, details = derived if derived is not None else (None, None, {"margin": margin})
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


def _single_signed(column: ColumnProfile) -> bool:
    """Whether (at least 99% of) the reference values share one sign."""
    low, high = column.quantile(0.01), column.quantile(0.99)
    return low is not None and high is not None and (low >= 0 or high <= 0)


def _scale_check(
    name: str, column: ColumnProfile, rules: ValidationSection, notes: list[str]
) -> dict[str, Any] | None:
    scale = column.log_scale
    if scale is None:
        notes.append(f"{name}: no non-zero values in the reference; no scale check")
        return None
    if not _single_signed(column):
        notes.append(
            f"{name}: changes sign in the reference (its magnitude is no unit); no scale check"
        )
        return None
    override = rules.columns.get(name)
    ratio = (
        override.max_scale_ratio
        if override is not None and override.max_scale_ratio is not None
        else rules.scale.max_ratio
    )
    return _expectation(
        SCALE_CHECK,
        {"column": name},
        "scale",
        rules.severity_of("scale", name),
        median=scale.median,
        low=scale.low,
        high=scale.high,
        sd=scale.sd,
        max_ratio=ratio,
        min_rows=rules.scale.min_rows,
    )


# -- per-kind builders ------------------------------------------------------------------------
def _table_expectations(
    profile: ReferenceProfile, required: list[str], rules: ValidationSection
) -> list[dict[str, Any]]:
    """Required columns (grouped by severity) and the whole column set."""
    out: list[dict[str, Any]] = []
    ignored = {c for c, o in rules.columns.items() if o.ignore}
    if not rules.is_dropped("columns"):
        groups: dict[str, list[str]] = {}
        for column in required:
            if not rules.is_dropped("columns", column):
                groups.setdefault(rules.severity_of("columns", column), []).append(column)
        for severity, names in sorted(groups.items()):
            out.append(
                _expectation(
                    COLUMNS_MATCH_SET,
                    {"column_set": names, "exact_match": False},
                    "columns",
                    severity,
                )
            )
    if not rules.is_dropped("column_set"):
        reference_set = [c for c in profile.columns if c not in ignored]
        out.append(
            _expectation(
                COLUMNS_MATCH_SET,
                {"column_set": reference_set, "exact_match": True},
                "column_set",
                rules.severity_of("column_set"),
                required=required,
            )
        )
    return out


def _null_tolerance(
    column: str, stats: ColumnProfile, columns: ColumnsSection, rules: ValidationSection
) -> float:
    override = rules.columns.get(column)
    if override is not None and override.max_null_share is not None:
        return override.max_null_share
    if column in (columns.id, columns.timestamp):
        return stats.null_share
    return stats.null_share + rules.nulls.max_increase


def _category_values(
    column: str, stats: ColumnProfile, rules: ValidationSection
) -> tuple[list[Any] | None, bool]:
    override = rules.columns.get(column)
    if override is not None and override.allowed_values is not None:
        return list(override.allowed_values), True
    if stats.categories is None or (stats.distinct or 0) > rules.categories.max_categories:
        return None, False
    values = [value for value, _share in stats.categories]
    if override is not None:
        values += [v for v in override.extra_values if v not in values]
    return values, False


def _column_expectations(
    column: str,
    stats: ColumnProfile,
    columns: ColumnsSection,
    rules: ValidationSection,
    notes: list[str],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Dtype, nulls, range, categories of one column; and its Retrainer checks."""
    out: list[dict[str, Any] | None] = []
    checks: list[dict[str, Any]] = []
    override = rules.columns.get(column)
    if not rules.is_dropped("dtype", column):
        out.append(
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
        allowed = _null_tolerance(column, stats, columns, rules)
        out.append(
            _not_null_expectation(column, allowed, rules, reference_null_share=stats.null_share)
        )
    if column in columns.numeric and not rules.is_dropped("range", column):
        bounds = _numeric_range(column, stats, rules)
        if bounds is None:
            notes.append(f"{column}: no numeric values in the reference; no range check")
        else:
            low, high, details = bounds
            out.append(_range_expectation(column, low, high, override, rules, **details))
    if column in columns.numeric and not rules.is_dropped("scale", column):
        check = _scale_check(column, stats, rules, notes)
        if check is not None:
            checks.append(check)
    categorical = {*columns.categorical, *columns.segments} - set(columns.numeric)
    if column in categorical and not rules.is_dropped("categories", column):
        values, explicit = _category_values(column, stats, rules)
        if values is None:
            notes.append(
                f"{column}: {stats.distinct} distinct values in the reference (more than "
                f"categories.max_categories = {rules.categories.max_categories}); no "
                "value-set check"
            )
        else:
            out.append(_categories_expectation(column, values, override, rules, explicit))
    return [e for e in out if e is not None], checks


def _unique_id_expectations(
    profile: ReferenceProfile,
    columns: ColumnsSection,
    rules: ValidationSection,
    required: list[str],
    notes: list[str],
) -> list[dict[str, Any]]:
    id_column = columns.id
    if (
        id_column not in required
        or id_column not in profile.profiles
        or rules.is_dropped("unique_id")
    ):
        return []
    share = profile.id_duplicate_share
    if share is not None and share > 0.001:
        notes.append(
            f"{id_column}: {share:.1%} of the reference ids repeat within a day; no "
            "uniqueness check"
        )
        return []
    return [
        _expectation(UNIQUE, {"column": id_column}, "unique_id", rules.severity_of("unique_id"))
    ]


def row_bounds(
    profile: ReferenceProfile, rules: ValidationSection
) -> tuple[float | None, float | None]:
    """Rows per day a batch may have: Poisson-aware bounds around the reference's days."""
    from scipy.stats import poisson

    counts = rules.row_count
    low = high = None
    if any(v > 0 for v in profile.daily_rows.values()):
        q_low, q_high = profile.daily_row_quantiles(0.05, 0.95)
        low = max(1.0, math.floor(min((1 - counts.margin) * q_low, poisson.ppf(5e-4, q_low))))
        high = float(math.ceil(max(counts.max_growth * q_high, poisson.isf(5e-4, q_high))))
    if counts.min_rows is not None:
        low = float(counts.min_rows)
    if counts.max_rows is not None:
        high = float(counts.max_rows)
    return low, high


def _row_count_expectation(
    profile: ReferenceProfile, rules: ValidationSection, notes: list[str]
) -> tuple[list[dict[str, Any]], list[float | None] | None]:
    if rules.is_dropped("row_count"):
        return [], None
    low, high = row_bounds(profile, rules)
    if low is None and high is None:
        low = 1.0  # nothing known about volumes: at least not empty
        notes.append("no daily row counts in the reference: only an empty batch fails")
    rows_per_day = [low, high]
    expectation = _expectation(
        ROW_COUNT_BETWEEN,
        {
            "min_value": {"$PARAMETER": PARAM_MIN_ROWS},
            "max_value": {"$PARAMETER": PARAM_MAX_ROWS},
        },
        "row_count",
        rules.severity_of("row_count"),
        rows_per_day=rows_per_day,
    )
    return [expectation], rows_per_day


def _time_expectations(
    profile: ReferenceProfile,
    columns: ColumnsSection,
    rules: ValidationSection,
    required: list[str],
    notes: list[str],
) -> list[dict[str, Any]]:
    """Freshness (events inside the partition's day) and monotonic partition dates."""
    timestamp = columns.timestamp
    stamp_profile = profile.profiles.get(timestamp)
    if timestamp not in required:
        return []
    if stamp_profile is None or stamp_profile.family != "datetime":
        notes.append(
            f"{timestamp}: not a datetime column in the reference; no freshness or "
            "monotonic-dates check"
        )
        return []
    out = []
    tolerance = rules.timestamps.tolerance_hours
    if not rules.is_dropped("freshness"):
        out.append(
            _expectation(
                BETWEEN,
                {
                    "column": timestamp,
                    "min_value": {"$PARAMETER": PARAM_EARLIEST},
                    "max_value": {"$PARAMETER": PARAM_LATEST},
                },
                "freshness",
                rules.severity_of("freshness"),
                tolerance_hours=tolerance,
                max_outside_share=rules.timestamps.max_outside_share,
            )
        )
    if not rules.is_dropped("monotonic_dates"):
        # a share of late events is tolerated (one replayed row must not block a day);
        # a partition older than the newest accepted one fails as a whole
        out.append(
            _expectation(
                BETWEEN,
                {"column": timestamp, "min_value": {"$PARAMETER": PARAM_NOT_BEFORE}},
                "monotonic_dates",
                rules.severity_of("monotonic_dates"),
                tolerance_hours=tolerance,
                max_late_share=rules.timestamps.max_late_share,
            )
        )
    return out


def _extra_expectations(rules: ValidationSection) -> list[dict[str, Any]]:
    return [
        _expectation(
            extra.type,
            {**extra.kwargs, "column": column},
            "extra",
            extra.severity,
            explicit=True,
        )
        for column, override in rules.columns.items()
        if not override.ignore
        for extra in override.extra_expectations
    ]


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
    notes: list[str] = []
    required = required_columns(columns, rules)
    expectations = _table_expectations(profile, required, rules)
    checks: list[dict[str, Any]] = []
    for column in required:
        stats = profile.profiles.get(column)
        if stats is None:
            explicit = _explicit_expectations(column, rules.columns.get(column), columns, rules)
            expectations += explicit
            notes.append(
                f"{column}: not in the reference data; only its presence"
                + (" and the explicit overrides are checked" if explicit else " is checked")
            )
            continue
        built, own = _column_expectations(column, stats, columns, rules, notes)
        expectations += built
        checks += own
    expectations += _unique_id_expectations(profile, columns, rules, required, notes)
    row_count, rows_per_day = _row_count_expectation(profile, rules, notes)
    expectations += row_count
    expectations += _time_expectations(profile, columns, rules, required, notes)
    expectations += _extra_expectations(rules)
    _check_overrides_applied([*expectations, *checks], notes, profile, columns, rules)
    if profile.excluded_days:
        notes.append(
            f"{len(profile.excluded_days)} reference day(s) left out as broken: "
            + "; ".join(f"{d}: {why}" for d, why in list(profile.excluded_days.items())[:5])
            + (" ..." if len(profile.excluded_days) > 5 else "")
        )
    stamp_profile = profile.profiles.get(columns.timestamp)
    meta = {
        "great_expectations_version": _gx_version(),
        "retrainer": {
            "format": SUITE_FORMAT,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "source": dict(source or {}),
            "rules_fingerprint": rules_fingerprint(columns, rules),
            "alpha": rules.alpha,
            "id_column": columns.id,
            "timestamp_column": columns.timestamp,
            "timestamp_timezone": stamp_profile.timezone if stamp_profile else None,
            "timestamp_tolerance_hours": rules.timestamps.tolerance_hours,
            "rows_per_day": rows_per_day,
            "checks": checks,
            "notes": notes,
            "profile": profile.to_dict(),
        },
    }
    return ValidationSuite(name=name, expectations=expectations, meta=meta)
