from pathlib import Path

import pytest
import yaml

from retrainer.config import ConfigError, load_config, parse_config
from retrainer.config.starter import STARTER_CONFIG

REPO_ROOT = Path(__file__).resolve().parents[2]


def _starter() -> dict:
    return yaml.safe_load(STARTER_CONFIG)


def _problems(data: dict) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(data, "retrainer.yaml")
    return info.value.lines()


def test_starter_and_demo_configs_are_valid():
    starter = parse_config(_starter())
    demo = load_config(REPO_ROOT / "retrainer.yaml")

    assert starter.model.name == "credit-default"
    assert demo.columns.segments == ["region", "channel"]
    assert demo.estimator.class_path == "sklearn.ensemble.HistGradientBoostingClassifier"


def test_unknown_key_is_named_with_its_path():
    data = _starter()
    data["columns"]["numerik"] = ["x"]

    assert _problems(data) == ["retrainer.yaml: columns.numerik: unknown key"]


def test_wrong_type_names_field_and_value():
    data = _starter()
    data["estimator"]["params"] = "fast"

    (line,) = _problems(data)
    assert line.startswith("retrainer.yaml: estimator.params:")
    assert "'fast'" in line


def test_missing_target_is_reported():
    data = _starter()
    del data["columns"]["target"]

    assert _problems(data) == ["retrainer.yaml: columns.target: missing required key"]


def test_estimator_that_does_not_import_is_named():
    # given a class path whose module has no such class
    data = _starter()
    data["estimator"]["class_path"] = "sklearn.ensemble.NoSuchForest"

    # when the config is loaded
    (line,) = _problems(data)

    # then the problem names the field and repeats what the user wrote
    assert line.startswith("retrainer.yaml: estimator.class_path: ")
    assert "module 'sklearn.ensemble' has no attribute 'NoSuchForest'" in line
    assert line.endswith("(got 'sklearn.ensemble.NoSuchForest')")


def test_estimator_module_that_does_not_import_is_named():
    data = _starter()
    data["estimator"]["class_path"] = "sklearn.nope.Model"

    (line,) = _problems(data)

    assert line.startswith("retrainer.yaml: estimator.class_path: cannot import module")
    assert "'sklearn.nope.Model'" in line


def test_bad_estimator_param_fails_before_any_work():
    data = _starter()
    data["estimator"]["params"] = {"max_iter": "lots"}

    (line,) = _problems(data)
    assert line.startswith("retrainer.yaml: estimator.params: rejected by ")
    assert "max_iter" in line


def test_field_inside_a_kind_is_named_as_written_without_the_kind():
    # given a typo inside a discriminated union (training.window is `kind: fixed`)
    data = _starter()
    data["training"]["window"] = {"kind": "fixed", "days": "thirty"}

    # when loaded, then the path is the one in the file: no `fixed` inserted into it
    (line,) = _problems(data)
    assert line.startswith("retrainer.yaml: training.window.days: ")
    assert "(got 'thirty')" in line


def test_unknown_key_in_a_list_of_kinds_is_named_with_its_index():
    data = _starter()
    data["promotion"] = {"stages": [{"kind": "shadow", "dayz": 3}]}

    assert _problems(data) == ["retrainer.yaml: promotion.stages[0].dayz: unknown key"]


def test_unknown_kind_names_the_kind_field_and_the_choices():
    data = _starter()
    data["training"]["window"] = {"kind": "fixd", "days": 3}

    (line,) = _problems(data)
    assert line.startswith("retrainer.yaml: training.window.kind: unknown kind; expected one of")
    assert "'fixed'" in line
    assert line.endswith("(got 'fixd')")


def test_regressor_for_a_classification_task_is_rejected():
    data = _starter()
    data["estimator"] = {"class_path": "sklearn.linear_model.Ridge"}

    (line,) = _problems(data)
    assert line == (
        "retrainer.yaml: estimator.class_path: sklearn.linear_model.Ridge is a regressor but "
        "model.task is 'binary'"
    )


def test_every_problem_is_reported_not_just_the_first():
    data = _starter()
    data["model"]["task"] = "ranking"
    data["columns"]["idd"] = "x"

    lines = _problems(data)
    assert any(line.startswith("retrainer.yaml: model.task:") for line in lines)
    assert "retrainer.yaml: columns.idd: unknown key" in lines


def test_feature_listed_twice_and_target_as_feature_are_rejected():
    data = _starter()
    data["columns"]["categorical"].append("income")
    assert any("listed twice" in line for line in _problems(data))

    data = _starter()
    data["columns"]["numeric"].append("defaulted")
    assert any("target column" in line or "cannot be a feature" in line for line in _problems(data))


def test_invalid_yaml_reports_line(tmp_path):
    path = tmp_path / "retrainer.yaml"
    path.write_text("model:\n  name: [unclosed\n")

    with pytest.raises(ConfigError, match="line"):
        load_config(path)


def test_environment_variables_are_expanded(monkeypatch):
    monkeypatch.setenv("RETRAINER_TEST_SOURCE", "s3://bucket/stream")
    data = _starter()
    data["data"]["source"] = "${RETRAINER_TEST_SOURCE}"

    assert parse_config(data).data.source == "s3://bucket/stream"


def test_fingerprint_is_stable_and_changes_with_the_config():
    a, b = parse_config(_starter()), parse_config(_starter())
    data = _starter()
    data["estimator"]["params"]["max_iter"] = 10

    assert a.fingerprint() == b.fingerprint()
    assert parse_config(data).fingerprint() != a.fingerprint()
