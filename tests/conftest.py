"""Shared fixtures: one Prefect test harness per run, a loopback moto S3 server, projects.

Services the user may lack (PostgreSQL) skip with a visible reason when unreachable, unless
``RETRAINER_REQUIRE_SERVICES=1`` (set by ``.ci/run``), which turns the skip into a failure.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]

# Keep MLflow from creating ./mlflow.db anywhere and tools from phoning home.
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.pop("MLFLOW_TRACKING_URI", None)


def services_required() -> bool:
    """Whether an unreachable service must fail the run instead of skipping."""
    return os.environ.get("RETRAINER_REQUIRE_SERVICES", "") not in ("", "0", "false")


def need_service(name: str, reason: str) -> None:
    """Skip (or fail under RETRAINER_REQUIRE_SERVICES=1) because ``name`` is unavailable."""
    message = f"{name} unavailable: {reason}"
    if services_required():
        pytest.fail(f"{message} (RETRAINER_REQUIRE_SERVICES=1)")
    pytest.skip(message)


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """Whether something listens on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def prefect_api() -> Iterator[str]:
    """A real Prefect API (subprocess server on a temporary SQLite DB) for the whole run."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        from prefect.settings import PREFECT_API_URL

        yield str(PREFECT_API_URL.value())


@pytest.fixture(scope="session")
def moto_s3() -> Iterator[str]:
    """A real S3-compatible HTTP server (moto_server) on 127.0.0.1; yields its endpoint URL."""
    executable = shutil.which("moto_server", path=str(Path(sys.executable).parent)) or shutil.which(
        "moto_server"
    )
    if executable is None:
        need_service("moto_server", "moto[server] is not installed")
    port = free_port()
    process = subprocess.Popen(
        [executable, "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while not port_open("127.0.0.1", port):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            need_service("moto_server", "did not start on 127.0.0.1")
        time.sleep(0.1)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture
def s3_env(moto_s3: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Environment pointing boto3 at the moto server with throwaway credentials."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_s3)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return moto_s3


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """A PostgreSQL URL on 127.0.0.1:5432 (user postgres, trust auth)."""
    if not port_open("127.0.0.1", 5432):
        need_service("PostgreSQL", "nothing listens on 127.0.0.1:5432")
    return "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
