"""The webhook receiver's checks, in process (Starlette's test client).

The Prefect API is replaced by a recording emitter here, to see exactly what would be emitted;
the integration test (tests/webhooks/test_webhook_server.py) runs the receiver on loopback
against a real Prefect server and counts the events there.
"""

from __future__ import annotations

import json

import pytest
from starlette.testclient import TestClient

from retrainer.webhooks import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    MemoryReplayGuard,
    create_app,
    sign,
)

SECRET = "s3cret-for-tests"
NOW = 1_800_000_000.0


class Recorder:
    """Stands in for the Prefect API: keeps what would have been posted."""

    def __init__(self, fail: bool = False):
        self.events: list[dict] = []
        self.fail = fail

    def emit(self, events: list[dict]) -> None:
        if self.fail:
            raise ConnectionError("prefect is down")
        self.events += events


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def client(recorder) -> TestClient:
    app = create_app(
        model="credit-default",
        secret=SECRET,
        emitter=recorder,
        replay=MemoryReplayGuard(clock=lambda: NOW),
        max_body_bytes=2_000,
        clock=lambda: NOW,
    )
    return TestClient(app)


def _post(client, body, source="generic", *, at=NOW, secret=SECRET, signature=None, headers=None):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    stamp = str(int(at))
    sent = {
        SIGNATURE_HEADER: signature if signature is not None else sign(secret, stamp, raw),
        TIMESTAMP_HEADER: stamp,
        "content-type": "application/json",
        **(headers or {}),
    }
    return client.post(f"/hooks/{source}", content=raw, headers=sent)


ALERT = {"alert_id": "a-1", "reason": "p95 of roc_auc fell", "kind": "performance"}


def test_a_signed_alert_becomes_one_event_with_a_stable_id(client, recorder):
    first = _post(client, ALERT)
    # the same alert sent again later (a new signature) keeps its event id
    again = _post(client, ALERT, at=NOW + 1)

    assert first.status_code == 202, first.text
    assert again.status_code == 202
    [event, repeat] = recorder.events
    assert event["event"] == "retrainer.alert.received"
    assert event["resource"]["prefect.resource.id"] == "retrainer.model.credit-default"
    assert event["payload"]["alert_id"] == "a-1"
    assert event["payload"]["reason"] == "p95 of roc_auc fell"
    assert event["id"] == repeat["id"] == first.json()["event_ids"][0]


@pytest.mark.parametrize(
    ("kwargs", "status", "message"),
    [
        ({"signature": ""}, 401, "missing x-retrainer-signature header"),
        ({"secret": "another secret"}, 401, "wrong signature"),
        ({"at": NOW - 600}, 401, "stale request: sent 600 s from now, at most 300 s allowed"),
    ],
)
def test_unsigned_wrongly_signed_and_stale_requests_are_401_and_emit_nothing(
    client, recorder, kwargs, status, message
):
    response = _post(client, ALERT, **kwargs)

    assert response.status_code == status
    assert response.json()["error"] == message
    assert recorder.events == []


def test_a_replayed_request_is_401_and_emits_nothing(client, recorder):
    raw = json.dumps(ALERT).encode()
    signature = sign(SECRET, str(int(NOW)), raw)

    first = _post(client, raw, signature=signature)
    replayed = _post(client, raw, signature=signature)

    assert first.status_code == 202
    assert replayed.status_code == 401
    assert replayed.json()["error"].startswith("replayed")
    assert len(recorder.events) == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"{not json", "(body)"),
        ({"reason": "no id"}, "alert_id"),
        ({**ALERT, "model": "fraud"}, "model"),
        ([1, 2], "(body)"),
    ],
)
def test_a_malformed_payload_is_422_naming_the_field_and_emits_nothing(
    client, recorder, body, field
):
    response = _post(client, body)

    assert response.status_code == 422
    assert response.json()["field"] == field
    assert response.json()["error"].startswith(f"{field}: ")
    assert recorder.events == []


def test_an_oversized_body_is_413_and_emits_nothing(client, recorder):
    response = _post(client, {**ALERT, "details": {"blob": "x" * 5_000}})

    assert response.status_code == 413
    assert recorder.events == []


def test_grafana_firing_alerts_become_events_and_resolved_ones_nothing(client, recorder):
    body = {
        "status": "firing",
        "title": "[FIRING:2] score drift",
        "alerts": [
            {
                "status": "firing",
                "fingerprint": "abc",
                "startsAt": "2026-12-01T10:00:00Z",
                "labels": {"alertname": "ScoreDrift", "model": "credit-default"},
                "annotations": {"summary": "score PSI 0.31 > 0.25"},
            },
            {"status": "resolved", "fingerprint": "def", "labels": {}, "annotations": {}},
        ],
    }

    response = _post(client, body, source="grafana")

    assert response.status_code == 202
    [event] = recorder.events
    assert event["payload"]["source"] == "grafana"
    assert event["payload"]["alert_id"] == "abc@2026-12-01T10:00:00Z"
    assert event["payload"]["reason"] == "score PSI 0.31 > 0.25"


def test_a_monitor_alert_maps_its_fields(client, recorder):
    body = {
        "monitor": "accuracy-7d",
        "id": "m-9",
        "status": "triggered",
        "model_id": "credit-default",
        "metric": "accuracy",
        "value": 0.71,
        "threshold": 0.8,
    }

    response = _post(client, body, source="monitor")

    assert response.status_code == 202
    [event] = recorder.events
    assert event["payload"]["alert_id"] == "m-9"
    assert event["payload"]["details"] == {
        "monitor": "accuracy-7d",
        "metric": "accuracy",
        "value": 0.71,
        "threshold": 0.8,
    }


def test_when_prefect_refuses_the_events_the_tool_may_retry(recorder):
    failing = Recorder(fail=True)
    guard = MemoryReplayGuard(clock=lambda: NOW)
    app = create_app(
        model="credit-default", secret=SECRET, emitter=failing, replay=guard, clock=lambda: NOW
    )
    client = TestClient(app)
    raw = json.dumps(ALERT).encode()
    signature = sign(SECRET, str(int(NOW)), raw)

    down = _post(client, raw, signature=signature)
    failing.fail = False
    retried = _post(client, raw, signature=signature)

    assert down.status_code == 503
    assert retried.status_code == 202
    assert len(failing.events) == 1


def test_unknown_source_is_404_and_health_is_200(client):
    assert _post(client, ALERT, source="datadog").status_code == 404
    assert client.get("/health").json() == {"status": "ok", "model": "credit-default"}


def test_signatures_expire_with_their_window():
    clock = [NOW]
    guard = MemoryReplayGuard(clock=lambda: clock[0])

    assert guard.claim("sig", NOW + 300)
    assert not guard.claim("sig", NOW + 300)
    clock[0] = NOW + 301
    assert guard.claim("sig", NOW + 601)
