"""``retrainer train``: run the train flow."""

from __future__ import annotations

from typing import Annotated

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


def train(
    config: ConfigOption = None,
    window: Annotated[
        str | None,
        typer.Option(
            help="Override training.window: fixed[:DAYS], dynamic, history_plus_recent[:DAYS], "
            "segment_upsample[:DAYS], warm_start[:DAYS].",
            show_default=False,
        ),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of", help="Use only data known on this date (YYYY-MM-DD).", show_default=False
        ),
    ] = None,
    reason: Annotated[
        str, typer.Option(help="Why this run happens (recorded as lineage).")
    ] = "manual",
    event_id: Annotated[
        str | None,
        typer.Option("--event-id", help="Triggering event id (lineage).", show_default=False),
    ] = None,
    gate: Annotated[
        bool,
        typer.Option(
            "--gate/--no-gate", help="Run the gate on the new version right after training."
        ),
    ] = True,
    promote: Annotated[
        bool | None,
        typer.Option(
            "--promote/--no-promote",
            help="Promote when the gate passes (default: first version yes, later ones per "
            "promotion.auto_promote).",
            show_default=False,
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Train the configured estimator through the Prefect train flow and register it in MLflow.

    The new version becomes ``challenger``; the gate then judges it (the first version of a
    model becomes ``champion`` when it passes).
    """
    project = load_project(config)
    if window:
        from retrainer.training.windows import parse_window_option

        try:
            parse_window_option(window)
        except ValueError as exc:
            fail_usage(str(exc))
    if as_of:
        from retrainer.data import as_date

        try:
            as_date(as_of)
        except ValueError as exc:
            fail_usage(f"--as-of: {exc}")

    from flows.train import train as train_flow
    from retrainer.training.trainer import TrainingDataError

    console = out_console(as_json)
    try:
        result = train_flow(
            config=str(project.config_path),
            window=window,
            as_of=as_of,
            reason=reason,
            event_id=event_id,
            gate=gate,
            promote=promote,
        )
    except TrainingDataError as exc:
        fail_usage(str(exc))
    if as_json:
        print_json(result)
        return
    metrics = ", ".join(
        f"{k}={v:.4f}" for k, v in result["metrics"].items() if isinstance(v, float)
    )
    console.print(f"registered {result['model']} version {result['version']}", markup=False)
    if metrics:
        console.print(f"holdout: {metrics}", markup=False)
    gate = result["gate"]
    if gate["status"] != "pending":
        console.print(f"gate: {gate['summary']}", markup=False)
        console.print(f"gate report: {gate['report_html']}", markup=False)
    if result["promoted"]:
        console.print(f"champion: {result['champion_uri']}", markup=False)
    else:
        console.print(f"challenger: {result['challenger_uri']}", markup=False)
    raise typer.Exit(ExitCode.OK)


def register(app: typer.Typer) -> None:
    """Add the command to the main app."""
    app.command("train")(train)
