"""``retrainer simulate`` with the shaped scenarios: their rows per day and ground truth."""

import json

from typer.testing import CliRunner

from retrainer.cli import app
from retrainer.data import PartitionedTable, open_storage
from retrainer.simulate import Schedule

runner = CliRunner()


def test_small_days_writes_24_row_partitions_and_the_stream_ground_truth(tmp_path):
    # when the small-days scenario is simulated without --rows-per-day
    result = runner.invoke(
        app, ["simulate", "--scenario", "small_days", "--days", "30", "--out", str(tmp_path)]
    )

    # then every feature partition holds the scenario's 24 rows
    assert result.exit_code == 0, result.output
    features = PartitionedTable(open_storage(str(tmp_path)), "features")
    assert len(features.dates()) == 30
    assert all(len(features.read(dates=[day])) == 24 for day in features.dates())
    # and the summary and schedule.json name the stream's shape
    assert "rare valid categories: purpose=education 0.15%" in result.stdout
    assert "valid outliers: 0.20% of income x10-x30" in result.stdout
    schedule = Schedule.load(tmp_path)
    assert schedule.rows_per_day == 24
    assert [t.column for t in schedule.stream.heavy_tails] == ["income"]


def test_rows_per_day_overrides_the_scenarios_default(tmp_path):
    result = runner.invoke(
        app,
        [
            "simulate",
            "--scenario",
            "small_days",
            "--days",
            "3",
            "--rows-per-day",
            "50",
            "--out",
            str(tmp_path),
            "--json",
        ],
    )

    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["rows_per_day"] == 50
    assert summary["tables"]["features"]["rows"] == 150
    assert summary["stream"]["rare_categories"]


def test_the_text_summary_names_the_order_and_the_widening(tmp_path):
    ordered = runner.invoke(
        app, ["simulate", "--scenario", "ordered_slices", "--days", "5", "--out", str(tmp_path)]
    )
    widening = runner.invoke(
        app, ["simulate", "--scenario", "range_widening", "--out", str(tmp_path / "w")]
    )
    listed = runner.invoke(app, ["simulate", "--list-scenarios"])

    assert ordered.exit_code == 0, ordered.output
    assert "stream ordered by credit_score in blocks of 240 days" in ordered.stdout
    assert widening.exit_code == 0, widening.output
    assert "drift loan_range_widening: covariate sudden from 2026-03-22" in widening.stdout
    assert "(spread x2)" in widening.stdout
    assert "365d x 24" in listed.stdout
