"""``retrainer import`` (and the bring-your-own-data path through init and config check).

Real CLI runs in a subprocess (``run_cli``), real files in a fresh folder.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.long]

IMPORT_LOANS = (
    "import",
    "data.csv",
    "--timestamp",
    "event_time",
    "--target",
    "defaulted",
    "--id",
    "loan_id",
    "--label-delay-days",
    "7",
)
# The bring-your-own-data path, step by step; every step must exit 0.
BYO_STEPS: list[tuple[str, ...]] = [
    IMPORT_LOANS,
    ("init", "--from-data", "data", "--target", "defaulted"),
    ("config", "check"),
    ("validate", "--all"),
    ("train",),
]


@pytest.fixture
def loan_csv(tmp_path: Path) -> Path:
    """A fresh folder holding data.csv: simulated loans, labels joined, times as text."""
    from retrainer.simulate import simulate

    sim = simulate("stable", days=90, rows_per_day=200)
    frame = sim.features.merge(sim.labels.drop(columns=["label_time"]), on="loan_id")
    frame["event_time"] = frame["event_time"].astype(str)
    path = tmp_path / "project" / "data.csv"
    path.parent.mkdir()
    frame.to_csv(path, index=False)
    return path


@pytest.fixture
def seattle_weather() -> Path:
    """The public Seattle weather data (2012-2015, one row a day) that vega_datasets ships."""
    vega = pytest.importorskip(
        "vega_datasets", reason="vega_datasets is not installed (it ships seattle-weather.csv)"
    )
    path = importlib.resources.files(vega) / "_data" / "seattle-weather.csv"
    return Path(str(path))


def test_bring_your_own_csv_from_import_to_a_checked_config(loan_csv, run_cli):
    # given a fresh folder with nothing but data.csv
    folder = loan_csv.parent

    # when the steps of the bring-your-own-data path run there
    results = {}
    for step in BYO_STEPS:
        result = run_cli(*step, cwd=folder)
        assert result.exit_code == 0, (step, result.stdout, result.stderr)
        results[step[0]] = result

    # then import told the story, init wrote a config and the check says what it compared
    story = results["import"].stdout
    assert "Warning" not in results["import"].stderr
    assert "read 18,000 rows from" in story
    assert "features: 18,000 rows in 90 partitions 2026-01-01..2026-03-31 (90 files)" in story
    assert "labels:   18,000 rows in 90 partitions 2026-01-08..2026-04-07" in story
    assert "label delay: 7 days" in story
    assert "next: retrainer init --from-data data --target defaulted" in story
    assert "wrote retrainer.yaml" in results["init"].stdout
    checked = [
        line for line in results["config"].stderr.splitlines() if line.startswith("checked: ")
    ]
    assert checked[0].startswith("checked: features: 90 partitions 2026-01-01..2026-03-31")
    assert checked[0].endswith("16 configured columns found, types fit")
    assert "target 'defaulted' found (2 classes in the newest partition)" in checked[1]
    # validation at the defaults keeps every clean day of the user's data ...
    assert "90 batch(es) validated" in results["validate"].stdout
    assert "0 invalid, 0 quarantined" in results["validate"].stdout
    # ... and the model trains on it and becomes champion
    assert "registered defaulted" not in results["train"].stderr
    assert "champion: models:/" in results["train"].stdout


def test_import_json_is_one_document_describing_both_tables(loan_csv, run_cli):
    result = run_cli(*IMPORT_LOANS, "--json", cwd=loan_csv.parent)

    assert result.exit_code == 0, result.stderr
    summary = result.json()
    assert summary["ok"] is True
    assert summary["rows_read"] == summary["rows_written"] == 18_000
    assert summary["tables"]["features"]["partitions"] == 90
    assert summary["tables"]["labels"]["first_date"] == "2026-01-08"
    assert summary["label_time"] == {"source": "delay", "delay_days": 7, "default": False}
    assert summary["columns"]["event_time"] == "timestamp[us, tz=UTC]"


def test_without_a_delay_the_story_says_labels_arrive_with_the_event(tmp_path, run_cli):
    (tmp_path / "data.csv").write_text("when,x,y\n2026-01-01T10:00:00,1,0\n2026-01-02,2,1\n")

    result = run_cli("import", "data.csv", "--timestamp", "when", "--target", "y", cwd=tmp_path)

    assert result.exit_code == 0, result.stderr
    assert "label delay: 0 days (label_time = event time + delay); the default" in result.stdout
    assert "ids: generated 'row_id'" in result.stdout


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["--timestamp", "event_time", "--target", "y"],
            "error: --timestamp event_time: no such column in {csv} (columns: when, x, y)",
        ),
        (["--timestamp", "when", "--target", "label"], "error: --target label: no such column"),
        (
            [
                "--timestamp",
                "when",
                "--target",
                "y",
                "--label-delay-days",
                "1",
                "--label-time",
                "x",
            ],
            "error: --label-delay-days and --label-time exclude each other",
        ),
        (["--timestamp", "x", "--target", "y"], "error: --timestamp x: cannot read '1' as a date"),
    ],
    ids=["timestamp", "target", "delay-and-time", "numbers"],
)
def test_bad_options_exit_2_naming_the_column_and_file(tmp_path, run_cli, args, expected):
    csv = tmp_path / "data.csv"
    csv.write_text("when,x,y\n2026-01-01,1,0\n")

    result = run_cli("import", str(csv), *args, "--out", "data", cwd=tmp_path)
    as_json = run_cli("import", str(csv), *args, "--out", "data", "--json", cwd=tmp_path)

    assert result.exit_code == 2
    assert expected.format(csv=csv) in result.stderr
    assert "Traceback" not in result.stderr
    assert as_json.exit_code == 2
    document = as_json.json()
    assert document["ok"] is False
    assert expected.format(csv=csv).removeprefix("error: ") in document["error"]
    assert not (tmp_path / "data").exists()


def test_a_missing_input_and_a_second_import_are_refused(tmp_path, run_cli):
    csv = tmp_path / "data.csv"
    csv.write_text("when,x,y\n2026-01-01,1,0\n")
    args = ["--timestamp", "when", "--target", "y", "--out", "data"]

    missing = run_cli("import", "nope.csv", *args, cwd=tmp_path)
    first = run_cli("import", "data.csv", *args, cwd=tmp_path)
    second = run_cli("import", "data.csv", *args, cwd=tmp_path)
    forced = run_cli("import", "data.csv", *args, "--force", cwd=tmp_path)

    assert missing.exit_code == 2
    assert "nope.csv: no such file or folder" in missing.stderr
    assert first.exit_code == 0, first.stderr
    assert second.exit_code == 2
    assert "features already holds 1 partition (2026-01-01..2026-01-01)" in second.stderr
    assert "pass --force to replace the features and labels tables" in second.stderr
    assert forced.exit_code == 0, forced.stderr
    assert "replaced the tables that were there (--force)" in forced.stdout


def test_import_into_a_project_writes_its_data_source(tmp_path, run_cli):
    # given a project whose config points data.source at another folder
    (tmp_path / "retrainer.yaml").write_text(
        (Path(__file__).parents[2] / "retrainer.yaml")
        .read_text()
        .replace("source: data ", "source: stream ")
    )
    (tmp_path / "data.csv").write_text("when,x,y\n2026-01-01,1,0\n")

    # when imported without --out from a subfolder
    sub = tmp_path / "notebooks"
    sub.mkdir()
    result = run_cli("import", "../data.csv", "--timestamp", "when", "--target", "y", cwd=sub)

    # then the rows land under the project's data source
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "stream" / "features" / "date=2026-01-01").is_dir()
    assert "next: retrainer config check" in result.stdout


def test_seattle_weather_imports_and_infers_a_multiclass_config(seattle_weather, tmp_path, run_cli):
    # given the public Seattle weather data, one row a day, labels known the day after
    imported = run_cli(
        "import",
        str(seattle_weather),
        "--timestamp",
        "date",
        "--target",
        "weather",
        "--label-delay-days",
        "1",
        "--out",
        "data",
        cwd=tmp_path,
    )
    assert imported.exit_code == 0, imported.stderr
    assert "features: 1,461 rows in 1,461 partitions 2012-01-01..2015-12-31" in imported.stdout

    # when a config is inferred from the imported tables
    init = run_cli("init", "--from-data", "data", "--target", "weather", "--json", cwd=tmp_path)

    # then the roles are the ones a person would pick, and the config checks out
    assert init.exit_code == 0, init.stderr
    inferred = init.json()["inferred"]
    assert inferred["task"]["value"] == "multiclass"
    assert inferred["id"]["column"] == "row_id"
    assert inferred["timestamp"]["column"] == "date"
    assert inferred["label_timestamp"]["column"] == "label_time"
    numeric = [c["column"] for c in inferred["numeric"]]
    assert numeric == ["precipitation", "temp_max", "temp_min", "wind"]
    assert inferred["categorical"] == []
    assert inferred["estimator"]["class_path"] == "sklearn.ensemble.HistGradientBoostingClassifier"
    check = run_cli("config", "check", "--json", cwd=tmp_path)
    assert check.exit_code == 0, check.stdout
    document = check.json()
    assert document["valid"] is True
    assert document["checked"][0].startswith("features: 1,461 partitions 2012-01-01..2015-12-31")
    assert "target 'weather' found" in document["checked"][1]
