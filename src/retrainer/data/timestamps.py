"""Event and label times as the tables store them: tz-aware UTC ``timestamp[us, tz=UTC]``.

Input may hold text in one format (detected once from a sample, so every chunk is read the
same way), dates, naive timestamps (local time in a given zone) or zoned timestamps. A value
that cannot be read becomes null, so callers can count and report it.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pandas.tseries.api import guess_datetime_format

UTC_TIMESTAMP = pa.timestamp("us", tz="UTC")
_SAMPLE = 1000
_MIN_PARSED_SHARE = 0.5  # a format that reads fewer sampled values is not the column's format


class TimeParseError(ValueError):
    """A column cannot be read as times (wrong type, unknown format or time zone)."""


def check_timezone(name: str) -> str:
    """Return ``name`` when it is an IANA time zone, else raise :class:`TimeParseError`."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise TimeParseError(
            f"unknown time zone {name!r} (use an IANA name such as UTC or Europe/Berlin)"
        ) from None
    return name


def _text_values(sample: pa.Array | pa.ChunkedArray | pd.Series) -> pd.Series:
    series = sample if isinstance(sample, pd.Series) else sample.to_pandas()
    values = series.dropna().astype(str).str.strip()
    return values[values != ""].head(_SAMPLE)


def _parse_text(values: pd.Series, fmt: str, utc: bool) -> pd.Series:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)  # "could not infer format"
        return pd.to_datetime(values, format=fmt, errors="coerce", utc=utc)


def detect_text_format(sample: pa.Array | pa.ChunkedArray | pd.Series) -> tuple[str, float]:
    """The format that reads most of the sampled texts, and the share it reads.

    Candidates: ISO 8601, then the format pandas guesses from the first value (month first,
    then day first).

    Raises:
        TimeParseError: When no value is given or no candidate reads half of them.
    """
    values = _text_values(sample)
    if values.empty:
        raise TimeParseError("no values to read the date/time format from")
    first = values.iloc[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)  # "dayfirst=True was specified"
        candidates = ["ISO8601", guess_datetime_format(first), guess_datetime_format(first, True)]
    best: tuple[str, float] | None = None
    for fmt in dict.fromkeys(c for c in candidates if c):
        try:
            share = float(_parse_text(values, fmt, utc=True).notna().mean())
        except (ValueError, TypeError):
            continue
        if best is None or share > best[1]:
            best = (fmt, share)
    if best is None or best[1] < _MIN_PARSED_SHARE:
        raise TimeParseError(f"cannot read {first!r} as a date/time")
    return best


def _is_zoned(values: pd.Series, fmt: str) -> bool:
    """Whether the texts carry their own UTC offset (then the time zone does not apply)."""
    try:
        parsed = _parse_text(values, fmt, utc=False)
    except ValueError:  # mixed offsets
        return True
    return getattr(parsed.dtype, "tz", None) is not None


@dataclass(frozen=True)
class TimeParser:
    """Reads one column as UTC timestamps; unreadable values become null.

    Attributes:
        column: The column's name (for messages).
        source_type: Its Arrow type in the input.
        timezone: How naive values are read (IANA name).
        text_format: The format of text values (``ISO8601`` or a strptime pattern).
        zoned: Whether the values carry their own offset or zone.
    """

    column: str
    source_type: pa.DataType
    timezone: str
    text_format: str | None = None
    zoned: bool = False

    def __call__(self, values: pa.Array | pa.ChunkedArray) -> pa.Array:
        """The values as ``timestamp[us, tz=UTC]`` (null where unreadable)."""
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        if self.text_format is not None:
            parsed = _parse_text(values.to_pandas(), self.text_format, utc=self.zoned)
            if self.zoned:  # naive UTC values: Arrow reads them as UTC below
                parsed = parsed.dt.tz_localize(None)
            stamps = pc.cast(pa.array(parsed, from_pandas=True), pa.timestamp("us"), safe=False)
            if self.zoned:
                return stamps.cast(UTC_TIMESTAMP)
        elif pa.types.is_date(values.type):
            stamps = values.cast(pa.timestamp("us"))
        else:
            stamps = values
        if stamps.type.tz is None:
            stamps = pc.assume_timezone(
                pc.cast(stamps, pa.timestamp("us"), safe=False),
                self.timezone,
                ambiguous="earliest",
                nonexistent="earliest",
            )
        return pc.cast(stamps, UTC_TIMESTAMP, safe=False)

    def describe(self) -> str:
        """How the values are read, e.g. ``text %Y/%m/%d, naive times in UTC``."""
        kind = f"text {self.text_format}" if self.text_format else str(self.source_type)
        zone = "with their own offsets" if self.zoned else f"naive times in {self.timezone}"
        return f"{kind}, {zone}"


def _timestamp_parser(column: str, kind: pa.DataType, sample: pa.Array, tz: str) -> TimeParser:
    return TimeParser(column, kind, tz, zoned=kind.tz is not None)


def _date_parser(column: str, kind: pa.DataType, sample: pa.Array, tz: str) -> TimeParser:
    return TimeParser(column, kind, tz)


def _text_parser(column: str, kind: pa.DataType, sample: pa.Array, tz: str) -> TimeParser:
    fmt, _ = detect_text_format(sample)
    return TimeParser(column, kind, tz, text_format=fmt, zoned=_is_zoned(_text_values(sample), fmt))


_PARSERS: list[tuple[Callable[[pa.DataType], bool], Callable[..., TimeParser]]] = [
    (pa.types.is_timestamp, _timestamp_parser),
    (pa.types.is_date, _date_parser),
    (pa.types.is_string, _text_parser),
    (pa.types.is_large_string, _text_parser),
]


def time_parser(column: str, kind: pa.DataType, sample: pa.Array, timezone: str) -> TimeParser:
    """A parser for a column of times, its text format detected from ``sample``.

    Args:
        column: Column name (for messages).
        kind: Its Arrow type.
        sample: Some of its values (nulls are ignored).
        timezone: How naive values are read.

    Raises:
        TimeParseError: When the type holds no times (numbers, booleans ...), no format
            reads the sampled texts, or the time zone is unknown.
    """
    for matches, build in _PARSERS:
        if matches(kind):
            return build(column, kind, sample, check_timezone(timezone))
    raise TimeParseError(
        f"{kind} values are not dates or times (epoch numbers are not read; store them as "
        "ISO 8601 text)"
    )


def date_like_share(values: pd.Series) -> float:
    """Share of the sampled non-empty texts that read as dates/times (0 when none do)."""
    try:
        return detect_text_format(values)[1]
    except TimeParseError:
        return 0.0


def read_times(values: pa.Array, timezone: str = "UTC") -> pa.Array:
    """A whole column as UTC timestamps, its format detected from its first values.

    Raises:
        TimeParseError: As :func:`time_parser`.
    """
    sample = values.drop_null()[:_SAMPLE]
    return time_parser("", values.type, sample, timezone)(values)
