"""``check_against_data``: what a config check compared with which partitions and files."""

from __future__ import annotations

import pandas as pd
import yaml

from retrainer.config import parse_config
from retrainer.config.checks import check_against_data
from retrainer.config.starter import STARTER_CONFIG
from retrainer.data import DataCatalog, LocalStorage, PartitionedTable


def _catalog(root, days: int = 3, target=(0, 1, 0, 1)) -> DataCatalog:
    config = parse_config(yaml.safe_load(STARTER_CONFIG))
    cols = config.columns
    storage = LocalStorage(root)
    for offset in range(days):
        day = pd.Timestamp("2026-01-01 10:00", tz="UTC") + pd.Timedelta(days=offset)
        frame = pd.DataFrame({c: [1.0] * 4 for c in cols.numeric})
        for c in cols.categorical:
            frame[c] = ["a", "b", "a", "b"]
        frame[cols.id] = [f"id{offset}-{i}" for i in range(4)]
        frame[cols.timestamp] = day
        PartitionedTable(storage, "features").write(frame, cols.timestamp)
        labels = pd.DataFrame(
            {
                cols.id: frame[cols.id],
                cols.label_timestamp: day + pd.Timedelta(days=7),
                cols.target: list(target),
            }
        )
        PartitionedTable(storage, "labels").write(labels, cols.label_timestamp)
    return DataCatalog(storage, config.data, cols)


def test_a_passing_check_says_what_it_compared_with(tmp_path):
    # given three days of features and labels that fit the starter config
    catalog = _catalog(tmp_path)

    # when the config is checked against them
    problems, notes, checked = check_against_data(catalog, "binary")

    # then nothing is wrong and one line per table names the partitions and the file read
    assert problems == []
    assert notes == []
    newest = tmp_path / "features" / "date=2026-01-03" / "part-00000.parquet"
    assert checked[0] == (
        f"features: 3 partitions 2026-01-01..2026-01-03, newest file {newest}: "
        "16 configured columns found, types fit"
    )
    assert checked[1].startswith("labels: 3 partitions 2026-01-08..2026-01-10, newest file ")
    assert checked[1].endswith("target 'defaulted' found (2 classes in the newest partition)")


def test_a_regression_target_is_described_by_its_range(tmp_path):
    catalog = _catalog(tmp_path, days=1, target=(0.5, 2.0, 1.0, 1.5))

    _, _, checked = check_against_data(catalog, "regression")

    assert checked[1].endswith("target 'defaulted' found (values 0.5..2 in the newest partition)")


def test_missing_and_mistyped_columns_are_counted_in_the_checked_line(tmp_path):
    # given features where income is text and credit_score is missing
    catalog = _catalog(tmp_path, days=1)
    table = catalog.features
    frame = table.read().drop(columns=["credit_score"]).assign(income="many")
    table.write(frame, "event_time")

    problems, _, checked = check_against_data(catalog, "binary")

    assert [p.location for p in problems] == ["columns.numeric[4]", "columns.numeric[0]"]
    assert "15 of 16 configured columns found, 1 with the wrong type" in checked[0]


def test_no_data_yet_checks_nothing_and_says_so(tmp_path):
    config = parse_config(yaml.safe_load(STARTER_CONFIG))
    catalog = DataCatalog(LocalStorage(tmp_path), config.data, config.columns)

    problems, notes, checked = check_against_data(catalog)

    assert problems == []
    assert checked == []
    assert notes == [f"no data yet under {tmp_path / 'features'}: column checks skipped"]


def test_a_short_reference_window_or_history_is_pointed_out(tmp_path):
    from retrainer.config.validation import ReferenceSection

    catalog = _catalog(tmp_path, days=3)

    # when the check knows the validation reference (14 days asked, 3 present)
    _, notes, _ = check_against_data(catalog, "binary", ReferenceSection(days=14))
    _, default_notes, _ = check_against_data(catalog, "binary", ReferenceSection())

    # then it says the window is short, and that the data is shorter still
    assert notes[0].startswith("validation.reference.days is 14: fewer than 60 days")
    assert notes[1] == (
        "the data has 3 days, the validation reference wants 14: the suite is built from all "
        "of them"
    )
    assert default_notes == [
        "the data has 3 days, the validation reference wants 60: the suite is built from all "
        "of them"
    ]
