"""Retrainer's deployments, built from ``prefect.yaml`` so there is one source of truth.

``prefect deploy --all`` (through ``retrainer deploy``) reads ``prefect.yaml`` for work-pool
deployments; the same file drives :func:`runner_deployments`, which ``deployments/serve.py``
serves in one local process (no work pool, lowest trigger latency) and the tests apply
against a real Prefect API to check that every schedule, trigger and parameter is accepted:
the continuous-training deployment with its nightly schedule and its event triggers, and the
standalone flows. Entrypoints name the flows by module (``retrainer.flows.train:train``), so
they resolve against the installed package from any project folder. A key Prefect would
ignore (a typo such as ``trigger:``) is refused here, before anything is served.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from retrainer.deployments.verify import spec_findings

if TYPE_CHECKING:
    from prefect.client.orchestration import SyncPrefectClient

PREFECT_YAML_NAME = "prefect.yaml"
CT_DEPLOYMENT = "continuous-training"
"""The continuous-training loop's deployment (``retrainer.flows.continuous_training``)."""
TRAIN_CONCURRENCY_LIMIT = "retrainer-train"
"""The global concurrency limit training holds (one at a time); ``retrainer deploy`` makes it."""


def project_prefect_yaml(root: Path | None = None) -> Path:
    """The ``prefect.yaml`` of a project folder (default: the current directory)."""
    return Path(root or Path.cwd()) / PREFECT_YAML_NAME


class DeploymentSpecError(ValueError):
    """A deployment in ``prefect.yaml`` that Prefect would not accept (names the field)."""


def deployment_specs(path: Path | None = None) -> list[dict[str, Any]]:
    """The ``deployments`` entries of a ``prefect.yaml`` (YAML anchors resolved).

    Raises:
        DeploymentSpecError: The file does not parse, has no deployments, one lacks a name or
            entrypoint, or a key is one Prefect would ignore (each problem named).
    """
    path = Path(path) if path is not None else project_prefect_yaml()
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise DeploymentSpecError(f"{path}: {exc}") from exc
    findings = spec_findings(document, str(path))
    if findings:
        raise DeploymentSpecError("; ".join(str(f) for f in findings))
    return document["deployments"]


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
    path = Path(path) if path is not None else project_prefect_yaml()
    root = root or path.resolve().parent
    specs = deployment_specs(path)
    known = {spec["name"] for spec in specs}
    unknown = sorted(set(names or []) - known)
    if unknown:
        raise DeploymentSpecError(f"unknown deployment(s) {unknown}; known: {sorted(known)}")
    return [
        _runner_deployment(spec, root) for spec in specs if names is None or spec["name"] in names
    ]


def _runner_deployment(spec: dict[str, Any], root: Path) -> Any:
    """One ``deployments`` entry as a ``RunnerDeployment`` (schedules, triggers, limit)."""
    from prefect.client.schemas.objects import ConcurrencyLimitConfig
    from prefect.flows import load_flow_from_entrypoint

    where = f"deployment {spec['name']!r}"
    entrypoint = spec["entrypoint"]
    if ".py:" in entrypoint:  # a script path is relative to the project root
        entrypoint = str(root / entrypoint)
    flow = load_flow_from_entrypoint(entrypoint)
    limit = spec.get("concurrency_limit")
    if isinstance(limit, dict):
        limit = ConcurrencyLimitConfig(**limit)
    return flow.to_deployment(
        name=spec["name"],
        description=spec.get("description"),
        tags=spec.get("tags"),
        parameters=spec.get("parameters") or {},
        schedules=[_schedule(item, where) for item in spec.get("schedules") or []],
        triggers=_triggers(spec, where),
        concurrency_limit=limit,
    )


def _triggers(spec: dict[str, Any], where: str) -> list[Any]:
    """The deployment's triggers, named as ``prefect deploy`` names them."""
    from prefect.events.schemas.deployment_triggers import DeploymentTriggerTypes
    from pydantic import TypeAdapter, ValidationError

    adapter = TypeAdapter(DeploymentTriggerTypes)
    triggers = []
    for index, trigger in enumerate(spec.get("triggers") or [], start=1):
        trigger = {"name": f"{spec['name']}__automation_{index}", **trigger}
        try:
            triggers.append(adapter.validate_python(trigger))
        except ValidationError as exc:
            raise DeploymentSpecError(f"{where}: triggers[{index - 1}]: {exc}") from exc
    return triggers


def _schedule(item: dict[str, Any], where: str) -> Any:
    """A ``schedules`` entry as a Prefect schedule (cron, interval in seconds, or rrule)."""
    from prefect.schedules import Cron, Interval, RRule

    common = {
        "timezone": item.get("timezone"),
        "active": item.get("active", True),
        "parameters": item.get("parameters") or {},
        "slug": item.get("slug"),
    }
    if item.get("cron"):
        return Cron(item["cron"], day_or=item.get("day_or", True), **common)
    if item.get("interval"):
        return Interval(item["interval"], anchor_date=item.get("anchor_date"), **common)
    if item.get("rrule"):
        return RRule(item["rrule"], **common)
    raise DeploymentSpecError(f"{where}: a schedule needs one of cron, interval or rrule")


def ensure_train_limit(client: SyncPrefectClient) -> dict[str, Any]:
    """The :data:`TRAIN_CONCURRENCY_LIMIT` global concurrency limit, created (limit 1) if missing.

    Returns:
        ``name``, ``limit``, ``active`` and whether it was ``created`` now (an existing limit
        is left as it is: its size is the operator's choice).
    """
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

    try:
        limit = client.read_global_concurrency_limit_by_name(TRAIN_CONCURRENCY_LIMIT)
    except ObjectNotFound:
        try:
            client.create_global_concurrency_limit(
                GlobalConcurrencyLimitCreate(name=TRAIN_CONCURRENCY_LIMIT, limit=1)
            )
        except ObjectAlreadyExists:  # created meanwhile by another deploy
            return ensure_train_limit(client)
        return {"name": TRAIN_CONCURRENCY_LIMIT, "limit": 1, "active": True, "created": True}
    return {
        "name": TRAIN_CONCURRENCY_LIMIT,
        "limit": limit.limit,
        "active": limit.active,
        "created": False,
    }
