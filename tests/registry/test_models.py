from concurrent.futures import ThreadPoolExecutor

import mlflow
import numpy as np
import pytest
from sklearn.dummy import DummyClassifier

from retrainer.registry.models import (
    CHALLENGER,
    CHAMPION,
    PREVIOUS_CHAMPION,
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
    return ModelRegistry("m", lock_dir=tmp_path / "locks")


def test_promote_keeps_the_previous_champion_one_step_away(registry):
    registry.set_alias(CHALLENGER, "2")

    assert registry.promote("1") is None
    previous = registry.promote("2", reason="gate passed", actor="gate")

    assert previous == "1"
    assert registry.aliases() == {CHAMPION: "2", PREVIOUS_CHAMPION: "1"}
    tags = registry.get_version("2").tags
    assert tags["retrainer.promoted_by"] == "gate"
    assert tags["retrainer.replaced_version"] == "1"
    assert registry.get_version("1").tags["retrainer.status"] == "previous_champion"


def test_concurrent_promotions_never_leave_champion_equal_to_previous(registry):
    registry.promote("1")

    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(lambda v: registry.promote(v), ["2", "3", "4", "2", "3", "4"]))

    aliases = registry.aliases()
    assert aliases[CHAMPION] in {"2", "3", "4"}
    assert aliases[PREVIOUS_CHAMPION] != aliases[CHAMPION]


def test_first_alias_creation_races_are_serialised(registry):
    versions = ["1", "2", "3", "4", "1", "2"]
    with ThreadPoolExecutor(max_workers=6) as pool:
        created = list(pool.map(lambda v: registry.set_alias_if_absent(CHAMPION, v), versions))

    assert created.count(True) == 1
    assert registry.aliases()[CHAMPION] == versions[created.index(True)]


def test_unknown_version_is_named(registry):
    with pytest.raises(RegistryError, match="has no version 99"):
        registry.promote("99")


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
    raced = ModelRegistry(
        "m", lock_dir=tmp_path / "locks", client=_ConcurrentWriterClient(other_version="3")
    )

    # when the challenger alias is pointed at version 2
    with pytest.raises(RegistryError, match="did not move to version 2"):
        raced.set_alias(CHALLENGER, "2")

    # then the caller learns it; the write itself had succeeded, only the read-back disagreed
    assert registry.aliases()[CHALLENGER] == "2"
