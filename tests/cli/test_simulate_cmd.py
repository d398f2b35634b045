import json
from datetime import date

import pytest
from typer.testing import CliRunner

from retrainer.cli import app
from retrainer.data import PartitionedTable, open_storage
from retrainer.simulate import SCENARIOS, Schedule

runner = CliRunner()
SMALL = ["--days", "12", "--rows-per-day", "20"]


def test_json_summary_parses_and_describes_what_was_written(tmp_path):
    # given an output folder
    out = tmp_path / "stream"

    # when the demo is simulated with an extra incident and --json
    result = runner.invoke(
        app,
        [
            "simulate",
            *SMALL,
            "--out",
            str(out),
            "--incident",
            "null_burst@2026-01-05:income",
            "--json",
        ],
    )

    # then stdout is one JSON document matching the files on disk
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["days"] == 12
    assert summary["scenario"] == "demo"
    assert summary["tables"]["features"]["rows"] == 12 * 20
    assert summary["tables"]["labels"]["rows"] == 5 * 20  # 7-day label delay
    assert summary["incidents"][0]["kind"] == "null_burst"
    assert summary["schedule"] == str(out / "_simulation" / "schedule.json")
    storage = open_storage(str(out))
    assert len(PartitionedTable(storage, "features").dates()) == 12
    assert Schedule.load(out).incident_days() == {date(2026, 1, 5)}


def test_text_output_names_the_drifts_and_the_ground_truth(tmp_path):
    result = runner.invoke(
        app,
        [
            "simulate",
            "--scenario",
            "sudden",
            "--days",
            "70",
            "--rows-per-day",
            "5",
            "--label-delay",
            "3",
            "--out",
            str(tmp_path),
        ],
    )

    assert result.exit_code == 0, result.output
    assert "drift income_drop: covariate sudden from 2026-03-02" in result.stdout
    assert "schedule.json" in result.stdout
    assert Schedule.load(tmp_path).label_delay_days == 3


def test_unknown_scenario_exits_2_naming_it(tmp_path):
    result = runner.invoke(app, ["simulate", "--scenario", "nope", "--out", str(tmp_path)])

    assert result.exit_code == 2
    assert "unknown scenario 'nope'" in result.stderr
    assert not any(tmp_path.iterdir())  # nothing written


@pytest.mark.parametrize(
    ("spec", "named"),
    [
        ("boom@2026-01-03", "'boom'"),
        ("null_burst@2026-02-30", "'2026-02-30'"),
        ("null_burst@2027-01-01", "outside the simulation"),
        ("unit_change@2026-01-03:region", "'region'"),
    ],
)
def test_bad_incident_spec_exits_2_naming_the_value(tmp_path, spec, named):
    result = runner.invoke(app, ["simulate", *SMALL, "--out", str(tmp_path), "--incident", spec])

    assert result.exit_code == 2
    assert named in result.stderr


def test_list_scenarios(tmp_path):
    text = runner.invoke(app, ["simulate", "--list-scenarios"])
    as_json = runner.invoke(app, ["simulate", "--list-scenarios", "--json"])

    assert text.exit_code == 0
    assert as_json.exit_code == 0
    assert all(name in text.stdout for name in SCENARIOS)
    names = [s["name"] for s in json.loads(as_json.stdout)["scenarios"]]
    assert names == list(SCENARIOS)


def test_default_out_is_data_next_to_the_config_which_need_not_be_valid(tmp_path, monkeypatch):
    # given a project whose retrainer.yaml is not (yet) valid, run from a subdirectory
    (tmp_path / "retrainer.yaml").write_text("model: {name: 1, colour: red}\n")
    sub = tmp_path / "notebooks"
    sub.mkdir()
    monkeypatch.chdir(sub)

    # when simulate runs without --out
    result = runner.invoke(app, ["simulate", *SMALL, "--json"])

    # then the data lands in <project root>/data
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["out"] == str(tmp_path / "data")
    assert (tmp_path / "data" / "_simulation" / "schedule.json").is_file()


def test_without_a_config_the_default_out_is_the_current_directorys_data(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    result = runner.invoke(app, ["simulate", *SMALL, "--scenario", "stable"])

    assert result.exit_code == 0, result.output
    assert (tmp_path / "data" / "features").is_dir()


def test_no_overwrite_keeps_an_existing_simulation(tmp_path):
    first = runner.invoke(app, ["simulate", *SMALL, "--out", str(tmp_path)])
    second = runner.invoke(app, ["simulate", *SMALL, "--out", str(tmp_path), "--no-overwrite"])

    assert first.exit_code == 0
    assert second.exit_code == 2
    assert "overwrite is off" in second.stderr
