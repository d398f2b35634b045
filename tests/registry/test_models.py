import mlflow
import numpy as np
import pytest
from sklearn.dummy import DummyClassifier

from retrainer.registry.models import (
    CHALLENGER,
    ModelRegistry,
    RegistryError,
)


@pytest.fixture
def registry(tmp_path, monkeypatch) -> ModelRegistry:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    # mlflow exports these; monkeypatch restores them for the next test
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", uri)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    experiment = mlflow.create_experiment("m", artifact_location=(tmp_path / "art").as_uri())
    model = DummyClassifier().fit(np.zeros((4, 1)), [0, 1, 0, 1])
    for _ in range(4):
        with mlflow.start_run(experiment_id=experiment):
            mlflow.sklearn.log_model(
                model, name="model", registered_model_name="m", pip_requirements=["scikit-learn"]
            )
    return ModelRegistry("m")


def test_an_alias_points_at_its_version_and_can_be_removed(registry):
    registry.set_alias(CHALLENGER, "2")
    registry.set_alias(CHALLENGER, "3")

    assert registry.aliases() == {CHALLENGER: "3"}
    assert str(registry.version_by_alias(CHALLENGER).version) == "3"
    registry.delete_alias(CHALLENGER)
    registry.delete_alias(CHALLENGER)  # removing a missing alias is not an error
    assert registry.aliases() == {}


def test_unknown_version_is_named(registry):
    with pytest.raises(RegistryError, match="has no version 99"):
        registry.get_version("99")


class _ConcurrentWriterClient(mlflow.MlflowClient):
    """A real MlflowClient whose alias reads see another writer's version.

    It simulates a concurrent writer (another process, or a registry server without our lock)
    that moves the alias between our write and our read-back.
    """

    def __init__(self, other_version: str, **kwargs):
        super().__init__(**kwargs)
        self.other_version = other_version

    def get_model_version_by_alias(self, name, alias):
        super().get_model_version_by_alias(name, alias)  # our write did land
        return self.get_model_version(name, self.other_version)


def test_an_alias_that_does_not_read_back_raises(registry, tmp_path):
    # given a registry where another writer moves every alias to version 3 right after us
    raced = ModelRegistry("m", client=_ConcurrentWriterClient(other_version="3"))

    # when the challenger alias is pointed at version 2
    with pytest.raises(RegistryError, match="did not move to version 2"):
        raced.set_alias(CHALLENGER, "2")

    # then the caller learns it; the write itself had succeeded, only the read-back disagreed
    assert registry.aliases()[CHALLENGER] == "2"
