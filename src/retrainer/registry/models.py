"""Registered model versions, aliases and tags in MLflow.

MLflow has no compare-and-set for aliases and concurrent alias writes can fail or interleave
(see docs/architecture.md). The champion therefore lives in the operational store, and
``champion`` / ``previous_champion`` are only moved by :mod:`retrainer.promotion` under the
store's row lock, as a projection of it. Every alias write here is retried on a write
conflict and read back afterwards.
"""

from __future__ import annotations

import time
from contextlib import suppress
from typing import Any

CHAMPION = "champion"
CHALLENGER = "challenger"
PREVIOUS_CHAMPION = "previous_champion"

TAG_PREFIX = "retrainer."


class RegistryError(Exception):
    """A registry operation did not leave the expected state."""


class ModelRegistry:
    """One registered model: versions, aliases and tags.

    Args:
        name: Registered model name.
        client: An ``mlflow.MlflowClient``; created from the configured URIs when omitted.
    """

    def __init__(self, name: str, client: Any = None):
        self.name = name
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
    def set_tags(self, version: str | int, tags: dict[str, Any]) -> None:
        """Set version tags (values are converted to text; None values are skipped)."""
        for key, value in tags.items():
            if value is None:
                continue
            self.client.set_model_version_tag(self.name, str(version), key, str(value))

    def _set_alias(self, alias: str, version: str, attempts: int = 5) -> None:
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
        """Point ``alias`` at ``version``, then verify by reading back.

        ``champion`` and ``previous_champion`` are moved by :mod:`retrainer.promotion` only.

        Raises:
            RegistryError: When the alias does not point at the version afterwards.
        """
        self._set_alias(alias, str(version))

    def delete_alias(self, alias: str) -> None:
        """Remove an alias if present."""
        from mlflow.exceptions import MlflowException

        with suppress(MlflowException):
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
