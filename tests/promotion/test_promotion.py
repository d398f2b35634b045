"""The promotion path on a real MLflow registry (SQLite) and the store (SQLite, PostgreSQL).

Versions are registered with ``MlflowClient.create_model_version`` (no training: nothing
here loads a model); the CLI tests promote trained versions.
"""

from __future__ import annotations

import itertools

import pytest

from retrainer.promotion import (
    ModelTarget,
    PromotionConflict,
    PromotionError,
    history,
    promote,
    reconcile,
    record_abort,
    record_approval,
    rollback,
)
from retrainer.registry.models import ModelRegistry, RegistryError

_names = itertools.count()


@pytest.fixture(scope="module")
def mlflow_client(tmp_path_factory):
    from mlflow import MlflowClient

    root = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{root}/mlflow.db"
    return MlflowClient(tracking_uri=uri, registry_uri=uri), root


@pytest.fixture
def make_model(store, mlflow_client):
    """``make_model(versions=3, champion="1")``: a registered model and its target."""
    client, root = mlflow_client

    def _make(versions: int = 3, champion: str | None = None, **aliases: str) -> ModelTarget:
        name = f"m{next(_names)}-{store.dialect}"
        client.create_registered_model(name)
        for _ in range(versions):
            client.create_model_version(name, source=str(root / "model"))
        for alias, version in {"champion": champion, **aliases}.items():
            if version is not None:
                client.set_registered_model_alias(name, alias, version)
        return ModelTarget(name, store, ModelRegistry(name, client=client))

    return _make


def test_promotion_moves_the_aliases_after_the_store_and_records_who_and_why(make_model):
    # given v1 champion and v2 the challenger
    target = make_model(champion="1", challenger="2")

    # when v2 is promoted against the champion the gate judged (v1)
    record = promote(
        target,
        "2",
        expected_champion="1",
        by="gate",
        reason="gate passed",
        evidence={"gate_summary": "roc_auc +0.03", "report": "file:///r.html"},
    )

    # then the store, the aliases and the version tags agree; challenger is cleared
    state = target.store.champions.get(target.name)
    assert (state.champion, state.previous, state.pending) == ("2", "1", False)
    assert target.registry.aliases() == {"champion": "2", "previous_champion": "1"}
    tags = target.registry.get_version("2").tags
    assert tags["retrainer.status"] == "champion"
    assert (tags["retrainer.promoted_by"], tags["retrainer.replaced_version"]) == ("gate", "1")
    assert tags["retrainer.promotion_reason"] == "gate passed"
    assert target.registry.get_version("1").tags["retrainer.status"] == "previous_champion"
    # and the ledger holds the first-use import of v1, then the promotion with its evidence
    records = history(target)
    assert [(r.action, r.from_version, r.to_version) for r in records] == [
        ("promote", "1", "2"),
        ("import", None, "1"),
    ]
    assert records[0] == record
    assert record.evidence["gate_summary"] == "roc_auc +0.03"


def test_a_promotion_judged_against_an_old_champion_changes_nothing(make_model):
    # given v2 promoted over v1 after a gate had judged v3 against v1
    target = make_model(champion="1")
    promote(target, "2", expected_champion="1", by="alice")

    # when the gate's promotion of v3 arrives, still expecting v1
    with pytest.raises(PromotionConflict, match="expected champion v1, but the champion is v2"):
        promote(target, "3", expected_champion="1", by="gate")

    # then v2 stays champion everywhere, and the ledger has no record of v3
    assert target.registry.aliases()["champion"] == "2"
    assert target.store.champions.get(target.name).champion == "2"
    assert "3" not in {r.to_version for r in history(target)}


def test_the_first_champion_expects_none(make_model):
    target = make_model(champion=None)

    with pytest.raises(PromotionConflict, match="expected champion v1, but the champion is none"):
        promote(target, "2", expected_champion="1", by="gate")
    record = promote(target, "1", expected_champion=None, by="gate")

    assert (record.from_version, record.to_version) == (None, "1")
    assert target.registry.aliases() == {"champion": "1"}


def test_rollback_restores_the_previous_champion_or_a_named_one(make_model):
    target = make_model(champion="1")
    promote(target, "2", expected_champion="1", by="alice")

    # when rolled back without naming a version
    record = rollback(target, by="bob", reason="latency regression")

    # then v1 serves again and v2 is one command away
    assert (record.action, record.from_version, record.to_version) == ("rollback", "2", "1")
    assert target.registry.aliases() == {"champion": "1", "previous_champion": "2"}
    assert target.registry.get_version("2").tags["retrainer.status"] == "rolled_back"
    # and a named version can be restored too
    rollback(target, "3", by="bob")
    assert target.registry.aliases()["champion"] == "3"


def test_rollback_without_a_previous_champion_says_how_to_name_one(make_model):
    target = make_model(champion="1")

    with pytest.raises(PromotionError, match="no previous champion to roll back to"):
        rollback(target, by="bob")
    with pytest.raises(RegistryError, match="has no version 9"):
        rollback(target, "9", by="bob")


def test_reconcile_follows_a_champion_alias_moved_outside_retrainer(make_model):
    # given a store in sync with v1, and then someone moves the alias in the MLflow UI
    target = make_model(champion="1")
    assert reconcile(target).action == "imported"
    target.registry.set_alias("champion", "3")

    # when the next command reconciles
    result = reconcile(target)

    # then the store adopts it, saying so in the ledger, and the aliases are complete
    assert result.action == "adopted"
    assert (result.state.champion, result.state.previous) == ("3", "1")
    assert history(target, limit=1)[0].action == "adopt"
    assert target.registry.aliases() == {"champion": "3", "previous_champion": "1"}
    assert reconcile(target).action == "in_sync"


def test_a_deleted_alias_is_repaired_from_the_store(make_model):
    target = make_model(champion="1")
    promote(target, "2", expected_champion="1", by="alice")
    target.registry.delete_alias("champion")

    assert reconcile(target).action == "repaired"

    assert target.registry.aliases() == {"champion": "2", "previous_champion": "1"}


def test_approvals_and_aborts_are_recorded_without_changing_the_champion(make_model):
    target = make_model(champion="1")

    record_approval(target, "2", by="carol", reason="looks right", evidence={"gate": "passed"})
    record_approval(target, "3", by="carol", approved=False, reason="too slow")
    record_abort(target, "2", by="rollout", reason="canary step 2 failed")

    records = history(target)
    assert [(r.action, r.to_version, r.by) for r in records[:3]] == [
        ("abort", "2", "rollout"),
        ("approval", "3", "carol"),
        ("approval", "2", "carol"),
    ]
    assert records[1].evidence == {"decision": "rejected"}
    assert records[2].evidence == {"gate": "passed", "decision": "approved"}
    assert target.store.champions.get(target.name).champion == "1"
