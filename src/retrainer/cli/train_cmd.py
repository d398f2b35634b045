"""``retrainer train``: run the train flow."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

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

if TYPE_CHECKING:
    from retrainer.project import Project


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
    model becomes ``champion`` when it passes). Exits 0 when a version was registered and its
    gate passed, waits for approval or did not run; 1 when the gate failed; 2 for a usage,
    config or data error (nothing is written then).
    """
    project = load_project(config, as_json=as_json)
    if window:
        from retrainer.training.windows import parse_window_option

        try:
            parse_window_option(window)
        except ValueError as exc:
            fail_usage(str(exc), as_json=as_json)
    if as_of:
        from retrainer.data import as_date

        try:
            as_date(as_of)
        except ValueError as exc:
            fail_usage(f"--as-of: {exc}", as_json=as_json)
    # before the flow: it creates the MLflow store under state_dir before it reads any data
    _check_training_data(project, as_of, as_json)

    from retrainer.flows.train import train as train_flow
    from retrainer.progress import progress_bars
    from retrainer.training.trainer import TrainingDataError

    console = out_console(as_json)
    try:
        with progress_bars(enabled=not as_json):
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
        fail_usage(str(exc), as_json=as_json)
    gate_failed = result["gate"]["status"] == "failed"
    exit_code = ExitCode.FINDING if gate_failed else ExitCode.OK
    if as_json:
        print_json(result)
        raise typer.Exit(exit_code)
    metrics = ", ".join(
        f"{k}={v:.4f}" for k, v in result["metrics"].items() if isinstance(v, float)
    )
    console.print(f"registered {result['model']} version {result['version']}", markup=False)
    if metrics:
        console.print(f"holdout: {metrics}", markup=False)
    gate_result = result["gate"]
    if gate_result["status"] != "pending":
        console.print(f"gate: {gate_result['summary']}", markup=False)
        console.print(f"gate report: {gate_result['report_html']}", markup=False)
    if gate_result["status"] == "awaiting_approval":
        console.print(
            f"waiting for approval: retrainer approve {result['version']} --reviewer NAME",
            markup=False,
        )
    if result["promoted"]:
        console.print(f"champion: {result['champion_uri']}", markup=False)
    else:
        console.print(f"challenger: {result['challenger_uri']}", markup=False)
    raise typer.Exit(exit_code)


def _check_training_data(project: Project, as_of: str | None, as_json: bool) -> None:
    """Exit 2 with one line when there is nothing to train on (before anything is written)."""
    from retrainer.data import DataCatalog, DataReadError, LocalStorage, StorageError, as_date

    try:
        catalog = DataCatalog.for_project(project)
        feature_days = catalog.features.dates()
        label_days = catalog.labels.dates() if feature_days else []
    except (StorageError, DataReadError, OSError) as exc:
        fail_usage(f"data.source: {exc}", as_json=as_json)
    where = catalog.storage.uri
    hint = "run `retrainer simulate` or point data.source at your Parquet partitions"
    if not feature_days:
        storage = catalog.storage
        absent = isinstance(storage, LocalStorage) and not storage.root.is_dir()
        fail_usage(
            f"no training data: table {catalog.features.name!r} has no partitions under "
            f"{where}{' (the folder does not exist)' if absent else ''}; {hint}",
            as_json=as_json,
        )
    if as_of and as_date(as_of) < feature_days[0]:
        fail_usage(
            f"--as-of {as_of} is before the first {catalog.features.name!r} partition "
            f"({feature_days[0]})",
            as_json=as_json,
        )
    if not label_days:
        fail_usage(
            f"no training data: table {catalog.labels.name!r} has no partitions under {where}, "
            f"so no row has a label; {hint}",
            as_json=as_json,
        )


def register(app: typer.Typer) -> None:
    """Add the command to the main app."""
    app.command("train")(train)
