"""``retrainer webhook`` as a user runs it: real receiver processes on loopback ports.

Two receivers of one project run for the whole module. They share the project's SQLite
operational store and the session's Prefect API (the test harness); one takes its secret from
``RETRAINER_WEBHOOK_SECRET``, the other from a Prefect Secret block on that API. Alerts are
posted over HTTP and their events read back from the Prefect API.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from support import free_port, read_event

from retrainer.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

pytestmark = pytest.mark.slow

SECRET = "receiver-test-secret-0123456789"
BLOCK = "retrainer-webhook-test"
MODEL = "credit-default"
_PRIVATE = ("RETRAINER_WEBHOOK_SECRET", "RETRAINER_WEBHOOK_SECRET_BLOCK", "RETRAINER_DB_URL")


@dataclass
class Receiver:
    """A running ``retrainer webhook`` process."""

    url: str
    process: subprocess.Popen
    stdout: Path
    stderr: Path

    def post(self, body: bytes, headers: dict[str, str], source: str = "generic"):
        sent = {"content-type": "application/json", **headers}
        return httpx.post(f"{self.url}/hooks/{source}", content=body, headers=sent, timeout=30)

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise AssertionError(f"receiver exited: {self.stderr.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the receiver never answered /health"
            time.sleep(0.2)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _environment(prefect_api: str, **extra: str) -> dict[str, str]:
    inherited = {k: v for k, v in os.environ.items() if k not in _PRIVATE}
    return {**inherited, "PREFECT_API_URL": prefect_api, **extra}


def _start(config: Path, logs: Path, name: str, env: dict[str, str], *args: str) -> Receiver:
    port = free_port()
    stdout, stderr = logs / f"{name}.out", logs / f"{name}.err"
    with stdout.open("w") as out, stderr.open("w") as err:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "retrainer",
                "webhook",
                *("-c", config, "--port", str(port)),
                *args,
            ],
            env=env,
            stdout=out,
            stderr=err,
        )
    return Receiver(f"http://127.0.0.1:{port}", process, stdout, stderr)


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    from retrainer.config.starter import STARTER_CONFIG

    path = tmp_path_factory.mktemp("webhook") / "retrainer.yaml"
    path.write_text(STARTER_CONFIG)
    return path


@pytest.fixture(scope="module")
def receivers(prefect_api, project, tmp_path_factory) -> Iterator[tuple[Receiver, Receiver]]:
    """(secret from the environment, secret from a Secret block), sharing one store."""
    from prefect.blocks.system import Secret

    Secret(value=SECRET).save(BLOCK, overwrite=True)
    logs = tmp_path_factory.mktemp("receiver-logs")
    by_env = _start(
        project, logs, "env", _environment(prefect_api, RETRAINER_WEBHOOK_SECRET=SECRET)
    )
    by_block = _start(project, logs, "block", _environment(prefect_api), "--secret-block", BLOCK)
    try:
        by_env.wait_ready()
        by_block.wait_ready()
        yield by_env, by_block
    finally:
        by_env.stop()
        by_block.stop()


def _signed(body: bytes, ago: int = 0) -> dict[str, str]:
    stamp = str(int(time.time()) - ago)
    return {TIMESTAMP_HEADER: stamp, SIGNATURE_HEADER: sign(SECRET, stamp, body)}


def test_an_alert_signed_with_webhook_sign_becomes_an_event_on_the_prefect_api(
    receivers, run_cli, tmp_path
):
    by_env, _ = receivers
    # given an alert and the headers `retrainer webhook sign` prints for it
    body = tmp_path / "alert.json"
    body.write_text(json.dumps({"alert_id": "cli-1", "reason": "auc fell", "kind": "performance"}))
    signed = run_cli("webhook", "sign", "--body", str(body), RETRAINER_WEBHOOK_SECRET=SECRET)
    assert signed.exit_code == 0, signed.stderr
    headers = dict(line.split(": ", 1) for line in signed.stdout.splitlines())

    # when it is posted to the receiver
    response = by_env.post(body.read_bytes(), headers)

    # then it is accepted, and its event is on the Prefect API
    assert response.status_code == 202, response.text
    [event_id] = response.json()["event_ids"]
    event = read_event(event_id)
    assert event.event == "retrainer.alert.received"
    assert event.resource.id == f"retrainer.model.{MODEL}"
    assert event.resource["retrainer.origin"] == "standalone"
    assert (event.payload["alert_id"], event.payload["reason"]) == ("cli-1", "auc fell")
    # and the receiver said where its secret came from, never the secret
    started = by_env.stdout.read_text()
    assert f"webhook receiver for {MODEL} on {by_env.url}" in started
    assert "secret from $RETRAINER_WEBHOOK_SECRET" in started
    assert SECRET not in started + by_env.stderr.read_text()


def test_a_replay_to_another_receiver_sharing_the_store_is_refused(receivers):
    by_env, by_block = receivers
    # given an alert accepted by the first receiver
    body = json.dumps({"alert_id": "cli-2", "reason": "p95 latency"}).encode()
    headers = _signed(body)
    first = by_env.post(body, headers)
    assert first.status_code == 202, first.text

    # when the same request reaches the second receiver (secret from the Secret block)
    replayed = by_block.post(body, headers)
    # and the alert is sent to it again, signed with another timestamp
    resent = by_block.post(body, _signed(body, ago=2))

    # then the replay is refused, the fresh request is accepted with the same event id
    assert replayed.status_code == 401
    assert replayed.json()["error"].startswith("replayed")
    assert resent.status_code == 202, resent.text
    assert resent.json()["event_ids"] == first.json()["event_ids"]
    started = by_block.stdout.read_text()
    assert f"secret from Prefect Secret block '{BLOCK}'" in started
    assert SECRET not in started + by_block.stderr.read_text()


@pytest.mark.parametrize(
    ("env", "args", "message"),
    [
        (
            {},
            (),
            "no webhook secret: set RETRAINER_WEBHOOK_SECRET, or name a Prefect Secret block "
            "with --secret-block NAME (or RETRAINER_WEBHOOK_SECRET_BLOCK)",
        ),
        ({}, ("--secret-block", "no-such-block"), "--secret-block 'no-such-block': cannot load"),
        (
            {"RETRAINER_WEBHOOK_SECRET": SECRET, "PREFECT_API_URL": None},
            (),
            "the receiver needs a shared Prefect API: set PREFECT_API_URL",
        ),
    ],
    ids=["no-secret", "unknown-block", "no-prefect-api"],
)
def test_a_receiver_that_cannot_work_exits_2_before_listening(
    run_cli, project, tmp_path, env, args, message
):
    # given the receiver's port held by another program
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        # when the receiver is started without what it needs (and no Prefect profile)
        result = run_cli(
            *("webhook", "-c", str(project), "--port", str(port), *args),
            **{"PREFECT_HOME": str(tmp_path), **dict.fromkeys(_PRIVATE), **env},
        )

    # then it exits 2 saying what is missing, before it tries the port
    assert result.exit_code == 2, result.stderr
    assert message in result.stderr
    assert "cannot listen" not in result.stderr


def test_a_port_in_use_exits_2_naming_it(run_cli, project, tmp_path):
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        result = run_cli(
            *("webhook", "-c", str(project), "--port", str(port)),
            RETRAINER_WEBHOOK_SECRET=SECRET,
        )

    assert result.exit_code == 2
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in result.stderr
