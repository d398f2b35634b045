"""Retrainer's deployments, built from ``prefect.yaml`` so there is one source of truth.

``prefect deploy --all`` reads ``prefect.yaml`` for work-pool deployments; the same file
drives :func:`runner_deployments`, which ``deployments/serve.py`` serves in one local
process (no work pool, lowest trigger latency) and the tests apply against a real Prefect
API to check that every schedule, trigger and parameter is accepted. Entrypoints name the
flows by module (``retrainer.flows.train:train``), so they resolve against the installed
package from any project folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

PREFECT_YAML_NAME = "prefect.yaml"


def project_prefect_yaml(root: Path | None = None) -> Path:
    """The ``prefect.yaml`` of a project folder (default: the current directory)."""
    return Path(root or Path.cwd()) / PREFECT_YAML_NAME


class DeploymentSpecError(ValueError):
    """A deployment in ``prefect.yaml`` that Prefect would not accept (names the field)."""


def deployment_specs(path: Path | None = None) -> list[dict[str, Any]]:
    """The ``deployments`` entries of a ``prefect.yaml`` (YAML anchors resolved).

    Raises:
        DeploymentSpecError: The file has no deployments or one lacks a name or entrypoint.
    """
    path = Path(path) if path is not None else project_prefect_yaml()
    document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    specs = document.get("deployments") or []
    if not specs:
        raise DeploymentSpecError(f"{path}: no deployments")
    for index, spec in enumerate(specs):
        for key in ("name", "entrypoint"):
            if not spec.get(key):
                raise DeploymentSpecError(f"{path}: deployments[{index}].{key} is missing")
    return specs


def runner_deployments(
    path: Path | None = None, names: list[str] | None = None, root: Path | None = None
) -> list[Any]:
    """``RunnerDeployment`` objects for the deployments of a ``prefect.yaml``.

    Args:
        path: The ``prefect.yaml`` (default: the current directory's).
        names: Only these deployments (default: all).
        root: Project root that script entrypoints (``path.py:flow``) are relative to
            (default: the file's folder); module entrypoints (``retrainer.flows.train:train``)
            are imported from the installed package.

    Returns:
        Deployments ready for ``prefect.serve(*deployments)`` or ``.apply()``.

    Raises:
        DeploymentSpecError: An unknown name, or a trigger/schedule Prefect rejects.
    """
    from prefect.client.schemas.objects import ConcurrencyLimitConfig
    from prefect.events.schemas.deployment_triggers import DeploymentTriggerTypes
    from prefect.flows import load_flow_from_entrypoint
    from prefect.schedules import Cron
    from pydantic import TypeAdapter, ValidationError

    path = Path(path) if path is not None else project_prefect_yaml()
    root = root or path.resolve().parent
    specs = deployment_specs(path)
    known = {spec["name"] for spec in specs}
    unknown = sorted(set(names or []) - known)
    if unknown:
        raise DeploymentSpecError(f"unknown deployment(s) {unknown}; known: {sorted(known)}")
    trigger_adapter = TypeAdapter(DeploymentTriggerTypes)
    deployments = []
    for spec in specs:
        if names is not None and spec["name"] not in names:
            continue
        where = f"deployment {spec['name']!r}"
        entrypoint = spec["entrypoint"]
        if ".py:" in entrypoint:  # a script path is relative to the project root
            entrypoint = str(root / entrypoint)
        flow = load_flow_from_entrypoint(entrypoint)
        schedules = [
            Cron(
                item["cron"],
                timezone=item.get("timezone"),
                active=item.get("active", True),
                parameters=item.get("parameters") or {},
            )
            for item in spec.get("schedules") or []
        ]
        triggers = []
        for index, trigger in enumerate(spec.get("triggers") or [], start=1):
            trigger = {"name": f"{spec['name']}__automation_{index}", **trigger}
            try:
                triggers.append(trigger_adapter.validate_python(trigger))
            except ValidationError as exc:
                raise DeploymentSpecError(f"{where}: triggers[{index - 1}]: {exc}") from exc
        limit = spec.get("concurrency_limit")
        if isinstance(limit, dict):
            limit = ConcurrencyLimitConfig(**limit)
        deployments.append(
            flow.to_deployment(
                name=spec["name"],
                description=spec.get("description"),
                tags=spec.get("tags"),
                parameters=spec.get("parameters") or {},
                schedules=schedules,
                triggers=triggers,
                concurrency_limit=limit,
            )
        )
    return deployments
