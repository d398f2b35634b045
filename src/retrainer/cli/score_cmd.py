"""``retrainer score``: batch inference of the champion into the predictions table."""

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


def score(
    config: ConfigOption = None,
    date: Annotated[
        str | None,
        typer.Option("--date", help="Score one event date (YYYY-MM-DD).", show_default=False),
    ] = None,
    start: Annotated[
        str | None,
        typer.Option("--start", help="First event date of a window.", show_default=False),
    ] = None,
    end: Annotated[
        str | None,
        typer.Option("--end", help="Last event date of a window.", show_default=False),
    ] = None,
    all_partitions: Annotated[
        bool,
        typer.Option(
            "--all", help="Every feature partition not scored yet (the default selection)."
        ),
    ] = False,
    rescore: Annotated[
        bool,
        typer.Option(
            "--rescore",
            help="Score partitions that already have predictions again: this version's rows "
            "are replaced, other versions' kept.",
        ),
    ] = False,
    version: Annotated[
        str | None,
        typer.Option(
            "--version",
            help="Score with this registered version (e.g. a challenger) instead of the "
            "champion; its rows sit next to the other versions'.",
            show_default=False,
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Score feature partitions with the champion (or --version) into the predictions table.

    Partitions that already have predictions are skipped unless --rescore; batches that
    failed validation are never scored (see validation.before_training for batches never
    validated). Exits 0 on success, 2 on a usage, config or data error (no champion, unknown
    date ...).
    """
    project = load_project(config, as_json=as_json)
    if date is not None and (start is not None or end is not None or all_partitions):
        fail_usage("give one of --date, --start/--end or --all", as_json=as_json)
    if all_partitions and (start is not None or end is not None):
        fail_usage("give one of --date, --start/--end or --all", as_json=as_json)
    from retrainer.data import as_date
    from retrainer.monitoring.scoring import parse_version_option

    for name, value in (("--date", date), ("--start", start), ("--end", end)):
        if value is not None:
            try:
                as_date(value)
            except ValueError as exc:
                fail_usage(f"{name}: {exc}", as_json=as_json)
    try:
        version = parse_version_option(version)
    except ValueError as exc:
        fail_usage(str(exc), as_json=as_json)

    from retrainer.data import DataReadError, StorageError
    from retrainer.flows.score import score_batch
    from retrainer.monitoring import MonitoringError, PredictionSchemaError
    from retrainer.progress import progress_bars

    try:
        with progress_bars(enabled=not as_json):
            result = score_batch(
                config=str(project.config_path),
                date=date,
                start=start,
                end=end,
                rescore=rescore,
                version=version,
            )
    except (MonitoringError, PredictionSchemaError, DataReadError, StorageError) as exc:
        fail_usage(str(exc), as_json=as_json)
    if as_json:
        print_json(result)
    else:
        console = out_console(False)
        scored = result["scored"]
        if scored:
            console.print(
                f"scored {len(scored)} partition(s), {result['rows']} rows with "
                f"{result['model']} version {result['version']} "
                f"({min(scored)} .. {max(scored)})",
                markup=False,
            )
        else:
            console.print("nothing to score", markup=False)
        if result["skipped"]:
            console.print(
                f"skipped {len(result['skipped'])} partition(s) already scored "
                "(--rescore to score them again)",
                markup=False,
            )
        for note in result["notes"]:
            console.print(f"note: {note}", markup=False)
    raise typer.Exit(ExitCode.OK)


def register(app: typer.Typer) -> None:
    """Add the command to the main app."""
    app.command("score")(score)
