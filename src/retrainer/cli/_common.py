"""Shared CLI plumbing: options, exit codes, JSON output, config loading."""

from __future__ import annotations

import json
import logging
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import IntEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console

from retrainer.config import ConfigError
from retrainer.project import Project


class ExitCode(IntEnum):
    """Exit codes every reporting command follows."""

    OK = 0
    FINDING = 1  # invalid batch, drift, degraded performance, failed gate
    USAGE = 2  # bad arguments or config


# Human output goes to stderr when --json is on, so stdout holds exactly one JSON document.
console = Console(stderr=False, highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="Config file (default: retrainer.yaml in this directory or the nearest parent).",
        show_default=False,
    ),
]
HtmlOption = Annotated[
    Path | None,
    typer.Option("--html", help="Also write the HTML report to FILE.", show_default=False),
]
EndpointOption = Annotated[
    str | None,
    typer.Option(
        "--s3-endpoint-url",
        help="S3 endpoint (MinIO, moto); default: AWS_ENDPOINT_URL.",
        show_default=False,
    ),
]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print one JSON document on stdout instead of text.")
]


def error_document(message: str, problems: list[dict[str, str]] | None = None) -> dict[str, Any]:
    """The JSON document a command prints on stdout under ``--json`` when it cannot run."""
    return {"ok": False, "error": message, "problems": problems or []}


def fail_usage(message: str, *, as_json: bool = False) -> NoReturn:
    """Print a usage/config error and exit 2.

    Args:
        message: One line saying what is wrong.
        as_json: Also print ``{"ok": false, "error": ...}`` on stdout (``--json``), so stdout
            always holds one JSON document.
    """
    err_console.print(f"[red]error:[/red] {message}", markup=True, highlight=False)
    if as_json:
        print_json(error_document(message))
    raise typer.Exit(ExitCode.USAGE)


def fail_config(exc: ConfigError, *, as_json: bool = False) -> NoReturn:
    """Print every problem of an invalid config (one line each) and exit 2.

    Under ``--json`` stdout also gets ``{"ok": false, "error": ..., "problems": [{"field":
    ..., "message": ...}]}``.
    """
    lines = exc.lines()
    for line in lines:
        err_console.print(f"error: {line}", markup=False, highlight=False)
    if as_json:
        summary = lines[0] if len(lines) == 1 else f"{exc.path}: {len(lines)} config problems"
        print_json(error_document(summary, [p.to_dict() for p in exc.problems]))
    raise typer.Exit(ExitCode.USAGE)


def load_project(config: Path | None, *, as_json: bool = False) -> Project:
    """Load the project or exit 2 with one line per config problem (and JSON under --json)."""
    try:
        return Project.load(config)
    except ConfigError as exc:
        fail_config(exc, as_json=as_json)


def out_console(as_json: bool) -> Console:
    """Where human-readable progress goes: stderr under --json, else stdout."""
    return err_console if as_json else console


def print_json(document: Any) -> None:
    """Write one JSON document to stdout."""
    sys.stdout.write(json.dumps(document, indent=2, default=str, sort_keys=False) + "\n")
    sys.stdout.flush()


@contextmanager
def storage_errors_exit_2(where: str, *, as_json: bool = False) -> Iterator[None]:
    """Turn a storage failure (local or S3: credentials, endpoint, bucket) into exit 2.

    Args:
        where: What was being read or written, e.g. ``--out s3://bucket/data``.
        as_json: Print the error document on stdout (``--json``).
    """
    from retrainer.data import StorageError

    try:
        yield
    except (StorageError, OSError) as exc:
        fail_usage(f"{where}: {exc}", as_json=as_json)
    except Exception as exc:  # boto3/botocore errors: credentials, endpoint, bucket
        if type(exc).__module__.split(".")[0] not in ("botocore", "boto3"):
            raise
        fail_usage(f"{where}: {exc}", as_json=as_json)


def who(by: str | None) -> str:
    """Who runs the command, for the records: ``--by``, else the login name, else ``cli``."""
    import getpass

    if by:
        return by
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name (containers without a passwd entry)
        return "cli"


def listen_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` for uvicorn, or exit 2 saying why not.

    Made with ``IPPROTO_TCP`` and ``TCP_NODELAY``: asyncio turns Nagle's algorithm off only on
    connections of a socket whose protocol says TCP, and with it on every small answer
    waits for the client's delayed ACK (~40 ms).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        fail_usage(f"cannot listen on {host}:{port}: {exc.strerror or exc}")
    return sock


def log_warnings_to_stderr(logger_name: str) -> None:
    """Show a server's warnings (``logger_name`` and below) on stderr, with a timestamp."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger(logger_name)
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING)


@contextmanager
def console_logs_to(path: Path) -> Iterator[Path]:
    """Send the log handlers that write to stderr (Prefect's console among them) to ``path``.

    For a command whose story is on stdout and stderr (progress bars) while a flow run it
    starts logs behind it; restored afterwards.
    """
    from retrainer.progress import _log_handlers_on, _set_stream

    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as log:
        moved = _log_handlers_on(sys.stderr)
        for handler in moved:
            _set_stream(handler, log)
        try:
            yield path
        finally:
            for handler in moved:
                _set_stream(handler, sys.stderr)
