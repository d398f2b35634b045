"""Retrainer's deployments, built from ``prefect.yaml`` so there is one source of truth.

``prefect deploy --all`` reads ``prefect.yaml`` for work-pool deployments; the same file
drives :func:`runner_deployments`, which :mod:`deployments.serve` serves in one local
process (no work pool, lowest trigger latency) and the tests apply against a real Prefect
API to check that every schedule, trigger and parameter is accepted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[1]
PREFECT_YAML = PROJECT_ROOT / "prefect.yaml"


class DeploymentSpecError(ValueError):
    """A deployment in ``prefect.yaml`` that Prefect would not accept (names the field)."""


def deployment_specs(path: Path = PREFECT_YAML) -> list[dict[str, Any]]:
    """The ``deployments`` entries of a ``prefect.yaml`` (YAML anchors resolved).

    Raises:
        DeploymentSpecError: The file has no deployments or one lacks a name or entrypoint.
    """
    document = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    specs = document.get("deployments") or []
    if not specs:
        raise DeploymentSpecError(f"{path}: no deployments")
    for index, spec in enumerate(specs):
        for key in ("name", "entrypoint"):
            if not spec.get(key):
                raise DeploymentSpecError(f"{path}: deployments[{index}].{key} is missing")
    return specs


def runner_deployments(
    path: Path = PREFECT_YAML, names: list[str] | None = None, root: Path | None = None
) -> list[Any]:
    """``RunnerDeployment`` objects for the deployments of a ``prefect.yaml``.

    Args:
        path: The ``prefect.yaml``.
        names: Only these deployments (default: all).
        root: Project root that entrypoints are relative to (default: the file's folder).

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

    root = root or Path(path).resolve().parent
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
        flow = load_flow_from_entrypoint(str(root / spec["entrypoint"]))
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
