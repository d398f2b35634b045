"""Bounded samples of a data source, spread over its partitions or files (for ``init``)."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from retrainer.data.sources import InputFiles, SourceError, list_inputs, open_reader
from retrainer.data.storage import Storage, open_storage
from retrainer.data.tables import PartitionedTable

SAMPLE_ROWS = 100_000
_SPREAD = 400  # partitions or files read at most


@dataclass
class DataSample:
    """Rows read to infer a config from.

    Attributes:
        features: Feature rows (for a raw input: every column, the target among them).
        types: Arrow type of each feature column.
        labels: Label rows of a daily-layout source; None for a raw input.
        label_types: Arrow type of each label column.
        description: Where the rows came from, for messages and the config's header.
        rows_per_day: Average rows per calendar day of the features (None: estimate it from
            the timestamps).
        days: Calendar days the features span (None: estimate it from the timestamps).
    """

    features: pd.DataFrame
    types: dict[str, pa.DataType]
    labels: pd.DataFrame | None = None
    label_types: dict[str, pa.DataType] = field(default_factory=dict)
    description: str = ""
    rows_per_day: float | None = None
    days: int | None = None

    @property
    def layout(self) -> bool:
        """Whether the sample comes from tables in the daily layout."""
        return self.labels is not None


def spread(items: list, most: int) -> list:
    """At most ``most`` items, evenly spaced, the first and the last included."""
    if len(items) <= most:
        return list(items)
    step = (len(items) - 1) / (most - 1)
    return [items[round(i * step)] for i in range(most)]


def _read_partition(table: PartitionedTable, day: date, budget: int) -> tuple[pa.Table | None, int]:
    """Up to ``budget`` rows of one partition, and how many rows it holds."""
    parts: list[pa.Table] = []
    rows = 0
    for key in table.files(day):
        local = table.storage.local_path(key)
        source = str(local) if local is not None else io.BytesIO(table.storage.read_bytes(key))
        parquet = pq.ParquetFile(source, pre_buffer=False)
        rows += parquet.metadata.num_rows
        left = budget - sum(p.num_rows for p in parts)
        if left > 0 and parquet.metadata.num_rows:
            batch = next(parquet.iter_batches(batch_size=left))
            parts.append(pa.Table.from_batches([batch]))
    if not parts:
        return None, rows
    return pa.concat_tables(parts, promote_options="permissive"), rows


def _sample_table(
    table: PartitionedTable, max_rows: int
) -> tuple[pa.Table | None, list[date], int]:
    """Rows spread over the table's partitions, the partitions, and their average size."""
    days = table.dates()
    chosen = spread(days, _SPREAD)
    budget = max(1, max_rows // max(1, len(chosen)))
    tables, sizes = [], []
    for day in chosen:
        part, rows = _read_partition(table, day, budget)
        sizes.append(rows)
        if part is not None:
            tables.append(part)
    combined = pa.concat_tables(tables, promote_options="permissive") if tables else None
    return combined, days, int(sum(sizes) / len(sizes)) if sizes else 0


def _frame(table: pa.Table) -> tuple[pd.DataFrame, dict[str, pa.DataType]]:
    return table.to_pandas(), {f.name: f.type for f in table.schema}


def sample_layout(
    storage: Storage,
    features: str = "features",
    labels: str = "labels",
    max_rows: int = SAMPLE_ROWS,
) -> DataSample:
    """Sample a data root in the daily layout (what ``retrainer import`` writes).

    Raises:
        SourceError: When the features or labels table holds no rows.
    """
    feature_table, label_table = (
        PartitionedTable(storage, features),
        PartitionedTable(storage, labels),
    )
    rows, days, per_partition = _sample_table(feature_table, max_rows)
    if rows is None:
        raise SourceError(f"{storage.describe(features)}: no feature partitions")
    label_rows, label_days, _ = _sample_table(label_table, max_rows)
    if label_rows is None:
        raise SourceError(f"{storage.describe(labels)}: no label partitions")
    span = (days[-1] - days[0]).days + 1
    frame, types = _frame(rows)
    label_frame, label_types = _frame(label_rows)
    return DataSample(
        features=frame,
        types=types,
        labels=label_frame,
        label_types=label_types,
        description=f"{storage.uri} ({len(days):,} feature and {len(label_days):,} label "
        "partitions)",
        rows_per_day=per_partition * len(days) / span,
        days=span,
    )


def sample_files(files: InputFiles, max_rows: int = SAMPLE_ROWS) -> DataSample:
    """Sample a raw CSV/Parquet input: the first rows of up to 400 of its files, evenly spread.

    Column types are inferred on the sample the way ``retrainer import`` infers them.

    Raises:
        SourceError: When a file cannot be read or holds no rows.
    """
    chosen = InputFiles(
        files.location, files.filesystem, spread(files.paths, _SPREAD), files.suffix
    )
    tables = []
    for path in chosen.paths:
        one = InputFiles(files.location, files.filesystem, [path], files.suffix)
        reader = open_reader(one, max_rows=max(1, max_rows // len(chosen.paths)))
        tables += list(reader.batches())
    try:
        combined = pa.concat_tables(tables, promote_options="permissive") if tables else None
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise SourceError(f"{files.describe()}: the files' columns differ in type: {exc}") from None
    if combined is None or combined.num_rows == 0:
        raise SourceError(f"{files.describe()}: no data rows")
    frame, types = _frame(combined)
    return DataSample(features=frame, types=types, description=files.describe())


def sample_source(
    location: str,
    endpoint_url: str | None = None,
    max_rows: int = SAMPLE_ROWS,
    tables: tuple[str, str] = ("features", "labels"),
) -> tuple[DataSample, InputFiles | None]:
    """Sample a data root in the daily layout, or else a raw CSV/Parquet input.

    Args:
        location: Folder, file or ``s3://`` URI.
        endpoint_url: S3 endpoint (MinIO, moto).
        max_rows: Rows read at most.
        tables: Names of the features and labels tables of a daily-layout root.

    Returns:
        The sample, and the raw input's files (None for a daily-layout root).

    Raises:
        SourceError: When nothing readable is there.
    """
    if not location.startswith("s3://") and not Path(location).expanduser().exists():
        raise SourceError(f"{location}: no such file or folder")
    if location.startswith("s3://") or Path(location).expanduser().is_dir():
        storage = open_storage(location, endpoint_url=endpoint_url)
        if PartitionedTable(storage, tables[0]).dates():
            return sample_layout(storage, *tables, max_rows=max_rows), None
    files = list_inputs(location, endpoint_url)
    return sample_files(files, max_rows), files
