"""``retrainer deploy``: ``prefect deploy --all``, then a check that the server holds it all.

Steps, in order; each stops the command with exit 2 when it cannot go on (nothing after it
runs) and a finding stops it with exit 1:

1. ``prefect.yaml`` is read; a key Prefect would ignore (``trigger:`` for ``triggers:``) is a
   finding and nothing is deployed (``prefect deploy`` would drop the key without a word,
   and delete the deployment's automations).
2. The Prefect API (``PREFECT_API_URL``) answers, every work pool the file names exists, and
   the ``--notify`` block is a notification block on the server.
3. ``prefect --no-prompt deploy --all`` runs in the project folder (its output shown with
   ``--verbose`` or when it fails).
4. The ``retrainer-train`` global concurrency limit (one training at a time) is created if
   missing; with ``--notify`` the notification automations are created or updated by name.
5. The server is read back: every deployment with its entrypoint, work pool, parameters,
   tags, schedules and concurrency, every trigger as an automation with its templated
   parameters stored as written, the limit, the notifications.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from uuid import UUID

import typer
import yaml

from retrainer.cli._common import ExitCode, JsonOption, fail_usage, out_console, print_json

if TYPE_CHECKING:
    from prefect.client.orchestration import SyncPrefectClient

    from retrainer.deployments.verify import (
        Finding,
        ObservedAutomation,
        ObservedDeployment,
        Verification,
    )

OUTPUT_TAIL = 3000
"""Characters of ``prefect deploy``'s output shown when it fails."""


def _read_prefect_yaml(folder: Path, as_json: bool) -> tuple[Path, dict[str, Any]]:
    path = folder / "prefect.yaml"
    if not path.is_file():
        fail_usage(f"{path}: no prefect.yaml (run `retrainer init DIR` for one)", as_json=as_json)
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        fail_usage(f"{path}: {exc}", as_json=as_json)
    return path, document


def _api_url(as_json: bool) -> str:
    from prefect.settings import get_current_settings

    url = get_current_settings().api.url
    if not url:
        fail_usage(
            "PREFECT_API_URL is not set: `retrainer deploy` needs a Prefect server or Prefect "
            "Cloud (e.g. `prefect server start`, then export "
            "PREFECT_API_URL=http://127.0.0.1:4200/api)",
            as_json=as_json,
        )
    return str(url)


def _healthy(client: SyncPrefectClient, url: str, as_json: bool) -> None:
    error = client.api_healthcheck()
    if error is not None:
        fail_usage(f"cannot reach the Prefect API at {url}: {error}", as_json=as_json)


def _check_pools(client: SyncPrefectClient, specs: list[dict[str, Any]], as_json: bool) -> None:
    from prefect.exceptions import ObjectNotFound

    pools = sorted({(s.get("work_pool") or {}).get("name") for s in specs} - {None})
    for pool in pools:
        try:
            client.read_work_pool(pool)
        except ObjectNotFound:
            fail_usage(
                f"work pool {pool!r} does not exist on the server: create it first "
                f"(prefect work-pool create {pool} --type process)",
                as_json=as_json,
            )


def _prefect_deploy(folder: Path, verbose: bool, as_json: bool) -> float:
    """Run ``prefect --no-prompt deploy --all`` in ``folder``; its duration in seconds."""
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "prefect", "--no-prompt", "deploy", "--all"],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
    )
    output = (done.stdout + done.stderr).strip()
    if verbose:
        out_console(as_json).print(output, markup=False, highlight=False)
    if done.returncode != 0:
        tail = output[-OUTPUT_TAIL:] if not verbose else "(output above)"
        fail_usage(
            f"prefect deploy --all failed (exit {done.returncode}):\n{tail}", as_json=as_json
        )
    return time.monotonic() - started


def _train_limit_findings(client: SyncPrefectClient) -> tuple[dict[str, Any] | None, list]:
    from prefect.exceptions import ObjectNotFound

    from retrainer.deployments.definitions import TRAIN_CONCURRENCY_LIMIT
    from retrainer.deployments.verify import Finding

    where = f"global concurrency limit {TRAIN_CONCURRENCY_LIMIT!r}"
    try:
        limit = client.read_global_concurrency_limit_by_name(TRAIN_CONCURRENCY_LIMIT)
    except ObjectNotFound:
        return None, [Finding(where, "is not on the server (training would not be serialised)")]
    held = {"name": TRAIN_CONCURRENCY_LIMIT, "limit": limit.limit, "active": limit.active}
    return held, [] if limit.active else [Finding(where, "is inactive")]


def _plain(value: Any) -> Any:
    """A Prefect model dump as plain JSON-able values (seconds, sorted lists, text ids)."""
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, UUID | datetime):
        return str(value)
    if isinstance(value, set | frozenset):
        return sorted(_plain(v) for v in value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _observed_deployment(deployment: Any) -> ObservedDeployment:
    from retrainer.deployments.verify import ObservedDeployment

    schedules = [
        {
            **_plain(s.schedule.model_dump(mode="python")),
            "active": s.active,
            "parameters": s.parameters or {},
        }
        for s in deployment.schedules
    ]
    concurrency = None
    if deployment.global_concurrency_limit is not None:
        options = deployment.concurrency_options
        strategy = options.collision_strategy if options else "ENQUEUE"
        concurrency = {
            "limit": deployment.global_concurrency_limit.limit,
            "collision_strategy": _plain(strategy),
        }
    return ObservedDeployment(
        id=str(deployment.id),
        name=deployment.name,
        entrypoint=deployment.entrypoint,
        work_pool=deployment.work_pool_name,
        work_queue=deployment.work_queue_name,
        job_variables=deployment.job_variables or {},
        parameters=deployment.parameters or {},
        tags=list(deployment.tags or []),
        description=deployment.description,
        paused=bool(deployment.paused),
        schedules=schedules,
        concurrency=concurrency,
    )


def _observed_automation(automation: Any) -> ObservedAutomation:
    from retrainer.deployments.verify import ObservedAutomation, plain_trigger

    return ObservedAutomation(
        id=str(automation.id),
        name=automation.name,
        enabled=automation.enabled,
        description=automation.description,
        trigger=plain_trigger(_plain(automation.trigger.model_dump(mode="python"))),
        actions=[_plain(a.model_dump(mode="python")) for a in automation.actions],
    )


def _observe(
    client: SyncPrefectClient, specs: list[dict[str, Any]]
) -> tuple[list[ObservedDeployment], list[ObservedAutomation]]:
    """The server's deployments of the file's names and the automations that run them."""
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName

    names = [str(s.get("name")) for s in specs]
    found = client.read_deployments(
        deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=names))
    )
    deployments = [_observed_deployment(d) for d in found]
    automations: dict[str, ObservedAutomation] = {}
    for deployment in deployments:
        related = client.read_resource_related_automations(f"prefect.deployment.{deployment.id}")
        automations.update({str(a.id): _observed_automation(a) for a in related})
    return deployments, list(automations.values())


def _notify(
    client: SyncPrefectClient, block_id: UUID | None, install: bool
) -> tuple[list[dict[str, str]], list[Finding]]:
    """Install (unless ``install`` is off) and check the notification automations.

    Nothing happens without a block.
    """
    from retrainer.deployments.notifications import install_notifications, notifications
    from retrainer.deployments.verify import compare_notifications

    if block_id is None:
        return [], []
    entries = notifications()
    installed = install_notifications(client, block_id, entries) if install else []
    held = [
        _observed_automation(a) for e in entries for a in client.read_automations_by_name(e.name)
    ]
    expected = [e.automation(str(block_id)) for e in entries]
    return [i.to_dict() for i in installed], compare_notifications(expected, held)


def _block_id(client: SyncPrefectClient, notify: str | None, as_json: bool) -> UUID | None:
    from retrainer.deployments.notifications import NotificationError, notification_block_id

    if notify is None:
        return None
    try:
        return notification_block_id(client, notify)
    except NotificationError as exc:
        fail_usage(str(exc), as_json=as_json)


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _story(document: dict[str, Any], verification: Verification, as_json: bool) -> None:
    say = out_console(as_json)
    if document["deployed"]:
        say.print(
            f"prefect deploy --all: {document['prefect_yaml']} to {document['api_url']} "
            f"({document['deploy_seconds']:.1f} s)",
            markup=False,
        )
    limit = document.get("train_limit")
    if limit:
        said = "created" if limit.get("created") else "present"
        say.print(
            f"concurrency limit {limit['name']}: {said} (limit {limit['limit']})", markup=False
        )
    installed = document["notifications"]
    if installed:
        created = sum(1 for n in installed if n["action"] == "created")
        say.print(
            f"notifications to {document['notify']}: {_count(len(installed), 'automation')} "
            f"({created} created, {len(installed) - created} updated)",
            markup=False,
        )
    say.print(
        f"on the server: {_count(len(verification.deployments), 'deployment')}, "
        f"{_count(verification.schedules, 'schedule')}, "
        f"{_count(verification.automations, 'trigger automation')}",
        markup=False,
    )
    for check in verification.deployments:
        say.print(
            f"  {check.name}: {_count(check.schedules, 'schedule')} "
            f"({check.active_schedules} active), {_count(check.automations, 'automation')}",
            markup=False,
        )
    _print_findings(
        document["findings"],
        as_json,
        "every deployment, schedule and trigger is on the server as prefect.yaml says",
        "the server does not hold what prefect.yaml says",
    )


def _print_findings(findings: list[dict[str, str]], as_json: bool, ok: str, bad: str) -> None:
    say = out_console(as_json)
    for finding in findings:
        say.print(f"finding: {finding['where']}: {finding['message']}", markup=False)
    say.print(f"{_count(len(findings), 'finding')}: {bad}" if findings else ok, markup=False)


@contextmanager
def _api_errors_exit_2(url: str, as_json: bool) -> Iterator[None]:
    """A Prefect API that fails mid-way (HTTP error, lost connection): exit 2 saying so."""
    import httpx

    try:
        yield
    except httpx.HTTPError as exc:  # PrefectHTTPStatusError is one too
        fail_usage(f"the Prefect API at {url} failed: {exc}", as_json=as_json)


def _spec_check(path: Path, document: Any, as_json: bool) -> list[dict[str, Any]]:
    """The file's deployments; keys Prefect would ignore end the command (exit 1)."""
    from retrainer.deployments.verify import spec_findings

    findings = [f.to_dict() for f in spec_findings(document, str(path))]
    if findings:
        if as_json:
            print_json(
                {
                    "ok": False,
                    "prefect_yaml": str(path.resolve()),
                    "deployed": False,
                    "findings": findings,
                }
            )
        _print_findings(findings, as_json, "", f"nothing was deployed; fix {path} first")
        raise typer.Exit(ExitCode.FINDING)
    return document["deployments"]


def deploy(
    folder: Annotated[
        Path,
        typer.Argument(
            metavar="FOLDER", help="The project folder (where prefect.yaml is).", show_default=True
        ),
    ] = Path(),
    notify: Annotated[
        str | None,
        typer.Option(
            "--notify",
            metavar="SLUG/NAME",
            help="A notification block on the server (custom-webhook/ops, slack-webhook/ml-team): "
            "create or update the notification automations (drift, retrain decided or "
            "suppressed, gate failed, promoted, rolled back) sending to it.",
            show_default=False,
        ),
    ] = None,
    check_only: Annotated[
        bool,
        typer.Option(
            "--check-only", help="Deploy nothing: only compare the server with prefect.yaml."
        ),
    ] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Show prefect deploy's and Prefect's output.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Deploy prefect.yaml's deployments and check the server holds every one as written.

    Runs `prefect --no-prompt deploy --all` in FOLDER, creates the retrainer-train global
    concurrency limit if missing, installs the notification automations with --notify, then
    reads everything back. Exit 0 when the server holds what prefect.yaml says, 1 for a
    finding (a key Prefect would ignore, and then nothing is deployed; a missing deployment,
    schedule or automation; a value that differs), 2 when it cannot run (no PREFECT_API_URL,
    server unreachable, a missing work pool or block, prefect deploy failing).
    """
    from prefect.client.orchestration import get_client

    from retrainer.deployments.definitions import ensure_train_limit
    from retrainer.deployments.verify import compare

    if not verbose:
        logging.getLogger("prefect").setLevel(logging.WARNING)
    path, document = _read_prefect_yaml(folder, as_json)
    specs = _spec_check(path, document, as_json)
    url = _api_url(as_json)
    with get_client(sync_client=True) as client, _api_errors_exit_2(url, as_json):
        _healthy(client, url, as_json)
        block_id = _block_id(client, notify, as_json)
        seconds, limit = None, None
        if not check_only:
            _check_pools(client, specs, as_json)
            seconds = _prefect_deploy(folder, verbose, as_json)
            limit = ensure_train_limit(client)
        installed, notify_findings = _notify(client, block_id, install=not check_only)
        held_limit, limit_findings = _train_limit_findings(client)
        deployments, automations = _observe(client, specs)
    verification = compare(specs, deployments, automations)
    findings = [*verification.findings, *limit_findings, *notify_findings]
    document = {
        "ok": not findings,
        "prefect_yaml": str(path.resolve()),
        "api_url": url,
        "deployed": not check_only,
        "deploy_seconds": seconds,
        "train_limit": limit or held_limit,
        "notify": notify,
        "notifications": installed,
        "deployments": [d.to_dict() for d in verification.deployments],
        "schedules": verification.schedules,
        "automations": verification.automations,
        "findings": [f.to_dict() for f in findings],
    }
    if as_json:
        print_json(document)
    _story(document, verification, as_json)
    raise typer.Exit(ExitCode.FINDING if findings else ExitCode.OK)


def register(app: typer.Typer) -> None:
    """Add ``deploy`` to the main app."""
    app.command("deploy")(deploy)
