"""Raw input files (CSV or Parquet, local or ``s3://``) read in bounded batches, one schema.

A CSV's column types are decided over the whole input before any row is used: a first pass
reads every column as text and narrows each column's type chunk by chunk (a column of ints
in the first block and floats later is float everywhere; an empty block says nothing), and
the second pass casts every chunk to those types. Parquet files carry their types; several
files are unified (int and float give float).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol
from urllib.parse import urlparse

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from retrainer.progress import track

SUFFIXES = (".csv", ".parquet")
CSV_BLOCK_SIZE = 4 << 20
PARQUET_BATCH_ROWS = 100_000
_SAMPLE_VALUES = 1000
_HEADER_BLOCK = 1 << 16
_INDEX_PREFIX = "__index_level_"  # pandas' index columns in Parquet files


class SourceError(ValueError):
    """The input cannot be read; the message names the file (and column)."""


@dataclass(frozen=True)
class InputFiles:
    """The files of one input: a file, or every ``*.csv`` / ``*.parquet`` of a folder/prefix.

    Attributes:
        location: What the user gave (path or ``s3://`` URI).
        filesystem: The Arrow filesystem holding the files.
        paths: Paths on that filesystem, sorted.
        suffix: ``.csv`` or ``.parquet``.
    """

    location: str
    filesystem: pafs.FileSystem
    paths: list[str]
    suffix: str

    def display(self, path: str) -> str:
        """A user-facing name of one file."""
        return f"s3://{path}" if isinstance(self.filesystem, pafs.S3FileSystem) else path

    def describe(self) -> str:
        """The input in messages: the file, or the folder with its file count."""
        if len(self.paths) == 1:
            return self.display(self.paths[0])
        return f"{self.location} ({len(self.paths)} files)"


def _s3_filesystem(bucket: str, endpoint_url: str | None) -> pafs.S3FileSystem:
    endpoint = (
        endpoint_url
        or os.environ.get("AWS_ENDPOINT_URL_S3")
        or os.environ.get("AWS_ENDPOINT_URL")
        or None
    )
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if region is None and endpoint is None:
        region = pafs.resolve_s3_region(bucket)
    return pafs.S3FileSystem(endpoint_override=endpoint, region=region or "us-east-1")


def list_inputs(location: str | Path, endpoint_url: str | None = None) -> InputFiles:
    """Resolve a file, folder or ``s3://bucket/key|prefix`` to the files to read.

    Args:
        location: Local path or S3 URI.
        endpoint_url: S3 endpoint (MinIO, moto); default ``AWS_ENDPOINT_URL``.

    Raises:
        SourceError: When nothing is there, a folder holds no CSV/Parquet file or both kinds,
            or a file has another suffix.
    """
    text = str(location)
    if text.startswith("s3://"):
        parsed = urlparse(text)
        filesystem: pafs.FileSystem = _s3_filesystem(parsed.netloc, endpoint_url)
        path = f"{parsed.netloc}/{parsed.path.strip('/')}".rstrip("/")
    else:
        filesystem = pafs.LocalFileSystem()
        path = str(Path(text).expanduser().resolve())
    try:
        info = filesystem.get_file_info(path)
        if info.type == pafs.FileType.Directory:
            listed = filesystem.get_file_info(pafs.FileSelector(path, recursive=False))
            paths = sorted(i.path for i in listed if i.is_file and i.path.endswith(SUFFIXES))
        else:
            paths = [path] if info.type == pafs.FileType.File else []
    except OSError as exc:
        raise SourceError(f"{text}: cannot list: {exc}") from None
    if info.type == pafs.FileType.NotFound:
        raise SourceError(f"{text}: no such file or folder")
    if not paths:
        raise SourceError(f"{text}: no *.csv or *.parquet files in it")
    suffixes = {Path(p).suffix for p in paths}
    if not suffixes <= set(SUFFIXES):
        raise SourceError(f"{text}: not a .csv or .parquet file")
    if len(suffixes) > 1:
        raise SourceError(f"{text}: holds both CSV and Parquet files; import one kind at a time")
    return InputFiles(text, filesystem, paths, suffixes.pop())


# -- CSV type inference ------------------------------------------------------------------

_NUMERIC_ORDER = {pa.int64(): 0, pa.float64(): 1}
# narrowest first: a column takes the first type every value of a chunk casts to
_CANDIDATES = (pa.int64(), pa.float64(), pa.bool_())


def _chunk_type(values: pa.Array, current: pa.DataType) -> pa.DataType:
    """The narrowest type, no narrower than ``current``, that every value of a chunk casts to.

    An all-empty chunk says nothing (null); a chunk no candidate fits is text.
    """
    if values.null_count == len(values):
        return pa.null()
    if current == pa.string():
        return current
    start = _CANDIDATES.index(current) if current in _CANDIDATES else 0
    for kind in _CANDIDATES[start:]:
        try:
            pc.cast(values, kind)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
        return kind
    return pa.string()


def join_types(a: pa.DataType, b: pa.DataType) -> pa.DataType:
    """The type two chunks of one column share: null gives way, int and float give float."""
    if a == b or pa.types.is_null(b):
        return a
    if pa.types.is_null(a):
        return b
    if a in _NUMERIC_ORDER and b in _NUMERIC_ORDER:
        return pa.float64()
    return pa.string()


def _id_type(values: pa.Array, current: pa.DataType) -> pa.DataType:
    """Ids stay integers only when every value is one without leading zeros; never floats."""
    if current == pa.string():
        return current
    kind = _chunk_type(values, pa.null())
    if kind == pa.int64() and pc.any(pc.match_substring_regex(values, r"^[+-]?0\d")).as_py():
        return pa.string()
    return kind if kind in (pa.int64(), pa.null()) else pa.string()


def _column_type(name: str, values: pa.Array, current: pa.DataType, ids: set[str]) -> pa.DataType:
    chunk = _id_type(values, current) if name in ids else _chunk_type(values, current)
    return join_types(current, chunk)


@dataclass
class ColumnScan:
    """What the first pass learned about one column."""

    kind: pa.DataType = field(default_factory=pa.null)
    sample: list[str] = field(default_factory=list)

    def keep(self, values: pa.Array) -> None:
        """Keep the first non-null values (up to 1000) as a sample."""
        room = _SAMPLE_VALUES - len(self.sample)
        if room > 0:
            self.sample += values.drop_null()[:room].to_pylist()


def _batch_kind(kind: pa.DataType) -> pa.DataType:
    """The type a decided column is stored as (an all-empty column is text)."""
    return pa.string() if pa.types.is_null(kind) else kind


class Reader(Protocol):
    """Batches of one input, all in :attr:`schema`."""

    schema: pa.Schema
    rows: int
    batch_count: int

    def batches(self) -> Iterator[pa.Table]:
        """The rows in input order, in bounded batches."""
        ...

    def sample(self, column: str) -> pa.Array:
        """Some non-null values of a column, in its raw type."""
        ...


class CsvReader:
    """CSV files read twice: once to decide every column's type, once to yield batches.

    Args:
        files: The input.
        text_columns: Columns kept as text (times parsed later, by their own rules).
        id_columns: Columns read as int64 or text, never float.
        block_size: Bytes per CSV block (the unit of streaming).
        max_rows: Stop after this many rows (sampling); None = read everything.
    """

    def __init__(
        self,
        files: InputFiles,
        text_columns: set[str] | frozenset[str] = frozenset(),
        id_columns: set[str] | frozenset[str] = frozenset(),
        block_size: int = CSV_BLOCK_SIZE,
        max_rows: int | None = None,
    ):
        self.files = files
        self.text_columns = set(text_columns)
        self.id_columns = set(id_columns)
        self.block_size = block_size
        self.max_rows = max_rows
        self.names = self._header(files.paths[0])
        self.rows = 0
        self.batch_count = 0
        self.scans: dict[str, ColumnScan] = {}
        self.schema = pa.schema([])

    def _open(self, path: str, block_size: int, types: dict[str, pa.DataType] | None = None):
        try:
            stream = self.files.filesystem.open_input_stream(path)
            return pacsv.open_csv(
                stream,
                read_options=pacsv.ReadOptions(block_size=block_size),
                convert_options=pacsv.ConvertOptions(
                    column_types=types or {}, strings_can_be_null=True
                ),
            )
        except (pa.ArrowInvalid, OSError) as exc:
            raise SourceError(f"{self.files.display(path)}: cannot read the CSV: {exc}") from None

    def _header(self, path: str) -> list[str]:
        reader = self._open(path, _HEADER_BLOCK)
        names = reader.schema.names
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise SourceError(
                f"{self.files.display(path)}: duplicated column name(s) {', '.join(duplicated)}"
            )
        return names

    def _check_columns(self, path: str) -> None:
        """Every file must have the first file's columns (in any order)."""
        if path == self.files.paths[0]:
            return
        names = set(self._header(path))
        missing = ", ".join(sorted(set(self.names) - names)) or "-"
        extra = ", ".join(sorted(names - set(self.names))) or "-"
        if missing != "-" or extra != "-":
            raise SourceError(
                f"{self.files.display(path)}: columns differ from "
                f"{self.files.display(self.files.paths[0])} (missing: {missing}; extra: {extra})"
            )

    def _chunks(self, label: str | None) -> Iterator[tuple[str, pa.RecordBatch]]:
        """Every block of every file with all columns as text, in input order.

        Args:
            label: Progress bar text per file (the file name is added); None = no bar.
        """
        texts = dict.fromkeys(self.names, pa.string())
        left = self.max_rows
        for path in self.files.paths:
            self._check_columns(path)
            reader = self._open(path, self.block_size, texts)
            try:
                blocks = track(reader, f"{label} {Path(path).name}") if label else reader
                for batch in blocks:
                    if left is not None:
                        batch = batch.slice(0, left)
                        left -= batch.num_rows
                    yield path, batch.select(self.names)
                    if left is not None and left <= 0:
                        return
            except pa.ArrowInvalid as exc:
                raise SourceError(
                    f"{self.files.display(path)}: cannot read the CSV: {exc}"
                ) from None

    def scan(self) -> CsvReader:
        """The first pass: decide each column's type, count rows and blocks, keep samples."""
        self.scans = {name: ColumnScan() for name in self.names}
        for _, batch in self._chunks("reading types of"):
            self.rows += batch.num_rows
            self.batch_count += 1
            for name, values in zip(self.names, batch.columns, strict=True):
                scan = self.scans[name]
                if len(scan.sample) < _SAMPLE_VALUES:
                    scan.sample += values.drop_null()[
                        : _SAMPLE_VALUES - len(scan.sample)
                    ].to_pylist()
                if name not in self.text_columns:
                    scan.kind = _column_type(name, values, scan.kind, self.id_columns)
        self.schema = pa.schema(
            [
                (n, pa.string() if n in self.text_columns else _batch_kind(self.scans[n].kind))
                for n in self.names
            ]
        )
        return self

    def batches(self) -> Iterator[pa.Table]:
        """The second pass: each block cast to the decided types."""
        for path, batch in self._chunks(None):
            columns = []
            for name, values in zip(self.names, batch.columns, strict=True):
                kind = self.schema.field(name).type
                try:
                    columns.append(values if kind == pa.string() else pc.cast(values, kind))
                except pa.ArrowInvalid as exc:
                    raise SourceError(
                        f"{self.files.display(path)}: column {name!r} changed type between "
                        f"the two reads ({exc})"
                    ) from None
            yield pa.Table.from_arrays(columns, schema=self.schema)

    def sample(self, column: str) -> pa.Array:
        """Up to 1000 non-null texts of ``column`` from the first pass."""
        return pa.array(self.scans[column].sample, type=pa.string())


class ParquetReader:
    """Parquet files read batch by batch in one unified schema.

    Args:
        files: The input.
        batch_rows: Rows per batch.
        max_rows: Stop after this many rows (sampling); None = read everything.
    """

    def __init__(
        self, files: InputFiles, batch_rows: int = PARQUET_BATCH_ROWS, max_rows: int | None = None
    ):
        self.files = files
        self.batch_rows = batch_rows
        self.max_rows = max_rows
        self.rows = 0
        self.batch_count = 0
        self.schema = pa.schema([])

    def _file(self, path: str) -> pq.ParquetFile:
        try:
            return pq.ParquetFile(self.files.filesystem.open_input_file(path), pre_buffer=False)
        except (pa.ArrowInvalid, OSError) as exc:
            raise SourceError(
                f"{self.files.display(path)}: cannot read the Parquet file: {exc}"
            ) from None

    def scan(self) -> ParquetReader:
        """Unify the files' schemas (dictionaries decoded, pandas index columns dropped)."""
        schemas = []
        for path in self.files.paths:
            parquet = self._file(path)
            meta = parquet.metadata
            self.rows += meta.num_rows
            self.batch_count += sum(
                -(-meta.row_group(i).num_rows // self.batch_rows)
                for i in range(meta.num_row_groups)
            )
            fields = [
                pa.field(f.name, f.type.value_type if pa.types.is_dictionary(f.type) else f.type)
                for f in parquet.schema_arrow
                if not f.name.startswith(_INDEX_PREFIX)
            ]
            schemas.append(pa.schema(fields))
        try:
            unified = pa.unify_schemas(schemas, promote_options="permissive")
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise SourceError(
                f"{self.files.describe()}: the files' schemas differ: {exc}"
            ) from None
        self.schema = pa.schema([pa.field(f.name, _batch_kind(f.type)) for f in unified])
        return self

    def batches(self) -> Iterator[pa.Table]:
        """Every batch of every file, cast to the unified schema."""
        left = self.max_rows
        for path in self.files.paths:
            parquet = self._file(path)
            present = [n for n in self.schema.names if n in parquet.schema_arrow.names]
            try:
                for batch in parquet.iter_batches(batch_size=self.batch_rows, columns=present):
                    table = pa.Table.from_batches([batch])
                    if left is not None:
                        table = table.slice(0, left)
                        left -= table.num_rows
                    yield self._conform(table)
                    if left is not None and left <= 0:
                        return
            except (pa.ArrowInvalid, OSError) as exc:
                raise SourceError(f"{self.files.display(path)}: cannot read: {exc}") from None

    def _conform(self, table: pa.Table) -> pa.Table:
        columns = []
        for f in self.schema:
            if f.name in table.column_names:
                column = table[f.name]
                if pa.types.is_dictionary(column.type):
                    column = column.cast(column.type.value_type)
                columns.append(column.cast(f.type))
            else:
                columns.append(pa.nulls(table.num_rows, f.type))
        return pa.Table.from_arrays(columns, schema=self.schema)

    def sample(self, column: str) -> pa.Array:
        """Up to 1000 non-null values of ``column`` from the first file(s)."""
        values: list[pa.Array] = []
        found = 0
        for path in self.files.paths:
            parquet = self._file(path)
            if column not in parquet.schema_arrow.names:
                continue
            for batch in parquet.iter_batches(batch_size=_SAMPLE_VALUES, columns=[column]):
                chunk = self._conform_column(batch.column(0), column).drop_null()
                values.append(chunk)
                found += len(chunk)
                if found >= _SAMPLE_VALUES:
                    break
            if found >= _SAMPLE_VALUES:
                break
        kind = self.schema.field(column).type
        return pa.concat_arrays(values)[:_SAMPLE_VALUES] if values else pa.array([], type=kind)

    def _conform_column(self, values: pa.Array, column: str) -> pa.Array:
        if pa.types.is_dictionary(values.type):
            values = values.dictionary_decode()
        return values.cast(self.schema.field(column).type)


def open_reader(
    files: InputFiles,
    *,
    text_columns: set[str] | frozenset[str] = frozenset(),
    id_columns: set[str] | frozenset[str] = frozenset(),
    block_size: int = CSV_BLOCK_SIZE,
    batch_rows: int = PARQUET_BATCH_ROWS,
    max_rows: int | None = None,
) -> CsvReader | ParquetReader:
    """A scanned reader for the input (its schema decided, rows counted).

    Args:
        files: The input.
        text_columns: CSV columns kept as text (times parsed later by their own rules).
        id_columns: CSV columns read as int64 or text, never float.
        block_size: CSV block size in bytes.
        batch_rows: Parquet rows per batch.
        max_rows: Read at most this many rows (sampling).
    """
    if files.suffix == ".csv":
        return CsvReader(files, text_columns, id_columns, block_size, max_rows).scan()
    return ParquetReader(files, batch_rows, max_rows).scan()
