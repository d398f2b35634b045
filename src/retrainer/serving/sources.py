"""Where a project's gateway gets its plan and its models: the store and the registry.

:func:`plan_source` reads the champion row and the rollout state from the operational store
(the champion alias in MLflow when the store has no row yet: a model trained before the
store existed); :func:`registry_loader` loads a version's pipeline and signature from MLflow
(configured first). No Prefect import.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from retrainer.registry.lineage import load_model
from retrainer.registry.models import CHAMPION, ModelRegistry, model_signature
from retrainer.serving.models import LoadedModel
from retrainer.serving.plan import ServingPlan, serving_plan


class SignatureMissingError(ValueError):
    """A version was logged without an input signature (the gateway cannot check requests)."""


def plan_source(
    store: Any, registry: ModelRegistry, stages: Sequence[Any]
) -> Callable[[], ServingPlan]:
    """Reads the plan in force for ``registry``'s model."""
    model = registry.name

    def current() -> ServingPlan:
        row = store.champions.get(model)
        champion = row.champion if row is not None else None
        if row is None:
            version = registry.version_by_alias(CHAMPION)
            champion = str(version.version) if version is not None else None
        return serving_plan(champion, store.rollouts.get(model), stages)

    return current


def registry_loader(
    registry: ModelRegistry, task: str, max_rows: int = 256, max_wait_ms: float = 2.0
) -> Callable[[str], LoadedModel]:
    """Loads a version of ``registry``'s model for serving."""

    def load(version: str) -> LoadedModel:
        uri = registry.uri(version)
        signature = model_signature(uri)
        if not signature:
            raise SignatureMissingError(
                f"{uri} has no input signature: retrain it with `retrainer train` (which logs one)"
            )
        return LoadedModel(version, load_model(uri), task, signature, max_rows, max_wait_ms)

    return load
