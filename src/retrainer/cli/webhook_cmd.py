"""``retrainer webhook``: the monitoring-webhook receiver, and ``webhook sign`` for senders.

The receiver (:func:`retrainer.webhooks.create_app`) runs under uvicorn. It takes its secret
from ``RETRAINER_WEBHOOK_SECRET`` or a Prefect Secret block, sends events to the shared
Prefect API (``PREFECT_API_URL``, plus ``PREFECT_API_KEY`` for Prefect Cloud) and keeps used
signatures in the project's operational store, so receivers sharing a store refuse a replay.
Prefect is imported here only, never by :mod:`retrainer.webhooks`.
"""

from __future__ import annotations

import functools
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from retrainer.cli._common import (
    ConfigOption,
    JsonOption,
    fail_usage,
    listen_socket,
    load_project,
    log_warnings_to_stderr,
    out_console,
    print_json,
)
from retrainer.webhooks.app import DEFAULT_MAX_BODY_BYTES

SECRET_ENV = "RETRAINER_WEBHOOK_SECRET"
SECRET_BLOCK_ENV = "RETRAINER_WEBHOOK_SECRET_BLOCK"

webhook_app = typer.Typer(name="webhook")

SecretBlockOption = Annotated[
    str | None,
    typer.Option(
        "--secret-block",
        envvar=SECRET_BLOCK_ENV,
        help=f"Prefect Secret block holding the signing secret (instead of ${SECRET_ENV}).",
        show_default=False,
    ),
]


@dataclass(frozen=True)
class PrefectApi:
    """Where the events go."""

    url: str
    key: str | None
    auth_string: str | None = None


@dataclass(frozen=True)
class SigningSecret:
    """The shared secret and where it came from (the origin is safe to print)."""

    value: str
    origin: str


def _prefect_api(as_json: bool = False) -> PrefectApi:
    """The shared Prefect API (environment or active profile), or exit 2 without one."""
    from prefect.settings import get_current_settings

    settings = get_current_settings()
    url = settings.api.url
    key = settings.api.key.get_secret_value() if settings.api.key else None
    if not url:
        fail_usage(
            "the receiver needs a shared Prefect API: set PREFECT_API_URL to a Prefect server "
            "(http://HOST:4200/api) or a Prefect Cloud workspace (with PREFECT_API_KEY); on an "
            "ephemeral API no automation would see the events",
            as_json=as_json,
        )
    if url.startswith(settings.cloud.api_url) and not key:
        fail_usage(
            "PREFECT_API_URL is a Prefect Cloud workspace but PREFECT_API_KEY is not set",
            as_json=as_json,
        )
    auth = settings.api.auth_string.get_secret_value() if settings.api.auth_string else None
    return PrefectApi(url, key, auth)


def _load_block(name: str, api: PrefectApi, as_json: bool) -> str:
    """The string in Prefect Secret block ``name``, or exit 2 naming the block."""
    from prefect.blocks.system import Secret

    try:
        block = Secret.load(name)
    except Exception as exc:  # not found (ValueError), bad name, API unreachable (httpx)
        fail_usage(
            f"--secret-block {name!r}: cannot load it from {api.url}: {exc}", as_json=as_json
        )
    # the raw value: Secret.get() parses JSON, which would turn a secret of digits into a number
    value = block.value.get_secret_value()
    if not isinstance(value, str) or not value:
        fail_usage(f"--secret-block {name!r}: the block holds no text secret", as_json=as_json)
    return value


def _secret(
    block: str | None, api: Callable[[], PrefectApi], as_json: bool = False
) -> SigningSecret:
    """The signing secret from the environment or a Secret block, or exit 2 saying how.

    Args:
        block: The Secret block's name (``--secret-block``), if any.
        api: The Prefect API the block is read from (asked only for a block).
        as_json: Print the error document on stdout too (``--json``).
    """
    env = os.environ.get(SECRET_ENV)
    if env and block:
        fail_usage(
            f"both ${SECRET_ENV} and a secret block ({block!r}) are set: give one", as_json=as_json
        )
    if env:
        return SigningSecret(env, f"${SECRET_ENV}")
    if block:
        value = _load_block(block, api(), as_json)
        return SigningSecret(value, f"Prefect Secret block {block!r}")
    fail_usage(
        f"no webhook secret: set {SECRET_ENV}, or name a Prefect Secret block with "
        f"--secret-block NAME (or {SECRET_BLOCK_ENV})",
        as_json=as_json,
    )


def serve(
    ctx: typer.Context,
    config: ConfigOption = None,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (0: any free port).", min=0)] = 8787,
    max_body_bytes: Annotated[
        int, typer.Option(help="Larger request bodies are refused with 413.", min=1)
    ] = DEFAULT_MAX_BODY_BYTES,
    secret_block: SecretBlockOption = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Show uvicorn's logs and every request.")
    ] = False,
) -> None:
    """Serve the webhook receiver: monitoring alerts in, retrainer.alert.received events out.

    Listens for POST /hooks/{generic,grafana,monitor} (signed) and GET /health, for the
    project's model, until stopped (Ctrl-C or SIGTERM).

    The secret comes from $RETRAINER_WEBHOOK_SECRET or --secret-block; events go to
    PREFECT_API_URL (with PREFECT_API_KEY for Prefect Cloud); used signatures are kept in the
    project's operational store. Exits 2 before listening when any of these is missing.
    """
    if ctx.invoked_subcommand is not None:
        return
    import uvicorn

    from retrainer.store import StoreError, open_store
    from retrainer.webhooks import PrefectEventsEmitter, create_app
    from retrainer.webhooks.mappings import MAPPINGS

    project = load_project(config)
    prefect_api = functools.cache(_prefect_api)
    secret = _secret(secret_block, prefect_api)
    api = prefect_api()
    try:
        store = open_store(project)
    except StoreError as exc:
        fail_usage(str(exc))
    model = project.config.model.name
    app = create_app(
        model=model,
        secret=secret.value,
        emitter=PrefectEventsEmitter(api.url, api.key, auth_string=api.auth_string),
        replay=store.webhook_deliveries,
        max_body_bytes=max_body_bytes,
    )
    sock = listen_socket(host, port)
    shown = f"[{host}]" if ":" in host else host
    said = (
        f"webhook receiver for {model} on http://{shown}:{sock.getsockname()[1]}: "
        f"POST /hooks/{{{','.join(MAPPINGS)}}}, GET /health; secret from {secret.origin}; "
        f"events to {api.url}; replay store {store.url} (Ctrl-C to stop)"
    )
    out_console(False).print(said, markup=False, highlight=False)
    sys.stdout.flush()
    log_warnings_to_stderr("retrainer.webhooks")  # e.g. events the Prefect API refused
    level = "info" if verbose else "warning"
    server = uvicorn.Server(uvicorn.Config(app, log_level=level, access_log=verbose))
    server.run(sockets=[sock])


def sign(
    body: Annotated[
        str, typer.Option("--body", help="The exact request body to send: a FILE, or - for stdin.")
    ],
    secret_block: SecretBlockOption = None,
    as_json: JsonOption = False,
) -> None:
    """Print the two headers that sign BODY now (valid for 5 minutes), one per line.

    Send the body byte for byte, e.g. `curl -H @headers.txt --data-binary @alert.json URL`.
    """
    from retrainer.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER
    from retrainer.webhooks import sign as signature_of

    raw = _read_body(body, as_json)
    secret = _secret(secret_block, lambda: _prefect_api(as_json), as_json)
    stamp = str(int(time.time()))
    headers = {TIMESTAMP_HEADER: stamp, SIGNATURE_HEADER: signature_of(secret.value, stamp, raw)}
    if as_json:
        print_json({"ok": True, "headers": headers, "bytes": len(raw)})
        return
    for name, value in headers.items():
        sys.stdout.write(f"{name}: {value}\n")


def _read_body(body: str, as_json: bool) -> bytes:
    if body == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(body).read_bytes()
    except OSError as exc:
        fail_usage(f"--body {body}: {exc.strerror or exc}", as_json=as_json)


def register(app: typer.Typer) -> None:
    """Add the ``webhook`` group (serves by default) to the main app."""
    webhook_app.callback(invoke_without_command=True)(serve)
    webhook_app.command("sign")(sign)
    app.add_typer(webhook_app, name="webhook")
