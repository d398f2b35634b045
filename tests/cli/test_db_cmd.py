"""``retrainer db upgrade|status`` on the project's SQLite store and on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrainer.store.migrate import head_revision


@pytest.fixture
def project(tmp_path: Path) -> Path:
    from retrainer.config.starter import STARTER_CONFIG

    (tmp_path / "retrainer.yaml").write_text(STARTER_CONFIG)
    return tmp_path


def test_status_says_an_empty_store_needs_upgrade_and_upgrade_brings_it_to_head(project, run_cli):
    # given a project whose store was never opened
    before = run_cli("db", "status", cwd=project, RETRAINER_DB_URL=None)

    # then status names the SQLite file in the state directory and exits 1: migrations pending
    assert before.exit_code == 1, before.stderr
    assert f"url:      sqlite:///{project / '.retrainer' / 'retrainer.db'}" in before.stdout
    assert "current:  none (empty database)" in before.stdout
    assert "migrations pending: run `retrainer db upgrade`" in before.stdout

    # when upgraded (twice: the second is a no-op)
    first = run_cli("db", "upgrade", cwd=project, RETRAINER_DB_URL=None)
    again = run_cli("db", "upgrade", cwd=project, RETRAINER_DB_URL=None)
    after = run_cli("db", "status", "--json", cwd=project, RETRAINER_DB_URL=None)

    # then the store is at the head revision this retrainer ships
    assert first.exit_code == 0, first.stderr
    assert f"upgraded empty -> {head_revision()}" in first.stdout
    assert f"already at {head_revision()}" in again.stdout
    assert after.exit_code == 0
    assert after.json()["current"] == after.json()["head"] == head_revision()


def test_a_postgresql_url_is_shown_with_its_password_masked(postgres_database, run_cli, tmp_path):
    # given RETRAINER_DB_URL with a password (trust auth ignores it), no project needed
    url = postgres_database.replace("postgres@", "postgres:s3cret@")

    upgraded = run_cli("db", "upgrade", "--json", cwd=tmp_path, RETRAINER_DB_URL=url)
    status = run_cli("db", "status", cwd=tmp_path, RETRAINER_DB_URL=url)

    assert upgraded.exit_code == 0, upgraded.stderr
    assert upgraded.json()["revision"] == head_revision()
    assert status.exit_code == 0, status.stderr
    assert url.replace("s3cret", "***") in status.stdout
    assert "s3cret" not in status.stdout + upgraded.stdout


def test_a_bad_url_is_a_usage_error_naming_the_variable(run_cli, tmp_path):
    result = run_cli("db", "status", "--json", cwd=tmp_path, RETRAINER_DB_URL="nonsense")

    assert result.exit_code == 2
    assert "RETRAINER_DB_URL: 'nonsense' is not a database URL" in result.stderr
    assert result.json()["ok"] is False
