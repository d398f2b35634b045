"""Start, check and stop the production stack's processes (:mod:`retrainer.production.stack`).

Each piece runs in its own session (process group), its output in ``<stack>/logs/NAME.log``
and its pid, start time and command in ``<stack>/pids/NAME.json``. A piece whose recorded
process is alive (same pid and start time) is not started again, so ``up`` twice starts
one stack. ``down`` stops the pieces in reverse order with their whole process trees
(SIGTERM, then SIGKILL after a grace period) and checks none is left.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psutil

from retrainer.production.stack import Piece, StackSettings, client_environment, pieces

Say = Callable[[str], None]

WEBHOOK_SECRET_BLOCK = "retrainer-webhook-secret"
"""The Prefect Secret block ``up`` makes when ``RETRAINER_WEBHOOK_SECRET`` is not set."""

POSTGRES_HINT = (
    "start it (`sudo service postgresql start`, or `pg_ctlcluster 15 main start` on Debian)"
)
"""How to start the machine's PostgreSQL, for every message about it being unreachable."""

HEALTH_TIMEOUT_S = 180.0
STOP_GRACE_S = 20.0
LOG_TAIL = 1500


class StackError(RuntimeError):
    """A piece of the stack cannot start or stop (the message names it and its log)."""


@dataclass
class Running:
    """A recorded process of the stack, alive or not."""

    piece: str
    pid: int
    created: float
    log: str

    def process(self) -> psutil.Process | None:
        """The process when it is still the one recorded (not a reused pid), else None."""
        try:
            proc = psutil.Process(self.pid)
            if abs(proc.create_time() - self.created) > 1 or not proc.is_running():
                return None
            if proc.status() == psutil.STATUS_ZOMBIE:
                return None
            return proc
        except psutil.Error:
            return None


def _pid_file(settings: StackSettings, name: str) -> Path:
    return settings.state_dir / "pids" / f"{name}.json"


def recorded(settings: StackSettings, name: str) -> Running | None:
    """The recorded process of piece ``name``, if there is a record."""
    path = _pid_file(settings, name)
    try:
        return Running(**json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None


def alive(settings: StackSettings, name: str) -> psutil.Process | None:
    """The running process of piece ``name``, or None."""
    record = recorded(settings, name)
    return record.process() if record else None


def healthy(url: str, timeout: float = 3.0) -> bool:
    """Whether ``url`` answers 2xx."""
    try:
        return httpx.get(url, timeout=timeout).is_success
    except httpx.HTTPError:
        return False


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def tail(path: Path | str, chars: int = LOG_TAIL) -> str:
    """The end of a log file ('' when there is none)."""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return text[-chars:]


_OWNED = {"PREFECT_API_URL", "PREFECT_API_KEY", "PREFECT_PROFILE", "MLFLOW_TRACKING_URI",
          "MLFLOW_REGISTRY_URI", "RETRAINER_DB_URL"}  # fmt: skip
"""The caller's variables the stack sets itself (a Cloud key or another server's URL)."""


def environment(settings: StackSettings, piece: Piece | None = None) -> dict[str, str]:
    """A piece's environment (or a set-up step's): the caller's, the stack's, the piece's own."""
    keep = {k: v for k, v in os.environ.items() if k not in _OWNED}
    extra = {"RETRAINER_PROJECT_DIR": str(settings.project_root)}
    return {**keep, **client_environment(settings), **extra, **(piece.env if piece else {})}


def _launch(settings: StackSettings, piece: Piece, env: dict[str, str]) -> Running:
    if not _port_free(settings.host, piece.port):
        raise StackError(
            f"{piece.name} ({piece.title}): port {settings.host}:{piece.port} is taken by "
            "another process; stop it or choose another port"
        )
    settings.logs.mkdir(parents=True, exist_ok=True)
    settings.recording.parent.mkdir(parents=True, exist_ok=True)
    log = settings.logs / f"{piece.name}.log"
    with log.open("ab") as out:
        out.write(f"\n--- {datetime.now(UTC).isoformat()} {' '.join(piece.argv)}\n".encode())
        out.flush()
        proc = subprocess.Popen(
            piece.argv, cwd=settings.project_root, env=env, stdout=out,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
    record = Running(piece.name, proc.pid, psutil.Process(proc.pid).create_time(), str(log))
    path = _pid_file(settings, piece.name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record.__dict__), encoding="utf-8")
    return record


def _wait_healthy(started: list[tuple[Piece, Running]], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    waiting = list(started)
    while waiting:
        for piece, record in list(waiting):
            if record.process() is None:
                raise StackError(
                    f"{piece.name} ({piece.title}) exited during start-up; its log "
                    f"{record.log} ends with:\n{tail(record.log)}"
                )
            if healthy(piece.health):
                waiting.remove((piece, record))
        if waiting and time.monotonic() > deadline:
            names = ", ".join(f"{p.name} ({p.health})" for p, _ in waiting)
            logs = "\n".join(f"{r.log}:\n{tail(r.log)}" for _, r in waiting)
            raise StackError(f"not healthy after {timeout:.0f} s: {names}\n{logs}")
        if waiting:
            time.sleep(0.5)


def check_postgres(settings: StackSettings) -> None:
    """Connect to the PostgreSQL server, or raise saying how to start it."""
    import psycopg

    try:
        psycopg.connect(_libpq(settings.postgres), connect_timeout=5).close()
    except psycopg.Error as exc:
        raise StackError(
            f"PostgreSQL at {_where(settings.postgres)} is unreachable ({str(exc).strip()}): "
            f"{POSTGRES_HINT}, or pass --postgres URL of a server this user can create "
            "databases on"
        ) from None


def ensure_databases(settings: StackSettings) -> list[str]:
    """Create the stack's databases that do not exist; returns the ones made."""
    import psycopg

    made = []
    with psycopg.connect(_libpq(settings.postgres), autocommit=True) as conn:
        for name in settings.databases:
            found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if found.fetchone() is None:
                conn.execute(f'CREATE DATABASE "{name}"')
                made.append(name)
    return made


def drop_databases(settings: StackSettings) -> list[str]:
    """Drop the stack's databases (``down --purge``); returns the ones dropped."""
    import psycopg

    dropped = []
    with psycopg.connect(_libpq(settings.postgres), autocommit=True) as conn:
        for name in settings.databases:
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
                conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
                dropped.append(name)
    return dropped


def _libpq(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _where(url: str) -> str:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    return f"{parsed.host or 'localhost'}:{parsed.port or 5432}"


def _wave(settings: StackSettings, wave: list[Piece], env_of: Callable, say: Say) -> list:
    """Start the pieces of one wave that are not running; wait until all are healthy."""
    started = []
    for piece in wave:
        if alive(settings, piece.name):
            say(f"{piece.name}: already running ({piece.title}, {piece.health})")
            continue
        try:
            started.append((piece, _launch(settings, piece, env_of(piece))))
        except Exception:
            _stop_all(started)
            raise
    try:
        _wait_healthy(started, HEALTH_TIMEOUT_S)
    except Exception:
        _stop_all(started)
        raise
    for piece, record in started:
        say(f"{piece.name}: started, pid {record.pid} ({piece.title}, {piece.health})")
    return started


def up(settings: StackSettings, say: Say = print, deploy: bool = True) -> dict[str, Any]:
    """Start every piece that is not running, in waves, each healthy before the next.

    Returns:
        ``{"started": [...], "running": [...], "env": {...}}``.

    Raises:
        StackError: PostgreSQL is unreachable, a port is taken, a piece exits or is not
            healthy in time (the pieces this call started are stopped again), or a set-up
            step fails.
    """
    plan = pieces(settings)
    if all(alive(settings, p.name) for p in plan) and all(healthy(p.health) for p in plan):
        say("the stack is already running: nothing started")
        return {
            "started": [],
            "running": [p.name for p in plan],
            "env": shell_environment(settings),
        }
    check_postgres(settings)
    made = ensure_databases(settings)
    if made:
        say(f"postgres: created {', '.join(made)} on {_where(settings.postgres)}")
    started: list[tuple[Piece, Running]] = []
    extra: dict[str, dict[str, str]] = {}
    try:
        for wave in sorted({p.wave for p in plan}):
            if wave == 2:
                extra["webhook"] = _prepare_apps(settings, say, deploy)
            members = [p for p in plan if p.wave == wave]
            started += _wave(
                settings,
                members,
                lambda piece: {**environment(settings, piece), **extra.get(piece.name, {})},
                say,
            )
            if wave == 0 and settings.s3_endpoint_url is None:
                _prepare_s3(settings, say)
    except Exception:
        _stop_all(started)
        raise
    return {
        "started": [p.name for p, _ in started],
        "running": [p.name for p in plan],
        "env": shell_environment(settings),
    }


def shell_environment(settings: StackSettings) -> dict[str, str]:
    """What a shell (or a client process) sets to use the stack (``retrainer prod env``)."""
    return {**client_environment(settings), "RETRAINER_PROJECT_DIR": str(settings.project_root)}


def _prepare_s3(settings: StackSettings, say: Say) -> None:
    """Replay moto's recording (the objects of earlier runs) and make the bucket."""
    import boto3

    from retrainer.production.stack import S3_CREDENTIALS

    base = settings.url(settings.ports.s3)
    writes = _recorded_writes(settings.recording)
    if writes:
        httpx.post(f"{base}/moto-api/recorder/replay-recording", timeout=600).raise_for_status()
        say(f"s3: replayed {writes:,} recorded writes ({settings.recording})")
    client = boto3.client(
        "s3",
        endpoint_url=base,
        aws_access_key_id=S3_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=S3_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        region_name=S3_CREDENTIALS["AWS_DEFAULT_REGION"],
    )
    if settings.bucket not in {b["Name"] for b in client.list_buckets().get("Buckets", [])}:
        client.create_bucket(Bucket=settings.bucket)
        say(f"s3: created bucket {settings.bucket}")


def _recorded_writes(path: Path) -> int:
    try:
        with path.open(encoding="utf-8") as lines:
            return sum(1 for line in lines if '"method": "GET"' not in line)
    except OSError:
        return 0


def _prepare_apps(settings: StackSettings, say: Say, deploy: bool) -> dict[str, str]:
    """Migrate the store, make the work pool, deploy, and find the webhook secret."""
    from retrainer.store import Store

    Store.from_url(settings.database("store", "postgresql+psycopg"))
    say("store: migrated (RETRAINER_DB_URL)")
    env = environment(settings)
    _step(settings, ["-m", "prefect", "work-pool", "create", settings.pool, "--type", "process",
                     "--overwrite"], env, "work pool")  # fmt: skip
    if deploy:
        _step(settings, ["-m", "retrainer", "deploy", "."], env, "deployments")
        say(f"prefect: deployed prefect.yaml to the {settings.pool!r} pool (retrainer deploy)")
    return _webhook_secret(settings, say)


def _step(settings: StackSettings, args: list[str], env: dict[str, str], what: str) -> None:
    done = subprocess.run(
        [settings.python, *args], cwd=settings.project_root, env=env, capture_output=True,
        text=True, check=False, timeout=600,
    )  # fmt: skip
    if done.returncode != 0:
        output = (done.stdout + done.stderr)[-LOG_TAIL:]
        raise StackError(
            f"{what}: `{' '.join(args[1:])}` failed (exit {done.returncode}):\n{output}"
        )


def _webhook_secret(settings: StackSettings, say: Say) -> dict[str, str]:
    """``$RETRAINER_WEBHOOK_SECRET`` when set, else a Secret block on the stack's server."""
    if os.environ.get("RETRAINER_WEBHOOK_SECRET") or os.environ.get(
        "RETRAINER_WEBHOOK_SECRET_BLOCK"
    ):
        return {}
    from prefect.blocks.system import Secret
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(
        updates={PREFECT_API_URL: shell_environment(settings)["PREFECT_API_URL"]}
    ):
        try:
            Secret.load(WEBHOOK_SECRET_BLOCK)
        except ValueError:
            Secret(value=secrets.token_urlsafe(32)).save(WEBHOOK_SECRET_BLOCK)
            say(f"webhook: made the signing secret, Prefect Secret block {WEBHOOK_SECRET_BLOCK!r}")
    return {"RETRAINER_WEBHOOK_SECRET_BLOCK": WEBHOOK_SECRET_BLOCK}


def _tree(proc: psutil.Process) -> list[psutil.Process]:
    try:
        return [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return [proc]


def _stop(record: Running, grace: float = STOP_GRACE_S) -> list[int]:
    """Stop a recorded process and everything it started; returns pids still alive."""
    proc = record.process()
    if proc is None:
        return []
    family = _tree(proc)
    with contextlib.suppress(OSError):
        os.killpg(proc.pid, signal.SIGTERM)  # its session: the piece's own children
    for member in family:
        with contextlib.suppress(psutil.Error):
            member.terminate()
    _gone, left = psutil.wait_procs(family, timeout=grace)
    for member in left:
        with contextlib.suppress(psutil.Error):
            member.kill()
    _gone, left = psutil.wait_procs(left, timeout=5)
    return [p.pid for p in left]


def _stop_all(started: list[tuple[Piece, Running]]) -> None:
    for piece, record in reversed(started):
        _stop(record)
        Path(record.log).parent.parent.joinpath("pids", f"{piece.name}.json").unlink(
            missing_ok=True
        )


def down(settings: StackSettings, say: Say = print, purge: bool = False) -> dict[str, Any]:
    """Stop every piece (reverse start order) with its process tree.

    Args:
        settings: The stack.
        say: Where progress lines go.
        purge: Also drop the stack's databases and moto's recording.

    Raises:
        StackError: A process survived SIGKILL.
    """
    stopped, left = [], []
    for piece in reversed(pieces(settings)):
        record = recorded(settings, piece.name)
        if record is None or record.process() is None:
            _pid_file(settings, piece.name).unlink(missing_ok=True)
            continue
        left += _stop(record)
        _pid_file(settings, piece.name).unlink(missing_ok=True)
        stopped.append(piece.name)
        say(f"{piece.name}: stopped (pid {record.pid})")
    if not stopped:
        say("the stack is not running: nothing to stop")
    if left:
        raise StackError(f"processes still alive after SIGKILL: {left}")
    dropped: list[str] = []
    if purge:
        settings.recording.unlink(missing_ok=True)
        check_postgres(settings)
        dropped = drop_databases(settings)
        say(f"purged: {', '.join(dropped) or 'no databases'} and the S3 recording")
    return {"stopped": stopped, "dropped": dropped}


def status(settings: StackSettings) -> list[dict[str, Any]]:
    """Each piece: running or not, its pid, URL, health and log."""
    rows = []
    for piece in pieces(settings):
        proc = alive(settings, piece.name)
        rows.append(
            {
                "piece": piece.name,
                "title": piece.title,
                "running": proc is not None,
                "pid": proc.pid if proc else None,
                "healthy": proc is not None and healthy(piece.health),
                "url": piece.health,
                "log": str(settings.logs / f"{piece.name}.log"),
            }
        )
    return rows


def processes(settings: StackSettings, names: Iterable[str] | None = None) -> list[int]:
    """Pids of the stack's running processes and their children (for checks)."""
    pids = []
    for piece in pieces(settings):
        if names is not None and piece.name not in names:
            continue
        proc = alive(settings, piece.name)
        if proc is not None:
            pids += [p.pid for p in _tree(proc)]
    return pids
