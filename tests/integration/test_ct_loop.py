"""The whole loop on a real self-hosted Prefect server: alert → receiver → event → CT run.

One ``prefect server start`` on 127.0.0.1 (its own PREFECT_HOME, its database on the
machine's PostgreSQL) for the module; a project
made by ``retrainer init DIR``, deployed with ``prefect deploy --all`` to a process work pool;
a process worker and the webhook receiver (``retrainer webhook``) run as a user would start
them. Nothing is mocked.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import yaml

pytestmark = [pytest.mark.slow, pytest.mark.long]

SECRET = "integration-test-secret"
CT = "continuous-training"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(check, what: str, timeout: float = 120.0, every: float = 0.5):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


def _start(args: list[str], log: Path, **kwargs) -> subprocess.Popen:
    handle = log.open("w")
    return subprocess.Popen(args, stdout=handle, stderr=subprocess.STDOUT, **kwargs)


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="module")
def server(tmp_path_factory, postgres_database) -> Iterator[dict[str, str]]:
    """A Prefect server on PostgreSQL (scheduler every 2 s) and the environment its clients need.

    PostgreSQL, as a self-hosted server should run: on SQLite, a burst of runs makes the
    server answer 503 (``database is locked``) and the worker reports a run as crashed.
    """
    home = tmp_path_factory.mktemp("prefect-home")
    port = _free_port()
    api = f"http://127.0.0.1:{port}/api"
    database = "postgresql+asyncpg://" + postgres_database.split("://", 1)[1]
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "MLFLOW_"))},
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_DATABASE_CONNECTION_URL": database,
        "PREFECT_API_URL": api,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "2",
        "PREFECT_WORKER_QUERY_SECONDS": "1",
        "PREFECT_WORKER_PREFETCH_SECONDS": "5",
        "RETRAINER_WEBHOOK_SECRET": SECRET,
    }
    process = _start(
        [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port",
         str(port)],
        home / "server.log",
        env=env,
    )  # fmt: skip

    def healthy() -> bool:
        try:
            return httpx.get(f"{api}/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        _wait(healthy, "the Prefect server", timeout=120)
        yield env
    finally:
        _stop(process)


def _run(args: list[str], env: dict, cwd: Path, timeout: float = 600) -> str:
    done = subprocess.run(
        args, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, (args, done.stdout[-3000:], done.stderr[-3000:])
    return done.stdout


@pytest.fixture(scope="module")
def loop(server, tmp_path_factory) -> Iterator[dict]:
    """A trained project, deployed; a worker and the webhook receiver running."""
    folder = tmp_path_factory.mktemp("users") / "loans"
    retrainer = [sys.executable, "-m", "retrainer"]
    _run([*retrainer, "init", str(folder)], server, tmp_path_factory.getbasetemp())
    config = yaml.safe_load((folder / "retrainer.yaml").read_text())
    config["estimator"]["params"] = {"max_iter": 40}
    config["policy"] = {
        "triggers": [{"kind": "webhook"}, {"kind": "on_demand"}],
        "cooldown_hours": 1,
        "labels": {"min_rows": 500, "min_per_class": 20},
    }
    (folder / "retrainer.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    _run([*retrainer, "simulate", "--days", "40", "--rows-per-day", "200"], server, folder)
    _run([*retrainer, "train"], server, folder)
    prefect = [sys.executable, "-m", "prefect"]
    _run([*prefect, "work-pool", "create", "retrainer", "--type", "process"], server, folder)
    _run([*prefect, "--no-prompt", "deploy", "--all"], server, folder)
    logs = tmp_path_factory.mktemp("logs")
    worker = _start(
        # --limit: at most 6 runs at once, the others wait their turn in the pool's queue
        [*prefect, "worker", "start", "--pool", "retrainer", "--limit", "6"], logs / "worker.log",
        env=server, cwd=folder,
    )  # fmt: skip
    port = _free_port()
    receiver = _start(
        [*retrainer, "webhook", "--port", str(port)], logs / "webhook.log", env=server, cwd=folder
    )
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(f"{url}/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        _wait(up, "the webhook receiver", timeout=60)
        yield {"folder": folder, "url": url, "api": server["PREFECT_API_URL"], "logs": logs}
    finally:
        _stop(receiver)
        _stop(worker)


def _post(url: str, body: dict | bytes, *, secret: str = SECRET, stamp: int | None = None):
    from retrainer.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    stamp = int(time.time()) if stamp is None else stamp
    headers = {
        "content-type": "application/json",
        TIMESTAMP_HEADER: str(stamp),
        SIGNATURE_HEADER: sign(secret, stamp, raw),
    }
    return httpx.post(f"{url}/hooks/generic", content=raw, headers=headers, timeout=30)


@contextmanager
def _client(api: str) -> Iterator:
    """A Prefect client of this module's server (the session's harness settings aside)."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: api}), get_client(sync_client=True) as c:
        assert str(c.api_url).rstrip("/") == api.rstrip("/")
        yield c


def _ct_runs(api: str) -> list:
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName

    with _client(api) as client:
        runs = client.read_flow_runs(
            deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=[CT])), limit=200
        )
    return [r for r in runs if r.parameters.get("reason") != "schedule"]


def _policy(folder: Path, server_env: dict) -> dict:
    out = _run([sys.executable, "-m", "retrainer", "policy", "explain", "--json", "--limit",
                "100"], server_env, folder)  # fmt: skip
    return json.loads(out)


def _events(api: str, since: datetime, name: str = "retrainer.alert.received") -> list[dict]:
    """The events called ``name`` the server stored that occurred since ``since``."""
    body = {
        "filter": {
            "event": {"name": [name]},
            "occurred": {"since": since.isoformat()},
        },
        "limit": 50,
    }
    response = httpx.post(f"{api}/events/filter", json=body, timeout=30)
    response.raise_for_status()
    return response.json()["events"]


def test_a_signed_alert_starts_a_ct_run_that_retrains_with_the_alert_in_its_lineage(loop, server):
    # when a monitoring tool posts a signed alert
    answer = _post(loop["url"], {"alert_id": "p99-1", "reason": "p99 latency up 40%"})

    # then the receiver accepted it, and the CT deployment ran to completion on the worker
    assert answer.status_code == 202, answer.text
    (event_id,) = answer.json()["event_ids"]

    def completed():
        runs = [r for r in _ct_runs(loop["api"]) if r.parameters.get("alert_id") == "p99-1"]
        return runs if runs and runs[0].state.is_final() else None

    (run,) = _wait(completed, "the CT run of the alert", timeout=300, every=1)
    assert run.state.is_completed(), (run.state, (loop["logs"] / "worker.log").read_text()[-3000:])
    assert run.parameters["reason"] == "webhook"
    assert run.parameters["event_id"] == event_id
    # and its decision retrained, recording the alert as the reason
    decision = _policy(loop["folder"], server)["decisions"][0]
    assert decision["status"] == "retrain", decision
    assert decision["event_id"] == event_id
    assert decision["outcome"] in ("promoted", "not_promoted", "gate_failed")
    # and the new version's lineage carries the reason and the id
    tags = _version_tags(loop["folder"], decision["version"])
    assert tags["retrainer.trigger_reason"] == "webhook"
    assert tags["retrainer.trigger_event_id"] == event_id
    assert "alert p99-1: p99 latency up 40%" in tags["retrainer.trigger_detail"]


def _version_tags(folder: Path, version: str) -> dict:
    from retrainer.project import Project
    from retrainer.registry.champion import registry_for
    from retrainer.registry.tracking import configure_mlflow

    project = Project.load(folder / "retrainer.yaml")
    configure_mlflow(project)
    return dict(registry_for(project).get_version(version).tags)


def test_twenty_alerts_within_a_minute_make_no_second_retrain(loop, server):
    before = len(_ct_runs(loop["api"]))
    since = datetime.now(UTC)

    # when 20 different alerts arrive within a minute of the retrain
    for i in range(20):
        assert _post(loop["url"], {"alert_id": f"storm-{i}", "reason": "error rate"}).is_success

    # then 20 CT runs complete, each held back by the cooldown and saying so
    def all_done():
        runs = _ct_runs(loop["api"])
        return len(runs) >= before + 20 and all(r.state.is_final() for r in runs)

    _wait(all_done, "20 CT runs", timeout=300, every=2)
    decisions = _policy(loop["folder"], server)["decisions"]
    storm = [d for d in decisions if d["decision"]["reasons"] and "storm-" in str(d["decision"])]
    assert len(storm) == 20
    assert {(d["status"], d["suppressed_by"]) for d in storm} == {("suppressed", "cooldown")}
    assert all("cooldown until" in d["detail"] for d in storm)
    assert [d["status"] for d in decisions].count("retrain") == 1
    # and the people watching get one "held back" notification event, not twenty
    held = _wait(
        lambda: _events(loop["api"], since, "retrainer.retrain.suppressed"), "a held event"
    )
    assert len(held) == 1, [e["payload"]["detail"] for e in held]


def test_bad_webhooks_are_rejected_with_the_reason_and_emit_nothing(loop):
    url = loop["url"]
    good = {"alert_id": "marker", "reason": "sent last"}
    since = datetime.now(UTC)
    body = json.dumps({"alert_id": "x", "reason": "y"}).encode()

    # when unsigned, wrongly signed, stale, replayed, malformed and oversized requests arrive
    unsigned = httpx.post(f"{url}/hooks/generic", content=body, timeout=30)
    wrong = _post(url, body, secret="not-the-secret")
    stale = _post(url, body, stamp=int(time.time()) - 3600)
    first = _post(url, {"alert_id": "once", "reason": "replay me"})
    replayed = httpx.post(
        f"{url}/hooks/generic", content=first.request.content, headers=first.request.headers
    )
    malformed = _post(url, {"reason": "no id"})
    oversized = _post(url, {"alert_id": "big", "reason": "x" * 2_000_000})

    # then each gets its status and reason
    assert unsigned.status_code == 401
    assert "missing" in unsigned.text
    assert wrong.status_code == 401
    assert "signature" in wrong.text
    assert stale.status_code == 401
    assert "stale" in stale.text.lower()
    assert first.status_code == 202
    assert replayed.status_code == 401
    assert "replayed" in replayed.text
    assert malformed.status_code == 422
    assert "alert_id" in malformed.text
    assert oversized.status_code == 413
    # and once a good alert sent after them is on the server, only it and the first are new
    assert _post(url, good).status_code == 202

    def arrived():
        events = _events(loop["api"], since)
        return events if any(e["payload"]["alert_id"] == "marker" for e in events) else None

    events = _wait(arrived, "the marker alert on the server", timeout=60)
    assert sorted(e["payload"]["alert_id"] for e in events) == ["marker", "once"]


def test_the_scheduler_creates_the_nightly_ct_runs(loop):
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterName,
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType

    def scheduled():
        with _client(loop["api"]) as client:
            return client.read_flow_runs(
                deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=[CT])),
                flow_run_filter=FlowRunFilter(
                    state=FlowRunFilterState(
                        type=FlowRunFilterStateType(any_=[StateType.SCHEDULED])
                    )
                ),
            )

    runs = _wait(
        lambda: [r for r in scheduled() if r.parameters.get("reason") == "schedule"],
        "scheduled CT runs",
        timeout=60,
    )
    # (runs created by the triggers also start out Scheduled: these are the cron's)
    assert {(r.expected_start_time.hour, r.expected_start_time.minute) for r in runs} == {(3, 0)}
