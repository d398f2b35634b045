"""Monitoring tools' alert payloads turned into ``retrainer.alert.received`` events (pure).

Three payload shapes are understood, one per receiver route (``POST /hooks/<source>``):

* ``generic`` — a plain JSON alert: ``{"alert_id", "reason", "model"?, "kind"?, "status"?,
  "metric"?, "value"?, "threshold"?, "details"?}``.
* ``grafana`` — Grafana alerting's webhook contact point: ``{"status", "alerts": [{"status",
  "fingerprint", "startsAt", "labels", "annotations"}], "title"?, "message"?}``; every firing
  alert is one event (resolved ones are acknowledged, nothing is emitted for them).
* ``monitor`` — an Evidently/Arize-style monitor alert: ``{"monitor", "alert_id" | "id",
  "status", "model" | "model_id"?, "metric"?, "value"?, "threshold"?, "message"?}``.

Every event gets a stable id derived from the model, the source and the alert id, so a tool
that redelivers an alert (or sends it twice) starts one run: Prefect drops an event id it has
seen, and the trigger policy drops an alert id it has decided on.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from retrainer.events import ALERT_RECEIVED, ORIGIN_STANDALONE, model_resource

_NAMESPACE = uuid.UUID("6f2d7f0e-8a55-4b1e-9a3c-5d1f7c2e9b40")


class PayloadError(ValueError):
    """A payload that does not fit its route (answered with 422); ``field`` names the field."""

    def __init__(self, field_name: str, message: str):
        self.field = field_name
        super().__init__(f"{field_name}: {message}")


@dataclass(frozen=True)
class AlertEvent:
    """One alert as Retrainer announces it."""

    model: str
    source: str
    alert_id: str
    reason: str
    status: str = "firing"
    kind: str = "alert"
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def event_id(self) -> str:
        """A stable id: the same alert of the same tool for the same model, the same id."""
        return str(uuid.uuid5(_NAMESPACE, f"{self.model}\0{self.source}\0{self.alert_id}"))

    def to_event(self, received: datetime | None = None) -> dict[str, Any]:
        """The Prefect event (``POST /api/events`` form)."""
        moment = (received or datetime.now(UTC)).isoformat()
        return {
            "id": self.event_id,
            "occurred": moment,
            "event": ALERT_RECEIVED,
            "resource": model_resource(
                self.model, alert_source=self.source, origin=ORIGIN_STANDALONE
            ),
            "payload": {
                "source": self.source,
                "alert_id": self.alert_id,
                "reason": self.reason,
                "status": self.status,
                "kind": self.kind,
                "received_at": moment,
                **({"details": self.details} if self.details else {}),
            },
        }


class _Lenient(BaseModel):
    """Vendors send more than we read: unknown keys are kept out, not refused."""

    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)


class GenericAlert(_Lenient):
    """The ``generic`` route's payload."""

    alert_id: str = Field(min_length=1)
    reason: str = Field(min_length=1)
    model: str | None = None
    kind: str = "alert"
    status: str = "firing"
    metric: str | None = None
    value: float | None = None
    threshold: float | None = None
    details: dict[str, Any] = Field(default_factory=dict)


class GrafanaItem(_Lenient):
    """One alert of a Grafana notification."""

    status: str
    fingerprint: str = Field(min_length=1)
    startsAt: str = ""
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)


class GrafanaAlert(_Lenient):
    """The ``grafana`` route's payload (Grafana alerting's webhook contact point)."""

    status: str
    alerts: list[GrafanaItem] = Field(min_length=1)
    title: str | None = None
    message: str | None = None


class MonitorAlert(_Lenient):
    """The ``monitor`` route's payload (an Evidently/Arize-style monitor alert)."""

    monitor: str = Field(min_length=1)
    alert_id: str | None = None
    id: str | None = None
    status: str
    model: str | None = None
    model_id: str | None = None
    metric: str | None = None
    value: float | None = None
    threshold: float | None = None
    message: str | None = None


def _parse(schema: type[BaseModel], body: Any) -> Any:
    if not isinstance(body, dict):
        raise PayloadError("(body)", f"expected a JSON object, got {type(body).__name__}")
    try:
        return schema.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "(body)"
        raise PayloadError(where, first.get("msg", "invalid")) from None


def _model(named: str | None, default: str, where: str) -> str:
    if named and named != default:
        raise PayloadError(where, f"unknown model {named!r} (this receiver serves {default!r})")
    return default


def _generic(body: Any, model: str) -> list[AlertEvent]:
    alert = _parse(GenericAlert, body)
    details = {
        k: v for k in ("metric", "value", "threshold") if (v := getattr(alert, k)) is not None
    }
    return [
        AlertEvent(
            model=_model(alert.model, model, "model"),
            source="generic",
            alert_id=alert.alert_id,
            reason=alert.reason,
            status=alert.status,
            kind=alert.kind,
            details={**details, **alert.details},
        )
    ]


def _grafana(body: Any, model: str) -> list[AlertEvent]:
    alert = _parse(GrafanaAlert, body)
    events = []
    for index, item in enumerate(alert.alerts):
        named = item.labels.get("model")
        target = _model(named, model, f"alerts.{index}.labels.model")
        if item.status != "firing":
            continue
        reason = (
            item.annotations.get("summary")
            or item.annotations.get("description")
            or item.labels.get("alertname")
            or alert.title
            or "grafana alert"
        )
        events.append(
            AlertEvent(
                model=target,
                source="grafana",
                alert_id=f"{item.fingerprint}@{item.startsAt}"
                if item.startsAt
                else item.fingerprint,
                reason=reason,
                status="firing",
                details={"labels": item.labels},
            )
        )
    return events


def _monitor(body: Any, model: str) -> list[AlertEvent]:
    alert = _parse(MonitorAlert, body)
    alert_id = alert.alert_id or alert.id
    if not alert_id:
        raise PayloadError("alert_id", "field required (or id)")
    if alert.status.lower() not in ("triggered", "firing", "active", "open"):
        return []
    details = {
        k: v for k in ("metric", "value", "threshold") if (v := getattr(alert, k)) is not None
    }
    reason = alert.message or f"{alert.monitor}: {alert.metric or 'monitor'} triggered"
    return [
        AlertEvent(
            model=_model(alert.model or alert.model_id, model, "model"),
            source="monitor",
            alert_id=alert_id,
            reason=reason,
            details={"monitor": alert.monitor, **details},
        )
    ]


MAPPINGS: dict[str, Callable[[Any, str], list[AlertEvent]]] = {
    "generic": _generic,
    "grafana": _grafana,
    "monitor": _monitor,
}
"""Route (source) → how its payload becomes alert events."""


def alerts_from(source: str, body: Any, model: str) -> list[AlertEvent]:
    """The alert events of a payload sent to ``/hooks/<source>`` for ``model``.

    Raises:
        PayloadError: Unknown source, or a payload that does not fit it (names the field).
    """
    if source not in MAPPINGS:
        raise PayloadError("source", f"unknown source {source!r}; known: {', '.join(MAPPINGS)}")
    return MAPPINGS[source](body, model)
