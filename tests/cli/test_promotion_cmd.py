"""``retrainer promote``, ``rollback`` and ``history`` as a user runs them (subprocesses).

One project per module with a version trained through the train flow (its gate made it
champion through MLflow aliases: the store imports it on first use). Each test registers
its own model with copies of that trained version (``copy_model_version``) so tests do not
share a champion. MLflow is a SQLite store in the project's state directory, shared by the
concurrent processes; the operational store is SQLite, or PostgreSQL via RETRAINER_DB_URL.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import yaml
from support import forget_mlflow_store

pytestmark = [pytest.mark.slow, pytest.mark.long]

TRAINED = "credit-default"


@pytest.fixture(scope="module")
def trained(prefect_api, tmp_path_factory) -> Path:
    """A project whose first trained version passed its gate and became champion."""
    from support import ProjectFactory

    from retrainer.flows.train import train

    forget_mlflow_store()
    path, _ = ProjectFactory(tmp_path_factory.mktemp("promote"))("stable", days=40)
    result = train(config=str(path), reason="first")
    assert result["promoted"], result["gate"]["summary"]
    forget_mlflow_store()
    return path


def _client(project_config: Path):
    from mlflow import MlflowClient

    uri = f"sqlite:///{project_config.parent / '.retrainer' / 'mlflow.db'}"
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _model(trained: Path, name: str, gates: dict[str, str] | None = None) -> Path:
    """Model ``name`` with v1..v3 copied from the trained version, v1 champion; its config."""
    client = _client(trained)
    for version in ("1", "2", "3"):
        copied = client.copy_model_version(f"models:/{TRAINED}/1", name)
        assert str(copied.version) == version
        gate = (gates or {}).get(version, "passed")
        client.set_model_version_tag(name, version, "retrainer.gate", gate)
    client.set_registered_model_alias(name, "champion", "1")
    config = yaml.safe_load(trained.read_text())
    config["model"]["name"] = name
    path = trained.parent / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def _aliases(trained: Path, name: str) -> dict[str, str]:
    return {a: str(v) for a, v in _client(trained).get_registered_model(name).aliases.items()}


def _store(url: str):
    from retrainer.store import Store

    return Store.from_url(url)


def _default_store(trained: Path) -> str:
    return f"sqlite:///{trained.parent / '.retrainer' / 'retrainer.db'}"


def test_two_simultaneous_promotions_have_exactly_one_winner(trained, run_cli, store_url, tmp_path):
    # given champion v1, and two people promoting v2 and v3 against one store
    name = f"race-{store_url.split(':')[0].split('+')[0]}"
    config = _model(trained, name)
    go = tmp_path / "go"
    env = {"RETRAINER_DB_URL": store_url, "RETRAINER_TEST_BARRIER": str(go)}
    results = {}

    def run(version: str) -> None:
        results[version] = run_cli("promote", version, "-c", str(config), "--by", version, **env)

    threads = [threading.Thread(target=run, args=(v,)) for v in ("2", "3")]
    for thread in threads:
        thread.start()
    # when both have read champion v1 and wait at the compare-and-set, they are let go at once
    deadline = time.monotonic() + 180
    while len(list(tmp_path.glob("go.arrived-*"))) < 2:
        assert time.monotonic() < deadline, "the promotions never reached the barrier"
        assert all(t.is_alive() for t in threads), results
        time.sleep(0.05)
    go.touch()
    for thread in threads:
        thread.join()

    # then exactly one wins; the other exits 1 naming the expected and the actual champion
    codes = {v: r.exit_code for v, r in results.items()}
    assert sorted(codes.values()) == [0, 1], {v: r.stderr[-800:] for v, r in results.items()}
    winner = next(v for v, code in codes.items() if code == 0)
    loser = results[next(v for v, code in codes.items() if code == 1)]
    assert f"expected champion v1, but the champion is v{winner} now" in loser.stderr
    # and the aliases equal the store, whose ledger holds one promotion
    store = _store(store_url)
    state = store.champions.get(name)
    assert (state.champion, state.previous) == (winner, "1")
    assert _aliases(trained, name) == {"champion": winner, "previous_champion": "1"}
    promotions = [r for r in store.ledger.history(name) if r.action == "promote"]
    assert [(p.to_version, p.by) for p in promotions] == [(winner, winner)]


def test_a_crash_between_the_store_and_the_aliases_is_repaired_by_the_next_command(
    trained, run_cli
):
    # given champion v1
    config = _model(trained, "crash")

    # when the promotion of v2 dies right after the store write (test hook: SIGKILL)
    crashed = run_cli("promote", "2", "-c", str(config), RETRAINER_TEST_CRASH_AFTER="store_write")

    # then the store already names v2 as the one champion, the aliases still show v1
    assert crashed.exit_code == -9, crashed.stderr[-2000:]
    store = _store(_default_store(trained))
    state = store.champions.get("crash")
    assert (state.champion, state.pending) == ("2", True)
    assert _aliases(trained, "crash") == {"champion": "1"}

    # when the next command runs
    shown = run_cli("history", "-c", str(config))

    # then it finished the projection: aliases and tags follow the store
    assert shown.exit_code == 0, shown.stderr[-2000:]
    assert "crash: champion v2" in shown.stdout
    assert _aliases(trained, "crash") == {"champion": "2", "previous_champion": "1"}
    assert store.champions.get("crash").pending is False
    tags = _client(trained).get_model_version("crash", "2").tags
    assert tags["retrainer.status"] == "champion"


def test_rollback_restores_the_previous_champion_and_history_shows_who_and_why(trained, run_cli):
    # given v2 promoted over v1 by alice
    config = _model(trained, "roll")
    promoted = run_cli("promote", "2", "-c", str(config), "--by", "alice", "--reason", "better auc")
    assert promoted.exit_code == 0, promoted.stderr[-2000:]
    assert "promoted roll v2 to champion (was v1)" in promoted.stdout

    # when bob rolls back, naming nothing
    rolled = run_cli("rollback", "-c", str(config), "--by", "bob", "--reason", "latency", "--json")

    # then v1 serves again (aliases and store) and v2 is one command away
    assert rolled.exit_code == 0, rolled.stderr[-2000:]
    document = rolled.json()
    assert document["record"]["action"] == "rollback"
    assert document["aliases"] == {"champion": "1", "previous_champion": "2"}
    state = _store(_default_store(trained)).champions.get("roll")
    assert (state.champion, state.previous) == ("1", "2")
    # and the history lists both, newest first, with who and why
    shown = run_cli("history", "-c", str(config))
    assert shown.exit_code == 0, shown.stderr[-2000:]
    lines = shown.stdout.splitlines()
    assert lines[0] == "roll: champion v1"
    # (when, action, from -> to, by, reason)
    assert lines[1].split()[2:] == ["rollback", "2", "->", "1", "bob", "latency"]
    assert lines[2].split()[2:] == ["promote", "1", "->", "2", "alice", "better", "auc"]


def test_a_version_whose_gate_did_not_pass_needs_force_which_the_ledger_keeps(trained, run_cli):
    config = _model(trained, "forced", gates={"2": "failed"})

    # a version that does not exist is a usage error naming it
    missing = run_cli("promote", "9", "-c", str(config))
    assert missing.exit_code == 2
    assert "has no version 9" in missing.stderr

    # a failed gate is refused, saying how to go on
    refused = run_cli("promote", "2", "-c", str(config))
    assert refused.exit_code == 1
    assert "forced v2: its gate is failed (retrainer.gate), not passed" in refused.stderr
    assert _aliases(trained, "forced") == {"champion": "1"}

    # with --force it is promoted, and the ledger says it was forced
    forced = run_cli("promote", "2", "-c", str(config), "--force", "--json")
    assert forced.exit_code == 0, forced.stderr[-2000:]
    record = forced.json()["record"]
    assert record["evidence"]["forced"] is True
    assert record["evidence"]["gate"] == "failed"
    assert "forced" in record["reason"]
    assert _aliases(trained, "forced") == {"champion": "2", "previous_champion": "1"}
