"""The gateway of a project: its store, its registry and ``promotion.stages`` wired in.

Used by ``retrainer serve`` (one process, or each of ``--workers`` processes through
:func:`app_from_environment`). No Prefect import.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

from starlette.applications import Starlette

from retrainer.project import Project
from retrainer.serving.gateway import Gateway, GatewaySettings
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
    return Gateway(
        project.model_name,
        plan_source(store, registry, project.config.promotion.stages),
        registry_loader(
            registry, project.config.model.task, settings.max_batch_rows, settings.max_wait_ms
        ),
        store.predictions.insert_many,
        store.labels.insert_many,
        settings,
    )


def export_environment(config_path: Path, settings: GatewaySettings) -> None:
    """Put what :func:`app_from_environment` needs in the environment (for worker processes)."""
    os.environ[CONFIG_ENV] = str(config_path)
    os.environ[SETTINGS_ENV] = json.dumps(dataclasses.asdict(settings))


def app_from_environment() -> Starlette:
    """The ASGI app of the project named in the environment (uvicorn's factory per worker)."""
    project = Project.load(os.environ[CONFIG_ENV])
    settings = GatewaySettings(**json.loads(os.environ.get(SETTINGS_ENV, "{}")))
    return build_gateway(project, settings).app()
