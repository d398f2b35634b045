"""Where MLflow tracking and registry live for a project.

Precedence: ``MLFLOW_TRACKING_URI`` (environment) > ``mlflow.tracking_uri`` (config) >
the embedded default ``sqlite:///<state_dir>/mlflow.db`` with artifacts under
``<state_dir>/artifacts``. Configuring happens before any other MLflow call, so MLflow never
creates its own ``mlflow.db`` in the working directory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from retrainer.project import Project

# mlflow.set_tracking_uri/set_registry_uri also export MLFLOW_TRACKING_URI/MLFLOW_REGISTRY_URI.
# Remember what we exported, so a later project in the same process (tests, a worker, the
# gateway) is not mistaken for a user's explicit environment setting.
_EXPORTED: dict[str, str] = {}


def _user_env(name: str) -> str | None:
    value = os.environ.get(name)
    if value and _EXPORTED.get(name) == value:
        return None
    return value or None


@dataclass(frozen=True)
class TrackingSetup:
    """The resolved MLflow locations of a project."""

    tracking_uri: str
    registry_uri: str
    experiment_name: str
    artifact_location: str | None
    embedded: bool

    def ui_command(self) -> str:
        """The command that opens the MLflow UI on this store."""
        if not self.embedded:
            return f"open {self.tracking_uri}"
        cmd = f"mlflow ui --backend-store-uri {self.tracking_uri}"
        if self.artifact_location:
            cmd += f" --default-artifact-root {self.artifact_location}"
        return cmd


def resolve_tracking(project: Project) -> TrackingSetup:
    """Work out the tracking/registry URIs and experiment for a project (no side effects)."""
    cfg = project.config.mlflow
    env_uri = _user_env("MLFLOW_TRACKING_URI")
    experiment = cfg.experiment or project.model_name
    if env_uri:
        uri, embedded = env_uri, False
    elif cfg.tracking_uri:
        uri, embedded = cfg.tracking_uri, False
    else:
        db = project.state_dir / "mlflow.db"
        uri, embedded = f"sqlite:///{db}", True
    registry = _user_env("MLFLOW_REGISTRY_URI") or cfg.registry_uri or uri
    artifacts = None
    if embedded or uri.startswith("sqlite:"):
        artifacts = (project.state_dir / "artifacts").as_uri()
    return TrackingSetup(
        tracking_uri=uri,
        registry_uri=registry,
        experiment_name=experiment,
        artifact_location=artifacts,
        embedded=embedded,
    )


def configure_mlflow(project: Project) -> TrackingSetup:
    """Point this process's MLflow client at the project's store and ensure the experiment.

    Returns:
        The resolved setup.
    """
    import mlflow

    setup = resolve_tracking(project)
    if setup.tracking_uri.startswith("sqlite:///"):
        Path(setup.tracking_uri.removeprefix("sqlite:///")).parent.mkdir(
            parents=True, exist_ok=True
        )
    mlflow.set_tracking_uri(setup.tracking_uri)
    mlflow.set_registry_uri(setup.registry_uri)
    for name, value in (
        ("MLFLOW_TRACKING_URI", setup.tracking_uri),
        ("MLFLOW_REGISTRY_URI", setup.registry_uri),
    ):
        if os.environ.get(name) == value:
            _EXPORTED[name] = value
    client = mlflow.MlflowClient()
    experiment = client.get_experiment_by_name(setup.experiment_name)
    if experiment is None:
        try:
            client.create_experiment(
                setup.experiment_name, artifact_location=setup.artifact_location
            )
        except mlflow.exceptions.MlflowException:
            # another process created it between our read and write
            if client.get_experiment_by_name(setup.experiment_name) is None:
                raise
    mlflow.set_experiment(setup.experiment_name)
    return setup
