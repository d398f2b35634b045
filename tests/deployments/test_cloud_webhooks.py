"""The Prefect Cloud webhook templates make the events the self-hosted receiver makes.

Prefect Cloud renders a webhook's template with Jinja2, the parsed request body as ``body``
(Cloud itself cannot run here: no internet). Each template is rendered with Prefect's own
sandboxed user-template environment, and with a strict one (an undefined value is an error),
on the sample payloads of tests/webhooks, and compared with
:func:`retrainer.webhooks.alerts_from` for the same payload.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from jinja2 import StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment
from support import REPO_ROOT

from retrainer.webhooks import PayloadError, alerts_from

TEMPLATES = REPO_ROOT / "deployments" / "cloud-webhooks"
MODEL = "credit-default"

# the sample payloads of tests/webhooks/test_webhook_app.py
GENERIC = {"alert_id": "a-1", "reason": "p95 of roc_auc fell", "kind": "performance"}
GENERIC_FULL = {
    **GENERIC,
    "alert_id": 17,
    "metric": "roc_auc",
    "value": 1,
    "threshold": 0.8,
    "details": {"segment": "<18 & 'young'"},
}
GRAFANA = {
    "status": "firing",
    "title": "[FIRING:2] score drift",
    "alerts": [
        {"status": "resolved", "fingerprint": "def", "labels": {}, "annotations": {}},
        {
            "status": "firing",
            "fingerprint": "abc",
            "startsAt": "2026-12-01T10:00:00Z",
            "labels": {"alertname": "ScoreDrift", "model": MODEL},
            "annotations": {"summary": "score PSI 0.31 > 0.25"},
        },
        {"status": "firing", "fingerprint": "ghi", "labels": {"alertname": "Second"}},
    ],
}
MONITOR = {
    "monitor": "accuracy-7d",
    "id": "m-9",
    "status": "triggered",
    "model_id": MODEL,
    "metric": "accuracy",
    "value": 0.71,
    "threshold": 0.8,
}

OTHER = {"model": "fraud"}

Render = Callable[[str, object], str]


def _template(source: str) -> str:
    return (TEMPLATES / f"{source}.json.j2").read_text()


def _prefect_render(template: str, body: object) -> str:
    from prefect.server.utilities.user_templates import (
        render_user_template_sync,
        validate_user_template,
    )

    validate_user_template(template)  # Prefect's loop limits for user templates
    return render_user_template_sync(template, {"body": body, "headers": {}, "method": "POST"})


def _strict_render(template: str, body: object) -> str:
    environment = ImmutableSandboxedEnvironment(undefined=StrictUndefined)
    return environment.from_string(template).render(body=body, headers={}, method="POST")


@pytest.fixture(params=[_prefect_render, _strict_render], ids=["prefect", "strict"])
def render(request) -> Render:
    return request.param


def _event(render: Render, source: str, body: object, template: str | None = None) -> dict:
    """The rendered event, checked to be one Prefect accepts (Cloud fills id and occurred)."""
    from prefect.events.schemas.events import Event

    event = json.loads(render(template or _template(source), body))
    Event.model_validate(event)
    return event


def _receiver_event(source: str, body: object, model: str = MODEL) -> dict:
    event = alerts_from(source, body, model)[0].to_event()
    event["payload"].pop("received_at")  # Cloud events say it in `occurred`
    return {k: event[k] for k in ("event", "resource", "payload")}


@pytest.mark.parametrize(
    ("source", "body"),
    [("generic", GENERIC), ("generic", GENERIC_FULL), ("grafana", GRAFANA), ("monitor", MONITOR)],
    ids=["generic", "generic-full", "grafana", "monitor"],
)
def test_each_template_renders_the_event_the_receiver_emits(render, source, body):
    # when Cloud renders the template on a payload
    event = _event(render, source, body)

    # then it is the receiver's event (grafana: its first firing alert), id and time aside
    assert event == _receiver_event(source, body)
    assert event["payload"]["alert_id"] == alerts_from(source, body, MODEL)[0].alert_id


def test_the_model_is_named_once_so_a_project_sets_its_own(render):
    # given the generic template with the model line set to another model
    template = _template("generic")
    assert template.count(f'"{MODEL}"') == 1
    churn = template.replace(f'"{MODEL}"', '"churn"')

    # then its events are about that model
    assert _event(render, "generic", GENERIC, churn) == _receiver_event("generic", GENERIC, "churn")


@pytest.mark.parametrize(
    ("source", "body"),
    [
        ("generic", {"reason": "no id"}),
        ("generic", {**GENERIC, "model": "fraud"}),
        ("generic", "not json"),
        ("grafana", {"status": "firing", "alerts": []}),
        ("grafana", {"alerts": GRAFANA["alerts"]}),
        ("grafana", {"status": "firing", "alerts": [{**GRAFANA["alerts"][2], "labels": OTHER}]}),
        ("grafana", [GRAFANA]),
        ("monitor", {"monitor": "m", "status": "firing"}),
        ("monitor", {**MONITOR, "model_id": "fraud"}),
    ],
    ids=[
        "no-alert-id",
        "other-model",
        "text-body",
        "no-alerts",
        "no-status",
        "grafana-other-model",
        "grafana-list-body",
        "monitor-no-id",
        "monitor-other-model",
    ],
)
def test_a_payload_the_receiver_refuses_renders_a_refusal_naming_the_same_field(
    render, source, body
):
    # given a payload the receiver answers with 422 naming a field
    with pytest.raises(PayloadError) as refused:
        alerts_from(source, body, MODEL)

    # when Cloud renders the template on it
    rendered = render(_template(source), body)

    # then the output is no JSON (Cloud answers 400, records prefect-cloud.webhook.failed)
    # and names the same field
    assert rendered.startswith(f"refused: {refused.value.field}: "), rendered
    with pytest.raises(json.JSONDecodeError):
        json.loads(rendered)


@pytest.mark.parametrize(
    ("source", "body"),
    [
        ("grafana", {"status": "resolved", "alerts": [GRAFANA["alerts"][0]]}),
        ("monitor", {**MONITOR, "status": "resolved"}),
    ],
)
def test_a_resolved_alert_becomes_a_resolved_event_no_trigger_listens_to(render, source, body):
    # given a notification the receiver acknowledges without an event
    assert alerts_from(source, body, MODEL) == []

    # when Cloud renders it (a Cloud webhook always makes one event)
    event = _event(render, source, body)

    # then it is retrainer.alert.resolved, not the event the deployment triggers expect
    assert event["event"] == "retrainer.alert.resolved"
    assert event["payload"]["status"] == "resolved"
    assert event["resource"]["prefect.resource.id"] == f"retrainer.model.{MODEL}"


def test_the_templates_are_the_three_receiver_routes():
    from retrainer.webhooks.mappings import MAPPINGS

    assert sorted(p.name for p in TEMPLATES.iterdir()) == sorted(f"{s}.json.j2" for s in MAPPINGS)
