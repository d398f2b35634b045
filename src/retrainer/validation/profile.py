"""A JSON-able statistical profile of reference data, the raw material of a suite.

The profile keeps what the rules need (dtypes, null shares, a grid of quantiles, category
sets, the typical magnitude of numeric columns, daily row counts), so a suite can be rebuilt
from it with changed rules without reading the data again.

Statistics are **pooled over the reference rows**, not taken per day: a feature with a yearly
cycle, days that are ordered slices of a population (records sorted by location) or small days
of a few dozen rows only show their plausible range over many days together.

Before pooling, reference days that are broken themselves are left out (:func:`screen_days`):
a day whose typical magnitude is a decade or more off the other days' (a unit change), a null
burst, a one-day flood of a category no other day has, a day of duplicated ids, or a day with a
small fraction of the usual rows. They are listed in :attr:`ReferenceProfile.excluded_days`
with the reason, so a suite built on a reference window that contains an incident does not
learn the incident as normal.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

PROFILE_FORMAT = 2

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
"""Fewer reference days: no day screening, no day-to-day magnitude range."""

SCALE_MIN_VALUES = 3
"""A day needs this many non-zero values for its median magnitude to count."""

# Day screening: deliberately looser than validation (a reference day is left out only when
# it is plainly broken), and tested at a stricter significance.
SCREEN_ALPHA = 1e-4
SCREEN_SCALE_DECADES = 1.0
SCREEN_NULL_EXCESS = 0.25
SCREEN_FLOOD_SHARE = 0.25
SCREEN_DUPLICATE_SHARE = 0.01
SCREEN_MIN_ROW_FRACTION = 0.25

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
class LogScale:
    """The typical magnitude of a numeric column: statistics of log10|value| (non-zero values).

    Attributes:
        median: Pooled median of log10|x|.
        sd: Robust standard deviation of log10|x| (interquartile range / 1.349).
        low: Lowest median of a reference day (the pooled median without days).
        high: Highest median of a reference day.
        values: Non-zero finite values the statistics come from.
    """

    median: float
    sd: float
    low: float
    high: float
    values: int


@dataclass
class ColumnProfile:
    """What the reference says about one column.

    Attributes:
        dtype: The reference dtype as pandas prints it (``float64``, ``str``, ...).
        family: numeric, string, datetime, bool or other.
        null_share: Share of nulls over the pooled reference rows.
        quantiles: Level → value on :data:`QUANTILE_GRID` (numeric columns only, pooled).
        categories: ``[value, share of non-null rows]`` pairs (JSON keeps the values' types),
            for categorical columns with at most :data:`MAX_STORED_CATEGORIES` values; every
            value of the (screened) reference is kept, rare ones included.
        distinct: Number of distinct non-null values (categorical columns only).
        timezone: Time zone of a datetime column (None = naive).
        log_scale: The typical magnitude (numeric columns with non-zero values).
    """

    dtype: str
    family: DtypeFamily
    null_share: float
    quantiles: dict[str, float | None] | None = None
    categories: list[list[Any]] | None = None
    distinct: int | None = None
    timezone: str | None = None
    log_scale: LogScale | None = None

    def quantile(self, level: float) -> float | None:
        """The reference quantile at ``level`` (linear interpolation on the stored grid)."""
        if not self.quantiles:
            return None
        levels = np.array([float(k) for k in self.quantiles])
        values = np.array(
            [np.nan if v is None else v for v in self.quantiles.values()], dtype=float
        )
        if np.isnan(values).all():
            return None
        order = np.argsort(levels)
        return float(np.interp(level, levels[order], values[order]))


@dataclass
class ReferenceProfile:
    """Statistics of a reference frame (the data a model was trained on).

    Attributes:
        columns: The reference's columns, in order.
        profiles: Per-column statistics.
        rows: Rows the statistics come from (excluded days left out).
        daily_rows: Date (ISO) → rows of the reference days kept.
        start: First reference date (ISO) or None.
        end: Last reference date (ISO) or None.
        id_column: The id column.
        id_duplicate_share: Share of rows whose id repeats within a day (pooled).
        timestamp_column: The event-time column.
        excluded_days: Date (ISO) → why the day was left out of the statistics.
        format: Profile format (:data:`PROFILE_FORMAT`).
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
    excluded_days: dict[str, str] = field(default_factory=dict)
    format: int = PROFILE_FORMAT

    def to_dict(self) -> dict[str, Any]:
        """As a JSON-able dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReferenceProfile:
        """Inverse of :meth:`to_dict`.

        Raises:
            ValueError: For a profile of another format.
        """
        if data.get("format") != PROFILE_FORMAT:
            raise ValueError(
                f"reference profile format {data.get('format', 1)!r} is not {PROFILE_FORMAT} "
                "(built by an older retrainer: rebuild the suite from its data)"
            )
        values = dict(data)
        profiles = {}
        for name, raw in data["profiles"].items():
            raw = dict(raw)
            if raw.get("log_scale") is not None:
                raw["log_scale"] = LogScale(**raw["log_scale"])
            profiles[name] = ColumnProfile(**raw)
        values["profiles"] = profiles
        return cls(**values)

    def daily_row_quantiles(self, low: float = 0.05, high: float = 0.95) -> tuple[float, float]:
        """Low and high daily row counts (quantiles of the kept reference days' counts).

        Raises:
            ValueError: When the reference has no daily counts.
        """
        counts = np.array([v for v in self.daily_rows.values() if v > 0], dtype=float)
        if counts.size == 0:
            raise ValueError("the reference profile has no daily row counts")
        return float(np.quantile(counts, low)), float(np.quantile(counts, high))


# -- helpers ---------------------------------------------------------------------------------
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


def _nan_to_none(value: Any) -> float | None:
    return None if pd.isna(value) else float(value)


def _significant(count: np.ndarray, total: np.ndarray, share: float | np.ndarray) -> np.ndarray:
    """One-sided binomial test per element: ``count`` of ``total`` above ``share``?"""
    count, total = np.asarray(count, dtype=float), np.asarray(total, dtype=float)
    p = stats.binom.sf(count - 1, total, np.clip(share, 1e-9, 1 - 1e-9))
    return (count > 0) & (p < SCREEN_ALPHA)


def _log_magnitude(values: pd.Series) -> pd.Series:
    """log10|x| of the finite non-zero values (others NaN)."""
    numbers = values.to_numpy(dtype=float, na_value=np.nan)
    magnitude = np.abs(numbers)
    ok = np.isfinite(magnitude) & (magnitude > 0)
    out = np.full(magnitude.shape, np.nan)
    out[ok] = np.log10(magnitude[ok])
    return pd.Series(out, index=values.index)


# -- day screening ---------------------------------------------------------------------------
def _scale_outliers(frame: pd.DataFrame, day: np.ndarray, numeric: list[str]) -> dict[str, str]:
    """Days whose median magnitude of a column is a decade or more off the other days'."""
    out: dict[str, str] = {}
    for name in numeric:
        logs = _log_magnitude(frame[name])
        grouped = logs.groupby(day)
        medians, counts = grouped.median(), grouped.count()
        medians = medians[counts >= SCALE_MIN_VALUES]
        if len(medians) < MIN_DAYS_FOR_PER_DAY_STATISTICS:
            continue
        centre = float(medians.median())
        spread = 1.4826 * float((medians - centre).abs().median())
        limit = max(SCREEN_SCALE_DECADES, 5 * spread)
        for when, value in medians.items():
            if abs(value - centre) > limit:
                factor = 10 ** (value - centre)
                out.setdefault(
                    str(when), f"{name}: typical magnitude x{factor:.3g} of the other days'"
                )
    return out


def _null_bursts(frame: pd.DataFrame, day: np.ndarray, columns: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    nulls = frame[columns].isna()
    shares = nulls.groupby(day).mean()
    counts = nulls.groupby(day).sum()
    sizes = nulls.groupby(day).size()
    for name in columns:
        typical = float(shares[name].median())
        burst = (shares[name] - typical >= SCREEN_NULL_EXCESS) & _significant(
            counts[name].to_numpy(), sizes.to_numpy(), min(1.0, typical + 0.05)
        )
        for when in shares.index[burst.to_numpy()]:
            out.setdefault(str(when), f"{name}: {shares[name][when]:.0%} null")
    return out


def _one_day_floods(
    frame: pd.DataFrame, day: np.ndarray, categorical: list[str]
) -> tuple[dict[str, str], dict[str, set[Any]]]:
    """Days flooded by a value no other day has; and those values per column."""
    out: dict[str, str] = {}
    flooded: dict[str, set[Any]] = {}
    sizes = pd.Series(day).value_counts()
    for name in categorical:
        pairs = pd.DataFrame({"day": day, "value": frame[name].to_numpy()}).dropna()
        if pairs.empty:
            continue
        counts = pairs.groupby(["value", "day"], observed=True).size()
        days_per_value = counts.groupby(level=0, observed=True).size()
        single = days_per_value.index[days_per_value == 1]
        if not len(single):
            continue
        lonely = counts[counts.index.get_level_values(0).isin(single)]
        totals = sizes.reindex(lonely.index.get_level_values(1)).to_numpy()
        share = lonely.to_numpy() / totals
        flood = (share >= SCREEN_FLOOD_SHARE) & _significant(lonely.to_numpy(), totals, 0.02)
        for (value, when), is_flood, part in zip(lonely.index, flood, share, strict=True):
            if is_flood:
                flooded.setdefault(name, set()).add(value)
                out.setdefault(str(when), f"{name}: {part:.0%} of the day is {value!r}")
    return out, flooded


def _duplicate_days(frame: pd.DataFrame, day: np.ndarray, id_column: str | None) -> dict[str, str]:
    if not id_column or id_column not in frame.columns:
        return {}
    keys = pd.DataFrame({"day": day, "id": frame[id_column].to_numpy()})
    repeated = keys.duplicated(keep=False)
    counts = repeated.groupby(keys["day"]).sum()
    sizes = repeated.groupby(keys["day"]).size()
    share = counts / sizes
    bad = (share >= SCREEN_DUPLICATE_SHARE) & _significant(
        counts.to_numpy(), sizes.to_numpy(), 0.001
    )
    return {str(d): f"{id_column}: {share[d]:.0%} repeated ids" for d in share.index[bad]}


def _short_days(daily_rows: Mapping[str, int]) -> dict[str, str]:
    counts = pd.Series(dict(daily_rows), dtype=float)
    if len(counts) < MIN_DAYS_FOR_PER_DAY_STATISTICS:
        return {str(d): "empty" for d, n in counts.items() if n == 0}
    typical = float(counts[counts > 0].median()) if (counts > 0).any() else 0.0
    out = {}
    for when, n in counts.items():
        if n == 0:
            out[str(when)] = "empty"
        elif n < SCREEN_MIN_ROW_FRACTION * typical and stats.poisson.cdf(n, typical) < SCREEN_ALPHA:
            out[str(when)] = f"{int(n)} rows where the other days have ~{typical:.0f}"
    return out


def screen_days(
    frame: pd.DataFrame,
    day: np.ndarray,
    *,
    id_column: str | None,
    numeric: list[str],
    categorical: list[str],
    checked: list[str],
    daily_rows: Mapping[str, int],
) -> tuple[dict[str, str], dict[str, set[Any]]]:
    """Reference days that are broken themselves, and values that only such days have.

    Args:
        frame: The reference rows.
        day: The UTC event date (ISO) of each row.
        id_column: The id column (repeated ids within a day).
        numeric: Numeric columns (magnitude outliers).
        categorical: Categorical columns (one-day floods of a new value).
        checked: Columns whose null share is screened.
        daily_rows: Rows per day (short and empty days).

    Returns:
        ``(excluded, flooded)``: date → why; column → values seen only on a flooded day.
    """
    excluded: dict[str, str] = {}
    floods, flooded = _one_day_floods(frame, day, categorical)
    for found in (
        _short_days(daily_rows),
        _scale_outliers(frame, day, numeric),
        _null_bursts(frame, day, checked),
        floods,
        _duplicate_days(frame, day, id_column),
    ):
        for when, why in found.items():
            excluded[when] = f"{excluded[when]}; {why}" if when in excluded else why
    return dict(sorted(excluded.items())), flooded


# -- profiling -------------------------------------------------------------------------------
def _log_scale(values: pd.Series, day: np.ndarray | None) -> LogScale | None:
    logs = _log_magnitude(values)
    finite = logs.dropna()
    if finite.empty:
        return None
    median = float(finite.median())
    q25, q75 = np.quantile(finite.to_numpy(), [0.25, 0.75])
    low = high = median
    if day is not None:
        grouped = logs.groupby(day)
        medians = grouped.median()[grouped.count() >= SCALE_MIN_VALUES]
        if len(medians):
            low, high = float(medians.min()), float(medians.max())
    return LogScale(
        median=round(median, 6),
        sd=round(float(q75 - q25) / 1.349, 6),
        low=round(min(low, median), 6),
        high=round(max(high, median), 6),
        values=len(finite),
    )


def _categories(column: pd.Series, flooded: set[Any]) -> tuple[int, list[list[Any]] | None]:
    counts = column.value_counts(dropna=True)
    counts = counts[~counts.index.isin(list(flooded))] if flooded else counts
    if counts.size > MAX_STORED_CATEGORIES:
        return int(counts.size), None
    total = float(counts.sum()) or 1.0
    pairs = [[_json_value(v), round(float(c) / total, 6)] for v, c in counts.items()]
    return int(counts.size), pairs


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
        timestamp_column: Event time; with a datetime column spanning at least three UTC days,
            broken days are screened out and the day-to-day magnitude range is kept.
        numeric_columns: Columns that get quantiles (non-numeric ones are skipped).
        categorical_columns: Columns that get value sets.
        exclude: Columns to leave out (the target, bookkeeping columns).
        daily_rows: Rows per partition date (ISO) when known from the files (a training
            frame may be sampled or miss unlabelled rows); default: counted in ``frame``.

    Returns:
        The profile.

    Raises:
        ValueError: When the frame has no rows, or every day is excluded.
    """
    excluded_columns = set(exclude)
    columns = [c for c in frame.columns if c not in excluded_columns]
    if frame.empty:
        raise ValueError("the reference frame has no rows: cannot derive expectations from it")
    days = _event_days(frame, timestamp_column)
    if daily_rows is None:
        counted = days.value_counts().sort_index() if days is not None else pd.Series()
        daily_rows = {str(k): int(v) for k, v in counted.items()}
    daily_rows = {str(k): int(v) for k, v in sorted(daily_rows.items())}
    per_day = days is not None and days.nunique() >= MIN_DAYS_FOR_PER_DAY_STATISTICS
    numeric = [
        c for c in numeric_columns if c in columns and dtype_family(frame[c].dtype) == "numeric"
    ]
    categorical = [c for c in dict.fromkeys(categorical_columns) if c in columns]

    excluded: dict[str, str] = {}
    flooded: dict[str, set[Any]] = {}
    if per_day:
        excluded, flooded = screen_days(
            frame,
            days.to_numpy(),  # type: ignore[union-attr]
            id_column=id_column,
            numeric=numeric,
            categorical=categorical,
            checked=columns,
            daily_rows=daily_rows,
        )
        keep = ~days.isin(list(excluded)).to_numpy()  # type: ignore[union-attr]
        if not keep.any():
            raise ValueError(
                f"every reference day looks broken: {next(iter(excluded.values()))} (and "
                f"{len(excluded) - 1} more)"
            )
        frame = frame[keep]
        days = days[keep]  # type: ignore[index]
    day_values = days.to_numpy() if per_day else None  # type: ignore[union-attr]

    null_share = frame[columns].isna().mean()
    profiles: dict[str, ColumnProfile] = {}
    for name in columns:
        dtype = frame[name].dtype
        family = dtype_family(dtype)
        profiles[name] = ColumnProfile(
            dtype=str(dtype),
            family=family,
            null_share=round(float(null_share[name]), 6),
            timezone=_datetime_tz(dtype) if family == "datetime" else None,
        )
    if numeric:
        values = frame[numeric].astype(float)
        table = values.quantile(list(QUANTILE_GRID))
        for name in numeric:
            profiles[name].quantiles = {
                repr(level): _nan_to_none(v)
                for level, v in zip(QUANTILE_GRID, table[name].to_numpy(), strict=True)
            }
            profiles[name].log_scale = _log_scale(values[name], day_values)
    for name in categorical:
        distinct, pairs = _categories(frame[name], flooded.get(name, set()))
        profiles[name].distinct = distinct
        profiles[name].categories = pairs

    duplicate_share = None
    if id_column and id_column in frame.columns:
        if per_day:
            keys = pd.DataFrame({"day": day_values, "id": frame[id_column].to_numpy()})
            duplicate_share = float(keys.duplicated(keep=False).mean())
        else:
            duplicate_share = float(frame[id_column].duplicated(keep=False).mean())

    kept_rows = {d: n for d, n in daily_rows.items() if d not in excluded}
    dates = sorted(daily_rows)
    return ReferenceProfile(
        columns=columns,
        profiles=profiles,
        rows=len(frame),
        daily_rows=kept_rows,
        start=dates[0] if dates else None,
        end=dates[-1] if dates else None,
        id_column=id_column,
        id_duplicate_share=duplicate_share,
        timestamp_column=timestamp_column,
        excluded_days=excluded,
    )
