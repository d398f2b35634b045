"""Infer a ``retrainer.yaml`` from a data sample: column roles, the task, the estimator.

Pure: a :class:`~retrainer.data.sampling.DataSample` in, an :class:`InferredConfig` out;
:func:`render_config` turns it into commented YAML (a Jinja2 template next to this module).
Every decision that is a guess carries a note, written as a comment on its line.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import jinja2
import pandas as pd
import pyarrow as pa
import yaml

from retrainer.data.importer import LABEL_TIME, ROW_ID
from retrainer.data.sampling import DataSample
from retrainer.data.timestamps import TimeParseError, date_like_share, read_times

LOW_CARDINALITY_INT = 20  # at most this many distinct integers: maybe a code
MAX_CLASSES = 20  # integer targets with at most this many values: multiclass
SEGMENT_LEVELS = (2, 10)
SEGMENT_MIN_SHARE = 0.05
MAX_SEGMENTS = 3
NEAR_UNIQUE = 0.5  # distinct/non-null above this (and > 50 values): an id or free text
FREE_TEXT_LENGTH = 30
MOSTLY_EMPTY = 0.95
DATE_LIKE = 0.9
HOLDOUT_ROWS = 250  # holdout rows aimed at (the gate needs gates.holdout.min_rows = 200)
HOLDOUT_MIN_ROWS = 200
HOLDOUT_MINORITY = 25  # binary: rows of the rarer class aimed at (the gate needs 20)
ESTIMATORS = {
    "binary": "sklearn.ensemble.HistGradientBoostingClassifier",
    "multiclass": "sklearn.ensemble.HistGradientBoostingClassifier",
    "regression": "sklearn.ensemble.HistGradientBoostingRegressor",
}
ESTIMATOR_PARAMS = {"max_iter": 200, "learning_rate": 0.05}

_ID_NAME = re.compile(r"(^|_)(id|key|uuid|guid)$|id$", re.IGNORECASE)
_TIME_NAME = re.compile(r"time|date|timestamp|(^|_)ts$|_at$|created|event", re.IGNORECASE)


class InferError(ValueError):
    """The sample cannot give a config (missing target, one class ...); the message says why."""


@dataclass(frozen=True)
class Choice:
    """One decision: its value and, when it was a guess or needs a word, a note."""

    value: Any
    note: str | None = None


@dataclass(frozen=True)
class ColumnProfile:
    """What the sample says about one column."""

    name: str
    kind: str  # integer, float, boolean, text, datetime or other
    type: str
    rows: int
    non_null: int
    distinct: int
    smallest_share: float  # share of the rarest value among the non-null ones
    mean_length: float
    date_like: float  # share of texts that read as dates/times
    example: Any = None

    @property
    def null_share(self) -> float:
        """Share of sampled rows without a value."""
        return 1 - self.non_null / self.rows if self.rows else 1.0


_KINDS: list[tuple[Callable[[pa.DataType], bool], str]] = [
    (pa.types.is_boolean, "boolean"),
    (pa.types.is_integer, "integer"),
    (pa.types.is_floating, "float"),
    (pa.types.is_decimal, "float"),
    (pa.types.is_string, "text"),
    (pa.types.is_large_string, "text"),
    (pa.types.is_timestamp, "datetime"),
    (pa.types.is_date, "datetime"),
]


def column_kind(kind: pa.DataType) -> str:
    """The kind of a column: integer, float, boolean, text, datetime or other."""
    return next((name for matches, name in _KINDS if matches(kind)), "other")


def profile_column(name: str, values: pd.Series, kind: pa.DataType) -> ColumnProfile:
    """Counts, distinct values and text traits of one sampled column."""
    present = values.dropna()
    hashable = present.astype(str) if column_kind(kind) == "other" else present
    counts = hashable.value_counts()
    text = column_kind(kind) == "text"
    return ColumnProfile(
        name=name,
        kind=column_kind(kind),
        type=str(kind),
        rows=len(values),
        non_null=len(present),
        distinct=len(counts),
        smallest_share=float(counts.iloc[-1] / len(present)) if len(present) else 0.0,
        mean_length=float(present.astype(str).str.len().mean()) if text and len(present) else 0,
        date_like=date_like_share(present) if text and len(present) else 0.0,
        example=counts.index[0] if len(counts) else None,
    )


def profile_frame(frame: pd.DataFrame, types: dict[str, pa.DataType]) -> dict[str, ColumnProfile]:
    """A profile per column, in column order."""
    return {c: profile_column(c, frame[c], types[c]) for c in frame.columns}


# -- features ----------------------------------------------------------------------------

Role = tuple[str, str | None]  # ("numeric" | "categorical" | "out", note)


def _integer_role(p: ColumnProfile) -> Role:
    if p.distinct <= LOW_CARDINALITY_INT:
        return "numeric", (
            f"guessed: {p.distinct} distinct integer values - numeric; if they are codes, "
            "store them as text and move the column to categorical"
        )
    return "numeric", None


def _float_role(p: ColumnProfile) -> Role:
    return "numeric", None


def _boolean_role(p: ColumnProfile) -> Role:
    return "out", (
        "true/false values: training cannot encode boolean columns yet; store them as text "
        "('yes'/'no') and list the column under categorical"
    )


def _text_role(p: ColumnProfile) -> Role:
    if p.date_like >= DATE_LIKE:
        return "out", "date/time text, not a feature"
    if p.distinct > 50 and p.distinct / p.non_null > NEAR_UNIQUE:
        return "out", (
            f"near-unique text ({p.distinct:,} distinct values in {p.non_null:,} sampled rows): "
            "an id or free text"
        )
    if p.distinct > 100 and p.mean_length > FREE_TEXT_LENGTH:
        return "out", f"free text (mean length {p.mean_length:.0f} characters)"
    if p.distinct > 50:
        return "categorical", (
            f"guessed: {p.distinct} distinct values - categorical; leave it out if it is free text"
        )
    return "categorical", None


def _datetime_role(p: ColumnProfile) -> Role:
    return "out", "another date/time column, not a feature"


def _other_role(p: ColumnProfile) -> Role:
    hint = " (equal-length vectors: list it under columns.embeddings)" if "list" in p.type else ""
    return "out", f"{p.type} values are not a feature type{hint}"


_ROLES: dict[str, Callable[[ColumnProfile], Role]] = {
    "integer": _integer_role,
    "float": _float_role,
    "boolean": _boolean_role,
    "text": _text_role,
    "datetime": _datetime_role,
    "other": _other_role,
}


def feature_role(p: ColumnProfile) -> Role:
    """Whether a column is a numeric or categorical feature, or left out (and why)."""
    if p.non_null == 0:
        return "out", "empty in the sample"
    if p.null_share >= MOSTLY_EMPTY:
        return "out", f"mostly empty ({p.null_share:.0%} of the sampled rows)"
    if p.distinct == 1:
        return "out", f"constant ({p.example!r} in every sampled row)"
    return _ROLES[p.kind](p)


def suggest_segments(profiles: list[ColumnProfile]) -> list[Choice]:
    """Text columns with 2-10 levels where every level holds a reasonable share of rows."""
    low, high = SEGMENT_LEVELS
    fits = [
        p
        for p in profiles
        if p.kind == "text" and low <= p.distinct <= high and p.smallest_share >= SEGMENT_MIN_SHARE
    ]
    fits.sort(key=lambda p: -p.smallest_share)
    return [
        Choice(
            p.name,
            f"suggested: {p.distinct} levels, the smallest {p.smallest_share:.0%} of the rows",
        )
        for p in fits[:MAX_SEGMENTS]
    ]


# -- target --------------------------------------------------------------------------------


def _class_note(values: pd.Series, count: int) -> str:
    shown = ", ".join(str(v) for v in sorted(values.dropna().unique().tolist())[:8])
    more = ", ..." if count > 8 else ""
    return f"{count} classes in the sample: {shown}{more}"


def _integral(values: pd.Series) -> bool:
    present = values.dropna()
    return bool(((present % 1) == 0).all())


def infer_task(values: pd.Series, kind: pa.DataType, target: str) -> Choice:
    """The task: binary (2 values), multiclass (few discrete values) or regression.

    Raises:
        InferError: When the target is empty or has a single value.
    """
    present = values.dropna()
    count = present.nunique()
    if count == 0:
        raise InferError(f"--target {target}: no values in the sample")
    if count == 1:
        raise InferError(
            f"--target {target}: a single value ({present.iloc[0]!r}) in the {len(present):,} "
            "sampled rows: nothing to learn"
        )
    name = column_kind(kind)
    if count == 2 and (name in ("boolean", "text", "integer") or _integral(present)):
        return Choice("binary", _class_note(present, count))
    if name == "text":
        guess = "" if count <= MAX_CLASSES else "guessed: many classes - "
        return Choice("multiclass", guess + _class_note(present, count))
    discrete = name == "integer" or (name == "float" and _integral(present))
    if discrete and count <= MAX_CLASSES:
        return Choice(
            "multiclass",
            f"guessed: {count} distinct integer values - multiclass; use regression if it is "
            "a quantity (and HistGradientBoostingRegressor)",
        )
    if name in ("integer", "float"):
        return Choice("regression", None if name == "float" else f"{count:,} distinct integers")
    raise InferError(f"--target {target}: {kind} values cannot be learned")


# -- id and time ---------------------------------------------------------------------------


def _by_name(names: list[str], pattern: re.Pattern[str]) -> list[str]:
    """The names matching ``pattern`` first, the order kept otherwise."""
    return sorted(names, key=lambda n: not pattern.search(n))


def _pick(
    candidates: list[str], pattern: re.Pattern[str], what: tuple[str, str], sure: bool
) -> Choice | None:
    """The best-named candidate; a note says it was a guess, and which others there were.

    Args:
        candidates: Column names.
        pattern: Names that look right come first.
        what: The candidates in singular and plural, e.g. ``("date/time column", ...)``.
        sure: A single candidate is certain (no note).
    """
    if not candidates:
        return None
    ranked = _by_name(candidates, pattern)
    if len(ranked) == 1:
        return Choice(ranked[0], None if sure else f"guessed: the only {what[0]}")
    others = ", ".join(ranked[1:4]) + (", ..." if len(ranked) > 4 else "")
    return Choice(ranked[0], f"guessed: one of {len(ranked)} {what[1]} (also: {others})")


_TIME_COLUMNS = ("date/time column", "date/time columns")
_UNIQUE_COLUMNS = ("column with unique values", "columns with unique values")
_SHARED_COLUMNS = ("column shared by both tables", "columns shared by both tables")
_LABEL_TIMES = ("date/time column of the labels", "date/time columns of the labels")


def infer_timestamp(
    profiles: dict[str, ColumnProfile], hint: str | None, layout: bool, exclude: set[str]
) -> Choice:
    """The event-time column: a datetime column (or, in raw input, date/time text).

    Raises:
        InferError: When the hint names no column or no column holds times.
    """
    if hint is not None:
        if hint not in profiles:
            raise InferError(f"--timestamp {hint}: no such column (columns: {', '.join(profiles)})")
        return Choice(hint)
    times = [n for n, p in profiles.items() if p.kind == "datetime" and n not in exclude]
    texts = [n for n, p in profiles.items() if p.kind == "text" and p.date_like >= DATE_LIKE]
    candidates = times if layout else times + [n for n in texts if n not in exclude]
    choice = _pick(candidates, _TIME_NAME, _TIME_COLUMNS, sure=layout)
    if choice is None:
        raise InferError("no date/time column found: pass --timestamp COL")
    return choice


def infer_id(
    profiles: dict[str, ColumnProfile],
    hint: str | None,
    shared: list[str] | None,
    exclude: set[str],
) -> Choice:
    """The row id: the column the labels share with the features, or a unique column.

    Args:
        profiles: Feature columns.
        hint: ``--id``.
        shared: Label columns also in the features (daily layout); None for raw input.
        exclude: Columns with another role.

    Raises:
        InferError: When the hint names no usable column, or the labels share none.
    """
    if shared is not None:
        if hint is not None and hint not in shared:
            raise InferError(
                f"--id {hint}: not a column of both tables (shared: {', '.join(shared) or '-'})"
            )
        choice = _pick([hint] if hint else shared, _ID_NAME, _SHARED_COLUMNS, True)
        if choice is None:
            raise InferError(
                "the labels table shares no id column with the features table: pass --id COL"
            )
        return choice
    if hint is not None:
        if hint not in profiles:
            raise InferError(f"--id {hint}: no such column (columns: {', '.join(profiles)})")
        return Choice(hint)
    unique = [
        n
        for n, p in profiles.items()
        if n not in exclude
        and p.non_null == p.rows == p.distinct
        and (p.kind == "text" or (p.kind == "integer" and _ID_NAME.search(n)))
    ]
    choice = _pick(unique, _ID_NAME, _UNIQUE_COLUMNS, sure=False)
    return choice or Choice(ROW_ID, "generated by retrainer import: no column has unique values")


def infer_label_timestamp(
    label_profiles: dict[str, ColumnProfile], exclude: set[str]
) -> Choice | None:
    """The labels' arrival-time column (``label_time`` when it is there)."""
    times = [n for n, p in label_profiles.items() if p.kind == "datetime" and n not in exclude]
    if LABEL_TIME in times:
        return Choice(LABEL_TIME)
    return _pick(times, re.compile("label|arriv", re.IGNORECASE), _LABEL_TIMES, False)


# -- gates ---------------------------------------------------------------------------------


def _rate(sample: DataSample, timestamp: str) -> tuple[float | None, int | None]:
    """Rows per calendar day and days spanned (given, else estimated from the timestamps)."""
    if sample.rows_per_day is not None:
        return sample.rows_per_day, sample.days
    stamps = sample.features[timestamp]
    if not pd.api.types.is_datetime64_any_dtype(stamps):  # text: read it as the import will
        try:
            stamps = read_times(pa.array(stamps, type=sample.types[timestamp])).to_pandas()
        except (TimeParseError, pa.ArrowException):
            return None, None
    stamps = pd.to_datetime(stamps, utc=True).dropna()
    if stamps.empty:
        return None, None
    days = stamps.dt.floor("D")
    return len(days) / days.nunique(), int((days.max() - days.min()).days) + 1


def holdout_days(rows_per_day: float | None, span: int | None, minority: float | None) -> Choice:
    """Days of fresh holdout that give the gate enough rows (at most a quarter of the span)."""
    if not rows_per_day:
        return Choice(7, "guessed: the default; the data rate is unknown")
    wanted = HOLDOUT_ROWS if not minority else max(HOLDOUT_ROWS, HOLDOUT_MINORITY / minority)
    days = max(7, math.ceil(wanted / rows_per_day))
    if span:
        days = min(days, max(7, span // 4))
    expected = days * rows_per_day
    note = f"guessed: ~{rows_per_day:,.1f} rows a day, so ~{expected:,.0f} holdout rows"
    if expected < HOLDOUT_MIN_ROWS:
        note += f" (the gate needs {HOLDOUT_MIN_ROWS}: it cannot judge until more data lands)"
    return Choice(days, note)


# -- the whole config ----------------------------------------------------------------------


@dataclass
class InferredConfig:
    """Everything ``init --from-data`` decided, each guess with its note."""

    name: str
    task: Choice
    id: Choice
    timestamp: Choice
    target: str
    label_timestamp: Choice | None
    numeric: list[Choice] = field(default_factory=list)
    categorical: list[Choice] = field(default_factory=list)
    segments: list[Choice] = field(default_factory=list)
    left_out: list[Choice] = field(default_factory=list)
    holdout_days: Choice = field(default_factory=lambda: Choice(7))
    sample_rows: int = 0
    description: str = ""

    @property
    def estimator(self) -> str:
        """Import path of the estimator for the task."""
        return ESTIMATORS[self.task.value]

    def to_dict(self) -> dict[str, Any]:
        """The roles as JSON (values with their notes)."""

        def one(choice: Choice | None) -> dict[str, Any] | None:
            return None if choice is None else {"column": choice.value, "note": choice.note}

        return {
            "name": self.name,
            "task": {"value": self.task.value, "note": self.task.note},
            "id": one(self.id),
            "timestamp": one(self.timestamp),
            "target": self.target,
            "label_timestamp": one(self.label_timestamp),
            **{
                key: [one(c) for c in getattr(self, key)]
                for key in ("numeric", "categorical", "segments", "left_out")
            },
            "estimator": {"class_path": self.estimator, "params": dict(ESTIMATOR_PARAMS)},
            "holdout_days": {"value": self.holdout_days.value, "note": self.holdout_days.note},
            "sample_rows": self.sample_rows,
        }


def _target_values(sample: DataSample, target: str) -> tuple[pd.Series, pa.DataType]:
    frame, types = (
        (sample.labels, sample.label_types)
        if sample.labels is not None
        else (sample.features, sample.types)
    )
    if target not in frame.columns:
        where = "the labels table" if sample.layout else sample.description
        raise InferError(
            f"--target {target}: no such column in {where} (columns: {', '.join(frame.columns)})"
        )
    return frame[target], types[target]


def infer_config(
    sample: DataSample,
    target: str,
    name: str,
    timestamp: str | None = None,
    id_column: str | None = None,
) -> InferredConfig:
    """Decide every column's role, the task and the estimator from a sample.

    Args:
        sample: The rows read.
        target: The label column.
        name: Model name.
        timestamp: Event-time column, if known.
        id_column: Id column, if known.

    Raises:
        InferError: When the sample cannot give a valid config; the message says why.
    """
    values, kind = _target_values(sample, target)
    task = infer_task(values, kind, target)
    profiles = profile_frame(sample.features.drop(columns=[target], errors="ignore"), sample.types)
    label_profiles = (
        profile_frame(sample.labels, sample.label_types) if sample.labels is not None else {}
    )
    shared = [c for c in label_profiles if c in profiles and c != target] if sample.layout else None
    label_time = (
        infer_label_timestamp(label_profiles, {target})
        if sample.layout
        else Choice(LABEL_TIME, "written by retrainer import")
    )
    if shared is not None and label_time is not None:
        shared = [c for c in shared if c != label_time.value]
    stamp = infer_timestamp(profiles, timestamp, sample.layout, {id_column or ""})
    ident = infer_id(profiles, id_column, shared, {stamp.value})
    inferred = InferredConfig(
        name=name,
        task=task,
        id=ident,
        timestamp=stamp,
        target=target,
        label_timestamp=label_time,
        sample_rows=len(sample.features),
        description=sample.description,
    )
    taken = {ident.value, stamp.value, target}
    for column, p in profiles.items():
        if column in taken:
            continue
        role, note = feature_role(p)
        getattr(inferred, "left_out" if role == "out" else role).append(Choice(column, note))
    if not inferred.numeric and not inferred.categorical:
        raise InferError(
            "no column can be a feature: "
            + "; ".join(f"{c.value}: {c.note}" for c in inferred.left_out)
        )
    categorical = {c.value for c in inferred.categorical}
    inferred.segments = suggest_segments([p for n, p in profiles.items() if n in categorical])
    minority = values.value_counts(normalize=True).min() if task.value == "binary" else None
    inferred.holdout_days = holdout_days(*_rate(sample, stamp.value), minority)
    return inferred


# -- rendering -----------------------------------------------------------------------------


def _yaml_scalar(value: Any) -> str:
    """A YAML scalar (quoted when needed), on one line."""
    return (
        yaml.safe_dump(value, default_flow_style=True, width=10_000).removesuffix("\n...\n").strip()
    )


def _note(note: str | None) -> str:
    """A trailing comment, or nothing."""
    return f"  # {' '.join(note.split())}" if note else ""


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(
            lambda name: (resources.files("retrainer.config") / "templates" / name).read_text(
                encoding="utf-8"
            )
        ),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["yaml"] = _yaml_scalar
    env.filters["note"] = _note
    return env


def render_config(
    inferred: InferredConfig,
    source: str,
    *,
    tables: dict[str, str] | None = None,
    endpoint_url: str | None = None,
) -> str:
    """The commented ``retrainer.yaml`` (template ``templates/from_data.yaml.j2``).

    Args:
        inferred: The decisions.
        source: ``data.source`` (relative to the config file, or ``s3://``).
        tables: Table names (default features / labels / predictions).
        endpoint_url: ``data.s3_endpoint_url`` to write, if any.
    """
    template = _environment().get_template("from_data.yaml.j2")
    return template.render(
        c=inferred,
        source=source,
        tables={"features": "features", "labels": "labels", "predictions": "predictions"}
        | (tables or {}),
        endpoint_url=endpoint_url,
        params=ESTIMATOR_PARAMS,
    )
