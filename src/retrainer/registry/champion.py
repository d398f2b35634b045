"""The one way to reach a project's registered model and to load its champion.

Every flow, task and command that needs the registry calls :func:`registry_for`, and every one
that needs the serving model calls :func:`load_champion` (MLflow must be configured first, see
:func:`retrainer.registry.tracking.configure_mlflow`). No Prefect import.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from retrainer.registry.lineage import load_model
from retrainer.registry.models import CHAMPION, ModelRegistry

if TYPE_CHECKING:
    from retrainer.project import Project


class NoChampionError(LookupError):
    """The model has no champion yet (the message says how to get one)."""


@dataclass
class Champion:
    """The champion version, its fitted pipeline and what its training run recorded.

    Attributes:
        version: The version number (as text).
        model: The fitted scikit-learn pipeline (None when loaded with ``model=False``).
        run_id: The MLflow training run.
        tags: The version's tags (lineage, gate verdict ...).
        recorded_metrics: ``holdout_<metric>`` values of the training run, without the prefix.
        model_version: The MLflow ``ModelVersion``.
    """

    version: str
    model: Any
    run_id: str | None
    tags: dict[str, str] = field(default_factory=dict)
    recorded_metrics: dict[str, float] = field(default_factory=dict)
    model_version: Any = None


def registry_for(project: Project) -> ModelRegistry:
    """The project's registered model (MLflow must be configured first)."""
    return ModelRegistry(project.model_name)


def _recorded_metrics(registry: ModelRegistry, run_id: str | None) -> dict[str, float]:
    if not run_id:
        return {}
    from mlflow.exceptions import MlflowException

    try:
        metrics = registry.client.get_run(run_id).data.metrics
    except MlflowException:
        return {}
    return {
        k.removeprefix("holdout_"): float(v) for k, v in metrics.items() if k.startswith("holdout_")
    }


def load_champion(
    project: Project, *, model: bool = True, required: bool = False
) -> Champion | None:
    """The champion of the project's model: version, pipeline, tags and recorded metrics.

    Args:
        project: The project (its model name and state directory).
        model: Also load the fitted pipeline (skip it when only the version matters).
        required: Raise instead of returning None when there is no champion.

    Returns:
        The champion, or None when the model has none (and ``required`` is off).

    Raises:
        NoChampionError: With ``required`` and no champion.
    """
    registry = registry_for(project)
    version = registry.version_by_alias(CHAMPION)
    if version is None:
        if required:
            raise NoChampionError(
                f"model {project.model_name!r} has no champion; run `retrainer train` first"
            )
        return None
    run_id = getattr(version, "run_id", None)
    return Champion(
        version=str(version.version),
        model=load_model(registry.uri(str(version.version))) if model else None,
        run_id=run_id,
        tags=dict(version.tags or {}),
        recorded_metrics=_recorded_metrics(registry, run_id),
        model_version=version,
    )
