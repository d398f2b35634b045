"""Time-partitioned Parquet tables: ``<root>/<table>/date=YYYY-MM-DD/part-*.parquet``."""

from __future__ import annotations

import hashlib
import io
import re
import warnings
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from retrainer.data.storage import Storage, StorageError
from retrainer.progress import track

_PARTITION = re.compile(r"^date=(\d{4}-\d{2}-\d{2})$")
PARTITION_DATE_COLUMN = "_partition_date"


class DataReadError(Exception):
    """A partition could not be read; the message names the table, date and file."""


def as_date(value: date | datetime | str | pd.Timestamp) -> date:
    """Coerce a date-like value (``YYYY-MM-DD`` text, datetime, Timestamp) to a date."""
    if isinstance(value, pd.Timestamp):
        return value.date()
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        raise ValueError(f"not a date: {value!r} (expected YYYY-MM-DD)") from None


@dataclass(frozen=True)
class FileRead:
    """One Parquet file that was read: its key, content hash and row count."""

    key: str
    sha256: str
    rows: int


@dataclass
class WindowRead:
    """The result of reading a window: the frame plus what was read (for lineage)."""

    frame: pd.DataFrame
    dates: list[date]
    files: list[FileRead] = field(default_factory=list)

    @property
    def fingerprint(self) -> str:
        """A hash over the files read (keys and content), stable across machines."""
        digest = hashlib.sha256()
        for f in sorted(self.files, key=lambda f: f.key):
            digest.update(f"{f.key}:{f.sha256}\n".encode())
        return digest.hexdigest()[:16]


class PartitionedTable:
    """One table of daily partitions in a storage backend.

    Args:
        storage: Where the table lives.
        name: Table name (the first path segment).
    """

    def __init__(self, storage: Storage, name: str):
        self.storage = storage
        self.name = name

    def __repr__(self) -> str:
        return f"PartitionedTable({self.storage.describe(self.name)!r})"

    # -- layout ---------------------------------------------------------------------------
    def partition_prefix(self, day: date | str) -> str:
        """Key prefix of one day's partition."""
        return f"{self.name}/date={as_date(day).isoformat()}"

    def dates(self, start: date | str | None = None, end: date | str | None = None) -> list[date]:
        """Partition dates present, optionally within ``[start, end]`` (inclusive), sorted."""
        lo = as_date(start) if start is not None else None
        hi = as_date(end) if end is not None else None
        out: list[date] = []
        for name in self.storage.list_dirs(self.name):
            match = _PARTITION.match(name)
            if not match:
                continue
            day = date.fromisoformat(match.group(1))
            if (lo is None or day >= lo) and (hi is None or day <= hi):
                out.append(day)
        return sorted(out)

    def files(self, day: date | str) -> list[str]:
        """Parquet file keys of one partition."""
        return [
            k for k in self.storage.list_keys(self.partition_prefix(day)) if k.endswith(".parquet")
        ]

    def exists(self, day: date | str) -> bool:
        """Whether the partition holds at least one Parquet file."""
        return bool(self.files(day))

    # -- reading --------------------------------------------------------------------------
    def _read_file(self, key: str, columns: list[str] | None) -> tuple[pa.Table, FileRead]:
        try:
            local = self.storage.local_path(key)
            data = local.read_bytes() if local is not None else self.storage.read_bytes(key)
        except (OSError, StorageError) as exc:
            raise DataReadError(
                f"{self.name}: cannot read {self.storage.describe(key)}: {exc}"
            ) from exc
        try:
            table = pq.read_table(io.BytesIO(data), columns=columns)
        except (pa.ArrowInvalid, pa.ArrowException, KeyError) as exc:
            missing = ""
            if columns:
                try:
                    present = set(pq.read_schema(io.BytesIO(data)).names)
                    absent = [c for c in columns if c not in present]
                    if absent:
                        missing = f"missing column(s) {absent}; "
                except pa.ArrowException:
                    pass
            raise DataReadError(
                f"{self.name}: {missing}cannot read {self.storage.describe(key)}: {exc}"
            ) from exc
        return table, FileRead(key, hashlib.sha256(data).hexdigest(), table.num_rows)

    def read_arrow(
        self,
        start: date | str | None = None,
        end: date | str | None = None,
        columns: list[str] | None = None,
        dates: Iterable[date | str] | None = None,
        partition_column: str | None = None,
    ) -> tuple[pa.Table | None, list[date], list[FileRead]]:
        """Read partitions into one Arrow table.

        Returns:
            The table (None when nothing was read), the dates read and the files read.
        """
        days = sorted({as_date(d) for d in dates}) if dates is not None else self.dates(start, end)
        tables: list[pa.Table] = []
        reads: list[FileRead] = []
        for day in track(days, f"reading {self.name}"):
            for key in self.files(day):
                table, read = self._read_file(key, columns)
                if partition_column:
                    table = table.append_column(
                        partition_column, pa.array([day] * table.num_rows, type=pa.date32())
                    )
                tables.append(table)
                reads.append(read)
        if not tables:
            return None, days, reads
        try:
            combined = pa.concat_tables(tables, promote_options="permissive")
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise DataReadError(
                f"{self.name}: partitions {days[0]}..{days[-1]} have incompatible schemas: {exc}"
            ) from exc
        return combined, days, reads

    def read_window(
        self,
        start: date | str | None = None,
        end: date | str | None = None,
        columns: list[str] | None = None,
        dates: Iterable[date | str] | None = None,
        partition_column: str | None = None,
    ) -> WindowRead:
        """Read a window of partitions into pandas, with lineage of what was read.

        Args:
            start: First date (inclusive); None = from the first partition.
            end: Last date (inclusive); None = to the last partition.
            columns: Columns to read; None = all.
            dates: Explicit dates instead of ``start``/``end``.
            partition_column: If set, add the partition date under this column name.

        Returns:
            The frame (empty, with the requested columns, when no partition matched), the
            dates and the files read.
        """
        table, days, reads = self.read_arrow(start, end, columns, dates, partition_column)
        if table is None:
            cols = list(columns or [])
            if partition_column:
                cols.append(partition_column)
            return WindowRead(pd.DataFrame(columns=cols), days, reads)
        return WindowRead(table.to_pandas(), days, reads)

    def read_each(
        self, dates: Iterable[date | str], threads: int = 4
    ) -> dict[date, WindowRead | DataReadError]:
        """Read many partitions, each on its own (many small ones fast).

        Files are decoded in ``threads`` threads (Parquet decoding releases the GIL); the
        partitions of one schema are converted to pandas together and sliced apart, which
        saves the per-frame conversion cost of small partitions.

        Returns:
            Date → its :class:`WindowRead`, or the :class:`DataReadError` that reading it
            raised (an unreadable partition does not stop the others).
        """
        days = sorted({as_date(d) for d in dates})

        def load(day: date) -> tuple[date, list[tuple[pa.Table, FileRead]] | DataReadError]:
            try:
                return day, [self._read_file(key, None) for key in self.files(day)]
            except DataReadError as exc:
                return day, exc

        with ThreadPoolExecutor(max_workers=threads) as pool:
            loaded = dict(pool.map(load, days))
        out: dict[date, WindowRead | DataReadError] = {}
        groups: dict[pa.Schema, list[date]] = {}
        for day, parts in loaded.items():
            if isinstance(parts, DataReadError):
                out[day] = parts
            elif len({t.schema for t, _ in parts}) > 1 or not parts:
                out[day] = self._window_of(day, parts)
            else:
                groups.setdefault(parts[0][0].schema, []).append(day)
        for members in groups.values():
            tables = [t for day in members for t, _ in loaded[day]]  # type: ignore[union-attr]
            frame = pa.concat_tables(tables).to_pandas()
            offset = 0
            for day in members:
                parts = loaded[day]
                rows = sum(t.num_rows for t, _ in parts)  # type: ignore[union-attr]
                piece = frame.iloc[offset : offset + rows].reset_index(drop=True)
                out[day] = WindowRead(piece, [day], [r for _, r in parts])  # type: ignore[union-attr]
                offset += rows
        return dict(sorted(out.items()))

    def _window_of(self, day: date, parts: list[tuple[pa.Table, FileRead]]) -> WindowRead:
        if not parts:
            return WindowRead(pd.DataFrame(), [day], [])
        try:
            table = pa.concat_tables([t for t, _ in parts], promote_options="permissive")
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise DataReadError(
                f"{self.name}: files of {day} have incompatible schemas: {exc}"
            ) from exc
        return WindowRead(table.to_pandas(), [day], [r for _, r in parts])

    def read(
        self,
        start: date | str | None = None,
        end: date | str | None = None,
        columns: list[str] | None = None,
        dates: Iterable[date | str] | None = None,
        partition_column: str | None = None,
    ) -> pd.DataFrame:
        """Like :meth:`read_window` but returns only the frame."""
        return self.read_window(start, end, columns, dates, partition_column).frame

    def iter_batches(
        self,
        start: date | str | None = None,
        end: date | str | None = None,
        columns: list[str] | None = None,
        batch_size: int = 100_000,
        dates: Iterable[date | str] | None = None,
    ) -> Iterator[pd.DataFrame]:
        """Stream a window as DataFrames of at most ``batch_size`` rows (bounded memory).

        Files are read one row group at a time through :meth:`Storage.open` (on S3, ranged
        GETs of the footer and of that row group's column chunks), so memory holds about one
        row group and one batch however large the files are.

        Args:
            start: First date (inclusive).
            end: Last date (inclusive).
            columns: Columns to read; None = all.
            batch_size: Rows per frame at most.
            dates: Explicit dates instead of ``start``/``end``.

        Raises:
            DataReadError: A file cannot be read or lacks a requested column (named).
        """
        days = sorted({as_date(d) for d in dates}) if dates is not None else self.dates(start, end)
        for day in days:
            for key in self.files(day):
                try:
                    with self.storage.open(key) as source:
                        # pre_buffer=False: otherwise pyarrow keeps the whole raw file in memory
                        parquet = pq.ParquetFile(source, pre_buffer=False)
                        absent = [c for c in columns or [] if c not in parquet.schema_arrow.names]
                        if absent:
                            raise DataReadError(
                                f"{self.name}: missing column(s) {absent} in "
                                f"{self.storage.describe(key)}"
                            )
                        for batch in parquet.iter_batches(batch_size=batch_size, columns=columns):
                            yield batch.to_pandas()
                except (OSError, StorageError, pa.ArrowInvalid, pa.ArrowException) as exc:
                    raise DataReadError(
                        f"{self.name}: cannot read {self.storage.describe(key)}: {exc}"
                    ) from exc

    def schema(self, day: date | str | None = None) -> pa.Schema | None:
        """Arrow schema of a partition (the latest by default); None when the table is empty."""
        days = [as_date(day)] if day is not None else self.dates()[-1:]
        for d in days:
            for key in self.files(d):
                local = self.storage.local_path(key)
                source = (
                    str(local) if local is not None else io.BytesIO(self.storage.read_bytes(key))
                )
                return pq.read_schema(source)
        return None

    # -- writing --------------------------------------------------------------------------
    def write_partition(
        self, day: date | str, frame: pd.DataFrame, *, overwrite: bool = True
    ) -> str:
        """Write one day's rows as a single Parquet file.

        Args:
            day: Partition date.
            frame: Rows of that day.
            overwrite: Replace an existing partition (otherwise add a new part file).

        Returns:
            The key written.
        """
        prefix = self.partition_prefix(day)
        if overwrite:
            self.storage.delete_prefix(prefix)
            key = f"{prefix}/part-00000.parquet"
        else:
            key = f"{prefix}/part-{len(self.files(day)):05d}.parquet"
        buffer = io.BytesIO()
        with warnings.catch_warnings():
            # pyarrow's pandas bridge reads tz-aware columns via Series.values, which pandas 3
            # deprecates (Pandas4Warning); the conversion itself is correct.
            warnings.simplefilter("ignore", category=FutureWarning)
            warnings.simplefilter("ignore", category=DeprecationWarning)
            table = pa.Table.from_pandas(frame, preserve_index=False)
        pq.write_table(table, buffer, compression="zstd")
        self.storage.write_bytes(key, buffer.getvalue())
        return key

    def write(
        self, frame: pd.DataFrame, timestamp_column: str, *, overwrite: bool = True
    ) -> list[date]:
        """Split rows by the UTC date of ``timestamp_column`` and write one partition per day.

        Returns:
            The dates written.
        """
        if timestamp_column not in frame.columns:
            raise KeyError(f"{self.name}: timestamp column {timestamp_column!r} not in the frame")
        stamps = pd.to_datetime(frame[timestamp_column], utc=True)
        days = stamps.dt.date
        written: list[date] = []
        for day, part in frame.groupby(days, sort=True):
            self.write_partition(day, part, overwrite=overwrite)
            written.append(day)
        return written

    def delete_partition(self, day: date | str) -> int:
        """Delete a partition (use the quarantine to keep bad data instead)."""
        return self.storage.delete_prefix(self.partition_prefix(day))
