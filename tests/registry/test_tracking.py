from pathlib import Path

import mlflow
import yaml

from retrainer.config.starter import STARTER_CONFIG
from retrainer.project import Project
from retrainer.registry.tracking import configure_mlflow, resolve_tracking


def _project(root: Path) -> Project:
    root.mkdir(parents=True, exist_ok=True)
    (root / "retrainer.yaml").write_text(STARTER_CONFIG)
    return Project.load(root / "retrainer.yaml")


def test_embedded_store_lives_in_the_state_dir_and_nothing_lands_in_the_cwd(tmp_path, monkeypatch):
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    project = _project(tmp_path / "a")

    setup = configure_mlflow(project)
    mlflow.MlflowClient().search_experiments()

    assert setup.embedded
    assert setup.tracking_uri == f"sqlite:///{tmp_path / 'a' / '.retrainer' / 'mlflow.db'}"
    assert (tmp_path / "a" / ".retrainer" / "mlflow.db").is_file()
    assert not (cwd / "mlflow.db").exists()
    assert setup.artifact_location == (tmp_path / "a" / ".retrainer" / "artifacts").as_uri()


def test_a_second_project_in_the_same_process_gets_its_own_store(tmp_path):
    # MLflow exports MLFLOW_TRACKING_URI when a URI is set; that must not leak across projects
    first = configure_mlflow(_project(tmp_path / "a"))
    second = configure_mlflow(_project(tmp_path / "b"))

    assert first.tracking_uri != second.tracking_uri
    assert "/b/.retrainer/" in second.tracking_uri


def test_user_environment_wins_over_the_embedded_default(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow.internal:5000")

    setup = resolve_tracking(_project(tmp_path / "a"))

    assert setup.tracking_uri == "http://mlflow.internal:5000"
    assert not setup.embedded


def test_config_uri_is_used_when_the_environment_is_silent(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    root = tmp_path / "c"
    root.mkdir()
    config = yaml.safe_load(STARTER_CONFIG)
    config["mlflow"] = {"tracking_uri": "http://tracking:5000"}
    (root / "retrainer.yaml").write_text(yaml.safe_dump(config))

    assert (
        resolve_tracking(Project.load(root / "retrainer.yaml")).tracking_uri
        == "http://tracking:5000"
    )


def test_a_user_tracking_uri_is_honoured_by_every_configure_call(tmp_path, monkeypatch):
    # given a user who points MLflow at their own store (e.g. a remote server)
    user_store = f"sqlite:///{tmp_path / 'server' / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", user_store)
    project = _project(tmp_path / "a")

    # when the process configures MLflow twice (the train flow, then its gate subflow)
    first = configure_mlflow(project)
    second = configure_mlflow(project)

    # then both calls use the user's store, not the embedded one
    assert first.tracking_uri == user_store
    assert second.tracking_uri == user_store
    assert second.registry_uri == user_store
    assert not second.embedded
    assert mlflow.get_tracking_uri() == user_store
    assert not (tmp_path / "a" / ".retrainer" / "mlflow.db").exists()


def test_resolving_the_store_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    # given a project that never ran
    project = _project(tmp_path / "fresh")

    # when its store is only resolved (as `retrainer ui --print` does)
    setup = resolve_tracking(project)

    # then it points into the state dir, which is not created until MLflow is configured
    assert setup.embedded
    assert setup.tracking_uri.endswith("/fresh/.retrainer/mlflow.db")
    assert not (tmp_path / "fresh" / ".retrainer").exists()


def test_an_earlier_project_store_restored_in_the_environment_is_not_taken_for_the_users(
    tmp_path, monkeypatch
):
    # given two projects configured one after the other in one process
    first = configure_mlflow(_project(tmp_path / "a"))
    configure_mlflow(_project(tmp_path / "b"))
    # and the environment put back to what the first one exported (a harness, a worker)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", first.tracking_uri)
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", first.registry_uri)

    # when a third project is configured
    third = configure_mlflow(_project(tmp_path / "c"))

    # then it gets its own store for tracking and registry alike
    assert "/c/.retrainer/" in third.tracking_uri
    assert third.registry_uri == third.tracking_uri
