"""The operational store on SQLite and PostgreSQL: schema, repositories, compare-and-set."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from retrainer.store import Store, StoreError, masked
from retrainer.store.labels import Label
from retrainer.store.predictions import Prediction
from retrainer.store.triggers import TriggerState
from retrainer.validation import ValidationLedger


def test_a_new_database_gets_exactly_the_schema_the_code_uses(store):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from retrainer.store.migrate import current_revision, head_revision
    from retrainer.store.schema import metadata

    # given a database migrated on first use
    # then it is at the newest revision and its tables match the code's models exactly
    assert current_revision(store) == head_revision()
    with store.read() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []


def test_predictions_are_logged_once_per_request_id(store):
    at = datetime(2026, 3, 1, 12, tzinfo=UTC)
    rows = [
        Prediction("r-1", "m-pred", "3", "champion", {"x": 1.5}, label=1, score=0.8, at=at),
        Prediction("r-2", "m-pred", "4", "challenger", {"x": 2.0}, label=0, score=0.3, at=at),
    ]

    # when the gateway logs two predictions, then retries one of them with another one
    first = store.predictions.insert_many(rows)
    retry = store.predictions.insert_many(
        [rows[0], Prediction("r-3", "m-pred", "3", "champion", {"x": 0}, at=at)]
    )

    # then each request is logged once, with what it answered
    assert (first, retry) == (2, 1)
    logged = store.predictions.for_model("m-pred")
    assert [p.request_id for p in logged] == ["r-1", "r-2", "r-3"]
    assert store.predictions.get("r-1") == rows[0]
    assert store.predictions.get("r-1").at == at  # an aware UTC time on every backend
    assert store.predictions.for_model("m-pred", start=at + timedelta(seconds=1)) == []


def test_labels_arrive_by_request_id_or_entity_key(store):
    with pytest.raises(ValueError, match="request_id or entity_key"):
        Label(label=1)

    store.labels.insert_many(
        [Label(1, request_id="lab-1"), Label("no", entity_key="cust-9", event_at=None)]
    )

    assert [lab.label for lab in store.labels.for_requests(["lab-1"])] == [1]
    assert [lab.label for lab in store.labels.for_entities(["cust-9"])] == ["no"]


def test_the_champion_changes_only_from_the_counter_it_was_read_at(store):
    # given a model whose row was read at counter 0 by two writers
    with store.write() as conn:
        assert store.champions.create(conn, "m-cas")
        assert not store.champions.create(conn, "m-cas", "9")  # the first create wins
    seen = store.champions.get("m-cas")
    assert (seen.champion, seen.counter) == (None, 0)

    # when both try to set a champion from that counter
    with store.write() as conn:
        record = store.ledger.append(
            "m-cas", "promote", from_version=None, to_version="1", by="a", conn=conn
        )
        first = store.champions.compare_and_set(
            conn, "m-cas", counter=0, champion="1", previous=None, record_id=record.id
        )
    with store.write() as conn:
        second = store.champions.compare_and_set(
            conn, "m-cas", counter=0, champion="2", previous=None, record_id=record.id
        )

    # then only the first wins, and the row says the aliases still have to follow
    assert (first, second) == (True, False)
    state = store.champions.get("m-cas")
    assert (state.champion, state.counter, state.pending) == ("1", 1, True)


def test_the_ledger_keeps_every_record_newest_first(store):
    for version in ("1", "2"):
        store.ledger.append(
            "m-ledger",
            "promote",
            from_version=None,
            to_version=version,
            by="alice",
            reason=f"v{version} is better",
            evidence={"gate_summary": "passed", "metrics": {"roc_auc": 0.8}},
        )

    records = store.ledger.history("m-ledger")

    assert [r.to_version for r in records] == ["2", "1"]
    assert records[0].evidence["metrics"] == {"roc_auc": 0.8}
    assert records[0].by == "alice"
    assert [r.to_version for r in store.ledger.history("m-ledger", limit=1)] == ["2"]
    with pytest.raises(ValueError, match="ledger action 'delete'"):
        store.ledger.append("m-ledger", "delete", from_version=None, to_version="1", by="x")


def test_trigger_state_is_saved_and_replaced(store):
    assert store.triggers.get("m-trig", "drift") is None
    last = datetime(2026, 3, 1, tzinfo=UTC)

    store.triggers.save(TriggerState("m-trig", "drift", last, 2, ["e-1"]))
    store.triggers.save(TriggerState("m-trig", "drift", last, 3, ["e-1", "e-2"]))

    state = store.triggers.get("m-trig", "drift")
    assert (state.consecutive_breaches, state.processed_event_ids) == (3, ["e-1", "e-2"])
    assert state.last_retrain_at == last


def test_the_validation_ledger_works_the_same_on_this_backend(store):
    ledger = ValidationLedger(store, f"/data/{store.dialect}", "features")
    days = [date(2026, 1, d) for d in range(1, 8)]

    # given partitions seen and validated, one re-validated later
    assert ledger.observe(days) == days
    assert ledger.observe(days) == []
    ledger.record_many({d: {"status": "valid", "rows": 10} for d in days[:5]})
    ledger.record(days[1], "quarantined", reason="null burst")
    first = ledger.entries()[days[1]]["first_at"]
    ledger.record(days[1], "released", by="qa", note="fine", in_place=True)

    # then pending, status, details and the first verdict time are as recorded
    entries = ledger.entries()
    assert ledger.pending(days) == days[5:]
    assert entries[days[1]]["status"] == "released"
    assert entries[days[1]]["first_at"] == first
    assert (entries[days[1]]["by"], entries[days[1]]["in_place"]) == ("qa", True)
    assert "reason" not in entries[days[1]]  # a new verdict replaces the details
    assert ledger.last_accepted_before(days[5]) == days[4]


def test_the_default_sqlite_store_runs_in_wal_mode_with_foreign_keys(tmp_path):
    store = Store.from_url(f"sqlite:///{tmp_path}/retrainer.db")

    with store.read() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30_000
    # foreign keys hold: a champion row cannot name a ledger record that does not exist
    with pytest.raises(sa.exc.IntegrityError), store.write() as conn:
        store.champions.create(conn, "m-fk", "1", None, record_id=999)


def test_a_bad_store_url_names_the_variable_and_hides_the_password():
    with pytest.raises(StoreError, match="RETRAINER_DB_URL: 'not a url' is not a database URL"):
        Store.from_url("not a url")
    with pytest.raises(StoreError, match="'mysql' is not supported"):
        Store.from_url("mysql://u@h/db")

    assert masked("postgresql+psycopg://bob:s3cret@db:5432/rt") == (
        "postgresql+psycopg://bob:***@db:5432/rt"
    )


def test_an_unreachable_database_is_named_with_its_password_hidden(tmp_path):
    # given a PostgreSQL URL where nothing listens (port 1 on loopback)
    url = "postgresql+psycopg://bob:s3cret@127.0.0.1:1/rt"

    # then opening it fails with one error naming the store, never the password
    hidden = r"operational store postgresql\+psycopg://bob:\*\*\*@"
    with pytest.raises(StoreError, match=hidden) as e:
        Store.from_url(url)
    assert "s3cret" not in str(e.value)
