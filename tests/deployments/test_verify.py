"""prefect.yaml against the server, as plain values: keys Prefect ignores, and differences."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from retrainer.deployments import verify
from retrainer.deployments.verify import (
    ObservedAutomation,
    ObservedDeployment,
    compare,
    compare_notifications,
    spec_findings,
)

PREFECT_YAML = Path(__file__).resolve().parents[2] / "prefect.yaml"


@pytest.fixture(scope="module")
def document() -> dict:
    return yaml.safe_load(PREFECT_YAML.read_text())


def _spec(document: dict, name: str) -> dict:
    return copy.deepcopy(next(d for d in document["deployments"] if d["name"] == name))


def _messages(findings) -> list[str]:
    return [str(f) for f in findings]


# --- keys Prefect would ignore -----------------------------------------------------------


def test_the_repositorys_prefect_yaml_has_no_key_prefect_ignores(document):
    assert spec_findings(document) == []


def test_a_typod_triggers_key_is_named_with_the_key_it_should_be(document):
    # given the continuous-training deployment with `trigger:` for `triggers:`
    broken = copy.deepcopy(document)
    ct = broken["deployments"][0]
    ct["trigger"] = ct.pop("triggers")

    # when the file is checked
    messages = _messages(spec_findings(broken))

    # then the finding names the deployment, the key and the likely intended key
    assert messages == [
        "deployment 'continuous-training': unknown key 'trigger' in the deployment (Prefect "
        "ignores it without a warning; did you mean 'triggers'?)"
    ]


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda d: d["deployments"][0]["triggers"][0].update(expects=["x"]), "triggers[0]"),
        (lambda d: d["deployments"][0]["schedules"][0].update(parameter={}), "schedules[0]"),
        (lambda d: d["deployments"][0]["work_pool"].update(job_variable={}), "work_pool"),
        (lambda d: d.update(deployment=[]), "top level"),
        (
            lambda d: d["deployments"][1]["concurrency_limit"].update(strategy="x"),
            "concurrency",
        ),
    ],
)
def test_an_unknown_key_is_named_wherever_it_is(document, edit, expected):
    broken = copy.deepcopy(document)
    # the anchors make work_pool one shared dict: copy it before editing
    broken["deployments"][0]["work_pool"] = dict(broken["deployments"][0]["work_pool"])
    edit(broken)

    messages = _messages(spec_findings(broken))

    assert len(messages) == 1, messages
    assert f"in {expected}" in messages[0]


def test_a_nested_trigger_is_checked_with_its_own_keys():
    compound = {
        "type": "compound",
        "require": "all",
        "triggers": [{"type": "event", "expect": ["a"], "parameters": {}}],
    }
    document = {"deployments": [{"name": "x", "entrypoint": "m:f", "triggers": [compound]}]}

    messages = _messages(spec_findings(document))

    # parameters belong to the deployment trigger, not to a trigger inside it
    assert messages == [
        "deployment 'x': unknown key 'parameters' in triggers[0].triggers[0] (Prefect ignores "
        "it without a warning)"
    ]


def test_a_file_without_deployments_or_names_is_refused():
    assert _messages(spec_findings({"name": "p"})) == ["prefect.yaml: has no `deployments` list"]
    messages = _messages(spec_findings({"deployments": [{"name": "a"}, {"name": "a"}]}))
    assert "prefect.yaml: deployments[0].entrypoint is missing" in messages
    assert "prefect.yaml: deployment name 'a' is used more than once" in messages


def test_the_known_keys_are_the_installed_prefects():
    from prefect.cli.deploy._models import (
        ConcurrencyLimitSpec,
        DeploymentConfig,
        PrefectYamlModel,
        RawScheduleConfig,
        WorkPoolConfig,
    )
    from prefect.events.schemas.automations import CompoundTrigger, EventTrigger, SequenceTrigger
    from prefect.events.schemas.deployment_triggers import DeploymentEventTrigger

    def keys(model) -> set[str]:
        return {field.alias or name for name, field in model.model_fields.items()}

    assert keys(PrefectYamlModel) == verify.TOP_LEVEL_KEYS
    assert keys(DeploymentConfig) == verify.DEPLOYMENT_KEYS
    assert keys(WorkPoolConfig) == verify.WORK_POOL_KEYS
    assert keys(ConcurrencyLimitSpec) == verify.CONCURRENCY_KEYS
    assert keys(RawScheduleConfig) == verify.SCHEDULE_KEYS
    assert keys(EventTrigger) == verify.TRIGGER_KEYS["event"]
    assert keys(CompoundTrigger) == verify.TRIGGER_KEYS["compound"]
    assert keys(SequenceTrigger) == verify.TRIGGER_KEYS["sequence"]
    assert keys(DeploymentEventTrigger) - keys(EventTrigger) == verify._ACTION_KEYS


def test_the_comparison_imports_no_prefect():
    probe = (
        "import sys, retrainer.deployments.verify;"
        "print([m for m in sys.modules if m.split('.')[0] == 'prefect'])"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.replace("'", '"')) == []


# --- the server against the file -----------------------------------------------------------


def _held(spec: dict, deployment_id: str = "d1") -> tuple[ObservedDeployment, list]:
    """What a server holds after a faithful deploy of ``spec`` (the shapes Prefect returns)."""
    limit = spec.get("concurrency_limit")
    deployment = ObservedDeployment(
        id=deployment_id,
        name=spec["name"],
        entrypoint=spec["entrypoint"],
        work_pool=spec["work_pool"]["name"],
        job_variables={},
        parameters=dict(spec.get("parameters") or {}),
        tags=list(spec.get("tags") or []),
        description=spec.get("description"),
        schedules=[
            {
                "cron": s["cron"],
                "timezone": s.get("timezone", "UTC"),
                "day_or": True,
                "active": s.get("active", True),
                "parameters": s.get("parameters", {}),
            }
            for s in spec.get("schedules", [])
        ],
        concurrency=dict(limit) if limit else None,
    )
    automations = [
        ObservedAutomation(
            id=f"a{i}",
            name=t["name"],
            enabled=True,
            trigger=verify.plain_trigger(
                {
                    "type": "event",
                    "match": t["match"],
                    "match_related": {},
                    "after": [],
                    "expect": t["expect"],
                    "for_each": t.get("for_each", []),
                    "posture": "Reactive",
                    "threshold": 1,
                    "within": float(t.get("within", 0)),
                }
            ),
            actions=[
                {
                    "type": "run-deployment",
                    "source": "selected",
                    "deployment_id": deployment_id,
                    "parameters": copy.deepcopy(t["parameters"]),
                    "job_variables": None,
                    "schedule_after": 0.0,
                }
            ],
        )
        for i, t in enumerate(spec.get("triggers", []))
    ]
    return deployment, automations


def test_a_faithful_deploy_has_no_finding_and_is_counted(document):
    spec = _spec(document, "continuous-training")
    deployment, automations = _held(spec)

    result = compare([spec], [deployment], automations)

    assert result.findings == []
    assert (result.schedules, result.automations) == (1, 4)
    assert result.deployments[0].active_schedules == 1


def test_a_missing_deployment_and_a_missing_automation_are_named(document):
    ct, train = _spec(document, "continuous-training"), _spec(document, "train")
    deployment, automations = _held(ct)

    result = compare([ct, train], [deployment], automations[1:])

    assert _messages(result.findings) == [
        "trigger 'continuous-training-on-drift' of deployment 'continuous-training': has no "
        "automation on the server",
        "deployment 'train': is not on the server",
    ]


def test_trigger_parameters_that_lost_their_templates_are_a_finding(document):
    # given a server whose automation kept no parameters (Prefect 3.6.3's regression #19501)
    spec = _spec(document, "continuous-training")
    deployment, automations = _held(spec)
    automations[2].actions[0]["parameters"] = {}

    messages = _messages(compare([spec], [deployment], automations).findings)

    assert len(messages) == 1
    assert messages[0].startswith(
        "trigger 'continuous-training-on-alert' of deployment 'continuous-training': "
        "parameters is {} on the server, prefect.yaml says {'reason': 'webhook'"
    )


def test_an_automation_of_the_same_name_for_another_deployment_does_not_count(document):
    spec = _spec(document, "continuous-training")
    deployment, automations = _held(spec)
    _, others = _held(spec, deployment_id="someone-elses")

    result = compare([spec], [deployment], automations[1:] + others[:1])

    assert "continuous-training-on-drift" in _messages(result.findings)[0]


def test_a_trigger_that_matches_other_events_is_a_finding(document):
    spec = _spec(document, "continuous-training")
    deployment, automations = _held(spec)
    automations[0].trigger["match"] = {"prefect.resource.id": "retrainer.model.*"}

    messages = _messages(compare([spec], [deployment], automations).findings)

    assert len(messages) == 1
    assert "match is {'prefect.resource.id': 'retrainer.model.*'} on the server" in messages[0]


def test_schedule_differences_name_the_schedule_and_the_field(document):
    spec = _spec(document, "train")
    deployment, _ = _held(spec)
    deployment.schedules[0]["active"] = True  # someone switched the baseline on in the UI
    deployment.schedules.append(
        {"interval": 3600.0, "timezone": "UTC", "active": True, "parameters": {}}
    )

    messages = _messages(compare([spec], [deployment], []).findings)

    assert messages == [
        "deployment 'train': schedule cron '0 3 * * 0': active is True on the server, "
        "prefect.yaml says False",
        "deployment 'train': the server has schedule interval 3600.0 UTC, active, not in "
        "prefect.yaml",
    ]


def test_deployment_fields_are_compared(document):
    spec = _spec(document, "train")
    deployment, _ = _held(spec)
    changed = ObservedDeployment(
        **{
            **deployment.__dict__,
            "entrypoint": "flows.py:train",
            "work_pool": "default",
            "parameters": {},
            "concurrency": None,
        }
    )

    messages = _messages(compare([spec], [changed], []).findings)

    assert [m.split(" is ")[0] for m in messages] == [
        "deployment 'train': entrypoint",
        "deployment 'train': parameters",
        "deployment 'train': work_pool.name",
        "deployment 'train': concurrency_limit",
    ]


def test_notification_automations_are_compared_with_their_block():
    wanted = {
        "name": "n",
        "enabled": True,
        "trigger": {
            "type": "event",
            "match": {"prefect.resource.id": "retrainer.model.*"},
            "expect": ["retrainer.gate.failed"],
            "posture": "Reactive",
        },
        "actions": [
            {"type": "send-notification", "block_document_id": "b1", "subject": "s", "body": "b"}
        ],
    }
    held = ObservedAutomation(
        id="a",
        name="n",
        enabled=True,
        trigger=dict(wanted["trigger"]),
        actions=[{**wanted["actions"][0], "block_document_id": "b2"}],
    )

    assert compare_notifications([wanted], []) == [
        verify.Finding("notification 'n'", "has no automation on the server")
    ]
    assert _messages(compare_notifications([wanted], [held])) == [
        "notification 'n': block_document_id is 'b2' on the server, expected 'b1'"
    ]
