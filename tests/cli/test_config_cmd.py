import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from retrainer.cli import app
from retrainer.config.starter import STARTER_CONFIG
from retrainer.data import LocalStorage, PartitionedTable

runner = CliRunner()


def _write_project(root: Path, config: dict) -> Path:
    path = root / "retrainer.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _write_data(root: Path, drop: str | None = None) -> None:
    config = yaml.safe_load(STARTER_CONFIG)
    cols = config["columns"]
    n = 4
    frame = pd.DataFrame({c: [1.0] * n for c in cols["numeric"]})
    for c in cols["categorical"]:
        frame[c] = ["a"] * n
    frame[cols["id"]] = [f"id{i}" for i in range(n)]
    frame[cols["timestamp"]] = pd.Timestamp("2026-01-01 10:00", tz="UTC")
    if drop:
        frame = frame.drop(columns=[drop])
    PartitionedTable(LocalStorage(root / "data"), "features").write(frame, cols["timestamp"])
    labels = pd.DataFrame(
        {
            cols["id"]: frame[cols["id"]],
            cols["label_timestamp"]: pd.Timestamp("2026-01-05", tz="UTC"),
            cols["target"]: [0, 1, 0, 1],
        }
    )
    PartitionedTable(LocalStorage(root / "data"), "labels").write(labels, cols["label_timestamp"])


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*")}


def test_check_prints_the_resolved_config_for_a_valid_project(tmp_path):
    _write_project(tmp_path, yaml.safe_load(STARTER_CONFIG))
    _write_data(tmp_path)

    result = runner.invoke(
        app, ["config", "check", "-c", str(tmp_path / "retrainer.yaml"), "--json"]
    )

    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["valid"] is True
    assert document["config"]["model"]["name"] == "credit-default"
    assert document["config"]["gates"]["holdout"]["days"] == 7


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda c: c["model"].update(colour="red"), "model.colour: unknown key"),
        (lambda c: c["training"].update(max_rows="many"), "training.max_rows:"),
        (lambda c: c["columns"].pop("target"), "columns.target: missing required key"),
        (
            lambda c: c["estimator"].update(class_path="sklearn.nope.Model"),
            "estimator.class_path: cannot import module 'sklearn.nope'",
        ),
        (
            lambda c: c["training"]["window"].update(days="many"),
            "training.window.days: Input should be a valid integer",
        ),
    ],
    ids=["unknown-key", "wrong-type", "missing-target", "estimator-import", "inside-a-kind"],
)
def test_broken_configs_exit_2_with_one_line_naming_the_field(tmp_path, mutate, expected):
    config = yaml.safe_load(STARTER_CONFIG)
    mutate(config)
    _write_project(tmp_path, config)
    before = _files(tmp_path)

    result = runner.invoke(app, ["config", "check", "-c", str(tmp_path / "retrainer.yaml")])

    assert result.exit_code == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert expected in lines[0]
    assert _files(tmp_path) == before  # nothing else written


def test_feature_absent_from_the_data_is_named(tmp_path):
    _write_project(tmp_path, yaml.safe_load(STARTER_CONFIG))
    _write_data(tmp_path, drop="credit_score")
    before = _files(tmp_path)

    result = runner.invoke(app, ["config", "check", "-c", str(tmp_path / "retrainer.yaml")])

    assert result.exit_code == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert "columns.numeric[4]: column 'credit_score' not found in the features data" in lines[0]
    assert _files(tmp_path) == before


def test_commands_find_the_config_from_a_subdirectory(tmp_path, monkeypatch):
    _write_project(tmp_path, yaml.safe_load(STARTER_CONFIG))
    sub = tmp_path / "notebooks" / "deep"
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)

    result = runner.invoke(app, ["config", "check", "--offline", "--json"])

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["config_path"] == str(tmp_path / "retrainer.yaml")


def test_no_config_anywhere_is_a_usage_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    result = runner.invoke(app, ["config", "check"])

    assert result.exit_code == 2
    assert "no retrainer.yaml" in result.stderr


def test_init_writes_a_valid_commented_starter_and_refuses_to_overwrite(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    first = runner.invoke(app, ["init"])
    second = runner.invoke(app, ["init"])

    assert first.exit_code == 0
    text = (tmp_path / "retrainer.yaml").read_text()
    assert text.startswith("# retrainer.yaml")
    assert runner.invoke(app, ["config", "check", "--offline"]).exit_code == 0
    assert second.exit_code == 2


def test_check_json_on_a_broken_config_is_one_document_naming_each_field(tmp_path):
    # given a config whose estimator does not import
    config = yaml.safe_load(STARTER_CONFIG)
    config["estimator"]["class_path"] = "sklearn.nope.Model"
    _write_project(tmp_path, config)

    # when checked with --json
    result = runner.invoke(
        app, ["config", "check", "-c", str(tmp_path / "retrainer.yaml"), "--json"]
    )

    # then stdout holds one document with the field path and the bad value; stderr the line
    assert result.exit_code == 2
    document = json.loads(result.stdout)
    assert document["ok"] is False
    assert "estimator.class_path" in document["error"]
    (problem,) = document["problems"]
    assert problem["field"] == "estimator.class_path"
    assert "cannot import module 'sklearn.nope'" in problem["message"]
    assert "'sklearn.nope.Model'" in problem["message"]
    assert "estimator.class_path: cannot import module" in result.stderr


def test_check_json_without_any_config_is_one_document(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    result = runner.invoke(app, ["config", "check", "--json"])

    assert result.exit_code == 2
    document = json.loads(result.stdout)
    assert document["ok"] is False
    assert "no retrainer.yaml" in document["error"]


def test_check_json_reports_data_problems_with_their_field(tmp_path):
    _write_project(tmp_path, yaml.safe_load(STARTER_CONFIG))
    _write_data(tmp_path, drop="credit_score")

    result = runner.invoke(
        app, ["config", "check", "-c", str(tmp_path / "retrainer.yaml"), "--json"]
    )

    assert result.exit_code == 2
    document = json.loads(result.stdout)
    assert document["ok"] is False
    assert document["valid"] is False
    (problem,) = document["problems"]
    assert problem["field"] == "columns.numeric[4]"
    assert "'credit_score' not found in the features data" in problem["message"]


def test_the_policy_and_rollout_stages_are_valid_sections_without_warnings(tmp_path):
    # given a config that sets the policy and rollout stages (both read by their parts)
    data = yaml.safe_load(STARTER_CONFIG)
    data["data"]["source"] = str(tmp_path / "data")
    data["policy"] = {"triggers": [{"kind": "drift"}]}
    data["promotion"] = {"stages": [{"kind": "shadow"}], "auto_promote": True}
    path = _write_project(tmp_path, data)

    result = runner.invoke(app, ["config", "check", "-c", str(path), "--json"])

    # then it is valid, and nothing is called reserved any more
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["ok"] is True
    assert document["warnings"] == []
