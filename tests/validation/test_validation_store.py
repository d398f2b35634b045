"""Where suites come from: the reference window in the state dir, a training frame."""

from pathlib import Path

import pytest
import yaml

from retrainer.config import parse_config
from retrainer.data import DataCatalog
from retrainer.project import Project
from retrainer.validation import SuiteError
from retrainer.validation.store import (
    build_suite_from_frame,
    partition_row_counts,
    reference_suite,
)

REPO = Path(__file__).resolve().parents[2]


def _project(root: Path, validation: dict | None = None) -> Project:
    data = yaml.safe_load((REPO / "retrainer.yaml").read_text())
    data["data"]["source"] = "data"
    data["validation"] = validation or {"reference": {"days": 5}}
    return Project.from_config(parse_config(data), root)


@pytest.fixture(scope="module")
def data_root(tmp_path_factory) -> Path:
    from retrainer.simulate import simulate, write_simulation

    root = tmp_path_factory.mktemp("store")
    write_simulation(simulate("stable", days=10, seed=2, rows_per_day=300), root / "data")
    return root


def test_reference_suite_is_built_from_the_first_days_and_kept_in_the_state_dir(data_root):
    project = _project(data_root)
    catalog = DataCatalog.for_project(project)

    # when the suite is needed for the first time
    suite = reference_suite(project, catalog)

    # then it is built from the first 5 partitions and saved under <state_dir>/validation
    path = project.state_dir / "validation" / "reference_suite.json"
    assert path.exists()
    assert suite.source["kind"] == "reference_window"
    assert (suite.source["start"], suite.source["end"]) == ("2026-01-01", "2026-01-05")
    assert suite.profile.rows == 5 * 300
    assert "reference window 2026-01-01..2026-01-05" in suite.describe()

    # and the next call reuses it as it is
    modified = path.stat().st_mtime_ns
    assert reference_suite(project, catalog).hash == suite.hash
    assert path.stat().st_mtime_ns == modified


def test_changed_rules_rebuild_from_the_profile_and_a_changed_window_from_the_data(data_root):
    first = reference_suite(_project(data_root), DataCatalog.for_project(_project(data_root)))

    looser = _project(data_root, {"reference": {"days": 5}, "numeric": {"margin": 2.0}})
    rebuilt = reference_suite(looser, DataCatalog.for_project(looser))
    longer = _project(data_root, {"reference": {"days": 8}})
    rebuilt_from_data = reference_suite(longer, DataCatalog.for_project(longer))

    assert rebuilt.hash != first.hash
    assert rebuilt.profile == first.profile
    assert rebuilt.source["rebuilt_from"] == first.hash
    assert rebuilt_from_data.source["end"] == "2026-01-08"
    assert rebuilt_from_data.profile.rows == 8 * 300


def test_an_empty_reference_window_fails_naming_the_window(data_root):
    project = _project(data_root, {"reference": {"start": "2025-06-01", "days": 3}})

    with pytest.raises(SuiteError, match=r"no partitions in validation\.reference 2025-06-01"):
        reference_suite(project, DataCatalog.for_project(project))


def test_daily_row_bounds_come_from_the_files_even_for_a_sampled_training_frame(data_root):
    project = _project(data_root)
    catalog = DataCatalog.for_project(project)
    frame = catalog.features.read()

    # when the train flow hands over a 10% sample of its window
    suite = build_suite_from_frame(project, frame.iloc[::10], {"kind": "training"}, catalog)

    # then the row-count bounds still reflect the 300 rows of each partition
    assert partition_row_counts(catalog, catalog.features.dates()[:2]) == {
        "2026-01-01": 300,
        "2026-01-02": 300,
    }
    assert suite.retrainer["rows_per_day"] == [150.0, 900.0]
    assert suite.profile.rows == len(frame.iloc[::10])


def _own_data(tmp_path: Path) -> Path:
    from retrainer.simulate import simulate, write_simulation

    write_simulation(simulate("stable", days=8, seed=3, rows_per_day=200), tmp_path / "data")
    return tmp_path


def test_rebuild_reads_the_reference_window_again(tmp_path):
    root = _own_data(tmp_path)
    project = _project(root)
    catalog = DataCatalog.for_project(project)
    saved = reference_suite(project, catalog)
    # given the first reference day is replaced by a fixed export (incomes 50% higher)
    day = catalog.features.dates()[0]
    frame = catalog.features.read(dates=[day])
    catalog.features.write_partition(day, frame.assign(income=frame["income"] * 1.5))

    kept = reference_suite(project, catalog)
    rebuilt = reference_suite(project, catalog, rebuild=True)

    # then the saved suite serves until it is rebuilt from the data on request
    assert kept.hash == saved.hash
    assert rebuilt.hash != saved.hash
    assert rebuilt.profile.profiles["income"].quantile(0.5) > saved.profile.profiles[
        "income"
    ].quantile(0.5)


def test_a_reference_partition_with_another_schema_is_left_out_and_named(tmp_path):
    root = _own_data(tmp_path)
    project = _project(root)
    catalog = DataCatalog.for_project(project)
    # given one reference day whose credit scores arrive as text
    day = catalog.features.dates()[2]
    frame = catalog.features.read(dates=[day])
    catalog.features.write_partition(
        day, frame.assign(credit_score=frame["credit_score"].astype(str))
    )

    suite = reference_suite(project, catalog)

    # then the suite is built from the other days and says why that one is missing
    assert suite.profile.profiles["credit_score"].family == "numeric"
    assert suite.profile.rows == 4 * 200
    why = suite.profile.excluded_days[day.isoformat()]
    assert why.startswith("schema differs from the other reference days: credit_score")
    assert any("left out" in note and day.isoformat() in note for note in suite.retrainer["notes"])
