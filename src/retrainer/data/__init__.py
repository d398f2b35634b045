"""Data access: local or S3 storage, daily-partitioned Parquet tables, the quarantine."""

from retrainer.data.catalog import (
    DataCatalog,
    LabelledWindow,
    Quarantine,
    QuarantineError,
    QuarantineRecord,
)
from retrainer.data.storage import LocalStorage, S3Storage, Storage, StorageError, open_storage
from retrainer.data.tables import (
    DataReadError,
    FileRead,
    PartitionedTable,
    WindowRead,
    as_date,
)

__all__ = [
    "DataCatalog",
    "DataReadError",
    "FileRead",
    "LabelledWindow",
    "LocalStorage",
    "PartitionedTable",
    "Quarantine",
    "QuarantineError",
    "QuarantineRecord",
    "S3Storage",
    "Storage",
    "StorageError",
    "WindowRead",
    "as_date",
    "open_storage",
]
