"""Registered model versions, aliases and tags in MLflow.

MLflow has no compare-and-set for aliases and concurrent alias writes can fail or interleave
(see docs/architecture.md). Every alias change here goes through a per-model lock, is retried
on a write conflict and read back afterwards.
"""

from __future__ import annotations

import fcntl
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

CHAMPION = "champion"
CHALLENGER = "challenger"
PREVIOUS_CHAMPION = "previous_champion"

TAG_PREFIX = "retrainer."


class RegistryError(Exception):
    """A registry operation did not leave the expected state."""


@contextmanager
def file_lock(path: Path, timeout_s: float = 60.0) -> Iterator[None]:
    """An exclusive advisory lock on ``path`` (POSIX ``flock``), waiting up to ``timeout_s``.

    Serialises processes on one machine (the embedded default). Shared registries on a
    server need a lock in the shared operational store instead.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout_s
    with path.open("a+") as handle:
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise RegistryError(f"timed out waiting for lock {path}") from None
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


class ModelRegistry:
    """One registered model: versions, aliases and tags.

    Args:
        name: Registered model name.
        lock_dir: Directory for the per-model alias lock file.
        client: An ``mlflow.MlflowClient``; created from the configured URIs when omitted.
    """

    def __init__(self, name: str, lock_dir: Path, client: Any = None):
        self.name = name
        self.lock_dir = Path(lock_dir)
        if client is None:
            import mlflow

            client = mlflow.MlflowClient()
        self.client = client

    # -- reading ------------------------------------------------------------------------
    def exists(self) -> bool:
        """Whether the registered model exists."""
        from mlflow.exceptions import MlflowException

        try:
            self.client.get_registered_model(self.name)
        except MlflowException:
            return False
        return True

    def aliases(self) -> dict[str, str]:
        """Alias → version number (as text)."""
        from mlflow.exceptions import MlflowException

        try:
            model = self.client.get_registered_model(self.name)
        except MlflowException:
            return {}
        return {alias: str(version) for alias, version in model.aliases.items()}

    def version_by_alias(self, alias: str) -> Any | None:
        """The ``ModelVersion`` an alias points to, or None."""
        from mlflow.exceptions import MlflowException

        try:
            return self.client.get_model_version_by_alias(self.name, alias)
        except MlflowException:
            return None

    def get_version(self, version: str | int) -> Any:
        """A ``ModelVersion`` by number.

        Raises:
            RegistryError: When it does not exist.
        """
        from mlflow.exceptions import MlflowException

        try:
            return self.client.get_model_version(self.name, str(version))
        except MlflowException:
            raise RegistryError(f"model {self.name!r} has no version {version}") from None

    def versions(self) -> list[Any]:
        """All versions, newest first."""
        return sorted(
            self.client.search_model_versions(f"name='{self.name}'"),
            key=lambda v: int(v.version),
            reverse=True,
        )

    def uri(self, alias_or_version: str | int) -> str:
        """``models:/<name>@alias`` or ``models:/<name>/<version>``."""
        text = str(alias_or_version)
        return f"models:/{self.name}/{text}" if text.isdigit() else f"models:/{self.name}@{text}"

    # -- writing ------------------------------------------------------------------------
    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the per-model alias lock."""
        with file_lock(self.lock_dir / f"registry-{self.name}.lock"):
            yield

    def set_tags(self, version: str | int, tags: dict[str, Any]) -> None:
        """Set version tags (values are converted to text; None values are skipped)."""
        for key, value in tags.items():
            if value is None:
                continue
            self.client.set_model_version_tag(self.name, str(version), key, str(value))

    def _set_alias_unlocked(self, alias: str, version: str, attempts: int = 5) -> None:
        from mlflow.exceptions import MlflowException

        for attempt in range(attempts):
            try:
                self.client.set_registered_model_alias(self.name, alias, version)
            except MlflowException:
                # first-time alias creation can lose a race (IntegrityError) - retry
                if attempt == attempts - 1:
                    raise
                time.sleep(0.05 * (attempt + 1))
                continue
            current = self.version_by_alias(alias)
            if current is not None and str(current.version) == version:
                return
        raise RegistryError(f"alias {alias!r} of {self.name!r} did not move to version {version}")

    def set_alias(self, alias: str, version: str | int) -> None:
        """Point ``alias`` at ``version`` under the model lock, then verify by reading back.

        Raises:
            RegistryError: When the alias does not point at the version afterwards.
        """
        with self.lock():
            self._set_alias_unlocked(alias, str(version))

    def set_alias_if_absent(self, alias: str, version: str | int) -> bool:
        """Set ``alias`` only when it does not exist yet (atomic under the lock).

        Returns:
            True when this call created the alias.
        """
        with self.lock():
            if self.version_by_alias(alias) is not None:
                return False
            self._set_alias_unlocked(alias, str(version))
            return True

    def promote(self, version: str | int, reason: str = "", actor: str = "") -> str | None:
        """Make ``version`` the champion; the old champion becomes ``previous_champion``.

        Both aliases move under the model lock and are read back; the version tags record
        who promoted it and why. Promoting the current champion changes nothing.

        Returns:
            The previous champion's version (None when there was none).

        Raises:
            RegistryError: When the version does not exist or an alias did not move.
        """
        from datetime import UTC, datetime

        version = str(version)
        self.get_version(version)
        with self.lock():
            current = self.version_by_alias(CHAMPION)
            previous = str(current.version) if current is not None else None
            if previous == version:
                return None
            if previous is not None:
                self._set_alias_unlocked(PREVIOUS_CHAMPION, previous)
            self._set_alias_unlocked(CHAMPION, version)
            challenger = self.version_by_alias(CHALLENGER)
            if challenger is not None and str(challenger.version) == version:
                self.client.delete_registered_model_alias(self.name, CHALLENGER)
            now = datetime.now(UTC).isoformat(timespec="seconds")
            self.set_tags(
                version,
                {
                    f"{TAG_PREFIX}status": "champion",
                    f"{TAG_PREFIX}promoted_at": now,
                    f"{TAG_PREFIX}promoted_by": actor or None,
                    f"{TAG_PREFIX}promotion_reason": reason or None,
                    f"{TAG_PREFIX}replaced_version": previous,
                },
            )
            if previous is not None:
                self.set_tags(previous, {f"{TAG_PREFIX}status": "previous_champion"})
        aliases = self.aliases()
        if aliases.get(CHAMPION) != version:
            raise RegistryError(f"champion of {self.name!r} is not version {version} after promote")
        return previous

    def delete_alias(self, alias: str) -> None:
        """Remove an alias if present."""
        from mlflow.exceptions import MlflowException

        with self.lock(), suppress(MlflowException):
            self.client.delete_registered_model_alias(self.name, alias)


def model_signature(uri: str) -> list[tuple[str, str]] | None:
    """Input columns of a logged model as ``(name, type)`` pairs, or None without a signature."""
    import mlflow

    info = mlflow.models.get_model_info(uri)
    if info.signature is None or info.signature.inputs is None:
        return None
    pairs: list[tuple[str, str]] = []
    for spec in info.signature.inputs.inputs:
        kind = getattr(spec, "type", None)
        name = getattr(kind, "name", None) or str(kind)
        pairs.append((str(spec.name), str(name)))
    return pairs
