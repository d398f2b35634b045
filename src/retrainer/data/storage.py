"""Object storage for the data source: a local folder or an S3 bucket prefix.

Keys are ``/``-separated paths relative to the storage root, the same on both backends, so
tables, quarantine and reports are written the same way locally and on S3.
"""

from __future__ import annotations

import io
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, Protocol
from urllib.parse import urlparse


class StorageError(Exception):
    """A storage operation failed; the message names the URI or key."""


class Storage(Protocol):
    """What the data layer needs from a storage backend."""

    uri: str

    def list_keys(self, prefix: str = "") -> list[str]:
        """All keys under ``prefix`` (recursive), sorted."""
        ...

    def list_dirs(self, prefix: str = "") -> list[str]:
        """Immediate sub-"directories" of ``prefix`` (names only), sorted."""
        ...

    def read_bytes(self, key: str) -> bytes:
        """The object's content."""
        ...

    def open(self, key: str) -> BinaryIO:
        """A seekable binary reader of the object that fetches only what is read."""
        ...

    def write_bytes(self, key: str, data: bytes) -> None:
        """Create or replace an object."""
        ...

    def exists(self, key: str) -> bool:
        """Whether the object exists."""
        ...

    def delete_prefix(self, prefix: str) -> int:
        """Delete every object under ``prefix``; returns how many."""
        ...

    def move_prefix(self, src: str, dst: str) -> int:
        """Move every object under ``src`` to ``dst`` (same relative layout)."""
        ...

    def local_path(self, key: str) -> Path | None:
        """A filesystem path for the key when the backend is local, else None."""
        ...

    def describe(self, key: str) -> str:
        """A user-facing location (path or URI) for messages."""
        ...


def _norm_prefix(prefix: str) -> str:
    prefix = prefix.strip("/")
    return f"{prefix}/" if prefix else ""


class LocalStorage:
    """A folder on the local filesystem."""

    def __init__(self, root: Path | str):
        self.root = Path(root).expanduser().resolve()
        self.uri = str(self.root)

    def _path(self, key: str) -> Path:
        path = (self.root / key.strip("/")).resolve()
        if path != self.root and self.root not in path.parents:
            raise StorageError(f"key {key!r} escapes the storage root {self.root}")
        return path

    def list_keys(self, prefix: str = "") -> list[str]:
        """All file keys under ``prefix``, sorted."""
        base = self._path(prefix) if prefix else self.root
        if not base.exists():
            return []
        if base.is_file():
            return [prefix.strip("/")]
        return sorted(p.relative_to(self.root).as_posix() for p in base.rglob("*") if p.is_file())

    def list_dirs(self, prefix: str = "") -> list[str]:
        """Sub-directory names directly under ``prefix``."""
        base = self._path(prefix) if prefix else self.root
        if not base.is_dir():
            return []
        return sorted(p.name for p in base.iterdir() if p.is_dir())

    def read_bytes(self, key: str) -> bytes:
        """Read a file."""
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise StorageError(f"no such file: {self._path(key)}") from None

    def open(self, key: str) -> BinaryIO:
        """Open a file for reading."""
        try:
            return self._path(key).open("rb")
        except FileNotFoundError:
            raise StorageError(f"no such file: {self._path(key)}") from None

    def write_bytes(self, key: str, data: bytes) -> None:
        """Write a file atomically (write to a temp name, then rename)."""
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        tmp.write_bytes(data)
        tmp.replace(path)

    def exists(self, key: str) -> bool:
        """Whether a file or directory exists at ``key``."""
        return self._path(key).exists()

    def delete_prefix(self, prefix: str) -> int:
        """Remove a file or a directory tree."""
        path = self._path(prefix)
        if not path.exists():
            return 0
        if path.is_file():
            path.unlink()
            return 1
        count = sum(1 for p in path.rglob("*") if p.is_file())
        shutil.rmtree(path)
        return count

    def move_prefix(self, src: str, dst: str) -> int:
        """Rename a file or directory tree (replacing an existing destination)."""
        source, target = self._path(src), self._path(dst)
        if not source.exists():
            return 0
        count = 1 if source.is_file() else sum(1 for p in source.rglob("*") if p.is_file())
        if target.exists():
            shutil.rmtree(target) if target.is_dir() else target.unlink()
        target.parent.mkdir(parents=True, exist_ok=True)
        source.replace(target)
        return count

    def local_path(self, key: str) -> Path | None:
        """The file path for ``key``."""
        return self._path(key)

    def describe(self, key: str) -> str:
        """The file path as text."""
        return str(self._path(key))


class S3Storage:
    """A prefix in an S3 bucket (AWS or any S3-compatible endpoint), through boto3.

    Credentials come from boto3's standard chain (environment, profile, instance role).
    The endpoint is the explicit ``endpoint_url`` if given, otherwise boto3's own resolution,
    which honours ``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_S3``.
    """

    def __init__(self, uri: str, endpoint_url: str | None = None, client: Any = None):
        parsed = urlparse(uri)
        if parsed.scheme != "s3" or not parsed.netloc:
            raise StorageError(f"not an s3 URI: {uri!r} (expected s3://bucket/prefix)")
        self.bucket = parsed.netloc
        self.prefix = _norm_prefix(parsed.path)
        self.uri = f"s3://{self.bucket}/{self.prefix}".rstrip("/")
        if client is None:
            import boto3

            # a session of its own: the default session is not thread-safe, and shard tasks
            # open storages from many threads at once
            client = boto3.session.Session().client("s3", endpoint_url=endpoint_url or None)
        self.client = client

    def _key(self, key: str) -> str:
        return f"{self.prefix}{key.strip('/')}"

    def _iter_objects(self, prefix: str) -> Iterator[dict[str, Any]]:
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                yield from page.get("Contents", [])
        except self.client.exceptions.NoSuchBucket:
            raise StorageError(f"bucket not found: s3://{self.bucket}") from None

    def list_keys(self, prefix: str = "") -> list[str]:
        """All object keys under ``prefix`` (relative to the storage prefix), sorted."""
        full = self._key(prefix)
        if prefix and not prefix.endswith("/"):
            # treat prefix as a directory unless it names an object exactly
            objects = list(self._iter_objects(full))
            exact = [o for o in objects if o["Key"] == full]
            if exact:
                return [prefix.strip("/")]
            full += "/"
        keys = [o["Key"][len(self.prefix) :] for o in self._iter_objects(full)]
        return sorted(keys)

    def list_dirs(self, prefix: str = "") -> list[str]:
        """Common prefixes (one level) under ``prefix``."""
        full = self._key(prefix)
        full = _norm_prefix(full) if full else ""
        paginator = self.client.get_paginator("list_objects_v2")
        names: list[str] = []
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=full, Delimiter="/"):
                for cp in page.get("CommonPrefixes", []):
                    names.append(cp["Prefix"][len(full) :].rstrip("/"))
        except self.client.exceptions.NoSuchBucket:
            raise StorageError(f"bucket not found: s3://{self.bucket}") from None
        return sorted(names)

    def read_bytes(self, key: str) -> bytes:
        """Get an object."""
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
        except self.client.exceptions.NoSuchKey:
            raise StorageError(f"no such object: {self.describe(key)}") from None
        return response["Body"].read()

    def open(self, key: str) -> BinaryIO:
        """A buffered reader of the object by ranged GETs.

        A Parquet reader that seeks to the footer and then to one row group's column chunks
        fetches only those bytes.
        """
        full = self._key(key)
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=full)
        except self.client.exceptions.ClientError as exc:
            raise StorageError(f"cannot open {self.describe(key)}: {exc}") from None
        raw = RangedObject(
            self.client, self.bucket, full, int(head["ContentLength"]), head.get("ETag")
        )
        return io.BufferedReader(raw, buffer_size=RangedObject.CHUNK)  # type: ignore[return-value]

    def write_bytes(self, key: str, data: bytes) -> None:
        """Put an object (S3 puts are atomic per object)."""
        self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data)

    def exists(self, key: str) -> bool:
        """Whether an object or any object under ``key/`` exists."""
        return bool(self.list_keys(key))

    def delete_prefix(self, prefix: str) -> int:
        """Delete every object under ``prefix``."""
        keys = self.list_keys(prefix)
        for start in range(0, len(keys), 1000):
            chunk = keys[start : start + 1000]
            self.client.delete_objects(
                Bucket=self.bucket,
                Delete={"Objects": [{"Key": self._key(k)} for k in chunk], "Quiet": True},
            )
        return len(keys)

    def move_prefix(self, src: str, dst: str) -> int:
        """Copy every object under ``src`` to ``dst``, then delete the sources.

        Copies all objects first and deletes only after every copy succeeded, so a failure
        midway leaves the data at the source (possibly duplicated), never lost.
        """
        src_norm = src.strip("/")
        keys = self.list_keys(src)
        if not keys:
            return 0
        self.delete_prefix(dst)
        for key in keys:
            rel = key[len(src_norm) :].lstrip("/")
            target = f"{dst.strip('/')}/{rel}" if rel else dst.strip("/")
            self.client.copy_object(
                Bucket=self.bucket,
                Key=self._key(target),
                CopySource={"Bucket": self.bucket, "Key": self._key(key)},
            )
        self.delete_prefix(src)
        return len(keys)

    def local_path(self, key: str) -> Path | None:
        """S3 has no local path."""
        return None

    def describe(self, key: str) -> str:
        """The object's ``s3://`` URI."""
        return f"s3://{self.bucket}/{self._key(key)}"


class RangedObject(io.RawIOBase):
    """A seekable, read-only view of one S3 object: each read is one ranged GET.

    Attributes:
        gets: Ranged GETs made.
        fetched: Bytes fetched.
        largest: The largest GET, in bytes.
    """

    #: Smallest GET (the buffered reader in front of it asks for at least this much): 8 MiB,
    #: the part size S3 serves at full speed; every GET costs a round trip.
    CHUNK = 8 << 20

    def __init__(self, client: Any, bucket: str, key: str, size: int, etag: str | None = None):
        self.client, self.bucket, self.key, self.size = client, bucket, key, size
        self.etag = etag  # every GET asks for this version: a replaced object fails the read
        self.position = 0
        self.gets = 0
        self.fetched = 0
        self.largest = 0

    def readable(self) -> bool:  # noqa: D102
        return True

    def seekable(self) -> bool:  # noqa: D102
        return True

    def tell(self) -> int:  # noqa: D102
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:  # noqa: D102
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.size}[whence]
        self.position = max(0, base + offset)
        return self.position

    def _get(self, start: int, end: int) -> bytes:
        """Bytes ``start..end-1`` (an S3 error becomes an OSError naming the object)."""
        from botocore.exceptions import BotoCoreError, ClientError

        extra = {"IfMatch": self.etag} if self.etag else {}
        try:
            response = self.client.get_object(
                Bucket=self.bucket, Key=self.key, Range=f"bytes={start}-{end - 1}", **extra
            )
            return response["Body"].read()
        except (BotoCoreError, ClientError) as exc:
            raise OSError(f"s3://{self.bucket}/{self.key} bytes {start}-{end - 1}: {exc}") from exc

    def readall(self) -> bytes:  # noqa: D102
        if self.position >= self.size:
            return b""
        data = self._get(self.position, self.size)
        self._count(data)
        return data

    def _count(self, data: bytes) -> None:
        self.position += len(data)
        self.gets += 1
        self.fetched += len(data)
        self.largest = max(self.largest, len(data))

    def readinto(self, buffer: Any) -> int:  # noqa: D102
        end = min(self.position + len(buffer), self.size)
        if end <= self.position:
            return 0
        data = self._get(self.position, end)
        buffer[: len(data)] = data
        self._count(data)
        return len(data)


def open_storage(
    uri: str, endpoint_url: str | None = None, base_dir: Path | None = None
) -> Storage:
    """Open a storage backend for a local path or an ``s3://`` URI.

    Args:
        uri: Local folder (absolute, or relative to ``base_dir``) or ``s3://bucket/prefix``.
        endpoint_url: S3 endpoint override (MinIO, moto); ignored for local paths.
        base_dir: Base for relative local paths (the project root).

    Returns:
        A storage backend.
    """
    if uri.startswith("s3://"):
        return S3Storage(uri, endpoint_url=endpoint_url)
    if "://" in uri and not uri.startswith("file://"):
        raise StorageError(f"unsupported data source {uri!r}: use a local path or s3://")
    path = Path(uri.removeprefix("file://")).expanduser()
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    return LocalStorage(path)
