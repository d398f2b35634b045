"""`retrainer approve` outside a paused gate run: the decision is recorded and announced."""

from __future__ import annotations

import mlflow
import numpy as np
import pytest
from sklearn.dummy import DummyClassifier
from support import read_event

from retrainer.config.starter import STARTER_CONFIG
from retrainer.project import Project
from retrainer.promotion import history
from retrainer.registry.champion import registry_for
from retrainer.registry.models import CHAMPION
from retrainer.registry.tracking import configure_mlflow

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_api")]


@pytest.fixture
def waiting_version(tmp_path, monkeypatch) -> tuple[Project, str]:
    """A project whose only version passed the automatic checks and waits for a reviewer."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    path = tmp_path / "retrainer.yaml"
    path.write_text(STARTER_CONFIG)
    project = Project.load(path)
    configure_mlflow(project)
    model = DummyClassifier().fit(np.zeros((4, 1)), [0, 1, 0, 1])
    with mlflow.start_run():
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            registered_model_name=project.model_name,
            pip_requirements=["scikit-learn"],
        )
    version = str(info.registered_model_version)
    registry = registry_for(project)
    registry.set_tags(version, {"retrainer.gate": "awaiting_approval"})
    return project, version


def test_approving_a_waiting_version_promotes_it_and_emits_model_promoted(waiting_version):
    from retrainer.tasks.approval import approve_version

    project, version = waiting_version

    # when a reviewer approves the version (no paused run to resume: a local gate run)
    outcome = approve_version(project, version, "bob", True, "fine by me")

    # then it is champion, as after a gate promotion
    registry = registry_for(project)
    assert outcome["promoted"] is True
    assert registry.aliases()[CHAMPION] == version
    # and automations hear about it exactly as they do when the gate promotes
    event = read_event(outcome["promoted_event_id"])
    assert event.event == "retrainer.model.promoted"
    assert event.resource.id == f"retrainer.model.{project.model_name}"
    assert event.payload["version"] == version
    assert event.payload["previous_version"] is None
    assert event.payload["by"] == "bob"
    # and the ledger holds the reviewer's decision and the promotion it led to, newest first
    records = history(project)
    assert [(r.action, r.by, r.to_version) for r in records] == [
        ("promote", "bob", version),
        ("approval", "bob", version),
    ]
    assert records[1].evidence["decision"] == "approved"
    assert records[0].reason == "approved by bob: fine by me"


def test_an_approval_judged_against_an_old_champion_promotes_nothing(waiting_version):
    from retrainer.promotion import promote
    from retrainer.tasks.approval import approve_version

    # given the waiting version was gated when there was no champion, and another version
    # has become champion since
    project, version = waiting_version
    model = DummyClassifier().fit(np.zeros((4, 1)), [0, 1, 0, 1])
    with mlflow.start_run():
        other = mlflow.sklearn.log_model(
            model,
            name="model",
            registered_model_name=project.model_name,
            pip_requirements=["scikit-learn"],
        ).registered_model_version
    registry_for(project).set_tags(version, {"retrainer.gate_champion": "none"})
    promote(project, other, expected_champion=None, by="alice", reason="hotfix")

    # when a reviewer approves it
    outcome = approve_version(project, version, "bob", True, "")

    # then the approval is recorded, but the champion stays the one promoted meanwhile
    assert outcome["promoted"] is False
    assert f"the champion is v{other} now" in outcome["promotion_conflict"]
    assert registry_for(project).aliases()[CHAMPION] == str(other)
    assert [r.action for r in history(project)] == ["approval", "promote"]
