"""The data catalog of a project: its tables and the quarantine for failing batches."""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

import pandas as pd

from retrainer.config.core import ColumnsSection, DataSection
from retrainer.data.storage import Storage, open_storage
from retrainer.data.tables import FileRead, PartitionedTable, as_date

if TYPE_CHECKING:
    from retrainer.store import Store

logger = logging.getLogger(__name__)

LOG_IMPORT_KIND = "quarantine_log"


@dataclass(frozen=True)
class QuarantineRecord:
    """A batch held back from training and drift checks."""

    table: str
    date: str
    reason: str
    quarantined_at: str
    location: str
    report_key: str

    def to_dict(self) -> dict[str, Any]:
        """As a JSON-able dict."""
        return asdict(self)


class QuarantineError(Exception):
    """A quarantine operation failed (e.g. releasing a batch that is not quarantined)."""


class Quarantine:
    """Failing batches are moved here, never deleted, each with its validation report.

    Layout under the storage root::

        <prefix>/<table>/date=YYYY-MM-DD/data/part-*.parquet   the batch, as it arrived
        <prefix>/<table>/date=YYYY-MM-DD/report.json           why (validation result)
        <prefix>/<table>/date=YYYY-MM-DD/report.html           the same, for people

    Every quarantine and release is logged in the operational store (``quarantine_log``,
    per data source), so moving batches needs the store. A ``<prefix>/log.jsonl`` written by
    an older retrainer is imported on first use and left as it was.

    Args:
        storage: Where the data lives.
        prefix: The quarantine's folder under the storage root.
        store: The operational store (:func:`retrainer.store.open_store`); without one the
            batches can be read but not moved.
    """

    def __init__(
        self,
        storage: Storage,
        prefix: str = "_quarantine",
        store: Store | Callable[[], Store] | None = None,
    ):
        self.storage = storage
        self.prefix = prefix.strip("/")
        self._store = store

    @property
    def store(self) -> Store | None:
        """The operational store, opened on first use (reading batches never opens it)."""
        if callable(self._store):
            self._store = self._store()
        return self._store

    def _base(self, table: str, day: date | str) -> str:
        return f"{self.prefix}/{table}/date={as_date(day).isoformat()}"

    def _log_store(self) -> Any:
        """The store's quarantine log of this storage (the old file imported first)."""
        if self.store is None:
            raise QuarantineError(
                f"the quarantine log of {self.storage.describe(self.prefix)} lives in the "
                "operational store: open the catalog with DataCatalog.for_project(project)"
            )
        log = self.store.quarantine_log(self.storage.uri)
        self._import_file_log(log)
        return log

    def _import_file_log(self, log: Any) -> None:
        key = f"{self.prefix}/log.jsonl"
        where = self.storage.describe(key)
        if not self.storage.exists(key) or self.store.imports.done(LOG_IMPORT_KIND, where):
            return
        lines = self.storage.read_bytes(key).splitlines()
        entries = [json.loads(line) for line in lines if line.strip()]
        with self.store.write() as conn:
            if not self.store.imports.claim(conn, LOG_IMPORT_KIND, where):
                return
            log.append(entries, conn=conn)
            self.store.imports.count(conn, LOG_IMPORT_KIND, where, len(entries))
        logger.warning(
            "imported %d quarantine log entries from %s into the operational store %s "
            "(once; the file is left as it is and no longer written)",
            len(entries),
            where,
            self.store.url,
        )

    def _append_log(self, *entries: dict[str, Any]) -> None:
        if entries:
            self._log_store().append(list(entries))

    def quarantine(
        self,
        table: PartitionedTable,
        day: date | str,
        reason: str,
        report: dict[str, Any] | None = None,
        report_html: str | None = None,
    ) -> QuarantineRecord:
        """Move a partition into the quarantine with its report.

        The report is written first and the data moved second, so an interruption leaves
        either the batch in place (and it is validated again) or the batch quarantined.

        Raises:
            QuarantineError: When the partition does not exist.
        """
        day = as_date(day)
        source = table.partition_prefix(day)
        if not table.exists(day):
            raise QuarantineError(f"{table.name} has no partition for {day}")
        self._log_store()  # fail before anything moves when there is no store
        base = self._base(table.name, day)
        record = QuarantineRecord(
            table=table.name,
            date=day.isoformat(),
            reason=reason,
            quarantined_at=datetime.now(UTC).isoformat(timespec="seconds"),
            location=self.storage.describe(f"{base}/data"),
            report_key=f"{base}/report.json",
        )
        body = {"record": record.to_dict(), "report": report or {}}
        self.storage.write_bytes(
            record.report_key, json.dumps(body, indent=2, default=str).encode()
        )
        if report_html is not None:
            self.storage.write_bytes(f"{base}/report.html", report_html.encode())
        self.storage.move_prefix(source, f"{base}/data")
        self._append_log({"action": "quarantine", **record.to_dict()})
        return record

    def release(
        self, table: PartitionedTable, day: date | str, by: str = "", note: str = ""
    ) -> int:
        """Put a quarantined batch back into its table (after a human fixed or accepted it).

        Returns:
            Number of files moved back.

        Raises:
            QuarantineError: When the batch is not quarantined, or the table already holds a
                partition for that date (it would be overwritten).
        """
        day = as_date(day)
        if not self.is_quarantined(table.name, day):
            raise QuarantineError(f"no quarantined batch for {table.name} on {day}")
        return self.release_many(table, [day], by=by, note=note)[day]

    def release_many(
        self, table: PartitionedTable, days: list[date], by: str = "", note: str = ""
    ) -> dict[date, int]:
        """Put several quarantined batches back in one pass (one log write).

        Every date is checked before anything moves: none may be missing from the quarantine
        or already present in the table.

        Returns:
            Date → number of files moved back.

        Raises:
            QuarantineError: Naming the first date that cannot be released.
        """
        self._log_store()  # fail before anything moves when there is no store
        held = set(self.dates(table.name))
        present = set(table.dates())
        for day in days:
            if day not in held:
                raise QuarantineError(f"no quarantined batch for {table.name} on {day}")
            if day in present:
                raise QuarantineError(
                    f"{table.name} already has a partition for {day}; move it away before releasing"
                )
        moved: dict[date, int] = {}
        now = datetime.now(UTC).isoformat(timespec="seconds")
        for day in days:
            base = self._base(table.name, day)
            moved[day] = self.storage.move_prefix(f"{base}/data", table.partition_prefix(day))
            self.storage.delete_prefix(base)
        self._append_log(
            *[
                {
                    "action": "release",
                    "table": table.name,
                    "date": day.isoformat(),
                    "by": by,
                    "note": note,
                    "released_at": now,
                }
                for day in days
            ]
        )
        return moved

    def dates(self, table: str) -> list[date]:
        """Dates of the batches of ``table`` currently quarantined (with data)."""
        found = []
        for part in self.storage.list_dirs(f"{self.prefix}/{table}"):
            if part.startswith("date="):
                day = as_date(part[len("date=") :])
                if self.is_quarantined(table, day):
                    found.append(day)
        return sorted(found)

    def table(self, name: str) -> PartitionedTable:
        """The quarantined batches of table ``name`` as a table of their own.

        For reading them where they sit (a dry run); releasing goes through :meth:`release`.
        """
        return PartitionedTable(self.storage, f"{self.prefix}/{name}")

    def records(self, table: str | None = None) -> list[QuarantineRecord]:
        """Batches currently quarantined."""
        out: list[QuarantineRecord] = []
        tables = [table] if table else self.storage.list_dirs(self.prefix)
        for name in tables:
            for part in self.storage.list_dirs(f"{self.prefix}/{name}"):
                key = f"{self.prefix}/{name}/{part}/report.json"
                if self.storage.exists(key):
                    body = json.loads(self.storage.read_bytes(key))
                    out.append(QuarantineRecord(**body["record"]))
        return sorted(out, key=lambda r: (r.table, r.date))

    def report(self, table: str, day: date | str) -> dict[str, Any]:
        """The stored report of a quarantined batch."""
        key = f"{self._base(table, day)}/report.json"
        if not self.storage.exists(key):
            raise QuarantineError(f"no quarantined batch for {table} on {as_date(day)}")
        return json.loads(self.storage.read_bytes(key))

    def is_quarantined(self, table: str, day: date | str) -> bool:
        """Whether a batch of ``table`` for ``day`` sits in the quarantine."""
        return bool(self.storage.list_keys(f"{self._base(table, day)}/data"))

    def log(self) -> list[dict[str, Any]]:
        """Every quarantine and release, oldest first.

        Each entry has ``action``, ``table``, ``date``, ``at``, and ``reason``, ``by``,
        ``note``, ``location`` where given.
        """
        return self._log_store().entries()


def files_fingerprint(files: list[FileRead]) -> str:
    """A short hash of the files read (key and content hash), in key order."""
    import hashlib

    digest = hashlib.sha256()
    for f in sorted(files, key=lambda f: f.key):
        digest.update(f"{f.key}:{f.sha256}\n".encode())
    return digest.hexdigest()[:16]


@dataclass
class LabelledWindow:
    """Feature rows of a window joined with the labels that had arrived by ``as_of``."""

    frame: pd.DataFrame
    start: date | None
    end: date | None
    as_of: date
    feature_files: list[FileRead]
    label_files: list[FileRead]
    unlabelled_rows: int
    excluded: dict[str, str] = field(default_factory=dict)
    """Feature partitions of the window left out (ISO date → why), e.g. invalid batches."""

    @property
    def fingerprint(self) -> str:
        """Hash of every file read (features and labels)."""
        return files_fingerprint([*self.feature_files, *self.label_files])

    @property
    def dates(self) -> list[date]:
        """Feature partition dates present in the window."""
        return sorted({as_date(f.key.split("date=")[1][:10]) for f in self.feature_files})


class DataCatalog:
    """Tables of one data source (features, labels, predictions) and its quarantine.

    Args:
        storage: Where the data lives.
        data: The ``data`` section of the config.
        columns: The ``columns`` section of the config.
        store: The operational store (the quarantine log), or a function opening it on
            first use (:meth:`for_project` passes one).
    """

    def __init__(
        self,
        storage: Storage,
        data: DataSection,
        columns: ColumnsSection,
        store: Store | Callable[[], Store] | None = None,
    ):
        self.storage = storage
        self.data = data
        self.columns = columns
        self.features = PartitionedTable(storage, data.tables.features)
        self.labels = PartitionedTable(storage, data.tables.labels)
        self.predictions = PartitionedTable(storage, data.tables.predictions)
        self.quarantine = Quarantine(storage, data.quarantine_prefix, store=store)

    @property
    def store(self) -> Store | None:
        """The operational store, opened on first use (a command failing before writes none)."""
        return self.quarantine.store

    @classmethod
    def for_project(cls, project: Any) -> DataCatalog:
        """Open the catalog of a :class:`retrainer.project.Project` (and its store)."""
        from retrainer.store import open_store

        cfg = project.config
        storage = open_storage(
            project.data_uri, endpoint_url=cfg.data.s3_endpoint_url, base_dir=project.root
        )
        return cls(storage, cfg.data, cfg.columns, store=functools.partial(open_store, project))

    def table(self, name: str) -> PartitionedTable:
        """A table by its configured name."""
        for table in (self.features, self.labels, self.predictions):
            if table.name == name:
                return table
        return PartitionedTable(self.storage, name)

    def latest_date(self) -> date | None:
        """The last feature partition date: the data clock used as the default ``as_of``."""
        days = self.features.dates()
        return days[-1] if days else None

    def load_labelled(
        self,
        start: date | str | None = None,
        end: date | str | None = None,
        as_of: date | str | None = None,
        columns: list[str] | None = None,
        exclude: Mapping[date | str, str] | None = None,
    ) -> LabelledWindow:
        """Feature rows with event date in ``[start, end]`` joined with labels known by ``as_of``.

        Labels arrive later than features: only label partitions dated ``<= as_of`` are used
        (and, when ``columns.label_timestamp`` is set, labels whose arrival time is on or
        before ``as_of``). When a row has several labels the latest arrival wins. Quarantined
        partitions are never read: they are not in the tables any more. Partitions in
        ``exclude`` (e.g. batches validation marked invalid but left in place) are not read
        either; those within the window are listed in :attr:`LabelledWindow.excluded`.

        Args:
            start: First feature date (inclusive); None = from the beginning.
            end: Last feature date (inclusive); None = up to ``as_of``.
            as_of: The point in time whose knowledge is used; defaults to the latest feature
                partition.
            columns: Feature-table columns to read (id is always read); None = all.
            exclude: Feature partitions not to read: date → why.

        Returns:
            The joined frame (target column included) and lineage of what was read.
        """
        cols = self.columns
        as_of_day = as_date(as_of) if as_of is not None else self.latest_date()
        if as_of_day is None:
            raise ValueError(
                f"table {self.features.name!r} has no partitions under {self.storage.uri}"
            )
        end_day = min(as_date(end), as_of_day) if end is not None else as_of_day
        start_day = as_date(start) if start is not None else None
        read_cols = None if columns is None else list(dict.fromkeys([cols.id, *columns]))
        left_out = {as_date(day): why for day, why in (exclude or {}).items()}
        left_out = {
            day: why
            for day, why in sorted(left_out.items())
            if (start_day is None or day >= start_day) and day <= end_day
        }
        if left_out:
            days = [d for d in self.features.dates(start_day, end_day) if d not in left_out]
            if not days:
                raise ValueError(
                    f"table {self.features.name!r} has no partition left to read up to "
                    f"{end_day}: all {len(left_out)} are excluded (first: "
                    f"{next(iter(left_out))}: {next(iter(left_out.values()))})"
                )
            features = self.features.read_window(dates=days, columns=read_cols)
        else:
            features = self.features.read_window(start_day, end_day, columns=read_cols)
        label_cols = [cols.id, cols.target] + (
            [cols.label_timestamp] if cols.label_timestamp else []
        )
        labels = self.labels.read_window(
            start_day, as_of_day, columns=label_cols, partition_column="_arrival"
        )
        label_frame = labels.frame
        if cols.label_timestamp and not label_frame.empty:
            arrival = pd.to_datetime(label_frame[cols.label_timestamp], utc=True).dt.date
            label_frame = label_frame[arrival <= as_of_day]
        if not label_frame.empty:
            order = cols.label_timestamp or "_arrival"
            label_frame = label_frame.sort_values(order).drop_duplicates(cols.id, keep="last")
        label_frame = label_frame[[cols.id, cols.target]]
        frame = features.frame
        if cols.target in frame.columns:
            frame = frame.drop(columns=[cols.target])
        joined = frame.merge(label_frame, on=cols.id, how="inner", validate="many_to_one")
        return LabelledWindow(
            frame=joined.reset_index(drop=True),
            start=start_day,
            end=end_day,
            as_of=as_of_day,
            feature_files=features.files,
            label_files=labels.files,
            unlabelled_rows=len(frame) - len(joined),
            excluded={day.isoformat(): why for day, why in left_out.items()},
        )
