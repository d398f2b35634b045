"""Operating the quarantine over a long history: diagnosis, dry run, rebuild, range release.

A user's feed changed unit after 60 days (amounts in cents from then on): 500 days are
quarantined. The command says what fails and which key changes it; a dry run previews a new
config across history (the quarantined days included) without moving anything; one command
puts the 500 days back. Real CLI runs in a subprocess against the test Prefect API.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[2]
DAYS, CLEAN = 560, 60
FIRST_CENTS = date(2026, 1, 1) + timedelta(days=CLEAN)
LAST = date(2026, 1, 1) + timedelta(days=DAYS - 1)


def _config(root: Path, validation: dict | None = None) -> Path:
    data = yaml.safe_load((REPO_ROOT / "retrainer.yaml").read_text())
    data["data"]["source"] = "data"
    data["validation"] = validation or {}
    path = root / "retrainer.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    """The project once its 500 days in cents were quarantined, as `validate --all` does."""
    from retrainer.data import DataCatalog
    from retrainer.project import Project
    from retrainer.simulate import simulate
    from retrainer.validation.store import ledger_for

    root = tmp_path_factory.mktemp("history")
    config = _config(root)
    project = Project.load(config)
    catalog = DataCatalog.for_project(project)
    sim = simulate("stable", days=DAYS, rows_per_day=20, seed=9)
    for day, frame in sim.feature_batches():
        cents = frame.assign(loan_amount=frame["loan_amount"] * 100)
        catalog.features.write_partition(day, cents if day >= FIRST_CENTS else frame)
    held = {}
    for day in catalog.features.dates(FIRST_CENTS, LAST):
        catalog.quarantine.quarantine(catalog.features, day, reason="loan_amount: x100")
        held[day] = {"status": "quarantined", "reason": "loan_amount: x100"}
    ledger_for(project, catalog).record_many(held)
    return root, config


def test_the_command_names_what_fails_most_and_the_key_that_changes_it(history, run_cli):
    root, config = history

    # when the suite is dry-run across the whole history
    dry = run_cli("validate", "--dry-run", "-c", str(config), cwd=root)

    # then 500 of 560 days fail ...
    assert dry.exit_code == 1, dry.stderr[-2000:]
    assert f"{DAYS} batch(es) validated (dry run: nothing moved)" in dry.stdout
    assert f"{DAYS - CLEAN} invalid, {DAYS - CLEAN} would be quarantined" in dry.stdout
    # ... and instead of 500 reports the user reads what fails most and what to change
    assert f"{DAYS - CLEAN} of {DAYS} batches (89%) fail validation; most often:" in dry.stdout
    assert "loan_amount scale (retrainer_column_scale_matches_reference) in 500 batches" in (
        dry.stdout
    )
    assert "to change it: validation.columns.loan_amount.max_scale_ratio" in dry.stdout
    assert "`--release START:END`" in dry.stdout
    assert "... and 480 more batches with findings" in dry.stdout


def test_a_dry_run_previews_a_new_config_across_history_and_moves_nothing(history, run_cli):
    from retrainer.data import LocalStorage, PartitionedTable, Quarantine

    root, config = history
    quarantine = Quarantine(LocalStorage(root / "data"))
    before = quarantine.dates("features")

    # given the cents are accepted as the new unit: no scale check, an explicit range
    _config(
        root,
        {"columns": {"loan_amount": {"drop": ["scale"], "min_value": 0, "max_value": 2e8}}},
    )
    try:
        # when the new config is dry-run over the whole history (the suite rebuilt from the
        # reference data on the way)
        dry = run_cli(
            "validate", "--dry-run", "--rebuild-suite", "--json", "-c", str(config), cwd=root
        )
    finally:
        _config(root)

    # then every day, the quarantined ones included, would pass ...
    assert dry.exit_code == 0, dry.stderr[-2000:]
    result = dry.json()
    assert result["dry_run"] is True
    assert len(result["batches"]) == DAYS
    assert result["invalid"] == []
    # ... and nothing moved or was recorded
    assert quarantine.dates("features") == before
    assert len(before) == DAYS - CLEAN
    assert len(PartitionedTable(LocalStorage(root / "data"), "features").dates()) == CLEAN


def test_one_command_releases_a_range_of_500_days(history, run_cli):
    from retrainer.data import LocalStorage, PartitionedTable, Quarantine
    from retrainer.store import Store
    from retrainer.validation import ValidationLedger

    root, config = history
    span = f"{FIRST_CENTS}:{LAST}"

    # when the user releases the range in one command
    released = run_cli(
        "validate", "--release", span, "--reason", "cents accepted", "--json", "-c", str(config)
    )

    # then all 500 days are back in the table, the quarantine is empty ...
    assert released.exit_code == 0, released.stderr[-2000:]
    summary = released.json()
    assert summary["count"] == DAYS - CLEAN
    assert summary["batch"] == f"{FIRST_CENTS}..{LAST} ({DAYS - CLEAN} batches)"
    storage = LocalStorage(root / "data")
    assert len(PartitionedTable(storage, "features").dates()) == DAYS
    assert Quarantine(storage).dates("features") == []
    # ... with one record each in the ledger and the quarantine log, saying who and why
    store = Store.from_url(f"sqlite:///{root / '.retrainer' / 'retrainer.db'}")
    ledger = ValidationLedger(store, str(root / "data"), "features")
    entries = ledger.entries()
    released_days = [d for d, e in entries.items() if e["status"] == "released"]
    assert len(released_days) == DAYS - CLEAN
    assert {entries[d]["note"] for d in released_days} == {"cents accepted"}
    log = Quarantine(storage, store=store).log()
    assert sum(entry["action"] == "release" for entry in log) == DAYS - CLEAN
    # and releasing again finds nothing to release (exit 2, naming the table)
    again = run_cli("validate", "--release-all", "--reason", "x", "-c", str(config))
    assert again.exit_code == 2
    assert "no quarantined or invalid batch of features" in again.stderr
