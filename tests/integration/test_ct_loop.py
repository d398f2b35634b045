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
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pandas as pd
import pytest
import yaml
from support import free_port

pytestmark = [pytest.mark.slow, pytest.mark.long]

SECRET = "integration-test-secret"
CT = "continuous-training"


def _wait(check, what: str, timeout: float = 120.0, every: float = 0.5):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


PORTS = ("s3", "prefect", "mlflow", "worker", "webhook", "gateway")
STAGES = [
    {"kind": "shadow", "min_requests": 200, "min_labelled": 200, "min_duration_hours": 0,
     "analysis": [{"name": "error_rate", "failure": {"min": 0.05}}]},
    {"kind": "canary", "weights": [50], "step_minutes": 0, "min_labelled_per_step": 150,
     "analysis": [{"name": "metric_delta", "success": {"min": -0.1}, "failure": {"max": -0.2}},
                  {"name": "error_rate", "failure": {"min": 0.05}}]},
]  # fmt: skip


def _run(args: list[str], env: dict, cwd: Path, timeout: float = 600) -> str:
    done = subprocess.run(
        args, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, (args, done.stdout[-3000:], done.stderr[-3000:])
    return done.stdout


def _project(folder: Path, env: dict) -> None:
    """``retrainer init``, then a quick estimator, the test's policy and a staged rollout."""
    retrainer = [sys.executable, "-m", "retrainer"]
    _run([*retrainer, "init", str(folder)], env, folder.parent)
    config = yaml.safe_load((folder / "retrainer.yaml").read_text())
    config["estimator"]["params"] = {"max_iter": 40}
    config["policy"] = {
        "triggers": [{"kind": "webhook"}, {"kind": "on_demand"}],  # the drift test adds drift
        "cooldown_hours": 0,  # the storm test sets one hour
        "labels": {"min_rows": 500, "min_per_class": 20},
    }
    # the gate lets a model at least as good through; the staged rollout decides on live traffic
    config["gates"]["comparison"] = {"mode": "non_inferiority", "margin": 0.02}
    config["promotion"] = {"stages": STAGES}
    (folder / "retrainer.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


@pytest.fixture(scope="module")
def server(tmp_path_factory, postgres_url) -> Iterator[dict[str, str]]:
    """The production stack (``retrainer prod up``) of a new project, and its clients' env.

    Prefect server and MLflow server on the machine's PostgreSQL, MLflow's artifacts on
    moto_server (S3 on loopback), the store on PostgreSQL, a process worker, the webhook
    receiver and the gateway; ports free ones, databases named for this run.
    """
    folder = tmp_path_factory.mktemp("users") / "loans"
    base = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "MLFLOW_"))}
    base.pop("RETRAINER_DB_URL", None)
    folder.parent.mkdir(parents=True, exist_ok=True)
    _project(folder, base)
    prefix = f"rt_it_{os.getpid()}"
    env = {
        **base,
        "RETRAINER_WEBHOOK_SECRET": SECRET,
        "RETRAINER_PROD_POSTGRES": postgres_url,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "2",
        "PREFECT_WORKER_QUERY_SECONDS": "1",
        "PREFECT_WORKER_PREFETCH_SECONDS": "5",
    }
    free: set[int] = set()
    while len(free) < len(PORTS):
        free.add(free_port())
    ports = [arg for name, port in zip(PORTS, sorted(free), strict=True)
             for arg in (f"--{name}-port", str(port))]  # fmt: skip
    prod = [sys.executable, "-m", "retrainer", "prod"]
    try:
        _run([*prod, "up", "--prefix", prefix, "--worker-limit", "6", *ports], env, folder)
        shell = json.loads(_run([*prod, "env", "--json"], env, folder))
        yield {**env, **shell, "folder": str(folder), "prod": json.dumps(prod)}
    finally:
        subprocess.run([*prod, "down", "--purge"], env=env, cwd=folder, timeout=180, check=False)


def _env(server: dict) -> dict[str, str]:
    return {k: v for k, v in server.items() if k not in ("folder", "prod")}


@pytest.fixture(scope="module")
def loop(server) -> Iterator[dict]:
    """The stack's project with 80 simulated days (incomes drop on day 70) and a champion."""
    folder = Path(server["folder"])
    env = _env(server)
    retrainer = [sys.executable, "-m", "retrainer"]
    _run([*retrainer, "simulate", "--days", "80", "--rows-per-day", "200"], env, folder)
    # the first model goes to the stack's MLflow server and store, but its run's events to
    # Prefect's ephemeral API: on the stack's server, its validated batches would start a
    # CT run while it trains (one that finds no champion yet and trains one of its own)
    offline = {k: v for k, v in env.items() if k != "PREFECT_API_URL"}
    _run([*retrainer, "train", "--as-of", "2026-03-01"], offline, folder)
    stack = json.loads((folder / ".retrainer" / "prod" / "stack.json").read_text())
    url = f"http://127.0.0.1:{stack['ports']['webhook']}"
    gateway = f"http://127.0.0.1:{stack['ports']['gateway']}"
    return {
        "folder": folder,
        "url": url,
        "gateway": gateway,
        "api": server["PREFECT_API_URL"],
        "logs": folder / ".retrainer" / "prod" / "logs",
        "env": env,
        "stack": stack,
    }


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


def _set_policy(folder: Path, **changes) -> None:
    """Change the policy in retrainer.yaml (every run reads it anew)."""
    path = folder / "retrainer.yaml"
    config = yaml.safe_load(path.read_text())
    config["policy"].update(changes)
    path.write_text(yaml.safe_dump(config, sort_keys=False))


def _prefect(loop: dict, *args: str, timeout: float = 300) -> str:
    return _run([sys.executable, "-m", "prefect", *args], loop["env"], loop["folder"], timeout)


def _traffic(loop: dict, rows: pd.DataFrame, round_: int) -> int:
    """Send each row to the gateway (entity = loan id), then its label on /feedback."""
    columns = [c for c in rows.columns if c not in ("loan_id", "event_time", "defaulted")]
    labels = []
    with httpx.Client(base_url=loop["gateway"], timeout=30) as client:
        for i, row in enumerate(rows.itertuples(index=False)):
            record = row._asdict()
            inputs = {c: (None if pd.isna(record[c]) else record[c]) for c in columns}
            body = {"inputs": inputs, "request_id": f"r{round_}-{i}",
                    "entity_key": str(record["loan_id"])}  # fmt: skip
            answer = client.post("/predict", json=body)
            assert answer.status_code == 200, answer.text
            labels.append({"request_id": body["request_id"], "label": int(record["defaulted"])})
        assert client.post("/feedback", json={"labels": labels}).status_code == 202
    return len(labels)


def _stream(folder: Path) -> pd.DataFrame:
    """The simulated rows of the last two weeks with their true labels (the live traffic)."""
    features = pd.read_parquet(folder / "data" / "features")
    labels = pd.read_parquet(folder / "data" / "labels")[["loan_id", "defaulted"]]
    recent = features.sort_values("event_time").tail(2_400)
    return recent.drop(columns=["date"], errors="ignore").merge(labels, on="loan_id")


def _s3_keys(loop: dict) -> list[str]:
    import boto3

    client = boto3.client(
        "s3", endpoint_url=f"http://127.0.0.1:{loop['stack']['ports']['s3']}",
        aws_access_key_id="any", aws_secret_access_key="any", region_name="us-east-1",
    )  # fmt: skip
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=loop["stack"]["bucket"])
    return [o["Key"] for page in pages for o in page.get("Contents", [])]


def test_a_drift_event_retrains_gates_rolls_out_through_the_gateway_and_promotes(loop, server):
    folder = loop["folder"]
    _set_policy(folder, triggers=[{"kind": "drift"}, {"kind": "webhook"}, {"kind": "on_demand"}])
    before = {r.id for r in _ct_runs(loop["api"])}
    # when the standalone drift check runs on the worker on the week to 03-20 (incomes dropped
    # on 03-12); the CT run of the first model's data checked the newest week already, and a
    # repeated check of one window emits one event id)
    _prefect(loop, "deployment", "run", "check-drift/drift", "--param", "as_of=2026-03-20",
             "--watch", "--watch-timeout", "240")  # fmt: skip

    # then its drift event starts a CT run (its screening validates the window too: a
    # new-data run may start beside it, and one of them decides for both), and the model
    # is retrained and the gated version handed over
    def completed():
        runs = [r for r in _ct_runs(loop["api"]) if r.id not in before]
        done = runs and all(r.state.is_final() for r in runs)
        return runs if done and any(r.parameters.get("reason") == "drift" for r in runs) else None

    runs = _wait(completed, "the CT run of the drift event", timeout=300, every=1)
    logs = (loop["logs"] / "worker.log").read_text()[-3000:]
    assert all(r.state.is_completed() for r in runs), ([r.state for r in runs], logs)
    (run,) = [r for r in runs if r.parameters["reason"] == "drift"]
    assert run.parameters["event"] == "retrainer.drift.detected"
    decisions = _policy(folder, loop["env"])["decisions"]
    decision = next(d for d in decisions if d["status"] == "retrain")
    assert "drift: income" in decision["detail"], decision
    assert decision["outcome"] == "rollout_started", decision
    version = decision["version"]

    # and the gateway, without a restart, mirrors traffic to it in shadow
    def plan():
        answer = httpx.get(f"{loop['gateway']}/rollout", timeout=10).json()
        return answer if answer.get("challenger") == version else None

    assert _wait(plan, "the gateway's shadow plan", timeout=30)["stage"] == "shadow"

    # when traffic and its labels flow, and the reconcile-rollout deployment runs on the worker
    rows, stages, start = _stream(folder), [], 0
    for round_ in range(6):
        start += _traffic(loop, rows.iloc[start : start + 400], round_)
        time.sleep(2)  # the gateway's log writer flushes about every second
        _prefect(loop, "deployment", "run", "reconcile-rollout/reconcile-rollout", "--watch",
                 "--watch-timeout", "180")  # fmt: skip
        state = json.loads(_run([sys.executable, "-m", "retrainer", "rollout", "status", "--json"],
                                loop["env"], folder))  # fmt: skip
        stages.append((state["rollout"]["status"], state["stage"]))
        if state["rollout"]["status"] != "running":
            break

    # then the challenger went shadow → canary → champion, and the gateway serves it alone
    assert stages[-1][0] == "promoted", stages
    assert ("running", "canary 50%") in stages, stages
    assert _wait(
        lambda: httpx.get(f"{loop['gateway']}/ready", timeout=10).json()["champion"] == version,
        "the gateway serving the new champion", timeout=30,
    )  # fmt: skip
    assert "drift: income" in _version_tags(loop, version)["retrainer.trigger_detail"]
    # and every artifact went to S3 through the MLflow server: the model, the gate report,
    # the rollout report; none was written beside the project
    keys = _s3_keys(loop)
    assert any(k.endswith("/MLmodel") for k in keys), keys[:20]
    assert any("gate_report.html" in k for k in keys)
    assert any("rollout" in k and k.endswith(".html") for k in keys), keys
    assert not (folder / ".retrainer" / "artifacts").exists()


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
    assert decision["outcome"] in ("rollout_started", "promoted", "not_promoted", "gate_failed")
    # and the new version's lineage carries the reason and the id
    tags = _version_tags(loop, decision["version"])
    assert tags["retrainer.trigger_reason"] == "webhook"
    assert tags["retrainer.trigger_event_id"] == event_id
    assert "alert p99-1: p99 latency up 40%" in tags["retrainer.trigger_detail"]


def _version_tags(loop: dict, version: str) -> dict:
    """The version's tags, read from the stack's MLflow server.

    Both URIs are given: a test module run before this one in the same process may have
    left a registry URI set globally (mlflow.set_registry_uri), which a client built from a
    tracking URI alone would follow.
    """
    from mlflow import MlflowClient

    uri = loop["env"]["MLFLOW_TRACKING_URI"]
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    return dict(client.get_model_version("credit-default", version).tags)


def test_twenty_alerts_within_a_minute_make_no_second_retrain(loop, server):
    # given a one-hour cooldown (read by every run from retrainer.yaml)
    _set_policy(loop["folder"], cooldown_hours=1)
    before = len(_ct_runs(loop["api"]))
    retrains = [d["status"] for d in _policy(loop["folder"], server)["decisions"]].count("retrain")
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
    assert [d["status"] for d in decisions].count("retrain") == retrains
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


def test_prod_up_twice_starts_one_stack_and_prod_down_leaves_no_process(loop, server):
    import psutil

    from retrainer.production.supervisor import Running

    folder, prod = loop["folder"], json.loads(server["prod"])
    pids = folder / ".retrainer" / "prod" / "pids"
    before = {p.stem: json.loads(p.read_text())["pid"] for p in pids.glob("*.json")}
    assert set(before) == set(PORTS)
    family = set()
    for path in pids.glob("*.json"):
        proc = Running(**json.loads(path.read_text())).process()
        assert proc is not None, path.stem
        family |= {proc.pid, *(c.pid for c in proc.children(recursive=True))}

    # when `prod up` runs again
    again = _run([*prod, "up"], loop["env"], folder)

    # then it starts nothing: the same processes serve
    assert "already running" in again
    assert {p.stem: json.loads(p.read_text())["pid"] for p in pids.glob("*.json")} == before

    # when `prod down` runs, then no process of the stack, nor any child of one, is left
    out = _run([*prod, "down"], loop["env"], folder)
    assert all(f"{name}: stopped" in out for name in PORTS), out
    alive = [pid for pid in family if psutil.pid_exists(pid)
             and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]  # fmt: skip
    assert alive == [], alive
    assert list(pids.glob("*.json")) == []
