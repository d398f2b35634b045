"""Shared fixtures: one Prefect test harness per run, a loopback moto S3 server, projects.

Services the user may lack (PostgreSQL) skip with a visible reason when unreachable, unless
``RETRAINER_REQUIRE_SERVICES=1`` (set by ``.ci/run``), which turns the skip into a failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support import ProjectFactory, free_port, port_open

REPO_ROOT = Path(__file__).resolve().parents[1]

# Keep MLflow from creating ./mlflow.db anywhere and tools from phoning home.
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.pop("MLFLOW_TRACKING_URI", None)
# One OpenMP thread: on a busy 2-core machine oversubscribed boosting is ~10x slower.
os.environ.setdefault("OMP_NUM_THREADS", "1")
# Local CLI/flow runs in tests go to the harness' API; keep Prefect quiet and offline.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Long modules first (stable): ``--dist loadfile`` hands whole modules to the workers,
    and a long one picked up last would leave the other worker idle at the end.

    ``make test`` passes ``--no-loadscope-reorder``: by default xdist reorders the modules by
    their number of tests, which put the integration module (few tests, the longest) last.
    """
    items.sort(
        key=lambda item: (
            item.get_closest_marker("long") is None,
            "/integration/" not in str(item.path),  # the longest module: first of all
        )
    )


def services_required() -> bool:
    """Whether an unreachable service must fail the run instead of skipping."""
    return os.environ.get("RETRAINER_REQUIRE_SERVICES", "") not in ("", "0", "false")


def need_service(name: str, reason: str) -> None:
    """Skip (or fail under RETRAINER_REQUIRE_SERVICES=1) because ``name`` is unavailable."""
    message = f"{name} unavailable: {reason}"
    if services_required():
        pytest.fail(f"{message} (RETRAINER_REQUIRE_SERVICES=1)")
    pytest.skip(message)


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


def _postgres_driver() -> str | None:
    """psycopg 3 (what the ``postgres`` extra installs), else psycopg2, else None."""
    import importlib.util

    for module, driver in (("psycopg", "psycopg"), ("psycopg2", "psycopg2")):
        if importlib.util.find_spec(module) is not None:
            return driver
    return None


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """A PostgreSQL URL on 127.0.0.1:5432 (user postgres, trust auth)."""
    if not port_open("127.0.0.1", 5432):
        from retrainer.production.supervisor import POSTGRES_HINT

        need_service("PostgreSQL", f"nothing listens on 127.0.0.1:5432; {POSTGRES_HINT}")
    driver = _postgres_driver()
    if driver is None:
        need_service("PostgreSQL", "no driver installed (pip install 'retrainer[postgres]')")
    return f"postgresql+{driver}://postgres@127.0.0.1:5432/postgres"


@pytest.fixture(scope="module")
def postgres_database(request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh database ``retrainer_test_<random>`` for one test module, dropped afterwards."""
    import uuid

    import sqlalchemy as sa

    server = request.getfixturevalue("postgres_url")
    name = f"retrainer_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        yield server.rsplit("/", 1)[0] + f"/{name}"
    finally:
        from retrainer.store import forget_stores

        forget_stores()  # close pooled connections so the database can be dropped
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """An empty operational store database: a SQLite file, or a fresh PostgreSQL database.

    Tests that take it run once per backend (PostgreSQL skips, or fails under
    ``RETRAINER_REQUIRE_SERVICES=1``, when unreachable).
    """
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('store')}/retrainer.db"
    return request.getfixturevalue("postgres_database")


@pytest.fixture(scope="module")
def store(store_url: str) -> Any:
    """The :class:`retrainer.store.Store` at ``store_url``, migrated; shared by a module."""
    from retrainer.store import Store

    return Store.from_url(store_url)


@pytest.fixture
def make_project(tmp_path: Path) -> ProjectFactory:
    """Build a project with simulated data: ``path, sim = make_project("concept_sudden")``."""
    return ProjectFactory(tmp_path)


@dataclass
class CliResult:
    """What a CLI run printed and returned."""

    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        """stdout parsed as one JSON document."""
        import json

        return json.loads(self.stdout)


@pytest.fixture
def run_cli(prefect_api: str) -> Callable[..., CliResult]:
    """Run ``retrainer ARGS`` in a subprocess against the test Prefect API, as a user would.

    (In-process runners would share Prefect's log handlers across invocations.)
    """

    def _run(
        *args: str, cwd: Path | None = None, timeout: float = 600, **env: str | None
    ) -> CliResult:
        """``env`` adds variables; a None value removes one (e.g. PREFECT_API_URL=None runs
        on Prefect's ephemeral API, the local default)."""
        # a CLI run must not inherit another test's MLflow store (pass one to use it)
        store = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "MLFLOW_EXPERIMENT_ID")
        inherited = {k: v for k, v in os.environ.items() if k not in store}
        environment = {**inherited, "PREFECT_API_URL": prefect_api, **env}
        environment = {k: v for k, v in environment.items() if v is not None}
        completed = subprocess.run(
            [sys.executable, "-m", "retrainer", *args],
            cwd=cwd,
            env=environment,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        return CliResult(completed.returncode, completed.stdout, completed.stderr)

    return _run
