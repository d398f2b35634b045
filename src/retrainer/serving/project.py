"""The gateway of a project: its store, its registry and ``promotion.stages`` wired in.

Used by ``retrainer serve`` (one process, or each of ``--workers`` processes through
:func:`app_from_environment`). No Prefect import.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from pathlib import Path

from starlette.applications import Starlette

from retrainer.project import Project
from retrainer.serving.gateway import Gateway, GatewaySettings
from retrainer.serving.models import LoadedModel
from retrainer.serving.shadow import ProcessScorer
from retrainer.serving.sources import plan_source, registry_loader

CONFIG_ENV = "RETRAINER_SERVE_CONFIG"
SETTINGS_ENV = "RETRAINER_SERVE_SETTINGS"


def build_gateway(project: Project, settings: GatewaySettings) -> Gateway:
    """The project's gateway (configures MLflow and opens the store).

    Raises:
        StoreError: The operational store cannot be reached.
    """
    from retrainer.registry.champion import registry_for
    from retrainer.registry.tracking import configure_mlflow
    from retrainer.store import open_store

    configure_mlflow(project)
    store = open_store(project)
    registry = registry_for(project)
    scorer = ProcessScorer(
        shadow_loader, str(project.config_path), settings.max_batch_rows, settings.max_wait_ms
    )
    return Gateway(
        project.model_name,
        plan_source(store, registry, project.config.promotion.stages),
        registry_loader(
            registry, project.config.model.task, settings.max_batch_rows, settings.max_wait_ms
        ),
        store.predictions.insert_many,
        store.labels.insert_many,
        settings,
        scorer,
    )


def shadow_loader(
    config_path: str, max_rows: int, max_wait_ms: float
) -> Callable[[str], LoadedModel]:
    """The loader of the shadow process (it configures MLflow for the project first)."""
    from retrainer.registry.champion import registry_for
    from retrainer.registry.tracking import configure_mlflow

    project = Project.load(config_path)
    configure_mlflow(project)
    return registry_loader(registry_for(project), project.config.model.task, max_rows, max_wait_ms)


def export_environment(config_path: Path, settings: GatewaySettings) -> None:
    """Put what :func:`app_from_environment` needs in the environment (for worker processes)."""
    os.environ[CONFIG_ENV] = str(config_path)
    os.environ[SETTINGS_ENV] = json.dumps(dataclasses.asdict(settings))


def app_from_environment() -> Starlette:
    """The ASGI app of the project named in the environment (uvicorn's factory per worker)."""
    project = Project.load(os.environ[CONFIG_ENV])
    settings = GatewaySettings(**json.loads(os.environ.get(SETTINGS_ENV, "{}")))
    return build_gateway(project, settings).app()
