"""``retrainer ui``: the MLflow UI on the project's store."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from retrainer.cli._common import ConfigOption, fail_usage, load_project, out_console


def ui(
    config: ConfigOption = None,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 5000,
    print_only: Annotated[
        bool, typer.Option("--print", help="Only print the command that opens the UI.")
    ] = False,
) -> None:
    """Open the MLflow UI on the project's tracking store (embedded sqlite by default).

    The command becomes the MLflow UI process (nothing is left behind when it is stopped,
    with Ctrl-C or SIGTERM). Exits 2 when the embedded store does not exist yet.
    """
    from retrainer.registry.tracking import resolve_tracking

    project = load_project(config)
    setup = resolve_tracking(project)
    if not setup.embedded:
        out_console(False).print(
            f"MLflow runs as a server for this project: {setup.tracking_uri}", markup=False
        )
        return
    if print_only:
        out_console(False).print(setup.ui_command(host, port), markup=False, highlight=False)
        return
    store = Path(setup.tracking_uri.removeprefix("sqlite:///"))
    if not store.is_file():
        fail_usage(f"no MLflow store yet at {store}; run `retrainer train` first")
    out_console(False).print(f"MLflow UI on http://{host}:{port} (Ctrl-C to stop)", markup=False)
    sys.stdout.flush()
    sys.stderr.flush()
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    argv = setup.ui_argv(host, port)
    # replace this process: a signal to it reaches MLflow, which stops its server; a child
    # process would outlive a SIGTERM sent to us
    os.execvpe(argv[0], argv, env)


def register(app: typer.Typer) -> None:
    """Add the command to the main app."""
    app.command("ui")(ui)
