"""``retrainer monitor``: run the monitor flow (live performance under label delay)."""

from __future__ import annotations

from typing import Annotated

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

MAX_BREACH_LINES = 12


def _fmt(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else "n/a" if value is None else str(value)


def monitor(
    config: ConfigOption = None,
    window: Annotated[
        str | None,
        typer.Option(
            "--window",
            help="Event dates START:END (inclusive). Default: the last monitoring.window_days "
            "days up to --as-of.",
            show_default=False,
        ),
    ] = None,
    days: Annotated[
        int | None,
        typer.Option("--days", help="Window length in days (instead of --window).", min=1),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="Use the labels known on this date (YYYY-MM-DD). Default: the window's end, "
            "or the newest feature partition.",
            show_default=False,
        ),
    ] = None,
    version: Annotated[
        str | None,
        typer.Option(
            "--version",
            help="Judge this registered version's predictions (e.g. 3) against its own "
            "training holdout. Default: the champion's.",
            show_default=False,
        ),
    ] = None,
    as_json: JsonOption = False,
    html: HtmlOption = None,
) -> None:
    """Judge the champion's (or --version's) predictions overall and per segment.

    Realised metrics where labels arrived, estimated (CBPE) where they have not. Predictions
    of batches that failed validation are not read (see validation.before_training for
    batches never validated). Exits 0 when no threshold is breached (also when there is too
    little data to judge), 1 when performance degraded (overall or for a segment), 2 on a
    usage, config or data error.
    """
    project = load_project(config, as_json=as_json)
    if window is not None and days is not None:
        fail_usage("give either --window or --days, not both", as_json=as_json)
    from retrainer.monitoring.scoring import parse_version_option
    from retrainer.monitoring.window import parse_window

    try:
        if window is not None:
            parse_window(window)
        if as_of is not None:
            from retrainer.data import as_date

            as_date(as_of)
        version = parse_version_option(version)
    except ValueError as exc:
        fail_usage(str(exc), as_json=as_json)

    from retrainer.data import DataReadError, StorageError
    from retrainer.flows.monitor import monitor_performance
    from retrainer.monitoring import MonitoringError, MonitoringInputError, PredictionSchemaError
    from retrainer.progress import progress_bars

    console = out_console(as_json)
    try:
        with progress_bars(enabled=not as_json):
            result = monitor_performance(
                config=str(project.config_path),
                window=window,
                days=days,
                as_of=as_of,
                html=str(html) if html else None,
                version=version,
            )
    except (
        MonitoringError,
        MonitoringInputError,
        PredictionSchemaError,
        DataReadError,
        StorageError,
    ) as exc:
        fail_usage(str(exc), as_json=as_json)
    degraded = result["verdict"] == "degraded"
    if as_json:
        print_json(result)
    else:
        window_text = f"{result['window']['start']} .. {result['window']['end']}"
        console.print(
            f"{result['model']} v{result['model_version'] or 'all'}: {result['verdict']} "
            f"(window {window_text}, labels as of {result['as_of']})",
            markup=False,
        )
        console.print(
            f"{result['rows']} predictions, {result['labelled_rows']} labelled "
            f"(share {_fmt(result['labelled_share'])})",
            markup=False,
        )
        for check in result["checks"]:
            if check["segment"] is None:
                console.print(
                    f"  {check['metric']:<10} {check['basis']:<9} {_fmt(check['value']):>8} "
                    f"threshold {_fmt(check['threshold'])}  n={check['support']}  "
                    f"{check['verdict']}",
                    markup=False,
                )
        shown = result["breaches"][:MAX_BREACH_LINES]
        for breach in shown:
            console.print(
                f"breach: {breach['metric']} {breach['basis']} {breach['scope']} = "
                f"{_fmt(breach['value'])} (threshold {_fmt(breach['threshold'])}, "
                f"n={breach['support']})",
                markup=False,
            )
        hidden = len(result["breaches"]) - len(shown)
        if hidden:
            console.print(
                f"... and {hidden} more breach(es): see --json or the report", markup=False
            )
        if result["insufficient_segments"]:
            console.print(
                "insufficient data: " + ", ".join(result["insufficient_segments"]), markup=False
            )
        if not result["estimation"]["available"]:
            console.print(f"estimation: {result['estimation']['reason']}", markup=False)
        for note in result["notes"]:
            console.print(f"note: {note}", markup=False)
        console.print(f"report: {html or result['html_report']}", markup=False)
    raise typer.Exit(ExitCode.FINDING if degraded else ExitCode.OK)


def register(app: typer.Typer) -> None:
    """Add the command to the main app."""
    app.command("monitor")(monitor)
