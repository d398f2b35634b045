"""Notifications: Prefect automations that send Retrainer's events to people.

The automations are data (``notifications.yaml`` next to this module): which event, and the
subject and body templates. :func:`install_notifications` creates them on a Prefect server,
or updates them in place by name, with a notification block (``custom-webhook/ops``,
``slack-webhook/ml-team``, ``sendgrid-email/team``) as their ``send-notification`` action;
``retrainer deploy --notify SLUG/NAME`` calls it. Loading and building the automations is
plain Python; only the functions that talk to the server import Prefect.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

if TYPE_CHECKING:
    from uuid import UUID

    from prefect.client.orchestration import SyncPrefectClient

NOTIFICATIONS_FILE = "notifications.yaml"
MODEL_RESOURCES = {"prefect.resource.id": "retrainer.model.*"}
_BLOCK_REF = re.compile(r"^(?P<slug>[a-z0-9][a-z0-9-]*)/(?P<name>[A-Za-z0-9][A-Za-z0-9_.-]*)$")


class NotificationError(ValueError):
    """Notifications that cannot be installed (the message says which file, block or field)."""


class Notification(BaseModel):
    """One notification automation (an entry of ``notifications.yaml``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, description="The automation's name (its identity).")
    event: str = Field(pattern=r"^retrainer\.[a-z_]+\.[a-z_]+$")
    description: str = ""
    subject: str = Field(min_length=1, description="Subject template (Jinja).")
    body: str = Field(min_length=1, description="Body template (Jinja).")

    def automation(self, block_document_id: str) -> dict[str, Any]:
        """The automation (Prefect's ``AutomationCore`` fields) sending to a block."""
        return {
            "name": self.name,
            "description": self.description,
            "enabled": True,
            "trigger": {
                "type": "event",
                "match": dict(MODEL_RESOURCES),
                "expect": [self.event],
                "posture": "Reactive",
                "threshold": 1,
                "within": 0,
            },
            "actions": [
                {
                    "type": "send-notification",
                    "block_document_id": str(block_document_id),
                    "subject": self.subject,
                    "body": self.body,
                }
            ],
        }


class _Catalog(BaseModel):
    model_config = ConfigDict(extra="forbid")

    notifications: list[Notification] = Field(min_length=1)


def notifications(text: str | None = None) -> list[Notification]:
    """The notifications of ``notifications.yaml`` (or of ``text``).

    Raises:
        NotificationError: The file does not parse or an entry is invalid (names the field).
    """
    if text is None:
        text = (resources.files("retrainer.deployments") / NOTIFICATIONS_FILE).read_text("utf-8")
    try:
        catalog = _Catalog.model_validate(yaml.safe_load(text))
    except yaml.YAMLError as exc:
        raise NotificationError(f"{NOTIFICATIONS_FILE}: {exc}") from exc
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}" for error in exc.errors()
        )
        raise NotificationError(f"{NOTIFICATIONS_FILE}: {problems}") from exc
    names = [n.name for n in catalog.notifications]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise NotificationError(f"{NOTIFICATIONS_FILE}: name {repeated[0]!r} is used twice")
    return catalog.notifications


def parse_block_ref(ref: str) -> tuple[str, str]:
    """``custom-webhook/ops`` → ``("custom-webhook", "ops")``.

    Raises:
        NotificationError: Not ``BLOCK_TYPE_SLUG/BLOCK_NAME``.
    """
    match = _BLOCK_REF.match(ref.strip())
    if not match:
        raise NotificationError(
            f"--notify {ref!r}: expected BLOCK_TYPE_SLUG/BLOCK_NAME, e.g. custom-webhook/ops or "
            "slack-webhook/ml-team"
        )
    return match["slug"], match["name"]


@dataclass(frozen=True)
class Installed:
    """One notification automation after :func:`install_notifications`."""

    name: str
    id: str
    action: str  # created / updated

    def to_dict(self) -> dict[str, str]:
        """A JSON-able dict."""
        return {"name": self.name, "id": self.id, "action": self.action}


def notification_block_id(client: SyncPrefectClient, ref: str) -> UUID:
    """The id of the notification block ``SLUG/NAME`` on the server.

    Raises:
        NotificationError: No such block, or a block that cannot send notifications.
    """
    from prefect.exceptions import ObjectNotFound

    slug, name = parse_block_ref(ref)
    try:
        document = client.read_block_document_by_name(name=name, block_type_slug=slug)
    except ObjectNotFound:
        raise NotificationError(
            f"--notify {ref}: no block {name!r} of type {slug!r} on the server "
            "(docs/deployments.md shows how to create one)"
        ) from None
    capabilities = document.block_schema.capabilities if document.block_schema else []
    if "notify" not in capabilities:
        raise NotificationError(f"--notify {ref}: a {slug} block cannot send notifications")
    return document.id


def install_notifications(
    client: SyncPrefectClient, block_document_id: UUID, entries: list[Notification] | None = None
) -> list[Installed]:
    """Create each notification automation, or update the one of the same name in place.

    Extra automations of the same name (made by hand) are deleted, so the name stays the
    automation's identity.
    """
    from prefect.events.schemas.automations import AutomationCore

    installed = []
    for entry in entries if entries is not None else notifications():
        automation = AutomationCore.model_validate(entry.automation(str(block_document_id)))
        existing = client.read_automations_by_name(entry.name)
        if existing:
            keep, *extra = existing
            client.update_automation(keep.id, automation)
            for duplicate in extra:
                client.delete_automation(duplicate.id)
            installed.append(Installed(entry.name, str(keep.id), "updated"))
        else:
            new_id = client.create_automation(automation)
            installed.append(Installed(entry.name, str(new_id), "created"))
    return installed
