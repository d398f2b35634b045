"""What ``prefect.yaml`` asks for against what a Prefect server holds (pure: no Prefect import).

``prefect deploy`` ignores keys it does not know, silently: a typo ``trigger:`` gives a
deployment without its automation and no warning, ``expects:`` an event trigger that matches
every event. :func:`spec_findings` names every key Prefect 3.8.8 would ignore (at the top
level, in a deployment, its work pool, concurrency limit, schedules and triggers), and
:func:`compare` reads the deployments and automations the server holds, as plain values
(:class:`ObservedDeployment`, :class:`ObservedAutomation`), against the file: entrypoint, work
pool, parameters, tags, schedules (cron, timezone, active, parameters), concurrency, and for
every trigger an automation with the same trigger and the templated parameters stored as
written. Each difference is a :class:`Finding`.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

# The keys prefect 3.8.8 reads (prefect.cli.deploy._models, prefect.events.schemas); a test
# compares them with the installed Prefect's models.
TOP_LEVEL_KEYS = frozenset({"name", "prefect-version", "build", "push", "pull", "deployments"})
ANCHOR_KEYS = frozenset({"definitions"})
"""Top-level keys Prefect ignores on purpose: a place for YAML anchors."""
DEPLOYMENT_KEYS = frozenset(
    {
        "name",
        "version",
        "version_type",
        "tags",
        "description",
        "schedule",
        "schedules",
        "paused",
        "concurrency_limit",
        "flow_name",
        "entrypoint",
        "parameters",
        "enforce_parameter_schema",
        "build",
        "push",
        "pull",
        "work_pool",
        "triggers",
        "sla",
    }
)
WORK_POOL_KEYS = frozenset({"name", "work_queue_name", "job_variables"})
CONCURRENCY_KEYS = frozenset({"limit", "collision_strategy", "grace_period_seconds"})
SCHEDULE_KEYS = frozenset(
    {
        "cron",
        "interval",
        "rrule",
        "timezone",
        "anchor_date",
        "active",
        "parameters",
        "slug",
        "replaces",
        "day_or",
    }
)
_ACTION_KEYS = frozenset(
    {"name", "description", "enabled", "parameters", "job_variables", "schedule_after"}
)
"""Keys of a deployment trigger that become the automation and its run-deployment action."""
TRIGGER_KEYS = {
    "event": frozenset(
        {
            "type",
            "match",
            "match_related",
            "after",
            "expect",
            "for_each",
            "posture",
            "threshold",
            "within",
        }
    ),
    "compound": frozenset({"type", "require", "triggers", "within"}),
    "sequence": frozenset({"type", "triggers", "within"}),
    "metric": frozenset({"type", "match", "match_related", "metric", "posture"}),
}
"""Per trigger type, the keys of the trigger itself (nested triggers have only these)."""
_SET_VALUED = frozenset({"expect", "after", "for_each"})
DEFAULT_TIMEZONE = "UTC"
EXPECTED = "expected"


@dataclass(frozen=True)
class Finding:
    """One difference between ``prefect.yaml`` and the server (or a key Prefect ignores).

    Attributes:
        where: What it is about: ``prefect.yaml``, ``deployment 'train'``, ``trigger '...'``.
        message: What is wrong, naming the key or field.
    """

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"

    def to_dict(self) -> dict[str, str]:
        """A JSON-able dict."""
        return asdict(self)


@dataclass(frozen=True)
class ObservedDeployment:
    """A deployment as the server holds it (plain values read by the caller).

    Attributes:
        id: The deployment id.
        name: Its name (without the flow's).
        entrypoint: Its entrypoint.
        work_pool: Its work pool's name.
        work_queue: Its work queue's name.
        job_variables: Its job variables.
        parameters: Its default parameters.
        tags: Its tags.
        description: Its description.
        paused: Whether it is paused.
        schedules: ``{"cron"|"interval"|"rrule": ..., "timezone", "active", "parameters"}``.
        concurrency: ``{"limit", "collision_strategy"}``, or None without a limit.
    """

    id: str
    name: str
    entrypoint: str | None = None
    work_pool: str | None = None
    work_queue: str | None = None
    job_variables: dict[str, Any] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    description: str | None = None
    paused: bool = False
    schedules: list[dict[str, Any]] = field(default_factory=list)
    concurrency: dict[str, Any] | None = None


@dataclass(frozen=True)
class ObservedAutomation:
    """An automation as the server holds it (plain values: seconds, sorted lists).

    Attributes:
        id: The automation id.
        name: Its name.
        enabled: Whether it is enabled.
        description: Its description.
        trigger: Its trigger as a dict (``type``, ``match``, ``expect``, ``within`` ...).
        actions: Its actions as dicts (``type``, ``deployment_id``, ``parameters`` ...).
    """

    id: str
    name: str
    enabled: bool
    trigger: dict[str, Any]
    actions: list[dict[str, Any]]
    description: str = ""

    def runs(self, deployment_id: str) -> dict[str, Any] | None:
        """Its action that runs ``deployment_id``, if any."""
        for action in self.actions:
            wanted = action.get("type") == "run-deployment"
            if wanted and str(action.get("deployment_id")) == str(deployment_id):
                return action
        return None


@dataclass(frozen=True)
class DeploymentCheck:
    """What was checked for one deployment of ``prefect.yaml``."""

    name: str
    id: str | None
    schedules: int
    active_schedules: int
    automations: int

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return asdict(self)


@dataclass(frozen=True)
class Verification:
    """The outcome of :func:`compare`: what was checked and every finding."""

    deployments: list[DeploymentCheck]
    findings: list[Finding]

    @property
    def schedules(self) -> int:
        """Schedules found on the server for the file's deployments."""
        return sum(d.schedules for d in self.deployments)

    @property
    def automations(self) -> int:
        """Automations found on the server for the file's triggers."""
        return sum(d.automations for d in self.deployments)

    @property
    def ok(self) -> bool:
        """No finding."""
        return not self.findings


def spec_findings(document: Any, source: str = "prefect.yaml") -> list[Finding]:
    """Keys Prefect would ignore, and deployments it could not create.

    Args:
        document: ``prefect.yaml`` parsed (YAML anchors resolved).
        source: The file's name in the findings.

    Returns:
        One finding per unknown key (naming it and where it is), missing name or entrypoint,
        and repeated deployment or trigger name.
    """
    if not isinstance(document, dict):
        return [Finding(source, "is not a mapping of prefect.yaml keys")]
    findings = _unknown(document, TOP_LEVEL_KEYS | ANCHOR_KEYS, source, "top level")
    deployments = document.get("deployments")
    if not isinstance(deployments, list) or not deployments:
        return [*findings, Finding(source, "has no `deployments` list")]
    names: list[str] = []
    for index, spec in enumerate(deployments):
        where = f"deployments[{index}]"
        if not isinstance(spec, dict):
            findings.append(Finding(source, f"{where} is not a mapping"))
            continue
        for key in ("name", "entrypoint"):
            if not spec.get(key):
                findings.append(Finding(source, f"{where}.{key} is missing"))
        if spec.get("name"):
            names.append(str(spec["name"]))
        label = f"deployment {spec.get('name') or index!r}"
        findings += _deployment_key_findings(spec, label)
    for name in sorted({n for n in names if names.count(n) > 1}):
        findings.append(Finding(source, f"deployment name {name!r} is used more than once"))
    return findings


def _unknown(mapping: dict[str, Any], known: Iterable[str], where: str, part: str) -> list[Finding]:
    known = sorted(known)
    findings = []
    for key in mapping:
        if key in known:
            continue
        close = difflib.get_close_matches(str(key), known, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        message = f"unknown key {key!r} in {part} (Prefect ignores it without a warning{hint})"
        findings.append(Finding(where, message))
    return findings


def _deployment_key_findings(spec: dict[str, Any], label: str) -> list[Finding]:
    findings = _unknown(spec, DEPLOYMENT_KEYS, label, "the deployment")
    if isinstance(spec.get("work_pool"), dict):
        findings += _unknown(spec["work_pool"], WORK_POOL_KEYS, label, "work_pool")
    if isinstance(spec.get("concurrency_limit"), dict):
        findings += _unknown(spec["concurrency_limit"], CONCURRENCY_KEYS, label, "concurrency")
    for index, schedule in enumerate(_listed(spec.get("schedules"))):
        if isinstance(schedule, dict):
            findings += _unknown(schedule, SCHEDULE_KEYS, label, f"schedules[{index}]")
    triggers = _listed(spec.get("triggers"))
    for index, trigger in enumerate(triggers):
        findings += _trigger_key_findings(trigger, label, f"triggers[{index}]", top=True)
    trigger_names = [n for n, _ in _named_triggers(spec)]
    for name in sorted({n for n in trigger_names if trigger_names.count(n) > 1}):
        findings.append(Finding(label, f"trigger name {name!r} is used more than once"))
    return findings


def _trigger_key_findings(trigger: Any, label: str, part: str, *, top: bool) -> list[Finding]:
    if not isinstance(trigger, dict):
        return [Finding(label, f"{part} is not a mapping")]
    kind = _trigger_type(trigger)
    if kind not in TRIGGER_KEYS:
        return [Finding(label, f"{part}.type {kind!r} is not one of {sorted(TRIGGER_KEYS)}")]
    known = TRIGGER_KEYS[kind] | (_ACTION_KEYS if top else frozenset())
    findings = _unknown(trigger, known, label, part)
    for index, child in enumerate(_listed(trigger.get("triggers"))):
        findings += _trigger_key_findings(child, label, f"{part}.triggers[{index}]", top=False)
    return findings


def _trigger_type(trigger: dict[str, Any]) -> str:
    """The trigger's type as Prefect infers it (explicit ``type``, else from its keys)."""
    if "type" in trigger:
        return str(trigger["type"])
    if trigger.get("posture") == "Metric":
        return "metric"
    if "triggers" in trigger:
        return "compound" if "require" in trigger else "sequence"
    return "event"


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _named_triggers(spec: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """``(automation name, trigger)``; an unnamed trigger gets Prefect's default name."""
    named = []
    for index, trigger in enumerate(_listed(spec.get("triggers")), start=1):
        if isinstance(trigger, dict):
            default = f"{spec.get('name')}__automation_{index}"
            named.append((str(trigger.get("name") or default), trigger))
    return named


def compare(
    specs: list[dict[str, Any]],
    deployments: list[ObservedDeployment],
    automations: list[ObservedAutomation],
) -> Verification:
    """Every deployment and trigger of ``prefect.yaml`` against the server's.

    Args:
        specs: The ``deployments`` entries of ``prefect.yaml`` (anchors resolved).
        deployments: The server's deployments (any; matched by name, then entrypoint).
        automations: The server's automations (any; matched by the deployment they run and
            their name).

    Returns:
        What was found per deployment, and every finding.
    """
    checks: list[DeploymentCheck] = []
    findings: list[Finding] = []
    for spec in specs:
        name = str(spec.get("name"))
        label = f"deployment {name!r}"
        observed = _match_deployment(spec, deployments)
        if observed is None:
            findings.append(Finding(label, "is not on the server"))
            checks.append(DeploymentCheck(name, None, 0, 0, 0))
            continue
        findings += _deployment_findings(spec, observed, label)
        findings += _schedule_findings(_listed(spec.get("schedules")), observed.schedules, label)
        found, trigger_findings = _trigger_findings(spec, observed, automations)
        findings += trigger_findings
        active = sum(1 for s in observed.schedules if s.get("active", True))
        checks.append(DeploymentCheck(name, observed.id, len(observed.schedules), active, found))
    return Verification(checks, findings)


def _match_deployment(
    spec: dict[str, Any], deployments: list[ObservedDeployment]
) -> ObservedDeployment | None:
    same_name = [d for d in deployments if d.name == spec.get("name")]
    for candidate in same_name:
        if candidate.entrypoint == spec.get("entrypoint"):
            return candidate
    return same_name[0] if same_name else None


def _differs(key: str, asked: Any, held: Any, source: str = "prefect.yaml says") -> str | None:
    if asked == held:
        return None
    return f"{key} is {held!r} on the server, {source} {asked!r}"


def _deployment_findings(
    spec: dict[str, Any], observed: ObservedDeployment, label: str
) -> list[Finding]:
    pool = spec.get("work_pool") if isinstance(spec.get("work_pool"), dict) else {}
    pairs = [
        ("entrypoint", spec.get("entrypoint"), observed.entrypoint),
        ("parameters", spec.get("parameters") or {}, observed.parameters),
        ("work_pool.name", pool.get("name"), observed.work_pool),
        ("work_pool.job_variables", pool.get("job_variables") or {}, observed.job_variables),
        ("concurrency_limit", _concurrency(spec.get("concurrency_limit")), observed.concurrency),
    ]
    if "work_queue_name" in pool:
        pairs.append(("work_pool.work_queue_name", pool["work_queue_name"], observed.work_queue))
    if "tags" in spec:
        pairs.append(("tags", sorted(spec.get("tags") or []), sorted(observed.tags)))
    if "description" in spec:
        pairs.append(("description", spec["description"], observed.description))
    if "paused" in spec:
        pairs.append(("paused", bool(spec["paused"]), observed.paused))
    messages = (_differs(key, asked, held) for key, asked, held in pairs)
    return [Finding(label, message) for message in messages if message]


def _concurrency(value: Any) -> dict[str, Any] | None:
    """A ``concurrency_limit`` as the server reports it (ENQUEUE is Prefect's default)."""
    if value is None:
        return None
    if isinstance(value, int):
        value = {"limit": value}
    if not isinstance(value, dict) or value.get("limit") is None:
        return None
    return {
        "limit": value["limit"],
        "collision_strategy": value.get("collision_strategy") or "ENQUEUE",
    }


def _schedule_key(schedule: dict[str, Any]) -> tuple[str, Any]:
    for kind in ("cron", "interval", "rrule"):
        if schedule.get(kind) is not None:
            return kind, schedule[kind]
    return "schedule", None


def normal_schedule(schedule: dict[str, Any]) -> dict[str, Any]:
    """A schedule as compared: its kind and value, timezone (UTC), active, parameters."""
    kind, value = _schedule_key(schedule)
    if kind == "interval" and isinstance(value, int | float):
        value = float(value)
    return {
        kind: value,
        "timezone": schedule.get("timezone") or DEFAULT_TIMEZONE,
        "active": bool(schedule.get("active", True)),
        "parameters": schedule.get("parameters") or {},
    }


def describe_schedule(schedule: dict[str, Any]) -> str:
    """``cron '0 3 * * *' UTC, active, parameters {...}``."""
    kind, value = _schedule_key(schedule)
    state = "active" if schedule.get("active", True) else "inactive"
    params = f", parameters {schedule['parameters']}" if schedule.get("parameters") else ""
    return f"{kind} {value!r} {schedule.get('timezone')}, {state}{params}"


def _schedule_findings(
    asked: list[dict[str, Any]], held: list[dict[str, Any]], label: str
) -> list[Finding]:
    wanted = [normal_schedule(s) for s in asked if isinstance(s, dict)]
    left = [normal_schedule(s) for s in held]
    findings = []
    for schedule in wanted:
        if schedule in left:
            left.remove(schedule)
            continue
        same_value = [s for s in left if _schedule_key(s) == _schedule_key(schedule)]
        if same_value:
            left.remove(same_value[0])
            differences = [
                _differs(key, schedule[key], same_value[0][key])
                for key in ("timezone", "active", "parameters")
            ]
            kind, value = _schedule_key(schedule)
            for message in filter(None, differences):
                findings.append(Finding(label, f"schedule {kind} {value!r}: {message}"))
            continue
        findings.append(
            Finding(label, f"schedule {describe_schedule(schedule)} is not on the server")
        )
    for schedule in left:
        findings.append(
            Finding(
                label, f"the server has schedule {describe_schedule(schedule)}, not in prefect.yaml"
            )
        )
    return findings


def _trigger_findings(
    spec: dict[str, Any], observed: ObservedDeployment, automations: list[ObservedAutomation]
) -> tuple[int, list[Finding]]:
    found = 0
    findings: list[Finding] = []
    for name, trigger in _named_triggers(spec):
        label = f"trigger {name!r} of deployment {spec.get('name')!r}"
        matching = [a for a in automations if a.name == name and a.runs(observed.id)]
        if not matching:
            findings.append(Finding(label, "has no automation on the server"))
            continue
        found += 1
        if len(matching) > 1:
            findings.append(Finding(label, f"{len(matching)} automations have this name"))
        findings += [
            Finding(label, m) for m in _automation_differences(trigger, matching[0], observed.id)
        ]
    return found, findings


def _automation_differences(
    trigger: dict[str, Any], automation: ObservedAutomation, deployment_id: str
) -> list[str]:
    action = automation.runs(deployment_id) or {}
    pairs = [
        ("enabled", bool(trigger.get("enabled", True)), automation.enabled),
        ("parameters", trigger.get("parameters"), action.get("parameters")),
    ]
    if "job_variables" in trigger:
        pairs.append(("job_variables", trigger["job_variables"], action.get("job_variables")))
    if "schedule_after" in trigger:
        pairs.append(("schedule_after", trigger["schedule_after"], action.get("schedule_after")))
    if "description" in trigger:
        pairs.append(("description", trigger["description"], automation.description))
    messages = [_differs(key, asked, held) for key, asked, held in pairs]
    messages += _trigger_differences(trigger, automation.trigger, "")
    return [m for m in messages if m]


def _trigger_differences(asked: dict[str, Any], held: dict[str, Any], prefix: str) -> list[str]:
    kind = _trigger_type(asked)
    messages = [_differs(f"{prefix}type", kind, held.get("type"))]
    for key in sorted(TRIGGER_KEYS.get(kind, frozenset()) - {"type", "triggers"}):
        if key in asked:
            messages.append(_differs(f"{prefix}{key}", _normal(key, asked[key]), held.get(key)))
    children = _listed(asked.get("triggers"))
    held_children = _listed(held.get("triggers"))
    if len(children) != len(held_children) and "triggers" in asked:
        messages.append(
            f"{prefix}triggers: {len(held_children)} on the server, {len(children)} asked"
        )
    for index, (child, held_child) in enumerate(zip(children, held_children, strict=False)):
        if isinstance(child, dict) and isinstance(held_child, dict):
            messages += _trigger_differences(child, held_child, f"{prefix}triggers[{index}].")
    return [m for m in messages if m]


def _normal(key: str, value: Any) -> Any:
    """A trigger value as the server reports it (sets as sorted lists, numbers as floats)."""
    if key in _SET_VALUED:
        return sorted(value) if isinstance(value, list | set | tuple) else [value]
    if key in ("within", "threshold") and isinstance(value, int | float):
        return float(value)
    return value


def plain_trigger(trigger: dict[str, Any]) -> dict[str, Any]:
    """A trigger dump made comparable: set-valued keys sorted, numbers as floats (recursive)."""
    out: dict[str, Any] = {}
    for key, value in trigger.items():
        if key == "triggers" and isinstance(value, list):
            out[key] = [plain_trigger(t) if isinstance(t, dict) else t for t in value]
        else:
            out[key] = _normal(key, value)
    return out


def compare_notifications(
    expected: list[dict[str, Any]], automations: list[ObservedAutomation]
) -> list[Finding]:
    """Each notification automation (``Notification.automation(...)``) against the server's.

    Args:
        expected: The automations as built (name, enabled, trigger, one send-notification
            action with its block, subject and body).
        automations: The server's automations of those names.

    Returns:
        A finding per missing automation and per field the server holds otherwise.
    """
    findings = []
    for wanted in expected:
        label = f"notification {wanted['name']!r}"
        held = [a for a in automations if a.name == wanted["name"]]
        if not held:
            findings.append(Finding(label, "has no automation on the server"))
            continue
        if len(held) > 1:
            findings.append(Finding(label, f"{len(held)} automations have this name"))
        automation = held[0]
        messages = [_differs("enabled", wanted["enabled"], automation.enabled, EXPECTED)]
        trigger = plain_trigger(wanted["trigger"])
        for key in ("type", "match", "expect", "posture"):
            held_value = automation.trigger.get(key)
            messages.append(_differs(f"trigger.{key}", trigger[key], held_value, EXPECTED))
        action, held_actions = wanted["actions"][0], automation.actions
        if len(held_actions) != 1:
            messages.append(f"has {len(held_actions)} actions, expected one send-notification")
        else:
            for key in ("type", "block_document_id", "subject", "body"):
                held_value = str_or_none(held_actions[0].get(key))
                messages.append(_differs(key, action[key], held_value, EXPECTED))
        findings += [Finding(label, m) for m in messages if m]
    return findings


def str_or_none(value: Any) -> Any:
    """Ids as text (the server's UUIDs against the ids asked for)."""
    return value if value is None or isinstance(value, str) else str(value)
