"""Where MLflow tracking and registry live for a project.

Precedence: ``MLFLOW_TRACKING_URI`` (environment) > ``mlflow.tracking_uri`` (config) >
the embedded default ``sqlite:///<state_dir>/mlflow.db`` with artifacts under
``<state_dir>/artifacts``. Configuring happens before any other MLflow call, so MLflow never
creates its own ``mlflow.db`` in the working directory.
"""

from __future__ import annotations

import os
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from retrainer.project import Project

# mlflow.set_tracking_uri/set_registry_uri also export MLFLOW_TRACKING_URI/MLFLOW_REGISTRY_URI.
# Remember every value we exported, so a later project in the same process (tests, a worker,
# the gateway) is not mistaken for a user's explicit environment setting, even when the
# environment is restored to an earlier project's value.
_EXPORTED: dict[str, set[str]] = {}


def _user_env(name: str) -> str | None:
    value = os.environ.get(name)
    if value and value in _EXPORTED.get(name, ()):
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

    def ui_argv(self, host: str = "127.0.0.1", port: int = 5000) -> list[str]:
        """The MLflow UI on this store as an argument list.

        It runs MLflow through this interpreter (``<python> -m mlflow ui``), so it works
        without ``mlflow`` on ``PATH`` (an unactivated venv).

        Args:
            host: Interface to listen on.
            port: Port to listen on.

        Returns:
            The command, ready for :func:`os.execvpe` or :mod:`subprocess`.
        """
        argv = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", self.tracking_uri]
        argv += ["--host", host, "--port", str(port), "--workers", "1"]
        if self.artifact_location:
            argv += ["--default-artifact-root", self.artifact_location]
        return argv

    def ui_command(self, host: str = "127.0.0.1", port: int = 5000) -> str:
        """The shell command that opens the MLflow UI on this store (or the server's URL)."""
        if not self.embedded:
            return f"open {self.tracking_uri}"
        return shlex.join(self.ui_argv(host, port))


def resolve_tracking(project: Project) -> TrackingSetup:
    """Work out the tracking/registry URIs and experiment for a project.

    Pure: nothing is created (not even the state directory); :func:`configure_mlflow`
    creates what the store needs.
    """
    cfg = project.config.mlflow
    env_uri = _user_env("MLFLOW_TRACKING_URI")
    experiment = cfg.experiment or project.model_name
    # project.state_dir would create the directory
    state_dir = project.resolve(project.config.state_dir)
    if env_uri:
        uri, embedded = env_uri, False
    elif cfg.tracking_uri:
        uri, embedded = cfg.tracking_uri, False
    else:
        db = state_dir / "mlflow.db"
        uri, embedded = f"sqlite:///{db}", True
    registry = _user_env("MLFLOW_REGISTRY_URI") or cfg.registry_uri or uri
    artifacts = None
    if embedded or uri.startswith("sqlite:"):
        artifacts = (state_dir / "artifacts").as_uri()
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
    wanted = {"MLFLOW_TRACKING_URI": setup.tracking_uri, "MLFLOW_REGISTRY_URI": setup.registry_uri}
    before = {name: os.environ.get(name) for name in wanted}
    mlflow.set_tracking_uri(setup.tracking_uri)
    mlflow.set_registry_uri(setup.registry_uri)
    for name, value in wanted.items():
        # Only a value MLflow exported just now is ours. A value that was already there is
        # the user's (keep honouring it on the next call) or one we exported earlier.
        if before[name] != value and os.environ.get(name) == value:
            _EXPORTED.setdefault(name, set()).add(value)
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
