"""Notification automations: shipped as data, installed by name, delivered by Prefect.

The delivery test runs against the session's real Prefect API (the test harness runs every
server service, the triggers and actions services included) and a real HTTP sink on
127.0.0.1: Prefect's own CustomWebhookNotificationBlock posts to it.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from retrainer import events
from retrainer.deployments.notifications import (
    Notification,
    NotificationError,
    notifications,
    parse_block_ref,
)

WANTED = {
    events.DRIFT_DETECTED,
    events.RETRAIN_DECIDED,
    events.RETRAIN_SUPPRESSED,
    events.GATE_FAILED,
    events.MODEL_PROMOTED,
    events.MODEL_ROLLED_BACK,
}


def test_the_shipped_notifications_cover_what_people_must_hear_about():
    entries = notifications()

    assert {e.event for e in entries} == WANTED
    assert all(e.name.startswith("retrainer-notify-") for e in entries)
    assert len({e.name for e in entries}) == len(entries)


def test_every_template_is_one_prefects_server_accepts():
    from prefect.server.events.actions import SendNotification

    for entry in notifications():
        # the action Prefect's server builds from the automation validates both templates
        SendNotification(block_document_id=uuid.uuid4(), subject=entry.subject, body=entry.body)


def test_a_bad_entry_is_refused_naming_the_field():
    text = "notifications:\n  - {name: n, event: retrainer.gate.failed, subject: s, bodyy: b}\n"

    with pytest.raises(NotificationError, match=r"notifications\.yaml.*bodyy"):
        notifications(text)


@pytest.mark.parametrize("ref", ["ops", "custom-webhook/", "/ops", "Custom Webhook/ops", "a/b/c"])
def test_a_block_reference_must_be_slug_slash_name(ref):
    with pytest.raises(NotificationError, match="BLOCK_TYPE_SLUG/BLOCK_NAME"):
        parse_block_ref(ref)


def test_a_block_reference_splits_into_slug_and_name():
    assert parse_block_ref("slack-webhook/ml-team") == ("slack-webhook", "ml-team")


class _Sink(BaseHTTPRequestHandler):
    received: ClassVar[list[dict]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", 0))
        type(self).received.append(json.loads(self.rfile.read(length)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def sink() -> Iterator[tuple[str, list[dict]]]:
    """A real HTTP server on a free 127.0.0.1 port; yields its URL and what it received."""
    received: list[dict] = []
    handler = type("Sink", (_Sink,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    finally:
        server.shutdown()
        server.server_close()


def _wait_for(received: list[dict], count: int, deadline_s: float = 60) -> list[dict]:
    deadline = time.monotonic() + deadline_s
    while len(received) < count and time.monotonic() < deadline:
        time.sleep(0.25)
    return list(received)


@pytest.mark.slow
def test_gate_failed_and_retrain_suppressed_reach_the_webhook(prefect_api, sink):
    from prefect.blocks.notifications import CustomWebhookNotificationBlock
    from prefect.client.orchestration import get_client
    from prefect.events import emit_event

    from retrainer.deployments.notifications import install_notifications, notification_block_id

    url, received = sink
    block_name = f"ops-{uuid.uuid4().hex[:8]}"
    model = f"churn-{uuid.uuid4().hex[:6]}"
    CustomWebhookNotificationBlock(
        name="ops", url=url, json_data={"text": "{{subject}}\n{{body}}"}
    ).save(block_name)
    # the two notifications under test, renamed so that nothing else in the session shares them
    entries = [
        Notification(**{**e.model_dump(), "name": f"{e.name}-{block_name}"})
        for e in notifications()
        if e.event in (events.GATE_FAILED, events.RETRAIN_SUPPRESSED)
    ]
    with get_client(sync_client=True) as client:
        block_id = notification_block_id(client, f"custom-webhook/{block_name}")
        first = install_notifications(client, block_id, entries)
        # installing again updates the same automations (the name is their identity)
        again = install_notifications(client, block_id, entries)
        try:
            assert [i.action for i in first] == ["created", "created"]
            assert [(i.id, i.action) for i in again] == [(i.id, "updated") for i in first]

            # when a challenger fails its gate and a guard holds a retrain back (sent again
            # every 15 s until both messages came: a busy server's triggers service may load
            # new automations after the first events went by)
            def send() -> None:
                emit_event(
                    events.GATE_FAILED,
                    resource=events.model_resource(model, version="7", origin="standalone"),
                    payload={
                        "version": "7",
                        "champion_version": "6",
                        "summary": "AUC 0.71 is worse than the champion's 0.74",
                        "failed_checks": [{"name": "paired_auc"}, {"name": "segment_income"}],
                    },
                )
                emit_event(
                    events.RETRAIN_SUPPRESSED,
                    resource=events.model_resource(model, origin="continuous-training"),
                    payload={"reason": "drift", "suppressed_by": "cooldown", "fired": ["drift"]},
                )

            def kinds() -> set[bool]:
                return {"held back" in m["text"] for m in received}

            deadline = time.monotonic() + 90
            while kinds() != {True, False} and time.monotonic() < deadline:
                send()
                _wait_for(received, len(received) + 2, deadline_s=15)

            # then the webhook receives both messages, with model, version and reason
            texts = sorted({m["text"] for m in received})
        finally:
            for installed in first:
                client.delete_automation(uuid.UUID(installed.id))
    assert len(texts) == 2, texts
    gate, held = sorted(texts, key=lambda t: "held back" in t)
    assert gate.startswith(f"Retrainer: version 7 of {model} failed its gate\n")
    assert "against champion version 6" in gate
    assert "Failed checks: paired_auc, segment_income." in gate
    assert held.startswith(f"Retrainer: retrain of {model} held back (cooldown)\n")
    assert "reason drift" in held
