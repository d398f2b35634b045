"""A JSON-able statistical profile of reference data, the raw material of a suite.

The profile keeps what the rules need (dtypes, null shares, a grid of quantiles, category
sets, daily row counts), so a suite can be rebuilt from it with changed rules without reading
the data again. Statistics are computed per day and aggregated with the median across days when
the reference spans several days: one broken day inside the reference (a unit change, a null
burst, a new category) then does not widen the suite.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

QUANTILE_GRID: tuple[float, ...] = (
    0.0,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    0.75,
    0.9,
    0.95,
    0.975,
    0.99,
    0.995,
    0.9975,
    0.999,
    0.9995,
    1.0,
)
"""Quantile levels stored per numeric column; other levels are interpolated."""

MAX_STORED_CATEGORIES = 2_000
"""Columns with more distinct values keep no value set (they are not categorical)."""

MIN_DAYS_FOR_PER_DAY_STATISTICS = 3

DtypeFamily = str  # "numeric" | "string" | "datetime" | "bool" | "other"


def dtype_family(dtype: Any) -> DtypeFamily:
    """The family of a pandas dtype: numeric, string, datetime, bool or other."""
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_numeric_dtype(dtype):
        return "numeric"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if (
        pd.api.types.is_string_dtype(dtype)
        or isinstance(dtype, pd.CategoricalDtype)
        or pd.api.types.is_object_dtype(dtype)
    ):
        return "string"
    return "other"


def _datetime_tz(dtype: Any) -> str | None:
    tz = getattr(dtype, "tz", None)
    return str(tz) if tz is not None else None


@dataclass
class ColumnProfile:
    """What the reference says about one column.

    Attributes:
        dtype: The reference dtype as pandas prints it (``float64``, ``str``, ...).
        family: numeric, string, datetime, bool or other.
        null_share: Share of nulls (median across days).
        quantiles: Level → value on :data:`QUANTILE_GRID` (numeric columns only).
        categories: ``[value, share of non-null rows]`` pairs (JSON keeps the values' types),
            for categorical columns with at most :data:`MAX_STORED_CATEGORIES` values; with
            several reference days, only values seen on at least two of them.
        distinct: Number of distinct non-null values (categorical columns only).
        timezone: Time zone of a datetime column (None = naive).
    """

    dtype: str
    family: DtypeFamily
    null_share: float
    quantiles: dict[str, float] | None = None
    categories: list[list[Any]] | None = None
    distinct: int | None = None
    timezone: str | None = None

    def quantile(self, level: float) -> float | None:
        """The reference quantile at ``level`` (linear interpolation on the stored grid)."""
        if not self.quantiles:
            return None
        levels = np.array([float(k) for k in self.quantiles])
        values = np.array(list(self.quantiles.values()), dtype=float)
        order = np.argsort(levels)
        if np.isnan(values).all():
            return None
        return float(np.interp(level, levels[order], values[order]))


@dataclass
class ReferenceProfile:
    """Statistics of a reference frame (the data a model was trained on).

    Attributes:
        columns: The reference's columns, in order.
        profiles: Per-column statistics.
        rows: Rows in the reference.
        daily_rows: Date (ISO) → rows of the reference days.
        start: First reference date (ISO) or None.
        end: Last reference date (ISO) or None.
        id_column: The id column.
        id_duplicate_share: Share of rows whose id repeats within a day (median across days).
        timestamp_column: The event-time column.
    """

    columns: list[str]
    profiles: dict[str, ColumnProfile]
    rows: int
    daily_rows: dict[str, int] = field(default_factory=dict)
    start: str | None = None
    end: str | None = None
    id_column: str | None = None
    id_duplicate_share: float | None = None
    timestamp_column: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """As a JSON-able dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReferenceProfile:
        """Inverse of :meth:`to_dict`."""
        values = dict(data)
        values["profiles"] = {
            name: ColumnProfile(**profile) for name, profile in data["profiles"].items()
        }
        return cls(**values)

    def daily_row_quantiles(self, low: float = 0.1, high: float = 0.9) -> tuple[float, float]:
        """Low and high daily row counts (quantiles of the reference days' counts).

        Raises:
            ValueError: When the reference has no daily counts.
        """
        counts = np.array(list(self.daily_rows.values()), dtype=float)
        if counts.size == 0:
            raise ValueError("the reference profile has no daily row counts")
        return float(np.quantile(counts, low)), float(np.quantile(counts, high))


def _event_days(frame: pd.DataFrame, timestamp_column: str | None) -> pd.Series | None:
    if not timestamp_column or timestamp_column not in frame.columns:
        return None
    if not pd.api.types.is_datetime64_any_dtype(frame[timestamp_column]):
        return None
    stamps = frame[timestamp_column]
    if getattr(stamps.dtype, "tz", None) is not None:
        stamps = stamps.dt.tz_convert("UTC")
    return stamps.dt.strftime("%Y-%m-%d")


def _json_value(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return value


def profile_reference(
    frame: pd.DataFrame,
    *,
    id_column: str | None,
    timestamp_column: str | None,
    numeric_columns: Iterable[str],
    categorical_columns: Iterable[str],
    exclude: Iterable[str] = (),
    daily_rows: Mapping[str, int] | None = None,
) -> ReferenceProfile:
    """Profile a reference frame.

    Args:
        frame: Reference rows (e.g. a model's training frame).
        id_column: The row id column (its uniqueness is measured).
        timestamp_column: Event time; statistics are aggregated per UTC day when it is a
            datetime column spanning at least three days.
        numeric_columns: Columns that get quantiles (non-numeric ones are skipped).
        categorical_columns: Columns that get value sets.
        exclude: Columns to leave out (the target, bookkeeping columns).
        daily_rows: Rows per partition date (ISO) when known from the files (a training
            frame may be sampled or miss unlabelled rows); default: counted in ``frame``.

    Returns:
        The profile.

    Raises:
        ValueError: When the frame has no rows.
    """
    excluded = set(exclude)
    columns = [c for c in frame.columns if c not in excluded]
    if frame.empty:
        raise ValueError("the reference frame has no rows: cannot derive expectations from it")
    days = _event_days(frame, timestamp_column)
    per_day = days is not None and days.nunique() >= MIN_DAYS_FOR_PER_DAY_STATISTICS

    nulls = frame[columns].isna()
    null_share = (
        nulls.groupby(days.to_numpy()).mean().median() if per_day else nulls.mean()  # type: ignore[union-attr]
    )

    profiles: dict[str, ColumnProfile] = {}
    for name in columns:
        dtype = frame[name].dtype
        profiles[name] = ColumnProfile(
            dtype=str(dtype),
            family=dtype_family(dtype),
            null_share=round(float(null_share[name]), 6),
            timezone=_datetime_tz(dtype) if dtype_family(dtype) == "datetime" else None,
        )

    numeric = [c for c in numeric_columns if c in profiles and profiles[c].family == "numeric"]
    if numeric:
        values = frame[numeric].astype(float)
        if per_day:
            grid = values.groupby(days.to_numpy()).quantile(list(QUANTILE_GRID))  # type: ignore[union-attr]
            table = grid.groupby(level=1).median()
        else:
            table = values.quantile(list(QUANTILE_GRID))
        for name in numeric:
            profiles[name].quantiles = {
                repr(level): (None if pd.isna(v) else float(v))  # type: ignore[misc]
                for level, v in zip(QUANTILE_GRID, table[name].to_numpy(), strict=True)
            }
            # the pooled extremes, not a median of daily extremes
            profiles[name].quantiles["0.0"] = _nan_to_none(values[name].min())
            profiles[name].quantiles["1.0"] = _nan_to_none(values[name].max())

    for name in categorical_columns:
        if name not in profiles:
            continue
        column = frame[name]
        counts = column.value_counts(dropna=True)
        profiles[name].distinct = int(counts.size)
        if counts.size > MAX_STORED_CATEGORIES:
            continue
        if per_day:
            seen_days = (
                pd.DataFrame({"day": days, "value": column})  # type: ignore[arg-type]
                .dropna()
                .drop_duplicates()
                .groupby("value", observed=True)
                .size()
            )
            known = set(seen_days[seen_days >= 2].index)
        else:
            known = set(counts.index)
        total = float(counts.sum()) or 1.0
        profiles[name].categories = [
            [_json_value(value), round(float(count) / total, 6)]
            for value, count in counts.items()
            if value in known
        ]

    if daily_rows is None:
        daily_rows = (
            {str(k): int(v) for k, v in days.value_counts().sort_index().items()}
            if days is not None
            else {}
        )
    else:
        daily_rows = {str(k): int(v) for k, v in sorted(daily_rows.items())}

    duplicate_share = None
    if id_column and id_column in frame.columns:
        if per_day:
            keys = pd.DataFrame({"day": days.to_numpy(), "id": frame[id_column].to_numpy()})  # type: ignore[union-attr]
            duplicated = keys.duplicated(keep=False)
            duplicate_share = float(duplicated.groupby(keys["day"]).mean().median())
        else:
            duplicate_share = float(frame[id_column].duplicated(keep=False).mean())

    dates = sorted(daily_rows) if daily_rows else []
    return ReferenceProfile(
        columns=columns,
        profiles=profiles,
        rows=len(frame),
        daily_rows=dict(daily_rows),
        start=dates[0] if dates else None,
        end=dates[-1] if dates else None,
        id_column=id_column,
        id_duplicate_share=duplicate_share,
        timestamp_column=timestamp_column,
    )


def _nan_to_none(value: Any) -> float | None:
    return None if pd.isna(value) else float(value)
