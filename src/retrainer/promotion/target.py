"""What a promotion acts on: a registered model, its store row and its MLflow registry."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from retrainer.project import Project
    from retrainer.registry.models import ModelRegistry
    from retrainer.store import Store


class PromotionError(Exception):
    """A promotion, rollback or reconcile cannot be done (the message says why)."""


class PromotionConflict(PromotionError):
    """The champion is no longer the one the caller expected (another promotion won).

    Attributes:
        model: Registered model name.
        expected: The champion the caller judged against (None: no champion).
        actual: The champion the store holds now (None: no champion).
    """

    def __init__(self, model: str, expected: str | None, actual: str | None):
        self.model = model
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"{model}: expected champion {_label(expected)}, but the champion is "
            f"{_label(actual)} now (another promotion won); nothing changed"
        )


def _label(version: str | None) -> str:
    return f"v{version}" if version is not None else "none"


@dataclass(frozen=True)
class ModelTarget:
    """A registered model with its operational store and registry client.

    Attributes:
        name: Registered model name.
        store: The operational store.
        registry: The model's MLflow registry (``retrainer.registry.champion.registry_for``).
    """

    name: str
    store: Store
    registry: ModelRegistry

    @classmethod
    def for_project(cls, project: Project) -> ModelTarget:
        """The project's model (MLflow must be configured: ``configure_mlflow(project)``)."""
        from retrainer.registry.champion import registry_for
        from retrainer.store import open_store

        return cls(project.model_name, open_store(project), registry_for(project))


def as_target(target: Any) -> ModelTarget:
    """A :class:`ModelTarget` from itself or a :class:`retrainer.project.Project`."""
    return target if isinstance(target, ModelTarget) else ModelTarget.for_project(target)
