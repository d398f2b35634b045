"""Bring your own data: raw CSV/Parquet rows into the daily ``features`` and ``labels`` tables.

Rows go to ``<out>/features/date=YYYY-MM-DD/part-NNNNN.parquet`` by the UTC date of their
event time (every column but the target and the label-time column) and their labels to
``<out>/labels/date=YYYY-MM-DD/...`` by the UTC date the label arrived (id, ``label_time``,
target). The input is streamed in bounded batches; rows are buffered per date and written
as part files when the buffer is full or, for input sorted by time, when a date is complete
(so sorted input gives one file per date). Nothing here imports Prefect.
"""

from __future__ import annotations

import io
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from retrainer.data.sources import (
    CSV_BLOCK_SIZE,
    PARQUET_BATCH_ROWS,
    CsvReader,
    InputFiles,
    ParquetReader,
    SourceError,
    list_inputs,
    open_reader,
)
from retrainer.data.storage import Storage, open_storage
from retrainer.data.tables import PartitionedTable
from retrainer.data.timestamps import (
    UTC_TIMESTAMP,
    TimeParseError,
    TimeParser,
    check_timezone,
    time_parser,
)
from retrainer.progress import track

ROW_ID = "row_id"
LABEL_TIME = "label_time"
BUFFER_ROWS = 500_000
_EPOCH = date(1970, 1, 1)
_WRITERS = 4
_EXAMPLES = 3


class ImportDataError(ValueError):
    """Bad options or input; the message names the option, column and file."""


@dataclass(frozen=True)
class ImportOptions:
    """How to read the input.

    Attributes:
        timestamp: Event-time column.
        target: Label column (goes to the labels table only).
        id: Row id column; None = generate ``row_id`` from the input row number.
        label_delay_days: Labels arrive this many days after the event (default 0).
        label_time: Column holding each label's arrival time (instead of a delay).
        timezone: How naive timestamps are read.
        force: Replace tables that already hold partitions.
        features_table: Name of the features table.
        labels_table: Name of the labels table.
        block_size: CSV bytes per block.
        batch_rows: Parquet rows per batch.
        buffer_rows: Rows buffered per table before part files are written.
    """

    timestamp: str
    target: str
    id: str | None = None
    label_delay_days: int | None = None
    label_time: str | None = None
    timezone: str = "UTC"
    force: bool = False
    features_table: str = "features"
    labels_table: str = "labels"
    block_size: int = CSV_BLOCK_SIZE
    batch_rows: int = PARQUET_BATCH_ROWS
    buffer_rows: int = BUFFER_ROWS

    @property
    def id_column(self) -> str:
        """The id column of both tables."""
        return self.id or ROW_ID

    @property
    def roles(self) -> list[tuple[str, str]]:
        """``(option, column)`` of every column the options name."""
        named = [
            ("--timestamp", self.timestamp),
            ("--target", self.target),
            ("--id", self.id),
            ("--label-time", self.label_time),
        ]
        return [(option, column) for option, column in named if column is not None]


@dataclass
class TimeCounts:
    """Values of a time column that could not be used."""

    missing: int = 0
    unreadable: int = 0
    examples: list[str] = field(default_factory=list)

    def count(self, raw: pa.ChunkedArray | pa.Array, parsed: pa.Array) -> None:
        """Count the nulls of ``raw`` and the values ``parsed`` could not read."""
        missing = raw.null_count
        bad = pc.and_(pc.is_valid(raw), pc.is_null(parsed))
        unreadable = pc.sum(bad).as_py() or 0
        self.missing += missing
        self.unreadable += unreadable
        if unreadable and len(self.examples) < _EXAMPLES:
            values = pc.filter(raw, bad)[: _EXAMPLES - len(self.examples)]
            self.examples += [str(v) for v in values.to_pylist()]

    def to_dict(self) -> dict[str, Any]:
        """As a JSON-able dict."""
        return {"missing": self.missing, "unreadable": self.unreadable, "examples": self.examples}


class PartitionWriter:
    """Buffers rows per UTC date and writes them as part files through the storage layer.

    Args:
        table: The table written.
        time_column: Its timestamp column (``timestamp[us, tz=UTC]``), which picks the date.
        limit: Rows buffered before every buffered date is written.
        pool: Writes part files concurrently.
    """

    def __init__(
        self, table: PartitionedTable, time_column: str, limit: int, pool: ThreadPoolExecutor
    ):
        self.table = table
        self.time_column = time_column
        self.limit = limit
        self.pool = pool
        self.rows_by_day: dict[int, int] = defaultdict(int)
        self.files_by_day: dict[int, int] = defaultdict(int)
        self._pending: dict[int, list[pa.Table]] = defaultdict(list)
        self._buffered = 0

    def add(self, rows: pa.Table) -> None:
        """Buffer rows; write dates that are complete (older than these rows) or a full buffer."""
        if rows.num_rows == 0:
            return
        days = rows[self.time_column].cast(pa.date32()).cast(pa.int32()).to_numpy()
        order = np.argsort(days, kind="stable")
        ordered, days = rows.take(order), days[order]
        firsts, starts, counts = np.unique(days, return_index=True, return_counts=True)
        for day, start, count in zip(
            firsts.tolist(), starts.tolist(), counts.tolist(), strict=True
        ):
            self._pending[day].append(ordered.slice(start, count))
            self._buffered += count
        oldest = int(firsts[0])
        self.flush([d for d in self._pending if d < oldest])
        if self._buffered > self.limit:
            self.flush(list(self._pending))

    def flush(self, days: list[int] | None = None) -> None:
        """Write the buffered rows of ``days`` (default: every buffered date)."""
        jobs = []
        for day in list(self._pending) if days is None else days:
            rows = pa.concat_tables(self._pending.pop(day))
            self._buffered -= rows.num_rows
            self.rows_by_day[day] += rows.num_rows
            prefix = self.table.partition_prefix(_EPOCH + timedelta(days=day))
            jobs.append((f"{prefix}/part-{self.files_by_day[day]:05d}.parquet", rows))
            self.files_by_day[day] += 1
        # part files are independent: encode and upload several at once
        list(self.pool.map(lambda job: self._write(*job), jobs))

    def _write(self, key: str, rows: pa.Table) -> None:
        buffer = io.BytesIO()
        pq.write_table(rows, buffer, compression="zstd")
        self.table.storage.write_bytes(key, buffer.getvalue())

    def summary(self) -> dict[str, Any]:
        """Rows, partitions, files and date range written."""
        days = sorted(self.rows_by_day)
        return {
            "location": self.table.storage.describe(self.table.name),
            "rows": sum(self.rows_by_day.values()),
            "partitions": len(days),
            "files": sum(self.files_by_day.values()),
            "first_date": (_EPOCH + timedelta(days=days[0])).isoformat() if days else None,
            "last_date": (_EPOCH + timedelta(days=days[-1])).isoformat() if days else None,
        }


@dataclass
class _Plan:
    """What one import does with each batch."""

    options: ImportOptions
    event: TimeParser
    label: TimeParser | None
    features: PartitionWriter
    labels: PartitionWriter
    times: TimeCounts = field(default_factory=TimeCounts)
    label_times: TimeCounts = field(default_factory=TimeCounts)
    rows_read: int = 0
    no_target: int = 0
    no_id: int = 0
    early_labels: int = 0

    def take(self, batch: pa.Table) -> None:
        """Split a batch into feature and label rows and buffer them."""
        opts = self.options
        offset, self.rows_read = self.rows_read, self.rows_read + batch.num_rows
        event = self.event(batch[opts.timestamp])
        self.times.count(batch[opts.timestamp], event)
        dropped = [opts.target] + ([opts.label_time] if opts.label_time else [])
        features = batch.drop_columns(dropped)
        features = features.set_column(
            features.column_names.index(opts.timestamp), opts.timestamp, event
        )
        if opts.id is None:
            features = features.add_column(0, ROW_ID, _row_ids(offset, batch.num_rows))
        arrival = self._arrival(batch, event)
        labels = pa.table(
            {
                opts.id_column: features[opts.id_column],
                LABEL_TIME: arrival,
                opts.target: batch[opts.target],
            }
        )
        dated = pc.is_valid(event)
        self.no_id += pc.sum(pc.and_(dated, pc.is_null(features[opts.id_column]))).as_py() or 0
        self.no_target += pc.sum(pc.and_(dated, pc.is_null(batch[opts.target]))).as_py() or 0
        labelled = pc.and_(pc.and_(dated, pc.is_valid(batch[opts.target])), pc.is_valid(arrival))
        self.early_labels += pc.sum(pc.and_(labelled, pc.less(arrival, event))).as_py() or 0
        self.features.add(features.filter(dated))
        self.labels.add(labels.filter(labelled))

    def _arrival(self, batch: pa.Table, event: pa.Array) -> pa.Array:
        if self.label is None:
            delay = timedelta(days=self.options.label_delay_days or 0)
            return pc.add(event, pa.scalar(delay, type=pa.duration("us")))
        raw = batch[self.options.label_time]
        arrival = self.label(raw)
        self.label_times.count(raw, arrival)
        return arrival


def _row_ids(offset: int, count: int) -> pa.Array:
    """``r000000123``: the 0-based position of each row in the input (all files, in order)."""
    numbers = pc.cast(pa.array(np.arange(offset, offset + count)), pa.string())
    return pc.binary_join_element_wise("r", pc.utf8_lpad(numbers, 9, "0"), "")


def _check_columns(schema: pa.Schema, options: ImportOptions, where: str) -> None:
    """Every named column exists, no column plays two roles, generated names are free."""
    names = schema.names
    for option, column in options.roles:
        if column not in names:
            raise ImportDataError(
                f"{option} {column}: no such column in {where} (columns: {', '.join(names)})"
            )
    seen: dict[str, str] = {}
    for option, column in options.roles:
        if column in seen:
            raise ImportDataError(f"{option} {column}: the same column as {seen[column]}")
        seen[column] = option
    if options.id is None and ROW_ID in names:
        raise ImportDataError(
            f"{where} already has a column {ROW_ID!r}, the name of the generated id: pass "
            f"--id {ROW_ID} to use it as the id, or rename it"
        )
    for option, column in (("--target", options.target), ("--id", options.id)):
        if column == LABEL_TIME:
            raise ImportDataError(
                f"{option} {column}: the labels table stores the arrival time as "
                f"{LABEL_TIME!r}; rename the column"
            )
    if options.label_delay_days is not None and options.label_time is not None:
        raise ImportDataError("--label-delay-days and --label-time exclude each other")
    if (options.label_delay_days or 0) < 0:
        raise ImportDataError(f"--label-delay-days {options.label_delay_days}: must be >= 0")


def _parser(
    reader: CsvReader | ParquetReader, option: str, column: str, timezone: str, where: str
) -> TimeParser:
    try:
        return time_parser(
            column, reader.schema.field(column).type, reader.sample(column), timezone
        )
    except TimeParseError as exc:
        raise ImportDataError(f"{option} {column}: {exc} in {where}") from None


def _occupied(tables: list[PartitionedTable]) -> list[str]:
    out = []
    for table in tables:
        days = table.dates()
        if days:
            count = f"{len(days):,} partition{'s' if len(days) != 1 else ''}"
            out.append(
                f"{table.storage.describe(table.name)} already holds {count} "
                f"({days[0]}..{days[-1]})"
            )
    return out


def import_data(
    source: str | Path,
    out: str | Path | Storage,
    options: ImportOptions,
    *,
    endpoint_url: str | None = None,
) -> dict[str, Any]:
    """Import a CSV/Parquet file or folder (local or ``s3://``) into the daily tables.

    Args:
        source: A file, or a folder/prefix whose ``*.csv`` or ``*.parquet`` files are read in
            name order.
        out: The data root (local folder, ``s3://bucket/prefix`` or a storage).
        options: Columns and how to read them.
        endpoint_url: S3 endpoint (MinIO, moto) for ``source`` and ``out``.

    Returns:
        A summary: rows read and written, skipped rows and why, and per table the location,
        rows, partitions, files and date range.

    Raises:
        ImportDataError: For bad options or unreadable input (naming option, column, file),
            or tables that already hold partitions without ``options.force``.
    """
    started = time.monotonic()
    try:
        check_timezone(options.timezone)
    except TimeParseError as exc:
        raise ImportDataError(f"--timezone {options.timezone}: {exc}") from None
    try:
        files = list_inputs(source, endpoint_url)
    except SourceError as exc:
        raise ImportDataError(str(exc)) from None
    storage = out if not isinstance(out, str | Path) else open_storage(str(out), endpoint_url)
    tables = [PartitionedTable(storage, n) for n in (options.features_table, options.labels_table)]
    occupied = _occupied(tables)
    if occupied and not options.force:
        raise ImportDataError(
            "; ".join(occupied) + ": pass --force to replace the features and labels tables"
        )
    plan, reader = _prepare(files, tables, options)
    for table in tables:
        storage.delete_prefix(table.name)
    try:
        for batch in track(reader.batches(), "importing", total=reader.batch_count):
            plan.take(batch)
        plan.features.flush()
        plan.labels.flush()
    except SourceError as exc:
        raise ImportDataError(str(exc)) from None
    finally:
        plan.features.pool.shutdown()
    return _summary(plan, files, reader, storage, bool(occupied), time.monotonic() - started)


def _prepare(
    files: InputFiles, tables: list[PartitionedTable], options: ImportOptions
) -> tuple[_Plan, CsvReader | ParquetReader]:
    """Scan the input (its schema), check the options against it, detect time formats."""
    where = files.describe()
    texts = {options.timestamp} | ({options.label_time} if options.label_time else set())
    try:
        reader = open_reader(
            files,
            text_columns=texts,
            id_columns={options.id} if options.id else set(),
            block_size=options.block_size,
            batch_rows=options.batch_rows,
        )
    except SourceError as exc:
        raise ImportDataError(str(exc)) from None
    _check_columns(reader.schema, options, where)
    if reader.rows == 0:
        raise ImportDataError(f"{where}: no data rows")
    event = _parser(reader, "--timestamp", options.timestamp, options.timezone, where)
    label = (
        _parser(reader, "--label-time", options.label_time, options.timezone, where)
        if options.label_time
        else None
    )
    pool = ThreadPoolExecutor(max_workers=_WRITERS)
    features = PartitionWriter(tables[0], options.timestamp, options.buffer_rows, pool)
    labels = PartitionWriter(tables[1], LABEL_TIME, options.buffer_rows, pool)
    return _Plan(options, event, label, features, labels), reader


def _summary(
    plan: _Plan,
    files: InputFiles,
    reader: CsvReader | ParquetReader,
    storage: Storage,
    replaced: bool,
    seconds: float,
) -> dict[str, Any]:
    opts = plan.options
    features, labels = plan.features.summary(), plan.labels.summary()
    if opts.label_time:
        label_source: dict[str, Any] = {
            "source": "column",
            "column": opts.label_time,
            "read_as": plan.label.describe() if plan.label else None,
            **plan.label_times.to_dict(),
        }
    else:
        label_source = {
            "source": "delay",
            "delay_days": opts.label_delay_days or 0,
            "default": opts.label_delay_days is None,
        }
    warnings = []
    if plan.no_id:
        warnings.append(f"{plan.no_id:,} rows have no {opts.id_column!r}: their labels cannot join")
    if plan.early_labels:
        warnings.append(
            f"{plan.early_labels:,} labels arrive before their event time ({opts.label_time!r})"
        )
    return {
        "ok": True,
        "input": files.describe(),
        "files": [files.display(p) for p in files.paths],
        "format": files.suffix.lstrip("."),
        "out": storage.uri,
        "rows_read": plan.rows_read,
        "rows_written": features["rows"],
        "skipped_rows": plan.times.missing + plan.times.unreadable,
        "timestamp": {
            "column": opts.timestamp,
            "read_as": plan.event.describe(),
            **plan.times.to_dict(),
        },
        "id": {"column": opts.id_column, "generated": opts.id is None},
        "label_time": label_source,
        "labels_without_target": plan.no_target,
        "columns": {f.name: str(f.type) for f in _feature_schema(reader.schema, opts)},
        "replaced": replaced,
        "warnings": warnings,
        "tables": {"features": features, "labels": labels},
        "seconds": round(seconds, 2),
    }


def _feature_schema(schema: pa.Schema, options: ImportOptions) -> list[pa.Field]:
    fields = [pa.field(ROW_ID, pa.string())] if options.id is None else []
    for f in schema:
        if f.name in (options.target, options.label_time):
            continue
        fields.append(pa.field(f.name, UTC_TIMESTAMP) if f.name == options.timestamp else f)
    return fields
