"""`retrainer approve` outside a paused gate run: the decision is recorded and announced."""

from __future__ import annotations

import mlflow
import numpy as np
import pytest
from sklearn.dummy import DummyClassifier
from support import read_event

from retrainer.config.starter import STARTER_CONFIG
from retrainer.project import Project
from retrainer.registry.models import CHAMPION, ModelRegistry
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
    registry = ModelRegistry(project.model_name, lock_dir=project.state_dir / "locks")
    registry.set_tags(version, {"retrainer.gate": "awaiting_approval"})
    return project, version


def test_approving_a_waiting_version_promotes_it_and_emits_model_promoted(waiting_version):
    from retrainer.tasks.approval import approve_version

    project, version = waiting_version

    # when a reviewer approves the version (no paused run to resume: a local gate run)
    outcome = approve_version(project, version, "bob", True, "fine by me")

    # then it is champion, as after a gate promotion
    registry = ModelRegistry(project.model_name, lock_dir=project.state_dir / "locks")
    assert outcome["promoted"] is True
    assert registry.aliases()[CHAMPION] == version
    # and automations hear about it exactly as they do when the gate promotes
    event = read_event(outcome["promoted_event_id"])
    assert event.event == "retrainer.model.promoted"
    assert event.resource.id == f"retrainer.model.{project.model_name}"
    assert event.payload["version"] == version
    assert event.payload["previous_version"] is None
    assert event.payload["by"] == "bob"
