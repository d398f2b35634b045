"""``retrainer import``: CSV or Parquet rows into the daily features and labels tables."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer

from retrainer.cli._common import (
    EndpointOption,
    JsonOption,
    fail_usage,
    out_console,
    print_json,
    storage_errors_exit_2,
)


def _project_target(as_json: bool) -> tuple[str, dict[str, Any]]:
    """The default ``--out``: the nearest project's data source (and its table names)."""
    from retrainer.config import ConfigError
    from retrainer.project import Project, find_config

    found = find_config()
    if found is None:
        return str(Path.cwd() / "data"), {}
    try:
        project = Project.load(found)
    except ConfigError as exc:
        fail_usage(
            f"--out not given and the nearest config is invalid ({exc.lines()[0]}); pass --out DIR",
            as_json=as_json,
        )
    data = project.config.data
    tables = {"features_table": data.tables.features, "labels_table": data.tables.labels}
    return project.data_uri, {"tables": tables, "endpoint": data.s3_endpoint_url}


def _shown(location: str) -> str:
    """A local path relative to the working directory when it is below it."""
    if location.startswith("s3://"):
        return location
    try:
        return os.path.relpath(location)
    except ValueError:
        return location


def _table_line(name: str, table: dict[str, Any]) -> str:
    span = f" {table['first_date']}..{table['last_date']}" if table["partitions"] else ""
    return (
        f"{name + ':':<9} {table['rows']:,} rows in {table['partitions']:,} partitions{span} "
        f"({table['files']:,} files) -> {table['location']}"
    )


def _label_line(summary: dict[str, Any]) -> str:
    label = summary["label_time"]
    if label["source"] == "column":
        return f"label time: column {label['column']!r} ({label['read_as']})"
    days = label["delay_days"]
    line = f"label delay: {days} day{'s' if days != 1 else ''} (label_time = event time + delay)"
    if label["default"]:
        line += (
            "; the default: pass --label-delay-days N or --label-time COL if labels arrive later"
        )
    return line


def _skip_lines(summary: dict[str, Any]) -> list[str]:
    lines = []
    stamp = summary["timestamp"]
    if summary["skipped_rows"]:
        examples = ", ".join(repr(e) for e in stamp["examples"])
        lines.append(
            f"skipped: {summary['skipped_rows']:,} rows without a usable timestamp in "
            f"{stamp['column']!r} ({stamp['missing']:,} empty, {stamp['unreadable']:,} "
            f"unreadable{', e.g. ' + examples if examples else ''}): rows without a date "
            "cannot be partitioned"
        )
    label = summary["label_time"]
    if label["source"] == "column" and (label["missing"] or label["unreadable"]):
        lines.append(
            f"skipped labels: {label['missing'] + label['unreadable']:,} rows without a usable "
            f"label time in {label['column']!r} (their features were written)"
        )
    if summary["labels_without_target"]:
        lines.append(
            f"skipped labels: {summary['labels_without_target']:,} rows without a target value "
            "(their features were written)"
        )
    return lines


def _print_story(summary: dict[str, Any], next_step: str) -> None:
    ident = summary["id"]
    lines = [
        f"read {summary['rows_read']:,} rows from {summary['input']} ({summary['format']})",
        f"timestamps: {summary['timestamp']['column']!r} read as {summary['timestamp']['read_as']}",
        f"ids: generated {ident['column']!r} from the row number (r000000000 = the first row)"
        if ident["generated"]
        else f"ids: {ident['column']!r}",
        _label_line(summary),
        _table_line("features", summary["tables"]["features"]),
        _table_line("labels", summary["tables"]["labels"]),
        *_skip_lines(summary),
        *(f"warning: {w}" for w in summary["warnings"]),
    ]
    if summary["replaced"]:
        lines.append("replaced the tables that were there (--force)")
    lines.append(f"next: {next_step}")
    for line in lines:
        out_console(False).print(line, markup=False, highlight=False)


def import_command(
    source: Annotated[
        str,
        typer.Argument(
            metavar="FILE|DIR",
            help="A CSV or Parquet file, or a folder / s3:// prefix whose *.csv or *.parquet "
            "files are read in name order.",
            show_default=False,
        ),
    ],
    timestamp: Annotated[
        str, typer.Option("--timestamp", help="Event-time column.", show_default=False)
    ],
    target: Annotated[
        str,
        typer.Option(
            "--target", help="Label column (goes to the labels table).", show_default=False
        ),
    ],
    id_column: Annotated[
        str | None,
        typer.Option(
            "--id",
            help="Row id column; default: generate row_id from the row number.",
            show_default=False,
        ),
    ] = None,
    label_delay_days: Annotated[
        int | None,
        typer.Option(
            "--label-delay-days",
            min=0,
            help="Labels arrive N days after the event (default 0).",
            show_default=False,
        ),
    ] = None,
    label_time: Annotated[
        str | None,
        typer.Option(
            "--label-time",
            help="Column with each label's arrival time (instead of --label-delay-days).",
            show_default=False,
        ),
    ] = None,
    out: Annotated[
        str | None,
        typer.Option(
            "--out",
            help="Data root: a folder or s3://bucket/prefix (default: data.source of the "
            "nearest retrainer.yaml, else ./data).",
            show_default=False,
        ),
    ] = None,
    timezone: Annotated[
        str,
        typer.Option(
            "--timezone",
            help="Time zone of naive timestamps (ambiguous or skipped DST times read as the "
            "earlier one).",
        ),
    ] = "UTC",
    force: Annotated[
        bool, typer.Option("--force", help="Replace features/labels tables that hold data.")
    ] = False,
    endpoint_url: EndpointOption = None,
    as_json: JsonOption = False,
) -> None:
    """Import CSV or Parquet rows into the daily features and labels tables.

    Features go to <out>/features/date=YYYY-MM-DD/ by the UTC date of --timestamp (every
    column but the target and --label-time), labels (id, label_time, target) to
    <out>/labels/date=YYYY-MM-DD/ by the date they arrive. Rows without a readable timestamp
    are skipped and counted. Exits 0 when written, 2 for bad options or input.
    """
    if label_delay_days is not None and label_time is not None:
        fail_usage("--label-delay-days and --label-time exclude each other", as_json=as_json)
    from retrainer.data.importer import ImportDataError, ImportOptions, import_data
    from retrainer.progress import progress_bars

    project: dict[str, Any] = {}
    if out is None:
        out, project = _project_target(as_json)
    options = ImportOptions(
        timestamp=timestamp,
        target=target,
        id=id_column,
        label_delay_days=label_delay_days,
        label_time=label_time,
        timezone=timezone,
        force=force,
        **project.get("tables", {}),
    )
    endpoint = endpoint_url or project.get("endpoint")
    try:
        with (
            storage_errors_exit_2(f"{source} -> {out}", as_json=as_json),
            progress_bars(enabled=not as_json),
        ):
            summary = import_data(source, out, options, endpoint_url=endpoint)
    except ImportDataError as exc:
        fail_usage(str(exc), as_json=as_json)
    if as_json:
        print_json(summary)
        return
    next_step = (
        "retrainer config check"
        if project
        else f"retrainer init --from-data {_shown(summary['out'])} --target {target}"
    )
    _print_story(summary, next_step)


def register(app: typer.Typer) -> None:
    """Add ``import`` to the CLI."""
    app.command("import")(import_command)
