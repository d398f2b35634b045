"""Retrainer's deployments, built from a project's ``prefect.yaml`` (one source of truth)."""

from retrainer.deployments.definitions import (
    DeploymentSpecError,
    deployment_specs,
    project_prefect_yaml,
    runner_deployments,
)

__all__ = ["DeploymentSpecError", "deployment_specs", "project_prefect_yaml", "runner_deployments"]
