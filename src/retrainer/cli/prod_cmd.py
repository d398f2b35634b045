"""``retrainer prod up|down|status|env``: the production stack on this machine.

``up`` remembers its settings in ``<state_dir>/prod/stack.json``; ``down``, ``status`` and
``env`` read them, so they act on the stack that was started.
"""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from pathlib import Path
from typing import Annotated, Any

import typer

from retrainer.cli._common import (
    ConfigOption,
    ExitCode,
    JsonOption,
    fail_usage,
    load_project,
    out_console,
    print_json,
)
from retrainer.production.stack import POSTGRES, STACK_DIR, Ports, StackSettings

SETTINGS_FILE = "stack.json"

prod_app = typer.Typer(
    help="The production stack on this machine: Prefect server and MLflow server on "
    "PostgreSQL, S3 artifacts, the store, a worker, the webhook receiver and the gateway.",
    no_args_is_help=True,
)


def _stack_dir(config: Path | None) -> tuple[Path, Path]:
    project = load_project(config)
    return project.root, project.state_dir / STACK_DIR


def _saved(config: Path | None) -> StackSettings:
    root, folder = _stack_dir(config)
    try:
        data = json.loads((folder / SETTINGS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return StackSettings(project_root=root, state_dir=folder)
    data["ports"] = Ports(**data["ports"])
    data["project_root"], data["state_dir"] = Path(data["project_root"]), Path(data["state_dir"])
    return StackSettings(**data)


def _save(settings: StackSettings) -> None:
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    document = asdict(settings)
    document["project_root"], document["state_dir"] = (
        str(settings.project_root),
        str(settings.state_dir),
    )
    (settings.state_dir / SETTINGS_FILE).write_text(json.dumps(document, indent=2) + "\n")


def _port(name: str) -> Any:
    default = getattr(Ports(), name)
    return typer.Option(
        f"--{name}-port",
        help=f"Port of the {name} piece (default: {default}, or what the last `up` used).",
        min=1,
        max=65535,
        show_default=False,
    )


@prod_app.command("up")
def up(
    config: ConfigOption = None,
    postgres: Annotated[
        str | None,
        typer.Option(
            envvar="RETRAINER_PROD_POSTGRES",
            help="PostgreSQL server the stack's databases are made on (user may CREATE DATABASE)"
            f"; default: {POSTGRES}, or what the last `up` used.",
            show_default=False,
        ),
    ] = None,
    prefix: Annotated[
        str | None,
        typer.Option(
            help="Prefix of the database names: PREFIX_prefect, _mlflow, _store "
            "(default: retrainer).",
            show_default=False,
        ),
    ] = None,
    s3_endpoint_url: Annotated[
        str | None,
        typer.Option(
            "--s3-endpoint-url",
            help="Use this S3 (MinIO, rclone serve s3, AWS; credentials from AWS_*) "
            "instead of starting moto_server.",
            show_default=False,
        ),
    ] = None,
    bucket: Annotated[
        str | None,
        typer.Option(
            help="Bucket of MLflow's artifacts (default: retrainer-artifacts).", show_default=False
        ),
    ] = None,
    s3_port: Annotated[int | None, _port("s3")] = None,
    prefect_port: Annotated[int | None, _port("prefect")] = None,
    mlflow_port: Annotated[int | None, _port("mlflow")] = None,
    worker_port: Annotated[int | None, _port("worker")] = None,
    webhook_port: Annotated[int | None, _port("webhook")] = None,
    gateway_port: Annotated[int | None, _port("gateway")] = None,
    worker_limit: Annotated[
        int | None,
        typer.Option(
            help="Flow runs the worker runs at once (default: 4).", min=1, show_default=False
        ),
    ] = None,
    deploy: Annotated[
        bool, typer.Option(help="Deploy prefect.yaml (retrainer deploy) before the worker starts.")
    ] = True,
    as_json: JsonOption = False,
) -> None:
    """Start the stack; pieces already running are left as they are.

    Each piece is healthy before the next wave starts; when one does not start, the message
    names it with the end of its log, and what this command started is stopped again (exit 2).
    """
    from retrainer.production.supervisor import StackError
    from retrainer.production.supervisor import up as start

    saved = _saved(config)
    given = {"s3": s3_port, "prefect": prefect_port, "mlflow": mlflow_port,
             "worker": worker_port, "webhook": webhook_port, "gateway": gateway_port}  # fmt: skip
    ports = replace(saved.ports, **{k: v for k, v in given.items() if v is not None})
    options = {"postgres": postgres, "prefix": prefix, "bucket": bucket,
               "s3_endpoint_url": s3_endpoint_url, "worker_limit": worker_limit}  # fmt: skip
    settings = replace(saved, ports=ports, **{k: v for k, v in options.items() if v is not None})
    from retrainer.production.supervisor import processes

    if settings != saved and processes(saved):
        fail_usage(
            "the stack is running with other settings: `retrainer prod down` first",
            as_json=as_json,
        )
    _save(settings)
    out = out_console(as_json)
    try:
        result = start(settings, lambda line: out.print(f"  {line}", markup=False), deploy)
    except StackError as exc:
        fail_usage(str(exc), as_json=as_json)
    if as_json:
        print_json({"ok": True, **result})
        return
    out.print("\nThe stack is up. Point a shell at it with:", markup=False)
    out.print(f'  eval "$(retrainer prod env{_config_arg(config)})"', markup=False)
    _urls(settings)


def _config_arg(config: Path | None) -> str:
    return f" -c {config}" if config else ""


def _urls(settings: StackSettings) -> None:
    p, out = settings.ports, out_console(False)
    out.print(f"  Prefect UI   {settings.url(p.prefect)}", markup=False)
    out.print(f"  MLflow UI    {settings.url(p.mlflow)}", markup=False)
    out.print(f"  gateway      {settings.url(p.gateway)}/predict", markup=False)
    out.print(f"  webhooks     {settings.url(p.webhook)}/hooks/generic", markup=False)
    out.print(f"  logs         {settings.logs}", markup=False)


@prod_app.command("down")
def down(
    config: ConfigOption = None,
    purge: Annotated[
        bool, typer.Option(help="Also drop the stack's databases and the recorded S3 objects.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Stop every piece with all its child processes (SIGTERM, then SIGKILL after 20 s)."""
    from retrainer.production.supervisor import StackError
    from retrainer.production.supervisor import down as stop

    settings = _saved(config)
    out = out_console(as_json)
    try:
        result = stop(settings, lambda line: out.print(f"  {line}", markup=False), purge)
    except StackError as exc:
        fail_usage(str(exc), as_json=as_json)
    if as_json:
        print_json({"ok": True, **result})


@prod_app.command("status")
def status(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Each piece: running, pid, healthy, URL, log. Exit 1 when a piece is down or unhealthy."""
    from rich.table import Table

    from retrainer.production.supervisor import status as read

    rows = read(_saved(config))
    ok = all(r["running"] and r["healthy"] for r in rows)
    if as_json:
        print_json({"ok": ok, "pieces": rows})
    else:
        table = Table("piece", "what", "state", "pid", "url", box=None)
        for r in rows:
            state = (
                "healthy" if r["healthy"] else ("running, unhealthy" if r["running"] else "stopped")
            )
            table.add_row(r["piece"], r["title"], state, str(r["pid"] or ""), r["url"])
        out_console(False).print(table)
    raise typer.Exit(ExitCode.OK if ok else ExitCode.FINDING)


@prod_app.command("env")
def env(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Print the variables a shell needs to use the stack (`eval "$(retrainer prod env)"`)."""
    import shlex

    from retrainer.production.supervisor import shell_environment

    values = shell_environment(_saved(config))
    if as_json:
        print_json(values)
        return
    for key, value in values.items():
        typer.echo(f"export {key}={shlex.quote(value)}")


def register(app: typer.Typer) -> None:
    """Add ``retrainer prod`` to the main app."""
    app.add_typer(prod_app, name="prod")
