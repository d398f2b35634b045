"""The production stack on one machine: what runs, in which order, with which environment.

Pure: builds the plan (:class:`Piece` per process) from :class:`StackSettings`; starting,
checking and stopping the processes is :mod:`retrainer.production.supervisor`.

The pieces, in start order (a later wave needs the earlier ones healthy):

1. ``s3`` — ``moto_server``, an S3 API on loopback; it records every write to a file in
   the stack's directory and replays it when it starts again, so artifacts outlive a
   restart. ``--s3-endpoint-url`` uses another S3 instead (MinIO, ``rclone serve s3``, AWS).
2. ``prefect`` — ``prefect server start`` on PostgreSQL; ``mlflow`` — the MLflow tracking
   server on PostgreSQL, artifacts proxied to S3 (clients need only the tracking URI; only
   this process holds S3 credentials), job execution off.
3. ``worker`` — a Prefect process worker on the ``retrainer`` pool (after the deployments);
   ``webhook`` — ``retrainer webhook``; ``gateway`` — ``retrainer serve``.

The operational store lives on the same PostgreSQL (``RETRAINER_DB_URL``).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import make_url

STACK_DIR = "prod"
"""The stack's folder under the project's state directory: pids, logs, the S3 recording."""

POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
"""The default PostgreSQL server (the machine's, trust auth)."""


@dataclass(frozen=True)
class Ports:
    """The port of each server (all on ``host``)."""

    s3: int = 9000
    prefect: int = 4200
    mlflow: int = 5000
    worker: int = 8790
    webhook: int = 8787
    gateway: int = 8080


@dataclass(frozen=True)
class StackSettings:
    """What the stack is made of.

    Attributes:
        project_root: The project folder (``retrainer.yaml``); flows and servers run there.
        state_dir: The stack's own folder (``<state_dir>/prod``).
        postgres: A PostgreSQL URL of the server; the stack's databases are made on it.
        prefix: Prefix of the three database names (``<prefix>_prefect`` ...).
        host: The interface every server listens on.
        ports: The servers' ports.
        s3_endpoint_url: An S3 endpoint to use instead of starting ``moto_server``.
        bucket: The bucket MLflow's artifacts go to.
        pool: The Prefect work pool the worker serves.
        worker_limit: Flow runs the worker runs at once (others wait in the pool's queue).
        python: The interpreter of this installation.
    """

    project_root: Path
    state_dir: Path
    postgres: str = POSTGRES
    prefix: str = "retrainer"
    host: str = "127.0.0.1"
    ports: Ports = field(default_factory=Ports)
    s3_endpoint_url: str | None = None
    bucket: str = "retrainer-artifacts"
    pool: str = "retrainer"
    worker_limit: int = 4
    python: str = sys.executable

    def database(self, role: str, driver: str) -> str:
        """The URL of the stack's database for ``role`` (prefect, mlflow, store)."""
        url = make_url(self.postgres).set(drivername=driver, database=f"{self.prefix}_{role}")
        return url.render_as_string(hide_password=False)

    @property
    def databases(self) -> list[str]:
        """The names of the stack's databases."""
        return [f"{self.prefix}_{role}" for role in ("prefect", "mlflow", "store")]

    def url(self, port: int) -> str:
        """``http://host:port``."""
        return f"http://{self.host}:{port}"

    @property
    def s3_url(self) -> str:
        """The S3 endpoint the MLflow server writes to."""
        return self.s3_endpoint_url or self.url(self.ports.s3)

    @property
    def logs(self) -> Path:
        """Where each piece's output goes."""
        return self.state_dir / "logs"

    @property
    def recording(self) -> Path:
        """moto_server's record of every write (replayed at start)."""
        return self.state_dir / "s3" / "requests.jsonl"


@dataclass(frozen=True)
class Piece:
    """One process of the stack.

    Attributes:
        name: Short name (``prefect``, ``mlflow`` ...), used for its pid file and log.
        title: What it is, for people.
        argv: The command.
        env: Variables set for it on top of the stack's client environment.
        health: A URL answering 2xx once it serves.
        port: The port it listens on (checked free before it starts).
        wave: Start order: pieces of one wave start together, after the earlier waves.
    """

    name: str
    title: str
    argv: list[str]
    health: str
    port: int
    wave: int
    env: dict[str, str] = field(default_factory=dict)


def client_environment(settings: StackSettings) -> dict[str, str]:
    """What a client of the stack needs: the Prefect API, the tracking URI, the store."""
    return {
        "PREFECT_API_URL": settings.url(settings.ports.prefect) + "/api",
        "MLFLOW_TRACKING_URI": settings.url(settings.ports.mlflow),
        "RETRAINER_DB_URL": settings.database("store", "postgresql+psycopg"),
    }


S3_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "retrainer-local",
    "AWS_SECRET_ACCESS_KEY": "retrainer-local",
    "AWS_DEFAULT_REGION": "us-east-1",
}
"""moto accepts any key; a real S3 takes the caller's own ``AWS_*`` variables instead."""


def _s3(s: StackSettings) -> Piece:
    env = {
        "MOTO_ENABLE_RECORDING": "true",
        "MOTO_RECORDER_FILEPATH": str(s.recording),
        **S3_CREDENTIALS,
    }
    argv = [_bin(s, "moto_server"), "-H", s.host, "-p", str(s.ports.s3)]
    return Piece(
        "s3", "S3 (moto_server)", argv, s.url(s.ports.s3) + "/moto-api/", s.ports.s3, 0, env
    )


def _prefect(s: StackSettings) -> Piece:
    env = {
        "PREFECT_HOME": str(s.state_dir / "prefect-home"),
        "PREFECT_SERVER_DATABASE_CONNECTION_URL": s.database("prefect", "postgresql+asyncpg"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_API_URL": s.url(s.ports.prefect) + "/api",
    }
    argv = [s.python, "-m", "prefect", "server", "start", "--host", s.host, "--port",
            str(s.ports.prefect)]  # fmt: skip
    health = s.url(s.ports.prefect) + "/api/health"
    return Piece("prefect", "Prefect server", argv, health, s.ports.prefect, 1, env)


def _mlflow(s: StackSettings, own_s3: bool) -> Piece:
    env = {
        "MLFLOW_S3_ENDPOINT_URL": s.s3_url,
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
        **(S3_CREDENTIALS if own_s3 else {}),
    }
    argv = [
        s.python, "-m", "mlflow", "server", "--host", s.host, "--port", str(s.ports.mlflow),
        "--workers", "1",
        "--backend-store-uri", s.database("mlflow", "postgresql+psycopg2"),
        "--artifacts-destination", f"s3://{s.bucket}/mlflow",
    ]  # fmt: skip
    return Piece("mlflow", "MLflow tracking server", argv, s.url(s.ports.mlflow) + "/health",
                 s.ports.mlflow, 1, env)  # fmt: skip


def _worker(s: StackSettings) -> Piece:
    env = {
        "PREFECT_WORKER_WEBSERVER_HOST": s.host,
        "PREFECT_WORKER_WEBSERVER_PORT": str(s.ports.worker),
    }
    argv = [s.python, "-m", "prefect", "worker", "start", "--pool", s.pool, "--type", "process",
            "--with-healthcheck", "--limit", str(s.worker_limit)]  # fmt: skip
    return Piece("worker", "Prefect process worker", argv, s.url(s.ports.worker) + "/health",
                 s.ports.worker, 2, env)  # fmt: skip


def _webhook(s: StackSettings) -> Piece:
    argv = [s.python, "-m", "retrainer", "webhook", "--host", s.host, "--port",
            str(s.ports.webhook)]  # fmt: skip
    return Piece("webhook", "webhook receiver", argv, s.url(s.ports.webhook) + "/health",
                 s.ports.webhook, 2)  # fmt: skip


def _gateway(s: StackSettings) -> Piece:
    argv = [s.python, "-m", "retrainer", "serve", "--host", s.host, "--port",
            str(s.ports.gateway)]  # fmt: skip
    return Piece("gateway", "serving gateway", argv, s.url(s.ports.gateway) + "/health",
                 s.ports.gateway, 2)  # fmt: skip


def pieces(settings: StackSettings) -> list[Piece]:
    """The stack's processes in start order (S3 only when no endpoint is given)."""
    own_s3 = settings.s3_endpoint_url is None
    plan = [_s3(settings)] if own_s3 else []
    plan += [_prefect(settings), _mlflow(settings, own_s3)]
    return [*plan, _worker(settings), _webhook(settings), _gateway(settings)]


def _bin(settings: StackSettings, name: str) -> str:
    return str(Path(settings.python).parent / name)
