"""`retrainer train` refuses to start without data, and writes nothing then."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from retrainer.cli import app
from retrainer.config.starter import STARTER_CONFIG

runner = CliRunner()


def _files(root: Path) -> set[Path]:
    return set(root.rglob("*"))


@pytest.mark.parametrize("data_folder", ["missing", "empty"])
def test_train_without_data_exits_2_with_one_line_and_writes_nothing(tmp_path, data_folder):
    # given a project whose data folder is missing or empty
    config = tmp_path / "retrainer.yaml"
    config.write_text(STARTER_CONFIG)
    if data_folder == "empty":
        (tmp_path / "data").mkdir()
    before = _files(tmp_path)

    # when the user trains
    result = runner.invoke(app, ["train", "-c", str(config)])

    # then one line names the table and the folder, and the exit code is a usage error
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert "'features' has no partitions" in lines[0]
    assert str(tmp_path / "data") in lines[0]
    assert ("does not exist" in lines[0]) == (data_folder == "missing")
    # and no MLflow store or state directory appeared
    assert _files(tmp_path) == before
    assert not (tmp_path / ".retrainer").exists()


def test_train_without_labels_names_the_labels_table(tmp_path):
    from retrainer.simulate import simulate, write_simulation

    # given features but no label partition yet
    config = tmp_path / "retrainer.yaml"
    config.write_text(STARTER_CONFIG)
    write_simulation(simulate("stable", days=3, rows_per_day=20), tmp_path / "data")
    for partition in (tmp_path / "data" / "labels").glob("date=*"):
        for file in partition.iterdir():
            file.unlink()
        partition.rmdir()

    # when the user trains
    result = runner.invoke(app, ["train", "-c", str(config)])

    # then the problem is named and nothing was written
    assert result.exit_code == 2, result.output
    assert "'labels' has no partitions" in result.stderr
    assert not (tmp_path / ".retrainer").exists()


def test_train_json_error_is_one_document_on_stdout(tmp_path):
    config = tmp_path / "retrainer.yaml"
    config.write_text(STARTER_CONFIG)

    result = runner.invoke(app, ["train", "-c", str(config), "--json"])

    assert result.exit_code == 2
    document = json.loads(result.stdout)
    assert document["ok"] is False
    assert "'features' has no partitions" in document["error"]
    assert "'features' has no partitions" in result.stderr  # the human line stays on stderr


def test_train_json_with_a_broken_config_lists_the_problems(tmp_path):
    # given a config with a typo inside training.window (a discriminated union)
    config = tmp_path / "retrainer.yaml"
    config.write_text(STARTER_CONFIG.replace("    days: 60\n", "    dayz: 60\n", 1))
    assert "dayz: 60" in config.read_text()

    result = runner.invoke(app, ["train", "-c", str(config), "--json"])

    # then stdout holds the problems, each naming the field as written in the file
    assert result.exit_code == 2
    document = json.loads(result.stdout)
    assert document["ok"] is False
    assert document["problems"] == [{"field": "training.window.dayz", "message": "unknown key"}]
    assert "training.window.dayz: unknown key" in result.stderr
