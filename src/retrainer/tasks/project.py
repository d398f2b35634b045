"""Tasks shared by every flow: load the project, point MLflow at its store."""

from __future__ import annotations

from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from retrainer.project import Project
from retrainer.registry.tracking import TrackingSetup, configure_mlflow


@task(name="load-project", cache_policy=NO_CACHE)
def load_project(config: str | Path = "retrainer.yaml") -> Project:
    """Load and validate the project config (fails the run before any work on a bad config)."""
    return Project.load(config)


@task(name="configure-mlflow", cache_policy=NO_CACHE)
def configure_tracking(project: Project) -> TrackingSetup:
    """Point MLflow at the project's tracking store and experiment."""
    return configure_mlflow(project)
