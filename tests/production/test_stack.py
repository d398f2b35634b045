"""The production stack's plan (pure) and ``retrainer prod`` refusing to start a broken stack.

The full stack (every piece started, the loop run on it, ``up`` twice, ``down`` leaving no
process) is ``tests/integration/test_ct_loop.py``; here no server is started.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from retrainer.production.stack import Ports, StackSettings, client_environment, pieces


def _settings(tmp_path: Path, **values) -> StackSettings:
    return StackSettings(project_root=tmp_path, state_dir=tmp_path / "prod", **values)


def test_the_pieces_start_in_waves_s3_then_the_servers_then_the_apps(tmp_path):
    plan = pieces(_settings(tmp_path))

    assert [(p.name, p.wave) for p in plan] == [
        ("s3", 0), ("prefect", 1), ("mlflow", 1), ("worker", 2), ("webhook", 2), ("gateway", 2),
    ]  # fmt: skip
    assert [p.port for p in plan] == [9000, 4200, 5000, 8790, 8787, 8080]
    assert all(p.health.startswith("http://127.0.0.1:") for p in plan)


def test_only_the_mlflow_server_holds_s3_credentials_and_clients_need_only_the_uris(tmp_path):
    settings = _settings(tmp_path, prefix="acme", ports=Ports(mlflow=5500))
    by_name = {p.name: p for p in pieces(settings)}

    mlflow = by_name["mlflow"]
    assert "AWS_SECRET_ACCESS_KEY" in mlflow.env
    assert mlflow.env["MLFLOW_S3_ENDPOINT_URL"] == "http://127.0.0.1:9000"
    assert mlflow.env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] == "false"
    assert "--artifacts-destination" in mlflow.argv
    assert "postgresql+psycopg2://postgres@127.0.0.1:5432/acme_mlflow" in mlflow.argv
    assert not any(
        "AWS" in k for p in by_name.values() if p.name not in ("mlflow", "s3") for k in p.env
    )
    assert client_environment(settings) == {
        "PREFECT_API_URL": "http://127.0.0.1:4200/api",
        "MLFLOW_TRACKING_URI": "http://127.0.0.1:5500",
        "RETRAINER_DB_URL": "postgresql+psycopg://postgres@127.0.0.1:5432/acme_store",
    }
    assert settings.databases == ["acme_prefect", "acme_mlflow", "acme_store"]


def test_an_s3_endpoint_of_your_own_replaces_moto_and_its_placeholder_keys(tmp_path):
    settings = _settings(tmp_path, s3_endpoint_url="https://s3.example.com")
    by_name = {p.name: p for p in pieces(settings)}

    assert "s3" not in by_name
    assert by_name["mlflow"].env["MLFLOW_S3_ENDPOINT_URL"] == "https://s3.example.com"
    assert "AWS_ACCESS_KEY_ID" not in by_name["mlflow"].env  # the caller's own AWS_* apply


def _prod(folder: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "retrainer", "prod", *args],
        cwd=folder, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


@pytest.fixture
def folder(make_project) -> Path:
    config, _sim = make_project("stable", days=3)
    return Path(config).parent


def test_an_unreachable_postgres_stops_up_before_anything_starts_and_says_how_to_start_it(
    folder,
):
    # when PostgreSQL does not answer (nothing listens on port 1)
    done = _prod(folder, "up", "--postgres", "postgresql://postgres@127.0.0.1:1/postgres")

    # then up exits 2 naming it and how to start it, and no piece was started
    assert done.returncode == 2, done.stdout + done.stderr
    assert "PostgreSQL at 127.0.0.1:1 is unreachable" in done.stderr
    assert "service postgresql start" in done.stderr
    pids = folder / ".retrainer" / "prod" / "pids"
    assert not pids.exists() or not list(pids.iterdir())


def test_a_taken_port_names_the_piece_and_starts_nothing(folder, postgres_url):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        # when the S3 piece's port is held by another program
        done = _prod(folder, "up", "--postgres", postgres_url, "--prefix", "rt_taken",
                     "--s3-port", str(port))  # fmt: skip

    # then up says which piece and which port, and leaves no process behind
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"s3 (S3 (moto_server)): port 127.0.0.1:{port} is taken" in done.stderr
    status = json.loads(_prod(folder, "status", "--json").stdout)
    assert [p["running"] for p in status["pieces"]] == [False] * 6
    from retrainer.production.supervisor import drop_databases

    drop_databases(_settings(folder, postgres=postgres_url, prefix="rt_taken"))
