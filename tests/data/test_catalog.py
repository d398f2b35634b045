from datetime import date

import pandas as pd
import pytest

from retrainer.config.core import ColumnsSection, DataSection
from retrainer.data import DataCatalog, LocalStorage, QuarantineError
from retrainer.store import Store


@pytest.fixture
def catalog(tmp_path) -> DataCatalog:
    columns = ColumnsSection(
        id="id", timestamp="ts", target="y", label_timestamp="label_ts", numeric=["x"]
    )
    store = Store.from_url(f"sqlite:///{tmp_path}/state/retrainer.db")  # the quarantine log
    return DataCatalog(
        LocalStorage(tmp_path), DataSection(source=str(tmp_path)), columns, store=store
    )


def _features(day: str, ids: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {"id": ids, "ts": pd.Timestamp(f"{day} 12:00", tz="UTC"), "x": range(len(ids))}
    )


def _labels(arrival: str, ids: list[str], y: list[int]) -> pd.DataFrame:
    return pd.DataFrame({"id": ids, "label_ts": pd.Timestamp(f"{arrival} 08:00", tz="UTC"), "y": y})


def test_labels_join_only_when_they_had_arrived_by_as_of(catalog):
    # given features on day 1 and 2, labels arriving on day 3 (for day 1) and day 4 (for day 2)
    catalog.features.write(_features("2026-01-01", ["a", "b"]), "ts")
    catalog.features.write(_features("2026-01-02", ["c"]), "ts")
    catalog.labels.write(_labels("2026-01-03", ["a", "b"], [0, 1]), "label_ts")
    catalog.labels.write(_labels("2026-01-04", ["c"], [1]), "label_ts")

    # when loading as of day 3
    window = catalog.load_labelled(as_of="2026-01-03")

    # then only the labels known on day 3 are joined; the rest counts as unlabelled
    assert sorted(window.frame["id"]) == ["a", "b"]
    assert window.unlabelled_rows == 1
    assert window.as_of == date(2026, 1, 3)

    # and as of day 4 every row is labelled
    assert sorted(catalog.load_labelled(as_of="2026-01-04").frame["id"]) == ["a", "b", "c"]


def test_a_corrected_label_replaces_the_earlier_one(catalog):
    catalog.features.write(_features("2026-01-01", ["a"]), "ts")
    catalog.labels.write(_labels("2026-01-02", ["a"], [0]), "label_ts")
    catalog.labels.write(_labels("2026-01-05", ["a"], [1]), "label_ts")

    frame = catalog.load_labelled(as_of="2026-01-05").frame

    assert frame["y"].tolist() == [1]


def test_quarantined_partition_is_not_read_and_can_be_released(catalog):
    # given two days of features, one of them bad
    catalog.features.write(_features("2026-01-01", ["a"]), "ts")
    catalog.features.write(_features("2026-01-02", ["bad"]), "ts")
    catalog.labels.write(_labels("2026-01-03", ["a", "bad"], [0, 1]), "label_ts")

    # when the bad day is quarantined with its report
    record = catalog.quarantine.quarantine(
        catalog.features, "2026-01-02", reason="null burst", report={"failed": ["x"]}
    )

    # then readers no longer see it, and the batch sits in the quarantine with the report
    assert catalog.features.dates() == [date(2026, 1, 1)]
    assert catalog.load_labelled(as_of="2026-01-03").frame["id"].tolist() == ["a"]
    assert catalog.quarantine.is_quarantined("features", "2026-01-02")
    assert catalog.quarantine.report("features", "2026-01-02")["report"] == {"failed": ["x"]}
    assert [r.date for r in catalog.quarantine.records()] == ["2026-01-02"]
    assert record.reason == "null burst"

    # when released by a human
    catalog.quarantine.release(catalog.features, "2026-01-02", by="alice", note="accepted")

    # then it is back, nothing was lost, and both actions are in the log
    assert catalog.features.read(dates=["2026-01-02"])["id"].tolist() == ["bad"]
    assert not catalog.quarantine.is_quarantined("features", "2026-01-02")
    assert [e["action"] for e in catalog.quarantine.log()] == ["quarantine", "release"]


def test_release_of_a_batch_that_is_not_quarantined_fails_clearly(catalog):
    with pytest.raises(QuarantineError, match="no quarantined batch for features on 2026-01-09"):
        catalog.quarantine.release(catalog.features, "2026-01-09")
