"""``retrainer ui``: the MLflow UI on the project's store."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from typing import Annotated

import typer

from retrainer.cli._common import ConfigOption, load_project, out_console


def ui(
    config: ConfigOption = None,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 5000,
    print_only: Annotated[
        bool, typer.Option("--print", help="Only print the command that opens the UI.")
    ] = False,
) -> None:
    """Open the MLflow UI on the project's tracking store (embedded sqlite by default)."""
    from retrainer.registry.tracking import resolve_tracking

    project = load_project(config)
    setup = resolve_tracking(project)
    if not setup.embedded:
        out_console(False).print(
            f"MLflow runs as a server for this project: {setup.tracking_uri}", markup=False
        )
        return
    command = [
        sys.executable,
        "-m",
        "mlflow",
        "ui",
        "--backend-store-uri",
        setup.tracking_uri,
        "--host",
        host,
        "--port",
        str(port),
    ]
    if setup.artifact_location:
        command += ["--default-artifact-root", setup.artifact_location]
    if print_only:
        out_console(False).print(" ".join(["mlflow", *command[3:]]), markup=False)
        return
    out_console(False).print(f"MLflow UI on http://{host}:{port} (Ctrl-C to stop)", markup=False)
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    with contextlib.suppress(KeyboardInterrupt):
        subprocess.run(command, env=env, check=False)


def register(app: typer.Typer) -> None:
    """Add the command to the main app."""
    app.command("ui")(ui)
