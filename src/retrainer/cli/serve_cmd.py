"""``retrainer serve``: the serving gateway (champion, challenger, shadow, canary and A/B).

The gateway (:mod:`retrainer.serving.gateway`) serves the project's champion from MLflow and
routes by the rollout in force in the operational store; see ``docs/serving.md``.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from retrainer.cli._common import (
    ConfigOption,
    fail_usage,
    listen_socket,
    load_project,
    log_warnings_to_stderr,
    out_console,
)
from retrainer.serving.gateway import GatewaySettings

DEFAULTS = GatewaySettings()


def serve(
    config: ConfigOption = None,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (0: any free port).", min=0)] = 8080,
    workers: Annotated[int, typer.Option(help="Worker processes.", min=1)] = 1,
    max_body_bytes: Annotated[
        int, typer.Option(help="Larger request bodies get 413.", min=1)
    ] = DEFAULTS.max_body_bytes,
    max_batch_rows: Annotated[
        int, typer.Option(help="Rows per model call at most (micro-batching).", min=1)
    ] = DEFAULTS.max_batch_rows,
    max_wait_ms: Annotated[
        float, typer.Option(help="How long a request may wait to be batched with others.", min=0)
    ] = DEFAULTS.max_wait_ms,
    shadow_queue: Annotated[
        int, typer.Option(help="Shadow jobs waiting at most; more are dropped.", min=1)
    ] = DEFAULTS.shadow_queue,
    poll_seconds: Annotated[
        float, typer.Option(help="How often the plan in force is read from the store.", min=0.1)
    ] = DEFAULTS.poll_seconds,
    log_predictions: Annotated[
        bool,
        typer.Option(
            "--log-predictions/--no-log-predictions",
            help="Write every answered and shadow prediction to the store (rollouts need it).",
        ),
    ] = True,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Show uvicorn's logs and every request.")
    ] = False,
) -> None:
    """Serve the champion (and the challenger of a rollout) on POST /predict.

    Also POST /feedback (labels), GET /health, /ready, /metrics (Prometheus) and /rollout.
    Models come from the project's MLflow registry; the plan in force, the prediction log and
    the labels from its operational store. SIGTERM or Ctrl-C drains open requests and writes
    the prediction log before exiting.
    """
    import uvicorn

    from retrainer.serving.project import build_gateway, export_environment
    from retrainer.store import StoreError

    os.environ.setdefault("OMP_NUM_THREADS", "1")  # HistGradientBoosting's threads spin
    project = load_project(config)
    settings = GatewaySettings(
        max_body_bytes=max_body_bytes,
        max_batch_rows=max_batch_rows,
        max_wait_ms=max_wait_ms,
        shadow_queue=shadow_queue,
        poll_seconds=poll_seconds,
        log_predictions=log_predictions,
    )
    try:
        gateway = build_gateway(project, settings)
    except StoreError as exc:
        fail_usage(str(exc))
    sock = listen_socket(host, port)
    shown = f"[{host}]" if ":" in host else host
    out_console(False).print(
        f"gateway for {project.model_name} on http://{shown}:{sock.getsockname()[1]} "
        f"({workers} worker{'s' if workers > 1 else ''}): POST /predict, /feedback; "
        "GET /health, /ready, /metrics, /rollout (Ctrl-C to stop)",
        markup=False,
        highlight=False,
    )
    sys.stdout.flush()
    log_warnings_to_stderr("retrainer.serving")
    level = "info" if verbose else "warning"
    if workers == 1:
        server = uvicorn.Server(
            uvicorn.Config(gateway.app(), log_level=level, access_log=verbose, lifespan="on")
        )
        server.run(sockets=[sock])
        return
    from uvicorn.supervisors import Multiprocess

    export_environment(project.config_path, settings)
    uv_config = uvicorn.Config(
        "retrainer.serving.project:app_from_environment",
        factory=True,
        workers=workers,
        log_level=level,
        access_log=verbose,
        lifespan="on",
    )
    server = uvicorn.Server(uv_config)
    Multiprocess(uv_config, target=server.run, sockets=[sock]).run()


def register(app: typer.Typer) -> None:
    """Add ``serve`` to the main app."""
    app.command("serve")(serve)
