"""``retrainer drift``: run the drift flow (feature and prediction drift of a window)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from retrainer.cli._common import (
    ConfigOption,
    ExitCode,
    HtmlOption,
    JsonOption,
    fail_usage,
    load_project,
    out_console,
    print_json,
)


def _fmt(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else "n/a" if value is None else str(value)


def _finding(row: dict[str, Any], no_data_policy: str) -> str:
    """What a flagged column's line says: its headline metric, or that it had no values."""
    if row["status"] == "no_data":
        from retrainer.drift.report import NO_DATA_EFFECT

        effect = NO_DATA_EFFECT[no_data_policy]
        return f"no values in the current window ({effect}; drift.no_data: {no_data_policy})"
    return f"{row['metric']} = {_fmt(row['value'])} (threshold {_fmt(row['threshold'])})"


def drift(
    config: ConfigOption = None,
    current: Annotated[
        str | None,
        typer.Option(
            "--current",
            help="Event dates START:END (inclusive) to check. Default: the last "
            "drift.window_days days up to --as-of.",
            show_default=False,
        ),
    ] = None,
    days: Annotated[
        int | None,
        typer.Option("--days", help="Window length in days (instead of --current).", min=1),
    ] = None,
    baseline: Annotated[
        str | None,
        typer.Option(
            "--baseline",
            help="'training' (the champion's training data and holdout scores) or START:END "
            "(a production window). Default: drift.baseline.",
            show_default=False,
        ),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="Data clock (YYYY-MM-DD): nothing later is read. Default: the newest "
            "feature partition.",
            show_default=False,
        ),
    ] = None,
    version: Annotated[
        str | None,
        typer.Option(
            "--version",
            help="Check this registered version (e.g. 3): its training baseline and its "
            "logged predictions. Default: the champion.",
            show_default=False,
        ),
    ] = None,
    as_json: JsonOption = False,
    html: HtmlOption = None,
) -> None:
    """Check features and the champion's (or --version's) predictions for drift.

    Batches that failed validation are not read (see validation.before_training for batches
    never validated). Exits 0 when nothing drifted, 1 when drift is detected (the event
    retrainer.drift.detected is emitted), 2 on a usage, config or data error.
    """
    project = load_project(config, as_json=as_json)
    if current is not None and days is not None:
        fail_usage("give either --current or --days, not both", as_json=as_json)
    from retrainer.data import as_date
    from retrainer.drift.check import DriftCheckError, parse_baseline_option
    from retrainer.monitoring.scoring import parse_version_option
    from retrainer.monitoring.window import parse_window

    try:
        if current is not None:
            parse_window(current)
        if as_of is not None:
            as_date(as_of)
        parse_baseline_option(baseline, project.config.drift)
        version = parse_version_option(version)
    except (ValueError, DriftCheckError) as exc:
        fail_usage(str(exc), as_json=as_json)

    from retrainer.data import DataReadError, StorageError
    from retrainer.drift import ProfileError
    from retrainer.flows.drift import check_drift

    console = out_console(as_json)
    try:
        result = check_drift(
            config=str(project.config_path),
            current=current,
            days=days,
            baseline=baseline,
            as_of=as_of,
            html=str(html) if html else None,
            version=version,
        )
    except (DriftCheckError, ProfileError, DataReadError, StorageError) as exc:
        fail_usage(str(exc), as_json=as_json)
    if as_json:
        print_json(result)
    else:
        console.print(
            f"{result['model']} v{result['model_version'] or 'none'}: {result['verdict']} "
            f"(window {result['window_start']} .. {result['window_end']}, {result['rows']} rows; "
            f"baseline: {result['baseline']['description']})",
            markup=False,
        )
        policy = result["report"]["settings"].get("no_data", "drift")
        for row in result["columns"]:
            if row["status"] == "ok":
                continue
            console.print(
                f"  {row['status']:<8} {row['column']:<20} {_finding(row, policy)}"
                + ("  [prediction]" if row["role"] == "prediction" else ""),
                markup=False,
            )
        ok = sum(1 for row in result["columns"] if row["status"] == "ok")
        console.print(f"  {ok} column(s) without drift", markup=False)
        for note in result["notes"]:
            console.print(f"note: {note}", markup=False)
        console.print(f"report: {html or result['html_report']}", markup=False)
    raise typer.Exit(ExitCode.FINDING if result["verdict"] == "drift" else ExitCode.OK)


def register(app: typer.Typer) -> None:
    """Add the command to the main app."""
    app.command("drift")(drift)
