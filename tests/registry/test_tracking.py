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
